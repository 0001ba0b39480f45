//! The headers of a webhook delivery: whatever a sender writes, reading them never panics, what
//! is kept is trimmed and bounded, a missing or blank required header is named, and a complete
//! set reads back as sent.

use std::collections::HashMap;

use atelier::shopify::delivery::{
    HeaderProblem, KEEP_API_VERSION, KEEP_TRIGGERED_AT, MAX_ID, MAX_TOPIC, parse,
};
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
