//! Privacy: the shop's compliance requests (data requests, erasures) with their state and export.

use actix_web::{HttpResponse, web};

use crate::error::AppResult;
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page};
use crate::state::AppState;

/// `GET /api/compliance/requests`: the shop's data requests and erasures, newest first.
pub async fn list_compliance_requests(
    session: ShopSession,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.time_cursor()?;
    let domain = session.shop.domain.clone();
    let rows = state
        .db
        .run(move |c| Ok(crate::compliance::list(c, &domain, after, limit + 1)?))
        .await?;
    Ok(HttpResponse::Ok().json(page(rows, limit, |r: &_| &r.id)))
}
