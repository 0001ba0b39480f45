//! The preference center's shopper side: what the block renders, the logged-in customer's
//! preferences, and their saved personalizations.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::preferences::{Source, center, prefs, saved};
use crate::routes::extractors::Storefront;
use crate::state::AppState;

/// `/proxy` routes, registered inside the proxy scope (signature, 256 KiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/preference-center", web::get().to(get_settings_storefront))
        .route("/preferences", web::get().to(get_own))
        .route("/preferences", web::put().to(put_own))
        .route("/saved-personalizations", web::get().to(list_saved))
        .route("/saved-personalizations", web::post().to(create_saved))
        .route(
            "/saved-personalizations/{id}",
            web::delete().to(delete_saved),
        );
}

/// The logged-in customer, or `401` for an anonymous storefront request.
fn customer(sf: &Storefront) -> AppResult<i64> {
    sf.customer_id.ok_or_else(|| {
        AppError::unauthorized(
            "not_logged_in",
            "The preference center needs a logged-in customer.",
        )
    })
}

fn no_store(mut resp: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    resp.insert_header(("Cache-Control", "no-store"));
    resp
}

/// `GET /proxy/preference-center`: what the preference-center block renders (size categories,
/// interests with labels, frequencies, texts). Not personal, so anonymous visitors get it too.
pub async fn get_settings_storefront(
    sf: Storefront,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    read_center(&state, sf.shop.id.clone()).await
}

/// What the shop's preference center offers, as every shopper surface renders it.
pub(crate) async fn read_center(state: &AppState, shop_id: String) -> AppResult<HttpResponse> {
    let s = state
        .db
        .run(move |c| Ok(center::load(c, &shop_id)?))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(s))
}

/// `GET /proxy/preferences`
pub async fn get_own(sf: Storefront, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    read_preferences(&state, sf.shop.id.clone(), customer).await
}

/// The shopper's PREFERENCES: the one answer of every surface that shows them (the theme's
/// preference-center block through the app proxy, the customer account extension).
pub(crate) async fn read_preferences(
    state: &AppState,
    shop_id: String,
    customer: i64,
) -> AppResult<HttpResponse> {
    let p = state
        .db
        .run(move |c| prefs::get(c, &shop_id, customer))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(p))
}

/// A shopper's own change of their preferences (recorded as `storefront` in the consent
/// history), answered as stored: shared by every shopper surface.
pub(crate) async fn write_preferences(
    state: &AppState,
    shop_id: String,
    customer: i64,
    body: &Value,
) -> AppResult<HttpResponse> {
    let p = put_prefs(state, shop_id, customer, body, Source::Storefront).await?;
    Ok(no_store(HttpResponse::Ok()).json(p))
}

pub(crate) async fn put_prefs(
    state: &AppState,
    shop_id: String,
    customer: i64,
    body: &Value,
    source: Source,
) -> AppResult<prefs::PreferencesOut> {
    let up = prefs::parse_update(body).map_err(AppError::validation)?;
    state
        .db
        .run_write(move |c| prefs::update(c, &shop_id, customer, &up, source))
        .await
}

/// `PUT /proxy/preferences`
pub async fn put_own(
    sf: Storefront,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    write_preferences(&state, sf.shop.id.clone(), customer, &body).await
}

/// `GET /proxy/saved-personalizations`
pub async fn list_saved(sf: Storefront, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let shop_id = sf.shop.id.clone();
    let items = state
        .db
        .run(move |c| Ok(saved::list(c, &shop_id, customer)?))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "items": items })))
}

/// `POST /proxy/saved-personalizations`
pub async fn create_saved(
    sf: Storefront,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let new = saved::parse_new(&body).map_err(AppError::validation)?;
    let shop_id = sf.shop.id.clone();
    let s = state
        .db
        .run_write(move |c| saved::create(c, &shop_id, customer, new))
        .await?;
    Ok(no_store(HttpResponse::Created()).json(s))
}

/// `DELETE /proxy/saved-personalizations/{id}`
pub async fn delete_saved(
    sf: Storefront,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let shop_id = sf.shop.id.clone();
    state
        .db
        .run_write(move |c| saved::delete(c, &shop_id, customer, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
