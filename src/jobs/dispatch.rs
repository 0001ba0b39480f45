//! The webhook dispatcher: applies one delivery by calling the domains in order, inside the
//! queue's transaction. An order is stored, then the recommendation model learns from it; a
//! customer is stored, then the preference center follows the store's marketing consent; a
//! product is stored, then recommendations re-read it.

use std::sync::Arc;

use time::PrimitiveDateTime;

use crate::cache::TtlCache;
use crate::db::DbConnection;
use crate::inbox::{ClaimedEvent, Hooks};
use crate::orders::OrderApplied;
use crate::recommendations::Recommender;
use crate::shopify::payload;
use crate::shops::Shop;
use crate::state::AppState;
use crate::sync::{Outcome, SyncContext, SyncError};
use crate::{
    collections, compliance, customers, followups, orders, preferences, products, recommendations,
    shops, writeback,
};

/// What applying a delivery needs beyond the database. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    pub sync: SyncContext,
    /// This instance's storefront view of shops: an uninstall applied here is seen at once.
    pub storefront_shops: Arc<TtlCache<String, Option<Shop>>>,
    /// This instance's recommender: what a delivery applied here changes, it drops at once.
    pub recs: Arc<Recommender>,
}

impl Dispatcher {
    pub fn new(state: &AppState) -> Self {
        Dispatcher {
            sync: state.sync.clone(),
            storefront_shops: state.storefront_shops.clone(),
            recs: state.recs.clone(),
        }
    }

    /// The queue's view of [`Dispatcher::apply`].
    pub fn applier(
        &self,
    ) -> impl Fn(&mut DbConnection, &ClaimedEvent) -> Result<Outcome, SyncError> + '_ {
        move |c, event| self.apply(c, event)
    }

    /// What the domains add to the queue's transactions.
    pub fn hooks(&self) -> Hooks {
        compliance::INBOX_HOOKS
    }

    pub fn apply(&self, c: &mut DbConnection, event: &ClaimedEvent) -> Result<Outcome, SyncError> {
        let cleaned;
        let event = match payload::without_nul(&event.payload) {
            Some(payload) => {
                cleaned = ClaimedEvent {
                    payload,
                    ..event.clone()
                };
                &cleaned
            }
            None => event,
        };
        let ctx = &self.sync;
        let topic = event.topic.as_str();
        if payload::names_another_shop(topic, &event.shop_domain, &event.payload) {
            // Acknowledged (the delivery is already stored and answered `200`) and applied to
            // neither shop: erasing or uninstalling the header's shop on a body about another
            // could destroy the wrong shop's data. A refusal would only make Shopify send the
            // identical delivery again for hours and then give up on the subscription.
            tracing::warn!(shop = %event.shop_domain, topic, "delivery body names another shop; ignored");
            if topic == "shop/redact" {
                compliance::refuse(c, event, "the body names another shop than the header")?;
            }
            return Ok(Outcome::Ignored(
                "the body names another shop than X-Shopify-Shop-Domain".into(),
            ));
        }
        if crate::shopify::COMPLIANCE_TOPICS.contains(&topic) {
            return compliance::apply(c, ctx, &self.recs, event);
        }
        let Some(shop) = shops::find_by_domain(c, &event.shop_domain)? else {
            // Not installed through Atelier yet (or erased): the install's backfill brings the data.
            return Ok(Outcome::Ignored("unknown shop".into()));
        };
        let triggered = event.triggered_at.as_deref().and_then(payload::parse_time);
        let body = event.payload.as_slice();
        match topic {
            "orders/create" | "orders/updated" | "orders/paid" | "orders/cancelled" => {
                let applied = learn_order(c, ctx, &self.recs, &shop, topic, body, triggered)?;
                if let OrderApplied::Applied { order, lines } = &applied {
                    flag_order(c, &shop, order, lines)?;
                }
                Ok(applied.outcome())
            }
            "products/create" | "products/update" | "products/delete" => {
                apply_product(c, &self.recs, &shop, topic, body, triggered)
            }
            "collections/create" | "collections/update" | "collections/delete" => {
                collections::apply_webhook(c, &shop.id, topic, body, triggered)
            }
            "customers/update" => {
                let (outcome, report) = customers::apply_update(c, ctx, &shop, body, triggered)?;
                if let Some(r) = report {
                    preferences::prefs::store_marketing_reported(
                        c,
                        &shop.id,
                        r.customer_id,
                        r.email_state.as_deref(),
                        r.email_at,
                    )?;
                }
                Ok(outcome)
            }
            "app/uninstalled" => {
                shops::mark_uninstalled(c, &shop.domain)?;
                collections::stop_syncing(c, &shop.id)?;
                self.storefront_shops.forget(|d| d == &shop.domain);
                tracing::info!(shop = %shop.domain, "app uninstalled: token deleted");
                Ok(Outcome::Applied)
            }
            "app/scopes_update" => {
                let granted = payload::granted_scopes(body)
                    .ok_or_else(|| SyncError::malformed(topic, "no `current` scope list"))?;
                shops::set_scopes(c, &shop.id, &granted.join(","))?;
                let released = writeback::release_held(c, &shop.id, &granted)?;
                if writeback::may_write(&granted, writeback::WEB_PIXEL) {
                    // A grant of the pixel's scopes activates it (idempotent if it is).
                    let reason = triggered.map_or_else(|| granted.join(","), |t| t.to_string());
                    writeback::pixel_wanted(c, &shop.id, &reason)?;
                }
                tracing::info!(shop = %shop.domain, released, "granted scopes changed");
                Ok(Outcome::Applied)
            }
            other => Ok(Outcome::Ignored(format!("topic {other} is not handled"))),
        }
    }
}

/// An order in the `orders/*` REST shape (a webhook, a backfilled page, an import): stored, then
/// learned from by the recommendation model, in the caller's transaction.
pub fn apply_order(
    c: &mut DbConnection,
    ctx: &SyncContext,
    recs: &Recommender,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<Outcome, SyncError> {
    Ok(learn_order(c, ctx, recs, shop, topic, body, triggered)?.outcome())
}

fn learn_order(
    c: &mut DbConnection,
    ctx: &SyncContext,
    recs: &Recommender,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<OrderApplied, SyncError> {
    let applied = orders::apply_webhook(c, ctx, shop, topic, body, triggered)?;
    if let OrderApplied::Applied { order, lines } = &applied {
        recommendations::apply_order(c, recs, order, lines)?;
    }
    Ok(applied)
}

/// A live order whose personalized lines failed their check is flagged in the store too (a tag
/// and a note the merchant sees in Shopify's admin). Backfilled and imported orders are not:
/// the merchant reviews history in Atelier, not by a wave of tags on old orders.
fn flag_order(
    c: &mut DbConnection,
    shop: &Shop,
    order: &orders::Order,
    lines: &[orders::LineItem],
) -> Result<(), SyncError> {
    let flagged: Vec<writeback::FlaggedLine> = lines
        .iter()
        .filter(|l| {
            l.verdict
                .as_deref()
                .is_some_and(crate::personalization::verify::flagged)
        })
        .map(|l| writeback::FlaggedLine {
            position: l.position,
            title: l.title.clone(),
            verdict: l.verdict.clone().unwrap_or_default(),
            expected_cents: l.expected_cents,
            charged_cents: l.charged_cents,
        })
        .collect();
    writeback::order_flagged(
        c,
        &shop.id,
        order.order_id,
        &order.name,
        &order.currency,
        &flagged,
    )?;
    Ok(())
}

/// A product in the `products/*` REST shape: stored, then recommendations read it again (at once
/// on this instance, within a second on the others).
pub fn apply_product(
    c: &mut DbConnection,
    recs: &Recommender,
    shop: &Shop,
    topic: &str,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<Outcome, SyncError> {
    let id = serde_json::from_slice::<payload::DeletedPayload>(body)
        .ok()
        .map(|p| p.id);
    // What was stored before the update: a price drop or a return to stock is a change of it.
    let before = match id {
        Some(id) if topic == "products/update" => {
            followups::triggers::product_state(c, &shop.id, id)?
        }
        _ => None,
    };
    let outcome = if topic == "products/delete" {
        if let Some(id) = id {
            // A deleted product leaves every collection's grid at once.
            collections::forget_product(c, &shop.id, id)?;
        }
        products::apply_delete(c, shop, body)?
    } else {
        products::apply_update(c, shop, topic, body, triggered)?
    };
    if matches!(outcome, Outcome::Applied) {
        followups::triggers::product_changed(c, &shop.id, &shop.domain, before)?;
    }
    if let Some(id) = id {
        recs.catalogue_changed(c, &shop.id, &[id])?;
    }
    Ok(outcome)
}
