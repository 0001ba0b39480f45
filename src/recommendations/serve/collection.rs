//! A collection's grid ordered for one shopper (`GET /proxy/collections/{id}/sort`): the
//! merchant's pins first, then the shopper's affinity from the same item-kNN `for_you` uses
//! (with consent only), the collection's own best sellers as the fallback and the tie-break,
//! products not in the shopper's stated size after those that are, sold-out products and
//! products excluded everywhere last. Nothing is removed: the theme shows every product of the
//! grid, only their order changes.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::assemble::size_matches;
use super::catalogue::ProductInfo;
use super::lists::ListKey;
use super::{Recommender, consent, round};
use crate::db::schema::{orders, products, rec_events, rec_items, rec_order_contrib};
use crate::db::{DbConnection, now};
use crate::recommendations::model::feeds_model;
use crate::recommendations::scoring::{
    FOR_YOU_ITEMS, knn_scores, popularity_prior, recency_weight,
};

/// Products viewed or carted lately (and not bought) that the affinity draws on.
const VIEWED: usize = 20;
/// The shopper's most recent orders read (as `for_you`).
const ORDERS_READ: i64 = 200;

/// One product of the sorted grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SortedProduct {
    pub product_id: i64,
    /// `None` for a product Atelier has not synced (its stock is unknown too).
    pub handle: Option<String>,
    /// Relevance for this shopper in [0, 1] (the best product of the collection is 1); pins,
    /// sizes, stock and exclusions decide the order before it.
    pub score: f64,
}

/// The sorted grid, and whether the shopper's own data shaped it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionSort {
    pub personalized: bool,
    pub products: Vec<SortedProduct>,
}

/// Who asks: a logged-in customer (from the signed proxy parameters) and/or an anonymous
/// storefront session.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shopper<'a> {
    pub customer: Option<i64>,
    pub session: Option<&'a str>,
}

/// What the shopper's data gives: their products, weighted, and what they said they like.
struct Affinity {
    /// `(weight, product)`: purchases (and wishlisted products) and, at half weight, views.
    bought: Vec<i64>,
    viewed: Vec<i64>,
    purchased: HashSet<i64>,
    explicit: consent::Explicit,
}

/// `(id, handle, status, published, available, deleted)`
type ProductRow = (i64, String, String, bool, bool, bool);

impl Recommender {
    /// The collection's products (or only `subset` of them, in any order) sorted for the
    /// shopper; `None` for a collection the shop does not have.
    pub fn sort_collection(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        collection_id: i64,
        subset: Option<&[i64]>,
        shopper: Shopper<'_>,
    ) -> QueryResult<Option<CollectionSort>> {
        if crate::collections::find(c, shop_id, collection_id)?.is_none() {
            return Ok(None);
        }
        let mut members = crate::collections::members(c, shop_id, collection_id)?;
        if let Some(subset) = subset {
            let wanted: HashSet<i64> = subset.iter().copied().collect();
            members.retain(|p| wanted.contains(p));
        }
        self.apply_local();
        self.poll(c, shop_id)?;
        let settings = self.settings(c, shop_id)?;
        let cat = self.catalogue(c, shop_id)?;

        let mut rows: HashMap<i64, ProductRow> = HashMap::with_capacity(members.len());
        let mut sold: HashMap<i64, (i64, f64)> = HashMap::with_capacity(members.len());
        for chunk in members.chunks(900) {
            let found: Vec<ProductRow> = products::table
                .filter(products::shop_id.eq(shop_id))
                .filter(products::product_id.eq_any(chunk))
                .select((
                    products::product_id,
                    products::handle,
                    products::status,
                    products::published,
                    products::available,
                    products::deleted,
                ))
                .load(c)?;
            rows.extend(found.into_iter().map(|r| (r.0, r)));
            let counts: Vec<(i64, i64, f64)> = rec_items::table
                .filter(rec_items::shop_id.eq(shop_id))
                .filter(rec_items::product_id.eq_any(chunk))
                .select((rec_items::product_id, rec_items::orders, rec_items::trend))
                .load(c)?;
            sold.extend(counts.into_iter().map(|(p, o, t)| (p, (o.max(0), t))));
        }
        let available = |p: i64| {
            rows.get(&p)
                .is_some_and(|(_, _, status, published, avail, deleted)| {
                    status == "active" && *published && *avail && !*deleted
                })
        };

        let affinity = self.affinity(c, shop_id, shopper)?;
        let personalized = affinity.is_some();
        // Best sellers of the collection: its own order counts, the fallback of every shopper.
        let best_orders = members
            .iter()
            .map(|p| sold.get(p).map_or(0, |s| s.0))
            .max()
            .unwrap_or(0);
        let pop = |p: i64| {
            if best_orders > 0 {
                sold.get(&p)
                    .map_or(0.0, |s| s.0 as f64 / best_orders as f64)
            } else {
                0.0
            }
        };
        let mut score: HashMap<i64, f64> = HashMap::with_capacity(members.len());
        let mut unfit: HashSet<i64> = HashSet::new();
        match &affinity {
            None => {
                for &p in &members {
                    score.insert(p, pop(p));
                }
            }
            Some(a) => {
                // `for_you`'s item-kNN (`scoring::knn_scores`), then popularity mixed in with
                // `1/(1+|history|)` of the weight, the collection's best sellers standing in for
                // the shop's trending list.
                let knn = self.knn(c, shop_id, a)?;
                let prior = popularity_prior(a.bought.len() + a.viewed.len());
                for &p in &members {
                    let personal = if a.purchased.contains(&p) {
                        0.0
                    } else {
                        knn.get(&p).copied().unwrap_or(0.0)
                    };
                    score.insert(p, personal + prior * pop(p));
                }
                let interests: Vec<&String> = a
                    .explicit
                    .interests
                    .iter()
                    .chain(&a.explicit.tastes)
                    .collect();
                if !interests.is_empty() {
                    // What the shopper said they like is lifted above the best of the rest,
                    // as `for_you` does: `score · 1.5 + top`.
                    let top = score.values().copied().fold(0.0f64, f64::max);
                    for &p in &members {
                        if let Some(info) = cat.product(p)
                            && interests.iter().any(|k| info.has_interest(k))
                            && let Some(s) = score.get_mut(&p)
                        {
                            *s = *s * 1.5 + top;
                        }
                    }
                }
                if !a.explicit.sizes.is_empty() {
                    let details: HashMap<i64, &ProductInfo> = members
                        .iter()
                        .filter(|p| available(**p))
                        .filter_map(|p| cat.product(*p).map(|i| (*p, i)))
                        .collect();
                    unfit = size_matches(c, shop_id, &details, &a.explicit.sizes)?;
                }
            }
        }

        let pins: &[i64] = settings
            .collection_pins
            .get(&collection_id)
            .map_or(&[], Vec::as_slice);
        let member_set: HashSet<i64> = members.iter().copied().collect();
        let position: HashMap<i64, usize> =
            members.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        // Pins first (in their order, if available), then products that fit, then those not in
        // the shopper's size, then sold-out (or unknown) ones, then products excluded everywhere.
        let group = |p: i64| -> (u8, usize) {
            if let Some(at) = pins.iter().position(|x| *x == p)
                && available(p)
            {
                (0, at)
            } else if settings.excluded_everywhere.contains(&p) {
                (4, 0)
            } else if !available(p) {
                (3, 0)
            } else if unfit.contains(&p) {
                (2, 0)
            } else {
                (1, 0)
            }
        };
        let mut order: Vec<i64> = member_set.into_iter().collect();
        order.sort_by(|a, b| {
            group(*a)
                .cmp(&group(*b))
                .then_with(|| score[b].total_cmp(&score[a]))
                .then_with(|| {
                    let (sa, sb) = (sold.get(a), sold.get(b));
                    let o = |s: Option<&(i64, f64)>| s.map_or(0, |s| s.0);
                    let t = |s: Option<&(i64, f64)>| s.map_or(0.0, |s| s.1);
                    o(sb).cmp(&o(sa)).then(t(sb).total_cmp(&t(sa)))
                })
                .then_with(|| position[a].cmp(&position[b]))
        });
        let top = score.values().copied().fold(0.0f64, f64::max);
        let products = order
            .into_iter()
            .map(|p| SortedProduct {
                product_id: p,
                handle: rows.get(&p).map(|r| r.1.clone()).filter(|h| !h.is_empty()),
                score: if top > 0.0 {
                    round(score[&p] / top)
                } else {
                    0.0
                },
            })
            .collect();
        Ok(Some(CollectionSort {
            personalized,
            products,
        }))
    }

    /// The shopper's products and stated preferences, when they may be used: a customer only
    /// with personalization consent (read now, so a withdrawal applies at once); an anonymous
    /// session by its own views (the storefront sends the session only while the visitor's
    /// privacy choices allow analytics, and views recorded for a logged-in customer never count
    /// for an anonymous request).
    fn affinity(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        shopper: Shopper<'_>,
    ) -> QueryResult<Option<Affinity>> {
        let since = now() - time::Duration::days(30);
        if let Some(customer) = shopper.customer {
            if !consent::personalization_allowed(c, shop_id, customer)? {
                return Ok(None);
            }
            let explicit = consent::explicit(c, shop_id, customer)?;
            let their_orders: Vec<i64> = orders::table
                .filter(orders::shop_id.eq(shop_id))
                .filter(orders::customer_id.eq(customer))
                .order(orders::created_at.desc())
                .select(orders::order_id)
                .limit(ORDERS_READ)
                .load(c)?;
            let baskets: Vec<String> = rec_order_contrib::table
                .filter(rec_order_contrib::shop_id.eq(shop_id))
                .filter(rec_order_contrib::order_id.eq_any(&their_orders))
                .filter(rec_order_contrib::redacted.eq(false))
                .order((
                    rec_order_contrib::at_secs.desc(),
                    rec_order_contrib::order_id.desc(),
                ))
                .select(rec_order_contrib::product_ids)
                .limit(ORDERS_READ)
                .load(c)?;
            let mut purchased = HashSet::new();
            let mut bought = Vec::new();
            for ids in &baskets {
                for p in serde_json::from_str::<Vec<i64>>(ids).unwrap_or_default() {
                    if purchased.insert(p) && bought.len() < FOR_YOU_ITEMS {
                        bought.push(p);
                    }
                }
            }
            let bought = super::wishlisted::lead_with_wishlist(c, shop_id, customer, bought)?;
            let seen: Vec<(i64, String, Option<String>)> = rec_events::table
                .filter(rec_events::shop_id.eq(shop_id))
                .filter(rec_events::customer_id.eq(customer))
                .filter(rec_events::created_at.ge(since))
                .order(rec_events::created_at.desc())
                .select((rec_events::product_id, rec_events::kind, rec_events::intent))
                .limit(100)
                .load(c)?;
            let viewed = recent_views(&seen, &purchased);
            return Ok(Some(Affinity {
                bought,
                viewed,
                purchased,
                explicit,
            }));
        }
        let Some(session) = shopper.session else {
            return Ok(None);
        };
        let seen: Vec<(i64, String, Option<String>)> = rec_events::table
            .filter(rec_events::shop_id.eq(shop_id))
            .filter(rec_events::session_id.eq(session))
            .filter(rec_events::customer_id.is_null())
            .filter(rec_events::created_at.ge(since))
            .order(rec_events::created_at.desc())
            .select((rec_events::product_id, rec_events::kind, rec_events::intent))
            .limit(100)
            .load(c)?;
        let viewed = recent_views(&seen, &HashSet::new());
        if viewed.is_empty() {
            return Ok(None);
        }
        Ok(Some(Affinity {
            bought: Vec::new(),
            viewed,
            purchased: HashSet::new(),
            explicit: consent::Explicit::default(),
        }))
    }

    /// `knn(q) / max knn` over the shopper's history, from the cached neighbour lists.
    fn knn(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        a: &Affinity,
    ) -> QueryResult<HashMap<i64, f64>> {
        let mut lists = Vec::new();
        for (rank, &h) in a.bought.iter().enumerate() {
            lists.push((
                recency_weight(rank),
                self.raw(c, shop_id, ListKey::Similar(h), false)?,
            ));
        }
        for (rank, &v) in a.viewed.iter().enumerate() {
            let w = 0.5 * recency_weight(rank);
            lists.push((w, self.raw(c, shop_id, ListKey::Similar(v), false)?));
            lists.push((w, self.raw(c, shop_id, ListKey::Related(v), false)?));
        }
        let pairs: Vec<Vec<(i64, f64)>> = lists
            .iter()
            .map(|(_, l)| l.iter().map(|(id, score, _)| (id, score)).collect())
            .collect();
        let weighted: Vec<(f64, &[(i64, f64)])> = lists
            .iter()
            .zip(&pairs)
            .map(|((w, _), p)| (*w, p.as_slice()))
            .collect();
        Ok(knn_scores(&weighted, &[], 0.0).into_iter().collect())
    }
}

/// Distinct products viewed or carted (model-feeding events, most recent first), not bought.
fn recent_views(seen: &[(i64, String, Option<String>)], purchased: &HashSet<i64>) -> Vec<i64> {
    let mut viewed = Vec::new();
    for (p, kind, intent) in seen {
        if feeds_model(kind, intent.as_deref())
            && !purchased.contains(p)
            && !viewed.contains(p)
            && viewed.len() < VIEWED
        {
            viewed.push(*p);
        }
    }
    viewed
}
