//! What shoppers answered: the storefront quiz (`/proxy/questions`), changed later in the
//! preference center, the merge of an anonymous visitor's answers on login, the merchant's
//! answer distributions, and the shopper's export and erasure.
//!
//! An answer is a preference: each change is one consent-history row (`answers.KEY`, old and
//! new option keys, source, time) written in the same transaction, holding the customer's
//! preferences row, as the preferences it changes. A chosen option mapped onto an interest adds
//! it to the shopper's interests, a size sets it; changing the answer takes back what the
//! earlier options had set (an interest or size the shopper set otherwise is kept only if the
//! new answer does not take it back: the latest statement wins). Mapped values the center no
//! longer offers are not set.

use std::collections::{BTreeMap, BTreeSet};

use diesel::AggregateExpressionMethods;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::{Kind, Question, active, find};
use crate::db::schema::quiz_answers as qa;
use crate::db::{DbConnection, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};
use crate::preferences::Source;
use crate::preferences::center::{self, Center, MAX_INTERESTS};
use crate::preferences::prefs::{self, Prefs};

/// Answers one merge may carry (a browser holds at most one per question).
pub const MAX_MERGE: usize = super::MAX_QUESTIONS;

/// A question as the storefront shows it: no mappings (they are the merchant's business).
#[derive(Debug, Clone, Serialize)]
pub struct StorefrontQuestion {
    pub key: String,
    pub prompt: String,
    pub kind: Kind,
    pub options: Vec<StorefrontOption>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StorefrontOption {
    pub key: String,
    pub label: String,
}

/// `GET /proxy/questions`: the active questions in order, the shopper's current answers (keys
/// of options still offered), progress and where to resume.
#[derive(Debug, Clone, Serialize)]
pub struct QuizOut {
    pub questions: Vec<StorefrontQuestion>,
    pub answers: BTreeMap<String, Vec<String>>,
    pub answered: usize,
    pub total: usize,
    /// The first question without an answer (where the quiz resumes), `null` when done.
    pub next: Option<String>,
    pub logged_in: bool,
    /// For a logged-in shopper: whether answers may shape their recommendations yet, and the
    /// center's text asking for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Value>,
}

fn storefront(q: &Question) -> StorefrontQuestion {
    StorefrontQuestion {
        key: q.key.clone(),
        prompt: q.def.prompt.clone(),
        kind: q.def.kind,
        options: q
            .def
            .options
            .iter()
            .map(|o| StorefrontOption {
                key: o.key.clone(),
                label: o.label.clone(),
            })
            .collect(),
    }
}

/// Every stored answer of the customer: question → option keys (as stored, sorted).
fn stored(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<BTreeMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = qa::table
        .filter(qa::shop_id.eq(shop_id))
        .filter(qa::customer_id.eq(customer_id))
        .order((qa::question_key, qa::option_key))
        .select((qa::question_key, qa::option_key))
        .load(c)?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (q, o) in rows {
        out.entry(q).or_default().push(o);
    }
    Ok(out)
}

/// The options of `q` the shopper chose that are still offered, in the question's order.
fn current<'a>(q: &'a Question, chosen: Option<&Vec<String>>) -> Vec<&'a str> {
    let Some(chosen) = chosen else {
        return Vec::new();
    };
    q.def
        .options
        .iter()
        .filter(|o| chosen.contains(&o.key))
        .map(|o| o.key.as_str())
        .collect()
}

/// The quiz for a shopper (`None`: an anonymous visitor, whose answers the browser keeps).
pub fn quiz(c: &mut DbConnection, shop_id: &str, customer_id: Option<i64>) -> QueryResult<QuizOut> {
    let questions = active(c, shop_id)?;
    let chosen = match customer_id {
        Some(id) => stored(c, shop_id, id)?,
        None => BTreeMap::new(),
    };
    let mut answers = BTreeMap::new();
    let mut next = None;
    for q in &questions {
        let keys = current(q, chosen.get(&q.key));
        if keys.is_empty() {
            next = next.or_else(|| Some(q.key.clone()));
        } else {
            answers.insert(q.key.clone(), keys.into_iter().map(str::to_owned).collect());
        }
    }
    let consent = match customer_id {
        Some(id) => {
            let center = center::load(c, shop_id)?;
            Some(json!({
                "personalization": prefs::personalization_allowed(c, shop_id, id)?,
                "text": center.texts.get("personalization_consent"),
            }))
        }
        None => None,
    };
    Ok(QuizOut {
        answered: answers.len(),
        total: questions.len(),
        questions: questions.iter().map(storefront).collect(),
        answers,
        next,
        logged_in: customer_id.is_some(),
        consent,
    })
}

// ---------------------------------------------------------------- request bodies

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AnswerBody {
    options: Lenient<Vec<Lenient<String>>>,
    #[serde(flatten)]
    unknown: Unknown,
}

fn not_in_request(_: &str) -> String {
    "This member is not part of the request.".into()
}

/// Option keys under `path`: 1–20 keys, no key twice.
fn option_keys(p: &mut Problems, path: &str, raw: Lenient<Vec<Lenient<String>>>) -> Vec<String> {
    let message = "options is a list of option keys.";
    let Some(list) = (match raw {
        Lenient::Absent => {
            p.push(path, "required", "Choose at least one option.");
            None
        }
        raw => raw.typed(p, path, message),
    }) else {
        return Vec::new();
    };
    if list.is_empty() {
        p.push(path, "required", "Choose at least one option.");
        return Vec::new();
    }
    if list.len() > super::MAX_OPTIONS {
        p.push(
            path,
            "too_many",
            format!("A question has at most {} options.", super::MAX_OPTIONS),
        );
        return Vec::new();
    }
    let mut keys: Vec<String> = Vec::with_capacity(list.len());
    for (i, k) in list.into_iter().enumerate() {
        let item = input::item(path, i);
        match k.typed(p, &item, "An option is its key (string).") {
            Some(k) if keys.contains(&k) => {
                p.push(item, "duplicate", "This option is chosen twice.")
            }
            Some(k) => keys.push(k),
            None => {}
        }
    }
    keys
}

/// `{"options":[KEY…]}` of `PUT /proxy/questions/{key}/answer`.
pub fn parse_answer(body: &Value) -> Result<Vec<String>, Vec<FieldError>> {
    let b: AnswerBody = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    p.unknown_members("", b.unknown.keys(), not_in_request);
    let keys = option_keys(&mut p, "options", b.options);
    p.finish(keys)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeBody {
    answers: Lenient<BTreeMap<String, Lenient<Vec<Lenient<String>>>>>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// `{"answers":{QUESTION:[OPTION…]}}` of `POST /proxy/questions/merge`.
pub fn parse_merge(body: &Value) -> Result<Vec<(String, Vec<String>)>, Vec<FieldError>> {
    let b: MergeBody = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    p.unknown_members("", b.unknown.keys(), not_in_request);
    let mut out = Vec::new();
    match b.answers {
        Lenient::Absent => p.push("answers", "required", "answers is required."),
        raw => match raw.typed(
            &mut p,
            "answers",
            "answers is an object of question keys to lists of option keys.",
        ) {
            Some(m) if m.len() > MAX_MERGE => p.push(
                "answers",
                "too_many",
                format!("At most {MAX_MERGE} answers."),
            ),
            Some(m) => {
                for (q, opts) in m {
                    let path = input::member("answers", &q);
                    let keys = option_keys(&mut p, &path, opts);
                    if !keys.is_empty() {
                        out.push((q, keys));
                    }
                }
            }
            None => {}
        },
    }
    p.finish(out)
}

// ---------------------------------------------------------------- answering

/// What `options` of `q` set in the preferences: interests and sizes (offered by the center).
fn mapped(
    center: &Center,
    q: &Question,
    options: &[String],
) -> (Vec<String>, Vec<(String, String)>) {
    let mut interests = Vec::new();
    let mut sizes = Vec::new();
    for o in q.def.options.iter().filter(|o| options.contains(&o.key)) {
        if let Some(i) = o.interest.as_ref().filter(|i| center.offers_interest(i)) {
            interests.push(i.clone());
        }
        if let Some(s) = o
            .size
            .as_ref()
            .filter(|s| center.offers_size(&s.category, &s.size))
        {
            sizes.push((s.category.clone(), s.size.clone()));
        }
    }
    (interests, sizes)
}

/// The preferences after an answer changed from `old` to `new`: what the earlier options set is
/// taken back, what the new ones map onto is set.
fn apply_mapping(
    p: &mut Prefs,
    before: &(Vec<String>, Vec<(String, String)>),
    after: &(Vec<String>, Vec<(String, String)>),
) {
    p.interests
        .retain(|i| !before.0.contains(i) || after.0.contains(i));
    for i in &after.0 {
        if !p.interests.contains(i) && p.interests.len() < MAX_INTERESTS {
            p.interests.push(i.clone());
        }
    }
    for (cat, size) in &before.1 {
        if p.sizes.get(cat) == Some(size) && !after.1.iter().any(|(c, _)| c == cat) {
            p.sizes.remove(cat);
        }
    }
    for (cat, size) in &after.1 {
        p.sizes.insert(cat.clone(), size.clone());
    }
}

/// Checks `options` against question `q`: each offered, one for a single-choice question.
fn check_options(q: &Question, options: &[String], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if q.def.kind == Kind::Single && options.len() > 1 {
        errors.push(FieldError::new(
            path,
            "single_choice",
            "This question takes one option.",
        ));
    }
    for (i, o) in options.iter().enumerate() {
        if q.def.option(o).is_none() {
            errors.push(FieldError::new(
                input::item(path, i),
                "unknown_option",
                "The question has no such option.",
            ));
        }
    }
    errors
}

/// Writes the answer (inside the caller's write transaction): the rows, one history entry and
/// the mapped preferences. `options` empty clears it. No change, no write.
fn write_answer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    q: &Question,
    options: &[String],
    source: Source,
) -> QueryResult<()> {
    let old: Vec<String> = stored_for(c, shop_id, customer_id, &q.key)?;
    let mut new: Vec<String> = options.to_vec();
    new.sort();
    if old == new {
        return Ok(());
    }
    let center = center::load(c, shop_id)?;
    let before = mapped(&center, q, &old);
    let after = mapped(&center, q, &new);
    prefs::record_change(
        c,
        shop_id,
        customer_id,
        source,
        (&format!("answers.{}", q.key), &json!(old), &json!(new)),
        |p| apply_mapping(p, &before, &after),
    )?;
    diesel::delete(
        qa::table
            .filter(qa::shop_id.eq(shop_id))
            .filter(qa::customer_id.eq(customer_id))
            .filter(qa::question_key.eq(&q.key)),
    )
    .execute(c)?;
    let at = now();
    for o in &new {
        diesel::insert_into(qa::table)
            .values((
                qa::shop_id.eq(shop_id),
                qa::customer_id.eq(customer_id),
                qa::question_key.eq(&q.key),
                qa::option_key.eq(o),
                qa::answered_at.eq(at),
            ))
            .execute(c)?;
    }
    Ok(())
}

fn stored_for(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    question: &str,
) -> QueryResult<Vec<String>> {
    qa::table
        .filter(qa::shop_id.eq(shop_id))
        .filter(qa::customer_id.eq(customer_id))
        .filter(qa::question_key.eq(question))
        .order(qa::option_key)
        .select(qa::option_key)
        .load(c)
}

fn asked(c: &mut DbConnection, shop_id: &str, key: &str) -> AppResult<Question> {
    match find(c, shop_id, key)? {
        Some(q) if q.active => Ok(q),
        _ => Err(AppError::not_found("The store asks no such question.")),
    }
}

/// The shopper answers (or changes their answer to) an active question; `422` names each bad
/// option and changes nothing.
pub fn answer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    key: &str,
    options: &[String],
    source: Source,
) -> AppResult<()> {
    write_tx(c, |c| {
        let q = asked(c, shop_id, key)?;
        let errors = check_options(&q, options, "options");
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        write_answer(c, shop_id, customer_id, &q, options, source)?;
        Ok(())
    })
}

/// The shopper takes their answer back (what it set in the preferences goes with it).
pub fn clear(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    key: &str,
    source: Source,
) -> AppResult<()> {
    write_tx(c, |c| {
        let q = asked(c, shop_id, key)?;
        write_answer(c, shop_id, customer_id, &q, &[], source)?;
        Ok(())
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub question: String,
    /// `unknown_question`, `already_answered` or `invalid_answer`.
    pub reason: &'static str,
}

/// The answers an anonymous visitor gave in this browser, after they log in: questions they
/// had not answered in their account take the browser's answer; those they had keep theirs
/// (what the account holds is what they reviewed); unknown questions and invalid answers are
/// skipped and named.
pub fn merge(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    answers: &[(String, Vec<String>)],
) -> AppResult<Vec<Skipped>> {
    write_tx(c, |c| -> AppResult<Vec<Skipped>> {
        let questions = active(c, shop_id)?;
        let mine = stored(c, shop_id, customer_id)?;
        let mut skipped = Vec::new();
        for (key, options) in answers {
            let reason = match questions.iter().find(|q| &q.key == key) {
                None => "unknown_question",
                Some(q) if !current(q, mine.get(key)).is_empty() => "already_answered",
                Some(q) if !check_options(q, options, "options").is_empty() => "invalid_answer",
                Some(q) => {
                    write_answer(c, shop_id, customer_id, q, options, Source::Storefront)?;
                    continue;
                }
            };
            skipped.push(Skipped {
                question: key.clone(),
                reason,
            });
        }
        Ok(skipped)
    })
}

// ---------------------------------------------------------------- recommendations

/// Taste signals for recommendations: for every active question, each chosen option that maps
/// onto nothing in the preference center becomes the product tag `QUESTION:OPTION`
/// (`style:minimal`), which lifts products carrying it the way an interest does. Why a tag: it
/// is how Shopify merchants already describe products (collections and storefront filters are
/// built on tags), so "what style do you like?" needs no new catalogue data, and a store that
/// does not tag products that way loses nothing. Mapped options already act through the
/// interests and sizes they set. Read only where the shopper's personalization consent allows
/// (see `explicit_for`).
pub fn tastes(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Vec<String>> {
    let mine = stored(c, shop_id, customer_id)?;
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for q in active(c, shop_id)? {
        let Some(chosen) = mine.get(&q.key) else {
            continue;
        };
        for o in q.def.options.iter().filter(|o| chosen.contains(&o.key)) {
            if !o.is_mapped() {
                out.push(format!("{}:{}", q.key, o.key));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- merchant

#[derive(Debug, Clone, Serialize)]
pub struct OptionCount {
    pub key: String,
    pub label: Option<String>,
    pub count: i64,
    /// `count / respondents` (0 without respondents); a multiple-choice question's shares add
    /// up to more than 1.
    pub share: f64,
}

/// `GET /api/questions/{key}/distribution`.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub question: String,
    pub prompt: String,
    pub kind: Kind,
    /// Shoppers who answered.
    pub respondents: i64,
    /// Every current option, in the question's order, also those nobody chose.
    pub options: Vec<OptionCount>,
    /// Options removed from the question that earlier answers still name.
    pub retired: Vec<OptionCount>,
}

fn share(n: i64, of: i64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 / of as f64 * 10_000.0).round() / 10_000.0
    }
}

/// How shoppers answered one question: counts and shares per option. Counts only, no customers.
pub fn distribution(c: &mut DbConnection, shop_id: &str, key: &str) -> AppResult<Distribution> {
    let Some(q) = find(c, shop_id, key)? else {
        return Err(AppError::not_found("No such question."));
    };
    let respondents: i64 = qa::table
        .filter(qa::shop_id.eq(shop_id))
        .filter(qa::question_key.eq(key))
        .select(diesel::dsl::count(qa::customer_id).aggregate_distinct())
        .first(c)?;
    let counts: Vec<(String, i64)> = qa::table
        .filter(qa::shop_id.eq(shop_id))
        .filter(qa::question_key.eq(key))
        .group_by(qa::option_key)
        .select((qa::option_key, diesel::dsl::count_star()))
        .load(c)?;
    let counts: BTreeMap<String, i64> = counts.into_iter().collect();
    let options = q
        .def
        .options
        .iter()
        .map(|o| {
            let n = counts.get(&o.key).copied().unwrap_or(0);
            OptionCount {
                key: o.key.clone(),
                label: Some(o.label.clone()),
                count: n,
                share: share(n, respondents),
            }
        })
        .collect();
    let retired = counts
        .iter()
        .filter(|(k, _)| q.def.option(k).is_none())
        .map(|(k, n)| OptionCount {
            key: k.clone(),
            label: None,
            count: *n,
            share: share(*n, respondents),
        })
        .collect();
    Ok(Distribution {
        question: q.key,
        prompt: q.def.prompt,
        kind: q.def.kind,
        respondents,
        options,
        retired,
    })
}

/// Respondents per question of the shop (for the admin's list).
pub fn respondents(c: &mut DbConnection, shop_id: &str) -> QueryResult<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = qa::table
        .filter(qa::shop_id.eq(shop_id))
        .group_by(qa::question_key)
        .select((
            qa::question_key,
            diesel::dsl::count(qa::customer_id).aggregate_distinct(),
        ))
        .load(c)?;
    Ok(rows.into_iter().collect())
}

// ---------------------------------------------------------------- the shopper's data

/// One answer as the merchant's customer view and the export show it.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerOut {
    pub question: String,
    /// The question's prompt, `null` for a question no longer asked.
    pub prompt: Option<String>,
    pub options: Vec<AnswerOption>,
    pub answered_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnswerOption {
    pub key: String,
    /// `null` for an option the question no longer offers.
    pub label: Option<String>,
}

/// Every answer of the customer, in the merchant's question order (unknown ones last).
pub fn of_customer(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Vec<AnswerOut>> {
    let rows: Vec<(String, String, PrimitiveDateTime)> = qa::table
        .filter(qa::shop_id.eq(shop_id))
        .filter(qa::customer_id.eq(customer_id))
        .order((qa::question_key, qa::option_key))
        .select((qa::question_key, qa::option_key, qa::answered_at))
        .load(c)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let questions = super::list(c, shop_id)?;
    let mut by_q: BTreeMap<String, (Vec<String>, PrimitiveDateTime)> = BTreeMap::new();
    for (q, o, at) in rows {
        let e = by_q.entry(q).or_insert((Vec::new(), at));
        e.0.push(o);
        e.1 = e.1.max(at);
    }
    let order: BTreeSet<(usize, String)> = by_q
        .keys()
        .map(|k| {
            let pos = questions
                .iter()
                .position(|q| &q.key == k)
                .unwrap_or(usize::MAX);
            (pos, k.clone())
        })
        .collect();
    Ok(order
        .into_iter()
        .filter_map(|(_, k)| {
            let (opts, at) = by_q.remove(&k)?;
            let q = questions.iter().find(|q| q.key == k);
            Some(AnswerOut {
                prompt: q.map(|q| q.def.prompt.clone()),
                options: opts
                    .into_iter()
                    .map(|o| AnswerOption {
                        label: q.and_then(|q| q.def.option(&o)).map(|x| x.label.clone()),
                        key: o,
                    })
                    .collect(),
                question: k,
                answered_at: rfc3339(at),
            })
        })
        .collect())
}

/// `quiz_answers` of the data request export.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    Ok(serde_json::to_value(of_customer(c, shop_id, customer_id)?).unwrap_or_default())
}

/// Erases the customer's answers (`customers/redact`; the history goes with the preferences').
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        qa::table
            .filter(qa::shop_id.eq(shop_id))
            .filter(qa::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_answer_takes_back_what_the_earlier_one_set() {
        let mut p = Prefs {
            interests: vec!["sale".into(), "gifts".into()],
            sizes: [("tops".to_owned(), "M".to_owned())].into(),
            ..Prefs::default()
        };
        let before = (
            vec!["gifts".to_owned()],
            vec![("tops".to_owned(), "M".to_owned())],
        );
        let after = (vec!["new_arrivals".to_owned()], vec![]);
        apply_mapping(&mut p, &before, &after);
        assert_eq!(p.interests, ["sale", "new_arrivals"]);
        assert!(p.sizes.is_empty());
        // A size the shopper changed since is theirs, not the answer's.
        let mut p = Prefs {
            sizes: [("tops".to_owned(), "L".to_owned())].into(),
            ..Prefs::default()
        };
        apply_mapping(&mut p, &before, &(vec![], vec![]));
        assert_eq!(p.sizes.get("tops").map(String::as_str), Some("L"));
    }

    #[test]
    fn answer_bodies_name_every_bad_path() {
        let errors = parse_answer(&json!({"options": ["a", "a", 3], "x": 1})).unwrap_err();
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                ("x", "unknown_field"),
                ("options[1]", "duplicate"),
                ("options[2]", "invalid_type")
            ]
        );
        assert_eq!(
            parse_answer(&json!({"options": []})).unwrap_err()[0].code,
            "required"
        );
        let errors =
            parse_merge(&json!({"answers": {"style": "minimal", "fit": ["slim"]}})).unwrap_err();
        assert_eq!(errors[0].field, "answers.style");
        assert_eq!(
            parse_merge(&json!({"answers": {"fit": ["slim"]}})).unwrap(),
            [("fit".to_owned(), vec!["slim".to_owned()])]
        );
    }
}
