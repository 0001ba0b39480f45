//! The headers of a webhook delivery, read the way Shopify's own library reads them: the HMAC,
//! the topic, the shop, the webhook id and the API version are required (a delivery without one
//! is refused, as the library refuses it); values are trimmed, an empty value is absent, and
//! every value is bounded so nothing a sender writes grows what Atelier stores.
//!
//! [`verify`] is every check of `POST /webhooks` after the body is read, in order: the
//! signature over the raw body first (nothing else is believed before it verifies), then a
//! non-empty body, then the other headers.

use super::{ShopDomain, Signatures, Verdict};

/// Longest topic name accepted (Shopify's are under 50 characters).
pub const MAX_TOPIC: usize = 100;
/// Longest webhook id, shop domain or event id accepted.
pub const MAX_ID: usize = 255;
/// What is kept of the API version and of `X-Shopify-Triggered-At`.
pub const KEEP_API_VERSION: usize = 20;
pub const KEEP_TRIGGERED_AT: usize = 64;

/// The headers of one delivery, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHeaders {
    pub topic: String,
    pub shop: ShopDomain,
    pub webhook_id: String,
    /// At most [`KEEP_API_VERSION`] characters of what was sent.
    pub api_version: String,
    pub event_id: Option<String>,
    pub triggered_at: Option<String>,
}

/// Why a delivery's headers are refused: the header's name and what is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProblem {
    Missing(&'static str),
    TooLong(&'static str),
    /// `X-Shopify-Shop-Domain` is not a `*.myshopify.com` shop.
    InvalidShop,
}

/// A header's value as the checks see it: trimmed, `None` when absent or blank.
pub fn value(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|v| !v.is_empty())
}

/// Reads the headers through `get` (a header's raw value by lower-case name, `None` when
/// absent or not visible ASCII).
pub fn parse<'a>(
    get: impl Fn(&'static str) -> Option<&'a str>,
) -> Result<DeliveryHeaders, HeaderProblem> {
    let required = |name: &'static str, max: usize| -> Result<&'a str, HeaderProblem> {
        let v = value(get(name)).ok_or(HeaderProblem::Missing(name))?;
        if v.len() > max {
            return Err(HeaderProblem::TooLong(name));
        }
        Ok(v)
    };
    let topic = required("x-shopify-topic", MAX_TOPIC)?;
    let shop = ShopDomain::parse(required("x-shopify-shop-domain", MAX_ID)?)
        .map_err(|_| HeaderProblem::InvalidShop)?;
    let webhook_id = required("x-shopify-webhook-id", MAX_ID)?;
    let api_version = required("x-shopify-api-version", usize::MAX)?;
    let keep = |v: &str, n: usize| v.chars().take(n).collect::<String>();
    Ok(DeliveryHeaders {
        topic: topic.to_owned(),
        shop,
        webhook_id: webhook_id.to_owned(),
        api_version: keep(api_version, KEEP_API_VERSION),
        event_id: value(get("x-shopify-event-id")).map(|v| keep(v, MAX_ID)),
        triggered_at: value(get("x-shopify-triggered-at")).map(|v| keep(v, KEEP_TRIGGERED_AT)),
    })
}

/// Why a delivery is refused, in the order [`verify`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `X-Shopify-Hmac-Sha256` (or a blank one).
    MissingHmac,
    /// The signature is not the base64 HMAC-SHA256 of the raw body under either secret.
    InvalidHmac,
    EmptyBody,
    Header(HeaderProblem),
}

impl Refusal {
    /// The HTTP status of the refusal: `401` for the signature, `400` for the rest.
    pub fn status(self) -> u16 {
        match self {
            Refusal::MissingHmac | Refusal::InvalidHmac => 401,
            Refusal::EmptyBody | Refusal::Header(_) => 400,
        }
    }

    /// The `error.code` of the refusal.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::MissingHmac => "missing_hmac",
            Refusal::InvalidHmac => "invalid_hmac",
            Refusal::EmptyBody => "empty_body",
            Refusal::Header(HeaderProblem::Missing(_)) => "missing_header",
            Refusal::Header(HeaderProblem::TooLong(_)) => "invalid_header",
            Refusal::Header(HeaderProblem::InvalidShop) => "invalid_shop",
        }
    }

    /// What the sender is told.
    pub fn message(self) -> String {
        match self {
            Refusal::MissingHmac => "The X-Shopify-Hmac-Sha256 header is required.".into(),
            Refusal::InvalidHmac => "The webhook signature is not valid.".into(),
            Refusal::EmptyBody => "The webhook body is empty.".into(),
            Refusal::Header(HeaderProblem::Missing(name)) => {
                format!("The {name} header is required.")
            }
            Refusal::Header(HeaderProblem::TooLong(name)) => {
                format!("The {name} header is too long.")
            }
            Refusal::Header(HeaderProblem::InvalidShop) => {
                "X-Shopify-Shop-Domain is not a shop domain.".into()
            }
        }
    }
}

/// Every check of a delivery: `X-Shopify-Hmac-Sha256` against the raw body (constant-time, the
/// current or the previous secret; the base64 exactly as Shopify writes it), a non-empty body,
/// then [`parse`] of the other headers. `get` is as for [`parse`].
pub fn verify<'a>(
    get: impl Fn(&'static str) -> Option<&'a str>,
    raw_body: &[u8],
    signatures: &Signatures,
) -> Result<DeliveryHeaders, Refusal> {
    let hmac = value(get("x-shopify-hmac-sha256")).ok_or(Refusal::MissingHmac)?;
    if signatures.webhook(raw_body, hmac) != Verdict::Valid {
        return Err(Refusal::InvalidHmac);
    }
    if raw_body.is_empty() {
        return Err(Refusal::EmptyBody);
    }
    parse(get).map_err(Refusal::Header)
}
