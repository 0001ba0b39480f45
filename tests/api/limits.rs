//! What one visitor may send, what a shop may store, how long events are kept, what a panic
//! while applying does to its neighbours, and a rotation of TOKEN_ENCRYPTION_KEY.

use std::collections::HashMap;

use atelier::config::Settings;
use atelier::startup::Application;
use base64::Engine;
use serde_json::{Value, json};

use atelier::state::AppState;

use crate::helpers::*;

const SHOP: &str = "limits-co.myshopify.com";

async fn event(app: &TestApp, from: &str, customer: Option<i64>, session: &str) -> u16 {
    app.client
        .post(app.proxy_url("/events", SHOP, customer))
        .header("x-forwarded-for", from)
        .json(&json!({"type": "view", "product_id": "1001", "session_id": session}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_new_session_id_does_not_buy_more_events() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let limit = atelier::routes::proxy::recommendations::EVENTS_PER_MINUTE;
    for i in 0..limit {
        // A fresh session id on every event, as a script pushing a product into trending would.
        assert_eq!(
            event(&app, "203.0.113.7", None, &format!("s{i}")).await,
            204
        );
    }
    let resp = app
        .client
        .post(app.proxy_url("/events", SHOP, None))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"type": "view", "product_id": "1001", "session_id": "another"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // The address the visitor wrote in front of Shopify's entry changes nothing.
    assert_eq!(
        event(&app, "198.51.100.1, 203.0.113.7", None, "x").await,
        429
    );
    // Other visitors are not affected: another address, or a signed-in customer.
    assert_eq!(event(&app, "203.0.113.8", None, "s0").await, 204);
    assert_eq!(event(&app, "203.0.113.7", Some(77), "s0").await, 204);
}

/// One event to the instance on `port` (the app or a sibling on the same database).
async fn event_at(app: &TestApp, port: u16, from: &str) -> u16 {
    app.client
        .post(format!(
            "http://127.0.0.1:{port}/proxy/events?{}",
            proxy_query(SHOP, None, now(), API_SECRET)
        ))
        .header("x-forwarded-for", from)
        .json(&json!({"type": "view", "product_id": "1001", "session_id": "s"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_event_allowance_holds_across_instances() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let sibling = app.spawn_sibling().await;
    let limit = atelier::routes::proxy::recommendations::EVENTS_PER_MINUTE;
    // Alternating between two instances behind a load balancer: each one alone would admit the
    // whole allowance again.
    for i in 0..limit {
        let port = if i % 2 == 0 { app.port } else { sibling };
        assert_eq!(event_at(&app, port, "203.0.113.21").await, 204, "event {i}");
    }
    assert_eq!(event_at(&app, app.port, "203.0.113.21").await, 429);
    assert_eq!(event_at(&app, sibling, "203.0.113.21").await, 429);
    // Another visitor still has their own allowance on both.
    assert_eq!(event_at(&app, sibling, "203.0.113.22").await, 204);
    assert_eq!(event_at(&app, app.port, "203.0.113.22").await, 204);
    // What is stored names no visitor: a keyed hash per visitor and limit, nothing else.
    let keys: Vec<String> = {
        use atelier::db::schema::visitor_allowances as v;
        use diesel::prelude::*;
        let mut c = app.state.db.conn().unwrap();
        v::table.select(v::client_key).load(&mut *c).unwrap()
    };
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.len() == 32 && !k.contains("203.0.113"))
    );
}

#[tokio::test]
async fn the_upload_allowance_holds_across_instances() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let sibling = app.spawn_sibling().await;
    let send = |port: u16| {
        let part = reqwest::multipart::Part::bytes(png())
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap();
        app.client
            .post(format!(
                "http://127.0.0.1:{port}/proxy/uploads?{}",
                proxy_query(SHOP, None, now(), API_SECRET)
            ))
            .header("x-forwarded-for", "203.0.113.31")
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    for i in 0..atelier::uploads::PER_CLIENT_PER_HOUR {
        let port = if i % 2 == 0 { app.port } else { sibling };
        let resp = send(port).await.unwrap();
        assert_eq!(
            resp.status(),
            201,
            "upload {i}: {}",
            resp.text().await.unwrap()
        );
    }
    for port in [app.port, sibling] {
        let refused = send(port).await.unwrap();
        assert_eq!(refused.status(), 429);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
    }
}

#[tokio::test]
async fn a_shared_window_turns_and_ended_windows_are_deleted() {
    use atelier::db::schema::visitor_allowances as v;
    use atelier::limits::{Allowance, purge_allowances};
    use diesel::prelude::*;
    let app = spawn_app().await;
    let db = &app.state.db;
    let window = std::time::Duration::from_millis(1000);
    // Two instances' allowances: same key, separate memory.
    let a = Allowance::new("test", 64, window, [7u8; 32]);
    let b = Allowance::new("test", 64, window, [7u8; 32]);
    assert!(a.allow(db, &"visitor", 2).await);
    assert!(b.allow(db, &"visitor", 2).await);
    assert!(!a.allow(db, &"visitor", 2).await, "the third across both");
    assert!(!b.allow(db, &"visitor", 2).await);
    assert!(b.allow(db, &"someone else", 2).await);
    let rows = |db: &atelier::db::Db| -> i64 {
        v::table
            .count()
            .get_result(&mut *db.conn().unwrap())
            .unwrap()
    };
    assert_eq!(
        purge_allowances(&mut db.conn().unwrap()).unwrap(),
        0,
        "windows still open"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(b.allow(db, &"visitor", 2).await, "a new window");
    // The visitor's window started again; the other one ended and goes.
    assert_eq!(purge_allowances(&mut db.conn().unwrap()).unwrap(), 1);
    assert_eq!(rows(db), 1);
    assert!(a.allow(db, &"visitor", 2).await);
    assert!(!b.allow(db, &"visitor", 2).await);
}

fn png() -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(4, 4, image::Rgba([200, 30, 30, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(app: &TestApp, from: &str) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(png())
        .file_name("a.png")
        .mime_str("image/png")
        .unwrap();
    app.client
        .post(app.proxy_url("/uploads", SHOP, None))
        .header("x-forwarded-for", from)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_visitor_cannot_use_up_the_shops_uploads() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    for _ in 0..atelier::uploads::PER_CLIENT_PER_HOUR {
        let resp = upload(&app, "203.0.113.9").await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    }
    let refused = upload(&app, "203.0.113.9").await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
    // Everyone else still uploads.
    assert_eq!(upload(&app, "203.0.113.10").await.status(), 201);
}

fn cleaned() -> atelier::uploads::Cleaned {
    atelier::uploads::clean(&png()).unwrap()
}

#[tokio::test]
async fn the_shop_allowance_holds_under_concurrent_uploads() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let shop_id = app.shop_row(SHOP).unwrap().id;
    // Eight uploads at once against an allowance of three: the check and the insert are one
    // step, so exactly three are stored.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (db, shop_id) = (app.state.db.clone(), shop_id.clone());
        tasks.push(tokio::spawn(async move {
            db.run_write(move |c| {
                Ok(atelier::uploads::insert_within_quota(
                    c,
                    &shop_id,
                    cleaned(),
                    3,
                    i64::MAX,
                )?)
            })
            .await
            .unwrap()
        }));
    }
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => stored += 1,
            Err(q) => assert_eq!(q, atelier::uploads::Quota::TooManyThisHour),
        }
    }
    assert_eq!(stored, 3);
    // And the byte allowance: what is stored plus the new image may not pass it.
    let (_, bytes) = {
        let mut c = app.state.db.conn().unwrap();
        atelier::uploads::pending(&mut c, &shop_id).unwrap()
    };
    let mut c = app.state.db.conn().unwrap();
    let full =
        atelier::uploads::insert_within_quota(&mut c, &shop_id, cleaned(), 100, bytes + 1).unwrap();
    assert_eq!(full.unwrap_err(), atelier::uploads::Quota::StorageFull);
}

#[test]
fn a_re_encoding_larger_than_the_limit_is_scaled_down_to_fit() {
    // Noise compresses badly: its lossless re-encoding is far larger than the limit below.
    let mut seed = 7u32;
    let img = image::RgbaImage::from_fn(300, 200, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = seed.to_le_bytes();
        image::Rgba([b[0], b[1], b[2], 255])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    let bytes = bytes.into_inner();
    let limit = 40_000;
    assert!(atelier::uploads::clean(&bytes).unwrap().bytes.len() > limit);
    let small = atelier::uploads::clean_within(&bytes, limit).unwrap();
    assert!(small.bytes.len() <= limit, "{}", small.bytes.len());
    assert!(small.width < 300 && small.height < 200);
    assert_eq!(small.content_type, "image/png");
}

#[tokio::test]
async fn events_past_their_retention_are_deleted_and_recent_ones_kept() {
    use atelier::db::schema::rec_events as e;
    use diesel::prelude::*;
    let app = spawn_app().await;
    app.install(SHOP).await;
    for i in 0..5 {
        assert_eq!(
            event(&app, "203.0.113.20", None, &format!("r{i}")).await,
            204
        );
    }
    let mut c = app.state.db.conn().unwrap();
    let old = atelier::db::now() - time::Duration::days(30);
    let ids: Vec<String> = e::table.select(e::id).limit(3).load(&mut c).unwrap();
    diesel::update(e::table.filter(e::id.eq_any(&ids)))
        .set(e::created_at.eq(old))
        .execute(&mut c)
        .unwrap();
    // Batches of two: the backlog is worked off in several short transactions.
    let deleted = atelier::recommendations::model::purge_events(
        &mut c,
        std::time::Duration::from_secs(7 * 86_400),
        2,
        10,
    )
    .unwrap();
    assert_eq!(deleted, 3);
    let left: i64 = e::table.count().get_result(&mut c).unwrap();
    assert_eq!(left, 2);
}

#[tokio::test]
async fn a_delivery_that_panics_fails_alone() {
    use atelier::inbox::{Hooks, NewEvent, claim, process_batch};
    use atelier::sync::{Outcome, SyncError};
    use diesel::prelude::*;
    let app = spawn_app_with(|v| {
        v.insert("ATELIER_WORKERS".into(), "false".into());
    })
    .await;
    let mut c = app.state.db.conn().unwrap();
    let now = atelier::db::now();
    for webhook in ["w-good-1", "w-poison", "w-good-2"] {
        diesel::insert_into(atelier::db::schema::webhook_inbox::table)
            .values(NewEvent {
                id: atelier::db::new_id(),
                webhook_id: webhook.into(),
                shop_domain: SHOP.into(),
                topic: "products/update".into(),
                api_version: Some("2026-10".into()),
                event_id: None,
                triggered_at: None,
                payload: b"{}".to_vec(),
                received_at: now,
                state: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
            })
            .execute(&mut c)
            .unwrap();
    }
    let events = claim(&mut c, "w", 10, std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(events.len(), 3);
    let apply = |_: &mut atelier::db::DbConnection,
                 e: &atelier::inbox::ClaimedEvent|
     -> Result<Outcome, SyncError> {
        if e.webhook_id == "w-poison" {
            panic!("a bug met by one payload");
        }
        Ok(Outcome::Applied)
    };
    let results = process_batch(&mut c, &apply, Hooks::NONE, &events, "w").unwrap();
    let by_id: HashMap<&str, &Result<Outcome, SyncError>> = events
        .iter()
        .map(|e| e.webhook_id.as_str())
        .zip(&results)
        .collect();
    assert!(matches!(by_id["w-good-1"], Ok(Outcome::Applied)));
    assert!(matches!(by_id["w-good-2"], Ok(Outcome::Applied)));
    assert!(matches!(by_id["w-poison"], Err(SyncError::Permanent(m)) if m.contains("panicked")));
    let rows = app.inbox_rows();
    let state_of = |w: &str| {
        use atelier::db::schema::webhook_inbox as i;
        i::table
            .filter(i::webhook_id.eq(w))
            .select(i::state)
            .first::<String>(&mut app.state.db.conn().unwrap())
            .unwrap()
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(state_of("w-good-1"), "done");
    assert_eq!(state_of("w-good-2"), "done");
    assert_eq!(state_of("w-poison"), "dead");
}

async fn start_on(app: &TestApp, vars: HashMap<String, String>) -> anyhow::Result<AppState> {
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("settings");
    let next = Application::build(settings).await?;
    let state = next.state().clone();
    let _ = app;
    tokio::spawn(next.run_until_stopped());
    Ok(state)
}

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

#[tokio::test]
async fn a_rotated_encryption_key_keeps_tokens_and_tombstones() {
    use atelier::db::schema::shops;
    use diesel::prelude::*;
    let app = spawn_app().await;
    app.install(SHOP).await;
    const ERASED: i64 = 4_400_000_000_001;
    app.deliver(&Delivery::new(
        "customers/redact",
        SHOP,
        &json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": ERASED}, "orders_to_redact": []}),
    ))
    .await;
    app.drain().await;
    let stored_token = |state: &AppState| -> String {
        shops::table
            .filter(shops::domain.eq(SHOP))
            .select(shops::access_token_enc)
            .first::<Option<String>>(&mut state.db.conn().unwrap())
            .unwrap()
            .unwrap()
    };
    let before = stored_token(&app.state);
    let old_key = [42u8; 32];
    assert!(before.starts_with(&format!("v2.{}.", atelier::crypto::key_id(&old_key))));

    // Rotation: the new key, and the old one as previous.
    let mut vars = base_vars(&app.db, &app.store);
    vars.insert("TOKEN_ENCRYPTION_KEY".into(), key(43));
    vars.insert(
        "TOKEN_ENCRYPTION_KEY_PREVIOUS".into(),
        base64::engine::general_purpose::STANDARD.encode(old_key),
    );
    vars.insert("ATELIER_WORKERS".into(), "false".into());
    let rotated = start_on(&app, vars.clone()).await.unwrap();
    let shop = atelier::shops::find_by_domain(&mut rotated.db.conn().unwrap(), SHOP)
        .unwrap()
        .unwrap();
    let token = atelier::jobs::install::access_token(&rotated, &shop)
        .await
        .unwrap();
    assert!(!token.is_empty());
    let after = stored_token(&rotated);
    assert!(
        after.starts_with(&format!("v2.{}.", atelier::crypto::key_id(&[43u8; 32]))),
        "written again under the new key on read: {after}"
    );
    let redacted = |state: &AppState| {
        atelier::customers::is_redacted(&mut state.db.conn().unwrap(), &state.sync, SHOP, ERASED)
            .unwrap()
    };
    assert!(
        redacted(&rotated),
        "the tombstone still matches after the rotation"
    );

    // The previous key retired: everything still reads.
    vars.remove("TOKEN_ENCRYPTION_KEY_PREVIOUS");
    let retired = start_on(&app, vars.clone()).await.unwrap();
    let shop = atelier::shops::find_by_domain(&mut retired.db.conn().unwrap(), SHOP)
        .unwrap()
        .unwrap();
    assert_eq!(
        atelier::jobs::install::access_token(&retired, &shop)
            .await
            .unwrap(),
        token
    );
    assert!(redacted(&retired));

    // A key changed without naming the former one is refused at start, saying why.
    vars.insert("TOKEN_ENCRYPTION_KEY".into(), key(44));
    let refused = start_on(&app, vars)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        refused.contains("TOKEN_ENCRYPTION_KEY_PREVIOUS"),
        "{refused}"
    );
}
