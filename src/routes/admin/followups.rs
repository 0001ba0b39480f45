//! Follow-ups as the merchant configures and watches them: settings (the signing secret shown
//! only when it is made), the deliveries of the outbox with their state, dead-letter retries.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::followups::{outbox, settings};
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page, state_filter, with_counts};
use crate::state::AppState;

/// `/api` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/followups/settings", web::get().to(get_settings))
        .route("/followups/settings", web::put().to(put_settings))
        .route("/followups/secret", web::post().to(rotate_secret))
        .route("/followups/deliveries", web::get().to(list_deliveries))
        .route(
            "/followups/deliveries/{id}/retry",
            web::post().to(retry_delivery),
        );
}

fn no_store(mut resp: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    resp.insert_header(("Cache-Control", "no-store"));
    resp
}

/// `GET /api/followups/settings`
pub async fn get_settings(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let s = state
        .db
        .run(move |c| Ok(settings::get(c, &shop_id)?))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(s))
}

/// `PUT /api/followups/settings`: members absent stay; the first save answers the new signing
/// secret once.
pub async fn put_settings(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let nul = crate::input::nul_characters(&body, "");
    if !nul.is_empty() {
        return Err(AppError::validation(nul));
    }
    let up = settings::parse_update(&body, state.settings.outbox.allow_private)
        .map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let st = state.clone();
    let s = state
        .db
        .run_write(move |c| settings::update(c, &st.cipher, &shop_id, &up))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(s))
}

/// `POST /api/followups/secret`: a new signing secret, answered once.
pub async fn rotate_secret(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let st = state.clone();
    let s = state
        .db
        .run_write(move |c| settings::rotate_secret(c, &st.cipher, &shop_id))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(s))
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    state: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

/// `GET /api/followups/deliveries?state=&cursor=&limit=`: the shop's events, newest first, and
/// the count per state.
pub async fn list_deliveries(
    session: ShopSession,
    query: web::Query<DeliveriesQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.page.limit()?;
    let after = query.page.time_cursor()?;
    let filter = state_filter(query.state.as_deref(), &outbox::STATES)?;
    let shop_id = session.shop.id.clone();
    let (rows, counts) = state
        .db
        .run(move |c| {
            Ok((
                outbox::list(c, &shop_id, filter.as_deref(), after, limit + 1)?,
                outbox::counts(c, &shop_id)?,
            ))
        })
        .await?;
    let body = with_counts(
        page(rows, limit, |r: &outbox::DeliveryOut| &r.id),
        &outbox::STATES,
        counts,
    )?;
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// `POST /api/followups/deliveries/{id}/retry`: a dead letter is sent again (`204`); another
/// state is `409`.
pub async fn retry_delivery(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let id = id.into_inner();
    state
        .db
        .run_write(move |c| outbox::retry(c, &shop_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
