//! The store's collections (a category page's products) as the personalized collection sort
//! needs them: handle, title, and which products each holds, in the collection's own order.
//!
//! A collection webhook carries no products, so a webhook (or the periodic refresh, which keeps
//! smart collections right when a product's tags change) marks the collection's membership
//! due, and a job (`jobs::collections`) reads it from the store under a lease, on any
//! instance. A deleted collection keeps a tombstone so a late copy of an older update cannot
//! bring it back; a deleted product leaves every collection at once.

use diesel::prelude::*;
use serde_json::Value;
use time::{Duration, PrimitiveDateTime};

use crate::db::schema::{collection_products as cp, collections as col};
use crate::db::{DbConnection, now};
use crate::per_backend;
use crate::shopify::payload::{parse_id, parse_time};
use crate::sync::{Outcome, SyncError};

/// How often every collection's products are read again from the store (smart collections
/// follow rules on tags, types and prices that no collection webhook reports).
pub const REFRESH_EVERY: Duration = Duration::hours(6);
/// Products one collection holds at most in Atelier's copy (Shopify allows more; a grid never
/// shows that many).
pub const MAX_MEMBERS: usize = 5_000;

/// A collection as the storefront asks about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub collection_id: i64,
    pub handle: String,
    pub title: String,
}

/// `collections/create`, `collections/update`, `collections/delete`, in the caller's
/// transaction. Create and update store the handle and title and mark the membership due.
pub fn apply_webhook(
    c: &mut DbConnection,
    shop_id: &str,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<Outcome, SyncError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| SyncError::malformed(topic, e))?;
    let id = v
        .get("id")
        .and_then(parse_id)
        .filter(|id| *id > 0)
        .ok_or_else(|| SyncError::malformed(topic, "no collection id"))?;
    if topic == "collections/delete" {
        delete(c, shop_id, id)?;
        return Ok(Outcome::Applied);
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().trim();
    let handle = text("handle");
    if handle.is_empty() {
        return Err(SyncError::malformed(topic, "no handle"));
    }
    let updated_at = v
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .or(triggered);
    let stored: Option<(bool, Option<PrimitiveDateTime>)> = col::table
        .find((shop_id, id))
        .select((col::deleted, col::updated_at))
        .first(c)
        .optional()?;
    match stored {
        Some((true, _)) => return Ok(Outcome::Ignored("collection was deleted".into())),
        Some((false, Some(was))) if updated_at.is_some_and(|u| u < was) => {
            return Ok(Outcome::Stale);
        }
        _ => {}
    }
    upsert(c, shop_id, id, handle, text("title"), updated_at)?;
    mark_due(c, shop_id, id)?;
    Ok(Outcome::Applied)
}

/// Stores a collection's handle and title (membership untouched).
fn upsert(
    c: &mut DbConnection,
    shop_id: &str,
    id: i64,
    handle: &str,
    title: &str,
    updated_at: Option<PrimitiveDateTime>,
) -> QueryResult<()> {
    let at = now();
    per_backend!(c, |c| diesel::insert_into(col::table)
        .values((
            col::shop_id.eq(shop_id),
            col::collection_id.eq(id),
            col::handle.eq(handle),
            col::title.eq(title),
            col::deleted.eq(false),
            col::updated_at.eq(updated_at),
            col::synced_at.eq(at),
            col::members_due.eq(false),
            col::members_generation.eq(0i64),
            col::members_attempts.eq(0),
            col::members_next_at.eq(at),
        ))
        .on_conflict((col::shop_id, col::collection_id))
        .do_update()
        .set((
            col::handle.eq(handle),
            col::title.eq(title),
            col::updated_at.eq(updated_at),
            col::synced_at.eq(at),
        ))
        .execute(c))?;
    Ok(())
}

/// The collection's products must be read from the store again (soon, by any instance).
pub fn mark_due(c: &mut DbConnection, shop_id: &str, id: i64) -> QueryResult<()> {
    diesel::update(
        col::table
            .find((shop_id, id))
            .filter(col::deleted.eq(false)),
    )
    .set((
        col::members_due.eq(true),
        col::members_generation.eq(col::members_generation + 1),
        col::members_attempts.eq(0),
        col::members_next_at.eq(now()),
    ))
    .execute(c)?;
    Ok(())
}

/// A tombstone, and no products any more.
fn delete(c: &mut DbConnection, shop_id: &str, id: i64) -> QueryResult<()> {
    let at = now();
    per_backend!(c, |c| diesel::insert_into(col::table)
        .values((
            col::shop_id.eq(shop_id),
            col::collection_id.eq(id),
            col::handle.eq(""),
            col::title.eq(""),
            col::deleted.eq(true),
            col::synced_at.eq(at),
            col::members_due.eq(false),
            col::members_next_at.eq(at),
        ))
        .on_conflict((col::shop_id, col::collection_id))
        .do_update()
        .set((
            col::deleted.eq(true),
            col::members_due.eq(false),
            col::synced_at.eq(at),
        ))
        .execute(c))?;
    diesel::delete(
        cp::table
            .filter(cp::shop_id.eq(shop_id))
            .filter(cp::collection_id.eq(id)),
    )
    .execute(c)?;
    Ok(())
}

/// Replaces a collection's products with `product_ids`, in that order (duplicates dropped).
pub fn replace_members(
    c: &mut DbConnection,
    shop_id: &str,
    id: i64,
    product_ids: &[i64],
) -> QueryResult<()> {
    diesel::delete(
        cp::table
            .filter(cp::shop_id.eq(shop_id))
            .filter(cp::collection_id.eq(id)),
    )
    .execute(c)?;
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<_> = product_ids
        .iter()
        .filter(|p| **p > 0 && seen.insert(**p))
        .take(MAX_MEMBERS)
        .enumerate()
        .map(|(i, p)| {
            (
                cp::shop_id.eq(shop_id),
                cp::collection_id.eq(id),
                cp::product_id.eq(*p),
                cp::position.eq(i as i32),
            )
        })
        .collect();
    for chunk in rows.chunks(200) {
        per_backend!(c, |c| diesel::insert_into(cp::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A collection from the install's backfill: stored with its first products; when the store
/// had more than one page of them, the job reads the rest.
pub fn apply_backfilled(
    c: &mut DbConnection,
    shop_id: &str,
    node: &Value,
) -> Result<Outcome, SyncError> {
    const TOPIC: &str = "collections backfill";
    let id = node
        .get("id")
        .and_then(parse_id)
        .filter(|id| *id > 0)
        .ok_or_else(|| SyncError::malformed(TOPIC, "no collection id"))?;
    let text = |k: &str| node[k].as_str().unwrap_or_default().trim();
    if text("handle").is_empty() {
        return Err(SyncError::malformed(TOPIC, "no handle"));
    }
    let deleted: Option<bool> = col::table
        .find((shop_id, id))
        .select(col::deleted)
        .first(c)
        .optional()?;
    if deleted == Some(true) {
        return Ok(Outcome::Ignored("collection was deleted".into()));
    }
    let updated_at = node["updatedAt"].as_str().and_then(parse_time);
    upsert(c, shop_id, id, text("handle"), text("title"), updated_at)?;
    let ids: Vec<i64> = node["products"]["nodes"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| parse_id(&p["id"])).collect())
        .unwrap_or_default();
    replace_members(c, shop_id, id, &ids)?;
    if node["products"]["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
        mark_due(c, shop_id, id)?;
    } else {
        diesel::update(col::table.find((shop_id, id)))
            .set(col::members_synced_at.eq(Some(now())))
            .execute(c)?;
    }
    Ok(Outcome::Applied)
}

/// Stores a collection's products as read (the demo store, whose store is this database).
pub fn set_members(
    c: &mut DbConnection,
    shop_id: &str,
    id: i64,
    product_ids: &[i64],
) -> QueryResult<()> {
    replace_members(c, shop_id, id, product_ids)?;
    diesel::update(col::table.find((shop_id, id)))
        .set((
            col::members_due.eq(false),
            col::members_synced_at.eq(Some(now())),
        ))
        .execute(c)?;
    Ok(())
}

/// A deleted product leaves every collection of the shop.
pub fn forget_product(c: &mut DbConnection, shop_id: &str, product_id: i64) -> QueryResult<()> {
    diesel::delete(
        cp::table
            .filter(cp::shop_id.eq(shop_id))
            .filter(cp::product_id.eq(product_id)),
    )
    .execute(c)?;
    Ok(())
}

/// An uninstalled shop's collections are no longer read from the store (a reinstall's backfill
/// reads them again; `shop/redact` erases them with the shop).
pub fn stop_syncing(c: &mut DbConnection, shop_id: &str) -> QueryResult<usize> {
    diesel::update(col::table.filter(col::shop_id.eq(shop_id)))
        .set((
            col::members_due.eq(false),
            col::members_lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)
}

/// A collection the storefront may ask about (not deleted).
pub fn find(c: &mut DbConnection, shop_id: &str, id: i64) -> QueryResult<Option<Collection>> {
    Ok(col::table
        .find((shop_id, id))
        .filter(col::deleted.eq(false))
        .select((col::handle, col::title))
        .first::<(String, String)>(c)
        .optional()?
        .map(|(handle, title)| Collection {
            collection_id: id,
            handle,
            title,
        }))
}

/// A collection by its handle (the demo store's pages).
pub fn find_by_handle(
    c: &mut DbConnection,
    shop_id: &str,
    handle: &str,
) -> QueryResult<Option<Collection>> {
    Ok(col::table
        .filter(col::shop_id.eq(shop_id))
        .filter(col::handle.eq(handle))
        .filter(col::deleted.eq(false))
        .select((col::collection_id, col::handle, col::title))
        .first::<(i64, String, String)>(c)
        .optional()?
        .map(|(collection_id, handle, title)| Collection {
            collection_id,
            handle,
            title,
        }))
}

/// The shop's collections (not deleted), by title.
pub fn list(c: &mut DbConnection, shop_id: &str, limit: i64) -> QueryResult<Vec<Collection>> {
    Ok(col::table
        .filter(col::shop_id.eq(shop_id))
        .filter(col::deleted.eq(false))
        .order((col::title, col::collection_id))
        .select((col::collection_id, col::handle, col::title))
        .limit(limit)
        .load::<(i64, String, String)>(c)?
        .into_iter()
        .map(|(collection_id, handle, title)| Collection {
            collection_id,
            handle,
            title,
        })
        .collect())
}

/// The collection's products in its own order.
pub fn members(c: &mut DbConnection, shop_id: &str, id: i64) -> QueryResult<Vec<i64>> {
    cp::table
        .filter(cp::shop_id.eq(shop_id))
        .filter(cp::collection_id.eq(id))
        .order((cp::position, cp::product_id))
        .select(cp::product_id)
        .load(c)
}

/// A collection claimed for reading its products: which marking it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub shop_id: String,
    pub collection_id: i64,
    pub generation: i64,
}

/// Claims up to `limit` due collections for `lease`, by a compare-and-set on each lease, so two
/// instances never read the same collection at once.
pub fn claim_due(c: &mut DbConnection, limit: i64, lease: Duration) -> QueryResult<Vec<Claimed>> {
    let at = now();
    let candidates: Vec<(String, i64, i64, Option<PrimitiveDateTime>)> = col::table
        .filter(col::members_due.eq(true))
        .filter(col::members_next_at.le(at))
        .filter(
            col::members_lease_until
                .is_null()
                .or(col::members_lease_until.lt(at)),
        )
        .order(col::members_next_at.asc())
        .select((
            col::shop_id,
            col::collection_id,
            col::members_generation,
            col::members_lease_until,
        ))
        .limit(limit)
        .load(c)?;
    let mut claimed = Vec::new();
    for (shop_id, collection_id, generation, was) in candidates {
        let target = col::table.find((&shop_id, collection_id));
        let won = match was {
            None => diesel::update(target.filter(col::members_lease_until.is_null()))
                .set(col::members_lease_until.eq(at + lease))
                .execute(c)?,
            Some(was) => diesel::update(target.filter(col::members_lease_until.eq(was)))
                .set(col::members_lease_until.eq(at + lease))
                .execute(c)?,
        };
        if won == 1 {
            claimed.push(Claimed {
                shop_id,
                collection_id,
                generation,
            });
        }
    }
    Ok(claimed)
}

/// The store answered: `Some(products)` replaces the membership, `None` (the store has no such
/// collection any more) makes it a tombstone. The collection stays due if a webhook marked it
/// again meanwhile.
pub fn finish_ok(
    c: &mut DbConnection,
    claimed: &Claimed,
    products: Option<&[i64]>,
) -> QueryResult<()> {
    let (shop_id, id) = (claimed.shop_id.as_str(), claimed.collection_id);
    let Some(products) = products else {
        return delete(c, shop_id, id);
    };
    let deleted: Option<bool> = col::table
        .find((shop_id, id))
        .select(col::deleted)
        .first(c)
        .optional()?;
    if deleted != Some(false) {
        // Deleted (or erased) while the store was being read.
        return Ok(());
    }
    // A product deleted while the store was being read stays out.
    let mut gone = std::collections::HashSet::new();
    for chunk in products.chunks(900) {
        let deleted: Vec<i64> = crate::db::schema::products::table
            .filter(crate::db::schema::products::shop_id.eq(shop_id))
            .filter(crate::db::schema::products::product_id.eq_any(chunk))
            .filter(crate::db::schema::products::deleted.eq(true))
            .select(crate::db::schema::products::product_id)
            .load(c)?;
        gone.extend(deleted);
    }
    let kept: Vec<i64> = products
        .iter()
        .copied()
        .filter(|p| !gone.contains(p))
        .collect();
    replace_members(c, shop_id, id, &kept)?;
    let target = col::table.find((shop_id, id));
    diesel::update(target)
        .set((
            col::members_synced_at.eq(Some(now())),
            col::members_error.eq(None::<String>),
            col::members_lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    diesel::update(target.filter(col::members_generation.eq(claimed.generation)))
        .set((col::members_due.eq(false), col::members_attempts.eq(0)))
        .execute(c)?;
    Ok(())
}

/// Reading failed: tried again after `backoff × 2^attempts` (at most a day).
pub fn finish_err(
    c: &mut DbConnection,
    claimed: &Claimed,
    error: &str,
    backoff: std::time::Duration,
) -> QueryResult<()> {
    let target = col::table.find((&claimed.shop_id, claimed.collection_id));
    let attempts: Option<i32> = target.select(col::members_attempts).first(c).optional()?;
    let Some(attempts) = attempts else {
        return Ok(());
    };
    let wait = backoff
        .saturating_mul(1u32 << attempts.clamp(0, 16))
        .min(std::time::Duration::from_secs(86_400));
    diesel::update(target)
        .set((
            col::members_attempts.eq(attempts.saturating_add(1)),
            col::members_error.eq(error.chars().take(300).collect::<String>()),
            col::members_next_at.eq(now() + Duration::milliseconds(wait.as_millis() as i64)),
            col::members_lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    Ok(())
}

/// Nothing to read from a store (the shop is uninstalled, or the demo shop, whose store is this
/// database): the marking is settled as it is.
pub fn settle(c: &mut DbConnection, claimed: &Claimed) -> QueryResult<()> {
    diesel::update(col::table.find((&claimed.shop_id, claimed.collection_id)))
        .set((
            col::members_due.eq(false),
            col::members_lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    Ok(())
}

/// Marks due, for the periodic refresh, up to `limit` collections whose products were last read
/// more than `every` ago (or never).
pub fn mark_for_refresh(c: &mut DbConnection, every: Duration, limit: i64) -> QueryResult<usize> {
    let before = now() - every;
    let installed = crate::db::schema::shops::table
        .filter(crate::db::schema::shops::installed.eq(true))
        .select(crate::db::schema::shops::id);
    let stale: Vec<(String, i64)> = col::table
        .filter(col::shop_id.eq_any(installed))
        .filter(col::deleted.eq(false))
        .filter(col::members_due.eq(false))
        .filter(
            col::members_synced_at
                .is_null()
                .or(col::members_synced_at.lt(before)),
        )
        .order(col::members_synced_at.asc())
        .select((col::shop_id, col::collection_id))
        .limit(limit)
        .load(c)?;
    for (shop_id, id) in &stale {
        mark_due(c, shop_id, *id)?;
    }
    Ok(stale.len())
}
