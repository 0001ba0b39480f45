//! Wishlists as the merchant sees them: which products shoppers keep most (counts only; who
//! wished what stays with the shopper, their export and their follow-ups).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppResult;
use crate::preferences::wishlist;
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::PageQuery;
use crate::state::AppState;

/// `GET /api/wishlists/most-wished?limit=`: products by number of wishlists holding them, most
/// first (the top `limit`, so `next_cursor` is always `null`).
pub async fn most_wished(
    session: ShopSession,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.limit()?;
    let shop_id = session.shop.id.clone();
    let items = state
        .db
        .run(move |c| Ok(wishlist::most_wished(c, &shop_id, limit)?))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": null })))
}
