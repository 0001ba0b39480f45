//! The logged-in shopper's wishlist through the app proxy: list, add, remove, and the merge of
//! the list an anonymous visitor kept in their browser.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use crate::error::{AppError, AppResult};
use crate::preferences::wishlist;
use crate::routes::extractors::Storefront;
use crate::state::AppState;

/// `/proxy` routes, registered inside the proxy scope (signature, 256 KiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/wishlist", web::get().to(get_wishlist))
        .route("/wishlist", web::post().to(add_item))
        .route("/wishlist/merge", web::post().to(merge))
        .route("/wishlist/{product_id}", web::delete().to(remove_item));
}

/// The logged-in customer, or `401` for an anonymous visitor (whose list the storefront keeps
/// in the browser until they log in).
fn customer(sf: &Storefront) -> AppResult<i64> {
    sf.customer_id.ok_or_else(|| {
        AppError::unauthorized(
            "not_logged_in",
            "A wishlist is kept for a logged-in customer; the storefront keeps an anonymous visitor's list in the browser.",
        )
    })
}

fn no_store(mut resp: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    resp.insert_header(("Cache-Control", "no-store"));
    resp
}

/// `GET /proxy/wishlist`
pub async fn get_wishlist(sf: Storefront, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    read_wishlist(&state, sf.shop.id.clone(), customer).await
}

/// The shopper's list, as every shopper surface answers it (app proxy, customer account).
pub(crate) async fn read_wishlist(
    state: &AppState,
    shop_id: String,
    customer: i64,
) -> AppResult<HttpResponse> {
    let list = state
        .db
        .run(move |c| Ok(wishlist::list(c, &shop_id, customer)?))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(list))
}

/// `POST /proxy/wishlist` body `{"product_id"}`: `201` with the list when added, `200` when the
/// product was already in it.
pub async fn add_item(
    sf: Storefront,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    add_to_wishlist(&state, sf.shop.id.clone(), customer, &body).await
}

/// Adds a product to the shopper's list: `201` with the list when added, `200` when it was
/// already there.
pub(crate) async fn add_to_wishlist(
    state: &AppState,
    shop_id: String,
    customer: i64,
    body: &Value,
) -> AppResult<HttpResponse> {
    let product_id = wishlist::parse_add(body).map_err(AppError::validation)?;
    let shop = shop_id.clone();
    let (added, list) = state
        .db
        .run_write(move |c| {
            let added = wishlist::add(c, &shop_id, customer, product_id)?;
            Ok((added, wishlist::list(c, &shop_id, customer)?))
        })
        .await?;
    // The wishlist leads their `for_you`.
    state.recs.shopper_changed(&shop, customer);
    let resp = if added {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(no_store(resp).json(list))
}

/// `DELETE /proxy/wishlist/{product_id}`: `204`, also when the product was not listed.
pub async fn remove_item(
    sf: Storefront,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    remove_from_wishlist(&state, sf.shop.id.clone(), customer, &path).await
}

/// Removes one product from the shopper's list: `204`, also when it was not listed.
pub(crate) async fn remove_from_wishlist(
    state: &AppState,
    shop_id: String,
    customer: i64,
    product: &str,
) -> AppResult<HttpResponse> {
    let product_id = product
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_product_id",
                "The product id must be a positive integer.",
            )
        })?;
    let shop = shop_id.clone();
    state
        .db
        .run_write(move |c| Ok(wishlist::remove(c, &shop_id, customer, product_id)?))
        .await?;
    state.recs.shopper_changed(&shop, customer);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /proxy/wishlist/merge` body `{"product_ids":[…]}`: the browser's anonymous list, sent
/// once after login.
pub async fn merge(
    sf: Storefront,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let ids = wishlist::parse_merge(&body).map_err(AppError::validation)?;
    let shop_id = sf.shop.id.clone();
    let out = state
        .db
        .run_write(move |c| wishlist::merge(c, &shop_id, customer, &ids))
        .await?;
    state.recs.shopper_changed(&sf.shop.id, customer);
    Ok(no_store(HttpResponse::Ok()).json(out))
}
