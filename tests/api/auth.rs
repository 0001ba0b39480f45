//! OAuth install: the whole flow against the fake store, and every failed check
//! storing nothing and calling no store.

use serde_json::json;

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";

#[tokio::test]
async fn begin_redirects_to_the_grant_screen_with_a_signed_state_cookie() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    let url = url::Url::parse(&begun.location).unwrap();
    assert_eq!(
        format!(
            "{}://{}:{}{}",
            url.scheme(),
            url.host_str().unwrap(),
            url.port().unwrap(),
            url.path()
        ),
        format!(
            "http://127.0.0.1:{}/{SHOP}/admin/oauth/authorize",
            app.store.port
        )
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], API_KEY);
    assert_eq!(q["scope"], "read_products,read_orders,read_customers");
    assert_eq!(q["redirect_uri"], format!("{APP_URL}/auth/callback"));
    assert_eq!(q["state"].len(), 64, "32 random bytes, hex");
    assert!(
        begun.cookie.contains("shopify_app_state="),
        "{}",
        begun.cookie
    );
    assert!(begun.cookie.contains("shopify_app_state.sig="));
    // Every install gets its own nonce.
    assert_ne!(app.begin_install(SHOP).await.state, begun.state);
    assert!(app.store.requests().is_empty(), "/auth calls no store");
}

#[tokio::test]
async fn full_install_stores_an_encrypted_token_and_registers_webhooks() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    let resp = app
        .callback(&begun, &callback_params(SHOP, &begun.state, now()))
        .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        format!("https://admin.shopify.com/store/candle-co/apps/{API_KEY}").as_str()
    );

    let requests = app.store.requests();
    let token_req = &requests[0];
    assert_eq!(token_req.path, format!("/{SHOP}/admin/oauth/access_token"));
    assert_eq!(token_req.method, "POST");
    assert_eq!(token_req.body["client_id"], API_KEY);
    assert_eq!(token_req.body["client_secret"], API_SECRET);
    assert_eq!(token_req.body["code"], "0907a61c0c8d55e99db179b68161bc00");

    let graphql: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("/graphql.json"))
        .collect();
    assert!(!graphql.is_empty());
    for r in &graphql {
        assert_eq!(r.path, format!("/{SHOP}/admin/api/2026-10/graphql.json"));
        assert_eq!(r.headers["x-shopify-access-token"], STORE_TOKEN);
    }
    let mut topics: Vec<String> = app
        .store
        .subscriptions()
        .into_iter()
        .map(|(_, t, uri)| {
            assert_eq!(uri, format!("{APP_URL}/webhooks"));
            t
        })
        .collect();
    topics.sort();
    assert_eq!(
        topics,
        [
            "APP_SCOPES_UPDATE",
            "APP_UNINSTALLED",
            "COLLECTIONS_CREATE",
            "COLLECTIONS_DELETE",
            "COLLECTIONS_UPDATE",
            "CUSTOMERS_UPDATE",
            "ORDERS_CANCELLED",
            "ORDERS_CREATE",
            "ORDERS_PAID",
            "ORDERS_UPDATED",
            "PRODUCTS_CREATE",
            "PRODUCTS_DELETE",
            "PRODUCTS_UPDATE"
        ]
    );
    assert!(graphql.iter().all(|r| {
        !r.body["query"]
            .as_str()
            .unwrap()
            .contains("CUSTOMERS_REDACT")
    }));

    let shop = app.shop_row(SHOP).expect("shop stored");
    assert!(shop.installed);
    assert!(shop.installed_at.is_some());
    assert!(shop.webhooks_registered_at.is_some());
    let stored = shop.access_token_enc.clone().unwrap();
    assert!(
        !stored.contains(STORE_TOKEN),
        "token must not be stored in clear"
    );
    assert!(!stored.contains("shpat"));
    assert_eq!(
        app.state.cipher.decrypt(&stored, SHOP).unwrap(),
        STORE_TOKEN
    );

    // The removal of the state cookie comes with the redirect.
    let api = app.api_get("/api/shop", SHOP).await;
    assert_eq!(api.status(), 200);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["shop"], SHOP);
    assert_eq!(
        body["scopes"],
        json!(["read_products", "read_orders", "read_customers"])
    );
    assert!(body["installed_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["counts"].is_object());
}

#[tokio::test]
async fn reinstall_keeps_one_row_and_does_not_duplicate_subscriptions() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let first = app.shop_row(SHOP).unwrap();
    app.store.set_token(TokenBehaviour::Grant {
        token: "shpat_second".into(),
        scope: "write_products,read_orders,read_customers".into(),
    });
    app.install(SHOP).await;
    assert_eq!(app.shop_count(), 1);
    let second = app.shop_row(SHOP).unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(
        second.installed_at, first.installed_at,
        "still installed: install time kept"
    );
    assert_eq!(
        app.state
            .cipher
            .decrypt(second.access_token_enc.as_ref().unwrap(), SHOP)
            .unwrap(),
        "shpat_second"
    );
    assert_eq!(
        app.store.subscriptions().len(),
        13,
        "existing subscriptions are reused"
    );
}

async fn assert_rejected(app: &TestApp, resp: reqwest::Response, status: u16, code: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    assert_eq!(app.shop_count(), 0, "a failed check stores nothing");
}

fn no_token_call(app: &TestApp) {
    assert!(
        app.store
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("/access_token")),
        "a failed check makes no call to the store"
    );
}

#[tokio::test]
async fn tampered_hmac_is_refused() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    let mut params = callback_params(SHOP, &begun.state, now());
    params.iter_mut().find(|(k, _)| k == "code").unwrap().1 = "attacker-chosen-code".into();
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        401,
        "invalid_hmac",
    )
    .await;

    let mut params = callback_params(SHOP, &begun.state, now());
    params.iter_mut().find(|(k, _)| k == "hmac").unwrap().1 = "0".repeat(64);
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        401,
        "invalid_hmac",
    )
    .await;

    let params = sign_params(
        callback_params(SHOP, &begun.state, now()),
        "another-apps-secret",
    );
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        401,
        "invalid_hmac",
    )
    .await;

    let mut params = callback_params(SHOP, &begun.state, now());
    params.retain(|(k, _)| k != "hmac");
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        400,
        "missing_parameter",
    )
    .await;
    no_token_call(&app);
}

#[tokio::test]
async fn missing_or_wrong_state_cookie_is_refused() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    let params = callback_params(SHOP, &begun.state, now());
    assert_rejected(
        &app,
        app.callback_with_cookie(None, &params).await,
        401,
        "invalid_state",
    )
    .await;

    // The cookie of another install attempt (another browser) does not match this state.
    let other = app.begin_install(SHOP).await;
    assert_rejected(
        &app,
        app.callback_with_cookie(Some(&other.cookie), &params).await,
        401,
        "invalid_state",
    )
    .await;

    // A cookie whose value was edited to this state, without a valid signature.
    let forged = format!(
        "shopify_app_state={}:{SHOP}; shopify_app_state.sig=AAAA",
        begun.state
    );
    assert_rejected(
        &app,
        app.callback_with_cookie(Some(&forged), &params).await,
        401,
        "invalid_state",
    )
    .await;

    // A signed cookie but a state parameter that is not its nonce.
    let wrong_state = callback_params(SHOP, &"f".repeat(64), now());
    assert_rejected(
        &app,
        app.callback(&begun, &wrong_state).await,
        401,
        "invalid_state",
    )
    .await;
    no_token_call(&app);
}

#[tokio::test]
async fn stale_or_future_timestamp_is_refused() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    for ts in [now() - 3600, now() + 3600, now() - 91] {
        let params = callback_params(SHOP, &begun.state, ts);
        assert_rejected(
            &app,
            app.callback(&begun, &params).await,
            401,
            "stale_request",
        )
        .await;
    }
    let mut params = callback_params(SHOP, &begun.state, now());
    params.iter_mut().find(|(k, _)| k == "timestamp").unwrap().1 = "yesterday".into();
    let params = sign_params(params, API_SECRET);
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        400,
        "invalid_timestamp",
    )
    .await;
    no_token_call(&app);
}

#[tokio::test]
async fn callback_for_another_shop_than_the_install_started_for_is_refused() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    // Correctly signed by Shopify for another shop, replayed into this browser's install.
    let params = callback_params("other-shop.myshopify.com", &begun.state, now());
    assert_rejected(
        &app,
        app.callback(&begun, &params).await,
        401,
        "invalid_state",
    )
    .await;
    no_token_call(&app);
}

#[tokio::test]
async fn invalid_shop_domains_are_refused_at_both_steps() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    for bad in [
        "evil.com",
        "a.myshopify.com.evil.com",
        "../",
        "",
        "UPPER.myshopify.com",
        "shop.myshopify.com:8080",
        "shop.myshopify.com/../x",
    ] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("shop", bad)
            .finish();
        let resp = app.get(&format!("/auth?{q}")).await;
        assert_eq!(resp.status(), 400, "/auth shop={bad:?}");
        assert!(resp.headers().get("set-cookie").is_none());
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_shop");

        let params = callback_params(bad, &begun.state, now());
        let resp = app.callback(&begun, &params).await;
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        if bad.is_empty() {
            assert_eq!(
                (status, body["error"]["code"].as_str().unwrap()),
                (400, "missing_parameter")
            );
        } else {
            assert_eq!(
                (status, body["error"]["code"].as_str().unwrap()),
                (400, "invalid_shop"),
                "callback shop={bad:?}"
            );
        }
    }
    assert_eq!(app.get("/auth").await.status(), 400);
    assert_eq!(app.shop_count(), 0);
    assert!(app.store.requests().is_empty());
}

#[tokio::test]
async fn store_refusing_the_code_stores_nothing() {
    let app = spawn_app().await;
    app.store.set_token(TokenBehaviour::Status(
        400,
        json!({"error": "invalid_request", "error_description": "code was already used"}),
    ));
    let begun = app.begin_install(SHOP).await;
    let resp = app
        .callback(&begun, &callback_params(SHOP, &begun.state, now()))
        .await;
    assert_rejected(&app, resp, 400, "oauth_code_rejected").await;
    assert!(
        app.store
            .requests()
            .iter()
            .all(|r| !r.path.ends_with("graphql.json"))
    );
}

#[tokio::test]
async fn store_failing_or_timing_out_stores_nothing() {
    let app = spawn_app().await;
    app.store
        .set_token(TokenBehaviour::Status(500, json!({"errors": "boom"})));
    let begun = app.begin_install(SHOP).await;
    let resp = app
        .callback(&begun, &callback_params(SHOP, &begun.state, now()))
        .await;
    assert_rejected(&app, resp, 502, "store_unavailable").await;

    app.store
        .set_token(TokenBehaviour::Hang(std::time::Duration::from_secs(5)));
    // A state serves one callback, failed or not (Shopify's library deletes its state cookie
    // at the first callback too): the retry starts a new install.
    let begun = app.begin_install(SHOP).await;
    let started = std::time::Instant::now();
    let resp = app
        .callback(&begun, &callback_params(SHOP, &begun.state, now()))
        .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the store timeout applies"
    );
    assert_rejected(&app, resp, 504, "store_timeout").await;
}

#[tokio::test]
async fn granted_scopes_must_cover_the_required_ones() {
    let app = spawn_app().await;
    app.store.set_token(TokenBehaviour::Grant {
        token: STORE_TOKEN.into(),
        scope: "read_products".into(),
    });
    let begun = app.begin_install(SHOP).await;
    let resp = app
        .callback(&begun, &callback_params(SHOP, &begun.state, now()))
        .await;
    assert_rejected(&app, resp, 400, "insufficient_scopes").await;
}

#[tokio::test]
async fn webhook_registration_failure_does_not_undo_the_install() {
    let app = spawn_app().await;
    app.store.set_graphql_status(500);
    app.install(SHOP).await;
    let shop = app.shop_row(SHOP).unwrap();
    assert!(shop.installed);
    assert!(shop.webhooks_registered_at.is_none(), "left for a retry");

    // The periodic retry registers them once the store answers again.
    app.store.set_graphql_status(200);
    assert_eq!(
        atelier::jobs::install::retry_pending_registrations(&app.state)
            .await
            .unwrap(),
        1
    );
    assert!(app.shop_row(SHOP).unwrap().webhooks_registered_at.is_some());
    assert_eq!(app.store.subscriptions().len(), 13);
    assert_eq!(
        atelier::jobs::install::retry_pending_registrations(&app.state)
            .await
            .unwrap(),
        0,
        "nothing left to do"
    );
}

#[tokio::test]
async fn embedded_auth_request_leaves_the_iframe_first() {
    let app = spawn_app().await;
    let resp = app.get(&format!("/auth?shop={SHOP}&embedded=1")).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("set-cookie").is_none(),
        "no third-party cookie"
    );
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains(&format!(
        "frame-ancestors https://{SHOP} https://admin.shopify.com"
    )));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(&format!("\"{APP_URL}/auth?shop={SHOP}\", \"_top\"")),
        "{html}"
    );
    assert!(html.contains("app-bridge.js"));
}

#[tokio::test]
async fn the_app_url_sends_new_shops_to_oauth_and_shows_installed_ones_the_app() {
    let app = spawn_app().await;
    let launch = |embedded: bool| {
        let mut params = vec![
            ("shop".to_owned(), SHOP.to_owned()),
            ("timestamp".to_owned(), now().to_string()),
        ];
        if embedded {
            params.push(("embedded".to_owned(), "1".to_owned()));
        }
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(sign_params(params, API_SECRET))
            .finish();
        format!("/?{q}")
    };
    let resp = app.get(&launch(false)).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"],
        format!("{APP_URL}/auth?shop={SHOP}").as_str()
    );
    let resp = app.get(&launch(true)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains(&format!("\"{APP_URL}/auth?shop={SHOP}\", \"_top\""))
    );

    let forged = launch(false).replace("shop=candle-co", "shop=other-shop");
    assert_eq!(app.get(&forged).await.status(), 401);
    assert_eq!(app.get("/?shop=evil.com").await.status(), 400);

    app.install(SHOP).await;
    let resp = app.get(&launch(true)).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("https://admin.shopify.com")
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains(&format!(
        "<meta name=\"shopify-api-key\" content=\"{API_KEY}\">"
    )));
    // The admin shell: its script asks App Bridge for a session token on every call.
    assert!(
        page.contains(r#"<script src="/admin/assets/admin.js?v="#)
            && page.contains("\" defer></script>"),
        "{page}"
    );
    assert!(
        !page.contains(STORE_TOKEN),
        "the page carries nothing secret"
    );
    assert_eq!(app.get("/").await.status(), 200, "landing page");
}

#[tokio::test]
async fn an_expiring_offline_token_is_refreshed_before_use() {
    let app = spawn_app().await;
    app.store.set_token(TokenBehaviour::Expiring {
        token: "shpat_short_lived".into(),
        refresh: "shprt_first".into(),
    });
    app.install(SHOP).await;

    let requests = app.store.requests();
    let refresh = requests
        .iter()
        .find(|r| r.body["grant_type"] == "refresh_token")
        .expect("the 60-second token is refreshed before webhook registration uses it");
    assert_eq!(refresh.body["refresh_token"], "shprt_first");
    assert_eq!(refresh.body["client_secret"], API_SECRET);
    let graphql: Vec<_> = requests
        .iter()
        .filter(|r| r.path.ends_with("graphql.json"))
        .collect();
    assert!(!graphql.is_empty());
    assert!(
        graphql
            .iter()
            .all(|r| r.headers["x-shopify-access-token"] == "shpat_refreshed")
    );

    let shop = app.shop_row(SHOP).unwrap();
    assert_eq!(
        app.state
            .cipher
            .decrypt(shop.access_token_enc.as_ref().unwrap(), SHOP)
            .unwrap(),
        "shpat_refreshed"
    );
    let refresh_enc = shop.refresh_token_enc.unwrap();
    assert!(
        !refresh_enc.contains("shprt"),
        "refresh token encrypted too"
    );
    assert_eq!(
        app.state.cipher.decrypt(&refresh_enc, SHOP).unwrap(),
        "shprt_second"
    );
    assert!(
        shop.access_token_expires_at.unwrap() > atelier::db::now() + time::Duration::minutes(50)
    );
}
