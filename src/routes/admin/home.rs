//! The admin's Home page: `GET /api/webhooks/health` (is the store's data arriving) and
//! `GET /api/setup` (the setup checklist).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppResult;
use crate::routes::extractors::ShopSession;
use crate::state::AppState;
use crate::{inbox, shops};

pub async fn webhooks(session: ShopSession, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let domain = session.shop.domain.clone();
    let out = state
        .db
        .run(move |c| Ok(inbox::webhook_health(c, &domain)?))
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

pub async fn setup(session: ShopSession, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let registered = session.shop.webhooks_registered_at.is_some();
    let items = state
        .db
        .run(move |c| Ok(shops::setup_checklist(c, &shop_id, registered)?))
        .await?;
    let done = items.iter().filter(|i| i.done).count();
    Ok(HttpResponse::Ok().json(json!({"items": items, "done": done, "total": items.len()})))
}
