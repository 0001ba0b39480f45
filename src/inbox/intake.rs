//! Receiving: verified deliveries committed in batches (group commit) before their `200`.

use diesel::prelude::*;
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Hooks, NewEvent};
use crate::db::schema::webhook_inbox;
use crate::db::{Db, DbConnection, dialect, durable_commits, write_tx};
use crate::error::{AppError, AppResult};

const WRITE_BATCH: usize = 256;
const QUEUE_CAPACITY: usize = 16_384;

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
            .run_write(move |c| {
                // The `200` promises the delivery survives power loss: this commit waits for the
                // disk, whatever the pooled connection was used for before.
                durable_commits(c)?;
                Ok(insert_batch(c, &events, hooks))
            })
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
