//! The production queue: every personalized line (one carrying `_atelier`) with its order,
//! newest order first, filtered the way a workshop sorts its work: by status, by the
//! verification verdict, by product and by order date.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::{order_line_items, orders};
use crate::db::{DbConnection, rfc3339};
use crate::orders::{LineItem, LineOut};
use crate::personalization::verify::{VERDICT_ALTERED, VERDICT_FORGED, VERDICT_UNDERPAID};

/// What the verification said about a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Verified,
    Failed,
    /// A verdict the merchant must look at (underpaid, altered, forged).
    Flagged,
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub status: Option<String>,
    pub verification: Option<Verification>,
    pub product_id: Option<i64>,
    pub from: Option<PrimitiveDateTime>,
    /// Exclusive.
    pub until: Option<PrimitiveDateTime>,
}

#[derive(Debug, Serialize)]
pub struct QueueLine {
    pub order_id: String,
    pub order_name: String,
    pub created_at: String,
    pub cancelled: bool,
    pub template_id: Option<String>,
    #[serde(flatten)]
    pub line: LineOut,
}

/// Keyset: `(order created_at, line_item_id)` of the last line of the previous page.
pub type After = (PrimitiveDateTime, i64);

pub fn queue(
    c: &mut DbConnection,
    shop_id: &str,
    filter: &Filter,
    after: Option<After>,
    limit: i64,
) -> QueryResult<Vec<(QueueLine, PrimitiveDateTime)>> {
    let mut q = order_line_items::table
        .inner_join(
            orders::table.on(orders::shop_id
                .eq(order_line_items::shop_id)
                .and(orders::order_id.eq(order_line_items::order_id))),
        )
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::personalization_verified.is_not_null())
        .order((
            orders::created_at.desc(),
            order_line_items::line_item_id.desc(),
        ))
        .select((
            orders::name,
            orders::created_at,
            orders::cancelled,
            LineItem::as_select(),
        ))
        .limit(limit)
        .into_boxed();
    if let Some(s) = &filter.status {
        q = q.filter(order_line_items::status.eq(s.clone()));
    }
    match filter.verification {
        Some(Verification::Verified) => {
            q = q.filter(order_line_items::personalization_verified.eq(true))
        }
        Some(Verification::Failed) => {
            q = q.filter(order_line_items::personalization_verified.eq(false))
        }
        Some(Verification::Flagged) => {
            q = q.filter(order_line_items::verdict.eq_any([
                VERDICT_UNDERPAID,
                VERDICT_ALTERED,
                VERDICT_FORGED,
            ]))
        }
        None => {}
    }
    if let Some(p) = filter.product_id {
        q = q.filter(order_line_items::product_id.eq(p));
    }
    if let Some(from) = filter.from {
        q = q.filter(orders::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        q = q.filter(orders::created_at.lt(until));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            orders::created_at.lt(at).or(orders::created_at
                .eq(at)
                .and(order_line_items::line_item_id.lt(id))),
        );
    }
    let rows: Vec<(String, PrimitiveDateTime, bool, LineItem)> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(|(order_name, at, cancelled, line)| {
            (
                QueueLine {
                    order_id: line.order_id.to_string(),
                    order_name,
                    created_at: rfc3339(at),
                    cancelled,
                    template_id: line.template_id.clone(),
                    line: line.into(),
                },
                at,
            )
        })
        .collect())
}

/// One line of the shop, for the print view.
pub fn line(
    c: &mut DbConnection,
    shop_id: &str,
    line_item_id: i64,
) -> QueryResult<Option<QueueLine>> {
    let row: Option<(String, PrimitiveDateTime, bool, LineItem)> = order_line_items::table
        .inner_join(
            orders::table.on(orders::shop_id
                .eq(order_line_items::shop_id)
                .and(orders::order_id.eq(order_line_items::order_id))),
        )
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::line_item_id.eq(line_item_id))
        .filter(order_line_items::personalization_verified.is_not_null())
        .select((
            orders::name,
            orders::created_at,
            orders::cancelled,
            LineItem::as_select(),
        ))
        .first(c)
        .optional()?;
    Ok(row.map(|(order_name, at, cancelled, line)| QueueLine {
        order_id: line.order_id.to_string(),
        order_name,
        created_at: rfc3339(at),
        cancelled,
        template_id: line.template_id.clone(),
        line: line.into(),
    }))
}

/// The values a line's properties stand for, keyed like the template's fields, so the pinned
/// version can draw its preview again: properties carry labels (an option's label, "Yes" for a
/// checkbox), the preview needs the values.
pub fn values_from_properties(
    fields: &[crate::personalization::FieldDef],
    properties: &[crate::orders::PropertyOut],
) -> serde_json::Map<String, serde_json::Value> {
    use crate::personalization::template::FieldType;
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for f in fields {
        let Some(p) = properties.iter().find(|p| p.name == f.label) else {
            continue;
        };
        let value = match f.kind {
            FieldType::Checkbox => Value::Bool(p.value == "Yes"),
            FieldType::Select | FieldType::Swatch => f
                .options
                .iter()
                .flatten()
                .find(|o| o.label == p.value)
                .map(|o| Value::String(o.value.clone()))
                .unwrap_or(Value::Null),
            _ => Value::String(p.value.clone()),
        };
        if !value.is_null() {
            out.insert(f.key.clone(), value);
        }
    }
    out
}
