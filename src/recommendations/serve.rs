//! Serving: candidate lists per intent, the filters every list goes through, merchant pins and
//! exclusions, and the fallbacks that keep a list full.
//!
//! Each instance keeps the lists it computed (ids and scores) and the shop's catalogue in
//! memory, and assembles every answer from them per request (pins, exclusions, availability,
//! fallbacks). What invalidates a list:
//! - an order changes the counts of its products: it bumps the shop's `model_version` and stamps
//!   those products with it; this instance drops their lists at once, another instance within
//!   [`VERSION_POLL`] (it reads which products were stamped since the version it last saw);
//! - settings and erasure bump `reset_version`: every list of the shop is dropped;
//! - a product change bumps `catalogue_version`: the catalogue is reloaded (lists stay: they are
//!   filtered against the catalogue at every request);
//! - anything else (events, the normalisation of other lists by a changed popularity) within
//!   [`CACHE_TTL`].

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::consent;
use super::model::{MAX_BASKET, feeds_model, unix};
use super::scoring::{
    FOR_YOU_AFFINITY_WEIGHT, FOR_YOU_COMPLEMENT_WEIGHT, FOR_YOU_COMPLEMENTS, FOR_YOU_HISTORY,
    FOR_YOU_POPULARITY_WEIGHT, RELATED_BEHAVIOUR_WEIGHT, RELATED_CONTENT_WEIGHT, content,
    distribution, history_weights, lift, shrunk_cosine, trend_now, type_shares,
};
use super::steering::Steering;
use crate::cache::TtlCache;
use crate::db::schema::{
    orders, product_variants, products, rec_covisits, rec_events, rec_items, rec_order_contrib,
    rec_pairs, rec_shop_stats,
};
use crate::db::{DbConnection, now};

/// The most products one list returns (`limit` above it is clamped).
pub const MAX_LIMIT: usize = 50;
pub const DEFAULT_LIMIT: usize = 10;
/// How long an instance keeps a computed list (and the catalogue) at most.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// How often an instance reads the shop's versions (`rec_shop_stats`), and so how soon it sees
/// a change made through another instance.
pub const VERSION_POLL: Duration = Duration::from_secs(1);
/// Bound of the per-instance cache of product lists (ids and scores: ≈ 1.6 KB each at most).
pub const RAW_CACHE_ENTRIES: usize = 100_000;
/// Bound of the per-instance cache of shop-wide lists (trending, per product type, newest).
pub const SHOP_CACHE_ENTRIES: usize = 20_000;
/// Candidates read per product from the pair tables (the strongest by count).
const PAIR_CANDIDATES: i64 = 300;
const CONTENT_CANDIDATES: usize = 200;
const RAW_LIST: usize = 100;
/// Products changed since the last poll beyond which an instance drops all of the shop's lists
/// rather than reading which.
const TOUCHED_MAX: i64 = 5_000;
/// Products per product type in the per-type trending lists `for_you` draws on.
pub const TYPE_TRENDING: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    Related,
    Complementary,
    ForYou,
    Trending,
}

impl Intent {
    pub const ALL: [Intent; 4] = [
        Intent::Related,
        Intent::Complementary,
        Intent::ForYou,
        Intent::Trending,
    ];

    pub fn parse(s: &str) -> Option<Intent> {
        match s {
            "related" => Some(Intent::Related),
            "complementary" => Some(Intent::Complementary),
            "for_you" => Some(Intent::ForYou),
            "trending" => Some(Intent::Trending),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Related => "related",
            Intent::Complementary => "complementary",
            Intent::ForYou => "for_you",
            Intent::Trending => "trending",
        }
    }

    /// Intents that recommend around a product need `product_id`.
    pub fn needs_product(self) -> bool {
        matches!(self, Intent::Related | Intent::Complementary)
    }
}

#[derive(Debug, Clone)]
pub struct Rec {
    pub product_id: i64,
    pub score: f64,
    pub reasons: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ListKey {
    Complementary(i64),
    Related(i64),
    Trending,
    Newest,
    /// Trending products of one product type (for `for_you`'s category affinity).
    TypeTrending(String),
}

impl ListKey {
    /// Lists of the whole shop (kept apart: they are all dropped when any count changes).
    fn shop_wide(&self) -> bool {
        matches!(
            self,
            ListKey::Trending | ListKey::Newest | ListKey::TypeTrending(_)
        )
    }
}

type VariantOptions = (i64, Option<String>, Option<String>, Option<String>);

/// A cached list entry: what serving needs, 16 bytes (a list of 100 ≈ 1.6 KB).
#[derive(Debug, Clone, Copy)]
struct Entry {
    product_id: i64,
    score: f64,
}

/// A candidate list, best first: compact when cached, with reasons when explained.
#[derive(Clone)]
enum List {
    Compact(Arc<[Entry]>),
    Explained(Arc<Vec<Rec>>),
}

impl List {
    fn new(list: Vec<Rec>, explain: bool) -> List {
        if explain {
            List::Explained(Arc::new(list))
        } else {
            List::Compact(
                list.iter()
                    .map(|r| Entry {
                        product_id: r.product_id,
                        score: r.score,
                    })
                    .collect(),
            )
        }
    }

    fn len(&self) -> usize {
        match self {
            List::Compact(l) => l.len(),
            List::Explained(l) => l.len(),
        }
    }

    /// `(product, score, reasons)` of the i-th entry.
    fn at(&self, i: usize) -> (i64, f64, &[Value]) {
        match self {
            List::Compact(l) => (l[i].product_id, l[i].score, &[]),
            List::Explained(l) => (l[i].product_id, l[i].score, &l[i].reasons),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (i64, f64, &[Value])> {
        (0..self.len()).map(|i| self.at(i))
    }
}

/// Per-process state of recommendations: computed lists, catalogues, settings, and what this
/// instance has seen of each shop's versions.
pub struct Recommender {
    shops: Mutex<HashMap<String, ShopVersions>>,
    catalogues: Mutex<HashMap<String, CatalogueEntry>>,
    raw: TtlCache<(String, ListKey), List>,
    shop_raw: TtlCache<(String, ListKey), List>,
    settings: TtlCache<String, Arc<Steering>>,
    /// How far this instance has applied the process's [`LOCAL`] log.
    local_cursor: AtomicU64,
}

impl Default for Recommender {
    fn default() -> Self {
        Recommender {
            shops: Mutex::new(HashMap::new()),
            catalogues: Mutex::new(HashMap::new()),
            raw: TtlCache::new(CACHE_TTL, RAW_CACHE_ENTRIES),
            shop_raw: TtlCache::new(CACHE_TTL, SHOP_CACHE_ENTRIES),
            settings: TtlCache::new(CACHE_TTL, 10_000),
            local_cursor: AtomicU64::new(LOCAL_HEAD.load(Ordering::Acquire)),
        }
    }
}

/// What an instance last read of a shop's versions.
struct ShopVersions {
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

struct CatalogueEntry {
    loaded: Instant,
    /// Reloaded whole by the next request (after a reset).
    stale: bool,
    /// Products changed through this process: read again by the next request that may use the
    /// database (answers from memory alone wait for it).
    pending: Vec<i64>,
    catalogue: Arc<Catalogue>,
    refreshing: Arc<AtomicBool>,
}

/// How long a catalogue is used at most before it is read whole again. Changes are signalled
/// (this process's own at once, other instances' through `catalogue_version`), so this is only
/// a safety net.
pub const CATALOGUE_TTL: Duration = Duration::from_secs(600);

/// At most this many shops' catalogues are kept per instance (each ≈ 300 B per product).
pub const CATALOGUES: usize = 1_000;

// ---------------------------------------------------------------- changes

#[derive(Debug, Clone)]
enum Change {
    /// Learned counts of these products changed.
    Products(Vec<i64>),
    /// These products changed in the catalogue.
    Catalogue(Vec<i64>),
    Reset,
}

/// Changes made through this process, in order, for its recommenders to apply at their next
/// request (at once, without waiting for the poll). Bounded: a recommender that fell behind the
/// oldest entry drops everything.
struct LocalLog {
    first: u64,
    entries: VecDeque<(String, Change)>,
}

const LOCAL_LOG_MAX: usize = 10_000;
static LOCAL: LazyLock<Mutex<LocalLog>> = LazyLock::new(|| {
    Mutex::new(LocalLog {
        first: 0,
        entries: VecDeque::new(),
    })
});
/// Sequence number of the next entry of [`LOCAL`] (read without its lock).
static LOCAL_HEAD: AtomicU64 = AtomicU64::new(0);

fn record(shop_id: &str, change: Change) {
    let mut log = LOCAL.lock();
    if log.entries.len() >= LOCAL_LOG_MAX {
        log.entries.pop_front();
        log.first += 1;
    }
    log.entries.push_back((shop_id.to_owned(), change));
    LOCAL_HEAD.store(log.first + log.entries.len() as u64, Ordering::Release);
}

/// An order changed the counts of `products`: bumps the shop's model version (first in the
/// transaction: on PostgreSQL the row lock makes versions commit in order) and returns it, for
/// the products to be stamped with.
pub fn products_changed(c: &mut DbConnection, shop_id: &str, products: &[i64]) -> QueryResult<i64> {
    use diesel::upsert::excluded;
    record(shop_id, Change::Products(products.to_vec()));
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

/// Something that changes every list of the shop (settings, erasure): every instance drops them.
pub fn model_reset(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    record(shop_id, Change::Reset);
    bump_version!(c, shop_id, reset_version)
}

/// Products of the shop changed (or turned out to be fee products): bumps the shop's
/// catalogue version and stamps them with it, so every instance reads them again (after the
/// products' rows are written, in the same transaction). Bulk changes (an import, the backfill)
/// use [`model_reset`] instead.
pub fn catalogue_changed(c: &mut DbConnection, shop_id: &str, ids: &[i64]) -> QueryResult<()> {
    use diesel::upsert::excluded;
    record(shop_id, Change::Catalogue(ids.to_vec()));
    let version =
        crate::per_backend!(c, |c| diesel::insert_into(rec_shop_stats::table)
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

// ---------------------------------------------------------------- catalogue

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
    by_type: HashMap<String, Vec<i64>>,
    by_vendor: HashMap<String, Vec<i64>>,
    /// Recommendable products, newest first.
    newest: Vec<i64>,
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

fn flagged_among(
    c: &mut DbConnection,
    shop_id: &str,
    ids: Option<&[i64]>,
) -> QueryResult<HashSet<i64>> {
    let q = rec_items::table
        .filter(rec_items::shop_id.eq(shop_id))
        .filter(rec_items::flagged.eq(true))
        .select(rec_items::product_id);
    Ok(match ids {
        Some(ids) => q.filter(rec_items::product_id.eq_any(ids)).load::<i64>(c)?,
        None => q.load::<i64>(c)?,
    }
    .into_iter()
    .collect())
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

fn sort_desc(list: &mut [Rec]) {
    list.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.product_id.cmp(&b.product_id))
    });
}

/// Contributing orders and the data window (RFC 3339) of a shop (for explanations).
fn window(c: &mut DbConnection, shop_id: &str) -> QueryResult<(i64, Value)> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = rec_shop_stats::table
        .find(shop_id)
        .select((
            rec_shop_stats::orders,
            rec_shop_stats::first_order_at,
            rec_shop_stats::last_order_at,
        ))
        .first(c)
        .optional()?;
    let (orders, from, to) = row.unwrap_or((0, None, None));
    let fmt = |t: Option<i64>| {
        t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    Ok((
        orders,
        json!({"orders": orders, "from": fmt(from), "to": fmt(to)}),
    ))
}

/// One product's learned counts: `(orders, sessions)`.
fn item_count(c: &mut DbConnection, shop_id: &str, p: i64) -> QueryResult<(i64, i64)> {
    Ok(rec_items::table
        .find((shop_id, p))
        .select((rec_items::orders, rec_items::sessions))
        .first(c)
        .optional()?
        .unwrap_or((0, 0)))
}

// ---------------------------------------------------------------- raw lists

/// Bought together: the product's strongest pairs (one indexed query with the partners'
/// counts), ranked by shrunk cosine.
fn complementary_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let pairs: Vec<(i64, i64, Option<i64>)> = rec_pairs::table
        .left_join(
            rec_items::table.on(rec_items::shop_id
                .eq(rec_pairs::shop_id)
                .and(rec_items::product_id.eq(rec_pairs::b))),
        )
        .filter(rec_pairs::shop_id.eq(shop_id))
        .filter(rec_pairs::a.eq(p))
        .filter(rec_pairs::n.gt(0))
        .order(rec_pairs::n.desc())
        .select((rec_pairs::b, rec_pairs::n, rec_items::orders.nullable()))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let np = item_count(c, shop_id, p)?.0;
    let (total, window) = if explain {
        window(c, shop_id)?
    } else {
        (0, Value::Null)
    };
    let mut out: Vec<Rec> = pairs
        .into_iter()
        .filter(|(b, _, _)| *b != p && cat.recommendable(*b).is_some())
        .filter_map(|(b, n, nb)| {
            let nb = nb.unwrap_or(0);
            let score = shrunk_cosine(n, np, nb);
            (score > 0.0).then(|| Rec {
                product_id: b,
                score,
                reasons: if explain {
                    vec![json!({
                        "type": "co_purchase",
                        "orders_together": n,
                        "orders_with_product": np,
                        "orders_with_candidate": nb,
                        "cosine": round(score),
                        "lift": round(lift(n, np, nb, total)),
                        "window": window,
                    })]
                } else {
                    Vec::new()
                },
            })
        })
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

/// Catalogue similarity without the explanation (no allocation): the same formula as
/// [`content`].
fn content_score(a: &ProductInfo, b: &ProductInfo) -> f64 {
    let same_type =
        !a.product_type.is_empty() && a.product_type.eq_ignore_ascii_case(&b.product_type);
    let same_vendor = !a.vendor.is_empty() && a.vendor.eq_ignore_ascii_case(&b.vendor);
    let shared = a
        .tags
        .iter()
        .filter(|t| b.tags.iter().any(|u| u.eq_ignore_ascii_case(t)))
        .count();
    let union = a.tags.len() + b.tags.len() - shared;
    let jaccard = if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    };
    0.5 * f64::from(u8::from(same_type)) + 0.2 * f64::from(u8::from(same_vendor)) + 0.3 * jaccard
}

/// Similar products: co-views/co-carts (with the partners' session counts, one indexed query)
/// blended with catalogue content of the same type and vendor.
fn related_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let co: Vec<(i64, i64, Option<i64>)> = rec_covisits::table
        .left_join(
            rec_items::table.on(rec_items::shop_id
                .eq(rec_covisits::shop_id)
                .and(rec_items::product_id.eq(rec_covisits::b))),
        )
        .filter(rec_covisits::shop_id.eq(shop_id))
        .filter(rec_covisits::a.eq(p))
        .filter(rec_covisits::n.gt(0))
        .order(rec_covisits::n.desc())
        .select((
            rec_covisits::b,
            rec_covisits::n,
            rec_items::sessions.nullable(),
        ))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let me = cat.product(p);
    let mut ids: Vec<i64> = co.iter().map(|(b, _, _)| *b).collect();
    if let Some(me) = me {
        if let Some(same) = cat.by_type.get(&me.product_type) {
            ids.extend(same.iter().take(CONTENT_CANDIDATES));
        }
        if let Some(same) = cat.by_vendor.get(&me.vendor) {
            ids.extend(same.iter().take(CONTENT_CANDIDATES / 2));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids.retain(|&id| id != p);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sp = if co.is_empty() {
        0
    } else {
        item_count(c, shop_id, p)?.1
    };
    let co: HashMap<i64, (i64, i64)> = co
        .into_iter()
        .map(|(b, n, sq)| (b, (n, sq.unwrap_or(0))))
        .collect();
    let mut out = Vec::new();
    for id in ids {
        let Some(cand) = cat.recommendable(id) else {
            continue;
        };
        let mut reasons = Vec::new();
        let mut behaviour = 0.0;
        if let Some(&(n, sq)) = co.get(&id) {
            behaviour = shrunk_cosine(n, sp, sq);
            if explain {
                reasons.push(json!({
                    "type": "co_view",
                    "sessions_together": n,
                    "sessions_with_product": sp,
                    "sessions_with_candidate": sq,
                    "similarity": round(behaviour),
                }));
            }
        }
        let mut content_part = 0.0;
        if let Some(me) = me {
            if explain {
                let (s, overlap) = content(
                    &me.product_type,
                    &me.vendor,
                    &me.tags,
                    &cand.product_type,
                    &cand.vendor,
                    &cand.tags,
                );
                content_part = s;
                if s > 0.0 {
                    reasons.push(json!({
                        "type": "content",
                        "same_type": overlap.same_type,
                        "same_vendor": overlap.same_vendor,
                        "shared_tags": overlap.shared_tags,
                        "similarity": round(s),
                    }));
                }
            } else {
                content_part = content_score(me, cand);
            }
        }
        let score = RELATED_BEHAVIOUR_WEIGHT * behaviour + RELATED_CONTENT_WEIGHT * content_part;
        if score > 0.0 {
            out.push(Rec {
                product_id: id,
                score,
                reasons,
            });
        }
    }
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

fn trending_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    let rows: Vec<(i64, f64)> = rec_items::table
        .filter(rec_items::shop_id.eq(shop_id))
        .filter(rec_items::trend.gt(0.0))
        .filter(rec_items::flagged.eq(false))
        .order(rec_items::trend.desc())
        .select((rec_items::product_id, rec_items::trend))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let now = unix(now());
    let mut out: Vec<Rec> = rows
        .into_iter()
        .filter(|(p, _)| cat.recommendable(*p).is_some())
        .map(|(p, t)| {
            let score = trend_now(t, now);
            Rec {
                product_id: p,
                score,
                reasons: if explain {
                    vec![json!({
                        "type": "trending",
                        "decayed_popularity": round(score),
                        "half_life_days": 7,
                        "signals": "orders 1, add-to-carts 0.3, views 0.05",
                    })]
                } else {
                    Vec::new()
                },
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

fn type_trending_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    kind: &str,
    explain: bool,
) -> QueryResult<Vec<Rec>> {
    // Driven by the type's products, not by the shop's whole trend index.
    let ids: Vec<i64> = cat.by_type.get(kind).cloned().unwrap_or_default();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<(i64, f64)> = Vec::new();
    for chunk in ids.chunks(900) {
        rows.extend(
            rec_items::table
                .filter(rec_items::shop_id.eq(shop_id))
                .filter(rec_items::product_id.eq_any(chunk))
                .filter(rec_items::trend.gt(0.0))
                .select((rec_items::product_id, rec_items::trend))
                .load::<(i64, f64)>(c)?,
        );
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(TYPE_TRENDING);
    let now = unix(now());
    Ok(rows
        .into_iter()
        .map(|(p, t)| Rec {
            product_id: p,
            score: trend_now(t, now),
            reasons: if explain {
                vec![json!({"type": "popular_in_your_categories", "product_type": kind})]
            } else {
                Vec::new()
            },
        })
        .collect())
}

fn newest_raw(cat: &Catalogue, explain: bool) -> Vec<Rec> {
    let n = cat.newest.len().max(1) as f64;
    cat.newest
        .iter()
        .enumerate()
        .map(|(i, p)| Rec {
            product_id: *p,
            score: 1.0 - i as f64 / n,
            reasons: if explain {
                vec![json!({"type": "catalogue", "rule": "newest available products"})]
            } else {
                Vec::new()
            },
        })
        .collect()
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
// ---------------------------------------------------------------- the recommender

impl Recommender {
    /// Applies the changes this process made since this instance last looked (at once, without
    /// waiting for the poll).
    fn apply_local(&self) {
        let head = LOCAL_HEAD.load(Ordering::Acquire);
        let mine = self.local_cursor.load(Ordering::Acquire);
        if head == mine {
            return;
        }
        let log = LOCAL.lock();
        let end = log.first + log.entries.len() as u64;
        if mine < log.first {
            // Fell behind the log: everything may have changed.
            self.raw.forget(|_| true);
            self.shop_raw.forget(|_| true);
            self.settings.forget(|_| true);
            for e in self.catalogues.lock().values_mut() {
                e.stale = true;
            }
        } else {
            for (shop_id, change) in log.entries.iter().skip((mine - log.first) as usize) {
                self.apply_change(shop_id, change);
            }
        }
        self.local_cursor.store(end, Ordering::Release);
    }

    fn apply_change(&self, shop_id: &str, change: &Change) {
        match change {
            Change::Products(ids) => {
                for &p in ids {
                    self.forget_product(shop_id, p);
                }
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
        }
    }

    fn forget_product(&self, shop_id: &str, p: i64) {
        let mut key = (shop_id.to_owned(), ListKey::Complementary(p));
        self.raw.remove(&key);
        key.1 = ListKey::Related(p);
        self.raw.remove(&key);
    }

    /// Forgets everything this instance computed for a shop.
    pub fn forget(&self, shop_id: &str) {
        self.raw.forget(|(s, _)| s == shop_id);
        self.shop_raw.forget(|(s, _)| s == shop_id);
        self.settings.remove(shop_id);
        if let Some(e) = self.catalogues.lock().get_mut(shop_id) {
            e.stale = true;
        }
    }

    /// Whether the versions of the shop were read recently enough to serve from memory; if not,
    /// the first caller reads them (through the database path) and the others are served from
    /// memory meanwhile, for at most [`VERSION_STALE_MAX`].
    fn versions_fresh(&self, shop_id: &str) -> bool {
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
    fn poll(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
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
            } else {
                for p in touched {
                    self.forget_product(shop_id, p);
                }
            }
            self.shop_raw.forget(|(s, _)| s == shop_id);
        }
        Ok(now)
    }

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

    fn cached_catalogue(&self, shop_id: &str) -> Option<Arc<Catalogue>> {
        let map = self.catalogues.lock();
        let e = map.get(shop_id)?;
        (!e.stale
            && e.pending.is_empty()
            && (e.loaded.elapsed() < CATALOGUE_TTL || e.refreshing.load(Ordering::Acquire)))
        .then(|| e.catalogue.clone())
    }

    pub fn settings(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<Arc<Steering>> {
        if let Some(s) = self.settings.get(shop_id) {
            return Ok(s);
        }
        let s = Arc::new(super::steering::load(c, shop_id)?);
        self.settings.insert(shop_id.to_owned(), s.clone());
        Ok(s)
    }

    fn cached_raw(&self, shop_id: &str, key: ListKey) -> Option<List> {
        let key = (shop_id.to_owned(), key);
        if key.1.shop_wide() {
            self.shop_raw.get(&key)
        } else {
            self.raw.get(&key)
        }
    }

    /// A candidate list. Cached lists carry no reasons (memory); `explain` computes afresh
    /// with them.
    fn raw(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        key: ListKey,
        explain: bool,
    ) -> QueryResult<List> {
        if !explain && let Some(list) = self.cached_raw(shop_id, key.clone()) {
            return Ok(list);
        }
        let cat = self.catalogue(c, shop_id)?;
        let list = List::new(
            match &key {
                ListKey::Complementary(p) => complementary_raw(c, &cat, shop_id, *p, explain)?,
                ListKey::Related(p) => related_raw(c, &cat, shop_id, *p, explain)?,
                ListKey::Trending => trending_raw(c, &cat, shop_id, explain)?,
                ListKey::Newest => newest_raw(&cat, explain),
                ListKey::TypeTrending(t) => type_trending_raw(c, &cat, shop_id, t, explain)?,
            },
            explain,
        );
        if !explain {
            let shop_wide = key.shop_wide();
            let key = (shop_id.to_owned(), key);
            if shop_wide {
                self.shop_raw.insert(key, list.clone());
            } else {
                self.raw.insert(key, list.clone());
            }
        }
        Ok(list)
    }

    /// The answer from memory alone, when everything it needs is cached (not for `for_you`
    /// with a logged-in shopper: their consent is read on every request).
    pub fn cached(
        &self,
        shop_id: &str,
        intent: Intent,
        product: Option<i64>,
        customer: Option<i64>,
        limit: usize,
    ) -> Option<Vec<Rec>> {
        if intent == Intent::ForYou && customer.is_some() {
            return None;
        }
        self.apply_local();
        if !self.versions_fresh(shop_id) {
            return None;
        }
        let settings = self.settings.get(shop_id)?;
        let cat = self.cached_catalogue(shop_id)?;
        let mut a = Assembly::new(&cat, &settings, product, limit, false);
        for key in chain(intent, product) {
            if a.full() {
                break;
            }
            let name = key_name(&key);
            let list = self.cached_raw(shop_id, key)?;
            a.add(name, &list);
        }
        Some(a.out)
    }

    /// The list for an intent, best first, at most `limit` products; with `explain`, each
    /// with its reasons (computed afresh, not from the caches).
    #[allow(clippy::too_many_arguments)]
    pub fn recommend(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        intent: Intent,
        product: Option<i64>,
        customer: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        self.apply_local();
        self.poll(c, shop_id)?;
        if intent == Intent::ForYou
            && let Some(customer) = customer
            && consent::personalization_allowed(c, shop_id, customer)?
        {
            return self.for_you(c, shop_id, customer, product, limit, explain);
        }
        let settings = self.settings(c, shop_id)?;
        let cat = self.catalogue(c, shop_id)?;
        let mut a = Assembly::new(&cat, &settings, product, limit, explain);
        for key in chain(intent, product) {
            if a.full() {
                break;
            }
            let name = key_name(&key);
            let list = self.raw(c, shop_id, key, explain)?;
            a.add(name, &list);
        }
        Ok(a.out)
    }

    /// `for_you` with consent: the shopper's purchases and recent views/carts lead to their
    /// complements and similar products; explicit interests boost, explicit sizes filter.
    fn for_you(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: i64,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        let explicit = consent::explicit(c, shop_id, customer)?;
        let their_orders: Vec<i64> = orders::table
            .filter(orders::shop_id.eq(shop_id))
            .filter(orders::customer_id.eq(customer))
            .order(orders::created_at.desc())
            .select(orders::order_id)
            .limit(MAX_BASKET as i64)
            .load(c)?;
        let bought: Vec<(String, i64)> = rec_order_contrib::table
            .filter(rec_order_contrib::shop_id.eq(shop_id))
            .filter(rec_order_contrib::order_id.eq_any(&their_orders))
            .filter(rec_order_contrib::redacted.eq(false))
            .order(rec_order_contrib::at_secs.desc())
            .select((rec_order_contrib::product_ids, rec_order_contrib::at_secs))
            .limit(MAX_BASKET as i64)
            .load(c)?;
        let since = now() - time::Duration::days(30);
        let seen: Vec<(i64, String, Option<String>)> = rec_events::table
            .filter(rec_events::shop_id.eq(shop_id))
            .filter(rec_events::customer_id.eq(customer))
            .filter(rec_events::created_at.ge(since))
            .order(rec_events::created_at.desc())
            .select((rec_events::product_id, rec_events::kind, rec_events::intent))
            .limit(100)
            .load(c)?;
        let mut purchased: HashSet<i64> = HashSet::new();
        let mut history: Vec<i64> = Vec::new();
        for (ids, _) in &bought {
            for p in serde_json::from_str::<Vec<i64>>(ids).unwrap_or_default() {
                purchased.insert(p);
                if !history.contains(&p) {
                    history.push(p);
                }
            }
        }
        for (p, kind, intent) in &seen {
            if feeds_model(kind, intent.as_deref()) && !history.contains(p) {
                history.push(*p);
            }
        }
        let cat = self.catalogue(c, shop_id)?;
        // A mixture of three distributions over products (`scoring::for_you_scores`, the same
        // formula `atelier eval` measures): bought with (and, from storefront events, similar
        // to) the shopper's history, best sellers of their product types, best sellers of the
        // shop.
        let mut scores: BTreeMap<i64, (f64, Vec<Value>)> = BTreeMap::new();
        let recent: Vec<i64> = history.iter().take(FOR_YOU_HISTORY).copied().collect();
        let weights = history_weights(recent.len());
        let mut with_history: BTreeMap<i64, f64> = BTreeMap::new();
        for (&h, w) in recent.iter().zip(weights) {
            let comp = self.raw(c, shop_id, ListKey::Complementary(h), explain)?;
            for (id, score, _) in comp.iter().take(FOR_YOU_COMPLEMENTS) {
                *with_history.entry(id).or_default() += w * score;
                let e = scores.entry(id).or_default();
                if explain && e.1.len() < 3 {
                    e.1.push(json!({"type": "bought_with_your_history", "history_product_id": h.to_string()}));
                }
            }
            // Co-views and co-carts (not measurable offline: order files have no events) at
            // half the weight of co-purchases.
            let rel = self.raw(c, shop_id, ListKey::Related(h), explain)?;
            for (id, score, _) in rel.iter().take(FOR_YOU_COMPLEMENTS) {
                *with_history.entry(id).or_default() += 0.5 * w * score;
                let e = scores.entry(id).or_default();
                if explain && e.1.len() < 3 {
                    e.1.push(json!({"type": "similar_to_your_history", "history_product_id": h.to_string()}));
                }
            }
        }
        let with_history: Vec<(i64, f64)> = with_history.into_iter().collect();
        for (id, p) in distribution(&with_history) {
            scores.entry(id).or_default().0 += FOR_YOU_COMPLEMENT_WEIGHT * p;
        }
        // Category affinity: best sellers of the types the shopper buys and views.
        let kinds: Vec<Option<&str>> = recent
            .iter()
            .map(|p| cat.product(*p).map(|x| x.product_type.as_str()))
            .collect();
        for (kind, share) in type_shares(&kinds) {
            let list = self.raw(c, shop_id, ListKey::TypeTrending(kind.to_owned()), explain)?;
            let pairs: Vec<(i64, f64)> = list.iter().map(|(id, score, _)| (id, score)).collect();
            let reasons: HashMap<i64, &[Value]> = list.iter().map(|(id, _, r)| (id, r)).collect();
            for (id, p) in distribution(&pairs) {
                let e = scores.entry(id).or_default();
                e.0 += FOR_YOU_AFFINITY_WEIGHT * share * p;
                if e.1.len() < 3
                    && let Some(r) = reasons.get(&id)
                {
                    e.1.extend(r.iter().cloned());
                }
            }
        }
        // Best sellers of the shop.
        let trending = self.raw(c, shop_id, ListKey::Trending, explain)?;
        let pairs: Vec<(i64, f64)> = trending.iter().map(|(id, score, _)| (id, score)).collect();
        for (id, p) in distribution(&pairs) {
            let e = scores.entry(id).or_default();
            e.0 += FOR_YOU_POPULARITY_WEIGHT * p;
            if explain && e.1.len() < 3 {
                e.1.push(json!({"type": "popular_in_the_shop"}));
            }
        }
        let mut personal: Vec<Rec> = scores
            .into_iter()
            .filter(|(p, _)| !purchased.contains(p))
            .map(|(p, (score, reasons))| Rec {
                product_id: p,
                score,
                reasons,
            })
            .collect();
        sort_desc(&mut personal);
        let personal = List::Explained(Arc::new(personal));
        let settings = self.settings(c, shop_id)?;
        let newest = self.raw(c, shop_id, ListKey::Newest, explain)?;
        // Products the size filter must look at: those these lists could show.
        let unfit = if explicit.sizes.is_empty() {
            None
        } else {
            let mut need: Vec<i64> = settings
                .pinned
                .get(&product.unwrap_or(0))
                .cloned()
                .unwrap_or_default();
            for list in [&personal, &trending, &newest] {
                need.extend(list.iter().map(|r| r.0));
            }
            need.sort_unstable();
            need.dedup();
            let details: HashMap<i64, &ProductInfo> = need
                .iter()
                .filter_map(|id| cat.recommendable(*id).map(|p| (*id, p)))
                .collect();
            Some(size_matches(c, shop_id, &details, &explicit.sizes)?)
        };
        let mut a = Assembly::new(&cat, &settings, product, limit, explain);
        a.also_exclude(&purchased);
        a.personal(&explicit, unfit.as_ref());
        for (name, list) in [
            ("for_you", &personal),
            ("trending", &trending),
            ("newest", &newest),
        ] {
            if a.full() {
                break;
            }
            a.add(name, list);
        }
        Ok(a.out)
    }
}

/// The lists an answer is drawn from, in order: each only fills what the earlier ones left.
fn chain(intent: Intent, product: Option<i64>) -> Vec<ListKey> {
    let mut keys = match (intent, product) {
        (Intent::Complementary, Some(p)) => vec![ListKey::Complementary(p), ListKey::Related(p)],
        (Intent::Related, Some(p)) => vec![ListKey::Related(p)],
        _ => vec![],
    };
    keys.extend([ListKey::Trending, ListKey::Newest]);
    keys
}

fn key_name(key: &ListKey) -> &'static str {
    match key {
        ListKey::Complementary(_) => "complementary",
        ListKey::Related(_) => "related",
        ListKey::Trending => "trending",
        ListKey::Newest => "newest",
        ListKey::TypeTrending(_) => "type_trending",
    }
}

/// An answer being put together: pins first, then each list of the chain in turn (a later list
/// only fills what the earlier ones left, its scores scaled below theirs), without the viewed
/// product, merchant exclusions, products that may not be recommended (now), duplicates, or
/// (with explicit preferences) products not available in the shopper's size.
struct Assembly<'a> {
    cat: &'a Catalogue,
    settings: &'a Steering,
    product: Option<i64>,
    limit: usize,
    explain: bool,
    also_excluded: Option<&'a HashSet<i64>>,
    explicit: Option<&'a consent::Explicit>,
    unfit: Option<&'a HashSet<i64>>,
    taken: HashSet<i64>,
    out: Vec<Rec>,
    ceiling: Option<f64>,
    level: usize,
    pins_done: bool,
}

impl<'a> Assembly<'a> {
    fn new(
        cat: &'a Catalogue,
        settings: &'a Steering,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> Self {
        Assembly {
            cat,
            settings,
            product,
            limit,
            explain,
            also_excluded: None,
            explicit: None,
            unfit: None,
            taken: HashSet::new(),
            out: Vec::with_capacity(limit),
            ceiling: None,
            level: 0,
            pins_done: false,
        }
    }

    fn also_exclude(&mut self, ids: &'a HashSet<i64>) {
        self.also_excluded = Some(ids);
    }

    fn personal(&mut self, explicit: &'a consent::Explicit, unfit: Option<&'a HashSet<i64>>) {
        self.explicit = Some(explicit);
        self.unfit = unfit;
    }

    fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    fn allowed(&self, id: i64) -> bool {
        Some(id) != self.product
            && !self.settings.excluded_everywhere.contains(&id)
            && !self
                .product
                .and_then(|p| self.settings.excluded.get(&p))
                .is_some_and(|ex| ex.contains(&id))
            && !self.also_excluded.is_some_and(|ex| ex.contains(&id))
            && !self.unfit.is_some_and(|u| u.contains(&id))
            && !self.taken.contains(&id)
            && self.cat.recommendable(id).is_some()
    }

    fn pins(&mut self) {
        self.pins_done = true;
        let Some(p) = self.product else { return };
        let Some(pins) = self.settings.pinned.get(&p) else {
            return;
        };
        let n = pins.len();
        for (i, &pin) in pins.iter().enumerate() {
            if self.full() {
                break;
            }
            if self.allowed(pin) {
                self.taken.insert(pin);
                self.out.push(Rec {
                    product_id: pin,
                    score: round(1.0 + (n - i) as f64 * 0.001),
                    reasons: if self.explain {
                        vec![json!({"type": "pinned", "by": "merchant"})]
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    fn add(&mut self, name: &'static str, list: &List) {
        if !self.pins_done {
            self.pins();
        }
        let level = self.level;
        self.level += 1;
        if self.full() {
            return;
        }
        let explain = self.explain;
        let rec = |(id, score, reasons): (i64, f64, &[Value])| Rec {
            product_id: id,
            score,
            reasons: if explain {
                reasons.to_vec()
            } else {
                Vec::new()
            },
        };
        let interests = self.explicit.filter(|e| !e.interests.is_empty());
        let mut items: Vec<Rec> = Vec::new();
        if let Some(e) = interests {
            // What the shopper said they like comes before what the data alone suggests, within
            // each list: matching products are lifted above the list's best score.
            items = list.iter().filter(|r| self.allowed(r.0)).map(rec).collect();
            let top = items.iter().map(|r| r.score).fold(0.0f64, f64::max);
            for r in &mut items {
                if let Some(d) = self.cat.recommendable(r.product_id) {
                    let matched: Vec<&String> =
                        e.interests.iter().filter(|k| d.has_interest(k)).collect();
                    if !matched.is_empty() {
                        r.score = r.score * 1.5 + top;
                        if explain {
                            r.reasons
                                .push(json!({"type": "interest", "interests": matched}));
                        }
                    }
                }
            }
            sort_desc(&mut items);
        } else {
            // Lists are sorted: only as many as still fit are looked at.
            let want = self.limit - self.out.len();
            for r in list.iter() {
                if items.len() == want {
                    break;
                }
                if self.allowed(r.0) && !items.iter().any(|x| x.product_id == r.0) {
                    items.push(rec(r));
                }
            }
        }
        let max = items.first().map_or(0.0, |r| r.score);
        let scale = match self.ceiling {
            Some(ceil) if max > 0.0 => ceil * 0.9 / max,
            _ => 1.0,
        };
        for mut r in items {
            if self.full() {
                break;
            }
            if !self.taken.insert(r.product_id) {
                continue;
            }
            r.score = round(r.score * scale).max(0.0001);
            if level > 0 && self.explain {
                r.reasons.push(json!({"type": "fallback", "list": name}));
            }
            self.out.push(r);
        }
        if let Some(last) = self.out.last() {
            self.ceiling = Some(last.score);
        }
    }
}

/// The candidates NOT available in the shopper's size: a product whose size category the
/// shopper gave a size for matches when one of its available variants has that size as
/// option1, option2 or option3 (case-insensitive).
fn size_matches(
    c: &mut DbConnection,
    shop_id: &str,
    details: &HashMap<i64, &ProductInfo>,
    sizes: &BTreeMap<String, String>,
) -> QueryResult<HashSet<i64>> {
    let sizes: BTreeMap<String, String> = sizes
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.trim().to_lowercase()))
        .collect();
    let sized: HashMap<i64, &String> = details
        .values()
        .filter_map(|p| sizes.get(&p.size_category()).map(|s| (p.product_id, s)))
        .collect();
    if sized.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<i64> = sized.keys().copied().collect();
    let mut fitting: HashSet<i64> = HashSet::new();
    for chunk in ids.chunks(900) {
        let rows: Vec<VariantOptions> = product_variants::table
            .filter(product_variants::shop_id.eq(shop_id))
            .filter(product_variants::product_id.eq_any(chunk))
            .filter(product_variants::available.eq(true))
            .select((
                product_variants::product_id,
                product_variants::option1,
                product_variants::option2,
                product_variants::option3,
            ))
            .load(c)?;
        for (p, o1, o2, o3) in rows {
            let want = sized[&p];
            if [o1, o2, o3]
                .iter()
                .flatten()
                .any(|o| o.trim().to_lowercase() == *want)
            {
                fitting.insert(p);
            }
        }
    }
    Ok(ids.into_iter().filter(|p| !fitting.contains(p)).collect())
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

#[cfg(test)]
mod content_tests {
    use super::*;

    #[test]
    fn the_fast_content_score_is_the_explained_one() {
        let p = |kind: &str, vendor: &str, tags: &[&str]| ProductInfo {
            product_id: 1,
            product_type: kind.into(),
            vendor: vendor.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        let cases = [
            (
                p("Shirt", "Acme", &["a", "B"]),
                p("shirt", "Other", &["b", "c"]),
            ),
            (p("", "", &[]), p("", "", &[])),
            (p("Mug", "Acme", &["x"]), p("Mug", "ACME", &["X"])),
            (p("Mug", "", &["x", "y", "z"]), p("Cup", "", &[])),
        ];
        for (a, b) in &cases {
            let (explained, _) = content(
                &a.product_type,
                &a.vendor,
                &a.tags,
                &b.product_type,
                &b.vendor,
                &b.tags,
            );
            assert!(
                (content_score(a, b) - explained).abs() < 1e-12,
                "{a:?} {b:?}"
            );
        }
    }
}
