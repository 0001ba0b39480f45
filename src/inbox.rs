//! The durable webhook inbox: a queue of verified deliveries. It knows deliveries (ids, topics,
//! leases, attempts), not what they mean: the application applies them (`jobs::dispatch`) and
//! adds its own rows to the queue's transactions through [`Hooks`].
//!
//! Receiving: the HTTP handler hands the verified delivery to [`InboxWriter`], which commits
//! deliveries in batches (one transaction for whatever arrived meanwhile: group commit) and only
//! then lets the handler answer `200`. `webhook_id` is unique, so a repeated delivery is noticed
//! in the same insert and not stored twice.
//!
//! Processing: the worker (`jobs::inbox_worker`) claims due events under a lease (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so several instances share the queue; SQLite: inside `BEGIN IMMEDIATE`). The domain
//! effect and the `done` mark commit in one transaction, and only while the lease is still this
//! worker's: an event is applied once even if a worker dies mid-way (its lease expires and the
//! event is claimed again) or is too slow (it loses the lease and rolls back).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text, Timestamp};
use serde::Serialize;
use time::PrimitiveDateTime;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::db::schema::webhook_inbox;
use crate::db::{Db, DbConnection, dialect, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult};
use crate::sync::{Outcome, SyncError};

pub const STATE_PENDING: &str = "pending";
pub const STATE_PROCESSING: &str = "processing";
pub const STATE_DONE: &str = "done";
pub const STATE_IGNORED: &str = "ignored";
pub const STATE_DEAD: &str = "dead";

/// A delivery dead-letters after this many failed attempts (transient errors).
pub const MAX_ATTEMPTS: i32 = 8;
const WRITE_BATCH: usize = 256;
const QUEUE_CAPACITY: usize = 16_384;

/// What the application adds to the queue's own transactions.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Runs in the transaction that stores a new delivery, so what it records exists from the
    /// moment Shopify gets its `200`.
    pub stored: fn(&mut DbConnection, &NewEvent) -> QueryResult<()>,
    /// Runs in the transaction that dead-letters a delivery, with the last error.
    pub dead: fn(&mut DbConnection, &ClaimedEvent, &str) -> QueryResult<()>,
}

impl Hooks {
    /// A bare queue.
    pub const NONE: Hooks = Hooks {
        stored: |_, _| Ok(()),
        dead: |_, _, _| Ok(()),
    };
}

/// How a claimed delivery is applied, inside the queue's transaction.
pub type Apply<'a> = dyn Fn(&mut DbConnection, &ClaimedEvent) -> Result<Outcome, SyncError> + 'a;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_inbox)]
pub struct NewEvent {
    pub id: String,
    pub webhook_id: String,
    pub shop_domain: String,
    pub topic: String,
    pub api_version: Option<String>,
    pub event_id: Option<String>,
    pub triggered_at: Option<String>,
    pub payload: Vec<u8>,
    pub received_at: PrimitiveDateTime,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: PrimitiveDateTime,
}

struct WriteRequest {
    event: NewEvent,
    reply: oneshot::Sender<AppResult<bool>>,
}

/// Batched, durable insertion of deliveries. Cheap to clone.
#[derive(Clone)]
pub struct InboxWriter {
    tx: mpsc::Sender<WriteRequest>,
    wake: std::sync::Arc<Notify>,
    /// Deliveries received so far: the worker holds back while they arrive in a burst.
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl InboxWriter {
    /// Starts the writer tasks on the current runtime: one on SQLite (one writer at a time
    /// anyway), two on PostgreSQL so one batch fills while the other commits.
    pub fn start(db: Db, wake: std::sync::Arc<Notify>, hooks: Hooks) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        let writers = if db.backend() == crate::db::Backend::Postgres {
            2
        } else {
            1
        };
        for _ in 0..writers {
            tokio::spawn(writer_loop(db.clone(), rx.clone(), hooks));
        }
        InboxWriter {
            tx,
            wake,
            received: Default::default(),
        }
    }

    /// Shared count of deliveries received by this instance.
    pub fn received_counter(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.received.clone()
    }

    /// Commits the event; `Ok(true)` if it is new, `Ok(false)` if its webhook id was seen before.
    pub async fn insert(&self, event: NewEvent) -> AppResult<bool> {
        let (reply, done) = oneshot::channel();
        self.tx
            .try_send(WriteRequest { event, reply })
            .map_err(|_| {
                // Shopify retries a non-2xx: shedding load beats answering late.
                AppError::unavailable(
                    "Too many deliveries are waiting to be stored; retry shortly.",
                )
            })?;
        self.received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stored = done
            .await
            .map_err(|_| AppError::unavailable("The inbox writer stopped."))??;
        if stored {
            self.wake.notify_one();
        }
        Ok(stored)
    }
}

async fn writer_loop(
    db: Db,
    rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<WriteRequest>>>,
    hooks: Hooks,
) {
    let mut buf = Vec::with_capacity(WRITE_BATCH);
    loop {
        let received = rx.lock().await.recv_many(&mut buf, WRITE_BATCH).await;
        if received == 0 {
            return;
        }
        let (events, replies): (Vec<NewEvent>, Vec<_>) =
            buf.drain(..).map(|r| (r.event, r.reply)).unzip();
        let count = events.len();
        match db
            .run_write(move |c| Ok(insert_batch(c, &events, hooks)))
            .await
        {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result.map_err(AppError::from));
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, count, "inbox batch could not be stored");
                for reply in replies {
                    let _ = reply.send(Err(AppError::unavailable(
                        "The inbox could not store the delivery.",
                    )));
                }
            }
        }
    }
}

/// One multi-row insert in one transaction for the batch; if that fails, each event alone, so
/// one bad row cannot take the others down.
fn insert_batch(
    conn: &mut DbConnection,
    events: &[NewEvent],
    hooks: Hooks,
) -> Vec<QueryResult<bool>> {
    match write_tx(conn, |c| insert_rows(c, events, hooks)) {
        Ok(v) => v.into_iter().map(Ok).collect(),
        Err(_) if events.len() > 1 => events
            .iter()
            .map(|e| {
                write_tx(conn, |c| insert_rows(c, std::slice::from_ref(e), hooks)).map(|v| v[0])
            })
            .collect(),
        Err(e) => vec![Err(e)],
    }
}

/// Inserts, skipping webhook ids already stored; says for each event whether it is new. Two
/// deliveries of one id in the same batch: the first is new, the second a duplicate.
fn insert_rows(c: &mut DbConnection, events: &[NewEvent], hooks: Hooks) -> QueryResult<Vec<bool>> {
    // PostgreSQL: one statement for the batch, one round trip. The ids returned are those
    // actually inserted (a conflict returns nothing).
    let mut inserted: std::collections::HashSet<String> =
        dialect::insert_batched!(c, events, |c, values| {
            diesel::insert_into(webhook_inbox::table)
                .values(values)
                .on_conflict(webhook_inbox::webhook_id)
                .do_nothing()
                .returning(webhook_inbox::webhook_id)
                .get_results::<String>(c)
        })?
        .into_iter()
        .flatten()
        .collect();
    let mut fresh = Vec::with_capacity(events.len());
    for event in events {
        let new = inserted.remove(&event.webhook_id);
        if new {
            (hooks.stored)(c, event)?;
        }
        fresh.push(new);
    }
    Ok(fresh)
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedEvent {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub webhook_id: String,
    #[diesel(sql_type = Text)]
    pub shop_domain: String,
    #[diesel(sql_type = Text)]
    pub topic: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub triggered_at: Option<String>,
    #[diesel(sql_type = Binary)]
    pub payload: Vec<u8>,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

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

/// Advisory-lock key of the resource an event is about: `(shop, kind, id)` hashed to 64 bits.
/// Batches are applied in key order, so two workers always take their locks in the same order
/// and cannot deadlock.
pub fn lock_key(event: &ClaimedEvent) -> i64 {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<serde_json::Value>,
    }
    let kind = match event.topic.split('/').next() {
        Some("orders") => "order",
        Some("products") => "product",
        Some("customers") if event.topic == "customers/update" => "customer",
        _ => "shop",
    };
    let id = if kind == "shop" {
        None
    } else {
        serde_json::from_slice::<Id>(&event.payload)
            .ok()
            .and_then(|v| v.id.as_ref().and_then(crate::shopify::payload::parse_id))
    };
    let key = match id {
        Some(id) => format!("{}/{kind}/{id}", event.shop_domain),
        None if kind == "shop" => format!("{}/shop", event.shop_domain),
        None => format!("{}/event/{}", event.shop_domain, event.webhook_id),
    };
    let digest = crate::crypto::hmac_sha256(b"atelier-lock", key.as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
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
    let mut order: Vec<(i64, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (if postgres { lock_key(e) } else { 0 }, i))
        .collect();
    order.sort_unstable();
    let keys: Vec<i64> = order.iter().map(|(k, _)| *k).collect();
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
                let result = if isolated {
                    c.transaction(|c| apply(c, event))
                } else {
                    apply(c, event)
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

// ---- Health, for the admin's Home page: is the store's data arriving, and what was set aside.

#[derive(Debug, Serialize)]
pub struct DeadLetter {
    pub webhook_id: String,
    pub topic: String,
    pub received_at: String,
    pub attempts: i32,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhookHealth {
    pub last_received_at: Option<String>,
    pub last_processed_at: Option<String>,
    pub received_24h: i64,
    pub pending: i64,
    /// Pending deliveries that already failed at least once (retried with backoff).
    pub retrying: i64,
    pub dead: i64,
    /// The latest dead letters, newest first (at most 20).
    pub dead_letters: Vec<DeadLetter>,
}

/// The stored failure, as a merchant may read it: payload problems verbatim, anything from the
/// database only as a category (its text may name tables or statements).
fn merchant_error(stored: Option<String>) -> Option<String> {
    stored.map(|e| {
        if e.starts_with("database error") {
            "A database error; the delivery was retried and then set aside (details are in the server log).".to_owned()
        } else {
            e.chars().take(300).collect()
        }
    })
}

pub fn webhook_health(c: &mut DbConnection, domain: &str) -> QueryResult<WebhookHealth> {
    let mine = || webhook_inbox::table.filter(webhook_inbox::shop_domain.eq(domain));
    let last_received_at: Option<PrimitiveDateTime> = mine()
        .select(diesel::dsl::max(webhook_inbox::received_at))
        .first(c)?;
    let last_processed_at: Option<PrimitiveDateTime> = mine()
        .filter(webhook_inbox::state.eq_any([STATE_DONE, STATE_IGNORED]))
        .select(diesel::dsl::max(webhook_inbox::processed_at))
        .first::<Option<PrimitiveDateTime>>(c)?;
    let received_24h = mine()
        .filter(webhook_inbox::received_at.ge(now() - time::Duration::hours(24)))
        .count()
        .get_result(c)?;
    let pending = mine()
        .filter(webhook_inbox::state.eq_any([STATE_PENDING, STATE_PROCESSING]))
        .count()
        .get_result(c)?;
    let retrying = mine()
        .filter(webhook_inbox::state.eq_any([STATE_PENDING, STATE_PROCESSING]))
        .filter(webhook_inbox::attempts.gt(0))
        .count()
        .get_result(c)?;
    let dead = mine()
        .filter(webhook_inbox::state.eq(STATE_DEAD))
        .count()
        .get_result(c)?;
    let rows: Vec<(String, String, PrimitiveDateTime, i32, Option<String>)> = mine()
        .filter(webhook_inbox::state.eq(STATE_DEAD))
        .order(webhook_inbox::received_at.desc())
        .limit(20)
        .select((
            webhook_inbox::webhook_id,
            webhook_inbox::topic,
            webhook_inbox::received_at,
            webhook_inbox::attempts,
            webhook_inbox::last_error,
        ))
        .load(c)?;
    Ok(WebhookHealth {
        last_received_at: last_received_at.map(rfc3339),
        last_processed_at: last_processed_at.map(rfc3339),
        received_24h,
        pending,
        retrying,
        dead,
        dead_letters: rows
            .into_iter()
            .map(|(webhook_id, topic, at, attempts, error)| DeadLetter {
                webhook_id,
                topic,
                received_at: rfc3339(at),
                attempts,
                error: merchant_error(error),
            })
            .collect(),
    })
}

#[cfg(test)]
mod health_tests {
    use super::merchant_error;

    #[test]
    fn database_errors_are_not_shown_verbatim() {
        let shown = merchant_error(Some("database error: near \"SELEC\": syntax error".into()));
        assert!(!shown.unwrap().contains("SELEC"));
        let payload = merchant_error(Some(
            "malformed orders/create payload: missing field `id`".into(),
        ));
        assert_eq!(
            payload.unwrap(),
            "malformed orders/create payload: missing field `id`"
        );
    }
}
