-- The OAuth `state` nonces that reached `/auth/callback`. Each `/auth` mints one nonce and it
-- may complete one install: a callback whose nonce is already here is a replay (a browser's
-- history, a copied link, an attacker holding the victim's cookie) and is refused before any
-- call to the store. Rows older than the signed timestamp's window are purged periodically.
CREATE TABLE oauth_nonces (
    nonce TEXT PRIMARY KEY NOT NULL,
    shop_domain TEXT NOT NULL,
    used_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth_nonces_used_at ON oauth_nonces (used_at);
