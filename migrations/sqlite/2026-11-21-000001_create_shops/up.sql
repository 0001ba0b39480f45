CREATE TABLE shops (
    id TEXT PRIMARY KEY NOT NULL,
    domain TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT '',
    -- AES-256-GCM ciphertext (`v1.` + base64), associated data = domain. NULL when uninstalled.
    access_token_enc TEXT,
    -- Expiring offline tokens only (Shopify's default for apps created since 2026-04).
    access_token_expires_at TIMESTAMP,
    refresh_token_enc TEXT,
    refresh_token_expires_at TIMESTAMP,
    installed BOOLEAN NOT NULL DEFAULT 0,
    installed_at TIMESTAMP,
    uninstalled_at TIMESTAMP,
    webhooks_registered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
