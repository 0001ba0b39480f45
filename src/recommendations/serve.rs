//! Serving: candidate lists per intent, the filters every list goes through, merchant pins and
//! exclusions, and the fallbacks that keep a list full.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use diesel::prelude::*;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::consent;
use super::model::{MAX_BASKET, feeds_model, unix};
use super::scoring::{
    RELATED_BEHAVIOUR_WEIGHT, RELATED_CONTENT_WEIGHT, content, lift, shrunk_cosine, trend_now,
};
use super::settings::RecSettings;
use crate::cache::TtlCache;
use crate::db::schema::{
    orders, product_variants, products, rec_covisits, rec_events, rec_items, rec_order_contrib,
    rec_pairs, rec_shop_stats,
};
use crate::db::{DbConnection, now};

/// The most products one list returns (`limit` above it is clamped).
pub const MAX_LIMIT: usize = 50;
pub const DEFAULT_LIMIT: usize = 10;
/// How long an instance serves a computed list before recomputing it. Changes made through this
/// instance (orders, events, settings) are seen at once; another instance's within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// How often an instance reads the shop's versions (`rec_shop_stats`): a change made through
/// another instance (an order, a product, settings) drops this instance's lists within this.
pub const VERSION_POLL: Duration = Duration::from_secs(1);
/// Bounds of the per-instance caches (lists hold ids and scores only: ≈ 4 KB and 2 KB each).
pub const RAW_CACHE_ENTRIES: usize = 20_000;
pub const SERVED_CACHE_ENTRIES: usize = 50_000;
/// Candidates read per product from the pair tables (the strongest by count).
const PAIR_CANDIDATES: i64 = 300;
const CONTENT_CANDIDATES: usize = 200;
const RAW_LIST: usize = 100;
/// Products per product type in the per-type trending lists `for_you` draws on.
pub const TYPE_TRENDING: usize = 50;
/// Weight of `for_you`'s category affinity (see `eval::category_affinity`).
pub const AFFINITY_WEIGHT: f64 = 0.3;

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

type Stamped<T> = (u64, T);
type ServedKey = (String, Intent, i64);
type VariantOptions = (i64, Option<String>, Option<String>, Option<String>);

/// Per-process caches of computed lists, stamped with the shop's model generation.
pub struct Recommender {
    /// Per shop: when the versions were read, the model and catalogue versions, and whether a
    /// request is reading them again.
    versions: Mutex<HashMap<String, VersionEntry>>,
    catalogues: Mutex<HashMap<String, CatalogueEntry>>,
    raw: TtlCache<(String, ListKey), Stamped<Arc<Vec<Rec>>>>,
    served: TtlCache<ServedKey, Stamped<Arc<Vec<Rec>>>>,
    settings: TtlCache<String, Stamped<Arc<RecSettings>>>,
}

impl Default for Recommender {
    fn default() -> Self {
        Recommender {
            catalogues: Mutex::new(HashMap::new()),
            raw: TtlCache::new(CACHE_TTL, RAW_CACHE_ENTRIES),
            served: TtlCache::new(CACHE_TTL, SERVED_CACHE_ENTRIES),
            settings: TtlCache::new(CACHE_TTL, 10_000),
            versions: Mutex::new(HashMap::new()),
        }
    }
}

/// Generation of each shop's model in this process: bumped by every change this process makes
/// (an order, an event, settings), so its caches never serve a list older than its own writes.
static GENERATIONS: LazyLock<Mutex<HashMap<String, u64>>> = LazyLock::new(Default::default);
/// Same for the shop's catalogue (product changes, newly seen fee products).
static CATALOGUE_GENERATIONS: LazyLock<Mutex<HashMap<String, u64>>> =
    LazyLock::new(Default::default);

type VersionEntry = (
    std::time::Instant,
    i64,
    i64,
    Arc<std::sync::atomic::AtomicBool>,
);

/// Cached answers are served without reading the versions again for at most this long while
/// one request reads them (a slow database never makes every request queue on it).
const VERSION_STALE_MAX: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct CatalogueEntry {
    loaded: std::time::Instant,
    generation: u64,
    catalogue: Arc<Catalogue>,
    refreshing: Arc<std::sync::atomic::AtomicBool>,
}

/// At most this many shops' catalogues are kept per instance (each ≈ 300 B per product).
pub const CATALOGUES: usize = 1_000;

/// Records a change of the shop's model (orders, erasure, settings) for every instance.
pub fn model_changed(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    touched(shop_id);
    bump_version(c, shop_id, false)
}

/// Records a change of the shop's catalogue (a product, a fee product) for every instance.
pub fn catalogue_changed(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    catalogue_touched(shop_id);
    bump_version(c, shop_id, true)
}

fn bump_version(c: &mut DbConnection, shop_id: &str, catalogue: bool) -> QueryResult<()> {
    use diesel::upsert::excluded;
    crate::per_backend!(c, |c| diesel::insert_into(rec_shop_stats::table)
        .values((
            rec_shop_stats::shop_id.eq(shop_id),
            rec_shop_stats::model_version.eq(1i64),
            rec_shop_stats::catalogue_version.eq(i64::from(catalogue)),
        ))
        .on_conflict(rec_shop_stats::shop_id)
        .do_update()
        .set(
            (
                rec_shop_stats::model_version
                    .eq(rec_shop_stats::model_version + excluded(rec_shop_stats::model_version)),
                rec_shop_stats::catalogue_version
                    .eq(rec_shop_stats::catalogue_version
                        + excluded(rec_shop_stats::catalogue_version)),
            )
        )
        .execute(c))?;
    Ok(())
}

/// A product of the shop changed (or a product turned out to be a fee product) here: this
/// instance reloads the catalogue at its next request, and recomputes its lists.
pub fn catalogue_touched(shop_id: &str) {
    bump(&CATALOGUE_GENERATIONS, shop_id);
    touched(shop_id);
}

fn bump(map: &Mutex<HashMap<String, u64>>, shop_id: &str) {
    let mut g = map.lock();
    match g.get_mut(shop_id) {
        Some(n) => *n += 1,
        None => {
            g.insert(shop_id.to_owned(), 1);
        }
    }
}

pub fn touched(shop_id: &str) {
    bump(&GENERATIONS, shop_id);
}

fn generation(shop_id: &str) -> u64 {
    GENERATIONS.lock().get(shop_id).copied().unwrap_or(0)
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

/// The shop's catalogue as recommendations need it, loaded in one pass and kept per instance
/// (reloaded after the cache TTL, at once after a local product change; one request reloads
/// while the others keep using the previous copy).
pub struct Catalogue {
    /// Every known, not deleted product.
    all: HashMap<i64, ProductInfo>,
    /// What may be recommended: active, published, available, not free, not a gift card and
    /// not a fee product.
    ok: HashSet<i64>,
    /// Recommendable products per product type and per vendor, newest (highest id) first.
    by_type: HashMap<String, Vec<i64>>,
    by_vendor: HashMap<String, Vec<i64>>,
    /// Recommendable products, newest first.
    newest: Vec<i64>,
}

type CatalogueRow = (i64, String, String, String, String, bool, bool, Option<i64>);

impl Catalogue {
    pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<Catalogue> {
        let rows: Vec<CatalogueRow> = products::table
            .filter(products::shop_id.eq(shop_id))
            .filter(products::deleted.eq(false))
            .order(products::product_id.desc())
            .select((
                products::product_id,
                products::product_type,
                products::vendor,
                products::tags,
                products::status,
                products::published,
                products::available,
                products::price_max_cents,
            ))
            .load(c)?;
        let flagged: HashSet<i64> = rec_items::table
            .filter(rec_items::shop_id.eq(shop_id))
            .filter(rec_items::flagged.eq(true))
            .select(rec_items::product_id)
            .load::<i64>(c)?
            .into_iter()
            .collect();
        let mut cat = Catalogue {
            all: HashMap::with_capacity(rows.len()),
            ok: HashSet::new(),
            by_type: HashMap::new(),
            by_vendor: HashMap::new(),
            newest: Vec::new(),
        };
        for (id, kind, vendor, tags, status, published, available, price) in rows {
            let recommendable = status == "active"
                && published
                && available
                && price.is_none_or(|p| p > 0)
                && !flagged.contains(&id)
                && !kind.trim().eq_ignore_ascii_case("gift card");
            if recommendable {
                cat.ok.insert(id);
                if !kind.is_empty() {
                    cat.by_type.entry(kind.clone()).or_default().push(id);
                }
                if !vendor.is_empty() {
                    cat.by_vendor.entry(vendor.clone()).or_default().push(id);
                }
                if cat.newest.len() < RAW_LIST {
                    cat.newest.push(id);
                }
            }
            cat.all.insert(
                id,
                ProductInfo {
                    product_id: id,
                    product_type: kind,
                    vendor,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                },
            );
        }
        Ok(cat)
    }

    /// A product that may be recommended.
    pub fn recommendable(&self, id: i64) -> Option<&ProductInfo> {
        self.ok.contains(&id).then(|| self.all.get(&id)).flatten()
    }

    /// Any known product (the viewed one may be sold out and still have neighbours).
    pub fn product(&self, id: i64) -> Option<&ProductInfo> {
        self.all.get(&id)
    }
}

/// The recommendable products among `ids`.
fn eligible<'a>(cat: &'a Catalogue, ids: &[i64]) -> HashMap<i64, &'a ProductInfo> {
    ids.iter()
        .filter_map(|id| cat.recommendable(*id).map(|p| (*id, p)))
        .collect()
}

fn item_counts(
    c: &mut DbConnection,
    shop_id: &str,
    ids: &[i64],
) -> QueryResult<HashMap<i64, (i64, i64)>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(900) {
        let rows: Vec<(i64, i64, i64)> = rec_items::table
            .filter(rec_items::shop_id.eq(shop_id))
            .filter(rec_items::product_id.eq_any(chunk))
            .select((
                rec_items::product_id,
                rec_items::orders,
                rec_items::sessions,
            ))
            .load(c)?;
        out.extend(rows.into_iter().map(|(p, o, s)| (p, (o, s))));
    }
    Ok(out)
}

/// Contributing orders and the data window (RFC 3339) of a shop.
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

fn sort_desc(list: &mut [Rec]) {
    list.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.product_id.cmp(&b.product_id))
    });
}

// ---------------------------------------------------------------- raw lists

fn complementary_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
) -> QueryResult<Vec<Rec>> {
    let pairs: Vec<(i64, i64)> = rec_pairs::table
        .filter(rec_pairs::shop_id.eq(shop_id))
        .filter(rec_pairs::a.eq(p))
        .filter(rec_pairs::n.gt(0))
        .order(rec_pairs::n.desc())
        .select((rec_pairs::b, rec_pairs::n))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = pairs.iter().map(|(b, _)| *b).collect();
    ids.push(p);
    let counts = item_counts(c, shop_id, &ids)?;
    let ok = eligible(cat, &ids);
    let (total, window) = window(c, shop_id)?;
    let np = counts.get(&p).map_or(0, |x| x.0);
    let mut out: Vec<Rec> = pairs
        .into_iter()
        .filter(|(b, _)| *b != p && ok.contains_key(b))
        .map(|(b, n)| {
            let nb = counts.get(&b).map_or(0, |x| x.0);
            let score = shrunk_cosine(n, np, nb);
            Rec {
                product_id: b,
                score,
                reasons: vec![json!({
                    "type": "co_purchase",
                    "orders_together": n,
                    "orders_with_product": np,
                    "orders_with_candidate": nb,
                    "cosine": round(score),
                    "lift": round(lift(n, np, nb, total)),
                    "window": window,
                })],
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    sort_desc(&mut out);
    out.truncate(RAW_LIST);
    Ok(out)
}

fn related_raw(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    p: i64,
) -> QueryResult<Vec<Rec>> {
    let co: Vec<(i64, i64)> = rec_covisits::table
        .filter(rec_covisits::shop_id.eq(shop_id))
        .filter(rec_covisits::a.eq(p))
        .filter(rec_covisits::n.gt(0))
        .order(rec_covisits::n.desc())
        .select((rec_covisits::b, rec_covisits::n))
        .limit(PAIR_CANDIDATES)
        .load(c)?;
    let me = cat.product(p);
    let mut ids: Vec<i64> = co.iter().map(|(b, _)| *b).collect();
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
    let ok = eligible(cat, &ids);
    let mut count_ids: Vec<i64> = co.iter().map(|(b, _)| *b).collect();
    count_ids.push(p);
    let counts = item_counts(c, shop_id, &count_ids)?;
    let sp = counts.get(&p).map_or(0, |x| x.1);
    let co: HashMap<i64, i64> = co.into_iter().collect();
    let mut out = Vec::new();
    for id in ids {
        let Some(cand) = ok.get(&id) else { continue };
        let mut reasons = Vec::new();
        let mut behaviour = 0.0;
        if let Some(&n) = co.get(&id) {
            let sq = counts.get(&id).map_or(0, |x| x.1);
            behaviour = shrunk_cosine(n, sp, sq);
            reasons.push(json!({
                "type": "co_view",
                "sessions_together": n,
                "sessions_with_product": sp,
                "sessions_with_candidate": sq,
                "similarity": round(behaviour),
            }));
        }
        let mut content_score = 0.0;
        if let Some(me) = me {
            let (s, overlap) = content(
                &me.product_type,
                &me.vendor,
                &me.tags,
                &cand.product_type,
                &cand.vendor,
                &cand.tags,
            );
            content_score = s;
            if s > 0.0 {
                reasons.push(json!({
                    "type": "content",
                    "same_type": overlap.same_type,
                    "same_vendor": overlap.same_vendor,
                    "shared_tags": overlap.shared_tags,
                    "similarity": round(s),
                }));
            }
        }
        let score = RELATED_BEHAVIOUR_WEIGHT * behaviour + RELATED_CONTENT_WEIGHT * content_score;
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

fn trending_raw(c: &mut DbConnection, cat: &Catalogue, shop_id: &str) -> QueryResult<Vec<Rec>> {
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
                reasons: vec![json!({
                    "type": "trending",
                    "decayed_popularity": round(score),
                    "half_life_days": 7,
                    "signals": "orders 1, add-to-carts 0.3, views 0.05",
                })],
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
            reasons: vec![json!({"type": "popular_in_your_categories", "product_type": kind})],
        })
        .collect())
}

fn newest_raw(cat: &Catalogue) -> Vec<Rec> {
    let n = cat.newest.len().max(1) as f64;
    cat.newest
        .iter()
        .enumerate()
        .map(|(i, p)| Rec {
            product_id: *p,
            score: 1.0 - i as f64 / n,
            reasons: vec![json!({"type": "catalogue", "rule": "newest available products"})],
        })
        .collect()
}

/// Drops the reasons (only `explain` shows them).
fn strip(list: &mut Vec<Rec>) {
    for r in list.iter_mut() {
        r.reasons = Vec::new();
    }
    list.shrink_to_fit();
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl Recommender {
    /// A candidate list. Cached lists carry no reasons (memory); `explain` computes afresh
    /// with them.
    fn raw(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        key: ListKey,
        generation: u64,
        explain: bool,
    ) -> QueryResult<Arc<Vec<Rec>>> {
        let k = (shop_id.to_owned(), key);
        if !explain
            && let Some((g, list)) = self.raw.get(&k)
            && g == generation
        {
            return Ok(list);
        }
        let cat = self.catalogue(c, shop_id)?;
        let mut list = match &k.1 {
            ListKey::Complementary(p) => complementary_raw(c, &cat, shop_id, *p)?,
            ListKey::Related(p) => related_raw(c, &cat, shop_id, *p)?,
            ListKey::Trending => trending_raw(c, &cat, shop_id)?,
            ListKey::Newest => newest_raw(&cat),
            ListKey::TypeTrending(t) => type_trending_raw(c, &cat, shop_id, t)?,
        };
        if explain {
            return Ok(Arc::new(list));
        }
        strip(&mut list);
        let list = Arc::new(list);
        self.raw.insert(k, (generation, list.clone()));
        Ok(list)
    }

    /// Reads the shop's versions at most once per [`VERSION_POLL`]; a change made through
    /// another instance drops this instance's lists (and catalogue).
    fn sync_versions(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
        if self
            .versions
            .lock()
            .get(shop_id)
            .is_some_and(|e| e.0.elapsed() < VERSION_POLL)
        {
            return Ok(());
        }
        let read: QueryResult<Option<(i64, i64)>> = rec_shop_stats::table
            .find(shop_id)
            .select((
                rec_shop_stats::model_version,
                rec_shop_stats::catalogue_version,
            ))
            .first(c)
            .optional();
        let (model, catalogue) = match read {
            Ok(v) => v.unwrap_or((0, 0)),
            Err(e) => {
                if let Some(e) = self.versions.lock().get(shop_id) {
                    e.3.store(false, std::sync::atomic::Ordering::Release);
                }
                return Err(e);
            }
        };
        let previous = self.versions.lock().insert(
            shop_id.to_owned(),
            (
                std::time::Instant::now(),
                model,
                catalogue,
                Default::default(),
            ),
        );
        if let Some((_, m, k, _)) = previous {
            if k != catalogue {
                catalogue_touched(shop_id);
            } else if m != model {
                touched(shop_id);
            }
        }
        Ok(())
    }

    /// The shop's catalogue: reloaded after the cache TTL (one request reloads, the others
    /// keep using the previous copy meanwhile) and at once after a local product change.
    pub fn catalogue(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<Arc<Catalogue>> {
        use std::sync::atomic::Ordering;
        let generation = CATALOGUE_GENERATIONS
            .lock()
            .get(shop_id)
            .copied()
            .unwrap_or(0);
        let current = self.catalogues.lock().get(shop_id).cloned();
        if let Some(e) = &current
            && e.generation == generation
            && (e.loaded.elapsed() < CACHE_TTL || e.refreshing.swap(true, Ordering::AcqRel))
        {
            return Ok(e.catalogue.clone());
        }
        let loaded = Catalogue::load(c, shop_id);
        if let Some(e) = &current {
            e.refreshing.store(false, Ordering::Release);
        }
        let catalogue = Arc::new(loaded?);
        let mut map = self.catalogues.lock();
        if map.len() >= CATALOGUES && !map.contains_key(shop_id) {
            map.retain(|_, e| e.loaded.elapsed() < CACHE_TTL);
            if map.len() >= CATALOGUES {
                map.clear();
            }
        }
        map.insert(
            shop_id.to_owned(),
            CatalogueEntry {
                loaded: std::time::Instant::now(),
                generation,
                catalogue: catalogue.clone(),
                refreshing: Default::default(),
            },
        );
        Ok(catalogue)
    }

    pub fn settings(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        generation: u64,
    ) -> QueryResult<Arc<RecSettings>> {
        if let Some((g, s)) = self.settings.get(shop_id)
            && g == generation
        {
            return Ok(s);
        }
        let s = Arc::new(super::settings::load(c, shop_id)?);
        self.settings
            .insert(shop_id.to_owned(), (generation, s.clone()));
        Ok(s)
    }

    /// Forgets what this instance computed for a shop (after its settings changed here; other
    /// instances see the version change).
    pub fn forget(&self, shop_id: &str) {
        touched(shop_id);
        self.raw.forget(|(s, _)| s == shop_id);
        self.catalogues.lock().remove(shop_id);
        self.served.forget(|(s, _, _)| s == shop_id);
        self.settings.forget(|s| s == shop_id);
    }

    /// A list this instance computed less than the cache TTL ago, without touching the database
    /// (not for `for_you` with a logged-in shopper: their consent is read on every request).
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
        {
            let versions = self.versions.lock();
            let e = versions.get(shop_id)?;
            let age = e.0.elapsed();
            // Stale versions: the first request reads them again (through the database path),
            // the others keep being served from the cache meanwhile.
            if age >= VERSION_STALE_MAX
                || age >= VERSION_POLL && !e.3.swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                return None;
            }
        }
        let key = (shop_id.to_owned(), intent, product.unwrap_or(0));
        let (g, list) = self.served.get(&key)?;
        (g == generation(shop_id)).then(|| list.iter().take(limit).cloned().collect())
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
        self.sync_versions(c, shop_id)?;
        let generation = generation(shop_id);
        if intent == Intent::ForYou
            && let Some(customer) = customer
            && consent::personalization_allowed(c, shop_id, customer)?
        {
            let mut list =
                self.for_you(c, shop_id, customer, product, limit, generation, explain)?;
            if !explain {
                strip(&mut list);
            }
            return Ok(list);
        }
        let key = (shop_id.to_owned(), intent, product.unwrap_or(0));
        if !explain
            && let Some((g, list)) = self.served.get(&key)
            && g == generation
        {
            return Ok(list.iter().take(limit).cloned().collect());
        }
        let settings = self.settings(c, shop_id, generation)?;
        // The chain of lists, computed only as far as needed to fill the list.
        let keys: Vec<(&'static str, ListKey)> = match (intent, product) {
            (Intent::Complementary, Some(p)) => vec![
                ("complementary", ListKey::Complementary(p)),
                ("related", ListKey::Related(p)),
            ],
            (Intent::Related, Some(p)) => vec![("related", ListKey::Related(p))],
            _ => vec![],
        }
        .into_iter()
        .chain([("trending", ListKey::Trending), ("newest", ListKey::Newest)])
        .collect();
        let mut excluded: HashSet<i64> = settings.excluded_everywhere.iter().copied().collect();
        if let Some(p) = product {
            excluded.insert(p);
            excluded.extend(settings.excluded.get(&p).into_iter().flatten().copied());
        }
        let mut chain: Vec<(&'static str, Arc<Vec<Rec>>)> = Vec::new();
        let mut usable: HashSet<i64> = HashSet::new();
        for (name, key) in keys {
            if usable.len() >= MAX_LIMIT {
                break;
            }
            let list = self.raw(c, shop_id, key, generation, explain)?;
            usable.extend(
                list.iter()
                    .map(|r| r.product_id)
                    .filter(|p| !excluded.contains(p)),
            );
            chain.push((name, list));
        }
        let cat = self.catalogue(c, shop_id)?;
        let mut list = assemble(
            c,
            &cat,
            shop_id,
            &settings,
            product,
            &chain,
            None,
            &HashSet::new(),
        )?;
        if explain {
            list.truncate(limit);
            return Ok(list);
        }
        strip(&mut list);
        let list = Arc::new(list);
        self.served.insert(key, (generation, list.clone()));
        Ok(list.iter().take(limit).cloned().collect())
    }

    /// `for_you` with consent: the shopper's purchases and recent views/carts lead to their
    /// complements and similar products; explicit interests boost, explicit sizes filter.
    #[allow(clippy::too_many_arguments)]
    fn for_you(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: i64,
        product: Option<i64>,
        limit: usize,
        generation: u64,
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
        let mut scores: BTreeMap<i64, (f64, Vec<Value>)> = BTreeMap::new();
        for (i, &h) in history.iter().take(20).enumerate() {
            let w = 0.85f64.powi(i as i32);
            let comp = self.raw(c, shop_id, ListKey::Complementary(h), generation, explain)?;
            for r in comp.iter().take(30) {
                let e = scores.entry(r.product_id).or_default();
                e.0 += w * r.score;
                if e.1.len() < 3 {
                    e.1.push(json!({"type": "bought_with_your_history", "history_product_id": h.to_string()}));
                }
            }
            let rel = self.raw(c, shop_id, ListKey::Related(h), generation, explain)?;
            for r in rel.iter().take(30) {
                let e = scores.entry(r.product_id).or_default();
                e.0 += 0.5 * w * r.score;
                if e.1.len() < 3 {
                    e.1.push(json!({"type": "similar_to_your_history", "history_product_id": h.to_string()}));
                }
            }
        }
        // Category affinity: popular products of the types the shopper buys and views.
        let recent: Vec<i64> = history.iter().take(20).copied().collect();
        let kinds: Vec<String> = if recent.is_empty() {
            Vec::new()
        } else {
            products::table
                .filter(products::shop_id.eq(shop_id))
                .filter(products::product_id.eq_any(&recent))
                .select(products::product_type)
                .load(c)?
        };
        let kinds: Vec<String> = kinds.into_iter().filter(|k| !k.is_empty()).collect();
        let mut share: BTreeMap<&str, f64> = BTreeMap::new();
        for k in &kinds {
            *share.entry(k).or_default() += 1.0 / kinds.len() as f64;
        }
        for (kind, s) in share {
            let list = self.raw(
                c,
                shop_id,
                ListKey::TypeTrending(kind.to_owned()),
                generation,
                explain,
            )?;
            let best = list.first().map_or(0.0, |r| r.score);
            if best <= 0.0 {
                continue;
            }
            for r in list.iter() {
                let e = scores.entry(r.product_id).or_default();
                e.0 += AFFINITY_WEIGHT * s * r.score / best;
                if e.1.len() < 3 {
                    e.1.extend(r.reasons.iter().cloned());
                }
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
        let settings = self.settings(c, shop_id, generation)?;
        let chain = vec![
            ("for_you", Arc::new(personal)),
            (
                "trending",
                self.raw(c, shop_id, ListKey::Trending, generation, explain)?,
            ),
            (
                "newest",
                self.raw(c, shop_id, ListKey::Newest, generation, explain)?,
            ),
        ];
        let cat = self.catalogue(c, shop_id)?;
        let mut list = assemble(
            c,
            &cat,
            shop_id,
            &settings,
            product,
            &chain,
            Some(&explicit),
            &purchased,
        )?;
        list.truncate(limit);
        Ok(list)
    }
}

/// Pins first, then each list of the chain in turn (a later list only fills what the earlier
/// ones left, its scores scaled below theirs), without the viewed product, merchant exclusions,
/// duplicates, or (with explicit preferences) products not available in the shopper's size.
#[allow(clippy::too_many_arguments)]
fn assemble(
    c: &mut DbConnection,
    cat: &Catalogue,
    shop_id: &str,
    settings: &RecSettings,
    product: Option<i64>,
    chain: &[(&'static str, Arc<Vec<Rec>>)],
    explicit: Option<&consent::Explicit>,
    also_excluded: &HashSet<i64>,
) -> QueryResult<Vec<Rec>> {
    let mut excluded: HashSet<i64> = settings.excluded_everywhere.iter().copied().collect();
    excluded.extend(also_excluded);
    let mut pins: Vec<i64> = Vec::new();
    if let Some(p) = product {
        excluded.insert(p);
        excluded.extend(settings.excluded.get(&p).into_iter().flatten().copied());
        pins = settings.pinned.get(&p).cloned().unwrap_or_default();
    }
    // Products whose details the personal filters need (and pins, whose state is unknown).
    let mut need: Vec<i64> = pins.clone();
    let personal = explicit.is_some_and(|e| !e.sizes.is_empty() || !e.interests.is_empty());
    if personal {
        for (_, list) in chain {
            need.extend(list.iter().map(|r| r.product_id));
        }
    }
    need.sort_unstable();
    need.dedup();
    let details = eligible(cat, &need);
    let sized = match explicit {
        Some(e) if !e.sizes.is_empty() => Some(size_matches(c, shop_id, &details, &e.sizes)?),
        _ => None,
    };
    let fits = |id: i64| sized.as_ref().is_none_or(|s| !s.contains(&id));
    let mut out: Vec<Rec> = Vec::new();
    let mut taken: HashSet<i64> = HashSet::new();
    let pin_count = pins.len();
    for (i, &pin) in pins.iter().enumerate() {
        if excluded.contains(&pin) || !details.contains_key(&pin) || !fits(pin) {
            continue;
        }
        if taken.insert(pin) {
            out.push(Rec {
                product_id: pin,
                score: round(1.0 + (pin_count - i) as f64 * 0.001),
                reasons: vec![json!({"type": "pinned", "by": "merchant"})],
            });
        }
    }
    let mut ceiling: Option<f64> = None;
    for (level, (name, list)) in chain.iter().enumerate() {
        if out.len() >= MAX_LIMIT {
            break;
        }
        let mut items: Vec<Rec> = list
            .iter()
            .filter(|r| !excluded.contains(&r.product_id) && !taken.contains(&r.product_id))
            .filter(|r| fits(r.product_id))
            .cloned()
            .collect();
        if let Some(e) = explicit.filter(|e| !e.interests.is_empty()) {
            // What the shopper said they like comes before what the data alone suggests, within
            // each list: matching products are lifted above the list's best score.
            let top = items.iter().map(|r| r.score).fold(0.0f64, f64::max);
            for r in &mut items {
                if let Some(d) = details.get(&r.product_id) {
                    let matched: Vec<&String> =
                        e.interests.iter().filter(|k| d.has_interest(k)).collect();
                    if !matched.is_empty() {
                        r.score = r.score * 1.5 + top;
                        r.reasons
                            .push(json!({"type": "interest", "interests": matched}));
                    }
                }
            }
            sort_desc(&mut items);
        }
        let max = items.iter().map(|r| r.score).fold(0.0f64, f64::max);
        let scale = match ceiling {
            Some(ceil) if max > 0.0 => ceil * 0.9 / max,
            _ => 1.0,
        };
        for mut r in items {
            if out.len() >= MAX_LIMIT {
                break;
            }
            taken.insert(r.product_id);
            r.score = round(r.score * scale).max(0.0001);
            if level > 0 {
                r.reasons.push(json!({"type": "fallback", "list": name}));
            }
            out.push(r);
        }
        ceiling = out.last().map(|r| r.score);
    }
    Ok(out)
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
