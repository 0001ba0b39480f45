//! The learned model and its incremental updates.
//!
//! Every count changes by additive upserts (`n = n + delta`) inside the transaction that brings
//! the data (the order webhook's, the event's), sorted by key so concurrent transactions on
//! PostgreSQL lock rows in one order. What an order added is recorded in `rec_order_contrib`;
//! what an event added can be recomputed from `rec_events`; so both can be subtracted exactly.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::Recommender;
use super::scoring::{TREND_ADD_TO_CART, TREND_ORDER, TREND_VIEW, trend_weight};
use crate::db::schema::{orders, rec_events, rec_items, rec_order_contrib};

/// The buyer model pairs a shopper's newly bought product with at most this many of their most
/// recent earlier products (so one order costs O(basket × window), however long the history).
pub const BUYER_WINDOW: usize = 50;
/// At most this many of a shopper's earlier orders are read to know what they bought before.
const BUYER_ORDERS: i64 = 500;
use crate::db::{DbConnection, dialect, now, rfc3339};
use crate::orders::{LineItem, Order, parse_properties};
use crate::personalization::verify::FEE_PROPERTY;

/// At most this many distinct products of one order are learned from (cost O(basket²)).
pub const MAX_BASKET: usize = 50;
/// Co-views: a product first seen in a session pairs with at most this many products seen in
/// the same session during the previous 24 hours.
pub const MAX_SESSION_PARTNERS: usize = 20;
pub const SESSION_WINDOW_SECS: i64 = 86_400;
const SESSION_PRIOR_ROWS: i64 = 200;

pub fn unix(t: PrimitiveDateTime) -> i64 {
    t.assume_utc().unix_timestamp()
}

/// One order line as the model sees it.
#[derive(Debug, Clone)]
pub struct BasketLine {
    pub product_id: Option<i64>,
    pub position: i32,
    /// Quantity still in the order (after refunds and removals).
    pub remaining: i64,
    pub price_cents: i64,
    pub gift_card: bool,
    /// Carries `_atelier_fee` (a personalization fee line).
    pub fee: bool,
}

impl BasketLine {
    pub fn of(l: &LineItem) -> BasketLine {
        BasketLine {
            product_id: l.product_id,
            position: l.position,
            remaining: i64::from(l.current_quantity.min(l.quantity - l.refunded_quantity)),
            price_cents: l.price_cents,
            gift_card: l.gift_card,
            fee: l.properties.contains(FEE_PROPERTY)
                && parse_properties(&l.properties)
                    .iter()
                    .any(|p| p.name == FEE_PROPERTY),
        }
    }
}

/// The products an order teaches (sorted, distinct) and the products it shows to be fee or
/// gift-card products. Cancelled and test orders teach nothing; refunded or removed quantities
/// do not count; gift cards, `$0` lines and fee lines (`_atelier_fee`) never feed the model.
pub fn basket_of(order: &Order, lines: &[LineItem]) -> (Vec<i64>, Vec<i64>) {
    let lines: Vec<BasketLine> = lines.iter().map(BasketLine::of).collect();
    basket_of_lines(order.cancelled || order.test, &lines)
}

/// [`basket_of`] over plain lines (also used by the offline evaluation).
pub fn basket_of_lines(void: bool, lines: &[BasketLine]) -> (Vec<i64>, Vec<i64>) {
    let mut basket = Vec::new();
    let mut flagged = BTreeSet::new();
    let mut ordered: Vec<&BasketLine> = lines.iter().collect();
    ordered.sort_by_key(|l| l.position);
    for l in ordered {
        let Some(pid) = l.product_id else { continue };
        if l.fee || l.gift_card {
            flagged.insert(pid);
            continue;
        }
        if void || l.price_cents <= 0 || l.remaining <= 0 {
            continue;
        }
        if !basket.contains(&pid) && basket.len() < MAX_BASKET {
            basket.push(pid);
        }
    }
    basket.retain(|p| !flagged.contains(p));
    basket.sort_unstable();
    (basket, flagged.into_iter().collect())
}

#[derive(Default, Clone, Copy)]
struct ItemDelta {
    orders: i64,
    sessions: i64,
    trend: f64,
    buyers: i64,
    /// Stamped with the order's model version even when no count of its own changed (its
    /// neighbour list did).
    touch: bool,
}

impl ItemDelta {
    fn is_empty(&self) -> bool {
        self.orders == 0
            && self.sessions == 0
            && self.trend == 0.0
            && self.buyers == 0
            && !self.touch
    }
}

#[derive(Default)]
struct Deltas {
    pairs: BTreeMap<(i64, i64), i64>,
    buyer_pairs: BTreeMap<(i64, i64), i64>,
    covisits: BTreeMap<(i64, i64), i64>,
    items: BTreeMap<i64, ItemDelta>,
    orders: i64,
    window_at: Option<i64>,
}

/// What one order adds to the buyer model, given what the shopper bought before (distinct,
/// most recent first): the products it is their first purchase of, and the earlier products
/// those pair with (the most recent [`BUYER_WINDOW`]).
pub fn buyer_contribution(basket: &[i64], earlier: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let seen: std::collections::HashSet<i64> = earlier.iter().copied().collect();
    let first: Vec<i64> = basket
        .iter()
        .copied()
        .filter(|p| !seen.contains(p))
        .collect();
    let partners = if first.is_empty() {
        Vec::new()
    } else {
        earlier.iter().take(BUYER_WINDOW).copied().collect()
    };
    (first, partners)
}

impl Deltas {
    fn order(&mut self, basket: &[i64], at: i64, sign: i64) {
        if basket.is_empty() {
            return;
        }
        self.orders += sign;
        if sign > 0 {
            self.window_at = Some(at);
        }
        let w = trend_weight(TREND_ORDER, at) * sign as f64;
        for (i, &a) in basket.iter().enumerate() {
            let e = self.items.entry(a).or_default();
            e.orders += sign;
            e.trend += w;
            for &b in &basket[i + 1..] {
                *self.pairs.entry((a, b)).or_default() += sign;
                *self.pairs.entry((b, a)).or_default() += sign;
            }
        }
    }

    /// A shopper's first purchases pair with each other and with their earlier products.
    fn buyers(&mut self, first: &[i64], partners: &[i64], sign: i64) {
        for (i, &a) in first.iter().enumerate() {
            let e = self.items.entry(a).or_default();
            e.buyers += sign;
            e.touch = true;
            for &b in first[i + 1..].iter().chain(partners) {
                if a == b {
                    continue;
                }
                *self.buyer_pairs.entry((a, b)).or_default() += sign;
                *self.buyer_pairs.entry((b, a)).or_default() += sign;
            }
        }
        if !first.is_empty() {
            for &p in partners {
                self.items.entry(p).or_default().touch = true;
            }
        }
    }

    fn covisit(&mut self, p: i64, partners: &[i64], sign: i64) {
        self.items.entry(p).or_default().sessions += sign;
        for &q in partners {
            *self.covisits.entry((p, q)).or_default() += sign;
            *self.covisits.entry((q, p)).or_default() += sign;
        }
    }

    fn trend(&mut self, p: i64, amount: f64) {
        self.items.entry(p).or_default().trend += amount;
    }

    /// Adds the deltas to the stored counts. With `seq` (an order's model version), the
    /// touched products are stamped with it, so other instances recompute their lists.
    fn write(self, c: &mut DbConnection, shop_id: &str, seq: Option<i64>) -> QueryResult<()> {
        macro_rules! pair_table {
            ($table:ident, $deltas:expr) => {{
                use crate::db::schema::$table as t;
                // Sorted: concurrent transactions lock the rows in one order (no deadlock).
                let mut deltas: Vec<_> = $deltas.iter().collect();
                deltas.sort_unstable_by_key(|(k, _)| **k);
                let rows: Vec<_> = deltas
                    .into_iter()
                    .filter(|(_, d)| **d != 0)
                    .map(|(&(a, b), &d)| {
                        (t::shop_id.eq(shop_id), t::a.eq(a), t::b.eq(b), t::n.eq(d))
                    })
                    .collect();
                dialect::insert_batched!(c, &rows, per_statement = 1000, |c, values| {
                    diesel::insert_into(t::table)
                        .values(values)
                        .on_conflict((t::shop_id, t::a, t::b))
                        .do_update()
                        .set(t::n.eq(t::n + excluded(t::n)))
                        .execute(c)
                })?;
            }};
        }
        pair_table!(rec_pairs, self.pairs);
        pair_table!(rec_buyer_pairs, self.buyer_pairs);
        pair_table!(rec_covisits, self.covisits);
        {
            use rec_items as t;
            let mut items: Vec<_> = self.items.iter().collect();
            items.sort_unstable_by_key(|(p, _)| **p);
            let rows: Vec<_> = items
                .into_iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(&p, d)| {
                    (
                        t::shop_id.eq(shop_id),
                        t::product_id.eq(p),
                        t::orders.eq(d.orders),
                        t::sessions.eq(d.sessions),
                        t::trend.eq(d.trend),
                        t::buyers.eq(d.buyers),
                        t::touched_seq.eq(seq.unwrap_or(0)),
                    )
                })
                .collect();
            macro_rules! upsert_items {
                ($conn:expr, $values:expr) => {
                    match seq {
                        Some(_) => diesel::insert_into(t::table)
                            .values($values)
                            .on_conflict((t::shop_id, t::product_id))
                            .do_update()
                            .set((
                                t::orders.eq(t::orders + excluded(t::orders)),
                                t::sessions.eq(t::sessions + excluded(t::sessions)),
                                t::trend.eq(t::trend + excluded(t::trend)),
                                t::buyers.eq(t::buyers + excluded(t::buyers)),
                                t::touched_seq.eq(excluded(t::touched_seq)),
                            ))
                            .execute($conn),
                        None => diesel::insert_into(t::table)
                            .values($values)
                            .on_conflict((t::shop_id, t::product_id))
                            .do_update()
                            .set((
                                t::orders.eq(t::orders + excluded(t::orders)),
                                t::sessions.eq(t::sessions + excluded(t::sessions)),
                                t::trend.eq(t::trend + excluded(t::trend)),
                                t::buyers.eq(t::buyers + excluded(t::buyers)),
                            ))
                            .execute($conn),
                    }
                };
            }
            dialect::insert_batched!(c, &rows, per_statement = 1000, |c, values| {
                upsert_items!(c, values)
            })?;
        }
        if self.orders != 0 || self.window_at.is_some() {
            let at = self.window_at;
            let orders = self.orders;
            match c {
                DbConnection::Postgres(pg) => {
                    diesel::sql_query(
                        "INSERT INTO rec_shop_stats (shop_id, orders, first_order_at, last_order_at) \
                         VALUES ($1, $2, $3, $3) ON CONFLICT (shop_id) DO UPDATE SET \
                         orders = rec_shop_stats.orders + EXCLUDED.orders, \
                         first_order_at = LEAST(rec_shop_stats.first_order_at, EXCLUDED.first_order_at), \
                         last_order_at = GREATEST(rec_shop_stats.last_order_at, EXCLUDED.last_order_at)",
                    )
                    .bind::<diesel::sql_types::Text, _>(shop_id)
                    .bind::<diesel::sql_types::BigInt, _>(orders)
                    .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(at)
                    .execute(pg)?;
                }
                DbConnection::Sqlite(lite) => {
                    diesel::sql_query(
                        "INSERT INTO rec_shop_stats (shop_id, orders, first_order_at, last_order_at) \
                         VALUES (?1, ?2, ?3, ?3) ON CONFLICT (shop_id) DO UPDATE SET \
                         orders = rec_shop_stats.orders + excluded.orders, \
                         first_order_at = MIN(COALESCE(rec_shop_stats.first_order_at, excluded.first_order_at), COALESCE(excluded.first_order_at, rec_shop_stats.first_order_at)), \
                         last_order_at = MAX(COALESCE(rec_shop_stats.last_order_at, excluded.last_order_at), COALESCE(excluded.last_order_at, rec_shop_stats.last_order_at))",
                    )
                    .bind::<diesel::sql_types::Text, _>(shop_id)
                    .bind::<diesel::sql_types::BigInt, _>(orders)
                    .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(at)
                    .execute(lite)?;
                }
            }
        }
        Ok(())
    }
}

fn mark_flagged(c: &mut DbConnection, shop_id: &str, products: &[i64]) -> QueryResult<()> {
    use rec_items as t;
    for &p in products {
        crate::per_backend!(c, |c| diesel::insert_into(t::table)
            .values((
                t::shop_id.eq(shop_id),
                t::product_id.eq(p),
                t::flagged.eq(true)
            ))
            .on_conflict((t::shop_id, t::product_id))
            .do_update()
            .set(t::flagged.eq(true))
            .execute(c))?;
    }
    Ok(())
}

type ContribRow = (String, i64, bool, Option<String>, Option<String>);

fn parse_ids(json: &str) -> Vec<i64> {
    serde_json::from_str(json).unwrap_or_default()
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// What the shopper bought in their other applied orders: distinct products, most recent
/// first (the last [`BUYER_ORDERS`] orders).
fn bought_before(
    c: &mut DbConnection,
    shop_id: &str,
    customer: i64,
    order_id: i64,
) -> QueryResult<Vec<i64>> {
    let theirs: Vec<i64> = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer))
        .filter(orders::order_id.ne(order_id))
        .order(orders::created_at.desc())
        .select(orders::order_id)
        .limit(BUYER_ORDERS)
        .load(c)?;
    if theirs.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<(String, i64, i64)> = Vec::new();
    for chunk in theirs.chunks(900) {
        rows.extend(
            rec_order_contrib::table
                .filter(rec_order_contrib::shop_id.eq(shop_id))
                .filter(rec_order_contrib::order_id.eq_any(chunk))
                .filter(rec_order_contrib::redacted.eq(false))
                .select((
                    rec_order_contrib::product_ids,
                    rec_order_contrib::at_secs,
                    rec_order_contrib::order_id,
                ))
                .load::<(String, i64, i64)>(c)?,
        );
    }
    rows.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    let mut out: Vec<i64> = Vec::new();
    let mut seen = BTreeSet::new();
    for (ids, _, _) in rows {
        for p in parse_ids(&ids) {
            if seen.insert(p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// Brings the model in line with the order as it is now: called at the end of
/// `orders::apply_webhook`, inside its transaction (and by the backfill and `atelier import`,
/// through the same function). A re-delivery changes nothing; an edit, refund or cancellation
/// subtracts what the earlier version added and adds the new version. `recs` is the applying
/// instance's: it drops the lists the order changed at once, other instances within their poll.
pub fn apply_order(
    c: &mut DbConnection,
    recs: &Recommender,
    order: &Order,
    lines: &[LineItem],
) -> QueryResult<()> {
    let shop_id = order.shop_id.as_str();
    let (mut basket, flagged) = basket_of(order, lines);
    if !flagged.is_empty() {
        let known: Vec<i64> = rec_items::table
            .filter(rec_items::shop_id.eq(shop_id))
            .filter(rec_items::product_id.eq_any(&flagged))
            .filter(rec_items::flagged.eq(true))
            .select(rec_items::product_id)
            .load(c)?;
        if known.len() < flagged.len() {
            mark_flagged(c, shop_id, &flagged)?;
            recs.catalogue_changed(c, shop_id, &flagged)?;
        }
    }
    if !basket.is_empty() {
        // Products known to be fee or gift-card products never feed the model.
        let known_flagged: Vec<i64> = rec_items::table
            .filter(rec_items::shop_id.eq(shop_id))
            .filter(rec_items::product_id.eq_any(&basket))
            .filter(rec_items::flagged.eq(true))
            .select(rec_items::product_id)
            .load(c)?;
        basket.retain(|p| !known_flagged.contains(p));
    }
    let at = unix(order.created_at);
    let q = rec_order_contrib::table
        .filter(rec_order_contrib::shop_id.eq(shop_id))
        .filter(rec_order_contrib::order_id.eq(order.order_id))
        .select((
            rec_order_contrib::product_ids,
            rec_order_contrib::at_secs,
            rec_order_contrib::redacted,
            rec_order_contrib::first_bought,
            rec_order_contrib::partners,
        ));
    let old: Option<ContribRow> = dialect::first_locked(c, q, |q| q.for_update()).optional()?;
    let (old_basket, old_at, old_buyers) = match &old {
        // The shopper was erased: nothing of this order is learned again.
        Some((_, _, true, _, _)) => return Ok(()),
        Some((ids, at, false, first, partners)) => (
            parse_ids(ids),
            *at,
            first
                .as_deref()
                .zip(partners.as_deref())
                .map(|(f, p)| (parse_ids(f), parse_ids(p))),
        ),
        None => (Vec::new(), at, None),
    };
    // An order applied before the buyer counts existed is learned into them on its next
    // delivery (or backfill), even when nothing else changed.
    if old.is_some() && old_basket == basket && old_at == at && old_buyers.is_some() {
        return Ok(());
    }
    let earlier = match order.customer_id {
        Some(customer) if !basket.is_empty() => {
            bought_before(c, shop_id, customer, order.order_id)?
        }
        _ => Vec::new(),
    };
    let (first, partners) = buyer_contribution(&basket, &earlier);
    // The version first: on PostgreSQL its row lock orders the shop's order transactions, so
    // versions commit in ascending order and instances can follow them exactly.
    let mut touched = old_basket.clone();
    touched.extend_from_slice(&basket);
    if let Some((f, p)) = &old_buyers {
        touched.extend_from_slice(f);
        touched.extend_from_slice(p);
    }
    touched.extend_from_slice(&partners);
    touched.sort_unstable();
    touched.dedup();
    let seq = recs.products_changed(c, shop_id, &touched)?;
    if let Some(customer) = order.customer_id {
        recs.shopper_changed(shop_id, customer);
    }
    let mut d = Deltas::default();
    d.order(&old_basket, old_at, -1);
    if let Some((f, p)) = &old_buyers {
        d.buyers(f, p, -1);
    }
    d.order(&basket, at, 1);
    d.buyers(&first, &partners, 1);
    d.write(c, shop_id, Some(seq))?;
    let ids = ids_json(&basket);
    let first = ids_json(&first);
    let partners = ids_json(&partners);
    crate::per_backend!(c, |c| diesel::insert_into(rec_order_contrib::table)
        .values((
            rec_order_contrib::shop_id.eq(shop_id),
            rec_order_contrib::order_id.eq(order.order_id),
            rec_order_contrib::product_ids.eq(&ids),
            rec_order_contrib::at_secs.eq(at),
            rec_order_contrib::redacted.eq(false),
            rec_order_contrib::applied_at.eq(now()),
            rec_order_contrib::first_bought.eq(&first),
            rec_order_contrib::partners.eq(&partners),
        ))
        .on_conflict((rec_order_contrib::shop_id, rec_order_contrib::order_id))
        .do_update()
        .set((
            rec_order_contrib::product_ids.eq(&ids),
            rec_order_contrib::at_secs.eq(at),
            rec_order_contrib::applied_at.eq(now()),
            rec_order_contrib::first_bought.eq(&first),
            rec_order_contrib::partners.eq(&partners),
        ))
        .execute(c))?;
    Ok(())
}

// ---------------------------------------------------------------- events

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    View,
    AddToCart,
    Click,
}

impl EventKind {
    pub fn parse(s: &str) -> Option<EventKind> {
        match s {
            "view" => Some(EventKind::View),
            "add_to_cart" => Some(EventKind::AddToCart),
            "click" => Some(EventKind::Click),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::AddToCart => "add_to_cart",
            EventKind::Click => "click",
        }
    }
}

/// A `view` carrying `intent` is a widget impression (the recommended product was shown), not
/// a product page view: it is counted for analytics and does not feed the model; clicks neither.
pub fn feeds_model(kind: &str, intent: Option<&str>) -> bool {
    match kind {
        "view" => intent.is_none(),
        "add_to_cart" => true,
        _ => false,
    }
}

fn event_weight(kind: &str) -> f64 {
    if kind == "add_to_cart" {
        TREND_ADD_TO_CART
    } else {
        TREND_VIEW
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub shop_id: String,
    pub session_id: String,
    pub customer_id: Option<i64>,
    pub kind: EventKind,
    pub product_id: i64,
    pub intent: Option<String>,
    pub source_product_id: Option<i64>,
    /// `(experiment id, arm)` of a widget's impression or click shown in an experiment's arm.
    pub experiment: Option<(String, &'static str)>,
}

/// The products a session's new product pairs with, given the session's earlier products
/// (most recent first, within the window): `None` when the product was already seen in the
/// session (each pair is counted once per session).
fn session_partners(p: i64, prior: impl Iterator<Item = i64>) -> Option<Vec<i64>> {
    let mut partners: Vec<i64> = Vec::new();
    for q in prior {
        if q == p {
            return None;
        }
        if !partners.contains(&q) {
            partners.push(q);
        }
    }
    partners.truncate(MAX_SESSION_PARTNERS);
    Some(partners)
}

/// Stores an event and learns from it (co-views / co-carts, trending).
///
/// Events do not bump the shop's cache generation (they arrive far more often than orders):
/// lists reflect them within the cache TTL.
pub fn record_event(c: &mut DbConnection, ev: &NewEvent) -> QueryResult<()> {
    let at = now();
    let id = crate::db::new_id();
    diesel::insert_into(rec_events::table)
        .values((
            rec_events::id.eq(&id),
            rec_events::shop_id.eq(&ev.shop_id),
            rec_events::session_id.eq(&ev.session_id),
            rec_events::customer_id.eq(ev.customer_id),
            rec_events::kind.eq(ev.kind.as_str()),
            rec_events::product_id.eq(ev.product_id),
            rec_events::intent.eq(&ev.intent),
            rec_events::source_product_id.eq(ev.source_product_id),
            rec_events::created_at.eq(at),
            rec_events::experiment_id.eq(ev.experiment.as_ref().map(|e| e.0.as_str())),
            rec_events::experiment_arm.eq(ev.experiment.as_ref().map(|e| e.1)),
        ))
        .execute(c)?;
    if !feeds_model(ev.kind.as_str(), ev.intent.as_deref()) {
        return Ok(());
    }
    let since = at - time::Duration::seconds(SESSION_WINDOW_SECS);
    let prior: Vec<(i64, String, Option<String>)> = rec_events::table
        .filter(rec_events::shop_id.eq(&ev.shop_id))
        .filter(rec_events::session_id.eq(&ev.session_id))
        .filter(rec_events::created_at.ge(since))
        .filter(rec_events::id.ne(&id))
        .order(rec_events::created_at.desc())
        .select((rec_events::product_id, rec_events::kind, rec_events::intent))
        .limit(SESSION_PRIOR_ROWS)
        .load(c)?;
    let mut d = Deltas::default();
    d.trend(
        ev.product_id,
        trend_weight(event_weight(ev.kind.as_str()), unix(at)),
    );
    let prior = prior
        .into_iter()
        .filter(|(_, k, i)| feeds_model(k, i.as_deref()))
        .map(|(p, _, _)| p);
    if let Some(partners) = session_partners(ev.product_id, prior) {
        d.covisit(ev.product_id, &partners, 1);
    }
    d.write(c, &ev.shop_id, None)
}

/// Deletes storefront events older than `retention`, oldest first and at most `batch` rows per
/// statement, so a long backlog is worked off in short transactions that never hold the write
/// lock for long. What the model learned from them (counters) stays. Returns the rows deleted.
pub fn purge_events(
    c: &mut DbConnection,
    retention: std::time::Duration,
    batch: i64,
    max_batches: usize,
) -> QueryResult<usize> {
    let cutoff = now() - time::Duration::try_from(retention).unwrap_or(time::Duration::days(400));
    let mut deleted = 0;
    for _ in 0..max_batches {
        let n = crate::db::write_tx(c, |c| {
            let ids: Vec<String> = rec_events::table
                .filter(rec_events::created_at.lt(cutoff))
                .order(rec_events::created_at.asc())
                .select(rec_events::id)
                .limit(batch)
                .load(c)?;
            diesel::delete(rec_events::table.filter(rec_events::id.eq_any(&ids))).execute(c)
        })?;
        deleted += n;
        if (n as i64) < batch {
            break;
        }
    }
    Ok(deleted)
}

type EventRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    PrimitiveDateTime,
);

/// What a list of a session's events (oldest first) added to the model, recomputed exactly as
/// [`record_event`] computed it when they arrived.
fn replay_session(d: &mut Deltas, events: &[&EventRow], sign: i64) {
    for (i, (_, _, p, kind, intent, at)) in events.iter().enumerate() {
        if !feeds_model(kind, intent.as_deref()) {
            continue;
        }
        let since = *at - time::Duration::seconds(SESSION_WINDOW_SECS);
        d.trend(
            *p,
            sign as f64 * trend_weight(event_weight(kind), unix(*at)),
        );
        let prior = events[..i]
            .iter()
            .rev()
            .filter(|e| e.5 >= since)
            .take(SESSION_PRIOR_ROWS as usize)
            .filter(|e| feeds_model(&e.3, e.4.as_deref()))
            .map(|e| e.2);
        if let Some(partners) = session_partners(*p, prior) {
            d.covisit(*p, &partners, sign);
        }
    }
}

// ---------------------------------------------------------------- erasure

/// `customers/redact`: the shopper's orders and events are taken out of every learned count,
/// their events deleted, and their orders' contribution records kept only as tombstones (so a
/// later copy of such an order is not learned again). The shopper's orders are those named by
/// the request and those `orders.customer_id` links to them, so this runs before
/// `orders::redact_customer` unlinks them (first entry of `compliance::CUSTOMER_DATA`). Every
/// list of the shop may derive from what is erased here: the caller resets them first, in the
/// same transaction ([`Recommender::model_reset`], as `compliance::redact_customer` does).
pub fn redact_customer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    order_ids: &[i64],
) -> QueryResult<()> {
    let mut theirs: Vec<i64> = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer_id))
        .select(orders::order_id)
        .load(c)?;
    theirs.extend_from_slice(order_ids);
    type Row = (i64, String, i64, bool, Option<String>, Option<String>);
    let rows: Vec<Row> = rec_order_contrib::table
        .filter(rec_order_contrib::shop_id.eq(shop_id))
        .filter(rec_order_contrib::order_id.eq_any(&theirs))
        .select((
            rec_order_contrib::order_id,
            rec_order_contrib::product_ids,
            rec_order_contrib::at_secs,
            rec_order_contrib::redacted,
            rec_order_contrib::first_bought,
            rec_order_contrib::partners,
        ))
        .load(c)?;
    let mut d = Deltas::default();
    let mut known = Vec::new();
    for (order_id, ids, at, redacted, first, partners) in &rows {
        known.push(*order_id);
        if !redacted {
            d.order(&parse_ids(ids), *at, -1);
            if let (Some(f), Some(p)) = (first, partners) {
                d.buyers(&parse_ids(f), &parse_ids(p), -1);
            }
        }
    }
    // Events: whole sessions in which the shopper was logged in, and the web pixel's sessions
    // that placed one of their orders (the order ties such a session to them).
    let mut sessions: Vec<String> = rec_events::table
        .filter(rec_events::shop_id.eq(shop_id))
        .filter(rec_events::customer_id.eq(customer_id))
        .select(rec_events::session_id)
        .distinct()
        .load(c)?;
    let linked = super::pixel::sessions_of_orders(c, shop_id, &theirs)?;
    for s in linked {
        if !sessions.contains(&s) {
            sessions.push(s);
        }
    }
    super::pixel::forget(c, shop_id, &theirs, &sessions)?;
    if !sessions.is_empty() {
        let events: Vec<EventRow> = rec_events::table
            .filter(rec_events::shop_id.eq(shop_id))
            .filter(rec_events::session_id.eq_any(&sessions))
            .order((rec_events::created_at, rec_events::id))
            .select((
                rec_events::id,
                rec_events::session_id,
                rec_events::product_id,
                rec_events::kind,
                rec_events::intent,
                rec_events::created_at,
            ))
            .load(c)?;
        for s in &sessions {
            let mine: Vec<&EventRow> = events.iter().filter(|e| &e.1 == s).collect();
            replay_session(&mut d, &mine, -1);
        }
        diesel::delete(
            rec_events::table
                .filter(rec_events::shop_id.eq(shop_id))
                .filter(rec_events::session_id.eq_any(&sessions)),
        )
        .execute(c)?;
    }
    // Nothing was subtracted from the window's bounds: they are dates, not personal data.
    d.window_at = None;
    d.write(c, shop_id, None)?;
    diesel::update(
        rec_order_contrib::table
            .filter(rec_order_contrib::shop_id.eq(shop_id))
            .filter(rec_order_contrib::order_id.eq_any(&known)),
    )
    .set((
        rec_order_contrib::product_ids.eq("[]"),
        rec_order_contrib::redacted.eq(true),
        rec_order_contrib::first_bought.eq(Some("[]")),
        rec_order_contrib::partners.eq(Some("[]")),
    ))
    .execute(c)?;
    for &order_id in theirs.iter().filter(|o| !known.contains(o)) {
        crate::per_backend!(c, |c| diesel::insert_into(rec_order_contrib::table)
            .values((
                rec_order_contrib::shop_id.eq(shop_id),
                rec_order_contrib::order_id.eq(order_id),
                rec_order_contrib::product_ids.eq("[]"),
                rec_order_contrib::at_secs.eq(0i64),
                rec_order_contrib::redacted.eq(true),
                rec_order_contrib::applied_at.eq(now()),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

type ExportRow = (
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    PrimitiveDateTime,
);

/// The `events` member of a `customers/data_request` export.
pub fn export_events(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    // With the web pixel's sessions that placed one of their orders (as erasure counts them).
    let theirs: Vec<i64> = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer_id))
        .select(orders::order_id)
        .load(c)?;
    let linked = super::pixel::sessions_of_orders(c, shop_id, &theirs)?;
    let rows: Vec<ExportRow> = rec_events::table
        .filter(rec_events::shop_id.eq(shop_id))
        .filter(
            rec_events::customer_id
                .eq(customer_id)
                .or(rec_events::session_id.eq_any(&linked)),
        )
        .order(rec_events::created_at)
        .select((
            rec_events::kind,
            rec_events::session_id,
            rec_events::product_id,
            rec_events::intent,
            rec_events::source_product_id,
            rec_events::created_at,
        ))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|(kind, session, product, intent, source, at)| {
                json!({
                    "type": kind,
                    "session_id": session,
                    "product_id": product.to_string(),
                    "intent": intent,
                    "source_product_id": source.map(|s| s.to_string()),
                    "created_at": rfc3339(at),
                })
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shopper_pairs_new_products_with_their_recent_history_once() {
        let earlier: Vec<i64> = (100..200).collect();
        let (first, partners) = buyer_contribution(&[1, 100, 2], &earlier);
        assert_eq!(first, vec![1, 2], "100 was bought before");
        assert_eq!(partners.len(), BUYER_WINDOW);
        assert_eq!(partners[0], 100, "the most recent first");
        let (first, partners) = buyer_contribution(&[100], &earlier);
        assert!(first.is_empty() && partners.is_empty(), "nothing new");
        let mut d = Deltas::default();
        d.buyers(&[1, 2], &[100, 101], 1);
        assert_eq!(d.buyer_pairs[&(1, 2)], 1);
        assert_eq!(d.buyer_pairs[&(101, 2)], 1);
        assert_eq!(d.items[&1].buyers, 1);
        assert_eq!(d.items[&100].buyers, 0);
        assert!(d.items[&100].touch);
        d.buyers(&[1, 2], &[100, 101], -1);
        assert!(d.buyer_pairs.values().all(|n| *n == 0));
    }

    #[test]
    fn a_product_pairs_once_per_session() {
        assert_eq!(session_partners(1, [2, 3, 2].into_iter()), Some(vec![2, 3]));
        assert_eq!(session_partners(2, [3, 2].into_iter()), None);
    }

    #[test]
    fn subtracting_what_was_added_leaves_nothing() {
        let mut d = Deltas::default();
        d.order(&[1, 2, 3], 1_800_000_000, 1);
        d.order(&[1, 2, 3], 1_800_000_000, -1);
        assert!(d.pairs.values().all(|n| *n == 0));
        assert!(
            d.items
                .values()
                .all(|i| i.orders == 0 && i.sessions == 0 && i.trend == 0.0)
        );
        assert_eq!(d.orders, 0);
    }
}
