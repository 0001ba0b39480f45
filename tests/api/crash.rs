//! Crash recovery with the real binary: kill -9 while the inbox is being drained, restart, and
//! every event is applied exactly once. Also: SIGTERM stops the server gracefully.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::helpers::*;
use atelier::db::schema::{order_line_items, orders, webhook_inbox};

const SHOP: &str = "candle-co.myshopify.com";

fn start(db: &TestDb, store: &FakeStore, port: u16, extra: &[(&str, &str)]) -> Child {
    let mut vars = base_vars(db, store);
    vars.insert("BIND_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("ATELIER_INBOX_LEASE_SECS".into(), "2".into());
    vars.insert("RUST_LOG".into(), "warn".into());
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .envs(vars)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on {port} did not become healthy");
}

fn count_state(db: &atelier::db::Db, state: &str) -> i64 {
    let mut c = db.conn().unwrap();
    webhook_inbox::table
        .filter(webhook_inbox::state.eq(state))
        .count()
        .get_result(&mut *c)
        .unwrap()
}

#[tokio::test]
async fn killed_mid_queue_then_restarted_applies_every_event_once() {
    init();
    let store = FakeStore::start().await;
    let db = TestDb::new();
    let handle = atelier::db::Db::connect(&db.url, 2).unwrap();
    {
        let grant = atelier::shopify::AccessGrant {
            access_token: atelier::config::Secret::new("shpat_x"),
            scope: "read_orders".into(),
            expires_in: None,
            refresh_token: None,
            refresh_token_expires_in: None,
        };
        let cipher = atelier::crypto::TokenCipher::new(&[42u8; 32]);
        let domain = atelier::shopify::ShopDomain::parse(SHOP).unwrap();
        atelier::shops::save_grant(&mut handle.conn().unwrap(), &cipher, &domain, &grant).unwrap();
    }
    let client = reqwest::Client::new();

    // First process takes the deliveries (workers off: everything stays pending).
    let port = free_port();
    let mut intake = start(&db, &store, port, &[("ATELIER_WORKERS", "false")]);
    wait_healthy(&client, port).await;
    const N: i64 = 150;
    for i in 0..N {
        let body = serde_json::to_vec(&order_payload(
            1_000 + i,
            Some(77),
            "2026-11-01T10:00:00Z",
            &[
                (50_000 + 2 * i, 42, 1, "10.00"),
                (50_001 + 2 * i, 43, 2, "5.00"),
            ],
        ))
        .unwrap();
        let resp = client
            .post(format!("http://127.0.0.1:{port}/webhooks"))
            .header("X-Shopify-Topic", "orders/create")
            .header("X-Shopify-Hmac-Sha256", webhook_hmac(&body, API_SECRET))
            .header("X-Shopify-Shop-Domain", SHOP)
            .header("X-Shopify-Webhook-Id", format!("crash-{i}"))
            .header("X-Shopify-API-Version", "2026-10")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    intake.kill().unwrap();
    intake.wait().unwrap();
    assert_eq!(
        count_state(&handle, "pending"),
        N,
        "all stored before their 200"
    );

    // Second process drains slowly and is killed with work claimed and in flight.
    let port = free_port();
    let mut first = start(
        &db,
        &store,
        port,
        &[
            ("ATELIER_WORKER_THROTTLE_MS", "15"),
            ("ATELIER_INBOX_WORKERS", "2"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while count_state(&handle, "done") < 10 {
        assert!(Instant::now() < deadline, "first process made no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap(); // SIGKILL: no shutdown code runs
    first.wait().unwrap();
    let done_at_kill = count_state(&handle, "done");
    assert!(
        done_at_kill < N,
        "the kill must land mid-queue ({done_at_kill} done)"
    );
    assert!(
        count_state(&handle, "processing") > 0,
        "some events were claimed when the process died"
    );

    // Third process: takes over the expired leases and the rest.
    let port = free_port();
    let mut second = start(&db, &store, port, &[]);
    wait_healthy(&client, port).await;
    drain_db(&handle).await;

    let mut c = handle.conn().unwrap();
    assert_eq!(orders::table.count().get_result::<i64>(&mut *c).unwrap(), N);
    assert_eq!(
        order_line_items::table
            .count()
            .get_result::<i64>(&mut *c)
            .unwrap(),
        2 * N
    );
    let attempts: Vec<(String, i32)> = webhook_inbox::table
        .select((webhook_inbox::state, webhook_inbox::attempts))
        .load(&mut *c)
        .unwrap();
    assert_eq!(attempts.len() as i64, N);
    assert!(
        attempts.iter().all(|(s, _)| s == "done"),
        "every event applied"
    );
    let retried = attempts.iter().filter(|(_, a)| *a == 2).count();
    assert!(attempts.iter().all(|(_, a)| *a <= 2));
    assert!(
        (1..=128).contains(&retried),
        "only the claimed-but-unfinished batches (2 workers × at most 64) were taken over ({retried})"
    );

    // SIGTERM: graceful stop, exit status 0.
    let status = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = second.try_wait().unwrap() {
            assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
