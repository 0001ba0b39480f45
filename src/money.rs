//! Money is integer minor units. Shopify sends amounts as decimal strings in the shop's
//! currency ("89.99", "1000", "1.250"); they are converted exactly, never through a float. The
//! arithmetic and the decimal rules are the pricing crate's, shared with the Cart Transform
//! function, so the server and checkout count money the same way.

pub use atelier_pricing::money::{Overflow, add, minor_unit_digits, sub, sum, times};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a decimal amount")]
pub struct InvalidAmount(pub String);

/// Parses a decimal amount into minor units of `currency`. Extra decimals beyond the currency's
/// precision are rounded half away from zero (Shopify pads, it does not add precision).
pub fn parse_minor(amount: &str, currency: &str) -> Result<i64, InvalidAmount> {
    atelier_pricing::money::parse_minor(amount, minor_unit_digits(currency))
        .ok_or_else(|| InvalidAmount(amount.chars().take(40).collect()))
}

/// A JSON amount that may arrive as a string ("12.50") or a number (12.5, 12).
pub fn parse_minor_json(value: &serde_json::Value, currency: &str) -> Result<i64, InvalidAmount> {
    match value {
        serde_json::Value::String(s) => parse_minor(s, currency),
        // An integer's exact digits; a fraction's shortest decimal text (the digits as sent
        // for any amount of up to 15 significant digits), never arithmetic on an f64. Rust
        // writes that text without an exponent, where serde_json would write a small amount
        // as `1e-7`, which is no decimal amount.
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => parse_minor(&i.to_string(), currency),
            (None, Some(u), _) => parse_minor(&u.to_string(), currency),
            (None, None, Some(f)) => parse_minor(&f.to_string(), currency),
            (None, None, None) => Err(InvalidAmount(n.to_string().chars().take(40).collect())),
        },
        serde_json::Value::Null => Ok(0),
        other => Err(InvalidAmount(other.to_string().chars().take(40).collect())),
    }
}

/// `amount` minor units as the decimal string Shopify writes ("12.50", "1000", "-0.05").
pub fn format_minor(amount: i64, currency: &str) -> String {
    let digits = minor_unit_digits(currency);
    if digits == 0 {
        return amount.to_string();
    }
    let scale = 10u64.pow(digits);
    let abs = amount.unsigned_abs();
    let sign = if amount < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_on_amounts_is_checked() {
        assert_eq!(sum([1, 2, 3]), Ok(6));
        assert_eq!(sum([i64::MAX, 1]), Err(Overflow));
        assert_eq!(sum([i64::MIN, -1]), Err(Overflow));
        assert_eq!(times(i64::MAX / 2, 3), Err(Overflow));
        assert_eq!(times(250, 4), Ok(1000));
        assert_eq!(sub(i64::MAX, -1), Err(Overflow));
        assert_eq!(add(i64::MAX, 0), Ok(i64::MAX));
    }

    #[test]
    fn converts_exactly() {
        assert_eq!(parse_minor("89.99", "USD"), Ok(8999));
        assert_eq!(parse_minor("0.10", "EUR"), Ok(10));
        assert_eq!(parse_minor("0.1", "EUR"), Ok(10));
        assert_eq!(parse_minor("12", "USD"), Ok(1200));
        assert_eq!(parse_minor("1000", "JPY"), Ok(1000));
        assert_eq!(parse_minor("1000.00", "JPY"), Ok(1000));
        assert_eq!(parse_minor("1.250", "KWD"), Ok(1250));
        assert_eq!(parse_minor("-5.00", "USD"), Ok(-500));
        assert_eq!(parse_minor(".5", "USD"), Ok(50));
        // 0.1 + 0.2 style float traps do not exist here.
        assert_eq!(parse_minor("0.29", "USD"), Ok(29));
        assert_eq!(parse_minor("19.999", "USD"), Ok(2000));
        assert_eq!(parse_minor("19.994", "USD"), Ok(1999));
    }

    #[test]
    fn rejects_non_amounts() {
        for bad in [
            "",
            ".",
            "abc",
            "1,00",
            "1.2.3",
            "1e5",
            "--1",
            "9999999999999999999",
        ] {
            assert!(parse_minor(bad, "USD").is_err(), "{bad}");
        }
    }

    #[test]
    fn json_numbers_and_strings() {
        assert_eq!(
            parse_minor_json(&serde_json::json!("29.95"), "USD"),
            Ok(2995)
        );
        assert_eq!(parse_minor_json(&serde_json::json!(29.95), "USD"), Ok(2995));
        assert_eq!(parse_minor_json(&serde_json::json!(30), "USD"), Ok(3000));
        assert!(parse_minor_json(&serde_json::json!([1]), "USD").is_err());
    }

    #[test]
    fn json_numbers_written_with_an_exponent_are_read_like_their_strings() {
        // serde_json writes 0.0000001 as `1e-7`: the same amount as the string, not invalid.
        assert_eq!(
            parse_minor_json(&serde_json::json!(0.0000001), "USD"),
            Ok(0)
        );
        assert_eq!(parse_minor_json(&serde_json::json!(0.000006), "USD"), Ok(0));
        assert_eq!(parse_minor_json(&serde_json::json!(0.0005), "KWD"), Ok(1));
        assert!(parse_minor_json(&serde_json::json!(1e16), "USD").is_err());
        assert!(parse_minor_json(&serde_json::json!(1e300), "USD").is_err());
    }
}
