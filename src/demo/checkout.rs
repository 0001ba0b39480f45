//! The demo's order path: `POST /demo/checkout` turns the demo cart into an order and delivers
//! it to `/webhooks` as Shopify would after a checkout (an `orders/create` payload, HMAC-signed
//! with the API secret, over HTTP), so a personalized order reaches Production through the same
//! intake, verification and reconciliation as a real store's. Development only, like the rest
//! of the demo store.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value as Json, json};

use super::pages::layout_with;
use super::{CART_COOKIE, DEMO_CUSTOMER, Demo, esc, logged_in};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

fn decimal(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `POST /demo/checkout`: places the cart as an order, empties the cart, shows the order.
pub async fn checkout(
    req: HttpRequest,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let token = req.cookie(CART_COOKIE).map(|c| c.value().to_owned());
    let lines = token
        .as_ref()
        .and_then(|t| demo.carts.lock().get(t).cloned())
        .unwrap_or_default();
    if lines.is_empty() {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/demo/cart"))
            .finish());
    }
    let now = time::OffsetDateTime::now_utc();
    // Unique per checkout and far from the seeded orders' ids.
    let order_id =
        7_000_000_000_000 + (now.unix_timestamp_nanos() / 1_000_000 % 1_000_000_000_000) as i64;
    let name = format!("#D{}", order_id % 100_000);
    let stamp = now
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(AppError::internal)?;
    // As checkout would charge it: a line the Cart Transform function expands becomes the
    // product at its price and the add-on component (the fee variant carrying `_atelier_fee`).
    let charged = super::cart::at_checkout(&state, &lines).await;
    let mut line_items: Vec<Json> = Vec::new();
    let mut total: i64 = 0;
    for (l, at) in lines.iter().zip(&charged) {
        let properties: Vec<Json> = l
            .properties
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v.as_str().unwrap_or_default()}))
            .collect();
        let unit = at
            .expansion
            .as_ref()
            .map_or(l.price, |e| e.product.unit_minor);
        let k = line_items.len() as i64;
        line_items.push(json!({
            "id": order_id * 100 + k, "product_id": l.product_id, "variant_id": l.variant_id,
            "title": l.title, "quantity": l.quantity, "current_quantity": l.quantity,
            "price": decimal(unit), "total_discount": "0.00", "gift_card": false,
            "properties": properties, "discount_allocations": [],
        }));
        total += unit * l.quantity;
        if let Some(e) = &at.expansion {
            let variant = super::cart::variant_of(&e.add_on.merchandise_id);
            let product = match variant {
                Some(v) => super::cart::product_of(&state, v).await,
                None => None,
            };
            let properties: Vec<Json> = e
                .add_on
                .attributes
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            let k = line_items.len() as i64;
            line_items.push(json!({
                "id": order_id * 100 + k, "product_id": product, "variant_id": variant,
                "title": "Personalization", "quantity": l.quantity, "current_quantity": l.quantity,
                "price": decimal(e.add_on.unit_minor), "total_discount": "0.00", "gift_card": false,
                "properties": properties, "discount_allocations": [],
            }));
            total += e.add_on.unit_minor * l.quantity;
        }
    }
    let customer = logged_in(&req).then(|| json!({"id": DEMO_CUSTOMER}));
    let order = json!({
        "id": order_id, "name": name, "created_at": stamp, "updated_at": stamp, "processed_at": stamp,
        "currency": "USD", "total_price": decimal(total), "subtotal_price": decimal(total),
        "financial_status": "paid", "test": false, "source_name": "web", "customer": customer,
        "line_items": line_items, "refunds": [],
    });
    let body = serde_json::to_vec(&order).map_err(AppError::internal)?;
    let hmac = crate::shopify::hmac::sign_webhook(state.api_secret(), &body);
    let sent = demo
        .client
        .post(format!("{}/webhooks", demo.self_base))
        .header("Content-Type", "application/json")
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Hmac-Sha256", hmac)
        .header("X-Shopify-Shop-Domain", crate::config::DEMO_SHOP)
        .header("X-Shopify-Webhook-Id", uuid::Uuid::new_v4().to_string())
        .header("X-Shopify-Event-Id", uuid::Uuid::new_v4().to_string())
        .header("X-Shopify-API-Version", state.settings.api_version.as_str())
        .header("X-Shopify-Triggered-At", stamp.as_str())
        .body(body)
        .send()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("demo checkout: {e}")))?;
    if !sent.status().is_success() {
        return Err(AppError::internal(anyhow::anyhow!(
            "demo checkout: the webhook answered {}",
            sent.status()
        )));
    }
    if let Some(t) = token {
        demo.carts.lock().remove(&t);
    }
    // The thank-you page: where Shopify's pixel runtime emits checkout_completed.
    Ok(layout_with(
        "Order placed",
        &format!(
            r#"<h1>Thank you</h1><p>Order <strong data-order-name>{}</strong> is placed ({}). The store sent it to Atelier as an <code>orders/create</code> webhook.</p><p><a href="/demo">Continue shopping</a> · <a href="/demo/admin#/production">See it in Production</a></p>"#,
            esc(&name),
            crate::theme::money(total, super::MONEY_FORMAT)
        ),
        0,
        json!({ "order_id": order_id.to_string() }),
    ))
}
