//! `/customer-account/*`: the customer account UI extension's routes. The session token Shopify
//! mints for the extension is the only credential (signature with the current or previous API
//! secret, HS256 only, `aud`, `dest` an installed shop, `sub` a customer GID, `exp`/`nbf` with
//! 10 s leeway); preflights from the extension origin are answered without it; and the answers
//! are exactly those of `/proxy/preferences` and `/proxy/wishlist`.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha512;

use crate::helpers::*;

const SHOP: &str = "accounts-shop.myshopify.com";
const ORIGIN: &str = "https://extensions.shopifycdn.com";
const ANNA: i64 = 7_810_000_000_000_321; // above 2^53

fn claims(shop: &str, sub: Option<&str>, exp_in: i64, nbf_in: i64) -> Value {
    let now = now();
    let mut c = json!({
        "dest": shop, "aud": API_KEY, "exp": now + exp_in, "nbf": now + nbf_in, "iat": now + nbf_in,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    if let Some(sub) = sub {
        c["sub"] = sub.into();
    }
    c
}

fn anna() -> String {
    format!("gid://shopify/Customer/{ANNA}")
}

fn token(shop: &str) -> String {
    jwt(&claims(shop, Some(&anna()), 300, 0), API_SECRET)
}

/// A token with any header, signed by `sign` over the signing input.
fn jwt_with(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(serde_json::to_vec(header).unwrap()),
        b64.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", b64.encode(sig))
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("Origin", ORIGIN);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn status_with(app: &TestApp, token: &str) -> (u16, Value) {
    let (s, _, b) = call(
        app,
        Method::GET,
        "/customer-account/preferences",
        Some(token),
        None,
    )
    .await;
    (s, b)
}

#[tokio::test]
async fn a_valid_token_reads_the_customers_preferences() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, headers, body) = call(
        &app,
        Method::GET,
        "/customer-account/preferences",
        Some(&token(SHOP)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer_id"], ANNA.to_string());
    assert_eq!(headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(headers["cache-control"], "no-store");
    // `https://` before the shop, as App Bridge writes it, is the same shop.
    let with_scheme = jwt(
        &claims(&format!("https://{SHOP}"), Some(&anna()), 60, 0),
        API_SECRET,
    );
    assert_eq!(status_with(&app, &with_scheme).await.0, 200);
}

#[tokio::test]
async fn times_are_checked_with_ten_seconds_of_leeway() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let sub = anna();
    let cases = [
        ("expired", claims(SHOP, Some(&sub), -30, -90), 401),
        (
            "expired within leeway",
            claims(SHOP, Some(&sub), -5, -65),
            200,
        ),
        ("not valid yet", claims(SHOP, Some(&sub), 120, 60), 401),
        ("nbf within leeway", claims(SHOP, Some(&sub), 65, 5), 200),
    ];
    for (what, c, expected) in cases {
        let (status, body) = status_with(&app, &jwt(&c, API_SECRET)).await;
        assert_eq!(status, expected, "{what}: {body}");
        if expected == 401 {
            assert_eq!(body["error"]["code"], "invalid_session_token", "{what}");
        }
    }
}

#[tokio::test]
async fn audience_shop_and_subject_must_hold() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install("uninstalled-shop.myshopify.com").await;
    app.deliver(&Delivery::new(
        "app/uninstalled",
        "uninstalled-shop.myshopify.com",
        &json!({"id": 1}),
    ))
    .await;
    app.drain().await;
    let sub = anna();
    let mut wrong_aud = claims(SHOP, Some(&sub), 60, 0);
    wrong_aud["aud"] = "another-app".into();
    let mut listed_aud = claims(SHOP, Some(&sub), 60, 0);
    listed_aud["aud"] = json!([API_KEY]);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "wrong aud",
            jwt(&wrong_aud, API_SECRET),
            401,
            "invalid_session_token",
        ),
        (
            "aud as a list",
            jwt(&listed_aud, API_SECRET),
            401,
            "invalid_session_token",
        ),
        (
            "a shop that never installed",
            jwt(
                &claims("foreign.myshopify.com", Some(&sub), 60, 0),
                API_SECRET,
            ),
            401,
            "invalid_session_token",
        ),
        (
            "an uninstalled shop",
            jwt(
                &claims("uninstalled-shop.myshopify.com", Some(&sub), 60, 0),
                API_SECRET,
            ),
            401,
            "invalid_session_token",
        ),
        (
            "not a shop",
            jwt(&claims("evil.example.com", Some(&sub), 60, 0), API_SECRET),
            401,
            "invalid_session_token",
        ),
        (
            "no sub",
            jwt(&claims(SHOP, None, 60, 0), API_SECRET),
            401,
            "not_logged_in",
        ),
    ];
    for (what, t, status, code) in cases {
        let (s, body) = status_with(&app, &t).await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
    }
    for sub in [
        "42",
        "gid://shopify/Customer/",
        "gid://shopify/Customer/0",
        "gid://shopify/Customer/-7",
        "gid://shopify/Customer/12abc",
        "gid://shopify/CompanyContact/42",
        "gid://shopify/Customer/99999999999999999999",
    ] {
        let (s, body) = status_with(&app, &jwt(&claims(SHOP, Some(sub), 60, 0), API_SECRET)).await;
        assert_eq!(s, 401, "{sub}: {body}");
        assert_eq!(body["error"]["code"], "invalid_session_token", "{sub}");
    }
    // No token at all, or not a bearer one.
    let (s, _, body) = call(
        &app,
        Method::GET,
        "/customer-account/preferences",
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("invalid_session_token"))
    );
    assert_eq!(
        app.table_count("customer_preferences"),
        0,
        "nothing read or written"
    );
}

#[tokio::test]
async fn only_hs256_with_the_api_secret_is_accepted() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let c = claims(SHOP, Some(&anna()), 60, 0);
    let hs512 = jwt_with(&json!({"alg": "HS512", "typ": "JWT"}), &c, |m| {
        let mut mac = Hmac::<Sha512>::new_from_slice(API_SECRET.as_bytes()).unwrap();
        mac.update(m);
        mac.finalize().into_bytes().to_vec()
    });
    let hs256 = jwt(&c, API_SECRET);
    let sig = hs256.rsplit('.').next().unwrap();
    let body = hs256.rsplit_once('.').unwrap().0.split_once('.').unwrap().1;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rs256 = format!(
        "{}.{body}.{sig}",
        b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#)
    );
    let none = format!("{}.{body}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#));
    let cases = [
        ("HS512", hs512),
        ("RS256 header on an HMAC signature", rs256),
        ("alg none", none),
        ("signed with the API key", jwt(&c, API_KEY)),
        ("signed with another secret", jwt(&c, "not-the-secret")),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (what, t) in cases {
        let (s, body) = status_with(&app, &t).await;
        assert_eq!(s, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "invalid_session_token", "{what}");
    }
    assert_eq!(status_with(&app, &hs256).await.0, 200);
}

#[tokio::test]
async fn the_previous_secret_is_accepted_during_a_rotation() {
    let app = spawn_app_with(|v| {
        v.insert(
            "SHOPIFY_API_SECRET_PREVIOUS".into(),
            "the-old-secret".into(),
        );
    })
    .await;
    app.install(SHOP).await;
    let c = claims(SHOP, Some(&anna()), 60, 0);
    assert_eq!(status_with(&app, &jwt(&c, "the-old-secret")).await.0, 200);
    assert_eq!(status_with(&app, &jwt(&c, API_SECRET)).await.0, 200);
    assert_eq!(status_with(&app, &jwt(&c, "another-secret")).await.0, 401);
    // Without a rotation configured, the old secret is just another wrong one.
    let plain = spawn_app().await;
    plain.install(SHOP).await;
    assert_eq!(status_with(&plain, &jwt(&c, "the-old-secret")).await.0, 401);
}

#[tokio::test]
async fn preflights_are_answered_without_a_token_for_the_extension_origin_only() {
    let app = spawn_app().await;
    for path in [
        "/customer-account/preferences",
        "/customer-account/wishlist",
        "/customer-account/wishlist/123",
    ] {
        let resp = app
            .client
            .request(Method::OPTIONS, app.url(path))
            .header("Origin", ORIGIN)
            .header("Access-Control-Request-Method", "PUT")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{path}");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], ORIGIN);
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(
            methods.contains("PUT") && methods.contains("DELETE"),
            "{methods}"
        );
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert!(h.contains_key("access-control-max-age"));
    }
    let foreign = app
        .client
        .request(Method::OPTIONS, app.url("/customer-account/preferences"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .unwrap();
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Errors carry the header too, so the extension can read them.
    let (s, h, _) = call(
        &app,
        Method::GET,
        "/customer-account/preferences",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn a_put_then_get_round_trip_equals_the_app_proxy_and_records_history() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let t = token(SHOP);
    let put = json!({
        "sizes": {"tops": "M"},
        "interests": [],
        "communication": {"email": true, "frequency": "weekly", "pause_until": "2027-01-15"},
        "consent": {"personalization": true, "marketing": true},
    });
    let (s, h, written) = call(
        &app,
        Method::PUT,
        "/customer-account/preferences",
        Some(&t),
        Some(&put),
    )
    .await;
    assert_eq!(s, 200, "{written}");
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    assert_eq!(written["sizes"]["tops"], "M");
    assert_eq!(written["consent"]["marketing"], true);
    let (_, _, read) = call(
        &app,
        Method::GET,
        "/customer-account/preferences",
        Some(&t),
        None,
    )
    .await;
    let proxy: Value = app
        .client
        .get(app.proxy_url("/preferences", SHOP, Some(ANNA)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, written);
    assert_eq!(read, proxy, "one record, one answer, whichever surface");

    // The same bad body gets the same 422 on both surfaces.
    let bad = json!({"sizes": {"tops": "XXXXL"}, "colour": "red"});
    let (s, _, via_account) = call(
        &app,
        Method::PUT,
        "/customer-account/preferences",
        Some(&t),
        Some(&bad),
    )
    .await;
    assert_eq!(s, 422);
    let via_proxy: Value = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(ANNA)))
        .json(&bad)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(via_account, via_proxy);

    // The change is the shopper's own, in the consent history like a storefront change.
    let view: Value = app
        .api_get(&format!("/api/customers/{ANNA}/preferences"), SHOP)
        .await
        .json()
        .await
        .unwrap();
    let history = view["consent_history"].as_array().unwrap();
    let marketing = history
        .iter()
        .find(|h| h["field"] == "consent.marketing")
        .expect("consent recorded");
    assert_eq!(marketing["source"], "storefront");
    assert_eq!(marketing["new"], true);
    assert!(history.iter().any(|h| h["field"] == "sizes.tops"));

    // The preference center's settings are the proxy's too.
    let (s, _, center) = call(
        &app,
        Method::GET,
        "/customer-account/preference-center",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let proxy_center: Value = app
        .client
        .get(app.proxy_url("/preference-center", SHOP, Some(ANNA)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(center, proxy_center);
}

#[tokio::test]
async fn the_wishlist_is_the_same_list_as_the_storefronts() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let product = json!({
        "id": 555, "title": "Fig candle", "handle": "fig-candle", "vendor": "Acme",
        "product_type": "Candles", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "",
        "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": 55501, "title": "Default", "price": "20.00", "inventory_quantity": 5, "inventory_policy": "deny", "position": 1}]
    });
    app.deliver(&Delivery::new("products/create", SHOP, &product))
        .await;
    app.drain().await;
    let t = token(SHOP);
    let (s, _, added) = call(
        &app,
        Method::POST,
        "/customer-account/wishlist",
        Some(&t),
        Some(&json!({"product_id": "555"})),
    )
    .await;
    assert_eq!(s, 201, "{added}");
    let (s, _, again) = call(
        &app,
        Method::POST,
        "/customer-account/wishlist",
        Some(&t),
        Some(&json!({"product_id": 555})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(again["items"][0]["title"], "Fig candle");
    let (_, _, mine) = call(
        &app,
        Method::GET,
        "/customer-account/wishlist",
        Some(&t),
        None,
    )
    .await;
    let proxy: Value = app
        .client
        .get(app.proxy_url("/wishlist", SHOP, Some(ANNA)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine, proxy);
    let (s, _, unknown) = call(
        &app,
        Method::POST,
        "/customer-account/wishlist",
        Some(&t),
        Some(&json!({"product_id": 999})),
    )
    .await;
    assert_eq!(
        (s, unknown["errors"][0]["code"].as_str()),
        (422, Some("unknown_product"))
    );
    let (s, _, bad) = call(
        &app,
        Method::DELETE,
        "/customer-account/wishlist/abc",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        (s, bad["error"]["code"].as_str()),
        (400, Some("invalid_product_id"))
    );
    let (s, _, _) = call(
        &app,
        Method::DELETE,
        "/customer-account/wishlist/555",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, _, empty) = call(
        &app,
        Method::GET,
        "/customer-account/wishlist",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(empty["items"], json!([]));
    // Non-JSON bodies are the error JSON, not a 5xx.
    let resp = app
        .client
        .post(app.url("/customer-account/wishlist"))
        .bearer_auth(&t)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
}
