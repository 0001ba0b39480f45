//! Orders and their line items, as synced from the store, and their JSON shape (CONTRACT §5).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use std::sync::Arc;

use crate::db::schema::{order_line_items, orders, product_variants, uploads};
use crate::db::{DbConnection, now, rfc3339};
use crate::money::parse_minor_json;
use crate::per_backend;
use crate::personalization::{CompiledTemplate, signature, verify};
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
        personalized: false,
    };

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
        let mut discount = 0i64;
        for d in &li.discount_allocations {
            discount += parse_minor_json(&d.amount, &currency)
                .map_err(|e| SyncError::malformed(topic, e))?;
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
    crate::recommendations::apply_order(c, &order, &lines)?;
    Ok(Outcome::Applied)
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
) -> QueryResult<Vec<String>> {
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
        return Err(e);
    }
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
