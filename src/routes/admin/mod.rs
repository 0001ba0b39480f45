//! The merchant admin API: every handler takes a verified
//! [`ShopSession`](super::extractors::ShopSession) and sees only that shop's data.

pub mod compliance;
pub mod orders;
pub mod preferences;
pub mod recommendations;
pub mod shop;
pub mod templates;

use actix_web::web;

/// The `/api` scope's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/shop", web::get().to(shop::get_shop))
        .route(
            "/compliance/requests",
            web::get().to(compliance::list_compliance_requests),
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
        .configure(preferences::routes)
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
        .route("/analytics", web::get().to(recommendations::analytics));
}
