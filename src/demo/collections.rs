//! The demo store's collection pages: a Dawn-like product grid (`#product-grid > li`, each card
//! linking to `/products/{handle}`) with the collection sort app embed, so the grid is put in the
//! demo customer's order by the very files the theme extension ships.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::pages::layout;
use super::{DEMO_CUSTOMER, Demo, MONEY_FORMAT, cart_count, demo_shop, esc, logged_in, seed};
use crate::db::DbConnection;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::theme;

/// `(id, handle, title, products in the collection's own order)`
const COLLECTIONS: &[(i64, &str, &str, &[i64])] = &[
    (
        8_300_000_001,
        "gifts",
        "Gifts",
        &[
            8_100_000_001,
            8_100_000_002,
            8_100_000_004,
            8_100_000_005,
            8_100_000_006,
        ],
    ),
    (
        8_300_000_002,
        "home-and-kitchen",
        "Home and kitchen",
        &[8_100_000_003, 8_100_000_005, 8_100_000_004],
    ),
];

/// Seeds the demo collections once (a shop that has collections is left alone), through the
/// webhook's own code; their products are set here, the demo's store being this database.
pub fn seed_collections(c: &mut DbConnection, shop_id: &str) -> anyhow::Result<()> {
    if !crate::collections::list(c, shop_id, 1)?.is_empty() {
        return Ok(());
    }
    for (id, handle, title, products) in COLLECTIONS {
        let body = serde_json::to_vec(&json!({"id": id, "handle": handle, "title": title,
            "updated_at": "2026-11-01T00:00:00Z", "sort_order": "manual"}))?;
        crate::collections::apply_webhook(c, shop_id, "collections/create", &body, None)
            .map_err(|e| anyhow::anyhow!("seeding a collection: {e:?}"))?;
        crate::collections::set_members(c, shop_id, *id, products)?;
    }
    Ok(())
}

/// Links to the demo collections, for `/demo`.
pub(super) fn links() -> String {
    COLLECTIONS
        .iter()
        .map(|(_, handle, title, _)| {
            format!(
                r#"<a href="/demo/collections/{h}">{t}</a>"#,
                h = esc(handle),
                t = esc(title)
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `GET /demo/collections/{handle}`: the collection's grid in its own order, as a theme renders
/// it, and the collection sort app embed that reorders it in the browser.
pub(super) async fn collection_page(
    req: HttpRequest,
    path: web::Path<String>,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop = demo_shop(&state).await?;
    let handle = path.into_inner();
    let found = state
        .db
        .run(move |c| {
            let Some(collection) = crate::collections::find_by_handle(c, &shop.id, &handle)? else {
                return Ok(None);
            };
            let mut products = Vec::new();
            for id in crate::collections::members(c, &shop.id, collection.collection_id)? {
                let handle: Option<String> = {
                    use crate::db::schema::products;
                    use diesel::prelude::*;
                    products::table
                        .find((&shop.id, id))
                        .select(products::handle)
                        .first(c)
                        .optional()?
                };
                if let Some(p) = match handle {
                    Some(h) => seed::product_by_handle(c, &shop.id, &h)?,
                    None => None,
                } {
                    products.push(p);
                }
            }
            Ok(Some((collection, products)))
        })
        .await?
        .ok_or_else(|| AppError::not_found("No such collection."))?;
    let (collection, products) = found;
    let cards: String = products
        .iter()
        .map(|p| {
            format!(
                r#"<li class="grid__item"><div class="card-wrapper product-card-wrapper"><div class="card card--standard"><div class="card__inner"><img src="/demo/images/{h}.svg" alt="" width="400" height="400" loading="lazy"></div><div class="card__content"><h3 class="card__heading"><a href="/demo/products/{h}" id="CardLink-main-{id}" class="full-unstyled-link">{t}</a></h3><div class="price"><span class="price-item price-item--regular">{price}</span></div></div></div></div></li>"#,
                h = esc(&p.handle),
                id = p.id,
                t = esc(&p.title),
                price = theme::money(p.price_cents, MONEY_FORMAT),
            )
        })
        .collect();
    let customer = logged_in(&req).then(|| json!({"id": DEMO_CUSTOMER, "first_name": "Demo"}));
    let globals = json!({
        "shop": {"name": "Atelier demo store", "permanent_domain": crate::config::DEMO_SHOP, "money_format": MONEY_FORMAT},
        "customer": customer,
        "product": null,
        "collection": {"id": collection.collection_id, "handle": collection.handle, "title": collection.title,
                       "sort_by": "", "default_sort_by": "manual"},
        "template": {"name": "collection"},
        "routes": {"root_url": "/demo", "cart_url": "/demo/cart", "cart_add_url": "/demo/cart/add", "account_login_url": "/demo/login"},
    });
    let embed = demo.render_block("collection-sort", "embed", &globals, json!({}))?;
    Ok(layout(
        &collection.title,
        &format!(
            r#"<section class="shopify-section collection" id="shopify-section-template--main__product-grid"><h1>{title}</h1><ul id="product-grid" data-id="template--main__product-grid" class="grid product-grid" style="list-style: none; padding: 0">{cards}</ul></section>{embed}"#,
            title = esc(&collection.title),
        ),
        cart_count(&demo, &req),
    ))
}
