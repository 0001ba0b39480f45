-- Storefront events are deleted after the retention period, oldest first: found by time alone.
CREATE INDEX rec_events_created ON rec_events (created_at);

-- Keys that must outlive a rotation of TOKEN_ENCRYPTION_KEY (the key naming redacted customers),
-- stored encrypted under it and re-encrypted when it rotates.
CREATE TABLE app_keys (
    name TEXT PRIMARY KEY,
    value_enc TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
