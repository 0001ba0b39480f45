//! The merchant's admin outside Shopify (development only, like the rest of the demo store):
//! `GET /demo/admin` serves the same admin shell for the demo shop with a stand-in for App
//! Bridge that asks `POST /demo/admin/session-token` for real session tokens, so the admin runs
//! offline next to the demo storefront.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::routes::admin::ui::{self, Bridge};
use crate::shopify::ShopDomain;
use crate::state::AppState;

/// The header the development stand-in sends: a cross-site page cannot add it without a CORS
/// preflight this server never grants, so it cannot obtain demo tokens.
pub const DEV_BRIDGE_HEADER: &str = "X-Atelier-Dev-Bridge";
/// Session tokens live one minute, like App Bridge's.
const DEV_TOKEN_TTL_SECS: i64 = 60;
const DEV_BRIDGE: &str = include_str!("admin-bridge.js");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo/admin", web::get().to(demo_admin))
        .route(
            ui::DEV_BRIDGE_PATH,
            crate::routes::assets::method().to(dev_bridge),
        )
        .route(
            "/demo/admin/session-token",
            web::post().to(dev_session_token),
        );
}

fn development(state: &AppState) -> AppResult<()> {
    if state.settings.is_production() {
        Err(AppError::not_found("No route for this path."))
    } else {
        Ok(())
    }
}

/// `GET /demo/admin` (development only): the admin of the demo shop, outside Shopify.
async fn demo_admin(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    development(&state)?;
    let shop = ShopDomain::parse(crate::config::DEMO_SHOP)
        .map_err(|e| AppError::internal(anyhow::anyhow!("demo shop: {e}")))?;
    Ok(ui::page(
        &shop,
        &state.settings.api_key,
        Bridge::DevStandIn,
        false,
    ))
}

async fn dev_bridge(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    development(&state)?;
    Ok(crate::routes::assets::serve(
        &req,
        "/demo/admin/",
        "bridge.js",
        "text/javascript; charset=utf-8",
        DEV_BRIDGE.as_bytes(),
    ))
}

/// `POST /demo/admin/session-token` (development only): a session token for the demo shop,
/// signed with the (development) API secret exactly as App Bridge's are.
async fn dev_session_token(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    development(&state)?;
    if req.headers().get(DEV_BRIDGE_HEADER).is_none() {
        return Err(AppError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "Only the admin's development stand-in (header {DEV_BRIDGE_HEADER}) gets tokens."
            ),
        ));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = crate::shopify::session_token::mint(
        crate::config::DEMO_SHOP,
        &state.settings.api_key,
        state.api_secret(),
        now,
        DEV_TOKEN_TTL_SECS,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "token": token, "expires_in": DEV_TOKEN_TTL_SECS })))
}
