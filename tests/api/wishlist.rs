//! Wishlists: `/proxy/wishlist` for the logged-in shopper (list, add, remove, merge of the
//! browser's anonymous list), bounds, per-shop isolation, hostile input, `for_you`, the
//! merchant's most-wished list, export and redaction.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "wish-shop.myshopify.com";
const OTHER: &str = "other-wish.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123; // above 2^53
const BEN: i64 = 7_720_000_000_000_456;

fn product(id: i64, title: &str) -> Value {
    json!({
        "id": id, "title": title, "handle": format!("p-{id}"), "vendor": "Acme",
        "product_type": "Candles", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "",
        "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": id * 100 + 1, "title": "Default", "price": "20.00", "inventory_quantity": 5, "inventory_policy": "deny", "position": 1}]
    })
}

async fn add_products(app: &TestApp, shop: &str, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        app.deliver(&Delivery::new(
            "products/create",
            shop,
            &product(id, &format!("Product {id}")),
        ))
        .await;
    }
    app.drain().await;
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    shop: &str,
    customer: Option<i64>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, app.proxy_url(path, shop, customer));
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn list(app: &TestApp, shop: &str, customer: i64) -> Vec<Value> {
    let (status, body) = send(app, Method::GET, "/wishlist", shop, Some(customer), None).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["product_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn add(app: &TestApp, shop: &str, customer: i64, product: Value) -> (u16, Value) {
    send(
        app,
        Method::POST,
        "/wishlist",
        shop,
        Some(customer),
        Some(&json!({ "product_id": product })),
    )
    .await
}

fn codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_shopper_adds_lists_and_removes_products_and_anonymous_visitors_get_a_clear_401() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, [1, 2, 3]).await;

    assert!(list(&app, SHOP, ANNA).await.is_empty());
    let (status, body) = add(&app, SHOP, ANNA, json!(2)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["items"][0]["product_id"], "2");
    assert_eq!(body["items"][0]["title"], "Product 2");
    assert_eq!(body["items"][0]["handle"], "p-2");
    assert_eq!(body["items"][0]["price_cents"], 2000);
    assert_eq!(body["items"][0]["available"], true);
    assert!(
        body["items"][0]["added_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    // A string id (as browsers keep them) works, and the newest comes first.
    let (status, _) = add(&app, SHOP, ANNA, json!("gid://shopify/Product/3")).await;
    assert_eq!(status, 201);
    assert_eq!(ids(&list(&app, SHOP, ANNA).await), ["3", "2"]);
    // Adding again changes nothing.
    let (status, body) = add(&app, SHOP, ANNA, json!("2")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&list(&app, SHOP, ANNA).await), ["3", "2"]);

    // A product the store does not have is refused.
    let (status, body) = add(&app, SHOP, ANNA, json!(99)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        codes(&body),
        [("product_id".into(), "unknown_product".into())]
    );

    // Removing: 204, also when already gone.
    for _ in 0..2 {
        let (status, _) = send(&app, Method::DELETE, "/wishlist/3", SHOP, Some(ANNA), None).await;
        assert_eq!(status, 204);
    }
    assert_eq!(ids(&list(&app, SHOP, ANNA).await), ["2"]);
    assert!(
        list(&app, SHOP, BEN).await.is_empty(),
        "Ben's list is his own"
    );

    // A product deleted from the store stays listed, unavailable, without its details.
    app.deliver(&Delivery::new("products/delete", SHOP, &json!({"id": 2})))
        .await;
    app.drain().await;
    let items = list(&app, SHOP, ANNA).await;
    assert_eq!(items[0]["product_id"], "2");
    assert_eq!(items[0]["available"], false);
    assert_eq!(items[0]["title"], Value::Null);

    // Anonymous: a JSON error the storefront can act on (keep the list in the browser).
    for (method, path, body) in [
        (Method::GET, "/wishlist", None),
        (Method::POST, "/wishlist", Some(json!({"product_id": 1}))),
        (Method::DELETE, "/wishlist/1", None),
        (
            Method::POST,
            "/wishlist/merge",
            Some(json!({"product_ids": [1]})),
        ),
    ] {
        let (status, body) = send(&app, method.clone(), path, SHOP, None, body.as_ref()).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_logged_in");
    }
    // Unsigned or forged: 401 before anything else.
    let resp = app
        .client
        .get(app.url(&format!(
            "/proxy/wishlist?shop={SHOP}&logged_in_customer_id={ANNA}&timestamp={}&signature=00",
            now()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_signature");
}

#[tokio::test]
async fn shops_never_see_each_others_wishlists_or_products() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    add_products(&app, SHOP, [1]).await;
    add_products(&app, OTHER, [2]).await;
    assert_eq!(add(&app, SHOP, ANNA, json!(1)).await.0, 201);
    // The same customer id in another shop: another list; the first shop's product is unknown.
    assert!(list(&app, OTHER, ANNA).await.is_empty());
    assert_eq!(add(&app, OTHER, ANNA, json!(1)).await.0, 422);
    assert_eq!(add(&app, SHOP, ANNA, json!(2)).await.0, 422);
    let (status, _) = send(&app, Method::DELETE, "/wishlist/1", OTHER, Some(ANNA), None).await;
    assert_eq!(status, 204);
    assert_eq!(ids(&list(&app, SHOP, ANNA).await), ["1"], "untouched");
    let resp = app.api_get("/api/wishlists/most-wished", OTHER).await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn the_browsers_anonymous_list_is_merged_on_login_and_lists_are_bounded() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, 1..=108).await;
    assert_eq!(add(&app, SHOP, ANNA, json!(5)).await.0, 201);

    // The browser's list, oldest first: known products are added in its order, the one already
    // listed stays, an unknown one is named, duplicates count once.
    let (status, body) = send(
        &app,
        Method::POST,
        "/wishlist/merge",
        SHOP,
        Some(ANNA),
        Some(&json!({"product_ids": ["7", 5, 8, 404, "7"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(body["items"].as_array().unwrap()), ["8", "7", "5"]);
    assert_eq!(
        body["skipped"],
        json!([{"product_id": "404", "reason": "unknown_product"}])
    );
    assert_eq!(body["max_items"], 100);

    // Filling up: at most 100 products per customer.
    let rest: Vec<i64> = (9..=108).collect();
    let (status, body) = send(
        &app,
        Method::POST,
        "/wishlist/merge",
        SHOP,
        Some(ANNA),
        Some(&json!({ "product_ids": rest })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 100);
    let skipped: Vec<&str> = body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["reason"], "wishlist_full");
            s["product_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(skipped, ["106", "107", "108"]);
    let (status, body) = add(&app, SHOP, ANNA, json!(1)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(codes(&body), [("".into(), "wishlist_full".into())]);
    // Removing one makes room again.
    let (status, _) = send(&app, Method::DELETE, "/wishlist/50", SHOP, Some(ANNA), None).await;
    assert_eq!(status, 204);
    assert_eq!(add(&app, SHOP, ANNA, json!(1)).await.0, 201);
}

#[tokio::test]
async fn hostile_input_is_a_4xx_with_the_error_json() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, [1]).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"product_id": "1\u{0}"}), "product_id"),
        (json!({"product_id": "\u{0}"}), "product_id"),
        (json!({"product_id": -1}), "product_id"),
        (json!({"product_id": 0}), "product_id"),
        (json!({"product_id": 1.5}), "product_id"),
        (
            json!({"product_id": "99999999999999999999999"}),
            "product_id",
        ),
        (json!({"product_id": [1]}), "product_id"),
        (json!({}), "product_id"),
        (json!({"product_id": 1, "customer_id": BEN}), "customer_id"),
        (json!([1]), ""),
    ];
    for (body, field) in cases {
        let (status, answer) = send(
            &app,
            Method::POST,
            "/wishlist",
            SHOP,
            Some(ANNA),
            Some(&body),
        )
        .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(
            codes(&answer).iter().any(|(f, _)| f == field),
            "{body}: {answer}"
        );
        assert!(answer["error"]["message"].is_string());
    }
    let merges: Vec<(Value, &str)> = vec![
        (json!({"product_ids": ["1", "x\u{0}"]}), "product_ids[1]"),
        (json!({"product_ids": "1"}), "product_ids"),
        (
            json!({"product_ids": (1..=101).collect::<Vec<i64>>()}),
            "product_ids",
        ),
        (json!({"product_ids": [1], "extra": true}), "extra"),
    ];
    for (body, field) in merges {
        let (status, answer) = send(
            &app,
            Method::POST,
            "/wishlist/merge",
            SHOP,
            Some(ANNA),
            Some(&body),
        )
        .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert!(
            codes(&answer).iter().any(|(f, _)| f == field),
            "{body}: {answer}"
        );
    }
    // Not JSON at all: 400, never a 5xx.
    let resp = app
        .client
        .post(app.proxy_url("/wishlist", SHOP, Some(ANNA)))
        .header("Content-Type", "application/json")
        .body("{\"product_id\": \"1\0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
    // Bad path ids.
    for path in [
        "/wishlist/abc",
        "/wishlist/-3",
        "/wishlist/0",
        "/wishlist/99999999999999999999",
    ] {
        let (status, body) = send(&app, Method::DELETE, path, SHOP, Some(ANNA), None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_product_id");
    }
    // A NUL in the path is refused before any route sees it.
    let (status, body) = send(
        &app,
        Method::DELETE,
        "/wishlist/1%00",
        SHOP,
        Some(ANNA),
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["code"].is_string());
    assert!(list(&app, SHOP, ANNA).await.is_empty(), "nothing stored");
}

async fn recs(app: &TestApp, customer: Option<i64>) -> Vec<i64> {
    let resp = app
        .client
        .get(app.url(&format!(
            "/proxy/recommendations?{}",
            proxy_query_with(SHOP, customer, now(), API_SECRET, &[("intent", "for_you")])
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn consent(app: &TestApp, customer: i64, personalization: bool) {
    let (status, body) = send(
        app,
        Method::PUT,
        "/preferences",
        SHOP,
        Some(customer),
        Some(&json!({"consent": {"personalization": personalization, "marketing": false}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn wishlisted_products_lead_for_you_only_with_consent() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, 1..=6).await;
    // 1 and 5 are bought together; 3 and 4 are the best sellers.
    for (id, basket) in [
        (1, vec![1, 5]),
        (2, vec![1, 5]),
        (3, vec![1, 5]),
        (4, vec![3, 4]),
        (5, vec![3, 4]),
        (6, vec![3, 4]),
        (7, vec![3, 4]),
    ] {
        let lines: Vec<(i64, i64, i64, &str)> = basket
            .iter()
            .enumerate()
            .map(|(i, p)| (id * 100 + i as i64, *p, 1, "20.00"))
            .collect();
        app.deliver(&Delivery::new(
            "orders/create",
            SHOP,
            &order_payload(id, None, "2026-11-01T10:00:00-05:00", &lines),
        ))
        .await;
    }
    app.drain().await;
    assert_eq!(add(&app, SHOP, ANNA, json!(1)).await.0, 201);

    // Without consent: exactly the anonymous list, the wishlist is not used.
    let anonymous = recs(&app, None).await;
    assert_eq!(recs(&app, Some(ANNA)).await, anonymous);
    assert_ne!(anonymous[0], 5);

    consent(&app, ANNA, true).await;
    let personal = recs(&app, Some(ANNA)).await;
    assert_eq!(
        personal[0], 5,
        "wished 1, so 5 (bought with 1) leads: {personal:?}"
    );
    consent(&app, ANNA, false).await;
    assert_eq!(recs(&app, Some(ANNA)).await, anonymous, "withdrawn at once");
}

#[tokio::test]
async fn the_merchant_sees_the_most_wished_products() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, [1, 2, 3]).await;
    for (customer, products) in [(ANNA, vec![1, 2]), (BEN, vec![2]), (31, vec![2, 3])] {
        for p in products {
            assert_eq!(add(&app, SHOP, customer, json!(p)).await.0, 201);
        }
    }
    let resp = app.api_get("/api/wishlists/most-wished", SHOP).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let rows: Vec<(String, i64)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["product_id"].as_str().unwrap().to_owned(),
                r["wishers"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("2".into(), 3), ("1".into(), 1), ("3".into(), 1)]);
    assert_eq!(body["items"][0]["title"], "Product 2");
    assert_eq!(body["next_cursor"], Value::Null);
    assert!(
        !body.to_string().contains(&ANNA.to_string()),
        "counts only, no customers"
    );
    let resp = app
        .api_get("/api/wishlists/most-wished?limit=1", SHOP)
        .await;
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.api_get("/api/wishlists/most-wished?limit=0", SHOP)
            .await
            .status(),
        422
    );
    let resp = app
        .client
        .get(app.url("/api/wishlists/most-wished"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn the_wishlist_is_exported_and_erased_with_the_customer() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    add_products(&app, SHOP, [1, 2]).await;
    assert_eq!(add(&app, SHOP, ANNA, json!(1)).await.0, 201);
    assert_eq!(add(&app, SHOP, ANNA, json!(2)).await.0, 201);
    assert_eq!(add(&app, SHOP, BEN, json!(2)).await.0, 201);

    app.deliver(&Delivery::new(
        "customers/data_request",
        SHOP,
        &json!({
            "shop_id": 1, "shop_domain": SHOP, "orders_requested": [],
            "customer": {"id": ANNA}, "data_request": {"id": 77}
        }),
    ))
    .await;
    app.drain().await;
    let list_resp: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let export = &list_resp["items"][0]["export"];
    let wished: Vec<&str> = export["wishlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(wished, ["2", "1"]);
    assert!(!export.to_string().contains(&BEN.to_string()));

    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": ANNA}, "orders_to_redact": []}),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
    assert!(list(&app, SHOP, ANNA).await.is_empty());
    assert_eq!(ids(&list(&app, SHOP, BEN).await), ["2"], "Ben keeps his");
}
