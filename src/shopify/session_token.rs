//! App Bridge session tokens: HS256 JWTs signed with the API secret.
//!
//! Signature, algorithm and audience are checked by `jsonwebtoken`; `exp`/`nbf` are checked here
//! against an explicit clock (10 s leeway, like Shopify's library) so the checks are testable
//! with Shopify's published example token.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::ShopDomain;

pub const LEEWAY_SECS: i64 = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionClaims {
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
}
