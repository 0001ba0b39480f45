//! Recommendation experiments: the admin API (`/api/experiments`), the split and the arms'
//! lists on `GET /proxy/recommendations`, the arm on events, and the per-arm attribution and
//! interval in `GET /api/analytics`, through real webhooks, widget events and pixel links.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

const SHOP: &str = "exp-shop.myshopify.com";
const OTHER: &str = "other-exp.myshopify.com";

fn product(id: i64) -> Value {
    json!({
        "id": id, "title": format!("Product {id}"), "handle": format!("p-{id}"), "vendor": format!("V{id}"),
        "product_type": format!("Type {id}"), "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "",
        "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": id * 100 + 1, "title": "Default", "price": "20.00", "inventory_quantity": 5, "inventory_policy": "deny", "position": 1}]
    })
}

async fn catalogue(app: &TestApp, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        app.deliver(&Delivery::new("products/create", SHOP, &product(id)))
            .await;
    }
    app.drain().await;
}

fn rfc3339_in(seconds: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// An order placed now (a minute ahead, so it is after every exposure of the test).
async fn order_now(
    app: &TestApp,
    order_id: i64,
    customer: Option<i64>,
    lines: &[(i64, i64, i64, &str)],
) {
    let mut body = order_payload(order_id, customer, "2099-01-01T10:00:00Z", lines);
    body["created_at"] = json!(rfc3339_in(60));
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
}

async fn create(app: &TestApp, shop: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .api_send(Method::POST, "/api/experiments", shop, Some(body))
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn patch(app: &TestApp, shop: &str, id: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .api_send(
            Method::PATCH,
            &format!("/api/experiments/{id}"),
            shop,
            Some(body),
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn start(app: &TestApp, intent: &str, a: &str, b: &str, share_a: i64) -> String {
    let (s, e) = create(
        app,
        SHOP,
        &json!({"name": "Test", "intent": intent, "arms": [{"strategy": a, "share": share_a}, {"strategy": b}]}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    let id = e["id"].as_str().unwrap().to_owned();
    let (s, e) = patch(app, SHOP, &id, &json!({"state": "running"})).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["state"], "running");
    id
}

async fn recs(app: &TestApp, customer: Option<i64>, params: &[(&str, &str)]) -> (u16, Value) {
    let url = app.url(&format!(
        "/proxy/recommendations?{}",
        proxy_query_with(SHOP, customer, now(), API_SECRET, params)
    ));
    let resp = app.client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("Cache-Control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    if status == 200 {
        // A browser keeps no arm's answer (a start or stop is seen at the next request).
        let want = if body.get("experiment").is_some() {
            "private, no-store"
        } else {
            "private, max-age=5"
        };
        assert_eq!(cache.as_deref(), Some(want), "{body}");
    }
    (status, body)
}

fn ids(body: &Value) -> Vec<String> {
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The split as the README states it, written again here: the first 8 bytes of
/// SHA-256("ID\nUNIT") as a big-endian integer, modulo 10,000, below A's share × 100 → arm a.
fn expected_arm(id: &str, unit: &str, share_a: u64) -> &'static str {
    let d = sha2::Sha256::digest(format!("{id}\n{unit}").as_bytes());
    let x = u64::from_be_bytes(d[..8].try_into().unwrap());
    if x % 10_000 < share_a * 100 { "a" } else { "b" }
}

async fn post_event(app: &TestApp, customer: Option<i64>, body: &Value) -> u16 {
    app.client
        .post(app.proxy_url("/events", SHOP, customer))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn analytics(app: &TestApp) -> Value {
    let resp = app.api_get("/api/analytics", SHOP).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn experiments_are_created_started_and_stopped_and_bad_input_is_named() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;

    // Every bad member is named by its path.
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"name": "", "intent": "cart", "arms": [{"strategy": "random", "share": 0}, {"strategy": "popular", "share": "half"}], "colour": "red"}),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    for f in [
        "colour",
        "name",
        "intent",
        "arms[0].strategy",
        "arms[0].share",
        "arms[1].share",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    assert_eq!(e["error"]["code"], "validation_failed", "{e}");
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "trending", "arms": [{"strategy": "popular"}, {"strategy": "popular"}]}),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(e["errors"][0]["field"], "arms[1].strategy");
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "trending", "arms": [{"strategy": "popular"}]}),
    )
    .await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (422, Some("arms")));
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "trending", "arms": [{"strategy": "popular", "share": 70}, {"strategy": "control", "share": 40}]}),
    )
    .await;
    assert_eq!(
        (s, e["errors"][0]["code"].as_str()),
        (422, Some("invalid_sum"))
    );
    let (s, _) = create(&app, SHOP, &json!([1, 2])).await;
    assert_eq!(s, 422);
    // Not JSON at all: a 400.
    let resp = app
        .client
        .post(app.url("/api/experiments"))
        .bearer_auth(app.session_token(SHOP))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");

    // A draft: default 50/50, a generated name when none is given.
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "related", "arms": [{"strategy": "personalized"}, {"strategy": "control"}]}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["state"], "draft");
    assert_eq!(
        e["arms"],
        json!([{"arm": "a", "strategy": "personalized", "share": 50}, {"arm": "b", "strategy": "control", "share": 50}])
    );
    assert_eq!(e["results"], Value::Null);
    let id = e["id"].as_str().unwrap().to_owned();
    // A draft can change its arms; the GET's own arms can be sent back.
    let (s, e) = patch(
        &app,
        SHOP,
        &id,
        &json!({"name": "Related vs nothing", "arms": [{"arm": "a", "strategy": "personalized", "share": 80}, {"arm": "b", "strategy": "control", "share": 20}]}),
    )
    .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["arms"][0]["share"], 80);
    assert_eq!(e["name"], "Related vs nothing");
    let (s, e) = patch(&app, SHOP, &id, &json!({"state": "paused"})).await;
    assert_eq!((s, e["errors"][0]["field"].as_str()), (422, Some("state")));

    // Started: its arms are fixed; a second one on the same slot waits.
    let (s, e) = patch(&app, SHOP, &id, &json!({"state": "running"})).await;
    assert_eq!(s, 200, "{e}");
    assert!(e["started_at"].is_string());
    let (s, e) = patch(
        &app,
        SHOP,
        &id,
        &json!({"arms": [{"strategy": "popular"}, {"strategy": "control"}]}),
    )
    .await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("not_draft")));
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "related", "arms": [{"strategy": "popular"}, {"strategy": "personalized"}], "state": "running"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("experiment_running")),
        "{e}"
    );
    // Another slot is free.
    let (s, e) = create(
        &app,
        SHOP,
        &json!({"intent": "trending", "arms": [{"strategy": "popular"}, {"strategy": "personalized"}], "state": "running"}),
    )
    .await;
    assert_eq!((s, e["state"].as_str()), (201, Some("running")), "{e}");

    // Another shop sees none of it.
    let resp = app.api_get(&format!("/api/experiments/{id}"), OTHER).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let (s, _) = patch(&app, OTHER, &id, &json!({"state": "stopped"})).await;
    assert_eq!(s, 404);
    let list: Value = app
        .api_get("/api/experiments", OTHER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"], json!([]));
    let a: Value = app
        .api_get("/api/analytics", OTHER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["experiments"], json!([]));

    // Stopped: final, and its results stay readable.
    let (s, e) = patch(&app, SHOP, &id, &json!({"state": "stopped"})).await;
    assert_eq!(s, 200, "{e}");
    assert!(e["stopped_at"].is_string());
    assert!(e["results"]["arms"].is_array(), "{e}");
    let (s, e) = patch(&app, SHOP, &id, &json!({"state": "running"})).await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // Listed newest first, in pages.
    let page: Value = app
        .api_get("/api/experiments?limit=1", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["intent"], "trending");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next: Value = app
        .api_get(&format!("/api/experiments?limit=1&cursor={cursor}"), SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["id"], id.as_str());
    assert_eq!(next["next_cursor"], Value::Null);
    let resp = app.api_get("/api/experiments?cursor=garbage!", SHOP).await;
    assert_eq!(resp.status(), 400);
    let resp = app.api_get("/api/experiments/nope", SHOP).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn the_split_is_deterministic_near_the_share_and_a_control_arm_gets_an_empty_list() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, 1..=6).await;
    let id = start(&app, "trending", "control", "personalized", 30).await;

    let n = 400;
    let mut in_a = 0;
    for i in 0..n {
        let session = format!("sess{i}");
        let (s, body) = recs(
            &app,
            None,
            &[("intent", "trending"), ("session_id", &session)],
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let arm = body["experiment"]["arm"].as_str().unwrap();
        assert_eq!(body["experiment"]["id"], id.as_str());
        assert_eq!(
            arm,
            expected_arm(&id, &format!("s:{session}"), 30),
            "{session}"
        );
        // Every existing member is still there.
        assert_eq!(body["intent"], "trending");
        if arm == "a" {
            in_a += 1;
            assert_eq!(body["products"], json!([]), "control: nothing to show");
        } else {
            assert_eq!(ids(&body).len(), 6, "{body}");
        }
        if i % 50 == 0 {
            // The same shopper always gets the same arm.
            let (_, again) = recs(
                &app,
                None,
                &[("intent", "trending"), ("session_id", &session)],
            )
            .await;
            assert_eq!(again["experiment"], body["experiment"]);
            assert_eq!(again["products"], body["products"]);
        }
    }
    // 30 % of 400 = 120, standard deviation 9.2: within 4 of them.
    assert!((83..=157).contains(&in_a), "{in_a} of {n} in arm a");
    assert_eq!(app.table_count("rec_experiment_exposures"), n as i64);

    // Logged in: split by the customer, whatever the session.
    let customer = 777_000_000_000_001i64;
    let want = expected_arm(&id, &format!("c:{customer}"), 30);
    for session in ["x1", "x2", "x3"] {
        let (_, body) = recs(
            &app,
            Some(customer),
            &[("intent", "trending"), ("session_id", session)],
        )
        .await;
        assert_eq!(body["experiment"]["arm"], want);
    }
    // No session (the visitor did not allow analytics): not enrolled, the ordinary list.
    let (_, body) = recs(&app, None, &[("intent", "trending")]).await;
    assert!(body.get("experiment").is_none(), "{body}");
    assert_eq!(ids(&body).len(), 6);
    // Another slot has no experiment: no member.
    let (_, body) = recs(
        &app,
        None,
        &[
            ("intent", "related"),
            ("product_id", "1"),
            ("session_id", "sess1"),
        ],
    )
    .await;
    assert!(body.get("experiment").is_none(), "{body}");
    // A malformed session id is named.
    let (s, body) = recs(
        &app,
        None,
        &[("intent", "trending"), ("session_id", "no spaces")],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(body["errors"][0]["field"], "session_id");
    assert_eq!(app.table_count("rec_experiment_exposures"), n as i64 + 1);

    // Stopped: everyone gets the ordinary list again, without the member.
    let (s, _) = patch(&app, SHOP, &id, &json!({"state": "stopped"})).await;
    assert_eq!(s, 200);
    let (_, body) = recs(
        &app,
        None,
        &[("intent", "trending"), ("session_id", "sess0")],
    )
    .await;
    assert!(body.get("experiment").is_none(), "{body}");
    assert_eq!(ids(&body).len(), 6);
}

#[tokio::test]
async fn caches_never_leak_one_arms_list_into_the_other() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, 1..=8).await;
    // Best sellers: 7, then 8 (bought by strangers). Viewers of 1 also view 4 and 5.
    order_now(&app, 1, None, &[(101, 7, 1, "20.00"), (102, 8, 1, "20.00")]).await;
    order_now(&app, 2, None, &[(201, 7, 1, "20.00")]).await;
    app.drain().await;
    for s in ["v1", "v2", "v3"] {
        for p in [1, 4, 5] {
            assert_eq!(
                post_event(
                    &app,
                    None,
                    &json!({"type": "view", "product_id": p, "session_id": s})
                )
                .await,
                204
            );
        }
    }
    // The ordinary related list of product 1, before any experiment (and warming the caches).
    let (_, plain) = recs(
        &app,
        None,
        &[("intent", "related"), ("product_id", "1"), ("limit", "3")],
    )
    .await;
    let related = ids(&plain);
    assert_eq!(&related[..2], &["4", "5"], "{plain}");
    let id = start(&app, "related", "popular", "personalized", 50).await;

    let mut seen = [0, 0];
    let mut popular: Option<Vec<String>> = None;
    for round in 0..3 {
        for i in 0..40 {
            let session = format!("c{i}");
            let (_, body) = recs(
                &app,
                None,
                &[
                    ("intent", "related"),
                    ("product_id", "1"),
                    ("limit", "3"),
                    ("session_id", &session),
                ],
            )
            .await;
            let list = ids(&body);
            match body["experiment"]["arm"].as_str().unwrap() {
                "a" => {
                    seen[0] += 1;
                    assert_eq!(
                        &list[..2],
                        &["7", "8"],
                        "popular arm: best sellers first ({round})"
                    );
                    assert!(!list.contains(&"1".to_owned()), "never the viewed product");
                    if let Some(p) = &popular {
                        assert_eq!(p, &list);
                    }
                    popular = Some(list);
                }
                _ => {
                    seen[1] += 1;
                    assert_eq!(
                        list, related,
                        "personalized arm: the slot's own list ({round})"
                    );
                }
            }
        }
    }
    assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    // Outside the experiment (no session), the ordinary list, from the same caches.
    let (_, body) = recs(
        &app,
        None,
        &[("intent", "related"), ("product_id", "1"), ("limit", "3")],
    )
    .await;
    assert_eq!(ids(&body), related);
    // A merchant exclusion reaches the popular arm at once too.
    let r = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&json!({"excluded_everywhere": ["7"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let a_session = (0..40)
        .map(|i| format!("c{i}"))
        .find(|s| expected_arm(&id, &format!("s:{s}"), 50) == "a")
        .unwrap();
    let (_, body) = recs(
        &app,
        None,
        &[
            ("intent", "related"),
            ("product_id", "1"),
            ("limit", "3"),
            ("session_id", &a_session),
        ],
    )
    .await;
    assert_eq!(ids(&body)[0], "8", "{body}");
}

/// Newcombe's hybrid score interval, written again from the paper for the test.
fn newcombe(xa: f64, na: f64, xb: f64, nb: f64) -> (f64, f64, f64) {
    let z = 1.959_963_984_540_054f64;
    let wilson = |x: f64, n: f64| {
        let p = x / n;
        let a = 2.0 * n * p + z * z;
        let b = z * (z * z + 4.0 * n * p * (1.0 - p)).sqrt();
        let c = 2.0 * (n + z * z);
        ((a - b) / c, (a + b) / c)
    };
    let (pa, pb) = (xa / na, xb / nb);
    let ((la, ua), (lb, ub)) = (wilson(xa, na), wilson(xb, nb));
    let d = pb - pa;
    (
        d,
        d - ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt(),
        d + ((ub - pb).powi(2) + (pa - la).powi(2)).sqrt(),
    )
}

/// Welch's difference of means (normal approximation), from the values themselves.
fn welch(a: &[f64], b: &[f64]) -> (f64, f64, f64) {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let var = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let d = mean(b) - mean(a);
    let se = (var(a) / a.len() as f64 + var(b) / b.len() as f64).sqrt();
    (
        d,
        d - 1.959_963_984_540_054 * se,
        d + 1.959_963_984_540_054 * se,
    )
}

fn close(got: &Value, want: f64, tol: f64) {
    let g = got.as_f64().unwrap_or_else(|| panic!("a number: {got}"));
    assert!((g - want).abs() <= tol, "{g} vs {want}");
}

#[tokio::test]
async fn exposures_conversions_and_revenue_are_attributed_per_arm_with_the_interval() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, 1..=6).await;
    // An order placed before the experiment never counts.
    let early_customer = 900_001i64;
    let mut early = order_payload(
        50,
        Some(early_customer),
        "2099-01-01T10:00:00Z",
        &[(5001, 2, 1, "20.00")],
    );
    early["created_at"] = json!(rfc3339_in(-3600));
    app.deliver(&Delivery::new("orders/create", SHOP, &early))
        .await;
    app.drain().await;
    let id = start(&app, "trending", "control", "personalized", 50).await;

    // Logged-in shoppers 1..=20 and anonymous sessions an0..an19 reach the slot.
    let customers: Vec<i64> = (1..=20).map(|i| 910_000 + i).collect();
    let mut arm_of_customer = std::collections::HashMap::new();
    for (i, c) in customers.iter().enumerate() {
        let (_, body) = recs(
            &app,
            Some(*c),
            &[("intent", "trending"), ("session_id", &format!("cs{i}"))],
        )
        .await;
        arm_of_customer.insert(*c, body["experiment"]["arm"].as_str().unwrap().to_owned());
    }
    let sessions: Vec<String> = (0..20).map(|i| format!("an{i}")).collect();
    let mut arm_of_session = std::collections::HashMap::new();
    for s in &sessions {
        let (_, body) = recs(&app, None, &[("intent", "trending"), ("session_id", s)]).await;
        arm_of_session.insert(
            s.clone(),
            body["experiment"]["arm"].as_str().unwrap().to_owned(),
        );
    }
    // The early customer comes back: exposed now, their earlier order is not a conversion.
    let (_, body) = recs(
        &app,
        Some(early_customer),
        &[("intent", "trending"), ("session_id", "early")],
    )
    .await;
    let early_arm = body["experiment"]["arm"].as_str().unwrap().to_owned();

    // Orders: customers 1..=8 order once (2 × $20 + 1 × $15 = 5500), customer 1 twice;
    // sessions an0..an5 order through the pixel's checkout link (1 × $20 = 2000); one
    // cancelled order (customer 9) counts nothing.
    let mut revenue: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut order_id = 1000;
    for c in &customers[..8] {
        order_id += 1;
        order_now(
            &app,
            order_id,
            Some(*c),
            &[
                (order_id * 10, 3, 2, "20.00"),
                (order_id * 10 + 1, 4, 1, "15.00"),
            ],
        )
        .await;
        *revenue.entry(format!("c:{c}")).or_default() += 5500;
    }
    order_id += 1;
    order_now(
        &app,
        order_id,
        Some(customers[0]),
        &[(order_id * 10, 5, 1, "20.00")],
    )
    .await;
    *revenue.entry(format!("c:{}", customers[0])).or_default() += 2000;
    order_id += 1;
    let mut cancelled = order_payload(
        order_id,
        Some(customers[8]),
        "2099-01-01T10:00:00Z",
        &[(order_id * 10, 3, 1, "20.00")],
    );
    cancelled["created_at"] = json!(rfc3339_in(60));
    cancelled["cancelled_at"] = json!(rfc3339_in(61));
    app.deliver(&Delivery::new("orders/create", SHOP, &cancelled))
        .await;
    for s in &sessions[..6] {
        order_id += 1;
        order_now(&app, order_id, None, &[(order_id * 10, 6, 1, "20.00")]).await;
        let r = app
            .client
            .post(app.url("/pixel/events"))
            .header("Content-Type", "text/plain;charset=UTF-8")
            .header("Origin", "https://extensions.shopifycdn.com")
            .body(json!({"shop": SHOP, "event_id": format!("done-{s}"), "client_id": s, "name": "checkout_completed", "order_id": order_id.to_string()}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        *revenue.entry(format!("s:{s}")).or_default() += 2000;
    }
    app.drain().await;

    // Widget events carry the arm; a tampered arm is not counted for the experiment.
    let b_session = sessions
        .iter()
        .find(|s| arm_of_session[*s] == "b")
        .unwrap()
        .clone();
    let a_session = sessions
        .iter()
        .find(|s| arm_of_session[*s] == "a")
        .unwrap()
        .clone();
    for (s, arm, kind) in [
        (&b_session, "b", "view"),
        (&b_session, "b", "view"),
        (&b_session, "b", "click"),
        (&a_session, "b", "view"),
    ] {
        let status = post_event(
            &app,
            None,
            &json!({"type": kind, "product_id": "2", "session_id": s, "intent": "trending", "experiment": {"id": id, "arm": arm}}),
        )
        .await;
        assert_eq!(status, 204);
    }
    let status = post_event(
        &app,
        None,
        &json!({"type": "view", "product_id": "2", "session_id": "zz", "intent": "trending", "experiment": {"id": id, "arm": "c"}}),
    )
    .await;
    assert_eq!(status, 422);

    let report = analytics(&app).await;
    // The per-intent report is as before.
    assert!(
        report["intents"]["trending"]["impressions"].is_number(),
        "{report}"
    );
    let exps = report["experiments"].as_array().unwrap();
    assert_eq!(exps.len(), 1);
    let e = &exps[0];
    assert_eq!(e["id"], id.as_str());
    let r = &e["results"];

    // Expected, per arm, from what the test did.
    let mut units: Vec<(String, String)> = Vec::new();
    for c in &customers {
        units.push((format!("c:{c}"), arm_of_customer[c].clone()));
    }
    for s in &sessions {
        units.push((format!("s:{s}"), arm_of_session[s].clone()));
    }
    units.push((format!("c:{early_customer}"), early_arm));
    let mut values: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut conv = [0f64; 2];
    let mut rev = [0i64; 2];
    for (unit, arm) in &units {
        let k = usize::from(arm == "b");
        let v = revenue.get(unit).copied().unwrap_or(0);
        values[k].push(v as f64);
        rev[k] += v;
        if v > 0 {
            conv[k] += 1.0;
        }
    }
    for (k, arm) in ["a", "b"].iter().enumerate() {
        let got = &r["arms"][k];
        assert_eq!(got["arm"], *arm);
        assert_eq!(got["exposed_sessions"], values[k].len(), "{r}");
        assert_eq!(got["converting_sessions"], conv[k] as u64, "{r}");
        assert_eq!(got["revenue_cents"], rev[k], "{r}");
        close(
            &got["conversion_rate"],
            conv[k] / values[k].len() as f64,
            1e-6,
        );
        close(
            &got["revenue_per_session_cents"],
            rev[k] as f64 / values[k].len() as f64,
            0.006,
        );
    }
    assert_eq!(r["arms"][0]["strategy"], "control");
    assert_eq!(r["totals"]["revenue_cents"], rev[0] + rev[1]);
    assert_eq!(r["totals"]["exposed_sessions"], units.len());
    assert_eq!(r["arms"][1]["impressions"], 2);
    assert_eq!(r["arms"][1]["clicks"], 1);
    assert_eq!(r["arms"][0]["impressions"], 0, "a tampered arm is dropped");

    let (d, lo, hi) = newcombe(
        conv[0],
        values[0].len() as f64,
        conv[1],
        values[1].len() as f64,
    );
    let c = &r["difference"]["conversion_rate"];
    close(&c["estimate"], d, 1e-6);
    close(&c["low"], lo, 1e-6);
    close(&c["high"], hi, 1e-6);
    assert_eq!(c["verdict"], "insufficient_data", "41 sessions are too few");
    let (d, lo, hi) = welch(&values[0], &values[1]);
    let w = &r["difference"]["revenue_per_session_cents"];
    close(&w["estimate"], d, 0.006);
    close(&w["low"], lo, 0.006);
    close(&w["high"], hi, 0.006);
    assert_eq!(r["verdict"], "insufficient_data");

    // The same figures on the experiment's own page, and after it stopped.
    let (s, stopped) = patch(&app, SHOP, &id, &json!({"state": "stopped"})).await;
    assert_eq!(s, 200);
    assert_eq!(stopped["results"]["arms"], r["arms"]);
    assert_eq!(stopped["results"]["difference"], r["difference"]);
}

#[tokio::test]
async fn enough_sessions_give_a_verdict_and_erasure_removes_a_shoppers_exposures() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, 1..=4).await;
    let id = start(&app, "for_you", "control", "personalized", 50).await;
    let mut b_customers = Vec::new();
    let mut sizes = [0u64; 2];
    for i in 0..240i64 {
        let customer = 5_000_000 + i;
        let (_, body) = recs(
            &app,
            Some(customer),
            &[("intent", "for_you"), ("session_id", &format!("k{i}"))],
        )
        .await;
        let arm = body["experiment"]["arm"].as_str().unwrap();
        sizes[usize::from(arm == "b")] += 1;
        if arm == "b" {
            b_customers.push(customer);
        }
    }
    assert!(sizes[0] >= 100 && sizes[1] >= 100, "{sizes:?}");
    // A third of arm b orders; arm a (control) does not.
    for (n, c) in b_customers.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
        order_now(
            &app,
            20_000 + n as i64,
            Some(*c),
            &[(2_000_000 + n as i64, 2, 1, "20.00")],
        )
        .await;
    }
    app.drain().await;
    let report = analytics(&app).await;
    let r = &report["experiments"][0]["results"];
    let conv = r["arms"][1]["converting_sessions"].as_u64().unwrap();
    assert_eq!(conv, b_customers.len().div_ceil(3) as u64, "{r}");
    assert_eq!(r["arms"][0]["converting_sessions"], 0);
    assert!(
        r["difference"]["conversion_rate"]["low"].as_f64().unwrap() > 0.0,
        "{r}"
    );
    assert_eq!(
        r["difference"]["conversion_rate"]["verdict"], "b_higher",
        "{r}"
    );
    assert_eq!(r["verdict"], "b_higher");
    assert_eq!(
        r["difference"]["revenue_per_session_cents"]["verdict"], "b_higher",
        "{r}"
    );

    // customers/redact: the shopper's exposure goes, and its data request lists it before.
    let anna = b_customers[0];
    app.deliver(&Delivery::new("customers/data_request", SHOP, &json!({
        "shop_id": 1, "shop_domain": SHOP, "orders_requested": [], "customer": {"id": anna}, "data_request": {"id": 1}
    }))).await;
    app.drain().await;
    let list: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let exposures = &list["items"][0]["export"]["experiment_exposures"];
    assert_eq!(exposures[0]["experiment_id"], id.as_str(), "{list}");
    assert_eq!(exposures[0]["arm"], "b");
    let before = app.table_count("rec_experiment_exposures");
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({
            "shop_id": 1, "shop_domain": SHOP, "customer": {"id": anna}, "orders_to_redact": []
        }),
    ))
    .await;
    app.drain().await;
    assert_eq!(app.table_count("rec_experiment_exposures"), before - 1);
    assert!(
        !app.tables_mentioning(&anna.to_string())
            .contains(&"rec_experiment_exposures".to_owned())
    );
}
