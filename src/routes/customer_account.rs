//! Shopify's new customer accounts: the customer account UI extension on the profile page reads
//! and changes the shopper's preferences and wishlist here, with the session token Shopify mints
//! for the extension in `Authorization: Bearer`. The token names the shop (`dest`) and the
//! logged-in customer (`sub`); nothing in the request body or query can name either.
//!
//! Every answer is the app proxy's, made by the same functions (`proxy::preferences`,
//! `proxy::wishlist`): a shopper sees and changes one record whichever surface they use.
//!
//! The extension runs on Shopify's extension origin, so the browser asks first (CORS
//! preflight); preflights carry no token and are answered here without one.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, FromRequest, HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::proxy::{preferences, wishlist};
use crate::error::{AppError, AppResult};
use crate::shopify::session_token::SessionTokenError;
use crate::shops::Shop;
use crate::state::AppState;

/// Where Shopify serves UI extensions from: the `Origin` of their requests.
pub const EXTENSION_ORIGIN: &str = "https://extensions.shopifycdn.com";

/// How long a browser may reuse a preflight's answer (Shopify's library uses the same).
const PREFLIGHT_MAX_AGE_SECS: &str = "7200";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/customer-account")
            .app_data(super::json_config(super::PROXY_JSON_LIMIT))
            .wrap(from_fn(cors))
            .route("/preference-center", web::get().to(get_center))
            .route("/preferences", web::get().to(get_preferences))
            .route("/preferences", web::put().to(put_preferences))
            .route("/wishlist", web::get().to(get_wishlist))
            .route("/wishlist", web::post().to(add_to_wishlist))
            .route(
                "/wishlist/{product_id}",
                web::delete().to(remove_from_wishlist),
            ),
    );
}

/// Preflights are answered before any route (they carry no token); every other answer of the
/// scope, errors included, names the extension origin when the request came from it.
async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| o.as_bytes() == EXTENSION_ORIGIN.as_bytes());
    if req.method() == Method::OPTIONS {
        let mut resp = HttpResponse::NoContent();
        resp.insert_header((header::VARY, "Origin"));
        if allowed {
            resp.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, EXTENSION_ORIGIN))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, PUT, POST, DELETE, OPTIONS",
                ))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "Authorization, Content-Type",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS));
        }
        return Ok(req.into_response(resp.finish()).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    if allowed {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static(EXTENSION_ORIGIN),
        );
    }
    Ok(res.map_into_left_body())
}

/// A customer logged in to the shop's customer account, proven by the extension's session
/// token; the shop must have Atelier installed.
pub struct CustomerAccount {
    pub shop: Shop,
    pub customer_id: i64,
}

impl FromRequest for CustomerAccount {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let token = header
                .as_deref()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AppError::invalid_session(
                        "The extension's session token (Authorization: Bearer) is required.",
                    )
                })?;
            let session = state
                .signatures
                .customer_token(token, &state.settings.api_key)
                .map_err(|e| match e {
                    SessionTokenError::NoCustomer => AppError::unauthorized(
                        "not_logged_in",
                        "The preference center needs a logged-in customer.",
                    ),
                    other => AppError::invalid_session(format!("Invalid session token: {other}.")),
                })?;
            crate::telemetry::record_shop(session.shop.as_str());
            let shop = state
                .storefront_shop(session.shop.as_str())
                .await?
                .filter(Shop::has_token)
                .ok_or_else(|| {
                    AppError::invalid_session(
                        "Atelier is not installed on the shop this session token names.",
                    )
                })?;
            Ok(CustomerAccount {
                shop,
                customer_id: session.customer_id,
            })
        })
    }
}

/// `GET /customer-account/preference-center`: what the shop offers (sizes, interests,
/// frequencies, texts), as `/proxy/preference-center`.
async fn get_center(who: CustomerAccount, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    preferences::read_center(&state, who.shop.id).await
}

/// `GET /customer-account/preferences`: as `GET /proxy/preferences`.
async fn get_preferences(
    who: CustomerAccount,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    preferences::read_preferences(&state, who.shop.id, who.customer_id).await
}

/// `PUT /customer-account/preferences`: as `PUT /proxy/preferences` (same body, rules, answer
/// and consent history, recorded as the shopper's own change).
async fn put_preferences(
    who: CustomerAccount,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    preferences::write_preferences(&state, who.shop.id, who.customer_id, &body).await
}

/// `GET /customer-account/wishlist`: as `GET /proxy/wishlist`.
async fn get_wishlist(who: CustomerAccount, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    wishlist::read_wishlist(&state, who.shop.id, who.customer_id).await
}

/// `POST /customer-account/wishlist` body `{"product_id"}`: as `POST /proxy/wishlist`.
async fn add_to_wishlist(
    who: CustomerAccount,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    wishlist::add_to_wishlist(&state, who.shop.id, who.customer_id, &body).await
}

/// `DELETE /customer-account/wishlist/{product_id}`: as `DELETE /proxy/wishlist/{product_id}`.
async fn remove_from_wishlist(
    who: CustomerAccount,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    wishlist::remove_from_wishlist(&state, who.shop.id, who.customer_id, &path).await
}
