-- Preference center (issue 5). JSON documents are stored as TEXT on both backends.

-- The merchant's settings: size categories, interests, frequencies, texts. No row = defaults.
CREATE TABLE preference_settings (
    shop_id TEXT PRIMARY KEY NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per shopper who has preferences. Values no longer offered by the settings are kept
-- (and marked stale when read). `history_seq` is the last `consent_history.seq` used: the row
-- is locked for every change, so the history of a customer is one gap-free chain.
CREATE TABLE customer_preferences (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    sizes TEXT NOT NULL,
    interests TEXT NOT NULL,
    email BOOLEAN NOT NULL,
    sms BOOLEAN NOT NULL,
    frequency TEXT,
    personalization_consent BOOLEAN NOT NULL,
    marketing_consent BOOLEAN NOT NULL,
    marketing_changed_at TIMESTAMP,
    history_seq BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, customer_id)
);

-- Append-only: one row per changed value (old and new as JSON), with where the change came from.
CREATE TABLE consent_history (
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL,
    source TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    PRIMARY KEY (shop_id, customer_id, seq)
);

-- Filled personalizations a shopper keeps for reuse; validated only when used on a product.
CREATE TABLE saved_personalizations (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    product_id BIGINT,
    field_values TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX saved_personalizations_customer
    ON saved_personalizations (shop_id, customer_id, created_at);
