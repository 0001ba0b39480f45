-- What shoppers buy across their orders (`for_you`'s item neighbours): two products pair when
-- one shopper bought both, in one order or in different ones. A shopper's new product pairs
-- with the other new products of the order and with their most recent earlier products (a
-- bounded window), so an order costs the same for a first-time buyer and a regular. An order
-- without a customer is its own shopper. Both directions stored: (a, b) and (b, a).
CREATE TABLE rec_buyer_pairs (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, a, b)
);
CREATE INDEX rec_buyer_pairs_top ON rec_buyer_pairs (shop_id, a, n);
-- Shoppers who bought the product (the norm of its neighbour similarity).
ALTER TABLE rec_items ADD COLUMN buyers BIGINT NOT NULL DEFAULT 0;
-- What the order added to the buyer counts, so it can be subtracted exactly: the products it
-- was the shopper's first purchase of, and the earlier products they were paired with (JSON id
-- lists). NULL: the order was applied before these counts existed.
ALTER TABLE rec_order_contrib ADD COLUMN first_bought TEXT;
ALTER TABLE rec_order_contrib ADD COLUMN partners TEXT;
