//! The merchant's admin: the API (every handler takes a verified
//! [`ShopSession`](super::extractors::ShopSession) and sees only that shop's data), the admin
//! page's assets (`ui`) and the storefront blocks' previews (`preview`).

pub mod compliance;
pub mod experiments;
pub mod followups;
pub mod home;
pub mod orders;
pub mod preferences;
pub mod preview;
pub mod production;
pub mod products;
pub mod questions;
pub mod recommendations;
pub mod shop;
pub mod store_writes;
pub mod templates;
pub mod ui;
pub mod wishlists;

use actix_web::web;

/// The admin page's assets and the block previews, outside `/api` (they carry no data).
pub fn pages(cfg: &mut web::ServiceConfig) {
    cfg.configure(ui::routes).configure(preview::routes);
}

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
        .route("/checkout", web::get().to(templates::checkout_status))
        .route("/checkout/retry", web::post().to(templates::checkout_retry))
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
        .route("/analytics", web::get().to(recommendations::analytics))
        // What the admin's pages need beyond the merchant API above (README, "Merchant admin").
        .route("/products", web::get().to(products::search))
        .route("/webhooks/health", web::get().to(home::webhooks))
        .route("/setup", web::get().to(home::setup))
        .route(
            "/templates/{id}/versions",
            web::get().to(templates::versions),
        )
        .route("/analytics/daily", web::get().to(recommendations::daily))
        .route("/production/lines", web::get().to(production::list))
        .route(
            "/production/lines/{line_item_id}",
            web::get().to(production::one),
        )
        .route(
            "/production/lines/{line_item_id}/preview.svg",
            web::get().to(production::preview),
        )
        .route(
            "/wishlists/most-wished",
            web::get().to(wishlists::most_wished),
        )
        .configure(followups::routes)
        .configure(store_writes::routes)
        .configure(questions::routes)
        .configure(experiments::routes);
}
