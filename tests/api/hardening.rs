//! Smaller robustness guarantees: shop-level deliveries that disagree with their header, blocked
//! words that cannot be checked, amounts that overflow, concurrent template edits, and how long
//! shopper images may be cached.

use std::time::Duration;

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

#[tokio::test]
async fn blocked_words_that_do_not_compile_refuse_text_instead_of_passing_it() {
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
    // A list far beyond what the matcher can compile, stored as an older version could have.
    let words: Vec<String> = (0..20_000)
        .map(|i| format!("{}{i:08}", "wordy".repeat(11)))
        .collect();
    let shop_id = app.shop_row(SHOP).unwrap().id;
    {
        let mut c = app.state.db.conn().unwrap();
        let change = atelier::personalization::policy::Change {
            blocked_words: Some(words),
            fee_variant_id: None,
        };
        atelier::personalization::policy::put(&mut c, &shop_id, change).unwrap();
    }
    let resp = app
        .client
        .post(app.proxy_url(&format!("/products/{PRODUCT}/personalize"), SHOP, None))
        .json(&json!({"values": {"engraving": "For Anna"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "blocked_word", "{body}");
}

#[tokio::test]
async fn an_order_whose_amounts_overflow_is_refused_clearly_not_wrapped() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let mut order = order_payload(
        9001,
        None,
        "2026-11-01T10:05:00-05:00",
        &[(90011, 42, 1, "10.00")],
    );
    // A hundred allocations of about 10^15 dollars each: more cents than 64 bits hold.
    order["line_items"][0]["discount_allocations"] =
        json!(vec![json!({"amount": "999999999999999.99"}); 100]);
    app.deliver(&Delivery::new("orders/create", SHOP, &order))
        .await;
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows[0].1, "dead", "refused for good, not retried forever");
    let error = rows[0].3.clone().unwrap_or_default();
    assert!(error.contains("out of range"), "{error}");
    assert_eq!(app.table_count("orders"), 0);
}

#[tokio::test]
async fn concurrent_edits_of_one_template_each_get_their_own_version() {
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
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/templates/{id}");
    let edits = (0..8).map(|i| {
        let mut body = engraving_template();
        body["name"] = json!(format!("Engraving {i}"));
        let req = app
            .client
            .put(app.url(&path))
            .bearer_auth(app.session_token(SHOP))
            .json(&body);
        async move { req.send().await.unwrap() }
    });
    let answers = futures_util::future::join_all(edits).await;
    let mut versions = Vec::new();
    for resp in answers {
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        versions.push(body["version"].as_i64().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>());
    let t: Value = app.api_get(&path, SHOP).await.json().await.unwrap();
    assert_eq!(t["version"], 9);
}

#[tokio::test]
async fn uploads_are_cached_privately_and_briefly() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([200, 30, 30, 255]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let part = reqwest::multipart::Part::bytes(png.into_inner())
        .file_name("me.png")
        .mime_str("image/png")
        .unwrap();
    let resp = app
        .client
        .post(app.proxy_url("/uploads", SHOP, None))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.unwrap()["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app.get(&format!("/uploads/{id}")).await;
    assert_eq!(got.status(), 200);
    let cache = got.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(!cache.contains("immutable"), "{cache}");
    assert!(cache.contains("private"), "{cache}");
    let max_age: u64 = cache
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cache}"));
    assert!(
        Duration::from_secs(max_age) <= Duration::from_secs(3600),
        "{cache}"
    );
    // The revalidation answer carries the same policy.
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url(&format!("/uploads/{id}")))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["cache-control"], cache.as_str());
}
