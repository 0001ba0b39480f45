-- The store's collections, as the storefront's category pages show them, and which products each
-- holds (a collection webhook does not carry its products: a job reads them from the store, and
-- reads every collection again now and then, so smart collections follow their rules). A
-- deleted collection keeps its row (`deleted`) so a late copy of an older update cannot bring
-- it back. `members_*` is that job's queue: `members_due` is set by a webhook or the periodic
-- refresh, claimed under `members_lease_until`, and cleared only if no newer marking
-- (`members_generation`) arrived meanwhile; failures wait `members_next_at` (backoff).
CREATE TABLE collections (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    collection_id BIGINT NOT NULL,
    handle TEXT NOT NULL,
    title TEXT NOT NULL,
    deleted BOOLEAN NOT NULL,
    updated_at TIMESTAMP,
    synced_at TIMESTAMP NOT NULL,
    members_due BOOLEAN NOT NULL,
    members_generation BIGINT NOT NULL DEFAULT 0,
    members_attempts INTEGER NOT NULL DEFAULT 0,
    members_next_at TIMESTAMP NOT NULL,
    members_lease_until TIMESTAMP,
    members_synced_at TIMESTAMP,
    members_error TEXT,
    PRIMARY KEY (shop_id, collection_id)
);
CREATE INDEX collections_due ON collections (members_due, members_next_at);
CREATE INDEX collections_handle ON collections (shop_id, handle);
-- One row per product of a collection, in the collection's own order (`position`).
CREATE TABLE collection_products (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    collection_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (shop_id, collection_id, product_id)
);
CREATE INDEX collection_products_product ON collection_products (shop_id, product_id);
-- Products the merchant pins to the top of a collection's grid: collection id → product ids.
ALTER TABLE rec_settings ADD COLUMN collection_pins TEXT NOT NULL DEFAULT '{}';
