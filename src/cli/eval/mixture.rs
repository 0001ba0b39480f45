//! `for_you`'s previous formula (before the item-kNN over shoppers), kept in the evaluation so
//! a run shows both side by side: an equal mixture of "bought with your history" (basket
//! co-purchase), "best sellers of your product types" and "best sellers of the shop"
//! (`scoring::for_you_scores`).

use std::collections::HashMap;

use super::input::EvalOrder;
use crate::recommendations::scoring::{
    FOR_YOU_HISTORY, TREND_ORDER, for_you_scores, shrunk_cosine, trend_weight, type_shares,
};

const PAIR_CANDIDATES: usize = 300;
const LIST: usize = 100;

/// The co-purchase model of a set of orders, in memory.
#[derive(Default)]
pub struct Model {
    pub items: HashMap<i64, i64>,
    pub pairs: HashMap<i64, HashMap<i64, i64>>,
    pub trend: HashMap<i64, f64>,
    cache: HashMap<i64, Vec<(i64, f64)>>,
}

impl Model {
    pub fn learn(orders: &[&EvalOrder]) -> Model {
        let mut m = Model::default();
        for o in orders {
            for (i, &a) in o.basket.iter().enumerate() {
                *m.items.entry(a).or_default() += 1;
                *m.trend.entry(a).or_default() += trend_weight(TREND_ORDER, o.at);
                for &b in &o.basket[i + 1..] {
                    *m.pairs.entry(a).or_default().entry(b).or_default() += 1;
                    *m.pairs.entry(b).or_default().entry(a).or_default() += 1;
                }
            }
        }
        m
    }

    /// The server's complementary list: the strongest pairs by count, scored by shrunk cosine.
    pub fn complementary(&mut self, p: i64) -> &[(i64, f64)] {
        if !self.cache.contains_key(&p) {
            let np = self.items.get(&p).copied().unwrap_or(0);
            let mut pairs: Vec<(i64, i64)> = self
                .pairs
                .get(&p)
                .map(|m| m.iter().map(|(b, n)| (*b, *n)).collect())
                .unwrap_or_default();
            pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            pairs.truncate(PAIR_CANDIDATES);
            let mut scored: Vec<(i64, f64)> = pairs
                .into_iter()
                .map(|(b, n)| {
                    (
                        b,
                        shrunk_cosine(n, np, self.items.get(&b).copied().unwrap_or(0)),
                    )
                })
                .collect();
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            scored.truncate(LIST);
            self.cache.insert(p, scored);
        }
        &self.cache[&p]
    }

    pub fn ranked(map: &HashMap<i64, f64>) -> Vec<i64> {
        let mut v: Vec<(i64, f64)> = map.iter().map(|(p, s)| (*p, *s)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(p, _)| p).collect()
    }
}

/// The server's `for_you` scores of one shopper (history most recent first): complements of
/// the history, trending products of the history's product types (`type_trending`, the
/// server's per-type lists) and the shop's `trending` list, mixed by `scoring::for_you_scores`.
pub fn for_you(
    model: &mut Model,
    history: &[i64],
    types: Option<&HashMap<i64, String>>,
    type_trending: &HashMap<String, Vec<(i64, f64)>>,
    trending: &[(i64, f64)],
) -> HashMap<i64, f64> {
    let recent = &history[..history.len().min(FOR_YOU_HISTORY)];
    let lists: Vec<Vec<(i64, f64)>> = recent
        .iter()
        .map(|p| model.complementary(*p).to_vec())
        .collect();
    let lists: Vec<&[(i64, f64)]> = lists.iter().map(Vec::as_slice).collect();
    let history_types: Vec<Option<&str>> = recent
        .iter()
        .map(|p| types.and_then(|t| t.get(p)).map(String::as_str))
        .collect();
    let shares: Vec<(f64, &[(i64, f64)])> = type_shares(&history_types)
        .into_iter()
        .filter_map(|(t, s)| type_trending.get(t).map(|l| (s, l.as_slice())))
        .collect();
    for_you_scores(&lists, &shares, trending)
        .into_iter()
        .map(|(p, s)| (p, s.total()))
        .collect()
}
