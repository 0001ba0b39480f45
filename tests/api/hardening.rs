//! Smaller robustness guarantees: shop-level deliveries that disagree with their header, blocked
//! words that cannot be checked, amounts that overflow, concurrent template edits, and how long
//! shopper images may be cached.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const OTHER: &str = "other-shop.myshopify.com";
const PRODUCT: i64 = 6161;

fn engraving_template() -> Value {
    json!({
        "name": "Engraving",
        "product_ids": [PRODUCT.to_string()],
        "fields": [{"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 20}]
    })
}

#[tokio::test]
async fn shop_level_deliveries_naming_another_shop_are_acknowledged_and_ignored() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let resp = app
        .api_send(
            Method::POST,
            "/api/templates",
            SHOP,
            Some(&engraving_template()),
        )
        .await;
    assert_eq!(resp.status(), 201);

    // Authentic deliveries (the HMAC holds) whose body is about another shop: `200`, so Shopify
    // does not send the same mismatch again for hours, and neither shop is touched.
    for (topic, body) in [
        (
            "app/uninstalled",
            json!({"id": 1, "domain": "candles.example", "myshopify_domain": OTHER}),
        ),
        ("shop/redact", json!({"shop_id": 1, "shop_domain": OTHER})),
    ] {
        let resp = app.post_webhook(&Delivery::new(topic, SHOP, &body)).await;
        assert_eq!(resp.status(), 200, "{topic}");
    }
    app.drain().await;
    let shop = app.shop_row(SHOP).expect("the shop is still there");
    assert!(shop.installed && shop.has_token(), "not uninstalled");
    assert_eq!(app.table_count("templates"), 1, "nothing erased");
    let states: Vec<String> = app.inbox_rows().into_iter().map(|r| r.1).collect();
    assert_eq!(states, ["ignored", "ignored"]);
    let requests: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let redact = requests["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["topic"] == "shop/redact")
        .expect("the request is on record");
    assert_eq!(redact["state"], "failed", "{redact}");

    // The same deliveries naming the header's shop (or no shop) act as before.
    app.deliver(&Delivery::new(
        "app/uninstalled",
        SHOP,
        &json!({"id": 1, "myshopify_domain": SHOP}),
    ))
    .await;
    app.drain().await;
    assert!(!app.shop_row(SHOP).unwrap().installed);
}
