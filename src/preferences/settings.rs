//! The merchant's preference-center settings (`/api/preference-center`): size
//! categories with their sizes, the interest list, the contact frequencies and the texts shown
//! to shoppers. Stored as one JSON document per shop; a shop without a row gets [`defaults`].
//!
//! Changing the settings never touches shoppers' stored choices: a value no longer offered is
//! kept and marked stale when read (see [`super::prefs`]).

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{is_key, push_unknown_members};
use crate::db::schema::preference_settings;
use crate::db::{DbConnection, dialect, now, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::per_backend;

pub const MAX_SIZE_CATEGORIES: usize = 20;
pub const MAX_SIZES_PER_CATEGORY: usize = 60;
pub const MAX_SIZE_CHARS: usize = 40;
pub const MAX_INTERESTS: usize = 100;
pub const MAX_FREQUENCIES: usize = 20;
pub const MAX_TEXTS: usize = 50;
pub const MAX_LABEL_CHARS: usize = 100;
pub const MAX_TEXT_CHARS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeCategory {
    pub key: String,
    pub label: String,
    pub sizes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interest {
    pub key: String,
    pub label: String,
}

/// The full settings document; every member is always present in responses (a member missing
/// from a stored document, e.g. one added in a later version, reads as empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub size_categories: Vec<SizeCategory>,
    pub interests: Vec<Interest>,
    /// Frequency keys (`^[a-z0-9_]{1,40}$`), free for the merchant to choose.
    pub frequencies: Vec<String>,
    /// Texts shown to shoppers, by key.
    pub texts: BTreeMap<String, String>,
}

impl Settings {
    pub fn category(&self, key: &str) -> Option<&SizeCategory> {
        self.size_categories.iter().find(|c| c.key == key)
    }

    pub fn offers_size(&self, category: &str, size: &str) -> bool {
        self.category(category)
            .is_some_and(|c| c.sizes.iter().any(|s| s == size))
    }

    pub fn offers_interest(&self, key: &str) -> bool {
        self.interests.iter().any(|i| i.key == key)
    }

    pub fn offers_frequency(&self, key: &str) -> bool {
        self.frequencies.iter().any(|f| f == key)
    }
}

/// Settings of a shop that never saved its own: generic clothing sizes, a few interests every
/// store has, two frequencies and the consent texts.
pub fn defaults() -> Settings {
    let apparel: Vec<String> = ["XS", "S", "M", "L", "XL", "XXL"]
        .into_iter()
        .map(String::from)
        .collect();
    let cat = |key: &str, label: &str, sizes: Vec<String>| SizeCategory {
        key: key.into(),
        label: label.into(),
        sizes,
    };
    let interest = |key: &str, label: &str| Interest {
        key: key.into(),
        label: label.into(),
    };
    Settings {
        size_categories: vec![
            cat("tops", "Tops", apparel.clone()),
            cat("bottoms", "Bottoms", apparel),
            cat(
                "shoes",
                "Shoes (EU)",
                (35..=47).map(|n| n.to_string()).collect(),
            ),
        ],
        interests: vec![
            interest("new_arrivals", "New arrivals"),
            interest("bestsellers", "Bestsellers"),
            interest("sale", "Sale"),
            interest("gifts", "Gifts"),
        ],
        frequencies: vec!["weekly".into(), "monthly".into()],
        texts: [
            ("title", "Your preferences"),
            (
                "intro",
                "Tell us your sizes and what you like, and how you want to hear from us.",
            ),
            (
                "personalization_consent",
                "Use my browsing and order history to recommend products to me.",
            ),
            ("marketing_consent", "Send me news and offers by email."),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    }
}

/// The shop's settings, or the defaults.
pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<Settings> {
    let stored: Option<String> = preference_settings::table
        .find(shop_id)
        .select(preference_settings::settings)
        .first(c)
        .optional()?;
    match stored {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e))),
        None => Ok(defaults()),
    }
}

/// A checked `PUT` body: each member present replaces that member of the settings.
#[derive(Debug, Default)]
pub struct SettingsUpdate {
    pub size_categories: Option<Vec<SizeCategory>>,
    pub interests: Option<Vec<Interest>>,
    pub frequencies: Option<Vec<String>>,
    pub texts: Option<BTreeMap<String, String>>,
}

fn label(v: Option<&Value>, path: String, errors: &mut Vec<FieldError>) -> String {
    match v.and_then(Value::as_str).map(str::trim) {
        Some(l) if !l.is_empty() && l.chars().count() <= MAX_LABEL_CHARS => l.to_owned(),
        _ => {
            errors.push(FieldError::new(
                path,
                "invalid_label",
                format!("A label is a non-empty string of at most {MAX_LABEL_CHARS} characters."),
            ));
            String::new()
        }
    }
}

fn key(
    v: Option<&Value>,
    path: String,
    seen: &mut Vec<String>,
    errors: &mut Vec<FieldError>,
) -> String {
    match v.and_then(Value::as_str) {
        Some(k) if is_key(k) => {
            if seen.iter().any(|s| s == k) {
                errors.push(FieldError::new(
                    path,
                    "duplicate_key",
                    format!("The key {k:?} is used twice."),
                ));
            } else {
                seen.push(k.to_owned());
            }
            k.to_owned()
        }
        _ => {
            errors.push(FieldError::new(
                path,
                "invalid_key",
                "A key matches ^[a-z0-9_]{1,40}$.",
            ));
            String::new()
        }
    }
}

fn list<'a>(
    v: &'a Value,
    path: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<&'a Vec<Value>> {
    match v {
        Value::Array(a) if a.len() > max => {
            errors.push(FieldError::new(
                path,
                "too_many",
                format!("At most {max} entries."),
            ));
            None
        }
        Value::Array(a) => Some(a),
        _ => {
            errors.push(FieldError::new(path, "invalid_type", "Expected a list."));
            None
        }
    }
}

fn object<'a>(
    v: &'a Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a serde_json::Map<String, Value>> {
    let o = v.as_object();
    if o.is_none() {
        errors.push(FieldError::new(path, "invalid_type", "Expected an object."));
    }
    o
}

fn parse_categories(v: &Value, errors: &mut Vec<FieldError>) -> Vec<SizeCategory> {
    let mut out = Vec::new();
    let Some(items) = list(v, "size_categories", MAX_SIZE_CATEGORIES, errors) else {
        return out;
    };
    let mut keys = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("size_categories[{i}]");
        let Some(o) = object(item, &p, errors) else {
            continue;
        };
        push_unknown_members(o, &p, &["key", "label", "sizes"], errors);
        let key = key(o.get("key"), format!("{p}.key"), &mut keys, errors);
        let label = label(o.get("label"), format!("{p}.label"), errors);
        let mut sizes: Vec<String> = Vec::new();
        let sp = format!("{p}.sizes");
        match o.get("sizes") {
            None => errors.push(FieldError::new(&sp, "required", "sizes is required.")),
            Some(s) => {
                if let Some(list) = list(s, &sp, MAX_SIZES_PER_CATEGORY, errors) {
                    if list.is_empty() {
                        errors.push(FieldError::new(
                            &sp,
                            "no_sizes",
                            "A size category offers at least one size.",
                        ));
                    }
                    for (j, s) in list.iter().enumerate() {
                        let path = format!("{sp}[{j}]");
                        match s.as_str().map(str::trim) {
                            Some(s)
                                if !s.is_empty()
                                    && s.chars().count() <= MAX_SIZE_CHARS
                                    && !s.chars().any(char::is_control) =>
                            {
                                if sizes.iter().any(|o| o.to_lowercase() == s.to_lowercase()) {
                                    errors.push(FieldError::new(
                                        path,
                                        "duplicate",
                                        format!("The size {s:?} is listed twice."),
                                    ));
                                } else {
                                    sizes.push(s.to_owned());
                                }
                            }
                            _ => errors.push(FieldError::new(
                                path,
                                "invalid_size",
                                format!(
                                    "A size is a non-empty string of at most {MAX_SIZE_CHARS} characters."
                                ),
                            )),
                        }
                    }
                }
            }
        }
        out.push(SizeCategory { key, label, sizes });
    }
    out
}

fn parse_interests(v: &Value, errors: &mut Vec<FieldError>) -> Vec<Interest> {
    let mut out = Vec::new();
    let Some(items) = list(v, "interests", MAX_INTERESTS, errors) else {
        return out;
    };
    let mut keys = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("interests[{i}]");
        let Some(o) = object(item, &p, errors) else {
            continue;
        };
        push_unknown_members(o, &p, &["key", "label"], errors);
        let key = key(o.get("key"), format!("{p}.key"), &mut keys, errors);
        let label = label(o.get("label"), format!("{p}.label"), errors);
        out.push(Interest { key, label });
    }
    out
}

fn parse_frequencies(v: &Value, errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut seen = Vec::new();
    if let Some(items) = list(v, "frequencies", MAX_FREQUENCIES, errors) {
        for (i, item) in items.iter().enumerate() {
            key(Some(item), format!("frequencies[{i}]"), &mut seen, errors);
        }
    }
    seen
}

fn parse_texts(v: &Value, errors: &mut Vec<FieldError>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(o) = object(v, "texts", errors) else {
        return out;
    };
    if o.len() > MAX_TEXTS {
        errors.push(FieldError::new(
            "texts",
            "too_many",
            format!("At most {MAX_TEXTS} texts."),
        ));
        return out;
    }
    for (k, v) in o {
        let path = format!("texts.{k}");
        if !is_key(k) {
            errors.push(FieldError::new(
                path,
                "invalid_key",
                "A text key matches ^[a-z0-9_]{1,40}$.",
            ));
            continue;
        }
        match v.as_str() {
            Some(t) if t.chars().count() <= MAX_TEXT_CHARS => {
                out.insert(k.clone(), t.to_owned());
            }
            Some(_) => errors.push(FieldError::new(
                path,
                "too_long",
                format!("A text has at most {MAX_TEXT_CHARS} characters."),
            )),
            None => errors.push(FieldError::new(path, "invalid_type", "A text is a string.")),
        }
    }
    out
}

/// Checks a `PUT /api/preference-center` body, naming every problem.
pub fn parse_update(body: &Value) -> Result<SettingsUpdate, Vec<FieldError>> {
    let Some(o) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "The body must be a JSON object.",
        )]);
    };
    let mut errors = Vec::new();
    push_unknown_members(
        o,
        "",
        &["size_categories", "interests", "frequencies", "texts"],
        &mut errors,
    );
    let update = SettingsUpdate {
        size_categories: o
            .get("size_categories")
            .map(|v| parse_categories(v, &mut errors)),
        interests: o.get("interests").map(|v| parse_interests(v, &mut errors)),
        frequencies: o
            .get("frequencies")
            .map(|v| parse_frequencies(v, &mut errors)),
        texts: o.get("texts").map(|v| parse_texts(v, &mut errors)),
    };
    if errors.is_empty() {
        Ok(update)
    } else {
        Err(errors)
    }
}

/// Applies a checked update (members absent from the body stay as they were) and returns the
/// full settings. Serialized per shop: two partial updates never lose each other's members.
pub fn update(c: &mut DbConnection, shop_id: &str, update: SettingsUpdate) -> AppResult<Settings> {
    write_tx(c, |c| {
        let at = now();
        let initial = serde_json::to_string(&defaults()).map_err(AppError::internal)?;
        per_backend!(c, |c| diesel::insert_into(preference_settings::table)
            .values((
                preference_settings::shop_id.eq(shop_id),
                preference_settings::settings.eq(&initial),
                preference_settings::updated_at.eq(at),
            ))
            .on_conflict(preference_settings::shop_id)
            .do_nothing()
            .execute(c))?;
        let q = preference_settings::table
            .find(shop_id)
            .select(preference_settings::settings);
        let stored: String = dialect::first_locked(c, q, |q| q.for_update())?;
        let mut settings: Settings = serde_json::from_str(&stored).map_err(AppError::internal)?;
        if let Some(v) = update.size_categories {
            settings.size_categories = v;
        }
        if let Some(v) = update.interests {
            settings.interests = v;
        }
        if let Some(v) = update.frequencies {
            settings.frequencies = v;
        }
        if let Some(v) = update.texts {
            settings.texts = v;
        }
        let json = serde_json::to_string(&settings).map_err(AppError::internal)?;
        diesel::update(preference_settings::table.find(shop_id))
            .set((
                preference_settings::settings.eq(json),
                preference_settings::updated_at.eq(at),
            ))
            .execute(c)?;
        Ok(settings)
    })
}
