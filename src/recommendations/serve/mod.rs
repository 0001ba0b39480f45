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
//!
//! A consenting shopper's `for_you` inputs (their ranked neighbours, what they bought, their
//! stated sizes and interests) are kept per instance too, for [`PERSONAL_TTL`]: consent is read
//! at every request (a withdrawal applies to the next one), a change of their preferences on any
//! instance recomputes at once (the row's version is read with the consent), and their orders,
//! views, wishlist and answers recompute at once on the instance that took them.

mod assemble;
mod candidates;
mod cart;
mod catalogue;
mod changes;
mod collection;
mod for_you;
mod lists;
mod poll;
mod popular;
mod recently;
mod wishlisted;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

use super::consent;
use super::steering::Steering;
use crate::cache::TtlCache;
use crate::db::DbConnection;
use assemble::{Assembly, chain, key_name};
use catalogue::CatalogueEntry;
use changes::LocalLog;
use diesel::QueryResult;
use lists::{List, ListKey};
use poll::ShopVersions;

pub use cart::MAX_CART;
pub use catalogue::{CATALOGUE_TTL, CATALOGUES, Catalogue, ProductInfo};
pub use collection::{CollectionSort, Shopper, SortedProduct};
pub use recently::{MIN_SESSION_LEN, RECENT_VIEWS};

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
/// How long an instance keeps a shopper's `for_you` inputs at most (what another instance
/// learned of them shows within this).
pub const PERSONAL_TTL: Duration = Duration::from_secs(30);
/// Bound of the per-instance cache of shoppers' `for_you` inputs (≈ 4 KB each at most).
pub const PERSONAL_CACHE_ENTRIES: usize = 10_000;
/// Products kept per candidate list.
const RAW_LIST: usize = 100;
/// Products per product type in the per-type trending lists `for_you`'s previous formula drew
/// on (kept for the evaluation's side-by-side).
pub const TYPE_TRENDING: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    Related,
    Complementary,
    ForYou,
    Trending,
    /// What completes the shopper's cart (`product_ids`).
    Cart,
    /// What this shopper viewed lately (their own views, newest first).
    RecentlyViewed,
}

impl Intent {
    pub const ALL: [Intent; 6] = [
        Intent::Related,
        Intent::Complementary,
        Intent::ForYou,
        Intent::Trending,
        Intent::Cart,
        Intent::RecentlyViewed,
    ];

    /// Every intent, for error messages.
    pub const NAMES: &'static str =
        "related, complementary, for_you, trending, cart or recently_viewed";

    pub fn parse(s: &str) -> Option<Intent> {
        match s {
            "related" => Some(Intent::Related),
            "complementary" => Some(Intent::Complementary),
            "for_you" => Some(Intent::ForYou),
            "trending" => Some(Intent::Trending),
            "cart" => Some(Intent::Cart),
            "recently_viewed" => Some(Intent::RecentlyViewed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Related => "related",
            Intent::Complementary => "complementary",
            Intent::ForYou => "for_you",
            Intent::Trending => "trending",
            Intent::Cart => "cart",
            Intent::RecentlyViewed => "recently_viewed",
        }
    }

    /// Intents that recommend around a product need `product_id`.
    pub fn needs_product(self) -> bool {
        matches!(self, Intent::Related | Intent::Complementary)
    }

    /// Intents served from inputs of their own (the cart, the session): see `recommend_cart`
    /// and `recently_viewed`.
    pub fn own_inputs(self) -> bool {
        matches!(self, Intent::Cart | Intent::RecentlyViewed)
    }
}

#[derive(Debug, Clone)]
pub struct Rec {
    pub product_id: i64,
    pub score: f64,
    pub reasons: Vec<Value>,
}

/// Per-instance state of recommendations: computed lists, catalogues, settings, and what this
/// instance has seen of each shop's versions. One per application instance (`AppState::recs`):
/// instances share none of it, in one process as in several.
pub struct Recommender {
    shops: Mutex<HashMap<String, ShopVersions>>,
    catalogues: Mutex<HashMap<String, CatalogueEntry>>,
    raw: TtlCache<(String, ListKey), List>,
    shop_raw: TtlCache<(String, ListKey), List>,
    settings: TtlCache<String, Arc<Steering>>,
    /// Consenting shoppers' `for_you` inputs, by `(shop, customer)`.
    personal: TtlCache<(String, i64), Arc<for_you::Personal>>,
    /// Changes made through this instance, applied at its next request.
    local: LocalLog,
}

impl Default for Recommender {
    fn default() -> Self {
        Recommender {
            shops: Mutex::new(HashMap::new()),
            catalogues: Mutex::new(HashMap::new()),
            raw: TtlCache::new(CACHE_TTL, RAW_CACHE_ENTRIES),
            shop_raw: TtlCache::new(CACHE_TTL, SHOP_CACHE_ENTRIES),
            settings: TtlCache::new(CACHE_TTL, 10_000),
            personal: TtlCache::new(PERSONAL_TTL, PERSONAL_CACHE_ENTRIES),
            local: LocalLog::default(),
        }
    }
}

impl Recommender {
    /// Forgets everything this instance computed for a shop.
    pub fn forget(&self, shop_id: &str) {
        self.raw.forget(|(s, _)| s == shop_id);
        self.shop_raw.forget(|(s, _)| s == shop_id);
        self.settings.remove(shop_id);
        self.personal.forget(|(s, _)| s == shop_id);
        if let Some(e) = self.catalogues.lock().get_mut(shop_id) {
            e.stale = true;
        }
    }

    pub fn settings(&self, c: &mut DbConnection, shop_id: &str) -> QueryResult<Arc<Steering>> {
        if let Some(s) = self.settings.get(shop_id) {
            return Ok(s);
        }
        let s = Arc::new(super::steering::load(c, shop_id)?);
        self.settings.insert(shop_id.to_owned(), s.clone());
        Ok(s)
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
        if (intent == Intent::ForYou && customer.is_some()) || intent.own_inputs() {
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
        match intent {
            Intent::Cart => return self.recommend_cart(c, shop_id, &[], customer, limit, explain),
            Intent::RecentlyViewed => {
                return self.recently_viewed(c, shop_id, customer, None, product, limit, explain);
            }
            _ => {}
        }
        self.apply_local();
        self.poll(c, shop_id)?;
        if intent == Intent::ForYou
            && let Some(customer) = customer
            && let Some(stamp) = consent::personalization_stamp(c, shop_id, customer)?
        {
            return self.for_you(c, shop_id, customer, stamp, product, limit, explain);
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
}

fn sort_desc(list: &mut [Rec]) {
    list.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.product_id.cmp(&b.product_id))
    });
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
