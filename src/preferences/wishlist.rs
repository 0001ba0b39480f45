//! Wishlists: products a logged-in shopper keeps to come back to. A product can be added only
//! while it is in the synced catalogue (not deleted), so a list never names a product the
//! store does not know; a product deleted later stays listed as unavailable until the shopper
//! removes it. Lists are bounded per customer, so one account cannot grow a table without end.
//!
//! An anonymous visitor's list lives in their browser; on login the storefront sends it to
//! [`merge`], which adds what fits and says what it skipped.

use std::collections::HashSet;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use time::PrimitiveDateTime;

use crate::db::schema::{products, wishlist_items as wi};
use crate::db::{DbConnection, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::shopify::payload::parse_id;

/// Products per customer's wishlist.
pub const MAX_ITEMS: i64 = 100;
/// Ids one merge request may carry (a browser's list is bounded by the same limit).
pub const MAX_MERGE: usize = 100;

/// One product of a wishlist, with what the storefront draws of it.
#[derive(Debug, Clone, Serialize)]
pub struct ItemOut {
    pub product_id: String,
    pub added_at: String,
    pub title: Option<String>,
    pub handle: Option<String>,
    pub price_cents: Option<i64>,
    pub image_url: Option<String>,
    /// Published, active, not deleted and in stock now.
    pub available: bool,
}

/// `GET /proxy/wishlist`
#[derive(Debug, Clone, Serialize)]
pub struct WishlistOut {
    pub items: Vec<ItemOut>,
    pub max_items: i64,
}

/// A merge's answer: the list as stored, and what was not added and why.
#[derive(Debug, Clone, Serialize)]
pub struct MergeOut {
    pub items: Vec<ItemOut>,
    pub max_items: i64,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub product_id: String,
    /// `unknown_product` or `wishlist_full`.
    pub reason: &'static str,
}

/// A product id from a request body member: a positive Shopify id as a string or a number.
pub fn parse_product_id(v: Option<&Value>, field: &str) -> Result<i64, Vec<FieldError>> {
    match v {
        None | Some(Value::Null) => Err(vec![FieldError::new(
            field,
            "required",
            "product_id is required.",
        )]),
        Some(v) => parse_id(v).filter(|id| *id > 0).ok_or_else(|| {
            vec![FieldError::new(
                field,
                "invalid_id",
                "A product id is a positive integer (string or number).",
            )]
        }),
    }
}

/// `{"product_id"}` of `POST /proxy/wishlist`; any other member is refused.
pub fn parse_add(body: &Value) -> Result<i64, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "The body must be a JSON object.",
        )]);
    };
    let mut errors: Vec<FieldError> = obj
        .keys()
        .filter(|k| k.as_str() != "product_id")
        .map(|k| {
            FieldError::new(
                crate::input::member("", k),
                "unknown_member",
                "This member is not part of the request.",
            )
        })
        .collect();
    match parse_product_id(obj.get("product_id"), "product_id") {
        Ok(id) if errors.is_empty() => Ok(id),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.extend(e);
            Err(errors)
        }
    }
}

/// `{"product_ids":[…]}` of `POST /proxy/wishlist/merge`, in the browser's order, duplicates
/// dropped.
pub fn parse_merge(body: &Value) -> Result<Vec<i64>, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "The body must be a JSON object.",
        )]);
    };
    let mut errors: Vec<FieldError> = obj
        .keys()
        .filter(|k| k.as_str() != "product_ids")
        .map(|k| {
            FieldError::new(
                crate::input::member("", k),
                "unknown_member",
                "This member is not part of the request.",
            )
        })
        .collect();
    let Some(list) = obj.get("product_ids").and_then(Value::as_array) else {
        errors.push(FieldError::new(
            "product_ids",
            "invalid_type",
            "product_ids is an array of product ids.",
        ));
        return Err(errors);
    };
    if list.len() > MAX_MERGE {
        errors.push(FieldError::new(
            "product_ids",
            "too_many",
            format!("At most {MAX_MERGE} product ids."),
        ));
        return Err(errors);
    }
    let mut ids = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match parse_product_id(Some(v), &crate::input::item("product_ids", i)) {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(errors)
    }
}

type Row = (
    i64,
    PrimitiveDateTime,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<bool>,
);

/// The customer's wishlist, most recently added first.
pub fn list(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<WishlistOut> {
    let rows: Vec<Row> = wi::table
        .left_join(
            products::table.on(products::shop_id
                .eq(wi::shop_id)
                .and(products::product_id.eq(wi::product_id))),
        )
        .filter(wi::shop_id.eq(shop_id))
        .filter(wi::customer_id.eq(customer_id))
        .order((wi::added_at.desc(), wi::product_id.desc()))
        .select((
            wi::product_id,
            wi::added_at,
            products::title.nullable(),
            products::handle.nullable(),
            products::price_min_cents.nullable(),
            products::image_url.nullable(),
            products::available.nullable(),
            products::published.nullable(),
            products::status.nullable(),
            products::deleted.nullable(),
        ))
        .load(c)?;
    let items = rows
        .into_iter()
        .map(
            |(id, at, title, handle, price, image, available, published, status, deleted)| {
                let gone = deleted.unwrap_or(true);
                ItemOut {
                    product_id: id.to_string(),
                    added_at: rfc3339(at),
                    title: title.filter(|_| !gone),
                    handle: handle.filter(|_| !gone),
                    price_cents: price.filter(|_| !gone),
                    image_url: image.filter(|_| !gone),
                    available: !gone
                        && available == Some(true)
                        && published == Some(true)
                        && status.as_deref() == Some("active"),
                }
            },
        )
        .collect();
    Ok(WishlistOut {
        items,
        max_items: MAX_ITEMS,
    })
}

/// The product ids of the customer's wishlist, most recently added first (for
/// recommendations and follow-ups).
pub fn product_ids(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    wi::table
        .filter(wi::shop_id.eq(shop_id))
        .filter(wi::customer_id.eq(customer_id))
        .order((wi::added_at.desc(), wi::product_id.desc()))
        .select(wi::product_id)
        .limit(limit)
        .load(c)
}

/// Customers who wished this product.
pub fn customers_wishing(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
) -> QueryResult<Vec<i64>> {
    wi::table
        .filter(wi::shop_id.eq(shop_id))
        .filter(wi::product_id.eq(product_id))
        .order(wi::customer_id)
        .select(wi::customer_id)
        .load(c)
}

/// Of these ids, those in the synced catalogue and not deleted.
fn known_products(c: &mut DbConnection, shop_id: &str, ids: &[i64]) -> QueryResult<HashSet<i64>> {
    let found: Vec<i64> = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::product_id.eq_any(ids))
        .filter(products::deleted.eq(false))
        .select(products::product_id)
        .load(c)?;
    Ok(found.into_iter().collect())
}

/// Concurrent changes of one customer's list count one after the other, so the bound holds
/// with several instances (SQLite's single writer already serializes them).
fn lock_customer(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("wishlist:{shop_id}:{customer_id}"))
            .execute(pg)?;
    }
    Ok(())
}

fn stored(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<HashSet<i64>> {
    Ok(product_ids(c, shop_id, customer_id, MAX_ITEMS * 2)?
        .into_iter()
        .collect())
}

fn insert(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
    at: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(wi::table)
        .values((
            wi::shop_id.eq(shop_id),
            wi::customer_id.eq(customer_id),
            wi::product_id.eq(product_id),
            wi::added_at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// Adds a product; `Ok(false)` when it was already there (nothing changes). A product not in
/// the catalogue or a full list is a `422`.
pub fn add(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
) -> AppResult<bool> {
    write_tx(c, |c| {
        lock_customer(c, shop_id, customer_id)?;
        let have = stored(c, shop_id, customer_id)?;
        if have.contains(&product_id) {
            return Ok(false);
        }
        if !known_products(c, shop_id, &[product_id])?.contains(&product_id) {
            return Err(AppError::validation(vec![FieldError::new(
                "product_id",
                "unknown_product",
                "The store has no such product.",
            )]));
        }
        if have.len() as i64 >= MAX_ITEMS {
            return Err(AppError::validation(vec![FieldError::new(
                "",
                "wishlist_full",
                format!("A wishlist holds at most {MAX_ITEMS} products; remove one first."),
            )]));
        }
        insert(c, shop_id, customer_id, product_id, now())?;
        Ok(true)
    })
}

/// Removes a product; removing one that is not there is not an error (the storefront may
/// retry).
pub fn remove(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
) -> QueryResult<()> {
    diesel::delete(
        wi::table
            .filter(wi::shop_id.eq(shop_id))
            .filter(wi::customer_id.eq(customer_id))
            .filter(wi::product_id.eq(product_id)),
    )
    .execute(c)?;
    Ok(())
}

/// Adds the browser's anonymous list (oldest first as the browser kept it, so the newest ends
/// on top): products already listed are kept as they are, unknown products and those beyond
/// the bound are skipped and named.
pub fn merge(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    ids: &[i64],
) -> AppResult<MergeOut> {
    let skipped = write_tx(c, |c| -> AppResult<Vec<Skipped>> {
        lock_customer(c, shop_id, customer_id)?;
        let mut have = stored(c, shop_id, customer_id)?;
        let known = known_products(c, shop_id, ids)?;
        let mut skipped = Vec::new();
        let base = now();
        for (i, &id) in ids.iter().enumerate() {
            if have.contains(&id) {
                continue;
            }
            let reason = if !known.contains(&id) {
                "unknown_product"
            } else if have.len() as i64 >= MAX_ITEMS {
                "wishlist_full"
            } else {
                // One microsecond apart keeps the browser's order in the stored list.
                insert(
                    c,
                    shop_id,
                    customer_id,
                    id,
                    base + time::Duration::microseconds(i as i64),
                )?;
                have.insert(id);
                continue;
            };
            skipped.push(Skipped {
                product_id: id.to_string(),
                reason,
            });
        }
        Ok(skipped)
    })?;
    let l = list(c, shop_id, customer_id)?;
    Ok(MergeOut {
        items: l.items,
        max_items: l.max_items,
        skipped,
    })
}

/// One row of the merchant's "most wished" list.
#[derive(Debug, Clone, Serialize)]
pub struct MostWished {
    pub product_id: String,
    pub title: Option<String>,
    pub handle: Option<String>,
    pub image_url: Option<String>,
    pub wishers: i64,
    pub last_added_at: String,
}

/// Products by how many shoppers keep them in their wishlist, most first.
pub fn most_wished(
    c: &mut DbConnection,
    shop_id: &str,
    limit: i64,
) -> QueryResult<Vec<MostWished>> {
    use diesel::dsl::{count_star, max};
    let rows: Vec<(i64, i64, Option<PrimitiveDateTime>)> = wi::table
        .filter(wi::shop_id.eq(shop_id))
        .group_by(wi::product_id)
        .select((wi::product_id, count_star(), max(wi::added_at)))
        .order((count_star().desc(), wi::product_id))
        .limit(limit)
        .load(c)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let cards = crate::products::cards(c, shop_id, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(id, n, last)| {
            let card = cards.get(&id);
            MostWished {
                product_id: id.to_string(),
                title: card.map(|c| c.title.clone()),
                handle: card.map(|c| c.handle.clone()),
                image_url: card.and_then(|c| c.image_url.clone()),
                wishers: n,
                last_added_at: last.map(rfc3339).unwrap_or_default(),
            }
        })
        .collect())
}

/// The customer's wishlist for the data request export: product ids and when each was added.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    let rows: Vec<(i64, PrimitiveDateTime)> = wi::table
        .filter(wi::shop_id.eq(shop_id))
        .filter(wi::customer_id.eq(customer_id))
        .order((wi::added_at.desc(), wi::product_id.desc()))
        .select((wi::product_id, wi::added_at))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(
                |(p, at)| serde_json::json!({"product_id": p.to_string(), "added_at": rfc3339(at)}),
            )
            .collect(),
    ))
}

/// Erases the customer's wishlist (`customers/redact`).
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        wi::table
            .filter(wi::shop_id.eq(shop_id))
            .filter(wi::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}
