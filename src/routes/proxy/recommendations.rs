//! Recommendation widgets on the storefront: lists per intent, and the events (views, clicks,
//! add-to-carts) they learn from and are measured by.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use crate::db::write_tx;
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems};
use crate::recommendations::model::{EventKind, NewEvent, record_event};
use crate::recommendations::serve::{DEFAULT_LIMIT, Intent, MAX_LIMIT};
use crate::routes::extractors::Storefront;
use crate::routes::proxy::experiments;
use crate::shopify::payload::parse_id;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct RecQuery {
    pub(crate) intent: Option<String>,
    pub(crate) product_id: Option<String>,
    pub(crate) limit: Option<String>,
    /// `cart`: the cart's product ids (`rec_intents::parse_cart`).
    pub(crate) product_ids: Option<String>,
    /// `recently_viewed`: the widget's session.
    pub(crate) session_id: Option<String>,
}

pub(crate) struct Parsed {
    pub(crate) intent: Intent,
    pub(crate) product: Option<i64>,
    pub(crate) limit: usize,
    pub(crate) cart: Vec<i64>,
    pub(crate) session: Option<String>,
}

/// `intent` is required and one of the six; `product_id` a positive integer, required for
/// `related` and `complementary`; `limit` an integer ≥ 1 (default 10), values above 50 are
/// clamped to 50. Anything else is a `422` naming each bad parameter; a malformed
/// `product_ids` or `session_id` is a `400` naming it.
pub(crate) fn parse(q: &RecQuery) -> AppResult<Parsed> {
    let cart = super::rec_intents::parse_cart(q.product_ids.as_deref())?;
    let session = super::rec_intents::parse_session(q.session_id.as_deref())?;
    let mut errors = Vec::new();
    let intent = match q.intent.as_deref() {
        None | Some("") => {
            errors.push(FieldError::new(
                "intent",
                "required",
                format!("intent is required: {}", Intent::NAMES),
            ));
            None
        }
        Some(s) => {
            let i = Intent::parse(s);
            if i.is_none() {
                errors.push(FieldError::new(
                    "intent",
                    "unknown_intent",
                    format!("intent must be {}", Intent::NAMES),
                ));
            }
            i
        }
    };
    let product = match q.product_id.as_deref() {
        None | Some("") => None,
        Some(s) => match s.trim().parse::<i64>().ok().filter(|id| *id > 0) {
            Some(id) => Some(id),
            None => {
                errors.push(FieldError::new(
                    "product_id",
                    "invalid_id",
                    "product_id must be a product id (a positive integer)",
                ));
                None
            }
        },
    };
    if product.is_none()
        && q.product_id.as_deref().unwrap_or("").is_empty()
        && intent.is_some_and(Intent::needs_product)
    {
        errors.push(FieldError::new(
            "product_id",
            "required",
            "product_id is required for related and complementary",
        ));
    }
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if n >= 1 => (n.min(MAX_LIMIT as i64)) as usize,
            Ok(_) => {
                errors.push(FieldError::new(
                    "limit",
                    "out_of_range",
                    format!("limit must be at least 1 (values above {MAX_LIMIT} are clamped)"),
                ));
                DEFAULT_LIMIT
            }
            Err(_) => {
                errors.push(FieldError::new(
                    "limit",
                    "invalid_number",
                    "limit must be an integer",
                ));
                DEFAULT_LIMIT
            }
        },
    };
    match intent {
        Some(intent) if errors.is_empty() => Ok(Parsed {
            intent,
            product,
            limit,
            cart,
            session,
        }),
        _ => Err(AppError::validation(errors)),
    }
}

/// `GET /proxy/recommendations?intent=&product_id=&limit=`
pub async fn recommendations(
    sf: Storefront,
    query: web::Query<RecQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let p = parse(&query)?;
    let shop_id = sf.shop.id.clone();
    let shop_id_for_cards = shop_id.clone();
    let customer = sf.customer_id;
    // The intents with inputs of their own (the cart, the session's views) first; then a running
    // experiment on the slot decides the strategy by the shopper's arm.
    let own = super::rec_intents::answer(&state, &shop_id, &p, customer, false).await?;
    let assigned = match own {
        Some(_) => None,
        None => {
            experiments::assign(&state, &shop_id, p.intent, customer, p.session.as_deref()).await?
        }
    };
    let arm_list =
        experiments::arm_list(&state, &shop_id, assigned.as_ref(), p.product, p.limit).await?;
    let list = match own.or(arm_list).or_else(|| {
        state
            .recs
            .cached(&shop_id, p.intent, p.product, customer, p.limit)
    }) {
        Some(list) => list,
        None => {
            let st = state.clone();
            state
                .db
                .run(move |c| {
                    Ok(st
                        .recs
                        .recommend(c, &shop_id, p.intent, p.product, customer, p.limit, false)?)
                })
                .await?
        }
    };
    // Beyond the contract's `product_id` and `score`: what a widget needs to draw a card, so
    // the storefront makes one request, not one per product (cached per instance like the lists).
    let ids: Vec<i64> = list.iter().map(|r| r.product_id).collect();
    let cards = state.product_cards(&shop_id_for_cards, &ids).await?;
    let products: Vec<RecOut> = list
        .iter()
        .map(|r| {
            let card = cards.get(&r.product_id);
            RecOut {
                product_id: r.product_id,
                score: r.score,
                title: card.map(|c| c.title.as_str()),
                handle: card.map(|c| c.handle.as_str()),
                price_cents: card.and_then(|c| c.price_min_cents),
                image_url: card.and_then(|c| c.image_url.as_deref()),
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        // An arm's answer is never kept by the browser: a start or stop must not be hidden
        // behind an earlier arm's (or the ordinary) list.
        .insert_header((
            "Cache-Control",
            if assigned.is_some() {
                "private, no-store"
            } else {
                "private, max-age=5"
            },
        ))
        .json(RecsOut {
            intent: p.intent.as_str(),
            products,
            experiment: assigned.as_ref().map(Into::into),
        }))
}

/// RECOMMENDATIONS (§4), serialized without an intermediate `Value`.
#[derive(serde::Serialize)]
struct RecsOut<'a> {
    intent: &'static str,
    products: Vec<RecOut<'a>>,
    /// Which arm of the slot's running experiment the shopper is in (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<experiments::ExperimentOut>,
}

#[derive(serde::Serialize)]
struct RecOut<'a> {
    #[serde(serialize_with = "id_string")]
    product_id: i64,
    score: f64,
    title: Option<&'a str>,
    handle: Option<&'a str>,
    price_cents: Option<i64>,
    image_url: Option<&'a str>,
}

/// Shopify ids travel as strings (§4: `"product_id": "…"`).
fn id_string<S: serde::Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// Largest accepted event body.
pub const MAX_EVENT_BYTES: usize = 4 * 1024;
/// Events accepted per storefront session and minute.
pub const EVENTS_PER_MINUTE: u32 = 120;

fn valid_session(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `(type, product, session, intent, source product)`
type EventIn = (EventKind, i64, String, Option<String>, Option<i64>);

/// A `POST /proxy/events` body as sent; members the widget does not send are ignored (older
/// widgets in cached themes may send more).
#[derive(Deserialize, Default)]
#[serde(default)]
struct EventBody {
    #[serde(rename = "type")]
    kind: Lenient<String>,
    product_id: Lenient<Value>,
    session_id: Lenient<String>,
    intent: Lenient<String>,
    source_product_id: Lenient<Value>,
}

fn parse_event(body: &Value) -> Result<EventIn, Vec<FieldError>> {
    let b: EventBody = input::object(body, "the body must be a JSON object")?;
    let mut p = Problems::new();
    let kind = match b.kind.ok() {
        Some(s) => EventKind::parse(&s).or_else(|| {
            p.push(
                "type",
                "unknown_type",
                "type must be view, add_to_cart or click",
            );
            None
        }),
        None => {
            p.push(
                "type",
                "required",
                "type is required: view, add_to_cart or click",
            );
            None
        }
    };
    let product = match b.product_id.raw() {
        Some(v) => parse_id(v).filter(|id| *id > 0).or_else(|| {
            p.push(
                "product_id",
                "invalid_id",
                "product_id must be a product id (a positive integer, as a string or a number)",
            );
            None
        }),
        None => {
            p.push("product_id", "required", "product_id is required");
            None
        }
    };
    let session = b.session_id.ok().filter(|s| valid_session(s));
    if session.is_none() {
        p.push(
            "session_id",
            "invalid_session",
            "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
        );
    }
    let intent = match b.intent {
        Lenient::Absent | Lenient::Null => None,
        other => match other.ok().as_deref().and_then(Intent::parse) {
            Some(i) => Some(i.as_str().to_owned()),
            None => {
                p.push(
                    "intent",
                    "unknown_intent",
                    format!("intent must be {}", Intent::NAMES),
                );
                None
            }
        },
    };
    let source = match b.source_product_id {
        Lenient::Absent | Lenient::Null => None,
        other => {
            let id = other.raw().and_then(parse_id).filter(|id| *id > 0);
            if id.is_none() {
                p.push(
                    "source_product_id",
                    "invalid_id",
                    "source_product_id must be a product id",
                );
            }
            id
        }
    };
    match (kind, product, session) {
        (Some(k), Some(pr), Some(s)) => p.finish((k, pr, s, intent, source)),
        _ => Err(p.into_errors()),
    }
}

/// `POST /proxy/events` body `{"type","product_id","session_id"}` plus, from the widget,
/// optional `intent`, `source_product_id` and `experiment` (`{"id","arm"}`) → `204`.
pub async fn events(
    sf: Storefront,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(AppError::payload_too_large(MAX_EVENT_BYTES));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| AppError::bad_request("invalid_json", "The body is not valid JSON."))?;
    let ((kind, product_id, session_id, intent, source_product_id), tag) = match (
        parse_event(&value),
        experiments::parse_tag(value.get("experiment")),
    ) {
        (Ok(ev), Ok(tag)) => (ev, tag),
        (Err(mut a), Err(b)) => {
            a.extend(b);
            return Err(AppError::validation(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(AppError::validation(e)),
    };
    // Counted per visitor (the signed customer, else the address), not per `session_id`: the
    // session id is the client's choice, and rotating it must not buy more events.
    if !state
        .visitor_events
        .allow(&state.db, &sf.client.keyed(&sf.shop.id), EVENTS_PER_MINUTE)
        .await
    {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("At most {EVENTS_PER_MINUTE} events per visitor and minute."),
        ));
    }
    let mut ev = NewEvent {
        shop_id: sf.shop.id.clone(),
        session_id,
        customer_id: sf.customer_id,
        kind,
        product_id,
        intent,
        source_product_id,
        experiment: None,
    };
    state
        .db
        .run_write(move |c| {
            Ok(write_tx(c, |c| {
                if let Some((id, arm)) = &tag {
                    ev.experiment = crate::recommendations::experiments::event_tag(
                        c,
                        &ev.shop_id,
                        id,
                        *arm,
                        ev.customer_id,
                        &ev.session_id,
                    )?;
                }
                record_event(c, &ev)
            })?)
        })
        .await?;
    // What they view and cart feeds their `for_you`.
    if let Some(customer) = sf.customer_id {
        state.recs.shopper_changed(&sf.shop.id, customer);
    }
    Ok(HttpResponse::NoContent().finish())
}
