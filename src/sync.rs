//! The shared vocabulary of keeping Atelier's copy of a store in step with Shopify: what
//! applying a resource did ([`Outcome`]), why it failed ([`SyncError`]: retry or dead-letter),
//! how two versions of one resource are ordered ([`is_stale`]), and the keys an application
//! needs ([`SyncContext`]). Every domain that applies Shopify data speaks it; the webhook
//! dispatcher (`jobs::dispatch`) and the backfill call them.

use time::PrimitiveDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// An older version than the one stored: acknowledged, not applied.
    Stale,
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Will never succeed (malformed payload): dead-lettered at once, no retry storm.
    #[error("{0}")]
    Permanent(String),
    /// May succeed later (database busy, a race on first insert): retried with backoff.
    #[error("database error: {0}")]
    Transient(#[from] diesel::result::Error),
    #[error("the event's lease was lost to another worker")]
    LeaseLost,
}

impl SyncError {
    pub fn malformed(topic: &str, e: impl std::fmt::Display) -> Self {
        SyncError::Permanent(format!("malformed {topic} payload: {e}"))
    }
}

/// Keys the worker needs beyond the database.
#[derive(Clone)]
pub struct SyncContext {
    /// Keyed hash for customer references kept after redaction.
    pub customer_ref_key: [u8; 32],
    /// Keys that may have signed a `_atelier` property: the current secret's, then the
    /// previous one's during a rotation.
    pub personalization_keys: Vec<[u8; 32]>,
    /// Base of upload URLs (`{APP_URL}/uploads/`), to recognise them in order properties.
    pub upload_base: String,
}

/// Version of a delivery for ordering: the resource's `updated_at`, then the delivery's
/// `X-Shopify-Triggered-At` to break ties within a second.
pub type Version = (PrimitiveDateTime, Option<PrimitiveDateTime>);

/// True when `incoming` is older than what is stored (equal versions are re-applied: same data).
pub fn is_stale(incoming: &Version, stored: &Version) -> bool {
    match (incoming.0.cmp(&stored.0), incoming.1, stored.1) {
        (std::cmp::Ordering::Less, _, _) => true,
        (std::cmp::Ordering::Equal, Some(a), Some(b)) => a < b,
        _ => false,
    }
}
