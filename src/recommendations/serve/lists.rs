//! The candidate lists an instance keeps per shop and product, and how a list is computed when
//! it is not cached.

use std::sync::Arc;

use diesel::QueryResult;
use serde_json::Value;

use super::candidates::{
    best_sellers_raw, complementary_raw, newest_raw, related_raw, similar_raw, trending_raw,
};
use super::{Rec, Recommender};
use crate::db::DbConnection;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ListKey {
    Complementary(i64),
    Related(i64),
    /// Bought by the same shoppers (for `for_you`'s item neighbours).
    Similar(i64),
    Trending,
    Newest,
    /// The shop's best sellers by orders (an experiment's `popular` arm).
    BestSellers,
}

impl ListKey {
    /// Lists of the whole shop (kept apart: they are all dropped when any count changes).
    pub(super) fn shop_wide(&self) -> bool {
        matches!(
            self,
            ListKey::Trending | ListKey::Newest | ListKey::BestSellers
        )
    }
}

/// A cached list entry: what serving needs, 16 bytes (a list of 100 ≈ 1.6 KB).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    product_id: i64,
    score: f64,
}

/// A candidate list, best first: compact when cached, with reasons when explained.
#[derive(Clone)]
pub(super) enum List {
    Compact(Arc<[Entry]>),
    Explained(Arc<Vec<Rec>>),
}

impl List {
    pub(super) fn new(list: Vec<Rec>, explain: bool) -> List {
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

    pub(super) fn len(&self) -> usize {
        match self {
            List::Compact(l) => l.len(),
            List::Explained(l) => l.len(),
        }
    }

    /// `(product, score, reasons)` of the i-th entry.
    pub(super) fn at(&self, i: usize) -> (i64, f64, &[Value]) {
        match self {
            List::Compact(l) => (l[i].product_id, l[i].score, &[]),
            List::Explained(l) => (l[i].product_id, l[i].score, &l[i].reasons),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, f64, &[Value])> {
        (0..self.len()).map(|i| self.at(i))
    }
}

impl Recommender {
    pub(super) fn forget_product(&self, shop_id: &str, p: i64) {
        let mut key = (shop_id.to_owned(), ListKey::Complementary(p));
        self.raw.remove(&key);
        key.1 = ListKey::Related(p);
        self.raw.remove(&key);
        key.1 = ListKey::Similar(p);
        self.raw.remove(&key);
    }

    pub(super) fn cached_raw(&self, shop_id: &str, key: ListKey) -> Option<List> {
        let key = (shop_id.to_owned(), key);
        if key.1.shop_wide() {
            self.shop_raw.get(&key)
        } else {
            self.raw.get(&key)
        }
    }

    /// A candidate list. Cached lists carry no reasons (memory); `explain` computes afresh
    /// with them.
    pub(super) fn raw(
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
                ListKey::Similar(p) => similar_raw(c, &cat, shop_id, *p, explain)?,
                ListKey::Trending => trending_raw(c, &cat, shop_id, explain)?,
                ListKey::Newest => newest_raw(&cat, explain),
                ListKey::BestSellers => best_sellers_raw(c, &cat, shop_id, explain)?,
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
}
