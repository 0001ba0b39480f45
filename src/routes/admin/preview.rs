//! The storefront blocks' previews in the admin: each block's own markup (rendered from the
//! theme extension's Liquid), CSS and script, in a sandboxed frame whose storefront calls a
//! small script answers from the merchant's unsaved draft. What the merchant sees is what
//! shoppers will see, without a copy of the blocks to drift.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value as Json, json};

use super::ui::{asset_url, escape};
use crate::error::{AppError, AppResult};
use crate::routes::assets;
use crate::theme;

/// Where the previews load the theme extension's assets from.
const THEME_BASE: &str = "/admin/theme/";

/// The versioned address of a theme extension asset (cached by browsers for good).
fn theme_url(name: &str) -> String {
    theme::files::ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, _, bytes)| assets::url(THEME_BASE, n, bytes))
        .unwrap_or_else(|| format!("{THEME_BASE}{name}"))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/theme/{file}", assets::method().to(theme_asset))
        .route("/admin/preview/{block}", web::get().to(preview_frame));
}

/// The theme extension's own assets, for the block previews (in production too, where the
/// demo store's copy of them does not exist).
async fn theme_asset(req: HttpRequest, path: web::Path<String>) -> AppResult<HttpResponse> {
    let (name, mime, bytes) = theme::files::ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(assets::serve(&req, THEME_BASE, name, mime, bytes))
}

type Block = (::liquid::Template, Map<String, Json>, Option<String>);

fn blocks() -> &'static std::collections::HashMap<&'static str, Block> {
    static BLOCKS: OnceLock<std::collections::HashMap<&'static str, Block>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let locale: Json = serde_json::from_str(theme::files::LOCALE_EN).unwrap_or(Json::Null);
        let parser = theme::parser(Arc::new(locale), "/admin/theme/", "${{amount}}");
        let mut out = std::collections::HashMap::new();
        for (name, source) in theme::files::BLOCKS {
            let (body, schema) = theme::split_schema(source);
            // The blocks are compiled in and parsed by the demo's tests; one that failed would
            // show as an empty preview rather than take the admin down.
            if let Ok(t) = parser.parse(&body) {
                let script = schema["javascript"].as_str().map(str::to_owned);
                out.insert(*name, (t, theme::default_settings(&schema), script));
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
        .filter(|_| {
            matches!(
                name.as_str(),
                "personalizer" | "preference-center" | "recommendations"
            )
        })
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
            r#"<script src="{}" defer></script>"#,
            escape(&theme_url(js))
        ));
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storefront preview</title>
<link rel="stylesheet" href="{theme_css}">
<link rel="stylesheet" href="{preview_css}">
<script src="{preview_js}"></script>
</head>
<body><main class="preview"><div class="shopify-section" id="shopify-section-preview">{body}</div></main></body>
</html>"#,
        theme_css = escape(&theme_url("atelier.css")),
        preview_css = escape(&asset_url("preview.css")),
        preview_js = escape(&asset_url("preview.js")),
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
