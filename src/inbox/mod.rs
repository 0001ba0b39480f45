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

use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable, Text};
use time::PrimitiveDateTime;

use crate::db::DbConnection;
use crate::db::schema::webhook_inbox;
use crate::sync::{Outcome, SyncError};

pub const STATE_PENDING: &str = "pending";
pub const STATE_PROCESSING: &str = "processing";
pub const STATE_DONE: &str = "done";
pub const STATE_IGNORED: &str = "ignored";
pub const STATE_DEAD: &str = "dead";

/// A delivery dead-letters after this many failed attempts (transient errors).
pub const MAX_ATTEMPTS: i32 = 8;

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

mod health;
mod intake;
mod work;

pub use health::{DeadLetter, WebhookHealth, webhook_health};
pub use intake::InboxWriter;
pub use work::{backoff, claim, cleanup, lock_keys, process_batch, record_failure};
