-- The shop's cart transform: Shopify's record that runs Atelier's function at checkout, created
-- at install. `transform_id` is empty until the store accepted it (the function is not deployed,
-- the store refused or was unreachable: `last_error` says which, and it is tried again).
CREATE TABLE cart_transforms (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    transform_id TEXT,
    last_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
-- Products whose price table (the app-owned metafield the function reads) must be written to
-- the store. A template save marks its products due in the same transaction; a job writes the
-- current table and clears `due` only if no save marked the product again meanwhile
-- (`generation`), retrying failures with backoff. Several instances share the rows under leases.
CREATE TABLE price_table_syncs (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL,
    due BOOLEAN NOT NULL,
    generation BIGINT NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    synced_value TEXT,
    synced_at TIMESTAMP,
    PRIMARY KEY (shop_id, product_id)
);
CREATE INDEX price_table_syncs_due ON price_table_syncs (due, next_attempt_at);
