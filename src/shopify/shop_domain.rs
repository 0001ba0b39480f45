//! Shop domain validation.
//!
//! Shopify's official library accepts `handle.myshopify.com` and the admin form
//! `admin.shopify.com/store/handle`. We accept both, but only lowercase `myshopify.com` handles
//! with DNS-safe labels: no uppercase, underscore, port, path, scheme or trailing dot. A shop
//! domain is interpolated into outgoing URLs (`SHOP_ORIGIN_TEMPLATE`), so nothing else may pass.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShopDomain(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidShopDomain;

impl fmt::Display for InvalidShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("shop must be a store domain like example.myshopify.com")
    }
}

impl std::error::Error for InvalidShopDomain {}

const SUFFIX: &str = ".myshopify.com";
const ADMIN_PREFIX: &str = "admin.shopify.com/store/";
pub const MAX_LEN: usize = 255;

fn valid_handle(handle: &str) -> bool {
    let b = handle.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

impl ShopDomain {
    pub fn parse(input: &str) -> Result<ShopDomain, InvalidShopDomain> {
        if input.is_empty() || input.len() > MAX_LEN {
            return Err(InvalidShopDomain);
        }
        if let Some(handle) = input.strip_prefix(ADMIN_PREFIX) {
            return if valid_handle(handle) {
                Ok(ShopDomain(format!("{handle}{SUFFIX}")))
            } else {
                Err(InvalidShopDomain)
            };
        }
        match input.strip_suffix(SUFFIX) {
            Some(handle) if valid_handle(handle) => Ok(ShopDomain(input.to_owned())),
            _ => Err(InvalidShopDomain),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store handle (`example` of `example.myshopify.com`).
    pub fn handle(&self) -> &str {
        self.0.strip_suffix(SUFFIX).unwrap_or(&self.0)
    }
}

impl fmt::Display for ShopDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ShopDomain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Validates Shopify's `host` parameter (base64 of the admin host, padding stripped) and
/// returns the decoded admin host, e.g. `admin.shopify.com/store/some-shop`.
pub fn decode_host(host: &str) -> Option<String> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    if host.is_empty() || host.len() > 512 {
        return None;
    }
    let decoded = String::from_utf8(LENIENT.decode(host).ok()?).ok()?;
    let hostname = decoded.split('/').next()?;
    let allowed = [
        ".myshopify.com",
        ".shopify.com",
        ".myshopify.io",
        ".spin.dev",
        ".shop.dev",
    ];
    let ok_chars = decoded
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-./_".contains(&b));
    (ok_chars && allowed.iter().any(|s| hostname.ends_with(s))).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_store_domains_and_the_admin_form() {
        for ok in [
            "someshop.myshopify.com",
            "test-shop.myshopify.com",
            "0shop.myshopify.com",
        ] {
            assert_eq!(ShopDomain::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(
            ShopDomain::parse("admin.shopify.com/store/my-shop")
                .unwrap()
                .as_str(),
            "my-shop.myshopify.com"
        );
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "evil.com",
            "a.myshopify.com.evil.com",
            "../",
            "../../etc/passwd.myshopify.com",
            "UPPER.myshopify.com",
            "shop.myshopify.com:8080",
            "https://shop.myshopify.com",
            "shop.myshopify.com/",
            "shop.myshopify.com.",
            "-invalid.myshopify.com",
            "under_score.myshopify.com",
            "a.b.myshopify.com",
            "myshopify.com",
            ".myshopify.com",
            "notshopify.com",
            "not-admin.shopify.com/store/my-shop",
            "admin.shopify.com/store/",
            "admin.shopify.com/store/a/b",
            "shop.myshopify.io",
            "sh op.myshopify.com",
            "shop%2e.myshopify.com",
            "shop\n.myshopify.com",
        ] {
            assert!(ShopDomain::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        assert!(ShopDomain::parse(&format!("{}.myshopify.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn decodes_host_vector_v10() {
        assert_eq!(
            decode_host("YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc29tZS1zaG9w").as_deref(),
            Some("admin.shopify.com/store/some-shop")
        );
        // base64("evil.com/store/x")
        assert_eq!(decode_host("ZXZpbC5jb20vc3RvcmUveA"), None);
        assert_eq!(decode_host("!!!"), None);
    }
}
