//! The development demo storefront: absent in production, and in development a
//! store stand-in whose app-proxy emulator signs exactly as Shopify does.

use serde_json::{Value, json};

use crate::helpers::*;

const RING: i64 = 8_100_000_001;

async fn dev() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert("ATELIER_ENV".into(), "development".into());
    })
    .await
}

#[tokio::test]
async fn every_demo_route_is_404_in_production() {
    let app = spawn_app().await;
    for path in [
        "/demo",
        "/demo/products/engraved-ring",
        "/demo/cart",
        "/demo/cart.js",
        "/demo/account",
        "/demo/quiz",
        "/demo/assets/atelier.css",
        "/apps/atelier/products/8100000001/fields",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let resp = app
        .client
        .post(app.url("/demo/cart/add.js"))
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_demo_store_renders_the_blocks_and_proxies_signed_requests() {
    let app = dev().await;
    let index = app.get("/demo").await.text().await.unwrap();
    assert!(index.contains("/demo/products/engraved-ring"), "{index}");
    assert!(
        !index.contains("personalization-fee"),
        "the fee product is not listed"
    );

    let page = app
        .get("/demo/products/engraved-ring")
        .await
        .text()
        .await
        .unwrap();
    // The extension's own block markup, rendered with the page's objects.
    assert!(page.contains(r#"data-product-id="8100000001""#), "{page}");
    assert!(page.contains(r#"data-form-id="product-form-main""#));
    assert!(page.contains(r#"<form id="product-form-main""#));
    assert!(
        page.contains("\"required\": \"Required\""),
        "translations: {page}"
    );
    assert!(!page.contains("{% schema %}") && !page.contains("translation missing"));
    // Recommendation blocks on the product page, and Shopify's stand-ins (customer privacy, the
    // web pixel runtime) with what the pixel reports of the page; the account page with the
    // preference center (and its logged-out greeting).
    assert!(page.contains(r#"data-intent="complementary""#));
    assert!(page.contains(r#"<script src="/demo/shopify.js"></script>"#));
    assert!(page.contains(r#""product":{"id":"8100000001""#), "{page}");
    let standin = app.get("/demo/shopify.js").await;
    assert_eq!(standin.status(), 200);
    assert!(
        standin
            .text()
            .await
            .unwrap()
            .contains("/demo/pixel/pixel.js")
    );
    let pixel = app.get("/demo/pixel/pixel.js").await;
    assert_eq!(pixel.status(), 200);
    assert!(
        pixel
            .text()
            .await
            .unwrap()
            .contains("export function createPixel")
    );
    let account = app.get("/demo/account").await;
    assert_eq!(account.status(), 200);
    let account = account.text().await.unwrap();
    assert!(account.contains("data-atelier-preferences"), "{account}");
    assert!(account.contains(r#"data-intent="for_you""#));
    let out = app
        .client
        .get(app.url("/demo/account"))
        .header("cookie", "atelier_demo_logged_out=1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(out.contains("atelier-pc__login") && !out.contains("data-atelier-preferences"));
    // The quiz page, logged in and out, with the seeded questions behind the proxy.
    for cookie in ["", "atelier_demo_logged_out=1"] {
        let quiz = app
            .client
            .get(app.url("/demo/quiz"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(quiz.status(), 200);
        let quiz = quiz.text().await.unwrap();
        assert!(
            quiz.contains("data-atelier-quiz") && quiz.contains("atelier-quiz.js"),
            "{quiz}"
        );
        assert!(!quiz.contains("translation missing"), "{quiz}");
    }
    let questions: Value = app
        .get("/apps/atelier/questions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(questions["total"], 3, "{questions}");
    assert_eq!(questions["logged_in"], true);
    let js = app.get("/demo/assets/atelier-personalizer.js").await;
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.text().await.unwrap(),
        include_str!("../../theme-extension/assets/atelier-personalizer.js")
    );

    // The emulator adds and signs the app-proxy parameters; /proxy checks them for real.
    let fields: Value = app
        .get(&format!("/apps/atelier/products/{RING}/fields"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fields["fields"][0]["key"], "engraving");
    // The demo store has Atelier's cart transform and the ring's price table: checkout charges
    // the add-on, so the storefront is told not to add a fee line.
    assert_eq!(fields["charged_at_checkout"], true);
    assert_eq!(fields["fee_variant_id"], Value::Null);
    let resp = app
        .client
        .post(app.url(&format!("/apps/atelier/products/{RING}/personalize")))
        .json(&json!({"values": {"engraving": "Anna", "metal": "silver"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["price_cents"], 1500);
    // A query the storefront adds is signed too, and a forged one is not honoured.
    let resp = app
        .get("/apps/atelier/products/8100000001/fields?signature=forged&shop=evil.myshopify.com")
        .await;
    assert_eq!(
        resp.status(),
        200,
        "the emulator replaces Shopify's own parameters"
    );

    // The AJAX cart in Shopify's shapes.
    let resp = app
        .client
        .post(app.url("/demo/cart/add.js"))
        .json(&json!({"items": [
            {"id": "81000000011", "quantity": 1, "properties": {"Engraving": "Anna", "_atelier": p["signature"]}},
            {"id": 8900000001i64, "quantity": 1500, "properties": {"_atelier_fee": p["signature"]}}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let added: Value = resp.json().await.unwrap();
    assert_eq!(added["items"][0]["properties"]["_atelier"], p["signature"]);
    assert_eq!(added["items"][1]["quantity"], 1500);
    assert_eq!(added["items"][1]["price"], 1);
    let cart: Value = app
        .client
        .get(app.url("/demo/cart.js"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cart["item_count"], 1501);
    assert_eq!(cart["total_price"], 12000 + 1500);
    let missing = app
        .client
        .post(app.url("/demo/cart/add.js"))
        .json(&json!({"id": 42, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let cleared: Value = app
        .client
        .post(app.url("/demo/cart/clear.js"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["item_count"], 0);
}

/// The emulator signs what it forwards: a path that would climb out of `/proxy/` once the
/// forwarded URL is resolved (`/apps/atelier/a/../../auth?shop=…`) is refused, not signed.
#[tokio::test]
async fn the_app_proxy_emulator_does_not_forward_paths_out_of_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = dev().await;
    for path in [
        "/apps/atelier/a/../../api/shop",
        "/apps/atelier/../auth?shop=other.myshopify.com",
        "/apps/atelier/x/%2e%2e/%2e%2e/healthz",
    ] {
        // Raw HTTP: a client library would resolve the dot segments before sending.
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).await.unwrap();
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert_eq!(status, "404", "{path}: {answer}");
        assert!(answer.contains("\"not_found\""), "{path}: {answer}");
    }
}
