//! Offline evaluation (`atelier eval --orders FILE.jsonl [--products FILE.jsonl] --k 10`).
//!
//! Orders (the `orders/create` shape, one per line) are sorted by `created_at`; the last 20 %
//! are held out. The model is learned from the first 80 % with the same basket rules
//! (`model::basket_of_lines`) and the same scores (`scoring`) as the server:
//!
//! - `complementary`: for each held-out basket of two or more products, one product (chosen by
//!   a fixed seed) is hidden and predicted from the others (sum of their complementary lists,
//!   then trending to fill, as the server falls back).
//! - `for_you`: each customer's held-out purchases (products they had not bought before) are
//!   predicted from their earlier purchases with the server's `scoring::for_you_scores` (an
//!   equal mixture of the complements of their last 20 products, the trending products of
//!   their product types and the shop's trending products, each a distribution), then
//!   trending to fill, excluding what they already bought.
//!
//! Next to each, a plain popularity baseline: the k best-selling products of the training
//! period (excluding the basket's other products / the customer's purchases). Metrics at k:
//! `hit_rate` (share of cases with a held-out product in the top k), `ndcg` (binary relevance)
//! and `coverage` (distinct recommended products / catalogue size). The offline for_you uses no
//! events or explicit preferences (order files have none).

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::flag;
use crate::recommendations::model::{BasketLine, basket_of_lines};
use crate::recommendations::scoring::{
    FOR_YOU_HISTORY, TREND_ORDER, for_you_scores, shrunk_cosine, trend_weight, type_shares,
};
use crate::shopify::payload::{OrderPayload, parse_time};

const PAIR_CANDIDATES: usize = 300;
const LIST: usize = 100;

#[derive(Debug, Clone)]
pub struct EvalOrder {
    pub at: i64,
    pub customer: Option<i64>,
    pub basket: Vec<i64>,
}

/// One `orders/create` payload as the model sees it (`None` when unreadable).
pub fn parse_order(line: &str) -> Option<EvalOrder> {
    let p: OrderPayload = serde_json::from_str(line).ok()?;
    let currency = p
        .currency
        .clone()
        .filter(|c| c.len() == 3)
        .unwrap_or_else(|| "USD".into());
    let at = p
        .created_at
        .as_deref()
        .or(p.updated_at.as_deref())
        .and_then(parse_time)?;
    let mut refunded: HashMap<i64, i64> = HashMap::new();
    for r in p.refunds.iter().flat_map(|r| &r.refund_line_items) {
        *refunded.entry(r.line_item_id).or_default() += r.quantity;
    }
    let lines: Vec<BasketLine> = p
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| BasketLine {
            product_id: l.product_id,
            position: i as i32,
            remaining: l
                .current_quantity
                .unwrap_or(l.quantity)
                .min(l.quantity - refunded.get(&l.id).copied().unwrap_or(0)),
            price_cents: crate::money::parse_minor_json(&l.price, &currency).unwrap_or(0),
            gift_card: l.gift_card,
            fee: l
                .properties
                .iter()
                .any(|p| p.name == crate::personalization::verify::FEE_PROPERTY),
        })
        .collect();
    let (basket, _) = basket_of_lines(p.cancelled_at.is_some() || p.test, &lines);
    Some(EvalOrder {
        at: crate::recommendations::model::unix(at),
        customer: p.customer.and_then(|c| c.id),
        basket,
    })
}

/// The co-purchase model of a set of orders, in memory.
#[derive(Default)]
pub struct Model {
    pub items: HashMap<i64, i64>,
    pub pairs: HashMap<i64, HashMap<i64, i64>>,
    pub trend: HashMap<i64, f64>,
    cache: HashMap<i64, Vec<(i64, f64)>>,
}

impl Model {
    pub fn learn(orders: &[EvalOrder]) -> Model {
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

    fn ranked(map: &HashMap<i64, f64>) -> Vec<i64> {
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

/// Scores in order, then `fill` for what is left, skipping `exclude`, `k` products.
fn top_k(scores: &HashMap<i64, f64>, fill: &[i64], exclude: &HashSet<i64>, k: usize) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(k);
    for p in Model::ranked(scores)
        .into_iter()
        .chain(fill.iter().copied())
    {
        if out.len() == k {
            break;
        }
        if !exclude.contains(&p) && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[derive(Default)]
struct Metric {
    cases: u64,
    hits: u64,
    ndcg: f64,
    shown: HashSet<i64>,
}

impl Metric {
    fn add(&mut self, list: &[i64], relevant: &HashSet<i64>, k: usize) {
        self.cases += 1;
        let mut dcg = 0.0;
        for (rank, p) in list.iter().enumerate() {
            if relevant.contains(p) {
                dcg += 1.0 / ((rank + 2) as f64).log2();
            }
        }
        let ideal: f64 = (0..relevant.len().min(k))
            .map(|r| 1.0 / ((r + 2) as f64).log2())
            .sum();
        if dcg > 0.0 {
            self.hits += 1;
        }
        if ideal > 0.0 {
            self.ndcg += dcg / ideal;
        }
        self.shown.extend(list.iter().copied());
    }

    fn json(&self, catalogue: usize) -> Value {
        let n = self.cases.max(1) as f64;
        json!({
            "hit_rate": round(self.hits as f64 / n),
            "ndcg": round(self.ndcg / n),
            "coverage": round(self.shown.len() as f64 / catalogue.max(1) as f64),
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Evaluates a list of orders; `types` maps product ids to their product type when a
/// catalogue is given (it sizes `coverage` and lets `for_you` use category affinity).
pub fn evaluate(
    mut orders: Vec<EvalOrder>,
    types: Option<&HashMap<i64, String>>,
    k: usize,
) -> Value {
    orders.retain(|o| !o.basket.is_empty());
    orders.sort_by_key(|o| o.at);
    let split = orders.len() * 4 / 5;
    let (train, test) = orders.split_at(split);
    let catalogue = types.map(HashMap::len).unwrap_or_else(|| {
        orders
            .iter()
            .flat_map(|o| o.basket.iter())
            .collect::<HashSet<_>>()
            .len()
    });
    let mut model = Model::learn(train);
    let trending: Vec<i64> = Model::ranked(&model.trend)
        .into_iter()
        .take(LIST + 50)
        .collect();
    // The server's shop trending list (`trending_raw`: the top 100 by decayed popularity).
    let shop_trending: Vec<(i64, f64)> = trending
        .iter()
        .take(LIST)
        .map(|p| (*p, model.trend[p]))
        .collect();
    let popular: Vec<i64> = {
        let counts: HashMap<i64, f64> = model.items.iter().map(|(p, n)| (*p, *n as f64)).collect();
        Model::ranked(&counts).into_iter().take(LIST + 50).collect()
    };
    let empty = HashMap::new();
    let mut rng = StdRng::seed_from_u64(7);
    // Trending products per product type (the server's per-type trending lists).
    let mut type_trending: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
    if let Some(types) = types {
        for p in Model::ranked(&model.trend) {
            if let Some(t) = types.get(&p) {
                let list = type_trending.entry(t.clone()).or_default();
                if list.len() < crate::recommendations::serve::TYPE_TRENDING {
                    list.push((p, model.trend[&p]));
                }
            }
        }
    }

    let (mut comp, mut comp_base) = (Metric::default(), Metric::default());
    for o in test.iter().filter(|o| o.basket.len() >= 2) {
        let hidden = o.basket[rng.random_range(0..o.basket.len())];
        let context: HashSet<i64> = o.basket.iter().copied().filter(|p| *p != hidden).collect();
        let mut scores: HashMap<i64, f64> = HashMap::new();
        for &r in &context {
            for &(c, s) in model.complementary(r) {
                *scores.entry(c).or_default() += s;
            }
        }
        let relevant: HashSet<i64> = [hidden].into();
        comp.add(&top_k(&scores, &trending, &context, k), &relevant, k);
        comp_base.add(&top_k(&empty, &popular, &context, k), &relevant, k);
    }

    // Each customer's history (most recent first) and later purchases.
    let mut history: HashMap<i64, Vec<i64>> = HashMap::new();
    for o in train.iter().rev() {
        if let Some(c) = o.customer {
            let h = history.entry(c).or_default();
            for &p in &o.basket {
                if !h.contains(&p) {
                    h.push(p);
                }
            }
        }
    }
    let mut later: HashMap<i64, HashSet<i64>> = HashMap::new();
    for o in test {
        if let Some(c) = o.customer {
            later.entry(c).or_default().extend(o.basket.iter().copied());
        }
    }
    let (mut you, mut you_base) = (Metric::default(), Metric::default());
    let mut customers: Vec<i64> = later.keys().copied().collect();
    customers.sort_unstable();
    for c in customers {
        let Some(h) = history.get(&c) else { continue };
        let bought: HashSet<i64> = h.iter().copied().collect();
        let relevant: HashSet<i64> = later[&c].difference(&bought).copied().collect();
        if relevant.is_empty() {
            continue;
        }
        let scores = for_you(&mut model, h, types, &type_trending, &shop_trending);
        you.add(&top_k(&scores, &trending, &bought, k), &relevant, k);
        you_base.add(&top_k(&empty, &popular, &bought, k), &relevant, k);
    }
    let lift = |a: &Metric, b: &Metric| {
        let (a, b) = (
            a.hits as f64 / a.cases.max(1) as f64,
            b.hits as f64 / b.cases.max(1) as f64,
        );
        if b > 0.0 { round(a / b) } else { 0.0 }
    };
    json!({
        "k": k,
        "orders": orders.len(),
        "train_orders": train.len(),
        "test_orders": test.len(),
        "catalogue": catalogue,
        "complementary": {
            "cases": comp.cases,
            "model": comp.json(catalogue),
            "popularity_baseline": comp_base.json(catalogue),
            "hit_rate_ratio": lift(&comp, &comp_base),
        },
        "for_you": {
            "cases": you.cases,
            "model": you.json(catalogue),
            "popularity_baseline": you_base.json(catalogue),
            "hit_rate_ratio": lift(&you, &you_base),
        },
    })
}

/// The `eval` subcommand.
pub fn command(args: &[String]) -> anyhow::Result<()> {
    let path =
        flag(args, "--orders").ok_or_else(|| anyhow::anyhow!("--orders FILE.jsonl is required"))?;
    let k: usize = match flag(args, "--k") {
        None => 10,
        Some(v) => v
            .parse()
            .ok()
            .filter(|k| (1..=100).contains(k))
            .ok_or_else(|| anyhow::anyhow!("--k must be a number from 1 to 100"))?,
    };
    let types: Option<HashMap<i64, String>> = match flag(args, "--products") {
        None => None,
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|e| anyhow::anyhow!("cannot open {p}: {e}"))?;
            let mut types = HashMap::new();
            for line in std::io::BufReader::new(f).lines() {
                let line = line?;
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(id) = crate::shopify::payload::parse_id(&v["id"]) {
                    types.insert(
                        id,
                        v["product_type"]
                            .as_str()
                            .unwrap_or("")
                            .trim()
                            .to_lowercase(),
                    );
                }
            }
            Some(types)
        }
    };
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
    let mut orders = Vec::new();
    let mut unreadable = 0u64;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_order(&line) {
            Some(o) => orders.push(o),
            None => unreadable += 1,
        }
    }
    let mut out = evaluate(orders, types.as_ref(), k);
    out["unreadable_lines"] = json!(unreadable);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `eval` at k = 10 on a synthetic store, with product types (each product's category).
    fn evaluate_synthetic(products: usize, orders: usize, seed: u64) -> Value {
        let store = crate::cli::synth::generate(products, orders, seed);
        let orders: Vec<EvalOrder> = store
            .orders
            .iter()
            .map(|o| parse_order(&o.payload(&store).to_string()).unwrap())
            .collect();
        let types: HashMap<i64, String> = store
            .products
            .iter()
            .map(|p| (p.id, format!("category {}", p.category)))
            .collect();
        evaluate(orders, Some(&types), 10)
    }

    #[test]
    fn the_model_beats_popularity_on_a_synthetic_store() {
        let r = evaluate_synthetic(2_000, 10_000, 3);
        for intent in ["complementary", "for_you"] {
            let m = r[intent]["model"]["hit_rate"].as_f64().unwrap();
            let b = r[intent]["popularity_baseline"]["hit_rate"]
                .as_f64()
                .unwrap();
            assert!(m >= 2.0 * b, "{intent}: {r}");
        }
    }

    #[test]
    fn for_you_beats_best_sellers_on_a_small_dense_store() {
        // The benchmark's s3: 500 products in 5 categories, 20,000 orders. Best sellers are
        // most shoppers' next purchase there; the personal mixture must still do better.
        let r = evaluate_synthetic(500, 20_000, 3);
        let metric = |of: &str, name: &str| r["for_you"][of][name].as_f64().unwrap();
        for name in ["hit_rate", "ndcg"] {
            assert!(
                metric("model", name) > metric("popularity_baseline", name),
                "{name}: {r}"
            );
        }
    }
}
