//! Development demo storefront: a stand-in Shopify store served by the app, so
//! the theme extension runs end to end on one machine. Its pages render the extension's own
//! block files ([`crate::theme`]), the AJAX cart API answers in Shopify's shapes, and `/apps/atelier/*`
//! signs requests exactly as Shopify's app proxy does and forwards them to `/proxy/*` over HTTP.
//! In production none of these routes exists (`404`).

pub mod admin;
mod app_proxy;
mod cart;
mod checkout;
mod collections;
mod pages;
pub mod seed;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, web};
use parking_lot::Mutex;
use serde_json::{Map, Value as Json, json};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::theme;

pub use cart::CartLine;
pub use seed::{DEMO_CUSTOMER, ensure_demo_shop, seed};

const CART_COOKIE: &str = "atelier_demo_cart";
const LOGGED_OUT_COOKIE: &str = "atelier_demo_logged_out";
const MONEY_FORMAT: &str = "${{amount}}";

/// A parsed block: template, default settings, schema script.
type Block = (::liquid::Template, Map<String, Json>, Option<String>);

/// What the demo keeps in memory (development only): parsed blocks and the carts.
pub struct Demo {
    /// Each block: its template, default settings, and the script its schema names (Shopify
    /// includes it once per page, deferred).
    blocks: HashMap<&'static str, Block>,
    carts: Mutex<HashMap<String, Vec<CartLine>>>,
    /// This server, for the app-proxy emulator's forwarded requests.
    self_base: String,
    client: reqwest::Client,
}

impl Demo {
    pub fn new(port: u16) -> anyhow::Result<Demo> {
        let locale: Json = serde_json::from_str(theme::files::LOCALE_EN)?;
        let parser = theme::parser(Arc::new(locale), "/demo/assets/", MONEY_FORMAT);
        let mut blocks = HashMap::new();
        for (name, source) in theme::files::BLOCKS {
            let (body, schema) = theme::split_schema(source);
            let template = parser
                .parse(&body)
                .map_err(|e| anyhow::anyhow!("block {name}: {e}"))?;
            let script = schema["javascript"].as_str().map(str::to_owned);
            blocks.insert(*name, (template, theme::default_settings(&schema), script));
        }
        Ok(Demo {
            blocks,
            carts: Mutex::new(HashMap::new()),
            self_base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
        })
    }

    /// One block, rendered with the page's objects, `settings` over its defaults, followed by
    /// the script its schema names.
    fn render_block(
        &self,
        name: &str,
        section_id: &str,
        globals: &Json,
        settings: Json,
    ) -> AppResult<String> {
        let (template, defaults, script) = self
            .blocks
            .get(name)
            .ok_or_else(|| AppError::not_found("No such block."))?;
        let mut vars = globals.as_object().cloned().unwrap_or_default();
        let mut settings_now = defaults.clone();
        settings_now.extend(settings.as_object().cloned().unwrap_or_default());
        vars.insert(
            "block".into(),
            json!({"id": format!("{section_id}-{name}"), "settings": settings_now, "shopify_attributes": ""}),
        );
        vars.insert("section".into(), json!({ "id": section_id }));
        let object = ::liquid::to_object(&Json::Object(vars)).map_err(AppError::internal)?;
        let mut html = template.render(&object).map_err(AppError::internal)?;
        if let Some(js) = script {
            html.push_str(&format!(
                r#"<script src="/demo/assets/{}" defer></script>"#,
                esc(js)
            ));
        }
        Ok(html)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, demo: Option<web::Data<Demo>>) {
    let Some(demo) = demo else { return };
    cfg.app_data(demo)
        .configure(admin::routes)
        .route("/demo", web::get().to(pages::index))
        .route("/demo/", web::get().to(pages::index))
        .route(
            "/demo/products/{handle}",
            web::get().to(pages::product_page),
        )
        .route(
            "/demo/collections/{handle}",
            web::get().to(collections::collection_page),
        )
        .route("/demo/cart", web::get().to(pages::cart_page))
        .route("/demo/cart/add", web::post().to(cart::cart_add_form))
        .route("/demo/cart/add.js", web::post().to(cart::cart_add))
        .route("/demo/cart.js", web::get().to(cart::cart_js))
        .route("/demo/cart/clear.js", web::post().to(cart::cart_clear))
        .route("/demo/checkout", web::post().to(checkout::checkout))
        .route("/demo/account", web::get().to(pages::account_page))
        .route("/demo/quiz", web::get().to(pages::quiz_page))
        .route("/demo/login", web::get().to(pages::login))
        .route("/demo/logout", web::get().to(pages::logout))
        .route(
            "/demo/assets/{file}",
            crate::routes::assets::method().to(pages::asset),
        )
        .route("/demo/images/{handle}.svg", web::get().to(pages::image))
        .route(
            "/demo/shopify.js",
            crate::routes::assets::method().to(pages::shopify_standin),
        )
        .route(
            "/demo/pixel/pixel.js",
            crate::routes::assets::method().to(pages::pixel),
        )
        .route(
            "/apps/atelier/{tail:.*}",
            web::route().to(app_proxy::app_proxy),
        );
}

fn esc(s: &str) -> String {
    crate::personalization::preview::escape(s)
}

fn cart_token(req: &HttpRequest) -> Option<String> {
    req.cookie(CART_COOKIE).map(|c| c.value().to_owned())
}

fn logged_in(req: &HttpRequest) -> bool {
    req.cookie(LOGGED_OUT_COOKIE).is_none()
}

fn cart_count(demo: &Demo, req: &HttpRequest) -> i64 {
    cart_token(req)
        .and_then(|t| {
            demo.carts
                .lock()
                .get(&t)
                .map(|l| l.iter().map(|x| x.quantity).sum())
        })
        .unwrap_or(0)
}

async fn demo_shop(state: &AppState) -> AppResult<crate::shops::Shop> {
    state
        .storefront_shop(crate::config::DEMO_SHOP)
        .await?
        .ok_or_else(|| AppError::not_found("The demo shop is not seeded."))
}
