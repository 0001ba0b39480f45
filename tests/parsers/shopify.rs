//! Shopify's wire formats: signed queries (OAuth and app proxy), webhook signatures, shop
//! domains and `host`, session tokens, and the webhook payloads. Canonical strings are checked
//! against an independent rendering of what Shopify's library signs, and against the
//! published vectors.

use std::collections::BTreeMap;

use atelier::shopify::ShopDomain;
use atelier::shopify::hmac::{
    app_proxy_message, parse_query, sign_app_proxy, sign_oauth_query, sign_webhook,
    verify_app_proxy, verify_oauth_query, verify_webhook,
};
use atelier::shopify::payload::{
    self, CustomerPayload, DataRequestPayload, DeletedPayload, OrderPayload, ProductPayload,
    RedactPayload, parse_id, parse_time, tag_list, without_nul,
};
use atelier::shopify::session_token::{self, SessionTokenError, verify_at};
use atelier::shopify::shop_domain::decode_host;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::arb::{hostile_text, json_with, text, text_of};

const SECRET: &[u8] = b"hush";

fn hmac_hex(message: &str) -> String {
    hex::encode(atelier::crypto::hmac_sha256(SECRET, message.as_bytes()))
}

/// `URLSearchParams` serialization, byte by byte as the WHATWG form encoder specifies: keep
/// `A-Z a-z 0-9 * - . _`, space → `+`, any other byte → `%XX` (upper-case hex, UTF-8).
fn whatwg_form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The message Shopify's JavaScript library signs for an OAuth query: last value wins,
/// `hmac` and `signature` dropped, keys in byte order, form-encoded, joined with `&`.
fn library_oauth_message(pairs: &[(String, String)]) -> String {
    let map: BTreeMap<&str, &str> = pairs
        .iter()
        .filter(|(k, _)| k != "hmac" && k != "signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    map.iter()
        .map(|(k, v)| format!("{}={}", whatwg_form(k), whatwg_form(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The Python library's form: raw values, only `%`, `&` (and `=` in keys) escaped.
fn raw_oauth_message(pairs: &[(String, String)]) -> String {
    let map: BTreeMap<&str, &str> = pairs
        .iter()
        .filter(|(k, _)| k != "hmac" && k != "signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    map.iter()
        .map(|(k, v)| {
            let k = k
                .replace('%', "%25")
                .replace('&', "%26")
                .replace('=', "%3D");
            format!("{k}={}", v.replace('%', "%25").replace('&', "%26"))
        })
        .collect::<Vec<_>>()
        .join("&")
}

const QUERY_CHARS: &[char] = &[
    'a', 'b', 'z', 'A', '0', '9', ' ', '&', '=', '%', '+', '/', '*', '-', '.', '_', '~', '?', '#',
    'é', '€', '\u{0}', '[', ']',
];

fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![text_of(QUERY_CHARS, 12), text(8)]
}

/// Query pairs Shopify could sign: any keys but `hmac`/`signature`, any values.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(
                    &[
                        "code",
                        "shop",
                        "state",
                        "timestamp",
                        "host",
                        "a",
                        "a_b",
                        "a-b"
                    ][..]
                )
                .prop_map(str::to_owned),
                query_text(),
            ]
            .prop_filter("not a signature", |k| k != "hmac" && k != "signature"),
            query_text(),
        ),
        0..6,
    )
}

fn unique_keys(pairs: &[(String, String)]) -> bool {
    let mut keys: Vec<&String> = pairs.iter().map(|(k, _)| k).collect();
    keys.sort();
    keys.windows(2).all(|w| w[0] != w[1])
}

fn with(pairs: &[(String, String)], key: &str, value: String) -> Vec<(String, String)> {
    let mut out = pairs.to_vec();
    out.push((key.to_owned(), value));
    out
}

fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

proptest! {
    #[test]
    fn queries_never_panic(raw in prop_oneof![text_of(QUERY_CHARS, 40), hostile_text()], sig in hostile_text()) {
        let parsed = parse_query(&raw);
        prop_assert!(!verify_oauth_query(SECRET, &with(&parsed, "hmac", sig.clone())) || sig.len() == 64);
        let _ = verify_app_proxy(SECRET, &with(&parsed, "signature", sig));
        let _ = app_proxy_message(&parsed);
    }

    #[test]
    fn the_oauth_message_is_the_librarys_and_order_does_not_matter(
        pairs in pairs(),
        seed in any::<u64>(),
    ) {
        let hmac = sign_oauth_query(SECRET, &pairs);
        prop_assert_eq!(&hmac, &hmac_hex(&library_oauth_message(&pairs)));
        // Shopify sends the parameters in any order; only the last of a repeated key counts,
        // so a shuffle keeps the relative order of equal keys.
        let mut shuffled = with(&pairs, "hmac", hmac.clone());
        let n = shuffled.len();
        shuffled.rotate_left((seed as usize) % n);
        let mut last_first = with(&pairs, "hmac", hmac.clone());
        last_first.sort_by(|a, b| a.0.cmp(&b.0));
        if unique_keys(&pairs) {
            prop_assert!(verify_oauth_query(SECRET, &shuffled));
        }
        prop_assert!(verify_oauth_query(SECRET, &last_first));
        // Each escaping Shopify's libraries are known to use is accepted.
        for message in [library_oauth_message(&pairs).replace('+', "%20"), raw_oauth_message(&pairs)] {
            prop_assert!(verify_oauth_query(SECRET, &with(&pairs, "hmac", hmac_hex(&message))), "{}", message);
        }
        // Written out as a query string and read back, the same pairs verify.
        let raw = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(with(&pairs, "hmac", hmac.clone()))
            .finish();
        prop_assert!(verify_oauth_query(SECRET, &parse_query(&raw)), "{}", raw);
        // Upper-case hex is refused, as by Shopify's library (it compares lower-case strings).
        if hmac.bytes().any(|b| b.is_ascii_alphabetic()) {
            prop_assert!(!verify_oauth_query(SECRET, &with(&pairs, "hmac", hmac.to_uppercase())));
        }
    }

    #[test]
    fn any_change_to_a_signed_oauth_query_is_refused(
        pairs in pairs().prop_filter("unique keys", |p| unique_keys(p) && !p.is_empty()),
        which in any::<prop::sample::Index>(),
        replacement in query_text(),
    ) {
        let hmac = sign_oauth_query(SECRET, &pairs);
        let mut changed = pairs.clone();
        let i = which.index(changed.len());
        prop_assume!(changed[i].1 != replacement);
        // Values that all three escapings write the same way are the ones a change must break
        // (the `+` and `%20` forms differ only in how a space is written).
        changed[i].1 = replacement;
        let forms = |p: &[(String, String)]| [library_oauth_message(p), library_oauth_message(p).replace('+', "%20"), raw_oauth_message(p)];
        let before = forms(&pairs);
        let after = forms(&changed);
        prop_assume!(after.iter().all(|m| !before.contains(m)));
        prop_assert!(!verify_oauth_query(SECRET, &with(&changed, "hmac", hmac)));
    }

    #[test]
    fn the_app_proxy_message_is_the_documented_one(pairs in pairs()) {
        // key=v1,v2 for each key (values in order of appearance), sorted, concatenated.
        let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &pairs {
            grouped.entry(k).or_default().push(v);
        }
        let mut parts: Vec<String> = grouped.iter().map(|(k, vs)| format!("{k}={}", vs.join(","))).collect();
        parts.sort();
        prop_assert_eq!(app_proxy_message(&pairs), parts.concat());
        let sig = sign_app_proxy(SECRET, &pairs);
        let identity = ["shop", "timestamp", "logged_in_customer_id", "path_prefix"];
        let repeats_identity = identity.iter().any(|id| pairs.iter().filter(|(k, _)| k == id).count() > 1);
        prop_assert_eq!(verify_app_proxy(SECRET, &with(&pairs, "signature", sig.clone())), !repeats_identity);
        prop_assert!(!verify_app_proxy(b"other", &with(&pairs, "signature", sig)));
    }

    #[test]
    fn webhook_signatures_round_trip_and_bind_every_byte(
        body in prop::collection::vec(any::<u8>(), 0..256),
        header in hostile_text(),
        flip in any::<prop::sample::Index>(),
    ) {
        let _ = verify_webhook(SECRET, &body, &header);
        let sig = sign_webhook(SECRET, &body);
        prop_assert!(verify_webhook(SECRET, &body, &sig));
        prop_assert!(verify_webhook(SECRET, &body, &format!(" {sig} ")), "header values are trimmed");
        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 1;
            prop_assert!(!verify_webhook(SECRET, &tampered, &sig));
        }
        prop_assert!(!verify_webhook(SECRET, &body, &STANDARD_NO_PAD.encode(atelier::crypto::hmac_sha256(SECRET, &body))[..42]));
    }
}

#[test]
fn published_vectors_hold_through_the_query_parser() {
    // V1 and V3 as Shopify sends them: one query string, parameters in any order.
    for raw in [
        "code=0907a61c0c8d55e99db179b68161bc00&shop=some-shop.myshopify.com&state=0.6784241404160823&timestamp=1337178173&hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
        "hmac=700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf&timestamp=1337178173&state=0.6784241404160823&shop=some-shop.myshopify.com&code=0907a61c0c8d55e99db179b68161bc00",
        "code=0907a61c0c8d55e99db179b68161bc00&hmac=4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20&shop=some-shop.myshopify.com&timestamp=1337178173",
        "timestamp=1337178173&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvc29tZS1zaG9w&state=0123abcd&shop=some-shop.myshopify.com&code=0907a61c0c8d55e99db179b68161bc00&hmac=398e1814fd76b9609fd642dd7d059a55a9b725bf1add29b0ecfc8462eccaeba3",
    ] {
        assert!(verify_oauth_query(SECRET, &parse_query(raw)), "{raw}");
        assert!(!verify_oauth_query(b"other", &parse_query(raw)), "{raw}");
    }
    // V4-V6: the app proxy's path prefix arrives URL-encoded, the signature is over the decoded value.
    for (raw, sig) in [
        (
            "extra=1&extra=2&logged_in_customer_id=1&path_prefix=%2Fapps%2Fawesome_reviews&shop=shop-name.myshopify.com&timestamp=1317327555",
            "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb",
        ),
        (
            "shop=shop-name.myshopify.com&logged_in_customer_id=&extra=1&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555&extra=2",
            "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb",
        ),
        (
            "extra=1&extra=2&path_prefix=/apps/awesome_reviews&shop=shop-name.myshopify.com&timestamp=1317327555",
            "a9718877bea71c2484f91608a7eaea1532bdf71f5c56825065fa4ccabe549ef3",
        ),
    ] {
        let pairs = parse_query(&format!("{raw}&signature={sig}"));
        assert!(verify_app_proxy(SECRET, &pairs), "{raw}");
    }
    // The library's escaping of `&`, `=`, `%` and a space in a value (API 13.1.0 accepts only this).
    let pairs = owned(&[("shop", "a.myshopify.com"), ("note", "a=b c&d/e%")]);
    assert_eq!(
        library_oauth_message(&pairs),
        "note=a%3Db+c%26d%2Fe%25&shop=a.myshopify.com"
    );
    assert_eq!(
        sign_oauth_query(SECRET, &pairs),
        hmac_hex("note=a%3Db+c%26d%2Fe%25&shop=a.myshopify.com")
    );
    // V7.
    assert!(verify_webhook(
        SECRET,
        br##"{"id":820982911946154508,"name":"#1001"}"##,
        "Mkf2s8BiWQBb/dlay3RDP15QWaH8IejS3UDTmBxVmfo="
    ));
}

const HANDLE_CHARS: &[char] = &['a', 'b', 'z', '0', '9', '-'];

fn handle() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&['a', 'q', '0', '7'][..]),
        text_of(HANDLE_CHARS, 62),
    )
        .prop_map(|(first, rest)| format!("{first}{rest}"))
}

const DOMAIN_CHARS: &[char] = &[
    'a', 'b', 'A', '0', '-', '_', '.', '/', ':', '%', ' ', '\n', '\u{0}', 'é', 'm', 'y', 's', 'h',
    'o', 'p', 'i', 'f', 'c',
];

fn domainish() -> impl Strategy<Value = String> {
    prop_oneof![
        text_of(DOMAIN_CHARS, 30),
        (
            text_of(DOMAIN_CHARS, 12),
            prop::sample::select(
                &[
                    ".myshopify.com",
                    "admin.shopify.com/store/",
                    ".myshopify.com/",
                    ".shopify.com",
                    ".myshopify.io"
                ][..]
            ),
            text_of(DOMAIN_CHARS, 6)
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ("admin.shopify.com/store/", text_of(DOMAIN_CHARS, 12))
            .prop_map(|(a, b)| format!("{a}{b}")),
        hostile_text(),
    ]
}

fn is_store_domain(s: &str) -> bool {
    let Some(h) = s.strip_suffix(".myshopify.com") else {
        return false;
    };
    (1..=63).contains(&h.len())
        && h.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !h.starts_with('-')
}

proptest! {
    #[test]
    fn shop_domains_are_store_domains_or_refused(input in domainish()) {
        match ShopDomain::parse(&input) {
            Ok(shop) => {
                prop_assert!(is_store_domain(shop.as_str()), "{:?} → {}", input, shop);
                prop_assert_eq!(ShopDomain::parse(shop.as_str()), Ok(shop.clone()));
                let admin = format!("admin.shopify.com/store/{}", shop.handle());
                prop_assert!(input == shop.as_str() || input == admin);
            }
            Err(_) => prop_assert!(!is_store_domain(&input)),
        }
    }

    #[test]
    fn every_store_handle_is_accepted_in_both_forms(h in handle()) {
        let domain = format!("{h}.myshopify.com");
        let parsed = ShopDomain::parse(&domain).unwrap();
        prop_assert_eq!(parsed.as_str(), domain.as_str());
        let admin = ShopDomain::parse(&format!("admin.shopify.com/store/{h}")).unwrap();
        prop_assert_eq!(admin.as_str(), domain.as_str());
        prop_assert_eq!(admin.handle(), h.as_str());
    }

    #[test]
    fn host_decodes_what_shopify_encodes(h in handle(), padded in any::<bool>(), legacy in any::<bool>()) {
        let admin = if legacy { format!("{h}.myshopify.com/admin") } else { format!("admin.shopify.com/store/{h}") };
        let host = if padded { STANDARD.encode(&admin) } else { STANDARD_NO_PAD.encode(&admin) };
        prop_assert_eq!(decode_host(&host), Some(admin));
    }

    #[test]
    fn host_never_yields_a_foreign_or_odd_host(raw in domainish(), encode in any::<bool>()) {
        let host = if encode { STANDARD_NO_PAD.encode(&raw) } else { raw };
        if let Some(decoded) = decode_host(&host) {
            let hostname = decoded.split('/').next().unwrap();
            prop_assert!(decoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-./_".contains(&b)), "{}", decoded);
            prop_assert!(
                [".myshopify.com", ".shopify.com", ".myshopify.io", ".spin.dev", ".shop.dev"].iter().any(|s| hostname.ends_with(s)),
                "{}", decoded
            );
        }
    }
}

const NOW: i64 = 1_700_000_000;

fn sign_claims(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn time_claim() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => (-100i64..100).prop_map(|d| Some(json!(NOW + d))),
        1 => Just(None),
        1 => prop::sample::select(&[i64::MAX, i64::MIN, i64::MAX - 5, 0, -1][..]).prop_map(|n| Some(json!(n))),
        1 => Just(Some(json!(u64::MAX))),
        1 => Just(Some(json!("1700000000"))),
        1 => Just(Some(json!(1.7e9))),
    ]
}

fn claims() -> impl Strategy<Value = Value> {
    let shop = prop::sample::select(
        &[
            "a.myshopify.com",
            "b.myshopify.com",
            "evil.com",
            "A.myshopify.com",
            "a.myshopify.com/",
            "",
        ][..],
    );
    let iss = prop_oneof![
        shop.clone()
            .prop_map(|s| json!(format!("https://{s}/admin"))),
        Just(json!("a.myshopify.com/admin")),
        Just(json!(5)),
    ];
    let dest = prop_oneof![
        shop.prop_map(|s| json!(format!("https://{s}"))),
        Just(json!("http://a.myshopify.com")),
        Just(json!("a.myshopify.com")),
    ];
    let aud = prop::sample::select(vec![
        json!("k"),
        json!(["k"]),
        json!(["other", "k"]),
        json!("other"),
        json!(7),
        Value::Null,
    ]);
    (iss, dest, aud, time_claim(), time_claim(), any::<bool>()).prop_map(
        |(iss, dest, aud, exp, nbf, sub)| {
            let mut c = json!({"iss": iss, "dest": dest, "aud": aud});
            if let Some(exp) = exp {
                c["exp"] = exp;
            }
            if let Some(nbf) = nbf {
                c["nbf"] = nbf;
            }
            if sub {
                c["sub"] = json!("gid://shopify/Customer/1");
            }
            c
        },
    )
}

/// Shopify's verdict on a correctly signed token, written out from its documented checks.
fn expected(c: &Value) -> Result<String, ()> {
    // Times are whole seconds since the epoch (a JWT NumericDate read as unsigned).
    let int = |k: &str| {
        c.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| i64::try_from(n).ok())
    };
    let exp = int("exp").ok_or(())?;
    let nbf = int("nbf").ok_or(())?;
    (c["aud"] == json!("k")).then_some(()).ok_or(())?;
    (NOW <= exp.saturating_add(10) && NOW.saturating_add(10) >= nbf)
        .then_some(())
        .ok_or(())?;
    let dest = c["dest"]
        .as_str()
        .and_then(|d| d.strip_prefix("https://"))
        .ok_or(())?;
    let shop = ShopDomain::parse(dest).map_err(|_| ())?;
    let iss = c["iss"]
        .as_str()
        .and_then(|i| i.strip_prefix("https://"))
        .and_then(|i| i.split('/').next())
        .ok_or(())?;
    (iss == shop.as_str())
        .then(|| shop.as_str().to_owned())
        .ok_or(())
}

proptest! {
    #[test]
    fn session_tokens_never_panic(token in prop_oneof![hostile_text(), text_of(&['a', 'e', 'y', 'J', '.', '-', '_', '0', '='], 60)]) {
        prop_assert!(verify_at(&token, "k", SECRET, NOW).is_err());
    }

    #[test]
    fn session_token_parts_of_any_json_are_refused_unless_signed(
        header in json_with(&["alg", "typ", "kid"]),
        claims in json_with(&["iss", "dest", "aud", "exp", "nbf", "sub"]),
        sig in text_of(&['a', 'B', '0', '-', '_'], 50),
    ) {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let token = format!("{}.{}.{sig}", enc(&header), enc(&claims));
        prop_assert!(verify_at(&token, "k", SECRET, NOW).is_err());
    }

    #[test]
    fn a_signed_token_is_accepted_exactly_when_shopifys_checks_pass(claims in claims()) {
        let token = sign_claims(&claims, SECRET);
        let got = verify_at(&token, "k", SECRET, NOW).map(|s| s.shop.as_str().to_owned());
        prop_assert_eq!(got.clone().map_err(|_| ()), expected(&claims), "{} → {:?}", claims, got);
        prop_assert!(verify_at(&sign_claims(&claims, b"other"), "k", SECRET, NOW).is_err());
    }

    #[test]
    fn signed_tokens_with_times_at_the_ends_of_the_range_get_a_verdict(
        exp in prop::sample::select(&[i64::MAX, i64::MAX - 9, i64::MAX - 10, i64::MAX - 11, 0][..]),
        nbf in prop::sample::select(&[i64::MAX, 0, NOW][..]),
    ) {
        // Only Shopify (or a holder of the secret) can sign such a token; the verdict must
        // still be an answer, not an arithmetic overflow.
        let claims = json!({"iss": "https://a.myshopify.com/admin", "dest": "https://a.myshopify.com", "aud": "k", "exp": exp, "nbf": nbf});
        let got = verify_at(&sign_claims(&claims, SECRET), "k", SECRET, NOW).map(|s| s.shop.as_str().to_owned());
        prop_assert_eq!(got.map_err(|_| ()), expected(&claims));
    }

    #[test]
    fn minted_tokens_verify_for_their_shop(h in handle(), ttl in 1i64..3600, skew in -10i64..=10) {
        let shop = format!("{h}.myshopify.com");
        let token = session_token::mint(&shop, "k", SECRET, NOW, ttl);
        let s = verify_at(&token, "k", SECRET, NOW + skew).unwrap();
        prop_assert_eq!(s.shop.as_str(), shop.as_str());
        prop_assert_eq!(verify_at(&token, "k", SECRET, NOW + ttl + 11).unwrap_err(), SessionTokenError::Expired);
        prop_assert_eq!(verify_at(&token, "other", SECRET, NOW).unwrap_err(), SessionTokenError::WrongAudience);
    }
}

const PAYLOAD_KEYS: &[&str] = &[
    "id",
    "name",
    "line_items",
    "quantity",
    "price",
    "properties",
    "value",
    "product_id",
    "variant_id",
    "variants",
    "customer",
    "refunds",
    "refund_line_items",
    "line_item_id",
    "total_price",
    "currency",
    "tags",
    "updated_at",
    "created_at",
    "gift_card",
    "title",
    "discount_allocations",
    "amount",
    "email_marketing_consent",
    "state",
    "orders_to_redact",
    "orders_requested",
    "data_request",
    "shop_domain",
    "myshopify_domain",
    "image",
    "src",
];

fn payloads_parse_without_panicking(body: &[u8]) {
    let _ = serde_json::from_slice::<OrderPayload>(body);
    let _ = serde_json::from_slice::<ProductPayload>(body);
    let _ = serde_json::from_slice::<CustomerPayload>(body);
    let _ = serde_json::from_slice::<DeletedPayload>(body);
    let _ = serde_json::from_slice::<DataRequestPayload>(body);
    let _ = serde_json::from_slice::<RedactPayload>(body);
    for topic in ["shop/redact", "app/uninstalled", "orders/create"] {
        let _ = payload::names_another_shop(topic, "a.myshopify.com", body);
    }
    if let Some(clean) = without_nul(body) {
        assert!(!clean.windows(6).any(|w| w == br"\u0000"));
    }
}

/// The NULs taken out as the intake does: member names holding one are renamed after the
/// others are in place (so such a member wins over a clean one of the same name).
fn strip_nul(v: &mut Value) {
    match v {
        Value::String(s) => s.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(members) => {
            let named: Vec<String> = members
                .keys()
                .filter(|k| k.contains('\0'))
                .cloned()
                .collect();
            for k in named {
                let inner = members.remove(&k).unwrap();
                members.insert(k.replace('\0', ""), inner);
            }
            members.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

fn blur_floats(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => *v = json!(0.5),
        Value::Array(items) => items.iter_mut().for_each(blur_floats),
        Value::Object(members) => members.values_mut().for_each(blur_floats),
        _ => {}
    }
}

proptest! {
    #[test]
    fn webhook_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        payloads_parse_without_panicking(&body);
    }

    #[test]
    fn webhook_json_never_panics(v in json_with(PAYLOAD_KEYS)) {
        let body = serde_json::to_vec(&v).unwrap();
        payloads_parse_without_panicking(&body);
        let _ = tag_list(&v);
        // NULs are taken out of every string and member name, and nothing else changes.
        let has_nul = body.windows(6).any(|w| w == br"\u0000");
        match without_nul(&body) {
            None => prop_assert!(!has_nul),
            Some(clean) => {
                let mut want = v.clone();
                strip_nul(&mut want);
                // Floats compared by kind only: serde_json's reader may move a float's last
                // digit, which no part of a payload Atelier reads depends on.
                let mut got: Value = serde_json::from_slice(&clean).unwrap();
                blur_floats(&mut got);
                blur_floats(&mut want);
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn ids_read_the_same_from_a_number_a_string_and_a_gid(n in any::<i64>(), kind in prop::sample::select(&["Product", "Order", "Customer"][..])) {
        prop_assert_eq!(parse_id(&json!(n)), Some(n));
        prop_assert_eq!(parse_id(&json!(n.to_string())), Some(n));
        if n > 0 {
            prop_assert_eq!(parse_id(&json!(format!("gid://shopify/{kind}/{n}"))), Some(n));
            prop_assert_eq!(parse_id(&json!(n as u64)), Some(n));
        }
        prop_assert_eq!(parse_id(&json!(n as f64 + 0.5)), None);
    }

    #[test]
    fn an_id_is_digits_or_a_gid_and_nothing_else(s in prop_oneof![hostile_text(), text_of(&['1', '0', '/', '-', '+', ' ', 'g', ':'], 16)]) {
        if let Some(id) = parse_id(&Value::String(s.clone())) {
            let digits = match s.strip_prefix("gid://shopify/") {
                Some(rest) => {
                    let (kind, digits) = rest.split_once('/').unwrap_or(("", rest));
                    prop_assert!(!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric()), "{:?}", s);
                    digits
                }
                None => s.as_str(),
            };
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            prop_assert!(!unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()), "{:?}", s);
            prop_assert_eq!(digits.parse::<i64>(), Ok(id));
        }
    }

    #[test]
    fn tags_are_clean(tags in prop_oneof![
        prop::collection::vec(text_of(&['a', 'A', ' ', ',', 'b', 'é', 'É'], 6), 0..6).prop_map(|t| Value::String(t.join(","))),
        json_with(PAYLOAD_KEYS),
    ]) {
        let list = tag_list(&tags);
        for (i, t) in list.iter().enumerate() {
            prop_assert!(!t.is_empty() && t.trim() == t);
            prop_assert!(list[..i].iter().all(|o| !o.eq_ignore_ascii_case(t)));
        }
    }

    #[test]
    fn times_never_panic_and_are_utc(s in prop_oneof![hostile_text(), text_of(&['0', '9', '1', '-', ':', 'T', 'Z', '+', '.'], 32)]) {
        let _ = parse_time(&s);
    }

    #[test]
    fn every_offset_time_is_its_utc_instant(
        unix in -62_135_596_800i64..253_402_300_799,
        nanos in 0u32..1_000_000_000,
        offset_minutes in -1439i32..=1439,
    ) {
        let utc = time::OffsetDateTime::from_unix_timestamp(unix).unwrap().replace_nanosecond(nanos).unwrap();
        let offset = time::UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
        let Some(local) = utc.checked_to_offset(offset) else { return Ok(()) };
        let Ok(text) = local.format(&time::format_description::well_known::Rfc3339) else { return Ok(()) };
        let parsed = parse_time(&text);
        let in_range = (1..=9999).contains(&utc.year());
        prop_assert_eq!(parsed.is_some(), in_range, "{}", text);
        if let Some(p) = parsed {
            prop_assert_eq!(p.assume_utc().unix_timestamp(), unix);
            prop_assert_eq!(p.nanosecond(), nanos / 1000 * 1000);
            prop_assert_eq!(parse_time(&atelier::db::rfc3339(p)), Some(p));
        }
    }
}
