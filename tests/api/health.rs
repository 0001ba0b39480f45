//! Health, error shapes and request limits.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_ok_once_the_database_answers() {
    let app = spawn_app().await;
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    let resp = app.get("/no/such/route").await;
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn query_strings_over_8_kib_get_414() {
    let app = spawn_app().await;
    let resp = app
        .get(&format!("/healthz?pad={}", "a".repeat(8 * 1024)))
        .await;
    assert_eq!(resp.status(), 414);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "query_too_long");
    assert_eq!(
        app.get(&format!("/healthz?pad={}", "a".repeat(8000)))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn production_has_no_demo_shop_and_development_seeds_one() {
    let app = spawn_app().await;
    assert!(app.shop_row(atelier::startup::DEMO_SHOP).is_none());
    let dev = spawn_app_with(|vars| {
        vars.insert("ATELIER_ENV".into(), "development".into());
    })
    .await;
    let demo = dev
        .shop_row(atelier::startup::DEMO_SHOP)
        .expect("demo shop seeded");
    assert!(demo.installed);
}

#[tokio::test]
async fn a_second_instance_on_the_same_database_starts_and_serves() {
    // Migrations are serialized; the second instance finds them applied.
    let app = spawn_app().await;
    app.install("candle-co.myshopify.com").await;
    let port = app.spawn_sibling().await;
    let resp = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/shop"))
        .bearer_auth(app.session_token("candle-co.myshopify.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
