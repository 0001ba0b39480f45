-- Targeted invalidation of the instances' cached lists. Every order bumps the shop's
-- `model_version` first (a row lock on PostgreSQL, so the numbers commit in order) and stamps
-- the products it touched with it; an instance reads which products changed since the version
-- it last saw and recomputes only their lists. `reset_version` is bumped by what changes every
-- list (settings, erasure).
ALTER TABLE rec_items ADD COLUMN touched_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rec_items_touched ON rec_items (shop_id, touched_seq);
ALTER TABLE rec_shop_stats ADD COLUMN reset_version BIGINT NOT NULL DEFAULT 0;
-- Same for the catalogue: a product change bumps `catalogue_version` and stamps the product,
-- and instances read only the changed products again.
ALTER TABLE products ADD COLUMN catalogue_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX products_catalogue_seq ON products (shop_id, catalogue_seq);
