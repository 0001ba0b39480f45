//! What an instance reads of the shop's versions, and how it drops what changes made through
//! other instances made stale.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::{Recommender, VERSION_POLL};
use crate::db::DbConnection;
use crate::db::schema::{products, rec_items, rec_shop_stats};

/// Products changed since the last poll beyond which an instance drops all of the shop's lists
/// rather than reading which.
const TOUCHED_MAX: i64 = 5_000;

/// What an instance last read of a shop's versions.
pub(super) struct ShopVersions {
    polled: Instant,
    model: i64,
    catalogue: i64,
    reset: i64,
    /// A request is reading the versions again (the others keep serving meanwhile).
    polling: Arc<AtomicBool>,
}

/// Cached answers are served without reading the versions again for at most this long while
/// one request reads them (a slow database never makes every request queue on it).
const VERSION_STALE_MAX: Duration = Duration::from_secs(10);

impl Recommender {
    /// Whether the versions of the shop were read recently enough to serve from memory; if not,
    /// the first caller reads them (through the database path) and the others are served from
    /// memory meanwhile, for at most [`VERSION_STALE_MAX`].
    pub(super) fn versions_fresh(&self, shop_id: &str) -> bool {
        let shops = self.shops.lock();
        let Some(v) = shops.get(shop_id) else {
            return false;
        };
        let age = v.polled.elapsed();
        age < VERSION_POLL || (age < VERSION_STALE_MAX && v.polling.swap(true, Ordering::AcqRel))
    }

    /// Reads the shop's versions at most once per [`VERSION_POLL`] and drops what another
    /// instance's changes made stale: the lists of the products its orders touched (read by
    /// their stamp), everything after a reset, the catalogue after a product change.
    pub(super) fn poll(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
        let previous = {
            let shops = self.shops.lock();
            match shops.get(shop_id) {
                Some(v) if v.polled.elapsed() < VERSION_POLL => return Ok(()),
                Some(v) => Some((v.model, v.catalogue, v.reset, v.polling.clone())),
                None => None,
            }
        };
        let result = self.read_changes(c, shop_id, previous.as_ref().map(|p| (p.0, p.1, p.2)));
        if let Some((.., polling)) = &previous {
            polling.store(false, Ordering::Release);
        }
        let (model, catalogue, reset) = result?;
        self.shops.lock().insert(
            shop_id.to_owned(),
            ShopVersions {
                polled: Instant::now(),
                model,
                catalogue,
                reset,
                polling: Default::default(),
            },
        );
        Ok(())
    }

    fn read_changes(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        previous: Option<(i64, i64, i64)>,
    ) -> QueryResult<(i64, i64, i64)> {
        let now: (i64, i64, i64) = rec_shop_stats::table
            .find(shop_id)
            .select((
                rec_shop_stats::model_version,
                rec_shop_stats::catalogue_version,
                rec_shop_stats::reset_version,
            ))
            .first(c)
            .optional()?
            .unwrap_or((0, 0, 0));
        let Some((model, catalogue, reset)) = previous else {
            // First look at this shop: nothing of it is cached yet.
            return Ok(now);
        };
        if now.2 != reset {
            self.forget(shop_id);
            return Ok(now);
        }
        if now.1 != catalogue {
            let changed: Vec<i64> = products::table
                .filter(products::shop_id.eq(shop_id))
                .filter(products::catalogue_seq.gt(catalogue))
                .select(products::product_id)
                .limit(TOUCHED_MAX + 1)
                .load(c)?;
            if let Some(e) = self.catalogues.lock().get_mut(shop_id) {
                if changed.len() as i64 > TOUCHED_MAX {
                    e.stale = true;
                } else {
                    e.pending.extend(changed);
                }
            }
            self.shop_raw.forget(|(s, _)| s == shop_id);
        }
        if now.0 != model {
            let touched: Vec<i64> = rec_items::table
                .filter(rec_items::shop_id.eq(shop_id))
                .filter(rec_items::touched_seq.gt(model))
                .select(rec_items::product_id)
                .limit(TOUCHED_MAX + 1)
                .load(c)?;
            if touched.len() as i64 > TOUCHED_MAX {
                self.raw.forget(|(s, _)| s == shop_id);
                self.personal.forget(|(s, _)| s == shop_id);
            } else {
                for &p in &touched {
                    self.forget_product(shop_id, p);
                }
                self.forget_personal_drawing_on(shop_id, &touched);
            }
            self.shop_raw.forget(|(s, _)| s == shop_id);
        }
        Ok(now)
    }
}
