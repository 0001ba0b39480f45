//! `POST /pixel/events`: the web pixel's unsigned events. Only installed shops, well-formed ids,
//! bounded bodies, one storage per event id, per-client and per-address allowances in fixed
//! memory, no customer taken from the body; `checkout_completed` links the pixel session to the
//! order so an anonymous session's recommendation click is credited with it; and installing the
//! app activates the pixel (idempotently).

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "pixel-shop.myshopify.com";
const CLIENT: &str = "c0ffee00-1111-4222-8333-444455556666";

fn event(name: &str, id: &str, extra: Value) -> Value {
    let mut e = json!({"shop": SHOP, "event_id": id, "client_id": CLIENT, "name": name,
        "timestamp": "2026-12-01T10:00:00.000Z"});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

async fn post_raw(
    app: &TestApp,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    // As the pixel sends it: `fetch` with a string body, so `text/plain` (no preflight).
    let resp = app
        .client
        .post(app.url("/pixel/events"))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .header("Origin", "https://extensions.shopifycdn.com")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
    let (s, _, b) = post_raw(app, body.to_string()).await;
    (s, b)
}

/// `(session, customer, kind, product)` of every stored storefront event.
fn stored_events(app: &TestApp) -> Vec<(String, Option<i64>, String, i64)> {
    use atelier::db::schema::rec_events as e;
    let mut conn = app.state.db.conn().unwrap();
    e::table
        .order(e::created_at)
        .select((e::session_id, e::customer_id, e::kind, e::product_id))
        .load(&mut *conn)
        .unwrap()
}

#[tokio::test]
async fn standard_events_become_the_models_events_with_the_client_as_session() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let cases = [
        event("page_viewed", "sh-1", json!({})),
        event(
            "product_viewed",
            "sh-2",
            json!({"product_id": "gid://shopify/Product/101"}),
        ),
        // A customer named in the body is not believed: signals of a customer come signed.
        event(
            "product_added_to_cart",
            "sh-3",
            json!({"product_id": "101", "customer_id": "42"}),
        ),
        event("checkout_completed", "sh-4", json!({"order_id": "9001"})),
    ];
    for body in &cases {
        let (s, headers, b) = post_raw(&app, body.to_string()).await;
        assert_eq!(s, 204, "{body}: {b}");
        assert_eq!(headers["access-control-allow-origin"], "*");
    }
    assert_eq!(
        stored_events(&app),
        vec![
            (CLIENT.to_owned(), None, "view".to_owned(), 101),
            (CLIENT.to_owned(), None, "add_to_cart".to_owned(), 101),
        ]
    );
    assert_eq!(app.table_count("pixel_events"), 4);
    assert_eq!(app.table_count("pixel_order_links"), 1);
    // The app's storefront check sees the pixel's events.
    let setup: Value = app.api_get("/api/setup", SHOP).await.json().await.unwrap();
    let embed = setup["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "app_embed")
        .unwrap();
    assert_eq!(embed["done"], true, "{setup}");
}

#[tokio::test]
async fn a_repeated_event_id_is_stored_once() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let body = event("product_viewed", "sh-dup", json!({"product_id": 7}));
    assert_eq!(post(&app, &body).await.0, 204);
    let (s, b) = post(&app, &body).await;
    assert_eq!((s, b), (200, json!({"status": "duplicate"})));
    // The same id with other content is the same event.
    let forged = event("product_added_to_cart", "sh-dup", json!({"product_id": 8}));
    assert_eq!(post(&app, &forged).await.0, 200);
    assert_eq!(stored_events(&app).len(), 1);
    // A second instance on the same database agrees.
    let sibling = app.spawn_sibling().await;
    let resp = app
        .client
        .post(format!("http://127.0.0.1:{sibling}/pixel/events"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(stored_events(&app).len(), 1);
}

#[tokio::test]
async fn spoofed_and_unknown_shops_store_nothing() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install("gone.myshopify.com").await;
    app.deliver(&Delivery::new(
        "app/uninstalled",
        "gone.myshopify.com",
        &json!({"id": 1}),
    ))
    .await;
    app.drain().await;
    for shop in ["never-installed.myshopify.com", "gone.myshopify.com"] {
        let mut body = event("product_viewed", "sh-x", json!({"product_id": 5}));
        body["shop"] = shop.into();
        let (s, b) = post(&app, &body).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{shop}"
        );
    }
    for shop in ["evil.example.com", "", "https://pixel-shop.myshopify.com"] {
        let mut body = event("product_viewed", "sh-y", json!({"product_id": 5}));
        body["shop"] = shop.into();
        let (s, b) = post(&app, &body).await;
        assert_eq!(s, 422, "{shop}");
        assert_eq!(b["errors"][0]["field"], "shop");
    }
    assert_eq!(app.table_count("pixel_events"), 0);
    assert_eq!(stored_events(&app).len(), 0);
}

#[tokio::test]
async fn malformed_ids_and_bodies_get_the_error_json() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let bad: Vec<(Value, &str)> = vec![
        (event("product_viewed", "sh-1", json!({})), "product_id"),
        (
            event("product_viewed", "sh-1", json!({"product_id": "abc"})),
            "product_id",
        ),
        (
            event("product_viewed", "sh-1", json!({"product_id": -3})),
            "product_id",
        ),
        (
            event(
                "product_viewed",
                "sh-1",
                json!({"product_id": "gid://shopify/Order/3"}),
            ),
            "product_id",
        ),
        (
            event(
                "checkout_completed",
                "sh-1",
                json!({"order_id": "99999999999999999999"}),
            ),
            "order_id",
        ),
        (event("checkout_completed", "sh-1", json!({})), "order_id"),
        (
            event("product_viewed", "", json!({"product_id": 1})),
            "event_id",
        ),
        (
            event("product_viewed", "sh 1", json!({"product_id": 1})),
            "event_id",
        ),
        (
            event("product_viewed", &"e".repeat(129), json!({"product_id": 1})),
            "event_id",
        ),
        (event("collection_viewed", "sh-1", json!({})), "name"),
        (
            event(
                "product_viewed",
                "sh-1",
                json!({"product_id": 1, "client_id": "has space"}),
            ),
            "client_id",
        ),
        (
            event(
                "product_viewed",
                "sh-1",
                json!({"product_id": 1, "client_id": "x".repeat(65)}),
            ),
            "client_id",
        ),
        (
            event(
                "product_viewed",
                "sh-1",
                json!({"product_id": 1, "client_id": 12}),
            ),
            "client_id",
        ),
        (
            event("product_viewed", "sh-1\u{0}", json!({"product_id": 1})),
            "event_id",
        ),
    ];
    for (body, field) in bad {
        let (s, b) = post(&app, &body).await;
        assert_eq!(s, 422, "{body}: {b}");
        assert!(
            b["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{field}: {b}"
        );
    }
    for raw in ["not json", "", "[1,2]", "null", "\"text\""] {
        let (s, _, b) = post_raw(&app, raw.to_owned()).await;
        assert!(s == 400 || s == 422, "{raw}: {s}");
        assert!(b["error"]["code"].is_string(), "{raw}: {b}");
    }
    let mut big = event("page_viewed", "sh-big", json!({}));
    big["padding"] = "x".repeat(5000).into();
    let (s, _, b) = post_raw(&app, big.to_string()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert_eq!(app.table_count("pixel_events"), 0);
}

#[tokio::test]
async fn floods_are_refused_per_client_and_per_address_in_fixed_memory() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let memory = app.state.event_rate.memory_bytes();
    let mut statuses = Vec::new();
    for i in 0..130 {
        let (s, _) = post(&app, &event("page_viewed", &format!("sh-{i}"), json!({}))).await;
        statuses.push(s);
    }
    assert!(statuses[..120].iter().all(|s| *s == 204), "{statuses:?}");
    assert!(statuses[120..].iter().all(|s| *s == 429), "{statuses:?}");
    let (s, b) = post(&app, &event("page_viewed", "sh-late", json!({}))).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Rotating client ids from one address stops at the address's allowance.
    let mut refused = 0;
    for i in 0..600 {
        let mut body = event("page_viewed", &format!("rot-{i}"), json!({}));
        body["client_id"] = format!("client-{i}").into();
        if post(&app, &body).await.0 == 429 {
            refused += 1;
        }
    }
    assert!(
        refused >= 120,
        "the address allowance holds: {refused} refused"
    );
    assert_eq!(
        app.state.event_rate.memory_bytes(),
        memory,
        "no memory per client"
    );
    assert!(app.table_count("pixel_events") <= 600);
}

#[tokio::test]
async fn preflights_are_answered() {
    let app = spawn_app().await;
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/pixel/events"))
        .header("Origin", "https://extensions.shopifycdn.com")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert!(
        resp.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}

async fn analytics(app: &TestApp) -> Value {
    app.api_get("/api/analytics", SHOP)
        .await
        .json()
        .await
        .unwrap()
}

async fn click(app: &TestApp, session: &str, product: i64) {
    // The widget reports through the signed proxy, anonymous, in the pixel's session (the
    // pixel shares its client id with the theme).
    let resp = app
        .client
        .post(app.proxy_url("/events", SHOP, None))
        .json(&json!({"type": "click", "product_id": product, "session_id": session, "intent": "related", "source_product_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

async fn order(app: &TestApp, order_id: i64, product: i64) {
    let mut body = order_payload(
        order_id,
        None,
        "2099-01-01T10:00:00Z",
        &[
            (order_id * 10, product, 1, "30.00"),
            (order_id * 10 + 1, 99, 1, "5.00"),
        ],
    );
    body["created_at"] = json!(
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
}

#[tokio::test]
async fn anonymous_sessions_are_attributed_whichever_arrives_first() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    // Session A: viewed through the pixel, clicked a recommendation; the order webhook comes
    // before the pixel's checkout_completed.
    let a = "aaaa1111-0000-4000-8000-000000000001";
    let b = "bbbb2222-0000-4000-8000-000000000002";
    let mut view = event("product_viewed", "sh-a1", json!({"product_id": 4}));
    view["client_id"] = a.into();
    assert_eq!(post(&app, &view).await.0, 204);
    click(&app, a, 4).await;
    order(&app, 5001, 4).await;
    assert_eq!(
        analytics(&app).await["intents"]["related"]["attributed_orders"],
        0,
        "not linked yet"
    );
    let mut done = event(
        "checkout_completed",
        "sh-a2",
        json!({"order_id": "gid://shopify/Order/5001"}),
    );
    done["client_id"] = a.into();
    assert_eq!(post(&app, &done).await.0, 204);
    let report = analytics(&app).await;
    assert_eq!(
        report["intents"]["related"]["attributed_orders"], 1,
        "{report}"
    );
    assert_eq!(
        report["intents"]["related"]["attributed_revenue_cents"],
        3000
    );

    // Session B: checkout_completed first, the order webhook later.
    click(&app, b, 6).await;
    let mut done = event("checkout_completed", "sh-b1", json!({"order_id": 5002}));
    done["client_id"] = b.into();
    assert_eq!(post(&app, &done).await.0, 204);
    order(&app, 5002, 6).await;
    let report = analytics(&app).await;
    assert_eq!(
        report["intents"]["related"]["attributed_orders"], 2,
        "{report}"
    );
    assert_eq!(
        report["intents"]["related"]["attributed_revenue_cents"],
        6000
    );
    // The daily series agrees.
    let daily: Value = app
        .api_get("/api/analytics/daily?days=7", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        daily["totals"]["related"]["attributed_orders"], 2,
        "{daily}"
    );

    // A later link of the same order to another session changes nothing (first report wins),
    // and a session that clicked something else is not credited.
    let mut other = event("checkout_completed", "sh-c1", json!({"order_id": 5002}));
    other["client_id"] = "cccc".into();
    assert_eq!(post(&app, &other).await.0, 204);
    click(&app, "dddd", 4).await;
    let mut d = event("checkout_completed", "sh-d1", json!({"order_id": 5003}));
    d["client_id"] = "dddd".into();
    post(&app, &d).await;
    order(&app, 5003, 6).await;
    assert_eq!(
        analytics(&app).await["intents"]["related"]["attributed_orders"],
        2
    );
}

#[tokio::test]
async fn erasing_a_customer_forgets_the_sessions_that_placed_their_orders() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let mut view = event("product_viewed", "sh-e1", json!({"product_id": 4}));
    view["client_id"] = "erase-me".into();
    post(&app, &view).await;
    let mut done = event("checkout_completed", "sh-e2", json!({"order_id": 6001}));
    done["client_id"] = "erase-me".into();
    post(&app, &done).await;
    let mut body = order_payload(
        6001,
        Some(31337),
        "2099-01-01T10:00:00Z",
        &[(60010, 4, 1, "30.00")],
    );
    body["created_at"] = json!("2026-11-30T10:00:00Z");
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
    // The export names the session's events as the customer's.
    app.deliver(&Delivery::new(
        "customers/data_request",
        SHOP,
        &json!({"shop_domain": SHOP, "customer": {"id": 31337}, "orders_requested": [6001], "data_request": {"id": 1}}),
    ))
    .await;
    app.drain().await;
    let requests: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let export = &requests["items"][0]["export"];
    assert!(
        export["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["session_id"] == "erase-me"),
        "{requests}"
    );
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_domain": SHOP, "customer": {"id": 31337}, "orders_to_redact": [6001]}),
    ))
    .await;
    app.drain().await;
    assert_eq!(app.table_count("pixel_order_links"), 0);
    assert_eq!(app.table_count("pixel_events"), 0);
    assert!(stored_events(&app).iter().all(|e| e.0 != "erase-me"));
}

#[tokio::test]
async fn installing_activates_the_web_pixel_once() {
    let app = spawn_app().await;
    let scope = "read_products,read_orders,read_customers,write_pixels,read_customer_events";
    app.store.set_token(TokenBehaviour::Grant {
        token: STORE_TOKEN.into(),
        scope: scope.into(),
    });
    app.install(SHOP).await;
    let (id, settings) = app.store.web_pixel().expect("the pixel was created");
    assert_eq!(settings, json!({"appUrl": APP_URL}));
    let pixel_calls = || {
        app.store
            .requests()
            .iter()
            .filter(|r| {
                r.body["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("webPixel"))
            })
            .count()
    };
    assert_eq!(pixel_calls(), 1);
    // Installing again finds it (TAKEN), reads it, and leaves it as it is.
    app.install(SHOP).await;
    assert_eq!(app.store.web_pixel().unwrap().0, id);
    assert_eq!(pixel_calls(), 3, "create (taken) and read, no update");
    // Settings from elsewhere are corrected.
    app.store
        .set_web_pixel(&json!({"appUrl": "https://old.example"}));
    app.install(SHOP).await;
    assert_eq!(app.store.web_pixel().unwrap().1, json!({"appUrl": APP_URL}));

    // A shop that did not grant the pixel's scopes is installed without it.
    let plain = spawn_app().await;
    plain.install(SHOP).await;
    assert!(plain.store.web_pixel().is_none());
    assert!(plain.shop_row(SHOP).unwrap().has_token());
}
