//! Templates in the database: the current version on `templates`, every published version in
//! `template_versions`, product assignments in `template_products`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::PrimitiveDateTime;

use super::template::{FieldDef, FieldsIn, check_fields};
use crate::db::schema::{template_products, template_versions, templates};
use crate::db::{DbConnection, new_id, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems};

pub const MAX_PRODUCTS: usize = 5_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = templates, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct TemplateRow {
    pub id: String,
    pub shop_id: String,
    pub name: String,
    pub version: i32,
    pub fields: String,
    pub deleted: bool,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

/// TEMPLATE.
#[derive(Debug, Serialize)]
pub struct TemplateOut {
    pub id: String,
    pub name: String,
    pub version: i32,
    pub fields: Vec<FieldDef>,
    pub product_ids: Vec<String>,
    pub updated_at: String,
}

/// A validated `{"name","fields","product_ids"}` body.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub name: String,
    pub fields: Vec<FieldDef>,
    pub product_ids: Vec<i64>,
}

/// A `POST`/`PUT` body as sent (other members are ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TemplateIn {
    name: Lenient<String>,
    fields: FieldsIn,
    /// Shopify ids: numbers or strings.
    product_ids: Lenient<Vec<Value>>,
}

/// Checks a request body, naming every problem.
pub fn parse_input(body: &Value) -> Result<TemplateInput, Vec<FieldError>> {
    let body: TemplateIn = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    let name = match body.name.as_ok().map(|n| n.trim()) {
        Some(n) if !n.is_empty() && n.chars().count() <= 200 => n.to_owned(),
        _ => {
            p.push("name", "invalid_name", "name must be 1 to 200 characters.");
            String::new()
        }
    };
    let fields = check_fields(body.fields).unwrap_or_else(|e| {
        p.extend(e);
        Vec::new()
    });
    let mut product_ids = Vec::new();
    match body.product_ids {
        Lenient::Absent | Lenient::Null => {}
        Lenient::Ok(list) if list.len() > MAX_PRODUCTS => p.push(
            "product_ids",
            "too_many",
            format!("At most {MAX_PRODUCTS} products per template."),
        ),
        Lenient::Ok(list) => {
            for (i, v) in list.iter().enumerate() {
                match crate::shopify::payload::parse_id(v).filter(|id| *id > 0) {
                    Some(id) if !product_ids.contains(&id) => product_ids.push(id),
                    Some(_) => {}
                    None => p.push(
                        input::item("product_ids", i),
                        "invalid_id",
                        "A product id is a positive integer (string or number).",
                    ),
                }
            }
        }
        Lenient::Wrong(_) => {
            p.invalid_type("product_ids", "product_ids must be a list of product ids.")
        }
    }
    p.finish(TemplateInput {
        name,
        fields,
        product_ids,
    })
}

fn product_ids_of(c: &mut DbConnection, template_id: &str) -> QueryResult<Vec<i64>> {
    template_products::table
        .filter(template_products::template_id.eq(template_id))
        .order(template_products::product_id)
        .select(template_products::product_id)
        .load(c)
}

fn out(c: &mut DbConnection, row: TemplateRow) -> AppResult<TemplateOut> {
    let ids = product_ids_of(c, &row.id)?;
    Ok(TemplateOut {
        fields: serde_json::from_str(&row.fields).map_err(AppError::internal)?,
        product_ids: ids.into_iter().map(|i| i.to_string()).collect(),
        updated_at: rfc3339(row.updated_at),
        id: row.id,
        name: row.name,
        version: row.version,
    })
}

fn find_row(c: &mut DbConnection, shop_id: &str, id: &str) -> AppResult<TemplateRow> {
    templates::table
        .filter(templates::id.eq(id))
        .filter(templates::shop_id.eq(shop_id))
        .filter(templates::deleted.eq(false))
        .select(TemplateRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| AppError::not_found("No such template."))
}

pub fn get(c: &mut DbConnection, shop_id: &str, id: &str) -> AppResult<TemplateOut> {
    let row = find_row(c, shop_id, id)?;
    out(c, row)
}

/// Templates of a shop, oldest first, keyset-paginated by (created_at, id).
pub fn list(
    c: &mut DbConnection,
    shop_id: &str,
    after: Option<(PrimitiveDateTime, String)>,
    limit: i64,
) -> AppResult<Vec<(TemplateOut, PrimitiveDateTime)>> {
    let mut q = templates::table
        .filter(templates::shop_id.eq(shop_id))
        .filter(templates::deleted.eq(false))
        .order((templates::created_at, templates::id))
        .limit(limit)
        .select(TemplateRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            templates::created_at
                .gt(at)
                .or(templates::created_at.eq(at).and(templates::id.gt(id))),
        );
    }
    let rows: Vec<TemplateRow> = q.load(c)?;
    rows.into_iter()
        .map(|r| {
            let at = r.created_at;
            out(c, r).map(|o| (o, at))
        })
        .collect()
}

/// Products already using another template of the shop → one error each.
fn check_products(
    c: &mut DbConnection,
    shop_id: &str,
    template_id: Option<&str>,
    ids: &[i64],
) -> AppResult<()> {
    let taken: Vec<(i64, String)> = template_products::table
        .filter(template_products::shop_id.eq(shop_id))
        .filter(template_products::product_id.eq_any(ids))
        .select((
            template_products::product_id,
            template_products::template_id,
        ))
        .load(c)?;
    let errors: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            taken
                .iter()
                .find(|(p, t)| p == id && Some(t.as_str()) != template_id)
                .map(|(_, t)| {
                    FieldError::new(
                        format!("product_ids[{i}]"),
                        "product_taken",
                        format!("Product {id} already uses template {t}; remove it there first."),
                    )
                })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::validation(errors))
    }
}

/// On PostgreSQL, makes the shop's template writes (create, edit, delete) run one after the other
/// until the transaction ends. Two edits of one template would otherwise both read version N
/// and both publish N + 1, and two templates claiming one product would both pass the
/// "product already taken" check; the loser of either race failed on a unique key. SQLite's
/// write transaction already excludes every other writer.
fn lock_shop_templates(c: &mut DbConnection, shop_id: &str) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = c {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(format!("templates:{shop_id}"))
            .execute(pg)?;
    }
    Ok(())
}

fn write_version(
    c: &mut DbConnection,
    shop_id: &str,
    id: &str,
    version: i32,
    input: &TemplateInput,
    fields_json: &str,
    at: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(template_versions::table)
        .values((
            template_versions::template_id.eq(id),
            template_versions::version.eq(version),
            template_versions::shop_id.eq(shop_id),
            template_versions::name.eq(&input.name),
            template_versions::fields.eq(fields_json),
            template_versions::created_at.eq(at),
        ))
        .execute(c)?;
    diesel::delete(template_products::table.filter(template_products::template_id.eq(id)))
        .execute(c)?;
    for pid in &input.product_ids {
        diesel::insert_into(template_products::table)
            .values((
                template_products::shop_id.eq(shop_id),
                template_products::product_id.eq(pid),
                template_products::template_id.eq(id),
            ))
            .execute(c)?;
    }
    Ok(())
}

pub fn create(c: &mut DbConnection, shop_id: &str, input: TemplateInput) -> AppResult<TemplateOut> {
    let fields_json = serde_json::to_string(&input.fields).map_err(AppError::internal)?;
    let id = new_id();
    write_tx(c, |c| {
        lock_shop_templates(c, shop_id)?;
        check_products(c, shop_id, None, &input.product_ids)?;
        let at = now();
        diesel::insert_into(templates::table)
            .values((
                templates::id.eq(&id),
                templates::shop_id.eq(shop_id),
                templates::name.eq(&input.name),
                templates::version.eq(1),
                templates::fields.eq(&fields_json),
                templates::deleted.eq(false),
                templates::created_at.eq(at),
                templates::updated_at.eq(at),
            ))
            .execute(c)?;
        write_version(c, shop_id, &id, 1, &input, &fields_json, at)?;
        // Checkout's price table of each product, written to the store by a job.
        super::checkout::mark_due(c, shop_id, &input.product_ids)?;
        get(c, shop_id, &id)
    })
}

/// Every edit publishes a new version; earlier versions stay for the orders that pinned them.
pub fn update(
    c: &mut DbConnection,
    shop_id: &str,
    id: &str,
    input: TemplateInput,
) -> AppResult<TemplateOut> {
    let fields_json = serde_json::to_string(&input.fields).map_err(AppError::internal)?;
    write_tx(c, |c| {
        lock_shop_templates(c, shop_id)?;
        let row = find_row(c, shop_id, id)?;
        check_products(c, shop_id, Some(id), &input.product_ids)?;
        let at = now();
        let version = row.version + 1;
        // Products losing the template get an empty table, the others the new version's.
        let mut touched = product_ids_of(c, id)?;
        touched.extend(input.product_ids.iter().copied());
        touched.sort_unstable();
        touched.dedup();
        super::checkout::mark_due(c, shop_id, &touched)?;
        diesel::update(templates::table.find(id))
            .set((
                templates::name.eq(&input.name),
                templates::version.eq(version),
                templates::fields.eq(&fields_json),
                templates::updated_at.eq(at),
            ))
            .execute(c)?;
        write_version(c, shop_id, id, version, &input, &fields_json, at)?;
        get(c, shop_id, id)
    })
}

/// Hidden from the API and unassigned from products; its versions stay for pinned orders.
pub fn delete(c: &mut DbConnection, shop_id: &str, id: &str) -> AppResult<()> {
    write_tx(c, |c| {
        lock_shop_templates(c, shop_id)?;
        find_row(c, shop_id, id)?;
        let touched = product_ids_of(c, id)?;
        super::checkout::mark_due(c, shop_id, &touched)?;
        diesel::update(templates::table.find(id))
            .set((templates::deleted.eq(true), templates::updated_at.eq(now())))
            .execute(c)?;
        diesel::delete(template_products::table.filter(template_products::template_id.eq(id)))
            .execute(c)?;
        Ok(())
    })
}

/// The template currently assigned to a product: `(template_id, version, fields)`.
pub fn for_product(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
) -> AppResult<Option<(String, i32, Vec<FieldDef>)>> {
    let row: Option<(String, i32, String)> = template_products::table
        .inner_join(templates::table.on(templates::id.eq(template_products::template_id)))
        .filter(template_products::shop_id.eq(shop_id))
        .filter(template_products::product_id.eq(product_id))
        .filter(templates::deleted.eq(false))
        .select((templates::id, templates::version, templates::fields))
        .first(c)
        .optional()?;
    row.map(|(id, v, f)| Ok((id, v, serde_json::from_str(&f).map_err(AppError::internal)?)))
        .transpose()
}

/// A pinned version (orders keep theirs after edits and deletion).
pub fn version(
    c: &mut DbConnection,
    shop_id: &str,
    template_id: &str,
    version: i32,
) -> QueryResult<Option<Vec<FieldDef>>> {
    let fields: Option<String> = template_versions::table
        .filter(template_versions::shop_id.eq(shop_id))
        .filter(template_versions::template_id.eq(template_id))
        .filter(template_versions::version.eq(version))
        .select(template_versions::fields)
        .first(c)
        .optional()?;
    // Stored definitions were checked when written; one that no longer parses is treated as
    // missing (the order is flagged rather than the webhook failing forever).
    Ok(fields.and_then(|f| serde_json::from_str(&f).ok()))
}
