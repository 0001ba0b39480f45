-- Storefront events from the web pixel. Its requests are unsigned, so each event is stored once
-- by the id Shopify gave it: a retried or replayed event finds its id taken (the primary key
-- decides, so several instances agree) and changes nothing.
CREATE TABLE pixel_events (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    name TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, event_id)
);
-- Retention deletes by age.
CREATE INDEX pixel_events_received ON pixel_events (received_at);
-- The order a pixel session ended in (its checkout_completed event), so a recommendation
-- clicked in an anonymous session is credited with the order. One session per order: the
-- first report wins.
CREATE TABLE pixel_order_links (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    order_id BIGINT NOT NULL,
    session_id TEXT NOT NULL,
    linked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);
-- Analytics find the orders of the sessions that clicked.
CREATE INDEX pixel_order_links_session ON pixel_order_links (shop_id, session_id);
