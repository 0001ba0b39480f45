//! Applying webhook events to Atelier's copy of the store (orders, products, customers,
//! install state, compliance). Called by the inbox worker inside the event's transaction.

pub mod payload;

use time::PrimitiveDateTime;

use crate::db::DbConnection;
use crate::inbox::ClaimedEvent;
use crate::{compliance, customers, orders, products, shops};

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
    /// The storefront's view of shops, by domain (see `AppState::storefront_shop`).
    pub storefront_shops:
        std::sync::Arc<crate::cache::TtlCache<String, Option<crate::shops::Shop>>>,
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

pub fn apply(
    c: &mut DbConnection,
    ctx: &SyncContext,
    event: &ClaimedEvent,
) -> Result<Outcome, SyncError> {
    let topic = event.topic.as_str();
    if crate::shopify::COMPLIANCE_TOPICS.contains(&topic) {
        return compliance::apply(c, ctx, event);
    }
    let Some(shop) = shops::find_by_domain(c, &event.shop_domain)? else {
        // Not installed through Atelier yet (or erased): the install's backfill brings the data.
        return Ok(Outcome::Ignored("unknown shop".into()));
    };
    let triggered = event.triggered_at.as_deref().and_then(payload::parse_time);
    let body = event.payload.as_slice();
    match topic {
        "orders/create" | "orders/updated" | "orders/paid" | "orders/cancelled" => {
            orders::apply_webhook(c, ctx, &shop, topic, body, triggered)
        }
        "products/create" | "products/update" | "products/delete" => {
            let outcome = if topic == "products/delete" {
                products::apply_delete(c, &shop, body)?
            } else {
                products::apply_update(c, &shop, topic, body, triggered)?
            };
            // Recommendations read the product again: at once on this instance, within a
            // second on the others.
            if let Ok(p) = serde_json::from_slice::<payload::DeletedPayload>(body) {
                crate::recommendations::serve::catalogue_changed(c, &shop.id, &[p.id])?;
            }
            Ok(outcome)
        }
        "customers/update" => customers::apply_update(c, ctx, &shop, body, triggered),
        "app/uninstalled" => {
            shops::mark_uninstalled(c, &shop.domain)?;
            ctx.storefront_shops.forget(|d| d == &shop.domain);
            tracing::info!(shop = %shop.domain, "app uninstalled: token deleted");
            Ok(Outcome::Applied)
        }
        other => Ok(Outcome::Ignored(format!("topic {other} is not handled"))),
    }
}
