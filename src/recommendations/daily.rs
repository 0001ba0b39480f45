//! Recommendation analytics per UTC day, for the admin's charts and funnel. The attribution
//! rules are exactly those of `GET /api/analytics` (see `analytics`): an
//! add-to-cart is credited to the latest click on the same product in the same session (or by
//! the same customer) within 24 hours, an order to a click by the same customer on one of its
//! products within 7 days. Each signal is counted on the day it happened.

use std::collections::{BTreeMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime, Time};

use super::analytics::{Ev, ORDER_WINDOW_DAYS, credited_click, intent_of};
use super::serve::Intent;
use crate::db::schema::{order_line_items, orders, rec_events};
use crate::db::{DbConnection, now};

pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Default, Clone, Serialize)]
pub struct DayCounts {
    pub impressions: i64,
    pub clicks: i64,
    pub add_to_carts: i64,
    pub attributed_orders: i64,
    pub attributed_revenue_cents: i64,
}

#[derive(Debug, Serialize)]
pub struct Day {
    pub date: String,
    pub intents: BTreeMap<&'static str, DayCounts>,
}

#[derive(Debug, Serialize)]
pub struct Series {
    pub days: i64,
    pub from: String,
    pub to: String,
    pub series: Vec<Day>,
    pub totals: BTreeMap<&'static str, DayCounts>,
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

fn empty() -> BTreeMap<&'static str, DayCounts> {
    Intent::ALL
        .iter()
        .map(|i| (i.as_str(), DayCounts::default()))
        .collect()
}

/// The last `days` UTC calendar days, today included.
pub fn daily(c: &mut DbConnection, shop_id: &str, days: i64) -> QueryResult<Series> {
    let today = now().date();
    let first: Date = today - time::Duration::days(days - 1);
    let since = PrimitiveDateTime::new(first, Time::MIDNIGHT);
    let index = |d: Date| ((d - first).whole_days()) as usize;
    let mut buckets: Vec<BTreeMap<&'static str, DayCounts>> = (0..days).map(|_| empty()).collect();

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
    let clicks: Vec<&Ev> = events
        .iter()
        .filter(|e| e.0 == "click" && intent_of(&e.4).is_some())
        .collect();
    for e in events.iter().filter(|e| e.5 >= since) {
        let Some(b) = buckets.get_mut(index(e.5.date())) else {
            continue;
        };
        match (e.0.as_str(), intent_of(&e.4)) {
            ("view", Some(i)) => b.entry(i).or_default().impressions += 1,
            ("click", Some(i)) => b.entry(i).or_default().clicks += 1,
            ("add_to_cart", own) => {
                let credited = own.or_else(|| credited_click(e, &clicks));
                if let Some(i) = credited {
                    b.entry(i).or_default().add_to_carts += 1;
                }
            }
            _ => {}
        }
    }
    let customers: Vec<i64> = clicks
        .iter()
        .filter_map(|k| k.2)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
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
        let mut credited: BTreeMap<(i64, &'static str), (Date, i64)> = BTreeMap::new();
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
                credited.entry((order_id, i)).or_insert((at.date(), 0)).1 +=
                    (price * i64::from(qty) - discount).max(0);
            }
        }
        for ((_, i), (day, revenue)) in credited {
            if let Some(b) = buckets.get_mut(index(day)) {
                let e = b.entry(i).or_default();
                e.attributed_orders += 1;
                e.attributed_revenue_cents += revenue;
            }
        }
    }
    let mut totals = empty();
    for b in &buckets {
        for (i, c) in b {
            let t = totals.entry(i).or_default();
            t.impressions += c.impressions;
            t.clicks += c.clicks;
            t.add_to_carts += c.add_to_carts;
            t.attributed_orders += c.attributed_orders;
            t.attributed_revenue_cents += c.attributed_revenue_cents;
        }
    }
    Ok(Series {
        days,
        from: first.to_string(),
        to: today.to_string(),
        series: buckets
            .into_iter()
            .enumerate()
            .map(|(n, intents)| Day {
                date: (first + time::Duration::days(n as i64)).to_string(),
                intents,
            })
            .collect(),
        totals,
    })
}
