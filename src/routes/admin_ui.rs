//! The merchant's admin page (CONTRACT §9): one HTML shell, its script and style compiled into
//! the binary from `src/admin_ui/`, and the storefront blocks' preview frames. The page carries
//! nothing secret: its data comes from `/api/*` with a fresh App Bridge session token per call.
//!
//! In production the shell loads App Bridge from Shopify's CDN (Shopify requires that script
//! first, unbundled). In development `GET /demo/admin` serves the same shell with a stand-in
//! for App Bridge that asks `POST /demo/admin/session-token` for real session tokens of the
//! demo shop, so the admin runs offline next to the demo storefront; in production both routes
//! are `404`.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value as Json, json};

use crate::demo::liquid;
use crate::error::{AppError, AppResult};
use crate::shopify::ShopDomain;
use crate::state::AppState;

const APP_BRIDGE: &str = "https://cdn.shopify.com/shopifycloud/app-bridge.js";
/// The header the development stand-in sends: a cross-site page cannot add it without a CORS
/// preflight this server never grants, so it cannot obtain demo tokens.
pub const DEV_BRIDGE_HEADER: &str = "X-Atelier-Dev-Bridge";
/// Session tokens live one minute, like App Bridge's.
const DEV_TOKEN_TTL_SECS: i64 = 60;

/// `(name, content type, bytes)` of the admin's own assets.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../admin_ui/admin.js"),
    ),
    (
        "admin.css",
        "text/css; charset=utf-8",
        include_bytes!("../admin_ui/admin.css"),
    ),
    (
        "preview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../admin_ui/preview.js"),
    ),
    (
        "preview.css",
        "text/css; charset=utf-8",
        include_bytes!("../admin_ui/preview.css"),
    ),
];
const DEV_BRIDGE: &str = include_str!("../admin_ui/dev-bridge.js");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/assets/{file}", web::get().to(asset))
        .route("/admin/theme/{file}", web::get().to(theme_asset))
        .route("/admin/preview/{block}", web::get().to(preview_frame))
        .route("/demo/admin", web::get().to(demo_admin))
        .route("/demo/admin/bridge.js", web::get().to(dev_bridge))
        .route("/demo/admin/session-token", web::post().to(dev_session_token));
}

fn escape(s: &str) -> String {
    crate::personalization::preview::escape(s)
}

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
        Bridge::DevStandIn => "/demo/admin/bridge.js",
    };
    let env = if production { "production" } else { "development" };
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Atelier</title>
<meta name="shopify-api-key" content="{key}">
<script src="{bridge_script}"></script>
<link rel="stylesheet" href="/admin/assets/admin.css">
<script src="/admin/assets/admin.js" defer></script>
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
<li><a href="#/privacy">Privacy</a></li>
</ul>
</nav>
<main id="main" class="main" tabindex="-1" aria-busy="true">
<div class="skeleton skeleton--title"></div><div class="card"><div class="skeleton"></div><div class="skeleton"></div><div class="skeleton skeleton--short"></div></div>
<noscript><p>The Atelier admin needs JavaScript.</p></noscript>
</main>
</div>
<div class="toasts" role="status" aria-live="polite" data-toasts></div>
</body>
</html>"##,
        key = escape(api_key),
        shop = escape(shop.as_str()),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", csp(shop, bridge)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

fn serve_bytes(mime: &str, bytes: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(mime)
        // Revalidated on each load: a new binary's assets apply at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, format!("\"{}\"", env!("CARGO_PKG_VERSION"))))
        .body(bytes)
}

async fn asset(path: web::Path<String>) -> AppResult<HttpResponse> {
    let (_, mime, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(serve_bytes(mime, bytes))
}

/// The theme extension's own assets, for the block previews (in production too, where the
/// demo store's copy of them does not exist).
async fn theme_asset(path: web::Path<String>) -> AppResult<HttpResponse> {
    let (_, mime, bytes) = liquid::files::ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(serve_bytes(mime, bytes))
}

type Block = (::liquid::Template, Map<String, Json>, Option<String>);

fn blocks() -> &'static std::collections::HashMap<&'static str, Block> {
    static BLOCKS: OnceLock<std::collections::HashMap<&'static str, Block>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let locale: Json = serde_json::from_str(liquid::files::LOCALE_EN).unwrap_or(Json::Null);
        let parser = liquid::parser(Arc::new(locale), "/admin/theme/", "${{amount}}");
        let mut out = std::collections::HashMap::new();
        for (name, source) in liquid::files::BLOCKS {
            let (body, schema) = liquid::split_schema(source);
            // The blocks are compiled in and parsed by the demo's tests; one that failed would
            // show as an empty preview rather than take the admin down.
            if let Ok(t) = parser.parse(&body) {
                let script = schema["javascript"].as_str().map(str::to_owned);
                out.insert(*name, (t, liquid::default_settings(&schema), script));
            }
        }
        out
    })
}

/// Preview products get this id: the preview's script answers every storefront call itself.
const PREVIEW_PRODUCT: i64 = 1;

/// `GET /admin/preview/{personalizer|preference-center|recommendations}?intent=`: the block's
/// own markup, CSS and script, with a script before it that answers the block's storefront
/// calls from data the admin posts in (the merchant's unsaved draft), so what the merchant sees
/// is what shoppers will see. The frame holds no data and no token; the admin loads it in a
/// sandboxed iframe.
async fn preview_frame(req: HttpRequest, path: web::Path<String>) -> AppResult<HttpResponse> {
    let name = path.into_inner();
    let (template, defaults, script) = blocks()
        .get(name.as_str())
        .filter(|_| matches!(name.as_str(), "personalizer" | "preference-center" | "recommendations"))
        .ok_or_else(|| AppError::not_found("No such block."))?;
    let intent = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "intent")
        .map(|(_, v)| v.into_owned())
        .filter(|i| crate::recommendations::Intent::parse(i).is_some())
        .unwrap_or_else(|| "related".into());
    let mut settings = defaults.clone();
    settings.insert("proxy_path".into(), json!("/admin/preview-proxy"));
    if name == "recommendations" {
        settings.insert("intent".into(), json!(intent));
        settings.insert("heading".into(), json!("Recommended for you"));
        settings.insert("limit".into(), json!(4));
    }
    let vars = json!({
        "shop": {"name": "Preview", "permanent_domain": "preview", "money_format": "${{amount}}"},
        "customer": {"id": 1, "first_name": "Preview"},
        "product": {"id": PREVIEW_PRODUCT, "handle": "preview", "title": "Preview", "price": 0,
                    "selected_or_first_available_variant": {"id": 1}},
        "routes": {"root_url": "/admin/preview-store", "cart_url": "/admin/preview-store/cart",
                   "cart_add_url": "/admin/preview-store/cart/add", "account_login_url": "/admin/preview-store/login"},
        "block": {"id": format!("preview-{name}"), "settings": settings, "shopify_attributes": ""},
        "section": {"id": "preview"},
    });
    let object = ::liquid::to_object(&vars).map_err(AppError::internal)?;
    let mut body = template.render(&object).map_err(AppError::internal)?;
    if let Some(js) = script {
        body.push_str(&format!(
            r#"<script src="/admin/theme/{}" defer></script>"#,
            escape(js)
        ));
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storefront preview</title>
<link rel="stylesheet" href="/admin/theme/atelier.css">
<link rel="stylesheet" href="/admin/assets/preview.css">
<script src="/admin/assets/preview.js"></script>
</head>
<body><main class="preview"><div class="shopify-section" id="shopify-section-preview">{body}</div></main></body>
</html>"#
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The blocks' markup carries small inline styles (a theme would allow them); scripts
        // stay limited to this origin.
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https://cdn.shopify.com; \
             connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html))
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
    let shop = ShopDomain::parse(crate::startup::DEMO_SHOP)
        .map_err(|e| AppError::internal(anyhow::anyhow!("demo shop: {e}")))?;
    Ok(page(&shop, &state.settings.api_key, Bridge::DevStandIn, false))
}

async fn dev_bridge(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    development(&state)?;
    Ok(HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DEV_BRIDGE))
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
            format!("Only the admin's development stand-in (header {DEV_BRIDGE_HEADER}) gets tokens."),
        ));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = crate::shopify::session_token::mint(
        crate::startup::DEMO_SHOP,
        &state.settings.api_key,
        state.api_secret(),
        now,
        DEV_TOKEN_TTL_SECS,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "token": token, "expires_in": DEV_TOKEN_TTL_SECS })))
}
