//! Webhook ingestion load test against the release binary (issue: ≥ 5,000 accepted deliveries/s,
//! p99 ≤ 25 ms at 1,000/s, every accepted event durable and processed).
//!
//!     cargo bench --bench webhook_load                     # SQLite, and PostgreSQL if reachable
//!     BENCH_SECS=10 BENCH_CONNECTIONS=64 cargo bench --bench webhook_load
//!
//! For each backend: a fresh database and shop, the `atelier` binary on a free port, then
//!   1. `/healthz` closed-loop with C connections: the server's own ceiling in this run;
//!   2. signed `orders/create` deliveries (~5 KB, 3 line items, unique webhook ids) closed-loop;
//!   3. the same at a fixed 1,000/s, open-loop (latency from the scheduled send time, so a
//!      stall is not hidden by the generator waiting);
//!   4. the time until the inbox is drained, and a check that every accepted delivery is stored
//!      and applied.

#![recursion_limit = "256"]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SHOP: &str = "bench-shop.myshopify.com";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn order(i: u64) -> Value {
    let address = json!({"first_name": "Anna", "last_name": "Lindqvist", "address1": "Storgatan 12", "address2": null,
        "city": "Uppsala", "zip": "753 20", "province": null, "country": "Sweden", "country_code": "SE", "phone": "+46 70 123 45 67",
        "company": null, "latitude": 59.8586, "longitude": 17.6389, "name": "Anna Lindqvist", "province_code": null});
    let lines: Vec<Value> = (0..3u64).map(|k| {
        let product = 7_000_000_000 + (i * 7 + k * 13) % 500;
        json!({"id": 90_000_000_000 + i * 3 + k, "admin_graphql_api_id": format!("gid://shopify/LineItem/{}", 90_000_000_000 + i * 3 + k),
            "product_id": product, "variant_id": product * 10 + 1, "title": format!("Hand-poured candle {product}"), "variant_title": "Large / Fig",
            "name": format!("Hand-poured candle {product} - Large / Fig"), "sku": format!("CND-{product}-L"), "vendor": "Atelier Demo",
            "quantity": 1 + k, "current_quantity": 1 + k, "fulfillable_quantity": 1 + k, "price": "24.50",
            "price_set": {"shop_money": {"amount": "24.50", "currency_code": "USD"}, "presentment_money": {"amount": "24.50", "currency_code": "USD"}},
            "total_discount": "0.00", "total_discount_set": {"shop_money": {"amount": "0.00", "currency_code": "USD"}, "presentment_money": {"amount": "0.00", "currency_code": "USD"}},
            "gift_card": false, "requires_shipping": true, "taxable": true, "grams": 340, "fulfillment_service": "manual", "fulfillment_status": null, "product_exists": true,
            "properties": if k == 0 { json!([{"name": "Engraving", "value": "For Anna, with love"}, {"name": "_atelier", "value": "v1.abcdef0123456789"}]) } else { json!([]) },
            "tax_lines": [{"price": "1.47", "rate": 0.06, "title": "State Tax", "price_set": {"shop_money": {"amount": "1.47", "currency_code": "USD"}}}],
            "discount_allocations": [], "duties": []})
    }).collect();
    json!({"id": 5_000_000_000_000 + i, "admin_graphql_api_id": format!("gid://shopify/Order/{}", 5_000_000_000_000 + i),
        "name": format!("#{}", 1000 + i), "order_number": 1000 + i, "number": i, "email": "anna@example.com", "contact_email": "anna@example.com",
        "phone": null, "created_at": "2026-11-01T10:00:00-05:00", "updated_at": "2026-11-01T10:00:05-05:00", "processed_at": "2026-11-01T10:00:00-05:00",
        "cancelled_at": null, "cancel_reason": null, "closed_at": null, "financial_status": "paid", "fulfillment_status": null,
        "currency": "USD", "presentment_currency": "USD", "total_price": "156.47", "subtotal_price": "147.00", "total_tax": "9.47",
        "total_discounts": "0.00", "total_line_items_price": "147.00", "taxes_included": false, "test": false, "source_name": "web",
        "tags": "", "note": null, "note_attributes": [], "browser_ip": "203.0.113.9", "landing_site": "/products/candle", "referring_site": "https://www.google.com/",
        "customer": {"id": 6_000_000_000 + i % 2000, "email": "anna@example.com", "first_name": "Anna", "last_name": "Lindqvist", "state": "enabled",
            "verified_email": true, "currency": "USD", "tax_exempt": false, "default_address": address},
        "billing_address": address, "shipping_address": address,
        "shipping_lines": [{"id": 1, "title": "Standard", "price": "9.47", "code": "STD", "source": "shopify", "discount_allocations": []}],
        "discount_codes": [], "discount_applications": [], "fulfillments": [], "refunds": [], "payment_gateway_names": ["shopify_payments"],
        "client_details": {"browser_ip": "203.0.113.9", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36", "accept_language": "sv-SE,sv;q=0.9"},
        "line_items": lines})
}

struct Body {
    bytes: bytes::Bytes,
    hmac: String,
}

fn bodies(n: u64) -> Vec<Body> {
    (0..n)
        .map(|i| {
            let bytes = serde_json::to_vec(&order(i)).unwrap();
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(&bytes);
            let hmac =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            Body {
                bytes: bytes.into(),
                hmac,
            }
        })
        .collect()
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    ok: u64,
    failed: u64,
    elapsed: Duration,
}

impl Stats {
    fn pct(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let idx = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[idx] as f64 / 1000.0
    }
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

fn webhook_request(
    client: &reqwest::Client,
    base: &str,
    body: &Body,
    id: u64,
    run: &str,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/webhooks"))
        .header("Content-Type", "application/json")
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Hmac-Sha256", &body.hmac)
        .header("X-Shopify-Shop-Domain", SHOP)
        .header("X-Shopify-Webhook-Id", format!("{run}-{id}"))
        .header("X-Shopify-API-Version", "2026-10")
        .header("X-Shopify-Triggered-At", "2026-11-01T15:00:05.000000000Z")
        .body(body.bytes.clone())
}

/// Closed loop: `connections` tasks send back-to-back for `secs`.
async fn closed_loop(
    client: &reqwest::Client,
    base: &str,
    bodies: Arc<Vec<Body>>,
    connections: u64,
    secs: u64,
    webhook: bool,
    run: &str,
) -> Stats {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, base, bodies, counter, run) = (
            client.clone(),
            base.to_owned(),
            bodies.clone(),
            counter.clone(),
            run.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            while Instant::now() < end {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let req = if webhook {
                    webhook_request(
                        &client,
                        &base,
                        &bodies[(i % bodies.len() as u64) as usize],
                        i,
                        &run,
                    )
                } else {
                    client.get(format!("{base}/healthz"))
                };
                match req.send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        s.ok += 1;
                        s.latencies_us.push(t.elapsed().as_micros() as u32);
                    }
                    _ => s.failed += 1,
                }
            }
            s
        }));
    }
    let mut all = Stats::default();
    for t in tasks {
        let s = t.await.unwrap();
        all.ok += s.ok;
        all.failed += s.failed;
        all.latencies_us.extend(s.latencies_us);
    }
    all.elapsed = start.elapsed();
    all
}

/// Open loop at a fixed rate; latency counted from each request's scheduled time.
async fn open_loop(
    client: &reqwest::Client,
    base: &str,
    bodies: Arc<Vec<Body>>,
    rate: u64,
    secs: u64,
    run: &str,
) -> Stats {
    let start = Instant::now();
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let req = webhook_request(
            client,
            base,
            &bodies[(i % bodies.len() as u64) as usize],
            i,
            run,
        );
        tasks.push(tokio::spawn(async move {
            let ok = matches!(req.send().await, Ok(r) if r.status() == 200);
            (ok, scheduled.elapsed().as_micros() as u32)
        }));
    }
    let mut s = Stats::default();
    for t in tasks {
        let (ok, us) = t.await.unwrap();
        if ok {
            s.ok += 1;
            s.latencies_us.push(us);
        } else {
            s.failed += 1;
        }
    }
    s.elapsed = start.elapsed();
    s
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(db_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .env("ATELIER_ENV", "production")
        .env("DATABASE_URL", db_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_URL", "https://bench.atelier.test")
        .env("SHOPIFY_API_KEY", "bench-key")
        .env("SHOPIFY_API_SECRET", SECRET)
        .env(
            "TOKEN_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
        )
        .env("RUST_LOG", "warn")
        .env(
            "ATELIER_WORKERS",
            std::env::var("BENCH_WORKERS").unwrap_or_else(|_| "true".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("atelier binary")
}

fn inbox_counts(db: &atelier::db::Db) -> (i64, i64, i64) {
    use atelier::db::schema::{order_line_items, webhook_inbox as w};
    let mut c = db.conn().unwrap();
    let total: i64 = w::table.count().get_result(&mut *c).unwrap();
    let open: i64 = w::table
        .filter(w::state.eq_any(["pending", "processing"]))
        .count()
        .get_result(&mut *c)
        .unwrap();
    let lines: i64 = order_line_items::table.count().get_result(&mut *c).unwrap();
    (total, open, lines)
}

async fn run_backend(label: &str, db_url: String, cleanup: impl FnOnce()) {
    let secs = env_num("BENCH_SECS", 8);
    let connections = env_num("BENCH_CONNECTIONS", 64);
    let rate = env_num("BENCH_RATE", 1000);
    let db = atelier::db::Db::connect(&db_url, 2).expect("bench database");
    {
        let grant = atelier::shopify::AccessGrant {
            access_token: atelier::config::Secret::new("shpat_bench"),
            scope: "read_orders".into(),
            expires_in: None,
            refresh_token: None,
            refresh_token_expires_in: None,
        };
        let cipher = atelier::crypto::TokenCipher::new(&[9u8; 32]);
        let domain = atelier::shopify::ShopDomain::parse(SHOP).unwrap();
        atelier::shops::save_grant(&mut db.conn().unwrap(), &cipher, &domain, &grant).unwrap();
    }
    let port = free_port();
    let mut server = start_server(&db_url, port);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize * 2)
        .http1_only()
        .build()
        .unwrap();
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies = Arc::new(bodies(2000));
    let avg = bodies.iter().map(|b| b.bytes.len()).sum::<usize>() / bodies.len();

    let mut health = closed_loop(
        &client,
        &base,
        bodies.clone(),
        connections,
        secs,
        false,
        "h",
    )
    .await;
    let mut max = closed_loop(
        &client,
        &base,
        bodies.clone(),
        connections,
        secs,
        true,
        "max",
    )
    .await;
    let drain_start = Instant::now();
    let mut fixed = open_loop(&client, &base, bodies.clone(), rate, secs, "fixed").await;
    let workers_on = std::env::var("BENCH_WORKERS").map_or(true, |v| v != "false");
    if workers_on {
        while inbox_counts(&db).1 > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let drained_after = drain_start.elapsed();
    let (stored, open, lines) = inbox_counts(&db);
    let accepted = max.ok + fixed.ok;
    println!("\n## {label}  (body ≈ {avg} B, {connections} connections, {secs} s per phase)");
    println!("| phase | requests/s | p50 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|");
    for (name, s) in [
        ("GET /healthz (ceiling)", &mut health),
        ("POST /webhooks, max", &mut max),
        (&*format!("POST /webhooks at {rate}/s"), &mut fixed),
    ] {
        let (p50, p99, pmax) = (s.pct(0.50), s.pct(0.99), s.pct(1.0));
        println!(
            "| {name} | {:.0} | {p50:.2} | {p99:.2} | {pmax:.2} | {} |",
            s.rate(),
            s.failed
        );
    }
    println!(
        "\nwebhook max / healthz ceiling = {:.2}; accepted {accepted}, stored {stored}, still open {open}, line items {lines} (expect {}); backlog of the burst drained {:.1} s after it ended",
        max.rate() / health.rate(),
        accepted.min(2000) * 6 / 2,
        drained_after.as_secs_f64()
    );
    assert_eq!(stored as u64, accepted, "every accepted delivery is stored");
    if workers_on {
        assert_eq!(open, 0, "every stored delivery is processed");
    }
    let _ = server.kill();
    let _ = server.wait();
    drop(db);
    cleanup();
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        run_backend(
            "SQLite",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            || {},
        )
        .await;
        let pg = std::env::var("BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        match diesel::pg::PgConnection::establish(&pg) {
            Ok(mut admin) => {
                use diesel::connection::SimpleConnection;
                let schema = format!("bench_{}", std::process::id());
                admin
                    .batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                    ))
                    .unwrap();
                let url = format!("{pg}?options=-csearch_path%3D{schema}");
                run_backend("PostgreSQL", url, move || {
                    let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
                })
                .await;
            }
            Err(e) => println!("\nPostgreSQL not reachable ({e}); skipped"),
        }
    });
}
