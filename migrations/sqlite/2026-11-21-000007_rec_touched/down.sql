DROP INDEX products_catalogue_seq;
ALTER TABLE products DROP COLUMN catalogue_seq;
DROP INDEX rec_items_touched;
ALTER TABLE rec_items DROP COLUMN touched_seq;
ALTER TABLE rec_shop_stats DROP COLUMN reset_version;
