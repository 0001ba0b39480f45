//! A `PUT` body: its shape (typed, every bad path named), its values against what the center
//! offers, and the merge into what is stored, with one history entry per changed value.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{MAX_INTERESTS, MAX_SIZE_ENTRIES, Prefs};
use crate::error::FieldError;
use crate::input::{self, Lenient, Problems, Unknown};
use crate::preferences::center::Center;
/// A checked `PUT` body (types and sizes only; values are checked against the settings inside
/// the transaction).
#[derive(Debug, Clone, Default)]
pub struct PrefsUpdate {
    /// Per category: `Some(size)` sets it, `None` removes it.
    pub sizes: Option<Vec<(String, Option<String>)>>,
    pub interests: Option<Vec<String>>,
    pub email: Option<bool>,
    pub sms: Option<bool>,
    /// `Some(None)` clears the frequency.
    pub frequency: Option<Option<String>>,
    /// `Some(None)` clears the pause.
    pub pause_until: Option<Option<String>>,
    pub personalization: Option<bool>,
    pub marketing: Option<bool>,
}

/// A `PUT` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PrefsPatch {
    sizes: Lenient<BTreeMap<String, Lenient<String>>>,
    interests: Lenient<Vec<Lenient<String>>>,
    communication: Lenient<CommunicationPatch>,
    consent: Lenient<ConsentPatch>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CommunicationPatch {
    email: Lenient<bool>,
    sms: Lenient<bool>,
    frequency: Lenient<String>,
    pause_until: Lenient<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConsentPatch {
    personalization: Lenient<bool>,
    marketing: Lenient<bool>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Members a client may echo back from a `GET`; ignored, the customer is always the signed one.
const ECHOED: [&str; 3] = ["customer_id", "updated_at", "stale"];

fn not_in_request(_: &str) -> String {
    "This member is not part of the request.".into()
}

const BOOL: &str = "Expected true or false.";

/// Checks the shape of a `PUT /proxy/preferences` body, naming every problem.
pub fn parse_update(body: &Value) -> Result<PrefsUpdate, Vec<FieldError>> {
    let patch: PrefsPatch = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    let mut up = PrefsUpdate::default();
    let echoed = |k: &&str| !ECHOED.contains(k);
    p.unknown_members("", patch.unknown.keys().filter(echoed), not_in_request);
    let sizes = patch.sizes.typed(
        &mut p,
        "sizes",
        "sizes is an object of category keys to sizes.",
    );
    match sizes {
        Some(m) if m.len() > MAX_SIZE_ENTRIES => p.push(
            "sizes",
            "too_many",
            format!("At most {MAX_SIZE_ENTRIES} size categories per request."),
        ),
        Some(m) => {
            let mut sizes = Vec::with_capacity(m.len());
            for (cat, size) in m {
                let path = input::member("sizes", &cat);
                let message = "A size is a string (or null to remove the category).";
                if let Some(size) = size.nullable(&mut p, path, message) {
                    sizes.push((cat, size));
                }
            }
            up.sizes = Some(sizes);
        }
        None => {}
    }
    match patch
        .interests
        .typed(&mut p, "interests", "interests is a list of interest keys.")
    {
        Some(a) if a.len() > MAX_INTERESTS => p.push(
            "interests",
            "too_many",
            format!("At most {MAX_INTERESTS} interests."),
        ),
        Some(a) => {
            let mut keys: Vec<String> = Vec::with_capacity(a.len());
            for (i, k) in a.into_iter().enumerate() {
                let path = input::item("interests", i);
                match k.typed(&mut p, path.clone(), "An interest is a key (string).") {
                    Some(k) if keys.contains(&k) => {
                        p.push(path, "duplicate", "This interest is listed twice.")
                    }
                    Some(k) => keys.push(k),
                    None => {}
                }
            }
            up.interests = Some(keys);
        }
        None => {}
    }
    if let Some(c) = patch.communication.typed(
        &mut p,
        "communication",
        "communication is an object {\"email\",\"sms\",\"frequency\"}.",
    ) {
        p.unknown_members("communication", c.unknown.keys(), not_in_request);
        up.email = c.email.typed(&mut p, "communication.email", BOOL);
        up.sms = c.sms.typed(&mut p, "communication.sms", BOOL);
        up.frequency = c.frequency.nullable(
            &mut p,
            "communication.frequency",
            "A frequency is a key (string), or null for none.",
        );
        up.pause_until = c.pause_until.nullable(
            &mut p,
            "communication.pause_until",
            "pause_until is a date YYYY-MM-DD, or null for none.",
        );
        if let Some(Some(d)) = &up.pause_until
            && !is_date(d)
        {
            p.push(
                "communication.pause_until",
                "invalid_date",
                "pause_until is a date YYYY-MM-DD, or null for none.",
            );
        }
    }
    if let Some(c) = patch.consent.typed(
        &mut p,
        "consent",
        "consent is an object {\"personalization\",\"marketing\"}.",
    ) {
        p.unknown_members("consent", c.unknown.keys(), not_in_request);
        up.personalization = c
            .personalization
            .typed(&mut p, "consent.personalization", BOOL);
        up.marketing = c.marketing.typed(&mut p, "consent.marketing", BOOL);
    }
    p.finish(up)
}

/// A shopper's value quoted in an error message: shown as sent, cut short when long (the
/// message is for a person; the value itself is at the error's path in the request).
fn shown(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

/// Values the settings do not offer (unless equal to what is stored) → one error each, whose
/// message names the refused value and whose `field` is its path.
pub(super) fn check_against(
    settings: &Center,
    current: &Prefs,
    up: &PrefsUpdate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (cat, size) in up.sizes.iter().flatten() {
        let Some(size) = size else { continue };
        if current.sizes.get(cat) == Some(size) {
            continue;
        }
        let path = format!("sizes.{cat}");
        match settings.category(cat) {
            None => errors.push(FieldError::new(
                path,
                "unknown_category",
                format!("The store has no size category {}.", shown(cat)),
            )),
            Some(category) if !settings.offers_size(cat, size) => errors.push(FieldError::new(
                path,
                "unknown_size",
                format!(
                    "The store does not offer size {} in {}.",
                    shown(size),
                    category.label
                ),
            )),
            Some(_) => {}
        }
    }
    for (i, key) in up.interests.iter().flatten().enumerate() {
        if !settings.offers_interest(key) && !current.interests.contains(key) {
            errors.push(FieldError::new(
                format!("interests[{i}]"),
                "unknown_interest",
                format!("The store has no interest {}.", shown(key)),
            ));
        }
    }
    if let Some(Some(f)) = &up.frequency
        && !settings.offers_frequency(f)
        && current.frequency.as_ref() != Some(f)
    {
        errors.push(FieldError::new(
            "communication.frequency",
            "unknown_frequency",
            format!("The store does not offer the frequency {}.", shown(f)),
        ));
    }
    errors
}

/// A calendar date `YYYY-MM-DD` (years 2000–2999: a pause is about the coming months).
fn is_date(s: &str) -> bool {
    s.len() == 10
        && s.starts_with('2')
        && time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
}

pub(super) fn merged(current: &Prefs, up: &PrefsUpdate) -> Prefs {
    let mut next = current.clone();
    for (cat, size) in up.sizes.iter().flatten() {
        match size {
            Some(s) => next.sizes.insert(cat.clone(), s.clone()),
            None => next.sizes.remove(cat),
        };
    }
    if let Some(i) = &up.interests {
        next.interests = i.clone();
    }
    next.email = up.email.unwrap_or(next.email);
    next.sms = up.sms.unwrap_or(next.sms);
    if let Some(f) = &up.frequency {
        next.frequency = f.clone();
    }
    if let Some(d) = &up.pause_until {
        next.pause_until = d.clone();
    }
    next.personalization = up.personalization.unwrap_or(next.personalization);
    next.marketing = up.marketing.unwrap_or(next.marketing);
    next
}

/// Every changed value as `(field path, old, new)`.
pub(super) fn changes(old: &Prefs, new: &Prefs) -> Vec<(String, Value, Value)> {
    let mut out = Vec::new();
    let cats: std::collections::BTreeSet<&String> =
        old.sizes.keys().chain(new.sizes.keys()).collect();
    for cat in cats {
        let (a, b) = (old.sizes.get(cat), new.sizes.get(cat));
        if a != b {
            out.push((format!("sizes.{cat}"), json!(a), json!(b)));
        }
    }
    if old.interests != new.interests {
        out.push((
            "interests".into(),
            json!(old.interests),
            json!(new.interests),
        ));
    }
    let mut flag = |field: &str, a: Value, b: Value| {
        if a != b {
            out.push((field.to_owned(), a, b));
        }
    };
    flag("communication.email", json!(old.email), json!(new.email));
    flag("communication.sms", json!(old.sms), json!(new.sms));
    flag(
        "communication.frequency",
        json!(old.frequency),
        json!(new.frequency),
    );
    flag(
        "communication.pause_until",
        json!(old.pause_until),
        json!(new.pause_until),
    );
    flag(
        "consent.personalization",
        json!(old.personalization),
        json!(new.personalization),
    );
    flag(
        "consent.marketing",
        json!(old.marketing),
        json!(new.marketing),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::center;

    #[test]
    fn shape_errors_name_each_path() {
        let body = json!({
            "sizes": {"tops": 3, "bottoms": null, "shoes": "42"},
            "interests": ["sale", 7, "sale"],
            "communication": {"email": "yes", "frequency": 2, "fax": true},
            "consent": {"marketing": null},
            "favourite": 1,
            "customer_id": "123", "updated_at": null, "stale": []
        });
        let errors = parse_update(&body).unwrap_err();
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_ref()))
            .collect();
        for want in [
            ("favourite", "unknown_field"),
            ("sizes.tops", "invalid_type"),
            ("interests[1]", "invalid_type"),
            ("interests[2]", "duplicate"),
            ("communication.fax", "unknown_field"),
            ("communication.email", "invalid_type"),
            ("communication.frequency", "invalid_type"),
            ("consent.marketing", "invalid_type"),
        ] {
            assert!(got.contains(&want), "{want:?} missing in {got:?}");
        }
        assert_eq!(got.len(), 8);
    }

    #[test]
    fn huge_lists_are_refused_without_looking_inside() {
        let many: Vec<Value> = (0..10_000).map(|i| json!(i)).collect();
        let errors = parse_update(&json!({"interests": many})).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "too_many");
    }

    #[test]
    fn merge_is_partial_and_values_are_checked_against_the_settings() {
        let s = center::defaults();
        let current = Prefs {
            sizes: [
                ("tops".to_owned(), "M".to_owned()),
                ("hats".to_owned(), "58".to_owned()),
            ]
            .into(),
            interests: vec!["sale".into(), "retired".into()],
            frequency: Some("daily".into()),
            ..Prefs::default()
        };
        // Stored values may be sent back unchanged although no longer offered.
        let echo = parse_update(&json!({"sizes": {"hats": "58"}, "interests": ["retired", "sale"], "communication": {"frequency": "daily"}})).unwrap();
        assert!(check_against(&s, &current, &echo).is_empty());
        let bad = parse_update(&json!({"sizes": {"hats": "59", "tops": "XXXL", "cape": "S", "shoes": null}, "interests": ["sale", "yachts"], "communication": {"frequency": "hourly"}})).unwrap();
        let errors: Vec<(String, String)> = check_against(&s, &current, &bad)
            .into_iter()
            .map(|e| (e.field, e.code.into_owned()))
            .collect();
        assert_eq!(
            errors,
            [
                ("sizes.cape".to_owned(), "unknown_category".to_owned()),
                ("sizes.hats".into(), "unknown_category".into()),
                ("sizes.tops".into(), "unknown_size".into()),
                ("interests[1]".into(), "unknown_interest".into()),
                ("communication.frequency".into(), "unknown_frequency".into()),
            ]
        );
        let up = parse_update(
            &json!({"sizes": {"bottoms": "L", "hats": null}, "consent": {"personalization": true}}),
        )
        .unwrap();
        let next = merged(&current, &up);
        assert_eq!(next.sizes.get("tops").map(String::as_str), Some("M"));
        assert_eq!(next.sizes.get("bottoms").map(String::as_str), Some("L"));
        assert!(!next.sizes.contains_key("hats"));
        assert_eq!(next.interests, current.interests);
        assert!(next.personalization && !next.marketing);
        let c = changes(&current, &next);
        let fields: Vec<&str> = c.iter().map(|(f, _, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["sizes.bottoms", "sizes.hats", "consent.personalization"]
        );
        assert_eq!(c[1], ("sizes.hats".into(), json!("58"), Value::Null));
    }
}
