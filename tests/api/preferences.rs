//! Preference center: merchant settings, the shopper's preferences and consent through the
//! signed app proxy, the consent history, saved personalizations, the merchant view, export
//! and redaction.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";
const OTHER: &str = "other-shop.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123; // above 2^53
const BEN: i64 = 7_720_000_000_000_456;

async fn prefs_get(app: &TestApp, shop: &str, customer: i64) -> Value {
    let resp = app
        .client
        .get(app.proxy_url("/preferences", shop, Some(customer)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn prefs_put(app: &TestApp, shop: &str, customer: i64, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .put(app.proxy_url("/preferences", shop, Some(customer)))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn prefs_ok(app: &TestApp, shop: &str, customer: i64, body: &Value) -> Value {
    let (status, body) = prefs_put(app, shop, customer, body).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn merchant_view(app: &TestApp, shop: &str, customer: i64) -> (u16, Value) {
    let resp = app
        .api_get(&format!("/api/customers/{customer}/preferences"), shop)
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn errors_of(body: &Value) -> Vec<(String, String)> {
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

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
        .collect()
}

async fn put_settings(app: &TestApp, shop: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .api_send(Method::PUT, "/api/preference-center", shop, Some(body))
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

// ---------------------------------------------------------------- authentication

#[tokio::test]
async fn unsigned_forged_and_anonymous_requests_are_refused() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let routes = [
        (Method::GET, "/proxy/preferences"),
        (Method::PUT, "/proxy/preferences"),
        (Method::GET, "/proxy/saved-personalizations"),
        (Method::POST, "/proxy/saved-personalizations"),
        (Method::DELETE, "/proxy/saved-personalizations/abc"),
    ];
    let body = json!({"consent": {"personalization": true}, "name": "x", "values": {}});
    let good = proxy_query(SHOP, Some(ANNA), now(), API_SECRET);
    let cases = [
        (
            "unsigned",
            format!(
                "shop={SHOP}&timestamp={}&path_prefix=/apps/atelier&logged_in_customer_id={ANNA}",
                now()
            ),
            401,
        ),
        (
            "forged",
            proxy_query(SHOP, Some(ANNA), now(), "not-the-secret"),
            401,
        ),
        (
            "customer swapped",
            good.replace(&ANNA.to_string(), &BEN.to_string()),
            401,
        ),
        ("shop swapped", good.replace(SHOP, OTHER), 401),
        (
            "stale",
            proxy_query(SHOP, Some(ANNA), now() - 3600, API_SECRET),
            401,
        ),
        ("anonymous", proxy_query(SHOP, None, now(), API_SECRET), 401),
    ];
    for (method, path) in &routes {
        for (case, query, status) in &cases {
            let resp = app
                .client
                .request(method.clone(), app.url(&format!("{path}?{query}")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), *status, "{method} {path}: {case}");
            let err: Value = resp.json().await.unwrap();
            assert!(err["error"]["code"].is_string(), "{case}: {err}");
        }
    }
    // Nothing was written by any of them.
    assert_eq!(app.table_count("customer_preferences"), 0);
    assert_eq!(app.table_count("consent_history"), 0);
    assert_eq!(app.table_count("saved_personalizations"), 0);

    // The merchant side needs a session token.
    for path in [
        "/api/preference-center".to_owned(),
        format!("/api/customers/{ANNA}/preferences"),
    ] {
        let resp = app.get(&path).await;
        assert_eq!(resp.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn shops_and_customers_never_see_each_others_preferences() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    let (status, _) = put_settings(
        &app,
        OTHER,
        &json!({"interests": [{"key": "boats", "label": "Boats"}]}),
    )
    .await;
    assert_eq!(status, 200);

    let anna = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "M"}, "interests": ["sale"], "consent": {"personalization": true}}),
    )
    .await;
    assert_eq!(anna["customer_id"], ANNA.to_string());

    // Another customer of the same shop: the defaults.
    let ben = prefs_get(&app, SHOP, BEN).await;
    assert_eq!(ben["customer_id"], BEN.to_string());
    assert_eq!(ben["sizes"], json!({}));
    assert_eq!(ben["interests"], json!([]));
    assert_eq!(ben["consent"]["personalization"], false);
    assert_eq!(ben["updated_at"], Value::Null);

    // The same customer id signed for another shop: that shop's (empty) data and settings.
    let elsewhere = prefs_get(&app, OTHER, ANNA).await;
    assert_eq!(elsewhere["sizes"], json!({}));
    assert_eq!(elsewhere["consent"]["personalization"], false);
    let (status, body) = prefs_put(&app, OTHER, ANNA, &json!({"interests": ["sale"]})).await;
    assert_eq!(status, 422, "the other shop does not offer 'sale'");
    assert_eq!(
        errors_of(&body),
        pairs(&[("interests[0]", "unknown_interest")])
    );
    prefs_ok(&app, OTHER, ANNA, &json!({"interests": ["boats"]})).await;
    assert_eq!(
        prefs_get(&app, SHOP, ANNA).await["interests"],
        json!(["sale"])
    );

    // Merchant views are per shop.
    let (status, view) = merchant_view(&app, SHOP, ANNA).await;
    assert_eq!(status, 200);
    assert_eq!(view["preferences"]["interests"], json!(["sale"]));
    let (status, view) = merchant_view(&app, OTHER, ANNA).await;
    assert_eq!(status, 200);
    assert_eq!(view["preferences"]["interests"], json!(["boats"]));
    assert_eq!(
        merchant_view(&app, SHOP, BEN).await.0,
        404,
        "nothing stored"
    );
    assert_eq!(merchant_view(&app, OTHER, BEN).await.0, 404);
    let resp = app.api_get("/api/customers/abc/preferences", SHOP).await;
    assert_eq!(resp.status(), 400);

    // Settings are per shop, for the merchant and for the storefront block (anonymous too).
    let settings: Value = app
        .api_get("/api/preference-center", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        settings["interests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["key"] != "boats")
    );
    let storefront_settings = |shop: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .get(app.proxy_url("/preference-center", shop, None))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(storefront_settings(SHOP).await, settings);
    assert_eq!(
        storefront_settings(OTHER).await["interests"],
        json!([{"key": "boats", "label": "Boats"}])
    );
    let forged = proxy_query(SHOP, None, now(), "not-the-secret");
    assert_eq!(
        app.get(&format!("/proxy/preference-center?{forged}"))
            .await
            .status(),
        401
    );
}

// ---------------------------------------------------------------- validation

#[tokio::test]
async fn unknown_categories_sizes_interests_and_frequencies_are_each_named() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, body) = prefs_put(
        &app,
        SHOP,
        ANNA,
        &json!({
            "sizes": {"tops": "XXXL", "capes": "M", "shoes": "42"},
            "interests": ["sale", "yachts", "gifts", "Sale"],
            "communication": {"email": true, "frequency": "hourly"},
            "consent": {"personalization": true}
        }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(
        errors_of(&body),
        pairs(&[
            ("sizes.capes", "unknown_category"),
            ("sizes.tops", "unknown_size"),
            ("interests[1]", "unknown_interest"),
            ("interests[3]", "unknown_interest"),
            ("communication.frequency", "unknown_frequency"),
        ])
    );
    for e in body["errors"].as_array().unwrap() {
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    // Nothing of the request was applied, not even its valid parts.
    let p = prefs_get(&app, SHOP, ANNA).await;
    assert_eq!(p["sizes"], json!({}));
    assert_eq!(p["communication"]["email"], false);
    assert_eq!(p["consent"]["personalization"], false);
    assert_eq!(app.table_count("customer_preferences"), 0);
    assert_eq!(app.table_count("consent_history"), 0);
}

#[tokio::test]
async fn wrong_json_types_are_refused_with_their_paths() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let cases = [
        (json!({"sizes": ["M"]}), "sizes", "invalid_type"),
        (json!({"sizes": {"tops": 40}}), "sizes.tops", "invalid_type"),
        (
            json!({"sizes": {"tops": {"eu": 40}}}),
            "sizes.tops",
            "invalid_type",
        ),
        (json!({"interests": "sale"}), "interests", "invalid_type"),
        (
            json!({"interests": ["sale", 3]}),
            "interests[1]",
            "invalid_type",
        ),
        (json!({"interests": null}), "interests", "invalid_type"),
        (
            json!({"communication": true}),
            "communication",
            "invalid_type",
        ),
        (
            json!({"communication": {"email": "yes"}}),
            "communication.email",
            "invalid_type",
        ),
        (
            json!({"communication": {"sms": 1}}),
            "communication.sms",
            "invalid_type",
        ),
        (
            json!({"communication": {"frequency": 7}}),
            "communication.frequency",
            "invalid_type",
        ),
        (
            json!({"communication": {"pigeon": true}}),
            "communication.pigeon",
            "unknown_field",
        ),
        (json!({"consent": "all"}), "consent", "invalid_type"),
        (
            json!({"consent": {"personalization": "true"}}),
            "consent.personalization",
            "invalid_type",
        ),
        (
            json!({"consent": {"marketing": null}}),
            "consent.marketing",
            "invalid_type",
        ),
        (json!({"intrests": ["sale"]}), "intrests", "unknown_field"),
        (json!([1, 2]), "", "invalid_type"),
        (json!("prefs"), "", "invalid_type"),
    ];
    for (body, field, code) in cases {
        let (status, resp) = prefs_put(&app, SHOP, ANNA, &body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(errors_of(&resp), pairs(&[(field, code)]), "{body}");
    }
    // Several at once: every one named.
    let (status, resp) = prefs_put(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": 1, "bottoms": false}, "consent": {"marketing": "no"}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(errors_of(&resp).len(), 3);

    let url = app.proxy_url("/preferences", SHOP, Some(ANNA));
    let resp = app
        .client
        .put(&url)
        .header("Content-Type", "application/json")
        .body("{\"sizes\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "unparsable JSON");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );
    let resp = app
        .client
        .put(&url)
        .json(&json!({"interests": ["x".repeat(300 * 1024)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413, "proxy bodies are limited to 256 KiB");
    // Echoed members of a GET are accepted (and the signed customer wins over the body's).
    let (status, body) = prefs_put(
        &app,
        SHOP,
        ANNA,
        &json!({"customer_id": BEN.to_string(), "updated_at": null, "stale": [], "sizes": {"tops": "S"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer_id"], ANNA.to_string());
    assert_eq!(app.table_count("consent_history"), 1);
}

#[tokio::test]
async fn huge_arrays_and_duplicate_interests_are_refused() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let many: Vec<String> = (0..5_000).map(|i| format!("interest_{i}")).collect();
    let (status, body) = prefs_put(&app, SHOP, ANNA, &json!({"interests": many})).await;
    assert_eq!(status, 422);
    assert_eq!(
        errors_of(&body),
        pairs(&[("interests", "too_many")]),
        "one error, not 5000"
    );
    let sizes: serde_json::Map<String, Value> =
        (0..500).map(|i| (format!("cat_{i}"), json!("M"))).collect();
    let (status, body) = prefs_put(&app, SHOP, ANNA, &json!({"sizes": sizes})).await;
    assert_eq!(status, 422);
    assert_eq!(errors_of(&body), pairs(&[("sizes", "too_many")]));

    let (status, body) = prefs_put(
        &app,
        SHOP,
        ANNA,
        &json!({"interests": ["sale", "gifts", "sale", "gifts", "bestsellers"]}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        errors_of(&body),
        pairs(&[("interests[2]", "duplicate"), ("interests[3]", "duplicate")])
    );
    assert_eq!(app.table_count("customer_preferences"), 0);

    // The merchant's lists are bounded too.
    let many: Vec<Value> = (0..1_000)
        .map(|i| json!({"key": format!("k{i}"), "label": "L"}))
        .collect();
    let (status, body) = put_settings(&app, SHOP, &json!({"interests": many})).await;
    assert_eq!(status, 422);
    assert_eq!(errors_of(&body), pairs(&[("interests", "too_many")]));
}

// ---------------------------------------------------------------- semantics

#[tokio::test]
async fn partial_updates_keep_what_they_do_not_mention() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let first = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({
            "sizes": {"tops": "M", "shoes": "39"},
            "interests": ["sale", "gifts"],
            "communication": {"email": true, "sms": false, "frequency": "weekly"},
            "consent": {"personalization": true, "marketing": true}
        }),
    )
    .await;
    assert!(first["updated_at"].is_string());
    assert_eq!(first["stale"], json!([]));

    // sizes merge per category; null removes one.
    let p = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"bottoms": "L", "shoes": null}}),
    )
    .await;
    assert_eq!(p["sizes"], json!({"tops": "M", "bottoms": "L"}));
    assert_eq!(p["interests"], json!(["sale", "gifts"]));
    assert_eq!(
        p["communication"],
        json!({"email": true, "sms": false, "frequency": "weekly"})
    );
    assert_eq!(
        p["consent"],
        json!({"personalization": true, "marketing": true})
    );

    // communication and consent replace the members they name.
    let p = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"communication": {"sms": true}, "consent": {"marketing": false}}),
    )
    .await;
    assert_eq!(
        p["communication"],
        json!({"email": true, "sms": true, "frequency": "weekly"})
    );
    assert_eq!(
        p["consent"],
        json!({"personalization": true, "marketing": false})
    );

    // interests replace the list; an empty list clears it; frequency null clears it.
    let p = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"interests": ["bestsellers"], "communication": {"frequency": null}}),
    )
    .await;
    assert_eq!(p["interests"], json!(["bestsellers"]));
    assert_eq!(p["communication"]["frequency"], Value::Null);
    let p = prefs_ok(&app, SHOP, ANNA, &json!({"interests": []})).await;
    assert_eq!(p["interests"], json!([]));

    // An empty body changes nothing, and GET answers what PUT answered.
    let same = prefs_ok(&app, SHOP, ANNA, &json!({})).await;
    assert_eq!(same, p);
    assert_eq!(prefs_get(&app, SHOP, ANNA).await, p);
    assert_eq!(p["sizes"], json!({"tops": "M", "bottoms": "L"}));
}

#[tokio::test]
async fn merchant_settings_are_validated_and_never_lose_stored_choices() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let defaults: Value = app
        .api_get("/api/preference-center", SHOP)
        .await
        .json()
        .await
        .unwrap();
    for key in ["size_categories", "interests", "frequencies", "texts"] {
        assert!(defaults.get(key).is_some(), "{key}");
    }
    assert!(!defaults["size_categories"].as_array().unwrap().is_empty());

    let (status, body) = put_settings(
        &app,
        SHOP,
        &json!({
            "size_categories": [
                {"key": "rings", "label": "Rings", "sizes": ["5", "6", "7", "6"]},
                {"key": "rings", "label": "", "sizes": []},
                {"key": "Bad Key", "label": "X", "sizes": ["S"], "colour": "red"}
            ],
            "interests": [{"key": "a", "label": "A"}, {"key": "a", "label": "Again"}, {"label": "No key"}],
            "frequencies": ["weekly", "weekly", "Every day", 3],
            "texts": {"title": 5, "Intro": "x"},
            "theme": "dark"
        }),
    )
    .await;
    assert_eq!(status, 422);
    let found = errors_of(&body);
    for expected in [
        ("theme", "unknown_field"),
        ("size_categories[0].sizes[3]", "duplicate"),
        ("size_categories[1].key", "duplicate_key"),
        ("size_categories[1].label", "invalid_label"),
        ("size_categories[1].sizes", "no_sizes"),
        ("size_categories[2].key", "invalid_key"),
        ("size_categories[2].colour", "unknown_field"),
        ("interests[1].key", "duplicate_key"),
        ("interests[2].key", "invalid_key"),
        ("frequencies[1]", "duplicate_key"),
        ("frequencies[2]", "invalid_key"),
        ("frequencies[3]", "invalid_key"),
        ("texts.title", "invalid_type"),
        ("texts.Intro", "invalid_key"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "missing {expected:?} in {found:?}"
        );
    }
    assert_eq!(found.len(), 14, "{found:?}");
    for (body, field, code) in [
        (
            json!({"size_categories": {}}),
            "size_categories",
            "invalid_type",
        ),
        (
            json!({"size_categories": ["tops"]}),
            "size_categories[0]",
            "invalid_type",
        ),
        (
            json!({"size_categories": [{"key": "tops", "label": "Tops", "sizes": "S,M"}]}),
            "size_categories[0].sizes",
            "invalid_type",
        ),
        (
            json!({"size_categories": [{"key": "tops", "label": "Tops"}]}),
            "size_categories[0].sizes",
            "required",
        ),
        (
            json!({"size_categories": [{"key": "tops", "label": "Tops", "sizes": [38]}]}),
            "size_categories[0].sizes[0]",
            "invalid_size",
        ),
        (
            json!({"interests": [{"key": "a", "label": 1}]}),
            "interests[0].label",
            "invalid_label",
        ),
        (
            json!({"frequencies": "weekly"}),
            "frequencies",
            "invalid_type",
        ),
        (json!({"texts": ["hello"]}), "texts", "invalid_type"),
        (
            json!({"texts": {"intro": "x".repeat(2_001)}}),
            "texts.intro",
            "too_long",
        ),
        (json!([]), "", "invalid_type"),
    ] {
        let (status, resp) = put_settings(&app, SHOP, &body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(errors_of(&resp), pairs(&[(field, code)]), "{body}");
    }
    // Nothing of the refused requests was stored.
    let unchanged: Value = app
        .api_get("/api/preference-center", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, defaults);

    // The shopper chooses from the defaults...
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "XL", "shoes": "40"}, "interests": ["sale", "gifts"], "communication": {"frequency": "monthly"}}),
    )
    .await;
    // ...then the merchant drops XL, the shoes, "sale" and monthly mails; a partial PUT keeps
    // the other members.
    let (status, settings) = put_settings(
        &app,
        SHOP,
        &json!({
            "size_categories": [{"key": "tops", "label": "Tops", "sizes": ["S", "M", "L"]}],
            "interests": [{"key": "gifts", "label": "Gifts"}, {"key": "candles", "label": "Candles"}]
        }),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["frequencies"], defaults["frequencies"]);
    assert_eq!(settings["texts"], defaults["texts"]);
    let (status, settings) = put_settings(
        &app,
        SHOP,
        &json!({"frequencies": ["weekly"], "texts": {"title": "Vos préférences"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        settings["size_categories"][0]["sizes"],
        json!(["S", "M", "L"])
    );
    assert_eq!(
        app.api_get("/api/preference-center", SHOP)
            .await
            .json::<Value>()
            .await
            .unwrap(),
        settings
    );

    // Kept and marked.
    let p = prefs_get(&app, SHOP, ANNA).await;
    assert_eq!(p["sizes"], json!({"tops": "XL", "shoes": "40"}));
    assert_eq!(p["interests"], json!(["sale", "gifts"]));
    assert_eq!(p["communication"]["frequency"], "monthly");
    assert_eq!(
        p["stale"],
        json!([
            "sizes.shoes",
            "sizes.tops",
            "interests[0]",
            "communication.frequency"
        ])
    );
    let (_, view) = merchant_view(&app, SHOP, ANNA).await;
    assert_eq!(view["preferences"]["stale"], p["stale"]);

    // Sending back what was read is accepted; choosing a dropped value anew is not.
    let echoed = prefs_ok(&app, SHOP, ANNA, &p).await;
    assert_eq!(echoed["sizes"], p["sizes"]);
    let (status, body) = prefs_put(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"bottoms": "M"}, "interests": ["sale", "bestsellers"]}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        errors_of(&body),
        pairs(&[
            ("sizes.bottoms", "unknown_category"),
            ("interests[1]", "unknown_interest")
        ])
    );
    // Moving to an offered value clears the mark.
    let p = prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "L", "shoes": null}}),
    )
    .await;
    assert_eq!(
        p["stale"],
        json!(["interests[0]", "communication.frequency"])
    );
}

#[tokio::test]
async fn history_records_every_change_with_its_source() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "M"}, "consent": {"personalization": true}}),
    )
    .await;
    // Unchanged values add nothing.
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "M"}, "consent": {"personalization": true}}),
    )
    .await;
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"interests": ["gifts"], "consent": {"personalization": false}}),
    )
    .await;
    // The merchant records a change on the customer's behalf.
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/customers/{ANNA}/preferences"),
            SHOP,
            Some(&json!({"communication": {"email": true}})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/customers/{ANNA}/preferences"),
            SHOP,
            Some(&json!({"sizes": {"tops": "XXXL"}})),
        )
        .await;
    assert_eq!(resp.status(), 422, "the same rules for the merchant");
    // The store reports a subscription.
    app.deliver(&Delivery::new("customers/update", SHOP, &json!({"id": ANNA, "updated_at": "2026-11-02T10:00:00Z", "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-11-02T10:00:00Z"}}))).await;
    app.drain().await;

    let (status, view) = merchant_view(&app, SHOP, ANNA).await;
    assert_eq!(status, 200);
    let history: Vec<(String, Value, Value, String)> = view["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert!(h["at"].as_str().unwrap().ends_with('Z'));
            (
                h["field"].as_str().unwrap().to_owned(),
                h["old"].clone(),
                h["new"].clone(),
                h["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("sizes.tops", json!(null), json!("M"), "storefront"),
        (
            "consent.personalization",
            json!(false),
            json!(true),
            "storefront",
        ),
        ("interests", json!([]), json!(["gifts"]), "storefront"),
        (
            "consent.personalization",
            json!(true),
            json!(false),
            "storefront",
        ),
        ("communication.email", json!(false), json!(true), "admin"),
        ("consent.marketing", json!(false), json!(true), "webhook"),
    ]
    .map(|(f, o, n, s)| (f.to_owned(), o, n, s.to_owned()));
    assert_eq!(history, expected);
    assert_eq!(view["preferences"]["consent"]["marketing"], true);
    assert_eq!(view["preferences"]["customer_id"], ANNA.to_string());
    assert_eq!(view["saved"], json!([]));
}

#[tokio::test]
async fn marketing_consent_follows_the_store_and_the_most_recent_change_wins() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let update = |id: i64, state: &str, at: &str| {
        json!({"id": id, "updated_at": at, "email": "x@example.com",
               "email_marketing_consent": {"state": state, "opt_in_level": "single_opt_in", "consent_updated_at": at}})
    };
    // A customer known only from the store: the merchant view and the GET show their state.
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &update(ANNA, "subscribed", "2026-01-01T10:00:00Z"),
    ))
    .await;
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &update(BEN, "not_subscribed", "2026-01-01T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        prefs_get(&app, SHOP, ANNA).await["consent"]["marketing"],
        true
    );
    assert_eq!(
        prefs_get(&app, SHOP, BEN).await["consent"]["marketing"],
        false
    );
    let (status, ben) = merchant_view(&app, SHOP, BEN).await;
    assert_eq!(status, 200, "known from the store");
    assert_eq!(ben["consent_history"], json!([]));

    // The shopper unsubscribes in the storefront, now: newer than the store's last change.
    prefs_ok(&app, SHOP, ANNA, &json!({"consent": {"marketing": false}})).await;
    // A late delivery of an older store state does not undo it.
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &update(ANNA, "subscribed", "2026-01-05T10:00:00Z"),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        prefs_get(&app, SHOP, ANNA).await["consent"]["marketing"],
        false
    );
    // A newer store change wins.
    let later = (time::OffsetDateTime::now_utc() + time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &update(ANNA, "SUBSCRIBED", &later),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        prefs_get(&app, SHOP, ANNA).await["consent"]["marketing"],
        true
    );
    let (_, view) = merchant_view(&app, SHOP, ANNA).await;
    let marketing: Vec<(Value, Value, String)> = view["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "consent.marketing")
        .map(|h| {
            (
                h["old"].clone(),
                h["new"].clone(),
                h["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        marketing,
        [
            (json!(false), json!(true), "webhook".to_owned()),
            (json!(true), json!(false), "storefront".to_owned()),
            (json!(false), json!(true), "webhook".to_owned()),
        ]
    );
    // A store report of the same state adds no history row.
    app.deliver(&Delivery::new(
        "customers/update",
        SHOP,
        &update(ANNA, "subscribed", &later),
    ))
    .await;
    app.drain().await;
    let (_, again) = merchant_view(&app, SHOP, ANNA).await;
    assert_eq!(again["consent_history"], view["consent_history"]);
}

#[tokio::test]
async fn concurrent_puts_never_mix_and_every_change_is_in_the_history() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    const N: usize = 16;
    let sizes: Vec<String> = (0..N).map(|i| format!("s{i}")).collect();
    let interests: Vec<Value> = (0..N)
        .map(|i| json!({"key": format!("i{i}"), "label": format!("I{i}")}))
        .collect();
    let frequencies: Vec<String> = (0..N).map(|i| format!("f{i}")).collect();
    let (status, _) = put_settings(
        &app,
        SHOP,
        &json!({"size_categories": [{"key": "tops", "label": "Tops", "sizes": sizes}], "interests": interests, "frequencies": frequencies}),
    )
    .await;
    assert_eq!(status, 200);

    let body = |i: usize| {
        json!({
            "sizes": {"tops": format!("s{i}")},
            "interests": [format!("i{i}")],
            "communication": {"frequency": format!("f{i}"), "email": i.is_multiple_of(2)},
            "consent": {"personalization": i % 2 == 1}
        })
    };
    let (app, body) = (&app, &body);
    let puts = (0..N).map(|i| {
        async move {
            let answer = prefs_ok(app, SHOP, ANNA, &body(i)).await;
            // Each answer is one whole request applied, never a mix.
            assert_eq!(answer["sizes"]["tops"], format!("s{i}"));
            assert_eq!(answer["interests"], json!([format!("i{i}")]));
            assert_eq!(answer["communication"]["frequency"], format!("f{i}"));
            assert_eq!(answer["consent"]["personalization"], i % 2 == 1);
        }
    });
    futures_util::future::join_all(puts).await;

    let final_state = prefs_get(app, SHOP, ANNA).await;
    let winner: usize = final_state["sizes"]["tops"].as_str().unwrap()[1..]
        .parse()
        .unwrap();
    assert_eq!(final_state["interests"], json!([format!("i{winner}")]));
    assert_eq!(
        final_state["communication"]["frequency"],
        format!("f{winner}")
    );
    assert_eq!(
        final_state["communication"]["email"],
        winner.is_multiple_of(2)
    );
    assert_eq!(final_state["consent"]["personalization"], winner % 2 == 1);

    let (_, view) = merchant_view(app, SHOP, ANNA).await;
    let history = view["consent_history"].as_array().unwrap();
    let chain = |field: &str, initial: Value| {
        let rows: Vec<&Value> = history.iter().filter(|h| h["field"] == field).collect();
        let mut prev = initial;
        for r in &rows {
            assert_eq!(r["old"], prev, "{field}: broken chain in {rows:?}");
            assert_ne!(r["old"], r["new"]);
            prev = r["new"].clone();
        }
        (rows.len(), prev)
    };
    // Every request changed these three: one row each, none lost.
    let (n, last) = chain("sizes.tops", Value::Null);
    assert_eq!((n, last), (N, final_state["sizes"]["tops"].clone()));
    let (n, last) = chain("interests", json!([]));
    assert_eq!((n, last), (N, final_state["interests"].clone()));
    let (n, last) = chain("communication.frequency", Value::Null);
    assert_eq!(
        (n, last),
        (N, final_state["communication"]["frequency"].clone())
    );
    // The flags change only when the previous request had the other value.
    let (_, last) = chain("consent.personalization", json!(false));
    assert_eq!(last, final_state["consent"]["personalization"]);
    let (_, last) = chain("communication.email", json!(false));
    assert_eq!(last, final_state["communication"]["email"]);
    // The rows of one request are adjacent (requests never interleave).
    let sizes_rows: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, h)| h["field"] == "sizes.tops")
        .map(|(i, _)| i)
        .collect();
    for w in sizes_rows.windows(2) {
        let between = &history[w[0]..w[1]];
        let tag = between[0]["new"].as_str().unwrap()[1..].to_owned();
        for h in between {
            match h["field"].as_str().unwrap() {
                "interests" => assert_eq!(h["new"], json!([format!("i{tag}")])),
                "communication.frequency" => assert_eq!(h["new"], format!("f{tag}")),
                _ => {}
            }
        }
    }
}

// ---------------------------------------------------------------- for recommendations

#[tokio::test]
async fn personalization_consent_gates_the_use_of_a_shoppers_data() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let shop_id = app.shop_row(SHOP).unwrap().id;
    let allowed = || {
        let mut conn = app.state.db.conn().unwrap();
        atelier::preferences::personalization_allowed(&mut conn, &shop_id, ANNA).unwrap()
    };
    let explicit = || {
        let mut conn = app.state.db.conn().unwrap();
        atelier::preferences::explicit_for(&mut conn, &shop_id, ANNA).unwrap()
    };
    assert!(!allowed(), "never given = not given");
    assert_eq!(explicit(), None);
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"sizes": {"tops": "M", "shoes": "40"}, "interests": ["sale", "gifts"]}),
    )
    .await;
    assert!(!allowed(), "preferences alone are no consent");
    assert_eq!(explicit(), None);

    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"consent": {"personalization": true}}),
    )
    .await;
    assert!(allowed());
    let e = explicit().unwrap();
    assert_eq!(e.interests, ["sale", "gifts"]);
    assert_eq!(e.sizes.get("tops").map(String::as_str), Some("M"));
    // Values the store no longer offers are not used.
    let (status, _) = put_settings(
        &app,
        SHOP,
        &json!({"interests": [{"key": "gifts", "label": "Gifts"}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(explicit().unwrap().interests, ["gifts"]);

    // Withdrawal applies to the very next read; another customer or shop is unaffected.
    prefs_ok(
        &app,
        SHOP,
        ANNA,
        &json!({"consent": {"personalization": false}}),
    )
    .await;
    assert!(!allowed());
    assert_eq!(explicit(), None);
    prefs_ok(
        &app,
        SHOP,
        BEN,
        &json!({"consent": {"personalization": true}}),
    )
    .await;
    assert!(!allowed());
    let mut conn = app.state.db.conn().unwrap();
    assert!(atelier::preferences::personalization_allowed(&mut conn, &shop_id, BEN).unwrap());
}

// ---------------------------------------------------------------- saved personalizations

async fn saved_list(app: &TestApp, shop: &str, customer: i64) -> Vec<Value> {
    let resp = app
        .client
        .get(app.proxy_url("/saved-personalizations", shop, Some(customer)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn saved_post(app: &TestApp, shop: &str, customer: i64, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.proxy_url("/saved-personalizations", shop, Some(customer)))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn saved_delete(app: &TestApp, shop: &str, customer: i64, id: &str) -> u16 {
    app.client
        .delete(app.proxy_url(
            &format!("/saved-personalizations/{id}"),
            shop,
            Some(customer),
        ))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const RING: i64 = 9_007_199_254_740_993;
const MUG: i64 = 42;

#[tokio::test]
async fn saved_personalizations_are_kept_reused_on_another_product_and_deleted() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    for (name, product, fields) in [
        (
            "Ring",
            RING,
            json!([
                {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 12},
                {"key": "size", "label": "Size", "type": "number", "min": 4, "max": 13, "step": 0.25}
            ]),
        ),
        (
            "Mug",
            MUG,
            json!([
                {"key": "engraving", "label": "Text", "type": "text", "required": true, "max_length": 4}
            ]),
        ),
    ] {
        let resp = app
            .api_send(
                Method::POST,
                "/api/templates",
                SHOP,
                Some(&json!({"name": name, "product_ids": [product], "fields": fields})),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }

    let (status, saved) = saved_post(
        &app,
        SHOP,
        ANNA,
        &json!({"name": "  Anna's ring ", "product_id": RING.to_string(), "values": {"engraving": "Für Mia", "size": 6.5}}),
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved["name"], "Anna's ring");
    assert_eq!(saved["product_id"], RING.to_string());
    assert_eq!(
        saved["values"],
        json!({"engraving": "Für Mia", "size": 6.5})
    );
    assert!(saved["created_at"].as_str().unwrap().ends_with('Z'));
    let id = saved["id"].as_str().unwrap().to_owned();
    // Without a product, and values nothing validates on save.
    let (status, mono) = saved_post(
        &app,
        SHOP,
        ANNA,
        &json!({"name": "Monogram", "values": {"engraving": "AL", "anything": [1, 2]}}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(mono.get("product_id").is_none());

    let list = saved_list(&app, SHOP, ANNA).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "Monogram", "newest first");
    assert_eq!(list[1], saved);
    assert!(saved_list(&app, SHOP, BEN).await.is_empty(), "per customer");
    assert!(saved_list(&app, OTHER, ANNA).await.is_empty(), "per shop");

    // Reused on another product: validated against that product's template.
    let personalize = |product: i64, values: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.proxy_url(
                    &format!("/products/{product}/personalize"),
                    SHOP,
                    Some(ANNA),
                ))
                .json(&json!({"values": values}))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = personalize(RING, saved["values"].clone()).await;
    assert_eq!(resp.status(), 200);
    let resp = personalize(MUG, json!({"engraving": saved["values"]["engraving"]})).await;
    assert_eq!(
        resp.status(),
        422,
        "'Für Mia' is longer than the mug allows"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "values.engraving");
    let resp = personalize(MUG, json!({"engraving": mono["values"]["engraving"]})).await;
    assert_eq!(resp.status(), 200);

    // Bad bodies.
    for (body, field, code) in [
        (json!({"values": {}}), "name", "invalid_name"),
        (json!({"name": "", "values": {}}), "name", "invalid_name"),
        (json!({"name": 5, "values": {}}), "name", "invalid_name"),
        (json!({"name": "x"}), "values", "required"),
        (
            json!({"name": "x", "values": ["a"]}),
            "values",
            "invalid_type",
        ),
        (
            json!({"name": "x", "values": "AL"}),
            "values",
            "invalid_type",
        ),
        (
            json!({"name": "x", "values": {}, "product_id": "abc"}),
            "product_id",
            "invalid_id",
        ),
        (
            json!({"name": "x", "values": {}, "product_id": -1}),
            "product_id",
            "invalid_id",
        ),
        (
            json!({"name": "x", "values": {}, "colour": 1}),
            "colour",
            "unknown_field",
        ),
        (
            json!({"name": "x", "values": {"t": "y".repeat(20_000)}}),
            "values",
            "too_large",
        ),
        (
            json!({"name": "x".repeat(101), "values": {}}),
            "name",
            "invalid_name",
        ),
    ] {
        let (status, resp) = saved_post(&app, SHOP, ANNA, &body).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(errors_of(&resp), pairs(&[(field, code)]));
    }
    let many: serde_json::Map<String, Value> =
        (0..60).map(|i| (format!("k{i}"), json!(i))).collect();
    let (status, resp) = saved_post(&app, SHOP, ANNA, &json!({"name": "x", "values": many})).await;
    assert_eq!(status, 422);
    assert_eq!(errors_of(&resp), pairs(&[("values", "too_many")]));

    // Another customer (or shop) cannot delete it; its owner can, once.
    assert_eq!(saved_delete(&app, SHOP, BEN, &id).await, 404);
    assert_eq!(saved_delete(&app, OTHER, ANNA, &id).await, 404);
    assert_eq!(saved_delete(&app, SHOP, ANNA, &id).await, 204);
    assert_eq!(saved_delete(&app, SHOP, ANNA, &id).await, 404);
    assert_eq!(saved_delete(&app, SHOP, ANNA, "not-an-id").await, 404);
    assert_eq!(saved_list(&app, SHOP, ANNA).await.len(), 1);

    // At most 50 per customer.
    for i in 1..50 {
        let (status, _) = saved_post(
            &app,
            SHOP,
            ANNA,
            &json!({"name": format!("n{i}"), "values": {}}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (status, resp) = saved_post(
        &app,
        SHOP,
        ANNA,
        &json!({"name": "one too many", "values": {}}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(resp["errors"][0]["code"], "too_many_saved");
    let (status, _) = saved_post(&app, SHOP, BEN, &json!({"name": "Ben's", "values": {}})).await;
    assert_eq!(status, 201, "the limit is per customer");

    // The merchant view lists them.
    let (status, view) = merchant_view(&app, SHOP, BEN).await;
    assert_eq!(status, 200);
    assert_eq!(view["saved"][0]["name"], "Ben's");
    assert_eq!(view["preferences"]["customer_id"], BEN.to_string());
}

// ---------------------------------------------------------------- compliance

#[tokio::test]
async fn export_contains_and_redaction_erases_preferences_history_and_saved() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for customer in [ANNA, BEN] {
        prefs_ok(
            &app,
            SHOP,
            customer,
            &json!({"sizes": {"tops": "M"}, "interests": ["gifts"], "consent": {"personalization": true}}),
        )
        .await;
        let (status, _) = saved_post(
            &app,
            SHOP,
            customer,
            &json!({"name": "Initials", "product_id": RING, "values": {"engraving": format!("Secret{customer}")}}),
        )
        .await;
        assert_eq!(status, 201);
    }
    app.deliver(&Delivery::new("customers/update", SHOP, &json!({"id": ANNA, "updated_at": "2026-11-02T10:00:00Z", "email_marketing_consent": {"state": "subscribed", "consent_updated_at": "2026-11-02T10:00:00Z"}}))).await;
    // Deliveries of different topics may be processed in any order.
    app.drain().await;
    app.deliver(&Delivery::new(
        "customers/data_request",
        SHOP,
        &json!({"customer": {"id": ANNA}, "orders_requested": [], "data_request": {"id": 77}}),
    ))
    .await;
    app.drain().await;

    let list: Value = app
        .api_get("/api/compliance/requests", SHOP)
        .await
        .json()
        .await
        .unwrap();
    let export = &list["items"][0]["export"];
    assert_eq!(export["customer_id"], ANNA.to_string());
    assert_eq!(export["preferences"]["customer_id"], ANNA.to_string());
    assert_eq!(export["preferences"]["sizes"], json!({"tops": "M"}));
    assert_eq!(export["preferences"]["consent"]["marketing"], true);
    let fields: Vec<&str> = export["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "sizes.tops",
            "interests",
            "consent.personalization",
            "consent.marketing"
        ]
    );
    assert_eq!(
        export["saved"][0]["values"]["engraving"],
        format!("Secret{ANNA}")
    );
    assert!(!export.to_string().contains(&BEN.to_string()));

    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"customer": {"id": ANNA}, "orders_to_redact": []}),
    ))
    .await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
    assert_eq!(
        app.tables_mentioning(&format!("Secret{ANNA}")),
        Vec::<String>::new()
    );
    assert_eq!(merchant_view(&app, SHOP, ANNA).await.0, 404);
    // Ben keeps everything.
    let (status, ben) = merchant_view(&app, SHOP, BEN).await;
    assert_eq!(status, 200);
    assert_eq!(ben["saved"].as_array().unwrap().len(), 1);
    assert_eq!(ben["consent_history"].as_array().unwrap().len(), 3);
    // A late store report about Anna does not bring her back.
    app.deliver(&Delivery::new("customers/update", SHOP, &json!({"id": ANNA, "updated_at": "2026-11-09T10:00:00Z", "email_marketing_consent": {"state": "subscribed", "consent_updated_at": "2026-11-09T10:00:00Z"}}))).await;
    app.drain().await;
    assert_eq!(
        app.tables_mentioning(&ANNA.to_string()),
        Vec::<String>::new()
    );
}
