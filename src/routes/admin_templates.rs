//! `GET /api/templates/{id}/versions`: every published version of a template, newest first,
//! with the orders and lines that pinned it (also for a deleted template: its orders remain).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::session::ShopSession;
use crate::admin_data::versions;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub async fn versions(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let id = id.into_inner();
    let items = state
        .db
        .run(move |c| Ok(versions::history(c, &shop_id, &id)?))
        .await?
        .ok_or_else(|| AppError::not_found("No such template."))?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": null })))
}
