//! Typed request bodies. A body deserializes into an input struct whose members are
//! [`Lenient`]: a member of the wrong type does not abort the parse, it is kept as its raw JSON,
//! so one validation pass afterwards can name every bad path at once (`sizes.tops`,
//! `interests[1]`) in the `422` the contract asks for.
//!
//! Writing an input struct:
//! - every member is `Lenient<T>` and the struct is `#[serde(default)]`, so a missing member is
//!   [`Lenient::Absent`], distinct from `null` ([`Lenient::Null`]);
//! - a struct that refuses members it does not know carries `#[serde(flatten)] unknown:
//!   Unknown`. That also makes serde read it from an object only (a flattened struct has no
//!   positional form), so `[true, false]` is a wrong type rather than a struct by position;
//! - the top level is read with [`object`], which refuses anything but a JSON object.

use std::collections::BTreeMap;

use serde::de::{Deserialize, DeserializeOwned, Deserializer, IgnoredAny};
use serde_json::Value;

use crate::error::FieldError;

/// One member (or list item, or map entry) of a request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Lenient<T> {
    /// Not in the body.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value of the expected type.
    Ok(T),
    /// Any other value, kept as sent.
    Wrong(Value),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Lenient::Null,
            raw => match T::deserialize(&raw) {
                Ok(v) => Lenient::Ok(v),
                Err(_) => Lenient::Wrong(raw),
            },
        })
    }
}

impl<T> Lenient<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Lenient::Absent)
    }

    /// The value when it has the expected type (absent, `null` and wrong types are `None`).
    pub fn ok(self) -> Option<T> {
        match self {
            Lenient::Ok(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_ok(&self) -> Option<&T> {
        match self {
            Lenient::Ok(v) => Some(v),
            _ => None,
        }
    }

    /// For a member that must not be `null`: absent → `None`; the expected type → `Some`;
    /// `null` or another type → an `invalid_type` problem at `path`, and `None`.
    pub fn typed(
        self,
        problems: &mut Problems,
        path: impl Into<String>,
        message: &str,
    ) -> Option<T> {
        match self {
            Lenient::Absent => None,
            Lenient::Ok(v) => Some(v),
            Lenient::Null | Lenient::Wrong(_) => {
                problems.invalid_type(path, message);
                None
            }
        }
    }

    /// For a member where `null` means "none": absent → `None`; `null` → `Some(None)`; the
    /// expected type → `Some(Some(_))`; another type → an `invalid_type` problem, and `None`.
    pub fn nullable(
        self,
        problems: &mut Problems,
        path: impl Into<String>,
        message: &str,
    ) -> Option<Option<T>> {
        match self {
            Lenient::Absent => None,
            Lenient::Null => Some(None),
            Lenient::Ok(v) => Some(Some(v)),
            Lenient::Wrong(_) => {
                problems.invalid_type(path, message);
                None
            }
        }
    }
}

impl Lenient<Value> {
    /// The JSON as sent (`null` included), for members of any type (ids: a number or a string).
    pub fn raw(&self) -> Option<&Value> {
        static NULL: Value = Value::Null;
        match self {
            Lenient::Absent => None,
            Lenient::Null => Some(&NULL),
            Lenient::Ok(v) | Lenient::Wrong(v) => Some(v),
        }
    }
}

/// The members of an object that its input struct does not name (`#[serde(flatten)]`), in key
/// order.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct Unknown(BTreeMap<String, IgnoredAny>);

impl Unknown {
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// `prefix.name`, or `name` at the top level.
pub fn member(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `prefix[i]`.
pub fn item(prefix: &str, i: usize) -> String {
    format!("{prefix}[{i}]")
}

/// The problems found in one body, in the order they were found.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError::new(path, code, message));
    }

    pub fn invalid_type(&mut self, path: impl Into<String>, message: &str) {
        self.push(path, "invalid_type", message);
    }

    /// One `unknown_field` problem per member the input struct does not name (typos are
    /// refused, not ignored).
    pub fn unknown_members<'a>(
        &mut self,
        prefix: &str,
        keys: impl IntoIterator<Item = &'a str>,
        message: impl Fn(&str) -> String,
    ) {
        for k in keys {
            self.push(member(prefix, k), "unknown_field", message(k));
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem found (for a body too broken to yield a value).
    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    /// `value` when nothing was found, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// Reads a request body into its input struct; anything but a JSON object is one
/// `invalid_type` problem at the root (`""`) with `message`, and a string holding a NUL
/// character anywhere in the body is one problem at its path (see [`nul_characters`]).
pub fn object<T: DeserializeOwned>(body: &Value, message: &str) -> Result<T, Vec<FieldError>> {
    let nul = nul_characters(body, "");
    if !nul.is_empty() {
        return Err(nul);
    }
    body.is_object()
        .then(|| T::deserialize(body).ok())
        .flatten()
        .ok_or_else(|| vec![FieldError::new("", "invalid_type", message)])
}

/// One `invalid_character` problem per string (value or member name) under `value` that holds
/// a NUL character (`\u0000`). No text Atelier keeps can contain one — PostgreSQL's text type
/// cannot store it at all — so it is refused here, where every body is read, and both
/// databases give the same answer. `prefix` is the path of `value` in the request.
pub fn nul_characters(value: &Value, prefix: &str) -> Vec<FieldError> {
    let mut found = Vec::new();
    find_nul(value, prefix, &mut found);
    found
}

fn find_nul(value: &Value, path: &str, found: &mut Vec<FieldError>) {
    const MESSAGE: &str = "Text cannot contain a NUL character (\\u0000).";
    match value {
        Value::String(s) if s.contains('\0') => {
            found.push(FieldError::new(path, "invalid_character", MESSAGE));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_nul(v, &item(path, i), found);
            }
        }
        Value::Object(members) => {
            for (k, v) in members {
                if k.contains('\0') {
                    // The name itself cannot be shown as a path: name the object holding it.
                    found.push(FieldError::new(path, "invalid_character", MESSAGE));
                } else {
                    find_nul(v, &member(path, k), found);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default)]
    struct Inner {
        flag: Lenient<bool>,
        #[serde(flatten)]
        unknown: Unknown,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Body {
        name: Lenient<String>,
        count: Lenient<u32>,
        tags: Lenient<Vec<Lenient<String>>>,
        inner: Lenient<Inner>,
        id: Lenient<Value>,
    }

    fn parse(v: Value) -> Body {
        object(&v, "The body must be a JSON object.").unwrap()
    }

    #[test]
    fn absent_null_right_and_wrong_types_are_told_apart() {
        let b = parse(json!({"name": null, "count": "seven", "tags": ["a", 2, null]}));
        assert_eq!(b.name, Lenient::Null);
        assert_eq!(b.count, Lenient::Wrong(json!("seven")));
        assert_eq!(
            b.tags,
            Lenient::Ok(vec![
                Lenient::Ok("a".to_owned()),
                Lenient::Wrong(json!(2)),
                Lenient::Null
            ])
        );
        assert!(b.inner.is_absent() && b.id.is_absent());
        assert_eq!(parse(json!({"count": 7})).count.ok(), Some(7));
    }

    #[test]
    fn every_bad_member_becomes_one_problem() {
        let b = parse(json!({"name": 3, "count": null, "inner": {"flag": "yes", "extra": 1}}));
        let mut p = Problems::new();
        assert_eq!(b.name.typed(&mut p, "name", "A name is a string."), None);
        assert_eq!(b.count.nullable(&mut p, "count", "A count."), Some(None));
        let inner = b.inner.typed(&mut p, "inner", "An object.").unwrap();
        p.unknown_members("inner", inner.unknown.keys(), |_| {
            "Not part of the request.".into()
        });
        assert_eq!(
            inner.flag.typed(&mut p, "inner.flag", "true or false"),
            None
        );
        let errors = p.finish(()).unwrap_err();
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("name", "invalid_type"),
                ("inner.extra", "unknown_field"),
                ("inner.flag", "invalid_type"),
            ]
        );
        assert_eq!(errors[0].message, "A name is a string.");
    }

    #[test]
    fn a_struct_with_unknown_members_is_read_from_an_object_only() {
        assert_eq!(
            parse(json!({"inner": [true]})).inner,
            Lenient::Wrong(json!([true]))
        );
        assert!(matches!(
            parse(json!({"inner": {"flag": true}})).inner,
            Lenient::Ok(Inner {
                flag: Lenient::Ok(true),
                ..
            })
        ));
    }

    #[test]
    fn raw_json_is_kept_for_members_of_any_type() {
        assert_eq!(parse(json!({"id": "12"})).id.raw(), Some(&json!("12")));
        assert_eq!(parse(json!({"id": null})).id.raw(), Some(&Value::Null));
        assert_eq!(parse(json!({})).id.raw(), None);
    }

    #[test]
    fn the_root_must_be_an_object() {
        for body in [json!([1, 2]), json!("x"), Value::Null] {
            let e = object::<Body>(&body, "The body must be a JSON object.").unwrap_err();
            assert_eq!(
                (e[0].field.as_str(), e[0].code.as_ref()),
                ("", "invalid_type")
            );
        }
    }

    #[test]
    fn nul_characters_are_named_by_path_wherever_they_are() {
        let body = json!({"name": "a\u{0}b", "tags": ["ok", "\u{0}"], "inner": {"x\u{0}": 1}});
        let e = object::<Body>(&body, "An object.").unwrap_err();
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("inner", "invalid_character"),
                ("name", "invalid_character"),
                ("tags[1]", "invalid_character"),
            ]
        );
        assert!(nul_characters(&json!({"name": "fine"}), "").is_empty());
        assert_eq!(
            nul_characters(&json!({"k": "\u{0}"}), "values")[0].field,
            "values.k"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(member("", "sizes"), "sizes");
        assert_eq!(member("sizes", "tops"), "sizes.tops");
        assert_eq!(item("interests", 1), "interests[1]");
    }
}
