//! Background work, on every instance that runs workers (`ATELIER_WORKERS`): the inbox worker
//! applying webhook deliveries through the dispatcher, the install and its backfill, and
//! periodic maintenance. Every job is safe with several instances on one database: work is
//! claimed under leases, and what is repeated is idempotent.

pub mod backfill;
pub mod checkout;
pub mod collections;
pub mod dispatch;
pub mod inbox_worker;
pub mod install;
pub mod maintenance;
pub mod outbox_worker;
pub mod writeback_worker;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::Backend;
use crate::state::AppState;
use dispatch::Dispatcher;
use inbox_worker::WorkerOptions;

/// Starts this instance's inbox workers and maintenance loop; they stop when `shutdown` turns
/// true.
pub fn spawn(state: &AppState, shutdown: &watch::Sender<bool>) -> Vec<JoinHandle<()>> {
    let options = WorkerOptions {
        lease: state.settings.inbox_lease,
        // SQLite: intake waits behind one batch, so keep batches short; PostgreSQL: one
        // commit (fsync) per batch, so make them longer.
        batch: if state.db.backend() == Backend::Sqlite {
            8
        } else {
            32
        },
        poll: Duration::from_millis(500),
        throttle: state.settings.worker_throttle,
        intake: Some(state.inbox.received_counter()),
    };
    // SQLite has one writer anyway; PostgreSQL applies batches in parallel (advisory
    // locks keep deliveries about one resource in sequence).
    let count = state
        .settings
        .inbox_workers
        .unwrap_or(match state.db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        });
    let mut workers = Vec::new();
    for _ in 0..count {
        workers.push(tokio::spawn(inbox_worker::run_worker(
            state.db.clone(),
            Dispatcher::new(state),
            state.wake.clone(),
            options.clone(),
            shutdown.subscribe(),
        )));
    }
    workers.push(tokio::spawn(maintenance::run(
        state.clone(),
        shutdown.subscribe(),
    )));
    workers.push(tokio::spawn(checkout::run(
        state.clone(),
        shutdown.subscribe(),
    )));
    workers.push(tokio::spawn(outbox_worker::run(
        state.clone(),
        shutdown.subscribe(),
    )));
    workers.push(tokio::spawn(collections::run(
        state.clone(),
        shutdown.subscribe(),
    )));
    workers.push(tokio::spawn(writeback_worker::run(
        state.clone(),
        shutdown.subscribe(),
    )));
    workers
}
