//! How an answer is put together from candidate lists: pins, exclusions, availability,
//! interests and sizes, and the fallbacks that keep it full.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use serde_json::{Value, json};

use super::catalogue::{Catalogue, ProductInfo};
use super::lists::{List, ListKey};
use super::{Intent, Rec, consent, round, sort_desc};
use crate::db::DbConnection;
use crate::db::schema::product_variants;
use crate::recommendations::steering::Steering;

type VariantOptions = (i64, Option<String>, Option<String>, Option<String>);

/// The lists an answer is drawn from, in order: each only fills what the earlier ones left.
pub(super) fn chain(intent: Intent, product: Option<i64>) -> Vec<ListKey> {
    let mut keys = match (intent, product) {
        (Intent::Complementary, Some(p)) => vec![ListKey::Complementary(p), ListKey::Related(p)],
        (Intent::Related, Some(p)) => vec![ListKey::Related(p)],
        _ => vec![],
    };
    keys.extend([ListKey::Trending, ListKey::Newest]);
    keys
}

pub(super) fn key_name(key: &ListKey) -> &'static str {
    match key {
        ListKey::Complementary(_) => "complementary",
        ListKey::Related(_) => "related",
        ListKey::Similar(_) => "similar",
        ListKey::Trending => "trending",
        ListKey::Newest => "newest",
        ListKey::BestSellers => "best_sellers",
    }
}

/// An answer being put together: pins first, then each list of the chain in turn (a later list
/// only fills what the earlier ones left, its scores scaled below theirs), without the viewed
/// product, merchant exclusions, products that may not be recommended (now), duplicates, or
/// (with explicit preferences) products not available in the shopper's size.
pub(super) struct Assembly<'a> {
    cat: &'a Catalogue,
    settings: &'a Steering,
    product: Option<i64>,
    limit: usize,
    explain: bool,
    also_excluded: Option<&'a HashSet<i64>>,
    explicit: Option<&'a consent::Explicit>,
    unfit: Option<&'a HashSet<i64>>,
    /// Whose pins lead the answer: the viewed product's, or a cart's products' (in cart order).
    pin_sources: Option<&'a [i64]>,
    taken: HashSet<i64>,
    pub(super) out: Vec<Rec>,
    ceiling: Option<f64>,
    level: usize,
    pins_done: bool,
}

impl<'a> Assembly<'a> {
    pub(super) fn new(
        cat: &'a Catalogue,
        settings: &'a Steering,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> Self {
        Assembly {
            cat,
            settings,
            product,
            limit,
            explain,
            also_excluded: None,
            explicit: None,
            unfit: None,
            pin_sources: None,
            taken: HashSet::new(),
            out: Vec::with_capacity(limit),
            ceiling: None,
            level: 0,
            pins_done: false,
        }
    }

    /// The pins of these products lead the answer (a cart's), instead of the viewed product's.
    pub(super) fn pins_of(&mut self, products: &'a [i64]) {
        self.pin_sources = Some(products);
    }

    pub(super) fn also_exclude(&mut self, ids: &'a HashSet<i64>) {
        self.also_excluded = Some(ids);
    }

    pub(super) fn personal(
        &mut self,
        explicit: &'a consent::Explicit,
        unfit: Option<&'a HashSet<i64>>,
    ) {
        self.explicit = Some(explicit);
        self.unfit = unfit;
    }

    pub(super) fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    fn allowed(&self, id: i64) -> bool {
        Some(id) != self.product
            && !self.settings.excluded_everywhere.contains(&id)
            && !self
                .product
                .and_then(|p| self.settings.excluded.get(&p))
                .is_some_and(|ex| ex.contains(&id))
            && !self.also_excluded.is_some_and(|ex| ex.contains(&id))
            && !self.unfit.is_some_and(|u| u.contains(&id))
            && !self.taken.contains(&id)
            && self.cat.recommendable(id).is_some()
    }

    fn pins(&mut self) {
        self.pins_done = true;
        let sources: Vec<i64> = match self.pin_sources {
            Some(products) => products.to_vec(),
            None => self.product.into_iter().collect(),
        };
        let pins: Vec<i64> = sources
            .iter()
            .filter_map(|p| self.settings.pinned.get(p))
            .flatten()
            .copied()
            .collect();
        let n = pins.len();
        for (i, pin) in pins.into_iter().enumerate() {
            if self.full() {
                break;
            }
            if self.allowed(pin) {
                self.taken.insert(pin);
                self.out.push(Rec {
                    product_id: pin,
                    score: round(1.0 + (n - i) as f64 * 0.001),
                    reasons: if self.explain {
                        vec![json!({"type": "pinned", "by": "merchant"})]
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    pub(super) fn add(&mut self, name: &'static str, list: &List) {
        if !self.pins_done {
            self.pins();
        }
        let level = self.level;
        self.level += 1;
        if self.full() {
            return;
        }
        let explain = self.explain;
        let rec = |(id, score, reasons): (i64, f64, &[Value])| Rec {
            product_id: id,
            score,
            reasons: if explain {
                reasons.to_vec()
            } else {
                Vec::new()
            },
        };
        let interests = self
            .explicit
            .filter(|e| !e.interests.is_empty() || !e.tastes.is_empty());
        let mut items: Vec<Rec> = Vec::new();
        if let Some(e) = interests {
            // What the shopper said they like comes before what the data alone suggests, within
            // each list: matching products are lifted above the list's best score.
            items = list.iter().filter(|r| self.allowed(r.0)).map(rec).collect();
            let top = items.iter().map(|r| r.score).fold(0.0f64, f64::max);
            for r in &mut items {
                if let Some(d) = self.cat.recommendable(r.product_id) {
                    let matched: Vec<&String> =
                        e.interests.iter().filter(|k| d.has_interest(k)).collect();
                    // Answers to the merchant's questions that name a product tag.
                    let tasted: Vec<&String> =
                        e.tastes.iter().filter(|k| d.has_interest(k)).collect();
                    if !matched.is_empty() || !tasted.is_empty() {
                        r.score = r.score * 1.5 + top;
                        if explain && !matched.is_empty() {
                            r.reasons
                                .push(json!({"type": "interest", "interests": matched}));
                        }
                        if explain && !tasted.is_empty() {
                            r.reasons.push(json!({"type": "answer", "tags": tasted}));
                        }
                    }
                }
            }
            sort_desc(&mut items);
        } else {
            // Lists are sorted: only as many as still fit are looked at.
            let want = self.limit - self.out.len();
            for r in list.iter() {
                if items.len() == want {
                    break;
                }
                if self.allowed(r.0) && !items.iter().any(|x| x.product_id == r.0) {
                    items.push(rec(r));
                }
            }
        }
        let max = items.first().map_or(0.0, |r| r.score);
        let scale = match self.ceiling {
            Some(ceil) if max > 0.0 => ceil * 0.9 / max,
            _ => 1.0,
        };
        for mut r in items {
            if self.full() {
                break;
            }
            if !self.taken.insert(r.product_id) {
                continue;
            }
            r.score = round(r.score * scale).max(0.0001);
            if level > 0 && self.explain {
                r.reasons.push(json!({"type": "fallback", "list": name}));
            }
            self.out.push(r);
        }
        if let Some(last) = self.out.last() {
            self.ceiling = Some(last.score);
        }
    }
}

/// The candidates NOT available in the shopper's size: a product whose size category the
/// shopper gave a size for matches when one of its available variants has that size as
/// option1, option2 or option3 (case-insensitive).
pub(super) fn size_matches(
    c: &mut DbConnection,
    shop_id: &str,
    details: &HashMap<i64, &ProductInfo>,
    sizes: &BTreeMap<String, String>,
) -> QueryResult<HashSet<i64>> {
    let sizes: BTreeMap<String, String> = sizes
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.trim().to_lowercase()))
        .collect();
    let sized: HashMap<i64, &String> = details
        .values()
        .filter_map(|p| sizes.get(&p.size_category()).map(|s| (p.product_id, s)))
        .collect();
    if sized.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<i64> = sized.keys().copied().collect();
    let mut fitting: HashSet<i64> = HashSet::new();
    for chunk in ids.chunks(900) {
        let rows: Vec<VariantOptions> = product_variants::table
            .filter(product_variants::shop_id.eq(shop_id))
            .filter(product_variants::product_id.eq_any(chunk))
            .filter(product_variants::available.eq(true))
            .select((
                product_variants::product_id,
                product_variants::option1,
                product_variants::option2,
                product_variants::option3,
            ))
            .load(c)?;
        for (p, o1, o2, o3) in rows {
            let want = sized[&p];
            if [o1, o2, o3]
                .iter()
                .flatten()
                .any(|o| o.trim().to_lowercase() == *want)
            {
                fitting.insert(p);
            }
        }
    }
    Ok(ids.into_iter().filter(|p| !fitting.contains(p)).collect())
}
