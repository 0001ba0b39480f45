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
/// Digits before the decimal point of the largest accepted value (under 10^18).
const MAX_INT_DIGITS: i64 = 18;
/// Bytes of a literal: more than any real quantity needs, small enough that the digit
/// handling below is a few microseconds.
pub const MAX_LITERAL: usize = 64;
/// Digits of an exponent (after its sign and leading zeros): `1e9999` is already far out of
/// range, so a longer exponent is refused before it is read as a number.
const MAX_EXPONENT_DIGITS: usize = 4;

/// The exponent of a literal: an optional sign and ASCII digits, at most
/// [`MAX_EXPONENT_DIGITS`] significant ones.
fn parse_exponent(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > MAX_EXPONENT_DIGITS {
        return None;
    }
    let e: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -e } else { e })
}

impl Dec {
    pub fn zero() -> Dec {
        Dec {
            mantissa: 0,
            scale: 0,
        }
    }

    /// A decimal literal: `-12`, `3.25`, `1e3`, `2.5E-2`. Nothing else (no `NaN`, no spaces
    /// inside, no hex).
    ///
    /// A shopper controls this text, so the work is bounded by construction: the literal is at
    /// most [`MAX_LITERAL`] bytes, its exponent at most [`MAX_EXPONENT_DIGITS`] digits, and the
    /// value is assembled with one multiplication by a power of ten that is checked against
    /// the range first. No loop runs once per unit of exponent. Anything out of range is
    /// `None`, which the caller reports as "not a number".
    pub fn parse(s: &str) -> Option<Dec> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_LITERAL {
            return None;
        }
        let (num, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], parse_exponent(&s[i + 1..])?),
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
        // value = significant digits × 10^power, the digits stripped of leading zeros (no
        // value) and trailing zeros (moved into the power: 1.50 == 1.5).
        let all = format!("{int}{frac}");
        let significant = all.trim_start_matches('0');
        let kept = significant.trim_end_matches('0');
        if kept.is_empty() {
            return Some(Dec::zero());
        }
        // Both terms are bounded (64 bytes, 4 exponent digits): no overflow in i64.
        let power = exp - frac.len() as i64 + (significant.len() - kept.len()) as i64;
        let (mantissa, scale) = if power >= 0 {
            // Integer digits: the value must stay under 10^18.
            if kept.len() as i64 + power > MAX_INT_DIGITS {
                return None;
            }
            let m: i128 = kept.parse().ok()?;
            (m * 10i128.pow(power as u32), 0)
        } else {
            let scale = -power;
            if scale > MAX_SCALE as i64 || kept.len() as i64 - scale > MAX_INT_DIGITS {
                return None;
            }
            (kept.parse::<i128>().ok()?, scale as u32)
        };
        let mantissa = if negative { -mantissa } else { mantissa };
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
    fn huge_exponents_are_refused_without_work() {
        // Each of these used to loop once per unit of exponent (seconds per value).
        let started = std::time::Instant::now();
        for bad in [
            "0e2147483647",
            "0e-2147483647",
            "1e2147483647",
            "1e-2147483648",
            "0.0e-2147483648",
            "-0e99999999999999999999",
            "1e10000",
            "1e19",
            "1e-10",
            "1234567890123456789.5",
            "1234567890123456789",
            "1.0000000001",
        ] {
            assert!(Dec::parse(bad).is_none(), "{bad:?}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(50),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn exponents_within_range_still_work() {
        for (input, out) in [
            ("0e9999", "0"),
            ("0e-9999", "0"),
            ("1e17", "100000000000000000"),
            ("999999999999999999", "999999999999999999"),
            (
                "-999999999999999999.999999999",
                "-999999999999999999.999999999",
            ),
            ("1e-9", "0.000000001"),
            ("100e-11", "0.000000001"),
            ("0.00000000000000000000000000000000000000001e41", "1"),
            ("5e+0002", "500"),
            ("+7E0", "7"),
            ("1.5000e1", "15"),
        ] {
            assert_eq!(d(input).to_string(), out, "{input}");
        }
        for bad in [
            "1e+", "1e-", "1e1.5", "1e 2", "1e--2", "1e+-2", "e5", ".e5", "1ee2",
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
