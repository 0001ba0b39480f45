//! Charging the add-on at checkout: the cart transform made at install (once, across
//! reinstalls), the products' price tables written as app-owned metafields when a template is
//! saved, what happens when the store refuses or fails, and that the server's prices are the
//! Cart Transform function's for the same cases.

use atelier_pricing::transform;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "engrave-co.myshopify.com";
const NS: &str = "$app:atelier";
const FEE: i64 = 8_900_000_001;

fn template(products: &[i64]) -> Value {
    json!({
        "name": "Ring engraving",
        "product_ids": products.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "fields": [
            {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "price_cents": 500},
            {"key": "font", "label": "Font", "type": "select", "options": [
                {"value": "serif", "label": "Serif"}, {"value": "script", "label": "Script", "price_cents": 250}]},
            {"key": "gift", "label": "Gift box", "type": "checkbox", "price_cents": 300}
        ]
    })
}

async fn fast_app() -> TestApp {
    spawn_app_with(|vars| {
        vars.insert("ATELIER_PRICE_SYNC_POLL_MS".into(), "50".into());
        vars.insert("ATELIER_PRICE_SYNC_BACKOFF_MS".into(), "100".into());
    })
    .await
}

async fn set_fee(app: &TestApp) {
    let resp = app
        .api_send(
            Method::PUT,
            "/api/personalization/settings",
            SHOP,
            Some(&json!({"fee_variant_id": FEE.to_string()})),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

async fn create(app: &TestApp, body: &Value) -> Value {
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(body))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn status(app: &TestApp) -> Value {
    let resp = app.api_get("/api/checkout", SHOP).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The product's price table as the store holds it, once it satisfies `done`.
async fn table_when(app: &TestApp, product: i64, done: impl Fn(&Value) -> bool) -> Value {
    let owner = format!("gid://shopify/Product/{product}");
    for _ in 0..200 {
        if let Some((kind, value)) = app.store.metafield(&owner, NS, "prices") {
            assert_eq!(kind, "json");
            let v: Value = serde_json::from_str(&value).unwrap();
            if done(&v) {
                return v;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "no such table for {owner}: {:?}",
        app.store.metafield(&owner, NS, "prices")
    );
}

#[tokio::test]
async fn install_creates_exactly_one_cart_transform_across_reinstalls() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let made = app.store.cart_transforms();
    assert_eq!(
        made,
        vec![(
            "gid://shopify/CartTransform/1".to_owned(),
            "atelier-cart-transform".to_owned()
        )]
    );
    let s = status(&app).await;
    assert_eq!(s["cart_transform"]["active"], true);
    assert_eq!(s["cart_transform"]["id"], "gid://shopify/CartTransform/1");

    // The same install again (a reopened grant screen), then an uninstall and a reinstall: the
    // existing cart transform is found and kept.
    app.install(SHOP).await;
    app.deliver(&Delivery::new("app/uninstalled", SHOP, &json!({"id": 1})))
        .await;
    app.drain().await;
    app.install(SHOP).await;
    assert_eq!(app.store.cart_transforms().len(), 1, "never a second one");
    let creates = app
        .store
        .requests()
        .iter()
        .filter(|r| {
            r.body["query"]
                .as_str()
                .is_some_and(|q| q.contains("cartTransformCreate("))
        })
        .count();
    assert_eq!(creates, 1, "looked up before creating");
    assert_eq!(status(&app).await["cart_transform"]["active"], true);
}

#[tokio::test]
async fn a_store_without_the_function_still_installs_and_the_retry_creates_it() {
    let app = spawn_app().await;
    app.store.set_function_deployed(false);
    app.install(SHOP).await;
    assert!(app.shop_row(SHOP).unwrap().installed, "the install stands");
    assert!(app.store.cart_transforms().is_empty());
    let s = status(&app).await;
    assert_eq!(s["cart_transform"]["active"], false);
    assert_eq!(s["cart_transform"]["attempts"], 1);
    let error = s["cart_transform"]["last_error"].as_str().unwrap();
    assert!(error.contains("FUNCTION_NOT_FOUND"), "{error}");
    assert!(!error.contains(STORE_TOKEN), "no secret in the checklist");

    // The merchant deploys the function (`shopify app deploy`) and presses retry.
    app.store.set_function_deployed(true);
    let resp = app
        .api_send(Method::POST, "/api/checkout/retry", SHOP, None)
        .await;
    assert_eq!(resp.status(), 200);
    let s: Value = resp.json().await.unwrap();
    assert_eq!(s["cart_transform"]["active"], true);
    assert_eq!(s["cart_transform"]["last_error"], Value::Null);
    assert_eq!(app.store.cart_transforms().len(), 1);
}

#[tokio::test]
async fn saving_a_template_writes_each_products_price_table() {
    let app = fast_app().await;
    app.install(SHOP).await;
    set_fee(&app).await;
    let t = create(&app, &template(&[42, 43])).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let expected = json!({"v": 1, "digits": 2, "fee_variant": format!("gid://shopify/ProductVariant/{FEE}"),
        "versions": [{"template": id, "version": 1,
            // Engraving is required (5.00); the font adds 0 or 2.50, the gift box 0 or 3.00.
            "amounts": [500, 750, 800, 1050]}]});
    for product in [42, 43] {
        assert_eq!(table_when(&app, product, |_| true).await, expected);
    }

    // An edit publishes version 2 (the gift box now 4.00) and moves the template off 43: 42
    // lists the new version first and keeps the old one for carts made before; 43 gets an empty
    // table, which the function reads as nothing to charge.
    let mut edited = template(&[42]);
    edited["fields"][2]["price_cents"] = json!(400);
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/templates/{id}"),
            SHOP,
            Some(&edited),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v = table_when(&app, 42, |v| v["versions"].as_array().unwrap().len() == 2).await;
    assert_eq!(v["versions"][0]["version"], 2);
    assert_eq!(v["versions"][0]["amounts"], json!([500, 750, 900, 1150]));
    assert_eq!(v["versions"][1]["version"], 1);
    let empty = table_when(&app, 43, |v| v["versions"] == json!([])).await;
    assert_eq!(empty["fee_variant"], "");
    let mut s = Value::Null;
    for _ in 0..100 {
        s = status(&app).await;
        if s["products"]["synced"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        s["products"],
        json!({"synced": 2, "pending": 0, "failing": 0})
    );

    // Deleting the template empties 42's table too.
    let resp = app
        .api_send(Method::DELETE, &format!("/api/templates/{id}"), SHOP, None)
        .await;
    assert_eq!(resp.status(), 204);
    table_when(&app, 42, |v| v["versions"] == json!([])).await;
}

#[tokio::test]
async fn throttled_and_failing_stores_are_retried_and_the_save_is_never_lost() {
    let app = fast_app().await;
    app.install(SHOP).await;
    set_fee(&app).await;

    // A 429 and a 503 on the way: the client waits and tries again within the same write.
    app.store.queue_graphql_faults(vec![
        GraphqlFault::TooManyRequests("0.2"),
        GraphqlFault::Status(503),
    ]);
    let t = create(&app, &template(&[42])).await;
    let id = t["id"].as_str().unwrap().to_owned();
    table_when(&app, 42, |_| true).await;

    // The store down for longer than one write's retries: the save answers 200 anyway (the
    // intent is committed with it), the checklist shows the failure, and a later round writes it.
    app.store.set_graphql_status(500);
    let mut edited = template(&[42]);
    edited["fields"][0]["price_cents"] = json!(600);
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/templates/{id}"),
            SHOP,
            Some(&edited),
        )
        .await;
    assert_eq!(resp.status(), 200, "the merchant's save stands");
    let mut failing = Value::Null;
    for _ in 0..300 {
        let s = status(&app).await;
        if s["products"]["failing"] == 1 {
            failing = s;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(failing["failing"][0]["product_id"], "42", "{failing}");
    assert!(
        failing["failing"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{failing}"
    );
    app.store.set_graphql_status(200);
    let v = table_when(&app, 42, |v| v["versions"][0]["version"] == 2).await;
    assert_eq!(v["versions"][0]["amounts"][0], 600);

    // A userError (the store refused the value) is recorded and retried the same way.
    app.store.fail_metafield_sets(1);
    edited["fields"][0]["price_cents"] = json!(700);
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/templates/{id}"),
            SHOP,
            Some(&edited),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v = table_when(&app, 42, |v| v["versions"][0]["version"] == 3).await;
    assert_eq!(v["versions"][0]["amounts"][0], 700);
    let mut s = Value::Null;
    for _ in 0..100 {
        s = status(&app).await;
        if s["products"]["synced"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        s["products"],
        json!({"synced": 1, "pending": 0, "failing": 0})
    );
    assert!(
        app.store.metafield_sets() >= 4,
        "the refused write was tried again"
    );
}

/// Each documented fixture of the function, run through the server's copy of the same
/// pricing (the path the demo cart takes): both must answer the fixture's output, so the
/// server and the function agree on every case.
#[test]
fn the_server_answers_every_function_fixture_like_the_function() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/extensions/cart-transform/tests/fixtures"
    );
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let input = &case["input"];
        let lines = input["cart"]["lines"].as_array().unwrap();
        let text = |v: &Value| v.as_str().map(str::to_owned);
        struct Owned {
            id: String,
            quantity: i64,
            variant: Option<String>,
            price: String,
            currency: String,
            sig: Option<String>,
            fee: Option<String>,
            table: Option<String>,
        }
        let owned: Vec<Owned> = lines
            .iter()
            .map(|l| {
                let m = &l["merchandise"];
                let variant = (m["__typename"] == "ProductVariant")
                    .then(|| text(&m["id"]))
                    .flatten();
                Owned {
                    id: text(&l["id"]).unwrap(),
                    quantity: l["quantity"].as_i64().unwrap(),
                    table: variant
                        .as_ref()
                        .and_then(|_| text(&m["product"]["prices"]["value"])),
                    variant,
                    price: text(&l["cost"]["amountPerQuantity"]["amount"]).unwrap(),
                    currency: text(&l["cost"]["amountPerQuantity"]["currencyCode"]).unwrap(),
                    sig: text(&l["atelier"]["value"]),
                    fee: text(&l["atelierFee"]["value"]),
                }
            })
            .collect();
        let plan_lines: Vec<transform::Line<'_>> = owned
            .iter()
            .map(|o| transform::Line {
                id: &o.id,
                quantity: o.quantity,
                variant_id: o.variant.as_deref(),
                unit_price: &o.price,
                currency: &o.currency,
                signature: o.sig.as_deref(),
                fee_for: o.fee.as_deref(),
                table: o.table.as_deref(),
            })
            .collect();
        let rate = input["presentmentCurrencyRate"].as_str().unwrap();
        let ops: Vec<Value> = transform::expansions(&plan_lines, rate)
            .into_iter()
            .map(|e| {
                let item = |c: &transform::Component| {
                    // The function answers a Decimal: the shortest text of the amount.
                    let amount: f64 = c.amount().parse().unwrap();
                    json!({"merchandiseId": c.merchandise_id, "quantity": c.quantity,
                        "price": {"adjustment": {"fixedPricePerUnit": {"amount": format!("{amount:?}")}}},
                        "attributes": c.attributes.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
                };
                json!({"lineExpand": {"cartLineId": e.cart_line_id,
                    "expandedCartItems": [item(&e.product), item(&e.add_on)]}})
            })
            .collect();
        assert_eq!(
            json!({ "operations": ops }),
            case["output"],
            "{}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 6, "{n} fixtures");
}

/// What `personalize` signs, the table the store receives and the function's expansion agree:
/// the add-on checkout charges is the add-on the product page showed.
#[tokio::test]
async fn the_function_charges_what_personalize_priced() {
    let app = fast_app().await;
    app.install(SHOP).await;
    set_fee(&app).await;
    create(&app, &template(&[42])).await;
    let table = table_when(&app, 42, |_| true).await.to_string();
    for (values, cents) in [
        (json!({"engraving": "Anna"}), 500),
        (json!({"engraving": "Anna", "font": "script"}), 750),
        (
            json!({"engraving": "Anna", "font": "script", "gift": true}),
            1050,
        ),
    ] {
        let resp = app
            .client
            .post(app.proxy_url("/products/42/personalize", SHOP, None))
            .json(&json!({ "values": values }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let p: Value = resp.json().await.unwrap();
        assert_eq!(p["price_cents"], cents);
        let sig = p["signature"].as_str().unwrap();
        for (rate, currency, unit, expected) in [
            ("1.0", "USD", "20.00", cents),
            // Converted per unit, half away from zero: 5.00 × 1.3684 = 6.842 → 6.84 …
            ("1.3684", "CAD", "27.37", (cents * 13684 + 5000) / 10000),
        ] {
            let line = transform::Line {
                id: "gid://shopify/CartLine/1",
                quantity: 2,
                variant_id: Some("gid://shopify/ProductVariant/421"),
                unit_price: unit,
                currency,
                signature: Some(sig),
                fee_for: None,
                table: Some(&table),
            };
            let e = transform::expansions(&[line], rate).remove(0);
            assert_eq!(e.add_on.unit_minor, expected, "{values} at {rate}");
            assert_eq!(
                e.add_on.merchandise_id,
                format!("gid://shopify/ProductVariant/{FEE}")
            );
        }
    }
}

/// The demo store runs the function's logic: the cart page shows the expanded line, and the
/// order its checkout places (product line + add-on component carrying `_atelier_fee`) is paid
/// in full by reconciliation's own reading.
#[cfg(feature = "demo")]
#[tokio::test]
async fn the_demo_cart_shows_and_orders_what_checkout_charges() {
    const RING: i64 = 8_100_000_001;
    let app = spawn_app_with(|vars| {
        vars.insert("ATELIER_ENV".into(), "development".into());
    })
    .await;
    let p: Value = app
        .client
        .post(app.url(&format!("/apps/atelier/products/{RING}/personalize")))
        .json(&json!({"values": {"engraving": "Anna", "metal": "silver"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(p["price_cents"], 1500);
    let resp = app
        .client
        .post(app.url("/demo/cart/add.js"))
        .json(&json!({"items": [{"id": "81000000011", "quantity": 2,
            "properties": {"Engraving": "Anna", "Metal": "Sterling silver", "_atelier": p["signature"]}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let added: Value = resp.json().await.unwrap();
    let unit = added["items"][0]["price"].as_i64().unwrap();
    let page = app
        .client
        .get(app.url("/demo/cart"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            r#"data-component="product" data-unit-cents="{unit}""#
        )),
        "{page}"
    );
    assert!(
        page.contains(r#"data-component="add-on" data-unit-cents="1500""#),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"data-cents="{}""#, (unit + 1500) * 2)),
        "checkout's total: {page}"
    );

    let resp = app
        .client
        .post(app.url("/demo/checkout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    app.drain().await;
    let orders: Value = app
        .api_get(
            "/api/orders?personalized=true",
            "atelier-demo.myshopify.com",
        )
        .await
        .json()
        .await
        .unwrap();
    let line = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["line_items"].as_array().unwrap().iter())
        .find(|l| l["expected_cents"] == 3000)
        .unwrap_or_else(|| panic!("{orders}"));
    assert_eq!(line["personalization_verified"], true);
    assert_eq!(
        line["charged_cents"], 3000,
        "paid in full by the add-on component"
    );
}
