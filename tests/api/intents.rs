//! The `cart` and `recently_viewed` intents of `/proxy/recommendations`: complements of the
//! whole cart, the shopper's own recent views, consent, isolation, explain, analytics and bad
//! input.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "intents-shop.myshopify.com";
const OTHER: &str = "intents-other.myshopify.com";
/// Session ids as the widget makes them (32 hex characters).
const S1: &str = "0123456789abcdef0123456789abcdef";
const S2: &str = "fedcba9876543210fedcba9876543210";

fn product(id: i64, tags: &str, stock: i64) -> Value {
    json!({
        "id": id, "title": format!("Product {id}"), "handle": format!("p-{id}"), "vendor": "Acme",
        "product_type": format!("Type {id}"), "status": "active", "published_at": "2026-10-01T00:00:00Z",
        "tags": tags, "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": id * 100 + 1, "title": "Default", "price": "20.00", "inventory_quantity": stock,
                      "inventory_policy": "deny", "position": 1}]
    })
}

/// Products 1..=n, each of its own type and in stock.
async fn catalogue(app: &TestApp, shop: &str, n: i64) {
    for id in 1..=n {
        app.deliver(&Delivery::new("products/create", shop, &product(id, "", 5)))
            .await;
    }
    app.drain().await;
}

async fn orders(app: &TestApp, shop: &str, baskets: &[&[i64]]) {
    for (i, basket) in baskets.iter().enumerate() {
        let order_id = 1000 + i as i64;
        let lines: Vec<(i64, i64, i64, &str)> = basket
            .iter()
            .enumerate()
            .map(|(k, p)| (order_id * 100 + k as i64, *p, 1, "20.00"))
            .collect();
        let body = order_payload(order_id, None, "2026-11-01T10:00:00-05:00", &lines);
        app.deliver(&Delivery::new("orders/create", shop, &body))
            .await;
    }
    app.drain().await;
}

async fn get(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let url = app.url(&format!(
        "/proxy/recommendations?{}",
        proxy_query_with(shop, customer, now(), API_SECRET, params)
    ));
    let resp = app.client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn ids(body: &Value) -> Vec<i64> {
    body["products"]
        .as_array()
        .unwrap_or_else(|| panic!("no products: {body}"))
        .iter()
        .map(|p| p["product_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn list(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    params: &[(&str, &str)],
) -> Vec<i64> {
    let (status, body) = get(app, shop, customer, params).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    ids(&body)
}

async fn cart(app: &TestApp, shop: &str, customer: Option<i64>, cart: &str) -> Vec<i64> {
    list(
        app,
        shop,
        customer,
        &[("intent", "cart"), ("product_ids", cart), ("limit", "50")],
    )
    .await
}

async fn recent(
    app: &TestApp,
    shop: &str,
    customer: Option<i64>,
    session: &str,
    extra: &[(&str, &str)],
) -> Vec<i64> {
    let mut params = vec![("intent", "recently_viewed"), ("session_id", session)];
    params.extend_from_slice(extra);
    list(app, shop, customer, &params).await
}

async fn event(app: &TestApp, shop: &str, customer: Option<i64>, body: Value) {
    let r = app
        .client
        .post(app.proxy_url("/events", shop, customer))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{body}");
}

async fn view(app: &TestApp, shop: &str, customer: Option<i64>, session: &str, product: i64) {
    event(
        app,
        shop,
        customer,
        json!({"type": "view", "product_id": product.to_string(), "session_id": session}),
    )
    .await;
}

async fn settings(app: &TestApp, body: Value) {
    let r = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&body),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn consent(app: &TestApp, customer: i64, given: bool, interests: &[&str]) {
    let r = app
        .client
        .put(app.proxy_url("/preferences", SHOP, Some(customer)))
        .json(&json!({"interests": interests, "consent": {"personalization": given, "marketing": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// 6 is bought once with 1 and once with 2; 5 three times with 1 alone; 7 once with 2 alone.
const BASKETS: &[&[i64]] = &[
    &[1, 5],
    &[1, 5],
    &[1, 5],
    &[1, 6],
    &[2, 6],
    &[2, 7],
    &[3, 8],
];

#[tokio::test]
async fn cart_complements_rank_by_items_complemented_and_never_show_the_cart() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP, 9).await;
    orders(&app, SHOP, BASKETS).await;

    let got = cart(&app, SHOP, None, "1,2").await;
    // 6 complements both items: first, though 5 is the stronger complement of 1.
    assert_eq!(&got[..3], &[6, 5, 7], "{got:?}");
    assert!(!got.contains(&1) && !got.contains(&2), "{got:?}");
    // Best sellers fill the rest, never the cart.
    assert!(got.contains(&3) && got.contains(&8), "{got:?}");
    let (_, body) = get(
        &app,
        SHOP,
        None,
        &[("intent", "cart"), ("product_ids", "1,2")],
    )
    .await;
    assert_eq!(body["intent"], "cart");
    let scores: Vec<f64> = body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["score"].as_f64().unwrap())
        .collect();
    assert!(scores[..3].windows(2).all(|w| w[0] > w[1]), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // The cart's order and its duplicates (two variants of one product) change nothing.
    assert_eq!(cart(&app, SHOP, None, "2,1,2").await, got);
    assert_eq!(cart(&app, SHOP, None, " 2 , 1 ").await, got);
    // A product complementing the cart is gone once it is in the cart.
    let with_six = cart(&app, SHOP, None, "1,2,6").await;
    assert_eq!(&with_six[..2], &[5, 7], "{with_six:?}");
    assert!(!with_six.contains(&6));

    // Sold out, excluded, or the shop's fee product: never.
    let mut seven = product(7, "", 0);
    seven["updated_at"] = json!("2026-11-02T10:00:00Z");
    app.deliver(&Delivery::new("products/update", SHOP, &seven))
        .await;
    app.drain().await;
    settings(&app, json!({"excluded_everywhere": ["5"]})).await;
    let r = app
        .api_send(
            Method::PUT,
            "/api/personalization/settings",
            SHOP,
            Some(&json!({"fee_variant_id": "801"})),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got = cart(&app, SHOP, None, "1,2,3").await;
    assert_eq!(got[0], 6, "{got:?}");
    for never in [1, 2, 3, 5, 7, 8] {
        assert!(!got.contains(&never), "{never} in {got:?}");
    }

    // Pins of a cart product lead; a pin that is in the cart is not shown; exclusions next to a
    // cart product apply to the cart.
    settings(
        &app,
        json!({"excluded_everywhere": [], "pinned": {"2": ["4", "1"]}, "excluded": {"1": ["6"]}}),
    )
    .await;
    let got = cart(&app, SHOP, None, "1,2").await;
    assert_eq!(got[0], 4, "{got:?}");
    assert_eq!(got[1], 5, "{got:?}");
    assert!(!got.contains(&6) && !got.contains(&1), "{got:?}");

    // Another shop with the same product ids has learned nothing.
    app.install(OTHER).await;
    catalogue(&app, OTHER, 9).await;
    let other = cart(&app, OTHER, None, "1,2").await;
    let newest: Vec<i64> = (3..=9).rev().collect();
    assert_eq!(other, newest, "no orders there: the newest products");
}

#[tokio::test]
async fn an_empty_or_unknown_cart_gets_best_sellers_without_the_cart() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP, 6).await;
    orders(&app, SHOP, &[&[4], &[4], &[4], &[2], &[2], &[6]]).await;
    let trending = list(&app, SHOP, None, &[("intent", "trending"), ("limit", "50")]).await;
    assert_eq!(&trending[..3], &[4, 2, 6], "{trending:?}");
    for empty in ["", "424242", "424242,535353"] {
        assert_eq!(cart(&app, SHOP, None, empty).await, trending, "{empty:?}");
    }
    let (status, body) = get(&app, SHOP, None, &[("intent", "cart")]).await;
    assert_eq!(status, 200, "product_ids may be absent: {body}");
    assert_eq!(ids(&body).len(), 6);
    // Nothing complements 4: best sellers minus the cart.
    let without: Vec<i64> = trending.iter().copied().filter(|p| *p != 4).collect();
    assert_eq!(cart(&app, SHOP, None, "4").await, without);
}

#[tokio::test]
async fn recently_viewed_is_newest_first_each_product_once() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP, 6).await;
    for p in [1, 2, 3, 2] {
        view(&app, SHOP, None, S1, p).await;
    }
    // A widget impression (a view with an intent) and a click are not product views.
    event(
        &app,
        SHOP,
        None,
        json!({"type": "view", "product_id": "5", "session_id": S1, "intent": "related"}),
    )
    .await;
    event(
        &app,
        SHOP,
        None,
        json!({"type": "click", "product_id": "6", "session_id": S1, "intent": "related"}),
    )
    .await;
    assert_eq!(recent(&app, SHOP, None, S1, &[]).await, vec![2, 3, 1]);
    let (_, body) = get(
        &app,
        SHOP,
        None,
        &[("intent", "recently_viewed"), ("session_id", S1)],
    )
    .await;
    assert_eq!(body["intent"], "recently_viewed");
    assert_eq!(body["products"][0]["score"], 1.0);
    assert!(body["products"][1]["score"].as_f64().unwrap() < 1.0);
    assert_eq!(body["products"][0]["handle"], "p-2");
    // Not the product being viewed; at most `limit`.
    assert_eq!(
        recent(&app, SHOP, None, S1, &[("product_id", "3")]).await,
        vec![2, 1]
    );
    assert_eq!(
        recent(&app, SHOP, None, S1, &[("limit", "2")]).await,
        vec![2, 3]
    );
    // Sold out: left out (like every list, it shows what can be bought).
    let mut three = product(3, "", 0);
    three["updated_at"] = json!("2026-11-02T10:00:00Z");
    app.deliver(&Delivery::new("products/update", SHOP, &three))
        .await;
    app.drain().await;
    assert_eq!(recent(&app, SHOP, None, S1, &[]).await, vec![2, 1]);
    // The web pixel's product views land in the same table, with its client id as the session.
    let pixel = json!({"shop": SHOP, "event_id": "ev-1", "client_id": S1, "name": "product_viewed", "product_id": "4"});
    let r = app
        .client
        .post(app.url("/pixel/events"))
        .header("Content-Type", "text/plain;charset=UTF-8")
        .body(pixel.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(recent(&app, SHOP, None, S1, &[]).await, vec![4, 2, 1]);
    // Explain says when.
    let r = app
        .api_get(
            &format!("/api/recommendations/explain?intent=recently_viewed&session_id={S1}"),
            SHOP,
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["intent"], "recently_viewed");
    assert_eq!(body["products"][0]["reasons"][0]["type"], "recently_viewed");
    assert_eq!(body["products"][0]["reasons"][0]["text"], "viewed just now");
}

#[tokio::test]
async fn one_session_never_sees_another_sessions_or_shops_views() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    catalogue(&app, SHOP, 6).await;
    catalogue(&app, OTHER, 6).await;
    view(&app, SHOP, None, S1, 1).await;
    view(&app, SHOP, None, S2, 2).await;
    view(&app, OTHER, None, S1, 3).await;
    assert_eq!(recent(&app, SHOP, None, S1, &[]).await, vec![1]);
    assert_eq!(recent(&app, SHOP, None, S2, &[]).await, vec![2]);
    assert_eq!(recent(&app, OTHER, None, S1, &[]).await, vec![3]);
    // No session, or one too short to be a browser's own (a widget without storage reports
    // "anonymous"): nothing.
    view(&app, SHOP, None, "anonymous", 4).await;
    assert_eq!(
        recent(&app, SHOP, None, "anonymous", &[]).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        list(&app, SHOP, None, &[("intent", "recently_viewed")]).await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn a_logged_in_shoppers_views_need_consent_the_cart_does_not() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let settings =
        json!({"size_categories": [], "interests": [{"key": "outdoor", "label": "Outdoor"}]});
    let r = app
        .api_send(Method::PUT, "/api/preference-center", SHOP, Some(&settings))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    catalogue(&app, SHOP, 8).await;
    let mut tagged = product(7, "outdoor", 5);
    tagged["updated_at"] = json!("2026-11-02T10:00:00Z");
    app.deliver(&Delivery::new("products/update", SHOP, &tagged))
        .await;
    app.drain().await;
    orders(&app, SHOP, BASKETS).await;
    let anna = 4242;
    view(&app, SHOP, Some(anna), S1, 1).await;
    view(&app, SHOP, Some(anna), S1, 2).await;
    // The same browser, before logging in.
    view(&app, SHOP, None, S1, 3).await;

    // No consent recorded: her views are history, not used; the cart works, without her
    // stated interests.
    let anonymous_cart = cart(&app, SHOP, None, "1,2").await;
    assert_eq!(
        recent(&app, SHOP, Some(anna), S1, &[]).await,
        Vec::<i64>::new()
    );
    consent(&app, anna, false, &["outdoor"]).await;
    assert_eq!(
        recent(&app, SHOP, Some(anna), S1, &[]).await,
        Vec::<i64>::new()
    );
    assert_eq!(cart(&app, SHOP, Some(anna), "1,2").await, anonymous_cart);
    // Anonymous with her browser's session: only the anonymous view, never hers.
    assert_eq!(recent(&app, SHOP, None, S1, &[]).await, vec![3]);

    // With consent: her views (and her session's), newest first; her interest lifts 7.
    consent(&app, anna, true, &["outdoor"]).await;
    assert_eq!(recent(&app, SHOP, Some(anna), S1, &[]).await, vec![3, 2, 1]);
    assert_eq!(recent(&app, SHOP, Some(anna), S2, &[]).await, vec![2, 1]);
    let personal = cart(&app, SHOP, Some(anna), "1,2").await;
    assert_eq!(personal[0], 7, "{personal:?}");
    assert!(
        anonymous_cart.iter().position(|p| *p == 7) > Some(0),
        "{anonymous_cart:?}"
    );

    // Withdrawn: at the very next request.
    consent(&app, anna, false, &["outdoor"]).await;
    assert_eq!(
        recent(&app, SHOP, Some(anna), S1, &[]).await,
        Vec::<i64>::new()
    );
    assert_eq!(cart(&app, SHOP, Some(anna), "1,2").await, anonymous_cart);
}

#[tokio::test]
async fn bad_carts_and_sessions_are_400_naming_the_field() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP, 3).await;
    let fifty_one: String = (1..=51)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let fifty_dupes: String = format!(
        "{},1,2",
        (1..=50)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    for (params, field, code) in [
        (
            vec![("intent", "cart"), ("product_ids", "1,abc")],
            "product_ids",
            "invalid_id",
        ),
        (
            vec![("intent", "cart"), ("product_ids", "1,,2")],
            "product_ids",
            "invalid_id",
        ),
        (
            vec![("intent", "cart"), ("product_ids", "-4")],
            "product_ids",
            "invalid_id",
        ),
        (
            vec![("intent", "cart"), ("product_ids", "1.5")],
            "product_ids",
            "invalid_id",
        ),
        (
            vec![("intent", "cart"), ("product_ids", "99999999999999999999")],
            "product_ids",
            "invalid_id",
        ),
        (
            vec![("intent", "cart"), ("product_ids", fifty_one.as_str())],
            "product_ids",
            "too_many",
        ),
        (
            vec![("intent", "recently_viewed"), ("session_id", "a b")],
            "session_id",
            "invalid_session",
        ),
    ] {
        let (status, body) = get(&app, SHOP, None, &params).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{body}"
        );
        assert_eq!(body["errors"][0]["field"], field, "{body}");
        assert_eq!(body["errors"][0]["code"], code, "{body}");
    }
    // 50 distinct products (with duplicates) are fine.
    let (status, _) = get(
        &app,
        SHOP,
        None,
        &[("intent", "cart"), ("product_ids", fifty_dupes.as_str())],
    )
    .await;
    assert_eq!(status, 200);
    // An unknown intent names all six.
    let (status, body) = get(&app, SHOP, None, &[("intent", "upsell")]).await;
    assert_eq!(status, 422);
    let message = body["errors"][0]["message"].as_str().unwrap();
    for i in [
        "related",
        "complementary",
        "for_you",
        "trending",
        "cart",
        "recently_viewed",
    ] {
        assert!(message.contains(i), "{message}");
    }
    // The admin's explain takes the same parameters.
    let r = app
        .api_get(
            "/api/recommendations/explain?intent=cart&product_ids=x",
            SHOP,
        )
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn explain_and_analytics_know_the_new_intents() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    catalogue(&app, SHOP, 9).await;
    orders(&app, SHOP, BASKETS).await;
    let r = app
        .api_get(
            "/api/recommendations/explain?intent=cart&product_ids=1,2",
            SHOP,
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["intent"], "cart");
    let first = &body["products"][0];
    assert_eq!(first["product_id"], "6");
    let reason = &first["reasons"][0];
    assert_eq!(reason["type"], "complements_cart");
    assert_eq!(reason["text"], "complements 2 items in the cart");
    assert_eq!(reason["cart_product_ids"], json!(["1", "2"]));
    assert_eq!(
        body["products"][1]["reasons"][0]["text"],
        "complements 1 item in the cart"
    );

    // Impressions and clicks per intent; an add-to-cart after a click is credited to it.
    for (intent, product) in [("cart", 6), ("cart", 5), ("recently_viewed", 3)] {
        event(&app, SHOP, None, json!({"type": "view", "product_id": product.to_string(), "session_id": S1, "intent": intent})).await;
    }
    event(
        &app,
        SHOP,
        None,
        json!({"type": "click", "product_id": "6", "session_id": S1, "intent": "cart"}),
    )
    .await;
    event(
        &app,
        SHOP,
        None,
        json!({"type": "add_to_cart", "product_id": "6", "session_id": S1}),
    )
    .await;
    event(
        &app,
        SHOP,
        None,
        json!({"type": "click", "product_id": "3", "session_id": S1, "intent": "recently_viewed"}),
    )
    .await;
    let a: Value = app
        .api_get("/api/analytics", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["intents"]["cart"]["impressions"], 2, "{a}");
    assert_eq!(a["intents"]["cart"]["clicks"], 1, "{a}");
    assert_eq!(a["intents"]["cart"]["add_to_carts"], 1, "{a}");
    assert_eq!(a["intents"]["recently_viewed"]["impressions"], 1, "{a}");
    assert_eq!(a["intents"]["recently_viewed"]["clicks"], 1, "{a}");
    assert_eq!(a["intents"]["related"]["clicks"], 0, "{a}");
    let r = app.api_get("/api/analytics/daily?days=7", SHOP).await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["totals"]["cart"]["clicks"], 1, "{d}");
    assert_eq!(d["totals"]["recently_viewed"]["clicks"], 1, "{d}");
}
