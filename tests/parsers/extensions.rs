//! What Shopify's extensions send: the web pixel's unsigned event bodies and the customer
//! account extension's session tokens (their `sub`, the customer's GID).

use atelier::recommendations::pixel::PixelSignal;
use atelier::routes::pixel::parse;
use atelier::shopify::session_token::{SessionTokenError, customer_gid, verify_customer_at};
use proptest::prelude::*;
use serde_json::json;

use crate::arb::{hostile_text, json_with, names_location};

const KEYS: &[&str] = &[
    "shop",
    "event_id",
    "client_id",
    "name",
    "product_id",
    "order_id",
];

proptest! {
    /// No body panics the parser, and every refusal names a member of the body.
    #[test]
    fn pixel_bodies_get_a_verdict_naming_their_members(body in json_with(KEYS)) {
        if let Err(errors) = parse(&body) {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(names_location(&body, &e.field), "{:?} is not in {}", e.field, body);
            }
        }
    }

    /// A product or order id reads back as sent, as a number, a string or a GID of its kind.
    #[test]
    fn pixel_ids_read_back(id in 1..i64::MAX, form in 0..3u8, kind in prop::sample::select(vec!["product_viewed", "product_added_to_cart", "checkout_completed"])) {
        let (member, gid) = if kind == "checkout_completed" { ("order_id", "Order") } else { ("product_id", "Product") };
        let value = match form { 0 => json!(id), 1 => json!(id.to_string()), _ => json!(format!("gid://shopify/{gid}/{id}")) };
        let mut body = json!({"shop": "a.myshopify.com", "event_id": "sh-1", "client_id": "c-1", "name": kind});
        body[member] = value;
        let (_, _, _, name, signal) = parse(&body).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(name, kind);
        let got = match signal { PixelSignal::View(p) | PixelSignal::AddToCart(p) | PixelSignal::Checkout(p) => p, PixelSignal::Page => 0 };
        prop_assert_eq!(got, id);
    }

    /// A customer GID names exactly the customer written in it; anything else names nobody.
    #[test]
    fn customer_gids_read_back(id in 1..i64::MAX, junk in hostile_text()) {
        prop_assert_eq!(customer_gid(&format!("gid://shopify/Customer/{id}")), Some(id));
        if let Some(n) = customer_gid(&junk) {
            prop_assert_eq!(format!("gid://shopify/Customer/{n}"), junk);
        }
    }

    /// Any string as a token gets a verdict, never a panic, and no verdict but `Ok` opens anything.
    #[test]
    fn customer_tokens_never_panic(token in hostile_text(), parts in prop::collection::vec("[A-Za-z0-9_-]{0,40}", 3)) {
        let _ = verify_customer_at(&token, "k", b"s", 1_700_000_000);
        let dotted = parts.join(".");
        prop_assert!(verify_customer_at(&dotted, "k", b"s", 1_700_000_000).is_err());
    }
}

#[test]
fn a_token_without_sub_names_nobody() {
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"dest": "a.myshopify.com", "aud": "k", "exp": 1_700_000_060, "nbf": 1_700_000_000}),
        &jsonwebtoken::EncodingKey::from_secret(b"s"),
    )
    .unwrap();
    assert_eq!(
        verify_customer_at(&t, "k", b"s", 1_700_000_000).unwrap_err(),
        SessionTokenError::NoCustomer
    );
}
