//! Triggered follow-ups with a real local receiver: settings and the signing secret, price drop
//! and back in stock on wished products, abandoned personalizations, signatures, retries after
//! a 500, dead letters, consent re-checked at send time, frequency caps, pause-until, SSRF
//! refusals, and a process killed mid-delivery.

use std::collections::{HashMap, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use atelier::config::Settings;
use atelier::startup::Application;

const SHOP: &str = "follow-shop.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123;
const BEN: i64 = 7_720_000_000_000_456;

// ---------------------------------------------------------------- a receiver

#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct ReceiverInner {
    received: Vec<Received>,
    /// Statuses answered to the next requests (then 200).
    script: VecDeque<u16>,
    /// Holds the next request this long before answering.
    hang: Option<Duration>,
    always: Option<u16>,
}

#[derive(Clone)]
struct Receiver {
    inner: Arc<Mutex<ReceiverInner>>,
    port: u16,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Arc<Mutex<ReceiverInner>>>,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let (status, hang) = {
        let mut i = inner.lock().unwrap();
        i.received.push(Received {
            headers,
            body: body.to_vec(),
        });
        let status = i.always.or_else(|| i.script.pop_front()).unwrap_or(200);
        (status, i.hang.take())
    };
    if let Some(d) = hang {
        tokio::time::sleep(d).await;
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(ReceiverInner::default()));
        let data = web::Data::new(inner.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .disable_signals()
        .run();
        tokio::spawn(server);
        Receiver { inner, port }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/atelier", self.port)
    }
    fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver got {} of {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---------------------------------------------------------------- the app

/// The app with fast outbox timings and the testing aid that lets it call a receiver on
/// loopback (set on the settings: the environment variable is refused in production).
async fn spawn(workers: bool) -> TestApp {
    init();
    let store = FakeStore::start().await;
    let db = TestDb::new();
    let mut vars = base_vars(&db, &store);
    vars.insert("ATELIER_OUTBOX_BACKOFF_MS".into(), "50".into());
    vars.insert("ATELIER_OUTBOX_POLL_MS".into(), "30".into());
    vars.insert("ATELIER_OUTBOX_MAX_ATTEMPTS".into(), "3".into());
    vars.insert("ATELIER_OUTBOX_TIMEOUT_MS".into(), "2000".into());
    vars.insert("ATELIER_WORKERS".into(), workers.to_string());
    let mut settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings");
    settings.outbox.allow_private = true;
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let port = app.port();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        state,
        store,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
    }
}

/// Another instance on the same database, with workers and the same testing aid.
async fn spawn_worker_sibling(app: &TestApp) {
    let mut vars = base_vars(&app.db, &app.store);
    vars.insert("ATELIER_OUTBOX_BACKOFF_MS".into(), "50".into());
    vars.insert("ATELIER_OUTBOX_POLL_MS".into(), "30".into());
    let mut settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
    settings.outbox.allow_private = true;
    let sibling = Application::build(settings).await.unwrap();
    tokio::spawn(sibling.run_until_stopped());
}

fn product(id: i64, price: &str, qty: i64, updated_at: &str) -> Value {
    json!({
        "id": id, "title": format!("Candle {id}"), "handle": format!("candle-{id}"), "vendor": "Acme",
        "product_type": "Candles", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "",
        "updated_at": updated_at,
        "variants": [{"id": id * 100 + 1, "title": "Default", "price": price, "inventory_quantity": qty, "inventory_policy": "deny", "position": 1}]
    })
}

async fn put(app: &TestApp, path: &str, customer: i64, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .request(Method::PUT, app.proxy_url(path, SHOP, Some(customer)))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn contactable(app: &TestApp, customer: i64, frequency: Option<&str>) {
    let (status, body) = put(
        app,
        "/preferences",
        customer,
        &json!({"communication": {"email": true, "frequency": frequency}, "consent": {"marketing": true}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn wish(app: &TestApp, customer: i64, product: i64) {
    let resp = app
        .client
        .post(app.proxy_url("/wishlist", SHOP, Some(customer)))
        .json(&json!({ "product_id": product }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

async fn settings_put(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .api_send(Method::PUT, "/api/followups/settings", SHOP, Some(body))
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// Installs the shop, two products, and turns follow-ups on towards `receiver`; answers the
/// signing secret.
async fn setup(app: &TestApp, receiver: &Receiver, format: &str) -> String {
    app.install(SHOP).await;
    for id in [1, 2] {
        app.deliver(&Delivery::new(
            "products/create",
            SHOP,
            &product(id, "20.00", 5, "2026-11-01T10:00:00Z"),
        ))
        .await;
    }
    app.deliver(&Delivery::new(
        "products/create",
        SHOP,
        &product(3, "20.00", 0, "2026-11-01T10:00:00Z"),
    ))
    .await;
    settle(app).await;
    let resp = app
        .api_send(
            Method::PUT,
            "/api/preference-center",
            SHOP,
            Some(&json!({"frequencies": ["daily", "weekly", "monthly"]})),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let (status, body) = settings_put(
        app,
        &json!({
            "destination_url": receiver.url(), "format": format, "channel": "email",
            "triggers": {"price_drop": true, "back_in_stock": true, "abandoned_personalization": true},
            "abandoned_after_minutes": 5,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["signing_secret"]
        .as_str()
        .expect("secret shown on the first save")
        .to_owned()
}

async fn price_drop(app: &TestApp, id: i64, price: &str, at: &str) {
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(id, price, 5, at),
    ))
    .await;
    settle(app).await;
}

async fn deliveries(app: &TestApp, query: &str) -> Value {
    let resp = app
        .api_get(&format!("/api/followups/deliveries{query}"), SHOP)
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn wait_state(app: &TestApp, state: &str, n: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = deliveries(app, "").await;
        if d["counts"][state].as_i64().unwrap_or(0) >= n {
            return d;
        }
        assert!(Instant::now() < deadline, "no {n} {state} deliveries: {d}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn verify(secret: &str, r: &Received) -> bool {
    let ts = &r.headers["x-atelier-timestamp"];
    let mut message = format!("{ts}.").into_bytes();
    message.extend_from_slice(&r.body);
    let expected = format!(
        "v1={}",
        hex::encode(atelier::crypto::hmac_sha256(secret.as_bytes(), &message))
    );
    r.headers["x-atelier-signature"] == expected
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn settings_generate_a_secret_shown_once_and_refuse_bad_values() {
    let app = spawn(true).await;
    app.install(SHOP).await;
    let resp = app.api_get("/api/followups/settings", SHOP).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["destination_url"], Value::Null);
    assert_eq!(body["format"], "webhook");
    assert_eq!(body["secret_hint"], Value::Null);

    let (status, first) = settings_put(&app, &json!({"destination_url": "https://hooks.example.com/a", "triggers": {"price_drop": true}})).await;
    assert_eq!(status, 200, "{first}");
    let secret = first["signing_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("atsec_") && secret.len() > 40);
    assert!(
        first["secret_hint"]
            .as_str()
            .unwrap()
            .ends_with(&secret[secret.len() - 4..])
    );
    assert_eq!(first["triggers"]["price_drop"], true);
    assert_eq!(first["triggers"]["back_in_stock"], false);
    // Never again in an answer, nor stored in clear.
    let again: Value = app
        .api_get("/api/followups/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again.get("signing_secret"), None);
    assert!(!again.to_string().contains(&secret));
    assert!(
        app.tables_mentioning(&secret).is_empty(),
        "stored encrypted"
    );
    let (_, later) = settings_put(&app, &json!({"format": "klaviyo"})).await;
    assert_eq!(later.get("signing_secret"), None);
    assert_eq!(
        later["destination_url"], "https://hooks.example.com/a",
        "absent members stay"
    );
    // Rotation answers a new one.
    let rotated: Value = app
        .api_send(Method::POST, "/api/followups/secret", SHOP, None)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["signing_secret"], json!(secret));

    let (status, body) = settings_put(&app, &json!({
        "destination_url": "ftp://x", "format": "xml", "channel": "fax", "abandoned_after_minutes": 1,
        "triggers": {"price_drop": "yes", "sale": true}, "extra": 1
    })).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "destination_url",
        "format",
        "channel",
        "abandoned_after_minutes",
        "triggers.price_drop",
        "triggers.sale",
        "extra",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let (status, _) =
        settings_put(&app, &json!({"destination_url": "https://a.example/\u{0}"})).await;
    assert_eq!(status, 422);
    let resp = app
        .client
        .get(app.url("/api/followups/settings"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn without_the_testing_aid_private_and_loopback_destinations_are_refused() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for url in [
        "http://127.0.0.1:9/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://intranet/x",
    ] {
        let (status, body) = settings_put(&app, &json!({ "destination_url": url })).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["errors"][0]["code"], "invalid_url");
    }
    let (status, _) = settings_put(
        &app,
        &json!({"destination_url": "https://hooks.example.com/x"}),
    )
    .await;
    assert_eq!(status, 200);
    // The variable is a testing aid: production refuses to start with it.
    let mut vars = base_vars(&app.db, &app.store);
    vars.insert("ATELIER_OUTBOX_ALLOW_PRIVATE".into(), "true".into());
    let err = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
    assert_eq!(err.variable, "ATELIER_OUTBOX_ALLOW_PRIVATE");
}

#[tokio::test]
async fn a_price_drop_on_a_wished_product_is_delivered_signed_with_its_id() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    let secret = setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("daily")).await;
    wish(&app, ANNA, 1).await;
    wish(&app, BEN, 1).await; // no consent: nothing for Ben
    price_drop(&app, 1, "15.00", "2026-11-02T10:00:00Z").await;

    let got = receiver.wait_for(1).await;
    let d = wait_state(&app, "delivered", 1).await;
    let r = &got[0];
    assert!(verify(&secret, r), "signature verifies: {:?}", r.headers);
    assert_eq!(r.headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        r.headers["x-atelier-event-id"],
        body["id"].as_str().unwrap()
    );
    assert_eq!(r.headers["idempotency-key"], body["id"].as_str().unwrap());
    assert_eq!(r.headers["x-atelier-event-type"], "price_drop");
    assert_eq!(body["type"], "price_drop");
    assert_eq!(body["shop"], SHOP);
    assert_eq!(body["customer_id"], ANNA.to_string());
    assert_eq!(body["channel"], "email");
    assert_eq!(body["data"]["product_id"], "1");
    assert_eq!(body["data"]["title"], "Candle 1");
    assert_eq!(
        body["data"]["url"],
        format!("https://{SHOP}/products/candle-1")
    );
    assert_eq!(body["data"]["old_price_cents"], 2000);
    assert_eq!(body["data"]["new_price_cents"], 1500);
    // A tampered body or another secret does not verify.
    let mut forged = r.clone();
    forged.body = r
        .body
        .iter()
        .map(|b| if *b == b'5' { b'4' } else { *b })
        .collect();
    assert!(!verify(&secret, &forged));
    assert!(!verify("atsec_other", r));

    assert_eq!(d["items"][0]["state"], "delivered");
    assert_eq!(d["items"][0]["attempts"], 1);
    // The same update again (a redelivery) and a price rise trigger nothing.
    price_drop(&app, 1, "15.00", "2026-11-02T10:00:00Z").await;
    price_drop(&app, 1, "18.00", "2026-11-03T10:00:00Z").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        deliveries(&app, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn back_in_stock_in_the_klaviyo_format() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    let secret = setup(&app, &receiver, "klaviyo").await;
    contactable(&app, ANNA, None).await;
    wish(&app, ANNA, 3).await; // sold out
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(3, "20.00", 4, "2026-11-02T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    let got = receiver.wait_for(1).await;
    let r = &got[0];
    assert!(verify(&secret, r));
    assert_eq!(r.headers["revision"], "2025-01-15");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let a = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "event");
    assert_eq!(a["metric"]["data"]["type"], "metric");
    assert_eq!(
        a["metric"]["data"]["attributes"]["name"],
        "Atelier Back in Stock"
    );
    assert_eq!(a["profile"]["data"]["type"], "profile");
    assert_eq!(
        a["profile"]["data"]["attributes"]["external_id"],
        ANNA.to_string()
    );
    assert_eq!(a["unique_id"], r.headers["x-atelier-event-id"].as_str());
    assert_eq!(a["properties"]["product_id"], "3");
    assert_eq!(a["properties"]["atelier_event_type"], "back_in_stock");
    assert!(a["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        !r.headers.contains_key("authorization"),
        "no private key saved, no Authorization header"
    );
}

#[tokio::test]
async fn a_saved_klaviyo_private_key_is_sent_as_klaviyos_header_and_never_shown_again() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "klaviyo").await;
    let key = "pk_0123456789abcdef0123456789abcdef01";
    for bad in [
        json!("abc123"),
        json!("pk_has spaces"),
        json!(42),
        json!("pk_\u{0}x"),
    ] {
        let (status, body) = settings_put(&app, &json!({ "klaviyo_private_key": bad })).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "klaviyo_private_key");
    }
    let (status, body) = settings_put(&app, &json!({ "klaviyo_private_key": key })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["klaviyo_key_hint"], "…ef01");
    assert!(!body.to_string().contains(key));
    let got: Value = app
        .api_get("/api/followups/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["klaviyo_key_hint"], "…ef01");
    assert!(!got.to_string().contains(key), "never answered");
    assert!(app.tables_mentioning(key).is_empty(), "stored encrypted");
    // A settings body echoed back from a GET keeps the key.
    let (status, _) = settings_put(&app, &got).await;
    assert_eq!(status, 200);

    contactable(&app, ANNA, None).await;
    wish(&app, ANNA, 3).await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(3, "20.00", 4, "2026-11-02T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    let got = receiver.wait_for(1).await;
    assert_eq!(
        got[0].headers["authorization"],
        format!("Klaviyo-API-Key {key}")
    );
    assert_eq!(got[0].headers["revision"], "2025-01-15");

    // Removed with null.
    let (status, body) = settings_put(&app, &json!({"klaviyo_private_key": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["klaviyo_key_hint"], Value::Null);
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_id_and_dead_letters_are_kept_and_retried() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("daily")).await;
    contactable(&app, BEN, Some("daily")).await;
    wish(&app, ANNA, 1).await;
    receiver.inner.lock().unwrap().script.push_back(500);
    price_drop(&app, 1, "15.00", "2026-11-02T10:00:00Z").await;
    let got = receiver.wait_for(2).await;
    wait_state(&app, "delivered", 1).await;
    assert_eq!(
        got[0].headers["x-atelier-event-id"],
        got[1].headers["x-atelier-event-id"]
    );
    let d = deliveries(&app, "?state=delivered").await;
    assert_eq!(d["items"][0]["attempts"], 2);

    // A receiver that always fails: after 3 attempts, a dead letter with its error.
    receiver.inner.lock().unwrap().always = Some(503);
    wish(&app, BEN, 2).await;
    price_drop(&app, 2, "12.00", "2026-11-02T10:00:00Z").await;
    let d = wait_state(&app, "dead", 1).await;
    let dead = deliveries(&app, "?state=dead").await;
    assert_eq!(dead["items"][0]["attempts"], 3);
    assert_eq!(dead["items"][0]["last_error"], "HTTP 503");
    assert_eq!(dead["items"][0]["customer_id"], BEN.to_string());
    assert_eq!(d["counts"]["dead"], 1);
    let ids: Vec<String> = receiver.received()[2..]
        .iter()
        .map(|r| r.headers["x-atelier-event-id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| i == &ids[0]));
    // Retried by the merchant once the endpoint works: delivered with the same id.
    receiver.inner.lock().unwrap().always = None;
    let id = dead["items"][0]["id"].as_str().unwrap().to_owned();
    let resp = app
        .api_send(
            Method::POST,
            &format!("/api/followups/deliveries/{id}/retry"),
            SHOP,
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    wait_state(&app, "delivered", 2).await;
    assert_eq!(
        receiver.received().last().unwrap().headers["x-atelier-event-id"],
        id
    );
    let resp = app
        .api_send(
            Method::POST,
            &format!("/api/followups/deliveries/{id}/retry"),
            SHOP,
            None,
        )
        .await;
    assert_eq!(resp.status(), 409, "no longer dead");
    assert_eq!(
        app.api_get("/api/followups/deliveries?state=bogus", SHOP)
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn consent_withdrawn_between_the_trigger_and_the_send_means_nothing_is_sent() {
    // No workers here: the event waits in the outbox while the shopper changes their mind.
    let app = spawn(false).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("daily")).await;
    wish(&app, ANNA, 1).await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(1, "15.00", 5, "2026-11-02T10:00:00Z"),
    ))
    .await;
    apply_inbox(&app).await;
    assert_eq!(deliveries(&app, "").await["counts"]["pending"], 1);
    let (status, _) = put(
        &app,
        "/preferences",
        ANNA,
        &json!({"consent": {"marketing": false}}),
    )
    .await;
    assert_eq!(status, 200);
    spawn_worker_sibling(&app).await;
    let d = wait_state(&app, "suppressed", 1).await;
    assert_eq!(d["items"][0]["last_error"], "no_consent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.received().is_empty());
}

/// Waits for (or, without workers, applies) the webhook inbox.
async fn settle(app: &TestApp) {
    if app.state.settings.run_workers {
        app.drain().await;
    } else {
        apply_inbox(app).await;
    }
}

#[tokio::test]
async fn the_frequency_cap_and_pause_until_are_honoured() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("weekly")).await;
    wish(&app, ANNA, 1).await;
    wish(&app, ANNA, 2).await;
    price_drop(&app, 1, "15.00", "2026-11-02T10:00:00Z").await;
    wait_state(&app, "delivered", 1).await;
    price_drop(&app, 2, "15.00", "2026-11-02T10:00:00Z").await;
    let d = wait_state(&app, "suppressed", 1).await;
    let capped = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["state"] == "suppressed")
        .unwrap();
    assert_eq!(capped["last_error"], "frequency_cap");
    assert_eq!(receiver.received().len(), 1, "one a week");

    // Paused until a future date: nothing for Ben; the pause is in his preferences and history.
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(2))
        .date()
        .to_string();
    contactable(&app, BEN, Some("daily")).await;
    let (status, body) = put(
        &app,
        "/preferences",
        BEN,
        &json!({"communication": {"pause_until": tomorrow}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["communication"]["pause_until"], tomorrow);
    let (status, body) = put(
        &app,
        "/preferences",
        BEN,
        &json!({"communication": {"pause_until": "2026-13-01"}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "communication.pause_until");
    wish(&app, BEN, 3).await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(3, "20.00", 4, "2026-11-02T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "paused");
    let view: Value = app
        .api_get(&format!("/api/customers/{BEN}/preferences"), SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        view["consent_history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "communication.pause_until")
    );
    // A pause in the past is over.
    let (status, _) = put(
        &app,
        "/preferences",
        BEN,
        &json!({"communication": {"pause_until": "2026-01-01"}}),
    )
    .await;
    assert_eq!(status, 200);
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(3, "19.00", 4, "2026-11-03T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].headers["x-atelier-event-type"], "price_drop");
}

const TEMPLATE_PRODUCT: i64 = 1;

/// The rule for a pause: a price drop or a return to stock found during it is not kept for
/// later (it may no longer hold); an abandoned personalization waits until the pause ends, and
/// is then sent unless it was ordered meanwhile.
#[tokio::test]
async fn during_a_pause_price_drops_are_dropped_and_abandoned_personalizations_deferred() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&json!({
            "name": "Name", "product_ids": [TEMPLATE_PRODUCT],
            "fields": [{"key": "name", "label": "Name", "type": "text", "required": true, "max_length": 12}]
        })))
        .await;
    assert_eq!(resp.status(), 201);
    let until = (time::OffsetDateTime::now_utc() + time::Duration::days(3)).date();
    for who in [ANNA, BEN] {
        contactable(&app, who, Some("daily")).await;
        let (status, body) = put(
            &app,
            "/preferences",
            who,
            &json!({"communication": {"pause_until": until.to_string()}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    wish(&app, ANNA, 2).await;
    price_drop(&app, 2, "15.00", "2026-11-02T10:00:00Z").await;
    personalize(&app, ANNA).await;
    personalize(&app, BEN).await;
    age_validations(&app, 6);
    // Two abandoned personalizations, waiting for the pause; no price drop at all.
    let d = wait_state(&app, "pending", 2).await;
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{d}");
    for i in items {
        assert_eq!(i["kind"], "abandoned_personalization");
        assert_eq!(i["last_error"], "paused");
        assert_eq!(i["attempts"], 0);
        assert!(
            i["next_attempt_at"]
                .as_str()
                .unwrap()
                .starts_with(&until.to_string()),
            "due when the pause ends: {i}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "nothing during the pause");

    // The pause ends (moved here to now); Ben ordered the product meanwhile.
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order_payload(
            5_550_000_000_009,
            Some(BEN),
            &time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            &[(6_660_000_000_009, TEMPLATE_PRODUCT, 1, "20.00")],
        ),
    ))
    .await;
    app.drain().await;
    {
        // The payload's created_at is fixed in the past: the order is Ben's of today.
        use atelier::db::schema::{customer_preferences as cp, followup_outbox as fo, orders};
        let mut c = app.state.db.conn().unwrap();
        diesel::update(orders::table)
            .set(orders::created_at.eq(atelier::db::now()))
            .execute(&mut *c)
            .unwrap();
        diesel::update(cp::table)
            .set(cp::pause_until.eq(None::<String>))
            .execute(&mut *c)
            .unwrap();
        diesel::update(fo::table)
            .set(fo::next_attempt_at.eq(atelier::db::now()))
            .execute(&mut *c)
            .unwrap();
    }
    let got = receiver.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "abandoned_personalization");
    assert_eq!(body["customer_id"], ANNA.to_string());
    let d = wait_state(&app, "suppressed", 1).await;
    let ben = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["customer_id"].as_str() == Some(BEN.to_string().as_str()))
        .unwrap();
    assert_eq!(ben["last_error"], "ordered", "ordered while it waited");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
}

async fn personalize(app: &TestApp, customer: i64) {
    let resp = app
        .client
        .post(app.proxy_url(
            &format!("/products/{TEMPLATE_PRODUCT}/personalize"),
            SHOP,
            Some(customer),
        ))
        .json(&json!({"values": {"name": "Anna"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

fn age_validations(app: &TestApp, minutes: i64) {
    use atelier::db::schema::followup_personalizations as fp;
    let mut c = app.state.db.conn().unwrap();
    let past = atelier::db::now() - time::Duration::minutes(minutes);
    diesel::update(fp::table)
        .set(fp::validated_at.eq(past))
        .execute(&mut *c)
        .unwrap();
}

#[tokio::test]
async fn an_abandoned_personalization_is_followed_up_unless_it_was_ordered() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&json!({
            "name": "Name", "product_ids": [TEMPLATE_PRODUCT],
            "fields": [{"key": "name", "label": "Name", "type": "text", "required": true, "max_length": 12}]
        })))
        .await;
    assert_eq!(resp.status(), 201);
    contactable(&app, ANNA, Some("daily")).await;
    contactable(&app, BEN, Some("daily")).await;
    personalize(&app, ANNA).await;
    personalize(&app, BEN).await;
    // Ben orders it; Anna does not. Both validations are older than the delay.
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order_payload(
            5_550_000_000_001,
            Some(BEN),
            &time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            &[(6_660_000_000_001, TEMPLATE_PRODUCT, 1, "20.00")],
        ),
    ))
    .await;
    app.drain().await;
    age_validations(&app, 4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "not before the delay");
    // The order came after the validation only if the validation is older: move both back.
    {
        use atelier::db::schema::orders;
        let mut c = app.state.db.conn().unwrap();
        diesel::update(orders::table)
            .set(orders::created_at.eq(atelier::db::now() - time::Duration::minutes(1)))
            .execute(&mut *c)
            .unwrap();
    }
    age_validations(&app, 6);
    let got = receiver.wait_for(1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "abandoned_personalization");
    assert_eq!(body["customer_id"], ANNA.to_string());
    assert_eq!(body["data"]["product_id"], TEMPLATE_PRODUCT.to_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing for Ben, who ordered; Anna once"
    );
    assert_eq!(app.table_count("followup_personalizations"), 0);
}

#[tokio::test]
async fn followups_are_exported_and_erased_with_the_customer() {
    let app = spawn(true).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("daily")).await;
    wish(&app, ANNA, 1).await;
    price_drop(&app, 1, "15.00", "2026-11-02T10:00:00Z").await;
    wait_state(&app, "delivered", 1).await;
    app.deliver(&Delivery::new("customers/data_request", SHOP, &json!({
        "shop_id": 1, "shop_domain": SHOP, "orders_requested": [], "customer": {"id": ANNA}, "data_request": {"id": 5}
    })))
    .await;
    app.drain().await;
    let list: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let export = &list["items"][0]["export"];
    assert_eq!(export["followups"][0]["kind"], "price_drop");
    app.deliver(&Delivery::new("customers/redact", SHOP, &json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": ANNA}, "orders_to_redact": []})))
        .await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------- crash

fn start_binary(db: &TestDb, store: &FakeStore, port: u16) -> Child {
    let mut vars = base_vars(db, store);
    // Development: the testing aid that allows a loopback receiver is refused in production.
    vars.insert("ATELIER_ENV".into(), "development".into());
    vars.insert("ATELIER_OUTBOX_ALLOW_PRIVATE".into(), "true".into());
    vars.insert("ATELIER_OUTBOX_LEASE_SECS".into(), "1".into());
    vars.insert("ATELIER_OUTBOX_POLL_MS".into(), "30".into());
    vars.insert("ATELIER_OUTBOX_TIMEOUT_MS".into(), "30000".into());
    vars.insert("BIND_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("RUST_LOG".into(), "warn".into());
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .envs(vars)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn outbox_states(db: &atelier::db::Db) -> Vec<(String, String, i64)> {
    use atelier::db::schema::followup_outbox as fo;
    let mut c = db.conn().unwrap();
    fo::table
        .select((fo::id, fo::state, fo::attempts))
        .load(&mut *c)
        .unwrap()
}

#[tokio::test]
async fn killed_mid_delivery_the_event_is_sent_again_with_the_same_id() {
    // Made by an instance without workers, so the event waits in the outbox.
    let app = spawn(false).await;
    let receiver = Receiver::start().await;
    setup(&app, &receiver, "webhook").await;
    contactable(&app, ANNA, Some("daily")).await;
    wish(&app, ANNA, 1).await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(1, "15.00", 5, "2026-11-02T10:00:00Z"),
    ))
    .await;
    apply_inbox(&app).await;
    let before = outbox_states(&app.state.db);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].1, "pending");

    // The real binary takes it; the receiver holds the request; the process is killed.
    receiver.inner.lock().unwrap().hang = Some(Duration::from_secs(30));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = start_binary(&app.db, &app.store, port);
    receiver.wait_for(1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let mid = outbox_states(&app.state.db);
    assert_eq!(mid[0].1, "sending", "claimed, not finished: {mid:?}");

    // Another process: the lease expires, the event goes again, and is marked delivered.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = start_binary(&app.db, &app.store, port);
    let got = receiver.wait_for(2).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = outbox_states(&app.state.db);
        if now[0].1 == "delivered" {
            assert!(now[0].2 >= 2, "{now:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got[0].headers["x-atelier-event-id"], before[0].0);
    assert_eq!(
        got[1].headers["x-atelier-event-id"], before[0].0,
        "same id: receivers dedupe"
    );
    assert_eq!(
        outbox_states(&app.state.db).len(),
        1,
        "nothing lost, nothing duplicated"
    );
}
