//! Webhook ingestion load test against the release binary (goal: saturated intake ≥ 5× the Node
//! baseline below, p99 ≤ 15 ms at a steady 1,000/s while the worker applies them, every
//! accepted event durable and processed).
//!
//!     cargo bench --bench webhook_load                     # SQLite, and PostgreSQL if reachable
//!     BENCH_SECS=10 BENCH_CONNECTIONS=64 cargo bench --bench webhook_load
//!
//! For each backend: a fresh database and shop, the `atelier` binary on a free port, then
//!   1. `/healthz` closed-loop with C connections: the server's own ceiling in this run;
//!   2. signed `orders/create` deliveries (~5 KB, 3 line items, unique webhook ids) at a fixed
//!      1,000/s, open-loop (latency from the scheduled send time, so a stall is not hidden by the
//!      generator waiting), while the worker applies them: the steady state;
//!   3. the same deliveries closed-loop (the burst), then at 1,000/s again while the burst's
//!      backlog is applied;
//!   4. the time until the inbox is drained, and a check that every accepted delivery is stored
//!      and applied.
//!
//! First, with the same generator, the closed loop and the fixed rate against the baseline a
//! Shopify developer would otherwise deploy, `benches/node-baseline/` (Shopify's
//! `@shopify/shopify-api` validating each delivery behind `node:http`, de-duplicated by webhook
//! id, kept in memory). It is installed with `npm ci` and skipped with a message when npm is
//! missing (or with `BENCH_NODE=false`).

#![recursion_limit = "256"]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SHOP: &str = "bench-shop.myshopify.com";

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

/// What the Node baseline did in this run: its saturated rate and its latency at the fixed rate.
#[derive(Clone, Copy)]
struct Baseline {
    max: f64,
    max_p99: f64,
    fixed_p50: f64,
    fixed_p99: f64,
}

/// Kills the child process when dropped (also when a phase panics).
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Node baseline: `npm ci`, then `node server.mjs` on a free port, phases 2 and 3.
async fn node_baseline() -> Option<Baseline> {
    if std::env::var("BENCH_NODE").is_ok_and(|v| v == "false") {
        return None;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/node-baseline");
    let npm = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status();
    match npm {
        Ok(s) if s.success() => {}
        Ok(s) => {
            println!("\nNode baseline skipped: `npm ci` in benches/node-baseline failed ({s})");
            return None;
        }
        Err(e) => {
            println!("\nNode baseline skipped: npm is not available ({e})");
            return None;
        }
    }
    let (secs, connections, rate) = (
        env_num("BENCH_SECS", 8),
        env_num("BENCH_CONNECTIONS", 64),
        env_num("BENCH_RATE", 1000),
    );
    let port = free_port();
    let node = std::process::Command::new("node")
        .arg("server.mjs")
        .current_dir(dir)
        .env("PORT", port.to_string())
        .env("SHOPIFY_API_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .spawn();
    let _node = match node {
        Ok(child) => Kill(child),
        Err(e) => {
            println!("\nNode baseline skipped: node did not start ({e})");
            return None;
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = client(connections);
    wait_ready(&client, &base).await;
    let bodies = Arc::new(bodies(2000));
    let webhooks = |run: &'static str| -> MakeRequest {
        let (base, bodies) = (base.clone(), bodies.clone());
        Arc::new(move |c, i| {
            webhook_request(
                c,
                &base,
                &bodies[(i % bodies.len() as u64) as usize],
                i,
                run,
            )
        })
    };
    // Node compiles its hot paths as they run: one unreported second first, as Atelier's
    // phases follow the `/healthz` one.
    closed_loop(&client, webhooks("node-warm"), 200, connections, 1).await;
    let mut max = closed_loop(&client, webhooks("node-max"), 200, connections, secs).await;
    let mut fixed = open_loop(&client, webhooks("node-fixed"), 200, rate, secs).await;
    println!(
        "\n## Node baseline: @shopify/shopify-api webhooks.validate on node:http, in memory  ({connections} connections, {secs} s per phase)"
    );
    println!("{TABLE_HEAD}");
    println!("{}", max.row("POST /webhooks, max"));
    println!("{}", fixed.row(&format!("POST /webhooks at {rate}/s")));
    Some(Baseline {
        max: max.rate(),
        max_p99: max.pct(0.99),
        fixed_p50: fixed.pct(0.50),
        fixed_p99: fixed.pct(0.99),
    })
}

async fn run_backend(label: &'static str, db_url: String, node: Option<Baseline>) {
    let secs = env_num("BENCH_SECS", 8);
    let connections = env_num("BENCH_CONNECTIONS", 64);
    let rate = env_num("BENCH_RATE", 1000);
    let db = atelier::db::Db::connect(&db_url, 2).expect("bench database");
    seed_shop(&db, SHOP);
    let port = free_port();
    let workers = std::env::var("BENCH_WORKERS").unwrap_or_else(|_| "true".into());
    let mut server = start_server(
        &db_url,
        port,
        SECRET,
        &[("ATELIER_WORKERS", workers.clone())],
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = client(connections);
    wait_ready(&client, &base).await;
    let bodies = Arc::new(bodies(2000));
    let avg = bodies.iter().map(|b| b.bytes.len()).sum::<usize>() / bodies.len();

    let health: MakeRequest = {
        let base = base.clone();
        Arc::new(move |c, _| c.get(format!("{base}/healthz")))
    };
    let webhooks = |run: &'static str| -> MakeRequest {
        let (base, bodies) = (base.clone(), bodies.clone());
        Arc::new(move |c, i| {
            webhook_request(
                c,
                &base,
                &bodies[(i % bodies.len() as u64) as usize],
                i,
                run,
            )
        })
    };
    let mut health = closed_loop(&client, health, 200, connections, secs).await;
    // Steady state first: deliveries at the fixed rate while the worker applies them as they
    // come; then the burst, then the fixed rate again while the burst's backlog is applied.
    let mut steady = open_loop(&client, webhooks("steady"), 200, rate, secs).await;
    let mut max = closed_loop(&client, webhooks("max"), 200, connections, secs).await;
    let drain_start = Instant::now();
    let mut fixed = open_loop(&client, webhooks("fixed"), 200, rate, secs).await;
    let workers_on = workers != "false";
    if workers_on {
        while inbox_counts(&db).1 > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let drained_after = drain_start.elapsed();
    let (stored, open, lines) = inbox_counts(&db);
    let accepted = steady.ok + max.ok + fixed.ok;
    println!("\n## {label}  (body ≈ {avg} B, {connections} connections, {secs} s per phase)");
    println!("{TABLE_HEAD}");
    println!("{}", health.row("GET /healthz (ceiling)"));
    println!(
        "{}",
        steady.row(&format!("POST /webhooks at {rate}/s, steady"))
    );
    println!("{}", max.row("POST /webhooks, max"));
    println!(
        "{}",
        fixed.row(&format!(
            "POST /webhooks at {rate}/s, while the burst's backlog is applied"
        ))
    );
    println!(
        "\nwebhook max / healthz ceiling = {:.2}; accepted {accepted}, stored {stored}, still open {open}, line items {lines} (expect {}); backlog of the burst drained {:.1} s after it ended",
        max.rate() / health.rate(),
        accepted.min(2000) * 6 / 2,
        drained_after.as_secs_f64()
    );
    if let Some(node) = node {
        println!(
            "Atelier max / Node max = {:.2} ({:.0} / {:.0} per s; saturated p99 {:.2} / {:.2} ms); at {rate}/s steady p50 {:.2} / {:.2} ms, p99 Atelier {:.2} ms, Node {:.2} ms (Atelier after the burst: p99 {:.2} ms)",
            max.rate() / node.max,
            max.rate(),
            node.max,
            max.pct(0.99),
            node.max_p99,
            steady.pct(0.50),
            node.fixed_p50,
            steady.pct(0.99),
            node.fixed_p99,
            fixed.pct(0.99),
        );
    }
    assert_eq!(stored as u64, accepted, "every accepted delivery is stored");
    if workers_on {
        assert_eq!(open, 0, "every stored delivery is processed");
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let node = {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(node_baseline())
    };
    on_both_backends(move |label, url| run_backend(label, url, node));
}
