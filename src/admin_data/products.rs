//! Product search over the synced catalogue, for the admin's pickers (template assignment,
//! recommendation pins and exclusions). Only what the products webhooks and the backfill
//! stored: Atelier never calls the store for this.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::db::schema::products;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Serialize)]
pub struct ProductHit {
    pub product_id: String,
    pub title: String,
    pub handle: String,
    pub product_type: String,
    pub vendor: String,
    pub status: String,
    pub available: bool,
    pub price_min_cents: Option<i64>,
    pub image_url: Option<String>,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    String,
    bool,
    Option<i64>,
    Option<String>,
);

/// `LIKE` pattern matching `text` anywhere, with `%`, `_` and the escape character taken
/// literally (a merchant searching "50%" means the characters).
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// Products of the shop matching `query` (title or handle, case-insensitive, or the exact id),
/// or exactly `ids`, in id order after `after`; deleted products are never listed.
pub fn search(
    c: &mut DbConnection,
    shop_id: &str,
    query: Option<&str>,
    ids: Option<&[i64]>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ProductHit>> {
    let mut q = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::deleted.eq(false))
        .order(products::product_id)
        .limit(limit)
        .select((
            products::product_id,
            products::title,
            products::handle,
            products::product_type,
            products::vendor,
            products::status,
            products::available,
            products::price_min_cents,
            products::image_url,
        ))
        .into_boxed();
    if let Some(text) = query.map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = contains_pattern(text);
        let exact_id = text.parse::<i64>().unwrap_or(-1);
        q = q.filter(
            lower(products::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(products::handle).like(pattern).escape('\\'))
                .or(products::product_id.eq(exact_id)),
        );
    }
    if let Some(ids) = ids {
        q = q.filter(products::product_id.eq_any(ids.to_vec()));
    }
    if let Some(after) = after {
        q = q.filter(products::product_id.gt(after));
    }
    let rows: Vec<Row> = q.load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, title, handle, product_type, vendor, status, available, price, image)| {
                ProductHit {
                    product_id: id.to_string(),
                    title,
                    handle,
                    product_type,
                    vendor,
                    status,
                    available,
                    price_min_cents: price,
                    image_url: image,
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn wildcards_in_a_search_are_literal() {
        assert_eq!(contains_pattern("Mug"), "%mug%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
