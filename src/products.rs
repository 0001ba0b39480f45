//! Products and variants as synced from the store: what recommendations need, and the search
//! the admin's product pickers use (template assignment, recommendation pins and exclusions).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::{product_variants, products};
use crate::db::{DbConnection, dialect, now};
use crate::money::parse_minor_json;
use crate::per_backend;
use crate::shopify::payload::{
    DeletedPayload, ProductPayload, VariantPayload, parse_time, tag_list,
};
use crate::shops::Shop;
use crate::sync::{Outcome, SyncError, is_stale};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct Product {
    pub shop_id: String,
    pub product_id: i64,
    pub title: String,
    pub handle: String,
    pub product_type: String,
    pub vendor: String,
    pub tags: String,
    pub status: String,
    pub published: bool,
    pub available: bool,
    pub price_min_cents: Option<i64>,
    pub price_max_cents: Option<i64>,
    pub image_url: Option<String>,
    pub deleted: bool,
    pub updated_at: PrimitiveDateTime,
    pub version_triggered_at: Option<PrimitiveDateTime>,
    pub synced_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_variants, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Variant {
    pub shop_id: String,
    pub variant_id: i64,
    pub product_id: i64,
    pub position: i32,
    pub title: String,
    pub sku: Option<String>,
    pub price_cents: i64,
    pub available: bool,
    pub inventory_quantity: Option<i64>,
    pub option1: Option<String>,
    pub option2: Option<String>,
    pub option3: Option<String>,
}

impl Product {
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}

/// A variant can be bought when inventory is not tracked, overselling is allowed, or stock is
/// left.
fn variant_available(v: &VariantPayload) -> bool {
    let untracked = matches!(v.inventory_management, Some(serde_json::Value::Null));
    untracked
        || v.inventory_policy.as_deref() == Some("continue")
        || v.inventory_quantity.is_none_or(|q| q > 0)
}

/// Shop currency for parsing product prices: Shopify sends them in the shop's currency.
fn shop_currency(c: &mut DbConnection, shop: &Shop) -> QueryResult<String> {
    use crate::db::schema::orders;
    let currency: Option<String> = orders::table
        .filter(orders::shop_id.eq(&shop.id))
        .order(orders::created_at.desc())
        .select(orders::currency)
        .first(c)
        .optional()?;
    Ok(currency.unwrap_or_else(|| "USD".into()))
}

type StoredProduct = (PrimitiveDateTime, Option<PrimitiveDateTime>, bool);

fn stored_version(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
) -> QueryResult<Option<StoredProduct>> {
    let q = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::product_id.eq(product_id))
        .select((
            products::updated_at,
            products::version_triggered_at,
            products::deleted,
        ));
    dialect::first_locked(c, q, |q| q.for_update()).optional()
}

/// The product a variant belongs to, if the variant is synced.
pub fn product_of_variant(
    c: &mut DbConnection,
    shop_id: &str,
    variant_id: i64,
) -> QueryResult<Option<i64>> {
    product_variants::table
        .filter(product_variants::shop_id.eq(shop_id))
        .filter(product_variants::variant_id.eq(variant_id))
        .select(product_variants::product_id)
        .first(c)
        .optional()
}

/// `products/create` and `products/update`.
pub fn apply_update(
    c: &mut DbConnection,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<Outcome, SyncError> {
    let p: ProductPayload =
        serde_json::from_slice(body).map_err(|e| SyncError::malformed(topic, e))?;
    let updated_at = p
        .updated_at
        .as_deref()
        .and_then(parse_time)
        .or(triggered)
        .ok_or_else(|| SyncError::malformed(topic, "no updated_at"))?;
    if let Some((u, t, deleted)) = stored_version(c, &shop.id, p.id)? {
        if deleted {
            return Ok(Outcome::Ignored("product was deleted".into()));
        }
        if is_stale(&(updated_at, triggered), &(u, t)) {
            return Ok(Outcome::Stale);
        }
    }
    let currency = shop_currency(c, shop)?;
    let mut variants = Vec::with_capacity(p.variants.len());
    for (i, v) in p.variants.iter().enumerate() {
        variants.push(Variant {
            shop_id: shop.id.clone(),
            variant_id: v.id,
            product_id: p.id,
            position: v.position.unwrap_or(i as i64 + 1) as i32,
            title: v.title.clone(),
            sku: v.sku.clone().filter(|s| !s.is_empty()),
            price_cents: parse_minor_json(&v.price, &currency)
                .map_err(|e| SyncError::malformed(topic, e))?,
            available: variant_available(v),
            inventory_quantity: v.inventory_quantity,
            option1: v.option1.clone(),
            option2: v.option2.clone(),
            option3: v.option3.clone(),
        });
    }
    let product = Product {
        shop_id: shop.id.clone(),
        product_id: p.id,
        title: p.title.clone(),
        handle: p.handle.clone(),
        product_type: p.product_type.clone(),
        vendor: p.vendor.clone(),
        tags: serde_json::to_string(&tag_list(&p.tags)).unwrap_or_else(|_| "[]".into()),
        status: p.status.clone().unwrap_or_else(|| "active".into()),
        published: p.published_at.is_some(),
        available: variants.iter().any(|v| v.available),
        price_min_cents: variants.iter().map(|v| v.price_cents).min(),
        price_max_cents: variants.iter().map(|v| v.price_cents).max(),
        image_url: p.image.as_ref().and_then(|i| i.src.clone()),
        deleted: false,
        updated_at,
        version_triggered_at: triggered,
        synced_at: now(),
    };
    per_backend!(c, |c| diesel::insert_into(products::table)
        .values(&product)
        .on_conflict((products::shop_id, products::product_id))
        .do_update()
        .set(&product)
        .execute(c))?;
    replace_variants(c, &shop.id, p.id, &variants)?;
    Ok(Outcome::Applied)
}

fn replace_variants(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
    variants: &[Variant],
) -> QueryResult<()> {
    diesel::delete(
        product_variants::table
            .filter(product_variants::shop_id.eq(shop_id))
            .filter(product_variants::product_id.eq(product_id)),
    )
    .execute(c)?;
    // A variant id moved from another product (rare, but ids are the key) is taken over.
    let ids: Vec<i64> = variants.iter().map(|v| v.variant_id).collect();
    diesel::delete(
        product_variants::table
            .filter(product_variants::shop_id.eq(shop_id))
            .filter(product_variants::variant_id.eq_any(&ids)),
    )
    .execute(c)?;
    for chunk in variants.chunks(100) {
        per_backend!(c, |c| diesel::insert_into(product_variants::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// `products/delete`: a tombstone, so a late `products/update` cannot bring the product back.
pub fn apply_delete(c: &mut DbConnection, shop: &Shop, body: &[u8]) -> Result<Outcome, SyncError> {
    let p: DeletedPayload =
        serde_json::from_slice(body).map_err(|e| SyncError::malformed("products/delete", e))?;
    let at = now();
    let existing = stored_version(c, &shop.id, p.id)?;
    if existing.is_some() {
        diesel::update(
            products::table
                .filter(products::shop_id.eq(&shop.id))
                .filter(products::product_id.eq(p.id)),
        )
        .set((
            products::deleted.eq(true),
            products::available.eq(false),
            products::synced_at.eq(at),
        ))
        .execute(c)?;
    } else {
        diesel::insert_into(products::table)
            .values(&Product {
                shop_id: shop.id.clone(),
                product_id: p.id,
                title: String::new(),
                handle: String::new(),
                product_type: String::new(),
                vendor: String::new(),
                tags: "[]".into(),
                status: "archived".into(),
                published: false,
                available: false,
                price_min_cents: None,
                price_max_cents: None,
                image_url: None,
                deleted: true,
                updated_at: at,
                version_triggered_at: None,
                synced_at: at,
            })
            .execute(c)?;
    }
    replace_variants(c, &shop.id, p.id, &[])?;
    Ok(Outcome::Applied)
}

/// What a storefront widget shows of a product.
#[derive(Debug, Clone, Queryable)]
pub struct Card {
    pub product_id: i64,
    pub title: String,
    pub handle: String,
    pub price_min_cents: Option<i64>,
    pub image_url: Option<String>,
}

/// Cards for these products (one query), by id.
pub fn cards(
    c: &mut DbConnection,
    shop_id: &str,
    ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, Card>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<Card> = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::product_id.eq_any(ids))
        .select((
            products::product_id,
            products::title,
            products::handle,
            products::price_min_cents,
            products::image_url,
        ))
        .load(c)?;
    Ok(rows.into_iter().map(|r| (r.product_id, r)).collect())
}

// ---- Search for the admin's pickers: only what the products webhooks and the backfill
// stored; Atelier never calls the store for this.

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Serialize)]
pub struct ProductHit {
    pub product_id: String,
    pub title: String,
    pub handle: String,
    pub product_type: String,
    pub vendor: String,
    pub status: String,
    pub available: bool,
    pub price_min_cents: Option<i64>,
    pub image_url: Option<String>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    bool,
    Option<i64>,
    Option<String>,
);

/// `LIKE` pattern matching `text` anywhere, with `%`, `_` and the escape character taken
/// literally (a merchant searching "50%" means the characters).
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Products of the shop matching `query` (title or handle, case-insensitive, or the exact id),
/// or exactly `ids`, in id order after `after`; deleted products are never listed.
pub fn search(
    c: &mut DbConnection,
    shop_id: &str,
    query: Option<&str>,
    ids: Option<&[i64]>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ProductHit>> {
    let mut q = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::deleted.eq(false))
        .order(products::product_id)
        .limit(limit)
        .select((
            products::product_id,
            products::title,
            products::handle,
            products::product_type,
            products::vendor,
            products::status,
            products::available,
            products::price_min_cents,
            products::image_url,
        ))
        .into_boxed();
    if let Some(text) = query.map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        let exact_id = text.parse::<i64>().unwrap_or(-1);
        q = q.filter(
            lower(products::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(products::handle).like(pattern).escape('\\'))
                .or(products::product_id.eq(exact_id)),
        );
    }
    if let Some(ids) = ids {
        q = q.filter(products::product_id.eq_any(ids.to_vec()));
    }
    if let Some(after) = after {
        q = q.filter(products::product_id.gt(after));
    }
    let rows: Vec<Row> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, title, handle, product_type, vendor, status, available, price, image)| {
                ProductHit {
                    product_id: id.to_string(),
                    title,
                    handle,
                    product_type,
                    vendor,
                    status,
                    available,
                    price_min_cents: price,
                    image_url: image,
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod search_tests {
    use super::contains_pattern;

    #[test]
    fn wildcards_in_a_search_are_literal() {
        assert_eq!(contains_pattern("Mug"), "%mug%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
