//! What every handler and worker shares. Cheap to clone.

use std::sync::Arc;

use crate::config::Settings;
use crate::crypto::{TokenCipher, derive_key};
use crate::db::Db;
use crate::inbox::InboxWriter;
use crate::shopify::StoreClient;
use crate::sync::SyncContext;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: StoreClient,
    pub cipher: TokenCipher,
    /// Key of the OAuth state cookie signature, derived from the API secret the way Shopify's
    /// library derives it, so a cookie signature can never double as a webhook HMAC.
    pub cookie_key: [u8; 32],
    pub inbox: InboxWriter,
    /// Wakes this instance's inbox worker when a delivery is stored.
    pub wake: Arc<tokio::sync::Notify>,
    pub sync: SyncContext,
    /// Key of the `_atelier` personalization signatures (derived from the API secret).
    pub personalization_key: [u8; 32],
    /// Compiled templates by (template id, version): versions never change, so no invalidation.
    compiled: Arc<parking_lot::Mutex<TemplateCache>>,
}

/// Compiled templates by (template id, version).
type TemplateCache =
    std::collections::HashMap<(String, i32), Arc<crate::personalization::CompiledTemplate>>;

pub const COOKIE_KEY_INFO: &[u8] = b"shopify-app-js/cookie-signing/v1";

impl AppState {
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let store = StoreClient::new(&settings)?;
        let cipher = TokenCipher::new(&settings.token_encryption_key);
        let cookie_key = derive_key(settings.api_secret.expose().as_bytes(), COOKIE_KEY_INFO);
        let wake = Arc::new(tokio::sync::Notify::new());
        let inbox = InboxWriter::start(db.clone(), wake.clone());
        let sync = SyncContext {
            customer_ref_key: derive_key(
                &settings.token_encryption_key,
                b"atelier/customer-ref/v1",
            ),
        };
        let personalization_key = derive_key(
            settings.api_secret.expose().as_bytes(),
            b"atelier/personalization-signature/v1",
        );
        Ok(AppState {
            settings: Arc::new(settings),
            db,
            store,
            cipher,
            cookie_key,
            inbox,
            wake,
            sync,
            personalization_key,
            compiled: Default::default(),
        })
    }

    /// A signed request's `timestamp` (Unix seconds) is within the accepted clock difference.
    pub fn timestamp_fresh(&self, timestamp: i64) -> bool {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        (now - timestamp).abs() <= self.settings.signature_max_age.as_secs() as i64
    }

    /// A template version ready to validate against, compiled once per process.
    pub fn compiled_template(
        &self,
        template_id: &str,
        version: i32,
        fields: Vec<crate::personalization::FieldDef>,
    ) -> crate::error::AppResult<Arc<crate::personalization::CompiledTemplate>> {
        let key = (template_id.to_owned(), version);
        if let Some(t) = self.compiled.lock().get(&key) {
            return Ok(t.clone());
        }
        let compiled = Arc::new(
            crate::personalization::CompiledTemplate::new(fields)
                .map_err(|e| crate::error::AppError::internal(anyhow::anyhow!(e)))?,
        );
        let mut cache = self.compiled.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    /// Webhook HMAC against the current secret and, during a rotation, the previous one.
    pub fn verify_webhook_hmac(&self, body: &[u8], header: &str) -> bool {
        let current = crate::shopify::hmac::verify_webhook(self.api_secret(), body, header);
        let previous = self
            .settings
            .api_secret_previous
            .as_ref()
            .is_some_and(|old| {
                crate::shopify::hmac::verify_webhook(old.expose().as_bytes(), body, header)
            });
        current | previous
    }

    pub fn api_secret(&self) -> &[u8] {
        self.settings.api_secret.expose().as_bytes()
    }
}
