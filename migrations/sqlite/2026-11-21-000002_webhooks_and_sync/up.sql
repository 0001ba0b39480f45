-- Durable inbox of webhook deliveries. A row is committed before Shopify gets its 200; the
-- payload is erased once the event is applied (it carries names, emails and addresses).
CREATE TABLE webhook_inbox (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL UNIQUE,
    shop_domain TEXT NOT NULL,
    topic TEXT NOT NULL,
    api_version TEXT,
    event_id TEXT,
    triggered_at TEXT,
    payload BLOB NOT NULL,
    received_at TIMESTAMP NOT NULL,
    -- pending | processing | done | ignored | dead
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    note TEXT,
    processed_at TIMESTAMP
);
-- Claims scan only open rows, oldest first.
CREATE INDEX webhook_inbox_open ON webhook_inbox (received_at) WHERE state IN ('pending', 'processing');
CREATE INDEX webhook_inbox_shop ON webhook_inbox (shop_domain, state);

CREATE TABLE orders (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    order_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    customer_id BIGINT,
    financial_status TEXT,
    fulfillment_status TEXT,
    cancelled BOOLEAN NOT NULL,
    cancelled_at TIMESTAMP,
    currency TEXT NOT NULL,
    total_price_cents BIGINT NOT NULL,
    source_name TEXT,
    test BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- X-Shopify-Triggered-At of the applied delivery: breaks ties between equal updated_at.
    version_triggered_at TIMESTAMP,
    synced_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);
CREATE INDEX orders_customer ON orders (shop_id, customer_id);
CREATE INDEX orders_created ON orders (shop_id, created_at);

CREATE TABLE order_line_items (
    shop_id TEXT NOT NULL,
    line_item_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    product_id BIGINT,
    variant_id BIGINT,
    title TEXT NOT NULL,
    variant_title TEXT,
    sku TEXT,
    quantity INTEGER NOT NULL,
    current_quantity INTEGER NOT NULL,
    refunded_quantity INTEGER NOT NULL,
    price_cents BIGINT NOT NULL,
    gift_card BOOLEAN NOT NULL,
    -- JSON array of {"name","value"}, in cart order, hidden `_` properties included.
    properties TEXT NOT NULL,
    PRIMARY KEY (shop_id, line_item_id),
    FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, order_id) ON DELETE CASCADE
);
CREATE INDEX order_line_items_order ON order_line_items (shop_id, order_id);
CREATE INDEX order_line_items_product ON order_line_items (shop_id, product_id);

CREATE TABLE products (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    handle TEXT NOT NULL,
    product_type TEXT NOT NULL,
    vendor TEXT NOT NULL,
    -- JSON array of tags, trimmed, in the store's order.
    tags TEXT NOT NULL,
    -- active | archived | draft
    status TEXT NOT NULL,
    published BOOLEAN NOT NULL,
    available BOOLEAN NOT NULL,
    price_min_cents BIGINT,
    price_max_cents BIGINT,
    image_url TEXT,
    deleted BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version_triggered_at TIMESTAMP,
    synced_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, product_id)
);

CREATE TABLE product_variants (
    shop_id TEXT NOT NULL,
    variant_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    sku TEXT,
    price_cents BIGINT NOT NULL,
    available BOOLEAN NOT NULL,
    inventory_quantity BIGINT,
    option1 TEXT,
    option2 TEXT,
    option3 TEXT,
    PRIMARY KEY (shop_id, variant_id),
    FOREIGN KEY (shop_id, product_id) REFERENCES products (shop_id, product_id) ON DELETE CASCADE
);
CREATE INDEX product_variants_product ON product_variants (shop_id, product_id);

-- What the preference center needs from the store's customer record: consent states only
-- (Atelier keeps no name, email or address).
CREATE TABLE customers (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    email_marketing_state TEXT,
    email_marketing_updated_at TIMESTAMP,
    sms_marketing_state TEXT,
    sms_marketing_updated_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    version_triggered_at TIMESTAMP,
    synced_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE compliance_requests (
    id TEXT PRIMARY KEY NOT NULL,
    shop_domain TEXT NOT NULL,
    topic TEXT NOT NULL,
    -- NULL once the customer is redacted; `customer_ref` (keyed hash) stays for the audit trail.
    customer_id BIGINT,
    customer_ref TEXT,
    shopify_request_id BIGINT,
    webhook_id TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    -- received | completed | failed
    state TEXT NOT NULL,
    completed_at TIMESTAMP,
    export TEXT,
    error TEXT
);
CREATE INDEX compliance_requests_shop ON compliance_requests (shop_domain, received_at);

-- Customers erased by customers/redact (keyed hash, not the id): a late delivery naming them
-- is applied without linking it to them again.
CREATE TABLE redacted_customers (
    shop_domain TEXT NOT NULL,
    customer_ref TEXT NOT NULL,
    redacted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_domain, customer_ref)
);
