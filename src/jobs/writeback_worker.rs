//! The write-back worker, on every instance that runs workers: claims due writes under a lease
//! and makes each through the Admin GraphQL API (see `writeback`). The store client waits out
//! `429`s and throttling within its budget; what still fails is retried with backoff, and a
//! write the store refuses (`userErrors`) is a dead letter at once, kept for the merchant.

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::db::new_id;
use crate::error::{AppError, AppResult};
use crate::shopify::{ShopDomain, StoreError};
use crate::shops::{Shop, find_by_id};
use crate::state::AppState;
use crate::writeback::{self, Claimed, FlaggedLine};

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let cfg = state.settings.outbox.clone();
    let worker = format!("writeback-{}", new_id());
    loop {
        if *shutdown.borrow() {
            return;
        }
        let (w, lease) = (worker.clone(), cfg.lease);
        let batch = match state
            .db
            .run_write(move |c| Ok(writeback::claim(c, &w, 16, lease)?))
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = ?e, "write-back claim failed");
                Vec::new()
            }
        };
        let idle = batch.is_empty();
        for w in batch {
            if let Err(e) = process(&state, &worker, w).await {
                tracing::warn!(error = ?e, "write-back result could not be recorded");
            }
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Why one attempt did not make the write.
enum Failure {
    /// The store refused the write itself: retrying cannot help.
    Refused(String),
    /// The store failed or could not be reached: try again later.
    Transient(String),
    /// The merchant has not granted the scope.
    Scope(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            // A revoked token or a missing permission does not heal by waiting.
            StoreError::Rejected { status, .. } if matches!(status, 401 | 403 | 404) => {
                Failure::Refused(format!("the store refused the request (HTTP {status})"))
            }
            other => Failure::Transient(other.to_string()),
        }
    }
}

impl From<AppError> for Failure {
    fn from(e: AppError) -> Self {
        Failure::Transient(e.to_string())
    }
}

async fn process(state: &AppState, worker: &str, w: Claimed) -> AppResult<()> {
    let outcome = attempt(state, &w).await;
    let (wc, wk) = (w.clone(), worker.to_owned());
    let (max, base) = (
        state.settings.outbox.max_attempts,
        state.settings.outbox.backoff,
    );
    state
        .db
        .run_write(move |c| {
            Ok(match outcome {
                Ok(result) => writeback::done(c, &wc.id, &wk, &result)?,
                Err(Failure::Scope(why)) => writeback::hold(c, &wc.id, &wk, &why)?,
                Err(Failure::Refused(why)) => {
                    tracing::info!(write = %wc.id, kind = %wc.kind, error = %why, "store refused a write-back");
                    writeback::failed(c, &wc, &wk, &why, true, max, base)?
                }
                Err(Failure::Transient(why)) => {
                    tracing::info!(write = %wc.id, kind = %wc.kind, attempt = wc.attempts, error = %why, "write-back failed; retried later");
                    writeback::failed(c, &wc, &wk, &why, false, max, base)?
                }
            })
        })
        .await?;
    Ok(())
}

async fn attempt(state: &AppState, w: &Claimed) -> Result<Value, Failure> {
    let shop_id = w.shop_id.clone();
    let shop: Shop = state.db.run(move |c| Ok(find_by_id(c, &shop_id)?)).await?;
    if !shop.installed {
        return Err(Failure::Refused(
            "Atelier is not installed on this shop".into(),
        ));
    }
    if !writeback::may_write(&shop.scope_list(), &w.kind) {
        let scopes = writeback::scopes_for(&w.kind).join(" and ");
        let s = if writeback::scopes_for(&w.kind).len() > 1 {
            "s"
        } else {
            ""
        };
        return Err(Failure::Scope(format!("needs the {scopes} scope{s}")));
    }
    if w.kind == writeback::WEB_PIXEL {
        // Its own idempotent steps (create, or read and update the settings).
        return if crate::jobs::install::activate_pixel(state, &shop).await {
            Ok(json!({ "pixel": "active" }))
        } else {
            Err(Failure::Transient(
                "the web pixel could not be activated".into(),
            ))
        };
    }
    let token = crate::jobs::install::access_token(state, &shop).await?;
    let domain = ShopDomain::parse(&shop.domain).map_err(|e| Failure::Refused(e.to_string()))?;
    match w.kind.as_str() {
        writeback::CONSENT => write_consent(state, &shop, &domain, &token, w.subject_id).await,
        writeback::ORDER_FLAG => write_order_flag(state, &domain, &token, w).await,
        other => Err(Failure::Refused(format!("unknown write {other}"))),
    }
}

const EMAIL_CONSENT: &str = "mutation atelierEmailConsent($input: CustomerEmailMarketingConsentUpdateInput!) { customerEmailMarketingConsentUpdate(input: $input) { customer { id } userErrors { field message } } }";
const SMS_CONSENT: &str = "mutation atelierSmsConsent($input: CustomerSmsMarketingConsentUpdateInput!) { customerSmsMarketingConsentUpdate(input: $input) { customer { id } userErrors { field message } } }";
const ORDER_NOTE: &str = "query atelierOrderNote($id: ID!) { order(id: $id) { id note tags } }";
const TAGS_ADD: &str = "mutation atelierTagOrder($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } } }";
const ORDER_UPDATE: &str = "mutation atelierNoteOrder($input: OrderInput!) { orderUpdate(input: $input) { order { id } userErrors { field message } } }";

/// The first `userErrors` message of `field`'s payload, if any.
fn user_error(data: &Value, field: &str) -> Option<String> {
    data[field]["userErrors"]
        .as_array()
        .and_then(|e| e.first())
        .map(|e| {
            e["message"]
                .as_str()
                .unwrap_or("userError")
                .chars()
                .take(200)
                .collect()
        })
}

async fn write_consent(
    state: &AppState,
    shop: &Shop,
    domain: &ShopDomain,
    token: &str,
    customer_id: i64,
) -> Result<Value, Failure> {
    let shop_id = shop.id.clone();
    let read = state
        .db
        .run(move |c| {
            let contact = crate::preferences::prefs::marketing_contact(c, &shop_id, customer_id)?;
            let store = crate::customers::find(c, &shop_id, customer_id)?;
            Ok((contact, store))
        })
        .await?;
    let (Some(contact), store) = read else {
        // Erased, or never stored: nothing the shopper decided is left to write.
        return Ok(json!({ "skipped": "no preferences" }));
    };
    let (store_email, store_sms) = store
        .map(|s| (s.email_marketing_state, s.sms_marketing_state))
        .unwrap_or_default();
    let plan = writeback::consent_plan(
        contact.marketing,
        contact.marketing && contact.sms,
        contact.changed_at,
        store_email.as_deref(),
        store_sms.as_deref(),
    );
    let gid = format!("gid://shopify/Customer/{customer_id}");
    // Whole seconds: Shopify keeps seconds, and the report it sends back must not look newer
    // than the change the preference center holds.
    let decided = crate::db::rfc3339(
        plan.decided_at
            .replace_nanosecond(0)
            .unwrap_or(plan.decided_at),
    );
    let mut result = json!({ "email": "unchanged", "sms": "unchanged" });
    if let Some(email) = plan.email {
        let input = json!({
            "customerId": gid,
            "emailMarketingConsent": {
                "marketingState": email,
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": decided,
            }
        });
        let data = state
            .store
            .graphql(domain, token, EMAIL_CONSENT, json!({ "input": input }))
            .await?;
        if let Some(e) = user_error(&data, "customerEmailMarketingConsentUpdate") {
            return Err(Failure::Refused(format!("email consent: {e}")));
        }
        result["email"] = json!(email);
    }
    if let Some(sms) = plan.sms {
        let input = json!({
            "customerId": gid,
            "smsMarketingConsent": {
                "marketingState": sms,
                "marketingOptInLevel": "SINGLE_OPT_IN",
                "consentUpdatedAt": decided,
            }
        });
        let data = state
            .store
            .graphql(domain, token, SMS_CONSENT, json!({ "input": input }))
            .await?;
        // A customer without a phone number cannot hold SMS consent: the email part stands,
        // and the refusal is kept in the result.
        result["sms"] = match user_error(&data, "customerSmsMarketingConsentUpdate") {
            Some(e) => json!(format!("refused: {e}")),
            None => json!(sms),
        };
    }
    let shop_id = shop.id.clone();
    let (email, sms) = (
        plan.email,
        plan.sms
            .filter(|_| !result["sms"].as_str().unwrap_or("").starts_with("refused")),
    );
    state
        .db
        .run_write(move |c| {
            Ok(crate::customers::note_written(
                c,
                &shop_id,
                customer_id,
                email.map(|s| {
                    if s == "SUBSCRIBED" {
                        "subscribed"
                    } else {
                        "unsubscribed"
                    }
                }),
                sms.map(|s| {
                    if s == "SUBSCRIBED" {
                        "subscribed"
                    } else {
                        "unsubscribed"
                    }
                }),
            )?)
        })
        .await?;
    Ok(result)
}

async fn write_order_flag(
    state: &AppState,
    domain: &ShopDomain,
    token: &str,
    w: &Claimed,
) -> Result<Value, Failure> {
    let data: Value = serde_json::from_str(&w.data).unwrap_or_default();
    let lines: Vec<FlaggedLine> = serde_json::from_value(data["lines"].clone()).unwrap_or_default();
    let currency = data["currency"].as_str().unwrap_or("USD");
    let gid = format!("gid://shopify/Order/{}", w.subject_id);
    let order = state
        .store
        .graphql(domain, token, ORDER_NOTE, json!({ "id": gid }))
        .await?;
    if order["order"].is_null() {
        return Err(Failure::Refused("the order is not in the store".into()));
    }
    let data = state
        .store
        .graphql(
            domain,
            token,
            TAGS_ADD,
            json!({ "id": gid, "tags": [writeback::ORDER_TAG] }),
        )
        .await?;
    if let Some(e) = user_error(&data, "tagsAdd") {
        return Err(Failure::Refused(format!("tag: {e}")));
    }
    let line = writeback::order_note(currency, &lines);
    let mut noted = false;
    if let Some(note) = writeback::note_with(order["order"]["note"].as_str(), &line) {
        let data = state
            .store
            .graphql(
                domain,
                token,
                ORDER_UPDATE,
                json!({ "input": { "id": gid, "note": note } }),
            )
            .await?;
        if let Some(e) = user_error(&data, "orderUpdate") {
            return Err(Failure::Refused(format!("note: {e}")));
        }
        noted = true;
    }
    Ok(json!({ "tag": writeback::ORDER_TAG, "note_added": noted }))
}
