//! Mandatory compliance webhooks: export of everything about a customer, redaction that leaves
//! no row mentioning them, erasure of a shop.

use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123;
const BEN: i64 = 7_720_000_000_000_456;

async fn seed(app: &TestApp) {
    app.install(SHOP).await;
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order_payload(
            5_550_000_000_001,
            Some(ANNA),
            "2026-11-01T10:00:00Z",
            &[(6_660_000_000_001, 42, 1, "29.95")],
        ),
    ))
    .await;
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order_payload(
            5_550_000_000_002,
            Some(BEN),
            "2026-11-01T11:00:00Z",
            &[(6_660_000_000_002, 42, 1, "29.95")],
        ),
    ))
    .await;
    app.deliver(&Delivery::new("customers/update", SHOP, &json!({"id": ANNA, "updated_at": "2026-11-02T10:00:00Z", "email": "anna@example.com", "email_marketing_consent": {"state": "subscribed", "consent_updated_at": "2026-11-02T10:00:00Z"}}))).await;
    app.drain().await;
    // Anna answers one of the merchant's questions (an answer that also sets an interest).
    let resp = app
        .api_send(
            reqwest::Method::POST,
            "/api/questions",
            SHOP,
            Some(&json!({"key": "occasion", "prompt": "For whom?", "kind": "single", "options": [
                {"key": "gift", "label": "Gifts", "interest": "gifts"}, {"key": "me", "label": "Me"}]})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let resp = app
        .client
        .put(app.proxy_url("/questions/occasion/answer", SHOP, Some(ANNA)))
        .json(&json!({"options": ["gift"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn requests(app: &TestApp, shop: &str, query: &str) -> Value {
    let resp = app
        .api_get(&format!("/api/compliance/requests{query}"), shop)
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn data_request_exports_everything_about_the_customer_and_nothing_else() {
    let app = spawn_app().await;
    seed(&app).await;
    app.deliver(&Delivery::new("customers/data_request", SHOP, &json!({
        "shop_id": 954889, "shop_domain": SHOP, "orders_requested": [5_550_000_000_001i64],
        "customer": {"id": ANNA, "email": "anna@example.com", "phone": "555-625-1199"}, "data_request": {"id": 9999}
    }))).await;
    app.drain().await;

    let list = requests(&app, SHOP, "").await;
    assert_eq!(list["next_cursor"], Value::Null);
    let item = &list["items"][0];
    assert_eq!(item["topic"], "customers/data_request");
    assert_eq!(item["customer_id"], ANNA.to_string());
    assert_eq!(item["state"], "completed");
    let export = &item["export"];
    for key in [
        "customer_id",
        "orders",
        "preferences",
        "consent_history",
        "saved",
        "events",
        "quiz_answers",
    ] {
        assert!(export.get(key).is_some(), "export has {key}");
    }
    assert_eq!(export["customer_id"], ANNA.to_string());
    let orders = export["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "only Anna's order");
    assert_eq!(orders[0]["order_id"], "5550000000001");
    assert_eq!(orders[0]["customer_id"], ANNA.to_string());
    assert_eq!(
        orders[0]["line_items"][0]["properties"][0],
        json!({"name": "Engraving", "value": "Für Anna ❤️"})
    );
    assert_eq!(
        export["store_marketing_consent"]["email_marketing_state"],
        "subscribed"
    );
    assert_eq!(export["quiz_answers"][0]["options"][0]["key"], "gift");
    assert!(!export.to_string().contains(&BEN.to_string()));
    assert!(
        !export.to_string().contains("anna@example.com"),
        "Atelier keeps no emails"
    );
}

#[tokio::test]
async fn a_request_is_on_record_as_received_before_it_is_processed() {
    let app = spawn_app_with(|v| {
        v.insert("ATELIER_WORKERS".into(), "false".into());
    })
    .await;
    app.install(SHOP).await;
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"customer": {"id": ANNA}, "orders_to_redact": []}),
    ))
    .await;
    let list = requests(&app, SHOP, "").await;
    assert_eq!(list["items"][0]["state"], "received");
    assert_eq!(list["items"][0]["topic"], "customers/redact");
}

#[tokio::test]
async fn after_customers_redact_no_row_mentions_the_customer() {
    let app = spawn_app().await;
    seed(&app).await;
    // An earlier export, a failed delivery kept for inspection: both carry Anna's data.
    app.deliver(&Delivery::new(
        "customers/data_request",
        SHOP,
        &json!({"customer": {"id": ANNA}, "orders_requested": [], "data_request": {"id": 1}}),
    ))
    .await;
    let broken = Delivery {
        body: format!("{{\"id\": 1, \"customer\": {{\"id\": {ANNA}}}, \"line_items\": 5}}")
            .into_bytes(),
        ..Delivery::new("orders/updated", SHOP, &json!({}))
    };
    app.deliver(&broken).await;
    app.drain().await;
    assert!(
        !app.tables_mentioning(&ANNA.to_string()).is_empty(),
        "seeded"
    );

    app.deliver(&Delivery::new("customers/redact", SHOP, &json!({"shop_id": 954889, "shop_domain": SHOP, "customer": {"id": ANNA, "email": "anna@example.com"}, "orders_to_redact": [5_550_000_000_001i64]}))).await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
    assert_eq!(
        app.tables_mentioning("Für Anna"),
        ["order_line_items"],
        "only Ben's line keeps its engraving"
    );

    // The orders stay (they are the merchant's), unlinked; Ben is untouched.
    assert_eq!(app.table_count("orders"), 2);
    let list = requests(&app, SHOP, "").await;
    let redact = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["topic"] == "customers/redact")
        .unwrap();
    assert_eq!(redact["state"], "completed");
    assert_eq!(redact["customer_id"], Value::Null);
    let export = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["topic"] == "customers/data_request")
        .unwrap();
    assert_eq!(export["export"], Value::Null, "earlier export erased");
    assert_eq!(app.tables_mentioning(&BEN.to_string()).len(), 1);

    // A late delivery about Anna does not link her again.
    app.deliver(&Delivery::new(
        "orders/updated",
        SHOP,
        &order_payload(
            5_550_000_000_001,
            Some(ANNA),
            "2026-11-09T10:00:00Z",
            &[(6_660_000_000_001, 42, 1, "29.95")],
        ),
    ))
    .await;
    app.deliver(&Delivery::new("customers/update", SHOP, &json!({"id": ANNA, "updated_at": "2026-11-09T10:00:00Z", "email_marketing_consent": {"state": "subscribed"}}))).await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn shop_redact_erases_the_shop_but_not_a_reinstalled_one() {
    let app = spawn_app().await;
    seed(&app).await;
    seed_other_shop(&app).await;
    app.deliver(&Delivery::new("products/create", SHOP, &json!({"id": 42, "title": "Fig", "updated_at": "2026-11-01T10:00:00Z", "variants": [{"id": 421, "price": "19.00"}]}))).await;
    app.drain().await;

    // Still installed (reinstalled after the uninstall that scheduled it): nothing is erased.
    app.deliver(&Delivery::new(
        "shop/redact",
        SHOP,
        &json!({"shop_id": 954889, "shop_domain": SHOP}),
    ))
    .await;
    app.drain().await;
    assert_eq!(app.table_count("orders"), 3);

    app.deliver(&Delivery::new(
        "app/uninstalled",
        SHOP,
        &json!({"id": 954889}),
    ))
    .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "shop/redact",
        SHOP,
        &json!({"shop_id": 954889, "shop_domain": SHOP}),
    ))
    .await;
    app.drain().await;
    assert!(app.shop_row(SHOP).is_none());
    assert_eq!(
        app.tables_mentioning(SHOP),
        ["compliance_requests", "webhook_inbox"],
        "only the erasure records remain"
    );
    assert_eq!(
        app.table_count("orders"),
        1,
        "the other shop keeps its order"
    );
    assert_eq!(app.table_count("products"), 0);
    assert_eq!(app.table_count("customers"), 0);
    assert!(app.shop_row("other-shop.myshopify.com").is_some());
}

async fn seed_other_shop(app: &TestApp) {
    app.install("other-shop.myshopify.com").await;
    app.deliver(&Delivery::new(
        "orders/create",
        "other-shop.myshopify.com",
        &order_payload(
            9_000_000_001,
            Some(BEN),
            "2026-11-01T10:00:00Z",
            &[(9_000_000_011, 7, 1, "5.00")],
        ),
    ))
    .await;
    app.drain().await;
}

#[tokio::test]
async fn requests_are_listed_per_shop_with_pagination() {
    let app = spawn_app().await;
    seed(&app).await;
    seed_other_shop(&app).await;
    for i in 0..3 {
        app.deliver(&Delivery::new(
            "customers/data_request",
            SHOP,
            &json!({"customer": {"id": ANNA + i}, "data_request": {"id": i}}),
        ))
        .await;
    }
    app.deliver(&Delivery::new(
        "customers/data_request",
        "other-shop.myshopify.com",
        &json!({"customer": {"id": BEN}}),
    ))
    .await;
    app.drain().await;

    let first = requests(&app, SHOP, "?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = requests(&app, SHOP, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let other = requests(&app, "other-shop.myshopify.com", "").await;
    assert_eq!(
        other["items"].as_array().unwrap().len(),
        1,
        "another shop's requests are invisible"
    );

    for bad in ["?limit=0", "?limit=-3", "?limit=abc"] {
        let resp = app
            .api_get(&format!("/api/compliance/requests{bad}"), SHOP)
            .await;
        assert_eq!(resp.status(), 422, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "limit");
    }
    assert_eq!(
        app.api_get("/api/compliance/requests?cursor=bogus", SHOP)
            .await
            .status(),
        400
    );
    assert_eq!(
        requests(&app, SHOP, "?limit=100000").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "clamped to 250"
    );
}
