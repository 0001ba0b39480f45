//! Validation of a shopper's values against a template, the line item
//! properties they become, and the price add-on in integer cents. Every problem is reported at
//! once, one per field.
//!
//! Text rules, stated once: values are Unicode-normalized to NFC, `\r\n` becomes `\n`, outer
//! white space is trimmed, then lengths are counted in user-perceived characters (extended
//! grapheme clusters): an emoji ZWJ sequence or a letter with combining accents is one. Control
//! characters are refused (a textarea allows `\n` and `\t`), and so are bidirectional override
//! and isolate controls, which can make a text display differently from what is produced.

use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use super::decimal::Dec;
use super::template::{Charset, FieldDef, FieldType, parse_date};
use crate::error::FieldError;

/// Bytes accepted for one text value before any processing (longer is refused outright).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Bytes of one user-perceived character: the longest real emoji sequences (ZWJ families, tag
/// flags) stay under 32; a letter buried under hundreds of combining marks does not.
pub const MAX_GRAPHEME_BYTES: usize = 64;

/// A template ready to validate against: patterns compiled, number bounds and `show_if`
/// conditions read once, so a request only reads the shopper's own values.
#[derive(Debug, Clone)]
pub struct CompiledTemplate {
    pub fields: Vec<FieldDef>,
    patterns: Vec<Option<regex::Regex>>,
    /// Per field: `(min, max, step)` of a number field.
    bounds: Vec<(Option<Dec>, Option<Dec>, Option<Dec>)>,
    conditions: Vec<Option<Condition>>,
}

impl CompiledTemplate {
    pub fn new(fields: Vec<FieldDef>) -> Result<Self, String> {
        let patterns = fields
            .iter()
            .map(|f| {
                f.pattern
                    .as_deref()
                    .map(super::template::compile_pattern)
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        let bound = |v: &Option<Value>| v.as_ref().and_then(dec_of);
        let bounds = fields
            .iter()
            .map(|f| match f.kind {
                FieldType::Number => (bound(&f.min), bound(&f.max), bound(&f.step)),
                _ => (None, None, None),
            })
            .collect();
        let conditions = conditions(&fields);
        Ok(CompiledTemplate {
            fields,
            patterns,
            bounds,
            conditions,
        })
    }

    /// Whether each field is visible for these values.
    pub fn visibility(&self, values: &Map<String, Value>) -> Vec<bool> {
        let readings = read_all(&self.fields, values);
        visible_fields(&self.conditions, &readings)
    }
}

/// A submitted value as both `show_if` and validation read it. It is computed once per
/// request: no shopper value is parsed or normalized twice, however many conditions name it.
#[derive(Debug, Clone, PartialEq)]
enum Reading {
    Flag(bool),
    Number(Option<Dec>),
    Text(Option<String>),
}

fn read(field: &FieldDef, value: &Value) -> Reading {
    match field.kind {
        FieldType::Checkbox => Reading::Flag(value.as_bool().unwrap_or(false)),
        FieldType::Number => Reading::Number(dec_of(value)),
        _ => Reading::Text(match value {
            // Longer values are refused by validation before any normalization.
            Value::String(s) if s.len() <= MAX_VALUE_BYTES => Some(normalize_text(s)),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
    }
}

fn read_all(fields: &[FieldDef], values: &Map<String, Value>) -> Vec<Reading> {
    fields
        .iter()
        .map(|f| read(f, values.get(&f.key).unwrap_or(&Value::Null)))
        .collect()
}

/// A `show_if.equals` entry, read the way its target field reads a submitted value.
fn expected_reading(target: &FieldDef, expected: &Value) -> Reading {
    match target.kind {
        FieldType::Checkbox => Reading::Flag(
            expected
                .as_bool()
                .unwrap_or_else(|| expected.as_str() == Some("true")),
        ),
        FieldType::Number => Reading::Number(dec_of(expected)),
        _ => Reading::Text(Some(
            expected
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| expected.to_string()),
        )),
    }
}

fn satisfies(value: &Reading, expected: &Reading) -> bool {
    match (value, expected) {
        (Reading::Flag(a), Reading::Flag(b)) => a == b,
        (Reading::Number(Some(a)), Reading::Number(Some(b))) => a == b,
        (Reading::Text(Some(a)), Reading::Text(Some(b))) => a == b,
        _ => false,
    }
}

/// A field's `show_if`, resolved: the index of the field it reads (`None`: no such field,
/// never visible) and the accepted readings.
#[derive(Debug, Clone)]
struct Condition {
    target: Option<usize>,
    expected: Vec<Reading>,
}

fn conditions(fields: &[FieldDef]) -> Vec<Option<Condition>> {
    fields
        .iter()
        .map(|f| {
            let cond = f.show_if.as_ref()?;
            let target = fields.iter().position(|t| t.key == cond.field);
            let expected = match target {
                None => Vec::new(),
                Some(t) => match &cond.equals {
                    Value::Array(options) => options
                        .iter()
                        .map(|e| expected_reading(&fields[t], e))
                        .collect(),
                    e => vec![expected_reading(&fields[t], e)],
                },
            };
            Some(Condition { target, expected })
        })
        .collect()
}

/// Visibility from resolved conditions and readings (`show_if` chains followed; the depth is
/// capped so even a cycle that slipped past the template checks ends).
fn visible_fields(conditions: &[Option<Condition>], readings: &[Reading]) -> Vec<bool> {
    fn visible(
        i: usize,
        conditions: &[Option<Condition>],
        readings: &[Reading],
        memo: &mut [Option<bool>],
        depth: usize,
    ) -> bool {
        if let Some(v) = memo[i] {
            return v;
        }
        let result = match &conditions[i] {
            None => true,
            Some(Condition {
                target: Some(t),
                expected,
            }) if depth < conditions.len()
                && visible(*t, conditions, readings, memo, depth + 1) =>
            {
                expected.iter().any(|e| satisfies(&readings[*t], e))
            }
            Some(_) => false,
        };
        memo[i] = Some(result);
        result
    }
    let mut memo = vec![None; conditions.len()];
    (0..conditions.len())
        .map(|i| visible(i, conditions, readings, &mut memo, 0))
        .collect()
}

/// Words a shop refuses anywhere in shopper text (case-insensitive, whole words).
#[derive(Debug, Clone, Default)]
pub struct BlockedWords(Blocked);

#[derive(Debug, Clone, Default)]
enum Blocked {
    /// The shop blocks no word.
    #[default]
    None,
    Words(regex::Regex),
    /// The list did not compile (over the matcher's size limit): no text can be shown to be
    /// free of blocked words, so every text is refused rather than every text let through.
    Unchecked,
}

impl BlockedWords {
    pub fn new(words: &[String]) -> Self {
        BlockedWords(compile(words).unwrap_or_else(|e| {
            tracing::error!(words = words.len(), error = %e, "blocked words do not compile; every shopper text is refused until the list is fixed");
            Blocked::Unchecked
        }))
    }

    /// Whether `words` compile into a matcher (a list that does not would refuse every text).
    pub fn compiles(words: &[String]) -> bool {
        compile(words).is_ok()
    }

    fn hits(&self, text: &str) -> bool {
        match &self.0 {
            Blocked::None => false,
            Blocked::Words(re) => re.is_match(text),
            Blocked::Unchecked => true,
        }
    }
}

fn compile(words: &[String]) -> Result<Blocked, regex::Error> {
    let alts: Vec<String> = words
        .iter()
        .map(|w| w.trim().nfc().collect::<String>())
        .filter(|w| !w.is_empty())
        .map(|w| regex::escape(&w))
        .collect();
    if alts.is_empty() {
        return Ok(Blocked::None);
    }
    regex::RegexBuilder::new(&format!(r"(?i)(?:^|\W)(?:{})(?:\W|$)", alts.join("|")))
        .size_limit(MATCHER_SIZE_LIMIT)
        .build()
        .map(Blocked::Words)
}

/// Memory the compiled blocked-words matcher of one shop may take.
const MATCHER_SIZE_LIMIT: usize = 4 << 20;

/// A valid submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// `(name, value)` line item properties in field order: visible, filled fields only.
    pub properties: Vec<(String, String)>,
    pub price_cents: i64,
    /// The normalized values of visible, filled fields (what a saved personalization stores).
    pub values: Map<String, Value>,
}

fn bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn latin(c: char) -> bool {
    c.is_ascii()
        || matches!(c,
            '\u{00A0}'..='\u{024F}'   // Latin-1 Supplement, Extended-A/B
            | '\u{0300}'..='\u{036F}' // combining diacritics
            | '\u{1E00}'..='\u{1EFF}' // Latin Extended Additional
            | '\u{2010}'..='\u{2027}' // dashes, quotes, bullets, ellipsis
            | '\u{2030}'..='\u{205E}'
            | '\u{20A0}'..='\u{20BF}' // currency signs
        )
}

fn charset_allows(charset: Charset, c: char) -> bool {
    match charset {
        Charset::Ascii => (' '..='~').contains(&c) || c == '\n' || c == '\t',
        Charset::Latin => latin(c),
        Charset::Alphanumeric => c.is_ascii_alphanumeric() || c == ' ',
        Charset::Digits => c.is_ascii_digit(),
    }
}

/// The normalized form of a text value (NFC, `\r\n` → `\n`, trimmed).
pub fn normalize_text(raw: &str) -> String {
    let trimmed = raw.trim();
    // Most texts are already NFC with no carriage return: one copy, no normalization pass.
    if !trimmed.contains('\r')
        && unicode_normalization::is_nfc_quick(trimmed.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        return trimmed.to_owned();
    }
    let nfc: String = trimmed.replace("\r\n", "\n").nfc().collect();
    nfc.trim().to_owned()
}

pub fn grapheme_len(s: &str) -> usize {
    if s.is_ascii() && !s.contains('\r') {
        return s.len(); // every ASCII character but CR LF is its own grapheme
    }
    s.graphemes(true).count()
}

/// `(user-perceived characters, whether one of them is longer than MAX_GRAPHEME_BYTES)` in one
/// pass.
fn graphemes_checked(s: &str) -> (usize, bool) {
    if s.is_ascii() && !s.contains('\r') {
        return (s.len(), false);
    }
    let mut n = 0;
    let mut oversized = false;
    for g in s.graphemes(true) {
        n += 1;
        oversized |= g.len() > MAX_GRAPHEME_BYTES;
    }
    (n, oversized)
}

fn dec_of(v: &Value) -> Option<Dec> {
    match v {
        Value::Number(n) => Dec::parse(&n.to_string()),
        Value::String(s) => Dec::parse(s),
        _ => None,
    }
}

/// Whether each field is visible for these values (`show_if` chains followed).
pub fn visibility(fields: &[FieldDef], values: &Map<String, Value>) -> Vec<bool> {
    visible_fields(&conditions(fields), &read_all(fields, values))
}

/// Validates `values` (the `values` object of a personalize request) against the template.
/// `upload_url` resolves an upload id of this shop to its URL.
pub fn validate(
    template: &CompiledTemplate,
    values: &Map<String, Value>,
    blocked: &BlockedWords,
    upload_url: &dyn Fn(&str) -> Option<String>,
) -> Result<Accepted, Vec<FieldError>> {
    let fields = &template.fields;
    let readings = read_all(fields, values);
    let shown = visible_fields(&template.conditions, &readings);
    let mut errors = Vec::new();
    let mut accepted = Accepted {
        properties: Vec::new(),
        price_cents: 0,
        values: Map::new(),
    };

    for (i, f) in fields.iter().enumerate() {
        if !shown[i] {
            continue; // hidden: neither required, validated nor priced
        }
        let mut at = Field {
            f,
            path: format!("values.{}", f.key),
            errors: &mut errors,
        };
        let raw = values.get(&f.key).unwrap_or(&Value::Null);
        if is_empty(f, raw) {
            if f.required {
                at.fail("required", format!("{} is required.", f.label));
            }
            continue;
        }
        let checked = match f.kind {
            FieldType::Text | FieldType::Textarea => {
                check_text(&mut at, raw, &readings[i], template, i, blocked)
            }
            FieldType::Number => check_number(&mut at, &readings[i], template.bounds[i]),
            FieldType::Select | FieldType::Swatch => check_choice(&mut at, raw),
            FieldType::Checkbox => check_checkbox(&mut at, raw),
            FieldType::Date => check_date(&mut at, raw),
            FieldType::Image => check_image(&mut at, raw, upload_url),
        };
        if let Some(Checked {
            display,
            normalized,
            option_price,
        }) = checked
        {
            let total = atelier_pricing::table::field_charge(f.price_cents, option_price)
                .and_then(|add_on| crate::money::add(accepted.price_cents, add_on));
            match total {
                Ok(total) => accepted.price_cents = total,
                Err(e) => errors.push(FieldError::new(
                    format!("values.{}", f.key),
                    "price_out_of_range",
                    format!("The add-on for {} is out of range: {e}.", f.label),
                )),
            }
            accepted
                .properties
                .push((f.label.trim().to_owned(), display));
            accepted.values.insert(f.key.clone(), normalized);
        }
    }
    if errors.is_empty() {
        Ok(accepted)
    } else {
        Err(errors)
    }
}

/// One visible field being checked: its problems go to `errors` under `values.KEY`.
struct Field<'a> {
    f: &'a FieldDef,
    path: String,
    errors: &'a mut Vec<FieldError>,
}

impl Field<'_> {
    fn fail(&mut self, code: &'static str, message: String) {
        self.errors
            .push(FieldError::new(self.path.clone(), code, message));
    }
}

/// An accepted value: what the order line shows, what is stored, and its option's price.
struct Checked {
    display: String,
    normalized: Value,
    option_price: i64,
}

impl Checked {
    fn text(text: String) -> Self {
        Checked {
            display: text.clone(),
            normalized: Value::String(text),
            option_price: 0,
        }
    }
}

/// Nothing entered: `null`, blank text, or an unticked checkbox (a checkbox's blank text is a
/// wrong type, not nothing).
fn is_empty(f: &FieldDef, raw: &Value) -> bool {
    match raw {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty() && f.kind != FieldType::Checkbox,
        Value::Bool(false) => f.kind == FieldType::Checkbox,
        _ => false,
    }
}

fn check_text(
    at: &mut Field,
    raw: &Value,
    reading: &Reading,
    template: &CompiledTemplate,
    i: usize,
    blocked: &BlockedWords,
) -> Option<Checked> {
    let f = at.f;
    let Some(s) = raw.as_str() else {
        at.fail("invalid_type", format!("{} must be text.", f.label));
        return None;
    };
    if s.len() > MAX_VALUE_BYTES {
        at.fail("too_long", format!("{} is too long.", f.label));
        return None;
    }
    let text = match reading {
        Reading::Text(Some(t)) => t.clone(),
        _ => normalize_text(s),
    };
    let multiline = f.kind == FieldType::Textarea;
    let (len, oversized) = graphemes_checked(&text);
    let mut ok = true;
    if text
        .chars()
        .any(|c| (c.is_control() && !(multiline && (c == '\n' || c == '\t'))) || bidi_control(c))
    {
        at.fail(
            "control_character",
            format!(
                "{} contains characters that cannot be produced (control or direction characters).",
                f.label
            ),
        );
        ok = false;
    }
    if oversized {
        at.fail(
            "malformed_character",
            format!(
                "{} contains a character with too many marks on it.",
                f.label
            ),
        );
        ok = false;
    }
    if let Some(max) = f.max_length
        && len > max as usize
    {
        at.fail(
            "too_long",
            format!("{} is at most {max} characters ({len} given).", f.label),
        );
        ok = false;
    }
    if let Some(min) = f.min_length
        && len < min as usize
    {
        at.fail(
            "too_short",
            format!("{} is at least {min} characters ({len} given).", f.label),
        );
        ok = false;
    }
    if let Some(cs) = f.charset
        && let Some(bad) = text
            .chars()
            .find(|c| !charset_allows(cs, *c) && !(multiline && (*c == '\n' || *c == '\t')))
    {
        at.fail("charset", format!("{} cannot contain “{bad}”.", f.label));
        ok = false;
    }
    if let Some(re) = &template.patterns[i]
        && ok
        && !re.is_match(&text)
    {
        at.fail(
            "pattern",
            format!("{} does not have the required format.", f.label),
        );
        ok = false;
    }
    if ok && blocked.hits(&text) {
        at.fail(
            "blocked_word",
            format!("{} contains a word this shop does not accept.", f.label),
        );
        ok = false;
    }
    ok.then(|| Checked::text(text))
}

fn check_number(
    at: &mut Field,
    reading: &Reading,
    (min, max, step): (Option<Dec>, Option<Dec>, Option<Dec>),
) -> Option<Checked> {
    let f = at.f;
    let Reading::Number(Some(n)) = *reading else {
        at.fail("not_a_number", format!("{} must be a number.", f.label));
        return None;
    };
    let mut ok = true;
    if min.is_some_and(|m| n < m) {
        at.fail(
            "too_small",
            format!("{} is at least {}.", f.label, min.unwrap_or(Dec::zero())),
        );
        ok = false;
    }
    if max.is_some_and(|m| n > m) {
        at.fail(
            "too_large",
            format!("{} is at most {}.", f.label, max.unwrap_or(Dec::zero())),
        );
        ok = false;
    }
    if let Some(step) = step
        && ok
        && !n.on_step(min.unwrap_or(Dec::zero()), step)
    {
        at.fail("step", format!("{} must be in steps of {step}.", f.label));
        ok = false;
    }
    ok.then(|| Checked::text(n.to_string()))
}

/// A select or swatch: the chosen option's label is shown, its value stored, its price charged.
fn check_choice(at: &mut Field, raw: &Value) -> Option<Checked> {
    let f = at.f;
    let chosen = match raw {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match chosen.and_then(|c| f.options.iter().flatten().find(|o| o.value == c)) {
        Some(o) => Some(Checked {
            display: o.label.clone(),
            normalized: Value::String(o.value.clone()),
            option_price: o.price_cents,
        }),
        None => {
            at.fail(
                "invalid_option",
                format!("Choose one of the options for {}.", f.label),
            );
            None
        }
    }
}

fn check_checkbox(at: &mut Field, raw: &Value) -> Option<Checked> {
    if raw == &Value::Bool(true) {
        return Some(Checked {
            display: "Yes".to_owned(),
            normalized: Value::Bool(true),
            option_price: 0,
        });
    }
    let label = &at.f.label;
    at.fail("invalid_type", format!("{label} must be true or false."));
    None
}

fn check_date(at: &mut Field, raw: &Value) -> Option<Checked> {
    let f = at.f;
    let Some(d) = raw.as_str().and_then(parse_date) else {
        at.fail(
            "invalid_date",
            format!("{} must be a date (YYYY-MM-DD).", f.label),
        );
        return None;
    };
    let bound = |v: &Option<Value>| v.as_ref().and_then(|v| v.as_str()).and_then(parse_date);
    let shown = |v: &Option<Value>| v.as_ref().and_then(Value::as_str).unwrap_or("").to_owned();
    let mut ok = true;
    if bound(&f.min).is_some_and(|m| d < m) {
        at.fail(
            "too_early",
            format!("{} is on or after {}.", f.label, shown(&f.min)),
        );
        ok = false;
    }
    if bound(&f.max).is_some_and(|m| d > m) {
        at.fail(
            "too_late",
            format!("{} is on or before {}.", f.label, shown(&f.max)),
        );
        ok = false;
    }
    ok.then(|| Checked::text(raw.as_str().unwrap_or_default().to_owned()))
}

/// An uploaded image: the value is an upload id of this shop; the line shows its URL.
fn check_image(
    at: &mut Field,
    raw: &Value,
    upload_url: &dyn Fn(&str) -> Option<String>,
) -> Option<Checked> {
    match raw.as_str().filter(|s| s.len() <= 100).and_then(upload_url) {
        Some(url) => Some(Checked {
            display: url,
            normalized: raw.clone(),
            option_price: 0,
        }),
        None => {
            let label = &at.f.label;
            at.fail(
                "unknown_upload",
                format!("Upload the image for {label} again."),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personalization::template::parse_fields;
    use serde_json::json;

    fn template(fields: Value) -> CompiledTemplate {
        CompiledTemplate::new(parse_fields(&fields).unwrap()).unwrap()
    }

    fn run(t: &CompiledTemplate, values: Value) -> Result<Accepted, Vec<(String, String)>> {
        let uploads =
            |id: &str| (id == "up_1").then(|| "https://app.test/uploads/up_1.png".to_owned());
        validate(
            t,
            values.as_object().unwrap(),
            &BlockedWords::new(&["darn".into()]),
            &uploads,
        )
        .map_err(|e| {
            e.into_iter()
                .map(|e| (e.field, e.code.into_owned()))
                .collect()
        })
    }

    fn engraving() -> CompiledTemplate {
        template(json!([
            {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "min_length": 2, "max_length": 5, "price_cents": 500},
            {"key": "note", "label": "Note", "type": "textarea", "max_length": 40},
            {"key": "initials", "label": "Initials", "type": "text", "pattern": "[A-Z]{2,3}", "charset": "latin"},
            {"key": "latin", "label": "Latin", "type": "text", "charset": "latin"}
        ]))
    }

    #[test]
    fn lengths_count_what_people_see() {
        let t = engraving();
        // Family emoji (ZWJ sequence), flag, e + combining acute: one character each.
        let ok = run(&t, json!({"engraving": "👨‍👩‍👧‍👦🇸🇪e\u{301}"})).unwrap();
        assert_eq!(
            ok.properties[0],
            ("Engraving".into(), "👨‍👩‍👧‍👦🇸🇪é".into()),
            "NFC composes e + ◌́ to é"
        );
        assert_eq!(ok.price_cents, 500);
        assert_eq!(
            run(&t, json!({"engraving": "  Ab  "})).unwrap().properties[0].1,
            "Ab",
            "trimmed"
        );
        assert_eq!(
            run(&t, json!({"engraving": "abcdef"})).unwrap_err(),
            vec![("values.engraving".into(), "too_long".into())]
        );
        assert_eq!(
            run(&t, json!({"engraving": " a "})).unwrap_err(),
            vec![("values.engraving".into(), "too_short".into())]
        );
        // Hebrew (right-to-left) is ordinary text.
        assert!(run(&t, json!({"engraving": "שלום"})).is_ok());
    }

    #[test]
    fn control_and_direction_characters_are_refused() {
        let t = engraving();
        for bad in ["a\u{0}b", "ab\u{7}", "a\u{202E}b", "a\nb"] {
            assert_eq!(
                run(&t, json!({"engraving": bad})).unwrap_err()[0].1,
                "control_character",
                "{bad:?}"
            );
        }
        assert!(
            run(
                &t,
                json!({"engraving": "ab", "note": "line one\r\nline\ttwo"})
            )
            .is_ok(),
            "textarea allows newlines and tabs"
        );
        assert_eq!(
            run(&t, json!({"engraving": "ab", "note": "x\u{1b}[31m"})).unwrap_err()[0].1,
            "control_character"
        );
    }

    #[test]
    fn huge_strings_are_refused_before_any_work() {
        let t = engraving();
        let started = std::time::Instant::now();
        let megabyte = "a".repeat(1024 * 1024);
        assert_eq!(
            run(&t, json!({"engraving": megabyte})).unwrap_err()[0].1,
            "too_long"
        );
        let zalgo = format!("a{}", "\u{301}".repeat(30_000));
        assert_eq!(
            run(&t, json!({"engraving": zalgo})).unwrap_err()[0].1,
            "malformed_character"
        );
        // The longest ordinary sequences still pass: England's tag flag, a ZWJ family.
        assert!(
            run(
                &t,
                json!({"engraving": "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}👨‍👩‍👧‍👦"})
            )
            .is_ok()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn each_value_is_read_once_however_many_conditions_name_it() {
        // Every other field depends on one long text: its normalization must not be repeated
        // for each condition entry (that was 99 × 250 normalizations of 60 KiB).
        let entries: Vec<String> = (0..super::super::template::MAX_OPTIONS)
            .map(|i| format!("é{i}"))
            .collect();
        let mut fields = vec![json!({"key": "a", "label": "A", "type": "textarea"})];
        for i in 1..super::super::template::MAX_FIELDS {
            fields.push(
                json!({"key": format!("f{i}"), "label": format!("F{i}"), "type": "text",
                "required": true, "show_if": {"field": "a", "equals": entries}}),
            );
        }
        let t = template(Value::Array(fields));
        let long = "e\u{301}".repeat(20_000); // not NFC: every read normalizes it
        let started = std::time::Instant::now();
        let result = run(&t, json!({ "a": long }));
        assert!(result.is_ok(), "{result:?}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn pattern_charset_and_blocked_words() {
        let t = engraving();
        assert!(run(&t, json!({"engraving": "ab", "initials": "ABC"})).is_ok());
        assert_eq!(
            run(&t, json!({"engraving": "ab", "initials": "ABCD"})).unwrap_err()[0].1,
            "pattern",
            "whole value"
        );
        assert_eq!(
            run(&t, json!({"engraving": "ab", "latin": "Ça va, Zoë? €5"}))
                .map(|a| a.properties.len()),
            Ok(2)
        );
        assert_eq!(
            run(&t, json!({"engraving": "ab", "latin": "hi 😀"})).unwrap_err()[0].1,
            "charset"
        );
        assert_eq!(
            run(&t, json!({"engraving": "ab", "latin": "Привет"})).unwrap_err()[0].1,
            "charset"
        );
        assert_eq!(
            run(&t, json!({"engraving": "DARN"})).unwrap_err()[0].1,
            "blocked_word"
        );
        assert!(
            run(&t, json!({"engraving": "darnx"})).is_ok(),
            "whole words only"
        );
    }

    fn ring() -> CompiledTemplate {
        template(json!([
            {"key": "metal", "label": "Metal", "type": "select", "required": true, "options": [
                {"value": "silver", "label": "Sterling silver"}, {"value": "gold", "label": "Gold", "price_cents": 4000}]},
            {"key": "karat", "label": "Karat", "type": "select", "required": true, "show_if": {"field": "metal", "equals": "gold"},
                "options": [{"value": "14", "label": "14k"}, {"value": "18", "label": "18k", "price_cents": 2500}]},
            {"key": "stamp", "label": "Karat stamp", "type": "checkbox", "price_cents": 300, "show_if": {"field": "karat", "equals": ["18"]}},
            {"key": "size", "label": "Size", "type": "number", "required": true, "min": 4, "max": 13, "step": 0.25},
            {"key": "date", "label": "Date", "type": "date", "min": "2026-01-01", "max": "2026-12-31"},
            {"key": "photo", "label": "Photo", "type": "image"},
            {"key": "color", "label": "Box color", "type": "swatch", "options": [{"value": "navy", "label": "Navy", "color": "#001f3f"}]}
        ]))
    }

    #[test]
    fn conditional_chains_price_and_properties() {
        let t = ring();
        let a = run(&t, json!({"metal": "gold", "karat": "18", "stamp": true, "size": "6.75", "date": "2026-06-01", "photo": "up_1", "color": "navy"})).unwrap();
        assert_eq!(a.price_cents, 4000 + 2500 + 300);
        assert_eq!(
            a.properties,
            vec![
                ("Metal".into(), "Gold".into()),
                ("Karat".into(), "18k".into()),
                ("Karat stamp".into(), "Yes".into()),
                ("Size".into(), "6.75".into()),
                ("Date".into(), "2026-06-01".into()),
                ("Photo".into(), "https://app.test/uploads/up_1.png".into()),
                ("Box color".into(), "Navy".into()),
            ]
        );
        // Silver: karat and stamp are hidden, so neither required nor priced, even if sent.
        let s = run(
            &t,
            json!({"metal": "silver", "karat": "nonsense", "stamp": true, "size": 7}),
        )
        .unwrap();
        assert_eq!(s.price_cents, 0);
        assert_eq!(s.properties.len(), 2);
        // Gold without karat: required only now.
        assert_eq!(
            run(&t, json!({"metal": "gold", "size": 7})).unwrap_err(),
            vec![("values.karat".into(), "required".into())]
        );
        // 14k: the stamp (shown only for 18k) stays hidden down the chain.
        assert_eq!(
            run(
                &t,
                json!({"metal": "gold", "karat": "14", "stamp": true, "size": 7})
            )
            .unwrap()
            .price_cents,
            4000
        );
    }

    #[test]
    fn every_error_at_once() {
        let t = ring();
        let errs = run(&t, json!({"metal": "platinum", "size": 6.1, "date": "2026-02-30", "photo": "someone-elses", "color": "red"})).unwrap_err();
        assert_eq!(
            errs,
            vec![
                ("values.metal".into(), "invalid_option".into()),
                ("values.size".into(), "step".into()),
                ("values.date".into(), "invalid_date".into()),
                ("values.photo".into(), "unknown_upload".into()),
                ("values.color".into(), "invalid_option".into()),
            ]
        );
        let errs = run(
            &t,
            json!({"metal": "silver", "size": 14, "date": "2025-12-31"}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            vec![
                ("values.size".into(), "too_large".into()),
                ("values.date".into(), "too_early".into())
            ]
        );
        let errs = run(
            &t,
            json!({"metal": ["silver"], "size": "six", "stamp": "yes"}),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            vec![
                ("values.metal".into(), "invalid_option".into()),
                ("values.size".into(), "not_a_number".into())
            ]
        );
        assert!(
            run(&t, json!({"metal": "silver", "size": "4.25"})).is_ok(),
            "string numbers and exact steps from min"
        );
    }
}
