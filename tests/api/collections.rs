//! Personalized collection sort: collections synced from their webhooks (products read from the
//! store by a job) and the install's backfill, and `/proxy/collections/{id}/sort` ordering a
//! grid for the shopper: history and stated preferences only with consent, the collection's best
//! sellers otherwise, pins first, sold-out and excluded products last.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "grid-shop.myshopify.com";
const OTHER: &str = "other-grid.myshopify.com";
const COLLECTION: i64 = 500;
const SHOPPER: i64 = 77;

/// A product as `products/create` sends it: one variant per `(size, stock)` (none: one default
/// variant with stock).
fn product(id: i64, kind: &str, tags: &str, sizes: &[(&str, i64)]) -> Value {
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
        "id": id, "title": format!("Product {id}"), "handle": format!("p-{id}"), "vendor": "Acme",
        "product_type": kind, "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": tags,
        "updated_at": "2026-11-01T10:00:00Z", "variants": variants
    })
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

fn collection_webhook(id: i64, handle: &str, title: &str, updated_at: &str) -> Value {
    json!({"id": id, "handle": handle, "title": title, "updated_at": updated_at,
           "body_html": "", "published_at": "2026-10-01T00:00:00Z", "sort_order": "manual",
           "template_suffix": null, "published_scope": "web",
           "admin_graphql_api_id": format!("gid://shopify/Collection/{id}")})
}

/// Runs the collections job until `done` holds (the job also runs by itself every second).
async fn until(app: &TestApp, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        atelier::jobs::collections::sync_due(&app.state)
            .await
            .unwrap();
        if done().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sort_full(
    app: &TestApp,
    shop: &str,
    collection: &str,
    customer: Option<i64>,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let url = app.url(&format!(
        "/proxy/collections/{collection}/sort?{}",
        proxy_query_with(shop, customer, now(), API_SECRET, params)
    ));
    let resp = app.client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
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

/// The sorted product ids and whether the answer was personalized.
async fn sorted(app: &TestApp, customer: Option<i64>, params: &[(&str, &str)]) -> (Vec<i64>, bool) {
    let (status, body) = sort_full(app, SHOP, &COLLECTION.to_string(), customer, params).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["collection_id"], json!(COLLECTION.to_string()));
    (ids(&body), body["personalized"].as_bool().unwrap())
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

/// Seven products (6 sold out; 7 apparel in S and L; 3 tagged `outdoor`) in collection 500,
/// and orders that make the best sellers 4 (6 orders), 7 (5), 1 (4), 2 (3), 3 (2). The shopper
/// bought 1; the three other buyers of 1 also bought 2.
async fn seed(app: &TestApp) {
    app.install(SHOP).await;
    let resp = app
        .api_send(
            Method::PUT,
            "/api/preference-center",
            SHOP,
            Some(&json!({
                "size_categories": [{"key": "tops", "label": "Tops", "sizes": ["S", "M", "L"]}],
                "interests": [{"key": "outdoor", "label": "Outdoor"}],
            })),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let products = [
        product(1, "Candles", "", &[]),
        product(2, "Candles", "", &[]),
        product(3, "Candles", "outdoor", &[]),
        product(4, "Candles", "", &[]),
        product(5, "Candles", "", &[]),
        product(6, "Candles", "", &[("Default", 0)]),
        product(7, "Tops", "", &[("S", 5), ("M", 0), ("L", 5)]),
    ];
    for p in &products {
        app.deliver(&Delivery::new("products/create", SHOP, p))
            .await;
    }
    let mut next = 1000;
    let mut buy = async |customer: Option<i64>, basket: &[i64]| {
        next += 1;
        order(app, SHOP, next, customer, basket).await;
    };
    for c in [901, 902, 903] {
        buy(Some(c), &[1, 2]).await;
    }
    buy(Some(SHOPPER), &[1]).await;
    for _ in 0..6 {
        buy(None, &[4]).await;
    }
    for _ in 0..5 {
        buy(None, &[7]).await;
    }
    for _ in 0..2 {
        buy(None, &[3]).await;
    }
    app.store.set_collections(vec![gql_collection(
        COLLECTION,
        "candles",
        &[1, 2, 3, 4, 5, 6, 7],
    )]);
    app.deliver(&Delivery::new(
        "collections/create",
        SHOP,
        &collection_webhook(COLLECTION, "candles", "Candles", "2026-11-01T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    until(app, "collection synced", async || {
        sorted(app, None, &[]).await.0.len() == 7
    })
    .await;
}

/// The order without the shopper: best sellers of the collection, sold-out last.
const FALLBACK: [i64; 7] = [4, 7, 1, 2, 3, 5, 6];

#[tokio::test]
async fn webhooks_sync_collections_and_the_job_reads_their_products_from_the_store() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for id in 1..=5 {
        app.deliver(&Delivery::new(
            "products/create",
            SHOP,
            &product(id, "Candles", "", &[]),
        ))
        .await;
    }
    // Three products: two pages of the store's answer (the fake store pages by two).
    app.store
        .set_collections(vec![gql_collection(COLLECTION, "candles", &[3, 1, 2])]);
    app.deliver(&Delivery::new(
        "collections/create",
        SHOP,
        &collection_webhook(COLLECTION, "candles", "Candles", "2026-11-01T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    until(&app, "created collection read", async || {
        sort_full(&app, SHOP, "500", None, &[]).await.0 == 200
            && sorted(&app, None, &[]).await.0.len() == 3
    })
    .await;
    let (got, personalized) = sorted(&app, None, &[]).await;
    assert!(!personalized);
    // Nothing sold yet: the collection's own order.
    assert_eq!(got, [3, 1, 2]);
    assert!(app.store.collection_reads() >= 2, "paginated");

    // An update (the merchant changed the products): read again.
    app.store
        .set_collections(vec![gql_collection(COLLECTION, "candles", &[4, 5, 1])]);
    app.deliver(&Delivery::new(
        "collections/update",
        SHOP,
        &collection_webhook(COLLECTION, "candles", "Candles!", "2026-11-02T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    until(&app, "updated collection read", async || {
        sorted(&app, None, &[]).await.0 == [4, 5, 1]
    })
    .await;

    // A deleted product leaves the grid at once.
    app.deliver(&Delivery::new("products/delete", SHOP, &json!({"id": 5})))
        .await;
    app.drain().await;
    assert_eq!(sorted(&app, None, &[]).await.0, [4, 1]);

    // Deleted: unknown from then on, and a late copy of an older update does not revive it.
    app.deliver(&Delivery::new(
        "collections/delete",
        SHOP,
        &json!({"id": COLLECTION, "published_scope": "web", "admin_graphql_api_id": "gid://shopify/Collection/500"}),
    ))
    .await;
    app.drain().await;
    let (status, body) = sort_full(&app, SHOP, "500", None, &[]).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    app.deliver(&Delivery::new(
        "collections/update",
        SHOP,
        &collection_webhook(COLLECTION, "candles", "Candles", "2026-11-01T12:00:00Z"),
    ))
    .await;
    app.drain().await;
    atelier::jobs::collections::sync_due(&app.state)
        .await
        .unwrap();
    assert_eq!(sort_full(&app, SHOP, "500", None, &[]).await.0, 404);
    assert_eq!(app.table_count("collection_products"), 0);

    // A collection the store no longer has (deleted before its products were read) is gone.
    app.store.set_collections(vec![]);
    app.deliver(&Delivery::new(
        "collections/create",
        SHOP,
        &collection_webhook(501, "gone", "Gone", "2026-11-03T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    until(&app, "vanished collection settled", async || {
        sort_full(&app, SHOP, "501", None, &[]).await.0 == 404
    })
    .await;
}

#[tokio::test]
async fn the_install_backfill_brings_the_collections_with_their_products() {
    let app = spawn_app().await;
    let products: Vec<Value> = (1..=4)
        .map(|id| {
            json!({
                "id": format!("gid://shopify/Product/{id}"), "title": format!("Product {id}"), "handle": format!("p-{id}"),
                "productType": "Candles", "vendor": "Acme", "tags": [], "status": "ACTIVE",
                "publishedAt": "2026-10-01T00:00:00Z", "updatedAt": "2026-10-01T00:00:00Z",
                "variants": {"nodes": [{"id": format!("gid://shopify/ProductVariant/{}", id * 100 + 1), "title": "Default", "sku": null, "price": "20.00", "position": 1, "inventoryQuantity": 4, "inventoryPolicy": "DENY", "selectedOptions": [{"name": "Title", "value": "Default"}]}]}
            })
        })
        .collect();
    app.store.set_backfill(products, vec![]);
    // Three collections: two pages of the backfill's collections query.
    app.store.set_collections(vec![
        gql_collection(COLLECTION, "candles", &[2, 1]),
        gql_collection(501, "mugs", &[3]),
        gql_collection(502, "empty", &[]),
        // More than the backfill's first 100: the job reads the rest (60 pages of 2 here).
        gql_collection(503, "big", &(1..=120).collect::<Vec<_>>()),
    ]);
    app.install(SHOP).await;
    until(&app, "backfill done", async || {
        sort_full(&app, SHOP, "502", None, &[]).await.0 == 200
    })
    .await;
    assert_eq!(sorted(&app, None, &[]).await.0, [2, 1]);
    let (status, body) = sort_full(&app, SHOP, "501", None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), [3]);
    assert_eq!(body["products"][0]["handle"], "p-3");
    until(&app, "the long collection read whole", async || {
        let (_, body) = sort_full(&app, SHOP, "503", None, &[]).await;
        body["products"].as_array().is_some_and(|a| a.len() == 120)
    })
    .await;
    assert_eq!(
        app.store.collection_reads(),
        60,
        "only the long collection is read again"
    );
}

#[tokio::test]
async fn the_grid_follows_the_shoppers_history_and_preferences_with_consent_only() {
    let app = spawn_app().await;
    seed(&app).await;
    // No consent given: the collection's best sellers, as for anyone.
    assert_eq!(
        sorted(&app, Some(SHOPPER), &[]).await,
        (FALLBACK.to_vec(), false)
    );
    assert_eq!(sorted(&app, None, &[]).await, (FALLBACK.to_vec(), false));
    put_preferences(
        &app,
        SHOPPER,
        &json!({"consent": {"personalization": true, "marketing": false}}),
    )
    .await;
    // With consent: 2, bought by the other buyers of what they bought, leads; the rest keep
    // the best-seller order (1, which they own, gets no lift).
    assert_eq!(
        sorted(&app, Some(SHOPPER), &[]).await,
        (vec![2, 4, 7, 1, 3, 5, 6], true)
    );
    // A stated interest lifts 3 above everything; a stated size puts the tops they cannot get
    // in M after every product that fits (sold-out still last).
    put_preferences(
        &app,
        SHOPPER,
        &json!({"sizes": {"tops": "M"}, "interests": ["outdoor"]}),
    )
    .await;
    assert_eq!(
        sorted(&app, Some(SHOPPER), &[]).await,
        (vec![3, 2, 4, 1, 5, 7, 6], true)
    );
    // Withdrawn: the next answer is the anonymous one again.
    put_preferences(
        &app,
        SHOPPER,
        &json!({"consent": {"personalization": false, "marketing": false}}),
    )
    .await;
    assert_eq!(
        sorted(&app, Some(SHOPPER), &[]).await,
        (FALLBACK.to_vec(), false)
    );
    let (_, body) = sort_full(&app, SHOP, "500", Some(SHOPPER), &[]).await;
    let first = &body["products"][0];
    assert_eq!(first["handle"], "p-4");
    assert_eq!(first["score"], json!(1.0));
}

#[tokio::test]
async fn an_anonymous_session_is_personalized_by_its_own_views_only() {
    let app = spawn_app().await;
    seed(&app).await;
    let view = |session: &'static str, customer: Option<i64>| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.proxy_url("/events", SHOP, customer))
                .json(&json!({"type": "view", "product_id": "2", "session_id": session}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204);
        }
    };
    view("anon-1", None).await;
    view("known-1", Some(SHOPPER)).await;
    let (_, personalized) = sorted(&app, None, &[("session_id", "anon-1")]).await;
    assert!(personalized);
    // A session a logged-in customer used is not theirs to read anonymously.
    assert_eq!(
        sorted(&app, None, &[("session_id", "known-1")]).await,
        (FALLBACK.to_vec(), false)
    );
    assert_eq!(
        sorted(&app, None, &[("session_id", "never-seen")]).await,
        (FALLBACK.to_vec(), false)
    );
}

#[tokio::test]
async fn pins_come_first_in_their_order_and_products_excluded_everywhere_last() {
    let app = spawn_app().await;
    seed(&app).await;
    let body = json!({"collection_pins": {"500": ["5", 6, "3"]}, "excluded_everywhere": [4]});
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
        json!({"pinned": {}, "excluded": {}, "excluded_everywhere": ["4"], "collection_pins": {"500": ["5", "6", "3"]}})
    );
    let got: Value = app
        .api_get("/api/recommendations/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, saved);
    // 6 is pinned but sold out: with the sold-out products. 4 stays in the grid, last.
    assert_eq!(sorted(&app, None, &[]).await.0, [5, 3, 7, 1, 2, 6, 4]);
    put_preferences(
        &app,
        SHOPPER,
        &json!({"consent": {"personalization": true, "marketing": false}, "interests": ["outdoor"]}),
    )
    .await;
    assert_eq!(
        sorted(&app, Some(SHOPPER), &[]).await.0[..2],
        [5, 3],
        "pins lead personalized answers too"
    );
    // Other members are untouched by a PUT that does not name them.
    let resp = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&json!({"collection_pins": {"500": []}})),
        )
        .await;
    let saved: Value = resp.json().await.unwrap();
    assert_eq!(saved["collection_pins"], json!({}));
    assert_eq!(saved["excluded_everywhere"], json!(["4"]));

    let resp = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&json!({"collection_pins": {"x": [1], "500": ["a", 1, 1], "501": "3"}})),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "collection_pins.x",
        "collection_pins.500[0]",
        "collection_pins.500[2]",
        "collection_pins.501",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let resp = app
        .api_send(
            Method::PUT,
            "/api/recommendations/settings",
            SHOP,
            Some(&json!({"collection_pins": [1]})),
        )
        .await;
    assert_eq!(resp.status(), 422);
}

#[tokio::test]
async fn a_page_of_the_grid_is_ranked_alone_and_bad_input_is_refused() {
    let app = spawn_app().await;
    seed(&app).await;
    // The page's products only (an id not in the collection is left out).
    assert_eq!(
        sorted(&app, None, &[("product_ids", "6,3,1,999")]).await.0,
        [1, 3, 6]
    );
    let many = (1..=251)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    for (collection, params) in [
        ("abc", vec![]),
        ("0", vec![]),
        ("-3", vec![]),
        ("500", vec![("product_ids", "1,x")]),
        ("500", vec![("product_ids", "1,,2")]),
        ("500", vec![("product_ids", many.as_str())]),
        ("500", vec![("session_id", "not a session!")]),
    ] {
        let (status, body) = sort_full(&app, SHOP, collection, None, &params).await;
        assert_eq!(status, 400, "{collection} {params:?}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (status, body) = sort_full(&app, SHOP, "999", None, &[]).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    // Another shop's collection does not exist for this one, nor this one's for it.
    app.install(OTHER).await;
    app.store
        .set_collections(vec![gql_collection(777, "theirs", &[1])]);
    app.deliver(&Delivery::new(
        "collections/create",
        OTHER,
        &collection_webhook(777, "theirs", "Theirs", "2026-11-01T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    until(&app, "other shop's collection", async || {
        sort_full(&app, OTHER, "777", None, &[]).await.0 == 200
    })
    .await;
    assert_eq!(sort_full(&app, SHOP, "777", None, &[]).await.0, 404);
    assert_eq!(sort_full(&app, OTHER, "500", None, &[]).await.0, 404);

    // Unsigned: refused like every storefront route.
    let resp = app
        .client
        .get(app.url("/proxy/collections/500/sort?shop=grid-shop.myshopify.com"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
}

#[tokio::test]
async fn uninstalling_stops_reading_the_store_and_shop_redact_erases_the_collections() {
    let app = spawn_app().await;
    seed(&app).await;
    assert!(app.table_count("collections") > 0);
    app.deliver(&Delivery::new("app/uninstalled", SHOP, &json!({"id": 1})))
        .await;
    app.drain().await;
    let reads = app.store.collection_reads();
    app.deliver(&Delivery::new(
        "collections/update",
        SHOP,
        &collection_webhook(COLLECTION, "candles", "Candles", "2026-11-05T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    atelier::jobs::collections::sync_due(&app.state)
        .await
        .unwrap();
    assert_eq!(
        app.store.collection_reads(),
        reads,
        "no token, no store call"
    );
    app.deliver(&Delivery::new(
        "shop/redact",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP}),
    ))
    .await;
    app.drain().await;
    assert_eq!(app.table_count("collections"), 0);
    assert_eq!(app.table_count("collection_products"), 0);
}
