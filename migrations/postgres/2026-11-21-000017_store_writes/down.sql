DROP TABLE store_writes;
