//! Recommendation analytics per UTC day, for the admin's charts and funnel. The attribution
//! rules are exactly those of `GET /api/analytics` (see `analytics`): an
//! add-to-cart is credited to the latest click on the same product in the same session (or by
//! the same customer) within 24 hours, an order to a click on one of its products within 7 days
//! by the same customer or in the session the web pixel linked to the order. Each signal is
//! counted on the day it happened.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use time::{Date, PrimitiveDateTime, Time};

use super::analytics::{Ev, ORDER_WINDOW_DAYS, credited_click, intent_of, order_credits};
use super::serve::Intent;
use crate::db::schema::rec_events;
use crate::db::{DbConnection, now};
use crate::error::AppResult;

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

fn empty() -> BTreeMap<&'static str, DayCounts> {
    Intent::ALL
        .iter()
        .map(|i| (i.as_str(), DayCounts::default()))
        .collect()
}

/// The last `days` UTC calendar days, today included.
pub fn daily(c: &mut DbConnection, shop_id: &str, days: i64) -> AppResult<Series> {
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
    for ((_, i), (at, revenue)) in order_credits(c, shop_id, since, &clicks)? {
        if let Some(b) = buckets.get_mut(index(at.date())) {
            let e = b.entry(i).or_default();
            e.attributed_orders += 1;
            e.attributed_revenue_cents += revenue;
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
