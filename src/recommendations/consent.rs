//! What the preference center says about a shopper, as recommendations need it: whether their
//! behaviour and history may be used (absent consent = not given), and their explicit sizes and
//! interests (only with that consent). Read at every use, so a withdrawal applies at once.

use diesel::QueryResult;

use crate::db::DbConnection;

pub use crate::preferences::prefs::Explicit;

/// Whether the shopper's own behaviour and history may be used (absent consent = not given).
pub fn personalization_allowed(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<bool> {
    crate::preferences::prefs::personalization_allowed(c, shop_id, customer_id)
}

/// The shopper's explicit sizes and interests; empty without consent.
pub fn explicit(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Explicit> {
    Ok(crate::preferences::prefs::explicit_for(c, shop_id, customer_id)?.unwrap_or_default())
}

/// With consent, the version of the shopper's preferences (changes with every write of them);
/// `None` without consent. See [`crate::preferences::prefs::personalization_stamp`].
pub fn personalization_stamp(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<(time::PrimitiveDateTime, i64)>> {
    crate::preferences::prefs::personalization_stamp(c, shop_id, customer_id)
}
