//! Verdicts Shopify's official library (`@shopify/shopify-api`) gives on signed requests, which
//! Atelier must give too: a request one accepts and the other refuses breaks interoperability
//! (or security) in one direction or the other.

use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "candle-co.myshopify.com";

fn upper_case(params: &mut [(String, String)], key: &str) {
    let v = &mut params.iter_mut().find(|(k, _)| k == key).unwrap().1;
    *v = v.to_uppercase();
}

async fn error_code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn upper_case_hex_signatures_are_refused_everywhere() {
    let app = spawn_app().await;

    // OAuth callback: refused before any call to the store.
    let begun = app.begin_install(SHOP).await;
    let mut params = callback_params(SHOP, &begun.state, now());
    upper_case(&mut params, "hmac");
    let resp = app.callback(&begun, &params).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_hmac");
    assert_eq!(app.shop_count(), 0);
    assert!(app.store.requests().is_empty(), "no call to the store");
    // The same callback in lower case installs the shop (the refusal was about the case).
    let params = callback_params(SHOP, &begun.state, now());
    assert_eq!(app.callback(&begun, &params).await.status(), 302);

    // App launch.
    let launch = |upper: bool| {
        let mut params = sign_params(
            vec![
                ("embedded".to_owned(), "1".to_owned()),
                ("shop".to_owned(), SHOP.to_owned()),
                ("timestamp".to_owned(), now().to_string()),
            ],
            API_SECRET,
        );
        if upper {
            upper_case(&mut params, "hmac");
        }
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        format!("/?{q}")
    };
    assert_eq!(app.get(&launch(false)).await.status(), 200);
    let resp = app.get(&launch(true)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_hmac");

    // App proxy `signature`.
    let query = proxy_query(SHOP, Some(7), now(), API_SECRET);
    let (unsigned, signature) = query.rsplit_once("&signature=").unwrap();
    let path = "/proxy/preferences";
    let ok = app.get(&format!("{path}?{query}")).await;
    assert_eq!(ok.status(), 200);
    let upper = format!("{path}?{unsigned}&signature={}", signature.to_uppercase());
    let resp = app.get(&upper).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_signature");
}

#[tokio::test]
async fn a_session_token_whose_audience_is_a_list_is_refused() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let now = now();
    let claims = |aud: Value| {
        json!({
            "iss": format!("https://{SHOP}/admin"), "dest": format!("https://{SHOP}"),
            "aud": aud, "sub": "42", "exp": now + 60, "nbf": now, "iat": now,
            "jti": "6a0e7c2b-0000-4000-8000-000000000000", "sid": "abc",
        })
    };
    let get = |token: String| {
        app.client
            .get(app.url("/api/shop"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        get(jwt(&claims(json!(API_KEY)), API_SECRET))
            .await
            .unwrap()
            .status(),
        200
    );
    for aud in [json!([API_KEY]), json!(["another-app", API_KEY])] {
        let resp = get(jwt(&claims(aud.clone()), API_SECRET)).await.unwrap();
        assert_eq!(resp.status(), 401, "aud {aud}");
        assert_eq!(
            resp.headers()["X-Shopify-Retry-Invalid-Session-Request"],
            "1"
        );
        assert_eq!(error_code(resp).await, "invalid_session_token");
    }
}

#[tokio::test]
async fn a_webhook_without_its_api_version_is_refused_and_not_stored() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let body = serde_json::to_vec(&json!({"id": 1, "title": "Candle"})).unwrap();
    let send = |version: Option<&str>, id: &str| {
        let mut req = app
            .client
            .post(app.url("/webhooks"))
            .header("Content-Type", "application/json")
            .header("X-Shopify-Topic", "products/update")
            .header("X-Shopify-Hmac-Sha256", webhook_hmac(&body, API_SECRET))
            .header("X-Shopify-Shop-Domain", SHOP)
            .header("X-Shopify-Webhook-Id", id)
            .body(body.clone());
        if let Some(v) = version {
            req = req.header("X-Shopify-API-Version", v);
        }
        req.send()
    };
    for (case, version) in [("missing", None), ("empty", Some(""))] {
        let resp = send(version, &format!("no-version-{case}")).await.unwrap();
        assert_eq!(resp.status(), 400, "{case}");
        assert_eq!(error_code(resp).await, "missing_header", "{case}");
    }
    assert!(
        app.inbox_rows().is_empty(),
        "a refused delivery is not stored"
    );
    let resp = send(Some("2026-10"), "with-version").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(app.inbox_rows().len(), 1);
}

#[tokio::test]
async fn a_replayed_callback_reaches_no_store() {
    let app = spawn_app().await;
    let begun = app.begin_install(SHOP).await;
    let params = callback_params(SHOP, &begun.state, now());
    assert_eq!(app.callback(&begun, &params).await.status(), 302);
    let calls = app.store.requests().len();
    assert!(
        calls > 1,
        "the install exchanged the code and registered webhooks"
    );

    // The same signed query and cookie again, well within the timestamp window.
    let resp = app.callback(&begun, &params).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "state_already_used");
    assert_eq!(
        app.store.requests().len(),
        calls,
        "neither the token endpoint nor GraphQL heard of the replay"
    );

    // Copies of one callback sent at once: exactly one goes through.
    let begun = app.begin_install(SHOP).await;
    let params = callback_params(SHOP, &begun.state, now());
    let (a, b) = tokio::join!(app.callback(&begun, &params), app.callback(&begun, &params));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [302, 401]);
    let token_calls = app
        .store
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/oauth/access_token"))
        .count();
    assert_eq!(
        token_calls, 2,
        "one exchange per install, none for the copy"
    );
}

#[tokio::test]
async fn after_a_refused_then_replayed_callback_the_registration_retry_calls_no_store() {
    let app = spawn_app().await;
    // The store refuses the code: the callback is refused and nothing is stored.
    app.store.set_token(TokenBehaviour::Status(
        400,
        json!({"error": "invalid_request", "error_description": "code was already used"}),
    ));
    let begun = app.begin_install(SHOP).await;
    let params = callback_params(SHOP, &begun.state, now());
    let resp = app.callback(&begun, &params).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "oauth_code_rejected");
    let calls = app.store.requests().len();

    // The same callback replayed while the store would now grant a token (and its GraphQL API
    // fails, so a registration would be left for the periodic retry).
    app.store.set_token(TokenBehaviour::Grant {
        token: STORE_TOKEN.into(),
        scope: "read_products,read_orders,read_customers".into(),
    });
    app.store.set_graphql_status(500);
    let resp = app.callback(&begun, &params).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "state_already_used");
    assert_eq!(app.shop_count(), 0, "nothing stored");

    app.store.set_graphql_status(200);
    assert_eq!(
        atelier::jobs::install::retry_pending_registrations(&app.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.store.requests().len(),
        calls,
        "no call to the store after the refusal, GraphQL included"
    );
}
