//! Orders and their line items, as synced from the store: applying deliveries (`apply`), the
//! admin's JSON shape and queries, the production state of personalized lines, and the
//! production CSV (`export`) and the production queue with its filters (`queue`).

mod apply;
pub mod export;
pub mod queue;

pub use apply::{OrderApplied, apply_webhook};

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::{order_line_items, orders};
use crate::db::{DbConnection, now, rfc3339};
use crate::personalization::verify;

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
    pub personalized: bool,
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
    pub discount_cents: i64,
    pub personalization_verified: Option<bool>,
    pub verdict: Option<String>,
    pub template_id: Option<String>,
    pub template_version: Option<i32>,
    pub expected_cents: Option<i64>,
    pub charged_cents: Option<i64>,
    pub status: Option<String>,
    pub status_changed_at: Option<PrimitiveDateTime>,
}

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_IN_PRODUCTION: &str = "in_production";
pub const STATUS_DONE: &str = "done";

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
    pub template_version: Option<i32>,
    pub expected_cents: Option<i64>,
    pub charged_cents: Option<i64>,
    pub status: Option<String>,
    /// `ok`, `underpaid`, `overpaid`, `altered` or `forged` (see `personalization::verify`).
    pub verdict: Option<String>,
    /// The merchant must look at this line before producing it.
    pub flagged: bool,
}

impl From<LineItem> for LineOut {
    fn from(l: LineItem) -> Self {
        LineOut {
            line_item_id: l.line_item_id.to_string(),
            product_id: l.product_id.map(|id| id.to_string()),
            variant_id: l.variant_id.map(|id| id.to_string()),
            title: l.title,
            quantity: l.quantity,
            price_cents: l.price_cents,
            properties: parse_properties(&l.properties),
            personalization_verified: l.personalization_verified,
            template_version: l.template_version,
            expected_cents: l.expected_cents,
            charged_cents: l.charged_cents,
            status: l.status,
            flagged: l.verdict.as_deref().is_some_and(verify::flagged),
            verdict: l.verdict,
        }
    }
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
            line_items: lines.into_iter().map(LineOut::from).collect(),
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
    crate::uploads::redact_orders(c, shop_id, &ids)?;
    Ok(())
}

/// `GET /api/orders`: newest first, keyset-paged by `(created_at, order_id)`.
pub fn list(
    c: &mut DbConnection,
    shop_id: &str,
    personalized_only: bool,
    after: Option<(PrimitiveDateTime, i64)>,
    limit: i64,
) -> QueryResult<Vec<(OrderOut, PrimitiveDateTime)>> {
    let mut q = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .order((orders::created_at.desc(), orders::order_id.desc()))
        .select(Order::as_select())
        .limit(limit)
        .into_boxed();
    if personalized_only {
        q = q.filter(orders::personalized.eq(true));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            orders::created_at
                .lt(at)
                .or(orders::created_at.eq(at).and(orders::order_id.lt(id))),
        );
    }
    let list = q.load(c)?;
    let times: Vec<PrimitiveDateTime> = list.iter().map(|o| o.created_at).collect();
    Ok(load_many(c, shop_id, list)?
        .into_iter()
        .zip(times)
        .collect())
}

/// The result of a production status change.
pub enum StatusChange {
    Changed(Box<LineOut>),
    NotFound,
    /// The line carries no personalization, so it has no production state.
    NotPersonalized,
    Illegal {
        from: String,
    },
}

/// The status a line must have to move to `to`: `pending → in_production → done`.
fn predecessor(to: &str) -> Option<&'static str> {
    match to {
        STATUS_IN_PRODUCTION => Some(STATUS_PENDING),
        STATUS_DONE => Some(STATUS_IN_PRODUCTION),
        _ => None,
    }
}

/// Moves a line one step along `pending → in_production → done`. The update is a
/// compare-and-set on the current status, so two concurrent changes cannot both succeed.
pub fn set_status(
    c: &mut DbConnection,
    shop_id: &str,
    order_id: i64,
    line_item_id: i64,
    to: &str,
) -> QueryResult<StatusChange> {
    let line = order_line_items::table
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::order_id.eq(order_id))
        .filter(order_line_items::line_item_id.eq(line_item_id));
    if let Some(from) = predecessor(to) {
        let changed = diesel::update(line.filter(order_line_items::status.eq(from)))
            .set((
                order_line_items::status.eq(to),
                order_line_items::status_changed_at.eq(now()),
            ))
            .execute(c)?;
        if changed == 1 {
            let row = line.select(LineItem::as_select()).first(c)?;
            return Ok(StatusChange::Changed(Box::new(row.into())));
        }
    }
    let current: Option<Option<String>> =
        line.select(order_line_items::status).first(c).optional()?;
    Ok(match current {
        None => StatusChange::NotFound,
        Some(None) => StatusChange::NotPersonalized,
        Some(Some(from)) => StatusChange::Illegal { from },
    })
}

/// One personalized line for the production export.
pub struct ExportLine {
    pub order_name: String,
    pub line: LineItem,
}

/// Every line carrying `_atelier`, oldest order first, read in pages so a big shop does not
/// hold one long statement open.
pub fn personalized_lines(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<ExportLine>> {
    const PAGE: i64 = 1_000;
    let mut out = Vec::new();
    let mut after: Option<(PrimitiveDateTime, i64, i32)> = None;
    loop {
        let mut q = order_line_items::table
            .inner_join(
                orders::table.on(orders::shop_id
                    .eq(order_line_items::shop_id)
                    .and(orders::order_id.eq(order_line_items::order_id))),
            )
            .filter(order_line_items::shop_id.eq(shop_id))
            .filter(order_line_items::personalization_verified.is_not_null())
            .order((
                orders::created_at,
                orders::order_id,
                order_line_items::position,
            ))
            .select((orders::name, orders::created_at, LineItem::as_select()))
            .limit(PAGE)
            .into_boxed();
        if let Some((at, id, pos)) = after {
            q = q.filter(
                orders::created_at.gt(at).or(orders::created_at.eq(at).and(
                    orders::order_id.gt(id).or(orders::order_id
                        .eq(id)
                        .and(order_line_items::position.gt(pos))),
                )),
            );
        }
        let rows: Vec<(String, PrimitiveDateTime, LineItem)> = q.load(c)?;
        let full = rows.len() as i64 == PAGE;
        after = rows.last().map(|(_, at, l)| (*at, l.order_id, l.position));
        out.extend(
            rows.into_iter()
                .map(|(order_name, _, line)| ExportLine { order_name, line }),
        );
        if !full {
            return Ok(out);
        }
    }
}
