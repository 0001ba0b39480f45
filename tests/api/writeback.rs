//! Writing back to the store through the Admin API (the fake store records the mutations):
//! marketing consent from the preference center, without a loop through the `customers/update`
//! it causes; flagged orders tagged and noted once; a scope not granted holds the write until
//! `app/scopes_update`; 429s and 5xx retried, dead letters kept and retried; two instances make
//! each write once.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "write-shop.myshopify.com";
const ANNA: i64 = 7_810_000_000_000_123;
const BEN: i64 = 7_820_000_000_000_456;
const FULL_SCOPES: &str = "read_products,read_orders,write_orders,read_customers,write_customers";

fn gid(id: i64) -> String {
    format!("gid://shopify/Customer/{id}")
}

async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    spawn_app_with(move |vars| {
        vars.insert("ATELIER_OUTBOX_POLL_MS".into(), "30".into());
        vars.insert("ATELIER_OUTBOX_BACKOFF_MS".into(), "50".into());
        for (k, v) in extra {
            vars.insert(k, v);
        }
    })
    .await
}

/// An app installed on SHOP with `scopes` granted.
async fn installed(scopes: &str, extra: &[(&str, &str)]) -> TestApp {
    let app = spawn_with(extra).await;
    app.store.set_token(TokenBehaviour::Grant {
        token: STORE_TOKEN.into(),
        scope: scopes.into(),
    });
    app.install(SHOP).await;
    app
}

async fn put_prefs(app: &TestApp, customer: i64, body: &Value) {
    let resp = app
        .client
        .request(
            Method::PUT,
            app.proxy_url("/preferences", SHOP, Some(customer)),
        )
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
}

async fn get_prefs(app: &TestApp, customer: i64) -> Value {
    let resp = app
        .client
        .get(app.proxy_url("/preferences", SHOP, Some(customer)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The mutations named `name`, once at least `n` arrived (or the deadline passed).
async fn wait_writes(app: &TestApp, name: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got: Vec<Value> = app
            .store
            .admin_writes()
            .into_iter()
            .filter(|(m, _)| m == name)
            .map(|(_, v)| v)
            .collect();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn writes(app: &TestApp, query: &str) -> Value {
    let resp = app
        .api_get(&format!("/api/store-writes{query}"), SHOP)
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The admin's list once `counts[state]` reaches `n`.
async fn wait_state(app: &TestApp, state: &str, n: i64) -> Value {
    wait_state_within(app, state, n, 15).await
}

async fn wait_state_within(app: &TestApp, state: &str, n: i64, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let w = writes(app, "").await;
        if w["counts"][state].as_i64() >= Some(n) || Instant::now() > deadline {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

#[tokio::test]
async fn consent_from_the_preference_center_reaches_the_customer_in_shopify() {
    let app = installed(FULL_SCOPES, &[]).await;
    app.store.without_phone(&gid(BEN));
    put_prefs(
        &app,
        ANNA,
        &json!({"consent": {"marketing": true}, "communication": {"email": true, "sms": true}}),
    )
    .await;
    let email = wait_writes(&app, "customerEmailMarketingConsentUpdate", 1).await;
    assert_eq!(email.len(), 1, "{email:?}");
    let input = &email[0]["input"];
    assert_eq!(input["customerId"], gid(ANNA));
    assert_eq!(
        input["emailMarketingConsent"]["marketingState"],
        "SUBSCRIBED"
    );
    assert_eq!(
        input["emailMarketingConsent"]["marketingOptInLevel"],
        "SINGLE_OPT_IN"
    );
    let decided = input["emailMarketingConsent"]["consentUpdatedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!decided.contains('.'), "whole seconds: {decided}");
    let sms = wait_writes(&app, "customerSmsMarketingConsentUpdate", 1).await;
    assert_eq!(
        sms[0]["input"]["smsMarketingConsent"]["marketingState"],
        "SUBSCRIBED"
    );
    let w = wait_state(&app, "done", 1).await;
    assert_eq!(w["items"][0]["kind"], "customer_consent");
    assert_eq!(w["items"][0]["result"]["email"], "SUBSCRIBED");

    // The customers/update the write causes reports what was written, with the decision time:
    // no new write, and the preference center keeps the shopper's choice.
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &json!({"id": ANNA, "updated_at": "2030-01-01T00:00:00Z",
            "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": decided},
            "sms_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": decided}}),
    ))
    .await;
    app.drain().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.store.admin_writes().len(),
        2,
        "no write caused by the echo"
    );
    let p = get_prefs(&app, ANNA).await;
    assert_eq!(p["consent"]["marketing"], true);
    assert_eq!(p["communication"]["sms"], true);

    // Withdrawn: both channels unsubscribed.
    put_prefs(&app, ANNA, &json!({"consent": {"marketing": false}})).await;
    let email = wait_writes(&app, "customerEmailMarketingConsentUpdate", 2).await;
    assert_eq!(
        email[1]["input"]["emailMarketingConsent"]["marketingState"],
        "UNSUBSCRIBED"
    );
    let sms = wait_writes(&app, "customerSmsMarketingConsentUpdate", 2).await;
    assert_eq!(
        sms[1]["input"]["smsMarketingConsent"]["marketingState"],
        "UNSUBSCRIBED"
    );

    // A change that does not touch consent writes nothing.
    put_prefs(&app, ANNA, &json!({"communication": {"frequency": null}})).await;
    put_prefs(&app, ANNA, &json!({"communication": {"email": false}})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.store.admin_writes().len(), 4);

    // A customer without a phone: the email part is written, the SMS refusal recorded.
    put_prefs(
        &app,
        BEN,
        &json!({"consent": {"marketing": true}, "communication": {"sms": true}}),
    )
    .await;
    let w = wait_state(&app, "done", 3).await;
    let ben_id = BEN.to_string();
    let ben = w["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["subject_id"] == ben_id.as_str())
        .expect("Ben's write listed")
        .clone();
    assert_eq!(ben["result"]["email"], "SUBSCRIBED");
    assert!(
        ben["result"]["sms"]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{ben}"
    );
}

#[tokio::test]
async fn consent_the_store_reports_is_never_written_back() {
    let app = installed(FULL_SCOPES, &[]).await;
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &json!({"id": ANNA, "updated_at": "2026-11-02T10:00:00Z",
            "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-11-02T10:00:00Z"}}),
    ))
    .await;
    app.drain().await;
    assert_eq!(get_prefs(&app, ANNA).await["consent"]["marketing"], true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(app.store.admin_writes().is_empty());
    assert_eq!(app.table_count("store_writes"), 0);
    // The store already holds "subscribed": turning on SMS writes SMS only.
    put_prefs(&app, ANNA, &json!({"communication": {"sms": true}})).await;
    let sms = wait_writes(&app, "customerSmsMarketingConsentUpdate", 1).await;
    assert_eq!(sms.len(), 1);
    wait_state(&app, "done", 1).await;
    assert!(
        app.store
            .admin_writes()
            .iter()
            .all(|(m, _)| m != "customerEmailMarketingConsentUpdate")
    );
}

#[tokio::test]
async fn a_flagged_order_gets_a_tag_and_a_note_once_keeping_the_merchants_note() {
    let app = installed(FULL_SCOPES, &[]).await;
    let order_gid = "gid://shopify/Order/5501";
    app.store.set_order_note(order_gid, "Gift wrap, please");
    let body = order_payload(
        5501,
        Some(ANNA),
        "2026-11-01T10:00:00Z",
        &[(91, 44, 1, "25.00")],
    );
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
    let tags = wait_writes(&app, "tagsAdd", 1).await;
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0]["id"], order_gid);
    assert_eq!(tags[0]["tags"], json!(["Atelier: check personalization"]));
    wait_writes(&app, "orderUpdate", 1).await;
    let note = app.store.order_note(order_gid).unwrap();
    assert!(
        note.starts_with("Gift wrap, please\n\nAtelier: check before producing"),
        "{note}"
    );
    assert!(note.contains("line 1 \u{201c}Product 44\u{201d}"), "{note}");

    // The orders/updated the tag causes, and a redelivery: the same verdicts, no second write.
    let mut updated = body.clone();
    updated["updated_at"] = json!("2026-11-01T10:05:00Z");
    updated["tags"] = json!("Atelier: check personalization");
    app.deliver(&Delivery::new("orders/updated", SHOP, &updated))
        .await;
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(wait_writes(&app, "tagsAdd", 1).await.len(), 1);
    assert_eq!(wait_writes(&app, "orderUpdate", 1).await.len(), 1);
    let w = writes(&app, "?state=done").await;
    assert_eq!(w["items"].as_array().unwrap().len(), 1);
    assert_eq!(w["items"][0]["kind"], "order_flag");
    assert_eq!(w["items"][0]["subject_id"], "5501");

    // An order without personalization is not flagged.
    let mut plain = order_payload(5502, None, "2026-11-01T10:00:00Z", &[(92, 44, 1, "25.00")]);
    plain["line_items"][0]["properties"] = json!([]);
    app.deliver(&Delivery::new("orders/create", SHOP, &plain))
        .await;
    app.drain().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(wait_writes(&app, "tagsAdd", 1).await.len(), 1);
}

#[tokio::test]
async fn a_scope_not_granted_holds_the_write_until_scopes_update_grants_it() {
    let app = installed("read_products,read_orders,read_customers", &[]).await;
    put_prefs(&app, ANNA, &json!({"consent": {"marketing": true}})).await;
    let w = wait_state(&app, "held", 1).await;
    assert_eq!(w["items"][0]["state"], "held");
    assert_eq!(
        w["items"][0]["last_error"],
        "needs the write_customers scope"
    );
    assert!(app.store.admin_writes().is_empty());

    // Granted scopes arrive as a list: held writes start again.
    app.deliver(&Delivery::new(
        "app/scopes_update",
        SHOP,
        &json!({"id": 1, "previous": ["read_products", "read_orders", "read_customers"],
            "current": ["read_products", "read_orders", "write_customers"],
            "updated_at": "2026-11-02T10:00:00Z"}),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        app.shop_row(SHOP).unwrap().scopes,
        "read_products,read_orders,write_customers"
    );
    let email = wait_writes(&app, "customerEmailMarketingConsentUpdate", 1).await;
    assert_eq!(email.len(), 1);
    let w = wait_state(&app, "done", 1).await;
    assert_eq!(w["counts"]["held"], 0);

    // A body without the list is refused as malformed, and changes nothing.
    app.deliver(&Delivery::new(
        "app/scopes_update",
        SHOP,
        &json!({"id": 1, "current": 7}),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        app.shop_row(SHOP).unwrap().scopes,
        "read_products,read_orders,write_customers"
    );
}

#[tokio::test]
async fn a_throttled_or_failing_store_is_retried_and_dead_letters_are_kept() {
    let app = installed(FULL_SCOPES, &[("ATELIER_OUTBOX_MAX_ATTEMPTS", "2")]).await;
    // 429 then 502: the store client waits them out within one attempt.
    app.store.queue_graphql_faults(vec![
        GraphqlFault::TooManyRequests("0.1"),
        GraphqlFault::Status(502),
    ]);
    put_prefs(&app, ANNA, &json!({"consent": {"marketing": true}})).await;
    assert_eq!(
        wait_writes(&app, "customerEmailMarketingConsentUpdate", 1)
            .await
            .len(),
        1
    );
    wait_state(&app, "done", 1).await;

    // A store down for longer: retried with backoff, then a dead letter the admin lists. (Each
    // attempt is the store client's own retries within its budget, several seconds.)
    app.store.set_graphql_status(500);
    put_prefs(&app, BEN, &json!({"consent": {"marketing": true}})).await;
    let w = wait_state_within(&app, "dead", 1, 60).await;
    let dead = &writes(&app, "?state=dead").await["items"][0];
    assert_eq!(dead["attempts"], 2, "{w}");
    assert!(
        dead["last_error"].as_str().unwrap().contains("unavailable"),
        "{dead}"
    );

    // Retried on request once the store is back.
    app.store.set_graphql_status(200);
    let id = dead["id"].as_str().unwrap().to_owned();
    let resp = app
        .api_send(
            Method::POST,
            &format!("/api/store-writes/{id}/retry"),
            SHOP,
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    wait_state(&app, "done", 2).await;
    let email = wait_writes(&app, "customerEmailMarketingConsentUpdate", 2).await;
    assert_eq!(email[1]["input"]["customerId"], gid(BEN));
    // Only dead or held writes are retried; unknown ids are 404; a bad state filter is 422.
    let resp = app
        .api_send(
            Method::POST,
            &format!("/api/store-writes/{id}/retry"),
            SHOP,
            None,
        )
        .await;
    assert_eq!(resp.status(), 409);
    let resp = app
        .api_send(Method::POST, "/api/store-writes/nope/retry", SHOP, None)
        .await;
    assert_eq!(resp.status(), 404);
    let resp = app.api_get("/api/store-writes?state=lost", SHOP).await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "state", "{body}");
}

#[tokio::test]
async fn two_instances_make_each_write_once() {
    let app = installed(FULL_SCOPES, &[]).await;
    app.spawn_sibling().await;
    let customers: Vec<i64> = (0..12).map(|i| 7_900_000_000_000_000 + i).collect();
    for c in &customers {
        put_prefs(&app, *c, &json!({"consent": {"marketing": true}})).await;
    }
    wait_state(&app, "done", customers.len() as i64).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let email = wait_writes(&app, "customerEmailMarketingConsentUpdate", customers.len()).await;
    let mut ids: Vec<String> = email
        .iter()
        .map(|v| v["input"]["customerId"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = customers.iter().map(|c| gid(*c)).collect();
    expected.sort();
    assert_eq!(ids, expected, "each customer written exactly once");
}

#[tokio::test]
async fn an_erased_customers_consent_writes_are_erased_and_never_sent() {
    // Without workers: the write waits, then customers/redact removes it.
    let app = installed(FULL_SCOPES, &[("ATELIER_WORKERS", "false")]).await;
    put_prefs(&app, ANNA, &json!({"consent": {"marketing": true}})).await;
    assert_eq!(app.table_count("store_writes"), 1);
    let export = app
        .api_get("/api/store-writes", SHOP)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(export["counts"]["pending"], 1);
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": ANNA, "email": "anna@example.com"}, "orders_to_redact": []}),
    ))
    .await;
    apply_inbox(&app).await;
    assert_eq!(app.table_count("store_writes"), 0);
    assert!(app.tables_mentioning(&ANNA.to_string()).is_empty());
}

#[tokio::test]
async fn granting_the_pixel_scopes_activates_the_web_pixel() {
    let app = installed("read_products,read_orders,read_customers", &[]).await;
    assert!(app.store.web_pixel().is_none(), "not without its scopes");
    app.deliver(&Delivery::new(
        "app/scopes_update",
        SHOP,
        &json!({"id": 1, "current": ["read_products", "read_orders", "read_customers", "write_pixels", "read_customer_events"],
            "updated_at": "2026-11-02T10:00:00Z"}),
    ))
    .await;
    app.drain().await;
    let w = wait_state(&app, "done", 1).await;
    assert_eq!(w["items"][0]["kind"], "web_pixel");
    assert_eq!(w["items"][0]["result"]["pixel"], "active");
    let (_, settings) = app.store.web_pixel().expect("pixel created");
    assert_eq!(
        settings["appUrl"],
        APP_URL.trim_end_matches('/'),
        "{settings}"
    );
}
