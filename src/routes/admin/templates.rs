//! `/api/templates`: personalization templates of the session's shop.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::personalization::{store, versions};
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page};
use crate::state::AppState;

pub async fn list_templates(
    session: ShopSession,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.time_cursor()?;
    let shop_id = session.shop.id.clone();
    let rows = state
        .db
        .run(move |c| store::list(c, &shop_id, after, limit + 1))
        .await?;
    Ok(HttpResponse::Ok().json(page(rows, limit, |t: &_| &t.id)))
}

pub async fn get_template(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let t = state.db.run(move |c| store::get(c, &shop_id, &id)).await?;
    Ok(HttpResponse::Ok().json(t))
}

pub async fn create_template(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = store::parse_input(&body).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let t = state
        .db
        .run(move |c| store::create(c, &shop_id, input))
        .await?;
    // Written: this instance's storefront sees it at once, others within the cache TTL.
    state.forget_product_templates(&session.shop.id);
    // The products' price tables for checkout: committed with the save, written now.
    crate::jobs::checkout::sync_soon(&state, &session.shop.id);
    Ok(HttpResponse::Created().json(t))
}

pub async fn update_template(
    session: ShopSession,
    id: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = store::parse_input(&body).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let t = state
        .db
        .run(move |c| store::update(c, &shop_id, &id, input))
        .await?;
    // Written: this instance's storefront sees it at once, others within the cache TTL.
    state.forget_product_templates(&session.shop.id);
    // The products' price tables for checkout: committed with the save, written now.
    crate::jobs::checkout::sync_soon(&state, &session.shop.id);
    Ok(HttpResponse::Ok().json(t))
}

pub async fn delete_template(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    state
        .db
        .run(move |c| store::delete(c, &shop_id, &id))
        .await?;
    // Written: this instance's storefront sees it at once, others within the cache TTL.
    state.forget_product_templates(&session.shop.id);
    // The products' price tables for checkout: committed with the save, written now.
    crate::jobs::checkout::sync_soon(&state, &session.shop.id);
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/personalization/settings`
pub async fn get_settings(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let s = state
        .db
        .run(move |c| Ok(crate::personalization::policy::get(c, &shop_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// `PUT /api/personalization/settings` body `{"blocked_words"?:[…], "fee_variant_id"?}`
pub async fn put_settings(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let change = crate::personalization::policy::parse(&body).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let st = state.clone();
    let s = state
        .db
        .run_write(move |c| {
            use crate::personalization::policy;
            let before = policy::get(c, &shop_id)?.fee_variant();
            let saved = policy::put(c, &shop_id, change)?;
            let after = saved.fee_variant();
            if before != after {
                // The fee product is never recommended: the old one may be again, the new one
                // leaves every list.
                let mut ids = Vec::new();
                for v in [before, after].into_iter().flatten() {
                    ids.extend(crate::products::product_of_variant(c, &shop_id, v)?);
                }
                st.recs.catalogue_changed(c, &shop_id, &ids)?;
            }
            Ok(saved)
        })
        .await?;
    state.forget_personalization_policy(&session.shop.id);
    crate::jobs::checkout::sync_soon(&state, &session.shop.id);
    Ok(HttpResponse::Ok().json(s))
}

/// `GET /api/templates/{id}/versions`: every published version, newest first, with the orders
/// and lines that pinned it (also for a deleted template: its orders remain).
pub async fn versions(
    session: ShopSession,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let id = id.into_inner();
    let items = state
        .db
        .run(move |c| Ok(versions::history(c, &shop_id, &id)?))
        .await?
        .ok_or_else(|| AppError::not_found("No such template."))?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": null })))
}

/// `GET /api/checkout`: the setup checklist of charging the add-on at checkout (the shop's cart
/// transform, and which products' price tables the store has).
pub async fn checkout_status(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let status = state
        .db
        .run(move |c| Ok(crate::personalization::checkout::status(c, &shop_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// `POST /api/checkout/retry`: tries the cart transform and every waiting price table again now
/// (after the merchant deployed the function or fixed the store), and answers the checklist.
pub async fn checkout_retry(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    state
        .db
        .run_write(move |c| Ok(crate::personalization::checkout::retry_now(c, &shop_id)?))
        .await?;
    crate::jobs::checkout::ensure_cart_transform(&state, &session.shop).await;
    crate::jobs::checkout::sync_due(&state, Some(session.shop.id.clone())).await?;
    let shop_id = session.shop.id.clone();
    let status = state
        .db
        .run(move |c| Ok(crate::personalization::checkout::status(c, &shop_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(status))
}
