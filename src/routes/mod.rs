//! HTTP surfaces only: extract, call a domain operation, shape the response. `proxy/` is the
//! storefront (Shopify's signed app proxy), `admin/` the merchant's API (session tokens);
//! `auth`, `app`, `webhooks`, `uploads` and `health` are the entry points Shopify and browsers
//! reach directly.

pub mod admin;
pub mod app;
pub mod assets;
pub mod auth;
pub mod customer_account;
pub mod extractors;
pub mod health;
pub mod pagination;
pub mod pixel;
pub mod proxy;
pub mod uploads;
pub mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, ResponseError, web};

use crate::error::AppError;

pub const MAX_QUERY_BYTES: usize = 8 * 1024;
pub const API_JSON_LIMIT: usize = 1024 * 1024;
pub const PROXY_JSON_LIMIT: usize = 256 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(query_config())
        .app_data(path_config())
        .route("/", web::get().to(app::launch))
        .route("/healthz", web::get().to(health::healthz))
        .route("/auth", web::get().to(auth::begin))
        .route("/auth/callback", web::get().to(auth::callback))
        .route("/webhooks", web::post().to(webhooks::receive))
        .route("/uploads/{id}", web::get().to(uploads::serve))
        .configure(customer_account::configure)
        .configure(pixel::configure)
        .configure(admin::pages)
        .service(
            web::scope("/api")
                .app_data(json_config(API_JSON_LIMIT))
                .configure(admin::configure),
        )
        .service(
            web::scope("/proxy")
                .app_data(json_config(PROXY_JSON_LIMIT))
                .configure(proxy::configure),
        );
}

/// Refusals before any handler parses the request: `414` for query strings over the contract's
/// limit, and `400` for a path or query holding an encoded NUL character (`%00`). No id, key or
/// parameter Atelier knows can contain one, and PostgreSQL's text type cannot even store it, so
/// it is refused once here for every route and both databases answer the same.
pub async fn limits(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let refusal = if req.query_string().len() > MAX_QUERY_BYTES {
        Some(AppError::new(
            StatusCode::URI_TOO_LONG,
            "query_too_long",
            format!("The query string exceeds {MAX_QUERY_BYTES} bytes."),
        ))
    } else if has_encoded_nul(req.uri().path()) || has_encoded_nul(req.query_string()) {
        Some(AppError::bad_request(
            "invalid_character",
            "The path or query holds a NUL character (%00), which no parameter may contain.",
        ))
    } else {
        None
    };
    if let Some(err) = refusal {
        return Ok(req
            .into_response(err.error_response())
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// `%00` in a raw path or query, in either hex case: what decodes to a NUL character.
fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

/// Every error response is the contract's error JSON, including the ones actix answers itself
/// before a handler runs (a body over an extractor's limit, a method a route does not take):
/// those come as plain text or empty, and are rewritten here with their status and headers kept.
pub async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // Handler and extractor errors arrive here as responses already (actix renders them inside
    // the route); only a middleware's own error would be an `Err`, and none of ours makes one.
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return Ok(res.map_into_left_body());
    }
    let (http, original) = res.into_parts();
    let mut rewritten = generic_error(status).error_response();
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && !rewritten.headers().contains_key(name)
        {
            rewritten.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(http, rewritten).map_into_right_body())
}

/// The error for a status actix chose itself; 5xx stay opaque as everywhere else.
fn generic_error(status: StatusCode) -> AppError {
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "The request body is larger than this route accepts.",
        ),
        StatusCode::NOT_FOUND => ("not_found", "Not found."),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "This route does not take this method.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "The request body has a content type this route does not take.",
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "The request URI is too long."),
        s if s.is_server_error() => (
            "internal_error",
            "Something went wrong on our side; it has been logged.",
        ),
        _ => ("bad_request", "The request could not be read."),
    };
    AppError::new(status, code, message)
}

pub async fn not_found(req: HttpRequest) -> HttpResponse {
    AppError::not_found(format!("No route for {} {}.", req.method(), req.path())).error_response()
}

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            use actix_web::error::JsonPayloadError as E;
            let app = match &err {
                E::Overflow { .. } | E::OverflowKnownLength { .. } => {
                    AppError::payload_too_large(limit)
                }
                E::ContentType => AppError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "The body must be JSON (Content-Type: application/json).",
                ),
                E::Deserialize(e) if e.is_data() => AppError::bad_request(
                    "invalid_body",
                    format!("The JSON body has the wrong shape: {e}"),
                ),
                E::Deserialize(_) => {
                    AppError::bad_request("invalid_json", "The body is not valid JSON.")
                }
                _ => AppError::bad_request("invalid_body", "The request body could not be read."),
            };
            app.into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        AppError::bad_request("invalid_query", format!("Invalid query parameters: {err}")).into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        AppError::bad_request("invalid_path", format!("Invalid path parameter: {err}")).into()
    })
}
