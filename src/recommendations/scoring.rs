//! The scoring formulas, pure so the server and the offline evaluation use the very same ones.

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
}
