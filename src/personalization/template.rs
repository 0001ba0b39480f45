//! Personalization field definitions (FIELD) and the checks that reject a template
//! that cannot work, naming every problem (`fields[2].pattern`, …).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decimal::Dec;
use crate::error::FieldError;
use crate::input::{Lenient, Problems};

pub const MAX_FIELDS: usize = 100;
pub const MAX_OPTIONS: usize = 250;
pub const MAX_TEXT_LENGTH: u32 = 1_000;
pub const MAX_TEXTAREA_LENGTH: u32 = 5_000;
pub const MAX_PRICE_CENTS: i64 = 10_000_000;
pub const MAX_PATTERN_LEN: usize = 1_000;
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Select,
    Swatch,
    Checkbox,
    Date,
    Image,
}

impl FieldType {
    pub fn is_text(self) -> bool {
        matches!(self, FieldType::Text | FieldType::Textarea)
    }
    pub fn has_options(self) -> bool {
        matches!(self, FieldType::Select | FieldType::Swatch)
    }
}

/// Characters a text field accepts beyond the general rules (e.g. what an engraving machine
/// can cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// Printable ASCII.
    Ascii,
    /// Latin letters (with accents), digits, punctuation, spaces; no emoji, no other scripts.
    Latin,
    /// ASCII letters, digits and spaces.
    Alphanumeric,
    /// 0–9 only.
    Digits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    pub value: String,
    pub label: String,
    #[serde(default)]
    pub price_cents: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowIf {
    pub field: String,
    /// A value, or a list of values any of which makes the field visible.
    pub equals: Value,
}

/// How the theme's live preview draws a text field on the product image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Position and size in percent of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<Charset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
}

fn json_dec(v: &Value) -> Option<Dec> {
    match v {
        Value::Number(n) => Dec::parse(&n.to_string()),
        Value::String(s) => Dec::parse(s),
        _ => None,
    }
}

pub fn parse_date(s: &str) -> Option<time::Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    (s.len() == 10)
        .then(|| time::Date::parse(s, &fmt).ok())
        .flatten()
}

fn json_date(v: &Value) -> Option<time::Date> {
    v.as_str().and_then(parse_date)
}

fn valid_key(key: &str) -> bool {
    (1..=40).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_color(c: &str) -> bool {
    let hex = c.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compiles a field pattern as a whole-value match, refusing patterns whose compiled form is
/// huge (`(a{1000}){1000}`): Rust's engine is linear-time, size is the only way to hurt it.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "The pattern is longer than {MAX_PATTERN_LEN} characters."
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "The pattern is too complex.".to_owned(),
            other => format!(
                "The pattern is not a valid regular expression: {}",
                other.to_string().lines().last().unwrap_or("")
            ),
        })
}

/// A template's `fields` as sent: each definition is read strictly as a [`FieldDef`] (it is
/// also the stored form), and kept as raw JSON when it is not one.
pub type FieldsIn = Lenient<Vec<Lenient<FieldDef>>>;

/// Parses and checks a template's `fields`. Every problem is reported, with its path.
pub fn parse_fields(fields: &Value) -> Result<Vec<FieldDef>, Vec<FieldError>> {
    check_fields(FieldsIn::deserialize(fields).unwrap_or(Lenient::Null))
}

/// Checks a template's `fields` (absent: `required`). Every problem is reported, with its path.
pub fn check_fields(fields: FieldsIn) -> Result<Vec<FieldDef>, Vec<FieldError>> {
    let list = match fields {
        Lenient::Ok(list) => list,
        Lenient::Absent => {
            return Err(vec![FieldError::new(
                "fields",
                "required",
                "fields is required.",
            )]);
        }
        Lenient::Null | Lenient::Wrong(_) => {
            return Err(vec![FieldError::new(
                "fields",
                "invalid_type",
                "fields must be a list of field definitions.",
            )]);
        }
    };
    let mut p = Problems::new();
    if list.is_empty() {
        p.push("fields", "empty", "A template needs at least one field.");
    }
    if list.len() > MAX_FIELDS {
        return Err(vec![FieldError::new(
            "fields",
            "too_many",
            format!("A template has at most {MAX_FIELDS} fields."),
        )]);
    }
    let defs: Vec<Option<FieldDef>> = list
        .into_iter()
        .enumerate()
        .map(|(i, f)| field_shape(i, f, &mut p))
        .collect();
    for (i, f) in defs.iter().enumerate() {
        let Some(f) = f else { continue };
        let mut at = At { i, p: &mut p };
        check_names(f, &defs[..i], &mut at);
        check_applicable(f, &mut at);
        match f.kind {
            FieldType::Text | FieldType::Textarea => check_text(f, &mut at),
            FieldType::Number => check_number(f, &mut at),
            FieldType::Date => check_date(f, &mut at),
            FieldType::Select | FieldType::Swatch => check_options(f, &mut at),
            FieldType::Checkbox | FieldType::Image => {}
        }
        if let Some(show_if) = &f.show_if {
            check_show_if(f, show_if, &defs, &mut at);
        }
        if let Some(preview) = &f.preview {
            check_preview(preview, &mut at);
        }
    }
    check_cycles(&defs, &mut p);
    p.finish(defs.into_iter().flatten().collect())
}

/// A definition that is not a [`FieldDef`] becomes one problem: precise for the member most
/// often wrong (`type`), serde's account of it otherwise.
fn field_shape(i: usize, f: Lenient<FieldDef>, p: &mut Problems) -> Option<FieldDef> {
    let raw = match f {
        Lenient::Ok(def) => return Some(def),
        Lenient::Wrong(raw) => raw,
        Lenient::Null | Lenient::Absent => Value::Null,
    };
    if let Some(t) = raw.as_object().and_then(|obj| obj.get("type"))
        && serde_json::from_value::<FieldType>(t.clone()).is_err()
    {
        p.push(
            format!("fields[{i}].type"),
            "unknown_type",
            "type must be one of text, textarea, number, select, swatch, checkbox, date, image.",
        );
    } else if let Err(e) = serde_json::from_value::<FieldDef>(raw) {
        p.push(
            format!("fields[{i}]"),
            "invalid_field",
            format!("Invalid field definition: {e}."),
        );
    }
    None
}

/// The problems of field `i`, at `fields[i].…`.
struct At<'a> {
    i: usize,
    p: &'a mut Problems,
}

impl At<'_> {
    fn err(&mut self, prop: &str, code: &'static str, message: impl Into<String>) {
        self.p
            .push(format!("fields[{}].{prop}", self.i), code, message);
    }
}

/// Key, label, price and help texts; `before` are the fields ahead of this one.
fn check_names(f: &FieldDef, before: &[Option<FieldDef>], at: &mut At) {
    if !valid_key(&f.key) {
        at.err("key", "invalid_key", "key must match ^[a-z0-9_]{1,40}$.");
    } else if before.iter().flatten().any(|o| o.key == f.key) {
        at.err(
            "key",
            "duplicate_key",
            format!("The key `{}` is used by another field.", f.key),
        );
    }
    let label = f.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        at.err(
            "label",
            "invalid_label",
            "label must be 1 to 100 characters.",
        );
    } else if label.starts_with('_') {
        at.err(
            "label",
            "invalid_label",
            "label must not start with `_` (Shopify hides such properties from the shopper).",
        );
    } else if before.iter().flatten().any(|o| o.label.trim() == label) {
        at.err(
            "label",
            "duplicate_label",
            "Two fields would put the same property name on the order.",
        );
    }
    if let Some(p) = f.price_cents
        && !(0..=MAX_PRICE_CENTS).contains(&p)
    {
        at.err(
            "price_cents",
            "invalid_price",
            format!("price_cents must be between 0 and {MAX_PRICE_CENTS}."),
        );
    }
    for (name, text) in [("help_text", &f.help_text), ("placeholder", &f.placeholder)] {
        if text.as_ref().is_some_and(|t| t.chars().count() > 500) {
            at.err(
                name,
                "too_long",
                format!("{name} is at most 500 characters."),
            );
        }
    }
}

/// Members that only make sense for some types.
fn check_applicable(f: &FieldDef, at: &mut At) {
    let misplaced = [
        ("min_length", f.min_length.is_some() && !f.kind.is_text()),
        ("max_length", f.max_length.is_some() && !f.kind.is_text()),
        ("pattern", f.pattern.is_some() && !f.kind.is_text()),
        ("charset", f.charset.is_some() && !f.kind.is_text()),
        ("options", f.options.is_some() && !f.kind.has_options()),
        ("step", f.step.is_some() && f.kind != FieldType::Number),
        (
            "min",
            f.min.is_some() && !matches!(f.kind, FieldType::Number | FieldType::Date),
        ),
        (
            "max",
            f.max.is_some() && !matches!(f.kind, FieldType::Number | FieldType::Date),
        ),
    ];
    for (name, _) in misplaced.into_iter().filter(|(_, bad)| *bad) {
        at.err(
            name,
            "not_applicable",
            format!("{name} does not apply to a {:?} field.", f.kind).to_lowercase(),
        );
    }
}

fn check_text(f: &FieldDef, at: &mut At) {
    let cap = if f.kind == FieldType::Text {
        MAX_TEXT_LENGTH
    } else {
        MAX_TEXTAREA_LENGTH
    };
    if f.max_length.is_some_and(|m| m == 0 || m > cap) {
        at.err(
            "max_length",
            "out_of_range",
            format!("max_length must be between 1 and {cap}."),
        );
    }
    if f.min_length.is_some_and(|m| m > cap) {
        at.err(
            "min_length",
            "out_of_range",
            format!("min_length must be at most {cap}."),
        );
    }
    if let (Some(min), Some(max)) = (f.min_length, f.max_length)
        && min > max
    {
        at.err(
            "min_length",
            "min_above_max",
            format!("min_length ({min}) is greater than max_length ({max})."),
        );
    }
    if let Some(p) = &f.pattern
        && let Err(m) = compile_pattern(p)
    {
        at.err("pattern", "invalid_pattern", m);
    }
}

fn check_number(f: &FieldDef, at: &mut At) {
    let parsed: Vec<(&str, Option<Dec>)> = [("min", &f.min), ("max", &f.max), ("step", &f.step)]
        .into_iter()
        .filter_map(|(n, v)| v.as_ref().map(|v| (n, json_dec(v))))
        .collect();
    for (name, value) in &parsed {
        if value.is_none() {
            at.err(name, "not_a_number", format!("{name} must be a number."));
        }
    }
    let get = |n: &str| parsed.iter().find(|(k, _)| *k == n).and_then(|(_, v)| *v);
    if let (Some(min), Some(max)) = (get("min"), get("max"))
        && min > max
    {
        at.err(
            "min",
            "min_above_max",
            format!("min ({min}) is greater than max ({max})."),
        );
    }
    if get("step").is_some_and(|s| !s.is_positive()) {
        at.err("step", "out_of_range", "step must be greater than 0.");
    }
}

fn check_date(f: &FieldDef, at: &mut At) {
    let min = f.min.as_ref().map(json_date);
    let max = f.max.as_ref().map(json_date);
    if min == Some(None) {
        at.err("min", "invalid_date", "min must be a date YYYY-MM-DD.");
    }
    if max == Some(None) {
        at.err("max", "invalid_date", "max must be a date YYYY-MM-DD.");
    }
    if let (Some(Some(a)), Some(Some(b))) = (min, max)
        && a > b
    {
        at.err("min", "min_above_max", "min is after max.");
    }
}

fn check_options(f: &FieldDef, at: &mut At) {
    let opts = match &f.options {
        None => return at.err("options", "no_options", NO_OPTIONS),
        Some(opts) if opts.is_empty() => return at.err("options", "no_options", NO_OPTIONS),
        Some(opts) if opts.len() > MAX_OPTIONS => {
            return at.err(
                "options",
                "too_many",
                format!("At most {MAX_OPTIONS} options."),
            );
        }
        Some(opts) => opts,
    };
    for (j, o) in opts.iter().enumerate() {
        let prop = |p: &str| format!("options[{j}].{p}");
        if o.value.is_empty() || o.value.chars().count() > 200 {
            at.err(
                &prop("value"),
                "invalid_value",
                "An option value is 1 to 200 characters.",
            );
        } else if opts[..j].iter().any(|p| p.value == o.value) {
            at.err(
                &prop("value"),
                "duplicate_value",
                format!("The option value `{}` appears twice.", o.value),
            );
        }
        if o.label.trim().is_empty() || o.label.chars().count() > 200 {
            at.err(
                &prop("label"),
                "invalid_label",
                "An option label is 1 to 200 characters.",
            );
        } else if opts[..j].iter().any(|p| p.label.trim() == o.label.trim()) {
            // The cart carries the label: two equal labels could not be told apart (or
            // priced) when the order arrives.
            at.err(
                &prop("label"),
                "duplicate_label",
                format!("The option label `{}` appears twice.", o.label.trim()),
            );
        }
        if !(0..=MAX_PRICE_CENTS).contains(&o.price_cents) {
            at.err(
                &prop("price_cents"),
                "invalid_price",
                format!("price_cents must be between 0 and {MAX_PRICE_CENTS}."),
            );
        }
        // `color` is optional, on a swatch too: a swatch without one shows its label.
        if let Some(c) = &o.color
            && !valid_color(c)
        {
            at.err(
                &prop("color"),
                "invalid_color",
                "color must be #rgb or #rrggbb.",
            );
        }
    }
}

const NO_OPTIONS: &str = "A select or swatch field needs at least one option.";

fn check_show_if(f: &FieldDef, show_if: &ShowIf, defs: &[Option<FieldDef>], at: &mut At) {
    let t = match defs.iter().flatten().find(|d| d.key == show_if.field) {
        None => {
            return at.err(
                "show_if.field",
                "unknown_field",
                format!(
                    "show_if names `{}`, which is not a field of this template.",
                    show_if.field
                ),
            );
        }
        Some(t) if t.key == f.key => {
            return at.err(
                "show_if.field",
                "self_reference",
                "A field cannot depend on itself.",
            );
        }
        Some(t) => t,
    };
    let expected: Vec<&Value> = match &show_if.equals {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    if expected.len() > MAX_OPTIONS {
        // Every storefront request compares against each entry.
        at.err(
            "show_if.equals",
            "too_many",
            format!("equals lists at most {MAX_OPTIONS} values."),
        );
    } else if expected.is_empty()
        || expected
            .iter()
            .any(|v| v.is_array() || v.is_object() || v.is_null())
    {
        at.err(
            "show_if.equals",
            "invalid_condition",
            "equals must be a value or a non-empty list of values.",
        );
    } else if let Some(opts) = t.options.as_ref().filter(|_| t.kind.has_options()) {
        for v in expected {
            let s = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            if !opts.iter().any(|o| o.value == s) {
                at.err(
                    "show_if.equals",
                    "never_true",
                    format!(
                        "`{s}` is not an option of `{}`; the field could never show.",
                        t.key
                    ),
                );
            }
        }
    }
}

fn check_preview(p: &Preview, at: &mut At) {
    if let Some(font) = &p.font
        && (font.trim().is_empty()
            || font.chars().count() > 100
            || !font
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | ',' | '\'')))
    {
        at.err(
            "preview.font",
            "invalid_font",
            "font is a font family name (letters, digits, spaces, - _ , ').",
        );
    }
    if let Some(c) = &p.color
        && !valid_color(c)
    {
        at.err(
            "preview.color",
            "invalid_color",
            "color must be #rgb or #rrggbb.",
        );
    }
    for (name, v, lo) in [("x", p.x, 0.0), ("y", p.y, 0.0), ("size", p.size, 0.5)] {
        if let Some(v) = v
            && !(lo..=100.0).contains(&v)
        {
            at.err(
                &format!("preview.{name}"),
                "out_of_range",
                format!("preview.{name} is a percentage of the image ({lo} to 100)."),
            );
        }
    }
}

/// Cycles through show_if (a → b → a), reported once per field on a cycle.
fn check_cycles(defs: &[Option<FieldDef>], p: &mut Problems) {
    for (i, def) in defs.iter().enumerate() {
        let Some(f) = def else { continue };
        let mut seen = vec![f.key.as_str()];
        let mut cur = f.show_if.as_ref().map(|s| s.field.as_str());
        while let Some(k) = cur {
            if k == f.key {
                if seen.len() > 1 {
                    p.push(
                        format!("fields[{i}].show_if.field"),
                        "cycle",
                        format!("show_if forms a cycle: {} → {}.", seen.join(" → "), f.key),
                    );
                }
                break;
            }
            if seen.contains(&k) {
                break; // a cycle not through this field; reported on its own members
            }
            seen.push(k);
            cur = defs
                .iter()
                .flatten()
                .find(|d| d.key == k)
                .and_then(|d| d.show_if.as_ref())
                .map(|s| s.field.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(fields: Value) -> Vec<(String, String)> {
        parse_fields(&fields)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code.into_owned()))
            .collect()
    }

    #[test]
    fn a_good_template_parses() {
        let f = parse_fields(&json!([
            {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 20, "pattern": "[A-Za-z ]+", "charset": "latin", "price_cents": 500},
            {"key": "font", "label": "Font", "type": "select", "options": [{"value": "serif", "label": "Serif"}, {"value": "script", "label": "Script", "price_cents": 200}]},
            {"key": "color", "label": "Color", "type": "swatch", "options": [{"value": "gold", "label": "Gold", "color": "#d4af37"}], "show_if": {"field": "font", "equals": ["script"]}},
            {"key": "size", "label": "Ring size", "type": "number", "min": 4, "max": 13, "step": 0.5},
            {"key": "date", "label": "Wedding date", "type": "date", "min": "2020-01-01", "max": "2030-12-31"},
            {"key": "gift", "label": "Gift wrap", "type": "checkbox", "price_cents": 300},
            {"key": "photo", "label": "Photo", "type": "image"},
            {"key": "note", "label": "Note", "type": "textarea", "max_length": 500}
        ]))
        .unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(f[0].kind, FieldType::Text);
    }

    #[test]
    fn every_problem_is_named() {
        let p = problems(json!([
            {"key": "a", "label": "A", "type": "text", "min_length": 10, "max_length": 5},
            {"key": "a", "label": "B", "type": "text", "pattern": "(unclosed"},
            {"key": "c", "label": "C", "type": "select", "options": []},
            {"key": "d", "label": "D", "type": "text", "show_if": {"field": "nope", "equals": "x"}},
            {"key": "e", "label": "E", "type": "checkbox", "price_cents": -5},
            {"key": "f", "label": "F", "type": "hologram"},
            {"key": "Bad Key", "label": "G", "type": "text"},
            {"key": "h", "label": "H", "type": "number", "min": 5, "max": 1, "step": 0},
            {"key": "i", "label": "I", "type": "date", "min": "2026-02-30"},
            {"key": "j", "label": "J", "type": "swatch", "options": [{"value": "x", "label": "X"}, {"value": "x", "label": "Y", "color": "red"}]},
            {"key": "k", "label": "K", "type": "text", "max_length": 1000000}
        ]));
        for expected in [
            ("fields[0].min_length", "min_above_max"),
            ("fields[1].key", "duplicate_key"),
            ("fields[1].pattern", "invalid_pattern"),
            ("fields[2].options", "no_options"),
            ("fields[3].show_if.field", "unknown_field"),
            ("fields[4].price_cents", "invalid_price"),
            ("fields[5].type", "unknown_type"),
            ("fields[6].key", "invalid_key"),
            ("fields[7].min", "min_above_max"),
            ("fields[7].step", "out_of_range"),
            ("fields[8].min", "invalid_date"),
            ("fields[9].options[1].value", "duplicate_value"),
            ("fields[9].options[1].color", "invalid_color"),
            ("fields[10].max_length", "out_of_range"),
        ] {
            assert!(
                p.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "missing {expected:?} in {p:?}"
            );
        }
    }

    #[test]
    fn show_if_cycles_and_impossible_conditions_are_refused() {
        let p = problems(json!([
            {"key": "a", "label": "A", "type": "text", "show_if": {"field": "b", "equals": "x"}},
            {"key": "b", "label": "B", "type": "text", "show_if": {"field": "a", "equals": "y"}},
            {"key": "c", "label": "C", "type": "text", "show_if": {"field": "c", "equals": "y"}},
            {"key": "d", "label": "D", "type": "select", "options": [{"value": "1", "label": "One"}]},
            {"key": "e", "label": "E", "type": "text", "show_if": {"field": "d", "equals": "2"}}
        ]));
        assert!(
            p.contains(&("fields[0].show_if.field".into(), "cycle".into())),
            "{p:?}"
        );
        assert!(p.contains(&("fields[1].show_if.field".into(), "cycle".into())));
        assert!(p.contains(&("fields[2].show_if.field".into(), "self_reference".into())));
        assert!(p.contains(&("fields[4].show_if.equals".into(), "never_true".into())));
    }

    #[test]
    fn show_if_lists_are_bounded() {
        let many: Vec<String> = (0..=MAX_OPTIONS).map(|i| i.to_string()).collect();
        let p = problems(json!([
            {"key": "a", "label": "A", "type": "text"},
            {"key": "b", "label": "B", "type": "text", "show_if": {"field": "a", "equals": many}}
        ]));
        assert_eq!(
            p,
            vec![("fields[1].show_if.equals".into(), "too_many".into())]
        );
        let enough: Vec<String> = (0..MAX_OPTIONS).map(|i| i.to_string()).collect();
        assert!(
            parse_fields(&json!([
                {"key": "a", "label": "A", "type": "text"},
                {"key": "b", "label": "B", "type": "text", "show_if": {"field": "a", "equals": enough}}
            ]))
            .is_ok()
        );
    }

    #[test]
    fn huge_or_invalid_patterns_are_refused() {
        assert!(compile_pattern("[a-z]+").is_ok());
        assert!(
            compile_pattern("(a{1000}){1000}")
                .unwrap_err()
                .contains("too complex")
        );
        assert!(compile_pattern(&"a".repeat(2000)).is_err());
        assert!(
            compile_pattern("(?<=x)y").is_err(),
            "look-behind is not supported"
        );
        let p = compile_pattern("ab|cd").unwrap();
        assert!(p.is_match("ab") && !p.is_match("abcd"), "whole-value match");
    }

    #[test]
    fn misplaced_members_and_bad_shapes_are_named() {
        let p = problems(json!([
            {"key": "a", "label": "A", "type": "checkbox", "options": [{"value": "1", "label": "1"}], "max_length": 3},
            {"key": "b", "label": "_secret", "type": "text"},
            "not an object",
            {"key": "d", "label": "D", "type": "text", "unexpected": 1}
        ]));
        assert!(
            p.contains(&("fields[0].options".into(), "not_applicable".into())),
            "{p:?}"
        );
        assert!(p.contains(&("fields[0].max_length".into(), "not_applicable".into())));
        assert!(p.contains(&("fields[1].label".into(), "invalid_label".into())));
        assert!(p.contains(&("fields[2]".into(), "invalid_field".into())));
        assert!(p.contains(&("fields[3]".into(), "invalid_field".into())));
        assert_eq!(
            problems(json!({"a": 1})),
            vec![("fields".into(), "invalid_type".into())]
        );
        assert_eq!(problems(json!([])), vec![("fields".into(), "empty".into())]);
    }
}
