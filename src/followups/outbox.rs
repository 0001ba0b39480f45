//! The durable outbox of follow-up events. An event is stored in the transaction that made it,
//! then a worker on any instance claims it under a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so instances share the queue; SQLite has one writer), checks at that moment that
//! the shopper may still be contacted, sends it, and marks the result while still holding the
//! lease. An instance that dies mid-delivery loses its lease; another sends the event again
//! with the same id, so delivery is at least once and receivers deduplicate by id.
//!
//! States: `pending` (due at `next_attempt_at`), `sending` (claimed), `delivered`, `suppressed`
//! (not sent: no consent, paused, frequency cap, no destination) and `dead` (every attempt
//! failed; kept for the merchant, retried on request).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use serde::Serialize;
use serde_json::Value;
use time::PrimitiveDateTime;

use super::settings;
use super::{Hold, frequency_window, may_contact};
use crate::db::schema::{followup_outbox as fo, shops};
use crate::db::{DbConnection, new_id, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult};

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const DELIVERED: &str = "delivered";
pub const SUPPRESSED: &str = "suppressed";
pub const DEAD: &str = "dead";
pub const STATES: [&str; 5] = [PENDING, SENDING, DELIVERED, SUPPRESSED, DEAD];

/// Stores one event (`false` when the same trigger already made it).
pub fn enqueue(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    kind: &str,
    dedupe_key: &str,
    data: &Value,
) -> QueryResult<bool> {
    enqueue_at(c, shop_id, customer_id, kind, dedupe_key, data, now())
}

/// Stores one event due at `due` (the end of the shopper's pause for a deferred one).
pub fn enqueue_at(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    kind: &str,
    dedupe_key: &str,
    data: &Value,
    due: PrimitiveDateTime,
) -> QueryResult<bool> {
    let at = now();
    let n = crate::per_backend!(c, |c| diesel::insert_into(fo::table)
        .values((
            fo::id.eq(new_id()),
            fo::shop_id.eq(shop_id),
            fo::customer_id.eq(customer_id),
            fo::kind.eq(kind),
            fo::dedupe_key.eq(dedupe_key),
            fo::data.eq(data.to_string()),
            fo::state.eq(PENDING),
            fo::attempts.eq(0i64),
            fo::next_attempt_at.eq(due.max(at)),
            fo::last_error.eq((due > at).then_some("paused")),
            fo::created_at.eq(at),
        ))
        .on_conflict((fo::shop_id, fo::dedupe_key))
        .do_nothing()
        .execute(c))?;
    Ok(n > 0)
}

/// A claimed event.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub shop_id: String,
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub data: String,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    #[diesel(sql_type = Timestamp)]
    pub created_at: PrimitiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub approved_at: Option<PrimitiveDateTime>,
}

const CLAIM_COLUMNS: &str =
    "id, shop_id, customer_id, kind, data, attempts, created_at, approved_at";

/// Claims up to `limit` due events: pending and due, or sending with an expired lease (its
/// instance died mid-delivery).
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<Claimed>> {
    crate::db::lease::claim(conn, "followup_outbox", CLAIM_COLUMNS, worker, limit, lease)
}

/// What a claimed event may do now.
#[derive(Debug)]
pub enum Gate {
    Send(Ready),
    /// Not sent, and never will be (the reason is kept).
    Suppressed(&'static str),
    /// Another worker took it over (this one was too slow): leave it alone.
    LeaseLost,
    /// Waits for the shopper's pause to end (pending again, due then).
    Deferred,
}

/// Everything a delivery needs.
#[derive(Debug)]
pub struct Ready {
    pub url: String,
    pub format: String,
    pub channel: String,
    pub shop_domain: String,
    /// Still encrypted.
    pub signing_secret: String,
    /// Klaviyo's private key, still encrypted, when the merchant set one.
    pub klaviyo_key: Option<String>,
    pub shop_id: String,
}

fn holds(c: &mut DbConnection, id: &str, worker: &str) -> QueryResult<bool> {
    let n: i64 = fo::table
        .filter(fo::id.eq(id))
        .filter(fo::state.eq(SENDING))
        .filter(fo::locked_by.eq(worker))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The send-time checks, in one transaction holding the shopper's lock: the shop still sends
/// this trigger, the shopper still gave marketing consent for the channel and paused nothing,
/// and (on the first attempt) nothing else reached them within their frequency. A passed
/// event is `approved` then, which is what later frequency checks count.
pub fn gate(c: &mut DbConnection, ev: &Claimed, worker: &str) -> QueryResult<Gate> {
    write_tx(c, |c| {
        if let DbConnection::Postgres(pg) = c {
            // Two events of one shopper on two instances pass the frequency check one by one.
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<Text, _>(format!("followup:{}:{}", ev.shop_id, ev.customer_id))
                .execute(pg)?;
        }
        if !holds(c, &ev.id, worker)? {
            return Ok(Gate::LeaseLost);
        }
        let at = now();
        let Some(s) = settings::find(c, &ev.shop_id)? else {
            return suppress(c, ev, "not_configured");
        };
        let Some(url) = s.destination_url.clone().filter(|_| s.trigger_on(&ev.kind)) else {
            return suppress(c, ev, "not_configured");
        };
        if ev.kind == super::ABANDONED && ordered_since_validation(c, ev)? {
            return suppress(c, ev, "ordered");
        }
        let contact = match may_contact(c, &ev.shop_id, ev.customer_id, &s.channel, at)? {
            Ok(contact) => contact,
            Err(hold) => match hold.deferred_to(&ev.kind, at) {
                Some(until) => return defer(c, ev, until),
                None => return suppress(c, ev, hold_reason(hold)),
            },
        };
        if ev.approved_at.is_none() {
            let since = at - frequency_window(contact.frequency.as_deref());
            let recent: i64 = fo::table
                .filter(fo::shop_id.eq(&ev.shop_id))
                .filter(fo::customer_id.eq(ev.customer_id))
                .filter(fo::id.ne(&ev.id))
                .filter(fo::state.eq_any([PENDING, SENDING, DELIVERED]))
                .filter(fo::approved_at.ge(since))
                .count()
                .get_result(c)?;
            if recent > 0 {
                return suppress(c, ev, "frequency_cap");
            }
            diesel::update(fo::table.find(&ev.id))
                .set(fo::approved_at.eq(Some(at)))
                .execute(c)?;
        }
        let shop_domain: String = shops::table
            .filter(shops::id.eq(&ev.shop_id))
            .select(shops::domain)
            .first(c)?;
        Ok(Gate::Send(Ready {
            url,
            format: s.format,
            channel: s.channel,
            shop_domain,
            signing_secret: s.signing_secret,
            klaviyo_key: s.klaviyo_key,
            shop_id: s.shop_id,
        }))
    })
}

/// An abandoned personalization ordered after it was made (while it waited for a pause, say)
/// is no longer abandoned.
fn ordered_since_validation(c: &mut DbConnection, ev: &Claimed) -> QueryResult<bool> {
    let data: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
    let validated = data["validated_at"].as_str().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    });
    let product = data["product_id"]
        .as_str()
        .and_then(|p| p.parse::<i64>().ok());
    match (validated, product) {
        (Some(v), Some(p)) => {
            let v = v.to_offset(time::UtcOffset::UTC);
            let since = PrimitiveDateTime::new(v.date(), v.time());
            super::triggers::ordered_since(c, &ev.shop_id, ev.customer_id, p, since)
        }
        _ => Ok(false),
    }
}

/// Pending again, due at `until`; the claim's attempt is not counted (nothing was sent).
fn defer(c: &mut DbConnection, ev: &Claimed, until: PrimitiveDateTime) -> QueryResult<Gate> {
    diesel::update(fo::table.find(&ev.id))
        .set((
            fo::state.eq(PENDING),
            fo::attempts.eq((ev.attempts - 1).max(0)),
            fo::next_attempt_at.eq(until),
            fo::last_error.eq(Some("paused")),
            fo::locked_by.eq(None::<String>),
            fo::locked_until.eq(None::<PrimitiveDateTime>),
        ))
        .execute(c)?;
    Ok(Gate::Deferred)
}

fn hold_reason(h: Hold) -> &'static str {
    h.as_str()
}

fn suppress(c: &mut DbConnection, ev: &Claimed, reason: &'static str) -> QueryResult<Gate> {
    diesel::update(fo::table.find(&ev.id))
        .set((
            fo::state.eq(SUPPRESSED),
            fo::last_error.eq(Some(reason)),
            fo::locked_by.eq(None::<String>),
            fo::locked_until.eq(None::<PrimitiveDateTime>),
            fo::finished_at.eq(Some(now())),
        ))
        .execute(c)?;
    Ok(Gate::Suppressed(reason))
}

/// The receiver answered 2xx: delivered (only while this worker still holds the event).
pub fn delivered(c: &mut DbConnection, id: &str, worker: &str) -> QueryResult<bool> {
    let n = diesel::update(
        fo::table
            .filter(fo::id.eq(id))
            .filter(fo::state.eq(SENDING))
            .filter(fo::locked_by.eq(worker)),
    )
    .set((
        fo::state.eq(DELIVERED),
        fo::locked_by.eq(None::<String>),
        fo::locked_until.eq(None::<PrimitiveDateTime>),
        fo::last_error.eq(None::<String>),
        fo::finished_at.eq(Some(now())),
    ))
    .execute(c)?;
    Ok(n > 0)
}

pub use crate::db::lease::backoff;

/// The attempt failed: retried later, or a dead letter after `max_attempts`.
pub fn failed(
    c: &mut DbConnection,
    ev: &Claimed,
    worker: &str,
    error: &str,
    max_attempts: i64,
    base: Duration,
) -> QueryResult<bool> {
    let at = now();
    let error: String = error.chars().take(500).collect();
    let target = fo::table
        .filter(fo::id.eq(&ev.id))
        .filter(fo::state.eq(SENDING))
        .filter(fo::locked_by.eq(worker));
    let n = if ev.attempts >= max_attempts {
        diesel::update(target)
            .set((
                fo::state.eq(DEAD),
                fo::last_error.eq(Some(error)),
                fo::locked_by.eq(None::<String>),
                fo::locked_until.eq(None::<PrimitiveDateTime>),
                fo::finished_at.eq(Some(at)),
            ))
            .execute(c)?
    } else {
        diesel::update(target)
            .set((
                fo::state.eq(PENDING),
                fo::last_error.eq(Some(error)),
                fo::locked_by.eq(None::<String>),
                fo::locked_until.eq(None::<PrimitiveDateTime>),
                fo::next_attempt_at.eq(at + backoff(base, ev.attempts)),
            ))
            .execute(c)?
    };
    Ok(n > 0)
}

/// One event as the admin lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryOut {
    pub id: String,
    pub kind: String,
    pub customer_id: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub data: Value,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub finished_at: Option<String>,
}

type Row = (
    String,
    String,
    i64,
    String,
    i64,
    Option<String>,
    String,
    PrimitiveDateTime,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

fn out(r: Row) -> DeliveryOut {
    let (id, kind, customer, state, attempts, last_error, data, created, next, finished) = r;
    DeliveryOut {
        next_attempt_at: (state == PENDING).then(|| rfc3339(next)),
        id,
        kind,
        customer_id: customer.to_string(),
        state,
        attempts,
        last_error,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        created_at: rfc3339(created),
        finished_at: finished.map(rfc3339),
    }
}

/// The shop's events, newest first, optionally of one state; keyset-paged on
/// `(created_at, id)`.
pub fn list(
    c: &mut DbConnection,
    shop_id: &str,
    state: Option<&str>,
    after: Option<(PrimitiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryOut, PrimitiveDateTime)>> {
    let mut q = fo::table
        .filter(fo::shop_id.eq(shop_id))
        .select((
            fo::id,
            fo::kind,
            fo::customer_id,
            fo::state,
            fo::attempts,
            fo::last_error,
            fo::data,
            fo::created_at,
            fo::next_attempt_at,
            fo::finished_at,
        ))
        .order((fo::created_at.desc(), fo::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(s) = state {
        q = q.filter(fo::state.eq(s.to_owned()));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            fo::created_at
                .lt(at)
                .or(fo::created_at.eq(at).and(fo::id.lt(id))),
        );
    }
    let rows: Vec<Row> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let at = r.7;
            (out(r), at)
        })
        .collect())
}

/// Counts per state, for the admin's summary.
pub fn counts(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<(String, i64)>> {
    use diesel::dsl::count_star;
    fo::table
        .filter(fo::shop_id.eq(shop_id))
        .group_by(fo::state)
        .select((fo::state, count_star()))
        .order(fo::state)
        .load(c)
}

/// A dead letter sent again (the merchant fixed their endpoint): pending now, attempts from 0.
pub fn retry(c: &mut DbConnection, shop_id: &str, id: &str) -> AppResult<()> {
    let n = diesel::update(
        fo::table
            .filter(fo::shop_id.eq(shop_id))
            .filter(fo::id.eq(id))
            .filter(fo::state.eq(DEAD)),
    )
    .set((
        fo::state.eq(PENDING),
        fo::attempts.eq(0i64),
        fo::next_attempt_at.eq(now()),
        fo::finished_at.eq(None::<PrimitiveDateTime>),
    ))
    .execute(c)?;
    if n == 0 {
        let exists: i64 = fo::table
            .filter(fo::shop_id.eq(shop_id))
            .filter(fo::id.eq(id))
            .count()
            .get_result(c)?;
        return Err(if exists == 0 {
            AppError::not_found("No such delivery.")
        } else {
            AppError::new(
                actix_web::http::StatusCode::CONFLICT,
                "not_dead",
                "Only a dead letter can be retried.",
            )
        });
    }
    Ok(())
}

/// The customer's follow-up events, for the data request export.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    let rows: Vec<(String, String, String, PrimitiveDateTime)> = fo::table
        .filter(fo::shop_id.eq(shop_id))
        .filter(fo::customer_id.eq(customer_id))
        .order(fo::created_at.desc())
        .select((fo::id, fo::kind, fo::state, fo::created_at))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|(id, kind, state, at)| {
                serde_json::json!({"id": id, "kind": kind, "state": state, "created_at": rfc3339(at)})
            })
            .collect(),
    ))
}

/// Erases the customer's events, pending ones included (`customers/redact`): an erased shopper
/// is never messaged.
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        fo::table
            .filter(fo::shop_id.eq(shop_id))
            .filter(fo::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}
