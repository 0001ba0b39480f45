//! Checking every request Shopify signs — webhooks, the OAuth callback, the app launch, the
//! app proxy and session tokens (the admin's and the extensions') — in one place, so the entry points cannot drift apart: each accepts the current
//! API secret and, during a rotation, the previous one (Shopify keeps signing with the old
//! secret for a while after it is rotated), and each signed query must carry a fresh
//! `timestamp`. The message formats themselves are in [`super::hmac`].

use std::time::Duration;

use super::hmac;
use super::session_token::{self, CustomerSession, SessionTokenError, VerifiedSession};
use crate::config::{Secret, Settings};

/// What a signature check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Signed with the current or the previous secret and, for a query, fresh.
    Valid,
    /// Signed by neither secret (or no well-formed signature at all).
    BadSignature,
    /// Signed, but its `timestamp` is missing or not Unix seconds.
    BadTimestamp,
    /// Signed, but its `timestamp` is outside the accepted clock difference.
    Stale,
}

/// The secrets and the freshness window every signed entry point checks against. Built once
/// from the settings; the `Debug` output shows no secret.
#[derive(Clone)]
pub struct Signatures {
    current: Secret,
    previous: Option<Secret>,
    max_age: Duration,
}

impl std::fmt::Debug for Signatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signatures")
            .field("previous", &self.previous.is_some())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl Signatures {
    pub fn new(current: Secret, previous: Option<Secret>, max_age: Duration) -> Self {
        Signatures {
            current,
            previous,
            max_age,
        }
    }

    /// `SHOPIFY_API_SECRET`, `SHOPIFY_API_SECRET_PREVIOUS` and `ATELIER_SIGNATURE_MAX_AGE_SECS`.
    pub fn from_settings(settings: &Settings) -> Self {
        Signatures::new(
            settings.api_secret.clone(),
            settings.api_secret_previous.clone(),
            settings.signature_max_age,
        )
    }

    /// `X-Shopify-Hmac-Sha256` over the raw body (webhooks carry no timestamp to check).
    pub fn webhook(&self, raw_body: &[u8], header: &str) -> Verdict {
        if self.signed_by_either(|secret| hmac::verify_webhook(secret, raw_body, header)) {
            Verdict::Valid
        } else {
            Verdict::BadSignature
        }
    }

    /// The `hmac` of an OAuth callback or an app launch query, then its `timestamp`.
    pub fn oauth_query(&self, pairs: &[(String, String)]) -> Verdict {
        self.oauth_query_at(pairs, unix_now())
    }

    /// The `signature` of an app-proxy query, then its `timestamp`.
    pub fn app_proxy(&self, pairs: &[(String, String)]) -> Verdict {
        self.app_proxy_at(pairs, unix_now())
    }

    /// An App Bridge session token of the merchant's admin (`aud` = `api_key`).
    pub fn session_token(
        &self,
        token: &str,
        api_key: &str,
    ) -> Result<VerifiedSession, SessionTokenError> {
        let now = unix_now();
        self.token_by_either(|secret| session_token::verify_at(token, api_key, secret, now))
    }

    /// A customer account UI extension's session token: the shop and the logged-in customer.
    pub fn customer_token(
        &self,
        token: &str,
        api_key: &str,
    ) -> Result<CustomerSession, SessionTokenError> {
        self.customer_token_at(token, api_key, unix_now())
    }

    pub fn customer_token_at(
        &self,
        token: &str,
        api_key: &str,
        now: i64,
    ) -> Result<CustomerSession, SessionTokenError> {
        self.token_by_either(|secret| {
            session_token::verify_customer_at(token, api_key, secret, now)
        })
    }

    /// A token is checked against both secrets (no early exit, as for the HMACs); what the
    /// current secret says wins unless only the previous one verifies the signature.
    fn token_by_either<T>(
        &self,
        verify: impl Fn(&[u8]) -> Result<T, SessionTokenError>,
    ) -> Result<T, SessionTokenError> {
        let current = verify(self.current.expose().as_bytes());
        let previous = self
            .previous
            .as_ref()
            .map(|old| verify(old.expose().as_bytes()));
        match (current, previous) {
            (Ok(v), _) | (Err(_), Some(Ok(v))) => Ok(v),
            (Err(SessionTokenError::Invalid), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(e),
        }
    }

    fn oauth_query_at(&self, pairs: &[(String, String)], now: i64) -> Verdict {
        let signed = self.signed_by_either(|secret| hmac::verify_oauth_query(secret, pairs));
        self.signed_query(signed, pairs, now)
    }

    fn app_proxy_at(&self, pairs: &[(String, String)], now: i64) -> Verdict {
        let signed = self.signed_by_either(|secret| hmac::verify_app_proxy(secret, pairs));
        self.signed_query(signed, pairs, now)
    }

    /// Both secrets are always tried (no early exit), so timing does not tell which one a
    /// request was signed with; each check is constant-time itself.
    fn signed_by_either(&self, verify: impl Fn(&[u8]) -> bool) -> bool {
        let current = verify(self.current.expose().as_bytes());
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|old| verify(old.expose().as_bytes()));
        current | previous
    }

    /// Freshness is judged only once the signature holds: an unsigned timestamp means nothing.
    fn signed_query(&self, signed: bool, pairs: &[(String, String)], now: i64) -> Verdict {
        if !signed {
            return Verdict::BadSignature;
        }
        let timestamp = pairs
            .iter()
            .find(|(k, _)| k == "timestamp")
            .and_then(|(_, v)| v.parse::<i64>().ok());
        match timestamp {
            None => Verdict::BadTimestamp,
            Some(t) if self.fresh(t, now) => Verdict::Valid,
            Some(_) => Verdict::Stale,
        }
    }

    /// Within the accepted clock difference, in both directions.
    fn fresh(&self, timestamp: i64, now: i64) -> bool {
        now.saturating_sub(timestamp).unsigned_abs() <= self.max_age.as_secs()
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn signatures(previous: Option<&str>) -> Signatures {
        Signatures::new(
            Secret::new("current"),
            previous.map(Secret::new),
            Duration::from_secs(90),
        )
    }

    fn query(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn oauth(secret: &str, timestamp: &str) -> Vec<(String, String)> {
        let mut q = query(&[
            ("shop", "some-shop.myshopify.com"),
            ("timestamp", timestamp),
        ]);
        let mac = hmac::sign_oauth_query(secret.as_bytes(), &q);
        q.push(("hmac".into(), mac));
        q
    }

    fn proxy(secret: &str, timestamp: &str) -> Vec<(String, String)> {
        let mut q = query(&[
            ("shop", "some-shop.myshopify.com"),
            ("logged_in_customer_id", ""),
            ("path_prefix", "/apps/atelier"),
            ("timestamp", timestamp),
        ]);
        let signature = hmac::sign_app_proxy(secret.as_bytes(), &q);
        q.push(("signature".into(), signature));
        q
    }

    #[test]
    fn every_entry_point_accepts_the_previous_secret_and_refuses_others() {
        let rotated = signatures(Some("previous"));
        let now = &NOW.to_string();
        for secret in ["current", "previous"] {
            assert_eq!(
                rotated.oauth_query_at(&oauth(secret, now), NOW),
                Verdict::Valid
            );
            assert_eq!(
                rotated.app_proxy_at(&proxy(secret, now), NOW),
                Verdict::Valid
            );
            let body = br#"{"id":1}"#;
            let header = hmac::sign_webhook(secret.as_bytes(), body);
            assert_eq!(rotated.webhook(body, &header), Verdict::Valid);
        }
        let unrelated = "another-apps-secret";
        assert_eq!(
            rotated.oauth_query_at(&oauth(unrelated, now), NOW),
            Verdict::BadSignature
        );
        assert_eq!(
            rotated.app_proxy_at(&proxy(unrelated, now), NOW),
            Verdict::BadSignature
        );
        let header = hmac::sign_webhook(unrelated.as_bytes(), b"{}");
        assert_eq!(rotated.webhook(b"{}", &header), Verdict::BadSignature);

        // Without a rotation configured, the old secret is just another wrong one.
        let single = signatures(None);
        assert_eq!(
            single.oauth_query_at(&oauth("previous", now), NOW),
            Verdict::BadSignature
        );
        assert_eq!(
            single.app_proxy_at(&proxy("previous", now), NOW),
            Verdict::BadSignature
        );
    }

    #[test]
    fn a_signed_query_must_be_fresh_in_both_directions() {
        let s = signatures(Some("previous"));
        for (offset, verdict) in [
            (0, Verdict::Valid),
            (90, Verdict::Valid),
            (-90, Verdict::Valid),
            (91, Verdict::Stale),
            (-91, Verdict::Stale),
        ] {
            let ts = (NOW + offset).to_string();
            assert_eq!(s.oauth_query_at(&oauth("previous", &ts), NOW), verdict);
            assert_eq!(s.app_proxy_at(&proxy("current", &ts), NOW), verdict);
        }
        assert_eq!(
            s.oauth_query_at(&oauth("current", "yesterday"), NOW),
            Verdict::BadTimestamp
        );
        assert_eq!(
            s.app_proxy_at(&proxy("current", "yesterday"), NOW),
            Verdict::BadTimestamp
        );
        // A bad signature is reported as such even when the timestamp is bad too.
        assert_eq!(
            s.oauth_query_at(&oauth("other", "yesterday"), NOW),
            Verdict::BadSignature
        );
        let mut unsigned = oauth("current", &NOW.to_string());
        unsigned.retain(|(k, _)| k != "timestamp");
        assert_eq!(s.oauth_query_at(&unsigned, NOW), Verdict::BadSignature);
    }

    #[test]
    fn session_tokens_verify_with_either_secret() {
        let rotated = signatures(Some("previous"));
        let claims = |sub: &str| serde_json::json!({"dest": "a.myshopify.com", "aud": "k", "sub": sub, "exp": NOW + 60, "nbf": NOW});
        let sign = |secret: &str| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims("gid://shopify/Customer/5"),
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        for secret in ["current", "previous"] {
            let s = rotated.customer_token_at(&sign(secret), "k", NOW).unwrap();
            assert_eq!(s.customer_id, 5);
        }
        assert_eq!(
            rotated
                .customer_token_at(&sign("other"), "k", NOW)
                .unwrap_err(),
            SessionTokenError::Invalid
        );
        // Signed with the previous secret but expired: the verdict is the expiry.
        assert_eq!(
            rotated
                .customer_token_at(&sign("previous"), "k", NOW + 71)
                .unwrap_err(),
            SessionTokenError::Expired
        );
        assert_eq!(
            signatures(None)
                .customer_token_at(&sign("previous"), "k", NOW)
                .unwrap_err(),
            SessionTokenError::Invalid
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = Signatures::new(
            Secret::new("s3cret-now"),
            Some(Secret::new("s3cret-before")),
            Duration::from_secs(90),
        );
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
