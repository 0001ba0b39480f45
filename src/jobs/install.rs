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
