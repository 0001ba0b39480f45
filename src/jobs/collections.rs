//! Reading collections' products from the store (a collection webhook carries none): claims due
//! collections under a lease, reads each one's products through the Admin GraphQL API
//! (`collection(id:) { products }`, 250 per page, with the store client's retries and backoff)
//! and replaces Atelier's copy in one transaction. A failure is tried again with backoff; the
//! maintenance loop marks every collection due again now and then (`collections::REFRESH_EVERY`)
//! so smart collections follow their rules.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::collections::{self, Claimed, MAX_MEMBERS};
use crate::error::{AppError, AppResult};
use crate::shopify::ShopDomain;
use crate::shopify::payload::parse_id;
use crate::shops::{Shop, find_by_id};
use crate::state::AppState;

pub const MEMBERS_QUERY: &str = "query atelierCollectionProducts($id: ID!, $after: String) { collection(id: $id) { id products(first: 250, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }";

/// How often due collections are looked for.
const POLL: Duration = Duration::from_secs(1);
/// Collections read per round.
const BATCH: i64 = 20;
/// How long a claimed collection is this instance's to read.
const LEASE: time::Duration = time::Duration::seconds(120);
/// First retry delay after a failed read; each further one doubles (capped at a day).
const BACKOFF: Duration = Duration::from_secs(30);

/// The loop of every worker instance.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = sync_due(&state).await {
            tracing::warn!(error = ?e, "collection products round failed");
        }
    }
}

/// Reads the due collections' products; returns how many collections were brought up to date.
pub async fn sync_due(state: &AppState) -> AppResult<usize> {
    let claimed = state
        .db
        .run_write(|c| Ok(collections::claim_due(c, BATCH, LEASE)?))
        .await?;
    let mut done = 0;
    for claim in claimed {
        if sync_one(state, claim).await? {
            done += 1;
        }
    }
    Ok(done)
}

async fn sync_one(state: &AppState, claim: Claimed) -> AppResult<bool> {
    let id = claim.shop_id.clone();
    let shop: Option<Shop> = state
        .db
        .run(move |c| match find_by_id(c, &id) {
            Ok(s) => Ok(Some(s)),
            Err(diesel::result::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await?;
    // The development demo shop has no store behind it: its collections are seeded here.
    let demo = shop
        .as_ref()
        .is_some_and(|s| !state.settings.is_production() && s.domain == crate::config::DEMO_SHOP);
    let Some(shop) = shop.filter(|s| s.installed && !demo) else {
        state
            .db
            .run_write(move |c| Ok(collections::settle(c, &claim)?))
            .await?;
        return Ok(false);
    };
    let result = read_members(state, &shop, claim.collection_id).await;
    let ok = result.is_ok();
    if let Err(e) = &result {
        tracing::warn!(shop = %shop.domain, collection = claim.collection_id, error = %e, "collection products not read; will retry");
    }
    state
        .db
        .run_write(move |c| {
            crate::db::write_tx(c, |c| match &result {
                Ok(products) => collections::finish_ok(c, &claim, products.as_deref()),
                Err(e) => collections::finish_err(c, &claim, &e.to_string(), BACKOFF),
            })?;
            Ok(())
        })
        .await?;
    Ok(ok)
}

/// The collection's products in its order; `None` when the store has no such collection.
async fn read_members(
    state: &AppState,
    shop: &Shop,
    collection_id: i64,
) -> AppResult<Option<Vec<i64>>> {
    let domain = ShopDomain::parse(&shop.domain).map_err(AppError::internal)?;
    let token = super::install::access_token(state, shop).await?;
    let gid = format!("gid://shopify/Collection/{collection_id}");
    let mut ids: Vec<i64> = Vec::new();
    let mut after = Value::Null;
    // Until the last page, or as many products as Atelier keeps (a page count of its own
    // bounds a store that would never say it is done).
    for _page in 0..MAX_MEMBERS {
        if ids.len() >= MAX_MEMBERS {
            break;
        }
        let data = state
            .store
            .graphql(
                &domain,
                &token,
                MEMBERS_QUERY,
                json!({ "id": gid, "after": after }),
            )
            .await
            .map_err(crate::shops::map_store_error)?;
        let collection = &data["collection"];
        if collection.is_null() {
            return Ok(None);
        }
        let products = &collection["products"];
        ids.extend(
            products["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| parse_id(&n["id"])),
        );
        match products["pageInfo"]["endCursor"].as_str() {
            Some(cursor) if products["pageInfo"]["hasNextPage"].as_bool() == Some(true) => {
                after = Value::String(cursor.to_owned());
            }
            _ => break,
        }
    }
    Ok(Some(ids))
}
