//! `GET /api/analytics/daily?days=30`: `GET /api/analytics`'s counts per UTC day and intent,
//! for the admin's charts and funnel (`days` 1–366, default 30).

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::session::ShopSession;
use crate::admin_data::analytics::{self, MAX_DAYS};
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;

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
        .run(move |c| Ok(analytics::daily(c, &shop_id, days)?))
        .await?;
    Ok(HttpResponse::Ok().json(out))
}
