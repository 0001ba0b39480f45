//! `GET /api/analytics`: per intent, widget impressions and clicks, and the add-to-carts and
//! orders that followed a click on a recommended product.
//!
//! Attribution: an add-to-cart of product P is credited to the intent of the latest click on P
//! in the same session (or by the same logged-in customer) within 24 hours before it (or to its
//! own `intent` member when the widget sent one). An order is credited when it contains a
//! product the same customer clicked in a widget within 7 days before the order; the revenue is
//! what those lines paid (price × current quantity − discounts). Orders carry no storefront
//! session, so only logged-in shoppers' orders can be attributed.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::serve::Intent;
use crate::db::schema::{order_line_items, orders, rec_events};
use crate::db::{DbConnection, now};
use crate::error::AppResult;
use crate::money;

pub const ADD_TO_CART_WINDOW_HOURS: i64 = 24;
pub const ORDER_WINDOW_DAYS: i64 = 7;

#[derive(Default)]
struct Counts {
    impressions: i64,
    clicks: i64,
    add_to_carts: i64,
    orders: i64,
    revenue_cents: i64,
}

/// `(order, customer, created, product, current quantity, price, discount)`
type OrderLineRow = (
    i64,
    Option<i64>,
    PrimitiveDateTime,
    Option<i64>,
    i32,
    i64,
    i64,
);

/// `(type, session, customer, product, intent, time)` of one storefront event.
pub(super) type Ev = (
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
    PrimitiveDateTime,
);

/// The intent of a widget's event (`None`: not from a widget, or an intent no longer known).
pub(super) fn intent_of(s: &Option<String>) -> Option<&'static str> {
    s.as_deref().and_then(Intent::parse).map(Intent::as_str)
}

/// The widget an add-to-cart without its own intent is credited to: the latest click on the
/// same product, by the same session or customer, within the add-to-cart window before it.
pub(super) fn credited_click(e: &Ev, clicks: &[&Ev]) -> Option<&'static str> {
    let from = e.5 - time::Duration::hours(ADD_TO_CART_WINDOW_HOURS);
    clicks
        .iter()
        .rev()
        .find(|k| {
            k.3 == e.3 && k.5 <= e.5 && k.5 >= from && (k.1 == e.1 || (k.2.is_some() && k.2 == e.2))
        })
        .and_then(|k| intent_of(&k.4))
}

pub fn report(c: &mut DbConnection, shop_id: &str, days: i64) -> AppResult<Value> {
    let since = now() - time::Duration::days(days);
    let events: Vec<Ev> = rec_events::table
        .filter(rec_events::shop_id.eq(shop_id))
        .filter(rec_events::created_at.ge(since - time::Duration::days(ORDER_WINDOW_DAYS)))
        .filter(
            rec_events::intent
                .is_not_null()
                .or(rec_events::kind.eq("add_to_cart")),
        )
        .order(rec_events::created_at)
        .select((
            rec_events::kind,
            rec_events::session_id,
            rec_events::customer_id,
            rec_events::product_id,
            rec_events::intent,
            rec_events::created_at,
        ))
        .load(c)?;
    let mut by: BTreeMap<&'static str, Counts> = Intent::ALL
        .iter()
        .map(|i| (i.as_str(), Counts::default()))
        .collect();
    let clicks: Vec<&Ev> = events
        .iter()
        .filter(|e| e.0 == "click" && intent_of(&e.4).is_some())
        .collect();
    for e in events.iter().filter(|e| e.5 >= since) {
        match (e.0.as_str(), intent_of(&e.4)) {
            ("view", Some(i)) => by.entry(i).or_default().impressions += 1,
            ("click", Some(i)) => by.entry(i).or_default().clicks += 1,
            ("add_to_cart", own) => {
                let credited = own.or_else(|| credited_click(e, &clicks));
                if let Some(i) = credited {
                    by.entry(i).or_default().add_to_carts += 1;
                }
            }
            _ => {}
        }
    }
    let mut customers: Vec<i64> = clicks.iter().filter_map(|k| k.2).collect();
    customers.sort_unstable();
    customers.dedup();
    for chunk in customers.chunks(500) {
        let rows: Vec<OrderLineRow> = orders::table
            .inner_join(
                order_line_items::table.on(order_line_items::shop_id
                    .eq(orders::shop_id)
                    .and(order_line_items::order_id.eq(orders::order_id))),
            )
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::customer_id.eq_any(chunk))
            .filter(orders::created_at.ge(since))
            .filter(orders::cancelled.eq(false))
            .select((
                orders::order_id,
                orders::customer_id,
                orders::created_at,
                order_line_items::product_id,
                order_line_items::current_quantity,
                order_line_items::price_cents,
                order_line_items::discount_cents,
            ))
            .load(c)?;
        let mut credited: BTreeMap<(i64, &'static str), i64> = BTreeMap::new();
        for (order_id, customer, at, product, qty, price, discount) in rows {
            let (Some(customer), Some(product)) = (customer, product) else {
                continue;
            };
            let from = at - time::Duration::days(ORDER_WINDOW_DAYS);
            let click = clicks
                .iter()
                .rev()
                .find(|k| k.2 == Some(customer) && k.3 == product && k.5 <= at && k.5 >= from);
            if let Some(i) = click.and_then(|k| intent_of(&k.4)) {
                let line = money::sub(money::times(price, i64::from(qty))?, discount)?.max(0);
                let e = credited.entry((order_id, i)).or_default();
                *e = money::add(*e, line)?;
            }
        }
        for ((_, i), revenue) in credited {
            let e = by.entry(i).or_default();
            e.orders += 1;
            e.revenue_cents = money::add(e.revenue_cents, revenue)?;
        }
    }
    let intents: serde_json::Map<String, Value> = by
        .into_iter()
        .map(|(i, c)| {
            (
                i.to_owned(),
                json!({
                    "impressions": c.impressions,
                    "clicks": c.clicks,
                    "add_to_carts": c.add_to_carts,
                    "attributed_orders": c.orders,
                    "attributed_revenue_cents": c.revenue_cents,
                }),
            )
        })
        .collect();
    Ok(json!({
        "window_days": days,
        "attribution": {
            "add_to_cart_window_hours": ADD_TO_CART_WINDOW_HOURS,
            "order_window_days": ORDER_WINDOW_DAYS,
        },
        "intents": intents,
    }))
}
