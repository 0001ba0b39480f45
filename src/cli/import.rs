//! `atelier import --shop SHOP --orders FILE.jsonl [--products FILE.jsonl]`: Shopify payloads,
//! one JSON object per line (`orders/create` and `products/create` webhook shapes), applied
//! exactly as those webhooks are (orders also feed the recommendation model), in transactions
//! of 200 lines. Re-importing a file changes nothing.

use std::io::BufRead;

use serde::Serialize;

use crate::db::{DbConnection, write_tx};
use crate::recommendations::Recommender;
use crate::shops::Shop;
use crate::sync::{SyncContext, SyncError};

const BATCH: usize = 200;

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub applied: u64,
    pub stale: u64,
    /// `(line number, problem)` of the first lines that could not be applied.
    pub rejected: Vec<(u64, String)>,
    pub rejected_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Orders,
    Products,
}

pub fn import(
    c: &mut DbConnection,
    ctx: &SyncContext,
    recs: &Recommender,
    shop: &Shop,
    kind: Kind,
    reader: impl BufRead,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let mut batch: Vec<(u64, String)> = Vec::with_capacity(BATCH);
    let mut flush =
        |batch: &mut Vec<(u64, String)>, report: &mut ImportReport| -> anyhow::Result<()> {
            write_tx(c, |c| -> Result<(), SyncError> {
                for (n, line) in batch.iter() {
                    let topic = match kind {
                        Kind::Orders => "orders/create",
                        Kind::Products => "products/create",
                    };
                    let outcome = match kind {
                        Kind::Orders => crate::jobs::dispatch::apply_order(
                            c,
                            ctx,
                            recs,
                            shop,
                            topic,
                            line.as_bytes(),
                            None,
                        ),
                        Kind::Products => {
                            crate::products::apply_update(c, shop, topic, line.as_bytes(), None)
                        }
                    };
                    match outcome {
                        Ok(crate::sync::Outcome::Stale) => report.stale += 1,
                        Ok(_) => report.applied += 1,
                        Err(SyncError::Permanent(m)) => {
                            report.rejected_count += 1;
                            if report.rejected.len() < 20 {
                                report.rejected.push((*n, m));
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                if kind == Kind::Products {
                    recs.model_reset(c, &shop.id)?;
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
            batch.clear();
            Ok(())
        };
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        batch.push((i as u64 + 1, line));
        if batch.len() == BATCH {
            flush(&mut batch, &mut report)?;
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut report)?;
    }
    Ok(report)
}

/// The `import` subcommand.
pub async fn command(settings: crate::config::Settings, args: &[String]) -> anyhow::Result<()> {
    let shop_domain =
        super::flag(args, "--shop").ok_or_else(|| anyhow::anyhow!("--shop SHOP is required"))?;
    let orders = super::flag(args, "--orders");
    let products = super::flag(args, "--products");
    if orders.is_none() && products.is_none() {
        anyhow::bail!("--orders FILE.jsonl (and/or --products FILE.jsonl) is required");
    }
    let url = settings.database_url.clone();
    let db = tokio::task::spawn_blocking(move || crate::db::Db::connect(url.expose(), 2)).await??;
    let state = crate::state::AppState::new(settings, db)?;
    let domain = shop_domain.to_owned();
    let mut jobs: Vec<(Kind, String)> = Vec::new();
    if let Some(p) = products {
        jobs.push((Kind::Products, p.to_owned()));
    }
    if let Some(o) = orders {
        jobs.push((Kind::Orders, o.to_owned()));
    }
    let st = state.clone();
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<serde_json::Value> {
        let mut conn = st.db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        let shop = crate::shops::find_by_domain(&mut conn, &domain)?
            .ok_or_else(|| anyhow::anyhow!("shop {domain} is not installed"))?;
        let mut out = serde_json::Map::new();
        for (kind, path) in jobs {
            let file = std::fs::File::open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
            let started = std::time::Instant::now();
            let report = import(
                &mut conn,
                &st.sync,
                &st.recs,
                &shop,
                kind,
                std::io::BufReader::new(file),
            )?;
            let key = if kind == Kind::Orders {
                "orders"
            } else {
                "products"
            };
            let mut v = serde_json::to_value(&report)?;
            v["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
            out.insert(key.into(), v);
        }
        Ok(serde_json::Value::Object(out))
    })
    .await??;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
