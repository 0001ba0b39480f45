//! `/api` routes the merchant's admin needs beyond CONTRACT §5 (README, "Merchant admin"):
//! registered inside the `/api` scope, so the session token and JSON limits apply as there.

use actix_web::web;

use super::{admin_analytics, admin_health, admin_production, admin_products, admin_templates};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/products", web::get().to(admin_products::search))
        .route("/webhooks/health", web::get().to(admin_health::webhooks))
        .route("/setup", web::get().to(admin_health::setup))
        .route(
            "/templates/{id}/versions",
            web::get().to(admin_templates::versions),
        )
        .route("/analytics/daily", web::get().to(admin_analytics::daily))
        .route("/production/lines", web::get().to(admin_production::list))
        .route(
            "/production/lines/{line_item_id}",
            web::get().to(admin_production::one),
        )
        .route(
            "/production/lines/{line_item_id}/preview.svg",
            web::get().to(admin_production::preview),
        );
}
