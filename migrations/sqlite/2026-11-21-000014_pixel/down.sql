DROP TABLE pixel_order_links;
DROP TABLE pixel_events;
