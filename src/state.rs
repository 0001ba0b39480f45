//! What every handler and worker shares. Cheap to clone.

use std::sync::Arc;

use crate::config::Settings;
use crate::crypto::{TokenCipher, derive_key};
use crate::db::Db;
use crate::shopify::StoreClient;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: StoreClient,
    pub cipher: TokenCipher,
    /// Key of the OAuth state cookie signature, derived from the API secret the way Shopify's
    /// library derives it, so a cookie signature can never double as a webhook HMAC.
    pub cookie_key: [u8; 32],
}

pub const COOKIE_KEY_INFO: &[u8] = b"shopify-app-js/cookie-signing/v1";

impl AppState {
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let store = StoreClient::new(&settings)?;
        let cipher = TokenCipher::new(&settings.token_encryption_key);
        let cookie_key = derive_key(settings.api_secret.expose().as_bytes(), COOKIE_KEY_INFO);
        Ok(AppState {
            settings: Arc::new(settings),
            db,
            store,
            cipher,
            cookie_key,
        })
    }

    pub fn api_secret(&self) -> &[u8] {
        self.settings.api_secret.expose().as_bytes()
    }
}
