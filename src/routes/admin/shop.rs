//! The shop itself (`GET /api/shop`): install state, scopes and counts.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db::rfc3339;
use crate::error::AppResult;
use crate::routes::extractors::ShopSession;
use crate::state::AppState;

#[derive(Serialize)]
pub struct ShopOut {
    pub shop: String,
    pub scopes: Vec<String>,
    pub installed_at: Option<String>,
    pub webhooks_registered: bool,
    pub counts: std::collections::BTreeMap<&'static str, i64>,
}

pub async fn get_shop(session: ShopSession, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let counts = state
        .db
        .run(move |c| crate::shops::counts(c, &shop_id))
        .await?;
    let shop = session.shop;
    Ok(HttpResponse::Ok().json(ShopOut {
        scopes: shop.scope_list(),
        installed_at: shop.installed_at.map(rfc3339),
        webhooks_registered: shop.webhooks_registered_at.is_some(),
        shop: shop.domain,
        counts,
    }))
}
