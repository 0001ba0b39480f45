//! Webhooks: signature checks before parsing, a durable inbox, exactly-once
//! application, ordering by version, and the sync of orders, products and customers.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::*;
use atelier::db::schema::{
    customers, order_line_items, orders, product_variants, products, shops, webhook_inbox,
};

const SHOP: &str = "candle-co.myshopify.com";
const BIG_ORDER: i64 = 820982911946154508;
const BIG_LINE: i64 = 866550311766439020;

fn order(order_id: i64, updated_at: &str, status: &str) -> Value {
    let mut o = order_payload(
        order_id,
        Some(7710000000000123),
        updated_at,
        &[
            (order_id * 10 + 1, 632910392, 1, "29.95"),
            (order_id * 10 + 2, 921728736, 2, "45.00"),
        ],
    );
    o["financial_status"] = json!(status);
    o
}

fn inbox_count(app: &TestApp) -> i64 {
    let mut c = app.state.db.conn().unwrap();
    webhook_inbox::table.count().get_result(&mut *c).unwrap()
}

#[tokio::test]
async fn signature_is_checked_before_anything_else() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let d = Delivery::new(
        "orders/create",
        SHOP,
        &order(1, "2026-11-01T10:00:00-05:00", "paid"),
    );

    let good = webhook_hmac(&d.body, API_SECRET);
    let tampered = Delivery {
        body: d
            .body
            .iter()
            .map(|b| if *b == b'9' { b'8' } else { *b })
            .collect(),
        ..Delivery::new("orders/create", SHOP, &json!({}))
    };
    let hex = {
        use base64::Engine;
        hex::encode(
            base64::engine::general_purpose::STANDARD
                .decode(&good)
                .unwrap(),
        )
    };
    for (case, delivery, hmac) in [
        ("tampered body", &tampered, good.clone()),
        ("wrong secret", &d, webhook_hmac(&d.body, "not-the-secret")),
        ("hex instead of base64", &d, hex),
        ("garbage", &d, "not base64 at all".to_owned()),
        ("truncated", &d, good[..20].to_owned()),
    ] {
        let resp = app.post_webhook_signed(delivery, &hmac).await;
        assert_eq!(resp.status(), 401, "{case}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_hmac", "{case}");
    }
    // Missing header.
    let resp = app
        .client
        .post(app.url("/webhooks"))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Shop-Domain", SHOP)
        .header("X-Shopify-Webhook-Id", "x")
        .body(d.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Empty body: signed for something else → 401; signed correctly → 400.
    let empty = Delivery {
        body: Vec::new(),
        ..Delivery::new("orders/create", SHOP, &json!({}))
    };
    assert_eq!(app.post_webhook_signed(&empty, &good).await.status(), 401);
    assert_eq!(app.post_webhook(&empty).await.status(), 400);
    assert_eq!(inbox_count(&app), 0, "nothing stored");
}

#[tokio::test]
async fn a_delivery_is_durable_before_its_200_and_applied() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let mut payload = order_payload(
        BIG_ORDER,
        Some(7710000000000123),
        "2026-11-01T10:05:00-05:00",
        &[
            (BIG_LINE, 9007199254740993, 2, "29.95"),
            (BIG_LINE + 1, 921728736, 1, "1000.10"),
        ],
    );
    payload["cancelled_at"] = Value::Null;
    let d = Delivery::new("orders/create", SHOP, &payload);
    let resp = app.post_webhook(&d).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "accepted");
    // Committed before the answer: the row exists the moment the 200 is read.
    {
        let mut c = app.state.db.conn().unwrap();
        let n: i64 = webhook_inbox::table
            .filter(webhook_inbox::webhook_id.eq(&d.webhook_id))
            .count()
            .get_result(&mut *c)
            .unwrap();
        assert_eq!(n, 1);
    }
    app.drain().await;

    let mut c = app.state.db.conn().unwrap();
    let (order_id, name, customer, total, cancelled): (i64, String, Option<i64>, i64, bool) =
        orders::table
            .select((
                orders::order_id,
                orders::name,
                orders::customer_id,
                orders::total_price_cents,
                orders::cancelled,
            ))
            .first(&mut *c)
            .unwrap();
    assert_eq!(order_id, BIG_ORDER, "64-bit id kept exactly");
    assert!(name.starts_with('#'));
    assert_eq!(customer, Some(7710000000000123));
    assert_eq!(total, 12990);
    assert!(!cancelled);
    let lines: Vec<(i64, Option<i64>, i32, i64, String)> = order_line_items::table
        .order(order_line_items::position)
        .select((
            order_line_items::line_item_id,
            order_line_items::product_id,
            order_line_items::quantity,
            order_line_items::price_cents,
            order_line_items::properties,
        ))
        .load(&mut *c)
        .unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].0, BIG_LINE);
    assert_eq!(
        lines[0].1,
        Some(9007199254740993),
        "above 2^53, not rounded"
    );
    assert_eq!((lines[0].2, lines[0].3), (2, 2995));
    assert_eq!(lines[1].3, 100010);
    let props: Value = serde_json::from_str(&lines[0].4).unwrap();
    assert_eq!(
        props,
        json!([{"name": "Engraving", "value": "Für Anna ❤️"}, {"name": "_atelier", "value": "sig"}])
    );

    let rows = app.inbox_rows();
    assert_eq!(rows[0].1, "done");
    assert!(
        rows[0].4.is_empty(),
        "payload (names, addresses) erased once applied"
    );
}

#[tokio::test]
async fn a_repeated_delivery_is_acknowledged_and_applied_once() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let d = Delivery::new(
        "orders/create",
        SHOP,
        &order(5, "2026-11-01T10:00:00-05:00", "paid"),
    );
    app.deliver(&d).await;
    app.drain().await;
    for _ in 0..3 {
        let resp = app.post_webhook(&d).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.json::<Value>().await.unwrap()["status"], "duplicate");
    }
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, 1, "processed in one attempt");
    let mut c = app.state.db.conn().unwrap();
    assert_eq!(
        order_line_items::table
            .count()
            .get_result::<i64>(&mut *c)
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn an_older_update_never_overwrites_a_newer_one() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    // Newest first, as Shopify may deliver them.
    app.deliver(&Delivery::new(
        "orders/updated",
        SHOP,
        &order(7, "2026-11-01T12:00:00-05:00", "refunded"),
    ))
    .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "orders/paid",
        SHOP,
        &order(7, "2026-11-01T11:00:00-05:00", "paid"),
    ))
    .await;
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order(7, "2026-11-01T10:00:00-05:00", "pending"),
    ))
    .await;
    app.drain().await;
    let mut c = app.state.db.conn().unwrap();
    let status: Option<String> = orders::table
        .select(orders::financial_status)
        .first(&mut *c)
        .unwrap();
    assert_eq!(status.as_deref(), Some("refunded"));

    // Same updated_at: the delivery triggered later wins.
    let mut a = Delivery::new(
        "orders/updated",
        SHOP,
        &order(8, "2026-11-01T12:00:00Z", "authorized"),
    );
    a.triggered_at = Some("2026-11-01T12:00:00.200000000Z".into());
    let mut b = Delivery::new(
        "orders/updated",
        SHOP,
        &order(8, "2026-11-01T12:00:00Z", "paid"),
    );
    b.triggered_at = Some("2026-11-01T12:00:00.900000000Z".into());
    app.deliver(&b).await;
    app.drain().await;
    app.deliver(&a).await;
    app.drain().await;
    let status: Option<String> = orders::table
        .filter(orders::order_id.eq(8))
        .select(orders::financial_status)
        .first(&mut *c)
        .unwrap();
    assert_eq!(status.as_deref(), Some("paid"));

    // A line removed by an order edit disappears; the stale deliveries are on record as such.
    let mut edited = order(7, "2026-11-01T13:00:00-05:00", "refunded");
    edited["line_items"].as_array_mut().unwrap().pop();
    app.deliver(&Delivery::new("orders/updated", SHOP, &edited))
        .await;
    app.drain().await;
    let n: i64 = order_line_items::table
        .filter(order_line_items::order_id.eq(7))
        .count()
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(n, 1);
    let stale: i64 = webhook_inbox::table
        .filter(webhook_inbox::note.like("stale%"))
        .count()
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(stale, 3);
}

#[tokio::test]
async fn cancelled_orders_stay_marked_cancelled() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order(9, "2026-11-01T10:00:00-05:00", "paid"),
    ))
    .await;
    let mut cancelled = order(9, "2026-11-02T10:00:00-05:00", "voided");
    cancelled["cancelled_at"] = json!("2026-11-02T10:00:00-05:00");
    cancelled["cancel_reason"] = json!("customer");
    app.deliver(&Delivery::new("orders/cancelled", SHOP, &cancelled))
        .await;
    app.drain().await;
    let mut c = app.state.db.conn().unwrap();
    let (is_cancelled, at): (bool, Option<time::PrimitiveDateTime>) = orders::table
        .select((orders::cancelled, orders::cancelled_at))
        .first(&mut *c)
        .unwrap();
    assert!(is_cancelled);
    assert_eq!(at.unwrap().to_string(), "2026-11-02 15:00:00.0");
}

#[tokio::test]
async fn deliveries_for_an_unknown_shop_are_acknowledged_and_ignored() {
    let app = spawn_app().await;
    app.deliver(&Delivery::new(
        "orders/create",
        "stranger.myshopify.com",
        &order(1, "2026-11-01T10:00:00Z", "paid"),
    ))
    .await;
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows[0].1, "ignored");
    assert_eq!(app.shop_count(), 0, "no shop is created by a webhook");
    let mut c = app.state.db.conn().unwrap();
    assert_eq!(orders::table.count().get_result::<i64>(&mut *c).unwrap(), 0);
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_dead_lettered_without_retries() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let bad = Delivery {
        body: b"{\"id\": 12, \"line_items\": [".to_vec(),
        ..Delivery::new("orders/create", SHOP, &json!({}))
    };
    let resp = app.post_webhook(&bad).await;
    assert_eq!(
        resp.status(),
        200,
        "Shopify must not retry a delivery that can never succeed"
    );
    let wrong_shape = Delivery::new(
        "products/update",
        SHOP,
        &json!({"id": "not-a-number", "variants": 5}),
    );
    app.deliver(&wrong_shape).await;
    app.drain().await;
    let rows = app.inbox_rows();
    for row in &rows {
        assert_eq!(row.1, "dead");
        assert_eq!(row.2, 1, "one attempt, no retry storm");
        assert!(
            row.3.as_deref().unwrap().starts_with("malformed"),
            "{:?}",
            row.3
        );
        assert!(!row.4.is_empty(), "kept for inspection");
    }
    let shop: Value = app.api_get("/api/shop", SHOP).await.json().await.unwrap();
    assert_eq!(shop["counts"]["webhooks_failed"], 2);
}

#[tokio::test]
async fn unknown_topics_are_acknowledged_and_not_stored() {
    let app = spawn_app().await;
    let resp = app
        .post_webhook(&Delivery::new(
            "inventory_levels/update",
            SHOP,
            &json!({"a": 1}),
        ))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(inbox_count(&app), 0);
}

#[tokio::test]
async fn bodies_over_5_mib_get_413_and_missing_headers_400() {
    let app = spawn_app().await;
    let big = Delivery {
        body: vec![b' '; 5 * 1024 * 1024 + 1],
        ..Delivery::new("orders/create", SHOP, &json!({}))
    };
    let resp = app.post_webhook(&big).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );
    let just_under = Delivery {
        body: [
            b"{\"id\":1,\"pad\":\"".as_slice(),
            &vec![b'a'; 5 * 1024 * 1024 - 40],
            b"\"}",
        ]
        .concat(),
        ..Delivery::new("orders/create", SHOP, &json!({}))
    };
    assert_eq!(app.post_webhook(&just_under).await.status(), 200);

    let body = br#"{"id":1}"#.to_vec();
    let resp = app
        .client
        .post(app.url("/webhooks"))
        .header("X-Shopify-Hmac-Sha256", webhook_hmac(&body, API_SECRET))
        .header("X-Shopify-Shop-Domain", SHOP)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "missing_header"
    );
}

fn product(id: i64, updated_at: &str, title: &str, qty: i64) -> Value {
    json!({
        "id": id, "title": title, "handle": title.to_lowercase().replace(' ', "-"), "vendor": "Atelier Demo",
        "product_type": "Candles", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "gift, soy , Gift",
        "updated_at": updated_at, "image": {"src": "https://cdn.example.com/p.jpg"},
        "variants": [
            {"id": id * 10 + 1, "title": "Small", "price": "19.00", "inventory_quantity": qty, "inventory_policy": "deny", "position": 1, "sku": "S"},
            {"id": id * 10 + 2, "title": "Large", "price": "34.50", "inventory_quantity": 0, "inventory_policy": "continue", "position": 2, "sku": "L"}
        ]
    })
}

#[tokio::test]
async fn products_are_synced_updated_in_order_and_deleted_for_good() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.deliver(&Delivery::new(
        "products/create",
        SHOP,
        &product(42, "2026-11-01T10:00:00Z", "Fig Candle", 3),
    ))
    .await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(42, "2026-11-01T12:00:00Z", "Fig Candle XL", 0),
    ))
    .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(42, "2026-11-01T11:00:00Z", "Stale Title", 3),
    ))
    .await;
    app.drain().await;
    let mut c = app.state.db.conn().unwrap();
    let (title, tags, available, min, max, deleted): (
        String,
        String,
        bool,
        Option<i64>,
        Option<i64>,
        bool,
    ) = products::table
        .select((
            products::title,
            products::tags,
            products::available,
            products::price_min_cents,
            products::price_max_cents,
            products::deleted,
        ))
        .first(&mut *c)
        .unwrap();
    assert_eq!(title, "Fig Candle XL");
    assert_eq!(tags, r#"["gift","soy"]"#);
    assert!(available, "the Large variant may be oversold");
    assert_eq!((min, max), (Some(1900), Some(3450)));
    assert!(!deleted);
    let small_available: bool = product_variants::table
        .filter(product_variants::variant_id.eq(421))
        .select(product_variants::available)
        .first(&mut *c)
        .unwrap();
    assert!(!small_available, "out of stock");

    app.deliver(&Delivery::new("products/delete", SHOP, &json!({"id": 42})))
        .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "products/update",
        SHOP,
        &product(42, "2026-11-03T12:00:00Z", "Zombie", 3),
    ))
    .await;
    // An update of a product whose delete came first is ignored as well.
    app.deliver(&Delivery::new("products/delete", SHOP, &json!({"id": 43})))
        .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "products/create",
        SHOP,
        &product(43, "2026-11-01T12:00:00Z", "Late Create", 3),
    ))
    .await;
    app.drain().await;
    let rows: Vec<(i64, String, bool)> = products::table
        .order(products::product_id)
        .select((products::product_id, products::title, products::deleted))
        .load(&mut *c)
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (42, "Fig Candle XL".to_owned(), true),
            (43, String::new(), true)
        ]
    );
    let variants: i64 = product_variants::table.count().get_result(&mut *c).unwrap();
    assert_eq!(variants, 0);
}

#[tokio::test]
async fn customer_updates_keep_only_consent_state() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let payload = json!({
        "id": 7710000000000123u64, "email": "anna@example.com", "first_name": "Anna", "updated_at": "2026-11-05T10:00:00Z",
        "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-11-05T09:59:00Z"},
        "sms_marketing_consent": null, "addresses": [{"address1": "Storgatan 12"}]
    });
    app.deliver(&Delivery::new("customers/update", SHOP, &payload))
        .await;
    app.drain().await;
    let mut older = payload.clone();
    older["updated_at"] = json!("2026-11-04T10:00:00Z");
    older["email_marketing_consent"]["state"] = json!("unsubscribed");
    app.deliver(&Delivery::new("customers/update", SHOP, &older))
        .await;
    app.drain().await;
    let mut c = app.state.db.conn().unwrap();
    let state: Option<String> = customers::table
        .select(customers::email_marketing_state)
        .first(&mut *c)
        .unwrap();
    assert_eq!(state.as_deref(), Some("subscribed"));
}

#[tokio::test]
async fn uninstall_deletes_the_token_and_reinstall_works() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.deliver(&Delivery::new(
        "app/uninstalled",
        SHOP,
        &json!({"id": 548380009, "name": "Candle Co", "domain": null, "myshopify_domain": null}),
    ))
    .await;
    app.drain().await;
    let shop = app.shop_row(SHOP).unwrap();
    assert!(!shop.installed);
    assert!(shop.access_token_enc.is_none(), "token deleted");
    assert!(shop.uninstalled_at.is_some());
    // Orders stay until shop/redact.
    app.deliver(&Delivery::new(
        "orders/create",
        SHOP,
        &order(11, "2026-11-01T10:00:00Z", "paid"),
    ))
    .await;
    app.drain().await;

    app.install(SHOP).await;
    let shop = app.shop_row(SHOP).unwrap();
    assert!(shop.installed);
    assert!(shop.uninstalled_at.is_none());
    let counts: Value = app.api_get("/api/shop", SHOP).await.json().await.unwrap();
    assert_eq!(counts["counts"]["orders"], 1);
}

#[tokio::test]
async fn two_instances_on_one_database_apply_each_event_once() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let second_url = format!("http://127.0.0.1:{}/webhooks", app.spawn_sibling().await);

    let mut deliveries = Vec::new();
    for i in 0..60i64 {
        let hour = 10 + i % 3;
        deliveries.push(Delivery::new(
            "orders/updated",
            SHOP,
            &order(100 + i / 3, &format!("2026-11-01T{hour}:00:00Z"), "paid"),
        ));
    }
    let mut tasks = Vec::new();
    for (i, d) in deliveries.iter().enumerate() {
        let url = if i % 2 == 0 {
            app.url("/webhooks")
        } else {
            second_url.clone()
        };
        let req = app
            .client
            .post(url)
            .header("X-Shopify-Topic", d.topic)
            .header("X-Shopify-Hmac-Sha256", webhook_hmac(&d.body, API_SECRET))
            .header("X-Shopify-Shop-Domain", d.shop)
            .header("X-Shopify-Webhook-Id", &d.webhook_id)
            .header("X-Shopify-API-Version", "2026-10")
            .body(d.body.clone());
        // Every delivery twice, once to each instance.
        let again = req.try_clone().unwrap();
        tasks.push(tokio::spawn(async move {
            (
                req.send().await.unwrap().status(),
                again.send().await.unwrap().status(),
            )
        }));
    }
    for t in tasks {
        let (a, b) = t.await.unwrap();
        assert_eq!((a.as_u16(), b.as_u16()), (200, 200));
    }
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows.len(), 60);
    assert!(
        rows.iter().all(|r| (r.1.as_str(), r.2) == ("done", 1)),
        "each event claimed and applied exactly once"
    );
    let mut c = app.state.db.conn().unwrap();
    assert_eq!(
        orders::table.count().get_result::<i64>(&mut *c).unwrap(),
        20
    );
    assert_eq!(
        order_line_items::table
            .count()
            .get_result::<i64>(&mut *c)
            .unwrap(),
        40
    );
    let _ = shops::table.count().get_result::<i64>(&mut *c).unwrap();
}

/// A delivery whose every try ended without an outcome (the process died while applying it)
/// is not tried forever: once claimed more often than the attempt limit, it is dead-lettered
/// without being applied again.
#[tokio::test]
async fn a_delivery_that_keeps_killing_its_worker_is_dead_lettered() {
    let app = spawn_app_with(|v| {
        v.insert("ATELIER_WORKERS".into(), "false".into());
    })
    .await;
    app.install(SHOP).await;
    let payload = order_payload(
        BIG_ORDER,
        Some(7710000000000123),
        "2026-11-01T10:05:00-05:00",
        &[(BIG_LINE, 9007199254740993, 1, "29.95")],
    );
    let d = Delivery::new("orders/create", SHOP, &payload);
    assert_eq!(app.post_webhook(&d).await.status(), 200);
    {
        // As left by the last of many tries that each ended the process mid-way.
        let mut c = app.state.db.conn().unwrap();
        let past = atelier::db::now() - time::Duration::minutes(5);
        diesel::update(webhook_inbox::table.filter(webhook_inbox::webhook_id.eq(&d.webhook_id)))
            .set((
                webhook_inbox::state.eq("processing"),
                webhook_inbox::attempts.eq(atelier::inbox::MAX_ATTEMPTS),
                webhook_inbox::locked_by.eq(Some("a-dead-worker")),
                webhook_inbox::locked_until.eq(Some(past)),
            ))
            .execute(&mut *c)
            .unwrap();
    }
    app.spawn_sibling().await; // its worker takes over the expired lease
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows[0].1, "dead", "{rows:?}");
    assert!(
        rows[0].3.as_deref().unwrap_or("").contains("claimed"),
        "{rows:?}"
    );
    let mut c = app.state.db.conn().unwrap();
    let stored: i64 = orders::table.count().get_result(&mut *c).unwrap();
    assert_eq!(stored, 0, "not applied again");
}
