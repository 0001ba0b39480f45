//! Getting the add-on charged at checkout: the shop's cart transform (made sure of at install
//! and again, while the store refuses it, every few minutes) and the products' price tables
//! (written after each template save; a store that fails or throttles is tried again with
//! backoff, and the merchant's setup checklist shows what is still missing). Both are safe on
//! several instances: the cart transform is looked up before it is created, and price tables
//! are claimed under leases and written whole.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::AppResult;
use crate::personalization::checkout::{self, Claimed, FUNCTION_HANDLE};
use crate::shopify::ShopDomain;
use crate::shopify::client::JsonMetafield;
use crate::shops::{Shop, find_by_id};
use crate::state::AppState;

/// Products written per round.
const BATCH: i64 = 50;
/// How long a claimed product is this instance's to write.
const LEASE_SECS: i64 = 120;

/// Makes sure the shop has Atelier's cart transform; `true` when the store has it. A failure
/// (the function is not deployed, a store without the feature, an unreachable store) is
/// recorded for the setup checklist and does not undo anything.
pub async fn ensure_cart_transform(state: &AppState, shop: &Shop) -> bool {
    let Ok(domain) = ShopDomain::parse(&shop.domain) else {
        return false;
    };
    let outcome = match super::install::access_token(state, shop).await {
        Ok(token) => state
            .store
            .ensure_cart_transform(&domain, &token, FUNCTION_HANDLE)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match &outcome {
        Ok(t) => {
            tracing::info!(shop = %shop.domain, created = t.created, "cart transform in place")
        }
        Err(e) => {
            tracing::warn!(shop = %shop.domain, error = %e, "cart transform not created; will retry")
        }
    }
    let id = shop.id.clone();
    let ok = outcome.is_ok();
    let recorded = state
        .db
        .run_write(move |c| {
            Ok(checkout::record_transform(
                c,
                &id,
                outcome
                    .as_ref()
                    .map(|t| t.id.as_str())
                    .map_err(String::as_str),
            )?)
        })
        .await;
    ok && recorded.is_ok()
}

/// Retries the cart transform of installed shops that do not have it yet.
pub async fn retry_missing_transforms(state: &AppState) -> AppResult<usize> {
    let ids = state
        .db
        .run(|c| Ok(checkout::shops_missing_transform(c, 100)?))
        .await?;
    let mut done = 0;
    for id in ids {
        let shop = state.db.run(move |c| Ok(find_by_id(c, &id)?)).await?;
        if ensure_cart_transform(state, &shop).await {
            done += 1;
        }
    }
    Ok(done)
}

/// Writes the due price tables (of one shop, or of all), returning how many the store
/// accepted.
pub async fn sync_due(state: &AppState, shop_id: Option<String>) -> AppResult<usize> {
    let lease = time::Duration::seconds(LEASE_SECS);
    let claimed = state
        .db
        .run_write(move |c| Ok(checkout::claim_due(c, shop_id.as_deref(), BATCH, lease)?))
        .await?;
    let mut by_shop: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_shop.entry(c.shop_id.clone()).or_default().push(c);
    }
    let mut written = 0;
    for (shop_id, products) in by_shop {
        written += sync_shop(state, &shop_id, products).await?;
    }
    Ok(written)
}

async fn sync_shop(state: &AppState, shop_id: &str, products: Vec<Claimed>) -> AppResult<usize> {
    let id = shop_id.to_owned();
    let shop = state.db.run(move |c| Ok(find_by_id(c, &id)?)).await?;
    let id = shop_id.to_owned();
    let pids: Vec<i64> = products.iter().map(|p| p.product_id).collect();
    let tables = state
        .db
        .run(move |c| {
            pids.iter()
                .map(|p| Ok(checkout::table_for(c, &id, *p)?.to_json()))
                .collect::<AppResult<Vec<String>>>()
        })
        .await?;
    let metafields: Vec<JsonMetafield> = products
        .iter()
        .zip(&tables)
        .map(|(p, value)| JsonMetafield {
            owner_id: format!("gid://shopify/Product/{}", p.product_id),
            namespace: atelier_pricing::table::NAMESPACE.to_owned(),
            key: atelier_pricing::table::KEY.to_owned(),
            value: value.clone(),
        })
        .collect();
    // The development demo shop has no store behind it: its "store" is this database, so the
    // tables are taken as written (the demo cart then shows what checkout would charge).
    let demo = !state.settings.is_production()
        && shop.domain == crate::config::DEMO_SHOP
        && shop.access_token_enc.is_none();
    let result = match (
        ShopDomain::parse(&shop.domain),
        super::install::access_token(state, &shop).await,
    ) {
        _ if demo => Ok(()),
        (Ok(domain), Ok(token)) => state
            .store
            .set_json_metafields(&domain, &token, &metafields)
            .await
            .map_err(|e| e.to_string()),
        (_, Err(e)) => Err(e.to_string()),
        (Err(e), _) => Err(e.to_string()),
    };
    let backoff = state.settings.price_sync.backoff;
    let ok = result.is_ok();
    if let Err(e) = &result {
        tracing::warn!(shop = %shop.domain, products = products.len(), error = %e, "price tables not written; will retry");
    }
    let count = products.len();
    state
        .db
        .run_write(move |c| {
            for (p, value) in products.iter().zip(&tables) {
                match &result {
                    Ok(()) => checkout::finish_ok(c, p, value)?,
                    Err(e) => checkout::finish_err(c, p, e, backoff)?,
                }
            }
            Ok(())
        })
        .await?;
    Ok(if ok { count } else { 0 })
}

/// Writes the shop's due tables now, in the background (after a template save: the save has
/// committed the intent, so an error here only delays it to the next round).
pub fn sync_soon(state: &AppState, shop_id: &str) {
    let (state, shop_id) = (state.clone(), shop_id.to_owned());
    tokio::spawn(async move {
        if let Err(e) = sync_due(&state, Some(shop_id)).await {
            tracing::warn!(error = ?e, "price table write failed; will retry");
        }
    });
}

/// The loop of every worker instance: due price tables every `ATELIER_PRICE_SYNC_POLL_MS`,
/// missing cart transforms every five minutes.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let poll = state.settings.price_sync.poll;
    let mut since_transforms = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sync_due(&state, None).await {
            tracing::warn!(error = ?e, "price table round failed");
        }
        since_transforms += poll;
        if since_transforms >= Duration::from_secs(300) {
            since_transforms = Duration::ZERO;
            if let Err(e) = retry_missing_transforms(&state).await {
                tracing::warn!(error = ?e, "cart transform retry failed");
            }
        }
    }
}
