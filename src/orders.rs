//! Orders and their line items, as synced from the store, and their JSON shape (CONTRACT §5).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::{order_line_items, orders};
use crate::db::{DbConnection, now, rfc3339};
use crate::money::parse_minor_json;
use crate::per_backend;
use crate::shops::Shop;
use crate::sync::payload::{OrderPayload, parse_time};
use crate::sync::{Outcome, SyncContext, SyncError, Version, is_stale};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct Order {
    pub shop_id: String,
    pub order_id: i64,
    pub name: String,
    pub customer_id: Option<i64>,
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub cancelled: bool,
    pub cancelled_at: Option<PrimitiveDateTime>,
    pub currency: String,
    pub total_price_cents: i64,
    pub source_name: Option<String>,
    pub test: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub version_triggered_at: Option<PrimitiveDateTime>,
    pub synced_at: PrimitiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = order_line_items, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct LineItem {
    pub shop_id: String,
    pub line_item_id: i64,
    pub order_id: i64,
    pub position: i32,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    pub title: String,
    pub variant_title: Option<String>,
    pub sku: Option<String>,
    pub quantity: i32,
    pub current_quantity: i32,
    pub refunded_quantity: i32,
    pub price_cents: i64,
    pub gift_card: bool,
    pub properties: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PropertyOut {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct LineOut {
    pub line_item_id: String,
    pub product_id: Option<String>,
    pub variant_id: Option<String>,
    pub title: String,
    pub quantity: i32,
    pub price_cents: i64,
    pub properties: Vec<PropertyOut>,
    pub personalization_verified: Option<bool>,
    pub template_version: Option<i64>,
    pub expected_cents: Option<i64>,
    pub charged_cents: Option<i64>,
    pub status: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct OrderOut {
    pub order_id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    pub cancelled: bool,
    pub financial_status: Option<String>,
    pub customer_id: Option<String>,
    pub currency: String,
    pub total_price_cents: i64,
    pub line_items: Vec<LineOut>,
}

pub fn parse_properties(json: &str) -> Vec<PropertyOut> {
    serde_json::from_str(json).unwrap_or_default()
}

impl OrderOut {
    pub fn new(order: Order, lines: Vec<LineItem>) -> Self {
        OrderOut {
            order_id: order.order_id.to_string(),
            name: order.name,
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            cancelled: order.cancelled,
            financial_status: order.financial_status,
            customer_id: order.customer_id.map(|id| id.to_string()),
            currency: order.currency,
            total_price_cents: order.total_price_cents,
            line_items: lines
                .into_iter()
                .map(|l| LineOut {
                    line_item_id: l.line_item_id.to_string(),
                    product_id: l.product_id.map(|id| id.to_string()),
                    variant_id: l.variant_id.map(|id| id.to_string()),
                    title: l.title,
                    quantity: l.quantity,
                    price_cents: l.price_cents,
                    properties: parse_properties(&l.properties),
                    personalization_verified: None,
                    template_version: None,
                    expected_cents: None,
                    charged_cents: None,
                    status: None,
                })
                .collect(),
        }
    }
}

/// Orders with their lines, for a set of order ids of one shop.
pub fn load_many(
    c: &mut DbConnection,
    shop_id: &str,
    list: Vec<Order>,
) -> QueryResult<Vec<OrderOut>> {
    let ids: Vec<i64> = list.iter().map(|o| o.order_id).collect();
    let mut lines: Vec<LineItem> = order_line_items::table
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::order_id.eq_any(&ids))
        .order((order_line_items::order_id, order_line_items::position))
        .select(LineItem::as_select())
        .load(c)?;
    Ok(list
        .into_iter()
        .map(|o| {
            let mine: Vec<LineItem> = lines.extract_if(.., |l| l.order_id == o.order_id).collect();
            OrderOut::new(o, mine)
        })
        .collect())
}

pub fn for_customer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Vec<OrderOut>> {
    let list = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer_id))
        .order(orders::created_at)
        .select(Order::as_select())
        .load(c)?;
    load_many(c, shop_id, list)
}

/// `orders/*`: upsert the order and its lines unless a newer version is already stored.
pub fn apply_webhook(
    c: &mut DbConnection,
    ctx: &SyncContext,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<Outcome, SyncError> {
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
    let stored: Option<Version> = match c {
        DbConnection::Postgres(pg) => stored.for_update().first(pg).optional()?,
        DbConnection::Sqlite(_) => stored.first(c).optional()?,
    };
    if stored.is_some_and(|s| is_stale(&incoming, &s)) {
        return Ok(Outcome::Stale);
    }

    // A customer erased by customers/redact is not linked again, and their texts are not kept.
    let customer_id = p.customer.as_ref().and_then(|c| c.id);
    let redacted = match customer_id {
        Some(id) => crate::compliance::is_redacted(c, ctx, &shop.domain, id)?,
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
    };
    per_backend!(c, |c| diesel::insert_into(orders::table)
        .values(&order)
        .on_conflict((orders::shop_id, orders::order_id))
        .do_update()
        .set(&order)
        .execute(c))?;

    let mut refunded: std::collections::HashMap<i64, i64> = Default::default();
    for r in p.refunds.iter().flat_map(|r| &r.refund_line_items) {
        *refunded.entry(r.line_item_id).or_default() += r.quantity;
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
        });
    }
    upsert_lines(c, &lines)?;
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
    Ok(Outcome::Applied)
}

/// One statement for all lines. Only the columns synced from the store are overwritten; what
/// Atelier adds to a line (production state, verification) stays.
fn upsert_lines(c: &mut DbConnection, lines: &[LineItem]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    use order_line_items::dsl as l;
    if lines.is_empty() {
        return Ok(());
    }
    macro_rules! upsert {
        ($conn:expr, $values:expr) => {
            diesel::insert_into(order_line_items::table)
                .values($values)
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
                ))
                .execute($conn)
        };
    }
    match c {
        DbConnection::Postgres(pg) => {
            upsert!(pg, lines)?;
        }
        // diesel has no multi-row upsert for SQLite; in-process statements are cheap.
        DbConnection::Sqlite(lite) => {
            for line in lines {
                upsert!(lite, line)?;
            }
        }
    }
    Ok(())
}

/// customers/redact: the orders stay (they are the merchant's), the link to the customer and
/// the texts they typed go.
pub fn redact_customer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    order_ids: &[i64],
) -> QueryResult<()> {
    let mut ids: Vec<i64> = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer_id))
        .select(orders::order_id)
        .load(c)?;
    ids.extend_from_slice(order_ids);
    diesel::update(
        orders::table
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::order_id.eq_any(&ids)),
    )
    .set(orders::customer_id.eq(None::<i64>))
    .execute(c)?;
    diesel::update(
        order_line_items::table
            .filter(order_line_items::shop_id.eq(shop_id))
            .filter(order_line_items::order_id.eq_any(&ids)),
    )
    .set(order_line_items::properties.eq("[]"))
    .execute(c)?;
    Ok(())
}
