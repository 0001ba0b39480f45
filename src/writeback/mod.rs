//! What Atelier writes back to the store, so the merchant's other tools and Shopify's own admin
//! see what Atelier knows:
//!
//! - **Marketing consent.** A shopper who changes their marketing consent in the preference
//!   center has the customer's email marketing consent set to it in Shopify (the same one bit the
//!   preference center reads from `customers/update`), and SMS marketing consent to "marketing and
//!   the SMS channel", so the store's email and SMS tools send what the shopper chose. What is
//!   written is read at send time (consecutive changes end in the last one); a channel whose
//!   store state already matches is not written. The `customers/update` the write causes reports
//!   the state Atelier wrote, with the shopper's decision time as `consent_updated_at`, which is
//!   not newer than the change the preference center holds: no loop.
//! - **Flagged orders.** An order line whose personalization is altered, forged or underpaid gets
//!   an order tag and a line in the order's note, so the merchant sees it in Shopify's admin
//!   before producing it. The note keeps what was there; the line is added once.
//!
//! Each write is a row of `store_writes`, made in the transaction of the change that causes it,
//! claimed by a worker on any instance under a lease ([`crate::db::lease`]), retried with backoff
//! and kept as a dead letter when every attempt failed. A write whose scope the merchant has not
//! granted waits as `held` until `app/scopes_update` reports it.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;
use time::PrimitiveDateTime;

use crate::db::schema::store_writes as sw;
use crate::db::{DbConnection, new_id, now, rfc3339};
use crate::error::{AppError, AppResult};

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const DONE: &str = "done";
pub const HELD: &str = "held";
pub const DEAD: &str = "dead";
pub const STATES: [&str; 5] = [PENDING, SENDING, DONE, HELD, DEAD];

pub const CONSENT: &str = "customer_consent";
pub const ORDER_FLAG: &str = "order_flag";
/// The app's web pixel, activated again once the shop grants its scopes (or after a failed
/// activation at install).
pub const WEB_PIXEL: &str = "web_pixel";

/// The tag a flagged order gets in Shopify (merchants filter their order list by it).
pub const ORDER_TAG: &str = "Atelier: check personalization";

/// The scopes each kind of write needs.
pub fn scopes_for(kind: &str) -> &'static [&'static str] {
    match kind {
        CONSENT => &["write_customers"],
        WEB_PIXEL => &["write_pixels", "read_customer_events"],
        _ => &["write_orders"],
    }
}

/// Whether `granted` covers what a `kind` write needs.
pub fn may_write(granted: &[String], kind: &str) -> bool {
    let need: Vec<String> = scopes_for(kind).iter().map(|s| (*s).to_owned()).collect();
    crate::shopify::scopes_cover(granted, &need)
}

fn insert(
    c: &mut DbConnection,
    shop_id: &str,
    kind: &str,
    subject_id: i64,
    dedupe_key: &str,
    data: &Value,
) -> QueryResult<bool> {
    let at = now();
    let n = crate::per_backend!(c, |c| diesel::insert_into(sw::table)
        .values((
            sw::id.eq(new_id()),
            sw::shop_id.eq(shop_id),
            sw::kind.eq(kind),
            sw::subject_id.eq(subject_id),
            sw::dedupe_key.eq(dedupe_key),
            sw::data.eq(data.to_string()),
            sw::state.eq(PENDING),
            sw::attempts.eq(0i64),
            sw::next_attempt_at.eq(at),
            sw::created_at.eq(at),
        ))
        .on_conflict((sw::shop_id, sw::dedupe_key))
        .do_nothing()
        .execute(c))?;
    Ok(n > 0)
}

/// The shopper changed their marketing consent or channels (in the caller's transaction): the
/// store is told. `change` names the change (the consent history's sequence number), so a
/// change is one write however often it is retried.
pub fn consent_changed(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    change: i64,
) -> QueryResult<bool> {
    insert(
        c,
        shop_id,
        CONSENT,
        customer_id,
        &format!("consent:{customer_id}:{change}"),
        &json!({}),
    )
}

/// The web pixel should be (re)activated: once per `reason` (a grant, an install), so a
/// redelivered `app/scopes_update` is one write.
pub fn pixel_wanted(c: &mut DbConnection, shop_id: &str, reason: &str) -> QueryResult<bool> {
    insert(
        c,
        shop_id,
        WEB_PIXEL,
        0,
        &format!("pixel:{reason}"),
        &json!({}),
    )
}

/// One flagged line of an order, as the note describes it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FlaggedLine {
    pub position: i32,
    pub title: String,
    pub verdict: String,
    pub expected_cents: Option<i64>,
    pub charged_cents: Option<i64>,
}

/// An order arrived with flagged lines (in the delivery's transaction). The same verdicts seen
/// again (an `orders/updated` caused by the tag itself, a redelivery) are the same write.
pub fn order_flagged(
    c: &mut DbConnection,
    shop_id: &str,
    order_id: i64,
    order_name: &str,
    currency: &str,
    lines: &[FlaggedLine],
) -> QueryResult<bool> {
    if lines.is_empty() {
        return Ok(false);
    }
    let mut key = format!("order:{order_id}");
    for l in lines {
        key.push_str(&format!(":{}={}", l.position, l.verdict));
    }
    // Long orders: the key stays an index-friendly size.
    let key = if key.len() > 200 {
        format!(
            "order:{order_id}:{}",
            hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes())[..16])
        )
    } else {
        key
    };
    insert(
        c,
        shop_id,
        ORDER_FLAG,
        order_id,
        &key,
        &json!({ "name": order_name, "currency": currency, "lines": lines }),
    )
}

/// The note line for a flagged order: one sentence per line, in the shop's currency.
pub fn order_note(currency: &str, lines: &[FlaggedLine]) -> String {
    let mut parts = Vec::new();
    for l in lines {
        let title: String = l.title.chars().take(80).collect();
        let amounts = match (l.expected_cents, l.charged_cents) {
            (Some(e), Some(ch)) => format!(
                " (expected {} {currency}, charged {} {currency})",
                crate::money::format_minor(e, currency),
                crate::money::format_minor(ch, currency)
            ),
            _ => String::new(),
        };
        let what = match l.verdict.as_str() {
            "underpaid" => "add-on underpaid",
            "altered" => "personalization altered after it was signed",
            "forged" => "personalization signature invalid",
            other => other,
        };
        parts.push(format!(
            "line {} \u{201c}{title}\u{201d}: {what}{amounts}",
            l.position + 1
        ));
    }
    format!("Atelier: check before producing — {}.", parts.join("; "))
}

/// The note with `line` added once (an existing note is kept; Shopify caps notes at 5,000
/// characters, so an over-long result keeps the merchant's text and shortens Atelier's line).
pub fn note_with(existing: Option<&str>, line: &str) -> Option<String> {
    let existing = existing.unwrap_or("").trim_end();
    if existing.contains(line) {
        return None;
    }
    const MAX: usize = 5000;
    let room = MAX.saturating_sub(existing.chars().count() + 2);
    let line: String = line.chars().take(room).collect();
    if line.is_empty() {
        return None;
    }
    Some(if existing.is_empty() {
        line
    } else {
        format!("{existing}\n\n{line}")
    })
}

/// A claimed write.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub shop_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub subject_id: i64,
    #[diesel(sql_type = Text)]
    pub data: String,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
}

const CLAIM_COLUMNS: &str = "id, shop_id, kind, subject_id, data, attempts";

pub fn claim(
    c: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Claimed>> {
    crate::db::lease::claim(c, "store_writes", CLAIM_COLUMNS, worker, limit, lease)
}

/// What the store should hold for a customer, read at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPlan {
    /// `SUBSCRIBED` or `UNSUBSCRIBED`, `None` when the store already says so.
    pub email: Option<&'static str>,
    pub sms: Option<&'static str>,
    /// When the shopper decided (what Shopify records as `consentUpdatedAt`).
    pub decided_at: PrimitiveDateTime,
}

fn store_says_subscribed(state: Option<&str>) -> Option<bool> {
    match state? {
        "subscribed" | "pending" => Some(true),
        "not_subscribed" | "unsubscribed" | "redacted" | "invalid" => Some(false),
        _ => None,
    }
}

/// The consent write for a customer as it stands now: what the shopper wants per channel
/// (`marketing` and that channel), against what the store last reported.
pub fn consent_plan(
    want_email: bool,
    want_sms: bool,
    decided_at: PrimitiveDateTime,
    store_email: Option<&str>,
    store_sms: Option<&str>,
) -> ConsentPlan {
    let differs = |want: bool, state: Option<&str>| store_says_subscribed(state) != Some(want);
    let word = |b: bool| if b { "SUBSCRIBED" } else { "UNSUBSCRIBED" };
    ConsentPlan {
        email: differs(want_email, store_email).then_some(word(want_email)),
        // A store that never reported SMS consent has no phone for this customer as far as
        // Atelier knows: unsubscribing there changes nothing, subscribing is tried (Shopify
        // refuses it without a phone, which is recorded).
        sms: differs(want_sms, store_sms)
            .then_some(word(want_sms))
            .filter(|w| *w == "SUBSCRIBED" || store_sms.is_some()),
        decided_at,
    }
}

/// The write was made (only while this worker still holds it). `result` says what was written.
pub fn done(c: &mut DbConnection, id: &str, worker: &str, result: &Value) -> QueryResult<bool> {
    let n = diesel::update(
        sw::table
            .filter(sw::id.eq(id))
            .filter(sw::state.eq(SENDING))
            .filter(sw::locked_by.eq(worker)),
    )
    .set((
        sw::state.eq(DONE),
        sw::result.eq(Some(result.to_string())),
        sw::locked_by.eq(None::<String>),
        sw::locked_until.eq(None::<PrimitiveDateTime>),
        sw::last_error.eq(None::<String>),
        sw::finished_at.eq(Some(now())),
    ))
    .execute(c)?;
    Ok(n > 0)
}

/// The shop has not granted the scope this write needs: it waits for `app/scopes_update`.
pub fn hold(c: &mut DbConnection, id: &str, worker: &str, why: &str) -> QueryResult<bool> {
    let n = diesel::update(
        sw::table
            .filter(sw::id.eq(id))
            .filter(sw::state.eq(SENDING))
            .filter(sw::locked_by.eq(worker)),
    )
    .set((
        sw::state.eq(HELD),
        sw::last_error.eq(Some(why.chars().take(500).collect::<String>())),
        sw::locked_by.eq(None::<String>),
        sw::locked_until.eq(None::<PrimitiveDateTime>),
        // A held write is not retried by its attempts: the grant starts it again from one.
        sw::attempts.eq(0i64),
    ))
    .execute(c)?;
    Ok(n > 0)
}

/// The attempt failed. `permanent` (the store refused the write itself, a `userError`) makes it a
/// dead letter at once; otherwise it is retried after a backoff, a dead letter after
/// `max_attempts`. (The store client already waited out the store's own `Retry-After` and
/// throttle hints within its budget; this backoff starts where they end.)
pub fn failed(
    c: &mut DbConnection,
    w: &Claimed,
    worker: &str,
    error: &str,
    permanent: bool,
    max_attempts: i64,
    base: Duration,
) -> QueryResult<bool> {
    let at = now();
    let error: String = error.chars().take(500).collect();
    let target = sw::table
        .filter(sw::id.eq(&w.id))
        .filter(sw::state.eq(SENDING))
        .filter(sw::locked_by.eq(worker));
    let n = if permanent || w.attempts >= max_attempts {
        diesel::update(target)
            .set((
                sw::state.eq(DEAD),
                sw::last_error.eq(Some(error)),
                sw::locked_by.eq(None::<String>),
                sw::locked_until.eq(None::<PrimitiveDateTime>),
                sw::finished_at.eq(Some(at)),
            ))
            .execute(c)?
    } else {
        let delay = crate::db::lease::backoff(base, w.attempts);
        diesel::update(target)
            .set((
                sw::state.eq(PENDING),
                sw::last_error.eq(Some(error)),
                sw::locked_by.eq(None::<String>),
                sw::locked_until.eq(None::<PrimitiveDateTime>),
                sw::next_attempt_at.eq(at + delay),
            ))
            .execute(c)?
    };
    Ok(n > 0)
}

/// `app/scopes_update`: writes waiting for a scope the shop now has start again.
pub fn release_held(c: &mut DbConnection, shop_id: &str, granted: &[String]) -> QueryResult<usize> {
    let mut released = 0;
    for kind in [CONSENT, ORDER_FLAG, WEB_PIXEL] {
        if !may_write(granted, kind) {
            continue;
        }
        released += diesel::update(
            sw::table
                .filter(sw::shop_id.eq(shop_id))
                .filter(sw::kind.eq(kind))
                .filter(sw::state.eq(HELD)),
        )
        .set((
            sw::state.eq(PENDING),
            sw::next_attempt_at.eq(now()),
            sw::last_error.eq(None::<String>),
        ))
        .execute(c)?;
    }
    Ok(released)
}

/// A dead or held write, sent again on the merchant's request: `404` when the shop has no such
/// write, `409` when it is in another state.
pub fn retry(c: &mut DbConnection, shop_id: &str, id: &str) -> AppResult<()> {
    let n = diesel::update(
        sw::table
            .filter(sw::shop_id.eq(shop_id))
            .filter(sw::id.eq(id))
            .filter(sw::state.eq_any([DEAD, HELD])),
    )
    .set((
        sw::state.eq(PENDING),
        sw::attempts.eq(0i64),
        sw::next_attempt_at.eq(now()),
        sw::finished_at.eq(None::<PrimitiveDateTime>),
    ))
    .execute(c)?;
    if n == 0 {
        let exists: i64 = sw::table
            .filter(sw::shop_id.eq(shop_id))
            .filter(sw::id.eq(id))
            .count()
            .get_result(c)?;
        return Err(if exists == 0 {
            AppError::not_found("No such write.")
        } else {
            AppError::new(
                actix_web::http::StatusCode::CONFLICT,
                "not_dead",
                "Only a dead or held write can be retried.",
            )
        });
    }
    Ok(())
}

/// One write as the admin lists it.
#[derive(Debug, Clone, Serialize)]
pub struct WriteOut {
    pub id: String,
    pub kind: String,
    /// The customer or order id.
    pub subject_id: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

type Row = (
    String,
    String,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// The shop's writes, newest first, optionally in one state, after a `(created_at, id)` cursor.
pub fn list(
    c: &mut DbConnection,
    shop_id: &str,
    state: Option<&str>,
    after: Option<(PrimitiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<(WriteOut, PrimitiveDateTime)>> {
    let mut q = sw::table
        .filter(sw::shop_id.eq(shop_id))
        .order((sw::created_at.desc(), sw::id.desc()))
        .select((
            sw::id,
            sw::kind,
            sw::subject_id,
            sw::state,
            sw::attempts,
            sw::last_error,
            sw::result,
            sw::created_at,
            sw::finished_at,
        ))
        .limit(limit)
        .into_boxed();
    if let Some(s) = state {
        q = q.filter(sw::state.eq(s.to_owned()));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            sw::created_at
                .lt(at)
                .or(sw::created_at.eq(at).and(sw::id.lt(id))),
        );
    }
    let rows: Vec<Row> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, subject, state, attempts, last_error, result, created, finished)| {
                let out = WriteOut {
                    id,
                    kind,
                    subject_id: subject.to_string(),
                    state,
                    attempts,
                    last_error,
                    result: result.and_then(|r| serde_json::from_str(&r).ok()),
                    created_at: rfc3339(created),
                    finished_at: finished.map(rfc3339),
                };
                (out, created)
            },
        )
        .collect())
}

/// Counts per state (the admin's summary).
pub fn counts(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<(String, i64)>> {
    sw::table
        .filter(sw::shop_id.eq(shop_id))
        .group_by(sw::state)
        .select((sw::state, diesel::dsl::count_star()))
        .load(c)
}

/// `customers/data_request`: the consent writes made for the shopper.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    let rows: Vec<(String, String, Option<String>, PrimitiveDateTime)> = sw::table
        .filter(sw::shop_id.eq(shop_id))
        .filter(sw::kind.eq(CONSENT))
        .filter(sw::subject_id.eq(customer_id))
        .order(sw::created_at.desc())
        .select((sw::id, sw::state, sw::result, sw::created_at))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|(id, state, result, at)| {
                json!({
                    "id": id,
                    "state": state,
                    "written": result.and_then(|r| serde_json::from_str::<Value>(&r).ok()),
                    "created_at": rfc3339(at),
                })
            })
            .collect(),
    ))
}

/// `customers/redact`: the shopper's consent writes (pending ones are never sent) and the flags
/// of the orders being redacted.
pub fn redact(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    orders: &[i64],
) -> QueryResult<()> {
    diesel::delete(
        sw::table
            .filter(sw::shop_id.eq(shop_id))
            .filter(sw::kind.eq(CONSENT))
            .filter(sw::subject_id.eq(customer_id)),
    )
    .execute(c)?;
    if !orders.is_empty() {
        diesel::delete(
            sw::table
                .filter(sw::shop_id.eq(shop_id))
                .filter(sw::kind.eq(ORDER_FLAG))
                .filter(sw::subject_id.eq_any(orders)),
        )
        .execute(c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_channels_the_store_disagrees_on_are_written() {
        let at = now();
        let p = consent_plan(true, false, at, Some("not_subscribed"), None);
        assert_eq!((p.email, p.sms), (Some("SUBSCRIBED"), None));
        let p = consent_plan(true, true, at, Some("subscribed"), Some("unsubscribed"));
        assert_eq!((p.email, p.sms), (None, Some("SUBSCRIBED")));
        let p = consent_plan(false, false, at, Some("subscribed"), Some("subscribed"));
        assert_eq!(
            (p.email, p.sms),
            (Some("UNSUBSCRIBED"), Some("UNSUBSCRIBED"))
        );
        let p = consent_plan(false, false, at, None, None);
        assert_eq!((p.email, p.sms), (Some("UNSUBSCRIBED"), None));
    }

    fn line(verdict: &str) -> FlaggedLine {
        FlaggedLine {
            position: 0,
            title: "Engraved mug".into(),
            verdict: verdict.into(),
            expected_cents: Some(1250),
            charged_cents: Some(1000),
        }
    }

    #[test]
    fn the_note_names_the_line_and_the_amounts() {
        let n = order_note("EUR", &[line("underpaid")]);
        assert_eq!(
            n,
            "Atelier: check before producing — line 1 \u{201c}Engraved mug\u{201d}: add-on underpaid (expected 12.50 EUR, charged 10.00 EUR)."
        );
    }

    #[test]
    fn the_note_keeps_the_merchants_text_and_is_added_once() {
        let ours = order_note("EUR", &[line("forged")]);
        let first = note_with(Some("Gift wrap please"), &ours).unwrap();
        assert!(first.starts_with("Gift wrap please\n\n"));
        assert!(first.ends_with(&ours));
        assert_eq!(note_with(Some(&first), &ours), None);
        assert_eq!(note_with(None, &ours).as_deref(), Some(ours.as_str()));
        let long = "x".repeat(4990);
        let capped = note_with(Some(&long), &ours).unwrap();
        assert_eq!(capped.chars().count(), 5000);
        assert_eq!(note_with(Some(&"y".repeat(5000)), &ours), None);
    }
}
