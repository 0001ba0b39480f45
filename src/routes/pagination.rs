//! Lists are `{"items":[…], "next_cursor": STRING|null}` with `?cursor=&limit=`:
//! `limit` defaults to 50; above 250 it is clamped to 250; zero, negative or non-numeric is a
//! `422`. Cursors are opaque (base64url of the last row's sort key) and keyset-based, so pages
//! stay stable while rows are added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use crate::error::{AppError, AppResult, FieldError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 250;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListOut<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> AppResult<i64> {
        match self.limit.as_deref().map(str::trim) {
            None | Some("") => Ok(DEFAULT_LIMIT),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(n.min(MAX_LIMIT)),
                Ok(_) => Err(AppError::validation(vec![FieldError::new(
                    "limit",
                    "out_of_range",
                    "limit must be at least 1.",
                )])),
                Err(_) => Err(AppError::validation(vec![FieldError::new(
                    "limit",
                    "not_a_number",
                    "limit must be a whole number.",
                )])),
            },
        }
    }

    /// A `(timestamp, id)` cursor.
    pub fn time_cursor(&self) -> AppResult<Option<(PrimitiveDateTime, String)>> {
        let Some(raw) = self.cursor.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let bad =
            || AppError::bad_request("invalid_cursor", "The cursor is not one this API returned.");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let (micros, id): (i128, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let t =
            time::OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| bad())?;
        Ok(Some((PrimitiveDateTime::new(t.date(), t.time()), id)))
    }
}

/// Builds a page from up to `limit + 1` rows fetched in order with their sort timestamp: the
/// extra row only says whether there is a next page.
pub fn page<T>(
    mut rows: Vec<(T, PrimitiveDateTime)>,
    limit: i64,
    id: impl Fn(&T) -> &str,
) -> ListOut<T> {
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|(item, at)| time_cursor(*at, id(item)))
    } else {
        None
    };
    ListOut {
        items: rows.into_iter().map(|(item, _)| item).collect(),
        next_cursor,
    }
}

pub fn time_cursor(at: PrimitiveDateTime, id: &str) -> String {
    let micros = at.assume_utc().unix_timestamp_nanos() / 1000;
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(micros, id)).unwrap_or_default())
}

/// `?state=` of a queue's list: absent or empty is every state; anything not in `states` is a
/// `422` naming `state`.
pub fn state_filter(raw: Option<&str>, states: &[&str]) -> AppResult<Option<String>> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if states.contains(&s) => Ok(Some(s.to_owned())),
        Some(_) => Err(AppError::validation(vec![FieldError::new(
            "state",
            "invalid_state",
            format!("state is {}.", one_of(states)),
        )])),
    }
}

/// "a, b or c".
fn one_of(states: &[&str]) -> String {
    match states.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

/// A queue's list page with `counts`: every state, zero when none is in it.
pub fn with_counts<T: Serialize>(
    list: ListOut<T>,
    states: &[&str],
    counts: Vec<(String, i64)>,
) -> AppResult<serde_json::Value> {
    let mut body = serde_json::to_value(list).map_err(AppError::internal)?;
    let mut by_state = serde_json::Map::new();
    for s in states {
        by_state.insert((*s).into(), serde_json::json!(0));
    }
    for (s, n) in counts {
        by_state.insert(s, serde_json::json!(n));
    }
    body["counts"] = serde_json::Value::Object(by_state);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(limit: Option<&str>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit: limit.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn limits() {
        assert_eq!(q(None, None).limit().unwrap(), 50);
        assert_eq!(q(Some("10"), None).limit().unwrap(), 10);
        assert_eq!(q(Some("10000"), None).limit().unwrap(), 250);
        for bad in ["0", "-1", "ten", "1.5"] {
            assert_eq!(
                q(Some(bad), None).limit().unwrap_err().status.as_u16(),
                422,
                "{bad}"
            );
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_400() {
        let at = crate::db::now();
        let c = time_cursor(at, "abc");
        assert_eq!(
            q(None, Some(&c)).time_cursor().unwrap(),
            Some((at, "abc".to_owned()))
        );
        assert_eq!(
            q(None, Some("!!"))
                .time_cursor()
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        assert_eq!(
            q(None, Some("e30"))
                .time_cursor()
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
    }
}
