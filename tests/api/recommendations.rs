//! Recommendations: `/proxy/recommendations`, `/proxy/events`, settings, explain,
//! analytics, erasure, backfill.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "recs-shop.myshopify.com";
const OTHER: &str = "other-recs.myshopify.com";

/// A product as `products/create` sends it: one variant per size (`None`: one default variant).
fn product(id: i64, kind: &str, vendor: &str, tags: &str, sizes: &[(&str, i64)]) -> Value {
    let variants: Vec<Value> = if sizes.is_empty() {
        vec![
            json!({"id": id * 100 + 1, "title": "Default", "price": "20.00", "inventory_quantity": 5, "inventory_policy": "deny", "position": 1}),
        ]
    } else {
        sizes
            .iter()
            .enumerate()
            .map(|(i, (size, qty))| json!({"id": id * 100 + 1 + i as i64, "title": size, "price": "20.00", "inventory_quantity": qty, "inventory_policy": "deny", "position": i + 1, "option1": size}))
            .collect()
    };
    json!({
        "id": id, "title": format!("Product {id}"), "handle": format!("p-{id}"), "vendor": vendor,
        "product_type": kind, "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": tags,
        "updated_at": "2026-11-01T10:00:00Z", "variants": variants
    })
}

async fn add_products(app: &TestApp, shop: &str, products: &[Value]) {
    for p in products {
        app.deliver(&Delivery::new("products/create", shop, p))
            .await;
    }
    app.drain().await;
}

/// Six plain products of one type: 1..=6.
async fn catalogue(app: &TestApp, shop: &str) {
    let list: Vec<Value> = (1..=6)
        .map(|id| product(id, "Candles", "Acme", "", &[]))
        .collect();
    add_products(app, shop, &list).await;
}

async fn order(app: &TestApp, shop: &str, order_id: i64, customer: Option<i64>, products: &[i64]) {
    let lines: Vec<(i64, i64, i64, &str)> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (order_id * 100 + i as i64, *p, 1, "20.00"))
        .collect();
    let body = order_payload(order_id, customer, "2026-11-01T10:00:00-05:00", &lines);
    app.deliver(&Delivery::new("orders/create", shop, &body))
        .await;
}

fn rec_url(app: &TestApp, shop: &str, customer: Option<i64>, params: &[(&str, &str)]) -> String {
    app.url(&format!(
        "/proxy/recommendations?{}",
        proxy_query_with(shop, customer, now(), API_SECRET, params)
    ))
}

async fn recs_full(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let resp = app
        .client
        .get(rec_url(app, shop, customer, params))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The product ids of a successful answer, in order.
async fn recs(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    params: &[(&str, &str)],
) -> Vec<i64> {
    let (status, body) = recs_full(app, shop, customer, params).await;
    assert_eq!(status, 200, "{body}");
    ids(&body)
}

fn ids(body: &Value) -> Vec<i64> {
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["product_id"]
                .as_str()
                .expect("ids are strings")
                .parse()
                .unwrap()
        })
        .collect()
}

async fn explain(app: &TestApp, shop: &str, intent: &str, product: i64) -> Value {
    let resp = app
        .api_get(
            &format!("/api/recommendations/explain?intent={intent}&product_id={product}"),
            shop,
        )
        .await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `orders_together` of `candidate` in the `complementary` explanation of `product` (0: none).
async fn orders_together(app: &TestApp, shop: &str, product: i64, candidate: i64) -> i64 {
    let body = explain(app, shop, "complementary", product).await;
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product_id"].as_str() == Some(candidate.to_string().as_str()))
        .and_then(|p| {
            p["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["type"] == "co_purchase")
                .map(|r| r["orders_together"].as_i64().unwrap())
        })
        .unwrap_or(0)
}

async fn post_event(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.proxy_url("/events", shop, customer))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cold_start_gives_full_lists_for_an_empty_store_and_a_new_shopper() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    // No products at all: an empty list, not an error.
    for intent in ["trending", "for_you"] {
        assert_eq!(
            recs(&app, SHOP, None, &[("intent", intent)]).await,
            Vec::<i64>::new()
        );
    }
    assert!(
        recs(
            &app,
            SHOP,
            None,
            &[("intent", "complementary"), ("product_id", "1")]
        )
        .await
        .is_empty()
    );

    // A catalogue but no orders and no events: every intent falls back to a full list.
    catalogue(&app, SHOP).await;
    for intent in ["trending", "for_you", "related", "complementary"] {
        let list = recs(
            &app,
            SHOP,
            Some(555),
            &[("intent", intent), ("product_id", "3"), ("limit", "4")],
        )
        .await;
        assert_eq!(list.len(), 4, "{intent}: {list:?}");
        assert!(
            !list.contains(&3),
            "{intent} never recommends the viewed product"
        );
    }
    let (_, body) = recs_full(&app, SHOP, None, &[("intent", "trending"), ("limit", "10")]).await;
    assert_eq!(body["intent"], "trending");
    assert_eq!(ids(&body).len(), 6);
    let scores: Vec<f64> = body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
}

#[tokio::test]
async fn an_order_is_visible_right_after_its_webhook() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    // Served (and cached) before the order.
    let before = explain(&app, SHOP, "complementary", 3).await;
    assert!(before["products"].as_array().unwrap().iter().all(|p| {
        p["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["type"] != "co_purchase")
    }));
    let _ = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "3")],
    )
    .await;
    order(&app, SHOP, 1, Some(7), &[3, 5]).await;
    app.drain().await;
    let list = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "3")],
    )
    .await;
    assert_eq!(list[0], 5, "{list:?}");
    assert_eq!(orders_together(&app, SHOP, 3, 5).await, 1);
    let trending = recs(&app, SHOP, None, &[("intent", "trending"), ("limit", "2")]).await;
    assert!(
        trending.contains(&3) && trending.contains(&5),
        "{trending:?}"
    );
}

#[tokio::test]
async fn complementary_prefers_true_complements_over_best_sellers() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    // 6 is a best-seller bought with everything; 1 and 2 are bought together.
    let mut id = 10;
    for _ in 0..3 {
        order(&app, SHOP, id, None, &[1, 2]).await;
        id += 1;
    }
    for other in [1, 2, 3, 4, 5, 3, 4, 5, 3, 4, 5] {
        order(&app, SHOP, id, None, &[other, 6]).await;
        id += 1;
    }
    app.drain().await;
    let list = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "1")],
    )
    .await;
    assert_eq!(list[0], 2, "{list:?}");
    let body = explain(&app, SHOP, "complementary", 1).await;
    let first = &body["products"][0];
    let reason = &first["reasons"][0];
    assert_eq!(reason["type"], "co_purchase");
    assert_eq!(reason["orders_together"], 3);
    assert!(reason["lift"].as_f64().unwrap() > 1.0);
    assert_eq!(reason["window"]["orders"], 14);
    assert!(reason["window"]["from"].is_string());
}

#[tokio::test]
async fn merchant_pins_come_first_and_exclusions_are_never_shown() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    order(&app, SHOP, 1, None, &[1, 2, 3, 4]).await;
    app.drain().await;
    let before = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "1")],
    )
    .await;
    assert!(before.contains(&2) && before.contains(&3));

    let body =
        json!({"pinned": {"1": ["6", 5]}, "excluded": {"1": [2]}, "excluded_everywhere": ["3"]});
    let resp = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&body),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    assert_eq!(
        saved,
        json!({"pinned": {"1": ["6", "5"]}, "excluded": {"1": ["2"]}, "excluded_everywhere": ["3"], "collection_pins": {}})
    );
    let got: Value = app
        .api_get("/api/recommendations/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, saved);

    let list = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "1")],
    )
    .await;
    assert_eq!(&list[..2], &[6, 5], "{list:?}");
    assert!(
        !list.contains(&2) && !list.contains(&3) && !list.contains(&1),
        "{list:?}"
    );
    let trending = recs(&app, SHOP, None, &[("intent", "trending")]).await;
    assert!(!trending.contains(&3), "excluded everywhere: {trending:?}");
    assert!(
        trending.contains(&2),
        "excluded only next to 1: {trending:?}"
    );
    let body = explain(&app, SHOP, "complementary", 1).await;
    assert_eq!(body["products"][0]["reasons"][0]["type"], "pinned");

    // Invalid settings name each problem.
    let bad =
        json!({"pinned": {"x": [1], "1": ["abc", 1, -4]}, "excluded_everywhere": "3", "colour": 1});
    let resp = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&bad),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "pinned.x",
        "pinned.1[0]",
        "pinned.1[1]",
        "pinned.1[2]",
        "excluded_everywhere",
        "colour",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    // Nothing changed.
    let got: Value = app
        .api_get("/api/recommendations/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, saved);
}

#[tokio::test]
async fn unavailable_deleted_unpublished_fee_and_gift_card_products_are_never_recommended() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    add_products(
        &app,
        SHOP,
        &[
            product(7, "Fees", "Atelier", "", &[]),
            product(8, "Gift Card", "Acme", "", &[]),
        ],
    )
    .await;
    order(&app, SHOP, 1, None, &[1, 2, 3, 4, 5]).await;
    // A personalization fee line (product 7) and a gift card line (product 8).
    let mut body = order_payload(
        2,
        None,
        "2026-11-01T10:00:00-05:00",
        &[
            (201, 1, 1, "20.00"),
            (202, 7, 1, "5.00"),
            (203, 8, 1, "50.00"),
            (204, 6, 1, "0.00"),
        ],
    );
    body["line_items"][1]["properties"] = json!([{"name": "_atelier_fee", "value": "sig"}]);
    body["line_items"][2]["gift_card"] = json!(true);
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
    // 2 sells out, 3 is deleted, 4 is unpublished.
    let mut p2 = product(2, "Candles", "Acme", "", &[]);
    p2["variants"][0]["inventory_quantity"] = json!(0);
    p2["updated_at"] = json!("2026-11-02T10:00:00Z");
    let mut p4 = product(4, "Candles", "Acme", "", &[]);
    p4["published_at"] = Value::Null;
    p4["updated_at"] = json!("2026-11-02T10:00:00Z");
    app.deliver(&Delivery::new("products/update", SHOP, &p2))
        .await;
    app.deliver(&Delivery::new("products/update", SHOP, &p4))
        .await;
    app.deliver(&Delivery::new("products/delete", SHOP, &json!({"id": 3})))
        .await;
    app.drain().await;
    for intent in ["complementary", "related", "trending", "for_you"] {
        let list = recs(
            &app,
            SHOP,
            None,
            &[("intent", intent), ("product_id", "1"), ("limit", "50")],
        )
        .await;
        for never in [1, 2, 3, 4, 7, 8] {
            assert!(
                !list.contains(&never),
                "{intent} recommends {never}: {list:?}"
            );
        }
        assert!(list.contains(&5), "{intent}: {list:?}");
    }
    // The fee, gift card and $0 lines taught nothing.
    assert_eq!(orders_together(&app, SHOP, 1, 6).await, 0);
    assert_eq!(orders_together(&app, SHOP, 1, 5).await, 1);
}

async fn trending(app: &TestApp) -> Vec<i64> {
    recs(app, SHOP, None, &[("intent", "trending"), ("limit", "50")]).await
}

/// The products `explain` lists for `intent` around `product`.
async fn explained(app: &TestApp, intent: &str, product: i64) -> Vec<i64> {
    ids(&explain(app, SHOP, intent, product).await)
}

#[tokio::test]
async fn the_configured_fee_product_is_never_recommended_even_before_an_order() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    // The fee product looks like any product: active, published, priced above zero.
    add_products(&app, SHOP, &[product(7, "Fee", "Atelier", "", &[])]).await;
    assert!(
        trending(&app).await.contains(&7),
        "listed before it is the fee"
    );
    assert!(explained(&app, "related", 1).await.contains(&7));

    let set = |variant: Value| {
        let app = &app;
        async move {
            let resp = app
                .api_send(
                    Method::PUT,
                    "/api/personalization/settings",
                    SHOP,
                    Some(&json!({ "fee_variant_id": variant })),
                )
                .await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        }
    };
    set(json!("701")).await;
    assert!(
        !trending(&app).await.contains(&7),
        "the fee leaves every list at once"
    );
    for intent in ["related", "complementary", "trending", "for_you"] {
        assert!(!explained(&app, intent, 1).await.contains(&7), "{intent}");
    }
    // Another instance, reading the catalogue afresh, agrees.
    let sibling = app.spawn_sibling().await;
    let url = format!(
        "http://127.0.0.1:{sibling}/proxy/recommendations?{}",
        proxy_query_with(
            SHOP,
            None,
            now(),
            API_SECRET,
            &[("intent", "trending"), ("limit", "50")]
        )
    );
    let body: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!ids(&body).contains(&7), "{body}");
    // Cleared: it is an ordinary product again.
    set(Value::Null).await;
    assert!(trending(&app).await.contains(&7));
}

#[tokio::test]
async fn duplicate_edited_refunded_and_cancelled_orders_are_counted_exactly() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let body = order_payload(
        9,
        Some(7),
        "2026-11-01T10:00:00-05:00",
        &[
            (901, 1, 1, "20.00"),
            (902, 2, 1, "20.00"),
            (903, 3, 1, "20.00"),
        ],
    );
    // The same order delivered twice (Shopify retries with a new webhook id) and as orders/paid.
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    let mut paid = body.clone();
    paid["updated_at"] = json!("2026-11-01T10:05:00-05:00");
    app.deliver(&Delivery::new("orders/paid", SHOP, &paid))
        .await;
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 1);
    assert_eq!(orders_together(&app, SHOP, 1, 3).await, 1);
    // Line 3 refunded: its pairs go.
    let mut refunded = paid.clone();
    refunded["updated_at"] = json!("2026-11-01T11:00:00-05:00");
    refunded["line_items"][2]["current_quantity"] = json!(0);
    refunded["refunds"] = json!([{"refund_line_items": [{"line_item_id": 903, "quantity": 1}]}]);
    app.deliver(&Delivery::new("orders/updated", SHOP, &refunded))
        .await;
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 1, 3).await, 0);
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 1);
    // Cancelled: everything it added is subtracted, once, however often it arrives.
    let mut cancelled = refunded.clone();
    cancelled["updated_at"] = json!("2026-11-01T12:00:00-05:00");
    cancelled["cancelled_at"] = json!("2026-11-01T12:00:00-05:00");
    for topic in ["orders/cancelled", "orders/updated", "orders/cancelled"] {
        app.deliver(&Delivery::new(topic, SHOP, &cancelled)).await;
    }
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 0);
    // A second real order counts as one again (no negative leftovers).
    order(&app, SHOP, 10, None, &[1, 2]).await;
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 1);
    let body = explain(&app, SHOP, "complementary", 1).await;
    assert_eq!(body["products"][0]["reasons"][0]["window"]["orders"], 1);
}

#[tokio::test]
async fn shops_never_see_each_others_model_settings_or_events() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    catalogue(&app, SHOP).await;
    catalogue(&app, OTHER).await;
    order(&app, SHOP, 1, None, &[1, 2]).await;
    app.drain().await;
    let body = json!({"excluded_everywhere": ["4"]});
    app.api_send(
        Method::PUT,
        "/api/recommendations/settings",
        SHOP,
        Some(&body),
    )
    .await;
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 1);
    assert_eq!(orders_together(&app, OTHER, 1, 2).await, 0);
    let other = recs(
        &app,
        OTHER,
        None,
        &[("intent", "trending"), ("limit", "50")],
    )
    .await;
    assert!(other.contains(&4), "{other:?}");
    let got: Value = app
        .api_get("/api/recommendations/settings", OTHER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["excluded_everywhere"], json!([]));
    for _ in 0..2 {
        let r = post_event(
            &app,
            SHOP,
            None,
            &json!({"type": "click", "product_id": "2", "session_id": "s1", "intent": "related"}),
        )
        .await;
        assert_eq!(r.status(), 204);
    }
    let a: Value = app
        .api_get("/api/analytics", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .api_get("/api/analytics", OTHER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["intents"]["related"]["clicks"], 2);
    assert_eq!(b["intents"]["related"]["clicks"], 0);
}

#[tokio::test]
async fn invalid_parameters_are_422_and_big_limits_are_clamped() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    for (params, field) in [
        (vec![("intent", "trending"), ("limit", "0")], "limit"),
        (vec![("intent", "trending"), ("limit", "-3")], "limit"),
        (vec![("intent", "trending"), ("limit", "ten")], "limit"),
        (vec![("intent", "popular")], "intent"),
        (vec![], "intent"),
        (
            vec![("intent", "related"), ("product_id", "abc")],
            "product_id",
        ),
        (
            vec![("intent", "related"), ("product_id", "-1")],
            "product_id",
        ),
        (
            vec![
                ("intent", "related"),
                ("product_id", "99999999999999999999999"),
            ],
            "product_id",
        ),
        (vec![("intent", "complementary")], "product_id"),
    ] {
        let (status, body) = recs_full(&app, SHOP, None, &params).await;
        assert_eq!(status, 422, "{params:?}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], field, "{params:?}: {body}");
    }
    let (status, body) = recs_full(
        &app,
        SHOP,
        None,
        &[("intent", "trending"), ("limit", "10000")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(ids(&body).len() <= 50);
    // Unsigned or tampered requests are refused.
    let url = rec_url(&app, SHOP, None, &[("intent", "trending")])
        .replace("intent=trending", "intent=related");
    assert_eq!(app.client.get(url).send().await.unwrap().status(), 401);
    // Events.
    for bad in [
        json!({"type": "purchase", "product_id": "1", "session_id": "s"}),
        json!({"type": "view", "product_id": "x1", "session_id": "s"}),
        json!({"type": "view", "product_id": 1, "session_id": ""}),
        json!({"type": "view", "product_id": 1, "session_id": "a b"}),
        json!({"type": "view", "product_id": 1, "session_id": "s".repeat(65)}),
        json!({"type": "view", "product_id": 1, "session_id": "s", "intent": "nope"}),
        json!([1]),
    ] {
        let r = post_event(&app, SHOP, None, &bad).await;
        assert_eq!(r.status(), 422, "{bad}");
    }
    let big = json!({"type": "view", "product_id": 1, "session_id": "s", "pad": "x".repeat(5000)});
    assert_eq!(post_event(&app, SHOP, None, &big).await.status(), 413);
    let r = app
        .client
        .post(app.proxy_url("/events", SHOP, None))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app
        .api_get(
            "/api/recommendations/explain?intent=nope&product_id=1",
            SHOP,
        )
        .await;
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn events_teach_related_and_feed_analytics_attribution() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let list: Vec<Value> = (1..=6)
        .map(|id| product(id, &format!("Type {id}"), &format!("V{id}"), "", &[]))
        .collect();
    add_products(&app, SHOP, &list).await;
    // Shoppers who view 1 also view 4 (no content overlap at all).
    for s in ["a", "b", "c"] {
        for p in [1, 4] {
            let r = post_event(
                &app,
                SHOP,
                None,
                &json!({"type": "view", "product_id": p, "session_id": s}),
            )
            .await;
            assert_eq!(r.status(), 204);
        }
    }
    // Re-viewing within a session does not count again.
    post_event(
        &app,
        SHOP,
        None,
        &json!({"type": "view", "product_id": 1, "session_id": "a"}),
    )
    .await;
    let body = explain(&app, SHOP, "related", 1).await;
    let first = &body["products"][0];
    assert_eq!(first["product_id"], "4", "{body}");
    assert_eq!(first["reasons"][0]["type"], "co_view");
    assert_eq!(first["reasons"][0]["sessions_together"], 3);

    // Widget: impression, click, add to cart, then the logged-in shopper's order.
    let shopper = 4242;
    for ev in [
        json!({"type": "view", "product_id": "4", "session_id": "w1", "intent": "related", "source_product_id": "1"}),
        json!({"type": "view", "product_id": "5", "session_id": "w1", "intent": "related", "source_product_id": "1"}),
        json!({"type": "click", "product_id": "4", "session_id": "w1", "intent": "related", "source_product_id": "1"}),
        json!({"type": "add_to_cart", "product_id": "4", "session_id": "w1"}),
        json!({"type": "view", "product_id": "2", "session_id": "w1", "intent": "trending"}),
    ] {
        assert_eq!(
            post_event(&app, SHOP, Some(shopper), &ev).await.status(),
            204
        );
    }
    let mut body = order_payload(
        77,
        Some(shopper),
        "2099-01-01T10:00:00Z",
        &[(7701, 4, 2, "20.00"), (7702, 6, 1, "15.00")],
    );
    let now_rfc = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    body["created_at"] = json!(now_rfc);
    app.deliver(&Delivery::new("orders/create", SHOP, &body))
        .await;
    app.drain().await;
    let a: Value = app
        .api_get("/api/analytics", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let related = &a["intents"]["related"];
    assert_eq!(related["impressions"], 2, "{a}");
    assert_eq!(related["clicks"], 1);
    assert_eq!(related["add_to_carts"], 1);
    assert_eq!(related["attributed_orders"], 1);
    assert_eq!(
        related["attributed_revenue_cents"], 4000,
        "only the clicked product's line"
    );
    assert_eq!(a["intents"]["trending"]["impressions"], 1);
    assert_eq!(a["intents"]["trending"]["attributed_orders"], 0);
}

#[tokio::test]
async fn customer_redaction_removes_their_contribution_from_the_model() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let anna = 5150;
    order(&app, SHOP, 1, Some(anna), &[1, 2]).await;
    order(&app, SHOP, 2, Some(anna), &[1, 3]).await;
    order(&app, SHOP, 3, None, &[1, 2]).await;
    app.drain().await;
    for p in [1, 5] {
        post_event(
            &app,
            SHOP,
            Some(anna),
            &json!({"type": "view", "product_id": p, "session_id": "anna-1"}),
        )
        .await;
    }
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 2);
    assert_eq!(orders_together(&app, SHOP, 1, 3).await, 1);
    // The export carries her events.
    app.deliver(&Delivery::new("customers/data_request", SHOP, &json!({"shop_domain": SHOP, "customer": {"id": anna}, "orders_requested": [], "data_request": {"id": 1}}))).await;
    app.drain().await;
    let list: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let export = &list["items"][0]["export"];
    assert_eq!(export["events"].as_array().unwrap().len(), 2, "{export}");
    assert_eq!(export["events"][0]["product_id"], "1");

    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_domain": SHOP, "customer": {"id": anna}, "orders_to_redact": [1, 2]}),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        orders_together(&app, SHOP, 1, 2).await,
        1,
        "the anonymous order stays"
    );
    assert_eq!(orders_together(&app, SHOP, 1, 3).await, 0);
    let related = explain(&app, SHOP, "related", 1).await;
    assert!(!related.to_string().contains("co_view"), "{related}");
    assert_eq!(app.table_count("rec_events"), 0);
    assert!(
        app.tables_mentioning(&anna.to_string())
            .iter()
            .all(|t| !t.starts_with("rec_"))
    );
    // A later copy of her order is not learned again.
    let body = order_payload(
        2,
        Some(anna),
        "2026-11-05T10:00:00-05:00",
        &[(201, 1, 1, "20.00"), (202, 3, 1, "20.00")],
    );
    app.deliver(&Delivery::new("orders/updated", SHOP, &body))
        .await;
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 1, 3).await, 0);
}

#[tokio::test]
async fn for_you_without_consent_uses_nothing_personal() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let shopper = 31;
    order(&app, SHOP, 1, Some(shopper), &[1, 2]).await;
    order(&app, SHOP, 2, None, &[3, 4]).await;
    order(&app, SHOP, 3, None, &[3, 4]).await;
    app.drain().await;
    // No consent recorded: the shopper gets exactly the anonymous list.
    let personal = recs(&app, SHOP, Some(shopper), &[("intent", "for_you")]).await;
    let anonymous = recs(&app, SHOP, None, &[("intent", "for_you")]).await;
    let trending = recs(&app, SHOP, None, &[("intent", "trending")]).await;
    assert_eq!(personal, anonymous);
    assert_eq!(personal, trending);
    let mut top: Vec<i64> = personal[..2].to_vec();
    top.sort();
    assert_eq!(
        top,
        [3, 4],
        "the best-sellers, not the shopper's own history: {personal:?}"
    );
}

async fn put_preferences(app: &TestApp, customer: i64, body: &Value) {
    let resp = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(customer)))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn preference_center(app: &TestApp) {
    let settings = json!({
        "size_categories": [{"key": "tops", "label": "Tops", "sizes": ["S", "M", "L"]}],
        "interests": [{"key": "outdoor", "label": "Outdoor"}],
    });
    let resp = app
        .api_send(Method::PUT, "/api/preference-center", SHOP, Some(&settings))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn for_you_uses_history_with_consent_and_stops_when_it_is_withdrawn() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    preference_center(&app).await;
    let shopper = 31;
    for id in 1..=3 {
        order(&app, SHOP, id, None, &[1, 5]).await;
    }
    order(&app, SHOP, 4, None, &[3, 4]).await;
    order(&app, SHOP, 5, None, &[3, 4]).await;
    order(&app, SHOP, 6, None, &[3, 4]).await;
    order(&app, SHOP, 7, None, &[3, 4]).await;
    order(&app, SHOP, 8, Some(shopper), &[1]).await;
    app.drain().await;
    put_preferences(
        &app,
        shopper,
        &json!({"consent": {"personalization": true, "marketing": false}}),
    )
    .await;
    let list = recs(&app, SHOP, Some(shopper), &[("intent", "for_you")]).await;
    assert_eq!(
        list[0], 5,
        "bought 1, so 5 (bought with 1) comes first: {list:?}"
    );
    assert!(!list.contains(&1), "not what they already bought");
    put_preferences(
        &app,
        shopper,
        &json!({"consent": {"personalization": false, "marketing": false}}),
    )
    .await;
    let list = recs(&app, SHOP, Some(shopper), &[("intent", "for_you")]).await;
    let anonymous = recs(&app, SHOP, None, &[("intent", "for_you")]).await;
    assert_eq!(
        list, anonymous,
        "withdrawn: nothing personal at the very next request"
    );
}

#[tokio::test]
async fn for_you_filters_by_size_and_boosts_interests() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    preference_center(&app).await;
    add_products(
        &app,
        SHOP,
        &[
            product(1, "Tops", "A", "", &[("S", 3), ("M", 0)]),
            product(2, "Tops", "A", "", &[("M", 3)]),
            product(3, "Shoes", "A", "size-category:tops", &[("L", 3)]),
            product(4, "Mugs", "A", "interest:outdoor", &[]),
            product(5, "Mugs", "A", "", &[]),
        ],
    )
    .await;
    for id in 1..=5 {
        order(
            &app,
            SHOP,
            id,
            None,
            &[5, 5 - (id % 5)]
                .iter()
                .copied()
                .filter(|p| *p > 0)
                .collect::<Vec<_>>(),
        )
        .await;
    }
    app.drain().await;
    let shopper = 77;
    put_preferences(&app, shopper, &json!({"sizes": {"tops": "M"}, "interests": ["outdoor"], "consent": {"personalization": true, "marketing": false}})).await;
    let list = recs(
        &app,
        SHOP,
        Some(shopper),
        &[("intent", "for_you"), ("limit", "50")],
    )
    .await;
    assert!(list.contains(&2), "M is available: {list:?}");
    assert!(!list.contains(&1), "M of product 1 is sold out: {list:?}");
    assert!(!list.contains(&3), "no M at all: {list:?}");
    let at = |p: i64| list.iter().position(|x| *x == p).unwrap();
    assert!(
        at(4) < at(2),
        "as popular as 2, but matches the interest: {list:?}"
    );
}

/// `for_you` keeps a shopper's computed inputs in memory between requests; what they state or
/// withdraw through another instance still applies to the very next answer of this one.
#[tokio::test]
async fn for_you_from_memory_follows_preferences_changed_through_another_instance() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    preference_center(&app).await;
    add_products(
        &app,
        SHOP,
        &[
            product(1, "Tops", "A", "", &[("S", 3), ("M", 0)]),
            product(2, "Tops", "A", "", &[("M", 3)]),
            product(3, "Shoes", "A", "size-category:tops", &[("L", 3)]),
            product(4, "Mugs", "A", "interest:outdoor", &[]),
            product(5, "Mugs", "A", "", &[]),
        ],
    )
    .await;
    let shopper = 78;
    order(&app, SHOP, 1, Some(shopper), &[5]).await;
    for id in 2..=6 {
        order(&app, SHOP, id, None, &[5, 1 + id % 4]).await;
    }
    app.drain().await;
    put_preferences(
        &app,
        shopper,
        &json!({"consent": {"personalization": true, "marketing": false}}),
    )
    .await;
    let params = [("intent", "for_you"), ("limit", "50")];
    let first = recs(&app, SHOP, Some(shopper), &params).await;
    assert!(
        first.contains(&1) && first.contains(&3),
        "no size stated yet: {first:?}"
    );
    assert_eq!(first, recs(&app, SHOP, Some(shopper), &params).await);
    let sibling = app.spawn_sibling().await;
    let on_sibling = |path: &str| {
        format!(
            "http://127.0.0.1:{sibling}/proxy{path}?{}",
            proxy_query(SHOP, Some(shopper), now(), API_SECRET)
        )
    };
    let resp = app
        .client
        .put(on_sibling("/preferences"))
        .json(&json!({"sizes": {"tops": "M"}, "interests": ["outdoor"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let stated = recs(&app, SHOP, Some(shopper), &params).await;
    assert!(!stated.contains(&1) && !stated.contains(&3), "{stated:?}");
    let at = |p: i64| stated.iter().position(|x| *x == p).unwrap();
    assert!(at(4) < at(2), "the stated interest leads: {stated:?}");
    let resp = app
        .client
        .put(on_sibling("/preferences"))
        .json(&json!({"consent": {"personalization": false, "marketing": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        recs(&app, SHOP, Some(shopper), &params).await,
        recs(&app, SHOP, None, &params).await,
        "withdrawn through the other instance: nothing personal here either"
    );
}

fn gql_product(id: i64) -> Value {
    json!({
        "id": format!("gid://shopify/Product/{id}"), "title": format!("Product {id}"), "handle": format!("p-{id}"),
        "productType": "Candles", "vendor": "Acme", "tags": ["soy"], "status": "ACTIVE",
        "publishedAt": "2026-10-01T00:00:00Z", "updatedAt": "2026-10-01T00:00:00Z",
        "variants": {"nodes": [{"id": format!("gid://shopify/ProductVariant/{}", id * 100 + 1), "title": "Default", "sku": null, "price": "20.00", "position": 1, "inventoryQuantity": 4, "inventoryPolicy": "DENY", "selectedOptions": [{"name": "Title", "value": "Default"}]}]}
    })
}

fn gql_order(id: i64, customer: Option<i64>, products: &[i64], cancelled: bool) -> Value {
    let lines: Vec<Value> = products
        .iter()
        .enumerate()
        .map(|(i, p)| json!({
            "id": format!("gid://shopify/LineItem/{}", id * 100 + i as i64), "title": "x", "variantTitle": null, "sku": null,
            "quantity": 1, "currentQuantity": 1, "isGiftCard": false,
            "product": {"id": format!("gid://shopify/Product/{p}")}, "variant": {"id": format!("gid://shopify/ProductVariant/{}", p * 100 + 1)},
            "originalUnitPriceSet": {"shopMoney": {"amount": "20.0", "currencyCode": "USD"}}, "customAttributes": []
        }))
        .collect();
    json!({
        "id": format!("gid://shopify/Order/{id}"), "name": format!("#{id}"), "createdAt": "2026-10-05T10:00:00Z",
        "updatedAt": "2026-10-05T10:00:00Z", "cancelledAt": if cancelled { json!("2026-10-06T10:00:00Z") } else { Value::Null },
        "test": false, "displayFinancialStatus": "PAID", "currencyCode": "USD",
        "totalPriceSet": {"shopMoney": {"amount": "40.0"}},
        "customer": customer.map(|c| json!({"id": format!("gid://shopify/Customer/{c}")})),
        "lineItems": {"nodes": lines}
    })
}

async fn backfill_state(app: &TestApp, shop: &str) -> Option<(String, i64)> {
    use atelier::db::schema::{rec_jobs, shops};
    use diesel::prelude::*;
    let mut c = app.state.db.conn().unwrap();
    let shop_id: String = shops::table
        .filter(shops::domain.eq(shop))
        .select(shops::id)
        .first(&mut *c)
        .unwrap();
    rec_jobs::table
        .find(shop_id)
        .select((rec_jobs::state, rec_jobs::orders_done))
        .first(&mut *c)
        .optional()
        .unwrap()
}

#[tokio::test]
async fn past_orders_and_the_catalogue_are_backfilled_right_after_install() {
    let app = spawn_app().await;
    let products: Vec<Value> = (1..=5).map(gql_product).collect();
    let mut orders: Vec<Value> = (1..=4)
        .map(|i| gql_order(i, Some(900 + i), &[1, 2], false))
        .collect();
    orders.push(gql_order(5, None, &[3, 4], false));
    orders.push(gql_order(6, None, &[1, 3], true));
    app.store.set_backfill(products, orders);
    app.install(SHOP).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some((state, done)) = backfill_state(&app, SHOP).await
            && state == "done"
        {
            assert_eq!(done, 6);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "backfill did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // 3 product pages + 3 order pages of 2, plus the empty last page of each when needed.
    assert!(app.store.backfill_requests() >= 6);
    assert_eq!(app.table_count("products"), 5);
    assert_eq!(app.table_count("orders"), 6);
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 4);
    assert_eq!(
        orders_together(&app, SHOP, 1, 3).await,
        0,
        "the cancelled order teaches nothing"
    );
    let list = recs(
        &app,
        SHOP,
        None,
        &[("intent", "complementary"), ("product_id", "3")],
    )
    .await;
    assert_eq!(list[0], 4);
    // A webhook for an already backfilled order changes nothing.
    let again = order_payload(
        5,
        None,
        "2026-10-05T10:00:00Z",
        &[(500, 3, 1, "20.00"), (501, 4, 1, "20.00")],
    );
    app.deliver(&Delivery::new("orders/create", SHOP, &again))
        .await;
    app.drain().await;
    assert_eq!(orders_together(&app, SHOP, 3, 4).await, 1);
}

#[tokio::test]
async fn import_applies_order_files_once() {
    use std::io::Write;
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for i in 0..5 {
        let o = order_payload(
            100 + i,
            None,
            "2026-11-01T10:00:00Z",
            &[(1000 + 2 * i, 1, 1, "20.00"), (1001 + 2 * i, 2, 1, "20.00")],
        );
        writeln!(file, "{o}").unwrap();
    }
    writeln!(file, "{{\"id\": \"not an id\"}}").unwrap();
    writeln!(file).unwrap();
    file.flush().unwrap();
    let shop = app.shop_row(SHOP).unwrap();
    for round in 0..2 {
        let mut conn = app.state.db.conn().unwrap();
        let reader = std::io::BufReader::new(std::fs::File::open(file.path()).unwrap());
        let report = atelier::cli::import::import(
            &mut conn,
            &app.state.sync,
            &app.state.recs,
            &shop,
            atelier::cli::import::Kind::Orders,
            reader,
        )
        .unwrap();
        assert_eq!(report.applied, 5, "round {round}");
        assert_eq!(report.rejected_count, 1);
        assert_eq!(report.rejected[0].0, 6, "line number");
    }
    assert_eq!(orders_together(&app, SHOP, 1, 2).await, 5);
}

#[tokio::test]
async fn another_instance_sees_an_order_within_a_second() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let sibling = app.spawn_sibling().await;
    let url = |p: &str| {
        format!(
            "http://127.0.0.1:{sibling}/proxy/recommendations?{}",
            proxy_query_with(
                SHOP,
                None,
                now(),
                API_SECRET,
                &[("intent", "complementary"), ("product_id", p)]
            )
        )
    };
    let first: Value = app
        .client
        .get(url("2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(first["products"][0]["product_id"], "6", "{first}");
    // Applied by whichever instance's worker claims it; the sibling has the list cached.
    order(&app, SHOP, 1, None, &[2, 6]).await;
    order(&app, SHOP, 2, None, &[2, 6]).await;
    app.drain().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let after: Value = app
        .client
        .get(url("2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["products"][0]["product_id"], "6", "{after}");
}

/// Two instances in one process keep their recommendations apart as two processes do: a
/// change made through one is applied by it at once, and reaches the other only through the
/// shop's versions in the database, within that one's poll — never through memory they share.
#[tokio::test]
async fn instances_in_one_process_learn_of_each_others_changes_only_through_the_database() {
    use atelier::recommendations::serve::VERSION_POLL;
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    order(&app, SHOP, 1, None, &[1, 2, 3, 4, 5]).await;
    app.drain().await;
    let sibling = app.spawn_sibling().await;
    let on_sibling = || {
        let url = format!(
            "http://127.0.0.1:{sibling}/proxy/recommendations?{}",
            proxy_query_with(
                SHOP,
                None,
                now(),
                API_SECRET,
                &[("intent", "complementary"), ("product_id", "1")]
            )
        );
        let client = app.client.clone();
        async move {
            let body: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            ids(&body)
        }
    };
    let mut excluded: Vec<i64> = Vec::new();
    // Each round excludes one more product next to 1 through the first instance. A round says
    // something only when it ends within the sibling's poll interval (a slow machine retries).
    let mut shown = false;
    for _ in 0..4 {
        tokio::time::sleep(VERSION_POLL + std::time::Duration::from_millis(100)).await;
        let polled = std::time::Instant::now();
        let before = on_sibling().await;
        let Some(&next) = before.iter().find(|p| !excluded.contains(p)) else {
            break;
        };
        excluded.push(next);
        let resp = app
            .api_send(
                Method::PUT,
                "/api/recommendations/settings",
                SHOP,
                Some(&json!({ "excluded": { "1": excluded } })),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let here = recs(
            &app,
            SHOP,
            None,
            &[("intent", "complementary"), ("product_id", "1")],
        )
        .await;
        assert!(
            !here.contains(&next),
            "applied at once where it was made: {here:?}"
        );
        let there = on_sibling().await;
        if polled.elapsed() < VERSION_POLL {
            assert!(
                there.contains(&next),
                "the sibling learned of the change from memory shared with the first \
                 instance, before reading the shop's versions again: {there:?}"
            );
            shown = true;
            break;
        }
    }
    assert!(shown, "no round ended within the sibling's poll interval");
    tokio::time::sleep(VERSION_POLL + std::time::Duration::from_millis(100)).await;
    let there = on_sibling().await;
    assert!(
        !there.iter().any(|p| excluded.contains(p)),
        "the change reaches the sibling through the database: {there:?} (excluded {excluded:?})"
    );
}

/// Another process (here `atelier import`) changes the model: a serving instance drops only the
/// touched products' lists, within its one-second poll of the shop's versions (the process's
/// own changes are applied at once, so this is the path several instances take).
#[tokio::test]
async fn another_process_changing_the_model_reaches_a_serving_instance_within_a_second() {
    use std::io::Write;
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let get = |p: &'static str| {
        let url = rec_url(
            &app,
            SHOP,
            None,
            &[("intent", "complementary"), ("product_id", p)],
        );
        let client = app.client.clone();
        async move {
            let body: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            ids(&body)
        }
    };
    let before = get("2").await;
    assert_ne!(before[0], 6, "{before:?}");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for i in 0..2 {
        let o = order_payload(
            500 + i,
            None,
            "2026-11-01T10:00:00Z",
            &[(5000 + 2 * i, 2, 1, "20.00"), (5001 + 2 * i, 6, 1, "20.00")],
        );
        writeln!(file, "{o}").unwrap();
    }
    file.flush().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .envs(base_vars(&app.db, &app.store))
        .args(["import", "--shop", SHOP, "--orders"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let after = get("2").await;
    assert_eq!(after[0], 6, "{after:?}");
    let trending = recs(&app, SHOP, None, &[("intent", "trending"), ("limit", "2")]).await;
    assert!(
        trending.contains(&2) && trending.contains(&6),
        "{trending:?}"
    );
}

/// Kills the child process when dropped (a failing test leaves no server behind).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A product change applied by another instance (a separate process running the workers)
/// reaches an instance that only serves within its one-second poll: the product is read again
/// and a sold-out product leaves its cached lists.
#[tokio::test]
async fn a_product_change_applied_by_another_instance_reaches_the_serving_one_within_a_second() {
    let app = spawn_app_with(|v| {
        v.insert("ATELIER_WORKERS".into(), "false".into());
    })
    .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut vars = base_vars(&app.db, &app.store);
    vars.insert("BIND_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("RUST_LOG".into(), "warn".into());
    let _worker = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_atelier"))
            .env_clear()
            .envs(vars)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let related = || {
        recs(
            &app,
            SHOP,
            None,
            &[("intent", "related"), ("product_id", "2"), ("limit", "10")],
        )
    };
    let before = related().await;
    assert!(before.contains(&5), "{before:?}");
    let mut sold_out = product(5, "Candles", "Acme", "", &[("M", 0)]);
    sold_out["updated_at"] = json!("2026-11-02T10:00:00Z");
    app.deliver(&Delivery::new("products/update", SHOP, &sold_out))
        .await;
    app.drain().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let after = related().await;
    assert!(!after.contains(&5), "{after:?}");
    assert_eq!(after.len(), 4, "the other products stay: {after:?}");
}

#[tokio::test]
async fn for_you_follows_what_the_same_shoppers_bought_in_other_orders_exactly() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP).await;
    let (regular, newcomer) = (41, 42);
    // The regular bought 1, then 2 in a later order: never in one basket.
    order(&app, SHOP, 1, Some(regular), &[1]).await;
    order(&app, SHOP, 2, Some(regular), &[2]).await;
    order(&app, SHOP, 3, Some(newcomer), &[1]).await;
    for id in 4..=6 {
        order(&app, SHOP, id, None, &[3, 4]).await;
    }
    app.drain().await;
    put_preferences(
        &app,
        newcomer,
        &json!({"consent": {"personalization": true, "marketing": false}}),
    )
    .await;
    let list = recs(&app, SHOP, Some(newcomer), &[("intent", "for_you")]).await;
    assert_eq!(
        list[0], 2,
        "bought by the shopper who bought what they bought: {list:?}"
    );
    assert!(!list.contains(&1));
    // Cancelling the regular's second order takes exactly that away again.
    let mut body = order_payload(
        2,
        Some(regular),
        "2026-11-02T10:00:00-05:00",
        &[(200, 2, 1, "20.00")],
    );
    body["cancelled_at"] = json!("2026-11-02T10:00:00-05:00");
    app.deliver(&Delivery::new("orders/updated", SHOP, &body))
        .await;
    app.drain().await;
    let list = recs(&app, SHOP, Some(newcomer), &[("intent", "for_you")]).await;
    assert_ne!(list[0], 2, "{list:?}");
    // Learned again when it is restored, and gone for good once the regular is erased.
    let body = order_payload(
        2,
        Some(regular),
        "2026-11-03T10:00:00-05:00",
        &[(200, 2, 1, "20.00")],
    );
    app.deliver(&Delivery::new("orders/updated", SHOP, &body))
        .await;
    app.drain().await;
    let list = recs(&app, SHOP, Some(newcomer), &[("intent", "for_you")]).await;
    assert_eq!(list[0], 2, "{list:?}");
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_domain": SHOP, "customer": {"id": regular}, "orders_to_redact": [1, 2]}),
    ))
    .await;
    app.drain().await;
    let list = recs(&app, SHOP, Some(newcomer), &[("intent", "for_you")]).await;
    assert_ne!(list[0], 2, "{list:?}");
}
