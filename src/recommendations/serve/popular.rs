//! An experiment's `popular` arm: the shop's best sellers, then the newest products, put
//! together like every intent's list (never the viewed product, merchant pins and exclusions,
//! availability at this moment) and the same for every shopper: the non-personalized baseline
//! a merchant compares Atelier's own scoring with.

use diesel::QueryResult;

use super::assemble::{Assembly, key_name};
use super::lists::ListKey;
use super::{Rec, Recommender};
use crate::db::DbConnection;

const CHAIN: [ListKey; 2] = [ListKey::BestSellers, ListKey::Newest];

impl Recommender {
    /// The popular list from memory alone, when everything it needs is cached.
    pub fn cached_popular(
        &self,
        shop_id: &str,
        product: Option<i64>,
        limit: usize,
    ) -> Option<Vec<Rec>> {
        self.apply_local();
        if !self.versions_fresh(shop_id) {
            return None;
        }
        let settings = self.settings.get(shop_id)?;
        let cat = self.cached_catalogue(shop_id)?;
        let mut a = Assembly::new(&cat, &settings, product, limit, false);
        for key in CHAIN {
            if a.full() {
                break;
            }
            let name = key_name(&key);
            let list = self.cached_raw(shop_id, key)?;
            a.add(name, &list);
        }
        Some(a.out)
    }

    /// Best sellers, best first, at most `limit` products.
    pub fn popular(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        product: Option<i64>,
        limit: usize,
    ) -> QueryResult<Vec<Rec>> {
        self.apply_local();
        self.poll(c, shop_id)?;
        let settings = self.settings(c, shop_id)?;
        let cat = self.catalogue(c, shop_id)?;
        let mut a = Assembly::new(&cat, &settings, product, limit, false);
        for key in CHAIN {
            if a.full() {
                break;
            }
            let name = key_name(&key);
            let list = self.raw(c, shop_id, key, false)?;
            a.add(name, &list);
        }
        Ok(a.out)
    }
}
