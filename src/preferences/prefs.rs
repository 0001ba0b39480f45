//! A shopper's preferences (PREFERENCES), their consent and its history.
//!
//! Rules:
//! - `PUT` is partial: an absent top-level member stays as it was. `sizes` merges per category
//!   (`null` removes that category); `interests` replaces the whole list; `communication` and
//!   `consent` replace the members they name (`{"consent":{"marketing":false}}` leaves
//!   `personalization` alone).
//! - Every value must be offered by the merchant's settings, except a value equal to the one
//!   already stored (a client may send back what it read, even after the merchant stopped
//!   offering it). Stored values that the settings no longer offer are kept, and listed in
//!   `stale` as paths (`sizes.tops`, `interests[2]`, `communication.frequency`).
//! - Defaults: no sizes, no interests, email and SMS off, no frequency, personalization consent
//!   **not given**, marketing consent as the store last reported it (else not given).
//! - Every change of a value appends one `consent_history` row (field path, old and new value as
//!   JSON, source, time) in the same transaction as the change. The preferences row is locked
//!   for the read-modify-write (`BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on
//!   PostgreSQL), so concurrent updates of one shopper apply one after the other and the
//!   history of each field is one unbroken chain (each row's `old` is the previous `new`).
//! - Marketing consent follows the store's `customers/update` email-marketing state too: the most
//!   recent change wins, by the store's `consent_updated_at` against the time of the last
//!   storefront/admin change.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::settings::{self, Settings};
use crate::db::schema::{consent_history, customer_preferences};
use crate::db::{DbConnection, dialect, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};
use crate::per_backend;

/// Longest `interests` list a request may carry (checked before anything else).
pub const MAX_INTERESTS: usize = settings::MAX_INTERESTS;
/// Most size categories one request may name.
pub const MAX_SIZE_ENTRIES: usize = 50;

/// Where a change came from (`consent_history.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Storefront,
    Admin,
    Webhook,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Storefront => "storefront",
            Source::Admin => "admin",
            Source::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customer_preferences, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct PrefsRow {
    pub shop_id: String,
    pub customer_id: i64,
    /// JSON object category → size.
    pub sizes: String,
    /// JSON list of interest keys.
    pub interests: String,
    pub email: bool,
    pub sms: bool,
    pub frequency: Option<String>,
    pub personalization_consent: bool,
    pub marketing_consent: bool,
    /// When the marketing consent last changed: the store's `consent_updated_at` for webhook
    /// changes, Atelier's clock for storefront/admin ones. `None`: only the store's state known.
    pub marketing_changed_at: Option<PrimitiveDateTime>,
    pub history_seq: i64,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// The values of a preferences row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prefs {
    pub sizes: BTreeMap<String, String>,
    pub interests: Vec<String>,
    pub email: bool,
    pub sms: bool,
    pub frequency: Option<String>,
    pub personalization: bool,
    pub marketing: bool,
}

fn corrupt(e: serde_json::Error) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(Box::new(e))
}

impl PrefsRow {
    fn fresh(shop_id: &str, customer_id: i64, at: PrimitiveDateTime) -> PrefsRow {
        PrefsRow {
            shop_id: shop_id.to_owned(),
            customer_id,
            sizes: "{}".into(),
            interests: "[]".into(),
            email: false,
            sms: false,
            frequency: None,
            personalization_consent: false,
            marketing_consent: false,
            marketing_changed_at: None,
            history_seq: 0,
            created_at: at,
            updated_at: at,
        }
    }

    fn prefs(&self) -> QueryResult<Prefs> {
        Ok(Prefs {
            sizes: serde_json::from_str(&self.sizes).map_err(corrupt)?,
            interests: serde_json::from_str(&self.interests).map_err(corrupt)?,
            email: self.email,
            sms: self.sms,
            frequency: self.frequency.clone(),
            personalization: self.personalization_consent,
            marketing: self.marketing_consent,
        })
    }

    fn set_prefs(&mut self, p: &Prefs) {
        self.sizes = serde_json::to_string(&p.sizes).expect("a map of strings serializes");
        self.interests = serde_json::to_string(&p.interests).expect("strings serialize");
        self.email = p.email;
        self.sms = p.sms;
        self.frequency = p.frequency.clone();
        self.personalization_consent = p.personalization;
        self.marketing_consent = p.marketing;
    }
}

// ---------------------------------------------------------------- request parsing

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
fn check_against(settings: &Settings, current: &Prefs, up: &PrefsUpdate) -> Vec<FieldError> {
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

fn merged(current: &Prefs, up: &PrefsUpdate) -> Prefs {
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
    next.personalization = up.personalization.unwrap_or(next.personalization);
    next.marketing = up.marketing.unwrap_or(next.marketing);
    next
}

/// Every changed value as `(field path, old, new)`.
fn changes(old: &Prefs, new: &Prefs) -> Vec<(String, Value, Value)> {
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

// ---------------------------------------------------------------- storage

fn find(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Option<PrefsRow>> {
    customer_preferences::table
        .filter(customer_preferences::shop_id.eq(shop_id))
        .filter(customer_preferences::customer_id.eq(customer_id))
        .select(PrefsRow::as_select())
        .first(c)
        .optional()
}

/// The row, locked until the end of the transaction (PostgreSQL; SQLite's write transaction
/// already excludes every other writer).
fn find_locked(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<PrefsRow>> {
    let q = customer_preferences::table
        .filter(customer_preferences::shop_id.eq(shop_id))
        .filter(customer_preferences::customer_id.eq(customer_id))
        .select(dialect::columns::<PrefsRow>());
    dialect::first_locked(c, q, |q| q.for_update()).optional()
}

/// Whether the store last reported the customer as subscribed to email marketing.
fn store_subscribed(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<bool> {
    Ok(crate::customers::find(c, shop_id, customer_id)?
        .and_then(|cu| cu.email_marketing_state)
        .is_some_and(|s| is_subscribed(&s)))
}

fn is_subscribed(state: &str) -> bool {
    state.eq_ignore_ascii_case("subscribed")
}

/// The locked row, created with the defaults when missing. A new row takes the store's
/// marketing state, recorded in the history as a webhook change, so the history explains every
/// value from the defaults on.
fn lock_or_create(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<PrefsRow> {
    let at = now();
    let fresh = PrefsRow::fresh(shop_id, customer_id, at);
    let inserted = per_backend!(c, |c| diesel::insert_into(customer_preferences::table)
        .values(&fresh)
        .on_conflict((
            customer_preferences::shop_id,
            customer_preferences::customer_id
        ))
        .do_nothing()
        .execute(c))?;
    let mut row = find_locked(c, shop_id, customer_id)?.ok_or(diesel::result::Error::NotFound)?;
    if inserted == 1 && store_subscribed(c, shop_id, customer_id)? {
        let old = row.prefs()?;
        let new = Prefs {
            marketing: true,
            ..old.clone()
        };
        save(c, &mut row, &old, &new, Source::Webhook, at)?;
    }
    Ok(row)
}

/// Writes `new` over `old` with one history row per changed value; no change, no write.
fn save(
    c: &mut DbConnection,
    row: &mut PrefsRow,
    old: &Prefs,
    new: &Prefs,
    source: Source,
    at: PrimitiveDateTime,
) -> QueryResult<usize> {
    let changed = changes(old, new);
    if changed.is_empty() {
        return Ok(0);
    }
    for (field, before, after) in &changed {
        row.history_seq += 1;
        diesel::insert_into(consent_history::table)
            .values((
                consent_history::shop_id.eq(&row.shop_id),
                consent_history::customer_id.eq(row.customer_id),
                consent_history::seq.eq(row.history_seq),
                consent_history::field.eq(field),
                consent_history::old_value.eq(before.to_string()),
                consent_history::new_value.eq(after.to_string()),
                consent_history::source.eq(source.as_str()),
                consent_history::at.eq(at),
            ))
            .execute(c)?;
    }
    row.set_prefs(new);
    row.updated_at = at;
    write_row(c, row)?;
    Ok(changed.len())
}

fn write_row(c: &mut DbConnection, row: &PrefsRow) -> QueryResult<()> {
    diesel::update(
        customer_preferences::table
            .filter(customer_preferences::shop_id.eq(&row.shop_id))
            .filter(customer_preferences::customer_id.eq(row.customer_id)),
    )
    .set(row)
    .execute(c)?;
    Ok(())
}

// ---------------------------------------------------------------- responses

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Communication {
    pub email: bool,
    pub sms: bool,
    pub frequency: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Consent {
    pub personalization: bool,
    pub marketing: bool,
}

/// PREFERENCES, plus `stale`: paths of stored values the settings no longer offer.
#[derive(Debug, Clone, Serialize)]
pub struct PreferencesOut {
    pub customer_id: String,
    pub sizes: BTreeMap<String, String>,
    pub interests: Vec<String>,
    pub communication: Communication,
    pub consent: Consent,
    pub updated_at: Option<String>,
    pub stale: Vec<String>,
}

fn out(
    customer_id: i64,
    p: Prefs,
    updated_at: Option<PrimitiveDateTime>,
    s: &Settings,
) -> PreferencesOut {
    let mut stale = Vec::new();
    for (cat, size) in &p.sizes {
        if !s.offers_size(cat, size) {
            stale.push(format!("sizes.{cat}"));
        }
    }
    for (i, key) in p.interests.iter().enumerate() {
        if !s.offers_interest(key) {
            stale.push(format!("interests[{i}]"));
        }
    }
    if p.frequency
        .as_deref()
        .is_some_and(|f| !s.offers_frequency(f))
    {
        stale.push("communication.frequency".into());
    }
    PreferencesOut {
        customer_id: customer_id.to_string(),
        sizes: p.sizes,
        interests: p.interests,
        communication: Communication {
            email: p.email,
            sms: p.sms,
            frequency: p.frequency,
        },
        consent: Consent {
            personalization: p.personalization,
            marketing: p.marketing,
        },
        updated_at: updated_at.map(rfc3339),
        stale,
    }
}

/// The stored preferences, if the customer has a row.
pub fn stored(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<PreferencesOut>> {
    let Some(row) = find(c, shop_id, customer_id)? else {
        return Ok(None);
    };
    let s = settings::load(c, shop_id)?;
    Ok(Some(out(
        customer_id,
        row.prefs()?,
        Some(row.updated_at),
        &s,
    )))
}

/// The customer's preferences; the defaults (with the store's marketing state) without a row.
pub fn get(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> AppResult<PreferencesOut> {
    if let Some(p) = stored(c, shop_id, customer_id)? {
        return Ok(p);
    }
    let s = settings::load(c, shop_id)?;
    let defaults = Prefs {
        marketing: store_subscribed(c, shop_id, customer_id)?,
        ..Prefs::default()
    };
    Ok(out(customer_id, defaults, None, &s))
}

/// Applies a checked update from `source`: validated against the settings and written, with
/// its history, in one transaction holding the customer's row. `422` names every bad value and
/// changes nothing.
pub fn update(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    up: &PrefsUpdate,
    source: Source,
) -> AppResult<PreferencesOut> {
    write_tx(c, |c| {
        let s = settings::load(c, shop_id)?;
        let mut row = lock_or_create(c, shop_id, customer_id)?;
        let current = row.prefs()?;
        let errors = check_against(&s, &current, up);
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        let next = merged(&current, up);
        let at = now();
        if next.marketing != current.marketing {
            row.marketing_changed_at = Some(at);
        }
        save(c, &mut row, &current, &next, source, at)?;
        Ok(out(customer_id, next, Some(row.updated_at), &s))
    })
}

/// The store reported the customer's email-marketing state (`customers/update`, inside the
/// inbox transaction). `consent_at` is the store's `consent_updated_at`; applied only when more
/// recent than the last change Atelier knows of (a report without a time only fills in for a
/// customer whose marketing consent nobody changed here).
pub fn store_marketing_reported(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    state: Option<&str>,
    consent_at: Option<PrimitiveDateTime>,
) -> QueryResult<()> {
    let Some(state) = state else { return Ok(()) };
    let subscribed = is_subscribed(state);
    let mut row = match find_locked(c, shop_id, customer_id)? {
        Some(row) => row,
        // Nothing stored and nothing to record: the default is "not subscribed".
        None if !subscribed => return Ok(()),
        None => lock_or_create(c, shop_id, customer_id)?,
    };
    let newer = match (consent_at, row.marketing_changed_at) {
        (_, None) => true,
        (Some(incoming), Some(last)) => incoming > last,
        (None, Some(_)) => false,
    };
    if !newer {
        return Ok(());
    }
    let current = row.prefs()?;
    let next = Prefs {
        marketing: subscribed,
        ..current.clone()
    };
    row.marketing_changed_at = consent_at.or(row.marketing_changed_at);
    if save(c, &mut row, &current, &next, Source::Webhook, now())? == 0 {
        write_row(c, &row)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- history

#[derive(Debug, Clone, Serialize)]
pub struct HistoryOut {
    pub field: String,
    pub old: Value,
    pub new: Value,
    pub source: String,
    pub at: String,
}

/// The customer's whole history, oldest first.
pub fn history(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Vec<HistoryOut>> {
    let rows: Vec<(String, String, String, String, PrimitiveDateTime)> = consent_history::table
        .filter(consent_history::shop_id.eq(shop_id))
        .filter(consent_history::customer_id.eq(customer_id))
        .order(consent_history::seq)
        .select((
            consent_history::field,
            consent_history::old_value,
            consent_history::new_value,
            consent_history::source,
            consent_history::at,
        ))
        .load(c)?;
    rows.into_iter()
        .map(|(field, old, new, source, at)| {
            Ok(HistoryOut {
                field,
                old: serde_json::from_str(&old).map_err(corrupt)?,
                new: serde_json::from_str(&new).map_err(corrupt)?,
                source,
                at: rfc3339(at),
            })
        })
        .collect()
}

/// Erases the customer's history (`customers/redact`).
pub fn redact_history(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        consent_history::table
            .filter(consent_history::shop_id.eq(shop_id))
            .filter(consent_history::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

/// Erases the customer's preferences (`customers/redact`).
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        customer_preferences::table
            .filter(customer_preferences::shop_id.eq(shop_id))
            .filter(customer_preferences::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

// ---------------------------------------------------------------- for recommendations

/// Whether the shopper's behaviour and history may be used for recommendations: only when they
/// gave personalization consent (never given = not given). Read at every use, so a withdrawal
/// applies to the very next request.
pub fn personalization_allowed(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<bool> {
    let consent: Option<bool> = customer_preferences::table
        .filter(customer_preferences::shop_id.eq(shop_id))
        .filter(customer_preferences::customer_id.eq(customer_id))
        .select(customer_preferences::personalization_consent)
        .first(c)
        .optional()?;
    Ok(consent.unwrap_or(false))
}

/// The shopper's explicit preferences still offered by the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explicit {
    pub sizes: BTreeMap<String, String>,
    pub interests: Vec<String>,
}

/// Sizes and interests for recommendations, only with personalization consent; values the
/// settings no longer offer are left out.
pub fn explicit_for(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<Explicit>> {
    let Some(row) = find(c, shop_id, customer_id)? else {
        return Ok(None);
    };
    if !row.personalization_consent {
        return Ok(None);
    }
    let s = settings::load(c, shop_id)?;
    let p = row.prefs()?;
    Ok(Some(Explicit {
        sizes: p
            .sizes
            .into_iter()
            .filter(|(cat, size)| s.offers_size(cat, size))
            .collect(),
        interests: p
            .interests
            .into_iter()
            .filter(|i| s.offers_interest(i))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = settings::defaults();
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
