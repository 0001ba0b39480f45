//! What recommendations may read: the consent gate and the shopper's explicit choices.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::find;
use crate::db::DbConnection;
use crate::db::schema::customer_preferences;
use crate::preferences::center;
/// Whether the shopper's behaviour and history may be used for recommendations: only when they
/// gave personalization consent (never given = not given). Read at every use, so a withdrawal
/// applies to the very next request.
pub fn personalization_allowed(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<bool> {
    let consent: Option<bool> = customer_preferences::table
        .filter(customer_preferences::shop_id.eq(shop_id))
        .filter(customer_preferences::customer_id.eq(customer_id))
        .select(customer_preferences::personalization_consent)
        .first(c)
        .optional()?;
    Ok(consent.unwrap_or(false))
}

/// With personalization consent, what identifies the version of the shopper's preferences:
/// `(updated_at, history_seq)`, which every write of the row changes; `None` without consent.
/// One read answers both the consent gate and whether work computed under the earlier version
/// of their stated sizes and interests still holds.
pub fn personalization_stamp(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<(time::PrimitiveDateTime, i64)>> {
    let row: Option<(bool, time::PrimitiveDateTime, i64)> = customer_preferences::table
        .filter(customer_preferences::shop_id.eq(shop_id))
        .filter(customer_preferences::customer_id.eq(customer_id))
        .select((
            customer_preferences::personalization_consent,
            customer_preferences::updated_at,
            customer_preferences::history_seq,
        ))
        .first(c)
        .optional()?;
    Ok(row.filter(|r| r.0).map(|(_, at, seq)| (at, seq)))
}

/// The shopper's explicit preferences still offered by the store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explicit {
    pub sizes: BTreeMap<String, String>,
    pub interests: Vec<String>,
    /// Taste signals from answers whose option maps onto nothing in the preference center: the
    /// product tag `QUESTION:OPTION` (`style:minimal`), matched like an interest.
    pub tastes: Vec<String>,
}

/// Sizes and interests for recommendations, only with personalization consent; values the
/// settings no longer offer are left out.
pub fn explicit_for(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<Explicit>> {
    let Some(row) = find(c, shop_id, customer_id)? else {
        return Ok(None);
    };
    if !row.personalization_consent {
        return Ok(None);
    }
    let s = center::load(c, shop_id)?;
    let p = row.prefs()?;
    Ok(Some(Explicit {
        sizes: p
            .sizes
            .into_iter()
            .filter(|(cat, size)| s.offers_size(cat, size))
            .collect(),
        interests: p
            .interests
            .into_iter()
            .filter(|i| s.offers_interest(i))
            .collect(),
        tastes: crate::preferences::questions::tastes(c, shop_id, customer_id)?,
    }))
}
