-- Personalized order lines: what Atelier found when the order arrived (signature, pinned
-- template version, price reconciliation) and where production stands. Filled by the orders
-- webhook; the columns are never overwritten by a later copy of the order except the
-- verification, which is recomputed from the same immutable inputs.
ALTER TABLE order_line_items ADD COLUMN discount_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE order_line_items ADD COLUMN personalization_verified BOOLEAN;
ALTER TABLE order_line_items ADD COLUMN verdict TEXT;
ALTER TABLE order_line_items ADD COLUMN template_id TEXT;
ALTER TABLE order_line_items ADD COLUMN template_version INTEGER;
ALTER TABLE order_line_items ADD COLUMN expected_cents BIGINT;
ALTER TABLE order_line_items ADD COLUMN charged_cents BIGINT;
ALTER TABLE order_line_items ADD COLUMN status TEXT;
ALTER TABLE order_line_items ADD COLUMN status_changed_at TIMESTAMP;

ALTER TABLE orders ADD COLUMN personalized BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX orders_personalized ON orders (shop_id, personalized, created_at, order_id);

-- Shopper images for `image` fields. Stored in the database (several app instances share it),
-- re-encoded without metadata. `order_id` is set once an order references the upload; uploads
-- no order references are deleted after the retention period.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    byte_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    order_id BIGINT,
    referenced_at TIMESTAMP
);
CREATE INDEX uploads_unreferenced ON uploads (shop_id, created_at) WHERE order_id IS NULL;
CREATE INDEX uploads_expiry ON uploads (created_at) WHERE order_id IS NULL;
CREATE INDEX uploads_order ON uploads (shop_id, order_id);

-- Per-shop personalization settings.
CREATE TABLE personalization_settings (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    blocked_words TEXT NOT NULL,
    -- The hidden fee product's variant the storefront adds to charge the add-on.
    fee_variant_id BIGINT,
    updated_at TIMESTAMP NOT NULL
);
