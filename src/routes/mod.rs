//! HTTP surfaces only: extract, call a domain operation, shape the response.

pub mod admin_analytics;
pub mod admin_api;
pub mod admin_health;
pub mod admin_production;
pub mod admin_products;
pub mod admin_templates;
pub mod admin_ui;
pub mod api;
pub mod app;
pub mod auth;
pub mod health;
pub mod orders;
pub mod pagination;
pub mod preferences;
pub mod proxy;
pub mod recommendations;
pub mod session;
pub mod templates;
pub mod uploads;
pub mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
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
        // The merchant's admin page, its assets and block previews.
        .configure(admin_ui::routes)
        .service(
            web::scope("/api")
                .app_data(json_config(API_JSON_LIMIT))
                .route("/shop", web::get().to(api::get_shop))
                // What the admin's pages need beyond the contract's routes.
                .configure(admin_api::routes)
                .route(
                    "/compliance/requests",
                    web::get().to(api::list_compliance_requests),
                )
                .route("/templates", web::get().to(templates::list_templates))
                .route("/templates", web::post().to(templates::create_template))
                .route("/templates/{id}", web::get().to(templates::get_template))
                .route("/templates/{id}", web::put().to(templates::update_template))
                .route(
                    "/templates/{id}",
                    web::delete().to(templates::delete_template),
                )
                .route(
                    "/personalization/settings",
                    web::get().to(templates::get_settings),
                )
                .route(
                    "/personalization/settings",
                    web::put().to(templates::put_settings),
                )
                .route("/orders", web::get().to(orders::list_orders))
                .route("/orders/export.csv", web::get().to(orders::export_csv))
                .route(
                    "/orders/{order_id}/items/{line_item_id}",
                    web::patch().to(orders::set_line_status),
                )
                // Preference center (issue 5).
                .configure(preferences::api_routes)
                // ---- recommendations (issue 6)
                .route(
                    "/recommendations/settings",
                    web::get().to(recommendations::get_settings),
                )
                .route(
                    "/recommendations/settings",
                    web::put().to(recommendations::put_settings),
                )
                .route(
                    "/recommendations/explain",
                    web::get().to(recommendations::explain),
                )
                .route("/analytics", web::get().to(recommendations::analytics)),
            // ---- end recommendations
        )
        .service(
            web::scope("/proxy")
                .app_data(json_config(PROXY_JSON_LIMIT))
                .route(
                    "/products/{product_id}/fields",
                    web::get().to(proxy::get_fields),
                )
                .route(
                    "/products/{product_id}/personalize",
                    web::post().to(proxy::personalize),
                )
                .route(
                    "/products/{product_id}/preview.svg",
                    web::get().to(proxy::preview),
                )
                .route("/uploads", web::post().to(uploads::upload))
                // Preference center (issue 5).
                .configure(preferences::proxy_routes)
                // ---- recommendations (issue 6)
                .route(
                    "/recommendations",
                    web::get().to(recommendations::recommendations),
                )
                .route("/events", web::post().to(recommendations::events)),
            // ---- end recommendations
        );
}

/// `414` for query strings over the contract's limit, before any handler parses them.
pub async fn limits(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        let err = AppError::new(
            StatusCode::URI_TOO_LONG,
            "query_too_long",
            format!("The query string exceeds {MAX_QUERY_BYTES} bytes."),
        );
        return Ok(req
            .into_response(err.error_response())
            .map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
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
