//! The AJAX cart in Shopify's shapes (`/cart/add.js`, `/cart.js`, `/cart/clear.js`), and the
//! form a product page submits without JavaScript.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use super::{CART_COOKIE, Demo, cart_token, demo_shop, seed};
use crate::state::AppState;

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
pub(super) async fn cart_add(
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
pub(super) async fn cart_add_form(
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
pub(super) async fn cart_js(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let token = cart_token(&req).unwrap_or_default();
    let lines = demo.carts.lock().get(&token).cloned().unwrap_or_default();
    HttpResponse::Ok().json(cart_json(&lines, &token))
}

/// `POST /demo/cart/clear.js`
pub(super) async fn cart_clear(req: HttpRequest, demo: web::Data<Demo>) -> HttpResponse {
    let token = cart_token(&req).unwrap_or_default();
    demo.carts.lock().remove(&token);
    HttpResponse::Ok().json(cart_json(&[], &token))
}

/// A cart line as checkout will charge it: expanded by the Cart Transform function's own logic
/// (`atelier_pricing::transform`, the code the function runs) into the product and its add-on,
/// or `None` when the function leaves it alone.
pub(super) struct AtCheckout {
    pub expansion: Option<atelier_pricing::transform::Expansion>,
}

/// What checkout charges for each line of a demo cart: the store's price tables (the demo
/// shop's, as written for its products), the cart in USD at rate 1.
pub(super) async fn at_checkout(state: &AppState, lines: &[CartLine]) -> Vec<AtCheckout> {
    let Ok(shop) = demo_shop(state).await else {
        return lines
            .iter()
            .map(|_| AtCheckout { expansion: None })
            .collect();
    };
    let products: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    let shop_id = shop.id.clone();
    let tables: Vec<Option<String>> = state
        .db
        .run(move |c| {
            if !crate::personalization::checkout::transform_active(c, &shop_id)? {
                return Ok(products.iter().map(|_| None).collect());
            }
            Ok(products
                .iter()
                .map(|p| crate::personalization::checkout::synced_table(c, &shop_id, *p))
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap_or_else(|_| lines.iter().map(|_| None).collect());
    let ids: Vec<String> = (0..lines.len())
        .map(|i| format!("gid://shopify/CartLine/{}", i + 1))
        .collect();
    let variants: Vec<String> = lines
        .iter()
        .map(|l| format!("gid://shopify/ProductVariant/{}", l.variant_id))
        .collect();
    let prices: Vec<String> = lines
        .iter()
        .map(|l| atelier_pricing::money::format_minor(l.price, 2))
        .collect();
    let text = |l: &CartLine, k: &str| {
        l.properties
            .get(k)
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let signatures: Vec<Option<String>> = lines
        .iter()
        .map(|l| text(l, atelier_pricing::signed::PROPERTY))
        .collect();
    let fees: Vec<Option<String>> = lines
        .iter()
        .map(|l| text(l, atelier_pricing::signed::FEE_PROPERTY))
        .collect();
    let input: Vec<atelier_pricing::transform::Line<'_>> = (0..lines.len())
        .map(|i| atelier_pricing::transform::Line {
            id: &ids[i],
            quantity: lines[i].quantity,
            variant_id: Some(&variants[i]),
            unit_price: &prices[i],
            currency: "USD",
            signature: signatures[i].as_deref(),
            fee_for: fees[i].as_deref(),
            table: tables[i].as_deref(),
        })
        .collect();
    atelier_pricing::transform::plan(&input, "1.0")
        .into_iter()
        .map(|r| AtCheckout { expansion: r.ok() })
        .collect()
}

/// The variant id of a component's merchandise GID.
pub(super) fn variant_of(gid: &str) -> Option<i64> {
    gid.rsplit('/').next()?.parse().ok()
}

/// The demo shop's product of a variant.
pub(super) async fn product_of(state: &AppState, variant: i64) -> Option<i64> {
    let shop = demo_shop(state).await.ok()?;
    state
        .db
        .run(move |c| Ok(seed::variant(c, &shop.id, variant)?))
        .await
        .ok()
        .flatten()
        .map(|v| v.product_id)
}
