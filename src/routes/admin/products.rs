//! `GET /api/products?query=&ids=&cursor=&limit=`: the synced catalogue, searched by title,
//! handle or id, for the admin's product pickers.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::{AppError, AppResult, FieldError};
use crate::products;
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{ListOut, PageQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    query: Option<String>,
    /// Comma-separated ids: the admin names the products a template or a pin already holds.
    ids: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

pub const MAX_IDS: usize = 250;

pub async fn search(
    session: ShopSession,
    q: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = PageQuery {
        cursor: None,
        limit: q.limit,
    }
    .limit()?;
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            AppError::bad_request("invalid_cursor", "The cursor is not one this API returned.")
        })?),
    };
    let ids = match q.ids.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let mut ids = Vec::new();
            for (i, part) in raw.split(',').enumerate() {
                match part.trim().parse::<i64>() {
                    Ok(id) if id > 0 => ids.push(id),
                    _ => {
                        return Err(AppError::validation(vec![FieldError::new(
                            format!("ids[{i}]"),
                            "invalid_id",
                            "Each id must be a positive integer.",
                        )]));
                    }
                }
            }
            if ids.len() > MAX_IDS {
                return Err(AppError::validation(vec![FieldError::new(
                    "ids",
                    "too_many",
                    format!("At most {MAX_IDS} ids at once."),
                )]));
            }
            Some(ids)
        }
    };
    if q.query.as_deref().is_some_and(|t| t.chars().count() > 200) {
        return Err(AppError::validation(vec![FieldError::new(
            "query",
            "too_long",
            "The search text is limited to 200 characters.",
        )]));
    }
    let shop_id = session.shop.id.clone();
    let query = q.query;
    let mut rows = state
        .db
        .run(move |c| {
            Ok(products::search(
                c,
                &shop_id,
                query.as_deref(),
                ids.as_deref(),
                after,
                limit + 1,
            )?)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|p| p.product_id.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ListOut {
        items: rows,
        next_cursor,
    }))
}
