//! API secret rotation: for a while after the secret is rotated, Shopify still signs with the
//! previous one, so every signed entry point (OAuth callback, app launch, webhooks, app proxy)
//! accepts `SHOPIFY_API_SECRET_PREVIOUS` as well as the current secret, and nothing else.

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const PREVIOUS_SECRET: &str = "the-secret-before-rotation";
const UNRELATED_SECRET: &str = "another-apps-secret";

async fn spawn_rotated_app() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert(
            "SHOPIFY_API_SECRET_PREVIOUS".to_owned(),
            PREVIOUS_SECRET.to_owned(),
        );
    })
    .await
}

async fn error_code(resp: reqwest::Response) -> String {
    let body: serde_json::Value = resp.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_oauth_callback_signed_with_the_previous_secret_installs_the_shop() {
    let app = spawn_rotated_app().await;
    let begun = app.begin_install(SHOP).await;

    let unrelated = sign_params(callback_params(SHOP, &begun.state, now()), UNRELATED_SECRET);
    let resp = app.callback(&begun, &unrelated).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_hmac");
    assert_eq!(app.shop_count(), 0, "a refused callback stores nothing");
    assert!(
        app.store
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("/access_token")),
        "a refused callback makes no call to the store"
    );

    let previous = sign_params(callback_params(SHOP, &begun.state, now()), PREVIOUS_SECRET);
    let resp = app.callback(&begun, &previous).await;
    assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
    assert!(
        app.shop_row(SHOP).is_some_and(|s| s.has_token()),
        "the shop is installed with its token"
    );

    // The current secret keeps working during the rotation.
    let begun = app.begin_install(SHOP).await;
    let current = callback_params(SHOP, &begun.state, now());
    assert_eq!(app.callback(&begun, &current).await.status(), 302);
}

#[tokio::test]
async fn an_app_launch_signed_with_the_previous_secret_opens_the_app() {
    let app = spawn_rotated_app().await;
    let launch = |secret: &str| {
        let params = vec![
            ("embedded".to_owned(), "1".to_owned()),
            ("shop".to_owned(), SHOP.to_owned()),
            ("timestamp".to_owned(), now().to_string()),
        ];
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sign_params(params, secret))
            .finish();
        format!("/?{q}")
    };

    let resp = app.get(&launch(UNRELATED_SECRET)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_hmac");

    // Not installed yet: sent through OAuth, leaving the admin iframe first.
    let resp = app.get(&launch(PREVIOUS_SECRET)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains(&format!("\"{APP_URL}/auth?shop={SHOP}\", \"_top\""))
    );

    app.install(SHOP).await;
    for secret in [PREVIOUS_SECRET, API_SECRET] {
        let resp = app.get(&launch(secret)).await;
        assert_eq!(resp.status(), 200);
        assert!(
            resp.text()
                .await
                .unwrap()
                .contains("/admin/assets/admin.js")
        );
    }
    assert_eq!(app.get(&launch(UNRELATED_SECRET)).await.status(), 401);
}

#[tokio::test]
async fn webhooks_and_app_proxy_requests_signed_with_the_previous_secret_are_accepted() {
    let app = spawn_rotated_app().await;
    app.install(SHOP).await;

    let order = order_payload(
        1001,
        None,
        "2026-01-01T00:00:00Z",
        &[(10011, 632910392, 1, "29.95")],
    );
    let d = Delivery::new("orders/create", SHOP, &order);
    let resp = app
        .post_webhook_signed(&d, &webhook_hmac(&d.body, UNRELATED_SECRET))
        .await;
    assert_eq!(resp.status(), 401);
    let resp = app
        .post_webhook_signed(&d, &webhook_hmac(&d.body, PREVIOUS_SECRET))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    let proxy = |secret: &str| {
        app.url(&format!(
            "/proxy/preferences?{}",
            proxy_query(SHOP, Some(7), now(), secret)
        ))
    };
    let resp = app
        .client
        .get(proxy(UNRELATED_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_signature");
    for secret in [PREVIOUS_SECRET, API_SECRET] {
        let resp = app.client.get(proxy(secret)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
}
