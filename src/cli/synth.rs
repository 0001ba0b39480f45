//! Synthetic stores with real structure, for the offline evaluation and the load benchmark
//! (`atelier synth --products N --orders M --out DIR [--seed S]`).
//!
//! - **Categories** (N/100, 5 to 500), each with a Zipf (s = 0.9) popularity over its products; every
//!   third category is apparel with sizes S/M/L/XL (some sold out per variant).
//! - **Complementary pairs**: each product has three complements in its partner category
//!   (category k ↔ k + K/2), chosen by popularity.
//! - **Customers** (M/5) with two preferred categories and an activity level; a third of their
//!   orders start from a complement of something they bought before.
//! - **Seasonal trends**: each category peaks in one month (weight 1 ± 0.8 over the year).
//!
//! A basket: an anchor (preferred category 75 %, else season-weighted), then with 65 % one of
//! the anchor's complements, 25 % another product of the same category, 15 % a popular product
//! of any category.

use std::io::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::flag;

pub const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
pub const YEAR: i64 = 365 * 86_400;
pub const SIZES: [&str; 4] = ["S", "M", "L", "XL"];

#[derive(Debug, Clone)]
pub struct Product {
    pub id: i64,
    pub category: usize,
    pub vendor: usize,
    pub style: usize,
    pub price_cents: i64,
    /// `(size, in stock)` for apparel, empty otherwise.
    pub sizes: Vec<(&'static str, bool)>,
    pub complements: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: i64,
    pub customer: i64,
    pub at: i64,
    pub products: Vec<i64>,
}

pub struct Store {
    pub categories: usize,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
}

pub const FIRST_PRODUCT_ID: i64 = 7_000_000_000;
pub const FIRST_ORDER_ID: i64 = 5_000_000_000;
pub const FIRST_CUSTOMER_ID: i64 = 9_000_000_000;

/// Samples an index from cumulative weights.
fn pick(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let total = *cumulative.last().unwrap_or(&0.0);
    let x = rng.random::<f64>() * total;
    cumulative
        .partition_point(|c| *c < x)
        .min(cumulative.len() - 1)
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

pub fn generate(products: usize, orders: usize, seed: u64) -> Store {
    let mut rng = StdRng::seed_from_u64(seed);
    let k = (products / 100).clamp(5, 500);
    // Products by category, popularity rank = position in the category.
    let mut by_cat: Vec<Vec<usize>> = vec![Vec::new(); k];
    let mut list = Vec::with_capacity(products);
    for i in 0..products {
        let category = rng.random_range(0..k);
        by_cat[category].push(i);
        let apparel = category % 3 == 0;
        list.push(Product {
            id: FIRST_PRODUCT_ID + i as i64,
            category,
            vendor: rng.random_range(0..30),
            style: rng.random_range(0..10),
            price_cents: rng.random_range(5..200) * 100 - 1,
            sizes: if apparel {
                SIZES
                    .iter()
                    .map(|s| (*s, rng.random::<f64>() > 0.2))
                    .collect()
            } else {
                Vec::new()
            },
            complements: Vec::new(),
        });
    }
    let zipf: Vec<Vec<f64>> = by_cat
        .iter()
        .map(|members| cumulative((0..members.len()).map(|r| 1.0 / ((r + 1) as f64).powf(0.9))))
        .collect();
    let cat_size = cumulative(by_cat.iter().map(|m| m.len() as f64));
    for i in 0..products {
        let partner = (list[i].category + k / 2) % k;
        if by_cat[partner].is_empty() {
            continue;
        }
        let mut comps = Vec::new();
        for _ in 0..3 {
            let j = by_cat[partner][pick(&mut rng, &zipf[partner])];
            if !comps.contains(&list[j].id) {
                comps.push(list[j].id);
            }
        }
        list[i].complements = comps;
    }
    let index = |id: i64| (id - FIRST_PRODUCT_ID) as usize;
    let customers = (orders / 5).max(50);
    let prefs: Vec<[usize; 2]> = (0..customers)
        .map(|_| [rng.random_range(0..k), rng.random_range(0..k)])
        .collect();
    let activity = cumulative((0..customers).map(|_| rng.random::<f64>().powi(2) + 0.05));
    let mut times: Vec<i64> = (0..orders)
        .map(|_| START + rng.random_range(0..YEAR))
        .collect();
    times.sort_unstable();
    let mut history: Vec<Vec<i64>> = vec![Vec::new(); customers];
    let season = |cat: usize, at: i64| {
        let peak = (cat % 12) as f64 / 12.0;
        let phase = (at - START) as f64 / YEAR as f64;
        1.0 + 0.8 * (2.0 * std::f64::consts::PI * (phase - peak)).cos()
    };
    let from_category = |rng: &mut StdRng, cat: usize| -> Option<usize> {
        (!by_cat[cat].is_empty()).then(|| by_cat[cat][pick(rng, &zipf[cat])])
    };
    let mut out = Vec::with_capacity(orders);
    for (n, at) in times.into_iter().enumerate() {
        let c = pick(&mut rng, &activity);
        let mut basket: Vec<i64> = Vec::new();
        let anchor = if !history[c].is_empty() && rng.random::<f64>() < 0.33 {
            let prev = history[c][rng.random_range(0..history[c].len())];
            let comps = &list[index(prev)].complements;
            (!comps.is_empty()).then(|| index(comps[rng.random_range(0..comps.len())]))
        } else {
            None
        };
        let anchor = anchor.or_else(|| {
            let cat = if rng.random::<f64>() < 0.75 {
                let [a, b] = prefs[c];
                if rng.random::<f64>() * (season(a, at) + season(b, at)) < season(a, at) {
                    a
                } else {
                    b
                }
            } else {
                let w = cumulative((0..k).map(|cat| {
                    (cat_size[cat] - if cat == 0 { 0.0 } else { cat_size[cat - 1] })
                        * season(cat, at)
                }));
                pick(&mut rng, &w)
            };
            from_category(&mut rng, cat)
        });
        let Some(anchor) = anchor else { continue };
        basket.push(list[anchor].id);
        if rng.random::<f64>() < 0.65 && !list[anchor].complements.is_empty() {
            let comps = &list[anchor].complements;
            basket.push(comps[rng.random_range(0..comps.len())]);
        }
        if rng.random::<f64>() < 0.25
            && let Some(j) = from_category(&mut rng, list[anchor].category)
        {
            basket.push(list[j].id);
        }
        let any = pick(&mut rng, &cat_size);
        if rng.random::<f64>() < 0.15
            && let Some(j) = from_category(&mut rng, any)
        {
            basket.push(list[j].id);
        }
        basket.dedup();
        history[c].extend(basket.iter().copied());
        out.push(Order {
            id: FIRST_ORDER_ID + n as i64,
            customer: FIRST_CUSTOMER_ID + c as i64,
            at,
            products: basket,
        });
    }
    Store {
        categories: k,
        products: list,
        orders: out,
    }
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

impl Product {
    /// The `products/create` webhook shape.
    pub fn payload(&self) -> serde_json::Value {
        let kind = format!("Category {}", self.category);
        let variants: Vec<serde_json::Value> = if self.sizes.is_empty() {
            vec![
                json!({"id": self.id * 10 + 1, "title": "Default", "price": money(self.price_cents), "position": 1, "inventory_quantity": 10, "inventory_policy": "deny"}),
            ]
        } else {
            self.sizes
                .iter()
                .enumerate()
                .map(|(i, (size, stock))| json!({"id": self.id * 10 + 1 + i as i64, "title": size, "option1": size, "price": money(self.price_cents), "position": i + 1, "inventory_quantity": if *stock { 5 } else { 0 }, "inventory_policy": "deny"}))
                .collect()
        };
        let mut tags = vec![
            format!("style-{}", self.style),
            format!("cat-{}", self.category),
        ];
        if !self.sizes.is_empty() {
            tags.push("size-category:apparel".into());
        }
        json!({
            "id": self.id, "title": format!("Product {}", self.id), "handle": format!("product-{}", self.id),
            "product_type": kind, "vendor": format!("Vendor {}", self.vendor), "tags": tags.join(", "),
            "status": "active", "published_at": rfc3339(START - 86_400), "updated_at": rfc3339(START - 86_400),
            "variants": variants,
        })
    }
}

impl Order {
    /// The `orders/create` webhook shape.
    pub fn payload(&self, store: &Store) -> serde_json::Value {
        let mut total = 0;
        let lines: Vec<serde_json::Value> = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let prod = &store.products[(p - FIRST_PRODUCT_ID) as usize];
                total += prod.price_cents;
                json!({"id": self.id * 100 + i as i64, "product_id": p, "variant_id": p * 10 + 1, "title": format!("Product {p}"), "quantity": 1, "current_quantity": 1, "price": money(prod.price_cents), "gift_card": false, "properties": []})
            })
            .collect();
        json!({
            "id": self.id, "name": format!("#{}", self.id - FIRST_ORDER_ID + 1000), "created_at": rfc3339(self.at),
            "updated_at": rfc3339(self.at), "currency": "USD", "financial_status": "paid", "total_price": money(total),
            "customer": {"id": self.customer}, "line_items": lines,
        })
    }
}

/// The `synth` subcommand.
pub fn command(args: &[String]) -> anyhow::Result<()> {
    let num = |name: &str, default: usize| -> anyhow::Result<usize> {
        match flag(args, name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a number")),
        }
    };
    let products = num("--products", 5_000)?;
    let orders = num("--orders", 50_000)?;
    let seed = num("--seed", 1)? as u64;
    let out = flag(args, "--out").ok_or_else(|| anyhow::anyhow!("--out DIR is required"))?;
    if flag(args, "--model") == Some("tastes") {
        let name = flag(args, "--shape").unwrap_or("dense");
        let shape = if name == "random" {
            super::tastes::random_shape(seed)
        } else {
            super::tastes::shape(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "--shape must be one of {:?} or random",
                    super::tastes::SHAPES
                )
            })?
        };
        return super::tastes::write(shape, seed, out);
    }
    if products == 0 {
        anyhow::bail!("--products must be at least 1");
    }
    std::fs::create_dir_all(out)?;
    let store = generate(products, orders, seed);
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{out}/products.jsonl"))?);
    for p in &store.products {
        writeln!(f, "{}", p.payload())?;
    }
    f.flush()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{out}/orders.jsonl"))?);
    let mut lines = 0;
    for o in &store.orders {
        lines += o.products.len();
        writeln!(f, "{}", o.payload(&store))?;
    }
    f.flush()?;
    println!(
        "{}",
        json!({"dir": out, "products": store.products.len(), "orders": store.orders.len(), "order_lines": lines, "categories": store.categories, "seed": seed})
    );
    Ok(())
}
