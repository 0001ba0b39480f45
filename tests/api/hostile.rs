//! Hostile storefront input: a shopper controls every personalize value, so no value may keep
//! a worker busy. Each request here must get its normal 4xx answer promptly.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const PRODUCT: i64 = 4242;

/// A number field, and a second field shown only for one number, so the value is read both
/// for visibility and for validation.
fn number_template() -> Value {
    json!({
        "name": "Size",
        "product_ids": [PRODUCT.to_string()],
        "fields": [
            {"key": "size", "label": "Size", "type": "number", "required": true, "min": 4, "max": 13, "step": 0.25},
            {"key": "note", "label": "Note", "type": "text", "show_if": {"field": "size", "equals": [7, "8.5"]}}
        ]
    })
}

/// Literals whose exponent or digit count is far out of range.
pub const HOSTILE_NUMBERS: &[&str] = &[
    "0e2147483647",
    "0e-2147483647",
    "1e2147483647",
    "1e-2147483648",
    "0.0e-2147483648",
    "-0e-9223372036854775808",
    "1e99999999999999999999999999",
];

#[tokio::test]
async fn huge_exponents_get_a_prompt_validation_error() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let resp = app
        .api_send(
            Method::POST,
            "/api/templates",
            SHOP,
            Some(&number_template()),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let url = app.proxy_url(&format!("/products/{PRODUCT}/personalize"), SHOP, None);

    // A sane value goes through, so the refusals below are about the values.
    let ok = app
        .client
        .post(&url)
        .json(&json!({"values": {"size": "7", "note": "hi"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap());

    for value in HOSTILE_NUMBERS {
        let started = Instant::now();
        let resp = app
            .client
            .post(&url)
            .timeout(Duration::from_secs(5))
            .json(&json!({"values": {"size": value}}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{value}: {e}"));
        let elapsed = started.elapsed();
        assert_eq!(resp.status(), 422, "{value}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["valid"], false);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "values.size", "{value}");
        assert_eq!(body["errors"][0]["code"], "not_a_number", "{value}");
        assert!(
            elapsed < Duration::from_millis(500),
            "{value} took {elapsed:?}"
        );
    }

    // The same literals as raw JSON numbers: refused by the JSON reader or as a number, a 4xx
    // either way, never a 5xx or a stall.
    for value in HOSTILE_NUMBERS {
        let started = Instant::now();
        let resp = app
            .client
            .post(&url)
            .timeout(Duration::from_secs(5))
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"values":{{"size":{value}}}}}"#))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{value}: {e}"));
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "{value}: {status}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{value}: {body}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{value} took {:?}",
            started.elapsed()
        );
    }
}
