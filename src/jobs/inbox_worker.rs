//! The inbox worker: drains the webhook queue, applying each delivery through the dispatcher
//! in the queue's transaction, and paces itself so answering Shopify comes before applying.
//!
//! Its commits (claims, applied batches, failures) do not wait for the disk
//! ([`relaxed_commits`]): each one only moves a delivery that is already stored durably. A power
//! cut can take back the last few of them, and then the delivery is claimed and applied again
//! from its durable inbox row, its effect and its `done` mark having been lost together. Only
//! the intake's commit, the one Shopify's `200` promises, waits for the fsync; on SQLite the
//! worker then no longer spends the single writer's turn waiting for the disk.

use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::dispatch::Dispatcher;
use crate::db::{Db, relaxed_commits};
use crate::inbox::{ClaimedEvent, claim, cleanup, process_batch};
use crate::sync::{Outcome, SyncError};

/// Deliveries per second above which the worker paces itself (steady traffic is far below).
pub const BURST_RATE: u64 = 2000;
pub const BURST_PACE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub lease: Duration,
    pub batch: i64,
    pub poll: Duration,
    /// Pause after each event (tests use it to stop a worker mid-queue; 0 in production).
    pub throttle: Duration,
    /// Deliveries received by this instance. Answering Shopify comes before applying: while
    /// they arrive faster than [`BURST_RATE`], the worker applies one batch per
    /// [`BURST_PACE`] and leaves the CPU to intake; the backlog is applied after the burst.
    pub intake: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// Drains the inbox until `shutdown` turns true.
pub async fn run_worker(
    db: Db,
    ctx: Dispatcher,
    wake: std::sync::Arc<Notify>,
    options: WorkerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let worker = format!("worker-{}", uuid::Uuid::new_v4().simple());
    tracing::info!(%worker, "inbox worker started");
    let mut last_cleanup = std::time::Instant::now();
    let mut last_batch = std::time::Instant::now() - BURST_PACE;
    let mut meter = options.intake.clone().map(IntakeMeter::new);
    loop {
        if *shutdown.borrow() {
            break;
        }
        if let Some(meter) = meter.as_mut() {
            // In a burst, one batch per BURST_PACE; the pause ends as soon as the burst does.
            while meter.rate() > BURST_RATE as f64 && last_batch.elapsed() < BURST_PACE {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        // Short batches while deliveries arrive (intake waits behind a batch on SQLite), long
        // ones to drain a backlog when intake is quiet.
        let quiet = meter.as_mut().is_some_and(IntakeMeter::quiet);
        let batch = if quiet {
            options.batch.max(64)
        } else {
            options.batch
        };
        let (w, lease) = (worker.clone(), options.lease);
        // Through the turn-taking lock: on SQLite a claim racing intake for the write lock
        // would send intake into SQLite's sleeping busy handler.
        let claimed = db
            .run_write(move |c| relaxed_commits(c, |c| Ok(claim(c, &w, batch, lease)?)))
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
                last_batch = std::time::Instant::now();
                let (w, ctx, throttle) = (worker.clone(), ctx.clone(), options.throttle);
                let result = if throttle.is_zero() {
                    db.run_write(move |c| {
                        let results = relaxed_commits(c, |c| {
                            process_batch(c, &ctx.applier(), ctx.hooks(), &events, &w)
                        })?;
                        log_results(&events, &results);
                        Ok(())
                    })
                    .await
                } else {
                    // Testing aid: one event at a time with a pause (outside the write lock), so
                    // a kill lands mid-queue.
                    let mut result = Ok(());
                    for event in events {
                        let (w, ctx) = (w.clone(), ctx.clone());
                        result = db
                            .run_write(move |c| {
                                let results = process_batch(
                                    c,
                                    &ctx.applier(),
                                    ctx.hooks(),
                                    std::slice::from_ref(&event),
                                    &w,
                                )?;
                                log_results(std::slice::from_ref(&event), &results);
                                Ok(())
                            })
                            .await;
                        if result.is_err() {
                            break;
                        }
                        tokio::time::sleep(throttle).await;
                    }
                    result
                };
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

fn log_results(events: &[ClaimedEvent], results: &[Result<Outcome, SyncError>]) {
    for (event, result) in events.iter().zip(results) {
        match result {
            Ok(outcome) => {
                tracing::debug!(topic = %event.topic, shop = %event.shop_domain, webhook_id = %event.webhook_id, ?outcome, "webhook applied")
            }
            Err(SyncError::LeaseLost) => {
                tracing::warn!(webhook_id = %event.webhook_id, "lease lost; another worker owns the event")
            }
            Err(e) => {
                tracing::warn!(topic = %event.topic, shop = %event.shop_domain, webhook_id = %event.webhook_id, attempt = event.attempts, error = %e, "webhook processing failed")
            }
        }
    }
}

/// Rate of deliveries received by this instance, from a shared counter, without sleeping.
struct IntakeMeter {
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
    seen: u64,
    at: std::time::Instant,
    rate: f64,
    last_arrival: std::time::Instant,
}

impl IntakeMeter {
    fn new(counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        let seen = counter.load(std::sync::atomic::Ordering::Relaxed);
        let now = std::time::Instant::now();
        IntakeMeter {
            counter,
            seen,
            at: now,
            rate: 0.0,
            last_arrival: now - Duration::from_secs(1),
        }
    }

    /// Deliveries per second over the last ≥ 5 ms.
    fn rate(&mut self) -> f64 {
        let elapsed = self.at.elapsed();
        if elapsed >= Duration::from_millis(5) {
            let seen = self.counter.load(std::sync::atomic::Ordering::Relaxed);
            if seen != self.seen {
                self.last_arrival = std::time::Instant::now();
            }
            self.rate = (seen - self.seen) as f64 / elapsed.as_secs_f64();
            self.seen = seen;
            self.at = std::time::Instant::now();
        }
        self.rate
    }

    /// Nothing arrived for 50 ms.
    fn quiet(&mut self) -> bool {
        self.rate();
        self.last_arrival.elapsed() > Duration::from_millis(50)
    }
}
