//! The shop's catalogue as recommendations need it (what may be recommended, products per type
//! and vendor, the newest), and the per-instance copy of it that product changes patch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use super::{RAW_LIST, Recommender};
use crate::db::DbConnection;
use crate::db::schema::{products, rec_items};

pub(super) struct CatalogueEntry {
    loaded: Instant,
    /// Reloaded whole by the next request (after a reset).
    pub(super) stale: bool,
    /// Products changed through this instance: read again by the next request that may use the
    /// database (answers from memory alone wait for it).
    pub(super) pending: Vec<i64>,
    catalogue: Arc<Catalogue>,
    refreshing: Arc<AtomicBool>,
}

/// How long a catalogue is used at most before it is read whole again. Changes are signalled
/// (this instance's own at once, other instances' through `catalogue_version`), so this is only
/// a safety net.
pub const CATALOGUE_TTL: Duration = Duration::from_secs(600);

/// At most this many shops' catalogues are kept per instance (each ≈ 300 B per product).
pub const CATALOGUES: usize = 1_000;

#[derive(Debug, Clone)]
pub struct ProductInfo {
    pub product_id: i64,
    pub product_type: String,
    pub vendor: String,
    pub tags: Vec<String>,
}

impl ProductInfo {
    /// The size category of a product: a tag `size-category:KEY`, else its product type in
    /// lower case.
    pub fn size_category(&self) -> String {
        self.tags
            .iter()
            .find_map(|t| {
                let t = t.trim();
                t.get(..14)
                    .filter(|p| p.eq_ignore_ascii_case("size-category:"))
                    .map(|_| t[14..].trim().to_lowercase())
            })
            .unwrap_or_else(|| self.product_type.trim().to_lowercase())
    }

    /// An interest matches a tag equal to its key or `interest:KEY` (case-insensitive).
    pub fn has_interest(&self, key: &str) -> bool {
        self.tags.iter().any(|t| {
            let t = t.trim();
            t.eq_ignore_ascii_case(key)
                || t.get(..9)
                    .is_some_and(|p| p.eq_ignore_ascii_case("interest:"))
                    && t[9..].trim().eq_ignore_ascii_case(key)
        })
    }
}

/// The shop's catalogue as recommendations need it, loaded in one pass and kept per instance;
/// a product change patches it (only the changed products are read again).
#[derive(Clone, Default)]
pub struct Catalogue {
    /// Every known, not deleted product.
    all: HashMap<i64, Arc<ProductInfo>>,
    /// What may be recommended: active, published, available, not free, not a gift card and
    /// not a fee product.
    ok: HashSet<i64>,
    /// Recommendable products per product type and per vendor, newest (highest id) first.
    pub(super) by_type: HashMap<String, Vec<i64>>,
    pub(super) by_vendor: HashMap<String, Vec<i64>>,
    /// Recommendable products, newest first.
    pub(super) newest: Vec<i64>,
}

/// `(id, type, vendor, tags, status, published, available, max price, deleted)`
type CatalogueRow = (
    i64,
    String,
    String,
    String,
    String,
    bool,
    bool,
    Option<i64>,
    bool,
);

macro_rules! catalogue_rows {
    ($shop_id:expr) => {
        products::table
            .filter(products::shop_id.eq($shop_id))
            .select((
                products::product_id,
                products::product_type,
                products::vendor,
                products::tags,
                products::status,
                products::published,
                products::available,
                products::price_max_cents,
                products::deleted,
            ))
    };
}

/// Products never recommended whatever their status: those orders showed to be fee or gift-card
/// products, and the product of the shop's fee variant, charged as an add-on and never meant to
/// be shown (even before an order proves it a fee). `ids` narrows the answer to those products.
fn flagged_among(
    c: &mut DbConnection,
    shop_id: &str,
    ids: Option<&[i64]>,
) -> QueryResult<HashSet<i64>> {
    let q = rec_items::table
        .filter(rec_items::shop_id.eq(shop_id))
        .filter(rec_items::flagged.eq(true))
        .select(rec_items::product_id);
    let mut flagged: HashSet<i64> = match ids {
        Some(ids) => q.filter(rec_items::product_id.eq_any(ids)).load::<i64>(c)?,
        None => q.load::<i64>(c)?,
    }
    .into_iter()
    .collect();
    if let Some(variant) = crate::personalization::policy::get(c, shop_id)?.fee_variant()
        && let Some(fee) = crate::products::product_of_variant(c, shop_id, variant)?
        && ids.is_none_or(|ids| ids.contains(&fee))
    {
        flagged.insert(fee);
    }
    Ok(flagged)
}

/// Inserts `id` into a list kept in descending order.
fn insert_desc(list: &mut Vec<i64>, id: i64) {
    let at = list.partition_point(|x| *x > id);
    if list.get(at) != Some(&id) {
        list.insert(at, id);
    }
}

impl Catalogue {
    pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<Catalogue> {
        let rows: Vec<CatalogueRow> = catalogue_rows!(shop_id)
            .filter(products::deleted.eq(false))
            .order(products::product_id.desc())
            .load(c)?;
        let flagged = flagged_among(c, shop_id, None)?;
        let mut cat = Catalogue {
            all: HashMap::with_capacity(rows.len()),
            ..Default::default()
        };
        // Rows come newest first: pushing keeps the per-type lists in order.
        for row in rows {
            let id = row.0;
            if let Some((kind, vendor)) = cat.put(row, &flagged) {
                if !kind.is_empty() {
                    cat.by_type.entry(kind).or_default().push(id);
                }
                if !vendor.is_empty() {
                    cat.by_vendor.entry(vendor).or_default().push(id);
                }
            }
        }
        cat.newest = cat
            .all
            .keys()
            .copied()
            .filter(|id| cat.ok.contains(id))
            .collect();
        cat.newest.sort_unstable_by(|a, b| b.cmp(a));
        cat.newest.truncate(RAW_LIST);
        Ok(cat)
    }

    /// Stores one product; returns its type and vendor when it may be recommended.
    fn put(&mut self, row: CatalogueRow, flagged: &HashSet<i64>) -> Option<(String, String)> {
        let (id, kind, vendor, tags, status, published, available, price, deleted) = row;
        if deleted {
            return None;
        }
        let recommendable = status == "active"
            && published
            && available
            && price.is_none_or(|p| p > 0)
            && !flagged.contains(&id)
            && !kind.trim().eq_ignore_ascii_case("gift card");
        if recommendable {
            self.ok.insert(id);
        }
        self.all.insert(
            id,
            Arc::new(ProductInfo {
                product_id: id,
                product_type: kind.clone(),
                vendor: vendor.clone(),
                tags: serde_json::from_str(&tags).unwrap_or_default(),
            }),
        );
        recommendable.then_some((kind, vendor))
    }

    /// A copy with the given products read again (changed, deleted, flagged).
    fn patched(&self, c: &mut DbConnection, shop_id: &str, ids: &[i64]) -> QueryResult<Catalogue> {
        let mut rows: Vec<CatalogueRow> = Vec::new();
        for chunk in ids.chunks(900) {
            rows.extend(
                catalogue_rows!(shop_id)
                    .filter(products::product_id.eq_any(chunk))
                    .load::<CatalogueRow>(c)?,
            );
        }
        let flagged = flagged_among(c, shop_id, Some(ids))?;
        let mut cat = self.clone();
        for &id in ids {
            if let Some(old) = cat.all.remove(&id)
                && cat.ok.remove(&id)
            {
                for (map, key) in [
                    (&mut cat.by_type, &old.product_type),
                    (&mut cat.by_vendor, &old.vendor),
                ] {
                    if let Some(list) = map.get_mut(key) {
                        list.retain(|x| *x != id);
                    }
                }
            }
        }
        for row in rows {
            let id = row.0;
            if let Some((kind, vendor)) = cat.put(row, &flagged) {
                if !kind.is_empty() {
                    insert_desc(cat.by_type.entry(kind).or_default(), id);
                }
                if !vendor.is_empty() {
                    insert_desc(cat.by_vendor.entry(vendor).or_default(), id);
                }
            }
        }
        cat.newest.retain(|id| cat.ok.contains(id));
        for &id in ids {
            if cat.ok.contains(&id) {
                insert_desc(&mut cat.newest, id);
            }
        }
        if cat.newest.len() < RAW_LIST.min(cat.ok.len()) {
            cat.newest = cat.ok.iter().copied().collect();
            cat.newest.sort_unstable_by(|a, b| b.cmp(a));
        }
        cat.newest.truncate(RAW_LIST);
        Ok(cat)
    }

    /// A product that may be recommended.
    pub fn recommendable(&self, id: i64) -> Option<&ProductInfo> {
        self.ok
            .contains(&id)
            .then(|| self.all.get(&id).map(Arc::as_ref))
            .flatten()
    }

    /// Any known product (the viewed one may be sold out and still have neighbours).
    pub fn product(&self, id: i64) -> Option<&ProductInfo> {
        self.all.get(&id).map(Arc::as_ref)
    }
}

impl Recommender {
    /// The shop's catalogue: patched with the products changed since (read again), reloaded
    /// whole after a reset and after [`CATALOGUE_TTL`] (one request reloads, the others keep
    /// using the previous copy meanwhile).
    pub fn catalogue(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<Arc<Catalogue>> {
        let (current, pending) = {
            let mut map = self.catalogues.lock();
            match map.get_mut(shop_id) {
                Some(e) if !e.stale => {
                    if e.pending.is_empty()
                        && (e.loaded.elapsed() < CATALOGUE_TTL
                            || e.refreshing.swap(true, Ordering::AcqRel))
                    {
                        return Ok(e.catalogue.clone());
                    }
                    (
                        Some((e.catalogue.clone(), e.refreshing.clone())),
                        std::mem::take(&mut e.pending),
                    )
                }
                _ => (None, Vec::new()),
            }
        };
        if let Some((cat, _)) = &current
            && !pending.is_empty()
        {
            let mut ids = pending;
            ids.sort_unstable();
            ids.dedup();
            let patched = match cat.patched(c, shop_id, &ids) {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    if let Some(e) = self.catalogues.lock().get_mut(shop_id) {
                        e.pending.extend(ids);
                    }
                    return Err(e);
                }
            };
            if let Some(e) = self.catalogues.lock().get_mut(shop_id)
                && !e.stale
            {
                e.catalogue = patched.clone();
            }
            return Ok(patched);
        }
        let loaded = Catalogue::load(c, shop_id);
        if let Some((_, refreshing)) = &current {
            refreshing.store(false, Ordering::Release);
        }
        let catalogue = Arc::new(loaded?);
        let mut map = self.catalogues.lock();
        if map.len() >= CATALOGUES && !map.contains_key(shop_id) {
            map.retain(|_, e| e.loaded.elapsed() < CATALOGUE_TTL);
            if map.len() >= CATALOGUES {
                map.clear();
            }
        }
        map.insert(
            shop_id.to_owned(),
            CatalogueEntry {
                loaded: Instant::now(),
                stale: false,
                pending: Vec::new(),
                catalogue: catalogue.clone(),
                refreshing: Default::default(),
            },
        );
        Ok(catalogue)
    }

    pub(super) fn cached_catalogue(&self, shop_id: &str) -> Option<Arc<Catalogue>> {
        let map = self.catalogues.lock();
        let e = map.get(shop_id)?;
        (!e.stale
            && e.pending.is_empty()
            && (e.loaded.elapsed() < CATALOGUE_TTL || e.refreshing.load(Ordering::Acquire)))
        .then(|| e.catalogue.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_category_and_interests_come_from_tags() {
        let p = ProductInfo {
            product_id: 1,
            product_type: "Shirts".into(),
            vendor: String::new(),
            tags: vec![
                "Size-Category:Tops".into(),
                "interest:Outdoor".into(),
                "linen".into(),
            ],
        };
        assert_eq!(p.size_category(), "tops");
        assert!(p.has_interest("outdoor") && p.has_interest("LINEN") && !p.has_interest("golf"));
        let q = ProductInfo { tags: vec![], ..p };
        assert_eq!(q.size_category(), "shirts");
    }
}
