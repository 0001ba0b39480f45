//! `for_you` for a shopper who consented: their history leads the list.

use std::collections::{HashMap, HashSet};

/// Products viewed or carted lately (and not bought) that `for_you` draws on.
const FOR_YOU_VIEWED: usize = 20;
/// The shopper's most recent orders `for_you` reads (their history, for hundreds of lines).
const FOR_YOU_ORDERS: i64 = 200;
/// Scored products kept per shopper (an answer shows at most `MAX_LIMIT`; the shop's lists
/// fill up after exclusions and the size filter).
const FOR_YOU_KEPT: usize = 200;
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};

use super::assemble::{Assembly, size_matches};
use super::catalogue::ProductInfo;
use super::lists::{List, ListKey};
use super::{Rec, Recommender, consent, sort_desc};
use crate::db::schema::{orders, rec_events, rec_order_contrib};
use crate::db::{DbConnection, now};
use crate::recommendations::model::feeds_model;
use crate::recommendations::scoring::{
    FOR_YOU_ITEMS, FOR_YOU_NEIGHBOURS, knn_scores, popularity_prior, recency_weight,
};

/// The version of a shopper's preferences (`consent::personalization_stamp`).
pub(super) type Stamp = (time::PrimitiveDateTime, i64);

/// A consenting shopper's `for_you` inputs: the ranked neighbours of their history, what they
/// bought (never shown again), their stated sizes and interests, and which products were checked
/// against those sizes. Kept per instance (`Recommender::personal`): the request only combines
/// them with the shop's current lists, pins, exclusions and catalogue.
pub(super) struct Personal {
    stamp: Stamp,
    explicit: consent::Explicit,
    purchased: HashSet<i64>,
    list: List,
    /// The products whose neighbour lists `list` was computed from (sorted): when their counts
    /// change, so may the shopper's list, as any list of theirs is dropped.
    sources: Vec<i64>,
    /// Sorted.
    checked: Vec<i64>,
    unfit: HashSet<i64>,
}

impl Recommender {
    /// Forgets the `for_you` inputs of the shop's shoppers that drew on any of `products`.
    pub(super) fn forget_personal_drawing_on(&self, shop_id: &str, products: &[i64]) {
        if self.personal.is_empty() || products.is_empty() {
            return;
        }
        self.personal.forget_where(|(s, _), p| {
            s == shop_id && products.iter().any(|x| p.sources.binary_search(x).is_ok())
        });
    }

    /// `for_you` with consent: the shopper's purchases and recent views/carts lead to their
    /// complements and similar products; explicit interests boost, explicit sizes filter.
    /// `stamp` is the version of their preferences the consent was read with.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn for_you(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: i64,
        stamp: Stamp,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        // Explanations carry reasons the cached inputs do not keep: computed afresh.
        let key = (shop_id.to_owned(), customer);
        let personal = match self
            .personal
            .get(&key)
            .filter(|p| !explain && p.stamp == stamp)
        {
            Some(p) => p,
            None => {
                let p = Arc::new(self.personal_inputs(c, shop_id, customer, stamp, explain)?);
                if !explain {
                    self.personal.insert(key, p.clone());
                }
                p
            }
        };
        let cat = self.catalogue(c, shop_id)?;
        let settings = self.settings(c, shop_id)?;
        let trending = self.raw(c, shop_id, ListKey::Trending, explain)?;
        let newest = self.raw(c, shop_id, ListKey::Newest, explain)?;
        // The stated sizes filter what the shop-wide fallbacks and pins could show too; those
        // lists may have changed since the inputs were computed, so what they hold that was not
        // checked then is checked now.
        let sizes = &personal.explicit.sizes;
        let mut more_unfit: Option<HashSet<i64>> = None;
        if !sizes.is_empty() {
            let mut need: Vec<i64> = settings
                .pinned
                .get(&product.unwrap_or(0))
                .cloned()
                .unwrap_or_default();
            for list in [&trending, &newest] {
                need.extend(list.iter().map(|r| r.0));
            }
            need.retain(|id| personal.checked.binary_search(id).is_err());
            need.sort_unstable();
            need.dedup();
            if !need.is_empty() {
                let details: HashMap<i64, &ProductInfo> = need
                    .iter()
                    .filter_map(|id| cat.recommendable(*id).map(|p| (*id, p)))
                    .collect();
                let found = size_matches(c, shop_id, &details, sizes)?;
                if !found.is_empty() {
                    let mut all = personal.unfit.clone();
                    all.extend(found);
                    more_unfit = Some(all);
                }
            }
        }
        let unfit = (!sizes.is_empty()).then(|| more_unfit.as_ref().unwrap_or(&personal.unfit));
        let mut a = Assembly::new(&cat, &settings, product, limit, explain);
        a.also_exclude(&personal.purchased);
        a.personal(&personal.explicit, unfit);
        for (name, list) in [
            ("for_you", &personal.list),
            ("trending", &trending),
            ("newest", &newest),
        ] {
            if a.full() {
                break;
            }
            a.add(name, list);
        }
        Ok(a.out)
    }

    /// What `for_you` computes from the shopper's history and choices, before the request's
    /// own pins, exclusions and fallbacks.
    fn personal_inputs(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: i64,
        stamp: Stamp,
        explain: bool,
    ) -> QueryResult<Personal> {
        let explicit = consent::explicit(c, shop_id, customer)?;
        let their_orders: Vec<i64> = orders::table
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::customer_id.eq(customer))
            .order(orders::created_at.desc())
            .select(orders::order_id)
            .limit(FOR_YOU_ORDERS)
            .load(c)?;
        let bought: Vec<(String, i64)> = rec_order_contrib::table
            .filter(rec_order_contrib::shop_id.eq(shop_id))
            .filter(rec_order_contrib::order_id.eq_any(&their_orders))
            .filter(rec_order_contrib::redacted.eq(false))
            .order((
                rec_order_contrib::at_secs.desc(),
                rec_order_contrib::order_id.desc(),
            ))
            .select((rec_order_contrib::product_ids, rec_order_contrib::at_secs))
            .limit(FOR_YOU_ORDERS)
            .load(c)?;
        let since = now() - time::Duration::days(30);
        let seen: Vec<(i64, String, Option<String>)> = rec_events::table
            .filter(rec_events::shop_id.eq(shop_id))
            .filter(rec_events::customer_id.eq(customer))
            .filter(rec_events::created_at.ge(since))
            .order(rec_events::created_at.desc())
            .select((rec_events::product_id, rec_events::kind, rec_events::intent))
            .limit(100)
            .load(c)?;
        let mut purchased: HashSet<i64> = HashSet::new();
        let mut history: Vec<i64> = Vec::new();
        for (ids, _) in &bought {
            for p in serde_json::from_str::<Vec<i64>>(ids).unwrap_or_default() {
                if purchased.insert(p) && history.len() < FOR_YOU_ITEMS {
                    history.push(p);
                }
            }
        }
        let mut viewed: Vec<i64> = Vec::new();
        for (p, kind, intent) in &seen {
            if feeds_model(kind, intent.as_deref())
                && !purchased.contains(p)
                && !viewed.contains(p)
                && viewed.len() < FOR_YOU_VIEWED
            {
                viewed.push(*p);
            }
        }
        let history = super::wishlisted::lead_with_wishlist(c, shop_id, customer, history)?;
        let cat = self.catalogue(c, shop_id)?;
        // Item-kNN over the shopper's history (`scoring::knn_scores`, the formula `atelier eval`
        // measures through this very function): products bought by the shoppers who bought what
        // they bought, recent purchases weighing more; products viewed or carted lately count
        // half, with their co-views too. Popularity only tops up short histories.
        let mut lists: Vec<(f64, List, i64, &'static str)> = Vec::new();
        for (rank, &h) in history.iter().enumerate() {
            let list = self.raw(c, shop_id, ListKey::Similar(h), explain)?;
            lists.push((recency_weight(rank), list, h, "bought_with_your_history"));
        }
        for (rank, &v) in viewed.iter().enumerate() {
            let w = 0.5 * recency_weight(rank);
            let list = self.raw(c, shop_id, ListKey::Similar(v), explain)?;
            lists.push((w, list, v, "similar_to_what_you_viewed"));
            let list = self.raw(c, shop_id, ListKey::Related(v), explain)?;
            lists.push((w, list, v, "similar_to_what_you_viewed"));
        }
        let trending = self.raw(c, shop_id, ListKey::Trending, explain)?;
        let pairs: Vec<Vec<(i64, f64)>> = lists
            .iter()
            .map(|(_, l, _, _)| l.iter().map(|(id, score, _)| (id, score)).collect())
            .collect();
        let weighted: Vec<(f64, &[(i64, f64)])> = lists
            .iter()
            .zip(&pairs)
            .map(|((w, ..), p)| (*w, p.as_slice()))
            .collect();
        let popular: Vec<(i64, f64)> = trending.iter().map(|(id, score, _)| (id, score)).collect();
        let ranked = knn_scores(
            &weighted,
            &popular,
            popularity_prior(history.len() + viewed.len()),
        );
        // Kept: more than any answer shows, so exclusions and the size filter leave it full.
        let mut personal: Vec<Rec> = ranked
            .into_iter()
            .filter(|(p, _)| !purchased.contains(p))
            .take(FOR_YOU_KEPT)
            .map(|(product_id, score)| Rec {
                product_id,
                score,
                reasons: Vec::new(),
            })
            .collect();
        if explain {
            let at: HashMap<i64, usize> = personal
                .iter()
                .enumerate()
                .map(|(i, r)| (r.product_id, i))
                .collect();
            let mut add = |id: i64, reason: Value| {
                if let Some(&i) = at.get(&id)
                    && personal[i].reasons.len() < 3
                {
                    personal[i].reasons.push(reason);
                }
            };
            for (_, list, h, kind) in &lists {
                for (id, _, _) in list.iter().take(FOR_YOU_NEIGHBOURS) {
                    add(
                        id,
                        json!({"type": kind, "history_product_id": h.to_string()}),
                    );
                }
            }
            for (id, _, _) in trending.iter() {
                add(id, json!({"type": "popular_in_the_shop"}));
            }
        }
        sort_desc(&mut personal);
        let personal = List::new(personal, explain);
        let newest = self.raw(c, shop_id, ListKey::Newest, explain)?;
        // Products the size filter must look at: those the fallbacks could show now; the
        // request checks what the fallbacks hold later and these did not.
        let mut checked: Vec<i64> = personal.iter().map(|r| r.0).collect();
        for list in [&trending, &newest] {
            checked.extend(list.iter().map(|r| r.0));
        }
        checked.sort_unstable();
        checked.dedup();
        let unfit = if explicit.sizes.is_empty() {
            HashSet::new()
        } else {
            let details: HashMap<i64, &ProductInfo> = checked
                .iter()
                .filter_map(|id| cat.recommendable(*id).map(|p| (*id, p)))
                .collect();
            size_matches(c, shop_id, &details, &explicit.sizes)?
        };
        let mut sources: Vec<i64> = history.iter().chain(&viewed).copied().collect();
        sources.sort_unstable();
        sources.dedup();
        Ok(Personal {
            stamp,
            sources,
            explicit,
            purchased,
            list: personal,
            checked,
            unfit,
        })
    }
}
