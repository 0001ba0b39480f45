ALTER TABLE rec_settings DROP COLUMN collection_pins;
DROP TABLE collection_products;
DROP TABLE collections;
