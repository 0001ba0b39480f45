//! The hidden `_atelier` line item property: proof, when the order arrives, that the
//! personalization and its price add-on were produced by Atelier for this shop and product and
//! not altered in the cart.
//!
//! Value: `v1.{template_id}.{version}.{price_cents}.{mac}` where `mac` is base64url HMAC-SHA256
//! (key derived from the API secret for this purpose only) over the canonical JSON
//! `["atelier-personalization/v1", shop, product_id, template_id, version, price_cents,
//! [[name, value], …]]`, the properties sorted by name. The template id and version are readable so the order can pin the
//! version the shopper saw; the amount is readable but bound by the MAC, and Atelier never trusts
//! it: the add-on is recomputed from the pinned version (price reconciliation).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{hmac_sha256, hmac_sha256_verify};

pub use atelier_pricing::signed::PROPERTY;
const DOMAIN: &str = "atelier-personalization/v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub template_id: String,
    pub version: i64,
    pub price_cents: i64,
    mac: Vec<u8>,
}

/// The canonical message: a JSON array, written straight into a buffer (the same bytes as
/// `serde_json::json!([...])` would give, without building a `Value`).
fn message(
    shop: &str,
    product_id: i64,
    template_id: &str,
    version: i64,
    price_cents: i64,
    properties: &[(String, String)],
) -> Vec<u8> {
    // Sorted by name (names are unique in a template): a theme or cart that reorders the
    // properties does not break the proof.
    let mut properties: Vec<&(String, String)> = properties.iter().collect();
    properties.sort_unstable();
    let len = 96
        + shop.len()
        + properties
            .iter()
            .map(|(n, v)| n.len() + v.len() + 8)
            .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    serde_json::to_writer(
        &mut out,
        &(
            DOMAIN,
            shop,
            product_id,
            template_id,
            version,
            price_cents,
            properties,
        ),
    )
    .expect("serializable");
    out
}

pub fn sign(
    key: &[u8; 32],
    shop: &str,
    product_id: i64,
    template_id: &str,
    version: i64,
    price_cents: i64,
    properties: &[(String, String)],
) -> String {
    let mac = hmac_sha256(
        key,
        &message(
            shop,
            product_id,
            template_id,
            version,
            price_cents,
            properties,
        ),
    );
    atelier_pricing::signed::format(
        template_id,
        version,
        price_cents,
        &URL_SAFE_NO_PAD.encode(mac),
    )
}

/// Reads a `_atelier` value; `None` when it is not one Atelier could have written. The layout
/// (and its one-spelling rule: a fee line is matched to its personalized line by this text, so a
/// respelled copy must not pass as the same proof) is the pricing crate's, which the Cart
/// Transform function reads too.
pub fn parse(value: &str) -> Option<Signed> {
    let text = atelier_pricing::signed::parse(value)?;
    Some(Signed {
        template_id: text.template_id.to_owned(),
        version: text.version,
        price_cents: text.price_cents,
        mac: URL_SAFE_NO_PAD
            .decode(text.mac)
            .ok()
            .filter(|m| m.len() == 32)?,
    })
}

/// Constant-time check that `signed` was made for exactly these properties, shop and product.
pub fn verify(
    key: &[u8; 32],
    shop: &str,
    product_id: i64,
    signed: &Signed,
    properties: &[(String, String)],
) -> bool {
    hmac_sha256_verify(
        key,
        &message(
            shop,
            product_id,
            &signed.template_id,
            signed.version,
            signed.price_cents,
            properties,
        ),
        &signed.mac,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props() -> Vec<(String, String)> {
        vec![
            ("Engraving".into(), "For Anna ❤️".into()),
            ("Font".into(), "Script".into()),
        ]
    }

    #[test]
    fn the_message_is_the_documented_json_array() {
        let m = message("a.myshopify.com", 42, "tpl-1", 3, 700, &props());
        let expected = serde_json::json!([
            "atelier-personalization/v1",
            "a.myshopify.com",
            42,
            "tpl-1",
            3,
            700,
            [["Engraving", "For Anna ❤️"], ["Font", "Script"]]
        ]);
        assert_eq!(m, serde_json::to_vec(&expected).unwrap());
        let mut reversed = props();
        reversed.reverse();
        assert_eq!(
            message("a.myshopify.com", 42, "tpl-1", 3, 700, &reversed),
            m,
            "sorted"
        );
    }

    #[test]
    fn round_trip() {
        let key = [3u8; 32];
        let v = sign(&key, "a.myshopify.com", 42, "tpl-1", 3, 700, &props());
        let s = parse(&v).unwrap();
        assert_eq!(
            (s.template_id.as_str(), s.version, s.price_cents),
            ("tpl-1", 3, 700)
        );
        assert!(verify(&key, "a.myshopify.com", 42, &s, &props()));
    }

    #[test]
    fn a_value_has_one_spelling() {
        let key = [3u8; 32];
        let v = sign(&key, "a.myshopify.com", 42, "tpl-1", 3, 700, &props());
        assert!(parse(&v).is_some());
        for respelled in [
            v.replacen(".3.", ".+3.", 1),
            v.replacen(".3.", ".03.", 1),
            v.replacen(".700.", ".0700.", 1),
            v.replacen(".700.", ".+700.", 1),
            format!("{v}="),
        ] {
            assert!(parse(&respelled).is_none(), "{respelled}");
        }
        let zero = sign(&key, "a.myshopify.com", 42, "tpl-1", 0, 0, &[]);
        assert!(parse(&zero.replacen(".0.", ".-0.", 1)).is_none());
    }

    #[test]
    fn any_change_breaks_it() {
        let key = [3u8; 32];
        let v = sign(&key, "a.myshopify.com", 42, "tpl-1", 3, 700, &props());
        let s = parse(&v).unwrap();
        assert!(
            !verify(&key, "b.myshopify.com", 42, &s, &props()),
            "replayed on another shop"
        );
        assert!(
            !verify(&key, "a.myshopify.com", 43, &s, &props()),
            "replayed on another product"
        );
        let mut altered = props();
        altered[0].1 = "For Bob".into();
        assert!(
            !verify(&key, "a.myshopify.com", 42, &s, &altered),
            "text changed in the cart"
        );
        let mut cheaper = s.clone();
        cheaper.price_cents = 0;
        assert!(
            !verify(&key, "a.myshopify.com", 42, &cheaper, &props()),
            "price changed"
        );
        assert!(
            !verify(&[4u8; 32], "a.myshopify.com", 42, &s, &props()),
            "another key"
        );
        let forged = v.replace(".700.", ".0.");
        assert!(!verify(
            &key,
            "a.myshopify.com",
            42,
            &parse(&forged).unwrap(),
            &props()
        ));
        for bad in [
            "",
            "v1",
            "v2.t.1.0.x",
            "v1.t.x.0.AAAA",
            "v1.t.1.0.!!",
            "v1.t.1.0.AAAA.extra",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
