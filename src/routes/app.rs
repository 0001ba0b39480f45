//! `GET /` — the App URL Shopify opens in the admin.
//!
//! With a `shop`: the launch `hmac` (when Shopify sends one) must verify and be fresh; a shop
//! without a stored token is sent through OAuth (leaving the admin iframe first); an installed
//! shop gets the embedded admin page (`admin::ui`), whose data comes from `/api/*` with App Bridge session
//! tokens — the page itself carries nothing secret. Without a `shop`: a short landing page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, AppResult};
use crate::shopify::hmac::parse_query;
use crate::shopify::{ShopDomain, Verdict};
use crate::shops;
use crate::state::AppState;

fn html(shop: Option<&ShopDomain>, body: String) -> HttpResponse {
    let ancestors = match shop {
        Some(shop) => format!("frame-ancestors https://{shop} https://admin.shopify.com;"),
        None => "frame-ancestors https://admin.shopify.com;".to_owned(),
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", ancestors))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn launch(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let pairs = parse_query(req.query_string());
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let Some(raw_shop) = get("shop") else {
        return Ok(html(
            None,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Atelier</title></head><body>\
             <h1>Atelier</h1><p>Product personalization, a preference center and recommendations for \
             Shopify stores. Install it from your Shopify admin.</p></body></html>"
                .to_owned(),
        ));
    };
    let shop = ShopDomain::parse(raw_shop)
        .map_err(|e| AppError::bad_request("invalid_shop", format!("{e}.")))?;
    crate::telemetry::record_shop(shop.as_str());
    if get("hmac").is_some() {
        match state.signatures.oauth_query(&pairs) {
            Verdict::Valid => {}
            Verdict::BadSignature => {
                return Err(AppError::unauthorized(
                    "invalid_hmac",
                    "The request signature (hmac) is not valid.",
                ));
            }
            Verdict::BadTimestamp | Verdict::Stale => {
                return Err(AppError::unauthorized(
                    "stale_request",
                    "The request timestamp is too old or in the future.",
                ));
            }
        }
    }
    let d = shop.clone();
    let installed = state
        .db
        .run(move |c| Ok(shops::find_by_domain(c, d.as_str())?))
        .await?
        .is_some_and(|s| s.has_token());
    let key = escape(&state.settings.api_key);
    if !installed {
        let auth = format!("{}/auth?shop={shop}", state.settings.app_base());
        if get("embedded") == Some("1") {
            let target = serde_json::to_string(&auth)
                .unwrap_or_default()
                .replace('<', "\\u003c");
            return Ok(html(
                Some(&shop),
                format!(
                    "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"shopify-api-key\" content=\"{key}\">\
                     <script src=\"https://cdn.shopify.com/shopifycloud/app-bridge.js\"></script></head>\
                     <body><script>window.open({target}, \"_top\");</script></body></html>"
                ),
            ));
        }
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, auth))
            .finish());
    }
    // The merchant's admin, with App Bridge from Shopify's CDN.
    Ok(super::admin::ui::page(
        &shop,
        &state.settings.api_key,
        super::admin::ui::Bridge::Shopify,
        state.settings.is_production(),
    ))
}
