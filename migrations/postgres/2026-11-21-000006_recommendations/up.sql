-- Recommendations (issue 6). The learned model lives in these tables so that every app instance
-- serves and updates the same counts. Every count is changed only by additive upserts
-- (n = n + delta) inside the transaction that applies an order or an event, and every addition
-- is recorded (rec_order_contrib, rec_events) so that it can be subtracted exactly again
-- (order edit, refund, cancellation, customers/redact).

-- Per product: orders containing it, sessions that viewed/carted it, time-decayed popularity
-- (see recommendations::model::trend_weight) and whether it is a fee/gift-card product.
CREATE TABLE rec_items (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL,
    orders BIGINT NOT NULL DEFAULT 0,
    sessions BIGINT NOT NULL DEFAULT 0,
    trend DOUBLE PRECISION NOT NULL DEFAULT 0,
    flagged BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (shop_id, product_id)
);
CREATE INDEX rec_items_trend ON rec_items (shop_id, trend);

-- Co-purchase counts, both directions stored: (a, b) and (b, a).
CREATE TABLE rec_pairs (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, a, b)
);
CREATE INDEX rec_pairs_top ON rec_pairs (shop_id, a, n);

-- Co-view / co-cart counts (same storefront session), both directions stored.
CREATE TABLE rec_covisits (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    a BIGINT NOT NULL,
    b BIGINT NOT NULL,
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, a, b)
);
CREATE INDEX rec_covisits_top ON rec_covisits (shop_id, a, n);

-- Shop totals: contributing orders and the data window (Unix seconds), and versions every
-- instance polls (once a second) to drop cached lists after a change made by another instance.
CREATE TABLE rec_shop_stats (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    orders BIGINT NOT NULL DEFAULT 0,
    first_order_at BIGINT,
    last_order_at BIGINT,
    model_version BIGINT NOT NULL DEFAULT 0,
    catalogue_version BIGINT NOT NULL DEFAULT 0
);

-- What each order added to the counts, so a re-delivery adds nothing, an edit/refund/cancel
-- subtracts exactly what was added, and customers/redact can take a shopper's orders out.
-- No customer id here: a shopper's orders are found through `orders.customer_id`.
CREATE TABLE rec_order_contrib (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    order_id BIGINT NOT NULL,
    product_ids TEXT NOT NULL,
    at_secs BIGINT NOT NULL,
    redacted BOOLEAN NOT NULL DEFAULT FALSE,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);

-- Storefront events (POST /proxy/events). customer_id only from the signed proxy parameters.
CREATE TABLE rec_events (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    customer_id BIGINT,
    kind TEXT NOT NULL,
    product_id BIGINT NOT NULL,
    intent TEXT,
    source_product_id BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX rec_events_session ON rec_events (shop_id, session_id, created_at);
CREATE INDEX rec_events_customer ON rec_events (shop_id, customer_id);
CREATE INDEX rec_events_kind ON rec_events (shop_id, kind, created_at);

-- Merchant settings (JSON texts).
CREATE TABLE rec_settings (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    pinned TEXT NOT NULL,
    excluded TEXT NOT NULL,
    excluded_everywhere TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- The order backfill after install: one row per shop, claimed with a lease.
CREATE TABLE rec_jobs (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    cursor TEXT,
    orders_done BIGINT NOT NULL DEFAULT 0,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    updated_at TIMESTAMP NOT NULL
);

-- Content similarity candidates.
CREATE INDEX products_type ON products (shop_id, product_type, product_id);
CREATE INDEX products_vendor ON products (shop_id, vendor, product_id);
