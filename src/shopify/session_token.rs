//! Session tokens: HS256 JWTs signed with the API secret, minted by App Bridge for the
//! merchant's admin and by Shopify for UI extensions (a customer account extension's token names
//! the logged-in customer in `sub`).
//!
//! Signature, algorithm and audience are checked by `jsonwebtoken`; `exp`/`nbf` are checked here
//! against an explicit clock (10 s leeway, like Shopify's library) so the checks are testable
//! with Shopify's published example token. Both kinds share that core ([`claims_at`]); they
//! differ only in what names the shop and who is asking.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::ShopDomain;

pub const LEEWAY_SECS: i64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The shop's admin for App Bridge tokens; extension tokens may carry none.
    #[serde(default)]
    pub iss: String,
    pub dest: String,
    pub aud: serde_json::Value,
    #[serde(default)]
    pub sub: Option<String>,
    pub exp: i64,
    pub nbf: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionTokenError {
    #[error("the session token is malformed or its signature is invalid")]
    Invalid,
    #[error("the session token was issued for another app")]
    WrongAudience,
    #[error("the session token has expired")]
    Expired,
    #[error("the session token is not valid yet")]
    NotYetValid,
    #[error("the session token does not name a valid shop")]
    BadDestination,
    #[error("the session token names no logged-in customer")]
    NoCustomer,
    #[error("the session token's subject is not a customer")]
    BadCustomer,
}

#[derive(Debug, Clone)]
pub struct VerifiedSession {
    pub shop: ShopDomain,
    pub claims: SessionClaims,
}

pub fn verify(
    token: &str,
    api_key: &str,
    secret: &[u8],
) -> Result<VerifiedSession, SessionTokenError> {
    verify_at(
        token,
        api_key,
        secret,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
}

pub fn verify_at(
    token: &str,
    api_key: &str,
    secret: &[u8],
    now: i64,
) -> Result<VerifiedSession, SessionTokenError> {
    let claims = claims_at(token, api_key, secret, now)?;
    let dest_host = claims
        .dest
        .strip_prefix("https://")
        .ok_or(SessionTokenError::BadDestination)?;
    let shop = ShopDomain::parse(dest_host).map_err(|_| SessionTokenError::BadDestination)?;
    // Shopify's documented manual check: the issuer is the same shop's admin.
    let iss_host = claims
        .iss
        .strip_prefix("https://")
        .and_then(|rest| rest.split('/').next())
        .ok_or(SessionTokenError::BadDestination)?;
    if iss_host != shop.as_str() {
        return Err(SessionTokenError::BadDestination);
    }
    Ok(VerifiedSession { shop, claims })
}

/// What a customer account UI extension's token proves: the shop, and the customer logged in
/// to its customer account.
#[derive(Debug, Clone)]
pub struct CustomerSession {
    pub shop: ShopDomain,
    pub customer_id: i64,
}

/// A customer account extension's token: the same signature, algorithm, audience and time
/// checks as an admin token; `dest` is the shop (Shopify writes it with or without `https://`),
/// and `sub` the customer's GID, `gid://shopify/Customer/ID`. A token without `sub` (nobody
/// logged in, or the app may not read customers) names nobody and opens nothing.
pub fn verify_customer_at(
    token: &str,
    api_key: &str,
    secret: &[u8],
    now: i64,
) -> Result<CustomerSession, SessionTokenError> {
    let claims = claims_at(token, api_key, secret, now)?;
    let dest = claims.dest.strip_prefix("https://").unwrap_or(&claims.dest);
    let shop = ShopDomain::parse(dest.trim_end_matches('/'))
        .map_err(|_| SessionTokenError::BadDestination)?;
    // No issuer check: Shopify documents `dest` as what names the shop for extension tokens
    // (its own library checks nothing else), and the signature already proves who wrote it.
    let sub = claims.sub.as_deref().ok_or(SessionTokenError::NoCustomer)?;
    let customer_id = customer_gid(sub).ok_or(SessionTokenError::BadCustomer)?;
    Ok(CustomerSession { shop, customer_id })
}

/// `gid://shopify/Customer/ID` with ID a positive 64-bit integer in plain digits.
pub fn customer_gid(sub: &str) -> Option<i64> {
    sub.strip_prefix("gid://shopify/Customer/")
        .filter(|id| !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
}

/// Signature (HS256 only: `none`, `RS256`, `HS512`… are refused by the decoder before any key is
/// used), audience and times, shared by every kind of session token.
pub fn claims_at(
    token: &str,
    api_key: &str,
    secret: &[u8],
    now: i64,
) -> Result<SessionClaims, SessionTokenError> {
    if token.len() > 8192 {
        return Err(SessionTokenError::Invalid);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "nbf", "aud"]);
    validation.set_audience(&[api_key]);
    let data = jsonwebtoken::decode::<SessionClaims>(
        token,
        &DecodingKey::from_secret(secret),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => SessionTokenError::WrongAudience,
        _ => SessionTokenError::Invalid,
    })?;
    let claims = data.claims;
    // The JWT rules allow `aud` to be a list, and the decoder accepts a list that contains the
    // key; Shopify's library requires the string itself (`payload.aud !== apiKey` refuses), and
    // App Bridge only ever sends the string. Both must give the same verdict.
    if claims.aud.as_str() != Some(api_key) {
        return Err(SessionTokenError::WrongAudience);
    }
    // Saturating: a token (signed, so from Shopify) may carry any 64-bit time, and an
    // overflow would abort the request instead of answering it.
    if now > claims.exp.saturating_add(LEEWAY_SECS) {
        return Err(SessionTokenError::Expired);
    }
    if now.saturating_add(LEEWAY_SECS) < claims.nbf {
        return Err(SessionTokenError::NotYetValid);
    }
    Ok(claims)
}

/// Mints a token the way App Bridge does (for tests, the demo and the load scripts).
pub fn mint(shop: &str, api_key: &str, secret: &[u8], now: i64, ttl: i64) -> String {
    let claims = SessionClaims {
        iss: format!("https://{shop}/admin"),
        dest: format!("https://{shop}"),
        aud: serde_json::Value::String(api_key.to_owned()),
        sub: Some("1".into()),
        exp: now + ttl,
        nbf: now,
        iat: Some(now),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        sid: Some(crate::crypto::random_hex(16)),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("HS256 encoding cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const V8_PAYLOAD: &str = r#"{"iss":"https://exampleshop.myshopify.com/admin","dest":"https://exampleshop.myshopify.com","aud":"client-id-123","sub":"42","exp":1591765058,"nbf":1591764998,"iat":1591764998,"jti":"f8912129-1af6-4cad-9ca3-76b0f7621087","sid":"aaea182f2732d44c23057c0fea584021a4485b2bd25d3eb7fd349313ad24c685"}"#;

    fn v8_token() -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(V8_PAYLOAD);
        format!("{header}.{payload}.8HhzXyurpS8bODfnFN3Yx_4KNnlhuVi5OoCnSfwImlk")
    }

    #[test]
    fn shopify_example_token_v8_verifies_at_its_time() {
        let s = verify_at(&v8_token(), "client-id-123", b"hush", 1591765000).unwrap();
        assert_eq!(s.shop.as_str(), "exampleshop.myshopify.com");
        assert_eq!(s.claims.sub.as_deref(), Some("42"));
    }

    #[test]
    fn v8_fails_when_expired_early_or_for_another_app_or_secret() {
        let t = v8_token();
        assert_eq!(
            verify_at(&t, "client-id-123", b"hush", 1591765058 + 11).unwrap_err(),
            SessionTokenError::Expired
        );
        assert!(
            verify_at(&t, "client-id-123", b"hush", 1591765058 + 10).is_ok(),
            "leeway"
        );
        assert_eq!(
            verify_at(&t, "client-id-123", b"hush", 1591764998 - 11).unwrap_err(),
            SessionTokenError::NotYetValid
        );
        assert_eq!(
            verify_at(&t, "other-app", b"hush", 1591765000).unwrap_err(),
            SessionTokenError::WrongAudience
        );
        assert_eq!(
            verify_at(&t, "client-id-123", b"wrong", 1591765000).unwrap_err(),
            SessionTokenError::Invalid
        );
    }

    #[test]
    fn alg_none_and_garbage_are_rejected() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(V8_PAYLOAD);
        let none = format!("{header}.{payload}.");
        assert_eq!(
            verify_at(&none, "client-id-123", b"hush", 1591765000).unwrap_err(),
            SessionTokenError::Invalid
        );
        for junk in ["", "a.b.c", "not a token", "eyJhbGciOiJIUzI1NiJ9..."] {
            assert!(verify_at(junk, "client-id-123", b"hush", 1591765000).is_err());
        }
    }

    #[test]
    fn times_at_the_end_of_the_range_get_a_verdict_not_an_overflow() {
        let now = 1_700_000_000;
        let token = |exp: i64, nbf: i64| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &serde_json::json!({"iss": "https://a.myshopify.com/admin", "dest": "https://a.myshopify.com", "aud": "k", "exp": exp, "nbf": nbf}),
                &jsonwebtoken::EncodingKey::from_secret(b"s"),
            )
            .unwrap()
        };
        assert!(verify_at(&token(i64::MAX, now), "k", b"s", now).is_ok());
        assert_eq!(
            verify_at(&token(i64::MAX, i64::MAX), "k", b"s", now).unwrap_err(),
            SessionTokenError::NotYetValid
        );
        assert_eq!(
            verify_at(&token(now, now), "k", b"s", i64::MAX).unwrap_err(),
            SessionTokenError::Expired
        );
    }

    #[test]
    fn destination_must_be_a_shop_and_match_the_issuer() {
        let now = 1_700_000_000;
        let good = mint("a.myshopify.com", "k", b"s", now, 60);
        assert_eq!(
            verify_at(&good, "k", b"s", now).unwrap().shop.as_str(),
            "a.myshopify.com"
        );
        let forge = |iss: &str, dest: &str| {
            let claims = serde_json::json!({"iss": iss, "dest": dest, "aud": "k", "exp": now + 60, "nbf": now});
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(b"s"),
            )
            .unwrap()
        };
        let bad = [
            forge("https://a.myshopify.com/admin", "https://b.myshopify.com"),
            forge("https://evil.com/admin", "https://evil.com"),
            forge("https://a.myshopify.com/admin", "a.myshopify.com"),
        ];
        for t in bad {
            assert_eq!(
                verify_at(&t, "k", b"s", now).unwrap_err(),
                SessionTokenError::BadDestination
            );
        }
        // A list holding the key is a valid JWT audience, but not a Shopify session token.
        for aud in [serde_json::json!(["k"]), serde_json::json!(["other", "k"])] {
            let listed = jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &serde_json::json!({"iss": "https://a.myshopify.com/admin", "dest": "https://a.myshopify.com", "aud": aud, "exp": now + 60, "nbf": now}),
                &jsonwebtoken::EncodingKey::from_secret(b"s"),
            )
            .unwrap();
            assert_eq!(
                verify_at(&listed, "k", b"s", now).unwrap_err(),
                SessionTokenError::WrongAudience
            );
        }
        let no_exp = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &serde_json::json!({"iss": "https://a.myshopify.com/admin", "dest": "https://a.myshopify.com", "aud": "k", "nbf": now}),
            &jsonwebtoken::EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(verify_at(&no_exp, "k", b"s", now).is_err());
    }

    fn customer_token(claims: serde_json::Value, alg: Algorithm, key: &[u8]) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
        .unwrap()
    }

    #[test]
    fn customer_tokens_name_the_shop_and_the_customer() {
        let now = 1_700_000_000;
        let claims = |dest: &str, sub: Option<&str>| {
            let mut c = serde_json::json!({"dest": dest, "aud": "k", "exp": now + 60, "nbf": now});
            if let Some(sub) = sub {
                c["sub"] = sub.into();
            }
            c
        };
        for dest in ["a.myshopify.com", "https://a.myshopify.com"] {
            let t = customer_token(
                claims(dest, Some("gid://shopify/Customer/77")),
                Algorithm::HS256,
                b"s",
            );
            let s = verify_customer_at(&t, "k", b"s", now).unwrap();
            assert_eq!((s.shop.as_str(), s.customer_id), ("a.myshopify.com", 77));
        }
        let none = customer_token(claims("a.myshopify.com", None), Algorithm::HS256, b"s");
        assert_eq!(
            verify_customer_at(&none, "k", b"s", now).unwrap_err(),
            SessionTokenError::NoCustomer
        );
        for sub in [
            "77",
            "gid://shopify/Customer/",
            "gid://shopify/Customer/-1",
            "gid://shopify/Customer/0",
            "gid://shopify/Customer/+7",
            "gid://shopify/Order/77",
            "gid://shopify/Customer/99999999999999999999",
        ] {
            let t = customer_token(claims("a.myshopify.com", Some(sub)), Algorithm::HS256, b"s");
            assert_eq!(
                verify_customer_at(&t, "k", b"s", now).unwrap_err(),
                SessionTokenError::BadCustomer,
                "{sub}"
            );
        }
        let evil = customer_token(
            claims("evil.com", Some("gid://shopify/Customer/1")),
            Algorithm::HS256,
            b"s",
        );
        assert_eq!(
            verify_customer_at(&evil, "k", b"s", now).unwrap_err(),
            SessionTokenError::BadDestination
        );
        // Only HS256: the same key under another HMAC is refused.
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let t = customer_token(
                claims("a.myshopify.com", Some("gid://shopify/Customer/1")),
                alg,
                b"s",
            );
            assert_eq!(
                verify_customer_at(&t, "k", b"s", now).unwrap_err(),
                SessionTokenError::Invalid
            );
        }
    }
}
