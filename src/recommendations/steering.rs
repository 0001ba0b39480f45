//! Merchant settings (`GET/PUT /api/recommendations/settings`): products pinned
//! first and products excluded, per viewed product, products excluded everywhere, and products
//! pinned to the top of a collection's grid (`collection_pins`).

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::db::schema::rec_settings;
use crate::db::{DbConnection, now};
use crate::error::FieldError;
use crate::input::{self, Lenient, Problems, Unknown};
use crate::shopify::payload::parse_id;

/// Limits of one settings document.
pub const MAX_KEYS: usize = 5_000;
pub const MAX_PER_PRODUCT: usize = 50;
pub const MAX_EVERYWHERE: usize = 5_000;
/// Collections with pins, and pins per collection.
pub const MAX_PINNED_COLLECTIONS: usize = 1_000;
pub const MAX_PINS_PER_COLLECTION: usize = 50;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steering {
    pub pinned: BTreeMap<i64, Vec<i64>>,
    pub excluded: BTreeMap<i64, Vec<i64>>,
    pub excluded_everywhere: BTreeSet<i64>,
    /// Collection id → products shown first in its grid, in this order.
    pub collection_pins: BTreeMap<i64, Vec<i64>>,
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

impl Steering {
    pub fn to_json(&self) -> Value {
        json!({
            "pinned": map_json(&self.pinned),
            "excluded": map_json(&self.excluded),
            "excluded_everywhere": ids_json(&self.excluded_everywhere.iter().copied().collect::<Vec<_>>()),
            "collection_pins": map_json(&self.collection_pins),
        })
    }
}

fn positive_id(v: &Value) -> Option<i64> {
    parse_id(v).filter(|id| *id > 0)
}

/// A `PUT` body as sent; ids are a number or a string, read by [`positive_id`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SteeringPatch {
    pinned: Lenient<IdLists>,
    excluded: Lenient<IdLists>,
    excluded_everywhere: Lenient<Vec<Value>>,
    collection_pins: Lenient<IdLists>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// Product id (an object key) → product ids.
type IdLists = BTreeMap<String, Lenient<Vec<Value>>>;

fn parse_map(name: &str, v: Lenient<IdLists>, p: &mut Problems) -> BTreeMap<i64, Vec<i64>> {
    let mut out = BTreeMap::new();
    let Some(obj) = v.typed(
        p,
        name,
        "must be an object of product ids to lists of product ids",
    ) else {
        return out;
    };
    if obj.len() > MAX_KEYS {
        p.push(name, "too_many", format!("at most {MAX_KEYS} products"));
        return out;
    }
    for (key, list) in obj {
        let at = input::member(name, &key);
        let Some(k) = key.parse::<i64>().ok().filter(|k| *k > 0) else {
            p.push(
                at,
                "invalid_id",
                "keys must be product ids (positive integers)",
            );
            continue;
        };
        let Some(items) = list.typed(p, at.clone(), "must be a list of product ids") else {
            continue;
        };
        if items.len() > MAX_PER_PRODUCT {
            p.push(
                at,
                "too_many",
                format!("at most {MAX_PER_PRODUCT} products"),
            );
            continue;
        }
        let mut ids = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = input::item(&at, i);
            match positive_id(item) {
                Some(id) if id == k => p.push(
                    path,
                    "self_reference",
                    "a product cannot be listed for itself",
                ),
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => p.push(path, "duplicate", "listed twice"),
                None => p.push(path, "invalid_id", NOT_AN_ID),
            }
        }
        out.insert(k, ids);
    }
    out
}

/// `collection_pins`: collection id (an object key) → product ids, each at most once.
fn parse_collection_pins(v: Lenient<IdLists>, p: &mut Problems) -> BTreeMap<i64, Vec<i64>> {
    const NAME: &str = "collection_pins";
    let mut out = BTreeMap::new();
    let Some(obj) = v.typed(
        p,
        NAME,
        "must be an object of collection ids to lists of product ids",
    ) else {
        return out;
    };
    if obj.len() > MAX_PINNED_COLLECTIONS {
        p.push(
            NAME,
            "too_many",
            format!("at most {MAX_PINNED_COLLECTIONS} collections"),
        );
        return out;
    }
    for (key, list) in obj {
        let at = input::member(NAME, &key);
        let Some(k) = key.parse::<i64>().ok().filter(|k| *k > 0) else {
            p.push(
                at,
                "invalid_id",
                "keys must be collection ids (positive integers)",
            );
            continue;
        };
        let Some(items) = list.typed(p, at.clone(), "must be a list of product ids") else {
            continue;
        };
        if items.len() > MAX_PINS_PER_COLLECTION {
            p.push(
                at,
                "too_many",
                format!("at most {MAX_PINS_PER_COLLECTION} products"),
            );
            continue;
        }
        let mut ids = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = input::item(&at, i);
            match positive_id(item) {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => p.push(path, "duplicate", "listed twice"),
                None => p.push(path, "invalid_id", NOT_AN_ID),
            }
        }
        // An empty list unpins the collection.
        if !ids.is_empty() {
            out.insert(k, ids);
        }
    }
    out
}

const NOT_AN_ID: &str = "must be a product id (a positive integer, as a string or a number)";

/// A `PUT` body: each member present replaces the stored one; absent members stay.
pub fn parse_update(body: &Value, current: &Steering) -> Result<Steering, Vec<FieldError>> {
    let patch: SteeringPatch = input::object(body, "the body must be an object")?;
    let mut p = Problems::new();
    let mut next = current.clone();
    p.unknown_members("", patch.unknown.keys(), |_| "not a setting".into());
    if !patch.pinned.is_absent() {
        next.pinned = parse_map("pinned", patch.pinned, &mut p);
    }
    if !patch.excluded.is_absent() {
        next.excluded = parse_map("excluded", patch.excluded, &mut p);
    }
    if !patch.collection_pins.is_absent() {
        next.collection_pins = parse_collection_pins(patch.collection_pins, &mut p);
    }
    match patch.excluded_everywhere.typed(
        &mut p,
        "excluded_everywhere",
        "must be a list of product ids",
    ) {
        Some(items) if items.len() <= MAX_EVERYWHERE => {
            next.excluded_everywhere.clear();
            for (i, item) in items.iter().enumerate() {
                match positive_id(item) {
                    Some(id) => {
                        next.excluded_everywhere.insert(id);
                    }
                    None => p.push(
                        input::item("excluded_everywhere", i),
                        "invalid_id",
                        NOT_AN_ID,
                    ),
                }
            }
        }
        Some(_) => p.push(
            "excluded_everywhere",
            "too_many",
            format!("at most {MAX_EVERYWHERE} products"),
        ),
        None => {}
    }
    p.finish(next)
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

pub fn load(c: &mut DbConnection, shop_id: &str) -> QueryResult<Steering> {
    let row: Option<(String, String, String, String)> = rec_settings::table
        .find(shop_id)
        .select((
            rec_settings::pinned,
            rec_settings::excluded,
            rec_settings::excluded_everywhere,
            rec_settings::collection_pins,
        ))
        .first(c)
        .optional()?;
    let Some((pinned, excluded, everywhere, collection_pins)) = row else {
        return Ok(Steering::default());
    };
    let everywhere: Vec<Value> = serde_json::from_str(&everywhere).unwrap_or_default();
    Ok(Steering {
        pinned: parse_stored_map(&pinned),
        excluded: parse_stored_map(&excluded),
        excluded_everywhere: everywhere.iter().filter_map(parse_id).collect(),
        collection_pins: parse_stored_map(&collection_pins),
    })
}

pub fn save(c: &mut DbConnection, shop_id: &str, s: &Steering) -> QueryResult<()> {
    let v = s.to_json();
    let pinned = v["pinned"].to_string();
    let excluded = v["excluded"].to_string();
    let everywhere = v["excluded_everywhere"].to_string();
    let collection_pins = v["collection_pins"].to_string();
    crate::per_backend!(c, |c| diesel::insert_into(rec_settings::table)
        .values((
            rec_settings::shop_id.eq(shop_id),
            rec_settings::pinned.eq(&pinned),
            rec_settings::excluded.eq(&excluded),
            rec_settings::excluded_everywhere.eq(&everywhere),
            rec_settings::collection_pins.eq(&collection_pins),
            rec_settings::updated_at.eq(now()),
        ))
        .on_conflict(rec_settings::shop_id)
        .do_update()
        .set((
            rec_settings::pinned.eq(&pinned),
            rec_settings::excluded.eq(&excluded),
            rec_settings::excluded_everywhere.eq(&everywhere),
            rec_settings::collection_pins.eq(&collection_pins),
            rec_settings::updated_at.eq(now()),
        ))
        .execute(c))?;
    Ok(())
}
