-- A/B experiments on a recommendation slot (an intent): two arms, each a strategy
-- (`personalized`, `popular`, `control`), a share of shoppers for arm A (percent; the rest see
-- arm B). States draft → running → stopped; a stopped experiment keeps its exposures, so its
-- results stay readable.
CREATE TABLE rec_experiments (
    id TEXT PRIMARY KEY NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    intent TEXT NOT NULL,
    strategy_a TEXT NOT NULL,
    strategy_b TEXT NOT NULL,
    share_a INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    stopped_at TIMESTAMP
);
CREATE INDEX rec_experiments_shop ON rec_experiments (shop_id, created_at);
-- At most one running experiment per slot: the database decides, so two instances starting
-- two experiments at once cannot both succeed.
CREATE UNIQUE INDEX rec_experiments_one_running ON rec_experiments (shop_id, intent) WHERE state = 'running';
-- Who was served an arm: one row per experiment and unit (`c:CUSTOMER` when logged in, else
-- `s:SESSION`), with the first and the latest time it was served; conversions are read from
-- the orders placed by that customer or linked to that session by the web pixel.
CREATE TABLE rec_experiment_exposures (
    experiment_id TEXT NOT NULL REFERENCES rec_experiments (id) ON DELETE CASCADE,
    unit TEXT NOT NULL,
    shop_id TEXT NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    arm TEXT NOT NULL,
    customer_id BIGINT,
    session_id TEXT,
    first_at TIMESTAMP NOT NULL,
    last_at TIMESTAMP NOT NULL,
    PRIMARY KEY (experiment_id, unit)
);
-- Erasure finds a shopper's exposures by customer and by session.
CREATE INDEX rec_experiment_exposures_customer ON rec_experiment_exposures (shop_id, customer_id);
CREATE INDEX rec_experiment_exposures_session ON rec_experiment_exposures (shop_id, session_id);
-- The arm a widget's impression or click was shown in (checked against the split when stored).
ALTER TABLE rec_events ADD COLUMN experiment_id TEXT;
ALTER TABLE rec_events ADD COLUMN experiment_arm TEXT;
-- The per-arm impressions and clicks of an experiment.
CREATE INDEX rec_events_experiment ON rec_events (experiment_id) WHERE experiment_id IS NOT NULL;
