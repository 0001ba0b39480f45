//! The preference center's merchant side: its settings (size categories, interests,
//! frequencies, texts) and one customer's preferences, consent history and saved
//! personalizations.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::preferences::{Source, center, prefs, saved};
use crate::routes::extractors::ShopSession;
use crate::routes::proxy::preferences::put_prefs;
use crate::state::AppState;

/// `/api` routes, registered inside the API scope (session token, 1 MiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/preference-center", web::get().to(get_settings))
        .route("/preference-center", web::put().to(put_settings))
        .route(
            "/customers/{customer_id}/preferences",
            web::get().to(get_customer),
        )
        .route(
            "/customers/{customer_id}/preferences",
            web::put().to(put_customer),
        );
}

/// `GET /api/preference-center`
pub async fn get_settings(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let s = state
        .db
        .run(move |c| Ok(center::load(c, &shop_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// `PUT /api/preference-center`: members present replace those of the settings.
pub async fn put_settings(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let up = center::parse_update(&body).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let s = state
        .db
        .run_write(move |c| center::update(c, &shop_id, up))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

fn customer_id(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        AppError::bad_request(
            "invalid_customer_id",
            "The customer id must be a positive integer.",
        )
    })
}

/// `GET /api/customers/{customer_id}/preferences`: preferences, whole history and saved
/// personalizations; `404` when Atelier knows nothing of the customer in this shop.
pub async fn get_customer(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer_id(&path)?;
    let shop_id = session.shop.id.clone();
    let body = state
        .db
        .run(move |c| {
            let stored = prefs::stored(c, &shop_id, customer)?;
            let history = prefs::history(c, &shop_id, customer)?;
            let saved = saved::list(c, &shop_id, customer)?;
            let answers =
                crate::preferences::questions::answers::of_customer(c, &shop_id, customer)?;
            let known = stored.is_some()
                || !answers.is_empty()
                || !history.is_empty()
                || !saved.is_empty()
                || crate::customers::find(c, &shop_id, customer)?.is_some();
            if !known {
                return Err(AppError::not_found("No preferences for this customer."));
            }
            let preferences = match stored {
                Some(p) => p,
                None => prefs::get(c, &shop_id, customer)?,
            };
            Ok(json!({
                "preferences": preferences,
                "consent_history": history,
                "saved": saved,
                "answers": answers,
            }))
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `PUT /api/customers/{customer_id}/preferences`: the merchant records a change on the
/// customer's behalf (same body and rules as the storefront; history source `admin`).
pub async fn put_customer(
    session: ShopSession,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer_id(&path)?;
    let p = put_prefs(
        &state,
        session.shop.id.clone(),
        customer,
        &body,
        Source::Admin,
    )
    .await?;
    Ok(HttpResponse::Ok().json(p))
}
