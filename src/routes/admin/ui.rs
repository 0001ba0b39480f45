//! The merchant's admin page: one HTML shell, its script and style compiled into the binary
//! from `assets/`. The page carries nothing secret: its data comes from `/api/*` with a fresh
//! App Bridge session token per call.
//!
//! In production the shell loads App Bridge from Shopify's CDN (Shopify requires that script
//! first, unbundled). The demo store serves the same shell at `/demo/admin` with a stand-in for
//! App Bridge, so the admin runs offline next to the demo storefront.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, AppResult};
use crate::routes::assets;
use crate::shopify::ShopDomain;

const APP_BRIDGE: &str = "https://cdn.shopify.com/shopifycloud/app-bridge.js";

/// `(name, content type, bytes)` of the admin's own assets.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/admin.js"),
    ),
    (
        "admin.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/admin.css"),
    ),
    (
        "engagement.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/engagement.js"),
    ),
    (
        "storesync.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/storesync.js"),
    ),
    (
        "questions.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/questions.js"),
    ),
    (
        "experiments.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/experiments.js"),
    ),
    (
        "preview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/preview.js"),
    ),
    (
        "preview.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/preview.css"),
    ),
];

/// Where the admin's own assets are served.
pub const ASSET_BASE: &str = "/admin/assets/";

/// The shell's own assets (the shell itself is `GET /`, see `routes::app`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/assets/{file}", assets::method().to(asset));
}

/// The versioned address of one of the admin's own assets (cached by browsers for good).
pub fn asset_url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, bytes)| assets::url(ASSET_BASE, n, bytes))
        .unwrap_or_else(|| format!("{ASSET_BASE}{name}"))
}

pub(super) fn escape(s: &str) -> String {
    crate::personalization::preview::escape(s)
}

/// Where the demo store serves its stand-in for App Bridge.
pub const DEV_BRIDGE_PATH: &str = "/demo/admin/bridge.js";

/// Which App Bridge the shell loads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bridge {
    Shopify,
    DevStandIn,
}

/// The page's policy: scripts and styles from this origin only (plus App Bridge's CDN when
/// embedded in Shopify), images from here and Shopify's CDN (product images), frames only for
/// the block previews, and embedding only by the shop's admin origins.
pub fn csp(shop: &ShopDomain, bridge: Bridge) -> String {
    let cdn = match bridge {
        Bridge::Shopify => " https://cdn.shopify.com",
        Bridge::DevStandIn => "",
    };
    let connect = match bridge {
        Bridge::Shopify => " https://*.shopify.com",
        Bridge::DevStandIn => "",
    };
    format!(
        "default-src 'none'; script-src 'self'{cdn}; style-src 'self'{cdn}; img-src 'self' blob: data: https://cdn.shopify.com; \
         connect-src 'self'{connect}; frame-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; \
         frame-ancestors https://{shop} https://admin.shopify.com"
    )
}

/// The admin shell for an installed shop.
pub fn page(shop: &ShopDomain, api_key: &str, bridge: Bridge, production: bool) -> HttpResponse {
    let bridge_script = match bridge {
        Bridge::Shopify => APP_BRIDGE,
        Bridge::DevStandIn => DEV_BRIDGE_PATH,
    };
    let env = if production {
        "production"
    } else {
        "development"
    };
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Atelier</title>
<meta name="shopify-api-key" content="{key}">
<script src="{bridge_script}"></script>
<link rel="stylesheet" href="{css}">
<script src="{js}" defer></script>
<script src="{engagement}" defer></script>
<script src="{storesync}" defer></script>
<script src="{questions}" defer></script>
<script src="{experiments}" defer></script>
</head>
<body data-shop="{shop}" data-env="{env}">
<a class="skip" href="#main">Skip to content</a>
<div class="frame">
<nav class="nav" aria-label="Atelier">
<p class="nav__brand">Atelier</p>
<ul>
<li><a href="#/">Home</a></li>
<li><a href="#/templates">Templates</a></li>
<li><a href="#/production">Production</a></li>
<li><a href="#/preferences">Preference center</a></li>
<li><a href="#/recommendations">Recommendations</a></li>
<li><a href="#/analytics">Analytics</a></li>
<li><a href="#/experiments">Experiments</a></li>
<li><a href="#/questions">Questions</a></li>
<li><a href="#/wishlists">Wishlists</a></li>
<li><a href="#/follow-ups">Follow-ups</a></li>
<li><a href="#/store-sync">Store sync</a></li>
<li><a href="#/privacy">Privacy</a></li>
</ul>
</nav>
<main id="main" class="main" tabindex="-1" aria-busy="true">
<div class="skeleton skeleton--title"></div><div class="card"><div class="skeleton"></div><div class="skeleton"></div><div class="skeleton skeleton--short"></div></div>
<noscript><p>The Atelier admin needs JavaScript.</p></noscript>
</main>
</div>
<div class="toasts" role="status" aria-live="polite" aria-label="Notifications" data-toasts></div>
</body>
</html>"##,
        key = escape(api_key),
        shop = escape(shop.as_str()),
        css = escape(&asset_url("admin.css")),
        js = escape(&asset_url("admin.js")),
        engagement = escape(&asset_url("engagement.js")),
        storesync = escape(&asset_url("storesync.js")),
        questions = escape(&asset_url("questions.js")),
        experiments = escape(&asset_url("experiments.js")),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp(shop, bridge)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> AppResult<HttpResponse> {
    let (name, mime, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(assets::serve(&req, ASSET_BASE, name, mime, bytes))
}
