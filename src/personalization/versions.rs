//! A template's version history: every published version with the number of orders (and lines)
//! that pinned it, so the merchant sees which definitions orders in production still rely on.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use time::PrimitiveDateTime;

use crate::db::schema::{order_line_items, template_versions};
use crate::db::{DbConnection, rfc3339};

#[derive(Debug, Serialize)]
pub struct VersionOut {
    pub version: i32,
    pub name: String,
    pub field_count: usize,
    pub created_at: String,
    pub pinned_orders: i64,
    pub pinned_lines: i64,
    /// The definition as published (for viewing an earlier version).
    pub fields: Value,
}

/// Newest first; `None` when the shop has no such template (or never had).
pub fn history(
    c: &mut DbConnection,
    shop_id: &str,
    template_id: &str,
) -> QueryResult<Option<Vec<VersionOut>>> {
    let rows: Vec<(i32, String, String, PrimitiveDateTime)> = template_versions::table
        .filter(template_versions::shop_id.eq(shop_id))
        .filter(template_versions::template_id.eq(template_id))
        .order(template_versions::version.desc())
        .select((
            template_versions::version,
            template_versions::name,
            template_versions::fields,
            template_versions::created_at,
        ))
        .load(c)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let pins: Vec<(Option<i32>, i64)> = order_line_items::table
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::template_id.eq(template_id))
        .select((
            order_line_items::template_version,
            order_line_items::order_id,
        ))
        .load(c)?;
    let mut lines: HashMap<i32, i64> = HashMap::new();
    let mut orders: HashMap<i32, std::collections::HashSet<i64>> = HashMap::new();
    for (v, order) in pins {
        let Some(v) = v else { continue };
        *lines.entry(v).or_default() += 1;
        orders.entry(v).or_default().insert(order);
    }
    Ok(Some(
        rows.into_iter()
            .map(|(version, name, fields, at)| {
                let fields: Value = serde_json::from_str(&fields).unwrap_or(Value::Null);
                VersionOut {
                    version,
                    name,
                    field_count: fields.as_array().map_or(0, Vec::len),
                    created_at: rfc3339(at),
                    pinned_orders: orders.get(&version).map_or(0, |s| s.len() as i64),
                    pinned_lines: lines.get(&version).copied().unwrap_or(0),
                    fields,
                }
            })
            .collect(),
    ))
}
