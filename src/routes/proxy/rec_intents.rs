//! The inputs of the `cart` and `recently_viewed` intents (`product_ids`, `session_id`) and
//! how their lists are served (`recommendations/serve/cart.rs`, `recently.rs`).

use actix_web::web;

use super::recommendations::Parsed;
use crate::error::{AppError, AppResult, FieldError};
use crate::recommendations::Rec;
use crate::recommendations::serve::{Intent, MAX_CART};
use crate::state::AppState;

/// A malformed parameter: `400`, naming it (also in `errors`, as a `422` would).
fn bad_parameter(field: &'static str, code: &'static str, message: String) -> AppError {
    let mut e = AppError::bad_request("invalid_parameter", format!("{field}: {message}"));
    e.errors = Some(vec![FieldError::new(field, code, message)]);
    e
}

/// `product_ids`: the cart's product ids, comma-separated decimal integers, in the cart's
/// order; duplicates are ignored (a product's variants share its id); at most [`MAX_CART`]
/// distinct ids; absent or empty is an empty cart.
pub(crate) fn parse_cart(raw: Option<&str>) -> AppResult<Vec<i64>> {
    let raw = raw.unwrap_or("").trim();
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<i64> = Vec::new();
    for (i, part) in raw.split(',').enumerate() {
        let part = part.trim();
        let id = (!part.is_empty() && part.len() <= 19 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i64>().ok())
            .flatten()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                bad_parameter(
                    "product_ids",
                    "invalid_id",
                    format!(
                        "item {} is not a product id: product_ids must be positive decimal integers separated by commas",
                        i + 1
                    ),
                )
            })?;
        if !out.contains(&id) {
            if out.len() == MAX_CART {
                return Err(bad_parameter(
                    "product_ids",
                    "too_many",
                    format!("at most {MAX_CART} distinct products"),
                ));
            }
            out.push(id);
        }
    }
    Ok(out)
}

/// `session_id`: the widget's browser session (1 to 64 of `A-Za-z0-9_-`, as in events).
pub(crate) fn parse_session(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw {
        None | Some("") => Ok(None),
        Some(s)
            if (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Ok(Some(s.to_owned()))
        }
        Some(_) => Err(bad_parameter(
            "session_id",
            "invalid_session",
            "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -".to_owned(),
        )),
    }
}

/// The list of an intent with inputs of its own (`cart`, `recently_viewed`); `None` for the
/// others. `cart` for an anonymous shopper is answered from memory when its lists are cached.
pub(crate) async fn answer(
    state: &web::Data<AppState>,
    shop_id: &str,
    p: &Parsed,
    customer: Option<i64>,
    explain: bool,
) -> AppResult<Option<Vec<Rec>>> {
    if !p.intent.own_inputs() {
        return Ok(None);
    }
    if p.intent == Intent::Cart
        && !explain
        && let Some(list) = state.recs.cached_cart(shop_id, &p.cart, customer, p.limit)
    {
        return Ok(Some(list));
    }
    let (st, shop_id, intent, limit, product) = (
        state.clone(),
        shop_id.to_owned(),
        p.intent,
        p.limit,
        p.product,
    );
    let (cart, session) = (p.cart.clone(), p.session.clone());
    let list = state
        .db
        .run(move |c| {
            Ok(if intent == Intent::Cart {
                st.recs
                    .recommend_cart(c, &shop_id, &cart, customer, limit, explain)?
            } else {
                st.recs.recently_viewed(
                    c,
                    &shop_id,
                    customer,
                    session.as_deref(),
                    product,
                    limit,
                    explain,
                )?
            })
        })
        .await?;
    Ok(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carts_keep_their_order_without_duplicates_and_refuse_bad_ids() {
        assert_eq!(parse_cart(None).unwrap(), Vec::<i64>::new());
        assert_eq!(parse_cart(Some(" ")).unwrap(), Vec::<i64>::new());
        assert_eq!(parse_cart(Some("3, 1,3,2")).unwrap(), vec![3, 1, 2]);
        for bad in [
            "1,,2",
            "1,x",
            "-1",
            "0",
            "1.5",
            "99999999999999999999",
            "1,",
        ] {
            let e = parse_cart(Some(bad)).unwrap_err();
            assert_eq!(e.status.as_u16(), 400, "{bad}");
            assert_eq!(e.errors.unwrap()[0].field, "product_ids");
        }
        let fifty: Vec<String> = (1..=50).map(|i| i.to_string()).collect();
        assert_eq!(parse_cart(Some(&fifty.join(","))).unwrap().len(), 50);
        let again = format!("{},1,2", fifty.join(","));
        assert_eq!(parse_cart(Some(&again)).unwrap().len(), 50);
        let more = format!("{},51", fifty.join(","));
        assert_eq!(
            parse_cart(Some(&more)).unwrap_err().errors.unwrap()[0].code,
            "too_many"
        );
    }
}
