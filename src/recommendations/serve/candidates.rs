//! The candidate lists before serving: bought together, similar, trending (shop-wide and per
//! product type) and newest, each read from the learned counts and the catalogue.

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::{Value, json};

use super::catalogue::{Catalogue, ProductInfo};
use super::{RAW_LIST, Rec, round, sort_desc};
use crate::db::schema::{rec_buyer_pairs, rec_covisits, rec_items, rec_pairs, rec_shop_stats};
use crate::db::{DbConnection, now};
use crate::recommendations::model::unix;
use crate::recommendations::scoring::{
    FOR_YOU_NEIGHBOURS, RELATED_BEHAVIOUR_WEIGHT, RELATED_CONTENT_WEIGHT, buyer_cosine, content,
    lift, shrunk_cosine, trend_now,
};

/// Candidates read per product from the pair tables (the strongest by count).
const PAIR_CANDIDATES: i64 = 300;
const CONTENT_CANDIDATES: usize = 200;

/// Contributing orders and the data window (RFC 3339) of a shop (for explanations).
fn window(c: &mut DbConnection, shop_id: &str) -> QueryResult<(i64, Value)> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = rec_shop_stats::table
        .find(shop_id)
        .select((
            rec_shop_stats::orders,
            rec_shop_stats::first_order_at,
            rec_shop_stats::last_order_at,
        ))
        .first(c)
        .optional()?;
    let (orders, from, to) = row.unwrap_or((0, None, None));
    let fmt = |t: Option<i64>| {
        t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    Ok((
        orders,
        json!({"orders": orders, "from": fmt(from), "to": fmt(to)}),
    ))
}

/// One product's learned counts: `(orders, sessions)`.
fn item_count(c: &mut DbConnection, shop_id: &str, p: i64) -> QueryResult<(i64, i64)> {
    Ok(rec_items::table
        .find((shop_id, p))
        .select((rec_items::orders, rec_items::sessions))
        .first(c)
        .optional()?
        .unwrap_or((0, 0)))
}

/// Bought together: the product's strongest pairs (one indexed query with the partners'
/// counts), ranked by shrunk cosine.
pub(super) fn complementary_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let pairs: Vec<(i64, i64, Option<i64>)> = rec_pairs::table
        .left_join(
            rec_items::table.on(rec_items::shop_id
                .eq(rec_pairs::shop_id)
                .and(rec_items::product_id.eq(rec_pairs::b))),
        )
        .filter(rec_pairs::shop_id.eq(shop_id))
        .filter(rec_pairs::a.eq(p))
        .filter(rec_pairs::n.gt(0))
        .order(rec_pairs::n.desc())
        .select((rec_pairs::b, rec_pairs::n, rec_items::orders.nullable()))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let np = item_count(c, shop_id, p)?.0;
    let (total, window) = if explain {
        window(c, shop_id)?
    } else {
        (0, Value::Null)
    };
    let mut out: Vec<Rec> = pairs
        .into_iter()
        .filter(|(b, _, _)| *b != p && cat.recommendable(*b).is_some())
        .filter_map(|(b, n, nb)| {
            let nb = nb.unwrap_or(0);
            let score = shrunk_cosine(n, np, nb);
            (score > 0.0).then(|| Rec {
                product_id: b,
                score,
                reasons: if explain {
                    vec![json!({
                        "type": "co_purchase",
                        "orders_together": n,
                        "orders_with_product": np,
                        "orders_with_candidate": nb,
                        "cosine": round(score),
                        "lift": round(lift(n, np, nb, total)),
                        "window": window,
                    })]
                } else {
                    Vec::new()
                },
            })
        })
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

/// Bought by the same shoppers: the product's strongest buyer pairs (one indexed query with the
/// partners' buyer counts), ranked by [`buyer_cosine`]; the first [`FOR_YOU_NEIGHBOURS`].
pub(super) fn similar_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let pairs: Vec<(i64, i64, Option<i64>)> = rec_buyer_pairs::table
        .left_join(
            rec_items::table.on(rec_items::shop_id
                .eq(rec_buyer_pairs::shop_id)
                .and(rec_items::product_id.eq(rec_buyer_pairs::b))),
        )
        .filter(rec_buyer_pairs::shop_id.eq(shop_id))
        .filter(rec_buyer_pairs::a.eq(p))
        .filter(rec_buyer_pairs::n.gt(0))
        .order(rec_buyer_pairs::n.desc())
        .select((
            rec_buyer_pairs::b,
            rec_buyer_pairs::n,
            rec_items::buyers.nullable(),
        ))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let np: i64 = rec_items::table
        .find((shop_id, p))
        .select(rec_items::buyers)
        .first(c)
        .optional()?
        .unwrap_or(0);
    let mut out: Vec<Rec> = pairs
        .into_iter()
        .filter(|(b, _, _)| *b != p && cat.recommendable(*b).is_some())
        .filter_map(|(b, n, nb)| {
            let nb = nb.unwrap_or(0);
            let score = buyer_cosine(n, np, nb);
            (score > 0.0).then(|| Rec {
                product_id: b,
                score,
                reasons: if explain {
                    vec![json!({
                        "type": "bought_by_the_same_shoppers",
                        "shoppers_with_both": n,
                        "shoppers_with_product": np,
                        "shoppers_with_candidate": nb,
                        "cosine": round(score),
                    })]
                } else {
                    Vec::new()
                },
            })
        })
        .collect();
    sort_desc(&mut out);
    out.truncate(FOR_YOU_NEIGHBOURS);
    Ok(out)
}

/// Catalogue similarity without the explanation (no allocation): the same formula as
/// [`content`].
fn content_score(a: &ProductInfo, b: &ProductInfo) -> f64 {
    let same_type =
        !a.product_type.is_empty() && a.product_type.eq_ignore_ascii_case(&b.product_type);
    let same_vendor = !a.vendor.is_empty() && a.vendor.eq_ignore_ascii_case(&b.vendor);
    let shared = a
        .tags
        .iter()
        .filter(|t| b.tags.iter().any(|u| u.eq_ignore_ascii_case(t)))
        .count();
    let union = a.tags.len() + b.tags.len() - shared;
    let jaccard = if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    };
    0.5 * f64::from(u8::from(same_type)) + 0.2 * f64::from(u8::from(same_vendor)) + 0.3 * jaccard
}

/// Similar products: co-views/co-carts (with the partners' session counts, one indexed query)
/// blended with catalogue content of the same type and vendor.
pub(super) fn related_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let co: Vec<(i64, i64, Option<i64>)> = rec_covisits::table
        .left_join(
            rec_items::table.on(rec_items::shop_id
                .eq(rec_covisits::shop_id)
                .and(rec_items::product_id.eq(rec_covisits::b))),
        )
        .filter(rec_covisits::shop_id.eq(shop_id))
        .filter(rec_covisits::a.eq(p))
        .filter(rec_covisits::n.gt(0))
        .order(rec_covisits::n.desc())
        .select((
            rec_covisits::b,
            rec_covisits::n,
            rec_items::sessions.nullable(),
        ))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let me = cat.product(p);
    let mut ids: Vec<i64> = co.iter().map(|(b, _, _)| *b).collect();
    if let Some(me) = me {
        if let Some(same) = cat.by_type.get(&me.product_type) {
            ids.extend(same.iter().take(CONTENT_CANDIDATES));
        }
        if let Some(same) = cat.by_vendor.get(&me.vendor) {
            ids.extend(same.iter().take(CONTENT_CANDIDATES / 2));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids.retain(|&id| id != p);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sp = if co.is_empty() {
        0
    } else {
        item_count(c, shop_id, p)?.1
    };
    let co: HashMap<i64, (i64, i64)> = co
        .into_iter()
        .map(|(b, n, sq)| (b, (n, sq.unwrap_or(0))))
        .collect();
    let mut out = Vec::new();
    for id in ids {
        let Some(cand) = cat.recommendable(id) else {
            continue;
        };
        let mut reasons = Vec::new();
        let mut behaviour = 0.0;
        if let Some(&(n, sq)) = co.get(&id) {
            behaviour = shrunk_cosine(n, sp, sq);
            if explain {
                reasons.push(json!({
                    "type": "co_view",
                    "sessions_together": n,
                    "sessions_with_product": sp,
                    "sessions_with_candidate": sq,
                    "similarity": round(behaviour),
                }));
            }
        }
        let mut content_part = 0.0;
        if let Some(me) = me {
            if explain {
                let (s, overlap) = content(
                    &me.product_type,
                    &me.vendor,
                    &me.tags,
                    &cand.product_type,
                    &cand.vendor,
                    &cand.tags,
                );
                content_part = s;
                if s > 0.0 {
                    reasons.push(json!({
                        "type": "content",
                        "same_type": overlap.same_type,
                        "same_vendor": overlap.same_vendor,
                        "shared_tags": overlap.shared_tags,
                        "similarity": round(s),
                    }));
                }
            } else {
                content_part = content_score(me, cand);
            }
        }
        let score = RELATED_BEHAVIOUR_WEIGHT * behaviour + RELATED_CONTENT_WEIGHT * content_part;
        if score > 0.0 {
            out.push(Rec {
                product_id: id,
                score,
                reasons,
            });
        }
    }
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

pub(super) fn trending_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let rows: Vec<(i64, f64)> = rec_items::table
        .filter(rec_items::shop_id.eq(shop_id))
        .filter(rec_items::trend.gt(0.0))
        .filter(rec_items::flagged.eq(false))
        .order(rec_items::trend.desc())
        .select((rec_items::product_id, rec_items::trend))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let now = unix(now());
    let mut out: Vec<Rec> = rows
        .into_iter()
        .filter(|(p, _)| cat.recommendable(*p).is_some())
        .map(|(p, t)| {
            let score = trend_now(t, now);
            Rec {
                product_id: p,
                score,
                reasons: if explain {
                    vec![json!({
                        "type": "trending",
                        "decayed_popularity": round(score),
                        "half_life_days": 7,
                        "signals": "orders 1, add-to-carts 0.3, views 0.05",
                    })]
                } else {
                    Vec::new()
                },
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

/// Best sellers: products by the orders they appeared in, the same for every shopper (an
/// experiment's `popular` arm, the non-personalized baseline).
pub(super) fn best_sellers_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let rows: Vec<(i64, i64)> = rec_items::table
        .filter(rec_items::shop_id.eq(shop_id))
        .filter(rec_items::orders.gt(0))
        .filter(rec_items::flagged.eq(false))
        .order((rec_items::orders.desc(), rec_items::product_id.asc()))
        .select((rec_items::product_id, rec_items::orders))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let top = rows.first().map_or(1, |r| r.1.max(1)) as f64;
    let mut out: Vec<Rec> = rows
        .into_iter()
        .filter(|(p, _)| cat.recommendable(*p).is_some())
        .map(|(p, n)| Rec {
            product_id: p,
            score: round(n as f64 / top),
            reasons: if explain {
                vec![json!({"type": "best_seller", "orders": n})]
            } else {
                Vec::new()
            },
        })
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

pub(super) fn newest_raw(cat: &Catalogue, explain: bool) -> Vec<Rec> {
    let n = cat.newest.len().max(1) as f64;
    cat.newest
        .iter()
        .enumerate()
        .map(|(i, p)| Rec {
            product_id: *p,
            score: 1.0 - i as f64 / n,
            reasons: if explain {
                vec![json!({"type": "catalogue", "rule": "newest available products"})]
            } else {
                Vec::new()
            },
        })
        .collect()
}

#[cfg(test)]
mod content_tests {
    use super::*;

    #[test]
    fn the_fast_content_score_is_the_explained_one() {
        let p = |kind: &str, vendor: &str, tags: &[&str]| ProductInfo {
            product_id: 1,
            product_type: kind.into(),
            vendor: vendor.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        let cases = [
            (
                p("Shirt", "Acme", &["a", "B"]),
                p("shirt", "Other", &["b", "c"]),
            ),
            (p("", "", &[]), p("", "", &[])),
            (p("Mug", "Acme", &["x"]), p("Mug", "ACME", &["X"])),
            (p("Mug", "", &["x", "y", "z"]), p("Cup", "", &[])),
        ];
        for (a, b) in &cases {
            let (explained, _) = content(
                &a.product_type,
                &a.vendor,
                &a.tags,
                &b.product_type,
                &b.vendor,
                &b.tags,
            );
            assert!(
                (content_score(a, b) - explained).abs() < 1e-12,
                "{a:?} {b:?}"
            );
        }
    }
}
