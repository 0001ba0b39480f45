//! Behaviour CONTRACT.md fixes that is easy to get subtly wrong: optional swatch colors, the
//! preference key rule, what a preference `422` says, which customer ids are ids, and the error
//! JSON on every refusal (actix's own included).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const PRODUCT: i64 = 5151;
const ANNA: i64 = 7_710_000_000_000_123;

#[tokio::test]
async fn a_swatch_option_without_a_color_is_accepted_and_shows_its_label() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let template = json!({
        "name": "Ribbon",
        "product_ids": [PRODUCT.to_string()],
        "fields": [{"key": "ribbon", "label": "Ribbon", "type": "swatch", "required": true, "options": [
            {"value": "plain", "label": "Plain"},
            {"value": "gold", "label": "Gold", "color": "#d4af37", "price_cents": 150}
        ]}]
    });
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&template))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());

    let fields: Value = app
        .client
        .get(app.proxy_url(&format!("/products/{PRODUCT}/fields"), SHOP, None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let options = &fields["fields"][0]["options"];
    assert_eq!(options[0]["label"], "Plain");
    assert!(options[0].get("color").is_none_or(Value::is_null));

    let resp = app
        .client
        .post(app.proxy_url(&format!("/products/{PRODUCT}/personalize"), SHOP, None))
        .json(&json!({"values": {"ribbon": "plain"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["properties"][0],
        json!({"name": "Ribbon", "value": "Plain"})
    );
    assert_eq!(body["price_cents"], 0);
}

async fn put_settings(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .api_send(Method::PUT, "/api/preference-center", SHOP, Some(body))
        .await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn put_prefs(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(ANNA)))
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn preference_keys_follow_the_contracts_rule_dashes_included() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let long = "k".repeat(64);
    let (status, body) = put_settings(
        &app,
        &json!({
            "size_categories": [{"key": "shoe-sizes", "label": "Shoes", "sizes": ["38", "39"]}],
            "interests": [{"key": "home-decor", "label": "Home decor"}, {"key": long, "label": "Long"}],
            "frequencies": ["twice-a-month"]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["interests"][0]["key"], "home-decor");

    let (status, body) = put_prefs(
        &app,
        &json!({
            "sizes": {"shoe-sizes": "39"},
            "interests": ["home-decor"],
            "communication": {"frequency": "twice-a-month"}
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sizes"], json!({"shoe-sizes": "39"}));
    assert_eq!(body["interests"], json!(["home-decor"]));
    assert_eq!(body["communication"]["frequency"], "twice-a-month");

    // Still refused: upper case, spaces, over 64 characters.
    let (status, body) = put_settings(
        &app,
        &json!({"interests": [
            {"key": "Home-Decor", "label": "A"},
            {"key": "home decor", "label": "B"},
            {"key": "k".repeat(65), "label": "C"}
        ]}),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["interests[0].key", "interests[1].key", "interests[2].key"]
    );
}

#[tokio::test]
async fn a_preference_422_names_each_refused_value_in_its_message() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, body) = put_prefs(
        &app,
        &json!({
            "sizes": {"shoes": "49", "capes": "M"},
            "interests": ["sale", "yachts"],
            "communication": {"frequency": "hourly"}
        }),
    )
    .await;
    assert_eq!(status, 422);
    let errors: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let message_at = |path: &str| {
        errors
            .iter()
            .find(|(f, _)| f == path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors:?}"))
            .1
            .clone()
    };
    let shoes = message_at("sizes.shoes");
    assert!(shoes.contains("49") && shoes.contains("Shoes"), "{shoes}");
    assert!(message_at("sizes.capes").contains("capes"));
    assert!(message_at("interests[1]").contains("yachts"));
    assert!(message_at("communication.frequency").contains("hourly"));
}

#[tokio::test]
async fn a_customer_id_that_is_not_a_positive_64_bit_integer_is_a_400() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let get = |customer: &str| {
        let q = proxy_query_with_customer(SHOP, customer);
        app.client
            .get(app.url(&format!("/proxy/preferences?{q}")))
            .send()
    };
    assert_eq!(get(&ANNA.to_string()).await.unwrap().status(), 200);
    for bad in [
        "-1",
        "0",
        "+7",
        "9223372036854775808",
        "12abc",
        " 7",
        "-9223372036854775808",
    ] {
        let resp = get(bad).await.unwrap();
        assert_eq!(resp.status(), 400, "{bad:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_customer", "{bad:?}");
    }
}

/// An app-proxy query signed for any `logged_in_customer_id` text, as Shopify would sign it.
fn proxy_query_with_customer(shop: &str, customer: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let params = [
        ("logged_in_customer_id", customer.to_owned()),
        ("path_prefix", "/apps/atelier".to_owned()),
        ("shop", shop.to_owned()),
        ("timestamp", now().to_string()),
    ];
    let mut parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(API_SECRET.as_bytes()).unwrap();
    mac.update(parts.concat().as_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .append_pair("signature", &hex::encode(mac.finalize().into_bytes()))
        .finish()
}

async fn assert_error_json(resp: reqwest::Response, status: u16, code: &str, case: &str) {
    assert_eq!(resp.status().as_u16(), status, "{case}");
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{case}: {content_type}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() > 5,
        "{case}"
    );
}

#[tokio::test]
async fn size_limit_refusals_answer_the_error_json_on_every_route() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let events = app.proxy_url("/events", SHOP, None);
    let event = |padding: usize| {
        json!({"type": "view", "product_id": "1", "session_id": "s1", "pad": "x".repeat(padding)})
            .to_string()
    };
    for (case, size) in [
        ("over the event limit", 8 * 1024),
        ("over 256 KiB", 300 * 1024),
    ] {
        let resp = app
            .client
            .post(&events)
            .header("Content-Type", "application/json")
            .body(event(size))
            .send()
            .await
            .unwrap();
        assert_error_json(resp, 413, "payload_too_large", case).await;
    }
    let ok = app
        .client
        .post(&events)
        .header("Content-Type", "application/json")
        .body(event(0))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);

    // The typed JSON routes and the webhook intake, for completeness.
    let big = json!({"name": "x".repeat(2 * 1024 * 1024), "fields": [], "product_ids": []});
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&big))
        .await;
    assert_error_json(resp, 413, "payload_too_large", "/api over 1 MiB").await;
    let resp = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(ANNA)))
        .json(&json!({"interests": ["x".repeat(300 * 1024)]}))
        .send()
        .await
        .unwrap();
    assert_error_json(resp, 413, "payload_too_large", "/proxy over 256 KiB").await;

    // A method a route does not take is refused by actix itself: JSON too.
    let resp = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert!(resp.status().is_client_error());
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{status}: {body}");
}
