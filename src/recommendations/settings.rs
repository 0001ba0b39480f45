//! Merchant settings (`GET/PUT /api/recommendations/settings`): products pinned
//! first and products excluded, per viewed product, and products excluded everywhere.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde_json::{Map, Value, json};

use crate::db::schema::rec_settings;
use crate::db::{DbConnection, now};
use crate::error::FieldError;
use crate::shopify::payload::parse_id;

/// Limits of one settings document.
pub const MAX_KEYS: usize = 5_000;
pub const MAX_PER_PRODUCT: usize = 50;
pub const MAX_EVERYWHERE: usize = 5_000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecSettings {
    pub pinned: BTreeMap<i64, Vec<i64>>,
    pub excluded: BTreeMap<i64, Vec<i64>>,
    pub excluded_everywhere: BTreeSet<i64>,
}

fn ids_json(ids: &[i64]) -> Value {
    Value::Array(ids.iter().map(|i| Value::String(i.to_string())).collect())
}

fn map_json(m: &BTreeMap<i64, Vec<i64>>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.to_string(), ids_json(v)))
            .collect(),
    )
}

impl RecSettings {
    pub fn to_json(&self) -> Value {
        json!({
            "pinned": map_json(&self.pinned),
            "excluded": map_json(&self.excluded),
            "excluded_everywhere": ids_json(&self.excluded_everywhere.iter().copied().collect::<Vec<_>>()),
        })
    }
}

fn positive_id(v: &Value) -> Option<i64> {
    parse_id(v).filter(|id| *id > 0)
}

fn parse_map(name: &str, v: &Value, errors: &mut Vec<FieldError>) -> BTreeMap<i64, Vec<i64>> {
    let mut out = BTreeMap::new();
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            name,
            "invalid_type",
            "must be an object of product ids to lists of product ids",
        ));
        return out;
    };
    if obj.len() > MAX_KEYS {
        errors.push(FieldError::new(
            name,
            "too_many",
            format!("at most {MAX_KEYS} products"),
        ));
        return out;
    }
    for (key, list) in obj {
        let Some(k) = key.parse::<i64>().ok().filter(|k| *k > 0) else {
            errors.push(FieldError::new(
                format!("{name}.{key}"),
                "invalid_id",
                "keys must be product ids (positive integers)",
            ));
            continue;
        };
        let Some(items) = list.as_array() else {
            errors.push(FieldError::new(
                format!("{name}.{key}"),
                "invalid_type",
                "must be a list of product ids",
            ));
            continue;
        };
        if items.len() > MAX_PER_PRODUCT {
            errors.push(FieldError::new(
                format!("{name}.{key}"),
                "too_many",
                format!("at most {MAX_PER_PRODUCT} products"),
            ));
            continue;
        }
        let mut ids = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match positive_id(item) {
                Some(id) if id == k => errors.push(FieldError::new(
                    format!("{name}.{key}[{i}]"),
                    "self_reference",
                    "a product cannot be listed for itself",
                )),
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => errors.push(FieldError::new(
                    format!("{name}.{key}[{i}]"),
                    "duplicate",
                    "listed twice",
                )),
                None => errors.push(FieldError::new(
                    format!("{name}.{key}[{i}]"),
                    "invalid_id",
                    "must be a product id (a positive integer, as a string or a number)",
                )),
            }
        }
        out.insert(k, ids);
    }
    out
}

/// A `PUT` body: each member present replaces the stored one; absent members stay.
pub fn parse_update(body: &Value, current: &RecSettings) -> Result<RecSettings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "the body must be an object",
        )]);
    };
    let mut next = current.clone();
    for key in obj.keys() {
        if !matches!(key.as_str(), "pinned" | "excluded" | "excluded_everywhere") {
            errors.push(FieldError::new(
                key.clone(),
                "unknown_field",
                "not a setting",
            ));
        }
    }
    if let Some(v) = obj.get("pinned") {
        next.pinned = parse_map("pinned", v, &mut errors);
    }
    if let Some(v) = obj.get("excluded") {
        next.excluded = parse_map("excluded", v, &mut errors);
    }
    if let Some(v) = obj.get("excluded_everywhere") {
        match v.as_array() {
            Some(items) if items.len() <= MAX_EVERYWHERE => {
                next.excluded_everywhere.clear();
                for (i, item) in items.iter().enumerate() {
                    match positive_id(item) {
                        Some(id) => {
                            next.excluded_everywhere.insert(id);
                        }
                        None => errors.push(FieldError::new(
                            format!("excluded_everywhere[{i}]"),
                            "invalid_id",
                            "must be a product id (a positive integer, as a string or a number)",
                        )),
                    }
                }
            }
            Some(_) => errors.push(FieldError::new(
                "excluded_everywhere",
                "too_many",
                format!("at most {MAX_EVERYWHERE} products"),
            )),
            None => errors.push(FieldError::new(
                "excluded_everywhere",
                "invalid_type",
                "must be a list of product ids",
            )),
        }
    }
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(errors)
    }
}

fn parse_stored_map(s: &str) -> BTreeMap<i64, Vec<i64>> {
    let m: Map<String, Value> = serde_json::from_str(s).unwrap_or_default();
    m.into_iter()
        .filter_map(|(k, v)| {
            Some((
                k.parse().ok()?,
                v.as_array()?.iter().filter_map(parse_id).collect(),
            ))
        })
        .collect()
}

pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<RecSettings> {
    let row: Option<(String, String, String)> = rec_settings::table
        .find(shop_id)
        .select((
            rec_settings::pinned,
            rec_settings::excluded,
            rec_settings::excluded_everywhere,
        ))
        .first(c)
        .optional()?;
    let Some((pinned, excluded, everywhere)) = row else {
        return Ok(RecSettings::default());
    };
    let everywhere: Vec<Value> = serde_json::from_str(&everywhere).unwrap_or_default();
    Ok(RecSettings {
        pinned: parse_stored_map(&pinned),
        excluded: parse_stored_map(&excluded),
        excluded_everywhere: everywhere.iter().filter_map(parse_id).collect(),
    })
}

pub fn save(c: &mut DbConnection, shop_id: &str, s: &RecSettings) -> QueryResult<()> {
    let v = s.to_json();
    let pinned = v["pinned"].to_string();
    let excluded = v["excluded"].to_string();
    let everywhere = v["excluded_everywhere"].to_string();
    crate::per_backend!(c, |c| diesel::insert_into(rec_settings::table)
        .values((
            rec_settings::shop_id.eq(shop_id),
            rec_settings::pinned.eq(&pinned),
            rec_settings::excluded.eq(&excluded),
            rec_settings::excluded_everywhere.eq(&everywhere),
            rec_settings::updated_at.eq(now()),
        ))
        .on_conflict(rec_settings::shop_id)
        .do_update()
        .set((
            rec_settings::pinned.eq(&pinned),
            rec_settings::excluded.eq(&excluded),
            rec_settings::excluded_everywhere.eq(&everywhere),
            rec_settings::updated_at.eq(now()),
        ))
        .execute(c))?;
    Ok(())
}
