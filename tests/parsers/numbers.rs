//! Decimals of number fields and money amounts: no input panics, a value survives being written
//! and read again, and the two routes to an amount (a JSON string, a JSON number) agree.

use atelier::money::{minor_unit_digits, parse_minor, parse_minor_json};
use atelier::personalization::decimal::Dec;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::arb::{hostile_text, text_of};

const NUMERIC: &[char] = &[
    '0', '1', '2', '5', '9', '.', '-', '+', 'e', 'E', ' ', '0', '0', '9',
];

/// `value / 10^scale` written out without exponent, as a person would.
fn plain(value: i128, scale: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let a = value.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{a}");
    }
    let p = 10u128.pow(scale);
    format!("{sign}{}.{:0width$}", a / p, a % p, width = scale as usize)
}

/// What `Dec`'s display must give for `value / 10^scale`: no trailing zeros, no `-0`.
fn canonical(value: i128, scale: u32) -> String {
    let s = plain(value, scale);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

proptest! {
    #[test]
    fn decimals_never_panic(s in prop_oneof![hostile_text(), text_of(NUMERIC, 40)]) {
        if let Some(d) = Dec::parse(&s) {
            // Whatever is accepted is displayed canonically and reads back as itself.
            let shown = d.to_string();
            prop_assert_eq!(Dec::parse(&shown), Some(d), "{:?} → {}", s, shown);
            prop_assert_eq!(Dec::parse(&shown).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn every_value_in_range_reads_back_in_every_spelling(
        value in -999_999_999_999_999_999_999_999_999i128..=999_999_999_999_999_999_999_999_999,
        scale in 0u32..=9,
        shift in 0u32..=9,
        padding in 0usize..3,
    ) {
        // value / 10^scale, magnitude under 10^18.
        let want = canonical(value / 10i128.pow(9 - scale), scale);
        let v = value / 10i128.pow(9 - scale);
        let literal = plain(v, scale);
        prop_assert_eq!(Dec::parse(&literal).map(|d| d.to_string()), Some(want.clone()), "{}", literal);
        // The same value with the point moved into an exponent: v × 10^shift × 10^-(scale+shift).
        let mantissa = v * 10i128.pow(shift.min(9 - scale));
        let e = scale + shift.min(9 - scale);
        let spelled = format!("{mantissa}e-{e:0>padding$}", padding = padding + 1);
        prop_assert_eq!(Dec::parse(&spelled).map(|d| d.to_string()), Some(want.clone()), "{}", spelled);
        let upper = format!("{}{}E+0", " ".repeat(padding), literal);
        prop_assert_eq!(Dec::parse(&upper).map(|d| d.to_string()), Some(want), "{}", upper);
    }

    #[test]
    fn order_is_the_order_of_the_values(a in -10_000_000i64..10_000_000, b in -10_000_000i64..10_000_000, sa in 0u32..=6, sb in 0u32..=6) {
        let da = Dec::parse(&plain(a as i128, sa)).unwrap();
        let db = Dec::parse(&plain(b as i128, sb)).unwrap();
        // Compare a/10^sa and b/10^sb exactly on a common scale.
        let (x, y) = (a as i128 * 10i128.pow(6 - sa), b as i128 * 10i128.pow(6 - sb));
        prop_assert_eq!(da.cmp(&db), x.cmp(&y));
    }

    #[test]
    fn steps_are_exact(origin in -100_000i64..100_000, step in 1i64..10_000, k in -1_000i64..1_000, off in 1i64..10_000, scale in 0u32..=6) {
        let at = |n: i64| Dec::parse(&plain(n as i128, scale)).unwrap();
        let on = origin + k * step;
        prop_assert!(at(on).on_step(at(origin), at(step)));
        // Anything between two steps is off the step.
        let off = off % step;
        if off != 0 {
            prop_assert!(!at(on + off).on_step(at(origin), at(step)));
        }
    }

    #[test]
    fn exponents_and_digit_runs_out_of_range_are_refused(
        digits in 1usize..60,
        exp in prop_oneof![19i64..100_000, Just(i64::MAX), Just(2_147_483_647)],
        negative_exp in any::<bool>(),
        lead in prop::sample::select(&["0", "1", "9", "0.0", "-0"][..]),
    ) {
        let run = "9".repeat(digits);
        let e = if negative_exp { format!("-{exp}") } else { exp.to_string() };
        // A non-zero mantissa with an exponent beyond the range is no value at all.
        let literal = format!("{run}e{e}");
        prop_assert!(Dec::parse(&literal).is_none(), "{}", literal);
        // Zero with any exponent is zero (or refused when the exponent has too many digits);
        // never an error of another kind.
        let zero = Dec::parse(&format!("{lead}e{e}"));
        if lead.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
            prop_assert!(zero.is_none() || zero == Some(Dec::zero()));
        }
    }

    #[test]
    fn money_never_panics(s in prop_oneof![hostile_text(), text_of(NUMERIC, 40)], currency in prop::sample::select(&["USD", "JPY", "KWD", "", "xx"][..])) {
        let direct = parse_minor(&s, currency);
        prop_assert_eq!(parse_minor_json(&Value::String(s.clone()), currency), direct);
    }

    #[test]
    fn a_formatted_amount_parses_to_itself(
        minor in -999_999_999_999_999i64..=999_999_999_999_999,
        currency in prop::sample::select(&["USD", "JPY", "KWD", "EUR", "CLP", "BHD"][..]),
        extra_zeros in 0usize..4,
    ) {
        let digits = minor_unit_digits(currency);
        let mut text = plain(minor as i128, digits);
        if extra_zeros > 0 {
            if digits == 0 { text.push('.'); }
            text.push_str(&"0".repeat(extra_zeros));
        }
        prop_assert_eq!(parse_minor(&text, currency), Ok(minor), "{}", text);
    }

    #[test]
    fn extra_decimals_round_half_away_from_zero(
        cents in 0i64..100_000_000,
        rest in prop::collection::vec(0u8..10, 1..6),
        negative in any::<bool>(),
    ) {
        let rest_text: String = rest.iter().map(|d| char::from(b'0' + d)).collect();
        let text = format!("{}{}{}", if negative { "-" } else { "" }, plain(cents as i128, 2), rest_text);
        let rounded = cents + i64::from(rest[0] >= 5);
        let want = if negative { -rounded } else { rounded };
        prop_assert_eq!(parse_minor(&text, "USD"), Ok(want), "{}", text);
    }

    #[test]
    fn a_json_number_and_its_text_are_the_same_amount(
        int in 0i64..1_000_000_000,
        frac in 0u32..1_000_000,
        frac_digits in 0u32..7,
        negative in any::<bool>(),
        tiny in 0u32..12,
    ) {
        // At most 15 significant digits: the JSON number keeps them exactly.
        let frac = frac % 10u32.pow(frac_digits);
        let mut text = int.to_string();
        if frac_digits > 0 {
            text = format!("{int}.{frac:0w$}", w = frac_digits as usize);
        }
        if negative { text.insert(0, '-'); }
        let number: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(parse_minor_json(&number, "USD"), parse_minor(&text, "USD"), "{}", text);
        // Tiny amounts are written with an exponent by JSON encoders (1e-7); still a number.
        let small = format!("0.{}1", "0".repeat(tiny as usize));
        let number: Value = serde_json::from_str(&small).unwrap();
        prop_assert_eq!(parse_minor_json(&number, "KWD"), parse_minor(&small, "KWD"), "{}", small);
    }
}

#[test]
fn json_numbers_written_with_an_exponent_are_amounts() {
    // `1e-7` is how serializers write a tiny number; its amount is zero cents, as for the
    // string "0.0000001", not an invalid amount.
    assert_eq!(parse_minor_json(&json!(0.0000001), "USD"), Ok(0));
    assert_eq!(parse_minor_json(&json!(1e-7), "USD"), Ok(0));
    assert_eq!(parse_minor_json(&json!(0.000006), "USD"), Ok(0));
    assert_eq!(parse_minor_json(&json!(1.5e2), "USD"), Ok(15000));
    // Past the range either way: refused, not wrapped.
    assert!(parse_minor_json(&json!(1e16), "USD").is_err());
    assert!(parse_minor_json(&json!(1e300), "USD").is_err());
}
