//! Per-shop personalization settings (`GET/PUT /api/personalization/settings`): the blocked-words
//! list applied to every shopper text of the shop.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::db::schema::personalization_settings as ps;
use crate::db::{DbConnection, now, rfc3339};
use crate::error::FieldError;
use crate::per_backend;

pub const MAX_BLOCKED_WORDS: usize = 2_000;
pub const MAX_WORD_CHARS: usize = 64;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Settings {
    pub blocked_words: Vec<String>,
    pub updated_at: Option<String>,
}

/// Checks a PUT body, naming each problem; words are NFC-normalized, trimmed, and de-duplicated
/// case-insensitively.
pub fn parse(body: &Value) -> Result<Vec<String>, Vec<FieldError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "The body must be an object.",
        )]);
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if key != "blocked_words" {
            errors.push(FieldError::new(
                key.clone(),
                "unknown_field",
                format!("`{key}` is not a setting."),
            ));
        }
    }
    let words = match obj.get("blocked_words") {
        Some(Value::Array(list)) if list.len() > MAX_BLOCKED_WORDS => {
            errors.push(FieldError::new(
                "blocked_words",
                "too_many",
                format!("At most {MAX_BLOCKED_WORDS} blocked words."),
            ));
            Vec::new()
        }
        Some(Value::Array(list)) => {
            let mut out: Vec<String> = Vec::new();
            for (i, w) in list.iter().enumerate() {
                let path = format!("blocked_words[{i}]");
                let Some(w) = w.as_str() else {
                    errors.push(FieldError::new(
                        path,
                        "invalid_type",
                        "A blocked word is a string.",
                    ));
                    continue;
                };
                let w: String = w.trim().nfc().collect();
                let n = w.chars().count();
                if n == 0 || n > MAX_WORD_CHARS {
                    errors.push(FieldError::new(
                        path,
                        "invalid_length",
                        format!("A blocked word is 1 to {MAX_WORD_CHARS} characters."),
                    ));
                } else if w.chars().any(char::is_control) {
                    errors.push(FieldError::new(
                        path,
                        "control_character",
                        "A blocked word cannot contain control characters.",
                    ));
                } else if !out.iter().any(|o| o.to_lowercase() == w.to_lowercase()) {
                    out.push(w);
                }
            }
            out
        }
        Some(_) => {
            errors.push(FieldError::new(
                "blocked_words",
                "invalid_type",
                "blocked_words is a list of strings.",
            ));
            Vec::new()
        }
        None => {
            errors.push(FieldError::new(
                "blocked_words",
                "required",
                "blocked_words is required.",
            ));
            Vec::new()
        }
    };
    if errors.is_empty() {
        Ok(words)
    } else {
        Err(errors)
    }
}

pub fn get(c: &mut DbConnection, shop_id: &str) -> QueryResult<Settings> {
    let row: Option<(String, time::PrimitiveDateTime)> = ps::table
        .filter(ps::shop_id.eq(shop_id))
        .select((ps::blocked_words, ps::updated_at))
        .first(c)
        .optional()?;
    Ok(row.map_or_else(Settings::default, |(words, at)| Settings {
        blocked_words: serde_json::from_str(&words).unwrap_or_default(),
        updated_at: Some(rfc3339(at)),
    }))
}

pub fn put(c: &mut DbConnection, shop_id: &str, words: &[String]) -> QueryResult<Settings> {
    let json = serde_json::to_string(words).unwrap_or_else(|_| "[]".into());
    let at = now();
    per_backend!(c, |c| diesel::insert_into(ps::table)
        .values((
            ps::shop_id.eq(shop_id),
            ps::blocked_words.eq(&json),
            ps::updated_at.eq(at)
        ))
        .on_conflict(ps::shop_id)
        .do_update()
        .set((ps::blocked_words.eq(&json), ps::updated_at.eq(at)))
        .execute(c))?;
    Ok(Settings {
        blocked_words: words.to_vec(),
        updated_at: Some(rfc3339(at)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_every_bad_word_and_dedupes() {
        let e =
            parse(&json!({"blocked_words": ["ok", "", 3, "x".repeat(65), "a\u{7}b"], "nope": 1}))
                .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "nope",
                "blocked_words[1]",
                "blocked_words[2]",
                "blocked_words[3]",
                "blocked_words[4]"
            ]
        );
        assert_eq!(
            parse(&json!({"blocked_words": [" Darn ", "darn", "Cafe\u{301}"]})).unwrap(),
            vec!["Darn".to_owned(), "Café".to_owned()]
        );
        assert!(parse(&json!({"blocked_words": "darn"})).is_err());
        assert!(parse(&json!([])).is_err());
    }
}
