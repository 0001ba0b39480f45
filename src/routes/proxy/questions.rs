//! The merchant's questions on the storefront: the quiz (anyone may read the questions), the
//! logged-in shopper's answers, and the merge of the answers an anonymous visitor gave in their
//! browser.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::error::{AppError, AppResult};
use crate::preferences::Source;
use crate::preferences::questions::answers;
use crate::routes::extractors::Storefront;
use crate::state::AppState;

/// `/proxy` routes, registered inside the proxy scope (signature, 256 KiB body limit).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/questions", web::get().to(get_quiz))
        .route("/questions/merge", web::post().to(merge))
        .route("/questions/{key}/answer", web::put().to(put_answer))
        .route("/questions/{key}/answer", web::delete().to(delete_answer));
}

/// The logged-in customer, or `401` (the storefront keeps an anonymous visitor's answers in the
/// browser until they log in).
fn customer(sf: &Storefront) -> AppResult<i64> {
    sf.customer_id.ok_or_else(|| {
        AppError::unauthorized(
            "not_logged_in",
            "Answers are kept for a logged-in customer; the storefront keeps an anonymous visitor's answers in the browser.",
        )
    })
}

fn no_store(mut resp: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    resp.insert_header(("Cache-Control", "no-store"));
    resp
}

/// `GET /proxy/questions`: the active questions, the shopper's answers and where to resume.
pub async fn get_quiz(sf: Storefront, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let shop_id = sf.shop.id.clone();
    let customer = sf.customer_id;
    let quiz = state
        .db
        .run(move |c| Ok(answers::quiz(c, &shop_id, customer)?))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(quiz))
}

/// `PUT /proxy/questions/{key}/answer` body `{"options":[KEY…]}` → `200` the quiz as stored.
pub async fn put_answer(
    sf: Storefront,
    path: web::Path<String>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let options = answers::parse_answer(&body).map_err(AppError::validation)?;
    let shop_id = sf.shop.id.clone();
    let key = path.into_inner();
    let quiz = state
        .db
        .run_write(move |c| {
            answers::answer(c, &shop_id, customer, &key, &options, Source::Storefront)?;
            Ok(answers::quiz(c, &shop_id, Some(customer))?)
        })
        .await?;
    // Answers are stated tastes: their `for_you` reflects them at once.
    state.recs.shopper_changed(&sf.shop.id, customer);
    Ok(no_store(HttpResponse::Ok()).json(quiz))
}

/// `DELETE /proxy/questions/{key}/answer` → `204`, also when there was no answer.
pub async fn delete_answer(
    sf: Storefront,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let shop_id = sf.shop.id.clone();
    let key = path.into_inner();
    state
        .db
        .run_write(move |c| answers::clear(c, &shop_id, customer, &key, Source::Storefront))
        .await?;
    state.recs.shopper_changed(&sf.shop.id, customer);
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /proxy/questions/merge` body `{"answers":{QUESTION:[OPTION…]}}`: the browser's
/// answers, sent once after login.
pub async fn merge(
    sf: Storefront,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let customer = customer(&sf)?;
    let given = answers::parse_merge(&body).map_err(AppError::validation)?;
    let shop_id = sf.shop.id.clone();
    let (skipped, quiz) = state
        .db
        .run_write(move |c| {
            let skipped = answers::merge(c, &shop_id, customer, &given)?;
            Ok((skipped, answers::quiz(c, &shop_id, Some(customer))?))
        })
        .await?;
    state.recs.shopper_changed(&sf.shop.id, customer);
    let mut out = serde_json::to_value(quiz).unwrap_or_default();
    out["skipped"] = json!(skipped);
    Ok(no_store(HttpResponse::Ok()).json(out))
}
