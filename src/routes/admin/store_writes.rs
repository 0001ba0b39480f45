//! What Atelier wrote back to the store (marketing consent, order flags), as the merchant
//! watches it: each write with its state, the count per state, and a retry for dead or held
//! writes.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::AppResult;
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page, state_filter, with_counts};
use crate::state::AppState;
use crate::writeback;

/// `/api` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/store-writes", web::get().to(list))
        .route("/store-writes/{id}/retry", web::post().to(retry));
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /api/store-writes?state=&cursor=&limit=`: newest first, with `counts` per state.
pub async fn list(
    session: ShopSession,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.page.limit()?;
    let after = query.page.time_cursor()?;
    let filter = state_filter(query.state.as_deref(), &writeback::STATES)?;
    let shop_id = session.shop.id.clone();
    let (rows, counts) = state
        .db
        .run(move |c| {
            Ok((
                writeback::list(c, &shop_id, filter.as_deref(), after, limit + 1)?,
                writeback::counts(c, &shop_id)?,
            ))
        })
        .await?;
    let body = with_counts(
        page(rows, limit, |w: &writeback::WriteOut| &w.id),
        &writeback::STATES,
        counts,
    )?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// `POST /api/store-writes/{id}/retry`: `204`; `404` unknown, `409` neither dead nor held.
pub async fn retry(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let id = id.into_inner();
    state
        .db
        .run_write(move |c| writeback::retry(c, &shop_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
