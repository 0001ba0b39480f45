//! The statistics of an experiment: the difference B − A between its arms, with a 95 %
//! confidence interval, from integer counts and sums (floats only here).
//!
//! - **Conversion rate**: Newcombe's hybrid score interval (his "method 10", 1998) for a
//!   difference of two proportions, built from each arm's Wilson score interval. Unlike the
//!   plain Wald interval it stays inside [−1, 1], behaves at 0 % and 100 % and with small arms,
//!   and needs no continuity correction (none is applied: the interval is slightly narrower
//!   than a corrected one, and its coverage is close to 95 % in Newcombe's evaluation).
//! - **Revenue per session**: Welch's unequal-variance difference of means with the normal
//!   approximation (z, not t: experiments have hundreds of sessions per arm before a verdict),
//!   from each arm's count, sum and sum of squares of per-session revenue in minor units.

/// The 97.5th percentile of the standard normal distribution (two-sided 95 %).
pub const Z95: f64 = 1.959_963_984_540_054;

/// Below this many exposed sessions in either arm, or this many conversions in both arms
/// together, the verdict is `insufficient_data`: the normal approximations behind both
/// intervals are not yet to be trusted, and early figures swing widely.
pub const MIN_SESSIONS_PER_ARM: u64 = 100;
pub const MIN_CONVERSIONS: u64 = 10;

/// An estimate with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval of `x` successes in `n` trials; `None` without trials.
pub fn wilson(x: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || x > n {
        return None;
    }
    let n = n as f64;
    let p = x as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// `pB − pA` with Newcombe's hybrid score interval; `None` when an arm has no sessions.
pub fn proportion_difference(xa: u64, na: u64, xb: u64, nb: u64) -> Option<Interval> {
    let (la, ua) = wilson(xa, na, Z95)?;
    let (lb, ub) = wilson(xb, nb, Z95)?;
    let pa = xa as f64 / na as f64;
    let pb = xb as f64 / nb as f64;
    let d = pb - pa;
    Some(Interval {
        estimate: d,
        low: (d - ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt()).max(-1.0),
        high: (d + ((ub - pb).powi(2) + (pa - la).powi(2)).sqrt()).min(1.0),
    })
}

/// Per-session values of one arm, as integers: count, sum and sum of squares (exact in i128:
/// a session's revenue in minor units squared does not fit i64 for large orders).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    pub n: u64,
    pub sum: i128,
    pub sum_sq: i128,
    /// A sum left i128 (sessions of absurd revenue): no variance is claimed then.
    pub overflowed: bool,
}

impl Sample {
    pub fn push(&mut self, x: i64) {
        let x = i128::from(x);
        self.n += 1;
        match (self.sum.checked_add(x), self.sum_sq.checked_add(x * x)) {
            (Some(sum), Some(sum_sq)) => {
                self.sum = sum;
                self.sum_sq = sum_sq;
            }
            _ => self.overflowed = true,
        }
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0 && !self.overflowed).then(|| self.sum as f64 / self.n as f64)
    }

    /// The unbiased sample variance; `None` below two values. The numerator
    /// `n·Σx² − (Σx)²` is computed exactly, so no cancellation error creeps in.
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 || self.overflowed {
            return None;
        }
        let n = i128::from(self.n);
        let num = n
            .checked_mul(self.sum_sq)?
            .checked_sub(self.sum.checked_mul(self.sum)?)?;
        Some(num.max(0) as f64 / (n * (n - 1)) as f64)
    }
}

/// `mean B − mean A` with Welch's normal-approximation interval; `None` when an arm has fewer
/// than two sessions (no variance to speak of).
pub fn mean_difference(a: &Sample, b: &Sample) -> Option<Interval> {
    let (va, vb) = (a.variance()?, b.variance()?);
    let d = b.mean()? - a.mean()?;
    let se = (va / a.n as f64 + vb / b.n as f64).sqrt();
    Some(Interval {
        estimate: d,
        low: d - Z95 * se,
        high: d + Z95 * se,
    })
}

/// What a merchant may conclude from one difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Too few sessions or conversions yet.
    InsufficientData,
    /// The interval contains zero: no difference shown either way (yet).
    Inconclusive,
    /// The whole interval is above zero: arm B does better.
    BHigher,
    /// The whole interval is below zero: arm A does better.
    AHigher,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::InsufficientData => "insufficient_data",
            Verdict::Inconclusive => "inconclusive",
            Verdict::BHigher => "b_higher",
            Verdict::AHigher => "a_higher",
        }
    }
}

/// Whether the arms are large enough for a verdict at all.
pub fn enough_data(sessions_a: u64, sessions_b: u64, conversions: u64) -> bool {
    sessions_a >= MIN_SESSIONS_PER_ARM
        && sessions_b >= MIN_SESSIONS_PER_ARM
        && conversions >= MIN_CONVERSIONS
}

pub fn verdict(interval: Option<&Interval>, enough: bool) -> Verdict {
    match interval {
        Some(i) if enough => {
            if i.low > 0.0 {
                Verdict::BHigher
            } else if i.high < 0.0 {
                Verdict::AHigher
            } else {
                Verdict::Inconclusive
            }
        }
        _ => Verdict::InsufficientData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn wilson_matches_published_values() {
        // 81 of 263: (0.2553, 0.3662), as in the usual textbook example.
        let (lo, hi) = wilson(81, 263, Z95).unwrap();
        assert!(
            close(lo, 0.2553, 5e-5) && close(hi, 0.3662, 5e-5),
            "{lo} {hi}"
        );
        // 0 of 10 and 10 of 10: the interval reaches the edge and is not empty.
        let (lo, hi) = wilson(0, 10, Z95).unwrap();
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.2775, 5e-5), "{hi}");
        let (lo, hi) = wilson(10, 10, Z95).unwrap();
        assert!(close(lo, 0.7225, 5e-5), "{lo}");
        assert!(close(hi, 1.0, 1e-12));
        assert_eq!(wilson(0, 0, Z95), None);
    }

    #[test]
    fn newcombe_matches_his_worked_example() {
        // Newcombe (1998), Table II, example (a): 56/70 − 48/80 = 0.2000, method 10 gives
        // 0.0524 to 0.3339. Here B = 56/70, A = 48/80.
        let i = proportion_difference(48, 80, 56, 70).unwrap();
        assert!(close(i.estimate, 0.2, 1e-12));
        assert!(close(i.low, 0.0524, 5e-5), "{i:?}");
        assert!(close(i.high, 0.3339, 5e-5), "{i:?}");
        // Swapping the arms mirrors the interval.
        let j = proportion_difference(56, 70, 48, 80).unwrap();
        assert!(close(j.low, -i.high, 1e-12) && close(j.high, -i.low, 1e-12));
    }

    #[test]
    fn welch_matches_a_hand_worked_example() {
        // A: 0, 0, 100, 300 → mean 100, variance (100000 − 400²/4)/3 = 20000.
        // B: 0, 200, 200, 400 → mean 200, variance (240000 − 800²/4)/3 = 26666.67.
        // se = √(20000/4 + 26666.67/4) = 108.0123; 100 ± 1.96·se = −111.70 … 311.70.
        let mut a = Sample::default();
        for x in [0, 0, 100, 300] {
            a.push(x);
        }
        let mut b = Sample::default();
        for x in [0, 200, 200, 400] {
            b.push(x);
        }
        assert_eq!(a.variance(), Some(20000.0));
        let i = mean_difference(&a, &b).unwrap();
        assert!(close(i.estimate, 100.0, 1e-9));
        assert!(close(i.low, -111.7003, 1e-3), "{i:?}");
        assert!(close(i.high, 311.7003, 1e-3), "{i:?}");
    }

    #[test]
    fn huge_revenues_are_summed_exactly_or_not_at_all() {
        // $10 billion per session, 100,000 sessions: exact in i128.
        let mut a = Sample::default();
        for _ in 0..100_000 {
            a.push(1_000_000_000_000);
        }
        a.push(0);
        assert!(a.variance().unwrap() > 0.0);
        assert!(!a.overflowed);
        // Beyond i128 (never a real shop): no figure rather than a wrapped one.
        let mut b = Sample::default();
        for _ in 0..100 {
            b.push(i64::MAX);
        }
        assert!(b.overflowed);
        assert_eq!((b.mean(), b.variance()), (None, None));
        assert_eq!(mean_difference(&a, &b), None);
    }

    #[test]
    fn verdicts() {
        let up = Interval {
            estimate: 0.02,
            low: 0.01,
            high: 0.03,
        };
        let across = Interval {
            estimate: 0.01,
            low: -0.01,
            high: 0.03,
        };
        let down = Interval {
            estimate: -0.02,
            low: -0.03,
            high: -0.01,
        };
        assert_eq!(verdict(Some(&up), true), Verdict::BHigher);
        assert_eq!(verdict(Some(&across), true), Verdict::Inconclusive);
        assert_eq!(verdict(Some(&down), true), Verdict::AHigher);
        assert_eq!(verdict(Some(&up), false), Verdict::InsufficientData);
        assert_eq!(verdict(None, true), Verdict::InsufficientData);
        assert!(!enough_data(99, 500, 50));
        assert!(!enough_data(500, 500, 9));
        assert!(enough_data(100, 100, 10));
    }

    proptest! {
        #[test]
        fn wilson_is_inside_zero_one_and_holds_the_rate(n in 1u64..100_000, k in 0u64..100_000) {
            let x = k % (n + 1);
            let (lo, hi) = wilson(x, n, Z95).unwrap();
            let p = x as f64 / n as f64;
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= p + 1e-12 && p <= hi + 1e-12);
            prop_assert!(hi - lo > 0.0);
        }

        #[test]
        fn the_difference_interval_holds_the_estimate_and_mirrors(
            na in 1u64..50_000, nb in 1u64..50_000, ka in 0u64..50_000, kb in 0u64..50_000
        ) {
            let (xa, xb) = (ka % (na + 1), kb % (nb + 1));
            let i = proportion_difference(xa, na, xb, nb).unwrap();
            prop_assert!(i.low >= -1.0 && i.high <= 1.0);
            prop_assert!(i.low <= i.estimate + 1e-12 && i.estimate <= i.high + 1e-12);
            let j = proportion_difference(xb, nb, xa, na).unwrap();
            prop_assert!((j.low + i.high).abs() < 1e-9 && (j.high + i.low).abs() < 1e-9);
        }

        #[test]
        fn every_session_converting_in_both_arms_is_no_difference(n in 1u64..10_000, m in 1u64..10_000) {
            let i = proportion_difference(n, n, m, m).unwrap();
            prop_assert_eq!(i.estimate, 0.0);
            prop_assert!(i.low < 0.0 && i.high > 0.0);
            prop_assert_eq!(verdict(Some(&i), true), Verdict::Inconclusive);
        }

        #[test]
        fn an_empty_arm_gives_no_interval(n in 0u64..10_000, x in 0u64..10_000) {
            let x = x.min(n);
            prop_assert_eq!(proportion_difference(0, 0, x, n), None);
            prop_assert_eq!(proportion_difference(x, n, 0, 0), None);
            let mut s = Sample::default();
            for _ in 0..n.min(50) {
                s.push(x as i64);
            }
            prop_assert_eq!(mean_difference(&Sample::default(), &s), None);
            prop_assert_eq!(mean_difference(&s, &Sample::default()), None);
            prop_assert_eq!(verdict(None, true), Verdict::InsufficientData);
        }

        #[test]
        fn welch_holds_the_difference_and_mirrors(
            a in proptest::collection::vec(0i64..1_000_000, 2..60),
            b in proptest::collection::vec(0i64..1_000_000, 2..60),
        ) {
            let (mut sa, mut sb) = (Sample::default(), Sample::default());
            a.iter().for_each(|x| sa.push(*x));
            b.iter().for_each(|x| sb.push(*x));
            let i = mean_difference(&sa, &sb).unwrap();
            let naive = b.iter().sum::<i64>() as f64 / b.len() as f64 - a.iter().sum::<i64>() as f64 / a.len() as f64;
            prop_assert!((i.estimate - naive).abs() < 1e-6);
            prop_assert!(i.low <= i.estimate && i.estimate <= i.high);
            let j = mean_difference(&sb, &sa).unwrap();
            prop_assert!((j.low + i.high).abs() < 1e-6 && (j.high + i.low).abs() < 1e-6);
        }

        #[test]
        fn constant_revenues_give_a_zero_width_interval(x in 0i64..1_000_000, n in 2u64..100) {
            let mut s = Sample::default();
            for _ in 0..n {
                s.push(x);
            }
            prop_assert_eq!(s.variance(), Some(0.0));
            let i = mean_difference(&s, &s).unwrap();
            prop_assert_eq!((i.low, i.estimate, i.high), (0.0, 0.0, 0.0));
        }
    }
}
