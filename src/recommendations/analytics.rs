//! `GET /api/analytics`: per intent, widget impressions and clicks, and the add-to-carts and
//! orders that followed a click on a recommended product.
//!
//! Attribution: an add-to-cart of product P is credited to the intent of the latest click on P
//! in the same session (or by the same logged-in customer) within 24 hours before it (or to its
//! own `intent` member when the widget sent one). An order is credited when it contains a
//! product the same customer clicked in a widget within 7 days before the order; the revenue is
//! what those lines paid (price × current quantity − discounts). An order itself carries no
//! storefront session; the web pixel's `checkout_completed` event links the session that placed
//! it, so a click in that session counts as well (an anonymous shopper's order is attributed).
//! Both counts are read when the report is made: the link and the order webhook may arrive in
//! either order.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::serve::Intent;
use crate::db::schema::{order_line_items, orders, pixel_order_links, rec_events};
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

/// `(order, customer, created, line, product, current quantity, price, discount)`
type OrderLineRow = (
    i64,
    Option<i64>,
    PrimitiveDateTime,
    i64,
    Option<i64>,
    i32,
    i64,
    i64,
);

/// Per `(order, intent)`: when the order was placed and the revenue its credited lines brought.
pub(super) type OrderCredits = BTreeMap<(i64, &'static str), (PrimitiveDateTime, i64)>;

/// The lines of the shop's orders placed since `since` (not cancelled) that match `filter`.
macro_rules! order_lines {
    ($c:expr, $shop_id:expr, $since:expr, $filter:expr) => {
        orders::table
            .inner_join(
                order_line_items::table.on(order_line_items::shop_id
                    .eq(orders::shop_id)
                    .and(order_line_items::order_id.eq(orders::order_id))),
            )
            .filter(orders::shop_id.eq($shop_id))
            .filter($filter)
            .filter(orders::created_at.ge($since))
            .filter(orders::cancelled.eq(false))
            .select((
                orders::order_id,
                orders::customer_id,
                orders::created_at,
                order_line_items::line_item_id,
                order_line_items::product_id,
                order_line_items::current_quantity,
                order_line_items::price_cents,
                order_line_items::discount_cents,
            ))
            .load::<OrderLineRow>($c)
    };
}

/// The orders widget clicks earned, for the report and for the daily series alike: an order
/// placed since `since` is credited to the intent of the latest click, within the order window
/// before it, on one of its products, by the same customer or in the session the web pixel
/// linked to the order.
pub(super) fn order_credits(
    c: &mut DbConnection,
    shop_id: &str,
    since: PrimitiveDateTime,
    clicks: &[&Ev],
) -> AppResult<OrderCredits> {
    let mut lines: BTreeMap<i64, OrderLineRow> = BTreeMap::new();
    let mut customers: Vec<i64> = clicks.iter().filter_map(|k| k.2).collect();
    customers.sort_unstable();
    customers.dedup();
    for chunk in customers.chunks(500) {
        for row in order_lines!(c, shop_id, since, orders::customer_id.eq_any(chunk))? {
            lines.insert(row.3, row);
        }
    }
    let mut sessions: Vec<&str> = clicks.iter().map(|k| k.1.as_str()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    // order → the pixel session that placed it
    let mut linked: BTreeMap<i64, String> = BTreeMap::new();
    for chunk in sessions.chunks(500) {
        let links: Vec<(i64, String)> = pixel_order_links::table
            .filter(pixel_order_links::shop_id.eq(shop_id))
            .filter(pixel_order_links::session_id.eq_any(chunk))
            .select((pixel_order_links::order_id, pixel_order_links::session_id))
            .load(c)?;
        linked.extend(links);
    }
    let linked_orders: Vec<i64> = linked.keys().copied().collect();
    for chunk in linked_orders.chunks(500) {
        for row in order_lines!(c, shop_id, since, orders::order_id.eq_any(chunk))? {
            lines.insert(row.3, row);
        }
    }
    let mut credited = OrderCredits::new();
    for (order_id, customer, at, _, product, qty, price, discount) in lines.into_values() {
        let Some(product) = product else { continue };
        let session = linked.get(&order_id);
        let from = at - time::Duration::days(ORDER_WINDOW_DAYS);
        let click = clicks.iter().rev().find(|k| {
            k.3 == product
                && k.5 <= at
                && k.5 >= from
                && ((customer.is_some() && k.2 == customer) || session == Some(&k.1))
        });
        if let Some(i) = click.and_then(|k| intent_of(&k.4)) {
            let line = money::sub(money::times(price, i64::from(qty))?, discount)?.max(0);
            let e = credited.entry((order_id, i)).or_insert((at, 0));
            e.1 = money::add(e.1, line)?;
        }
    }
    Ok(credited)
}

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
    for ((_, i), (_, revenue)) in order_credits(c, shop_id, since, &clicks)? {
        let e = by.entry(i).or_default();
        e.orders += 1;
        e.revenue_cents = money::add(e.revenue_cents, revenue)?;
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
