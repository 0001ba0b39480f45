//! Processing: claims under a lease, batches applied with their `done` marks, retries with
//! backoff, dead letters, and the cleanup of finished deliveries.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use time::PrimitiveDateTime;

use super::{
    Apply, ClaimedEvent, Hooks, MAX_ATTEMPTS, STATE_DEAD, STATE_DONE, STATE_IGNORED, STATE_PENDING,
    STATE_PROCESSING,
};
use crate::db::schema::webhook_inbox;
use crate::db::{DbConnection, dialect, now, write_tx};
use crate::sync::{Outcome, SyncError};

const CLAIM_COLUMNS: &str = "id, webhook_id, shop_domain, topic, triggered_at, payload, attempts";

/// Claims up to `limit` due events (pending and due, or processing with an expired lease).
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> QueryResult<Vec<ClaimedEvent>> {
    let at = now();
    let until = at + lease;
    match conn {
        DbConnection::Postgres(c) => diesel::sql_query(format!(
            "UPDATE webhook_inbox SET state = 'processing', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_inbox \
                 WHERE state IN ('pending', 'processing') \
                   AND ((state = 'pending' AND next_attempt_at <= $3) OR (state = 'processing' AND locked_until < $3)) \
                 ORDER BY received_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {CLAIM_COLUMNS}"
        ))
        .bind::<Text, _>(worker)
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(at)
        .bind::<BigInt, _>(limit)
        .load(c),
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            diesel::sql_query(format!(
                "UPDATE webhook_inbox SET state = 'processing', locked_by = ?, locked_until = ?, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM webhook_inbox \
                     WHERE state IN ('pending', 'processing') \
                       AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'processing' AND locked_until < ?)) \
                     ORDER BY received_at LIMIT ?) \
                 RETURNING {CLAIM_COLUMNS}"
            ))
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(at)
            .bind::<Timestamp, _>(at)
            .bind::<BigInt, _>(limit)
            .load(c)
        }),
    }
}

/// The claimed rows this worker still holds, locked for the rest of the transaction.
fn held_leases(
    c: &mut DbConnection,
    events: &[ClaimedEvent],
    worker: &str,
) -> QueryResult<std::collections::HashSet<String>> {
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let query = webhook_inbox::table
        .filter(webhook_inbox::id.eq_any(&ids))
        .filter(webhook_inbox::state.eq(STATE_PROCESSING))
        .filter(webhook_inbox::locked_by.eq(worker))
        .select(webhook_inbox::id);
    let held: Vec<String> = dialect::load_locked(c, query, |q| q.for_update())?;
    Ok(held.into_iter().collect())
}

/// Takes the advisory locks of a batch's resources on PostgreSQL, in key order, in one
/// statement. Deliveries about one resource are then applied one at a time across all workers
/// and instances, so the version check and the write see each other; the fixed order means two
/// workers cannot deadlock.
fn lock_resources(c: &mut DbConnection, keys: &[i64]) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT unnest($1::bigint[]) AS k ORDER BY 1) AS keys")
            .bind::<diesel::sql_types::Array<BigInt>, _>(keys)
            .execute(pg)?;
    }
    Ok(())
}

/// Marks applied events done (or ignored), one statement per kind of outcome. The payload goes:
/// it has served its purpose and carries personal data.
fn mark_finished(c: &mut DbConnection, finished: &[(&str, Outcome)]) -> QueryResult<()> {
    let mut groups: std::collections::BTreeMap<(&str, Option<String>), Vec<&str>> =
        Default::default();
    for (id, outcome) in finished {
        let key = match outcome {
            Outcome::Applied => (STATE_DONE, None),
            Outcome::Stale => (
                STATE_DONE,
                Some("stale: a newer version was already applied".to_owned()),
            ),
            Outcome::Ignored(why) => (STATE_IGNORED, Some(why.clone())),
        };
        groups.entry(key).or_default().push(id);
    }
    let at = now();
    for ((state, note), ids) in groups {
        diesel::update(webhook_inbox::table.filter(webhook_inbox::id.eq_any(ids)))
            .set((
                webhook_inbox::state.eq(state),
                webhook_inbox::note.eq(note),
                webhook_inbox::processed_at.eq(Some(at)),
                webhook_inbox::payload.eq(Vec::<u8>::new()),
                webhook_inbox::locked_by.eq(None::<String>),
                webhook_inbox::locked_until.eq(None::<PrimitiveDateTime>),
                webhook_inbox::last_error.eq(None::<String>),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Advisory-lock keys of what an event is about: its resource `(shop, kind, id)` first, then
/// the customer it touches, each hashed to 64 bits. An order and a redaction of its customer
/// share the customer's key, so a redaction never interleaves with an order delivery that
/// would link that customer again. Batches are applied in first-key order and every key is
/// taken in one sorted statement, so two workers cannot deadlock.
pub fn lock_keys(event: &ClaimedEvent) -> Vec<i64> {
    #[derive(serde::Deserialize)]
    struct Customer {
        id: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct Ids {
        id: Option<serde_json::Value>,
        customer: Option<Customer>,
    }
    let parse_id =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(crate::shopify::payload::parse_id);
    let kind = match event.topic.as_str() {
        t if t.starts_with("orders/") => "order",
        t if t.starts_with("products/") => "product",
        "customers/update" => "customer",
        "customers/redact" => "redaction",
        _ => "shop",
    };
    let ids = (kind != "shop")
        .then(|| serde_json::from_slice::<Ids>(&event.payload).ok())
        .flatten();
    let customer = ids
        .as_ref()
        .and_then(|v| v.customer.as_ref())
        .and_then(|c| parse_id(&c.id));
    let shop = &event.shop_domain;
    let key = |name: String| {
        let digest = crate::crypto::hmac_sha256(b"atelier-lock", name.as_bytes());
        i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
    };
    let customer_key = |id: i64| key(format!("{shop}/customer/{id}"));
    match (kind, ids.as_ref().and_then(|v| parse_id(&v.id)), customer) {
        ("shop", _, _) => vec![key(format!("{shop}/shop"))],
        ("customer", Some(id), _) => vec![customer_key(id)],
        ("redaction", _, Some(id)) => vec![customer_key(id)],
        ("order", Some(id), Some(c)) => vec![key(format!("{shop}/order/{id}")), customer_key(c)],
        (kind, Some(id), _) => vec![key(format!("{shop}/{kind}/{id}"))],
        (_, None, _) => vec![key(format!("{shop}/event/{}", event.webhook_id))],
    }
}

enum BatchAbort {
    Db(diesel::result::Error),
    /// An event failed without savepoints: redo the batch with one per event.
    NeedsIsolation,
}

impl From<diesel::result::Error> for BatchAbort {
    fn from(e: diesel::result::Error) -> Self {
        BatchAbort::Db(e)
    }
}

/// Applies one event; a panic (a bug met by one payload) becomes a permanent failure of that
/// event alone. Left to unwind, it would end the batch's task before any outcome was recorded,
/// and every event claimed with it would be retried, and fail, with it.
fn apply_caught(
    apply: &Apply<'_>,
    c: &mut DbConnection,
    event: &ClaimedEvent,
) -> Result<Outcome, SyncError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply(c, event))).unwrap_or_else(
        |panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(webhook_id = %event.webhook_id, topic = %event.topic, panic = %what, "applying a delivery panicked");
            Err(SyncError::Permanent(format!("applying it panicked: {what}")))
        },
    )
}

/// Applies a claimed batch in one transaction (one commit, one fsync), in lock-key order; an
/// event's effect and its `done` mark commit together, and only for events whose lease this
/// worker still holds. First optimistically without savepoints; if any event fails, the batch
/// is rolled back and redone with each event inside its own savepoint, so a failing event
/// rolls back alone.
fn apply_batch(
    c: &mut DbConnection,
    apply: &Apply<'_>,
    events: &[ClaimedEvent],
    worker: &str,
) -> QueryResult<Vec<Result<Outcome, SyncError>>> {
    // SQLite has one writer at a time: no locks to order, and no payload parsed for a key.
    let postgres = matches!(c, DbConnection::Postgres(_));
    let event_keys: Vec<Vec<i64>> = events
        .iter()
        .map(|e| if postgres { lock_keys(e) } else { vec![0] })
        .collect();
    let mut order: Vec<(i64, usize)> = event_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k[0], i))
        .collect();
    order.sort_unstable();
    let keys: Vec<i64> = event_keys.into_iter().flatten().collect();
    let run = |c: &mut DbConnection, isolated: bool| {
        write_tx(c, |c| {
            let held = held_leases(c, events, worker)?;
            lock_resources(c, &keys)?;
            let mut results: Vec<Result<Outcome, SyncError>> =
                events.iter().map(|_| Err(SyncError::LeaseLost)).collect();
            let mut finished = Vec::with_capacity(events.len());
            for &(_, i) in &order {
                let event = &events[i];
                if !held.contains(&event.id) {
                    continue;
                }
                let result = if event.attempts > MAX_ATTEMPTS {
                    // Claimed more often than it may be tried: earlier tries ended their
                    // worker (or the process) before any outcome was recorded. Applying it
                    // again would only end this one too.
                    Err(SyncError::Permanent(format!(
                        "claimed {} times without an outcome; not applied again",
                        event.attempts
                    )))
                } else if isolated {
                    c.transaction(|c| apply_caught(apply, c, event))
                } else {
                    apply_caught(apply, c, event)
                };
                match &result {
                    Ok(outcome) => finished.push((event.id.as_str(), outcome.clone())),
                    Err(_) if !isolated => return Err(BatchAbort::NeedsIsolation),
                    Err(_) => {}
                }
                results[i] = result;
            }
            mark_finished(c, &finished)?;
            Ok(results)
        })
    };
    match run(c, false) {
        Ok(results) => Ok(results),
        Err(BatchAbort::NeedsIsolation) => match run(c, true) {
            Ok(results) => Ok(results),
            Err(BatchAbort::Db(e)) => Err(e),
            Err(BatchAbort::NeedsIsolation) => unreachable!("isolated runs keep going"),
        },
        Err(BatchAbort::Db(e)) => Err(e),
    }
}

/// Applies claimed events and records the failures (retry with backoff, or dead letter).
pub fn process_batch(
    c: &mut DbConnection,
    apply: &Apply<'_>,
    hooks: Hooks,
    events: &[ClaimedEvent],
    worker: &str,
) -> QueryResult<Vec<Result<Outcome, SyncError>>> {
    let results = match apply_batch(c, apply, events, worker) {
        Ok(results) => results,
        Err(e) if events.len() > 1 => {
            // The batch could not commit: nothing of it was applied. One by one instead.
            tracing::warn!(error = %e, "inbox batch commit failed; applying its events one by one");
            let mut results = Vec::with_capacity(events.len());
            for event in events {
                results.push(
                    match apply_batch(c, apply, std::slice::from_ref(event), worker) {
                        Ok(mut r) => r.remove(0),
                        Err(e) => Err(SyncError::Transient(e)),
                    },
                );
            }
            results
        }
        Err(e) => vec![Err(SyncError::Transient(e))],
    };
    for (event, result) in events.iter().zip(&results) {
        if let Err(e) = result
            && !matches!(e, SyncError::LeaseLost)
        {
            record_failure(c, hooks, event, worker, e)?;
        }
    }
    Ok(results)
}

/// Exponential backoff with jitter: 2 s, 4 s, 8 s … capped at 30 min.
pub fn backoff(attempts: i32) -> Duration {
    let base = 2u64.saturating_pow(attempts.clamp(1, 20) as u32).min(1800);
    let jitter = rand::random::<u64>() % (base / 4 + 1);
    Duration::from_secs(base + jitter)
}

/// Records a failed attempt: retried later, or dead-lettered with the error.
pub fn record_failure(
    c: &mut DbConnection,
    hooks: Hooks,
    event: &ClaimedEvent,
    worker: &str,
    error: &SyncError,
) -> QueryResult<()> {
    let message: String = error.to_string().chars().take(1000).collect();
    let dead = matches!(error, SyncError::Permanent(_)) || event.attempts >= MAX_ATTEMPTS;
    write_tx(c, |c| {
        let target = webhook_inbox::table
            .filter(webhook_inbox::id.eq(&event.id))
            .filter(webhook_inbox::locked_by.eq(worker))
            .filter(webhook_inbox::state.eq(STATE_PROCESSING));
        let n = if dead {
            diesel::update(target)
                .set((
                    webhook_inbox::state.eq(STATE_DEAD),
                    webhook_inbox::last_error.eq(Some(&message)),
                    webhook_inbox::processed_at.eq(Some(now())),
                    webhook_inbox::locked_by.eq(None::<String>),
                    webhook_inbox::locked_until.eq(None::<PrimitiveDateTime>),
                ))
                .execute(c)?
        } else {
            diesel::update(target)
                .set((
                    webhook_inbox::state.eq(STATE_PENDING),
                    webhook_inbox::last_error.eq(Some(&message)),
                    webhook_inbox::next_attempt_at.eq(now() + backoff(event.attempts)),
                    webhook_inbox::locked_by.eq(None::<String>),
                    webhook_inbox::locked_until.eq(None::<PrimitiveDateTime>),
                ))
                .execute(c)?
        };
        if n == 1 && dead {
            (hooks.dead)(c, event, &message)?;
        }
        Ok(())
    })
}

/// Deletes processed rows past the dedupe window (Shopify retries for 4 hours) and dead rows
/// after a month. Idempotent, safe on several instances.
pub fn cleanup(c: &mut DbConnection) -> QueryResult<usize> {
    let at = now();
    let done = diesel::delete(
        webhook_inbox::table
            .filter(webhook_inbox::state.eq_any([STATE_DONE, STATE_IGNORED]))
            .filter(webhook_inbox::received_at.lt(at - time::Duration::days(7))),
    )
    .execute(c)?;
    let dead = diesel::delete(
        webhook_inbox::table
            .filter(webhook_inbox::state.eq(STATE_DEAD))
            .filter(webhook_inbox::received_at.lt(at - time::Duration::days(30))),
    )
    .execute(c)?;
    Ok(done + dead)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(topic: &str, payload: serde_json::Value) -> ClaimedEvent {
        ClaimedEvent {
            id: "e".into(),
            webhook_id: format!("w-{topic}"),
            shop_domain: "a.myshopify.com".into(),
            topic: topic.into(),
            triggered_at: None,
            payload: payload.to_string().into_bytes(),
            attempts: 0,
        }
    }

    #[test]
    fn an_order_and_a_redaction_of_its_customer_share_a_lock() {
        let order = lock_keys(&event(
            "orders/create",
            serde_json::json!({"id": 10, "customer": {"id": 7}}),
        ));
        let redact = lock_keys(&event(
            "customers/redact",
            serde_json::json!({"customer": {"id": "7"}, "orders_to_redact": [10]}),
        ));
        let update = lock_keys(&event("customers/update", serde_json::json!({"id": 7})));
        let other = lock_keys(&event(
            "customers/redact",
            serde_json::json!({"customer": {"id": 8}}),
        ));
        assert_eq!(order.len(), 2);
        assert!(order.contains(&redact[0]));
        assert_eq!(redact, update);
        assert!(!order.contains(&other[0]));
        // Deliveries about one order share its key whatever the customer.
        let paid = lock_keys(&event("orders/paid", serde_json::json!({"id": "10"})));
        assert_eq!(paid[0], order[0]);
    }
}
