//! Per-shop personalization settings (`GET/PUT /api/personalization/settings`): the blocked-words
//! list applied to every shopper text of the shop, and the fee product variant the storefront
//! adds to charge the add-on (see the README, "Charging the add-on").
//!
//! `PUT` is partial: a member that is absent keeps its value; `fee_variant_id: null` clears it.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::db::schema::personalization_settings as ps;
use crate::db::{DbConnection, now, rfc3339};
use crate::error::FieldError;
use crate::input::{self, Lenient, Problems, Unknown};
use crate::per_backend;
use crate::shopify::payload::parse_id;

pub const MAX_BLOCKED_WORDS: usize = 2_000;
pub const MAX_WORD_CHARS: usize = 64;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Policy {
    pub blocked_words: Vec<String>,
    /// A Shopify variant id, as a decimal string.
    pub fee_variant_id: Option<String>,
    pub updated_at: Option<String>,
}

impl Policy {
    pub fn fee_variant(&self) -> Option<i64> {
        self.fee_variant_id.as_deref().and_then(|v| v.parse().ok())
    }
}

/// A checked `PUT` body: `None` members stay as they are.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub blocked_words: Option<Vec<String>>,
    pub fee_variant_id: Option<Option<i64>>,
}

/// A `PUT` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PolicyPatch {
    blocked_words: Lenient<Vec<Lenient<String>>>,
    /// A Shopify id: a number, a string of digits or a gid.
    fee_variant_id: Lenient<Value>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Checks a PUT body, naming each problem; words are NFC-normalized, trimmed, and de-duplicated
/// case-insensitively.
pub fn parse(body: &Value) -> Result<Change, Vec<FieldError>> {
    let patch: PolicyPatch = input::object(body, "The body must be an object.")?;
    let mut p = Problems::new();
    p.unknown_members("", patch.unknown.keys(), |key| {
        format!("`{key}` is not a setting.")
    });
    let mut change = Change::default();
    match patch.blocked_words.typed(
        &mut p,
        "blocked_words",
        "blocked_words is a list of strings.",
    ) {
        Some(list) if list.len() > MAX_BLOCKED_WORDS => p.push(
            "blocked_words",
            "too_many",
            format!("At most {MAX_BLOCKED_WORDS} blocked words."),
        ),
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for (i, w) in list.into_iter().enumerate() {
                let path = input::item("blocked_words", i);
                let Some(w) = w.typed(&mut p, path.clone(), "A blocked word is a string.") else {
                    continue;
                };
                let w: String = w.trim().nfc().collect();
                let n = w.chars().count();
                if n == 0 || n > MAX_WORD_CHARS {
                    p.push(
                        path,
                        "invalid_length",
                        format!("A blocked word is 1 to {MAX_WORD_CHARS} characters."),
                    );
                } else if w.chars().any(char::is_control) {
                    p.push(
                        path,
                        "control_character",
                        "A blocked word cannot contain control characters.",
                    );
                } else if !out.iter().any(|o| o.to_lowercase() == w.to_lowercase()) {
                    out.push(w);
                }
            }
            if !super::BlockedWords::compiles(&out) {
                // Stored, such a list would refuse every shopper text of the shop.
                p.push(
                    "blocked_words",
                    "too_complex",
                    "These blocked words are too many or too long to check together; shorten the list.",
                );
            }
            change.blocked_words = Some(out);
        }
        None => {}
    }
    match patch.fee_variant_id.raw() {
        None => {}
        Some(Value::Null) => change.fee_variant_id = Some(None),
        Some(v) => match parse_id(v).filter(|id| *id > 0) {
            Some(id) => change.fee_variant_id = Some(Some(id)),
            None => p.push(
                "fee_variant_id",
                "invalid_id",
                "fee_variant_id is a Shopify variant id (a number, a string of digits or a gid), or null.",
            ),
        },
    }
    p.finish(change)
}

type Row = (String, Option<i64>, time::PrimitiveDateTime);

pub fn get(c: &mut DbConnection, shop_id: &str) -> QueryResult<Policy> {
    let row: Option<Row> = ps::table
        .filter(ps::shop_id.eq(shop_id))
        .select((ps::blocked_words, ps::fee_variant_id, ps::updated_at))
        .first(c)
        .optional()?;
    Ok(row.map_or_else(Policy::default, |(words, fee, at)| Policy {
        blocked_words: serde_json::from_str(&words).unwrap_or_default(),
        fee_variant_id: fee.map(|v| v.to_string()),
        updated_at: Some(rfc3339(at)),
    }))
}

/// Applies a change (read and write in one transaction).
pub fn put(c: &mut DbConnection, shop_id: &str, change: Change) -> QueryResult<Policy> {
    crate::db::write_tx(c, |c| {
        let current = get(c, shop_id)?;
        let before = current.fee_variant();
        let words = change.blocked_words.unwrap_or(current.blocked_words);
        let fee = change
            .fee_variant_id
            .unwrap_or_else(|| current.fee_variant_id.and_then(|v| v.parse().ok()));
        let json = serde_json::to_string(&words).unwrap_or_else(|_| "[]".into());
        let at = now();
        if fee != before {
            // Every price table names the fee variant: write them all again.
            let products = super::checkout::assigned_products(c, shop_id)?;
            super::checkout::mark_due(c, shop_id, &products)?;
        }
        per_backend!(c, |c| diesel::insert_into(ps::table)
            .values((
                ps::shop_id.eq(shop_id),
                ps::blocked_words.eq(&json),
                ps::fee_variant_id.eq(fee),
                ps::updated_at.eq(at)
            ))
            .on_conflict(ps::shop_id)
            .do_update()
            .set((
                ps::blocked_words.eq(&json),
                ps::fee_variant_id.eq(fee),
                ps::updated_at.eq(at)
            ))
            .execute(c))?;
        Ok(Policy {
            blocked_words: words,
            fee_variant_id: fee.map(|v| v.to_string()),
            updated_at: Some(rfc3339(at)),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_bad_value_and_dedupes() {
        let e = parse(&json!({"blocked_words": ["ok", "", 3, "x".repeat(65), "a\u{7}b"], "nope": 1, "fee_variant_id": "abc"}))
            .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "nope",
                "blocked_words[1]",
                "blocked_words[2]",
                "blocked_words[3]",
                "blocked_words[4]",
                "fee_variant_id"
            ]
        );
        assert_eq!(
            parse(&json!({"blocked_words": [" Darn ", "darn", "Cafe\u{301}"]}))
                .unwrap()
                .blocked_words,
            Some(vec!["Darn".to_owned(), "Café".to_owned()])
        );
        assert_eq!(
            parse(&json!({"fee_variant_id": "gid://shopify/ProductVariant/42"})).unwrap(),
            Change {
                blocked_words: None,
                fee_variant_id: Some(Some(42))
            }
        );
        assert_eq!(
            parse(&json!({"fee_variant_id": null}))
                .unwrap()
                .fee_variant_id,
            Some(None)
        );
        assert_eq!(parse(&json!({})).unwrap(), Change::default());
        assert!(parse(&json!({"blocked_words": "darn"})).is_err());
        assert!(parse(&json!([])).is_err());
    }
}

/// Policy as the storefront uses them: the blocked words compiled once.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Policy,
    pub blocked: super::BlockedWords,
}

impl Loaded {
    pub fn new(settings: Policy) -> Self {
        let blocked = super::BlockedWords::new(&settings.blocked_words);
        Loaded { settings, blocked }
    }
}
