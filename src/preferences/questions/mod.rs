//! Zero-party questions: what the merchant asks shoppers directly, as a short quiz
//! (`/api/questions`), and what each shopper answered ([`answers`]).
//!
//! A question has a stable `key` chosen by the merchant, a prompt, a kind (`single` or
//! `multiple` choice) and 2–20 options, each with its own stable `key` and a label. Answers name
//! the keys, so editing a prompt or a label, reordering, or adding options keeps every earlier
//! answer; an option removed from a question keeps the answers that chose it (exported, erased
//! with the customer) but is no longer shown or counted as a current choice.
//!
//! An option may map onto the preference center: an `interest` (choosing it adds that interest
//! to the shopper's preferences) or a `size` (`{"category","size"}`: choosing it sets that size,
//! single-choice questions only, since a shopper has one size per category). Mappings must name
//! what the center offers when the question is saved. An option without a mapping is still a
//! taste signal for recommendations (see [`answers::tastes`]).

pub mod answers;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::PrimitiveDateTime;

use super::center::{self, Center};
use super::is_key;
use crate::db::schema::{quiz_answers, quiz_questions as qq};
use crate::db::{DbConnection, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};

pub use answers::tastes;

/// Questions per shop: a quiz a shopper finishes, and a bound on what one shop stores.
pub const MAX_QUESTIONS: usize = 50;
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_PROMPT_CHARS: usize = 200;
pub const MAX_LABEL_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Single,
    Multiple,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "single" => Some(Kind::Single),
            "multiple" => Some(Kind::Multiple),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeMapping {
    pub category: String,
    pub size: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionOption {
    pub key: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<SizeMapping>,
}

impl QuestionOption {
    pub fn is_mapped(&self) -> bool {
        self.interest.is_some() || self.size.is_some()
    }
}

/// What is stored as `definition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub prompt: String,
    pub kind: Kind,
    pub options: Vec<QuestionOption>,
}

impl Definition {
    pub fn option(&self, key: &str) -> Option<&QuestionOption> {
        self.options.iter().find(|o| o.key == key)
    }
}

/// One stored question.
#[derive(Debug, Clone)]
pub struct Question {
    pub key: String,
    pub position: i64,
    pub active: bool,
    pub version: i64,
    pub def: Definition,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// QUESTION as the admin API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionOut {
    pub key: String,
    pub prompt: String,
    pub kind: Kind,
    pub options: Vec<QuestionOption>,
    pub active: bool,
    pub position: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Question> for QuestionOut {
    fn from(q: Question) -> Self {
        QuestionOut {
            key: q.key,
            prompt: q.def.prompt,
            kind: q.def.kind,
            options: q.def.options,
            active: q.active,
            position: q.position,
            version: q.version,
            created_at: rfc3339(q.created_at),
            updated_at: rfc3339(q.updated_at),
        }
    }
}

type Row = (
    String,
    i64,
    bool,
    i64,
    String,
    PrimitiveDateTime,
    PrimitiveDateTime,
);

fn from_row(r: Row) -> QueryResult<Question> {
    let (key, position, active, version, def, created_at, updated_at) = r;
    Ok(Question {
        key,
        position,
        active,
        version,
        def: serde_json::from_str(&def)
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?,
        created_at,
        updated_at,
    })
}

const COLUMNS: (
    qq::question_key,
    qq::position,
    qq::active,
    qq::version,
    qq::definition,
    qq::created_at,
    qq::updated_at,
) = (
    qq::question_key,
    qq::position,
    qq::active,
    qq::version,
    qq::definition,
    qq::created_at,
    qq::updated_at,
);

/// Every question of the shop, in the merchant's order.
pub fn list(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<Question>> {
    let rows: Vec<Row> = qq::table
        .filter(qq::shop_id.eq(shop_id))
        .order((qq::position, qq::created_at, qq::question_key))
        .select(COLUMNS)
        .load(c)?;
    rows.into_iter().map(from_row).collect()
}

/// The shop's active questions, in order (what the quiz asks).
pub fn active(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<Question>> {
    Ok(list(c, shop_id)?.into_iter().filter(|q| q.active).collect())
}

pub fn find(c: &mut DbConnection, shop_id: &str, key: &str) -> QueryResult<Option<Question>> {
    if !is_key(key) {
        return Ok(None);
    }
    let row: Option<Row> = qq::table
        .filter(qq::shop_id.eq(shop_id))
        .filter(qq::question_key.eq(key))
        .select(COLUMNS)
        .first(c)
        .optional()?;
    row.map(from_row).transpose()
}

/// Changes of one shop's questions count one after the other (their positions and the bound on
/// their number hold with several instances; SQLite's single writer already serializes them).
fn lock_shop(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("questions:{shop_id}"))
            .execute(pg)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- request bodies

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct QuestionBody {
    key: Lenient<String>,
    prompt: Lenient<String>,
    kind: Lenient<String>,
    options: Lenient<Vec<Lenient<OptionBody>>>,
    active: Lenient<bool>,
    position: Lenient<i64>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OptionBody {
    key: Lenient<String>,
    label: Lenient<String>,
    interest: Lenient<String>,
    size: Lenient<SizeBody>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SizeBody {
    category: Lenient<String>,
    size: Lenient<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Members an admin may send back from a `GET` (ignored: the server keeps them).
const ECHOED: [&str; 3] = ["version", "created_at", "updated_at"];

/// A checked body of `POST`/`PUT /api/questions…`: each member present (shape checked; values
/// against the preference center inside the transaction).
#[derive(Debug, Clone, Default)]
pub struct QuestionInput {
    pub key: Option<String>,
    pub prompt: Option<String>,
    pub kind: Option<Kind>,
    pub options: Option<Vec<QuestionOption>>,
    pub active: Option<bool>,
    pub position: Option<i64>,
}

fn not_in_request(_: &str) -> String {
    "This member is not part of a question.".into()
}

/// A merchant's text: trimmed, non-empty, at most `max` characters, no control characters.
fn text(p: &mut Problems, path: &str, raw: String, max: usize, what: &str) -> Option<String> {
    let t = raw.trim().to_owned();
    if t.is_empty() {
        p.push(path, "required", format!("The {what} cannot be empty."));
        None
    } else if t.chars().count() > max {
        p.push(
            path,
            "too_long",
            format!("The {what} is at most {max} characters."),
        );
        None
    } else if t.chars().any(char::is_control) {
        p.push(
            path,
            "invalid_character",
            format!("The {what} cannot contain control characters."),
        );
        None
    } else {
        Some(t)
    }
}

fn key_of(p: &mut Problems, path: &str, raw: Lenient<String>, what: &str) -> Option<String> {
    let message = format!("A {what} key is 1–64 characters of a-z, 0-9, _ and -.");
    match raw {
        Lenient::Absent => {
            p.push(path, "required", format!("The {what} needs a key."));
            None
        }
        Lenient::Ok(k) if is_key(&k) => Some(k),
        Lenient::Ok(_) => {
            p.push(path, "invalid_key", message);
            None
        }
        Lenient::Null | Lenient::Wrong(_) => {
            p.invalid_type(path, &message);
            None
        }
    }
}

fn parse_option(p: &mut Problems, path: &str, o: OptionBody) -> Option<QuestionOption> {
    p.unknown_members(path, o.unknown.keys(), not_in_request);
    let key = key_of(p, &input::member(path, "key"), o.key, "option");
    let label_path = input::member(path, "label");
    let label = match o.label {
        Lenient::Absent => {
            p.push(&label_path, "required", "An option needs a label.");
            None
        }
        l => l
            .typed(p, &label_path, "A label is a string.")
            .and_then(|l| text(p, &label_path, l, MAX_LABEL_CHARS, "label")),
    };
    let interest_path = input::member(path, "interest");
    let interest = o
        .interest
        .nullable(p, &interest_path, "interest is an interest key, or null.")
        .flatten();
    if let Some(i) = &interest
        && !is_key(i)
    {
        p.push(&interest_path, "invalid_key", "Not an interest key.");
    }
    let size_path = input::member(path, "size");
    let size = match o
        .size
        .nullable(p, &size_path, "size is {\"category\",\"size\"}, or null.")
    {
        Some(Some(s)) => {
            p.unknown_members(&size_path, s.unknown.keys(), not_in_request);
            let cat_path = input::member(&size_path, "category");
            let size_value_path = input::member(&size_path, "size");
            let category = s
                .category
                .typed(p, &cat_path, "A size category is a key (string).");
            let value = s.size.typed(p, &size_value_path, "A size is a string.");
            match (category, value) {
                (Some(category), Some(size)) => Some(SizeMapping { category, size }),
                (None, _) => {
                    p.push(&cat_path, "required", "Name the size category.");
                    None
                }
                (_, None) => {
                    p.push(&size_value_path, "required", "Name the size.");
                    None
                }
            }
        }
        _ => None,
    };
    if interest.is_some() && size.is_some() {
        p.push(
            path,
            "conflicting_mapping",
            "An option maps onto an interest or a size, not both.",
        );
    }
    Some(QuestionOption {
        key: key?,
        label: label?,
        interest,
        size,
    })
}

/// Checks the shape of a question body, naming every problem; `creating` requires the key,
/// prompt, kind and options.
pub fn parse(body: &Value, creating: bool) -> Result<QuestionInput, Vec<FieldError>> {
    let b: QuestionBody = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    let mut out = QuestionInput::default();
    p.unknown_members(
        "",
        b.unknown.keys().filter(|k| !ECHOED.contains(k)),
        not_in_request,
    );
    if creating || !b.key.is_absent() {
        out.key = key_of(&mut p, "key", b.key, "question");
    }
    match b.prompt {
        Lenient::Absent if creating => p.push("prompt", "required", "A question needs a prompt."),
        prompt => {
            out.prompt = prompt
                .typed(&mut p, "prompt", "The prompt is a string.")
                .and_then(|t| text(&mut p, "prompt", t, MAX_PROMPT_CHARS, "prompt"))
        }
    }
    match b.kind {
        Lenient::Absent if creating => p.push(
            "kind",
            "required",
            "A question is \"single\" or \"multiple\" choice.",
        ),
        kind => {
            if let Some(k) = kind.typed(&mut p, "kind", "kind is \"single\" or \"multiple\".") {
                match Kind::parse(&k) {
                    Some(k) => out.kind = Some(k),
                    None => p.push(
                        "kind",
                        "invalid_kind",
                        "kind is \"single\" or \"multiple\".",
                    ),
                }
            }
        }
    }
    match b.options {
        Lenient::Absent if creating => p.push(
            "options",
            "required",
            format!("A question offers {MIN_OPTIONS} to {MAX_OPTIONS} options."),
        ),
        options => match options.typed(&mut p, "options", "options is a list of options.") {
            Some(list) if list.len() > MAX_OPTIONS || list.len() < MIN_OPTIONS => p.push(
                "options",
                if list.len() > MAX_OPTIONS {
                    "too_many"
                } else {
                    "too_few"
                },
                format!("A question offers {MIN_OPTIONS} to {MAX_OPTIONS} options."),
            ),
            Some(list) => {
                let mut opts: Vec<QuestionOption> = Vec::with_capacity(list.len());
                let mut complete = true;
                for (i, o) in list.into_iter().enumerate() {
                    let path = input::item("options", i);
                    let Some(o) = o.typed(&mut p, &path, "An option is an object.") else {
                        complete = false;
                        continue;
                    };
                    match parse_option(&mut p, &path, o) {
                        Some(o) => {
                            if opts.iter().any(|x| x.key == o.key) {
                                p.push(
                                    input::member(&path, "key"),
                                    "duplicate",
                                    "Two options have this key.",
                                );
                            } else if opts
                                .iter()
                                .any(|x| x.label.to_lowercase() == o.label.to_lowercase())
                            {
                                p.push(
                                    input::member(&path, "label"),
                                    "duplicate",
                                    "Two options have this label.",
                                );
                            }
                            opts.push(o);
                        }
                        None => complete = false,
                    }
                }
                if complete {
                    out.options = Some(opts);
                }
            }
            None => {}
        },
    }
    out.active = b.active.typed(&mut p, "active", "active is true or false.");
    match b
        .position
        .typed(&mut p, "position", "position is an integer from 0.")
    {
        Some(n) if n < 0 => p.push("position", "invalid_position", "position counts from 0."),
        n => out.position = n,
    }
    p.finish(out)
}

/// Mappings must name what the preference center offers; a size only on a single-choice
/// question.
fn check_against(center: &Center, kind: Kind, options: &[QuestionOption]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, o) in options.iter().enumerate() {
        let path = input::item("options", i);
        if let Some(interest) = &o.interest
            && !center.offers_interest(interest)
        {
            errors.push(FieldError::new(
                input::member(&path, "interest"),
                "unknown_interest",
                "The preference center offers no such interest.",
            ));
        }
        if let Some(s) = &o.size {
            let path = input::member(&path, "size");
            if kind == Kind::Multiple {
                errors.push(FieldError::new(
                    path,
                    "size_needs_single_choice",
                    "A shopper has one size per category: map sizes on single-choice questions.",
                ));
            } else if center.category(&s.category).is_none() {
                errors.push(FieldError::new(
                    input::member(&path, "category"),
                    "unknown_category",
                    "The preference center has no such size category.",
                ));
            } else if !center.offers_size(&s.category, &s.size) {
                errors.push(FieldError::new(
                    input::member(&path, "size"),
                    "unknown_size",
                    "The preference center does not offer this size in this category.",
                ));
            }
        }
    }
    errors
}

/// Moves `key` to `position` (clamped) and numbers every question again from 0.
fn reposition(
    c: &mut DbConnection,
    shop_id: &str,
    key: &str,
    position: Option<i64>,
) -> QueryResult<()> {
    let mut keys: Vec<String> = list(c, shop_id)?.into_iter().map(|q| q.key).collect();
    if let Some(pos) = position {
        keys.retain(|k| k != key);
        let at = (pos.max(0) as usize).min(keys.len());
        keys.insert(at, key.to_owned());
    }
    for (i, k) in keys.iter().enumerate() {
        diesel::update(
            qq::table
                .filter(qq::shop_id.eq(shop_id))
                .filter(qq::question_key.eq(k))
                .filter(qq::position.ne(i as i64)),
        )
        .set(qq::position.eq(i as i64))
        .execute(c)?;
    }
    Ok(())
}

fn definition_json(def: &Definition) -> String {
    serde_json::to_string(def).expect("a definition serializes")
}

/// `POST /api/questions`: a new question, last unless `position` says otherwise.
pub fn create(c: &mut DbConnection, shop_id: &str, input: QuestionInput) -> AppResult<Question> {
    let (Some(key), Some(prompt), Some(kind), Some(options)) =
        (input.key, input.prompt, input.kind, input.options)
    else {
        return Err(AppError::validation(vec![FieldError::new(
            "",
            "required",
            "A question needs a key, a prompt, a kind and options.",
        )]));
    };
    write_tx(c, |c| {
        lock_shop(c, shop_id)?;
        let center = center::load(c, shop_id)?;
        let errors = check_against(&center, kind, &options);
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        let existing = list(c, shop_id)?;
        if existing.iter().any(|q| q.key == key) {
            return Err(AppError::validation(vec![FieldError::new(
                "key",
                "duplicate",
                "The shop already has a question with this key.",
            )]));
        }
        if existing.len() >= MAX_QUESTIONS {
            return Err(AppError::validation(vec![FieldError::new(
                "",
                "too_many_questions",
                format!("A shop asks at most {MAX_QUESTIONS} questions; delete one first."),
            )]));
        }
        let at = now();
        let def = Definition {
            prompt,
            kind,
            options,
        };
        diesel::insert_into(qq::table)
            .values((
                qq::shop_id.eq(shop_id),
                qq::question_key.eq(&key),
                qq::position.eq(existing.len() as i64),
                qq::active.eq(input.active.unwrap_or(true)),
                qq::version.eq(1i64),
                qq::definition.eq(definition_json(&def)),
                qq::created_at.eq(at),
                qq::updated_at.eq(at),
            ))
            .execute(c)?;
        if input.position.is_some() {
            reposition(c, shop_id, &key, input.position)?;
        }
        find(c, shop_id, &key)?.ok_or_else(|| AppError::internal(anyhow::anyhow!("lost insert")))
    })
}

/// `PUT /api/questions/{key}`: the members present replace those stored (the key stays);
/// every edit bumps `version`. Answers are untouched: they name option keys.
pub fn update(
    c: &mut DbConnection,
    shop_id: &str,
    key: &str,
    input: QuestionInput,
) -> AppResult<Question> {
    if input.key.as_deref().is_some_and(|k| k != key) {
        return Err(AppError::validation(vec![FieldError::new(
            "key",
            "immutable",
            "A question keeps its key (answers name it); create a new question instead.",
        )]));
    }
    write_tx(c, |c| {
        lock_shop(c, shop_id)?;
        let Some(q) = find(c, shop_id, key)? else {
            return Err(AppError::not_found("No such question."));
        };
        let mut def = q.def.clone();
        if let Some(p) = input.prompt {
            def.prompt = p;
        }
        if let Some(k) = input.kind {
            def.kind = k;
        }
        if let Some(o) = input.options {
            def.options = o;
        }
        let center = center::load(c, shop_id)?;
        // Mappings are checked when they are saved: a stored one the center stopped offering
        // is left alone (the answer then sets nothing), as the center treats shoppers' values.
        let changed: Vec<QuestionOption> = def
            .options
            .iter()
            .filter(|o| q.def.option(&o.key) != Some(o) || def.kind != q.def.kind)
            .cloned()
            .collect();
        let errors: Vec<FieldError> = check_against(&center, def.kind, &def.options)
            .into_iter()
            .filter(|e| {
                let i = e.field.trim_start_matches("options[");
                let i: Option<usize> = i.split(']').next().and_then(|n| n.parse().ok());
                i.and_then(|i| def.options.get(i))
                    .is_some_and(|o| changed.contains(o))
            })
            .collect();
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        let active = input.active.unwrap_or(q.active);
        if def != q.def || active != q.active {
            diesel::update(
                qq::table
                    .filter(qq::shop_id.eq(shop_id))
                    .filter(qq::question_key.eq(key)),
            )
            .set((
                qq::definition.eq(definition_json(&def)),
                qq::active.eq(active),
                qq::version.eq(q.version + 1),
                qq::updated_at.eq(now()),
            ))
            .execute(c)?;
        }
        if input.position.is_some() {
            reposition(c, shop_id, key, input.position)?;
        }
        find(c, shop_id, key)?.ok_or_else(|| AppError::internal(anyhow::anyhow!("lost update")))
    })
}

/// `DELETE /api/questions/{key}`: the question and its answers go (nobody can see or change
/// an answer to a question that is no longer asked); what its mapped options already set in
/// shoppers' preferences stays theirs. `false` when there was no such question.
pub fn delete(c: &mut DbConnection, shop_id: &str, key: &str) -> AppResult<bool> {
    if !is_key(key) {
        return Ok(false);
    }
    write_tx(c, |c| {
        lock_shop(c, shop_id)?;
        diesel::delete(
            quiz_answers::table
                .filter(quiz_answers::shop_id.eq(shop_id))
                .filter(quiz_answers::question_key.eq(key)),
        )
        .execute(c)?;
        let n = diesel::delete(
            qq::table
                .filter(qq::shop_id.eq(shop_id))
                .filter(qq::question_key.eq(key)),
        )
        .execute(c)?;
        reposition(c, shop_id, key, None)?;
        Ok(n > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(body: Value, creating: bool) -> Vec<(String, String)> {
        parse(&body, creating)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code.into_owned()))
            .collect()
    }

    #[test]
    fn a_question_body_names_every_bad_path() {
        let got = codes(
            json!({
                "key": "Style!", "prompt": " ", "kind": "ranking", "colour": 1,
                "options": [
                    {"key": "a", "label": "A"},
                    {"key": "a", "label": "B", "interest": "sale", "size": {"category": "tops", "size": "M"}},
                    {"label": 3},
                    "x"
                ],
                "position": -1
            }),
            true,
        );
        for want in [
            ("colour", "unknown_field"),
            ("key", "invalid_key"),
            ("prompt", "required"),
            ("kind", "invalid_kind"),
            ("options[1]", "conflicting_mapping"),
            ("options[1].key", "duplicate"),
            ("options[2].key", "required"),
            ("options[2].label", "invalid_type"),
            ("options[3]", "invalid_type"),
            ("position", "invalid_position"),
        ] {
            assert!(
                got.contains(&(want.0.to_owned(), want.1.to_owned())),
                "{want:?} in {got:?}"
            );
        }
        let got = codes(json!({}), true);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(parse(&json!({}), false).is_ok(), "an empty edit is fine");
        let many: Vec<Value> = (0..21)
            .map(|i| json!({"key": format!("o{i}"), "label": format!("O{i}")}))
            .collect();
        assert_eq!(
            codes(json!({"options": many}), false),
            [("options".to_owned(), "too_many".to_owned())]
        );
    }

    #[test]
    fn mappings_must_be_offered_and_sizes_need_a_single_choice() {
        let center = center::defaults();
        let opts = vec![
            QuestionOption {
                key: "a".into(),
                label: "A".into(),
                interest: Some("yachts".into()),
                size: None,
            },
            QuestionOption {
                key: "b".into(),
                label: "B".into(),
                interest: None,
                size: Some(SizeMapping {
                    category: "tops".into(),
                    size: "XXXL".into(),
                }),
            },
        ];
        let fields: Vec<String> = check_against(&center, Kind::Single, &opts)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["options[0].interest", "options[1].size.size"]);
        let codes: Vec<String> = check_against(&center, Kind::Multiple, &opts)
            .into_iter()
            .map(|e| e.code.into_owned())
            .collect();
        assert_eq!(codes, ["unknown_interest", "size_needs_single_choice"]);
    }
}
