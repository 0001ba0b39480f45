//! Wishlisted products as a `for_you` input: a product a shopper saved says more about their
//! taste than a view, so it leads their history (its complements and similar products are
//! drawn on first). Used only where `for_you` already has the shopper's consent.

use diesel::QueryResult;

use crate::db::DbConnection;

/// How many of the most recently wishlisted products feed `for_you`.
pub const WISHLIST_SIGNALS: i64 = 10;

/// `history` (most recent first) with the shopper's wishlisted products put in front, each
/// product once.
pub(super) fn lead_with_wishlist(
    c: &mut DbConnection,
    shop_id: &str,
    customer: i64,
    history: Vec<i64>,
) -> QueryResult<Vec<i64>> {
    let mut out =
        crate::preferences::wishlist::product_ids(c, shop_id, customer, WISHLIST_SIGNALS)?;
    for p in history {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}
