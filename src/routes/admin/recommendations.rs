//! The merchant's steering of recommendations (pins, exclusions), the explain view and the
//! analytics per intent.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::write_tx;
use crate::error::{AppError, AppResult, FieldError};
use crate::recommendations::daily::{self, MAX_DAYS};
use crate::recommendations::steering;
use crate::routes::extractors::ShopSession;
use crate::routes::proxy::recommendations::{RecQuery, parse};
use crate::state::AppState;

/// `GET /api/recommendations/settings`
pub async fn get_settings(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let s = state
        .db
        .run(move |c| Ok(steering::load(c, &shop_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(s.to_json()))
}

/// `PUT /api/recommendations/settings`: members present replace the stored ones.
pub async fn put_settings(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let body = body.into_inner();
    let st = state.clone();
    let saved = state
        .db
        .run_write(move |c| {
            write_tx(c, |c| {
                let current = steering::load(c, &shop_id)?;
                let next = steering::parse_update(&body, &current).map_err(AppError::validation)?;
                steering::save(c, &shop_id, &next)?;
                st.recs.model_reset(c, &shop_id)?;
                Ok(next)
            })
        })
        .await?;
    // This instance serves the new settings at once, others within the cache TTL.
    state.recs.forget(&session.shop.id);
    Ok(HttpResponse::Ok().json(saved.to_json()))
}

#[derive(Deserialize)]
pub struct ExplainQuery {
    intent: Option<String>,
    product_id: Option<String>,
    limit: Option<String>,
    product_ids: Option<String>,
    session_id: Option<String>,
}

/// `GET /api/recommendations/explain?product_id=&intent=`: the list a new (anonymous) shopper
/// would get, with the reasons of each product (`cart` takes `product_ids`, `recently_viewed`
/// a `session_id`).
pub async fn explain(
    session: ShopSession,
    query: web::Query<ExplainQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = RecQuery {
        intent: query.intent.clone(),
        product_id: query.product_id.clone(),
        limit: query.limit.clone(),
        product_ids: query.product_ids.clone(),
        session_id: query.session_id.clone(),
    };
    let p = parse(&q)?;
    let shop_id = session.shop.id.clone();
    let own = crate::routes::proxy::rec_intents::answer(&state, &shop_id, &p, None, true).await?;
    let st = state.clone();
    let (intent, product, limit) = (p.intent, p.product, p.limit);
    let list = match own {
        Some(list) => list,
        None => {
            state
                .db
                .run(move |c| {
                    Ok(st
                        .recs
                        .recommend(c, &shop_id, intent, product, None, limit, true)?)
                })
                .await?
        }
    };
    let products: Vec<Value> = list
        .into_iter()
        .map(|r| json!({"product_id": r.product_id.to_string(), "score": r.score, "reasons": r.reasons}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "intent": p.intent.as_str(),
        "product_id": p.product.map(|p| p.to_string()),
        "products": products,
    })))
}

#[derive(Deserialize)]
pub struct AnalyticsQuery {
    days: Option<String>,
}

/// `GET /api/analytics[?days=30]`
pub async fn analytics(
    session: ShopSession,
    query: web::Query<AnalyticsQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let days = match query.days.as_deref() {
        None | Some("") => 30,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| {
                AppError::validation(vec![FieldError::new(
                    "days",
                    "out_of_range",
                    "days must be an integer from 1 to 365",
                )])
            })?,
    };
    let shop_id = session.shop.id.clone();
    let report = state
        .db
        .run(move |c| {
            let mut report = crate::recommendations::analytics::report(c, &shop_id, days)?;
            // Every experiment that ran, with its arms and the difference B − A (its own
            // period, not `days`).
            report["experiments"] = Value::Array(crate::recommendations::experiments::report::all(
                c, &shop_id,
            )?);
            Ok(report)
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /api/analytics/daily?days=30`: the counts of `GET /api/analytics` per UTC day and
/// intent, for the admin's charts and funnel (`days` 1–366, default 30).
#[derive(Debug, Deserialize)]
pub struct DailyQuery {
    days: Option<String>,
}

pub async fn daily(
    session: ShopSession,
    q: web::Query<DailyQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let days = match q.days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => 30,
        Some(raw) => match raw.parse::<i64>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => d,
            _ => {
                return Err(AppError::validation(vec![FieldError::new(
                    "days",
                    "out_of_range",
                    format!("days must be a whole number from 1 to {MAX_DAYS}."),
                )]));
            }
        },
    };
    let shop_id = session.shop.id.clone();
    let out = state
        .db
        .run(move |c| daily::daily(c, &shop_id, days))
        .await?;
    Ok(HttpResponse::Ok().json(out))
}
