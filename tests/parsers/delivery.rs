//! The headers of a webhook delivery: whatever a sender writes, reading them never panics, what
//! is kept is trimmed and bounded, a missing or blank required header is named, and a complete
//! set reads back as sent. The whole check of `POST /webhooks` (signature, body, headers) never
//! panics and accepts exactly what Shopify's library (`shopify.webhooks.validate`) accepts.

use std::collections::HashMap;

use atelier::config::Secret;
use atelier::shopify::Signatures;
use atelier::shopify::delivery::{
    HeaderProblem, KEEP_API_VERSION, KEEP_TRIGGERED_AT, MAX_ID, MAX_TOPIC, Refusal, parse, verify,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use proptest::prelude::*;

use crate::arb::{hostile_text, text_of};

const REQUIRED: [&str; 4] = [
    "x-shopify-topic",
    "x-shopify-shop-domain",
    "x-shopify-webhook-id",
    "x-shopify-api-version",
];
const OPTIONAL: [&str; 2] = ["x-shopify-event-id", "x-shopify-triggered-at"];

fn read(
    h: &HashMap<&'static str, String>,
) -> Result<atelier::shopify::delivery::DeliveryHeaders, HeaderProblem> {
    parse(|name| h.get(name).map(String::as_str))
}

/// A value as a sender might write it: hostile text, padded with spaces, or very long.
fn header_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        hostile_text().prop_map(Some),
        (hostile_text(), 0usize..3).prop_map(|(s, pad)| Some(format!(
            "{}{s}{}",
            " ".repeat(pad),
            "\t".repeat(pad)
        ))),
        (1usize..600).prop_map(|n| Some("a".repeat(n))),
    ]
}

fn valid() -> impl Strategy<Value = HashMap<&'static str, String>> {
    (
        prop::sample::select(vec![
            "orders/create",
            "products/update",
            "customers/redact",
            "app/scopes_update",
        ]),
        text_of(&['a', 'b', 'z', '0', '9', '-'], 20).prop_filter("shop name", |s| {
            !s.is_empty() && !s.starts_with('-') && !s.ends_with('-')
        }),
        text_of(&['0', '9', 'a', 'f', '-'], 60).prop_filter("id", |s| !s.is_empty()),
        prop::option::of(text_of(&['0', '9', '-', 'T', ':', 'Z', '.'], 40)),
    )
        .prop_map(|(topic, shop, id, triggered)| {
            let mut h = HashMap::new();
            h.insert("x-shopify-topic", format!(" {topic} "));
            h.insert("x-shopify-shop-domain", format!("{shop}.myshopify.com"));
            h.insert("x-shopify-webhook-id", id);
            h.insert("x-shopify-api-version", "2026-10".into());
            if let Some(t) = triggered.filter(|t| !t.trim().is_empty()) {
                h.insert("x-shopify-triggered-at", t);
            }
            h
        })
}

proptest! {
    #[test]
    fn any_headers_are_read_without_panicking_and_what_is_kept_is_bounded(
        values in prop::collection::vec(header_value(), 6)
    ) {
        let mut h = HashMap::new();
        for (name, v) in REQUIRED.iter().chain(&OPTIONAL).zip(values) {
            if let Some(v) = v {
                h.insert(*name, v);
            }
        }
        match read(&h) {
            Ok(d) => {
                prop_assert!(!d.topic.is_empty() && d.topic.len() <= MAX_TOPIC);
                prop_assert_eq!(d.topic.trim(), d.topic.as_str());
                prop_assert!(!d.webhook_id.is_empty() && d.webhook_id.len() <= MAX_ID);
                prop_assert!(d.api_version.chars().count() <= KEEP_API_VERSION);
                prop_assert!(d.event_id.as_ref().is_none_or(|e| e.chars().count() <= MAX_ID && !e.is_empty()));
                prop_assert!(d.triggered_at.as_ref().is_none_or(|t| t.chars().count() <= KEEP_TRIGGERED_AT));
                prop_assert!(d.shop.as_str().ends_with(".myshopify.com"));
            }
            Err(HeaderProblem::Missing(name)) => {
                prop_assert!(h.get(name).is_none_or(|v| v.trim().is_empty()), "{name} was sent");
            }
            Err(HeaderProblem::TooLong(name)) => {
                let limit = if name == "x-shopify-topic" { MAX_TOPIC } else { MAX_ID };
                prop_assert!(h[name].trim().len() > limit);
            }
            Err(HeaderProblem::InvalidShop) => {}
        }
    }

    #[test]
    fn a_complete_set_reads_back_trimmed(h in valid()) {
        let d = read(&h).expect("a complete set is accepted");
        prop_assert_eq!(d.topic, h["x-shopify-topic"].trim());
        prop_assert_eq!(d.webhook_id, h["x-shopify-webhook-id"].trim());
        prop_assert_eq!(d.shop.as_str(), h["x-shopify-shop-domain"].as_str());
        prop_assert_eq!(d.api_version, "2026-10");
        prop_assert_eq!(d.triggered_at.as_deref(), h.get("x-shopify-triggered-at").map(|t| t.trim()));
        prop_assert_eq!(d.event_id, None);
    }

    #[test]
    fn a_missing_or_blank_required_header_is_the_one_named(
        h in valid(), which in 0usize..4, blank in any::<bool>()
    ) {
        let mut h = h;
        let name = REQUIRED[which];
        if blank {
            h.insert(name, " \t ".into());
        } else {
            h.remove(name);
        }
        prop_assert_eq!(read(&h), Err(HeaderProblem::Missing(name)));
    }
}

const SECRET: &str = "delivery-secret";
const PREVIOUS: &str = "delivery-secret-before-rotation";

fn signatures() -> Signatures {
    Signatures::new(
        Secret::new(SECRET),
        Some(Secret::new(PREVIOUS)),
        std::time::Duration::from_secs(90),
    )
}

fn judge(h: &HashMap<&'static str, String>, body: &[u8]) -> Result<(), Refusal> {
    verify(|name| h.get(name).map(String::as_str), body, &signatures()).map(|_| ())
}

/// The signature as Shopify writes it: standard base64 of the HMAC-SHA256 of the raw body.
fn sign(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(atelier::crypto::hmac_sha256(secret.as_bytes(), body))
}

/// What `shopify.webhooks.validate` concludes (`@shopify/shopify-api`, `lib/webhooks/validate`
/// and `lib/utils/hmac-validator`): a non-empty body, an `X-Shopify-Hmac-Sha256` equal, as a
/// string, to the base64 HMAC of the raw body (Node's HTTP parser has already trimmed it), then
/// the topic, shop domain, API version and webhook id present. Atelier also accepts the previous
/// secret during a rotation, as the library does when given it.
fn library_accepts(h: &HashMap<&'static str, String>, body: &[u8]) -> bool {
    let present = |name: &str| h.get(name).is_some_and(|v| !v.trim().is_empty());
    let hmac = h.get("x-shopify-hmac-sha256").map(|v| v.trim());
    !body.is_empty()
        && hmac.is_some_and(|v| v == sign(SECRET, body) || v == sign(PREVIOUS, body))
        && REQUIRED.iter().all(|name| present(name))
}

/// How a sender might write the signature header: right, or near it.
fn signature_header(body: &[u8], how: u8) -> Option<String> {
    let tag = atelier::crypto::hmac_sha256(SECRET.as_bytes(), body);
    match how % 10 {
        0 => None,
        1 => Some(" \t".into()),
        2 => Some(STANDARD_NO_PAD.encode(tag)),
        3 => Some(URL_SAFE.encode(tag)),
        4 => Some(STANDARD.encode(tag).to_ascii_lowercase()),
        5 => Some(hex::encode(tag)),
        6 => Some(sign(SECRET, &[body, b"\n"].concat())),
        7 => Some(sign("another-app", body)),
        8 => Some(sign(PREVIOUS, body)),
        _ => Some(format!(" {} ", sign(SECRET, body))),
    }
}

proptest! {
    #[test]
    fn any_delivery_is_judged_without_panicking(
        values in prop::collection::vec(header_value(), 7),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut h = HashMap::new();
        for (name, v) in REQUIRED.iter().chain(&OPTIONAL).chain(&["x-shopify-hmac-sha256"]).zip(values) {
            if let Some(v) = v {
                h.insert(*name, v);
            }
        }
        let verdict = judge(&h, &body);
        if verdict.is_ok() {
            prop_assert!(library_accepts(&h, &body), "accepted what the library refuses");
        }
        if let Err(refusal) = verdict {
            prop_assert!(matches!(refusal.status(), 400 | 401));
            prop_assert!(!refusal.message().is_empty());
        }
    }

    #[test]
    fn the_verdict_is_the_librarys(
        h in valid(),
        body in prop::collection::vec(any::<u8>(), 0..300),
        how in any::<u8>(),
        drop in prop::collection::vec(prop::bool::weighted(0.15), 4),
    ) {
        let mut h = h;
        if let Some(sig) = signature_header(&body, how) {
            h.insert("x-shopify-hmac-sha256", sig);
        }
        // Any of the required headers left out (each now and then).
        for (name, gone) in REQUIRED.iter().zip(&drop) {
            if *gone {
                h.remove(name);
            }
        }
        let verdict = judge(&h, &body);
        prop_assert_eq!(verdict.is_ok(), library_accepts(&h, &body), "{:?}", verdict);
        // The order of the checks: the signature before anything else is believed.
        match verdict {
            Err(Refusal::MissingHmac) => prop_assert!(
                h.get("x-shopify-hmac-sha256").is_none_or(|v| v.trim().is_empty())
            ),
            Err(Refusal::InvalidHmac) => prop_assert!(how % 10 != 8 && how % 10 != 9),
            Err(Refusal::EmptyBody) => prop_assert!(body.is_empty()),
            Err(Refusal::Header(HeaderProblem::Missing(name))) => {
                prop_assert!(!h.contains_key(name), "{name} was sent")
            }
            Err(other) => prop_assert!(false, "valid() sends no {other:?}"),
            Ok(()) => {}
        }
    }

    #[test]
    fn the_signature_binds_every_byte_of_the_raw_body(
        h in valid(),
        body in prop::collection::vec(any::<u8>(), 1..300),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut h = h;
        h.insert("x-shopify-hmac-sha256", sign(SECRET, &body));
        prop_assert_eq!(judge(&h, &body), Ok(()));
        let mut tampered = body.clone();
        tampered[flip.index(body.len())] ^= 1;
        prop_assert_eq!(judge(&h, &tampered), Err(Refusal::InvalidHmac));
    }
}

#[test]
fn every_refusal_keeps_its_status_and_code() {
    let cases = [
        (Refusal::MissingHmac, 401, "missing_hmac"),
        (Refusal::InvalidHmac, 401, "invalid_hmac"),
        (Refusal::EmptyBody, 400, "empty_body"),
        (
            Refusal::Header(HeaderProblem::Missing("x-shopify-topic")),
            400,
            "missing_header",
        ),
        (
            Refusal::Header(HeaderProblem::TooLong("x-shopify-topic")),
            400,
            "invalid_header",
        ),
        (
            Refusal::Header(HeaderProblem::InvalidShop),
            400,
            "invalid_shop",
        ),
    ];
    for (refusal, status, code) in cases {
        assert_eq!((refusal.status(), refusal.code()), (status, code));
    }
    // Shopify's published example (V7 of the protocol notes) passes the whole check.
    let body = br##"{"id":820982911946154508,"name":"#1001"}"##;
    let mut h: HashMap<&'static str, String> = [
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-shop-domain", "some-shop.myshopify.com"),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
        ("x-shopify-api-version", "2026-10"),
        (
            "x-shopify-hmac-sha256",
            "Mkf2s8BiWQBb/dlay3RDP15QWaH8IejS3UDTmBxVmfo=",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    let hush = Signatures::new(
        Secret::new("hush"),
        None,
        std::time::Duration::from_secs(90),
    );
    let get = |h: &HashMap<&'static str, String>| {
        verify(|name| h.get(name).map(String::as_str), body, &hush).map(|_| ())
    };
    assert_eq!(get(&h), Ok(()));
    h.remove("x-shopify-webhook-id");
    assert_eq!(
        get(&h),
        Err(Refusal::Header(HeaderProblem::Missing(
            "x-shopify-webhook-id"
        )))
    );
}
