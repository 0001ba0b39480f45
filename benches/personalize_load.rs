//! `personalize` through HTTP for a 30-field template with conditional logic (target: ≥ 20,000
//! requests/s on this machine, p99 ≤ 5 ms at 2,000/s).
//!
//!     cargo bench --bench personalize_load                  # SQLite, and PostgreSQL if reachable
//!     BENCH_SECS=10 BENCH_CONNECTIONS=64 BENCH_BACKENDS=sqlite cargo bench --bench personalize_load
//!
//! For each backend: a fresh database, a seeded shop and template, the release binary on a free
//! port, then (1) `/healthz` closed-loop, the server's ceiling in this run on this machine, with
//! the generator competing for the same cores; (2) signed `POST /proxy/products/{id}/personalize`
//! closed-loop with C connections; (3) the same at a fixed 2,000/s, open-loop. Every response is
//! checked for `200` (a `422` would count as an error).

mod common;

use std::sync::Arc;

use common::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SHOP: &str = "bench-shop.myshopify.com";
const PRODUCT: i64 = 7_000_000_001;

/// The app-proxy query Shopify adds, signed now.
fn proxy_query() -> String {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let params = [
        ("logged_in_customer_id", ""),
        ("path_prefix", "/apps/atelier"),
        ("shop", SHOP),
        ("timestamp", ts.as_str()),
    ];
    let mut parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(parts.concat().as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .append_pair("signature", &sig)
        .finish()
}

async fn run_backend(label: &'static str, db_url: String) {
    let secs = env_num("BENCH_SECS", 8);
    let connections = env_num("BENCH_CONNECTIONS", 64);
    let rate = env_num("BENCH_RATE", 2000);
    let db = atelier::db::Db::connect(&db_url, 2).expect("bench database");
    seed_shop(&db, SHOP);
    {
        let mut c = db.conn().unwrap();
        let shop = atelier::shops::find_by_domain(&mut c, SHOP)
            .unwrap()
            .unwrap();
        let input = atelier::personalization::store::parse_input(&thirty_field_template()).unwrap();
        atelier::personalization::store::create(&mut c, &shop.id, input).unwrap();
    }
    let port = free_port();
    let mut server = start_server(&db_url, port, SECRET, &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = client(connections);
    wait_ready(&client, &base).await;

    // 100 distinct bodies, serialized once.
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        (0..100)
            .map(|i| {
                serde_json::to_vec(&serde_json::json!({ "values": thirty_field_values(i) }))
                    .unwrap()
                    .into()
            })
            .collect(),
    );
    let sample = client
        .post(format!(
            "{base}/proxy/products/{PRODUCT}/personalize?{}",
            proxy_query()
        ))
        .header("Content-Type", "application/json")
        .body(bodies[0].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(sample.status(), 200, "{}", sample.text().await.unwrap());
    let sample: serde_json::Value = sample.json().await.unwrap();
    let props = sample["properties"].as_array().unwrap().len();

    let personalize = || -> MakeRequest {
        let url = format!(
            "{base}/proxy/products/{PRODUCT}/personalize?{}",
            proxy_query()
        );
        let bodies = bodies.clone();
        Arc::new(move |c, i| {
            c.post(&url)
                .header("Content-Type", "application/json")
                .body(bodies[(i % 100) as usize].clone())
        })
    };
    let health: MakeRequest = {
        let base = base.clone();
        Arc::new(move |c, _| c.get(format!("{base}/healthz")))
    };
    let mut health = closed_loop(&client, health, 200, connections, secs).await;
    let mut max = closed_loop(&client, personalize(), 200, connections, secs).await;
    let mut fixed = open_loop(&client, personalize(), 200, rate, secs).await;
    println!(
        "\n## {label}  (30 fields, {props} properties per answer, body ≈ {} B, {connections} connections, {secs} s per phase)",
        bodies[0].len()
    );
    println!("{TABLE_HEAD}");
    println!("{}", health.row("GET /healthz (ceiling)"));
    println!("{}", max.row("POST personalize, max"));
    println!("{}", fixed.row(&format!("POST personalize at {rate}/s")));
    println!(
        "\npersonalize max / healthz ceiling = {:.2}",
        max.rate() / health.rate()
    );
    // The same closed loop with wrk (one generator thread), when installed.
    let url = format!(
        "{base}/proxy/products/{PRODUCT}/personalize?{}",
        proxy_query()
    );
    let wrk_health = wrk(&format!("{base}/healthz"), "GET", None, connections, secs);
    let wrk_max = wrk(&url, "POST", Some(&bodies[0]), connections, secs);
    match (wrk_health, wrk_max) {
        (Some(h), Some(m)) => {
            println!(
                "\nwrk -t1 -c{connections}:\n\n| phase | requests/s | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|"
            );
            println!(
                "| GET /healthz (ceiling) | {:.0} | {:.2} | {:.2} | {} |",
                h.0, h.1, h.2, h.3
            );
            println!(
                "| POST personalize, max | {:.0} | {:.2} | {:.2} | {} |",
                m.0, m.1, m.2, m.3
            );
            println!(
                "\npersonalize max / healthz ceiling (wrk) = {:.2}",
                m.0 / h.0
            );
        }
        _ => {
            println!("\n(wrk not installed: `apt-get install wrk` for the lighter-generator phase)")
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    on_both_backends(run_backend);
}
