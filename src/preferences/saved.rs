//! Saved personalizations (SAVED): a filled personalization (a monogram, a child's
//! name, a ring size) a logged-in shopper keeps to reuse on other products. Saving checks only
//! the shape and size; the values are validated against a product's template when they are
//! used on that product's `personalize`.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::PrimitiveDateTime;

use crate::db::schema::saved_personalizations as sp;
use crate::db::{DbConnection, new_id, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};

/// Saved personalizations per customer.
pub const MAX_PER_CUSTOMER: i64 = 50;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_VALUES: usize = 50;
/// Serialized size of `values`.
pub const MAX_VALUES_BYTES: usize = 16 * 1024;

/// SAVED.
#[derive(Debug, Clone, Serialize)]
pub struct SavedOut {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    pub values: Value,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct NewSaved {
    pub name: String,
    pub product_id: Option<i64>,
    pub values: Map<String, Value>,
}

/// A `POST` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SavedIn {
    name: Lenient<String>,
    values: Lenient<Map<String, Value>>,
    /// A Shopify id: a number or a string.
    product_id: Lenient<Value>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Checks a `POST` body `{"name","values","product_id"?}`, naming every problem.
pub fn parse_new(body: &Value) -> Result<NewSaved, Vec<FieldError>> {
    let body: SavedIn = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    p.unknown_members("", body.unknown.keys(), |_| {
        "This member is not part of the request.".into()
    });
    let name = match body.name.as_ok().map(|n| n.trim()) {
        Some(n)
            if !n.is_empty()
                && n.chars().count() <= MAX_NAME_CHARS
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => {
            p.push(
                "name",
                "invalid_name",
                format!("name is a non-empty string of at most {MAX_NAME_CHARS} characters."),
            );
            String::new()
        }
    };
    let product_id = match body.product_id.raw() {
        None | Some(Value::Null) => None,
        Some(v) => {
            let id = crate::shopify::payload::parse_id(v).filter(|id| *id > 0);
            if id.is_none() {
                p.push(
                    "product_id",
                    "invalid_id",
                    "A product id is a positive integer (string or number).",
                );
            }
            id
        }
    };
    if body.values.is_absent() {
        p.push("values", "required", "values is required.");
    }
    let values = match body.values.typed(
        &mut p,
        "values",
        "values is an object of field keys to values.",
    ) {
        Some(m) if m.len() > MAX_VALUES => {
            p.push(
                "values",
                "too_many",
                format!("At most {MAX_VALUES} values."),
            );
            Map::new()
        }
        Some(m) if serde_json::to_vec(&m).map_or(usize::MAX, |v| v.len()) > MAX_VALUES_BYTES => {
            p.push(
                "values",
                "too_large",
                format!("values take at most {MAX_VALUES_BYTES} bytes."),
            );
            Map::new()
        }
        Some(m) => m,
        None => Map::new(),
    };
    p.finish(NewSaved {
        name,
        product_id,
        values,
    })
}

type Row = (String, String, Option<i64>, String, PrimitiveDateTime);

fn out(r: Row) -> QueryResult<SavedOut> {
    let (id, name, product_id, values, created_at) = r;
    Ok(SavedOut {
        id,
        name,
        product_id: product_id.map(|p| p.to_string()),
        values: serde_json::from_str(&values)
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?,
        created_at: rfc3339(created_at),
    })
}

/// The customer's saved personalizations, newest first.
pub fn list(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Vec<SavedOut>> {
    let rows: Vec<Row> = sp::table
        .filter(sp::shop_id.eq(shop_id))
        .filter(sp::customer_id.eq(customer_id))
        .order((sp::created_at.desc(), sp::id.desc()))
        .select((
            sp::id,
            sp::name,
            sp::product_id,
            sp::field_values,
            sp::created_at,
        ))
        .load(c)?;
    rows.into_iter().map(out).collect()
}

fn count(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<i64> {
    sp::table
        .filter(sp::shop_id.eq(shop_id))
        .filter(sp::customer_id.eq(customer_id))
        .count()
        .get_result(c)
}

/// Saves one; `422` once the customer has [`MAX_PER_CUSTOMER`].
pub fn create(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    new: NewSaved,
) -> AppResult<SavedOut> {
    let values = Value::Object(new.values).to_string();
    write_tx(c, |c| {
        if let DbConnection::Postgres(pg) = c {
            // Concurrent saves of one customer count one after the other.
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(format!("saved:{shop_id}:{customer_id}"))
                .execute(pg)?;
        }
        if count(c, shop_id, customer_id)? >= MAX_PER_CUSTOMER {
            return Err(AppError::validation(vec![FieldError::new(
                "",
                "too_many_saved",
                format!("At most {MAX_PER_CUSTOMER} saved personalizations; delete one first."),
            )]));
        }
        let id = new_id();
        let at = now();
        diesel::insert_into(sp::table)
            .values((
                sp::id.eq(&id),
                sp::shop_id.eq(shop_id),
                sp::customer_id.eq(customer_id),
                sp::name.eq(&new.name),
                sp::product_id.eq(new.product_id),
                sp::field_values.eq(&values),
                sp::created_at.eq(at),
            ))
            .execute(c)?;
        Ok(out((id, new.name, new.product_id, values, at))?)
    })
}

/// Deletes one of the customer's own; another customer's id is `404` like an unknown one.
pub fn delete(c: &mut DbConnection, shop_id: &str, customer_id: i64, id: &str) -> AppResult<()> {
    let n = diesel::delete(
        sp::table
            .filter(sp::id.eq(id))
            .filter(sp::shop_id.eq(shop_id))
            .filter(sp::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    if n == 0 {
        return Err(AppError::not_found("No such saved personalization."));
    }
    Ok(())
}

/// Erases the customer's saved personalizations (`customers/redact`).
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        sp::table
            .filter(sp::shop_id.eq(shop_id))
            .filter(sp::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}
