//! Development demo storefront: a stand-in Shopify store served by the app, so
//! the theme extension runs end to end on one machine. Its pages render the extension's own
//! block files ([`crate::theme`]), the AJAX cart API answers in Shopify's shapes, and `/apps/atelier/*`
//! signs requests exactly as Shopify's app proxy does and forwards them to `/proxy/*` over HTTP.
//! In production none of these routes exists (`404`).

pub mod admin;
pub mod checkout;
pub mod seed;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::theme;

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
        .route("/demo", web::get().to(index))
        .route("/demo/", web::get().to(index))
        .route("/demo/products/{handle}", web::get().to(product_page))
        .route("/demo/cart", web::get().to(cart_page))
        .route("/demo/cart/add", web::post().to(cart_add_form))
        .route("/demo/cart/add.js", web::post().to(cart_add))
        .route("/demo/cart.js", web::get().to(cart_js))
        .route("/demo/cart/clear.js", web::post().to(cart_clear))
        .route("/demo/checkout", web::post().to(checkout::checkout))
        .route("/demo/account", web::get().to(account_page))
        .route("/demo/login", web::get().to(login))
        .route("/demo/logout", web::get().to(logout))
        .route("/demo/assets/{file}", web::get().to(asset))
        .route("/demo/images/{handle}.svg", web::get().to(image))
        .route("/apps/atelier/{tail:.*}", web::route().to(app_proxy));
}

// ---------------------------------------------------------------- pages

fn esc(s: &str) -> String {
    crate::personalization::preview::escape(s)
}

fn layout(title: &str, body: &str, cart_count: i64) -> HttpResponse {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Atelier demo store</title>
<link rel="stylesheet" href="/demo/assets/atelier.css">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1a1a1a; }}
header, main {{ max-width: 64rem; margin: 0 auto; padding: 1rem; }}
header {{ display: flex; gap: 1.5rem; align-items: center; border-bottom: 1px solid #ddd; }}
header a {{ color: inherit; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 1rem; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: .75rem; }}
.card img, .product__media img {{ width: 100%; height: auto; aspect-ratio: 1; display: block; }}
.product {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 2rem; }}
.product__media {{ position: relative; }}
button, .button {{ font: inherit; padding: .6rem 1.2rem; border-radius: 4px; border: 1px solid #1a1a1a; background: #1a1a1a; color: #fff; cursor: pointer; }}
.shopify-payment-button button {{ background: #5a31f4; border-color: #5a31f4; margin-top: .5rem; }}
:focus-visible {{ outline: 2px solid #1a1a1a; outline-offset: 2px; }}
@media (max-width: 40rem) {{ .product {{ grid-template-columns: 1fr; }} }}
</style>
</head>
<body>
<header><strong><a href="/demo">Atelier demo store</a></strong><a href="/demo/account">Account</a><a href="/demo/cart" data-cart-link>Cart ({cart_count})</a></header>
<main>
{body}
</main>
</body>
</html>"#,
        title = esc(title),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
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

/// `GET /demo`: every demo product.
async fn index(
    req: HttpRequest,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop = demo_shop(&state).await?;
    let products = state
        .db
        .run(move |c| Ok(seed::storefront_products(c, &shop.id)?))
        .await?;
    let cards: String = products
        .iter()
        .map(|p| {
            format!(
                r#"<a class="card" href="/demo/products/{h}"><img src="/demo/images/{h}.svg" alt="" width="400" height="400"><span>{t}</span><br><span>{price}</span></a>"#,
                h = esc(&p.handle),
                t = esc(&p.title),
                price = theme::money(p.price_cents, MONEY_FORMAT),
            )
        })
        .collect();
    Ok(layout(
        "Products",
        &format!(r#"<h1>Products</h1><div class="grid">{cards}</div>"#),
        cart_count(&demo, &req),
    ))
}

/// `GET /demo/products/{handle}`: the product form, the Product personalizer block.
async fn product_page(
    req: HttpRequest,
    path: web::Path<String>,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop = demo_shop(&state).await?;
    let handle = path.into_inner();
    let product = state
        .db
        .run(move |c| Ok(seed::product_by_handle(c, &shop.id, &handle)?))
        .await?
        .ok_or_else(|| AppError::not_found("No such product."))?;
    let globals = globals(&req, Some(&product));
    let personalizer = demo.render_block("personalizer", "main", &globals, json!({}))?;
    let related = demo.render_block(
        "recommendations",
        "related",
        &globals,
        json!({"intent": "related", "heading": "Similar products", "limit": 4}),
    )?;
    let together = demo.render_block(
        "recommendations",
        "together",
        &globals,
        json!({"intent": "complementary", "heading": "Bought together", "limit": 4}),
    )?;
    let embed = demo.render_block("app-embed", "embed", &globals, json!({}))?;
    let variants: String = product
        .variants
        .iter()
        .map(|v| {
            format!(
                r#"<option value="{id}">{t} – {p}</option>"#,
                id = v.id,
                t = esc(&v.title),
                p = theme::money(v.price_cents, MONEY_FORMAT)
            )
        })
        .collect();
    let body = format!(
        r#"<section class="shopify-section product" id="shopify-section-main">
<div class="product__media"><img src="/demo/images/{handle}.svg" alt="{title}" width="800" height="800"></div>
<div>
<h1>{title}</h1>
<p data-product-price>{price}</p>
<form id="product-form-main" action="/demo/cart/add" method="post" data-type="add-to-cart-form">
<label for="variant">Variant</label>
<select id="variant" name="id">{variants}</select>
<label for="quantity">Quantity</label>
<input id="quantity" name="quantity" type="number" min="1" value="1">
{personalizer}
<button type="submit" name="add">Add to cart</button>
<div class="shopify-payment-button"><button type="button" data-buy-now>Buy it now</button></div>
</form>
</div>
</section>
<div class="shopify-section">{together}</div>
<div class="shopify-section">{related}</div>
{embed}"#,
        handle = esc(&product.handle),
        title = esc(&product.title),
        price = theme::money(product.price_cents, MONEY_FORMAT),
    );
    Ok(layout(&product.title, &body, cart_count(&demo, &req)))
}

/// The Liquid globals a Shopify theme would have.
fn globals(req: &HttpRequest, product: Option<&seed::DemoProduct>) -> Json {
    let customer = logged_in(req).then(
        || json!({"id": DEMO_CUSTOMER, "first_name": "Demo", "email": "demo.customer@example.com"}),
    );
    let product = product.map(|p| {
        json!({
            "id": p.id,
            "handle": p.handle,
            "title": p.title,
            "price": p.price_cents,
            "selected_or_first_available_variant": {"id": p.variants.first().map(|v| v.id)},
        })
    });
    json!({
        "shop": {"name": "Atelier demo store", "permanent_domain": crate::config::DEMO_SHOP, "money_format": MONEY_FORMAT},
        "customer": customer,
        "product": product,
        "routes": {"root_url": "/demo", "cart_url": "/demo/cart", "cart_add_url": "/demo/cart/add", "account_login_url": "/demo/login"},
    })
}

/// `GET /demo/account`: the demo customer's account page, with the Preference center block.
async fn account_page(req: HttpRequest, demo: web::Data<Demo>) -> AppResult<HttpResponse> {
    let who = if logged_in(&req) {
        r#"<p>Logged in as the demo customer. <a href="/demo/logout">Log out</a></p>"#
    } else {
        r#"<p>You are logged out.</p>"#
    };
    let globals = globals(&req, None);
    let block = demo.render_block("preference-center", "account", &globals, json!({}))?;
    let for_you = demo.render_block(
        "recommendations",
        "for-you",
        &globals,
        json!({"intent": "for_you", "heading": "Picked for you", "limit": 4}),
    )?;
    Ok(layout(
        "Account",
        &format!(
            r#"<h1>Your account</h1>{who}<section class="shopify-section" id="shopify-section-account">{block}</section><div class="shopify-section">{for_you}</div>"#
        ),
        cart_count(&demo, &req),
    ))
}

async fn login() -> HttpResponse {
    let mut gone = actix_web::cookie::Cookie::new(LOGGED_OUT_COOKIE, "");
    gone.set_path("/");
    gone.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/demo/account"))
        .cookie(gone)
        .finish()
}

async fn logout() -> HttpResponse {
    let mut c = actix_web::cookie::Cookie::new(LOGGED_OUT_COOKIE, "1");
    c.set_path("/");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/demo/account"))
        .cookie(c)
        .finish()
}

/// `GET /demo/cart`: the lines and their visible properties.
async fn cart_page(req: HttpRequest, demo: web::Data<Demo>) -> AppResult<HttpResponse> {
    let lines = cart_token(&req)
        .and_then(|t| demo.carts.lock().get(&t).cloned())
        .unwrap_or_default();
    let rows: String = lines
        .iter()
        .map(|l| {
            let props: String = l
                .properties
                .iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| {
                    format!(
                        "<li><span class=\"prop-name\">{}</span>: <span class=\"prop-value\">{}</span></li>",
                        esc(k),
                        esc(v.as_str().unwrap_or_default())
                    )
                })
                .collect();
            format!(
                r#"<li class="cart-line" data-variant-id="{v}"><strong>{t}</strong> × {q} — {p}<ul>{props}</ul></li>"#,
                v = l.variant_id,
                t = esc(&l.title),
                q = l.quantity,
                p = theme::money(l.price * l.quantity, MONEY_FORMAT),
            )
        })
        .collect();
    let total: i64 = lines.iter().map(|l| l.price * l.quantity).sum();
    Ok(layout(
        "Cart",
        &format!(
            r#"<h1>Your cart</h1><ul class="cart-lines">{rows}</ul><p>Total: <span data-cart-total>{}</span></p>{checkout}"#,
            theme::money(total, MONEY_FORMAT),
            // The demo's order path (checkout.rs): the order arrives as a signed webhook.
            checkout = if lines.is_empty() {
                ""
            } else {
                r#"<form method="post" action="/demo/checkout"><button type="submit" data-checkout>Check out</button></form>"#
            }
        ),
        cart_count(&demo, &req),
    ))
}

async fn asset(path: web::Path<String>) -> AppResult<HttpResponse> {
    let name = path.into_inner();
    let (_, mime, bytes) = theme::files::ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(HttpResponse::Ok()
        .content_type(*mime)
        .insert_header(("Cache-Control", "no-cache"))
        .body(*bytes))
}

/// A generated product picture (no binary files in the repository).
async fn image(path: web::Path<String>) -> HttpResponse {
    let handle = path.into_inner();
    let hue = handle.bytes().fold(0u32, |h, b| (h * 31 + b as u32) % 360);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 800"><rect width="800" height="800" fill="hsl({hue},45%,88%)"/><circle cx="400" cy="400" r="220" fill="hsl({hue},40%,70%)"/><text x="400" y="720" font-family="sans-serif" font-size="40" text-anchor="middle" fill="#333">{}</text></svg>"##,
        esc(&handle)
    );
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(svg)
}

// ---------------------------------------------------------------- AJAX cart

/// A cart line in Shopify's AJAX cart shape.
#[derive(Debug, Clone, Serialize)]
pub struct CartLine {
    pub id: i64,
    pub key: String,
    pub variant_id: i64,
    pub product_id: i64,
    pub title: String,
    pub quantity: i64,
    pub price: i64,
    pub line_price: i64,
    pub final_line_price: i64,
    pub handle: String,
    pub url: String,
    /// In the order the storefront sent them (hidden `_` keys included).
    pub properties: Map<String, Json>,
}

#[derive(Deserialize)]
struct AddItem {
    id: Json,
    #[serde(default)]
    quantity: Option<Json>,
    #[serde(default)]
    properties: Option<Map<String, Json>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AddBody {
    Many { items: Vec<AddItem> },
    One(AddItem),
}

fn cart_error(status: StatusCode, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(
        json!({"status": status.as_u16(), "message": "Cart Error", "description": description}),
    )
}

/// Adds items to the cart behind `token`; Shopify merges a line with the same variant and
/// properties.
async fn add_items(
    demo: &Demo,
    state: &AppState,
    token: &str,
    items: Vec<AddItem>,
) -> Result<Vec<CartLine>, HttpResponse> {
    let shop = demo_shop(state)
        .await
        .map_err(|_| cart_error(StatusCode::NOT_FOUND, "The demo shop is not seeded."))?;
    let mut added = Vec::new();
    for item in items {
        let Some(variant) = crate::shopify::payload::parse_id(&item.id) else {
            return Err(cart_error(StatusCode::BAD_REQUEST, "Invalid variant id."));
        };
        let quantity = match &item.quantity {
            None => 1,
            Some(q) => crate::shopify::payload::parse_id(q).unwrap_or(0),
        };
        if !(1..=100_000).contains(&quantity) {
            return Err(cart_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid quantity.",
            ));
        }
        let shop_id = shop.id.clone();
        let found = state
            .db
            .run(move |c| Ok(seed::variant(c, &shop_id, variant)?))
            .await
            .map_err(|_| cart_error(StatusCode::INTERNAL_SERVER_ERROR, "Cart unavailable."))?;
        let Some(v) = found else {
            return Err(cart_error(StatusCode::NOT_FOUND, "Cannot find variant"));
        };
        let properties: Map<String, Json> = item
            .properties
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                (k, Json::String(text))
            })
            .collect();
        let mut carts = demo.carts.lock();
        let lines = carts.entry(token.to_owned()).or_default();
        let key = format!(
            "{variant}:{}",
            hex::encode(
                &crate::crypto::hmac_sha256(
                    b"demo-cart-line",
                    Json::Object(properties.clone()).to_string().as_bytes()
                )[..8]
            )
        );
        let line = match lines.iter_mut().find(|l| l.key == key) {
            Some(l) => {
                l.quantity += quantity;
                l
            }
            None => {
                lines.push(CartLine {
                    id: variant,
                    key,
                    variant_id: variant,
                    product_id: v.product_id,
                    title: v.title.clone(),
                    quantity,
                    price: v.price_cents,
                    line_price: 0,
                    final_line_price: 0,
                    handle: v.handle.clone(),
                    url: format!("/demo/products/{}", v.handle),
                    properties,
                });
                lines.last_mut().expect("just pushed")
            }
        };
        line.line_price = line.price * line.quantity;
        line.final_line_price = line.line_price;
        added.push(line.clone());
    }
    Ok(added)
}

fn with_cart_cookie(req: &HttpRequest) -> (String, Option<actix_web::cookie::Cookie<'static>>) {
    match cart_token(req) {
        Some(t) => (t, None),
        None => {
            let t = crate::db::new_id();
            let mut c = actix_web::cookie::Cookie::new(CART_COOKIE, t.clone());
            c.set_path("/");
            c.set_http_only(true);
            (t, Some(c))
        }
    }
}

/// `POST /demo/cart/add.js`: `{"items":[{id, quantity, properties}]}` → `{"items":[…]}`, or
/// one item → that line.
async fn cart_add(
    req: HttpRequest,
    body: web::Json<Json>,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (token, cookie) = with_cart_cookie(&req);
    let parsed: AddBody = match serde_json::from_value(body.into_inner()) {
        Ok(b) => b,
        Err(_) => return cart_error(StatusCode::BAD_REQUEST, "Invalid cart request."),
    };
    let (items, many) = match parsed {
        AddBody::Many { items } => (items, true),
        AddBody::One(item) => (vec![item], false),
    };
    let result = add_items(&demo, &state, &token, items).await;
    let mut res = match result {
        Ok(lines) if many => HttpResponse::Ok().json(json!({ "items": lines })),
        Ok(mut lines) => HttpResponse::Ok().json(lines.remove(0)),
        Err(e) => e,
    };
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

/// `POST /demo/cart/add` (a form submitted without JavaScript): adds, then shows the cart.
async fn cart_add_form(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (token, cookie) = with_cart_cookie(&req);
    let mut properties = Map::new();
    for (k, v) in form.iter() {
        if let Some(name) = k
            .strip_prefix("properties[")
            .and_then(|k| k.strip_suffix(']'))
        {
            properties.insert(name.to_owned(), Json::String(v.clone()));
        }
    }
    let item = AddItem {
        id: Json::String(form.get("id").cloned().unwrap_or_default()),
        quantity: form.get("quantity").map(|q| Json::String(q.clone())),
        properties: Some(properties),
    };
    let mut res = match add_items(&demo, &state, &token, vec![item]).await {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/demo/cart"))
            .finish(),
        Err(e) => e,
    };
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

fn cart_json(lines: &[CartLine], token: &str) -> Json {
    json!({
        "token": token,
        "items": lines,
        "item_count": lines.iter().map(|l| l.quantity).sum::<i64>(),
        "total_price": lines.iter().map(|l| l.line_price).sum::<i64>(),
        "currency": "USD",
    })
}

/// `GET /demo/cart.js`
async fn cart_js(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let token = cart_token(&req).unwrap_or_default();
    let lines = demo.carts.lock().get(&token).cloned().unwrap_or_default();
    HttpResponse::Ok().json(cart_json(&lines, &token))
}

/// `POST /demo/cart/clear.js`
async fn cart_clear(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let token = cart_token(&req).unwrap_or_default();
    demo.carts.lock().remove(&token);
    HttpResponse::Ok().json(cart_json(&[], &token))
}

// ---------------------------------------------------------------- app proxy emulator

/// `/apps/atelier/*`: what Shopify's app proxy does. The storefront's query is kept, `shop`,
/// `logged_in_customer_id` (empty when logged out), `path_prefix` and `timestamp` are added and
/// signed (sorted `key=value` pairs, repeated keys joined with `,`, concatenated, hex
/// HMAC-SHA256 with the API secret), cookies are not forwarded, and the request goes to
/// `/proxy/*` with its method and body.
async fn app_proxy(
    req: HttpRequest,
    tail: web::Path<String>,
    body: web::Bytes,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = if logged_in(&req) {
        DEMO_CUSTOMER.to_string()
    } else {
        String::new()
    };
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "shop" | "logged_in_customer_id" | "path_prefix" | "timestamp" | "signature"
                )
            })
            .collect();
    pairs.push(("shop".into(), crate::config::DEMO_SHOP.into()));
    pairs.push(("logged_in_customer_id".into(), customer));
    pairs.push(("path_prefix".into(), "/apps/atelier".into()));
    pairs.push((
        "timestamp".into(),
        time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
    ));
    let signature = crate::shopify::hmac::sign_app_proxy(state.api_secret(), &pairs);
    pairs.push(("signature".into(), signature));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let url = format!("{}/proxy/{}?{query}", demo.self_base, tail.into_inner());
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut forward = demo.client.request(method, url).body(body.to_vec());
    for name in [
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::ACCEPT_LANGUAGE,
    ] {
        if let Some(v) = req.headers().get(&name) {
            forward = forward.header(name.as_str(), v.as_bytes());
        }
    }
    if let Some(ip) = req.peer_addr() {
        forward = forward.header("X-Forwarded-For", ip.ip().to_string());
    }
    let answer = forward
        .header("X-Forwarded-Host", crate::config::DEMO_SHOP)
        .send()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("app proxy emulator: {e}")))?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        // Shopify strips cookies and hop-by-hop headers from proxied answers.
        if matches!(
            name.as_str(),
            "content-type" | "cache-control" | "content-security-policy" | "x-content-type-options"
        ) {
            res.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("app proxy emulator: {e}")))?;
    if req.method() == Method::HEAD {
        return Ok(res.finish());
    }
    Ok(res.body(bytes))
}
