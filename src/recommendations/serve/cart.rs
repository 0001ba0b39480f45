//! `cart`: what completes the whole cart, for cart drawers, cart pages and upsells. The
//! complementary (bought together) lists of every cart product are combined: a product bought
//! with several of the cart's items ranks above one bought with a single item, and among those
//! that complement as many items, the stronger co-purchase ranks first. Nothing already in the
//! cart is shown (a product id covers all its variants).
//!
//! The cart is what the shopper is doing right now, not stored history, so the list needs no
//! personalization consent; a logged-in shopper's stated sizes and interests only count with it.

use std::collections::{HashMap, HashSet};

use diesel::QueryResult;
use serde_json::{Value, json};

use super::assemble::{Assembly, size_matches};
use super::catalogue::{Catalogue, ProductInfo};
use super::lists::{List, ListKey};
use super::{Rec, Recommender, consent, round, sort_desc};
use crate::db::DbConnection;
use crate::recommendations::steering::Steering;

/// The most distinct products a cart request may name.
pub const MAX_CART: usize = 50;

/// `(cart product, its complementary list)` for the cart products Atelier knows.
type CartLists = Vec<(i64, List)>;

/// The cart's products Atelier knows (a product it never saw has no complements, and reading
/// its list would only fill the cache), sorted: the combined list depends on the set alone.
fn known(cat: &Catalogue, cart: &[i64]) -> Vec<i64> {
    let mut ids: Vec<i64> = cart
        .iter()
        .copied()
        .filter(|p| cat.product(*p).is_some())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One list from the complementary lists of the cart's products. The score is
/// `(k + mean) / (K + 1)`: `k` the number of cart items the candidate complements, `mean` its
/// average co-purchase score with them (shrunk cosine, below 1), `K` the largest `k`; so more
/// complemented items always rank first, then the stronger complement.
pub(super) fn combine(lists: &[(i64, List)], cart: &HashSet<i64>, explain: bool) -> List {
    // candidate → (cart items it complements, sum of scores, their reasons)
    let mut by: HashMap<i64, (Vec<i64>, f64, Vec<Value>)> = HashMap::new();
    for (anchor, list) in lists {
        for (id, score, reasons) in list.iter() {
            if cart.contains(&id) {
                continue;
            }
            let e = by.entry(id).or_default();
            e.0.push(*anchor);
            e.1 += score;
            if explain {
                for r in reasons {
                    let mut r = r.clone();
                    r["cart_product_id"] = json!(anchor.to_string());
                    e.2.push(r);
                }
            }
        }
    }
    let most = by.values().map(|e| e.0.len()).max().unwrap_or(1) as f64;
    let mut out: Vec<Rec> = by
        .into_iter()
        .map(|(id, (anchors, sum, mut why))| {
            let k = anchors.len();
            let mean = (sum / k as f64).min(0.999);
            let reasons = if explain {
                let mut r = vec![json!({
                    "type": "complements_cart",
                    "items": k,
                    "cart_product_ids": anchors.iter().map(i64::to_string).collect::<Vec<_>>(),
                    "text": format!(
                        "complements {k} item{} in the cart",
                        if k == 1 { "" } else { "s" }
                    ),
                })];
                r.append(&mut why);
                r
            } else {
                Vec::new()
            };
            Rec {
                product_id: id,
                score: round((k as f64 + mean) / (most + 1.0)).max(0.0001),
                reasons,
            }
        })
        .collect();
    sort_desc(&mut out);
    List::new(out, explain)
}

/// What the cart's answer leaves out besides unavailable products: the cart itself and what
/// the merchant excluded next to any of its products.
fn left_out(settings: &Steering, cart: &[i64]) -> HashSet<i64> {
    let mut out: HashSet<i64> = cart.iter().copied().collect();
    for p in cart {
        if let Some(ex) = settings.excluded.get(p) {
            out.extend(ex.iter().copied());
        }
    }
    out
}

impl Recommender {
    /// The cart's answer from memory alone, when every list it needs is cached (an anonymous
    /// shopper: a logged-in one's consent is read on every request).
    pub fn cached_cart(
        &self,
        shop_id: &str,
        cart: &[i64],
        customer: Option<i64>,
        limit: usize,
    ) -> Option<Vec<Rec>> {
        if customer.is_some() {
            return None;
        }
        self.apply_local();
        if !self.versions_fresh(shop_id) {
            return None;
        }
        let settings = self.settings.get(shop_id)?;
        let cat = self.cached_catalogue(shop_id)?;
        let mut lists: CartLists = Vec::new();
        for p in known(&cat, cart) {
            lists.push((p, self.cached_raw(shop_id, ListKey::Complementary(p))?));
        }
        let trending = self.cached_raw(shop_id, ListKey::Trending)?;
        let newest = self.cached_raw(shop_id, ListKey::Newest)?;
        let combined = combine(&lists, &cart.iter().copied().collect(), false);
        let excluded = left_out(&settings, cart);
        let mut a = Assembly::new(&cat, &settings, None, limit, false);
        a.pins_of(cart);
        a.also_exclude(&excluded);
        for (name, list) in [
            ("cart", &combined),
            ("trending", &trending),
            ("newest", &newest),
        ] {
            if a.full() {
                break;
            }
            a.add(name, list);
        }
        Some(a.out)
    }

    /// `cart`: complements of the whole cart (`cart` in the shopper's cart order: pins of its
    /// products lead, in that order), then the shop's best sellers (trending), then the newest
    /// products; an empty or unknown cart gets the latter two. With `explain`, reasons.
    pub fn recommend_cart(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        cart: &[i64],
        customer: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        self.apply_local();
        self.poll(c, shop_id)?;
        let settings = self.settings(c, shop_id)?;
        let cat = self.catalogue(c, shop_id)?;
        let mut lists: CartLists = Vec::new();
        for p in known(&cat, cart) {
            lists.push((p, self.raw(c, shop_id, ListKey::Complementary(p), explain)?));
        }
        let trending = self.raw(c, shop_id, ListKey::Trending, explain)?;
        let newest = self.raw(c, shop_id, ListKey::Newest, explain)?;
        let combined = combine(&lists, &cart.iter().copied().collect(), explain);
        // Stated sizes and interests: only with consent (`explicit` is empty without it).
        let explicit = match customer {
            Some(customer) => consent::explicit(c, shop_id, customer)?,
            None => Default::default(),
        };
        let unfit = if explicit.sizes.is_empty() {
            None
        } else {
            let mut need: Vec<i64> = cart
                .iter()
                .filter_map(|p| settings.pinned.get(p))
                .flatten()
                .copied()
                .collect();
            for list in [&combined, &trending, &newest] {
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
        let excluded = left_out(&settings, cart);
        let mut a = Assembly::new(&cat, &settings, None, limit, explain);
        a.pins_of(cart);
        a.also_exclude(&excluded);
        a.personal(&explicit, unfit.as_ref());
        for (name, list) in [
            ("cart", &combined),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn list(entries: &[(i64, f64)]) -> List {
        List::Explained(Arc::new(
            entries
                .iter()
                .map(|&(product_id, score)| Rec {
                    product_id,
                    score,
                    reasons: Vec::new(),
                })
                .collect(),
        ))
    }

    #[test]
    fn more_complemented_items_rank_first_then_the_stronger_complement() {
        let lists = vec![
            (1, list(&[(10, 0.9), (11, 0.2), (2, 0.8)])),
            (2, list(&[(11, 0.1), (12, 0.3), (1, 0.8)])),
            (3, list(&[(11, 0.1), (12, 0.2)])),
        ];
        let cart: HashSet<i64> = [1, 2, 3].into();
        let out: Vec<(i64, f64)> = combine(&lists, &cart, true)
            .iter()
            .map(|(id, s, _)| (id, s))
            .collect();
        let ids: Vec<i64> = out.iter().map(|x| x.0).collect();
        // 11 complements three items, 12 two, 10 one (however strong); no cart product.
        assert_eq!(ids, vec![11, 12, 10]);
        assert!(out.windows(2).all(|w| w[0].1 > w[1].1), "{out:?}");
        assert!(out.iter().all(|x| x.1 > 0.0 && x.1 < 1.0), "{out:?}");
        let explained = combine(&lists, &cart, true);
        let (_, _, reasons) = explained.at(0);
        assert_eq!(reasons[0]["text"], "complements 3 items in the cart");
    }
}
