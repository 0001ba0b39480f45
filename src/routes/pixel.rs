//! `POST /pixel/events`: what the app's web pixel extension sends from the storefront and
//! checkout (Shopify loads the pixel only once the visitor allows analytics).
//!
//! The body is unsigned: anyone can send one. So it is trusted for nothing it cannot prove.
//! The shop must have Atelier installed (an unknown or uninstalled shop is refused and nothing is
//! stored); ids must be well formed; a body is at most [`MAX_PIXEL_BYTES`]; each address and each
//! pixel client has an allowance per minute, counted in fixed memory ([`crate::limits`]) before
//! anything is stored; an event id is stored once (a replay changes nothing); and no event names
//! a customer: whatever the body says, a logged-in shopper's own signals come only through the
//! signed routes.
//!
//! Body: `{"shop","event_id","client_id","name"}`, plus `product_id` for `product_viewed` and
//! `product_added_to_cart`, `order_id` for `checkout_completed` (ids as strings, numbers or
//! Shopify GIDs); other members are ignored.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems};
use crate::limits::Client;
use crate::recommendations::pixel::{PixelEvent, PixelSignal, record};
use crate::shopify::ShopDomain;
use crate::shops::Shop;
use crate::state::AppState;

/// Largest accepted body: one event, as the pixel sends it, is a few hundred bytes.
pub const MAX_PIXEL_BYTES: usize = 4 * 1024;
/// Events accepted per pixel client (one browser) and minute.
pub const PIXEL_EVENTS_PER_CLIENT: u32 = 120;
/// Events accepted per address and minute, whatever the client ids: several visitors may share
/// an address, and a client id is the sender's choice.
pub const PIXEL_EVENTS_PER_ADDRESS: u32 = 600;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/pixel")
            .wrap(from_fn(cors))
            .app_data(web::PayloadConfig::new(MAX_PIXEL_BYTES))
            .route("/events", web::post().to(events)),
    );
}

/// The pixel runs in Shopify's sandbox, on an origin of Shopify's: any origin may post (the body
/// proves nothing either way), and no credentials are ever involved.
async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::OPTIONS {
        let resp = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "7200"))
            .finish();
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    Ok(res.map_into_left_body())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PixelBody {
    shop: Lenient<String>,
    event_id: Lenient<String>,
    client_id: Lenient<String>,
    name: Lenient<String>,
    product_id: Lenient<Value>,
    order_id: Lenient<Value>,
}

/// A pixel event as sent, checked: `(shop, event id, client id, name, signal)`.
pub type Parsed = (ShopDomain, String, String, &'static str, PixelSignal);

/// Shopify's event ids (`sh-…`, UUIDs and the like): 1–128 of `A-Za-z0-9_.:-`.
fn valid_event_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// A pixel client id becomes the storefront session: 1–64 of `A-Za-z0-9_-`, as every session.
pub fn valid_client_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A positive id as a number, a string of digits, or `gid://shopify/{kind}/ID`.
fn resource_id(v: &Value, kind: &str) -> Option<i64> {
    let gid = format!("gid://shopify/{kind}/");
    match v {
        Value::String(s) if s.starts_with(&gid) => {
            let digits = &s[gid.len()..];
            (!digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<i64>().ok())
                .flatten()
        }
        // A GID of another kind (an order where a product belongs) names nothing here.
        Value::String(s) if s.starts_with("gid://") => None,
        other => crate::shopify::payload::parse_id(other),
    }
    .filter(|id| *id > 0)
}

/// A `POST /pixel/events` body: every problem named by its member.
pub fn parse(body: &Value) -> Result<Parsed, Vec<FieldError>> {
    let b: PixelBody = input::object(body, "the body must be a JSON object")?;
    let mut p = Problems::new();
    let shop = b.shop.ok().and_then(|s| ShopDomain::parse(&s).ok());
    if shop.is_none() {
        p.push(
            "shop",
            "invalid_shop",
            "shop must be the store's myshopify.com domain",
        );
    }
    let event_id = b.event_id.ok().filter(|s| valid_event_id(s));
    if event_id.is_none() {
        p.push(
            "event_id",
            "invalid_id",
            "event_id must be the event's id: 1 to 128 of A-Z, a-z, 0-9, _ . : -",
        );
    }
    let client_id = b.client_id.ok().filter(|s| valid_client_id(s));
    if client_id.is_none() {
        p.push(
            "client_id",
            "invalid_id",
            "client_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        );
    }
    let name: Option<&'static str> = match b.name.ok().as_deref() {
        Some("page_viewed") => Some("page_viewed"),
        Some("product_viewed") => Some("product_viewed"),
        Some("product_added_to_cart") => Some("product_added_to_cart"),
        Some("checkout_completed") => Some("checkout_completed"),
        _ => {
            p.push(
                "name",
                "unknown_event",
                "name must be page_viewed, product_viewed, product_added_to_cart or checkout_completed",
            );
            None
        }
    };
    let mut id_of = |member: &'static str, raw: Option<&Value>, kind: &str| {
        let id = raw.and_then(|v| resource_id(v, kind));
        if id.is_none() {
            p.push(
                member,
                "invalid_id",
                format!(
                    "{member} must be a {kind} id (a positive integer, a string of digits or a GID)"
                ),
            );
        }
        id
    };
    let signal = match name {
        Some("page_viewed") => Some(PixelSignal::Page),
        Some("product_viewed") => {
            id_of("product_id", b.product_id.raw(), "Product").map(PixelSignal::View)
        }
        Some("product_added_to_cart") => {
            id_of("product_id", b.product_id.raw(), "Product").map(PixelSignal::AddToCart)
        }
        Some("checkout_completed") => {
            id_of("order_id", b.order_id.raw(), "Order").map(PixelSignal::Checkout)
        }
        _ => None,
    };
    match (shop, event_id, client_id, name, signal) {
        (Some(s), Some(e), Some(c), Some(n), Some(sig)) => p.finish((s, e, c, n, sig)),
        _ => Err(p.into_errors()),
    }
}

fn rate_limited(what: &str, limit: u32) -> AppError {
    AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("At most {limit} pixel events per {what} and minute."),
    )
}

/// `POST /pixel/events` → `204` when stored, `200 {"status":"duplicate"}` when this event id
/// was stored before.
pub async fn events(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    if body.len() > MAX_PIXEL_BYTES {
        return Err(AppError::payload_too_large(MAX_PIXEL_BYTES));
    }
    // The browser's address, as the load balancers in front of Atelier saw it: counted first,
    // so a flood of garbage or of invented shops costs one counter and no database work.
    let forwarded_for = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let address = crate::limits::direct_client_address(
        forwarded_for,
        req.peer_addr().map(|a| a.ip()),
        state.settings.trusted_proxy_hops,
    )
    .map_or(Client::Unknown, Client::Address);
    if !state
        .event_rate
        .allow(&address.keyed("pixel"), PIXEL_EVENTS_PER_ADDRESS)
    {
        return Err(rate_limited("address", PIXEL_EVENTS_PER_ADDRESS));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| AppError::bad_request("invalid_json", "The body is not valid JSON."))?;
    let (shop, event_id, client_id, name, signal) = parse(&value).map_err(AppError::validation)?;
    crate::telemetry::record_shop(shop.as_str());
    let shop = state
        .storefront_shop(shop.as_str())
        .await?
        .filter(Shop::has_token)
        .ok_or_else(|| AppError::not_found("Atelier is not installed on this shop."))?;
    if !state.event_rate.allow(
        &("pixel-client", shop.id.as_str(), client_id.as_str()),
        PIXEL_EVENTS_PER_CLIENT,
    ) {
        return Err(rate_limited("client", PIXEL_EVENTS_PER_CLIENT));
    }
    let ev = PixelEvent {
        shop_id: shop.id.clone(),
        event_id,
        client_id,
        name,
        signal,
    };
    let stored = state.db.run_write(move |c| Ok(record(c, &ev)?)).await?;
    Ok(if stored {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::Ok().json(json!({"status": "duplicate"}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbers_strings_or_gids_of_the_right_kind() {
        assert_eq!(
            resource_id(&json!("gid://shopify/Product/12"), "Product"),
            Some(12)
        );
        assert_eq!(resource_id(&json!("12"), "Product"), Some(12));
        assert_eq!(resource_id(&json!(12), "Order"), Some(12));
        for bad in [
            json!("gid://shopify/Order/12"),
            json!("gid://shopify/Product/"),
            json!("gid://shopify/Product/-3"),
            json!("gid://shopify/Product/99999999999999999999"),
            json!(0),
            json!(-4),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(resource_id(&bad, "Product"), None, "{bad}");
        }
    }
}
