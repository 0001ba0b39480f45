//! The storefront's routes, reached through Shopify's app proxy: every handler takes a
//! verified [`Storefront`](super::extractors::Storefront), so the shop and the customer come
//! only from Shopify's signed parameters.

pub mod collections;
pub mod experiments;
pub mod personalization;
pub mod preferences;
pub mod questions;
pub(crate) mod rec_intents;
pub mod recommendations;
pub mod uploads;
pub mod wishlist;

use actix_web::web;

/// The `/proxy` scope's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/products/{product_id}/fields",
        web::get().to(personalization::get_fields),
    )
    .route(
        "/products/{product_id}/personalize",
        web::post().to(personalization::personalize),
    )
    .route(
        "/products/{product_id}/preview.svg",
        web::get().to(personalization::preview),
    )
    .route(
        "/collections/{collection_id}/sort",
        web::get().to(collections::sort),
    )
    .route("/uploads", web::post().to(uploads::upload))
    .configure(preferences::routes)
    .configure(wishlist::routes)
    .configure(questions::routes)
    .route(
        "/recommendations",
        web::get().to(recommendations::recommendations),
    )
    .service(
        // An event is a few hundred bytes: read no more than its limit.
        web::resource("/events")
            .app_data(web::PayloadConfig::new(recommendations::MAX_EVENT_BYTES))
            .route(web::post().to(recommendations::events)),
    );
}
