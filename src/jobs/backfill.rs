//! The backfill after install: the store's catalogue and past orders are pulled through the
//! Admin GraphQL API (`products` and `orders(sortKey: CREATED_AT)`, 100 per page) and applied
//! exactly as their webhooks would be (`products::apply_update`, `orders::apply_webhook`, which
//! feeds `recommendations::apply_order`), so recommendations work on day one.
//!
//! Then the collections with their handle, title and products (`collections`, 8 per page with
//! their first 100 products; a longer one is finished by the collections job).
//!
//! One `rec_jobs` row per shop: `products` → `collections` → `orders` → `done`, with the page
//! cursor. An
//! instance claims the row with a lease (a conditional `UPDATE`, safe with several instances on
//! one PostgreSQL) and commits each page together with the next cursor, so a crash resumes at
//! the last page. Re-applying a page is harmless (stale copies are ignored and an order's
//! contribution is a difference, never counted twice). Note that Shopify returns only the last
//! 60 days of orders unless the app has `read_all_orders`.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::db::schema::rec_jobs;
use crate::db::{DbConnection, now, write_tx};
use crate::error::{AppError, AppResult};
use crate::shopify::ShopDomain;
use crate::shops::Shop;
use crate::state::AppState;
use crate::sync::SyncError;

pub const STATE_PRODUCTS: &str = "products";
pub const STATE_COLLECTIONS: &str = "collections";
pub const STATE_ORDERS: &str = "orders";
pub const STATE_DONE: &str = "done";
const LEASE_SECS: i64 = 120;
const RETRY_SECS: i64 = 60;

pub const PRODUCTS_QUERY: &str = "query atelierProducts($after: String) { products(first: 100, after: $after) { nodes { id title handle productType vendor tags status publishedAt updatedAt variants(first: 100) { nodes { id title sku price position inventoryQuantity inventoryPolicy selectedOptions { name value } } } } pageInfo { hasNextPage endCursor } } }";
/// 8 collections of up to 100 products: a query cost well under the store's 1,000 per query.
pub const COLLECTIONS_QUERY: &str = "query atelierCollections($after: String) { collections(first: 8, after: $after) { nodes { id handle title updatedAt products(first: 100) { nodes { id } pageInfo { hasNextPage endCursor } } } pageInfo { hasNextPage endCursor } } }";
pub const ORDERS_QUERY: &str = "query atelierOrders($after: String) { orders(first: 100, after: $after, sortKey: CREATED_AT) { nodes { id name createdAt updatedAt cancelledAt test displayFinancialStatus currencyCode totalPriceSet { shopMoney { amount } } customer { id } lineItems(first: 100) { nodes { id title variantTitle sku quantity currentQuantity isGiftCard product { id } variant { id } originalUnitPriceSet { shopMoney { amount } } customAttributes { key value } } } } pageInfo { hasNextPage endCursor } } }";

/// Puts (back) a shop's backfill on the queue: called when an install completes.
pub fn schedule(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    crate::per_backend!(c, |c| diesel::insert_into(rec_jobs::table)
        .values((
            rec_jobs::shop_id.eq(shop_id),
            rec_jobs::state.eq(STATE_PRODUCTS),
            rec_jobs::orders_done.eq(0i64),
            rec_jobs::updated_at.eq(now()),
        ))
        .on_conflict(rec_jobs::shop_id)
        .do_update()
        .set((
            rec_jobs::state.eq(STATE_PRODUCTS),
            rec_jobs::cursor.eq(None::<String>),
            rec_jobs::orders_done.eq(0i64),
            rec_jobs::last_error.eq(None::<String>),
            rec_jobs::updated_at.eq(now()),
        ))
        .execute(c))?;
    Ok(())
}

/// After an install: queue the shop's backfill and start it in the background.
pub async fn start(state: &AppState, shop: &Shop) {
    let id = shop.id.clone();
    if let Err(e) = state.db.run_write(move |c| Ok(schedule(c, &id)?)).await {
        tracing::warn!(shop = %shop.domain, error = ?e, "recommendations backfill not scheduled");
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = run_pending(&state).await {
            tracing::warn!(error = ?e, "recommendations backfill failed; will retry");
        }
    });
}

/// Claims the job of one shop for `LEASE_SECS`; false when another instance holds it or it is
/// done.
fn claim(c: &mut DbConnection, shop_id: &str, me: &str) -> QueryResult<bool> {
    let at = now();
    let n = diesel::update(
        rec_jobs::table
            .filter(rec_jobs::shop_id.eq(shop_id))
            .filter(rec_jobs::state.ne(STATE_DONE))
            .filter(
                rec_jobs::locked_until
                    .is_null()
                    .or(rec_jobs::locked_until.lt(at))
                    .or(rec_jobs::locked_by.eq(me)),
            ),
    )
    .set((
        rec_jobs::locked_by.eq(me),
        rec_jobs::locked_until.eq(at + time::Duration::seconds(LEASE_SECS)),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// Runs every backfill that is due (called after installs and by the maintenance loop).
pub async fn run_pending(state: &AppState) -> AppResult<usize> {
    let due: Vec<String> = state
        .db
        .run(|c| {
            Ok(rec_jobs::table
                .filter(rec_jobs::state.ne(STATE_DONE))
                .filter(
                    rec_jobs::locked_until
                        .is_null()
                        .or(rec_jobs::locked_until.lt(now())),
                )
                .select(rec_jobs::shop_id)
                .limit(20)
                .load(c)?)
        })
        .await?;
    let mut done = 0;
    for shop_id in due {
        match run_one(state, &shop_id).await {
            Ok(true) => done += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = ?e, "recommendations backfill page failed; retrying later");
                let msg: String = format!("{}", e).chars().take(300).collect();
                let id = shop_id.clone();
                let _ = state
                    .db
                    .run_write(move |c| {
                        Ok(diesel::update(rec_jobs::table.find(&id))
                            .set((
                                rec_jobs::last_error.eq(Some(msg)),
                                rec_jobs::locked_until
                                    .eq(now() + time::Duration::seconds(RETRY_SECS)),
                                rec_jobs::locked_by.eq(None::<String>),
                            ))
                            .execute(c)?)
                    })
                    .await;
            }
        }
    }
    Ok(done)
}

fn sync_err(e: SyncError) -> AppError {
    AppError::internal(anyhow::anyhow!("{e}"))
}

/// Runs one shop's backfill to the end; false when it could not be claimed.
async fn run_one(state: &AppState, shop_id: &str) -> AppResult<bool> {
    let me = crate::db::new_id();
    let id = shop_id.to_owned();
    let m = me.clone();
    let claimed = state.db.run_write(move |c| Ok(claim(c, &id, &m)?)).await?;
    if !claimed {
        return Ok(false);
    }
    let id = shop_id.to_owned();
    let shop = state
        .db
        .run(move |c| Ok(crate::shops::find_by_id(c, &id)?))
        .await?;
    let domain = ShopDomain::parse(&shop.domain).map_err(AppError::internal)?;
    let token = super::install::access_token(state, &shop).await?;
    loop {
        let id = shop_id.to_owned();
        let job: Option<(String, Option<String>, Option<String>)> = state
            .db
            .run(move |c| {
                Ok(rec_jobs::table
                    .find(&id)
                    .select((rec_jobs::state, rec_jobs::cursor, rec_jobs::locked_by))
                    .first(c)
                    .optional()?)
            })
            .await?;
        let Some((phase, cursor, holder)) = job else {
            return Ok(false);
        };
        if holder.as_deref() != Some(me.as_str()) || phase == STATE_DONE {
            return Ok(phase == STATE_DONE);
        }
        let query = match phase.as_str() {
            STATE_PRODUCTS => PRODUCTS_QUERY,
            STATE_COLLECTIONS => COLLECTIONS_QUERY,
            _ => ORDERS_QUERY,
        };
        let data = state
            .store
            .graphql(&domain, &token, query, json!({ "after": cursor }))
            .await
            .map_err(crate::shops::map_store_error)?;
        let root = &data[phase.as_str()];
        let nodes: Vec<Value> = root["nodes"].as_array().cloned().unwrap_or_default();
        let more = root["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
        let next_cursor = root["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        let (next_phase, next_cursor) = match (more && next_cursor.is_some(), phase.as_str()) {
            (true, _) => (phase.clone(), next_cursor),
            (false, STATE_PRODUCTS) => (STATE_COLLECTIONS.to_owned(), None),
            (false, STATE_COLLECTIONS) => (STATE_ORDERS.to_owned(), None),
            (false, _) => (STATE_DONE.to_owned(), None),
        };
        let ctx = state.sync.clone();
        let recs = state.recs.clone();
        let shop2 = shop.clone();
        let me2 = me.clone();
        let is_products = phase == STATE_PRODUCTS;
        let is_collections = phase == STATE_COLLECTIONS;
        state
            .db
            .run_write(move |c| {
                write_tx(c, |c| -> AppResult<()> {
                    let mut applied = 0i64;
                    for node in nodes.iter().filter(|_| is_collections) {
                        match crate::collections::apply_backfilled(c, &shop2.id, node) {
                            Ok(_) => {}
                            Err(SyncError::Permanent(m)) => {
                                tracing::warn!(error = %m, "backfill collection skipped")
                            }
                            Err(e) => return Err(sync_err(e)),
                        }
                    }
                    for node in nodes.iter().filter(|_| !is_collections) {
                        let body = if is_products {
                            rest_product(node)
                        } else {
                            rest_order(node)
                        };
                        let Some(body) = body else { continue };
                        let bytes = serde_json::to_vec(&body).unwrap_or_default();
                        let outcome = if is_products {
                            crate::products::apply_update(
                                c,
                                &shop2,
                                "products/update",
                                &bytes,
                                None,
                            )
                        } else {
                            crate::jobs::dispatch::apply_order(
                                c,
                                &ctx,
                                &recs,
                                &shop2,
                                "orders/create",
                                &bytes,
                                None,
                            )
                        };
                        match outcome {
                            Ok(_) => applied += 1,
                            // One malformed record does not stop the backfill.
                            Err(SyncError::Permanent(m)) => {
                                tracing::warn!(error = %m, "backfill record skipped")
                            }
                            Err(e) => return Err(sync_err(e)),
                        }
                    }
                    if is_products && applied > 0 {
                        recs.model_reset(c, &shop2.id)?;
                    }
                    let n = diesel::update(
                        rec_jobs::table
                            .filter(rec_jobs::shop_id.eq(&shop2.id))
                            .filter(rec_jobs::locked_by.eq(&me2)),
                    )
                    .set((
                        rec_jobs::state.eq(&next_phase),
                        rec_jobs::cursor.eq(&next_cursor),
                        rec_jobs::orders_done.eq(rec_jobs::orders_done
                            + if is_products || is_collections {
                                0
                            } else {
                                applied
                            }),
                        rec_jobs::locked_until.eq(now() + time::Duration::seconds(LEASE_SECS)),
                        rec_jobs::last_error.eq(None::<String>),
                        rec_jobs::updated_at.eq(now()),
                    ))
                    .execute(c)?;
                    if n != 1 {
                        // The lease was lost: roll this page back, the holder redoes it.
                        return Err(AppError::conflict("lease_lost", "backfill lease lost"));
                    }
                    Ok(())
                })
            })
            .await?;
    }
}

fn lower(v: &Value) -> Value {
    v.as_str()
        .map_or(Value::Null, |s| Value::String(s.to_lowercase()))
}

/// A GraphQL `Product` node in the REST webhook shape `products::apply_update` reads.
pub fn rest_product(n: &Value) -> Option<Value> {
    n.get("id")?;
    let variants: Vec<Value> = n["variants"]["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    let opt = |i: usize| v["selectedOptions"][i]["value"].clone();
                    json!({
                        "id": v["id"], "title": v["title"], "sku": v["sku"], "price": v["price"],
                        "position": v["position"], "inventory_quantity": v["inventoryQuantity"],
                        "inventory_policy": lower(&v["inventoryPolicy"]),
                        "option1": opt(0), "option2": opt(1), "option3": opt(2),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(json!({
        "id": n["id"], "title": n["title"], "handle": n["handle"], "product_type": n["productType"],
        "vendor": n["vendor"], "tags": n["tags"], "status": lower(&n["status"]),
        "published_at": n["publishedAt"], "updated_at": n["updatedAt"], "variants": variants,
    }))
}

/// A GraphQL `Order` node in the REST `orders/create` shape `orders::apply_webhook` reads.
pub fn rest_order(n: &Value) -> Option<Value> {
    n.get("id")?;
    let lines: Vec<Value> = n["lineItems"]["nodes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    let props: Vec<Value> = l["customAttributes"]
                        .as_array()
                        .map(|p| {
                            p.iter()
                                .map(|kv| json!({"name": kv["key"], "value": kv["value"]}))
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({
                        "id": l["id"], "title": l["title"], "variant_title": l["variantTitle"],
                        "sku": l["sku"], "quantity": l["quantity"].as_i64().unwrap_or(0),
                        "current_quantity": l["currentQuantity"],
                        "gift_card": l["isGiftCard"].as_bool().unwrap_or(false),
                        "product_id": l["product"]["id"], "variant_id": l["variant"]["id"],
                        "price": l["originalUnitPriceSet"]["shopMoney"]["amount"],
                        "properties": props,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(json!({
        "id": n["id"], "name": n["name"], "created_at": n["createdAt"], "updated_at": n["updatedAt"],
        "cancelled_at": n["cancelledAt"], "test": n["test"].as_bool().unwrap_or(false),
        "financial_status": lower(&n["displayFinancialStatus"]), "currency": n["currencyCode"],
        "total_price": n["totalPriceSet"]["shopMoney"]["amount"],
        "customer": n["customer"]["id"].as_str().map(|id| json!({"id": id})),
        "line_items": lines,
    }))
}
