-- Wishlists: products a logged-in shopper keeps to come back to. One row per product in the
-- list; the product must be in the synced catalogue when it is added.
CREATE TABLE wishlist_items (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, customer_id, product_id)
);
-- The merchant's "most wished" view and the follow-ups find who wished a product.
CREATE INDEX wishlist_items_product ON wishlist_items (shop_id, product_id);
