//! One delivery: the body in the shop's format, its signature, the HTTP call.
//!
//! Headers of every attempt (the README documents how a receiver verifies them):
//!
//! - `X-Atelier-Event-Id`: the event's id, the same on every attempt (and `Idempotency-Key`);
//! - `X-Atelier-Event-Type`: `price_drop`, `back_in_stock` or `abandoned_personalization`;
//! - `X-Atelier-Timestamp`: Unix seconds of this attempt;
//! - `X-Atelier-Signature`: `v1=` + hex HMAC-SHA256, keyed with the shop's signing secret, over
//!   `TIMESTAMP + "." + BODY` (the raw bytes);
//! - `klaviyo` format: `revision`, and `Authorization: Klaviyo-API-Key KEY` when the merchant
//!   saved a private key (so the destination can be Klaviyo's own `POST /api/events`).

use serde_json::{Value, json};

use super::outbox::Claimed;
use crate::db::rfc3339;

/// Klaviyo's API revision the `klaviyo` format follows (Create Event, `POST /api/events`).
pub const KLAVIYO_REVISION: &str = "2025-01-15";

/// The event's name in Klaviyo (its metric).
fn metric_name(kind: &str) -> &'static str {
    match kind {
        super::PRICE_DROP => "Atelier Price Drop",
        super::BACK_IN_STOCK => "Atelier Back in Stock",
        _ => "Atelier Abandoned Personalization",
    }
}

/// The body for `format` (`webhook` or `klaviyo`).
pub fn body(format: &str, ev: &Claimed, shop_domain: &str, channel: &str) -> Vec<u8> {
    let data: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
    let created = rfc3339(ev.created_at);
    let customer = ev.customer_id.to_string();
    let doc = if format == "klaviyo" {
        let mut properties = data.as_object().cloned().unwrap_or_default();
        properties.insert("atelier_event_id".into(), json!(ev.id));
        properties.insert("atelier_event_type".into(), json!(ev.kind));
        properties.insert("shop".into(), json!(shop_domain));
        properties.insert("channel".into(), json!(channel));
        json!({
            "data": {
                "type": "event",
                "attributes": {
                    "properties": properties,
                    "time": created,
                    "unique_id": ev.id,
                    "metric": {"data": {"type": "metric", "attributes": {"name": metric_name(&ev.kind)}}},
                    "profile": {"data": {"type": "profile", "attributes": {"external_id": customer}}},
                }
            }
        })
    } else {
        json!({
            "id": ev.id,
            "type": ev.kind,
            "created_at": created,
            "shop": shop_domain,
            "customer_id": customer,
            "channel": channel,
            "data": data,
        })
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// `v1=` + hex HMAC-SHA256 over `timestamp + "." + body`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!(
        "v1={}",
        hex::encode(crate::crypto::hmac_sha256(secret.as_bytes(), &message))
    )
}

/// Sends one attempt. `Ok` on a 2xx answer; otherwise a short reason (status or the kind of
/// transport failure, never the receiver's body).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    format: &str,
    ev: &Claimed,
    body: Vec<u8>,
    secret: &str,
    klaviyo_key: Option<&str>,
) -> Result<u16, String> {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Atelier-Event-Id", &ev.id)
        .header("Idempotency-Key", &ev.id)
        .header("X-Atelier-Event-Type", &ev.kind)
        .header("X-Atelier-Timestamp", timestamp.to_string())
        .header("X-Atelier-Signature", signature(secret, timestamp, &body));
    if format == "klaviyo" {
        req = req
            .header("revision", KLAVIYO_REVISION)
            .header("Accept", "application/vnd.api+json");
        if let Some(key) = klaviyo_key
            && let Ok(mut value) =
                reqwest::header::HeaderValue::from_str(&format!("Klaviyo-API-Key {key}"))
        {
            // Kept out of any debug output of the request.
            value.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, value);
        }
    }
    match req.body(body).send().await {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("timeout".into()),
        Err(e) if e.is_connect() => Err("connection failed".into()),
        Err(_) => Err("request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_over_timestamp_dot_body() {
        // Independently: HMAC-SHA256("secret", "1700000000.{}").
        let sig = signature("secret", 1_700_000_000, b"{}");
        assert!(sig.starts_with("v1="));
        assert_eq!(sig.len(), 3 + 64);
        assert_eq!(sig, signature("secret", 1_700_000_000, b"{}"));
        assert_ne!(sig, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(sig, signature("other", 1_700_000_000, b"{}"));
    }
}
