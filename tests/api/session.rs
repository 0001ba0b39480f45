//! Session-token authentication of `/api/*` and token exchange.

use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";

fn claims(shop: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://{shop}/admin"),
        "dest": format!("https://{shop}"),
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now,
        "iat": now,
        "jti": "8c4a7d6e-0000-4000-8000-000000000000",
        "sid": "abc",
    })
}

async fn get_with(app: &TestApp, auth: Option<String>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/api/shop"));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.send().await.unwrap()
}

async fn assert_invalid_session(resp: reqwest::Response, case: &str) {
    assert_eq!(resp.status(), 401, "{case}");
    assert_eq!(
        resp.headers()
            .get("X-Shopify-Retry-Invalid-Session-Request")
            .map(|v| v.to_str().unwrap()),
        Some("1"),
        "{case}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_session_token", "{case}");
}

#[tokio::test]
async fn bad_session_tokens_get_401_with_the_retry_header() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    };
    let mut expired = claims(SHOP);
    expired["exp"] = json!(now() - 30);
    expired["nbf"] = json!(now() - 90);
    let mut future = claims(SHOP);
    future["nbf"] = json!(now() + 120);
    future["exp"] = json!(now() + 180);
    let mut wrong_aud = claims(SHOP);
    wrong_aud["aud"] = json!("another-app");
    let mut other_dest = claims(SHOP);
    other_dest["dest"] = json!("https://other-shop.myshopify.com");
    let mut evil_dest = claims("evil.com");
    evil_dest["iss"] = json!("https://evil.com/admin");
    let mut no_exp = claims(SHOP);
    no_exp.as_object_mut().unwrap().remove("exp");
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims(SHOP).to_string())
    );
    let valid = jwt(&claims(SHOP), API_SECRET);
    let truncated_sig = valid[..valid.len() - 3].to_owned();

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("not bearer", Some(format!("Basic {valid}"))),
        (
            "expired",
            Some(format!("Bearer {}", jwt(&expired, API_SECRET))),
        ),
        (
            "future nbf",
            Some(format!("Bearer {}", jwt(&future, API_SECRET))),
        ),
        (
            "wrong aud",
            Some(format!("Bearer {}", jwt(&wrong_aud, API_SECRET))),
        ),
        (
            "wrong secret",
            Some(format!("Bearer {}", jwt(&claims(SHOP), "not-the-secret"))),
        ),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("malformed", Some("Bearer not.a.jwt".into())),
        ("garbage", Some("Bearer %%%".into())),
        (
            "truncated signature",
            Some(format!("Bearer {truncated_sig}")),
        ),
        (
            "another shop's dest",
            Some(format!("Bearer {}", jwt(&other_dest, API_SECRET))),
        ),
        (
            "dest not a shop",
            Some(format!("Bearer {}", jwt(&evil_dest, API_SECRET))),
        ),
        (
            "no exp",
            Some(format!("Bearer {}", jwt(&no_exp, API_SECRET))),
        ),
    ];
    for (case, auth) in cases {
        assert_invalid_session(get_with(&app, auth).await, case).await;
    }
    // Within the 10 s leeway an expired token still passes (clock skew).
    let mut skewed = claims(SHOP);
    skewed["exp"] = json!(now() - 5);
    assert_eq!(
        get_with(&app, Some(format!("Bearer {}", jwt(&skewed, API_SECRET))))
            .await
            .status(),
        200
    );
    assert_eq!(app.shop_count(), 1, "no bad token created a shop");
}

#[tokio::test]
async fn each_token_sees_only_its_own_shop() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install("other-shop.myshopify.com").await;
    let a: Value = app.api_get("/api/shop", SHOP).await.json().await.unwrap();
    let b: Value = app
        .api_get("/api/shop", "other-shop.myshopify.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["shop"], SHOP);
    assert_eq!(b["shop"], "other-shop.myshopify.com");
}

#[tokio::test]
async fn a_valid_token_for_a_shop_without_a_stored_token_triggers_token_exchange() {
    let app = spawn_app().await;
    let token = app.session_token(SHOP);
    let resp = app
        .client
        .get(app.url("/api/shop"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["shop"], SHOP);
    assert_eq!(body["webhooks_registered"], true);

    let requests = app.store.requests();
    let exchange = requests
        .iter()
        .find(|r| r.path.ends_with("/admin/oauth/access_token"))
        .unwrap();
    assert_eq!(exchange.path, format!("/{SHOP}/admin/oauth/access_token"));
    assert_eq!(exchange.body["client_id"], API_KEY);
    assert_eq!(exchange.body["client_secret"], API_SECRET);
    assert_eq!(
        exchange.body["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(exchange.body["subject_token"], token.as_str());
    assert_eq!(
        exchange.body["subject_token_type"],
        "urn:ietf:params:oauth:token-type:id_token"
    );
    assert_eq!(
        exchange.body["requested_token_type"],
        "urn:shopify:params:oauth:token-type:offline-access-token"
    );
    let shop = app.shop_row(SHOP).unwrap();
    assert_eq!(
        app.state
            .cipher
            .decrypt(shop.access_token_enc.as_ref().unwrap(), SHOP)
            .unwrap(),
        STORE_TOKEN
    );

    // Later requests use the stored token: no second exchange.
    let before = app.store.requests().len();
    assert_eq!(app.api_get("/api/shop", SHOP).await.status(), 200);
    assert_eq!(app.store.requests().len(), before);
}

#[tokio::test]
async fn a_refused_token_exchange_asks_for_a_fresh_session_token() {
    let app = spawn_app().await;
    app.store.set_token(TokenBehaviour::Status(
        400,
        json!({"error": "invalid_subject_token"}),
    ));
    assert_invalid_session(app.api_get("/api/shop", SHOP).await, "exchange refused").await;
    assert_eq!(app.shop_count(), 0);

    app.store.set_token(TokenBehaviour::Status(503, json!({})));
    let resp = app.api_get("/api/shop", SHOP).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(app.shop_count(), 0);
}
