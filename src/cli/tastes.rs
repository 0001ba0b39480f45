//! A second store generator with a different story from `synth`, so the offline evaluation is
//! not graded only on data shaped like the model's own assumptions
//! (`atelier synth --model tastes --shape NAME …`).
//!
//! - **Catalogue**: items with a latent taste vector (d = 8, Gaussian) and a Zipf popularity
//!   bias (exponent per shape: a flat long tail or a strong head). An item's product type is
//!   its dominant taste dimension; a quarter of the types are apparel, sold in sizes S–XL with
//!   some sizes out of stock.
//! - **Shoppers**: a taste vector concentrated on one or two dimensions, a clothing size, and a
//!   number of orders drawn from a geometric distribution (the shape sets how many come back).
//! - **Orders**: each item is drawn with probability ∝ popularity × exp(τ · taste · item),
//!   seasonal types more likely near their peak month, apparel only when the shopper's size is
//!   in stock; a shopper's taste drifts a little after every order (recent purchases say more
//!   than old ones). Baskets hold 1 + Poisson(λ) items. There are no planted complement pairs.
//!
//! Nothing here is shared with `synth`: the two must stay independent stories.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DIMS: usize = 8;
const SIZES: [&str; 4] = ["S", "M", "L", "XL"];
const T0: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
const SPAN: i64 = 365 * 86_400;
const PRODUCT_BASE: i64 = 3_100_000_000;
const ORDER_BASE: i64 = 4_100_000_000;
const CUSTOMER_BASE: i64 = 6_100_000_000;

/// The knobs of one store shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub items: usize,
    pub shoppers: usize,
    /// Mean orders per shopper (geometric, at least one).
    pub mean_orders: f64,
    /// Zipf exponent of item popularity.
    pub zipf: f64,
    /// How strongly taste decides (higher: more personal, less popularity-driven).
    pub taste: f64,
    /// Mean extra items per basket.
    pub basket: f64,
    /// 0: no seasons; 1: a type sells up to 4× more at its peak than at its trough.
    pub season: f64,
    /// Share of product types sold in sizes.
    pub apparel: f64,
}

/// The named shapes the evaluation reports.
pub fn shape(name: &str) -> Option<Shape> {
    let s = |items, shoppers, mean_orders, zipf, taste, basket, season, apparel| Shape {
        items,
        shoppers,
        mean_orders,
        zipf,
        taste,
        basket,
        season,
        apparel,
    };
    Some(match name {
        // A small catalogue bought over and over by loyal shoppers.
        "dense" => s(400, 2_500, 8.0, 1.0, 1.5, 1.0, 0.0, 0.0),
        // A big catalogue with a flat long tail: most items sell a handful of times.
        "longtail" => s(6_000, 8_000, 3.0, 0.5, 2.0, 0.6, 0.0, 0.0),
        // Mostly one-time buyers.
        "onetime" => s(3_000, 15_000, 1.3, 0.9, 1.5, 1.2, 0.0, 0.0),
        // Strong seasons, apparel in sizes, regulars.
        "seasonal" => s(2_000, 4_000, 5.0, 0.8, 1.5, 0.8, 1.0, 0.5),
        _ => return None,
    })
}

pub const SHAPES: [&str; 4] = ["dense", "longtail", "onetime", "seasonal"];

/// A shape drawn from a seed (for the store looked at only once).
pub fn random_shape(seed: u64) -> Shape {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_5eed);
    Shape {
        items: rng.random_range(300..5_000),
        shoppers: rng.random_range(1_500..10_000),
        mean_orders: rng.random_range(1.2..8.0),
        zipf: rng.random_range(0.4..1.2),
        taste: rng.random_range(0.5..2.5),
        basket: rng.random_range(0.2..1.5),
        season: rng.random_range(0.0..1.0),
        apparel: rng.random_range(0.0..0.6),
    }
}

pub struct Item {
    pub id: i64,
    pub kind: usize,
    pub apparel: bool,
    /// In stock per size (apparel only).
    pub stock: [bool; 4],
    pub price_cents: i64,
}

pub struct Purchase {
    pub id: i64,
    pub customer: i64,
    pub at: i64,
    /// `(item index, size index)`; the size is meaningful for apparel.
    pub lines: Vec<(usize, usize)>,
}

pub struct TasteStore {
    pub items: Vec<Item>,
    pub orders: Vec<Purchase>,
    /// Each shopper's true size (index into S–XL).
    pub sizes: Vec<usize>,
}

fn gauss(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u: f64 = rng.random_range(1e-12..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

fn poisson(rng: &mut StdRng, mean: f64) -> usize {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p: f64 = rng.random();
    while p > limit && k < 30 {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

fn draw(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let x = rng.random::<f64>() * cumulative.last().copied().unwrap_or(0.0);
    cumulative
        .partition_point(|c| *c < x)
        .min(cumulative.len().saturating_sub(1))
}

pub fn generate(shape: Shape, seed: u64) -> TasteStore {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = shape.items.max(2);
    let vectors: Vec<[f64; DIMS]> = (0..n)
        .map(|_| std::array::from_fn(|_| gauss(&mut rng)))
        .collect();
    // Popularity: a random permutation of Zipf ranks.
    let mut ranks: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        ranks.swap(i, rng.random_range(0..=i));
    }
    let bias: Vec<f64> = ranks
        .iter()
        .map(|r| ((r + 1) as f64).powf(-shape.zipf))
        .collect();
    let apparel_kinds = ((DIMS as f64) * shape.apparel).round() as usize;
    let items: Vec<Item> = (0..n)
        .map(|i| {
            let v = &vectors[i];
            let kind = (0..DIMS)
                .max_by(|a, b| v[*a].total_cmp(&v[*b]))
                .unwrap_or(0);
            let apparel = kind < apparel_kinds;
            Item {
                id: PRODUCT_BASE + i as i64,
                kind,
                apparel,
                stock: std::array::from_fn(|_| !apparel || rng.random::<f64>() > 0.3),
                price_cents: rng.random_range(3..150) * 100 + 50,
            }
        })
        .collect();
    let peak: Vec<f64> = (0..DIMS).map(|_| rng.random::<f64>()).collect();
    let mut orders = Vec::new();
    let mut sizes = Vec::with_capacity(shape.shoppers);
    let mut next_order = 0i64;
    for s in 0..shape.shoppers {
        let size = rng.random_range(0..SIZES.len());
        sizes.push(size);
        let mut taste = [0.0f64; DIMS];
        let main = rng.random_range(0..DIMS);
        taste[main] = 1.0 + 0.3 * gauss(&mut rng);
        if rng.random::<f64>() < 0.5 {
            taste[rng.random_range(0..DIMS)] += 0.7;
        }
        for t in &mut taste {
            *t += 0.15 * gauss(&mut rng);
        }
        // Geometric number of orders with the shape's mean.
        let p = 1.0 / shape.mean_orders.max(1.0);
        let mut count = 1;
        while rng.random::<f64>() > p && count < 200 {
            count += 1;
        }
        let first = T0 + rng.random_range(0..SPAN);
        let mut times: Vec<i64> = (0..count)
            .map(|i| {
                if i == 0 {
                    first
                } else {
                    T0 + rng.random_range(0..SPAN)
                }
            })
            .collect();
        times.sort_unstable();
        for at in times {
            let weights: Vec<f64> = {
                let mut sum = 0.0;
                vectors
                    .iter()
                    .zip(&bias)
                    .map(|(v, b)| {
                        let dot: f64 = v.iter().zip(&taste).map(|(a, b)| a * b).sum();
                        sum += b * (shape.taste * dot).clamp(-30.0, 30.0).exp();
                        sum
                    })
                    .collect()
            };
            let phase = (at - T0) as f64 / SPAN as f64;
            let want = 1 + poisson(&mut rng, shape.basket);
            let mut lines: Vec<(usize, usize)> = Vec::new();
            let mut tries = 0;
            while lines.len() < want && tries < 50 {
                tries += 1;
                let i = draw(&mut rng, &weights);
                let it = &items[i];
                let season = 1.0
                    + 0.6
                        * shape.season
                        * (2.0 * std::f64::consts::PI * (phase - peak[it.kind])).cos();
                if rng.random::<f64>() * (1.0 + 0.6 * shape.season) > season {
                    continue;
                }
                if it.apparel && !it.stock[size] {
                    continue;
                }
                if !lines.iter().any(|l| l.0 == i) {
                    lines.push((i, size));
                }
            }
            if lines.is_empty() {
                continue;
            }
            // Taste drifts towards what was just bought, and a little at random.
            for &(i, _) in &lines {
                for (t, v) in taste.iter_mut().zip(&vectors[i]) {
                    *t = 0.92 * *t + 0.08 * v;
                }
            }
            for t in &mut taste {
                *t += 0.05 * gauss(&mut rng);
            }
            orders.push(Purchase {
                id: ORDER_BASE + next_order,
                customer: CUSTOMER_BASE + s as i64,
                at,
                lines,
            });
            next_order += 1;
        }
    }
    orders.sort_by_key(|o| (o.at, o.id));
    TasteStore {
        items,
        orders,
        sizes,
    }
}

fn timestamp(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn variant_id(item: &Item, size: usize) -> i64 {
    item.id * 10 + if item.apparel { size as i64 } else { 0 }
}

impl Item {
    /// The `products/create` webhook shape.
    pub fn payload(&self) -> Value {
        let variants: Vec<Value> = if self.apparel {
            SIZES
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({"id": variant_id(self, i), "title": s, "option1": s,
                    "price": price(self.price_cents), "position": i + 1,
                    "inventory_quantity": if self.stock[i] { 4 } else { 0 },
                    "inventory_policy": "deny"})
                })
                .collect()
        } else {
            vec![json!({"id": variant_id(self, 0), "title": "Default",
                "price": price(self.price_cents), "position": 1,
                "inventory_quantity": 8, "inventory_policy": "deny"})]
        };
        let mut tags = vec![format!("taste-{}", self.kind)];
        if self.apparel {
            tags.push("size-category:apparel".into());
        }
        json!({
            "id": self.id, "title": format!("Item {}", self.id), "handle": format!("item-{}", self.id),
            "product_type": format!("Type {}", self.kind), "vendor": "Tastes",
            "tags": tags.join(", "), "status": "active",
            "published_at": timestamp(T0 - 86_400), "updated_at": timestamp(T0 - 86_400),
            "variants": variants,
        })
    }
}

impl TasteStore {
    /// One order in the `orders/create` webhook shape.
    pub fn order_payload(&self, o: &Purchase) -> Value {
        let lines: Vec<Value> = o
            .lines
            .iter()
            .enumerate()
            .map(|(n, &(i, size))| {
                let it = &self.items[i];
                json!({"id": o.id * 100 + n as i64, "product_id": it.id,
                "variant_id": variant_id(it, size), "title": format!("Item {}", it.id),
                "quantity": 1, "current_quantity": 1, "price": price(it.price_cents),
                "gift_card": false, "properties": []})
            })
            .collect();
        json!({
            "id": o.id, "name": format!("T{}", o.id - ORDER_BASE + 1), "created_at": timestamp(o.at),
            "updated_at": timestamp(o.at), "currency": "USD", "financial_status": "paid",
            "customer": {"id": o.customer}, "line_items": lines,
        })
    }
}

/// Writes a generated store as `products.jsonl` and `orders.jsonl` in `dir`.
pub fn write(shape: Shape, seed: u64, dir: &str) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let store = generate(shape, seed);
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/products.jsonl"))?);
    for i in &store.items {
        writeln!(f, "{}", i.payload())?;
    }
    f.flush()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/orders.jsonl"))?);
    let mut lines = 0;
    for o in &store.orders {
        lines += o.lines.len();
        writeln!(f, "{}", store.order_payload(o))?;
    }
    f.flush()?;
    println!(
        "{}",
        json!({"dir": dir, "products": store.items.len(), "orders": store.orders.len(), "order_lines": lines, "seed": seed, "shape": format!("{shape:?}")})
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_differ_in_what_they_are_named_for() {
        let dense = generate(shape("dense").unwrap(), 1);
        let onetime = generate(shape("onetime").unwrap(), 1);
        let per_shopper = |s: &TasteStore| {
            let shoppers: std::collections::HashSet<i64> =
                s.orders.iter().map(|o| o.customer).collect();
            s.orders.len() as f64 / shoppers.len() as f64
        };
        assert!(per_shopper(&dense) > 4.0 * per_shopper(&onetime).min(1.5));
        assert!(per_shopper(&onetime) < 1.6);
        // Apparel is only ever bought in the shopper's size, and in stock.
        let seasonal = generate(shape("seasonal").unwrap(), 2);
        let mut apparel_lines = 0;
        for o in &seasonal.orders {
            let shopper = (o.customer - CUSTOMER_BASE) as usize;
            for &(i, size) in &o.lines {
                if seasonal.items[i].apparel {
                    apparel_lines += 1;
                    assert_eq!(size, seasonal.sizes[shopper]);
                    assert!(seasonal.items[i].stock[size]);
                }
            }
        }
        assert!(apparel_lines > 1_000, "{apparel_lines}");
    }
}
