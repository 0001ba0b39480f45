//! Changes to what lists are computed from: the shop's versions in the database (how every
//! instance learns of them) and this instance's log of the changes made through it (how it
//! learns of them at once).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::prelude::*;
use parking_lot::Mutex;

use super::Recommender;
use crate::db::DbConnection;
use crate::db::schema::{products, rec_shop_stats};

#[derive(Debug, Clone)]
enum Change {
    /// Learned counts of these products changed.
    Products(Vec<i64>),
    /// These products changed in the catalogue.
    Catalogue(Vec<i64>),
    Reset,
    /// This shopper's history or choices changed (an order, a view, their wishlist, answers).
    Shopper(i64),
}

/// Changes made through this instance, in order, for its recommender to apply at its next
/// request (at once, without waiting for the poll). Changes are recorded inside the writer's
/// transaction, so recording only appends; the caches are walked at the next request. Bounded:
/// a recommender that fell behind the oldest entry drops everything. Another instance, in this
/// process or another, learns of these changes only through the shop's versions.
#[derive(Default)]
pub(super) struct LocalLog {
    entries: Mutex<Entries>,
    /// Sequence number of the next entry (read without the lock).
    head: AtomicU64,
    /// How far the recommender has applied the log.
    applied: AtomicU64,
}

#[derive(Default)]
struct Entries {
    first: u64,
    list: VecDeque<(String, Change)>,
}

const LOCAL_LOG_MAX: usize = 10_000;

impl LocalLog {
    fn record(&self, shop_id: &str, change: Change) {
        let mut log = self.entries.lock();
        if log.list.len() >= LOCAL_LOG_MAX {
            log.list.pop_front();
            log.first += 1;
        }
        log.list.push_back((shop_id.to_owned(), change));
        self.head
            .store(log.first + log.list.len() as u64, Ordering::Release);
    }
}

macro_rules! bump_version {
    ($c:expr, $shop_id:expr, $column:ident) => {{
        crate::per_backend!($c, |c| diesel::insert_into(rec_shop_stats::table)
            .values((
                rec_shop_stats::shop_id.eq($shop_id),
                rec_shop_stats::$column.eq(1i64),
            ))
            .on_conflict(rec_shop_stats::shop_id)
            .do_update()
            .set(rec_shop_stats::$column.eq(rec_shop_stats::$column + 1i64))
            .execute(c))?;
        Ok(())
    }};
}

impl Recommender {
    /// The shopper's history or choices changed through this instance: their `for_you` is
    /// computed afresh at their next request here (other instances within `PERSONAL_TTL`).
    pub fn shopper_changed(&self, shop_id: &str, customer_id: i64) {
        self.local.record(shop_id, Change::Shopper(customer_id));
    }

    /// An order changed the counts of `products`: bumps the shop's model version (first in the
    /// transaction: on PostgreSQL the row lock makes versions commit in order) and returns it, for
    /// the products to be stamped with.
    pub fn products_changed(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        products: &[i64],
    ) -> QueryResult<i64> {
        use diesel::upsert::excluded;
        self.local
            .record(shop_id, Change::Products(products.to_vec()));
        crate::per_backend!(c, |c| diesel::insert_into(rec_shop_stats::table)
            .values((
                rec_shop_stats::shop_id.eq(shop_id),
                rec_shop_stats::model_version.eq(1i64),
            ))
            .on_conflict(rec_shop_stats::shop_id)
            .do_update()
            .set(
                rec_shop_stats::model_version
                    .eq(rec_shop_stats::model_version + excluded(rec_shop_stats::model_version))
            )
            .returning(rec_shop_stats::model_version)
            .get_result::<i64>(c))
    }

    /// Something that changes every list of the shop (settings, erasure): every instance drops them.
    pub fn model_reset(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
        self.local.record(shop_id, Change::Reset);
        bump_version!(c, shop_id, reset_version)
    }

    /// Products of the shop changed (or turned out to be fee products): bumps the shop's
    /// catalogue version and stamps them with it, so every instance reads them again (after the
    /// products' rows are written, in the same transaction). Bulk changes (an import, the backfill)
    /// use [`Recommender::model_reset`] instead.
    pub fn catalogue_changed(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        ids: &[i64],
    ) -> QueryResult<()> {
        use diesel::upsert::excluded;
        self.local.record(shop_id, Change::Catalogue(ids.to_vec()));
        let version = crate::per_backend!(c, |c| diesel::insert_into(rec_shop_stats::table)
            .values((
                rec_shop_stats::shop_id.eq(shop_id),
                rec_shop_stats::catalogue_version.eq(1i64),
            ))
            .on_conflict(rec_shop_stats::shop_id)
            .do_update()
            .set(
                rec_shop_stats::catalogue_version
                    .eq(rec_shop_stats::catalogue_version
                        + excluded(rec_shop_stats::catalogue_version))
            )
            .returning(rec_shop_stats::catalogue_version)
            .get_result::<i64>(c))?;
        for chunk in ids.chunks(900) {
            diesel::update(
                products::table
                    .filter(products::shop_id.eq(shop_id))
                    .filter(products::product_id.eq_any(chunk)),
            )
            .set(products::catalogue_seq.eq(version))
            .execute(c)?;
        }
        Ok(())
    }
}

impl Recommender {
    /// Applies the changes made through this instance since this instance last looked (at once, without
    /// waiting for the poll).
    pub(super) fn apply_local(&self) {
        let head = self.local.head.load(Ordering::Acquire);
        let mine = self.local.applied.load(Ordering::Acquire);
        if head == mine {
            return;
        }
        let log = self.local.entries.lock();
        let end = log.first + log.list.len() as u64;
        if mine < log.first {
            // Fell behind the log: everything may have changed.
            self.raw.forget(|_| true);
            self.shop_raw.forget(|_| true);
            self.settings.forget(|_| true);
            self.personal.forget(|_| true);
            for e in self.catalogues.lock().values_mut() {
                e.stale = true;
            }
        } else {
            for (shop_id, change) in log.list.iter().skip((mine - log.first) as usize) {
                self.apply_change(shop_id, change);
            }
        }
        self.local.applied.store(end, Ordering::Release);
    }

    fn apply_change(&self, shop_id: &str, change: &Change) {
        match change {
            Change::Products(ids) => {
                for &p in ids {
                    self.forget_product(shop_id, p);
                }
                self.forget_personal_drawing_on(shop_id, ids);
                self.shop_raw.forget(|(s, _)| s == shop_id);
            }
            Change::Catalogue(ids) => {
                if let Some(e) = self.catalogues.lock().get_mut(shop_id) {
                    e.pending.extend_from_slice(ids);
                }
                // Shop-wide lists come from the catalogue (newest, per type).
                self.shop_raw.forget(|(s, _)| s == shop_id);
            }
            Change::Reset => self.forget(shop_id),
            Change::Shopper(customer) => self.personal.remove(&(shop_id.to_owned(), *customer)),
        }
    }
}
