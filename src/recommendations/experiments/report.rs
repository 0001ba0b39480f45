//! An experiment's results: per arm, the sessions (units) served it, those that ordered, their
//! revenue, and the difference B − A with its 95 % interval.
//!
//! - **Exposure**: a unit (the logged-in customer, else the storefront session) served the arm
//!   by `GET /proxy/recommendations` while the experiment ran — control units too, recorded
//!   when the widget asked for its list (it then hides). Counting every unit that reached the
//!   slot, not only those who clicked, is what keeps the comparison fair: both arms are counted
//!   the same way, whatever the widget showed them.
//! - **Conversion**: the unit placed an order (not cancelled) after its first exposure and
//!   within the attribution window (7 days) of its latest one: a customer unit by the order's
//!   customer, a session unit by the web pixel's `checkout_completed` link from the session to
//!   the order. An order is credited to one unit only (its customer's first).
//! - **Revenue**: what the order's lines paid (price × current quantity − discounts) in minor
//!   units, summed with checked arithmetic; per-session revenue is that sum per unit (0 for a
//!   unit that did not order), its count, sum and sum of squares feeding Welch's interval.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::stats::{
    self, Interval, MIN_CONVERSIONS, MIN_SESSIONS_PER_ARM, Sample, enough_data, mean_difference,
    proportion_difference,
};
use super::{Arm, Experiment};
use crate::db::DbConnection;
use crate::db::schema::{
    order_line_items, orders, pixel_order_links, rec_events, rec_experiment_exposures as ex,
};
use crate::error::AppResult;
use crate::money;
use crate::recommendations::analytics::ORDER_WINDOW_DAYS;

/// `(unit, arm, customer, session, first, last)`
type ExposureRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    PrimitiveDateTime,
    PrimitiveDateTime,
);

#[derive(Default)]
struct ArmTotals {
    converting: u64,
    orders: u64,
    revenue_cents: i64,
    sample: Sample,
    impressions: i64,
    clicks: i64,
}

/// Every order of these customers, or linked to these sessions, placed since `since` and not
/// cancelled: `order → (customer, created, revenue)`, and `session → orders`.
type Orders = HashMap<i64, (Option<i64>, PrimitiveDateTime, i64)>;

fn load_orders(
    c: &mut DbConnection,
    shop_id: &str,
    since: PrimitiveDateTime,
    customers: &[i64],
    sessions: &[String],
) -> AppResult<(Orders, HashMap<String, Vec<i64>>)> {
    let mut found: BTreeMap<i64, (Option<i64>, PrimitiveDateTime)> = BTreeMap::new();
    for chunk in customers.chunks(500) {
        let rows: Vec<(i64, Option<i64>, PrimitiveDateTime)> = orders::table
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::customer_id.eq_any(chunk))
            .filter(orders::created_at.ge(since))
            .filter(orders::cancelled.eq(false))
            .select((orders::order_id, orders::customer_id, orders::created_at))
            .load(c)?;
        found.extend(rows.into_iter().map(|(o, cu, at)| (o, (cu, at))));
    }
    let mut by_session: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in sessions.chunks(500) {
        let links: Vec<(i64, String)> = pixel_order_links::table
            .filter(pixel_order_links::shop_id.eq(shop_id))
            .filter(pixel_order_links::session_id.eq_any(chunk))
            .select((pixel_order_links::order_id, pixel_order_links::session_id))
            .load(c)?;
        let ids: Vec<i64> = links.iter().map(|l| l.0).collect();
        for ids in ids.chunks(500) {
            let rows: Vec<(i64, Option<i64>, PrimitiveDateTime)> = orders::table
                .filter(orders::shop_id.eq(shop_id))
                .filter(orders::order_id.eq_any(ids))
                .filter(orders::created_at.ge(since))
                .filter(orders::cancelled.eq(false))
                .select((orders::order_id, orders::customer_id, orders::created_at))
                .load(c)?;
            found.extend(rows.into_iter().map(|(o, cu, at)| (o, (cu, at))));
        }
        for (order, session) in links {
            by_session.entry(session).or_default().push(order);
        }
    }
    let ids: Vec<i64> = found.keys().copied().collect();
    let mut revenue: HashMap<i64, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let lines: Vec<(i64, i32, i64, i64)> = order_line_items::table
            .filter(order_line_items::shop_id.eq(shop_id))
            .filter(order_line_items::order_id.eq_any(chunk))
            .select((
                order_line_items::order_id,
                order_line_items::current_quantity,
                order_line_items::price_cents,
                order_line_items::discount_cents,
            ))
            .load(c)?;
        for (order, qty, price, discount) in lines {
            let line = money::sub(money::times(price, i64::from(qty))?, discount)?.max(0);
            let e = revenue.entry(order).or_insert(0);
            *e = money::add(*e, line)?;
        }
    }
    let out = found
        .into_iter()
        .map(|(o, (cu, at))| (o, (cu, at, revenue.get(&o).copied().unwrap_or(0))))
        .collect();
    Ok((out, by_session))
}

fn rounded(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn interval_json(i: Option<Interval>, digits: i32, method: &str, enough: bool) -> Value {
    let v = stats::verdict(i.as_ref(), enough);
    json!({
        "estimate": i.map(|i| rounded(i.estimate, digits)),
        "low": i.map(|i| rounded(i.low, digits)),
        "high": i.map(|i| rounded(i.high, digits)),
        "method": method,
        "verdict": v.as_str(),
    })
}

/// RESULTS of one experiment (a draft has none: `null`).
pub fn results(c: &mut DbConnection, e: &Experiment) -> AppResult<Value> {
    if e.state == "draft" {
        return Ok(Value::Null);
    }
    let mut q = ex::table
        .filter(ex::experiment_id.eq(&e.id))
        .select((
            ex::unit,
            ex::arm,
            ex::customer_id,
            ex::session_id,
            ex::first_at,
            ex::last_at,
        ))
        .into_boxed();
    // A request served by an instance that had not yet seen the stop is not counted.
    if let Some(stopped) = e.stopped_at {
        q = q.filter(ex::first_at.le(stopped));
    }
    let exposures: Vec<ExposureRow> = q.load(c)?;
    let since = exposures
        .iter()
        .map(|x| x.4)
        .min()
        .unwrap_or_else(crate::db::now);
    let mut customers: Vec<i64> = exposures
        .iter()
        .filter(|x| x.0.starts_with("c:"))
        .filter_map(|x| x.2)
        .collect();
    customers.sort_unstable();
    customers.dedup();
    let mut sessions: Vec<String> = exposures
        .iter()
        .filter(|x| x.0.starts_with("s:"))
        .filter_map(|x| x.3.clone())
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    let (orders_found, by_session) = load_orders(c, &e.shop_id, since, &customers, &sessions)?;
    let mut by_customer: HashMap<i64, Vec<i64>> = HashMap::new();
    for (order, (customer, _, _)) in &orders_found {
        if let Some(cu) = customer {
            by_customer.entry(*cu).or_default().push(*order);
        }
    }

    let mut arms: [ArmTotals; 2] = Default::default();
    let mut credited: HashSet<i64> = HashSet::new();
    let window = time::Duration::days(ORDER_WINDOW_DAYS);
    // Customer units first: an order that names its customer is theirs, whatever session
    // placed it.
    let mut ordered: Vec<&ExposureRow> = exposures.iter().collect();
    ordered.sort_by_key(|x| (!x.0.starts_with("c:"), x.4));
    for x in ordered {
        let Some(arm) = Arm::parse(&x.1) else {
            continue;
        };
        let candidates: &[i64] = if x.0.starts_with("c:") {
            x.2.and_then(|cu| by_customer.get(&cu))
                .map_or(&[], Vec::as_slice)
        } else {
            x.3.as_ref()
                .and_then(|s| by_session.get(s))
                .map_or(&[], Vec::as_slice)
        };
        let mut unit_revenue = 0i64;
        let mut unit_orders = 0u64;
        for order in candidates {
            let Some((_, at, revenue)) = orders_found.get(order) else {
                continue;
            };
            if *at < x.4 || *at > x.5 + window || credited.contains(order) {
                continue;
            }
            credited.insert(*order);
            unit_orders += 1;
            unit_revenue = money::add(unit_revenue, *revenue)?;
        }
        let t = &mut arms[arm as usize];
        if unit_orders > 0 {
            t.converting += 1;
        }
        t.orders += unit_orders;
        t.revenue_cents = money::add(t.revenue_cents, unit_revenue)?;
        t.sample.push(unit_revenue);
    }
    let events: Vec<(Option<String>, String, i64)> = rec_events::table
        .filter(rec_events::experiment_id.eq(&e.id))
        .filter(rec_events::shop_id.eq(&e.shop_id))
        .group_by((rec_events::experiment_arm, rec_events::kind))
        .select((
            rec_events::experiment_arm,
            rec_events::kind,
            diesel::dsl::count_star(),
        ))
        .load(c)?;
    for (arm, kind, n) in events {
        let Some(arm) = arm.as_deref().and_then(Arm::parse) else {
            continue;
        };
        match kind.as_str() {
            "view" => arms[arm as usize].impressions += n,
            "click" => arms[arm as usize].clicks += n,
            _ => {}
        }
    }

    let [a, b] = &arms;
    let enough = enough_data(a.sample.n, b.sample.n, a.converting + b.converting);
    let conversion = proportion_difference(a.converting, a.sample.n, b.converting, b.sample.n);
    let revenue = mean_difference(&a.sample, &b.sample);
    let arm_json = |arm: Arm, t: &ArmTotals| {
        json!({
            "arm": arm.as_str(),
            "strategy": e.strategy(arm).as_str(),
            "share": e.share(arm),
            "exposed_sessions": t.sample.n,
            "converting_sessions": t.converting,
            "conversion_rate": (t.sample.n > 0).then(|| rounded(t.converting as f64 / t.sample.n as f64, 6)),
            "orders": t.orders,
            "revenue_cents": t.revenue_cents,
            "revenue_per_session_cents": t.sample.mean().map(|m| rounded(m, 2)),
            "impressions": t.impressions,
            "clicks": t.clicks,
        })
    };
    let conversion = interval_json(conversion, 6, "newcombe_hybrid_score", enough);
    Ok(json!({
        "arms": [arm_json(Arm::A, a), arm_json(Arm::B, b)],
        "totals": {
            "exposed_sessions": a.sample.n + b.sample.n,
            "converting_sessions": a.converting + b.converting,
            "revenue_cents": money::add(a.revenue_cents, b.revenue_cents)?,
        },
        "difference": {
            "of": "b_minus_a",
            "conversion_rate": conversion,
            "revenue_per_session_cents": interval_json(revenue, 2, "welch_normal", enough),
        },
        "verdict": conversion["verdict"],
        "confidence": 0.95,
        "min_sessions_per_arm": MIN_SESSIONS_PER_ARM,
        "min_conversions": MIN_CONVERSIONS,
        "order_window_days": ORDER_WINDOW_DAYS,
    }))
}

/// The `experiments` member of `GET /api/analytics`: every experiment that ran (running and
/// stopped, newest first), with its results.
pub fn all(c: &mut DbConnection, shop_id: &str) -> AppResult<Vec<Value>> {
    let list = super::list(c, shop_id, None, super::MAX_EXPERIMENTS)?;
    let mut out = Vec::new();
    for e in list.iter().filter(|e| e.state != "draft") {
        let mut v = e.to_json();
        v["results"] = results(c, e)?;
        out.push(v);
    }
    Ok(out)
}
