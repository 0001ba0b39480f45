//! Mandatory compliance webhooks: `customers/data_request` exports everything
//! Atelier stores about a customer, `customers/redact` erases it, `shop/redact` erases the shop.
//!
//! **Adding a table that holds customer data?** Add a [`CustomerDataSource`] to
//! [`CUSTOMER_DATA`] (`sources.rs`): the export and the redaction both walk that one list, and a test checks
//! that after a redaction no row mentions the customer. Tables with a `shop_id` foreign key
//! `ON DELETE CASCADE` are erased by `shop/redact` without further work.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::PrimitiveDateTime;

use crate::db::schema::{
    compliance_requests, oauth_nonces, redacted_customers, shops, webhook_inbox,
};
use crate::db::{DbConnection, now, rfc3339};
use crate::inbox::{ClaimedEvent, NewEvent};
use crate::per_backend;
use crate::recommendations::Recommender;
use crate::shopify::payload::{DataRequestPayload, RedactPayload, parse_id};
use crate::sync::{Outcome, SyncContext, SyncError};

mod sources;

pub use sources::{CUSTOMER_DATA, CustomerDataSource};

pub const STATE_RECEIVED: &str = "received";
pub const STATE_COMPLETED: &str = "completed";
pub const STATE_FAILED: &str = "failed";

/// The export object: the contract's members, filled by every source.
pub fn export_customer(
    c: &mut DbConnection,
    shop_id: Option<&str>,
    customer_id: i64,
) -> QueryResult<Value> {
    let mut out = Map::new();
    out.insert("customer_id".into(), Value::String(customer_id.to_string()));
    for (key, empty) in [
        ("orders", json!([])),
        ("preferences", Value::Null),
        ("consent_history", json!([])),
        ("saved", json!([])),
        ("events", json!([])),
        ("wishlist", json!([])),
    ] {
        out.insert(key.into(), empty);
    }
    if let Some(shop_id) = shop_id {
        for source in CUSTOMER_DATA {
            out.insert(source.key.into(), (source.export)(c, shop_id, customer_id)?);
        }
    }
    Ok(Value::Object(out))
}

/// What compliance adds to the webhook queue: a request is on record (state `received`) from the
/// moment Shopify gets its `200`, and marked `failed` when its delivery is dead-lettered.
pub const INBOX_HOOKS: crate::inbox::Hooks = crate::inbox::Hooks {
    stored: |c, event| {
        if crate::shopify::COMPLIANCE_TOPICS.contains(&event.topic.as_str()) {
            record_received(c, event)?;
        }
        Ok(())
    },
    dead: mark_failed,
};

/// A compliance request whose delivery was dead-lettered (no row for other topics).
fn mark_failed(c: &mut DbConnection, event: &ClaimedEvent, error: &str) -> QueryResult<()> {
    diesel::update(compliance_requests::table.find(&event.id))
        .set((
            compliance_requests::state.eq(STATE_FAILED),
            compliance_requests::error.eq(Some(error)),
        ))
        .execute(c)?;
    Ok(())
}

/// A compliance request that will not be acted on, on record as `failed` with the reason (so
/// the merchant's list shows it was not carried out).
pub fn refuse(c: &mut DbConnection, event: &ClaimedEvent, reason: &str) -> QueryResult<()> {
    mark_failed(c, event, reason)
}

/// The request is on record as `received` before Shopify's 200.
pub fn record_received(c: &mut DbConnection, event: &NewEvent) -> QueryResult<()> {
    let body: Value = serde_json::from_slice(&event.payload).unwrap_or(Value::Null);
    let customer_id = body.pointer("/customer/id").and_then(parse_id);
    let request_id = body.pointer("/data_request/id").and_then(parse_id);
    per_backend!(c, |c| diesel::insert_into(compliance_requests::table)
        .values((
            compliance_requests::id.eq(&event.id),
            compliance_requests::shop_domain.eq(&event.shop_domain),
            compliance_requests::topic.eq(&event.topic),
            compliance_requests::customer_id.eq(customer_id),
            compliance_requests::shopify_request_id.eq(request_id),
            compliance_requests::webhook_id.eq(&event.webhook_id),
            compliance_requests::received_at.eq(event.received_at),
            compliance_requests::state.eq(STATE_RECEIVED),
        ))
        .on_conflict(compliance_requests::id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

fn complete(
    c: &mut DbConnection,
    id: &str,
    export: Option<String>,
    customer: Option<(Option<i64>, Option<String>)>,
) -> QueryResult<()> {
    let target = compliance_requests::table.find(id);
    diesel::update(target)
        .set((
            compliance_requests::state.eq(STATE_COMPLETED),
            compliance_requests::completed_at.eq(Some(now())),
            compliance_requests::export.eq(export),
            compliance_requests::error.eq(None::<String>),
        ))
        .execute(c)?;
    if let Some((customer_id, customer_ref)) = customer {
        diesel::update(target)
            .set((
                compliance_requests::customer_id.eq(customer_id),
                compliance_requests::customer_ref.eq(customer_ref),
            ))
            .execute(c)?;
    }
    Ok(())
}

fn shop_id_of(c: &mut DbConnection, domain: &str) -> QueryResult<Option<(String, bool)>> {
    shops::table
        .filter(shops::domain.eq(domain))
        .select((shops::id, shops::installed))
        .first(c)
        .optional()
}

pub fn apply(
    c: &mut DbConnection,
    ctx: &SyncContext,
    recs: &Recommender,
    event: &ClaimedEvent,
) -> Result<Outcome, SyncError> {
    // A request received before this code recorded it (or recorded by an older version).
    let missing: Option<String> = compliance_requests::table
        .find(&event.id)
        .select(compliance_requests::id)
        .first(c)
        .optional()?;
    if missing.is_none() {
        record_received(
            c,
            &NewEvent {
                id: event.id.clone(),
                webhook_id: event.webhook_id.clone(),
                shop_domain: event.shop_domain.clone(),
                topic: event.topic.clone(),
                api_version: None,
                event_id: None,
                triggered_at: None,
                payload: event.payload.clone(),
                received_at: now(),
                state: String::new(),
                attempts: 0,
                next_attempt_at: now(),
            },
        )?;
    }
    let shop = shop_id_of(c, &event.shop_domain)?;
    match event.topic.as_str() {
        "customers/data_request" => {
            let p: DataRequestPayload = serde_json::from_slice(&event.payload)
                .map_err(|e| SyncError::malformed(&event.topic, e))?;
            let export = match p.customer.and_then(|c| c.id) {
                Some(customer_id) => {
                    export_customer(c, shop.as_ref().map(|s| s.0.as_str()), customer_id)?
                }
                // Only an email: Atelier stores no emails, so nothing can be about this person.
                None => {
                    json!({"customer_id": null, "orders": [], "preferences": null, "consent_history": [], "saved": [], "events": []})
                }
            };
            complete(c, &event.id, Some(export.to_string()), None)?;
            Ok(Outcome::Applied)
        }
        "customers/redact" => {
            let p: RedactPayload = serde_json::from_slice(&event.payload)
                .map_err(|e| SyncError::malformed(&event.topic, e))?;
            let Some(customer_id) = p.customer.and_then(|c| c.id) else {
                complete(c, &event.id, None, None)?;
                return Ok(Outcome::Applied);
            };
            let orders: Vec<i64> = p.orders_to_redact.iter().filter_map(parse_id).collect();
            redact_customer(
                c,
                ctx,
                recs,
                &event.shop_domain,
                shop.as_ref().map(|s| s.0.as_str()),
                customer_id,
                &orders,
            )?;
            let r = crate::customers::customer_ref(ctx, &event.shop_domain, customer_id);
            complete(c, &event.id, None, Some((None, Some(r))))?;
            Ok(Outcome::Applied)
        }
        "shop/redact" => {
            match shop {
                Some((_, true)) => {
                    // Reinstalled since the uninstall that scheduled this erasure.
                    complete(c, &event.id, None, None)?;
                    return Ok(Outcome::Ignored(
                        "shop is installed again; nothing erased".into(),
                    ));
                }
                Some((shop_id, false)) => redact_shop(c, &event.shop_domain, &shop_id, &event.id)?,
                None => redact_shop_rows(c, &event.shop_domain, &event.id)?,
            }
            complete(c, &event.id, None, None)?;
            Ok(Outcome::Applied)
        }
        other => Ok(Outcome::Ignored(format!(
            "{other} is not a compliance topic"
        ))),
    }
}

fn redact_customer(
    c: &mut DbConnection,
    ctx: &SyncContext,
    recs: &Recommender,
    shop_domain: &str,
    shop_id: Option<&str>,
    customer_id: i64,
    orders: &[i64],
) -> QueryResult<()> {
    if let Some(shop_id) = shop_id {
        // Recommendation lists may derive from the shopper's data: every instance drops the
        // shop's lists (this one at once), first in the transaction like any model change.
        recs.model_reset(c, shop_id)?;
        for source in CUSTOMER_DATA {
            (source.redact)(c, shop_id, customer_id, orders)?;
        }
    }
    let r = crate::customers::customer_ref(ctx, shop_domain, customer_id);
    // Earlier exports of this customer go, and no request row names them any more.
    diesel::update(
        compliance_requests::table
            .filter(compliance_requests::shop_domain.eq(shop_domain))
            .filter(compliance_requests::customer_id.eq(customer_id)),
    )
    .set((
        compliance_requests::export.eq(None::<String>),
        compliance_requests::customer_id.eq(None::<i64>),
        compliance_requests::customer_ref.eq(Some(&r)),
    ))
    .execute(c)?;
    // Failed deliveries kept for inspection may carry the customer's personal data.
    let kept: Vec<(String, Vec<u8>)> = webhook_inbox::table
        .filter(webhook_inbox::shop_domain.eq(shop_domain))
        .filter(webhook_inbox::state.eq(crate::inbox::STATE_DEAD))
        .select((webhook_inbox::id, webhook_inbox::payload))
        .load(c)?;
    for (id, payload) in kept {
        if payload_mentions_customer(&payload, customer_id) {
            diesel::update(webhook_inbox::table.find(id))
                .set((
                    webhook_inbox::payload.eq(Vec::<u8>::new()),
                    webhook_inbox::note.eq(Some("payload erased by customers/redact")),
                ))
                .execute(c)?;
        }
    }
    crate::customers::add_tombstone(c, shop_domain, &r)?;
    Ok(())
}

fn payload_mentions_customer(payload: &[u8], customer_id: i64) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(payload) else {
        // Unreadable: cannot prove it does not mention them.
        return !payload.is_empty();
    };
    fn walk(v: &Value, id: i64) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "id" || k == "customer_id") && parse_id(v) == Some(id) || walk(v, id)
            }),
            Value::Array(a) => a.iter().any(|v| walk(v, id)),
            _ => false,
        }
    }
    walk(&v, customer_id)
}

fn redact_shop(
    c: &mut DbConnection,
    domain: &str,
    shop_id: &str,
    this_event: &str,
) -> QueryResult<()> {
    // Every table with a shop_id foreign key goes with the shop (ON DELETE CASCADE).
    diesel::delete(shops::table.find(shop_id)).execute(c)?;
    redact_shop_rows(c, domain, this_event)
}

fn redact_shop_rows(c: &mut DbConnection, domain: &str, this_event: &str) -> QueryResult<()> {
    diesel::delete(
        webhook_inbox::table
            .filter(webhook_inbox::shop_domain.eq(domain))
            .filter(webhook_inbox::id.ne(this_event)),
    )
    .execute(c)?;
    // The record that the shop was erased stays; nothing personal is in it.
    diesel::delete(
        compliance_requests::table
            .filter(compliance_requests::shop_domain.eq(domain))
            .filter(compliance_requests::topic.ne("shop/redact")),
    )
    .execute(c)?;
    diesel::delete(redacted_customers::table.filter(redacted_customers::shop_domain.eq(domain)))
        .execute(c)?;
    // The install attempts' nonces name the shop too.
    diesel::delete(oauth_nonces::table.filter(oauth_nonces::shop_domain.eq(domain))).execute(c)?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct RequestOut {
    pub id: String,
    pub topic: String,
    pub customer_id: Option<String>,
    pub received_at: String,
    pub state: String,
    pub completed_at: Option<String>,
    pub export: Option<Value>,
    pub error: Option<String>,
}

type RequestRow = (
    String,
    String,
    Option<i64>,
    PrimitiveDateTime,
    String,
    Option<PrimitiveDateTime>,
    Option<String>,
    Option<String>,
);

/// The shop's compliance requests, newest first, keyset-paginated by (received_at, id).
pub fn list(
    c: &mut DbConnection,
    shop_domain: &str,
    after: Option<(PrimitiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<(RequestOut, PrimitiveDateTime)>> {
    let mut q = compliance_requests::table
        .filter(compliance_requests::shop_domain.eq(shop_domain))
        .select((
            compliance_requests::id,
            compliance_requests::topic,
            compliance_requests::customer_id,
            compliance_requests::received_at,
            compliance_requests::state,
            compliance_requests::completed_at,
            compliance_requests::export,
            compliance_requests::error,
        ))
        .order((
            compliance_requests::received_at.desc(),
            compliance_requests::id.desc(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            compliance_requests::received_at
                .lt(at)
                .or(compliance_requests::received_at
                    .eq(at)
                    .and(compliance_requests::id.lt(id))),
        );
    }
    let rows: Vec<RequestRow> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, topic, customer_id, received_at, state, completed_at, export, error)| {
                (
                    RequestOut {
                        id,
                        topic,
                        customer_id: customer_id.map(|c| c.to_string()),
                        received_at: rfc3339(received_at),
                        state,
                        completed_at: completed_at.map(rfc3339),
                        export: export.and_then(|e| serde_json::from_str(&e).ok()),
                        error,
                    },
                    received_at,
                )
            },
        )
        .collect())
}
