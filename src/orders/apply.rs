//! Applying `orders/*` deliveries: the order and its lines are upserted unless a newer version
//! is stored, and personalized lines are verified against their signature, pinned template
//! version and price in the same transaction.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use std::sync::Arc;

use super::*;
use crate::db::schema::{order_line_items, orders, product_variants, uploads};
use crate::db::{DbConnection, dialect, now};
use crate::money::parse_minor_json;
use crate::per_backend;
use crate::personalization::{CompiledTemplate, signature, verify};
use crate::shopify::payload::{OrderPayload, parse_time};
use crate::shops::Shop;
use crate::sync::{Outcome, SyncContext, SyncError, Version, is_stale};

/// What applying an `orders/*` delivery did.
pub enum OrderApplied {
    /// The order as now stored, for what learns from orders (the recommendation model).
    Applied {
        order: Box<Order>,
        lines: Vec<LineItem>,
    },
    /// A newer version was already stored: nothing changed.
    Stale,
}

impl OrderApplied {
    pub fn outcome(&self) -> Outcome {
        match self {
            OrderApplied::Applied { .. } => Outcome::Applied,
            OrderApplied::Stale => Outcome::Stale,
        }
    }
}

/// `orders/*`: upsert the order and its lines unless a newer version is already stored.
pub fn apply_webhook(
    c: &mut DbConnection,
    ctx: &SyncContext,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<OrderApplied, SyncError> {
    let p: OrderPayload =
        serde_json::from_slice(body).map_err(|e| SyncError::malformed(topic, e))?;
    let currency = p
        .currency
        .clone()
        .filter(|c| c.len() == 3)
        .unwrap_or_else(|| "USD".into());
    let created_at = p.created_at.as_deref().and_then(parse_time);
    let updated_at = p
        .updated_at
        .as_deref()
        .and_then(parse_time)
        .or(created_at)
        .or(triggered)
        .ok_or_else(|| SyncError::malformed(topic, "no updated_at"))?;
    let incoming: Version = (updated_at, triggered);

    let stored = orders::table
        .filter(orders::shop_id.eq(&shop.id))
        .filter(orders::order_id.eq(p.id))
        .select((orders::updated_at, orders::version_triggered_at));
    let stored: Option<Version> =
        dialect::first_locked(c, stored, |q| q.for_update()).optional()?;
    if stored.is_some_and(|s| is_stale(&incoming, &s)) {
        return Ok(OrderApplied::Stale);
    }

    // A customer erased by customers/redact is not linked again, and their texts are not kept.
    let customer_id = p.customer.as_ref().and_then(|c| c.id);
    let redacted = match customer_id {
        Some(id) => crate::customers::is_redacted(c, ctx, &shop.domain, id)?,
        None => false,
    };
    let total =
        parse_minor_json(&p.total_price, &currency).map_err(|e| SyncError::malformed(topic, e))?;
    let order = Order {
        shop_id: shop.id.clone(),
        order_id: p.id,
        name: p.name.clone().unwrap_or_else(|| format!("#{}", p.id)),
        customer_id: if redacted { None } else { customer_id },
        financial_status: p.financial_status.clone(),
        fulfillment_status: p.fulfillment_status.clone(),
        cancelled: p.cancelled_at.is_some(),
        cancelled_at: p.cancelled_at.as_deref().and_then(parse_time),
        currency: currency.clone(),
        total_price_cents: total,
        source_name: p.source_name.clone(),
        test: p.test,
        created_at: created_at.unwrap_or(updated_at),
        updated_at,
        version_triggered_at: triggered,
        synced_at: now(),
        personalized: false,
    };

    let mut refunded: std::collections::HashMap<i64, i64> = Default::default();
    let out_of_range = |e: crate::money::Overflow| SyncError::malformed(topic, e);
    for r in p.refunds.iter().flat_map(|r| &r.refund_line_items) {
        let q = refunded.entry(r.line_item_id).or_default();
        *q = crate::money::add(*q, r.quantity).map_err(out_of_range)?;
    }
    let mut lines = Vec::with_capacity(p.line_items.len());
    for (position, li) in p.line_items.iter().enumerate() {
        let price =
            parse_minor_json(&li.price, &currency).map_err(|e| SyncError::malformed(topic, e))?;
        let properties: Vec<PropertyOut> = if redacted {
            Vec::new()
        } else {
            li.properties
                .iter()
                .map(|p| PropertyOut {
                    name: p.name.clone(),
                    value: p.value.clone(),
                })
                .collect()
        };
        let mut discount = 0i64;
        for d in &li.discount_allocations {
            let amount = parse_minor_json(&d.amount, &currency)
                .map_err(|e| SyncError::malformed(topic, e))?;
            discount = crate::money::add(discount, amount).map_err(out_of_range)?;
        }
        let clamp = |v: i64| v.clamp(0, i32::MAX as i64) as i32;
        lines.push(LineItem {
            shop_id: shop.id.clone(),
            line_item_id: li.id,
            order_id: p.id,
            position: position as i32,
            product_id: li.product_id,
            variant_id: li.variant_id,
            title: li.title.clone(),
            variant_title: li.variant_title.clone(),
            sku: li.sku.clone(),
            quantity: clamp(li.quantity),
            current_quantity: clamp(li.current_quantity.unwrap_or(li.quantity)),
            refunded_quantity: clamp(refunded.get(&li.id).copied().unwrap_or(0)),
            price_cents: price,
            gift_card: li.gift_card,
            properties: serde_json::to_string(&properties).unwrap_or_else(|_| "[]".into()),
            discount_cents: discount,
            personalization_verified: None,
            verdict: None,
            template_id: None,
            template_version: None,
            expected_cents: None,
            charged_cents: None,
            status: None,
            status_changed_at: None,
        });
    }
    let uploads = verify_lines(c, ctx, shop, &mut lines)?;
    let order = Order {
        personalized: lines.iter().any(|l| l.personalization_verified.is_some()),
        ..order
    };
    per_backend!(c, |c| diesel::insert_into(orders::table)
        .values(&order)
        .on_conflict((orders::shop_id, orders::order_id))
        .do_update()
        .set(&order)
        .execute(c))?;
    upsert_lines(c, &lines)?;
    if !uploads.is_empty() {
        // Referenced by an order: kept past the retention period of unused uploads.
        diesel::update(
            uploads::table
                .filter(uploads::shop_id.eq(&shop.id))
                .filter(uploads::id.eq_any(&uploads))
                .filter(uploads::order_id.is_null()),
        )
        .set((uploads::order_id.eq(p.id), uploads::referenced_at.eq(now())))
        .execute(c)?;
    }
    if stored.is_some() {
        // Lines removed by an order edit.
        let keep: Vec<i64> = lines.iter().map(|l| l.line_item_id).collect();
        diesel::delete(
            order_line_items::table
                .filter(order_line_items::shop_id.eq(&shop.id))
                .filter(order_line_items::order_id.eq(p.id))
                .filter(order_line_items::line_item_id.ne_all(&keep)),
        )
        .execute(c)?;
    }
    Ok(OrderApplied::Applied {
        order: Box::new(order),
        lines,
    })
}

diesel::define_sql_function!(
    fn coalesce(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
        y: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>
);

/// Verifies the personalized lines (signature, pinned version, price) and returns the upload
/// ids their image fields reference.
fn verify_lines(
    c: &mut DbConnection,
    ctx: &SyncContext,
    shop: &Shop,
    lines: &mut [LineItem],
) -> Result<Vec<String>, SyncError> {
    let props: Vec<Vec<(String, String)>> = lines
        .iter()
        .map(|l| {
            parse_properties(&l.properties)
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect()
        })
        .collect();
    if !props
        .iter()
        .flatten()
        .any(|(n, _)| n == signature::PROPERTY)
    {
        return Ok(Vec::new());
    }
    let inputs: Vec<verify::OrderLine> = lines
        .iter()
        .zip(&props)
        .map(|(l, p)| verify::OrderLine {
            product_id: l.product_id,
            quantity: l.quantity as i64,
            price_cents: l.price_cents,
            discount_cents: l.discount_cents,
            properties: p,
        })
        .collect();
    let variants: Vec<Option<i64>> = lines.iter().map(|l| l.variant_id).collect();
    let mut lookup = DbLookup {
        c,
        shop_id: &shop.id,
        error: None,
        seen: Default::default(),
    };
    let results = verify::verify_order(
        &ctx.personalization_keys,
        &shop.domain,
        &ctx.upload_base,
        &inputs,
        &variants,
        &mut lookup,
    );
    if let Some(e) = lookup.error {
        return Err(e.into());
    }
    let results = results.map_err(|e| SyncError::malformed("order", e))?;
    let mut uploads = Vec::new();
    for ((line, v), p) in lines.iter_mut().zip(results).zip(&props) {
        if v.verified == Some(true) {
            uploads.extend(
                verify::upload_ids(p, &ctx.upload_base)
                    .into_iter()
                    .map(str::to_owned),
            );
        }
        line.status = v.verified.map(|_| STATUS_PENDING.to_owned());
        line.personalization_verified = v.verified;
        line.verdict = v.verdict.map(str::to_owned);
        line.template_id = v.template_id;
        line.template_version = v.template_version;
        line.expected_cents = v.expected_cents;
        line.charged_cents = v.charged_cents;
    }
    Ok(uploads)
}

/// Template versions and catalog prices for the verifier, read in the webhook's transaction.
struct DbLookup<'a> {
    c: &'a mut DbConnection,
    shop_id: &'a str,
    error: Option<diesel::result::Error>,
    /// Versions already read for this order (lines often share one).
    seen: std::collections::HashMap<(String, i32), Option<Arc<CompiledTemplate>>>,
}

impl verify::Lookup for DbLookup<'_> {
    fn template(&mut self, template_id: &str, version: i32) -> Option<Arc<CompiledTemplate>> {
        let key = (template_id.to_owned(), version);
        if let Some(found) = self.seen.get(&key) {
            return found.clone();
        }
        let found = match crate::personalization::store::version(
            self.c,
            self.shop_id,
            template_id,
            version,
        ) {
            Ok(found) => found.and_then(|fields| CompiledTemplate::new(fields).ok().map(Arc::new)),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        };
        self.seen.insert(key, found.clone());
        found
    }

    fn catalog_price(&mut self, variant_id: i64) -> Option<i64> {
        product_variants::table
            .filter(product_variants::shop_id.eq(self.shop_id))
            .filter(product_variants::variant_id.eq(variant_id))
            .select(product_variants::price_cents)
            .first(self.c)
            .optional()
            .unwrap_or_else(|e| {
                self.error.get_or_insert(e);
                None
            })
    }
}

/// One statement for all lines. Only the columns synced from the store are overwritten; what
/// Atelier adds to a line (production state, verification) stays.
fn upsert_lines(c: &mut DbConnection, lines: &[LineItem]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    use order_line_items::dsl as l;
    dialect::insert_batched!(c, lines, |c, values| {
        diesel::insert_into(order_line_items::table)
            .values(values)
            .on_conflict((l::shop_id, l::line_item_id))
            .do_update()
            .set((
                l::order_id.eq(excluded(l::order_id)),
                l::position.eq(excluded(l::position)),
                l::product_id.eq(excluded(l::product_id)),
                l::variant_id.eq(excluded(l::variant_id)),
                l::title.eq(excluded(l::title)),
                l::variant_title.eq(excluded(l::variant_title)),
                l::sku.eq(excluded(l::sku)),
                l::quantity.eq(excluded(l::quantity)),
                l::current_quantity.eq(excluded(l::current_quantity)),
                l::refunded_quantity.eq(excluded(l::refunded_quantity)),
                l::price_cents.eq(excluded(l::price_cents)),
                l::gift_card.eq(excluded(l::gift_card)),
                l::properties.eq(excluded(l::properties)),
                l::discount_cents.eq(excluded(l::discount_cents)),
                l::personalization_verified.eq(excluded(l::personalization_verified)),
                l::verdict.eq(excluded(l::verdict)),
                l::template_id.eq(excluded(l::template_id)),
                l::template_version.eq(excluded(l::template_version)),
                l::expected_cents.eq(excluded(l::expected_cents)),
                l::charged_cents.eq(excluded(l::charged_cents)),
                // Production state belongs to the merchant: a later copy of the order
                // only starts it for a line that has none yet.
                l::status.eq(coalesce(l::status, excluded(l::status))),
            ))
            .execute(c)
    })?;
    Ok(())
}
