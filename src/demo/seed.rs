//! The demo shop's catalogue, templates (every field type), fee product and a few past orders,
//! written on first start in development through the same code the webhooks and the admin API
//! use. Idempotent: a shop that already has products is left alone.

use diesel::prelude::*;
use serde_json::{Value as Json, json};

use crate::db::DbConnection;
use crate::db::schema::{product_variants, products};

/// The logged-in demo customer.
pub const DEMO_CUSTOMER: i64 = 7_100_000_042;
/// The hidden 1-cent fee product's variant (README, "Charging the add-on").
pub const FEE_VARIANT: i64 = 8_900_000_001;

/// `(id, handle, title, product type, tags, [(variant title, price)])`
type DemoCatalogue = &'static [(
    i64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
)];

const PRODUCTS: DemoCatalogue = &[
    (
        8_100_000_001,
        "engraved-ring",
        "Engraved ring",
        "Jewelry",
        "ring, gift, wedding",
        &[("6", "120.00"), ("7", "120.00"), ("8", "125.00")],
    ),
    (
        8_100_000_002,
        "custom-tote",
        "Custom tote bag",
        "Bags",
        "bag, gift, canvas",
        &[("Natural", "34.00"), ("Black", "36.00")],
    ),
    (
        8_100_000_003,
        "linen-apron",
        "Linen apron",
        "Kitchen",
        "kitchen, linen, room:kitchen",
        &[("S", "42.00"), ("M", "42.00"), ("L", "44.00")],
    ),
    (
        8_100_000_004,
        "fig-candle",
        "Fig candle",
        "Home",
        "candle, home, gift, room:living",
        &[("Default Title", "24.50")],
    ),
    (
        8_100_000_005,
        "stoneware-mug",
        "Stoneware mug",
        "Kitchen",
        "kitchen, mug, gift, room:kitchen",
        &[("Default Title", "18.00")],
    ),
    (
        8_100_000_006,
        "wool-scarf",
        "Wool scarf",
        "Apparel",
        "winter, wool, gift",
        &[("One size", "58.00")],
    ),
];

fn product_payload(
    id: i64,
    handle: &str,
    title: &str,
    kind: &str,
    tags: &str,
    variants: &[(&str, &str)],
    status: &str,
) -> Json {
    let variants: Vec<Json> = variants
        .iter()
        .enumerate()
        .map(|(i, (t, price))| {
            json!({"id": id * 10 + i as i64 + 1, "product_id": id, "title": t, "price": price, "position": i + 1,
                   "sku": format!("{handle}-{i}"), "option1": t, "inventory_quantity": 25, "inventory_policy": "deny",
                   "available": true})
        })
        .collect();
    json!({"id": id, "title": title, "handle": handle, "product_type": kind, "vendor": "Atelier Demo",
           "tags": tags, "status": status, "published_at": "2026-01-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
           "variants": variants, "image": {"src": format!("/demo/images/{handle}.svg")}})
}

fn ring_template() -> Json {
    json!({"name": "Ring engraving", "product_ids": [8_100_000_001i64], "fields": [
        {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 20, "charset": "latin",
         "price_cents": 1500, "placeholder": "Forever yours", "help_text": "Latin letters, up to 20 characters.",
         "preview": {"font": "Georgia", "color": "#5a4a1a", "x": 50, "y": 48, "size": 6}},
        {"key": "metal", "label": "Metal", "type": "select", "required": true, "options": [
            {"value": "silver", "label": "Sterling silver"}, {"value": "gold", "label": "Gold", "price_cents": 4000}]},
        {"key": "karat", "label": "Karat", "type": "select", "required": true, "show_if": {"field": "metal", "equals": "gold"}, "options": [
            {"value": "14", "label": "14k"}, {"value": "18", "label": "18k", "price_cents": 2500}]},
        {"key": "wedding_date", "label": "Wedding date", "type": "date", "min": "2000-01-01", "max": "2035-12-31"},
        {"key": "gift_box", "label": "Gift box", "type": "checkbox", "price_cents": 500}
    ]})
}

fn tote_template() -> Json {
    json!({"name": "Tote print", "product_ids": [8_100_000_002i64], "fields": [
        {"key": "message", "label": "Message", "type": "textarea", "max_length": 60, "required": true,
         "preview": {"font": "sans-serif", "x": 50, "y": 40, "size": 5}},
        {"key": "thread", "label": "Thread color", "type": "swatch", "required": true, "options": [
            {"value": "navy", "label": "Navy", "color": "#1f2a5a"}, {"value": "red", "label": "Red", "color": "#b3261e"},
            {"value": "gold", "label": "Gold", "color": "#c9a227", "price_cents": 300}]},
        {"key": "letters", "label": "Letter size (mm)", "type": "number", "min": 10, "max": 40, "step": 5},
        {"key": "photo", "label": "Photo", "type": "image", "price_cents": 800, "help_text": "PNG, JPEG or WebP, up to 10 MB."}
    ]})
}

/// The demo quiz: one question mapped onto an interest, one onto a size, one a taste only.
fn demo_questions() -> Vec<Json> {
    vec![
        json!({"key": "occasion", "prompt": "What do you shop for most often?", "kind": "single", "options": [
            {"key": "gift", "label": "Presents for others", "interest": "gifts"},
            {"key": "myself", "label": "Something for myself"},
            {"key": "deals", "label": "Good deals", "interest": "sale"}]}),
        json!({"key": "top_size", "prompt": "Which size do you wear in tops?", "kind": "single", "options": [
            {"key": "s", "label": "S", "size": {"category": "tops", "size": "S"}},
            {"key": "m", "label": "M", "size": {"category": "tops", "size": "M"}},
            {"key": "l", "label": "L", "size": {"category": "tops", "size": "L"}}]}),
        json!({"key": "room", "prompt": "Which rooms do you love to make your own?", "kind": "multiple", "options": [
            {"key": "kitchen", "label": "Kitchen"},
            {"key": "living", "label": "Living room"},
            {"key": "bedroom", "label": "Bedroom"}]}),
    ]
}

/// Seeds the demo shop once.
pub fn seed(c: &mut DbConnection, state: &crate::state::AppState) -> anyhow::Result<()> {
    let shop = crate::shops::find_by_domain(c, crate::config::DEMO_SHOP)?
        .ok_or_else(|| anyhow::anyhow!("demo shop missing"))?;
    // Their own check: a demo database seeded before collections existed gets them too.
    super::collections::seed_collections(c, &shop.id)?;
    let existing: i64 = products::table
        .filter(products::shop_id.eq(&shop.id))
        .count()
        .get_result(c)?;
    if existing > 0 {
        return Ok(());
    }
    let mut payloads: Vec<Json> = PRODUCTS
        .iter()
        .map(|(id, handle, title, kind, tags, variants)| {
            product_payload(*id, handle, title, kind, tags, variants, "active")
        })
        .collect();
    // The fee product: one 1-cent variant, not listed in the store.
    let mut fee = product_payload(
        8_900_000_000,
        "personalization-fee",
        "Personalization",
        "Fee",
        "atelier-fee",
        &[("Personalization", "0.01")],
        "active",
    );
    fee["variants"][0]["id"] = json!(FEE_VARIANT);
    payloads.push(fee);
    for p in payloads {
        let body = serde_json::to_vec(&p)?;
        crate::products::apply_update(c, &shop, "products/create", &body, None)
            .map_err(|e| anyhow::anyhow!("seeding a product: {e:?}"))?;
    }
    for t in [ring_template(), tote_template()] {
        let input = crate::personalization::store::parse_input(&t)
            .map_err(|e| anyhow::anyhow!("demo template: {e:?}"))?;
        crate::personalization::store::create(c, &shop.id, input)
            .map_err(|e| anyhow::anyhow!("demo template: {e:?}"))?;
    }
    crate::personalization::policy::put(
        c,
        &shop.id,
        crate::personalization::policy::Change {
            blocked_words: Some(vec!["darn".into()]),
            fee_variant_id: Some(Some(FEE_VARIANT)),
        },
    )?;
    // The demo stands in for a store where Atelier's Cart Transform function is deployed: its
    // cart transform is in place and the products' price tables are the store's, so the demo
    // cart shows what checkout charges (the storefront adds no fee line then).
    crate::personalization::checkout::record_transform(
        c,
        &shop.id,
        Ok("gid://shopify/CartTransform/1"),
    )?;
    crate::personalization::checkout::settle_locally(c, &shop.id)?;
    // A short quiz: a size and an interest the answers set, and a taste (`room:…` tags).
    for q in demo_questions() {
        let input = crate::preferences::questions::parse(&q, true)
            .map_err(|e| anyhow::anyhow!("demo question: {e:?}"))?;
        crate::preferences::questions::create(c, &shop.id, input)
            .map_err(|e| anyhow::anyhow!("demo question: {e:?}"))?;
    }
    // Past orders, so recommendations have something to learn from.
    let baskets: &[&[i64]] = &[
        &[8_100_000_004, 8_100_000_005],
        &[8_100_000_004, 8_100_000_005, 8_100_000_006],
        &[8_100_000_003, 8_100_000_005],
        &[8_100_000_001, 8_100_000_004],
        &[8_100_000_002, 8_100_000_003],
        &[8_100_000_006, 8_100_000_004],
    ];
    for (i, basket) in baskets.iter().enumerate() {
        let order_id = 6_100_000_000 + i as i64;
        let lines: Vec<Json> = basket
            .iter()
            .enumerate()
            .map(|(k, p)| {
                json!({"id": order_id * 10 + k as i64, "product_id": p, "variant_id": p * 10 + 1, "title": "Demo item",
                       "quantity": 1, "price": "20.00", "properties": []})
            })
            .collect();
        let customer = if i % 2 == 0 {
            Some(DEMO_CUSTOMER)
        } else {
            None
        };
        let order = json!({"id": order_id, "name": format!("#D{}", 1001 + i), "created_at": "2026-10-01T10:00:00Z",
            "updated_at": "2026-10-01T10:00:00Z", "currency": "USD", "total_price": "40.00", "financial_status": "paid",
            "customer": customer.map(|id| json!({"id": id})), "line_items": lines});
        let body = serde_json::to_vec(&order)?;
        crate::jobs::dispatch::apply_order(
            c,
            &state.sync,
            &state.recs,
            &shop,
            "orders/create",
            &body,
            None,
        )
        .map_err(|e| anyhow::anyhow!("seeding an order: {e:?}"))?;
    }
    tracing::info!("demo shop seeded: products, templates, fee product, questions, orders");
    Ok(())
}

/// A product as the demo pages show it.
#[derive(Debug, Clone)]
pub struct DemoProduct {
    pub id: i64,
    pub handle: String,
    pub title: String,
    pub price_cents: i64,
    pub variants: Vec<DemoVariant>,
}

#[derive(Debug, Clone)]
pub struct DemoVariant {
    pub id: i64,
    pub title: String,
    pub price_cents: i64,
}

/// A variant with what a cart line needs.
#[derive(Debug, Clone)]
pub struct CartVariant {
    pub product_id: i64,
    pub title: String,
    pub handle: String,
    pub price_cents: i64,
}

/// Listed products (the fee product is not), in id order.
pub fn storefront_products(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<DemoProduct>> {
    let ids: Vec<String> = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::deleted.eq(false))
        .filter(products::product_type.ne("Fee"))
        .order(products::product_id)
        .select(products::handle)
        .load(c)?;
    let mut out = Vec::new();
    for h in ids {
        if let Some(p) = product_by_handle(c, shop_id, &h)? {
            out.push(p);
        }
    }
    Ok(out)
}

pub fn product_by_handle(
    c: &mut DbConnection,
    shop_id: &str,
    handle: &str,
) -> QueryResult<Option<DemoProduct>> {
    let found: Option<(i64, String, String)> = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::handle.eq(handle))
        .filter(products::deleted.eq(false))
        .select((products::product_id, products::handle, products::title))
        .first(c)
        .optional()?;
    let Some((id, handle, title)) = found else {
        return Ok(None);
    };
    let variants: Vec<(i64, String, i64)> = product_variants::table
        .filter(product_variants::shop_id.eq(shop_id))
        .filter(product_variants::product_id.eq(id))
        .order(product_variants::position)
        .select((
            product_variants::variant_id,
            product_variants::title,
            product_variants::price_cents,
        ))
        .load(c)?;
    let variants: Vec<DemoVariant> = variants
        .into_iter()
        .map(|(id, title, price_cents)| DemoVariant {
            id,
            title,
            price_cents,
        })
        .collect();
    Ok(Some(DemoProduct {
        id,
        handle,
        title,
        price_cents: variants.first().map_or(0, |v| v.price_cents),
        variants,
    }))
}

pub fn variant(c: &mut DbConnection, shop_id: &str, id: i64) -> QueryResult<Option<CartVariant>> {
    let found: Option<(i64, String, i64)> = product_variants::table
        .filter(product_variants::shop_id.eq(shop_id))
        .filter(product_variants::variant_id.eq(id))
        .select((
            product_variants::product_id,
            product_variants::title,
            product_variants::price_cents,
        ))
        .first(c)
        .optional()?;
    let Some((product_id, variant_title, price_cents)) = found else {
        return Ok(None);
    };
    let (title, handle): (String, String) = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::product_id.eq(product_id))
        .select((products::title, products::handle))
        .first(c)?;
    let title = if variant_title == "Default Title" {
        title
    } else {
        format!("{title} - {variant_title}")
    };
    Ok(Some(CartVariant {
        product_id,
        title,
        handle,
        price_cents,
    }))
}

/// Seeds the development demo shop on first start.
pub fn ensure_demo_shop(
    conn: &mut crate::db::DbConnection,
    cipher: &crate::crypto::TokenCipher,
    domain: &crate::shopify::ShopDomain,
) -> diesel::QueryResult<crate::shops::Shop> {
    if let Some(shop) = crate::shops::find_by_domain(conn, domain.as_str())? {
        return Ok(shop);
    }
    let grant = crate::shopify::AccessGrant {
        access_token: crate::config::Secret::new("demo-store-has-no-real-token"),
        scope: crate::config::DEFAULT_SCOPES.into(),
        expires_in: None,
        refresh_token: None,
        refresh_token_expires_in: None,
    };
    crate::shops::save_grant(conn, cipher, domain, &grant)
}
