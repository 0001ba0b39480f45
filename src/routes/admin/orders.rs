//! `/api/orders`: synced orders with their personalization checks, production
//! status changes and the production CSV export.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient};
use crate::orders::{self, STATUS_DONE, STATUS_IN_PRODUCTION, STATUS_PENDING, StatusChange};
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct OrdersQuery {
    cursor: Option<String>,
    limit: Option<String>,
    personalized: Option<String>,
}

/// `GET /api/orders[?personalized=true]`, newest first.
pub async fn list_orders(
    session: ShopSession,
    query: web::Query<OrdersQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = query.into_inner();
    let personalized = match q.personalized.as_deref().map(str::trim) {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(AppError::validation(vec![FieldError::new(
                "personalized",
                "invalid_value",
                "personalized must be true or false.",
            )]));
        }
    };
    let paging = PageQuery {
        cursor: q.cursor,
        limit: q.limit,
    };
    let limit = paging.limit()?;
    let after = match paging.time_cursor()? {
        None => None,
        Some((at, id)) => Some((
            at,
            id.parse::<i64>().map_err(|_| {
                AppError::bad_request("invalid_cursor", "The cursor is not one this API returned.")
            })?,
        )),
    };
    let shop_id = session.shop.id.clone();
    let rows = state
        .db
        .run(move |c| Ok(orders::list(c, &shop_id, personalized, after, limit + 1)?))
        .await?;
    Ok(HttpResponse::Ok().json(page(rows, limit, |o: &orders::OrderOut| &o.order_id)))
}

fn shopify_id(raw: &str, what: &str) -> AppResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_path",
                format!("{what} must be a positive integer."),
            )
        })
}

/// A status change as sent; other members are ignored.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct StatusBody {
    status: Lenient<String>,
}

/// `PATCH /api/orders/{order_id}/items/{line_item_id}` body `{"status"}`.
pub async fn set_line_status(
    session: ShopSession,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let order_id = shopify_id(&path.0, "order_id")?;
    let line_item_id = shopify_id(&path.1, "line_item_id")?;
    let body: StatusBody =
        input::object(&body, "The body must be a JSON object.").map_err(AppError::validation)?;
    let status = match body.status {
        Lenient::Ok(s)
            if [STATUS_PENDING, STATUS_IN_PRODUCTION, STATUS_DONE].contains(&s.as_str()) =>
        {
            s
        }
        Lenient::Ok(_) => {
            return Err(AppError::validation(vec![FieldError::new(
                "status",
                "invalid_value",
                "status must be one of pending, in_production, done.",
            )]));
        }
        Lenient::Null | Lenient::Wrong(_) => {
            return Err(AppError::validation(vec![FieldError::new(
                "status",
                "invalid_type",
                "status must be a string.",
            )]));
        }
        Lenient::Absent => {
            return Err(AppError::validation(vec![FieldError::new(
                "status",
                "required",
                "status is required.",
            )]));
        }
    };
    let shop_id = session.shop.id.clone();
    let to = status.clone();
    let change = state
        .db
        .run_write(move |c| {
            Ok(orders::set_status(
                c,
                &shop_id,
                order_id,
                line_item_id,
                &to,
            )?)
        })
        .await?;
    match change {
        StatusChange::Changed(line) => Ok(HttpResponse::Ok().json(line)),
        StatusChange::NotFound => Err(AppError::not_found("No such line item in this shop's orders.")),
        StatusChange::NotPersonalized => Err(AppError::conflict(
            "not_personalized",
            "This line item carries no personalization, so it has no production status.",
        )),
        StatusChange::Illegal { from } => Err(AppError::conflict(
            "illegal_transition",
            format!("A line item goes pending → in_production → done; it cannot go from {from} to {status}."),
        )
        .with_extra("current_status", json!(from))),
    }
}

/// `GET /api/orders/export.csv`
pub async fn export_csv(
    session: ShopSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let shop_id = session.shop.id.clone();
    let body = state
        .db
        .run(move |c| {
            let lines = orders::personalized_lines(c, &shop_id)?;
            Ok(crate::orders::export::export(c, &shop_id, &lines)?)
        })
        .await?;
    let name = format!(
        "attachment; filename=\"atelier-production-{}.csv\"",
        session.shop.domain.trim_end_matches(".myshopify.com")
    );
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", name))
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}
