//! `GET /proxy/recommendations` through HTTP with 50,000 products and 1,000,000 order lines
//! loaded (target: p99 ≤ 5 ms at 1,000 requests/s, ≥ 10,000 requests/s, applying one order
//! ≤ 1 ms, memory stated).
//!
//!     BENCH_BACKENDS=sqlite cargo bench --bench recommendations_load
//!     BENCH_PRODUCTS=50000 BENCH_LINES=1000000 BENCH_SECS=8 BENCH_CONNECTIONS=64 BENCH_RATE=1000
//!
//! Per backend: a fresh database and an installed shop; a synthetic store (`recommendations::
//! synth`) loaded through the same code as the webhooks (`products::apply_update`,
//! `jobs::dispatch::apply_order`, which updates the model), in transactions of 1,000; then 2,000 more
//! orders applied one per transaction, each timed (the cost of one `orders/create` including its
//! commit); then the release binary on a free port and: (1) `/healthz` closed loop (the ceiling
//! in this run); (2) recommendations closed loop with C connections; (3) the same at a fixed
//! rate, open loop. Requests mix intents (40 % complementary, 40 % related, 20 % trending) for
//! products drawn by popularity (storefront traffic follows sales), after an unmeasured warm-up
//! phase of the same kind (a server in steady state); phase (4) draws products uniformly
//! (mostly cache misses: the cost of computing a list). Every answer must be `200`.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use hmac::{Hmac, KeyInit, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;

const SECRET: &str = "bench-secret";
const SHOP: &str = "bench-shop.myshopify.com";

fn signed(extra: &[(&str, String)]) -> String {
    signed_as(None, extra)
}

/// Signed proxy parameters of a logged-in shopper (`None`: anonymous).
fn signed_as(customer: Option<i64>, extra: &[(&str, String)]) -> String {
    let ts = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let mut params: Vec<(String, String)> = vec![
        (
            "logged_in_customer_id".into(),
            customer.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("path_prefix".into(), "/apps/atelier".into()),
        ("shop".into(), SHOP.into()),
        ("timestamp".into(), ts),
    ];
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
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

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn run_backend(label: &'static str, db_url: String) {
    let secs = env_num("BENCH_SECS", 8);
    let connections = env_num("BENCH_CONNECTIONS", 64);
    let rate = env_num("BENCH_RATE", 1000);
    let n_products = env_num("BENCH_PRODUCTS", 50_000) as usize;
    let target_lines = env_num("BENCH_LINES", 1_000_000) as usize;
    // Regular shoppers with a long history (BENCH_REGULAR_LINES past lines each), who consented
    // to personalization: the logged-in `for_you` phases ask for them.
    let n_regulars = env_num("BENCH_REGULARS", 200) as usize;
    let regular_lines = env_num("BENCH_REGULAR_LINES", 300) as usize;

    let db = atelier::db::Db::connect(&db_url, 2).expect("bench database");
    seed_shop(&db, SHOP);
    let shop = atelier::shops::find_by_domain(&mut db.conn().unwrap(), SHOP)
        .unwrap()
        .unwrap();
    let ctx = atelier::sync::SyncContext {
        customer_ref_key: [1u8; 32],
        personalization_keys: vec![[2u8; 32]],
        upload_base: format!("{APP_URL}/uploads/"),
    };
    // The loading process serves nothing: the server started below reads the versions.
    let recs = atelier::recommendations::Recommender::default();
    // ≈ 2.04 lines per synthetic order; 2,000 more orders for the timed phase.
    let n_orders = target_lines * 100 / 204 + 2_000;
    let t = Instant::now();
    let store = atelier::cli::synth::generate(n_products, n_orders, 11);
    let generated = t.elapsed();
    let (bulk, timed) = store.orders.split_at(store.orders.len() - 2_000);
    let lines: usize = bulk.iter().map(|o| o.products.len()).sum();

    // BENCH_KEEP_DIR (SQLite): the loaded database is kept there and copied for later runs.
    let pristine = std::env::var("BENCH_KEEP_DIR").ok().and_then(|dir| {
        db_url.strip_prefix("sqlite://")?;
        Some(std::path::PathBuf::from(dir).join(format!("recs-{n_products}-{target_lines}.db")))
    });
    let reused = pristine.as_ref().is_some_and(|p| p.exists());
    let (db, shop) = if reused {
        drop(db);
        let path = db_url.strip_prefix("sqlite://").unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        let pristine = pristine.as_ref().unwrap();
        std::fs::copy(pristine, path).unwrap();
        println!(
            "\n(reusing the database loaded earlier: {})",
            pristine.display()
        );
        let db = atelier::db::Db::connect(&db_url, 2).expect("bench database");
        let shop = atelier::shops::find_by_domain(&mut db.conn().unwrap(), SHOP)
            .unwrap()
            .unwrap();
        (db, shop)
    } else {
        (db, shop)
    };
    let t = Instant::now();
    let mut conn = db.conn().unwrap();
    // PostgreSQL plans the loader's prepared statements on nearly empty tables; statistics
    // refreshed along the way keep them on the indexes (autovacuum lags behind a bulk load).
    let analyze = |conn: &mut atelier::db::DbConnection| {
        if let atelier::db::DbConnection::Postgres(c) = conn {
            use diesel::connection::SimpleConnection;
            c.batch_execute("ANALYZE").unwrap();
        }
    };
    let product_chunks = if reused { &[][..] } else { &store.products[..] };
    for chunk in product_chunks.chunks(1_000) {
        atelier::db::write_tx(&mut conn, |c| -> Result<(), atelier::sync::SyncError> {
            for p in chunk {
                let body = serde_json::to_vec(&p.payload()).unwrap();
                atelier::products::apply_update(c, &shop, "products/create", &body, None)?;
            }
            Ok(())
        })
        .unwrap();
        analyze(&mut conn);
    }
    let products_load = t.elapsed();
    let t = Instant::now();
    let order_chunks = if reused { &[][..] } else { bulk };
    for (i, chunk) in order_chunks.chunks(1_000).enumerate() {
        if i % 20 == 1 {
            analyze(&mut conn);
        }
        atelier::db::write_tx(&mut conn, |c| -> Result<(), atelier::sync::SyncError> {
            for o in chunk {
                let body = serde_json::to_vec(&o.payload(&store)).unwrap();
                atelier::jobs::dispatch::apply_order(
                    c,
                    &ctx,
                    &recs,
                    &shop,
                    "orders/create",
                    &body,
                    None,
                )?;
            }
            Ok(())
        })
        .unwrap();
    }
    let orders_load = t.elapsed();
    // The regulars: orders of three lines drawn by sales, spread over the year, each shopper
    // consenting in the preference center.
    let regulars: Vec<i64> = (0..n_regulars as i64).map(|i| 8_800_000_000 + i).collect();
    if !reused {
        let mut sold = vec![1.0f64; store.products.len()];
        for o in bulk {
            for p in &o.products {
                sold[(p - atelier::cli::synth::FIRST_PRODUCT_ID) as usize] += 1.0;
            }
        }
        let mut cum = Vec::with_capacity(sold.len());
        let mut total = 0.0;
        for x in &sold {
            total += x;
            cum.push(total);
        }
        let mut rng = StdRng::seed_from_u64(21);
        let mut next_id = 8_000_000_000i64;
        for chunk in regulars.chunks(10) {
            atelier::db::write_tx(&mut conn, |c| -> Result<(), atelier::sync::SyncError> {
                for &customer in chunk {
                    for n in 0..regular_lines.div_ceil(3) {
                        let products: Vec<i64> = (0..3)
                            .map(|_| {
                                let x = rng.random::<f64>() * total;
                                let i = cum.partition_point(|c| *c < x).min(cum.len() - 1);
                                atelier::cli::synth::FIRST_PRODUCT_ID + i as i64
                            })
                            .collect();
                        let mut products = products;
                        products.sort_unstable();
                        products.dedup();
                        let o = atelier::cli::synth::Order {
                            id: next_id,
                            customer,
                            at: atelier::cli::synth::START
                                + (n as i64 * 86_400 * 360) / (regular_lines as i64 / 3).max(1),
                            products,
                        };
                        next_id += 1;
                        let body = serde_json::to_vec(&o.payload(&store)).unwrap();
                        atelier::jobs::dispatch::apply_order(
                            c,
                            &ctx,
                            &recs,
                            &shop,
                            "orders/create",
                            &body,
                            None,
                        )?;
                    }
                }
                Ok(())
            })
            .unwrap();
        }
        let consent = atelier::preferences::prefs::parse_update(&serde_json::json!({
            "consent": {"personalization": true, "marketing": false}
        }))
        .unwrap();
        for &customer in &regulars {
            atelier::preferences::prefs::update(
                &mut conn,
                &shop.id,
                customer,
                &consent,
                atelier::preferences::Source::Admin,
            )
            .unwrap();
        }
    }
    let regulars_load = t.elapsed() - orders_load;
    if let (Some(pristine), false) = (&pristine, reused) {
        use diesel::connection::SimpleConnection;
        if let atelier::db::DbConnection::Sqlite(c) = &mut *conn {
            c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        }
        std::fs::create_dir_all(pristine.parent().unwrap()).unwrap();
        std::fs::copy(db_url.strip_prefix("sqlite://").unwrap(), pristine).unwrap();
    }
    // As the server does (`Db::connect_server`): the WAL is checkpointed in the background.
    drop(conn);
    let db = if std::env::var("BENCH_NO_CHECKPOINTER").is_ok() {
        db
    } else {
        drop(db);
        atelier::db::Db::connect_server(&db_url, 2).expect("bench database")
    };
    let mut conn = db.conn().unwrap();
    let mut one = Stats::default();
    let bodies: Vec<Vec<u8>> = timed
        .iter()
        .map(|o| serde_json::to_vec(&o.payload(&store)).unwrap())
        .collect();
    let t = Instant::now();
    for body in &bodies {
        let s = Instant::now();
        atelier::db::write_tx(&mut conn, |c| {
            atelier::jobs::dispatch::apply_order(c, &ctx, &recs, &shop, "orders/create", body, None)
        })
        .unwrap();
        one.latencies_us.push(s.elapsed().as_micros() as u32);
        one.ok += 1;
    }
    one.elapsed = t.elapsed();
    // The same orders (as new ones) in transactions of 32, as the inbox worker applies what
    // arrived meanwhile on PostgreSQL (8 on SQLite): the cost per order when commits are shared.
    let batch = if db_url.starts_with("sqlite") { 8 } else { 32 };
    let again: Vec<Vec<u8>> = timed
        .iter()
        .map(|o| {
            let o = atelier::cli::synth::Order {
                id: o.id + 1_000_000_000,
                customer: o.customer,
                at: o.at,
                products: o.products.clone(),
            };
            serde_json::to_vec(&o.payload(&store)).unwrap()
        })
        .collect();
    let t = Instant::now();
    for chunk in again.chunks(batch) {
        atelier::db::write_tx(&mut conn, |c| -> Result<(), atelier::sync::SyncError> {
            for body in chunk {
                atelier::jobs::dispatch::apply_order(
                    c,
                    &ctx,
                    &recs,
                    &shop,
                    "orders/create",
                    body,
                    None,
                )?;
            }
            Ok(())
        })
        .unwrap();
    }
    let batched_ms = t.elapsed().as_secs_f64() * 1000.0 / again.len() as f64;
    drop(conn);
    if std::env::var("BENCH_APPLY_ONLY").is_ok() {
        let mut slow: Vec<(u32, usize, usize)> = one
            .latencies_us
            .iter()
            .zip(timed)
            .enumerate()
            .map(|(i, (us, o))| (*us, o.products.len(), i))
            .collect();
        slow.sort_unstable_by(|a, b| b.cmp(a));
        println!(
            "\napplying one order: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms; slowest (µs, basket, index): {:?}",
            one.elapsed.as_secs_f64() * 1000.0 / one.ok as f64,
            one.pct(0.5),
            one.pct(0.99),
            &slow[..30]
        );
        return;
    }
    let db_size_mb = db_url
        .strip_prefix("sqlite://")
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len() as f64 / 1e6);

    // Storefront traffic: products by sales.
    let mut sold = vec![1.0f64; store.products.len()];
    for o in &store.orders {
        for p in &o.products {
            sold[(p - atelier::cli::synth::FIRST_PRODUCT_ID) as usize] += 1.0;
        }
    }
    let mut cumulative = Vec::with_capacity(sold.len());
    let mut sum = 0.0;
    for s in &sold {
        sum += s;
        cumulative.push(sum);
    }
    let urls = |base: &str, popular: bool, n: usize, seed: u64| -> Arc<Vec<String>> {
        let mut rng = StdRng::seed_from_u64(seed);
        Arc::new(
            (0..n)
                .map(|_| {
                    let i = if popular {
                        let x = rng.random::<f64>() * sum;
                        cumulative
                            .partition_point(|c| *c < x)
                            .min(cumulative.len() - 1)
                    } else {
                        rng.random_range(0..cumulative.len())
                    };
                    let id = (atelier::cli::synth::FIRST_PRODUCT_ID + i as i64).to_string();
                    let intent = match rng.random_range(0..10) {
                        0..=3 => "complementary",
                        4..=7 => "related",
                        _ => "trending",
                    };
                    format!(
                        "{base}/proxy/recommendations?{}",
                        signed(&[
                            ("intent", intent.into()),
                            ("product_id", id),
                            ("limit", "10".into())
                        ])
                    )
                })
                .collect(),
        )
    };

    let port = free_port();
    let mut server = start_server(&db_url, port, SECRET, &[]);
    let base = format!("http://127.0.0.1:{port}");
    let client = client(connections);
    wait_ready(&client, &base).await;
    let rss_idle = rss_mb(server.id());
    let sample: serde_json::Value = client
        .get(&urls(&base, true, 1, 1)[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sample["products"].as_array().map(Vec::len),
        Some(10),
        "{sample}"
    );

    let make = |list: Arc<Vec<String>>| -> MakeRequest {
        Arc::new(move |c, i| c.get(&list[(i as usize) % list.len()]))
    };
    let health: MakeRequest = {
        let base = base.clone();
        Arc::new(move |c, _| c.get(format!("{base}/healthz")))
    };
    // Warm-up (not measured): a server in steady state has served these products before.
    let warm = closed_loop(
        &client,
        make(urls(&base, true, 50_000, 5)),
        200,
        connections,
        secs,
    )
    .await;
    let mut health = closed_loop(&client, health, 200, connections, secs).await;
    let mut max = closed_loop(
        &client,
        make(urls(&base, true, 50_000, 2)),
        200,
        connections,
        secs,
    )
    .await;
    let mut fixed = open_loop(&client, make(urls(&base, true, 50_000, 3)), 200, rate, secs).await;
    let mut uniform = open_loop(
        &client,
        make(urls(&base, false, 50_000, 4)),
        200,
        rate / 2,
        secs,
    )
    .await;
    // (5) The same fixed rate while the store changes: orders and product updates arrive as
    // signed webhooks (applied by the server's worker), 10 of each per second, popular products
    // first (the ones whose lists are cached).
    let writes = {
        let client = client.clone();
        let base = base.clone();
        let orders: Vec<serde_json::Value> = store.orders[..2_000]
            .iter()
            .map(|o| o.payload(&store))
            .collect();
        let products: Vec<serde_json::Value> = (0..2_000)
            .map(|i| {
                let x = (i as f64 + 0.5) / 2_000.0 * sum;
                let j = cumulative
                    .partition_point(|c| *c < x)
                    .min(cumulative.len() - 1);
                store.products[j].payload()
            })
            .collect();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut sent = 0u64;
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
            let run = std::process::id();
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                tick.tick().await;
                let i = sent as usize;
                let mut order = orders[i % orders.len()].clone();
                order["id"] = serde_json::json!(9_000_000_000i64 + i as i64);
                let mut product = products[i % products.len()].clone();
                product["updated_at"] = serde_json::json!(
                    time::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap()
                );
                product["title"] = serde_json::json!(format!("Updated {i}"));
                for (topic, body) in [("orders/create", order), ("products/update", product)] {
                    let bytes = serde_json::to_vec(&body).unwrap();
                    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                    mac.update(&bytes);
                    let hmac = base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        mac.finalize().into_bytes(),
                    );
                    let r = client
                        .post(format!("{base}/webhooks"))
                        .header("Content-Type", "application/json")
                        .header("X-Shopify-Topic", topic)
                        .header("X-Shopify-Hmac-Sha256", hmac)
                        .header("X-Shopify-Shop-Domain", SHOP)
                        .header("X-Shopify-Webhook-Id", format!("{run}-{topic}-{i}"))
                        .header("X-Shopify-API-Version", "2026-10")
                        .body(bytes)
                        .send()
                        .await;
                    assert!(r.is_ok_and(|r| r.status().is_success()), "webhook refused");
                }
                sent += 1;
            }
            sent
        });
        (stop, task)
    };
    let mut changing =
        open_loop(&client, make(urls(&base, true, 50_000, 7)), 200, rate, secs).await;
    writes.0.store(true, std::sync::atomic::Ordering::Release);
    let written = writes.1.await.unwrap();
    // Every delivery of phase 5 applied (not only accepted): what the inbox holds by state.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let inbox: Vec<(String, i64)> = {
        use atelier::db::schema::webhook_inbox as w;
        use diesel::prelude::*;
        let mut c = db.conn().unwrap();
        w::table
            .group_by(w::state)
            .select((w::state, diesel::dsl::count_star()))
            .load(&mut *c)
            .unwrap()
    };

    // (6, 7) Logged-in `for_you` for the regulars (hundreds of past lines each): closed loop,
    // then at the fixed rate, after an unmeasured warm-up; every answer must be full.
    let for_you_urls = |seed: u64| -> Arc<Vec<String>> {
        let mut rng = StdRng::seed_from_u64(seed);
        Arc::new(
            (0..20_000)
                .map(|_| {
                    let c = regulars[rng.random_range(0..regulars.len())];
                    format!(
                        "{base}/proxy/recommendations?{}",
                        signed_as(
                            Some(c),
                            &[("intent", "for_you".into()), ("limit", "10".into())]
                        )
                    )
                })
                .collect(),
        )
    };
    let sample: serde_json::Value = client
        .get(&for_you_urls(1)[0])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sample["products"].as_array().map(Vec::len),
        Some(10),
        "{sample}"
    );
    let _ = closed_loop(&client, make(for_you_urls(8)), 200, connections, secs).await;
    let health_again: MakeRequest = {
        let base = base.clone();
        Arc::new(move |c, _| c.get(format!("{base}/healthz")))
    };
    let mut health2 = closed_loop(&client, health_again, 200, connections, secs).await;
    let mut for_you_max = closed_loop(&client, make(for_you_urls(9)), 200, connections, secs).await;
    let mut for_you_fixed = open_loop(&client, make(for_you_urls(10)), 200, rate, secs).await;
    let rss_for_you = rss_mb(server.id());

    // The same closed loop with wrk (a lighter generator than reqwest), when installed.
    let wrk_paths_list: Vec<String> = urls(&base, true, 50_000, 6)
        .iter()
        .map(|u| u[base.len()..].to_owned())
        .collect();
    let wrk_health = wrk(&format!("{base}/healthz"), "GET", None, connections, secs);
    let wrk_max = wrk_paths(&base, &wrk_paths_list, connections, secs);
    let rss_after = rss_mb(server.id());

    println!(
        "\n## {label}: {} products, {} orders / {lines} order lines loaded ({} categories)",
        store.products.len(),
        bulk.len(),
        store.categories
    );
    println!(
        "\ngenerate {:.1} s; load products {:.1} s ({:.0}/s); load orders {:.1} s ({:.0} orders/s, in transactions of 1,000){}",
        generated.as_secs_f64(),
        products_load.as_secs_f64(),
        store.products.len() as f64 / products_load.as_secs_f64(),
        orders_load.as_secs_f64(),
        bulk.len() as f64 / orders_load.as_secs_f64(),
        db_size_mb.map_or(String::new(), |mb| format!("; database file {mb:.0} MB")),
    );
    println!(
        "\napplying orders in transactions of {batch} (as the inbox worker does): {batched_ms:.3} ms per order"
    );
    let (p50, p99, pmax) = (one.pct(0.5), one.pct(0.99), one.pct(1.0));
    println!(
        "\napplying one order (orders/create, own transaction incl. commit, {} orders): mean {:.3} ms, p50 {p50:.3} ms, p99 {p99:.3} ms, max {pmax:.3} ms",
        one.ok,
        one.elapsed.as_secs_f64() * 1000.0 / one.ok as f64,
    );
    println!("\n{TABLE_HEAD}");
    println!("{}", health.row("GET /healthz (ceiling)"));
    println!(
        "| (warm-up, not measured: {:.0} requests/s) | | | | | |",
        warm.rate()
    );
    println!(
        "{}",
        max.row(&format!(
            "GET recommendations, max ({connections} connections)"
        ))
    );
    println!("{}", fixed.row(&format!("GET recommendations at {rate}/s")));
    println!(
        "{}",
        uniform.row(&format!(
            "GET recommendations at {}/s, uniform products (cache misses)",
            rate / 2
        ))
    );
    println!("(phase 5 deliveries by inbox state: {inbox:?})");
    println!(
        "{}",
        health2.row("GET /healthz again (ceiling for the for_you phases)")
    );
    println!(
        "{}",
        for_you_max.row(&format!(
            "GET for_you, logged in, {n_regulars} regulars with {regular_lines} past lines, max ({connections} connections)"
        ))
    );
    println!(
        "{}",
        for_you_fixed.row(&format!("GET for_you, logged in, at {rate}/s"))
    );
    println!(
        "\nfor_you max / healthz: {:.2}; regulars loaded in {:.1} s; RSS after the for_you phases {rss_for_you:.0} MB",
        for_you_max.rate() / health2.rate().max(1.0),
        regulars_load.as_secs_f64()
    );
    println!(
        "{}",
        changing.row(&format!(
            "GET recommendations at {rate}/s while {written} orders and {written} product updates arrive (10/s each)"
        ))
    );
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
                "| GET recommendations, max | {:.0} | {:.2} | {:.2} | {} |",
                m.0, m.1, m.2, m.3
            );
        }
        _ => {
            println!("\n(wrk not installed: `apt-get install wrk` for the lighter-generator phase)")
        }
    }
    println!(
        "\nserver memory (RSS): {rss_idle:.0} MB after start, {rss_after:.0} MB after the phases"
    );
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    on_both_backends(run_backend);
}
