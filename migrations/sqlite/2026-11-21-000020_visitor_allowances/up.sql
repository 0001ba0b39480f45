-- What each storefront visitor was admitted in their current window (events per minute,
-- uploads per hour), shared by every instance on this database so the allowance holds in
-- total behind a load balancer. `client_key` is a keyed hash of the limit, the shop and the
-- visitor (never the address itself); a window starts with the visitor's first request and
-- ends at `window_ends_at` (Unix milliseconds), after which the maintenance loop deletes it.
CREATE TABLE visitor_allowances (
    client_key TEXT PRIMARY KEY NOT NULL,
    admitted BIGINT NOT NULL,
    window_ends_at BIGINT NOT NULL
);
CREATE INDEX visitor_allowances_window_ends_at ON visitor_allowances (window_ends_at);
