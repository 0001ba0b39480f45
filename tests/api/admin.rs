//! What the merchant's admin page reads beyond the merchant API: product search for its pickers,
//! webhook health and the setup checklist, template version history, analytics per day and the
//! production queue; and the page's own assets and block previews. Each is scoped to the
//! token's shop, and a malformed parameter is a JSON `400`/`422`, never a `5xx`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "admin-shop.myshopify.com";
const OTHER: &str = "admin-other.myshopify.com";

fn product(id: i64, title: &str) -> Value {
    json!({
        "id": id, "title": title, "handle": title.to_lowercase().replace(' ', "-"), "vendor": "Atelier",
        "product_type": "Home", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": "",
        "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": id * 10 + 1, "title": "Default", "price": "12.00", "inventory_quantity": 3, "inventory_policy": "deny", "position": 1}]
    })
}

async fn with_products(app: &TestApp, shop: &str, products: &[(i64, &str)]) {
    app.install(shop).await;
    for (id, title) in products {
        app.deliver(&Delivery::new(
            "products/create",
            shop,
            &product(*id, title),
        ))
        .await;
    }
    app.drain().await;
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn fields_of(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect()
}

#[tokio::test]
async fn product_search_finds_by_title_handle_or_id_and_only_the_shops_own() {
    let app = spawn_app().await;
    with_products(
        &app,
        SHOP,
        &[
            (501, "Linen Apron"),
            (502, "Fig Candle"),
            (503, "50% Off Mug"),
        ],
    )
    .await;
    with_products(&app, OTHER, &[(601, "Linen Scarf")]).await;

    let (status, body) = json_of(app.api_get("/api/products?query=linen", SHOP).await).await;
    assert_eq!(status, 200);
    let titles: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Linen Apron"],
        "another shop's product never shows"
    );
    assert_eq!(body["items"][0]["product_id"], "501");
    assert_eq!(body["next_cursor"], Value::Null);

    // `%` is the character, not a wildcard.
    let (_, body) = json_of(app.api_get("/api/products?query=50%25", SHOP).await).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = json_of(app.api_get("/api/products?query=502", SHOP).await).await;
    assert_eq!(body["items"][0]["title"], "Fig Candle");
    let (_, body) = json_of(app.api_get("/api/products?ids=503,501,601", SHOP).await).await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["501", "503"]);

    // Pages follow the cursor.
    let (_, first) = json_of(app.api_get("/api/products?limit=2", SHOP).await).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = json_of(
        app.api_get(&format!("/api/products?limit=2&cursor={cursor}"), SHOP)
            .await,
    )
    .await;
    assert_eq!(second["items"][0]["product_id"], "503");

    let (status, body) = json_of(app.api_get("/api/products?ids=1,abc", SHOP).await).await;
    assert_eq!(status, 422);
    assert_eq!(fields_of(&body), ["ids[1]"]);
    let long = "x".repeat(201);
    let (status, _) = json_of(
        app.api_get(&format!("/api/products?query={long}"), SHOP)
            .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = json_of(app.api_get("/api/products?cursor=zz", SHOP).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_cursor");
    let (status, _) = json_of(app.api_get("/api/products?limit=0", SHOP).await).await;
    assert!(status == 400 || status == 422, "{status}");
}

#[tokio::test]
async fn home_shows_webhook_health_and_a_setup_checklist() {
    let app = spawn_app().await;
    with_products(&app, SHOP, &[(501, "Linen Apron")]).await;

    let (status, health) = json_of(app.api_get("/api/webhooks/health", SHOP).await).await;
    assert_eq!(status, 200);
    assert!(health["received_24h"].as_i64().unwrap() >= 1, "{health}");
    assert_eq!(health["dead"], 0);
    assert!(health["last_received_at"].is_string());
    assert!(health["dead_letters"].as_array().unwrap().is_empty());

    let (status, setup) = json_of(app.api_get("/api/setup", SHOP).await).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = setup["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "webhooks",
            "app_embed",
            "fee_product",
            "template_assigned",
            "checkout_add_on",
            "preference_center"
        ]
    );
    let done = |setup: &Value, key: &str| {
        setup["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == key)
            .unwrap()["done"]
            .as_bool()
            .unwrap()
    };
    assert!(!done(&setup, "template_assigned"));

    let t = json!({"name": "Apron", "product_ids": ["501"], "fields": [
        {"key": "monogram", "label": "Monogram", "type": "text", "max_length": 3}]});
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&t))
        .await;
    assert_eq!(resp.status(), 201);
    let (_, setup) = json_of(app.api_get("/api/setup", SHOP).await).await;
    assert!(done(&setup, "template_assigned"));
    assert_eq!(setup["total"], 6);
    assert!(
        done(&setup, "checkout_add_on"),
        "the fake store has the function deployed: the install created the cart transform"
    );

    // Another shop's deliveries are not this shop's health.
    app.install(OTHER).await;
    let (_, other) = json_of(app.api_get("/api/webhooks/health", OTHER).await).await;
    assert_eq!(other["received_24h"], 0);
}

#[tokio::test]
async fn version_history_lists_every_version_of_the_shops_own_templates() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    let mut t = json!({"name": "Apron", "product_ids": [], "fields": [
        {"key": "monogram", "label": "Monogram", "type": "text", "max_length": 3}]});
    let (status, created) = json_of(
        app.api_send(Method::POST, "/api/templates", SHOP, Some(&t))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    t["name"] = json!("Apron, two fields");
    t["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"key": "gift", "label": "Gift wrap", "type": "checkbox"}));
    let resp = app
        .api_send(Method::PUT, &format!("/api/templates/{id}"), SHOP, Some(&t))
        .await;
    assert_eq!(resp.status(), 200);

    let (status, history) = json_of(
        app.api_get(&format!("/api/templates/{id}/versions"), SHOP)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let versions: Vec<(i64, i64, i64)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["field_count"].as_i64().unwrap(),
                v["pinned_orders"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, [(2, 2, 0), (1, 1, 0)]);
    assert_eq!(history["items"][1]["name"], "Apron");

    let (status, body) = json_of(
        app.api_get(&format!("/api/templates/{id}/versions"), OTHER)
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn daily_analytics_cover_the_period_and_refuse_a_bad_one() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, body) = json_of(app.api_get("/api/analytics/daily?days=7", SHOP).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["days"], 7);
    assert_eq!(body["series"].as_array().unwrap().len(), 7);
    for intent in ["complementary", "related", "for_you", "trending"] {
        assert_eq!(body["totals"][intent]["clicks"], 0, "{intent}");
    }
    let (_, body) = json_of(app.api_get("/api/analytics/daily", SHOP).await).await;
    assert_eq!(body["series"].as_array().unwrap().len(), 30);
    for bad in ["0", "367", "abc", "-1", "99999999999999999999"] {
        let (status, body) = json_of(
            app.api_get(&format!("/api/analytics/daily?days={bad}"), SHOP)
                .await,
        )
        .await;
        assert_eq!(status, 422, "days={bad}");
        assert_eq!(fields_of(&body), ["days"]);
    }
}

#[tokio::test]
async fn the_production_queue_names_every_bad_filter_and_hides_other_shops_lines() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, body) = json_of(app.api_get("/api/production/lines", SHOP).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));

    let (status, body) = json_of(
        app.api_get(
            "/api/production/lines?status=shipped&verification=maybe&product_id=-3&from=2026-13-01&to=yesterday",
            SHOP,
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        fields_of(&body),
        ["status", "verification", "product_id", "from", "to"]
    );
    let (status, body) = json_of(
        app.api_get("/api/production/lines?from=2026-05-02&to=2026-05-01", SHOP)
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(fields_of(&body), ["to"]);
    let (status, _) = json_of(
        app.api_get(
            "/api/production/lines?status=done&verification=flagged&from=2026-01-01&to=2026-12-31",
            SHOP,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);

    for (path, want) in [
        ("/api/production/lines/abc", 400),
        ("/api/production/lines/0", 400),
        ("/api/production/lines/123", 404),
        ("/api/production/lines/123/preview.svg", 404),
        ("/api/production/lines?cursor=garbage", 400),
    ] {
        let (status, body) = json_of(app.api_get(path, SHOP).await).await;
        assert_eq!(status, want, "{path}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_admin_page_assets_and_block_previews_are_served_with_a_tight_policy() {
    let app = spawn_app().await;
    for asset in ["admin.js", "admin.css", "preview.js", "preview.css"] {
        let resp = app.get(&format!("/admin/assets/{asset}")).await;
        assert_eq!(resp.status(), 200, "{asset}");
    }
    let resp = app.get("/admin/assets/secrets.txt").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let resp = app.get("/admin/theme/atelier-personalizer.js").await;
    assert_eq!(resp.status(), 200);

    for block in ["personalizer", "preference-center", "recommendations"] {
        let resp = app
            .get(&format!("/admin/preview/{block}?intent=complementary"))
            .await;
        assert_eq!(resp.status(), 200, "{block}");
        let csp = resp
            .headers()
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("/admin/assets/preview.js"), "{block}");
        assert!(html.contains("/admin/theme/atelier"), "{block}");
    }
    // The app embed is not a preview, and an unknown intent falls back to a known one.
    assert_eq!(app.get("/admin/preview/app-embed").await.status(), 404);
    assert_eq!(
        app.get("/admin/preview/recommendations?intent=%3Cscript%3E")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_admin_routes_need_a_session_token() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for path in [
        "/api/products",
        "/api/webhooks/health",
        "/api/setup",
        "/api/analytics/daily",
        "/api/production/lines",
        "/api/templates/x/versions",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 401, "{path}");
    }
}
