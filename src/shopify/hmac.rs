//! Shopify's three request signatures. Every comparison is
//! constant-time (`hmac::Mac::verify_slice`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::hmac_sha256_verify;

/// `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body. Checked before any parsing.
pub fn verify_webhook(secret: &[u8], raw_body: &[u8], header: &str) -> bool {
    let Ok(tag) = STANDARD.decode(header.trim().as_bytes()) else {
        return false;
    };
    tag.len() == 32 && hmac_sha256_verify(secret, raw_body, &tag)
}

pub fn sign_webhook(secret: &[u8], raw_body: &[u8]) -> String {
    STANDARD.encode(crate::crypto::hmac_sha256(secret, raw_body))
}

/// Parsed query pairs in order of appearance, values URL-decoded.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

/// Canonical messages of an OAuth-style query (`hmac` param): `hmac` and `signature` removed,
/// last value wins, keys sorted by bytes. Shopify's libraries disagree on how values are
/// escaped, so the three known forms are produced; they coincide for every
/// value Shopify itself generates.
fn oauth_messages(pairs: &[(String, String)]) -> [String; 3] {
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in pairs {
        if k != "hmac" && k != "signature" {
            map.insert(k.as_str(), v.as_str());
        }
    }
    let form_plus = {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &map {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let form_pct20 = form_plus.replace('+', "%20");
    let raw = map
        .iter()
        .map(|(k, v)| {
            let k = k
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('=', "%3D");
            let v = v.replace('%', "%25").replace('&', "%26");
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&");
    [form_plus, form_pct20, raw]
}

/// The 32 bytes of a hex signature written as Shopify writes it: 64 lower-case hex digits.
/// Shopify's own library compares the received string with its lower-case hex digest, so an
/// upper-case (or mixed-case) copy is refused there and must be refused here too: every verdict
/// has to agree with the library's.
fn lower_hex_tag(given: &str) -> Option<Vec<u8>> {
    let well_formed = given.len() == 64
        && given
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    well_formed.then(|| hex::decode(given).ok()).flatten()
}

/// Verifies the `hmac` of an OAuth callback (or app-launch) query.
pub fn verify_oauth_query(secret: &[u8], pairs: &[(String, String)]) -> bool {
    let hmacs: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "hmac")
        .map(|(_, v)| v.as_str())
        .collect();
    let [given] = hmacs.as_slice() else {
        return false;
    };
    let Some(tag) = lower_hex_tag(given) else {
        return false;
    };
    // Check every form (no early exit on the first) so timing does not reveal which matched.
    oauth_messages(pairs)
        .iter()
        .map(|m| hmac_sha256_verify(secret, m.as_bytes(), &tag))
        .fold(false, |acc, ok| acc | ok)
}

/// The canonical `hmac` Shopify adds to an OAuth query (form encoding), for signers and tests.
pub fn sign_oauth_query(secret: &[u8], pairs: &[(String, String)]) -> String {
    let [message, ..] = oauth_messages(pairs);
    hex::encode(crate::crypto::hmac_sha256(secret, message.as_bytes()))
}

/// App-proxy message: every param but `signature` as `key=v1,v2` (repeated keys joined by `,`),
/// sorted, concatenated with no separator.
pub fn app_proxy_message(pairs: &[(String, String)]) -> String {
    let mut grouped: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (k, v) in pairs {
        if k != "signature" {
            grouped.entry(k.as_str()).or_default().push(v.as_str());
        }
    }
    let mut parts: Vec<String> = grouped
        .into_iter()
        .map(|(k, vs)| format!("{k}={}", vs.join(",")))
        .collect();
    parts.sort();
    parts.concat()
}

pub fn sign_app_proxy(secret: &[u8], pairs: &[(String, String)]) -> String {
    hex::encode(crate::crypto::hmac_sha256(
        secret,
        app_proxy_message(pairs).as_bytes(),
    ))
}

/// Verifies an app-proxy `signature`. Parameters that identify the request (`signature`, `shop`,
/// `timestamp`, `logged_in_customer_id`, `path_prefix`) must appear exactly once, so a repeated
/// value cannot mean one thing to the signature and another to the handler.
pub fn verify_app_proxy(secret: &[u8], pairs: &[(String, String)]) -> bool {
    for unique in [
        "signature",
        "shop",
        "timestamp",
        "logged_in_customer_id",
        "path_prefix",
    ] {
        if pairs.iter().filter(|(k, _)| k == unique).count() > 1 {
            return false;
        }
    }
    let Some((_, given)) = pairs.iter().find(|(k, _)| k == "signature") else {
        return false;
    };
    let Some(tag) = lower_hex_tag(given) else {
        return false;
    };
    hmac_sha256_verify(secret, app_proxy_message(pairs).as_bytes(), &tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"hush";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn oauth_vectors_v1_v2_v3() {
        let v1 = pairs(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("shop", "some-shop.myshopify.com"),
            ("state", "0.6784241404160823"),
            ("timestamp", "1337178173"),
            (
                "hmac",
                "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
            ),
        ]);
        assert!(verify_oauth_query(SECRET, &v1));
        let v2 = pairs(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("shop", "some-shop.myshopify.com"),
            ("timestamp", "1337178173"),
            (
                "hmac",
                "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
            ),
        ]);
        assert!(verify_oauth_query(SECRET, &v2));
        // V3, parameters in a shuffled order: canonicalization sorts them.
        let v3 = pairs(&[
            ("timestamp", "1337178173"),
            (
                "hmac",
                "398e1814fd76b9609fd642dd7d059a55a9b725bf1add29b0ecfc8462eccaeba3",
            ),
            ("shop", "some-shop.myshopify.com"),
            ("state", "0123abcd"),
            ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc29tZS1zaG9w"),
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ]);
        assert!(verify_oauth_query(SECRET, &v3));
        assert_eq!(sign_oauth_query(SECRET, &v3), v3[1].1);
    }

    #[test]
    fn oauth_rejects_tampering_wrong_secret_and_bad_encodings() {
        let mut q = pairs(&[
            ("code", "0907a61c0c8d55e99db179b68161bc00"),
            ("shop", "some-shop.myshopify.com"),
            ("timestamp", "1337178173"),
            (
                "hmac",
                "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20",
            ),
        ]);
        assert!(!verify_oauth_query(b"wrong", &q));
        q[1].1 = "other-shop.myshopify.com".into();
        assert!(!verify_oauth_query(SECRET, &q));
        q[1].1 = "some-shop.myshopify.com".into();
        let lower = q[3].1.clone();
        q[3].1 = lower.to_uppercase(); // Shopify's library compares lower-case hex strings
        assert!(!verify_oauth_query(SECRET, &q));
        q[3].1 = lower.replacen('c', "C", 1);
        assert!(!verify_oauth_query(SECRET, &q), "one upper-case digit");
        q[3].1 = lower;
        assert!(verify_oauth_query(SECRET, &q));
        q[3].1 = "zz".into();
        assert!(!verify_oauth_query(SECRET, &q));
        q.truncate(3);
        assert!(!verify_oauth_query(SECRET, &q), "missing hmac");
    }

    #[test]
    fn oauth_accepts_each_known_escaping_of_a_space() {
        let base = pairs(&[
            ("shop", "a.myshopify.com"),
            ("note", "a b&c"),
            ("timestamp", "1"),
        ]);
        for msg in oauth_messages(&base) {
            let mut q = base.clone();
            q.push((
                "hmac".into(),
                hex::encode(crate::crypto::hmac_sha256(SECRET, msg.as_bytes())),
            ));
            assert!(verify_oauth_query(SECRET, &q), "{msg}");
        }
    }

    #[test]
    fn app_proxy_vectors_v4_v5_v6() {
        let common = [
            ("path_prefix", "/apps/awesome_reviews"),
            ("shop", "shop-name.myshopify.com"),
            ("timestamp", "1317327555"),
        ];
        let mut v4 = pairs(&[
            ("extra", "1"),
            ("extra", "2"),
            ("logged_in_customer_id", "1"),
        ]);
        v4.extend(pairs(&common));
        assert_eq!(
            app_proxy_message(&v4),
            "extra=1,2logged_in_customer_id=1path_prefix=/apps/awesome_reviewsshop=shop-name.myshopify.comtimestamp=1317327555"
        );
        v4.push((
            "signature".into(),
            "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb".into(),
        ));
        assert!(verify_app_proxy(SECRET, &v4));

        let mut v5 = pairs(&[
            ("extra", "1"),
            ("extra", "2"),
            ("logged_in_customer_id", ""),
        ]);
        v5.extend(pairs(&common));
        v5.push((
            "signature".into(),
            "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb".into(),
        ));
        assert!(verify_app_proxy(SECRET, &v5));

        let mut v6 = pairs(&[("extra", "1"), ("extra", "2")]);
        v6.extend(pairs(&common));
        assert_eq!(
            sign_app_proxy(SECRET, &v6),
            "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3"
        );
    }

    #[test]
    fn app_proxy_rejects_changed_customer_and_duplicate_identity_params() {
        let mut q = pairs(&[
            ("logged_in_customer_id", "1"),
            ("path_prefix", "/apps/a"),
            ("shop", "s.myshopify.com"),
            ("timestamp", "1"),
        ]);
        let sig = sign_app_proxy(SECRET, &q);
        q.push(("signature".into(), sig));
        assert!(verify_app_proxy(SECRET, &q));
        let mut changed = q.clone();
        changed[0].1 = "2".into();
        assert!(!verify_app_proxy(SECRET, &changed));
        let mut dup = q.clone();
        dup.push(("shop".into(), "other.myshopify.com".into()));
        assert!(!verify_app_proxy(SECRET, &dup));
        let mut upper = q.clone();
        upper[4].1 = upper[4].1.to_uppercase();
        assert!(!verify_app_proxy(SECRET, &upper), "upper-case hex");
    }

    #[test]
    fn webhook_vector_v7_and_negative_cases() {
        let body = br##"{"id":820982911946154508,"name":"#1001"}"##;
        let header = "Mkf2s8BiWQBb/dlay3RDP15QWaH8IejS3UDTmBxVmfo=";
        assert!(verify_webhook(SECRET, body, header));
        assert_eq!(sign_webhook(SECRET, body), header);
        assert!(!verify_webhook(b"other", body, header));
        assert!(!verify_webhook(
            SECRET,
            br##"{"id":820982911946154509,"name":"#1001"}"##,
            header
        ));
        let hex_form = hex::encode(crate::crypto::hmac_sha256(SECRET, body));
        assert!(
            !verify_webhook(SECRET, body, &hex_form),
            "hex is not Shopify's encoding"
        );
        assert!(!verify_webhook(SECRET, body, ""));
        assert!(!verify_webhook(SECRET, b"", header));
    }
}
