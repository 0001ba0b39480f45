//! The scoring formulas, pure so the server and the offline evaluation use the very same ones.

use std::collections::HashMap;

/// Pseudo-count of the shrinkage: a pair seen only once or twice is trusted little.
pub const SHRINK: f64 = 3.0;

/// Cosine similarity of two items' occurrence sets, `c / sqrt(na * nb)`, shrunk towards 0 by
/// `c / (c + SHRINK)`. Dividing by both popularities keeps best-sellers from being everyone's
/// neighbour.
pub fn shrunk_cosine(c: i64, na: i64, nb: i64) -> f64 {
    if c <= 0 || na <= 0 || nb <= 0 {
        return 0.0;
    }
    let c = c as f64;
    c / ((na as f64) * (nb as f64)).sqrt() * (c / (c + SHRINK))
}

/// Similarity of two products in the buyer model: cosine `n / √(nₐ · n_b)` over the sets of
/// shoppers who bought each (`n` bought both). The standard item-kNN similarity, without a
/// tuned parameter: the evaluation compares it with BM25-weighted co-occurrence and EASE on
/// stores of several shapes (BENCHMARKS.md).
pub fn buyer_cosine(n: i64, na: i64, nb: i64) -> f64 {
    if n <= 0 || na <= 0 || nb <= 0 {
        return 0.0;
    }
    n as f64 / ((na as f64) * (nb as f64)).sqrt()
}

/// `for_you` reads at most this many distinct products of the shopper's history (most recent
/// first): a long history of hundreds of lines, and still a bounded request.
pub const FOR_YOU_ITEMS: usize = 200;
/// Neighbours read per history product (the strongest by similarity).
pub const FOR_YOU_NEIGHBOURS: usize = 50;
/// Weight of the history product of recency rank `r` (0 = most recent): `1 / (1 + r / 20)`.
/// Tastes drift, so recent purchases say more; but slowly (the 20th most recent still counts
/// half), because a regular's old purchases still describe them. Not tuned on any store.
pub fn recency_weight(rank: usize) -> f64 {
    1.0 / (1.0 + rank as f64 / 20.0)
}

/// How much shop-wide popularity a shopper with `history` distinct products gets mixed into
/// their neighbour scores (both scaled so their best is 1): `1 / (1 + history)`. One product
/// of evidence says little and best sellers are a safe bet; ten say a lot.
pub fn popularity_prior(history: usize) -> f64 {
    1.0 / (1.0 + history as f64)
}

/// `for_you`'s item-kNN: `Σ_i w_i · s_i(q)` over the shopper's history products `i` (given
/// with their weight and neighbour list, first [`FOR_YOU_NEIGHBOURS`] read), then scaled so
/// the best is 1 and mixed with `prior ×` the shop's popularity (also scaled to 1). Products
/// the shopper bought are not removed here (the caller excludes them). Sorted, best first.
pub fn knn_scores(
    history: &[(f64, &[(i64, f64)])],
    popular: &[(i64, f64)],
    prior: f64,
) -> Vec<(i64, f64)> {
    let mut sum: HashMap<i64, f64> = HashMap::new();
    for (w, list) in history {
        for &(q, s) in list.iter().take(FOR_YOU_NEIGHBOURS) {
            if s > 0.0 {
                *sum.entry(q).or_default() += w * s;
            }
        }
    }
    let top = sum.values().copied().fold(0.0f64, f64::max);
    let mut out: HashMap<i64, f64> = if top > 0.0 {
        sum.into_iter().map(|(q, s)| (q, s / top)).collect()
    } else {
        HashMap::new()
    };
    let best = popular.iter().map(|x| x.1).fold(0.0f64, f64::max);
    if best > 0.0 && prior > 0.0 {
        for &(q, s) in popular {
            if s > 0.0 {
                *out.entry(q).or_default() += prior * s / best;
            }
        }
    }
    let mut out: Vec<(i64, f64)> = out.into_iter().collect();
    out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Lift: how much more often the pair occurs than if the items were independent.
pub fn lift(c: i64, na: i64, nb: i64, total: i64) -> f64 {
    if c <= 0 || na <= 0 || nb <= 0 || total <= 0 {
        return 0.0;
    }
    (c as f64) * (total as f64) / ((na as f64) * (nb as f64))
}

/// Catalogue similarity: same product type 0.5, same vendor 0.2, tag Jaccard × 0.3.
pub fn content(
    type_a: &str,
    vendor_a: &str,
    tags_a: &[String],
    type_b: &str,
    vendor_b: &str,
    tags_b: &[String],
) -> (f64, ContentOverlap) {
    let same_type = !type_a.is_empty() && type_a.eq_ignore_ascii_case(type_b);
    let same_vendor = !vendor_a.is_empty() && vendor_a.eq_ignore_ascii_case(vendor_b);
    let shared: Vec<String> = tags_a
        .iter()
        .filter(|t| tags_b.iter().any(|u| u.eq_ignore_ascii_case(t)))
        .cloned()
        .collect();
    let union = tags_a.len() + tags_b.len() - shared.len();
    let jaccard = if union == 0 {
        0.0
    } else {
        shared.len() as f64 / union as f64
    };
    let score = 0.5 * f64::from(u8::from(same_type))
        + 0.2 * f64::from(u8::from(same_vendor))
        + 0.3 * jaccard;
    (
        score,
        ContentOverlap {
            same_type,
            same_vendor,
            shared_tags: shared,
        },
    )
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentOverlap {
    pub same_type: bool,
    pub same_vendor: bool,
    pub shared_tags: Vec<String>,
}

/// `related` blends co-views/co-carts with catalogue content.
pub const RELATED_BEHAVIOUR_WEIGHT: f64 = 0.6;
pub const RELATED_CONTENT_WEIGHT: f64 = 0.4;

/// Half-life of `trending` popularity.
pub const TREND_HALF_LIFE_SECS: f64 = 7.0 * 86_400.0;
/// Reference time of the stored trend scores (2025-01-01T00:00:00Z).
pub const TREND_EPOCH: i64 = 1_735_689_600;

/// What one signal at time `at` (Unix seconds) adds to a product's stored trend score.
///
/// A score decayed to *now* would be `Σ w · 2^(−(now − t)/h)`. Stored instead is
/// `Σ w · 2^((t − epoch)/h)`, which is the same up to the factor `2^(−(now − epoch)/h)` that is
/// common to every product: the ranking is identical, each arrival is one commutative
/// `trend = trend + x` (no read-modify-write, safe with several instances), and a subtraction
/// (cancellation, erasure) removes exactly what was added.
pub fn trend_weight(weight: f64, at: i64) -> f64 {
    weight * ((at - TREND_EPOCH) as f64 / TREND_HALF_LIFE_SECS).exp2()
}

/// A stored trend score as decayed popularity at `now` (for explanations).
pub fn trend_now(stored: f64, now: i64) -> f64 {
    stored * (-((now - TREND_EPOCH) as f64) / TREND_HALF_LIFE_SECS).exp2()
}

pub const TREND_ORDER: f64 = 1.0;
pub const TREND_ADD_TO_CART: f64 = 0.3;
pub const TREND_VIEW: f64 = 0.05;

/// `for_you`: how many of the shopper's history products (most recent first) it draws on.
pub const FOR_YOU_HISTORY: usize = 20;
/// `for_you`: how many products of each history product's complementary list it reads.
pub const FOR_YOU_COMPLEMENTS: usize = 30;
/// `for_you`: weight of the i-th most recent history product is `FOR_YOU_HISTORY_DECAY^i`.
/// 1.0: the last `FOR_YOU_HISTORY` products count equally (measured: 0.85, 0.9 and 0.95 were
/// slightly worse on every synthetic store, which have no drift of taste; lower it if a real
/// store's `atelier eval` says otherwise).
pub const FOR_YOU_HISTORY_DECAY: f64 = 1.0;
/// `for_you` mixes three distributions over products (each sums to 1, see `for_you_scores`);
/// these are their weights. Measured with `atelier eval` on the synthetic stores: more weight
/// on popularity helps the small dense store and hurts the larger ones, more on affinity the
/// reverse; equal weights were the best compromise.
pub const FOR_YOU_COMPLEMENT_WEIGHT: f64 = 1.0 / 3.0;
pub const FOR_YOU_AFFINITY_WEIGHT: f64 = 1.0 / 3.0;
pub const FOR_YOU_POPULARITY_WEIGHT: f64 = 1.0 / 3.0;

/// A scored list as a probability distribution: each positive score divided by the sum of the
/// positive scores (products with a score ≤ 0 are left out; an empty or all-zero list gives
/// nothing). Makes lists on different scales (cosines, decayed popularity) comparable.
pub fn distribution(list: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let total: f64 = list.iter().map(|x| x.1).filter(|s| *s > 0.0).sum();
    if total <= 0.0 || !total.is_finite() {
        return Vec::new();
    }
    list.iter()
        .filter(|x| x.1 > 0.0)
        .map(|(p, s)| (*p, s / total))
        .collect()
}

/// Weights of the first `min(n, FOR_YOU_HISTORY)` history products (most recent first):
/// `FOR_YOU_HISTORY_DECAY^i`.
pub fn history_weights(n: usize) -> Vec<f64> {
    (0..n.min(FOR_YOU_HISTORY))
        .map(|i| FOR_YOU_HISTORY_DECAY.powi(i as i32))
        .collect()
}

/// The share of each product type among the first `FOR_YOU_HISTORY` history products (most
/// recent first) whose type is known and not empty, in order of first appearance.
pub fn type_shares<'a>(history_types: &[Option<&'a str>]) -> Vec<(&'a str, f64)> {
    let known: Vec<&str> = history_types
        .iter()
        .take(FOR_YOU_HISTORY)
        .flatten()
        .copied()
        .filter(|t| !t.is_empty())
        .collect();
    let mut out: Vec<(&str, f64)> = Vec::new();
    let add = 1.0 / known.len() as f64;
    for &t in &known {
        match out.iter_mut().find(|(u, _)| *u == t) {
            Some(e) => e.1 += add,
            None => out.push((t, add)),
        }
    }
    out
}

/// A product's `for_you` score by component (already weighted); `total()` ranks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ForYouScore {
    /// Bought with the shopper's history: `FOR_YOU_COMPLEMENT_WEIGHT · C(q)`, `C` the
    /// `distribution` of `Σ_i w_i · s_i(q)`, with `w = history_weights` and `s_i` the scores
    /// (shrunk cosine) of history product i's complementary list (first
    /// `FOR_YOU_COMPLEMENTS`). One normalisation of the sum, not one per list: a history
    /// product with strong complements counts more than one with only weak, noisy pairs.
    pub complement: f64,
    /// Popular in the shopper's product types: `FOR_YOU_AFFINITY_WEIGHT · Σ_t share_t · T_t(q)`,
    /// with `share = type_shares`, `T_t` = `distribution` of type t's trending list.
    pub affinity: f64,
    /// Popular in the shop: `FOR_YOU_POPULARITY_WEIGHT · P(q)`, `P` = `distribution` of the
    /// shop's trending list.
    pub popularity: f64,
}

impl ForYouScore {
    pub fn total(&self) -> f64 {
        self.complement + self.affinity + self.popularity
    }
}

/// `for_you`'s personal scores: a mixture of three distributions over products, "bought with
/// what you bought", "best sellers of your product types" and "best sellers of the shop",
/// weighted by the `FOR_YOU_*_WEIGHT`s (so, when all three are present, the totals sum to 1).
///
/// - `complements`: the complementary lists (ids and scores, strongest first) of the shopper's
///   history products, most recent first (only the first `FOR_YOU_HISTORY` are used, of each
///   the first `FOR_YOU_COMPLEMENTS`).
/// - `types`: each product type's share of the history (`type_shares`) with that type's
///   trending list (decayed popularity, e.g. the top 50).
/// - `trending`: the shop's trending list (decayed popularity, e.g. the top 100).
///
/// Products the shopper bought are not removed here (the caller excludes them).
pub fn for_you_scores(
    complements: &[&[(i64, f64)]],
    types: &[(f64, &[(i64, f64)])],
    trending: &[(i64, f64)],
) -> HashMap<i64, ForYouScore> {
    let mut out: HashMap<i64, ForYouScore> = HashMap::new();
    let mut bought_with: HashMap<i64, f64> = HashMap::new();
    for (w, list) in history_weights(complements.len())
        .into_iter()
        .zip(complements)
    {
        for &(q, s) in list.iter().take(FOR_YOU_COMPLEMENTS) {
            if s > 0.0 {
                *bought_with.entry(q).or_default() += w * s;
            }
        }
    }
    let mut bought_with: Vec<(i64, f64)> = bought_with.into_iter().collect();
    bought_with.sort_unstable_by_key(|x| x.0); // a sum in a fixed order: reproducible scores
    for (q, p) in distribution(&bought_with) {
        out.entry(q).or_default().complement += FOR_YOU_COMPLEMENT_WEIGHT * p;
    }
    for (share, list) in types {
        for (q, p) in distribution(list) {
            out.entry(q).or_default().affinity += FOR_YOU_AFFINITY_WEIGHT * share * p;
        }
    }
    for (q, p) in distribution(trending) {
        out.entry(q).or_default().popularity += FOR_YOU_POPULARITY_WEIGHT * p;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_damps_best_sellers_and_rare_pairs() {
        // A best-seller bought with everything scores below a niche true complement.
        assert!(shrunk_cosine(10, 1000, 20) < shrunk_cosine(8, 10, 10));
        // One co-occurrence of two one-off items is not a perfect match.
        assert!(shrunk_cosine(1, 1, 1) < 0.3);
        assert_eq!(shrunk_cosine(0, 5, 5), 0.0);
    }

    #[test]
    fn knn_sums_weighted_neighbours_and_leans_on_popularity_only_for_short_histories() {
        let a: &[(i64, f64)] = &[(10, 0.5), (11, 0.1)];
        let b: &[(i64, f64)] = &[(10, 0.2), (12, 0.4)];
        let popular: &[(i64, f64)] = &[(30, 100.0), (12, 50.0)];
        let s = knn_scores(&[(1.0, a), (0.5, b)], popular, 0.0);
        assert_eq!(s[0], (10, 1.0));
        assert_eq!(s.iter().map(|x| x.0).collect::<Vec<_>>(), vec![10, 12, 11]);
        // With one product of history, the best seller comes in; with many, it does not lead.
        let one = knn_scores(&[(1.0, a)], popular, popularity_prior(1));
        assert!(one.iter().any(|x| x.0 == 30));
        let many = knn_scores(&[(1.0, a)], popular, popularity_prior(30));
        assert_eq!(many[0].0, 10);
        assert!(recency_weight(0) > recency_weight(1) && recency_weight(20) == 0.5);
        assert_eq!(buyer_cosine(2, 4, 4), 0.5);
        assert_eq!(buyer_cosine(0, 4, 4), 0.0);
    }

    #[test]
    fn trend_weights_rank_like_decayed_scores() {
        let now = TREND_EPOCH + 100 * 86_400;
        let old = trend_weight(1.0, now - 14 * 86_400);
        let new = trend_weight(1.0, now);
        assert!((trend_now(new, now) - 1.0).abs() < 1e-9);
        assert!((trend_now(old, now) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn content_overlap() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (s, o) = content(
            "Shirt",
            "Acme",
            &t(&["a", "b"]),
            "shirt",
            "Other",
            &t(&["b", "c"]),
        );
        assert!(o.same_type && !o.same_vendor);
        assert_eq!(o.shared_tags, vec!["b".to_string()]);
        assert!((s - (0.5 + 0.3 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn distributions_sum_to_one_and_drop_non_positive_scores() {
        let d = distribution(&[(1, 3.0), (2, 1.0), (3, 0.0), (4, -1.0)]);
        assert_eq!(d, vec![(1, 0.75), (2, 0.25)]);
        assert!(distribution(&[]).is_empty());
        assert!(distribution(&[(1, 0.0)]).is_empty());
    }

    #[test]
    fn history_weights_are_capped_and_non_increasing() {
        let w = history_weights(50);
        assert_eq!(w.len(), FOR_YOU_HISTORY);
        assert_eq!(w[0], 1.0);
        assert!(w.windows(2).all(|p| p[0] >= p[1] && p[1] > 0.0));
        assert!(history_weights(0).is_empty());
    }

    #[test]
    fn type_shares_count_known_types_of_recent_history() {
        let h = [Some("shirt"), None, Some("shirt"), Some(""), Some("hat")];
        let s = type_shares(&h);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "shirt");
        assert!((s[0].1 - 2.0 / 3.0).abs() < 1e-9 && (s[1].1 - 1.0 / 3.0).abs() < 1e-9);
        // Only the most recent FOR_YOU_HISTORY count.
        let mut long = vec![Some("hat"); FOR_YOU_HISTORY];
        long.push(Some("shirt"));
        let s = type_shares(&long);
        assert!(s.len() == 1 && s[0].0 == "hat" && (s[0].1 - 1.0).abs() < 1e-9);
        assert!(type_shares(&[None, Some("")]).is_empty());
    }

    #[test]
    fn for_you_mixes_three_comparable_distributions() {
        // Complement scores (cosines) and trend scores (decayed popularity) are on different
        // scales; as distributions, neither drowns the other.
        let comp_a: &[(i64, f64)] = &[(10, 0.3), (11, 0.1)];
        let comp_b: &[(i64, f64)] = &[(10, 0.3), (12, 0.1), (13, 0.0)];
        let shirts: &[(i64, f64)] = &[(20, 3e12), (21, 1e12)];
        let trending: &[(i64, f64)] = &[(30, 1e15), (20, 1e15)];
        let s = for_you_scores(&[comp_a, comp_b], &[(1.0, shirts)], trending);
        let total: f64 = s.values().map(ForYouScore::total).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(!s.contains_key(&13));
        let t = |p: i64| s[&p].total();
        // 10: bought with both history products, 0.6 of the 0.8 of complement scores.
        assert!((s[&10].complement - FOR_YOU_COMPLEMENT_WEIGHT * 0.75).abs() < 1e-9);
        // 20: best seller of the shopper's type and of the shop.
        assert!((s[&20].affinity - FOR_YOU_AFFINITY_WEIGHT * 0.75).abs() < 1e-9);
        assert!((s[&20].popularity - FOR_YOU_POPULARITY_WEIGHT * 0.5).abs() < 1e-9);
        assert!(t(20) > t(10) && t(10) > t(30) && t(30) > t(21) && t(21) > t(11));
        // Missing components contribute nothing.
        assert_eq!(for_you_scores(&[], &[], trending).len(), 2);
        assert!(for_you_scores(&[], &[], &[]).is_empty());
    }

    #[test]
    fn strong_complements_count_more_than_weak_ones() {
        // One normalisation over the whole history: a product with strong complements weighs
        // more than one whose pairs are all weak (per-list normalisation would make them equal).
        let strong: &[(i64, f64)] = &[(1, 0.4)];
        let weak: &[(i64, f64)] = &[(2, 0.01)];
        let s = for_you_scores(&[weak, strong], &[], &[]);
        assert!(s[&1].complement > 10.0 * s[&2].complement);
    }

    #[test]
    fn for_you_reads_the_first_complements_of_the_recent_history() {
        let long: Vec<(i64, f64)> = (0..100).map(|i| (i, 1.0)).collect();
        let s = for_you_scores(&[long.as_slice()], &[], &[]);
        assert_eq!(s.len(), FOR_YOU_COMPLEMENTS);
        // Only the first FOR_YOU_HISTORY history products are read.
        let mut lists: Vec<&[(i64, f64)]> = vec![&long[..1]; FOR_YOU_HISTORY];
        lists.push(&long[1..2]);
        let s = for_you_scores(&lists, &[], &[]);
        assert_eq!(s.len(), 1);
        assert!((s[&0].complement - FOR_YOU_COMPLEMENT_WEIGHT).abs() < 1e-9);
    }
}
