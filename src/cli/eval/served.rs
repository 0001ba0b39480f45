//! The server's own recommendations, for the evaluation: a fresh database (a temporary SQLite
//! file unless `--database` names one), one installed shop, the catalogue and the training
//! orders applied through the webhook code (`jobs::dispatch`), and every list asked of the
//! same `Recommender::recommend` the HTTP route calls.

use std::collections::HashSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::input::EvalOrder;
use crate::db::{Db, write_tx};
use crate::recommendations::{Intent, Recommender};
use crate::shops::Shop;
use crate::sync::{SyncContext, SyncError};

const SHOP: &str = "atelier-eval.myshopify.com";

pub struct Served {
    db: Db,
    recs: Recommender,
    shop: Shop,
    file: Option<PathBuf>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

/// A product the order files name but the catalogue does not: active, published, in stock.
fn stand_in(id: i64) -> Value {
    json!({
        "id": id, "title": format!("Product {id}"), "handle": format!("product-{id}"),
        "product_type": "", "vendor": "", "tags": "", "status": "active",
        "published_at": "2000-01-01T00:00:00Z", "updated_at": "2000-01-01T00:00:00Z",
        "variants": [{"id": id, "title": "Default", "price": "10.00", "position": 1,
            "inventory_quantity": 10, "inventory_policy": "deny"}],
    })
}

impl Served {
    pub fn start(database: Option<&str>) -> anyhow::Result<Served> {
        let (url, file) = match database {
            Some(u) => (u.to_owned(), None),
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let f = std::env::temp_dir()
                    .join(format!("atelier-eval-{}-{nanos}.db", std::process::id()));
                (format!("sqlite://{}", f.display()), Some(f))
            }
        };
        let db = Db::connect(&url, 2)?;
        let mut c = db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        let grant = crate::shopify::AccessGrant {
            access_token: crate::config::Secret::new("shpat_eval"),
            scope: "read_orders,read_products".into(),
            expires_in: None,
            refresh_token: None,
            refresh_token_expires_in: None,
        };
        let cipher = crate::crypto::TokenCipher::new(&[7u8; 32]);
        let domain =
            crate::shopify::ShopDomain::parse(SHOP).map_err(|_| anyhow::anyhow!("shop domain"))?;
        let shop = crate::shops::save_grant(&mut c, &cipher, &domain, &grant)?;
        // Shoppers may state a size for products tagged `size-category:apparel`.
        let center = crate::preferences::center::parse_update(&json!({"size_categories": [
            {"key": "apparel", "label": "Apparel", "sizes": ["XS", "S", "M", "L", "XL", "XXL"]}
        ]}))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        crate::preferences::center::update(&mut c, &shop.id, center)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        drop(c);
        Ok(Served {
            db,
            recs: Recommender::default(),
            shop,
            file,
        })
    }

    /// The catalogue (and a stand-in for every product only the orders name), then the
    /// training orders in time order, through the webhook code.
    pub fn load(&self, products: &[Value], train: &[&EvalOrder]) -> anyhow::Result<()> {
        let ctx = SyncContext {
            customer_ref_key: [1u8; 32],
            personalization_keys: vec![[2u8; 32]],
            upload_base: "http://127.0.0.1/uploads/".into(),
        };
        let mut c = self.db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        let known: HashSet<i64> = products
            .iter()
            .filter_map(|p| crate::shopify::payload::parse_id(&p["id"]))
            .collect();
        let mut missing: Vec<i64> = train
            .iter()
            .flat_map(|o| o.basket.iter().copied())
            .filter(|p| !known.contains(p))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let all: Vec<Value> = products
            .iter()
            .cloned()
            .chain(missing.into_iter().map(stand_in))
            .collect();
        for chunk in all.chunks(500) {
            write_tx(&mut c, |c| -> Result<(), SyncError> {
                for p in chunk {
                    let body = serde_json::to_vec(p).unwrap_or_default();
                    crate::jobs::dispatch::apply_product(
                        c,
                        &self.recs,
                        &self.shop,
                        "products/create",
                        &body,
                        None,
                    )?;
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("loading products: {e}"))?;
        }
        for chunk in train.chunks(500) {
            write_tx(&mut c, |c| -> Result<(), SyncError> {
                for o in chunk {
                    crate::jobs::dispatch::apply_order(
                        c,
                        &ctx,
                        &self.recs,
                        &self.shop,
                        "orders/create",
                        o.payload.as_bytes(),
                        None,
                    )?;
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("loading orders: {e}"))?;
        }
        Ok(())
    }

    /// The shopper's preferences as they would set them in the preference center: consent to
    /// personalization, and optionally a size.
    pub fn prefer(&self, customer: i64, size: Option<&str>) -> anyhow::Result<()> {
        let mut body = json!({"consent": {"personalization": true, "marketing": false}});
        body["sizes"] = json!({"apparel": size});
        let up =
            crate::preferences::prefs::parse_update(&body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut c = self.db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        crate::preferences::prefs::update(
            &mut c,
            &self.shop.id,
            customer,
            &up,
            crate::preferences::Source::Admin,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    /// The list the storefront would get for `intent`.
    pub fn recommend(
        &self,
        intent: Intent,
        product: Option<i64>,
        customer: Option<i64>,
        k: usize,
    ) -> anyhow::Result<Vec<i64>> {
        let mut c = self.db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(self
            .recs
            .recommend(&mut c, &self.shop.id, intent, product, customer, k, false)?
            .into_iter()
            .map(|r| r.product_id)
            .collect())
    }
}
