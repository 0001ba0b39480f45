//! Zero-party questions: the merchant's `/api/questions` (create, edit without losing answers,
//! order, deactivate, delete, distributions), the storefront quiz on `/proxy/questions` (answer,
//! resume, finish, change later, merge of a browser's answers), answers as preferences (consent
//! history, mapped interests and sizes, `for_you`), export and erasure, per-shop isolation and
//! hostile input.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "quiz-shop.myshopify.com";
const OTHER: &str = "other-quiz.myshopify.com";
const ANNA: i64 = 7_710_000_000_000_123; // above 2^53
const BEN: i64 = 7_720_000_000_000_456;

async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    shop: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let resp = app.api_send(method, path, shop, body).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn proxy(
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

fn occasion() -> Value {
    json!({"key": "occasion", "prompt": "What do you shop for most?", "kind": "single", "options": [
        {"key": "gift", "label": "Gifts", "interest": "gifts"},
        {"key": "myself", "label": "Myself"},
        {"key": "deals", "label": "Good deals", "interest": "sale"}]})
}

fn top_size() -> Value {
    json!({"key": "top_size", "prompt": "Your size in tops?", "kind": "single", "options": [
        {"key": "s", "label": "S", "size": {"category": "tops", "size": "S"}},
        {"key": "m", "label": "M", "size": {"category": "tops", "size": "M"}}]})
}

fn style() -> Value {
    json!({"key": "style", "prompt": "Which styles do you like?", "kind": "multiple", "options": [
        {"key": "minimal", "label": "Minimal"},
        {"key": "bold", "label": "Bold"},
        {"key": "vintage", "label": "Vintage"}]})
}

async fn create(app: &TestApp, shop: &str, q: &Value) -> Value {
    let (status, body) = api(app, Method::POST, "/api/questions", shop, Some(q)).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn quiz(app: &TestApp, customer: Option<i64>) -> Value {
    let (status, body) = proxy(app, Method::GET, "/questions", SHOP, customer, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn answer(app: &TestApp, customer: i64, question: &str, options: Value) -> (u16, Value) {
    proxy(
        app,
        Method::PUT,
        &format!("/questions/{question}/answer"),
        SHOP,
        Some(customer),
        Some(&json!({ "options": options })),
    )
    .await
}

async fn prefs(app: &TestApp, customer: i64) -> Value {
    let (status, body) = proxy(app, Method::GET, "/preferences", SHOP, Some(customer), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn customer_view(app: &TestApp, customer: i64) -> Value {
    let (status, body) = api(
        app,
        Method::GET,
        &format!("/api/customers/{customer}/preferences"),
        SHOP,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_merchant_creates_edits_orders_and_deletes_questions() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let q = create(&app, SHOP, &occasion()).await;
    assert_eq!(q["key"], "occasion");
    assert_eq!(q["version"], 1);
    assert_eq!(q["active"], true);
    assert_eq!(q["position"], 0);
    assert_eq!(q["respondents"], 0);
    assert_eq!(q["options"][0]["interest"], "gifts");
    assert!(q["options"][1].get("interest").is_none());
    create(&app, SHOP, &top_size()).await;
    // A third one placed first.
    let mut s = style();
    s["position"] = json!(0);
    create(&app, SHOP, &s).await;
    let (status, list) = api(&app, Method::GET, "/api/questions", SHOP, None).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["style", "occasion", "top_size"]);
    assert_eq!(list["next_cursor"], Value::Null);

    // The same key twice is refused.
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(&occasion()),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("key".into(), "duplicate".into())]);

    // Edit: the prompt and a label change, an option is added, the key stays; version 2.
    let (status, body) = api(
        &app,
        Method::PUT,
        "/api/questions/occasion",
        SHOP,
        Some(
            &json!({"prompt": "What brings you here?", "position": 2, "options": [
            {"key": "gift", "label": "A gift", "interest": "gifts"},
            {"key": "myself", "label": "Myself"},
            {"key": "deals", "label": "Good deals", "interest": "sale"},
            {"key": "home", "label": "My home"}]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["prompt"], "What brings you here?");
    assert_eq!(body["position"], 2);
    assert_eq!(body["options"][0]["label"], "A gift");
    let (_, body) = api(&app, Method::GET, "/api/questions/occasion", SHOP, None).await;
    assert_eq!(body["options"].as_array().unwrap().len(), 4);
    // The key cannot change.
    let (status, body) = api(
        &app,
        Method::PUT,
        "/api/questions/occasion",
        SHOP,
        Some(&json!({"key": "other"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("key".into(), "immutable".into())]);
    // Switched off: kept for the merchant, gone from the storefront.
    let (status, body) = api(
        &app,
        Method::PUT,
        "/api/questions/style",
        SHOP,
        Some(&json!({"active": false})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    let storefront = quiz(&app, None).await;
    let asked: Vec<&str> = storefront["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["key"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["top_size", "occasion"]);
    assert!(
        storefront["questions"][0]["options"][0]
            .get("size")
            .is_none(),
        "mappings stay with the merchant"
    );
    assert_eq!(storefront["logged_in"], false);

    // Delete: 204, then 404.
    let (status, _) = api(&app, Method::DELETE, "/api/questions/style", SHOP, None).await;
    assert_eq!(status, 204);
    let (status, body) = api(&app, Method::DELETE, "/api/questions/style", SHOP, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = api(&app, Method::GET, "/api/questions/style", SHOP, None).await;
    assert_eq!(status, 404);
    let (_, list) = api(&app, Method::GET, "/api/questions", SHOP, None).await;
    let positions: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1], "numbered again after the delete");

    // Without a session token: 401.
    let resp = app
        .client
        .get(app.url("/api/questions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn bad_question_definitions_are_a_422_naming_each_path() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(&json!({
            "key": "Fit?", "prompt": "x".repeat(201), "kind": "ranking", "colour": "red",
            "options": [
                {"key": "a", "label": "A", "interest": "yachts"},
                {"key": "a", "label": "a"},
                {"key": "c", "label": "C", "size": {"category": "hats", "size": "58"}},
                {"key": "d", "label": ""},
                7
            ]
        })),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let got = codes(&body);
    for want in [
        ("colour", "unknown_field"),
        ("key", "invalid_key"),
        ("prompt", "too_long"),
        ("kind", "invalid_kind"),
        ("options[1].key", "duplicate"),
        ("options[3].label", "required"),
        ("options[4]", "invalid_type"),
    ] {
        assert!(
            got.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {got:?}"
        );
    }
    // Shape fine, mappings against the preference center.
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(
            &json!({"key": "fit", "prompt": "Fit?", "kind": "multiple", "options": [
            {"key": "a", "label": "A", "interest": "yachts"},
            {"key": "b", "label": "B", "size": {"category": "tops", "size": "M"}}]}),
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        codes(&body),
        [
            ("options[0].interest".into(), "unknown_interest".into()),
            ("options[1].size".into(), "size_needs_single_choice".into())
        ]
    );
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(
            &json!({"key": "fit", "prompt": "Fit?", "kind": "single", "options": [
            {"key": "a", "label": "A", "size": {"category": "hats", "size": "M"}},
            {"key": "b", "label": "B", "size": {"category": "tops", "size": "XXXL"}}]}),
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        codes(&body),
        [
            ("options[0].size.category".into(), "unknown_category".into()),
            ("options[1].size.size".into(), "unknown_size".into())
        ]
    );
    // Limits: options 2..20, questions at most 50.
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"key": format!("o{i}"), "label": format!("O{i}")}))
        .collect();
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(&json!({"key": "big", "prompt": "Big?", "kind": "single", "options": many})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("options".into(), "too_many".into())]);
    for i in 0..50 {
        create(
            &app,
            SHOP,
            &json!({"key": format!("q{i}"), "prompt": "?", "kind": "single", "options": [
                {"key": "y", "label": "Yes"}, {"key": "n", "label": "No"}]}),
        )
        .await;
    }
    let (status, body) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(
            &json!({"key": "q50", "prompt": "?", "kind": "single", "options": [
            {"key": "y", "label": "Yes"}, {"key": "n", "label": "No"}]}),
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("".into(), "too_many_questions".into())]);
    // Not JSON, not an object, a NUL character: 4xx with the error JSON, never a 5xx.
    let resp = app
        .client
        .post(app.url("/api/questions"))
        .bearer_auth(app.session_token(SHOP))
        .header("Content-Type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["code"].is_string());
    let (status, _) = api(
        &app,
        Method::POST,
        "/api/questions",
        SHOP,
        Some(&json!([1])),
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = api(
        &app,
        Method::PUT,
        "/api/questions/q1",
        SHOP,
        Some(&json!({"prompt": "a\u{0}b"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body)[0].1, "invalid_character");
    for (path, want) in [
        ("/api/questions/%00", 400),
        ("/api/questions/Q!", 404),
        ("/api/questions/a%2Fb/distribution", 404),
    ] {
        let (status, body) = api(&app, Method::GET, path, SHOP, None).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"]["code"].is_string());
    }
}

#[tokio::test]
async fn the_quiz_saves_as_the_shopper_goes_and_resumes_at_the_first_unanswered() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for q in [occasion(), top_size(), style()] {
        create(&app, SHOP, &q).await;
    }
    let fresh = quiz(&app, Some(ANNA)).await;
    assert_eq!(fresh["total"], 3);
    assert_eq!(fresh["answered"], 0);
    assert_eq!(fresh["next"], "occasion");
    assert_eq!(fresh["logged_in"], true);
    assert_eq!(fresh["consent"]["personalization"], false);
    assert!(fresh["consent"]["text"].is_string());

    let (status, body) = answer(&app, ANNA, "occasion", json!(["gift"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["answered"], 1);
    assert_eq!(body["next"], "top_size");
    // Coming back (a reload): the answers are there and it resumes at the second question.
    let again = quiz(&app, Some(ANNA)).await;
    assert_eq!(again["answers"]["occasion"], json!(["gift"]));
    assert_eq!(again["next"], "top_size");
    // Answering out of order still resumes at the first unanswered one.
    let (status, body) = answer(&app, ANNA, "style", json!(["vintage", "minimal"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["answers"]["style"],
        json!(["minimal", "vintage"]),
        "the question's order"
    );
    assert_eq!(body["next"], "top_size");
    let (_, body) = answer(&app, ANNA, "top_size", json!(["m"])).await;
    assert_eq!(body["answered"], 3);
    assert_eq!(body["next"], Value::Null, "finished");
    assert_eq!(
        quiz(&app, Some(BEN)).await["answered"],
        0,
        "Ben's are his own"
    );

    // Bad answers: named, nothing changes.
    let (status, body) = answer(&app, ANNA, "occasion", json!(["gift", "deals"])).await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("options".into(), "single_choice".into())]);
    let (status, body) = answer(&app, ANNA, "style", json!(["bold", "punk", 3, "bold"])).await;
    assert_eq!(status, 422);
    assert_eq!(
        codes(&body),
        [
            ("options[2]".into(), "invalid_type".into()),
            ("options[3]".into(), "duplicate".into())
        ]
    );
    let (status, body) = answer(&app, ANNA, "style", json!(["bold", "punk"])).await;
    assert_eq!(status, 422);
    assert_eq!(
        codes(&body),
        [("options[1]".into(), "unknown_option".into())]
    );
    let (status, body) = answer(&app, ANNA, "style", json!([])).await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("options".into(), "required".into())]);
    let (status, body) = answer(&app, ANNA, "nope", json!(["a"])).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        quiz(&app, Some(ANNA)).await["answers"]["style"],
        json!(["minimal", "vintage"])
    );

    // Anonymous: the questions, no answers; saving is the browser's job (401 tells it so).
    let anon = quiz(&app, None).await;
    assert_eq!(anon["logged_in"], false);
    assert_eq!(anon["answers"], json!({}));
    assert!(anon.get("consent").is_none());
    let (status, body) = proxy(
        &app,
        Method::PUT,
        "/questions/occasion/answer",
        SHOP,
        None,
        Some(&json!({"options": ["gift"]})),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "not_logged_in");
    // A forged signature: 401.
    let resp = app
        .client
        .get(app.url(&format!(
            "/proxy/questions?{}",
            proxy_query(SHOP, Some(ANNA), now(), "not-the-secret")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Editing the question keeps the answer (stable option keys).
    let (status, _) = api(
        &app,
        Method::PUT,
        "/api/questions/style",
        SHOP,
        Some(&json!({"prompt": "Your styles?", "options": [
            {"key": "vintage", "label": "Vintage & retro"},
            {"key": "minimal", "label": "Minimalist"},
            {"key": "bold", "label": "Bold"}]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        quiz(&app, Some(ANNA)).await["answers"]["style"],
        json!(["vintage", "minimal"])
    );
}

#[tokio::test]
async fn answers_are_preferences_with_history_and_mapped_values_editable_later() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for q in [occasion(), top_size()] {
        create(&app, SHOP, &q).await;
    }
    // Anna already likes new arrivals.
    let (status, _) = proxy(
        &app,
        Method::PUT,
        "/preferences",
        SHOP,
        Some(ANNA),
        Some(&json!({"interests": ["new_arrivals"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer(&app, ANNA, "occasion", json!(["gift"])).await.0, 200);
    assert_eq!(answer(&app, ANNA, "top_size", json!(["m"])).await.0, 200);
    let p = prefs(&app, ANNA).await;
    assert_eq!(p["interests"], json!(["new_arrivals", "gifts"]));
    assert_eq!(p["sizes"]["tops"], "M");

    // Changed later (as the preference center block does): the earlier mapping is taken back.
    assert_eq!(
        answer(&app, ANNA, "occasion", json!(["deals"])).await.0,
        200
    );
    assert_eq!(
        answer(&app, ANNA, "occasion", json!(["deals"])).await.0,
        200,
        "same again"
    );
    let p = prefs(&app, ANNA).await;
    assert_eq!(p["interests"], json!(["new_arrivals", "sale"]));
    // Taken back altogether: the size the answer set goes with it.
    let (status, _) = proxy(
        &app,
        Method::DELETE,
        "/questions/top_size/answer",
        SHOP,
        Some(ANNA),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let p = prefs(&app, ANNA).await;
    assert!(p["sizes"].get("tops").is_none(), "{p}");
    assert_eq!(quiz(&app, Some(ANNA)).await["next"], "top_size");

    // One history, oldest first: the answers and what they changed, each with its source.
    let view = customer_view(&app, ANNA).await;
    let history: Vec<(String, Value, Value)> = view["consent_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["source"] == "storefront")
        .map(|h| {
            (
                h["field"].as_str().unwrap().to_owned(),
                h["old"].clone(),
                h["new"].clone(),
            )
        })
        .collect();
    let fields: Vec<&str> = history.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(
        fields,
        [
            "interests",
            "answers.occasion",
            "interests",
            "answers.top_size",
            "sizes.tops",
            "answers.occasion",
            "interests",
            "answers.top_size",
            "sizes.tops"
        ]
    );
    assert_eq!(history[5].1, json!(["gift"]));
    assert_eq!(history[5].2, json!(["deals"]));
    assert_eq!(history[7].2, json!([]));
    // The merchant's customer view shows the answers with prompts and labels.
    assert_eq!(view["answers"][0]["question"], "occasion");
    assert_eq!(view["answers"][0]["prompt"], "What do you shop for most?");
    assert_eq!(
        view["answers"][0]["options"],
        json!([{"key": "deals", "label": "Good deals"}])
    );

    // A Ben who only answered a question is known to the merchant.
    assert_eq!(
        answer(&app, BEN, "occasion", json!(["myself"])).await.0,
        200
    );
    let view = customer_view(&app, BEN).await;
    assert_eq!(view["answers"][0]["options"][0]["key"], "myself");
    assert_eq!(
        view["preferences"]["interests"],
        json!([]),
        "an unmapped option sets nothing"
    );
}

#[tokio::test]
async fn a_browsers_answers_are_merged_on_login_without_overwriting_the_account() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for q in [occasion(), top_size(), style()] {
        create(&app, SHOP, &q).await;
    }
    assert_eq!(
        answer(&app, ANNA, "occasion", json!(["myself"])).await.0,
        200
    );
    let (status, body) = proxy(
        &app,
        Method::POST,
        "/questions/merge",
        SHOP,
        Some(ANNA),
        Some(&json!({"answers": {
            "occasion": ["gift"], "top_size": ["s"], "style": ["bold", "nope"], "gone": ["x"]
        }})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["answers"]["occasion"],
        json!(["myself"]),
        "the account's answer stays"
    );
    assert_eq!(body["answers"]["top_size"], json!(["s"]));
    assert!(body["answers"].get("style").is_none());
    let mut skipped: Vec<(String, String)> = body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["question"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("gone".into(), "unknown_question".into()),
            ("occasion".into(), "already_answered".into()),
            ("style".into(), "invalid_answer".into())
        ]
    );
    assert_eq!(body["next"], "style");
    assert_eq!(prefs(&app, ANNA).await["sizes"]["tops"], "S");
    // Hostile merges: 4xx with the error JSON.
    for bad in [
        json!({"answers": ["gift"]}),
        json!({"answers": {"occasion": "gift"}}),
        json!({"answers": {}, "extra": 1}),
        json!({}),
    ] {
        let (status, body) = proxy(
            &app,
            Method::POST,
            "/questions/merge",
            SHOP,
            Some(ANNA),
            Some(&bad),
        )
        .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(!codes(&body).is_empty());
    }
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("q{i}"), json!(["a"]))).collect();
    let (status, body) = proxy(
        &app,
        Method::POST,
        "/questions/merge",
        SHOP,
        Some(ANNA),
        Some(&json!({ "answers": many })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(codes(&body), [("answers".into(), "too_many".into())]);
    let (status, _) = proxy(
        &app,
        Method::POST,
        "/questions/merge",
        SHOP,
        None,
        Some(&json!({"answers": {}})),
    )
    .await;
    assert_eq!(status, 401);
}

fn product(id: i64, tags: &str) -> Value {
    json!({
        "id": id, "title": format!("Product {id}"), "handle": format!("p-{id}"), "vendor": "Acme",
        "product_type": "Home", "status": "active", "published_at": "2026-10-01T00:00:00Z", "tags": tags,
        "updated_at": "2026-11-01T10:00:00Z",
        "variants": [{"id": id * 100 + 1, "title": "Default", "price": "20.00", "inventory_quantity": 5, "inventory_policy": "deny", "position": 1}]
    })
}

async fn for_you(app: &TestApp, customer: Option<i64>) -> Vec<i64> {
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

#[tokio::test]
async fn mapped_and_unmapped_answers_move_for_you_only_with_consent() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for (id, tags) in [
        (1, ""),
        (2, ""),
        (3, "gifts"),
        (4, "style:minimal"),
        (5, ""),
    ] {
        app.deliver(&Delivery::new("products/create", SHOP, &product(id, tags)))
            .await;
    }
    // 1 and 2 are the best sellers; 3, 4 and 5 sold once each.
    for (order, basket) in [
        (1, vec![1, 2]),
        (2, vec![1, 2]),
        (3, vec![1, 5]),
        (4, vec![2]),
        (5, vec![3]),
        (6, vec![4]),
    ] {
        let lines: Vec<(i64, i64, i64, &str)> = basket
            .iter()
            .enumerate()
            .map(|(i, p)| (order * 100 + i as i64, *p, 1, "20.00"))
            .collect();
        app.deliver(&Delivery::new(
            "orders/create",
            SHOP,
            &order_payload(order, None, "2026-11-01T10:00:00-05:00", &lines),
        ))
        .await;
    }
    app.drain().await;
    create(&app, SHOP, &occasion()).await;
    create(&app, SHOP, &style()).await;
    let anonymous = for_you(&app, None).await;
    assert_ne!(anonymous[0], 3);
    assert_ne!(anonymous[0], 4);

    assert_eq!(answer(&app, ANNA, "occasion", json!(["gift"])).await.0, 200);
    assert_eq!(
        for_you(&app, Some(ANNA)).await,
        anonymous,
        "without personalization consent nothing of the shopper is used"
    );
    let (status, _) = proxy(
        &app,
        Method::PUT,
        "/preferences",
        SHOP,
        Some(ANNA),
        Some(&json!({"consent": {"personalization": true}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        quiz(&app, Some(ANNA)).await["consent"]["personalization"],
        true
    );
    let personal = for_you(&app, Some(ANNA)).await;
    assert_eq!(
        personal[0], 3,
        "the mapped interest (gifts) leads: {personal:?}"
    );
    // An unmapped answer is a taste signal: products tagged style:minimal are lifted too.
    assert_eq!(answer(&app, ANNA, "style", json!(["minimal"])).await.0, 200);
    let personal = for_you(&app, Some(ANNA)).await;
    let lifted: Vec<i64> = personal.iter().take(2).copied().collect();
    assert!(lifted.contains(&3) && lifted.contains(&4), "{personal:?}");
    // Changed to an option that lifts nothing: back to the data alone for that tag.
    assert_eq!(answer(&app, ANNA, "style", json!(["bold"])).await.0, 200);
    let personal = for_you(&app, Some(ANNA)).await;
    assert_eq!(personal[0], 3);
    assert_ne!(personal[1], 4, "{personal:?}");
}

#[tokio::test]
async fn the_merchant_sees_answer_distributions_per_option() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    create(&app, SHOP, &occasion()).await;
    create(&app, SHOP, &style()).await;
    for (customer, occ, styles) in [
        (ANNA, "gift", vec!["minimal", "bold"]),
        (BEN, "gift", vec!["minimal"]),
        (31, "deals", vec!["vintage"]),
        (32, "myself", vec!["minimal"]),
    ] {
        assert_eq!(
            answer(&app, customer, "occasion", json!([occ])).await.0,
            200
        );
        assert_eq!(answer(&app, customer, "style", json!(styles)).await.0, 200);
    }
    let (status, d) = api(
        &app,
        Method::GET,
        "/api/questions/occasion/distribution",
        SHOP,
        None,
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["respondents"], 4);
    assert_eq!(d["kind"], "single");
    let rows: Vec<(String, i64, f64)> = d["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["key"].as_str().unwrap().to_owned(),
                o["count"].as_i64().unwrap(),
                o["share"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("gift".into(), 2, 0.5),
            ("myself".into(), 1, 0.25),
            ("deals".into(), 1, 0.25)
        ]
    );
    assert_eq!(d["options"][0]["label"], "Gifts");
    assert!(!d.to_string().contains(&ANNA.to_string()), "counts only");
    let (_, d) = api(
        &app,
        Method::GET,
        "/api/questions/style/distribution",
        SHOP,
        None,
    )
    .await;
    assert_eq!(d["respondents"], 4);
    let counts: Vec<i64> = d["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [3, 1, 1], "minimal, bold, vintage");
    assert_eq!(d["options"][0]["share"], 0.75);
    // Ben changes his mind: counted once, under his new answer.
    assert_eq!(answer(&app, BEN, "occasion", json!(["deals"])).await.0, 200);
    let (_, d) = api(
        &app,
        Method::GET,
        "/api/questions/occasion/distribution",
        SHOP,
        None,
    )
    .await;
    assert_eq!(d["respondents"], 4);
    assert_eq!(d["options"][0]["count"], 1);
    assert_eq!(d["options"][2]["count"], 2);
    // An option removed from the question: its earlier answers show as retired.
    let (status, _) = api(
        &app,
        Method::PUT,
        "/api/questions/style",
        SHOP,
        Some(&json!({"options": [{"key": "minimal", "label": "Minimal"}, {"key": "bold", "label": "Bold"}]})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, d) = api(
        &app,
        Method::GET,
        "/api/questions/style/distribution",
        SHOP,
        None,
    )
    .await;
    assert_eq!(d["options"].as_array().unwrap().len(), 2);
    assert_eq!(
        d["retired"],
        json!([{"key": "vintage", "label": null, "count": 1, "share": 0.25}])
    );
    // The list shows respondents per question.
    let (_, list) = api(&app, Method::GET, "/api/questions", SHOP, None).await;
    assert_eq!(list["items"][0]["respondents"], 4);
    // Customer 31 no longer has a current answer to style: resumes there.
    let q = {
        let (_, body) = proxy(&app, Method::GET, "/questions", SHOP, Some(31), None).await;
        body
    };
    assert_eq!(q["next"], "style");
    let (status, _) = api(
        &app,
        Method::GET,
        "/api/questions/nope/distribution",
        SHOP,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn shops_never_see_each_others_questions_or_answers() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    app.install(OTHER).await;
    create(&app, SHOP, &occasion()).await;
    assert_eq!(answer(&app, ANNA, "occasion", json!(["gift"])).await.0, 200);

    let (_, list) = api(&app, Method::GET, "/api/questions", OTHER, None).await;
    assert_eq!(list["items"], json!([]));
    for (method, path) in [
        (Method::GET, "/api/questions/occasion"),
        (Method::GET, "/api/questions/occasion/distribution"),
        (Method::DELETE, "/api/questions/occasion"),
    ] {
        let (status, _) = api(&app, method, path, OTHER, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = api(
        &app,
        Method::PUT,
        "/api/questions/occasion",
        OTHER,
        Some(&json!({"prompt": "Hijacked"})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, body) = proxy(&app, Method::GET, "/questions", OTHER, Some(ANNA), None).await;
    assert_eq!(body["questions"], json!([]));
    assert_eq!(body["answers"], json!({}));
    let (status, _) = proxy(
        &app,
        Method::PUT,
        "/questions/occasion/answer",
        OTHER,
        Some(ANNA),
        Some(&json!({"options": ["gift"]})),
    )
    .await;
    assert_eq!(status, 404);
    // The same key in the other shop is its own question.
    create(&app, OTHER, &occasion()).await;
    let (_, d) = api(
        &app,
        Method::GET,
        "/api/questions/occasion/distribution",
        OTHER,
        None,
    )
    .await;
    assert_eq!(d["respondents"], 0);
    let (_, d) = api(&app, Method::GET, "/api/questions/occasion", SHOP, None).await;
    assert_eq!(d["prompt"], "What do you shop for most?");
}

#[tokio::test]
async fn answers_are_exported_and_erased_with_the_customer_and_the_shop() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    create(&app, SHOP, &occasion()).await;
    create(&app, SHOP, &style()).await;
    assert_eq!(answer(&app, ANNA, "occasion", json!(["gift"])).await.0, 200);
    assert_eq!(
        answer(&app, ANNA, "style", json!(["bold", "vintage"]))
            .await
            .0,
        200
    );
    assert_eq!(answer(&app, BEN, "style", json!(["minimal"])).await.0, 200);

    app.deliver(&Delivery::new(
        "customers/data_request",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP, "orders_requested": [],
                "customer": {"id": ANNA}, "data_request": {"id": 7}}),
    ))
    .await;
    app.drain().await;
    let (_, list) = api(&app, Method::GET, "/api/compliance/requests", SHOP, None).await;
    let export = &list["items"][0]["export"];
    assert_eq!(
        export["quiz_answers"],
        json!([
            {"question": "occasion", "prompt": "What do you shop for most?",
             "options": [{"key": "gift", "label": "Gifts"}], "answered_at": export["quiz_answers"][0]["answered_at"]},
            {"question": "style", "prompt": "Which styles do you like?",
             "options": [{"key": "bold", "label": "Bold"}, {"key": "vintage", "label": "Vintage"}],
             "answered_at": export["quiz_answers"][1]["answered_at"]}
        ])
    );
    assert!(
        export["consent_history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["field"] == "answers.style")
    );
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
    assert_eq!(quiz(&app, Some(ANNA)).await["answered"], 0);
    assert_eq!(quiz(&app, Some(BEN)).await["answered"], 1, "Ben keeps his");

    // Deleting a question takes its answers with it.
    assert_eq!(app.table_count("quiz_answers"), 1);
    let (status, _) = api(&app, Method::DELETE, "/api/questions/style", SHOP, None).await;
    assert_eq!(status, 204);
    assert_eq!(app.table_count("quiz_answers"), 0);

    // shop/redact erases the questions too.
    assert_eq!(answer(&app, BEN, "occasion", json!(["gift"])).await.0, 200);
    app.deliver(&Delivery::new("app/uninstalled", SHOP, &json!({"id": 1})))
        .await;
    app.drain().await;
    app.deliver(&Delivery::new(
        "shop/redact",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP}),
    ))
    .await;
    app.drain().await;
    assert_eq!(app.table_count("quiz_questions"), 0);
    assert_eq!(app.table_count("quiz_answers"), 0);
}
