//! The demo store's pages: products, a product, the account and the cart, rendered around the
//! theme extension's blocks, and the assets and pictures they load.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value as Json, json};

use super::{
    DEMO_CUSTOMER, Demo, LOGGED_OUT_COOKIE, MONEY_FORMAT, cart_count, cart_token, demo_shop, esc,
    logged_in, seed,
};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::theme;

pub(super) fn layout(title: &str, body: &str, cart_count: i64) -> HttpResponse {
    layout_with(title, body, cart_count, json!({}))
}

/// The demo's stand-in for Shopify's own storefront scripts (the Customer Privacy API and the web
/// pixel runtime, which loads the app's pixel extension), and that pixel itself.
pub(super) const SHOPIFY_STANDIN: &[u8] = include_bytes!("shopify-standin.js");
pub(super) const PIXEL: &[u8] = include_bytes!("../../extensions/web-pixel/src/pixel.js");

/// A page, with what Shopify's scripts know of it (`page`: the product viewed, the order just
/// placed) for the stand-in's standard events.
pub(super) fn layout_with(
    title: &str,
    body: &str,
    cart_count: i64,
    mut page: Json,
) -> HttpResponse {
    page["shop"] = json!(crate::config::DEMO_SHOP);
    // Inside a <script> element: no `</` may close it early.
    let page = page.to_string().replace("</", "<\\/");
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Atelier demo store</title>
<link rel="stylesheet" href="/demo/assets/atelier.css">
<script type="application/json" id="atelier-demo-page">{page}</script>
<script src="/demo/shopify.js"></script>
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
<header><strong><a href="/demo">Atelier demo store</a></strong><a href="/demo/quiz">Style quiz</a><a href="/demo/account">Account</a><a href="/demo/cart" data-cart-link>Cart ({cart_count})</a><button type="button" data-demo-consent style="margin-left:auto">Analytics</button></header>
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

/// `GET /demo`: every demo product.
pub(super) async fn index(
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
        &format!(
            r#"<h1>Products</h1><p class="demo-collections">Collections: {}</p><div class="grid">{cards}</div>"#,
            super::collections::links()
        ),
        cart_count(&demo, &req),
    ))
}

/// `GET /demo/products/{handle}`: the product form, the Product personalizer block.
pub(super) async fn product_page(
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
    let recent = demo.render_block(
        "recommendations",
        "recent",
        &globals,
        json!({"intent": "recently_viewed", "heading": "Recently viewed", "limit": 4}),
    )?;
    let wishlist = demo.render_block("wishlist-button", "main", &globals, json!({}))?;
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
{wishlist}
</div>
</section>
<div class="shopify-section">{together}</div>
<div class="shopify-section">{related}</div>
<div class="shopify-section">{recent}</div>"#,
        handle = esc(&product.handle),
        title = esc(&product.title),
        price = theme::money(product.price_cents, MONEY_FORMAT),
    );
    let page = json!({"product": {
        "id": product.id.to_string(),
        "title": product.title,
        "variant_id": product.variants.first().map(|v| v.id.to_string()),
    }});
    Ok(layout_with(
        &product.title,
        &body,
        cart_count(&demo, &req),
        page,
    ))
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

/// `GET /demo/quiz`: a page with the Quiz block (the merchant's questions).
pub(super) async fn quiz_page(req: HttpRequest, demo: web::Data<Demo>) -> AppResult<HttpResponse> {
    let who = if logged_in(&req) {
        r#"<p>Logged in as the demo customer. <a href="/demo/logout">Log out</a></p>"#
    } else {
        r#"<p>You are logged out: your answers stay in this browser. <a href="/demo/login">Log in</a></p>"#
    };
    let globals = globals(&req, None);
    let block = demo.render_block("quiz", "quiz", &globals, json!({}))?;
    Ok(layout(
        "Style quiz",
        &format!(
            r#"{who}<section class="shopify-section" id="shopify-section-quiz">{block}</section>"#
        ),
        cart_count(&demo, &req),
    ))
}

/// `GET /demo/account`: the demo customer's account page, with the Preference center block.
pub(super) async fn account_page(
    req: HttpRequest,
    demo: web::Data<Demo>,
) -> AppResult<HttpResponse> {
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

pub(super) async fn login() -> HttpResponse {
    let mut gone = actix_web::cookie::Cookie::new(LOGGED_OUT_COOKIE, "");
    gone.set_path("/");
    gone.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/demo/account"))
        .cookie(gone)
        .finish()
}

pub(super) async fn logout() -> HttpResponse {
    let mut c = actix_web::cookie::Cookie::new(LOGGED_OUT_COOKIE, "1");
    c.set_path("/");
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/demo/account"))
        .cookie(c)
        .finish()
}

/// `GET /demo/cart`: the lines and their visible properties, and what checkout charges for
/// each: a personalized line the Cart Transform function expands shows its two components (the
/// product and the add-on at the function's prices), and the total is checkout's.
pub(super) async fn cart_page(
    req: HttpRequest,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let lines = cart_token(&req)
        .and_then(|t| demo.carts.lock().get(&t).cloned())
        .unwrap_or_default();
    let charged = super::cart::at_checkout(&state, &lines).await;
    // What completes the cart: the block reads the cart from `/demo/cart.js` itself.
    let complete = demo.render_block(
        "recommendations",
        "cart",
        &globals(&req, None),
        json!({"intent": "cart", "heading": "Complete your order", "limit": 4}),
    )?;
    let mut total: i64 = 0;
    let rows: String = lines
        .iter()
        .zip(&charged)
        .map(|(l, at)| {
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
            let (line_total, components) = match &at.expansion {
                Some(e) => {
                    let unit = e.unit_total().unwrap_or(l.price);
                    let component = |kind: &str, name: &str, c: &atelier_pricing::transform::Component| {
                        format!(
                            r#"<li class="cart-component" data-component="{kind}" data-unit-cents="{u}">{n} — {p} × {q}</li>"#,
                            u = c.unit_minor,
                            n = esc(name),
                            p = theme::money(c.unit_minor, MONEY_FORMAT),
                            q = l.quantity,
                        )
                    };
                    (
                        unit.saturating_mul(l.quantity),
                        format!(
                            r#"<ul class="cart-components" aria-label="Charged at checkout">{}{}</ul>"#,
                            component("product", &l.title, &e.product),
                            component("add-on", "Personalization add-on", &e.add_on)
                        ),
                    )
                }
                None => (l.price.saturating_mul(l.quantity), String::new()),
            };
            total = total.saturating_add(line_total);
            format!(
                r#"<li class="cart-line" data-variant-id="{v}" data-line-cents="{lc}"><strong>{t}</strong> × {q} — {p}<ul>{props}</ul>{components}</li>"#,
                v = l.variant_id,
                lc = line_total,
                t = esc(&l.title),
                q = l.quantity,
                p = theme::money(line_total, MONEY_FORMAT),
            )
        })
        .collect();
    Ok(layout(
        "Cart",
        &format!(
            r#"<h1>Your cart</h1><ul class="cart-lines">{rows}</ul><p>Total at checkout: <span data-cart-total data-cents="{total}">{}</span></p>{checkout}<div class="shopify-section">{complete}</div>"#,
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

/// `GET /demo/shopify.js`: the stand-in for Shopify's storefront scripts.
pub(super) async fn shopify_standin(req: HttpRequest) -> HttpResponse {
    crate::routes::assets::serve(
        &req,
        "/demo/",
        "shopify.js",
        "text/javascript; charset=utf-8",
        SHOPIFY_STANDIN,
    )
}

/// `GET /demo/pixel/pixel.js`: the app's web pixel extension, as the stand-in loads it.
pub(super) async fn pixel(req: HttpRequest) -> HttpResponse {
    crate::routes::assets::serve(
        &req,
        "/demo/pixel/",
        "pixel.js",
        "text/javascript; charset=utf-8",
        PIXEL,
    )
}

pub(super) async fn asset(req: HttpRequest, path: web::Path<String>) -> AppResult<HttpResponse> {
    let (name, mime, bytes) = theme::files::ASSETS
        .iter()
        .find(|(n, _, _)| *n == path.as_str())
        .ok_or_else(|| AppError::not_found("No such asset."))?;
    Ok(crate::routes::assets::serve(
        &req,
        "/demo/assets/",
        name,
        mime,
        bytes,
    ))
}

/// A generated product picture (no binary files in the repository).
pub(super) async fn image(path: web::Path<String>) -> HttpResponse {
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
