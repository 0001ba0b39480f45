//! The production queue for the admin: `GET /api/production/lines` (personalized lines with
//! filters), `GET /api/production/lines/{line_item_id}` (one line, for the print view) and its
//! `preview.svg` (the pinned version's preview drawn with the line's values).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use time::{Date, PrimitiveDateTime, Time};

use crate::error::{AppError, AppResult, FieldError};
use crate::orders::queue::{self as production, Filter, Verification};
use crate::orders::{STATUS_DONE, STATUS_IN_PRODUCTION, STATUS_PENDING};
use crate::routes::extractors::ShopSession;
use crate::routes::pagination::{PageQuery, page};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    verification: Option<String>,
    product_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn date(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<Date> {
    let d = crate::personalization::template::parse_date(raw);
    if d.is_none() {
        errors.push(FieldError::new(
            field,
            "invalid_date",
            format!("{field} must be a date as YYYY-MM-DD."),
        ));
    }
    d
}

fn parse_filter(q: &QueueQuery) -> AppResult<Filter> {
    let mut errors = Vec::new();
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut f = Filter::default();
    if let Some(s) = nonempty(&q.status) {
        if [STATUS_PENDING, STATUS_IN_PRODUCTION, STATUS_DONE].contains(&s.as_str()) {
            f.status = Some(s);
        } else {
            errors.push(FieldError::new(
                "status",
                "invalid_value",
                "status must be pending, in_production or done.",
            ));
        }
    }
    if let Some(v) = nonempty(&q.verification) {
        f.verification = match v.as_str() {
            "verified" => Some(Verification::Verified),
            "failed" => Some(Verification::Failed),
            "flagged" => Some(Verification::Flagged),
            _ => {
                errors.push(FieldError::new(
                    "verification",
                    "invalid_value",
                    "verification must be verified, failed or flagged.",
                ));
                None
            }
        };
    }
    if let Some(p) = nonempty(&q.product_id) {
        match p.parse::<i64>() {
            Ok(id) if id > 0 => f.product_id = Some(id),
            _ => errors.push(FieldError::new(
                "product_id",
                "invalid_id",
                "product_id must be a positive integer.",
            )),
        }
    }
    let from = nonempty(&q.from).and_then(|d| date(&d, "from", &mut errors));
    let to = nonempty(&q.to).and_then(|d| date(&d, "to", &mut errors));
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        errors.push(FieldError::new(
            "to",
            "before_from",
            "to must not be before from.",
        ));
    }
    f.from = from.map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT));
    // `to` is inclusive: the whole day.
    f.until = to
        .and_then(|d| d.next_day())
        .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT));
    if errors.is_empty() {
        Ok(f)
    } else {
        Err(AppError::validation(errors))
    }
}

pub async fn list(
    session: ShopSession,
    q: web::Query<QueueQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let filter = parse_filter(&q)?;
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
        .run(move |c| Ok(production::queue(c, &shop_id, &filter, after, limit + 1)?))
        .await?;
    Ok(
        HttpResponse::Ok().json(page(rows, limit, |l: &production::QueueLine| {
            &l.line.line_item_id
        })),
    )
}

fn line_id(raw: &str) -> AppResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AppError::bad_request("invalid_path", "line_item_id must be a positive integer.")
        })
}

async fn load(
    session: &ShopSession,
    state: &AppState,
    raw: &str,
) -> AppResult<production::QueueLine> {
    let id = line_id(raw)?;
    let shop_id = session.shop.id.clone();
    state
        .db
        .run(move |c| Ok(production::line(c, &shop_id, id)?))
        .await?
        .ok_or_else(|| AppError::not_found("No personalized line with this id."))
}

pub async fn one(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let line = load(&session, &state, &path).await?;
    Ok(HttpResponse::Ok().json(line))
}

pub async fn preview(
    session: ShopSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let line = load(&session, &state, &path).await?;
    let (Some(template_id), Some(version)) = (line.template_id.clone(), line.line.template_version)
    else {
        return Err(AppError::not_found("This line pinned no template version."));
    };
    let shop_id = session.shop.id.clone();
    let tid = template_id.clone();
    let fields = state
        .db
        .run(move |c| {
            Ok(crate::personalization::store::version(
                c, &shop_id, &tid, version,
            )?)
        })
        .await?
        .ok_or_else(|| AppError::not_found("The pinned template version is gone."))?;
    let values = production::values_from_properties(&fields, &line.line.properties);
    let compiled = state.compiled_template(&template_id, version, fields)?;
    let svg = crate::personalization::preview::render(&compiled, &values);
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(svg))
}
