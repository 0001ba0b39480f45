//! Faults, with the real binary: the database going away under webhook load and coming back
//! (PostgreSQL behind a connection-cutting proxy; SQLite on a disk that fills up). While it is
//! gone deliveries get a 503, which Shopify retries; nothing that got a 200 is lost; the service
//! resumes by itself.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;
use atelier::db::schema::{products, webhook_inbox};

const SHOP: &str = "fault-co.myshopify.com";

async fn start(db: &TestDb, store: &FakeStore, database_url: &str) -> (ChildServer, String) {
    let port = free_port();
    let mut vars = base_vars(db, store);
    vars.insert("DATABASE_URL".into(), database_url.to_owned());
    vars.insert("BIND_ADDR".into(), format!("127.0.0.1:{port}"));
    vars.insert("ATELIER_INBOX_LEASE_SECS".into(), "2".into());
    vars.insert("RUST_LOG".into(), "warn".into());
    let log = std::fs::File::create(std::env::temp_dir().join(format!("atelier-fault-{port}.log")))
        .unwrap();
    let server = ChildServer(
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .env_clear()
            .envs(vars)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

async fn deliver_product(client: &reqwest::Client, base: &str, id: i64) -> Result<u16, String> {
    let body = serde_json::to_vec(&json!({
        "id": id, "title": format!("Product {id}"), "status": "active",
        "updated_at": "2026-11-01T10:00:00Z", "variants": [], "tags": ""
    }))
    .unwrap();
    client
        .post(format!("{base}/webhooks"))
        .timeout(Duration::from_secs(15))
        .header("X-Shopify-Topic", "products/update")
        .header("X-Shopify-Hmac-Sha256", webhook_hmac(&body, API_SECRET))
        .header("X-Shopify-Shop-Domain", SHOP)
        .header("X-Shopify-Webhook-Id", format!("fault-{id}"))
        .header("X-Shopify-API-Version", "2026-10")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// Sends a delivery every 40 ms until `stop`; returns `(product id, status)`.
fn keep_delivering(
    base: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(i64, Result<u16, String>)>> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut sent = Vec::new();
        let mut id = 9_000_000;
        while !stop.load(Ordering::Relaxed) {
            id += 1;
            let (c, b) = (client.clone(), base.clone());
            sent.push((
                id,
                tokio::spawn(async move { deliver_product(&c, &b, id).await }),
            ));
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let mut out = Vec::new();
        for (id, h) in sent {
            out.push((id, h.await.unwrap()));
        }
        out
    })
}

/// Waits until the inbox has nothing pending or in flight, then checks that every delivery
/// that got its 200 was applied, and that the outage showed as 503s.
fn check_nothing_lost(url: &str, results: &[(i64, Result<u16, String>)], outage_seen: bool) {
    let db = atelier::db::Db::connect(url, 1).unwrap();
    let mut c = db.conn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let open: i64 = webhook_inbox::table
            .filter(webhook_inbox::state.eq_any(["pending", "processing"]))
            .count()
            .get_result(&mut c)
            .unwrap();
        if open == 0 {
            break;
        }
        if Instant::now() > deadline {
            let rows: Vec<(String, String, i32, Option<String>, time::PrimitiveDateTime)> =
                webhook_inbox::table
                    .filter(webhook_inbox::state.eq_any(["pending", "processing"]))
                    .select((
                        webhook_inbox::webhook_id,
                        webhook_inbox::state,
                        webhook_inbox::attempts,
                        webhook_inbox::last_error,
                        webhook_inbox::next_attempt_at,
                    ))
                    .load(&mut c)
                    .unwrap();
            let rows: Vec<_> = rows.into_iter().take(3).collect();
            panic!(
                "{open} deliveries never applied (now {}): {rows:?}",
                atelier::db::now()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let acknowledged: Vec<i64> = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|s| *s == 200))
        .map(|(id, _)| *id)
        .collect();
    for (id, r) in results {
        match r {
            Ok(200) | Ok(503) => {}
            other => panic!("delivery {id}: {other:?} (only 200 or 503 may answer a fault)"),
        }
    }
    let stored: Vec<i64> = products::table
        .filter(products::product_id.eq_any(&acknowledged))
        .select(products::product_id)
        .load(&mut c)
        .unwrap();
    assert_eq!(
        stored.len(),
        acknowledged.len(),
        "every delivery answered 200 was applied"
    );
    if outage_seen {
        assert!(
            results
                .iter()
                .any(|(_, r)| r.as_ref().is_ok_and(|s| *s == 503)),
            "the outage was answered with 503s"
        );
    }
    let after_outage = results.iter().rev().take(5);
    for (id, r) in after_outage {
        assert_eq!(
            r.as_ref().ok(),
            Some(&200),
            "delivery {id} after the fault ended"
        );
    }
}

/// A TCP proxy to PostgreSQL that can cut every connection and refuse new ones, as a server
/// restart does.
struct CuttingProxy {
    port: u16,
    down: Arc<AtomicBool>,
    generation: Arc<tokio::sync::watch::Sender<u64>>,
}

impl CuttingProxy {
    /// On a thread and runtime of its own, so nothing the test does can stall its bytes.
    async fn start(upstream: String) -> CuttingProxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = Arc::new(tx);
        let (d, g) = (down.clone(), generation.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    if d.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut cut = g.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            });
        });
        CuttingProxy {
            port,
            down,
            generation,
        }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn postgres_restarting_under_webhook_load_loses_nothing() {
    init();
    let db = TestDb::new();
    if !db.is_postgres() {
        // The SQLite counterpart is the full disk below.
        return;
    }
    let store = FakeStore::start().await;
    seed_installed_shop(&db.url, SHOP, "read_products,read_orders,read_customers");
    let mut via_proxy = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        via_proxy.host_str().unwrap(),
        via_proxy.port().unwrap_or(5432)
    );
    let proxy = CuttingProxy::start(upstream).await;
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.port)).unwrap();
    let (_server, base) = start(&db, &store, via_proxy.as_str()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = keep_delivering(base.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    let results = load.await.unwrap();
    check_nothing_lost(&db.url, &results, true);
}

/// Mounts a small tmpfs for the database (root only; elsewhere the test says so and passes).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir =
            std::env::temp_dir().join(format!("atelier-full-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test]
async fn a_full_disk_refuses_deliveries_clearly_and_recovers() {
    init();
    let db = TestDb::new();
    if db.is_postgres() {
        // The PostgreSQL counterpart is the restart above.
        return;
    }
    let Some(disk) = SmallDisk::mount(24) else {
        eprintln!(
            "a_full_disk_refuses_deliveries_clearly_and_recovers: cannot mount a tmpfs here (not root); not run"
        );
        return;
    };
    let url = format!("sqlite://{}", disk.0.join("atelier.db").display());
    seed_installed_shop(&url, SHOP, "read_products,read_orders,read_customers");
    let store = FakeStore::start().await;
    let (_server, base) = start(&db, &store, &url).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = keep_delivering(base.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Fill what is left of the disk.
    let filler = disk.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let results = load.await.unwrap();
    check_nothing_lost(&url, &results, true);
    // And the file is intact.
    let handle = atelier::db::Db::connect(&url, 1).unwrap();
    let mut c = handle.conn().unwrap();
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut c)
        .unwrap();
    assert_eq!(rows[0].integrity_check, "ok");
}

fn product_node(id: i64) -> serde_json::Value {
    json!({
        "id": format!("gid://shopify/Product/{id}"), "title": format!("Product {id}"), "handle": format!("p-{id}"),
        "productType": "Candles", "vendor": "Acme", "tags": [], "status": "ACTIVE",
        "publishedAt": "2026-10-01T00:00:00Z", "updatedAt": "2026-10-01T00:00:00Z",
        "variants": {"nodes": []}
    })
}

#[tokio::test]
async fn a_throttled_store_is_waited_for_and_the_install_and_backfill_finish() {
    let app = spawn_app().await;
    app.store
        .set_backfill((1..=5).map(product_node).collect(), Vec::new());
    // The first calls of the install meet a 429, a THROTTLED query (50 points missing at 100
    // a second: half a second) and a 503.
    app.store.queue_graphql_faults(vec![
        GraphqlFault::TooManyRequests("1.0"),
        GraphqlFault::Throttled {
            requested: 100.0,
            available: 50.0,
            restore_rate: 100.0,
        },
        GraphqlFault::Status(503),
    ]);
    app.install(SHOP).await;
    let calls = app.store.subscription_calls();
    assert!(calls.len() >= 4, "{} calls", calls.len());
    let gap = |i: usize| calls[i + 1] - calls[i];
    assert!(
        gap(0) >= Duration::from_millis(950),
        "Retry-After was waited for: {:?}",
        gap(0)
    );
    assert!(
        gap(1) >= Duration::from_millis(450),
        "the cost's restore time: {:?}",
        gap(1)
    );
    assert!(
        gap(2) >= Duration::from_millis(400),
        "a backoff after the 503: {:?}",
        gap(2)
    );
    assert_eq!(
        app.store.subscriptions().len(),
        atelier::shopify::WEBHOOK_TOPICS.len(),
        "every topic registered once the store recovered"
    );
    let shop = app.shop_row(SHOP).unwrap();
    assert!(shop.webhooks_registered_at.is_some());
    // The backfill, too, finishes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.table_count("products") < 5 {
        assert!(Instant::now() < deadline, "the backfill did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_store_asking_for_a_long_pause_is_not_hammered() {
    let app = spawn_app().await;
    // A Retry-After beyond what a call may wait: one try, no storm, and the registration is
    // left for the maintenance loop.
    app.store
        .queue_graphql_faults(vec![GraphqlFault::TooManyRequests("120")]);
    app.install(SHOP).await;
    assert!(app.shop_row(SHOP).unwrap().webhooks_registered_at.is_none());
    assert_eq!(app.store.subscription_calls().len(), 1, "one try");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.store.subscription_calls().len(),
        1,
        "nothing retries behind the store's back"
    );
    // Failing 5xx answers are retried a bounded number of times, then given up.
    app.store.queue_graphql_faults(vec![
        GraphqlFault::Status(502);
        atelier::shopify::client::MAX_TRIES as usize
    ]);
    let before = app.store.subscription_calls().len();
    let started = Instant::now();
    assert_eq!(
        atelier::jobs::install::retry_pending_registrations(&app.state)
            .await
            .unwrap(),
        0
    );
    let tries = app.store.subscription_calls().len() - before;
    assert!(
        tries <= atelier::shopify::client::MAX_TRIES as usize,
        "{tries} tries for one call"
    );
    assert!(started.elapsed() <= atelier::shopify::client::RETRY_BUDGET + Duration::from_secs(3));
    // The store recovers (the faults still queued are used up): a later maintenance pass
    // registers everything.
    for _ in 0..10 {
        if app.shop_row(SHOP).unwrap().webhooks_registered_at.is_some() {
            break;
        }
        let _ = atelier::jobs::install::retry_pending_registrations(&app.state).await;
    }
    assert!(app.shop_row(SHOP).unwrap().webhooks_registered_at.is_some());
}
