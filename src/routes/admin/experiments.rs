//! The merchant's recommendation experiments: define one on a slot, start it, stop it, and read
//! its results (the arms' figures and the difference B − A with its 95 % interval).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::recommendations::experiments::{self, report};
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, time_cursor};
use crate::state::AppState;

/// `/api` routes, registered inside the API scope (session token, 1 MiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/experiments", web::get().to(list))
        .route("/experiments", web::post().to(create))
        .route("/experiments/{id}", web::get().to(get_one))
        .route("/experiments/{id}", web::patch().to(update));
}

/// `GET /api/experiments?cursor=&limit=`: newest first, EXPERIMENT without results.
pub async fn list(
    session: ShopSession,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.time_cursor()?;
    let shop_id = session.shop.id.clone();
    let mut rows = state
        .db
        .run(move |c| Ok(experiments::list(c, &shop_id, after, limit + 1)?))
        .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|e| time_cursor(e.created_at, &e.id))
    } else {
        None
    };
    let items: Vec<Value> = rows.iter().map(|e| e.to_json()).collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"items": items, "next_cursor": next})))
}

/// `POST /api/experiments` → `201` EXPERIMENT (a draft, or running with `"state":"running"`).
pub async fn create(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = experiments::parse(&body, true).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let e = state
        .db
        .run_write(move |c| experiments::create(c, &shop_id, input))
        .await?;
    state.experiments.forget(&session.shop.id);
    let mut v = e.to_json();
    v["results"] = Value::Null;
    Ok(HttpResponse::Created().json(v))
}

/// `GET /api/experiments/{id}`: EXPERIMENT with its `results` (`null` for a draft).
pub async fn get_one(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let id = path.into_inner();
    let v = state
        .db
        .run(move |c| {
            let e = experiments::find(c, &shop_id, &id)?
                .ok_or_else(|| AppError::not_found("No such experiment."))?;
            let mut v = e.to_json();
            v["results"] = report::results(c, &e)?;
            Ok(v)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(v))
}

/// `PATCH /api/experiments/{id}`: `name` at any time; `intent` and `arms` while a draft;
/// `state` `running` (start) or `stopped` (stop; the results stay).
pub async fn update(
    session: ShopSession,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = experiments::parse(&body, false).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let id = path.into_inner();
    let v = state
        .db
        .run_write(move |c| {
            let e = experiments::update(c, &shop_id, &id, input)?;
            let mut v = e.to_json();
            v["results"] = report::results(c, &e)?;
            Ok(v)
        })
        .await?;
    // This instance serves the new state at once, others within a few seconds.
    state.experiments.forget(&session.shop.id);
    Ok(HttpResponse::Ok().json(v))
}
