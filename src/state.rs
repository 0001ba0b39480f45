//! What every handler and worker shares. Cheap to clone.

use std::sync::Arc;

use crate::cache::TtlCache;
use crate::config::Settings;
use crate::crypto::{TokenCipher, derive_key};
use crate::db::Db;
use crate::inbox::InboxWriter;
use crate::limits::{Allowance, RateSketch};
use crate::shopify::{Signatures, StoreClient};
use crate::sync::SyncContext;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub store: StoreClient,
    pub cipher: TokenCipher,
    /// Checks of every request Shopify signs (current and previous secret, freshness).
    pub signatures: Arc<Signatures>,
    /// Key of the OAuth state cookie signature, derived from the API secret the way Shopify's
    /// library derives it, so a cookie signature can never double as a webhook HMAC.
    pub cookie_key: [u8; 32],
    pub inbox: InboxWriter,
    /// Wakes this instance's inbox worker when a delivery is stored.
    pub wake: Arc<tokio::sync::Notify>,
    pub sync: SyncContext,
    /// The storefront's view of shops, by domain (see [`AppState::storefront_shop`]).
    pub storefront_shops: Arc<TtlCache<String, Option<crate::shops::Shop>>>,
    /// Key of the `_atelier` personalization signatures (derived from the API secret).
    pub personalization_key: [u8; 32],
    /// Compiled templates by (template id, version): versions never change, so no invalidation.
    compiled: Arc<parking_lot::Mutex<TemplateCache>>,
    /// Slots for concurrent image decodes (uploads).
    pub image_slots: Arc<tokio::sync::Semaphore>,
    /// Personalization settings (blocked words compiled) per shop.
    settings_cache: Arc<TtlCache<String, Arc<crate::personalization::policy::Loaded>>>,
    /// The template of a product: `(shop id, product id) → (template id, version)`.
    product_templates: Arc<TtlCache<(String, i64), Option<TemplateRef>>>,
    /// What recommendation widgets show of a product, by `(shop id, product id)`.
    product_cards: Arc<TtlCache<(String, i64), Arc<crate::products::Card>>>,
    /// Recommendation lists computed by this instance.
    pub recs: Arc<crate::recommendations::Recommender>,
    /// Running recommendation experiments per shop, and the exposures recorded lately.
    pub experiments: Arc<crate::recommendations::experiments::Experiments>,
    /// Web pixel events this instance accepted per address and per pixel client in the current
    /// minute.
    pub event_rate: Arc<RateSketch>,
    /// Storefront events per visitor and minute, across every instance on the database.
    pub visitor_events: Arc<Allowance>,
    /// Uploads per visitor and hour, across every instance on the database.
    pub upload_rate: Arc<Allowance>,
}

/// Slots per row of the per-client sketches: 3 × 65,536 × 8 bytes = 1.5 MiB each, whatever the
/// number of visitors (see `limits`).
const CLIENT_SLOTS: usize = 65_536;

/// A template version: `(template id, version)`.
type TemplateRef = (String, i32);

/// How long another instance may serve the storefront from what it read before a change
/// (blocked words, templates, an uninstall): a few seconds, never longer.
pub const STOREFRONT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Compiled templates by (template id, version).
type TemplateCache =
    std::collections::HashMap<(String, i32), Arc<crate::personalization::CompiledTemplate>>;

pub const COOKIE_KEY_INFO: &[u8] = b"shopify-app-js/cookie-signing/v1";

/// Key of the `_atelier` signatures for one API secret.
pub fn personalization_key(api_secret: &str) -> [u8; 32] {
    derive_key(
        api_secret.as_bytes(),
        b"atelier/personalization-signature/v1",
    )
}

/// `{APP_URL}/uploads/`: the public address of shopper uploads.
pub fn upload_base(app_url: &url::Url) -> String {
    format!("{}/uploads/", app_url.as_str().trim_end_matches('/'))
}

impl AppState {
    pub fn new(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let store = StoreClient::new(&settings)?;
        let cipher = TokenCipher::with_previous(
            &settings.token_encryption_key,
            settings.token_encryption_key_previous.as_ref(),
        );
        let signatures = Arc::new(Signatures::from_settings(&settings));
        let cookie_key = derive_key(settings.api_secret.expose().as_bytes(), COOKIE_KEY_INFO);
        let wake = Arc::new(tokio::sync::Notify::new());
        let inbox = InboxWriter::start(db.clone(), wake.clone(), crate::compliance::INBOX_HOOKS);
        let personalization_key = personalization_key(settings.api_secret.expose());
        // Every instance derives the same key, so they count a visitor under the same name.
        let allowance_key = derive_key(
            settings.api_secret.expose().as_bytes(),
            b"atelier/visitor-allowance/v1",
        );
        let mut personalization_keys = vec![personalization_key];
        if let Some(previous) = &settings.api_secret_previous {
            personalization_keys.push(self::personalization_key(previous.expose()));
        }
        let sync = SyncContext {
            customer_ref_key: crate::customers::ref_key(
                &mut *db.conn().map_err(|e| anyhow::anyhow!("{e:?}"))?,
                &cipher,
                // Databases from before the key was stored derived it from the token key of the
                // time: the previous one while a rotation is under way.
                derive_key(
                    settings
                        .token_encryption_key_previous
                        .as_ref()
                        .unwrap_or(&settings.token_encryption_key),
                    b"atelier/customer-ref/v1",
                ),
            )?,
            personalization_keys,
            upload_base: upload_base(&settings.app_url),
        };
        Ok(AppState {
            settings: Arc::new(settings),
            db,
            store,
            cipher,
            signatures,
            cookie_key,
            inbox,
            wake,
            sync,
            storefront_shops: Arc::new(TtlCache::new(STOREFRONT_CACHE_TTL, 10_000)),
            personalization_key,
            compiled: Default::default(),
            image_slots: crate::uploads::image_slots(),
            settings_cache: Arc::new(TtlCache::new(STOREFRONT_CACHE_TTL, 10_000)),
            product_templates: Arc::new(TtlCache::new(STOREFRONT_CACHE_TTL, 100_000)),
            product_cards: Arc::new(TtlCache::new(std::time::Duration::from_secs(60), 100_000)),
            recs: Default::default(),
            experiments: Default::default(),
            event_rate: Arc::new(RateSketch::new(
                CLIENT_SLOTS,
                std::time::Duration::from_secs(60),
            )),
            visitor_events: Arc::new(Allowance::new(
                "events",
                CLIENT_SLOTS,
                std::time::Duration::from_secs(60),
                allowance_key,
            )),
            upload_rate: Arc::new(Allowance::new(
                "uploads",
                CLIENT_SLOTS,
                std::time::Duration::from_secs(3600),
                allowance_key,
            )),
        })
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

    /// The shop's personalization settings (cached for [`STOREFRONT_CACHE_TTL`]).
    pub async fn personalization_policy(
        &self,
        shop_id: &str,
    ) -> crate::error::AppResult<Arc<crate::personalization::policy::Loaded>> {
        if let Some(loaded) = self.settings_cache.get(shop_id) {
            return Ok(loaded);
        }
        let id = shop_id.to_owned();
        let settings = self
            .db
            .run(move |c| Ok(crate::personalization::policy::get(c, &id)?))
            .await?;
        let loaded = Arc::new(crate::personalization::policy::Loaded::new(settings));
        self.settings_cache
            .insert(shop_id.to_owned(), loaded.clone());
        Ok(loaded)
    }

    /// Forgets the cached settings of a shop (after this instance changed them).
    pub fn forget_personalization_policy(&self, shop_id: &str) {
        self.settings_cache.forget(|k| k == shop_id);
    }

    /// A shop by domain, for storefront requests (cached for [`STOREFRONT_CACHE_TTL`]).
    pub async fn storefront_shop(
        &self,
        domain: &str,
    ) -> crate::error::AppResult<Option<crate::shops::Shop>> {
        if let Some(found) = self.storefront_shops.get(domain) {
            return Ok(found);
        }
        let d = domain.to_owned();
        let found = self
            .db
            .run(move |c| Ok(crate::shops::find_by_domain(c, &d)?))
            .await?;
        self.storefront_shops
            .insert(domain.to_owned(), found.clone());
        Ok(found)
    }

    /// Forgets what this instance cached about a shop's storefront (install, uninstall).
    pub fn forget_storefront_shop(&self, domain: &str) {
        self.storefront_shops.forget(|k| k == domain);
    }

    /// The product's template and version, compiled (cached for [`STOREFRONT_CACHE_TTL`]; the
    /// compiled form is cached per version for good, versions never change).
    pub async fn product_template(
        &self,
        shop_id: &str,
        product: i64,
    ) -> crate::error::AppResult<Option<(String, i32, Arc<crate::personalization::CompiledTemplate>)>>
    {
        let key = (shop_id.to_owned(), product);
        if let Some(found) = self.product_templates.get(&key) {
            let Some((id, version)) = found else {
                return Ok(None);
            };
            if let Some(t) = self.compiled.lock().get(&(id.clone(), version)).cloned() {
                return Ok(Some((id, version, t)));
            }
        }
        let shop = shop_id.to_owned();
        let found = self
            .db
            .run(move |c| crate::personalization::store::for_product(c, &shop, product))
            .await?;
        let Some((id, version, fields)) = found else {
            self.product_templates.insert(key, None);
            return Ok(None);
        };
        let compiled = self.compiled_template(&id, version, fields)?;
        self.product_templates
            .insert(key, Some((id.clone(), version)));
        Ok(Some((id, version, compiled)))
    }

    /// Cards (title, handle, price, image) of these products, from the cache (60 s) or, for the
    /// missing ones, one query.
    pub async fn product_cards(
        &self,
        shop_id: &str,
        ids: &[i64],
    ) -> crate::error::AppResult<std::collections::HashMap<i64, Arc<crate::products::Card>>> {
        let mut out = std::collections::HashMap::new();
        let mut missing = Vec::new();
        for &id in ids {
            match self.product_cards.get(&(shop_id.to_owned(), id)) {
                Some(card) => {
                    out.insert(id, card);
                }
                None => missing.push(id),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let shop = shop_id.to_owned();
        let found = self
            .db
            .run(move |c| Ok(crate::products::cards(c, &shop, &missing)?))
            .await?;
        for (id, card) in found {
            let card = Arc::new(card);
            self.product_cards
                .insert((shop_id.to_owned(), id), card.clone());
            out.insert(id, card);
        }
        Ok(out)
    }

    /// Forgets this instance's product → template entries of a shop (after a template change).
    pub fn forget_product_templates(&self, shop_id: &str) {
        self.product_templates.forget(|(s, _)| s == shop_id);
    }

    pub fn api_secret(&self) -> &[u8] {
        self.settings.api_secret.expose().as_bytes()
    }
}
