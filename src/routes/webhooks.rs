//! `POST /webhooks`: one endpoint for every topic.
//!
//! The raw body is read (at most 5 MiB) and its HMAC checked before anything is parsed; then
//! the delivery is committed to the inbox and acknowledged. Nothing else happens on this path,
//! so Shopify's 5-second deadline is never at risk.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::db::{new_id, now};
use crate::error::{AppError, AppResult};
use crate::inbox::{NewEvent, STATE_PENDING};
use crate::shopify::delivery;
use crate::shopify::{COMPLIANCE_TOPICS, WEBHOOK_TOPICS};
use crate::state::AppState;

pub const MAX_WEBHOOK_BYTES: usize = 5 * 1024 * 1024;

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    delivery::value(req.headers().get(name).and_then(|v| v.to_str().ok()))
}

pub async fn receive(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let too_large = || AppError::payload_too_large(MAX_WEBHOOK_BYTES);
    let declared = header(&req, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_WEBHOOK_BYTES) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192).min(MAX_WEBHOOK_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            AppError::bad_request("unreadable_body", "The request body could not be read.")
        })?;
        if body.len() + chunk.len() > MAX_WEBHOOK_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }

    // Authenticity first: nothing about the request is believed before the HMAC verifies.
    let headers = delivery::verify(
        |name| req.headers().get(name).and_then(|v| v.to_str().ok()),
        &body,
        &state.signatures,
    )
    .map_err(|refusal| {
        let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
        AppError::new(status, refusal.code(), refusal.message())
    })?;
    let (topic, shop) = (headers.topic.as_str(), &headers.shop);
    crate::telemetry::record_shop(shop.as_str());

    if !WEBHOOK_TOPICS.contains(&topic) && !COMPLIANCE_TOPICS.contains(&topic) {
        tracing::debug!(topic, "webhook topic not handled; acknowledged");
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ignored" })));
    }
    let received_at = now();
    let event = NewEvent {
        id: new_id(),
        webhook_id: headers.webhook_id.clone(),
        shop_domain: shop.as_str().to_owned(),
        topic: topic.to_owned(),
        api_version: Some(headers.api_version.clone()),
        event_id: headers.event_id.clone(),
        triggered_at: headers.triggered_at.clone(),
        payload: body.to_vec(),
        received_at,
        state: STATE_PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: received_at,
    };
    let fresh = state.inbox.insert(event).await?;
    Ok(HttpResponse::build(StatusCode::OK)
        .json(serde_json::json!({ "status": if fresh { "accepted" } else { "duplicate" } })))
}
