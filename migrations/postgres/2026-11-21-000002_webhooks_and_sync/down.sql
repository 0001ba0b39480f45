DROP TABLE redacted_customers;
DROP TABLE compliance_requests;
DROP TABLE customers;
DROP TABLE product_variants;
DROP TABLE products;
DROP TABLE order_line_items;
DROP TABLE orders;
DROP TABLE webhook_inbox;
