//! A collection page's grid in the shopper's order (the theme extension's collection sort
//! moves the theme's own product cards into this order).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::recommendations::serve::Shopper;
use crate::routes::extractors::Storefront;
use crate::state::AppState;

/// Products one request may ask to re-rank (a grid page shows far fewer).
pub const MAX_PRODUCT_IDS: usize = 250;

#[derive(Deserialize)]
pub struct SortQuery {
    product_ids: Option<String>,
    session_id: Option<String>,
}

fn positive_id(s: &str) -> Option<i64> {
    let s = s.trim();
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse::<i64>().ok())
        .flatten()
        .filter(|id| *id > 0)
}

/// `product_ids=1,2,3`: at most [`MAX_PRODUCT_IDS`] positive ids; absent or empty is the whole
/// collection.
fn parse_product_ids(raw: Option<&str>) -> AppResult<Option<Vec<i64>>> {
    let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let parts: Vec<&str> = raw.split(',').collect();
    if parts.len() > MAX_PRODUCT_IDS {
        return Err(AppError::bad_request(
            "too_many_products",
            format!("product_ids lists at most {MAX_PRODUCT_IDS} products."),
        ));
    }
    parts
        .iter()
        .map(|p| positive_id(p))
        .collect::<Option<Vec<i64>>>()
        .map(Some)
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_product_ids",
                "product_ids must be product ids (positive integers) separated by commas.",
            )
        })
}

fn valid_session(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Serialize)]
struct SortOut {
    #[serde(serialize_with = "id_string")]
    collection_id: i64,
    personalized: bool,
    products: Vec<ProductOut>,
}

#[derive(Serialize)]
struct ProductOut {
    #[serde(serialize_with = "id_string")]
    product_id: i64,
    handle: Option<String>,
    score: f64,
}

/// Shopify ids travel as strings.
fn id_string<S: serde::Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// `GET /proxy/collections/{collection_id}/sort[?product_ids=1,2,3][&session_id=…]` →
/// `200 {"collection_id","personalized","products":[{"product_id","handle","score"}]}`;
/// `404` for a collection the shop does not have, `400` for a bad id or session.
pub async fn sort(
    sf: Storefront,
    path: web::Path<String>,
    query: web::Query<SortQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let collection_id = positive_id(&path).ok_or_else(|| {
        AppError::bad_request(
            "invalid_collection_id",
            "The collection id must be a positive integer.",
        )
    })?;
    let subset = parse_product_ids(query.product_ids.as_deref())?;
    let session = match query.session_id.as_deref() {
        None | Some("") => None,
        Some(s) if valid_session(s) => Some(s.to_owned()),
        Some(_) => {
            return Err(AppError::bad_request(
                "invalid_session",
                "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -.",
            ));
        }
    };
    let shop_id = sf.shop.id.clone();
    let customer = sf.customer_id;
    let st = state.clone();
    let sorted = state
        .db
        .run(move |c| {
            Ok(st.recs.sort_collection(
                c,
                &shop_id,
                collection_id,
                subset.as_deref(),
                Shopper {
                    customer,
                    session: session.as_deref(),
                },
            )?)
        })
        .await?
        .ok_or_else(|| AppError::not_found("No such collection."))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, max-age=5"))
        .json(SortOut {
            collection_id,
            personalized: sorted.personalized,
            products: sorted
                .products
                .into_iter()
                .map(|p| ProductOut {
                    product_id: p.product_id,
                    handle: p.handle,
                    score: p.score,
                })
                .collect(),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_ids_are_positive_integers_at_most_250() {
        assert_eq!(parse_product_ids(None).unwrap(), None);
        assert_eq!(parse_product_ids(Some("")).unwrap(), None);
        assert_eq!(
            parse_product_ids(Some("3, 1,2")).unwrap(),
            Some(vec![3, 1, 2])
        );
        for bad in ["1,,2", "0", "-1", "1e3", "x", "1,2,", "+4"] {
            assert!(parse_product_ids(Some(bad)).is_err(), "{bad}");
        }
        let many = (1..=251)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_product_ids(Some(&many)).is_err());
        let ok = (1..=250)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse_product_ids(Some(&ok)).unwrap().unwrap().len(), 250);
    }
}
