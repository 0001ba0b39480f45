DROP TABLE price_table_syncs;
DROP TABLE cart_transforms;
