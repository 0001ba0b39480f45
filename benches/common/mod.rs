//! What the load benchmarks share: the release binary on a free port against a fresh database,
//! a seeded shop, closed- and open-loop generators, latency percentiles.

#![allow(dead_code)] // each bench uses a part

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use diesel::prelude::*;

pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
pub struct Stats {
    pub latencies_us: Vec<u32>,
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
}

impl Stats {
    pub fn pct(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        self.latencies_us.sort_unstable();
        let idx = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[idx] as f64 / 1000.0
    }
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    /// A markdown table row.
    pub fn row(&mut self, name: &str) -> String {
        let (p50, p99, pmax) = (self.pct(0.50), self.pct(0.99), self.pct(1.0));
        format!(
            "| {name} | {:.0} | {p50:.2} | {p99:.2} | {pmax:.2} | {} |",
            self.rate(),
            self.failed
        )
    }
}

pub const TABLE_HEAD: &str =
    "| phase | requests/s | p50 ms | p99 ms | max ms | errors |\n|---|---|---|---|---|---|";

/// Builds request number `i`.
pub type MakeRequest = Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// Closed loop: `connections` tasks send back-to-back for `secs`; `expect` is the success status.
pub async fn closed_loop(
    client: &reqwest::Client,
    make: MakeRequest,
    expect: u16,
    connections: u64,
    secs: u64,
) -> Stats {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, make, counter) = (client.clone(), make.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::default();
            while Instant::now() < end {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match make(&client, i).send().await {
                    Ok(r) if r.status().as_u16() == expect => {
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

/// Open loop at a fixed rate; latency counted from each request's scheduled time, so a stall is
/// not hidden by the generator waiting.
pub async fn open_loop(
    client: &reqwest::Client,
    make: MakeRequest,
    expect: u16,
    rate: u64,
    secs: u64,
) -> Stats {
    let start = Instant::now();
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let req = make(client, i);
        tasks.push(tokio::spawn(async move {
            let ok = match req.send().await {
                Ok(r) if r.status().as_u16() == expect => r.bytes().await.is_ok(),
                _ => false,
            };
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub const APP_URL: &str = "https://bench.atelier.test";
pub const API_KEY: &str = "bench-key";
const TOKEN_KEY: [u8; 32] = [9u8; 32];

/// The release binary, in production mode, on `port`. `ATELIER_BIN` runs another build of it
/// instead (a before/after comparison with one bench binary and one generator).
pub fn start_server(db_url: &str, port: u16, secret: &str, extra: &[(&str, String)]) -> Child {
    let bin = std::env::var("ATELIER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_atelier").into());
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("ATELIER_ENV", "production")
        .env("DATABASE_URL", db_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_URL", APP_URL)
        .env("SHOPIFY_API_KEY", API_KEY)
        .env("SHOPIFY_API_SECRET", secret)
        .env(
            "TOKEN_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode(TOKEN_KEY),
        )
        .env("RUST_LOG", "warn");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("atelier binary")
}

/// An installed shop with an offline token, written straight to the database.
pub fn seed_shop(db: &atelier::db::Db, shop: &str) {
    let grant = atelier::shopify::AccessGrant {
        access_token: atelier::config::Secret::new("shpat_bench"),
        scope: "read_orders,read_products".into(),
        expires_in: None,
        refresh_token: None,
        refresh_token_expires_in: None,
    };
    let cipher = atelier::crypto::TokenCipher::new(&TOKEN_KEY);
    let domain = atelier::shopify::ShopDomain::parse(shop).unwrap();
    atelier::shops::save_grant(&mut db.conn().unwrap(), &cipher, &domain, &grant).unwrap();
}

pub fn client(connections: u64) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize * 2)
        .http1_only()
        .build()
        .unwrap()
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// Runs `f` on SQLite (a temporary file) and, if reachable, on PostgreSQL (a fresh schema in
/// `BENCH_POSTGRES_URL`, dropped afterwards).
pub fn on_both_backends<F, Fut>(f: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        if std::env::var("BENCH_BACKENDS").map_or(true, |b| b.contains("sqlite")) {
            f(
                "SQLite",
                format!("sqlite://{}", dir.path().join("bench.db").display()),
            )
            .await;
        }
        if !std::env::var("BENCH_BACKENDS").map_or(true, |b| b.contains("postgres")) {
            return;
        }
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
                f(
                    "PostgreSQL",
                    format!("{pg}?options=-csearch_path%3D{schema}"),
                )
                .await;
                let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
            }
            Err(e) => println!("\nPostgreSQL not reachable ({e}); skipped"),
        }
    });
}

/// The benchmark's template: 30 fields of every kind but image, with conditional chains
/// (`style → font → flourish`, `metal → karat → stone`, `gift → gift message → card`).
pub fn thirty_field_template() -> serde_json::Value {
    use serde_json::json;
    json!({"name": "Bench: 30 fields", "product_ids": [7_000_000_001i64], "fields": [
        {"key": "style", "label": "Engraving style", "type": "select", "required": true, "options": [
            {"value": "block", "label": "Block"}, {"value": "script", "label": "Script", "price_cents": 500}, {"value": "none", "label": "No engraving"}]},
        {"key": "font", "label": "Font", "type": "select", "required": true, "show_if": {"field": "style", "equals": "script"}, "options": [
            {"value": "vibes", "label": "Great Vibes"}, {"value": "pinyon", "label": "Pinyon Script", "price_cents": 200}]},
        {"key": "flourish", "label": "Flourish", "type": "checkbox", "price_cents": 300, "show_if": {"field": "font", "equals": "pinyon"}},
        {"key": "line1", "label": "Line 1", "type": "text", "required": true, "max_length": 24, "charset": "latin", "price_cents": 400, "show_if": {"field": "style", "equals": ["block", "script"]}},
        {"key": "line2", "label": "Line 2", "type": "text", "max_length": 24, "charset": "latin", "price_cents": 400, "show_if": {"field": "style", "equals": ["block", "script"]}},
        {"key": "line3", "label": "Line 3", "type": "text", "max_length": 24, "charset": "latin", "show_if": {"field": "style", "equals": ["block", "script"]}},
        {"key": "initials", "label": "Initials", "type": "text", "min_length": 1, "max_length": 3, "pattern": "[A-Z]{1,3}", "charset": "ascii"},
        {"key": "name", "label": "Name", "type": "text", "max_length": 40, "preview": {"font": "Great Vibes", "color": "#222222", "x": 50, "y": 40, "size": 8}},
        {"key": "message", "label": "Message", "type": "textarea", "max_length": 280},
        {"key": "code", "label": "Team code", "type": "text", "pattern": "[A-Z]{2}-[0-9]{3}", "max_length": 6},
        {"key": "number", "label": "Jersey number", "type": "number", "min": 0, "max": 99, "step": 1},
        {"key": "ring_size", "label": "Ring size", "type": "number", "required": true, "min": 3, "max": 13.5, "step": 0.25},
        {"key": "width", "label": "Band width (mm)", "type": "number", "min": 2, "max": 8, "step": 0.5},
        {"key": "metal", "label": "Metal", "type": "select", "required": true, "options": [
            {"value": "silver", "label": "Sterling silver"}, {"value": "gold", "label": "Gold", "price_cents": 4000}, {"value": "platinum", "label": "Platinum", "price_cents": 9000}]},
        {"key": "karat", "label": "Karat", "type": "select", "required": true, "show_if": {"field": "metal", "equals": "gold"}, "options": [
            {"value": "14", "label": "14k"}, {"value": "18", "label": "18k", "price_cents": 2500}]},
        {"key": "stone", "label": "Stone", "type": "swatch", "show_if": {"field": "karat", "equals": ["14", "18"]}, "options": [
            {"value": "ruby", "label": "Ruby", "color": "#9b111e", "price_cents": 1500}, {"value": "sapphire", "label": "Sapphire", "color": "#0f52ba", "price_cents": 1500}, {"value": "none", "label": "None", "color": "#ffffff"}]},
        {"key": "finish", "label": "Finish", "type": "select", "options": [
            {"value": "polished", "label": "Polished"}, {"value": "matte", "label": "Matte"}, {"value": "hammered", "label": "Hammered", "price_cents": 800}]},
        {"key": "color", "label": "Engraving color", "type": "swatch", "options": [
            {"value": "black", "label": "Black", "color": "#000000"}, {"value": "gold", "label": "Gold fill", "color": "#d4af37", "price_cents": 300}]},
        {"key": "ribbon", "label": "Ribbon", "type": "swatch", "options": [
            {"value": "red", "label": "Red", "color": "#cc0000"}, {"value": "navy", "label": "Navy", "color": "#000080"}]},
        {"key": "thread", "label": "Thread", "type": "swatch", "options": [
            {"value": "white", "label": "White", "color": "#fff"}, {"value": "gold", "label": "Gold thread", "color": "#d4af37", "price_cents": 150}]},
        {"key": "chain", "label": "Chain length", "type": "select", "options": [
            {"value": "40", "label": "40 cm"}, {"value": "45", "label": "45 cm"}, {"value": "50", "label": "50 cm", "price_cents": 500}]},
        {"key": "box", "label": "Box", "type": "select", "options": [
            {"value": "standard", "label": "Standard"}, {"value": "wood", "label": "Wooden box", "price_cents": 1200}]},
        {"key": "gift", "label": "Gift wrap", "type": "checkbox", "price_cents": 300},
        {"key": "gift_message", "label": "Gift message", "type": "textarea", "max_length": 200, "show_if": {"field": "gift", "equals": true}},
        {"key": "card", "label": "Card design", "type": "select", "show_if": {"field": "gift", "equals": true}, "options": [
            {"value": "plain", "label": "Plain"}, {"value": "floral", "label": "Floral", "price_cents": 100}]},
        {"key": "rush", "label": "Rush production", "type": "checkbox", "price_cents": 1500},
        {"key": "insurance", "label": "Insured shipping", "type": "checkbox", "price_cents": 700},
        {"key": "event_date", "label": "Event date", "type": "date", "min": "2020-01-01", "max": "2035-12-31"},
        {"key": "deliver_by", "label": "Deliver by", "type": "date", "min": "2026-01-01", "max": "2030-12-31"},
        {"key": "notes", "label": "Notes for the workshop", "type": "textarea", "max_length": 500}
    ]})
}

/// A full submission for the 30-field template; `i` varies the texts.
pub fn thirty_field_values(i: u64) -> serde_json::Value {
    use serde_json::json;
    json!({
        "style": "script", "font": "pinyon", "flourish": true,
        "line1": format!("Für Anna {}", i % 1000), "line2": "Forever & always", "line3": "2026",
        "initials": "AJL", "name": "Zoë Ångström 👩‍👩‍👧", "message": "Happy anniversary!\nWith love,\nJonas",
        "code": "SE-042", "number": (i % 99), "ring_size": "7.25", "width": 4.5,
        "metal": "gold", "karat": "18", "stone": "sapphire", "finish": "hammered", "color": "gold",
        "ribbon": "navy", "thread": "gold", "chain": "45", "box": "wood",
        "gift": true, "gift_message": "For you, always ❤️", "card": "floral",
        "rush": false, "insurance": true, "event_date": "2026-06-20", "deliver_by": "2026-12-01",
        "notes": "Please center the text; customer approved the proof."
    })
}

/// A closed-loop run of `wrk` (Debian package `wrk`, one generator thread), when it is
/// installed: a lighter generator than reqwest, so more of the two cores go to the server.
/// Returns `(requests/s, p50 ms, p99 ms, non-2xx)`.
pub fn wrk(
    url: &str,
    method: &str,
    body: Option<&[u8]>,
    connections: u64,
    secs: u64,
) -> Option<(f64, f64, f64, u64)> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("req.lua");
    let mut lua = format!("wrk.method = \"{method}\"\n");
    if let Some(b) = body {
        let path = dir.path().join("body");
        std::fs::write(&path, b).ok()?;
        lua.push_str(&format!(
            "local f = io.open(\"{}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
            path.display()
        ));
    }
    std::fs::write(&script, lua).ok()?;
    run_wrk(&script, url, connections, secs)
}

/// Like [`wrk`] for GET requests cycling through `paths` (each a path with its query; one
/// list per wrk thread, read from a file by the script).
pub fn wrk_paths(
    base: &str,
    paths: &[String],
    connections: u64,
    secs: u64,
) -> Option<(f64, f64, f64, u64)> {
    let dir = tempfile::tempdir().ok()?;
    let list = dir.path().join("paths");
    std::fs::write(&list, paths.join("\n")).ok()?;
    let script = dir.path().join("req.lua");
    let lua = format!(
        "local paths = {{}}\nfor l in io.lines(\"{}\") do paths[#paths + 1] = l end\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n",
        list.display()
    );
    std::fs::write(&script, lua).ok()?;
    run_wrk(&script, base, connections, secs)
}

fn run_wrk(
    script: &std::path::Path,
    url: &str,
    connections: u64,
    secs: u64,
) -> Option<(f64, f64, f64, u64)> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let num_after = |label: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
        let v = line.trim_start()[label.len()..].split_whitespace().next()?;
        let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let n: f64 = n.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "s" => n * 1000.0,
            _ => n,
        })
    };
    let rps = num_after("Requests/sec:")?;
    let p50 = num_after("50%")?;
    let p99 = num_after("99%")?;
    let non2xx = num_after("Non-2xx or 3xx responses:").unwrap_or(0.0) as u64;
    Some((rps, p50, p99, non2xx))
}
