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

use super::{is_key, is_text_key};
use crate::db::schema::preference_settings;
use crate::db::{DbConnection, dialect, now, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};
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
pub struct Center {
    pub size_categories: Vec<SizeCategory>,
    pub interests: Vec<Interest>,
    /// Frequency keys (1 to 64 of `a-z`, `0-9`, `_`, `-`), free for the merchant to choose.
    pub frequencies: Vec<String>,
    /// Texts shown to shoppers, by key.
    pub texts: BTreeMap<String, String>,
}

impl Center {
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

/// Center of a shop that never saved its own: generic clothing sizes, a few interests every
/// store has, two frequencies and the consent texts.
pub fn defaults() -> Center {
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
    Center {
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
pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<Center> {
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
pub struct CenterUpdate {
    pub size_categories: Option<Vec<SizeCategory>>,
    pub interests: Option<Vec<Interest>>,
    pub frequencies: Option<Vec<String>>,
    pub texts: Option<BTreeMap<String, String>>,
}

/// A `PUT` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CenterPatch {
    size_categories: Lenient<Vec<Lenient<CategoryIn>>>,
    interests: Lenient<Vec<Lenient<InterestIn>>>,
    frequencies: Lenient<Vec<Lenient<String>>>,
    texts: Lenient<BTreeMap<String, Lenient<String>>>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CategoryIn {
    key: Lenient<String>,
    label: Lenient<String>,
    sizes: Lenient<Vec<Lenient<String>>>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InterestIn {
    key: Lenient<String>,
    label: Lenient<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

fn not_in_request(_: &str) -> String {
    "This member is not part of the request.".into()
}

fn label(v: Lenient<String>, path: String, p: &mut Problems) -> String {
    match v.as_ok().map(|l| l.trim()) {
        Some(l) if !l.is_empty() && l.chars().count() <= MAX_LABEL_CHARS => l.to_owned(),
        _ => {
            p.push(
                path,
                "invalid_label",
                format!("A label is a non-empty string of at most {MAX_LABEL_CHARS} characters."),
            );
            String::new()
        }
    }
}

fn key(v: Lenient<String>, path: String, seen: &mut Vec<String>, p: &mut Problems) -> String {
    match v.ok() {
        Some(k) if is_key(&k) => {
            if seen.contains(&k) {
                p.push(
                    path,
                    "duplicate_key",
                    format!("The key {k:?} is used twice."),
                );
            } else {
                seen.push(k.clone());
            }
            k
        }
        _ => {
            p.push(
                path,
                "invalid_key",
                "A key is 1 to 64 characters of a-z, 0-9, _ and -.",
            );
            String::new()
        }
    }
}

/// A present list of at most `max` entries.
fn list<T>(v: Lenient<Vec<T>>, path: &str, max: usize, p: &mut Problems) -> Option<Vec<T>> {
    match v.typed(p, path, "Expected a list.") {
        Some(a) if a.len() > max => {
            p.push(path, "too_many", format!("At most {max} entries."));
            None
        }
        a => a,
    }
}

fn object<T>(v: Lenient<T>, path: &str, p: &mut Problems) -> Option<T> {
    v.typed(p, path, "Expected an object.")
}

fn parse_sizes(v: Lenient<Vec<Lenient<String>>>, sp: &str, p: &mut Problems) -> Vec<String> {
    let mut sizes: Vec<String> = Vec::new();
    if v.is_absent() {
        p.push(sp, "required", "sizes is required.");
        return sizes;
    }
    let Some(list) = list(v, sp, MAX_SIZES_PER_CATEGORY, p) else {
        return sizes;
    };
    if list.is_empty() {
        p.push(sp, "no_sizes", "A size category offers at least one size.");
    }
    for (j, s) in list.iter().enumerate() {
        let path = input::item(sp, j);
        match s.as_ok().map(|s| s.trim()) {
            Some(s)
                if !s.is_empty()
                    && s.chars().count() <= MAX_SIZE_CHARS
                    && !s.chars().any(char::is_control) =>
            {
                if sizes.iter().any(|o| o.to_lowercase() == s.to_lowercase()) {
                    p.push(
                        path,
                        "duplicate",
                        format!("The size {s:?} is listed twice."),
                    );
                } else {
                    sizes.push(s.to_owned());
                }
            }
            _ => p.push(
                path,
                "invalid_size",
                format!("A size is a non-empty string of at most {MAX_SIZE_CHARS} characters."),
            ),
        }
    }
    sizes
}

fn parse_categories(v: Lenient<Vec<Lenient<CategoryIn>>>, p: &mut Problems) -> Vec<SizeCategory> {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    for (i, item) in list(v, "size_categories", MAX_SIZE_CATEGORIES, p)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = input::item("size_categories", i);
        let Some(c) = object(item, &at, p) else {
            continue;
        };
        p.unknown_members(&at, c.unknown.keys(), not_in_request);
        let key = key(c.key, input::member(&at, "key"), &mut keys, p);
        let label = label(c.label, input::member(&at, "label"), p);
        let sizes = parse_sizes(c.sizes, &input::member(&at, "sizes"), p);
        out.push(SizeCategory { key, label, sizes });
    }
    out
}

fn parse_interests(v: Lenient<Vec<Lenient<InterestIn>>>, p: &mut Problems) -> Vec<Interest> {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    for (i, item) in list(v, "interests", MAX_INTERESTS, p)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = input::item("interests", i);
        let Some(o) = object(item, &at, p) else {
            continue;
        };
        p.unknown_members(&at, o.unknown.keys(), not_in_request);
        let key = key(o.key, input::member(&at, "key"), &mut keys, p);
        let label = label(o.label, input::member(&at, "label"), p);
        out.push(Interest { key, label });
    }
    out
}

fn parse_frequencies(v: Lenient<Vec<Lenient<String>>>, p: &mut Problems) -> Vec<String> {
    let mut seen = Vec::new();
    for (i, item) in list(v, "frequencies", MAX_FREQUENCIES, p)
        .into_iter()
        .flatten()
        .enumerate()
    {
        key(item, input::item("frequencies", i), &mut seen, p);
    }
    seen
}

fn parse_texts(
    v: Lenient<BTreeMap<String, Lenient<String>>>,
    p: &mut Problems,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(o) = object(v, "texts", p) else {
        return out;
    };
    if o.len() > MAX_TEXTS {
        p.push("texts", "too_many", format!("At most {MAX_TEXTS} texts."));
        return out;
    }
    for (k, v) in o {
        let path = input::member("texts", &k);
        if !is_text_key(&k) {
            p.push(path, "invalid_key", "A text key matches ^[a-z0-9_]{1,40}$.");
            continue;
        }
        match v.typed(p, path.clone(), "A text is a string.") {
            Some(t) if t.chars().count() <= MAX_TEXT_CHARS => {
                out.insert(k, t);
            }
            Some(_) => p.push(
                path,
                "too_long",
                format!("A text has at most {MAX_TEXT_CHARS} characters."),
            ),
            None => {}
        }
    }
    out
}

/// Checks a `PUT /api/preference-center` body, naming every problem.
pub fn parse_update(body: &Value) -> Result<CenterUpdate, Vec<FieldError>> {
    let patch: CenterPatch = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    p.unknown_members("", patch.unknown.keys(), not_in_request);
    // A member present (even `null`) replaces that member of the settings.
    let update = CenterUpdate {
        size_categories: (!patch.size_categories.is_absent())
            .then(|| parse_categories(patch.size_categories, &mut p)),
        interests: (!patch.interests.is_absent()).then(|| parse_interests(patch.interests, &mut p)),
        frequencies: (!patch.frequencies.is_absent())
            .then(|| parse_frequencies(patch.frequencies, &mut p)),
        texts: (!patch.texts.is_absent()).then(|| parse_texts(patch.texts, &mut p)),
    };
    p.finish(update)
}

/// Applies a checked update (members absent from the body stay as they were) and returns the
/// full settings. Serialized per shop: two partial updates never lose each other's members.
pub fn update(c: &mut DbConnection, shop_id: &str, update: CenterUpdate) -> AppResult<Center> {
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
        let mut settings: Center = serde_json::from_str(&stored).map_err(AppError::internal)?;
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
