//! Exact decimals for number fields: `min`, `max` and `step` checks (step 0.1 from 0.3 must
//! accept 0.5) without binary floating point.

use std::cmp::Ordering;
use std::fmt;

/// `mantissa / 10^scale`, with |value| < 10^18 and at most 9 decimals.
#[derive(Debug, Clone, Copy)]
pub struct Dec {
    mantissa: i128,
    scale: u32,
}

const MAX_SCALE: u32 = 9;
const MAX_ABS: i128 = 1_000_000_000_000_000_000; // 10^18

impl Dec {
    pub fn zero() -> Dec {
        Dec {
            mantissa: 0,
            scale: 0,
        }
    }

    /// A decimal literal: `-12`, `3.25`, `1e3`, `2.5E-2`. Nothing else (no `NaN`, no spaces
    /// inside, no hex).
    pub fn parse(s: &str) -> Option<Dec> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 {
            return None;
        }
        let (num, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (negative, digits) = match num.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, num.strip_prefix('+').unwrap_or(num)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let all: String = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        if all.len() > 30 {
            return None;
        }
        let mut mantissa: i128 = if all.is_empty() { 0 } else { all.parse().ok()? };
        let mut scale: i32 = frac.len() as i32 - exp;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        let mut scale = scale as u32;
        // Trailing zeros carry no value: 1.50 == 1.5.
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        if scale > MAX_SCALE {
            return None;
        }
        if negative {
            mantissa = -mantissa;
        }
        let d = Dec { mantissa, scale };
        (d.abs_int_part() < MAX_ABS).then_some(d)
    }

    fn abs_int_part(&self) -> i128 {
        (self.mantissa / 10i128.pow(self.scale)).abs()
    }

    fn aligned(self, other: Dec) -> (i128, i128) {
        let scale = self.scale.max(other.scale);
        (
            self.mantissa * 10i128.pow(scale - self.scale),
            other.mantissa * 10i128.pow(scale - other.scale),
        )
    }

    /// `(self - origin)` is a whole multiple of `step` (step > 0).
    pub fn on_step(self, origin: Dec, step: Dec) -> bool {
        let scale = self.scale.max(origin.scale).max(step.scale);
        let up = |d: Dec| d.mantissa * 10i128.pow(scale - d.scale);
        let step = up(step);
        step > 0 && (up(self) - up(origin)) % step == 0
    }

    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }
}

impl PartialEq for Dec {
    fn eq(&self, other: &Dec) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, other: &Dec) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dec {
    fn cmp(&self, other: &Dec) -> Ordering {
        let (a, b) = self.aligned(*other);
        a.cmp(&b)
    }
}

impl fmt::Display for Dec {
    /// Canonical form: no exponent, no trailing zeros (`2.5`, `-3`, `0.05`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.mantissa);
        }
        let p = 10i128.pow(self.scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let a = self.mantissa.abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            a / p,
            a % p,
            width = self.scale as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_canonically() {
        for (input, out) in [
            ("12", "12"),
            ("3.250", "3.25"),
            ("-0.5", "-0.5"),
            ("1e3", "1000"),
            ("2.5E-2", "0.025"),
            ("0007", "7"),
            (".5", "0.5"),
            ("-0", "0"),
        ] {
            assert_eq!(d(input).to_string(), out, "{input}");
        }
        for bad in [
            "", "abc", "1.2.3", "NaN", "inf", "1e", "--1", "1 000", "0x10", "1e-20", "1e30",
        ] {
            assert!(Dec::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn compares_exactly() {
        assert!(d("0.1") < d("0.2"));
        assert_eq!(d("1.50"), d("1.5"));
        assert!(d("-2") < d("-1.999"));
    }

    #[test]
    fn steps_are_exact_where_floats_fail() {
        // 0.3 - 0.1 is not a multiple of 0.1 in binary floating point; it is here.
        assert!(d("0.3").on_step(d("0.1"), d("0.1")));
        assert!(d("0.5").on_step(d("0.3"), d("0.1")));
        assert!(!d("0.55").on_step(d("0.3"), d("0.1")));
        assert!(d("7").on_step(d("1"), d("2")));
        assert!(!d("8").on_step(d("1"), d("2")));
        assert!(d("-4").on_step(Dec::zero(), d("2")));
    }
}
