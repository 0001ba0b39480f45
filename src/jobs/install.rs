//! Installing a shop: the end of every install path (OAuth callback, token exchange) stores the
//! grant, registers the webhook topics and schedules the backfill; the token for Admin API calls
//! is refreshed here when it is about to expire.

use diesel::prelude::*;
use time::Duration;

use crate::db::now;
use crate::db::schema::shops;
use crate::error::{AppError, AppResult};
use crate::shopify::{AccessGrant, ShopDomain};
use crate::shops::{Shop, find_by_id, map_store_error, mark_webhooks_registered, save_grant};
use crate::state::AppState;

/// The shop's usable access token for Admin API calls, refreshing an expiring offline token
/// within five minutes of its expiry.
pub async fn access_token(state: &AppState, shop: &Shop) -> AppResult<String> {
    let domain = ShopDomain::parse(&shop.domain).map_err(AppError::internal)?;
    let enc = shop
        .access_token_enc
        .as_deref()
        .filter(|_| shop.installed)
        .ok_or_else(|| {
            AppError::conflict("not_installed", "Atelier is not installed on this shop.")
        })?;
    let expiring_soon = shop
        .access_token_expires_at
        .is_some_and(|t| t <= now() + Duration::minutes(5));
    let (token, stale) = state.cipher.decrypt_fresh(enc, &shop.domain)?;
    if stale {
        // Read under the previous TOKEN_ENCRYPTION_KEY: store it again under the current one.
        let (cipher, id) = (state.cipher.clone(), shop.id.clone());
        if let Err(e) = state
            .db
            .run_write(move |c| Ok(crate::shops::rewrap_tokens(c, &cipher, &id)?))
            .await
        {
            tracing::warn!(error = ?e, "re-encrypting a shop's tokens under the current key failed");
        }
    }
    if !expiring_soon {
        return Ok(token);
    }
    let refresh = shop.refresh_token_enc.as_deref().ok_or_else(|| {
        AppError::conflict(
            "token_expired",
            "The store access token expired; the merchant must reopen the app.",
        )
    })?;
    let refresh = state.cipher.decrypt(refresh, &shop.domain)?;
    let grant = state
        .store
        .refresh(&domain, &refresh)
        .await
        .map_err(map_store_error)?;
    let token = grant.access_token.expose().to_owned();
    let cipher = state.cipher.clone();
    state
        .db
        .run(move |c| Ok(save_grant(c, &cipher, &domain, &grant)?))
        .await?;
    Ok(token)
}

/// Registers the app's webhook topics for a freshly installed shop. A failure does not undo the
/// install: it is logged and `webhooks_registered_at` stays empty so it can be retried.
pub async fn register_webhooks(state: &AppState, shop: &Shop) -> bool {
    let domain = match ShopDomain::parse(&shop.domain) {
        Ok(d) => d,
        Err(_) => return false,
    };
    let token = match access_token(state, shop).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "webhook registration skipped");
            return false;
        }
    };
    let uri = format!("{}/webhooks", state.settings.app_base());
    match state
        .store
        .register_webhooks(&domain, &token, crate::shopify::WEBHOOK_TOPICS, &uri)
        .await
    {
        Ok(report) => {
            tracing::info!(shop = %shop.domain, created = report.created.len(), updated = report.updated.len(), unchanged = report.unchanged.len(), "webhook subscriptions registered");
            let id = shop.id.clone();
            state
                .db
                .run(move |c| Ok(mark_webhooks_registered(c, &id)?))
                .await
                .is_ok()
        }
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "webhook registration failed; will retry");
            false
        }
    }
}

/// Retries webhook registration for installed shops whose registration failed. Run
/// periodically by every instance; registration is idempotent (existing subscriptions are
/// reused), so two instances doing it at once is harmless. Returns how many shops succeeded.
pub async fn retry_pending_registrations(state: &AppState) -> AppResult<usize> {
    let pending: Vec<Shop> = state
        .db
        .run(|c| {
            Ok(shops::table
                .filter(shops::installed.eq(true))
                .filter(shops::access_token_enc.is_not_null())
                .filter(shops::webhooks_registered_at.is_null())
                .select(Shop::as_select())
                .limit(100)
                .load(c)?)
        })
        .await?;
    let mut registered = 0;
    for shop in &pending {
        if register_webhooks(state, shop).await {
            registered += 1;
        }
    }
    Ok(registered)
}

/// Scopes the web pixel needs: `write_pixels` to create it, `read_customer_events` to receive
/// its events.
pub const PIXEL_SCOPES: [&str; 2] = ["write_pixels", "read_customer_events"];

const PIXEL_CREATE: &str = "mutation webPixelCreate($webPixel: WebPixelInput!) { webPixelCreate(webPixel: $webPixel) { userErrors { code field message } webPixel { id settings } } }";
const PIXEL_READ: &str = "query { webPixel { id settings } }";
const PIXEL_UPDATE: &str = "mutation webPixelUpdate($id: ID!, $webPixel: WebPixelInput!) { webPixelUpdate(id: $id, webPixel: $webPixel) { userErrors { code field message } webPixel { id settings } } }";

/// What the pixel knows of the app: where to send events (its `appUrl` setting, declared in the
/// extension's `shopify.extension.toml`).
pub fn pixel_settings(state: &AppState) -> String {
    serde_json::json!({ "appUrl": state.settings.app_base() }).to_string()
}

/// Activates the app's web pixel on the shop (Shopify loads an app pixel only once the app has
/// created it with its settings). Idempotent: a shop that has the pixel already (`TAKEN`) gets
/// its settings updated when they differ, and is left alone otherwise. A shop that did not grant
/// the pixel scopes is skipped: the theme's own event script keeps working there. A failure is
/// logged and does not undo the install. Returns whether the pixel is active with these settings.
pub async fn activate_pixel(state: &AppState, shop: &Shop) -> bool {
    let granted = crate::shopify::split_scopes(&shop.scopes);
    let wanted: Vec<String> = PIXEL_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    if !crate::shopify::scopes_cover(&granted, &wanted) {
        tracing::info!(shop = %shop.domain, "web pixel not activated: the shop did not grant write_pixels and read_customer_events");
        return false;
    }
    let Ok(domain) = ShopDomain::parse(&shop.domain) else {
        return false;
    };
    let token = match access_token(state, shop).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "web pixel activation skipped");
            return false;
        }
    };
    let settings = pixel_settings(state);
    let pixel = serde_json::json!({ "webPixel": { "settings": settings } });
    let user_errors = |data: &serde_json::Value, op: &str| -> Vec<String> {
        data[op]["userErrors"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| e["code"].as_str().unwrap_or("UNKNOWN").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let created = match state
        .store
        .graphql(&domain, &token, PIXEL_CREATE, pixel.clone())
        .await
    {
        Ok(data) => user_errors(&data, "webPixelCreate"),
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "web pixel activation failed");
            return false;
        }
    };
    if created.is_empty() {
        tracing::info!(shop = %shop.domain, "web pixel activated");
        return true;
    }
    if created.iter().any(|c| c != "TAKEN") {
        tracing::warn!(shop = %shop.domain, codes = ?created, "web pixel refused");
        return false;
    }
    // Already there (a reinstall, a second instance): keep it, with these settings.
    let current = match state
        .store
        .graphql(&domain, &token, PIXEL_READ, serde_json::json!({}))
        .await
    {
        Ok(data) => data["webPixel"].clone(),
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "reading the web pixel failed");
            return false;
        }
    };
    let same = match &current["settings"] {
        serde_json::Value::String(s) => serde_json::from_str::<serde_json::Value>(s).ok(),
        other => Some(other.clone()),
    } == serde_json::from_str(&settings).ok();
    if same {
        return true;
    }
    let Some(id) = current["id"].as_str() else {
        tracing::warn!(shop = %shop.domain, "the store named no web pixel to update");
        return false;
    };
    let mut vars = pixel;
    vars["id"] = id.into();
    match state
        .store
        .graphql(&domain, &token, PIXEL_UPDATE, vars)
        .await
    {
        Ok(data) if user_errors(&data, "webPixelUpdate").is_empty() => {
            tracing::info!(shop = %shop.domain, "web pixel settings updated");
            true
        }
        Ok(data) => {
            tracing::warn!(shop = %shop.domain, codes = ?user_errors(&data, "webPixelUpdate"), "web pixel update refused");
            false
        }
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "web pixel update failed");
            false
        }
    }
}

/// Stores a grant and registers webhooks: the end of every install path (OAuth, token exchange).
pub async fn complete_install(
    state: &AppState,
    domain: &ShopDomain,
    grant: AccessGrant,
) -> AppResult<Shop> {
    let cipher = state.cipher.clone();
    let d = domain.clone();
    let shop = state
        .db
        .run(move |c| Ok(save_grant(c, &cipher, &d, &grant)?))
        .await?;
    state.forget_storefront_shop(&shop.domain);
    tracing::info!(shop = %shop.domain, "shop installed");
    let registered = register_webhooks(state, &shop).await;
    if !activate_pixel(state, &shop).await
        && crate::writeback::may_write(&shop.scope_list(), crate::writeback::WEB_PIXEL)
    {
        // The store failed it: the write-back job tries again, with backoff, until it holds.
        let (id, reason) = (shop.id.clone(), format!("install:{}", crate::db::new_id()));
        state
            .db
            .run_write(move |c| Ok(crate::writeback::pixel_wanted(c, &id, &reason)?))
            .await?;
    }
    // Checkout's add-on: the cart transform that runs Atelier's function (looked up first, so
    // installing again keeps the one there is), then the price tables of products that were
    // saved while the store could not be reached.
    super::checkout::ensure_cart_transform(state, &shop).await;
    super::checkout::sync_soon(state, &shop.id);
    // Past orders and the catalogue for recommendations, in the background.
    super::backfill::start(state, &shop).await;
    if !registered {
        return Ok(shop);
    }
    let id = shop.id.clone();
    state.db.run(move |c| Ok(find_by_id(c, &id)?)).await
}
