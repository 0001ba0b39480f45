//! What the preference center (issue 5) says about a shopper, as recommendations need it.
//!
//! Until the preference center is merged this adapter reads nothing and answers the safe
//! default: no consent, no explicit preferences, so `for_you` is never personal.

use std::collections::BTreeMap;

use diesel::QueryResult;

use crate::db::DbConnection;

/// Sizes per size category and interest keys the shopper chose (only with consent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explicit {
    pub sizes: BTreeMap<String, String>,
    pub interests: Vec<String>,
}

/// Whether the shopper's own behaviour and history may be used (absent consent = not given).
pub fn personalization_allowed(
    _c: &mut DbConnection,
    _shop_id: &str,
    _customer_id: i64,
) -> QueryResult<bool> {
    // wired to crate::preferences at merge
    Ok(false)
}

/// The shopper's explicit sizes and interests; empty without consent.
pub fn explicit(_c: &mut DbConnection, _shop_id: &str, _customer_id: i64) -> QueryResult<Explicit> {
    // wired to crate::preferences at merge
    Ok(Explicit::default())
}
