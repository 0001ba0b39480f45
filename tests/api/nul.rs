//! NUL characters: PostgreSQL's text cannot hold one, SQLite's can. Wherever one arrives (a path,
//! a query, a body, a webhook), both backends must give the same clean answer, never a 500.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123;

async fn refused(resp: reqwest::Response, case: &str) -> Value {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!((400..500).contains(&status), "{case}: {status} {body}");
    assert!(body["error"]["code"].is_string(), "{case}: {body}");
    body
}

#[tokio::test]
async fn a_nul_in_a_path_or_query_is_a_400_on_every_route() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let template = json!({"name": "T", "fields": [], "product_ids": []});
    for (method, path) in [
        (Method::GET, "/api/templates/%00"),
        (Method::PUT, "/api/templates/%00"),
        (Method::DELETE, "/api/templates/a%00b"),
        (Method::GET, "/api/templates?cursor=%00"),
        (Method::GET, "/api/customers/%00/preferences"),
        (Method::PATCH, "/api/orders/%00/items/%00"),
        (
            Method::GET,
            "/api/recommendations/explain?product_id=1&intent=%00",
        ),
        (Method::GET, "/api/compliance/requests?cursor=x%00"),
    ] {
        let resp = app
            .api_send(method.clone(), path, SHOP, Some(&template))
            .await;
        let body = refused(resp, &format!("{method} {path}")).await;
        assert_eq!(
            body["error"]["code"], "invalid_character",
            "{method} {path}"
        );
    }
    for (method, path) in [
        (Method::DELETE, "/saved-personalizations/%00"),
        (Method::GET, "/products/%00/fields"),
    ] {
        let url = app.proxy_url(path, SHOP, Some(ANNA));
        let resp = app
            .client
            .request(method.clone(), url)
            .send()
            .await
            .unwrap();
        refused(resp, &format!("{method} /proxy{path}")).await;
    }
    let resp = app.get("/uploads/up_%00").await;
    refused(resp, "GET /uploads").await;
    // The signed query itself: a storefront parameter holding a NUL.
    let q = proxy_query_with(
        SHOP,
        Some(ANNA),
        now(),
        API_SECRET,
        &[("intent", "trending\0")],
    );
    let resp = app.get(&format!("/proxy/recommendations?{q}")).await;
    refused(resp, "signed query").await;
    // Unchanged for everything else.
    assert_eq!(app.api_get("/api/templates", SHOP).await.status(), 200);
}

#[tokio::test]
async fn a_nul_in_a_body_is_a_422_at_its_path() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let expect_at = |body: Value, path: &'static str| async move {
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [path], "{body}");
        assert_eq!(body["errors"][0]["code"], "invalid_character");
    };

    let template = json!({"name": "Ring\u{0}", "product_ids": [], "fields": [
        {"key": "t", "label": "Engraving", "type": "text"}]});
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&template))
        .await;
    expect_at(refused(resp, "template name").await, "name").await;
    let template = json!({"name": "Ring", "product_ids": [], "fields": [
        {"key": "t", "label": "Engr\u{0}aving", "type": "text"}]});
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&template))
        .await;
    expect_at(refused(resp, "field label").await, "fields[0].label").await;

    let settings = json!({"interests": [{"key": "gifts", "label": "Gi\u{0}fts"}]});
    let resp = app
        .api_send(Method::PUT, "/api/preference-center", SHOP, Some(&settings))
        .await;
    expect_at(refused(resp, "interest label").await, "interests[0].label").await;

    let resp = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(ANNA)))
        .json(&json!({"sizes": {"tops": "M\u{0}"}}))
        .send()
        .await
        .unwrap();
    expect_at(refused(resp, "size").await, "sizes.tops").await;

    let resp = app
        .client
        .post(app.proxy_url("/saved-personalizations", SHOP, Some(ANNA)))
        .json(&json!({"name": "Mine\u{0}", "values": {"t": "x"}}))
        .send()
        .await
        .unwrap();
    expect_at(refused(resp, "saved name").await, "name").await;

    let resp = app
        .client
        .post(app.proxy_url("/events", SHOP, None))
        .json(&json!({"type": "view", "product_id": "1", "session_id": "s\u{0}"}))
        .send()
        .await
        .unwrap();
    refused(resp, "event session").await;

    let resp = app
        .client
        .post(app.proxy_url("/products/1/personalize", SHOP, None))
        .json(&json!({"values": {"t": "a\u{0}"}}))
        .send()
        .await
        .unwrap();
    let body = refused(resp, "personalize").await;
    assert_eq!(body["valid"], false);
    assert_eq!(body["errors"][0]["field"], "values.t");

    assert_eq!(app.table_count("templates"), 0);
    assert_eq!(app.table_count("saved_personalizations"), 0);
}

#[tokio::test]
async fn a_nul_in_a_webhook_is_dropped_the_same_on_both_backends() {
    use atelier::db::schema::products;
    let app = spawn_app().await;
    app.install(SHOP).await;
    let product = json!({
        "id": 42, "title": "Fig\u{0} Candle", "handle": "fig-candle", "status": "active",
        "tags": "gift\u{0}", "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": 421, "title": "Small", "price": "19.00", "inventory_quantity": 3, "position": 1}]
    });
    app.deliver(&Delivery::new("products/update", SHOP, &product))
        .await;
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows[0].1, "done", "applied, not failed: {:?}", rows[0].3);
    let mut c = app.state.db.conn().unwrap();
    let (title, tags): (String, String) = products::table
        .select((products::title, products::tags))
        .first(&mut *c)
        .unwrap();
    assert_eq!(title, "Fig Candle");
    assert!(!tags.contains('\0'), "{tags}");
}
