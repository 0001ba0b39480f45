//! Personalization: templates in the admin API, fields and `personalize` through the signed
//! app proxy, the `_atelier` signature.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const OTHER: &str = "other-shop.myshopify.com";
const PRODUCT: i64 = 9_007_199_254_740_993; // above 2^53

fn ring_template() -> Value {
    json!({
        "name": "Ring engraving",
        "product_ids": [PRODUCT.to_string(), 42],
        "fields": [
            {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 12, "price_cents": 500, "charset": "latin"},
            {"key": "metal", "label": "Metal", "type": "select", "required": true, "options": [
                {"value": "silver", "label": "Sterling silver"}, {"value": "gold", "label": "Gold", "price_cents": 4000}]},
            {"key": "karat", "label": "Karat", "type": "select", "required": true, "show_if": {"field": "metal", "equals": "gold"},
                "options": [{"value": "14", "label": "14k"}, {"value": "18", "label": "18k", "price_cents": 2500}]},
            {"key": "size", "label": "Size", "type": "number", "required": true, "min": 4, "max": 13, "step": 0.25},
            {"key": "gift", "label": "Gift box", "type": "checkbox", "price_cents": 300}
        ]
    })
}

async fn create(app: &TestApp, shop: &str, body: &Value) -> Value {
    let resp = app
        .api_send(Method::POST, "/api/templates", shop, Some(body))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn templates_are_created_versioned_listed_and_deleted() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let t = create(&app, SHOP, &ring_template()).await;
    assert_eq!(t["version"], 1);
    assert_eq!(t["name"], "Ring engraving");
    assert_eq!(
        t["product_ids"],
        json!(["42", PRODUCT.to_string()]),
        "ids as strings, every digit kept"
    );
    assert_eq!(t["fields"].as_array().unwrap().len(), 5);
    let id = t["id"].as_str().unwrap().to_owned();

    let mut edited = ring_template();
    edited["fields"][0]["max_length"] = json!(20);
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/templates/{id}"),
            SHOP,
            Some(&edited),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v2: Value = resp.json().await.unwrap();
    assert_eq!(v2["version"], 2, "every edit bumps the version");
    assert_eq!(v2["fields"][0]["max_length"], 20);

    let list: Value = app
        .api_get("/api/templates", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);

    // Another shop sees nothing of it.
    app.install(OTHER).await;
    assert_eq!(
        app.api_get(&format!("/api/templates/{id}"), OTHER)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.api_send(
            Method::PUT,
            &format!("/api/templates/{id}"),
            OTHER,
            Some(&edited)
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.api_send(Method::DELETE, &format!("/api/templates/{id}"), OTHER, None)
            .await
            .status(),
        404
    );
    let other_list: Value = app
        .api_get("/api/templates", OTHER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other_list["items"], json!([]));

    assert_eq!(
        app.api_send(Method::DELETE, &format!("/api/templates/{id}"), SHOP, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.api_get(&format!("/api/templates/{id}"), SHOP)
            .await
            .status(),
        404
    );
    // The versions stay for the orders that pinned them.
    assert_eq!(app.table_count("template_versions"), 2);
}

#[tokio::test]
async fn a_template_that_cannot_work_is_refused_naming_each_problem() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let body = json!({
        "name": "",
        "product_ids": ["abc", -4],
        "fields": [
            {"key": "a", "label": "A", "type": "text", "min_length": 9, "max_length": 3},
            {"key": "a", "label": "B", "type": "select", "options": []},
            {"key": "c", "label": "C", "type": "text", "pattern": "(a{1000}){1000}", "show_if": {"field": "zzz", "equals": "1"}}
        ]
    });
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&body))
        .await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "validation_failed");
    let found: Vec<(String, String)> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("name", "invalid_name"),
        ("product_ids[0]", "invalid_id"),
        ("product_ids[1]", "invalid_id"),
        ("fields[0].min_length", "min_above_max"),
        ("fields[1].key", "duplicate_key"),
        ("fields[1].options", "no_options"),
        ("fields[2].pattern", "invalid_pattern"),
        ("fields[2].show_if.field", "unknown_field"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "missing {expected:?} in {found:?}"
        );
    }
    assert_eq!(app.table_count("templates"), 0);

    // A product belongs to one template.
    create(&app, SHOP, &ring_template()).await;
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&ring_template()))
        .await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errors"][0]["code"], "product_taken");
    // Malformed JSON is a 400.
    let resp = app
        .client
        .post(app.url("/api/templates"))
        .bearer_auth(app.session_token(SHOP))
        .header("Content-Type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_storefront_gets_fields_and_a_signed_personalization() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let t = create(&app, SHOP, &ring_template()).await;

    let resp = app
        .client
        .get(app.proxy_url(&format!("/products/{PRODUCT}/fields"), SHOP, None))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let fields: Value = resp.json().await.unwrap();
    assert_eq!(fields["product_id"], PRODUCT.to_string());
    assert_eq!(fields["fields"][0]["key"], "engraving");
    assert_eq!(
        app.client
            .get(app.proxy_url("/products/777/fields", SHOP, None))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let url = app.proxy_url(&format!("/products/{PRODUCT}/personalize"), SHOP, Some(31));
    let resp = app
        .client
        .post(&url)
        .json(&json!({"values": {"engraving": "Zoë & Åsa", "metal": "gold", "karat": "18", "size": "6.75", "gift": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["valid"], true);
    assert_eq!(body["price_cents"], 500 + 4000 + 2500 + 300);
    let props = body["properties"].as_array().unwrap();
    let names: Vec<&str> = props.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Engraving",
            "Metal",
            "Karat",
            "Size",
            "Gift box",
            "_atelier"
        ],
        "field order, signature last"
    );
    assert_eq!(props[1]["value"], "Gold", "options by label");
    assert_eq!(props[4]["value"], "Yes");
    assert_eq!(props[5]["value"], body["signature"]);

    // The signature binds shop, product, the exact values and the price.
    let signed =
        atelier::personalization::signature::parse(body["signature"].as_str().unwrap()).unwrap();
    assert_eq!(signed.template_id, t["id"].as_str().unwrap());
    assert_eq!((signed.version, signed.price_cents), (1, 7300));
    let pairs: Vec<(String, String)> = props[..5]
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let key = &app.state.personalization_key;
    assert!(atelier::personalization::signature::verify(
        key, SHOP, PRODUCT, &signed, &pairs
    ));
    assert!(
        !atelier::personalization::signature::verify(key, OTHER, PRODUCT, &signed, &pairs),
        "replayed onto another shop"
    );
    assert!(
        !atelier::personalization::signature::verify(key, SHOP, 42, &signed, &pairs),
        "replayed onto another product"
    );
}

#[tokio::test]
async fn invalid_values_get_every_error_at_once() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    create(&app, SHOP, &ring_template()).await;
    let url = app.proxy_url(&format!("/products/{PRODUCT}/personalize"), SHOP, None);
    let resp = app
        .client
        .post(&url)
        .json(&json!({"values": {"engraving": "😀", "metal": "gold", "size": 6.1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["valid"], false);
    assert_eq!(body["error"]["code"], "validation_failed");
    let errors: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            ("values.engraving", "charset"),
            ("values.karat", "required"),
            ("values.size", "step")
        ]
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Engraving")
    );

    for bad in [json!({"values": "nope"}), json!({"values": [1, 2]})] {
        let resp = app.client.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 422);
        assert_eq!(resp.json::<Value>().await.unwrap()["valid"], false);
    }
    let resp = app
        .client
        .post(&url)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app
        .client
        .post(&url)
        .json(&json!({"values": {"engraving": "x".repeat(300 * 1024)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413, "proxy bodies are limited to 256 KiB");
}

#[tokio::test]
async fn storefront_requests_must_carry_shopifys_signature() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    create(&app, SHOP, &ring_template()).await;
    let path = format!("/proxy/products/{PRODUCT}/fields");
    let good = proxy_query(SHOP, None, now(), API_SECRET);
    assert_eq!(app.get(&format!("{path}?{good}")).await.status(), 200);

    let cases = [
        (
            "unsigned",
            format!(
                "shop={SHOP}&timestamp={}&path_prefix=/apps/atelier&logged_in_customer_id=",
                now()
            ),
        ),
        (
            "wrong secret",
            proxy_query(SHOP, None, now(), "not-the-secret"),
        ),
        ("stale", proxy_query(SHOP, None, now() - 3600, API_SECRET)),
        (
            "customer swapped",
            proxy_query(SHOP, Some(1), now(), API_SECRET)
                .replace("logged_in_customer_id=1", "logged_in_customer_id=2"),
        ),
        ("shop swapped", good.replace(SHOP, OTHER)),
        ("shop repeated", format!("{good}&shop={OTHER}")),
    ];
    for (case, query) in cases {
        let resp = app.get(&format!("{path}?{query}")).await;
        assert_eq!(resp.status(), 401, "{case}");
        assert!(
            resp.json::<Value>().await.unwrap()["error"]["code"]
                .as_str()
                .is_some()
        );
    }
    // A valid signature for another shop sees that shop's data, never this one's.
    app.install(OTHER).await;
    assert_eq!(
        app.get(&format!(
            "{path}?{}",
            proxy_query(OTHER, None, now(), API_SECRET)
        ))
        .await
        .status(),
        404
    );
    // After uninstall the storefront routes stop answering for the shop.
    app.deliver(&Delivery::new("app/uninstalled", SHOP, &json!({"id": 1})))
        .await;
    app.drain().await;
    assert_eq!(
        app.get(&format!(
            "{path}?{}",
            proxy_query(SHOP, None, now(), API_SECRET)
        ))
        .await
        .status(),
        404
    );
    assert_eq!(
        app.get(&format!(
            "/proxy/products/abc/fields?{}",
            proxy_query(OTHER, None, now(), API_SECRET)
        ))
        .await
        .status(),
        400
    );
}
