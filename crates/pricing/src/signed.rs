//! The text of the hidden `_atelier` line item property: `v1.{template}.{version}.{cents}.{mac}`.
//!
//! This module reads and writes the layout only. The `mac` (base64url HMAC-SHA256 over the shop,
//! product, version, add-on and every visible property) is made and checked by the server, whose
//! key never leaves it; the Cart Transform function sees nothing but this text and the product's
//! price table, so it can refuse values no Atelier version could have written, never prove one.

/// The personalized line's property.
pub const PROPERTY: &str = "_atelier";
/// The property linking a line that pays the add-on to the personalized line it pays for.
pub const FEE_PROPERTY: &str = "_atelier_fee";

/// Characters of a 32-byte MAC in unpadded base64url.
const MAC_CHARS: usize = 43;

/// A `_atelier` value, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedText<'a> {
    pub template_id: &'a str,
    pub version: i64,
    /// The add-on per unit, in minor units of the shop currency.
    pub price_cents: i64,
    /// The MAC as written (unpadded base64url of 32 bytes).
    pub mac: &'a str,
}

/// Writes a value (the server signs; this only lays out the parts).
pub fn format(template_id: &str, version: i64, price_cents: i64, mac: &str) -> String {
    format!("v1.{template_id}.{version}.{price_cents}.{mac}")
}

/// Reads a value; `None` when it is not one Atelier could have written. One spelling per value:
/// the numbers exactly as [`format`] writes them (no `+`, no leading zeros, no `-0`), and the MAC
/// as canonical unpadded base64url of 32 bytes, so a respelled copy never passes as the same
/// value.
pub fn parse(value: &str) -> Option<SignedText<'_>> {
    let mut parts = value.trim().split('.');
    let (Some("v1"), Some(template_id), Some(version), Some(price), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if template_id.is_empty() || template_id.len() > 64 || !mac_shape(mac) {
        return None;
    }
    let number = |text: &str| {
        let n: i64 = text.parse().ok()?;
        (n.to_string() == text).then_some(n)
    };
    Some(SignedText {
        template_id,
        version: number(version)?,
        price_cents: number(price)?,
        mac,
    })
}

/// 43 base64url characters whose last one carries no stray bits (32 bytes leave 2 bits of it).
fn mac_shape(mac: &str) -> bool {
    let b = mac.as_bytes();
    b.len() == MAC_CHARS
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        && b"AEIMQUYcgkosw048".contains(&b[MAC_CHARS - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: &str = "Xq3Sg8Lk0VfW2nYb7cT1uQ9pR5mZ4hJ6eA0dK2sN8wE";

    #[test]
    fn reads_what_it_writes_and_nothing_else() {
        let v = format("tpl-1", 3, 700, MAC);
        assert_eq!(
            parse(&v),
            Some(SignedText {
                template_id: "tpl-1",
                version: 3,
                price_cents: 700,
                mac: MAC
            })
        );
        for bad in [
            String::new(),
            "v1".into(),
            "v2.t.1.0.x".into(),
            v.replacen(".3.", ".03.", 1),
            v.replacen(".3.", ".+3.", 1),
            v.replacen(".700.", ".0700.", 1),
            format!("{v}="),
            format!("{v}.extra"),
            format("", 1, 0, MAC),
            format("t", 1, 0, &MAC[..42]),
            format("t", 1, 0, &format!("{}F", &MAC[..42])),
            format("t", 1, 0, &format!("{}!", &MAC[..42])),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
        assert!(parse(&format("t", 0, 0, MAC)).is_some());
        assert!(parse(&format("t", 0, 0, MAC).replacen(".0.0.", ".-0.0.", 1)).is_none());
    }
}
