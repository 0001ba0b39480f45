//! The append-only consent history: read for the admin, redacted with the customer.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use time::PrimitiveDateTime;

use super::corrupt;
use crate::db::schema::{consent_history, customer_preferences};
use crate::db::{DbConnection, rfc3339};
#[derive(Debug, Clone, Serialize)]
pub struct HistoryOut {
    pub field: String,
    pub old: Value,
    pub new: Value,
    pub source: String,
    pub at: String,
}

/// The customer's whole history, oldest first.
pub fn history(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Vec<HistoryOut>> {
    let rows: Vec<(String, String, String, String, PrimitiveDateTime)> = consent_history::table
        .filter(consent_history::shop_id.eq(shop_id))
        .filter(consent_history::customer_id.eq(customer_id))
        .order(consent_history::seq)
        .select((
            consent_history::field,
            consent_history::old_value,
            consent_history::new_value,
            consent_history::source,
            consent_history::at,
        ))
        .load(c)?;
    rows.into_iter()
        .map(|(field, old, new, source, at)| {
            Ok(HistoryOut {
                field,
                old: serde_json::from_str(&old).map_err(corrupt)?,
                new: serde_json::from_str(&new).map_err(corrupt)?,
                source,
                at: rfc3339(at),
            })
        })
        .collect()
}

/// Erases the customer's history (`customers/redact`).
pub fn redact_history(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        consent_history::table
            .filter(consent_history::shop_id.eq(shop_id))
            .filter(consent_history::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

/// Erases the customer's preferences (`customers/redact`).
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        customer_preferences::table
            .filter(customer_preferences::shop_id.eq(shop_id))
            .filter(customer_preferences::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}
