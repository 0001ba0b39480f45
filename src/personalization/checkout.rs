//! What checkout charges for a personalized product, and the state of getting it there: the
//! product's price table (the app-owned metafield the Cart Transform function reads), which
//! products must still be written to the store, and the shop's cart transform.
//!
//! The table is built from the same rules that price the personalize answer
//! (`atelier_pricing`), from the template versions a cart may still carry for the product.
//! Writing it is a durable intent: a template save marks its products due in the same
//! transaction, so a store that fails or throttles never loses the merchant's save; the job
//! writes the current table later (it is idempotent: writing the same value twice is harmless,
//! so two instances doing it at once are too).

use atelier_pricing::table::{self, PriceTable, PricedField, VersionPrices};
use diesel::prelude::*;
use serde::Serialize;
use time::{Duration, PrimitiveDateTime};

use super::template::FieldDef;
use crate::db::schema::{
    cart_transforms as ct, price_table_syncs as pts, template_products, template_versions,
    templates,
};
use crate::db::{DbConnection, now, rfc3339};

/// The handle of the function in `extensions/cart-transform/shopify.extension.toml`.
pub const FUNCTION_HANDLE: &str = "atelier-cart-transform";

/// The add-on of each field as pricing sees it.
pub fn priced_fields(fields: &[FieldDef]) -> Vec<PricedField> {
    fields
        .iter()
        .map(|f| PricedField {
            price_cents: f.price_cents,
            option_prices: if f.kind.has_options() {
                f.options.iter().flatten().map(|o| o.price_cents).collect()
            } else {
                Vec::new()
            },
            always_filled: f.required && f.show_if.is_none(),
        })
        .collect()
}

/// The product's price table: its template's newest versions with the shop's fee variant. A
/// product without a template, or a shop without a fee variant, gets an empty table, which the
/// function reads as "charge nothing" (the line is left as the theme added it).
pub fn table_for(c: &mut DbConnection, shop_id: &str, product_id: i64) -> QueryResult<PriceTable> {
    let fee = super::policy::get(c, shop_id)?.fee_variant();
    let template: Option<String> = template_products::table
        .inner_join(templates::table.on(templates::id.eq(template_products::template_id)))
        .filter(template_products::shop_id.eq(shop_id))
        .filter(template_products::product_id.eq(product_id))
        .filter(templates::deleted.eq(false))
        .select(templates::id)
        .first(c)
        .optional()?;
    let (Some(fee), Some(template)) = (fee, template) else {
        return Ok(PriceTable::new(2, String::new(), Vec::new()));
    };
    let rows: Vec<(i32, String)> = template_versions::table
        .filter(template_versions::shop_id.eq(shop_id))
        .filter(template_versions::template_id.eq(&template))
        .order(template_versions::version.desc())
        .limit(table::MAX_VERSIONS as i64)
        .select((template_versions::version, template_versions::fields))
        .load(c)?;
    let versions: Vec<VersionPrices> = rows
        .into_iter()
        .filter_map(|(v, fields)| {
            let fields: Vec<FieldDef> = serde_json::from_str(&fields).ok()?;
            Some(table::version_prices(
                &template,
                i64::from(v),
                &priced_fields(&fields),
            ))
        })
        .collect();
    Ok(PriceTable::new(
        2,
        format!("gid://shopify/ProductVariant/{fee}"),
        versions,
    ))
}

/// Marks products whose table must be written again (in the caller's transaction).
pub fn mark_due(c: &mut DbConnection, shop_id: &str, product_ids: &[i64]) -> QueryResult<()> {
    let at = now();
    for pid in product_ids {
        let updated = diesel::update(
            pts::table
                .filter(pts::shop_id.eq(shop_id))
                .filter(pts::product_id.eq(pid)),
        )
        .set((
            pts::due.eq(true),
            pts::generation.eq(pts::generation + 1),
            pts::attempts.eq(0),
            pts::next_attempt_at.eq(at),
        ))
        .execute(c)?;
        if updated == 0 {
            crate::per_backend!(c, |c| diesel::insert_into(pts::table)
                .values((
                    pts::shop_id.eq(shop_id),
                    pts::product_id.eq(pid),
                    pts::due.eq(true),
                    pts::generation.eq(1i64),
                    pts::attempts.eq(0),
                    pts::next_attempt_at.eq(at),
                ))
                .on_conflict((pts::shop_id, pts::product_id))
                .do_update()
                .set((
                    pts::due.eq(true),
                    pts::generation.eq(pts::generation + 1),
                    pts::next_attempt_at.eq(at),
                ))
                .execute(c))?;
        }
    }
    Ok(())
}

/// Every product with a template in the shop (a fee variant change rewrites them all).
pub fn assigned_products(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<i64>> {
    template_products::table
        .filter(template_products::shop_id.eq(shop_id))
        .select(template_products::product_id)
        .load(c)
}

/// A product claimed for writing: who, and which marking it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub shop_id: String,
    pub product_id: i64,
    pub generation: i64,
}

/// Claims up to `limit` due products (of one shop when given) for `lease`. A row is claimed by
/// a compare-and-set on its lease, so two instances never write the same product at once.
pub fn claim_due(
    c: &mut DbConnection,
    shop_id: Option<&str>,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Claimed>> {
    let at = now();
    let base = pts::table
        .filter(pts::due.eq(true))
        .filter(pts::next_attempt_at.le(at))
        .filter(pts::lease_until.is_null().or(pts::lease_until.lt(at)))
        .select((
            pts::shop_id,
            pts::product_id,
            pts::generation,
            pts::lease_until,
        ))
        .order(pts::next_attempt_at.asc())
        .limit(limit);
    let candidates: Vec<(String, i64, i64, Option<PrimitiveDateTime>)> = match shop_id {
        Some(shop) => base.filter(pts::shop_id.eq(shop)).load(c)?,
        None => base.load(c)?,
    };
    let mut claimed = Vec::new();
    for (shop, product, generation, lease_was) in candidates {
        let target = pts::table
            .filter(pts::shop_id.eq(&shop))
            .filter(pts::product_id.eq(product));
        let won = match lease_was {
            None => diesel::update(target.filter(pts::lease_until.is_null()))
                .set(pts::lease_until.eq(at + lease))
                .execute(c)?,
            Some(was) => diesel::update(target.filter(pts::lease_until.eq(was)))
                .set(pts::lease_until.eq(at + lease))
                .execute(c)?,
        };
        if won == 1 {
            claimed.push(Claimed {
                shop_id: shop,
                product_id: product,
                generation,
            });
        }
    }
    Ok(claimed)
}

/// The store has the table: the product is done unless a save marked it again meanwhile.
pub fn finish_ok(c: &mut DbConnection, claimed: &Claimed, value: &str) -> QueryResult<()> {
    let target = pts::table
        .filter(pts::shop_id.eq(&claimed.shop_id))
        .filter(pts::product_id.eq(claimed.product_id));
    diesel::update(target)
        .set((
            pts::synced_value.eq(value),
            pts::synced_at.eq(now()),
            pts::last_error.eq(None::<String>),
            pts::lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    diesel::update(target.filter(pts::generation.eq(claimed.generation)))
        .set((pts::due.eq(false), pts::attempts.eq(0)))
        .execute(c)?;
    Ok(())
}

/// The write failed: tried again after `backoff × 2^attempts` (at most a day), the error kept
/// for the merchant's setup checklist.
pub fn finish_err(
    c: &mut DbConnection,
    claimed: &Claimed,
    error: &str,
    backoff: std::time::Duration,
) -> QueryResult<()> {
    let target = pts::table
        .filter(pts::shop_id.eq(&claimed.shop_id))
        .filter(pts::product_id.eq(claimed.product_id));
    let attempts: i32 = target.select(pts::attempts).first(c)?;
    let wait = backoff
        .saturating_mul(1u32 << attempts.clamp(0, 16))
        .min(std::time::Duration::from_secs(86_400));
    diesel::update(target)
        .set((
            pts::attempts.eq(attempts.saturating_add(1)),
            pts::last_error.eq(error.chars().take(300).collect::<String>()),
            pts::next_attempt_at.eq(now() + Duration::milliseconds(wait.as_millis() as i64)),
            pts::lease_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    Ok(())
}

/// Takes every due table of the shop as written (the demo store, which is this database).
pub fn settle_locally(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    let due: Vec<(i64, i64)> = pts::table
        .filter(pts::shop_id.eq(shop_id))
        .filter(pts::due.eq(true))
        .select((pts::product_id, pts::generation))
        .load(c)?;
    for (product_id, generation) in due {
        let value = table_for(c, shop_id, product_id)?.to_json();
        let claimed = Claimed {
            shop_id: shop_id.to_owned(),
            product_id,
            generation,
        };
        finish_ok(c, &claimed, &value)?;
    }
    Ok(())
}

/// The last table the store accepted for a product, if it is the current one and nothing is
/// due: then checkout charges the add-on, and the storefront must not add a fee line too.
pub fn synced_table(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
) -> QueryResult<Option<String>> {
    let row: Option<(bool, Option<String>)> = pts::table
        .filter(pts::shop_id.eq(shop_id))
        .filter(pts::product_id.eq(product_id))
        .select((pts::due, pts::synced_value))
        .first(c)
        .optional()?;
    Ok(row.and_then(|(due, v)| v.filter(|_| !due)))
}

/// Whether checkout charges this product's add-on for carts of this template version: the
/// shop's cart transform is in place and the store has the product's current table, listing
/// the version. Then the storefront adds no fee line (it would charge the add-on twice; the
/// function leaves a line with a fee line alone anyway).
pub fn charged_at_checkout(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
    template_id: &str,
    version: i32,
) -> QueryResult<bool> {
    if !transform_active(c, shop_id)? {
        return Ok(false);
    }
    Ok(synced_table(c, shop_id, product_id)?
        .and_then(|t| PriceTable::parse(&t))
        .is_some_and(|t| {
            t.versions
                .iter()
                .any(|v| v.template == template_id && v.version == i64::from(version))
        }))
}

// ---------------------------------------------------------------- the shop's cart transform

/// Records the outcome of making sure the shop has its cart transform.
pub fn record_transform(
    c: &mut DbConnection,
    shop_id: &str,
    outcome: Result<&str, &str>,
) -> QueryResult<()> {
    let (id, error) = match outcome {
        Ok(id) => (Some(id.to_owned()), None),
        Err(e) => (None, Some(e.chars().take(300).collect::<String>())),
    };
    let at = now();
    let attempts: i32 = ct::table
        .find(shop_id)
        .select(ct::attempts)
        .first(c)
        .optional()?
        .unwrap_or(0);
    let attempts = if id.is_some() { 0 } else { attempts + 1 };
    crate::per_backend!(c, |c| diesel::insert_into(ct::table)
        .values((
            ct::shop_id.eq(shop_id),
            ct::transform_id.eq(&id),
            ct::last_error.eq(&error),
            ct::attempts.eq(attempts),
            ct::updated_at.eq(at),
        ))
        .on_conflict(ct::shop_id)
        .do_update()
        .set((
            ct::transform_id.eq(&id),
            ct::last_error.eq(&error),
            ct::attempts.eq(attempts),
            ct::updated_at.eq(at),
        ))
        .execute(c))?;
    Ok(())
}

/// Forgets the shop's cart transform (Shopify removes an app's functions when it is
/// uninstalled; the next install makes sure of it again).
pub fn forget_transform(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    diesel::delete(ct::table.find(shop_id)).execute(c)?;
    Ok(())
}

/// Whether the store accepted the shop's cart transform.
pub fn transform_active(c: &mut DbConnection, shop_id: &str) -> QueryResult<bool> {
    Ok(ct::table
        .find(shop_id)
        .select(ct::transform_id)
        .first::<Option<String>>(c)
        .optional()?
        .flatten()
        .is_some())
}

/// Installed shops whose cart transform is not (yet) accepted.
pub fn shops_missing_transform(c: &mut DbConnection, limit: i64) -> QueryResult<Vec<String>> {
    use crate::db::schema::shops;
    shops::table
        .left_join(ct::table.on(ct::shop_id.eq(shops::id)))
        .filter(shops::installed.eq(true))
        .filter(shops::access_token_enc.is_not_null())
        .filter(ct::transform_id.is_null())
        .select(shops::id)
        .limit(limit)
        .load(c)
}

/// The merchant's setup checklist for charging the add-on at checkout.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub cart_transform: TransformStatus,
    pub products: ProductCounts,
    /// Products whose table the store has not accepted, with the last error.
    pub failing: Vec<Failing>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransformStatus {
    pub active: bool,
    pub id: Option<String>,
    pub function_handle: &'static str,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProductCounts {
    pub synced: i64,
    pub pending: i64,
    pub failing: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Failing {
    pub product_id: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: String,
}

/// `(product_id, due, attempts, last_error, next_attempt_at)` of one product's write.
type SyncRow = (i64, bool, i32, Option<String>, PrimitiveDateTime);

pub fn status(c: &mut DbConnection, shop_id: &str) -> QueryResult<Status> {
    let transform: Option<(Option<String>, Option<String>, i32, PrimitiveDateTime)> = ct::table
        .find(shop_id)
        .select((
            ct::transform_id,
            ct::last_error,
            ct::attempts,
            ct::updated_at,
        ))
        .first(c)
        .optional()?;
    let rows: Vec<SyncRow> = pts::table
        .filter(pts::shop_id.eq(shop_id))
        .select((
            pts::product_id,
            pts::due,
            pts::attempts,
            pts::last_error,
            pts::next_attempt_at,
        ))
        .order(pts::product_id.asc())
        .load(c)?;
    let failing: Vec<Failing> = rows
        .iter()
        .filter(|r| r.1 && r.2 > 0)
        .take(50)
        .map(|(p, _, attempts, error, next)| Failing {
            product_id: p.to_string(),
            attempts: *attempts,
            last_error: error.clone(),
            next_attempt_at: rfc3339(*next),
        })
        .collect();
    let count = |f: &dyn Fn(&SyncRow) -> bool| rows.iter().filter(|r| f(r)).count() as i64;
    Ok(Status {
        cart_transform: match transform {
            Some((id, error, attempts, at)) => TransformStatus {
                active: id.is_some(),
                id,
                function_handle: FUNCTION_HANDLE,
                last_error: error,
                attempts,
                updated_at: Some(rfc3339(at)),
            },
            None => TransformStatus {
                active: false,
                id: None,
                function_handle: FUNCTION_HANDLE,
                last_error: None,
                attempts: 0,
                updated_at: None,
            },
        },
        products: ProductCounts {
            synced: count(&|r| !r.1),
            pending: count(&|r| r.1 && r.2 == 0),
            failing: count(&|r| r.1 && r.2 > 0),
        },
        failing,
    })
}

/// Every due product is tried again now (the merchant's "retry" after fixing the store).
pub fn retry_now(c: &mut DbConnection, shop_id: &str) -> QueryResult<usize> {
    diesel::update(
        pts::table
            .filter(pts::shop_id.eq(shop_id))
            .filter(pts::due.eq(true)),
    )
    .set(pts::next_attempt_at.eq(now()))
    .execute(c)
}
