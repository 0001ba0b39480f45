//! Money is integer minor units. Amounts arrive as decimal text ("89.99", "1000", "1.250") and
//! are converted exactly, never through a float; sums and products are checked, so an amount out
//! of range is reported instead of wrapping into a wrong one.

use std::fmt;

/// Digits after the decimal point of an ISO 4217 currency.
pub fn minor_unit_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// A sum or product of amounts that does not fit in 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount is out of range (it does not fit in 64 bits)")
    }
}

impl std::error::Error for Overflow {}

/// `a + b`, checked.
pub fn add(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// `a - b`, checked.
pub fn sub(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

/// `amount × quantity`, checked.
pub fn times(amount: i64, quantity: i64) -> Result<i64, Overflow> {
    amount.checked_mul(quantity).ok_or(Overflow)
}

/// The sum of `amounts`, checked.
pub fn sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, Overflow> {
    amounts.into_iter().try_fold(0i64, add)
}

/// Parses decimal text into minor units with `digits` decimals. Extra decimals are rounded half
/// away from zero; `None` for anything that is not a plain decimal (no exponent, no grouping).
pub fn parse_minor(amount: &str, digits: u32) -> Option<i64> {
    let s = amount.trim();
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
        || int_part.len() > 15
    {
        return None;
    }
    let mut value: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let scale = digits as usize;
    for i in 0..scale {
        let d = frac_part.as_bytes().get(i).map_or(0, |b| (b - b'0') as i64);
        value = value.checked_mul(10)?.checked_add(d)?;
    }
    if frac_part.as_bytes().get(scale).is_some_and(|b| *b >= b'5') {
        value = value.checked_add(1)?;
    }
    Some(if negative { -value } else { value })
}

/// Minor units as decimal text with exactly `digits` decimals: `(1234, 2)` → `"12.34"`.
pub fn format_minor(minor: i64, digits: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{abs}");
    }
    let div = 10u64.pow(digits);
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = digits as usize
    )
}

/// An exchange rate held exactly: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    units: i128,
    scale: u32,
}

/// Significant digits a rate may carry (Shopify sends at most a handful; this bounds the
/// arithmetic well inside 128 bits).
const MAX_RATE_DIGITS: usize = 24;

impl Rate {
    pub const ONE: Rate = Rate { units: 1, scale: 0 };

    /// Reads a rate from decimal text, `"1.3684"`, also in the exponent form a float's shortest
    /// text takes for very small or large numbers (`"6.6e-7"`). Zero, negative or unreadable
    /// rates are `None`: no conversion can be trusted then.
    pub fn parse(text: &str) -> Option<Rate> {
        let s = text.trim();
        let (mantissa, exponent) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() || digits.len() > MAX_RATE_DIGITS || !(-30..=30).contains(&exponent) {
            return None;
        }
        let mut units: i128 = digits.parse().ok()?;
        let mut scale = frac_part.len() as i32 - exponent;
        while scale < 0 {
            units = units.checked_mul(10)?;
            scale += 1;
        }
        Some(Rate {
            units,
            scale: scale as u32,
        })
    }
}

/// `amount` (minor units with `from_digits` decimals) times `rate`, in minor units with
/// `to_digits` decimals, rounded half away from zero. `None` when it does not fit.
pub fn convert(amount: i64, from_digits: u32, rate: Rate, to_digits: u32) -> Option<i64> {
    let num = (amount as i128)
        .checked_mul(rate.units)?
        .checked_mul(10i128.checked_pow(to_digits)?)?;
    let den = 10i128.checked_pow(rate.scale.checked_add(from_digits)?)?;
    let half = den / 2;
    let q = if num >= 0 {
        num.checked_add(half)? / den
    } else {
        -((-num).checked_add(half)? / den)
    };
    i64::try_from(q).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(sum([1, 2, 3]), Ok(6));
        assert_eq!(sum([i64::MAX, 1]), Err(Overflow));
        assert_eq!(times(i64::MAX / 2, 3), Err(Overflow));
        assert_eq!(sub(i64::MIN, 1), Err(Overflow));
        assert_eq!(add(i64::MAX, 0), Ok(i64::MAX));
    }

    #[test]
    fn decimal_text_is_exact() {
        assert_eq!(parse_minor("89.99", 2), Some(8999));
        assert_eq!(parse_minor("0.1", 2), Some(10));
        assert_eq!(parse_minor("1000", 0), Some(1000));
        assert_eq!(parse_minor("1.250", 3), Some(1250));
        assert_eq!(parse_minor("19.995", 2), Some(2000));
        assert_eq!(parse_minor("-5.00", 2), Some(-500));
        for bad in ["", ".", "1e5", "1,00", "abc", "9999999999999999999"] {
            assert_eq!(parse_minor(bad, 2), None, "{bad}");
        }
        assert_eq!(format_minor(1234, 2), "12.34");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(1250, 3), "1.250");
        assert_eq!(format_minor(700, 0), "700");
        assert_eq!(format_minor(-5, 2), "-0.05");
        for n in [0, 1, 99, 100, 123_456_789] {
            assert_eq!(parse_minor(&format_minor(n, 2), 2), Some(n), "round trip");
        }
    }

    #[test]
    fn rates_are_read_exactly() {
        assert_eq!(Rate::parse("1"), Some(Rate::ONE));
        assert_eq!(
            Rate::parse("1.3684"),
            Some(Rate {
                units: 13684,
                scale: 4
            })
        );
        assert_eq!(
            Rate::parse("6.6e-7"),
            Some(Rate {
                units: 66,
                scale: 8
            })
        );
        assert_eq!(
            Rate::parse("1.5e3"),
            Some(Rate {
                units: 1500,
                scale: 0
            })
        );
        for bad in ["", "0", "0.000", "-1.2", "abc", "1.2.3", "1e999", "NaN"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn conversion_rounds_half_away_from_zero() {
        let r = |t| Rate::parse(t).unwrap();
        assert_eq!(convert(1000, 2, Rate::ONE, 2), Some(1000));
        // $10.00 at 1.3684 = 13.684 → 13.68; $12.50 at 0.9 = 11.25 exactly.
        assert_eq!(convert(1000, 2, r("1.3684"), 2), Some(1368));
        assert_eq!(convert(1250, 2, r("0.9"), 2), Some(1125));
        // 0.125 → 0.13: a half rounds up.
        assert_eq!(convert(125, 2, r("0.1"), 2), Some(13));
        // Into a currency without minor units: $8.50 at 151.37 = ¥1286.645 → ¥1287.
        assert_eq!(convert(850, 2, r("151.37"), 0), Some(1287));
        // Into three decimals: $1.00 at 0.307 = 0.307 KWD.
        assert_eq!(convert(100, 2, r("0.307"), 3), Some(307));
        assert_eq!(convert(i64::MAX, 2, r("1000"), 2), None, "out of range");
    }
}
