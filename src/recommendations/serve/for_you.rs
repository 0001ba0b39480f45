//! `for_you` for a shopper who consented: their history leads the list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use diesel::prelude::*;
use serde_json::{Value, json};

use super::assemble::{Assembly, size_matches};
use super::catalogue::ProductInfo;
use super::lists::{List, ListKey};
use super::{Rec, Recommender, consent, sort_desc};
use crate::db::schema::{orders, rec_events, rec_order_contrib};
use crate::db::{DbConnection, now};
use crate::recommendations::model::{MAX_BASKET, feeds_model};
use crate::recommendations::scoring::{
    FOR_YOU_AFFINITY_WEIGHT, FOR_YOU_COMPLEMENT_WEIGHT, FOR_YOU_COMPLEMENTS, FOR_YOU_HISTORY,
    FOR_YOU_POPULARITY_WEIGHT, distribution, history_weights, type_shares,
};

impl Recommender {
    /// `for_you` with consent: the shopper's purchases and recent views/carts lead to their
    /// complements and similar products; explicit interests boost, explicit sizes filter.
    pub(super) fn for_you(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: i64,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        let explicit = consent::explicit(c, shop_id, customer)?;
        let their_orders: Vec<i64> = orders::table
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::customer_id.eq(customer))
            .order(orders::created_at.desc())
            .select(orders::order_id)
            .limit(MAX_BASKET as i64)
            .load(c)?;
        let bought: Vec<(String, i64)> = rec_order_contrib::table
            .filter(rec_order_contrib::shop_id.eq(shop_id))
            .filter(rec_order_contrib::order_id.eq_any(&their_orders))
            .filter(rec_order_contrib::redacted.eq(false))
            .order(rec_order_contrib::at_secs.desc())
            .select((rec_order_contrib::product_ids, rec_order_contrib::at_secs))
            .limit(MAX_BASKET as i64)
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
                purchased.insert(p);
                if !history.contains(&p) {
                    history.push(p);
                }
            }
        }
        for (p, kind, intent) in &seen {
            if feeds_model(kind, intent.as_deref()) && !history.contains(p) {
                history.push(*p);
            }
        }
        let history = super::wishlisted::lead_with_wishlist(c, shop_id, customer, history)?;
        let cat = self.catalogue(c, shop_id)?;
        // A mixture of three distributions over products (`scoring::for_you_scores`, the same
        // formula `atelier eval` measures): bought with (and, from storefront events, similar
        // to) the shopper's history, best sellers of their product types, best sellers of the
        // shop.
        let mut scores: BTreeMap<i64, (f64, Vec<Value>)> = BTreeMap::new();
        let recent: Vec<i64> = history.iter().take(FOR_YOU_HISTORY).copied().collect();
        let weights = history_weights(recent.len());
        let mut with_history: BTreeMap<i64, f64> = BTreeMap::new();
        for (&h, w) in recent.iter().zip(weights) {
            let comp = self.raw(c, shop_id, ListKey::Complementary(h), explain)?;
            for (id, score, _) in comp.iter().take(FOR_YOU_COMPLEMENTS) {
                *with_history.entry(id).or_default() += w * score;
                let e = scores.entry(id).or_default();
                if explain && e.1.len() < 3 {
                    e.1.push(json!({"type": "bought_with_your_history", "history_product_id": h.to_string()}));
                }
            }
            // Co-views and co-carts (not measurable offline: order files have no events) at
            // half the weight of co-purchases.
            let rel = self.raw(c, shop_id, ListKey::Related(h), explain)?;
            for (id, score, _) in rel.iter().take(FOR_YOU_COMPLEMENTS) {
                *with_history.entry(id).or_default() += 0.5 * w * score;
                let e = scores.entry(id).or_default();
                if explain && e.1.len() < 3 {
                    e.1.push(json!({"type": "similar_to_your_history", "history_product_id": h.to_string()}));
                }
            }
        }
        let with_history: Vec<(i64, f64)> = with_history.into_iter().collect();
        for (id, p) in distribution(&with_history) {
            scores.entry(id).or_default().0 += FOR_YOU_COMPLEMENT_WEIGHT * p;
        }
        // Category affinity: best sellers of the types the shopper buys and views.
        let kinds: Vec<Option<&str>> = recent
            .iter()
            .map(|p| cat.product(*p).map(|x| x.product_type.as_str()))
            .collect();
        for (kind, share) in type_shares(&kinds) {
            let list = self.raw(c, shop_id, ListKey::TypeTrending(kind.to_owned()), explain)?;
            let pairs: Vec<(i64, f64)> = list.iter().map(|(id, score, _)| (id, score)).collect();
            let reasons: HashMap<i64, &[Value]> = list.iter().map(|(id, _, r)| (id, r)).collect();
            for (id, p) in distribution(&pairs) {
                let e = scores.entry(id).or_default();
                e.0 += FOR_YOU_AFFINITY_WEIGHT * share * p;
                if e.1.len() < 3
                    && let Some(r) = reasons.get(&id)
                {
                    e.1.extend(r.iter().cloned());
                }
            }
        }
        // Best sellers of the shop.
        let trending = self.raw(c, shop_id, ListKey::Trending, explain)?;
        let pairs: Vec<(i64, f64)> = trending.iter().map(|(id, score, _)| (id, score)).collect();
        for (id, p) in distribution(&pairs) {
            let e = scores.entry(id).or_default();
            e.0 += FOR_YOU_POPULARITY_WEIGHT * p;
            if explain && e.1.len() < 3 {
                e.1.push(json!({"type": "popular_in_the_shop"}));
            }
        }
        let mut personal: Vec<Rec> = scores
            .into_iter()
            .filter(|(p, _)| !purchased.contains(p))
            .map(|(p, (score, reasons))| Rec {
                product_id: p,
                score,
                reasons,
            })
            .collect();
        sort_desc(&mut personal);
        let personal = List::Explained(Arc::new(personal));
        let settings = self.settings(c, shop_id)?;
        let newest = self.raw(c, shop_id, ListKey::Newest, explain)?;
        // Products the size filter must look at: those these lists could show.
        let unfit = if explicit.sizes.is_empty() {
            None
        } else {
            let mut need: Vec<i64> = settings
                .pinned
                .get(&product.unwrap_or(0))
                .cloned()
                .unwrap_or_default();
            for list in [&personal, &trending, &newest] {
                need.extend(list.iter().map(|r| r.0));
            }
            need.sort_unstable();
            need.dedup();
            let details: HashMap<i64, &ProductInfo> = need
                .iter()
                .filter_map(|id| cat.recommendable(*id).map(|p| (*id, p)))
                .collect();
            Some(size_matches(c, shop_id, &details, &explicit.sizes)?)
        };
        let mut a = Assembly::new(&cat, &settings, product, limit, explain);
        a.also_exclude(&purchased);
        a.personal(&explicit, unfit.as_ref());
        for (name, list) in [
            ("for_you", &personal),
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
}
