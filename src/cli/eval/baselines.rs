//! The standard methods `for_you` and `complementary` are measured against, computed here in
//! memory from the training orders, independently of the server's code: popularity, item-kNN
//! over each shopper's history (cosine, and BM25-weighted co-occurrence), EASE, and plain
//! basket cosine.

use std::collections::HashMap;

use super::input::EvalOrder;

/// Neighbours kept per item by the kNN baselines (the usual order of magnitude; not tuned).
pub const KNN_NEIGHBOURS: usize = 100;
/// EASE inverts an items × items matrix: only for catalogues up to this many sold items.
pub const EASE_MAX_ITEMS: usize = 3_000;
/// EASE's regularisation, chosen on a validation split from these.
pub const EASE_LAMBDAS: [f64; 3] = [10.0, 100.0, 1_000.0];
/// BM25 weighting as `implicit` (the Python library) applies it by default.
const BM25_K1: f64 = 100.0;
const BM25_B: f64 = 0.8;

/// Training data indexed: items, each shopper's distinct items (an order without a customer is
/// its own shopper), baskets.
pub struct Train {
    pub ids: Vec<i64>,
    pub index: HashMap<i64, usize>,
    pub shoppers: Vec<Vec<usize>>,
    pub baskets: Vec<Vec<usize>>,
    /// Orders per item.
    pub orders: Vec<f64>,
}

impl Train {
    pub fn new(orders: &[&EvalOrder]) -> Train {
        let mut t = Train {
            ids: Vec::new(),
            index: HashMap::new(),
            shoppers: Vec::new(),
            baskets: Vec::new(),
            orders: Vec::new(),
        };
        let mut by_customer: HashMap<i64, usize> = HashMap::new();
        for o in orders {
            let basket: Vec<usize> = o
                .basket
                .iter()
                .map(|p| {
                    *t.index.entry(*p).or_insert_with(|| {
                        t.ids.push(*p);
                        t.orders.push(0.0);
                        t.ids.len() - 1
                    })
                })
                .collect();
            for &i in &basket {
                t.orders[i] += 1.0;
            }
            let s = match o.customer {
                Some(c) => *by_customer.entry(c).or_insert_with(|| {
                    t.shoppers.push(Vec::new());
                    t.shoppers.len() - 1
                }),
                None => {
                    t.shoppers.push(Vec::new());
                    t.shoppers.len() - 1
                }
            };
            for &i in &basket {
                if !t.shoppers[s].contains(&i) {
                    t.shoppers[s].push(i);
                }
            }
            t.baskets.push(basket);
        }
        t
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Co-occurrence of items over shoppers (`by_shopper`) or baskets, each co-occurrence
    /// weighted by `w(item, row)`.
    fn cooccurrence(
        &self,
        by_shopper: bool,
        w: impl Fn(usize, usize) -> f64,
    ) -> Vec<HashMap<u32, f64>> {
        let rows = if by_shopper {
            &self.shoppers
        } else {
            &self.baskets
        };
        let mut c: Vec<HashMap<u32, f64>> = vec![HashMap::new(); self.len()];
        for (r, items) in rows.iter().enumerate() {
            for &a in items {
                for &b in items {
                    if a != b {
                        *c[a].entry(b as u32).or_default() += w(a, r) * w(b, r);
                    }
                }
            }
        }
        c
    }

    /// Shoppers per item.
    fn buyers(&self) -> Vec<f64> {
        let mut n = vec![0.0; self.len()];
        for s in &self.shoppers {
            for &i in s {
                n[i] += 1.0;
            }
        }
        n
    }
}

/// Items ranked by orders (popularity).
pub fn popularity(t: &Train) -> Vec<i64> {
    let mut v: Vec<usize> = (0..t.len()).collect();
    v.sort_by(|a, b| {
        t.orders[*b]
            .total_cmp(&t.orders[*a])
            .then(t.ids[*a].cmp(&t.ids[*b]))
    });
    v.into_iter().map(|i| t.ids[i]).collect()
}

/// Item-to-item neighbours (the strongest [`KNN_NEIGHBOURS`]).
pub struct Knn {
    neighbours: Vec<Vec<(u32, f64)>>,
}

fn top(mut list: Vec<(u32, f64)>, n: usize) -> Vec<(u32, f64)> {
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    list.truncate(n);
    list
}

impl Knn {
    /// Cosine over shoppers: `c / √(nₐ · n_b)`.
    pub fn cosine(t: &Train) -> Knn {
        let n = t.buyers();
        let c = t.cooccurrence(true, |_, _| 1.0);
        Knn {
            neighbours: c
                .into_iter()
                .enumerate()
                .map(|(a, m)| {
                    top(
                        m.into_iter()
                            .map(|(b, v)| (b, v / (n[a] * n[b as usize]).sqrt()))
                            .collect(),
                        KNN_NEIGHBOURS,
                    )
                })
                .collect(),
        }
    }

    /// BM25-weighted co-occurrence over shoppers (each item × shopper entry weighted as BM25
    /// weights a term in a document: shoppers of many items count less, items bought by many
    /// are length-normalised), then dot products.
    pub fn bm25(t: &Train) -> Knn {
        let n = t.buyers();
        let avg = n.iter().sum::<f64>() / n.len().max(1) as f64;
        let items = t.len() as f64;
        let idf: Vec<f64> = t
            .shoppers
            .iter()
            .map(|s| (items.ln() - (1.0 + s.len() as f64).ln()).max(0.0))
            .collect();
        let weight = |i: usize, r: usize| {
            let norm = (1.0 - BM25_B) + BM25_B * n[i] / avg.max(1e-9);
            (BM25_K1 + 1.0) / (BM25_K1 * norm + 1.0) * idf[r]
        };
        let c = t.cooccurrence(true, weight);
        Knn {
            neighbours: c
                .into_iter()
                .map(|m| top(m.into_iter().collect(), KNN_NEIGHBOURS))
                .collect(),
        }
    }

    /// Plain basket cosine (co-occurrence in one order): `complementary`'s baseline.
    pub fn basket_cosine(t: &Train) -> Knn {
        let c = t.cooccurrence(false, |_, _| 1.0);
        Knn {
            neighbours: c
                .into_iter()
                .enumerate()
                .map(|(a, m)| {
                    top(
                        m.into_iter()
                            .map(|(b, v)| (b, v / (t.orders[a] * t.orders[b as usize]).sqrt()))
                            .collect(),
                        KNN_NEIGHBOURS,
                    )
                })
                .collect(),
        }
    }

    /// Scores of a history (item ids): the sum of the history items' similarities.
    pub fn scores(&self, t: &Train, history: &[i64]) -> HashMap<i64, f64> {
        let mut out: HashMap<i64, f64> = HashMap::new();
        for h in history {
            let Some(&i) = t.index.get(h) else { continue };
            for &(j, s) in &self.neighbours[i] {
                *out.entry(t.ids[j as usize]).or_default() += s;
            }
        }
        out
    }
}

/// EASE (Steck 2019): `B = I − P · diag(1/diag(P))`, `P = (XᵀX + λI)⁻¹`, zero diagonal; a
/// shopper's scores are their history row times `B`.
pub struct Ease {
    n: usize,
    b: Vec<f64>,
}

impl Ease {
    pub fn fit(t: &Train, lambda: f64) -> Ease {
        let n = t.len();
        let mut g = vec![0.0f64; n * n];
        for s in &t.shoppers {
            for &a in s {
                for &b in s {
                    g[a * n + b] += 1.0;
                }
            }
        }
        for i in 0..n {
            g[i * n + i] += lambda;
        }
        let p = invert(g, n);
        let mut b = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    b[i * n + j] = -p[i * n + j] / p[j * n + j];
                }
            }
        }
        Ease { n, b }
    }

    pub fn scores(&self, t: &Train, history: &[i64]) -> HashMap<i64, f64> {
        let mut row = vec![0.0f64; self.n];
        for h in history {
            if let Some(&i) = t.index.get(h) {
                for (r, x) in row.iter_mut().zip(&self.b[i * self.n..(i + 1) * self.n]) {
                    *r += x;
                }
            }
        }
        row.into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(j, s)| (t.ids[j], s))
            .collect()
    }
}

/// Gauss–Jordan inversion of a symmetric positive definite matrix (no pivoting needed).
fn invert(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut inv = vec![0.0f64; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let mut pivot_row = vec![0.0f64; n];
    let mut pivot_inv = vec![0.0f64; n];
    for k in 0..n {
        let d = a[k * n + k];
        for j in 0..n {
            a[k * n + j] /= d;
            inv[k * n + j] /= d;
        }
        pivot_row.copy_from_slice(&a[k * n..(k + 1) * n]);
        pivot_inv.copy_from_slice(&inv[k * n..(k + 1) * n]);
        for i in 0..n {
            if i == k {
                continue;
            }
            let f = a[i * n + k];
            if f == 0.0 {
                continue;
            }
            for (x, p) in a[i * n..(i + 1) * n].iter_mut().zip(&pivot_row) {
                *x -= f * p;
            }
            for (x, p) in inv[i * n..(i + 1) * n].iter_mut().zip(&pivot_inv) {
                *x -= f * p;
            }
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inversion_is_exact_on_a_small_matrix() {
        let a = vec![4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let inv = invert(a.clone(), 3);
        for i in 0..3 {
            for j in 0..3 {
                let x: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((x - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_baselines_find_what_the_same_shoppers_bought() {
        let o = |id: i64, customer: Option<i64>, basket: &[i64]| EvalOrder {
            id,
            at: id,
            customer,
            basket: basket.to_vec(),
            variants: Vec::new(),
            payload: String::new(),
        };
        let mut orders = vec![
            o(1, Some(1), &[10]),
            o(2, Some(1), &[11]),
            o(3, Some(2), &[10, 11]),
            o(4, Some(3), &[12]),
            o(5, Some(4), &[12]),
        ];
        // Other shoppers of other products (BM25's inverse frequency needs a catalogue).
        for i in 0..10 {
            orders.push(o(6 + i, Some(100 + i), &[30 + i]));
        }
        let refs: Vec<&EvalOrder> = orders.iter().collect();
        let t = Train::new(&refs);
        for knn in [Knn::cosine(&t), Knn::bm25(&t)] {
            let s = knn.scores(&t, &[10]);
            assert!(s.get(&11).copied().unwrap_or(0.0) > 0.0);
            assert!(!s.contains_key(&12));
        }
        let ease = Ease::fit(&t, 1.0);
        let s = ease.scores(&t, &[10]);
        assert!(s.get(&11).copied().unwrap_or(0.0) > s.get(&12).copied().unwrap_or(0.0));
        assert_eq!(popularity(&t)[..3], [10, 11, 12]);
    }
}
