ALTER TABLE rec_order_contrib DROP COLUMN partners;
ALTER TABLE rec_order_contrib DROP COLUMN first_bought;
ALTER TABLE rec_items DROP COLUMN buyers;
DROP INDEX rec_buyer_pairs_top;
DROP TABLE rec_buyer_pairs;
