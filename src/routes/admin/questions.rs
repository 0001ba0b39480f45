//! The merchant's zero-party questions: define, edit, order, switch off or delete them, and
//! see how shoppers answered (counts and shares per option; never who).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::preferences::questions::{self, QuestionOut, answers};
use crate::routes::extractors::ShopSession;
use crate::state::AppState;

/// `/api` routes, registered inside the API scope (session token, 1 MiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/questions", web::get().to(list))
        .route("/questions", web::post().to(create))
        .route("/questions/{key}", web::get().to(get_one))
        .route("/questions/{key}", web::put().to(update))
        .route("/questions/{key}", web::delete().to(delete))
        .route("/questions/{key}/distribution", web::get().to(distribution));
}

fn with_respondents(q: QuestionOut, respondents: i64) -> Value {
    let mut v = serde_json::to_value(q).unwrap_or_default();
    v["respondents"] = json!(respondents);
    v
}

/// `GET /api/questions`: every question in the merchant's order (at most 50, so one page).
pub async fn list(session: ShopSession, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let items = state
        .db
        .run(move |c| {
            let counts = answers::respondents(c, &shop_id)?;
            Ok(questions::list(c, &shop_id)?
                .into_iter()
                .map(|q| {
                    let n = counts.get(&q.key).copied().unwrap_or(0);
                    with_respondents(q.into(), n)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": null })))
}

/// `POST /api/questions` → `201` QUESTION.
pub async fn create(
    session: ShopSession,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = questions::parse(&body, true).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let q = state
        .db
        .run_write(move |c| questions::create(c, &shop_id, input))
        .await?;
    Ok(HttpResponse::Created().json(with_respondents(q.into(), 0)))
}

/// `GET /api/questions/{key}`
pub async fn get_one(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let key = path.into_inner();
    let q = state
        .db
        .run(move |c| {
            let q = questions::find(c, &shop_id, &key)?
                .ok_or_else(|| AppError::not_found("No such question."))?;
            let n = answers::respondents(c, &shop_id)?
                .get(&key)
                .copied()
                .unwrap_or(0);
            Ok(with_respondents(q.into(), n))
        })
        .await?;
    Ok(HttpResponse::Ok().json(q))
}

/// `PUT /api/questions/{key}`: members present replace the stored ones; `version` goes up.
pub async fn update(
    session: ShopSession,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let input = questions::parse(&body, false).map_err(AppError::validation)?;
    let shop_id = session.shop.id.clone();
    let key = path.into_inner();
    let q = state
        .db
        .run_write(move |c| {
            let q = questions::update(c, &shop_id, &key, input)?;
            let n = answers::respondents(c, &shop_id)?
                .get(&key)
                .copied()
                .unwrap_or(0);
            Ok(with_respondents(q.into(), n))
        })
        .await?;
    Ok(HttpResponse::Ok().json(q))
}

/// `DELETE /api/questions/{key}` → `204`; `404` when there is no such question.
pub async fn delete(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let key = path.into_inner();
    let found = state
        .db
        .run_write(move |c| questions::delete(c, &shop_id, &key))
        .await?;
    if !found {
        return Err(AppError::not_found("No such question."));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/questions/{key}/distribution`
pub async fn distribution(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let key = path.into_inner();
    let d = state
        .db
        .run(move |c| answers::distribution(c, &shop_id, &key))
        .await?;
    Ok(HttpResponse::Ok().json(d))
}
