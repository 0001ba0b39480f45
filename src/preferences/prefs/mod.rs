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
use serde::Serialize;
use time::PrimitiveDateTime;

use super::center::{self, Center};
use crate::db::schema::{consent_history, customer_preferences};
use crate::db::{DbConnection, dialect, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult};
use crate::per_backend;

/// Longest `interests` list a request may carry (checked before anything else).
pub const MAX_INTERESTS: usize = center::MAX_INTERESTS;
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
    /// `YYYY-MM-DD`: no follow-ups before this day.
    pub pause_until: Option<String>,
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
    pub pause_until: Option<String>,
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
            pause_until: None,
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
            pause_until: self.pause_until.clone(),
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
        self.pause_until = p.pause_until.clone();
    }
}

mod explicit;
mod history;
mod patch;

pub use explicit::{Explicit, explicit_for, personalization_allowed, personalization_stamp};
pub use history::{HistoryOut, history, redact, redact_history};
pub use patch::{PrefsUpdate, parse_update};
use patch::{changes, check_against, merged};

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
        append_history(c, row, field, before, after, source, at)?;
    }
    row.set_prefs(new);
    row.updated_at = at;
    write_row(c, row)?;
    Ok(changed.len())
}

/// One history row, numbered from the customer's counter (the caller holds the row's lock and
/// writes the row afterwards).
fn append_history(
    c: &mut DbConnection,
    row: &mut PrefsRow,
    field: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    source: Source,
    at: PrimitiveDateTime,
) -> QueryResult<()> {
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
    Ok(())
}

/// A change the shopper made outside the preferences' own members (an answer to one of the
/// merchant's questions, say), recorded in the same history as `field`, together with what it
/// changes in the preferences themselves (`change`, e.g. the interest an answer maps onto),
/// which gets its own history rows as usual. Runs inside the caller's write transaction,
/// holding the customer's row, so it orders with every other change of theirs.
pub fn record_change(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    source: Source,
    (field, before, after): (&str, &serde_json::Value, &serde_json::Value),
    change: impl FnOnce(&mut Prefs),
) -> QueryResult<()> {
    let mut row = lock_or_create(c, shop_id, customer_id)?;
    let current = row.prefs()?;
    let mut next = current.clone();
    change(&mut next);
    let at = now();
    append_history(c, &mut row, field, before, after, source, at)?;
    row.updated_at = at;
    if save(c, &mut row, &current, &next, source, at)? == 0 {
        write_row(c, &row)?;
    }
    Ok(())
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
    /// No follow-ups before this day (`YYYY-MM-DD`); absent when not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
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
    s: &Center,
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
            pause_until: p.pause_until,
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
    let s = center::load(c, shop_id)?;
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
    let s = center::load(c, shop_id)?;
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
        let s = center::load(c, shop_id)?;
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
        let contact = |p: &Prefs| (p.marketing, p.marketing && p.sms);
        if source != Source::Webhook && contact(&next) != contact(&current) {
            // The store's own marketing consent follows, so its email tool sends what the
            // shopper chose (written by a job; see `writeback`).
            crate::writeback::consent_changed(c, shop_id, customer_id, row.history_seq)?;
        }
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

/// What follow-ups need of a shopper, read at every use: their marketing consent, channels,
/// frequency and pause. `None` without a stored row (no consent given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketingContact {
    pub marketing: bool,
    pub email: bool,
    pub sms: bool,
    pub frequency: Option<String>,
    pub pause_until: Option<String>,
    /// When the shopper last changed their preferences.
    pub changed_at: PrimitiveDateTime,
}

pub fn marketing_contact(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<MarketingContact>> {
    Ok(find(c, shop_id, customer_id)?.map(|r| MarketingContact {
        marketing: r.marketing_consent,
        email: r.email,
        sms: r.sms,
        frequency: r.frequency,
        pause_until: r.pause_until,
        changed_at: r.updated_at,
    }))
}
