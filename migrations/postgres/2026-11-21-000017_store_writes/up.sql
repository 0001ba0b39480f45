-- What Atelier writes back to the store (a customer's marketing consent, a flag on an order
-- whose personalization failed its check): one row per change, sent by a job on any instance
-- under a lease like the webhook inbox, retried with backoff, kept when every attempt failed.
-- `subject_id` is the customer or order the write is about; `dedupe_key` makes a change seen
-- twice (a redelivered webhook) one write. `held` waits for a scope the merchant has not
-- granted yet (`app/scopes_update` releases it).
CREATE TABLE store_writes (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    dedupe_key TEXT NOT NULL,
    data TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_by TEXT,
    locked_until TIMESTAMP,
    last_error TEXT,
    result TEXT,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    UNIQUE (shop_id, dedupe_key)
);
CREATE INDEX store_writes_due ON store_writes (state, next_attempt_at);
CREATE INDEX store_writes_subject ON store_writes (shop_id, kind, subject_id);
