//! The store's webhooks keep being answered while shoppers (or a script posing as them) flood
//! the storefront with hostile personalize requests: with the real binary, every delivery gets
//! its 200 within a second.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "flood-co.myshopify.com";
const PRODUCT: i64 = 5151;

fn session_token() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    jwt(
        &json!({
            "iss": format!("https://{SHOP}/admin"), "dest": format!("https://{SHOP}"),
            "aud": API_KEY, "sub": "42", "exp": now + 300, "nbf": now, "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(), "sid": "abc",
        }),
        API_SECRET,
    )
}

/// Bodies a hostile client would send: exponents and digit runs far out of range, long texts
/// against a pattern, many keys, deep nesting.
fn hostile_bodies() -> Vec<Value> {
    let deep = (0..120).fold(json!(1), |v, _| json!([v]));
    let many: serde_json::Map<String, Value> =
        (0..2_000).map(|i| (format!("k{i}"), json!("x"))).collect();
    vec![
        json!({"values": {"size": "1e2147483647", "line": "a"}}),
        json!({"values": {"size": "0e-2147483647"}}),
        json!({"values": {"size": "9".repeat(20_000)}}),
        json!({"values": {"size": 7, "line": "a".repeat(30_000)}}),
        json!({"values": {"size": 7, "line": "ab".repeat(10_000) + "!"}}),
        json!({"values": many}),
        json!({"values": {"size": deep}}),
    ]
}

#[tokio::test]
async fn webhooks_are_answered_promptly_during_a_personalize_flood() {
    init();
    let store = FakeStore::start().await;
    let db = TestDb::new();
    seed_installed_shop(&db.url, SHOP, "read_products,read_orders,read_customers");
    let port = free_port();
    let mut vars = base_vars(&db, &store);
    vars.insert("BIND_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("RUST_LOG".into(), "warn".into());
    let _server = ChildServer(
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .env_clear()
            .envs(vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let template = json!({
        "name": "Jersey",
        "product_ids": [PRODUCT.to_string()],
        "fields": [
            {"key": "size", "label": "Number", "type": "number", "required": true, "min": 0, "max": 99, "step": 1},
            {"key": "line", "label": "Name", "type": "text", "max_length": 40, "pattern": "(?:[A-Za-z]+ ?)+"}
        ]
    });
    let created = client
        .post(format!("{base}/api/templates"))
        .bearer_auth(session_token())
        .json(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let hostile_sent = Arc::new(AtomicU64::new(0));
    let mut flood = Vec::new();
    for worker in 0..24 {
        let (client, base, stop, sent) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            hostile_sent.clone(),
        );
        flood.push(tokio::spawn(async move {
            let bodies = hostile_bodies();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let url = format!(
                    "{base}/proxy/products/{PRODUCT}/personalize?{}",
                    proxy_query(SHOP, None, now(), API_SECRET)
                );
                let resp = client
                    .post(url)
                    .json(&bodies[i % bodies.len()])
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                assert!(
                    (400..500).contains(&status),
                    "a hostile body gets a 4xx, not {status}"
                );
                sent.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    // Let the flood build up, then deliver webhooks at a steady pace through it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut slowest = Duration::ZERO;
    for i in 0..60 {
        let body = serde_json::to_vec(&json!({
            "id": 7_000_000 + i, "title": format!("Product {i}"), "status": "active",
            "updated_at": "2026-11-01T10:00:00Z", "variants": [], "tags": ""
        }))
        .unwrap();
        let started = Instant::now();
        let resp = client
            .post(format!("{base}/webhooks"))
            .timeout(Duration::from_secs(5))
            .header("X-Shopify-Topic", "products/update")
            .header("X-Shopify-Hmac-Sha256", webhook_hmac(&body, API_SECRET))
            .header("X-Shopify-Shop-Domain", SHOP)
            .header("X-Shopify-Webhook-Id", format!("flood-{i}"))
            .header("X-Shopify-API-Version", "2026-10")
            .body(body)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(resp.status(), 200);
        slowest = slowest.max(took);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        f.await.unwrap();
    }
    assert!(
        hostile_sent.load(Ordering::Relaxed) > 100,
        "the flood ran: {} requests",
        hostile_sent.load(Ordering::Relaxed)
    );
    assert!(
        slowest < Duration::from_secs(1),
        "slowest webhook answer during the flood: {slowest:?}"
    );
}
