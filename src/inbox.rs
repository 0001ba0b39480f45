//! The durable webhook inbox (CONTRACT §3).
//!
//! Receiving: the HTTP handler hands the verified delivery to [`InboxWriter`], which commits
//! deliveries in batches (one transaction for whatever arrived meanwhile: group commit) and only
//! then lets the handler answer `200`. `webhook_id` is unique, so a repeated delivery is noticed
//! in the same insert and not stored twice.
//!
//! Processing: [`run_worker`] claims due events under a lease (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so several instances share the queue; SQLite: inside `BEGIN IMMEDIATE`). The domain
//! effect and the `done` mark commit in one transaction, and only while the lease is still this
//! worker's: an event is applied once even if a worker dies mid-way (its lease expires and the
//! event is claimed again) or is too slow (it loses the lease and rolls back).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text, Timestamp};
use time::PrimitiveDateTime;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::db::schema::{compliance_requests, webhook_inbox};
use crate::db::{Db, DbConnection, now, write_tx};
use crate::error::{AppError, AppResult};
use crate::per_backend;
use crate::sync::{self, Outcome, SyncContext, SyncError};

pub const STATE_PENDING: &str = "pending";
pub const STATE_PROCESSING: &str = "processing";
pub const STATE_DONE: &str = "done";
pub const STATE_IGNORED: &str = "ignored";
pub const STATE_DEAD: &str = "dead";

/// A delivery dead-letters after this many failed attempts (transient errors).
pub const MAX_ATTEMPTS: i32 = 8;
const WRITE_BATCH: usize = 256;
const QUEUE_CAPACITY: usize = 16_384;

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
}

impl InboxWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db, wake: std::sync::Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(writer_loop(db, rx, wake.clone()));
        InboxWriter { tx, wake }
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
        let stored = done
            .await
            .map_err(|_| AppError::unavailable("The inbox writer stopped."))??;
        if stored {
            self.wake.notify_one();
        }
        Ok(stored)
    }
}

async fn writer_loop(db: Db, mut rx: mpsc::Receiver<WriteRequest>, _wake: std::sync::Arc<Notify>) {
    let mut buf = Vec::with_capacity(WRITE_BATCH);
    while rx.recv_many(&mut buf, WRITE_BATCH).await > 0 {
        let (events, replies): (Vec<NewEvent>, Vec<_>) =
            buf.drain(..).map(|r| (r.event, r.reply)).unzip();
        let count = events.len();
        match db.run(move |c| Ok(insert_batch(c, &events))).await {
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

/// One transaction for the batch; if it fails, each event alone, so one bad row cannot take
/// the others down.
fn insert_batch(conn: &mut DbConnection, events: &[NewEvent]) -> Vec<QueryResult<bool>> {
    let batch = write_tx(conn, |c| {
        events
            .iter()
            .map(|e| insert_one(c, e))
            .collect::<QueryResult<Vec<bool>>>()
    });
    match batch {
        Ok(v) => v.into_iter().map(Ok).collect(),
        Err(_) if events.len() > 1 => events
            .iter()
            .map(|e| write_tx(conn, |c| insert_one(c, e)))
            .collect(),
        Err(e) => vec![Err(e)],
    }
}

fn insert_one(c: &mut DbConnection, event: &NewEvent) -> QueryResult<bool> {
    let inserted = per_backend!(c, |c| diesel::insert_into(webhook_inbox::table)
        .values(event)
        .on_conflict(webhook_inbox::webhook_id)
        .do_nothing()
        .execute(c))?;
    if inserted == 1 && crate::shopify::COMPLIANCE_TOPICS.contains(&event.topic.as_str()) {
        // The request is on record (state `received`) from the moment Shopify gets its 200.
        crate::compliance::record_received(c, event)?;
    }
    Ok(inserted == 1)
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
                 WHERE (state = 'pending' AND next_attempt_at <= $3) OR (state = 'processing' AND locked_until < $3) \
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
                     WHERE (state = 'pending' AND next_attempt_at <= ?) OR (state = 'processing' AND locked_until < ?) \
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

/// Locks the event row and checks the lease is still this worker's.
fn holds_lease(c: &mut DbConnection, id: &str, worker: &str) -> QueryResult<bool> {
    let query = webhook_inbox::table
        .filter(webhook_inbox::id.eq(id))
        .filter(webhook_inbox::state.eq(STATE_PROCESSING))
        .filter(webhook_inbox::locked_by.eq(worker))
        .select(webhook_inbox::id);
    let found: Option<String> = match c {
        DbConnection::Postgres(pg) => query.for_update().first(pg).optional()?,
        DbConnection::Sqlite(_) => query.first(c).optional()?,
    };
    Ok(found.is_some())
}

/// Applies one claimed event and marks it done, atomically.
pub fn process(
    c: &mut DbConnection,
    ctx: &SyncContext,
    event: &ClaimedEvent,
    worker: &str,
) -> Result<Outcome, SyncError> {
    write_tx(c, |c| {
        if !holds_lease(c, &event.id, worker)? {
            return Err(SyncError::LeaseLost);
        }
        let outcome = sync::apply(c, ctx, event)?;
        let (state, note) = match &outcome {
            Outcome::Applied => (STATE_DONE, None),
            Outcome::Stale => (
                STATE_DONE,
                Some("stale: a newer version was already applied".to_owned()),
            ),
            Outcome::Ignored(why) => (STATE_IGNORED, Some(why.clone())),
        };
        diesel::update(webhook_inbox::table.find(&event.id))
            .set((
                webhook_inbox::state.eq(state),
                webhook_inbox::note.eq(note),
                webhook_inbox::processed_at.eq(Some(now())),
                // The payload has served its purpose; it carries personal data.
                webhook_inbox::payload.eq(Vec::<u8>::new()),
                webhook_inbox::locked_by.eq(None::<String>),
                webhook_inbox::locked_until.eq(None::<PrimitiveDateTime>),
                webhook_inbox::last_error.eq(None::<String>),
            ))
            .execute(c)?;
        Ok(outcome)
    })
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
            diesel::update(compliance_requests::table.find(&event.id))
                .set((
                    compliance_requests::state.eq(crate::compliance::STATE_FAILED),
                    compliance_requests::error.eq(Some(&message)),
                ))
                .execute(c)?;
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

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub lease: Duration,
    pub batch: i64,
    pub poll: Duration,
    /// Pause after each event (tests use it to stop a worker mid-queue; 0 in production).
    pub throttle: Duration,
}

/// Drains the inbox until `shutdown` turns true.
pub async fn run_worker(
    db: Db,
    ctx: SyncContext,
    wake: std::sync::Arc<Notify>,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let worker = format!("worker-{}", uuid::Uuid::new_v4().simple());
    tracing::info!(%worker, "inbox worker started");
    let mut last_cleanup = std::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (w, opts) = (worker.clone(), options.clone());
        let claimed = db
            .run(move |c| Ok(claim(c, &w, opts.batch, opts.lease)?))
            .await;
        match claimed {
            Ok(events) if events.is_empty() => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(options.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Ok(events) => {
                let (w, ctx, throttle) = (worker.clone(), ctx.clone(), options.throttle);
                let result = db
                    .run(move |c| {
                        for event in &events {
                            let started = std::time::Instant::now();
                            match process(c, &ctx, event, &w) {
                                Ok(outcome) => tracing::debug!(topic = %event.topic, shop = %event.shop_domain, webhook_id = %event.webhook_id, ?outcome, elapsed_us = started.elapsed().as_micros() as u64, "webhook applied"),
                                Err(SyncError::LeaseLost) => tracing::warn!(webhook_id = %event.webhook_id, "lease lost; another worker owns the event"),
                                Err(e) => {
                                    tracing::warn!(topic = %event.topic, shop = %event.shop_domain, webhook_id = %event.webhook_id, attempt = event.attempts, error = %e, "webhook processing failed");
                                    record_failure(c, event, &w, &e)?;
                                }
                            }
                            if !throttle.is_zero() {
                                std::thread::sleep(throttle);
                            }
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = result {
                    tracing::error!(error = ?e, "inbox batch failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, "inbox claim failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if last_cleanup.elapsed() > Duration::from_secs(600) {
            last_cleanup = std::time::Instant::now();
            match db.run(|c| Ok(cleanup(c)?)).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "old inbox rows deleted"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "inbox cleanup failed"),
            }
        }
    }
    tracing::info!(%worker, "inbox worker stopped");
}
