//! Fuzzing on the stable toolchain: every parser of untrusted input, driven for a set time by
//! inputs made two ways — mutations of a small seed corpus (`fuzz/corpus/<target>/`: bytes
//! flipped, spliced, repeated; JSON values swapped, nested, stretched) and inputs generated
//! from each format's own vocabulary. A target fails when its parser panics, when a property
//! it checks on the way does not hold, or when one input takes longer than `FUZZ_SLOW_MS`
//! (default 50): such inputs are written to `fuzz/artifacts/<target>/`.
//!
//! `fuzz/run` builds and runs this (`cargo run --features fuzz --example fuzz`); the
//! arguments name targets (all when none), `FUZZ_SECS` is the time per target (default 60),
//! `FUZZ_SEED` makes a run repeatable.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atelier::money::{parse_minor, parse_minor_json};
use atelier::orders::export::{FIXED_COLUMNS, document, inert};
use atelier::orders::{ExportLine, LineItem, PropertyOut};
use atelier::personalization::decimal::Dec;
use atelier::personalization::signature;
use atelier::personalization::store::parse_input;
use atelier::personalization::{BlockedWords, CompiledTemplate, parse_fields, validate};
use atelier::preferences::{center, prefs, saved};
use atelier::recommendations::steering::{self, Steering};
use atelier::shopify::ShopDomain;
use atelier::shopify::hmac::{
    parse_query, sign_app_proxy, sign_oauth_query, sign_webhook, verify_app_proxy,
    verify_oauth_query, verify_webhook,
};
use atelier::shopify::payload::{self, parse_id, parse_time, tag_list, without_nul};
use atelier::shopify::session_token::verify_at;
use atelier::shopify::shop_domain::decode_host;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

/// Largest input tried: far above any real value, well under the body limits.
const MAX_INPUT: usize = 16 * 1024;

struct Target {
    name: &'static str,
    /// Tokens of the format, spliced into inputs and used by the generator.
    dictionary: &'static [&'static str],
    /// Inputs are JSON: mutate values as well as bytes.
    json: bool,
    run: fn(&[u8]),
}

const TARGETS: &[Target] = &[
    Target {
        name: "decimal",
        dictionary: NUMBER_WORDS,
        json: false,
        run: decimal,
    },
    Target {
        name: "query",
        dictionary: QUERY_WORDS,
        json: false,
        run: query,
    },
    Target {
        name: "shop_domain",
        dictionary: DOMAIN_WORDS,
        json: false,
        run: shop_domain,
    },
    Target {
        name: "session_token",
        dictionary: TOKEN_WORDS,
        json: false,
        run: session_token,
    },
    Target {
        name: "webhook",
        dictionary: WEBHOOK_WORDS,
        json: true,
        run: webhook,
    },
    Target {
        name: "template",
        dictionary: TEMPLATE_WORDS,
        json: true,
        run: template,
    },
    Target {
        name: "values",
        dictionary: TEMPLATE_WORDS,
        json: true,
        run: values,
    },
    Target {
        name: "preferences",
        dictionary: PREFERENCE_WORDS,
        json: true,
        run: preferences,
    },
    Target {
        name: "signature",
        dictionary: SIGNATURE_WORDS,
        json: false,
        run: signature_value,
    },
    Target {
        name: "csv",
        dictionary: CSV_WORDS,
        json: true,
        run: csv_cells,
    },
];

const NUMBER_WORDS: &[&str] = &[
    "0",
    "1",
    "9",
    "-",
    "+",
    ".",
    "e",
    "E",
    "e-",
    "e+",
    "2147483647",
    "9223372036854775807",
    "00000000000000000000",
    "99999999999999999999",
    "1e-9",
    "0.5",
    " ",
    "\u{0}",
    "e9999",
];
const QUERY_WORDS: &[&str] = &[
    "&",
    "=",
    "%",
    "%2",
    "%25",
    "%26",
    "%3D",
    "+",
    "%20",
    "hmac=",
    "signature=",
    "shop=",
    "timestamp=",
    "code=",
    "state=",
    "host=",
    "logged_in_customer_id=",
    "path_prefix=",
    "%2Fapps%2Fx",
    "a.myshopify.com",
    "%FF",
    "%C3%A9",
    "[]",
    "&&",
];
const DOMAIN_WORDS: &[&str] = &[
    ".myshopify.com",
    "admin.shopify.com/store/",
    "-",
    "_",
    ".",
    "/",
    ":443",
    "A",
    "a",
    "0",
    "xn--",
    ".shopify.com",
    ".myshopify.io",
    "%2e",
    "\n",
    "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUv",
];
const TOKEN_WORDS: &[&str] = &[
    ".",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJub25lIn0",
    "-",
    "_",
    "=",
    "AAAA",
    "\"exp\":",
    "\"aud\":",
    "\"dest\":\"https://a.myshopify.com\"",
    "9223372036854775807",
];
const WEBHOOK_WORDS: &[&str] = &[
    "\"id\"",
    "\"line_items\"",
    "\"properties\"",
    "\"price\"",
    "\"quantity\"",
    "\"tags\"",
    "\"updated_at\"",
    "\"customer\"",
    "\"refunds\"",
    "\"variants\"",
    "\\u0000",
    "null",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"gid://shopify/Product/1\"",
    "820982911946154508",
    "9223372036854775808",
    "1e400",
    "-0",
    "\"9999-12-31T23:59:59-01:00\"",
    "\"shop_domain\"",
];
const TEMPLATE_WORDS: &[&str] = &[
    "\"fields\"",
    "\"key\"",
    "\"label\"",
    "\"type\"",
    "\"text\"",
    "\"number\"",
    "\"select\"",
    "\"swatch\"",
    "\"date\"",
    "\"checkbox\"",
    "\"image\"",
    "\"textarea\"",
    "\"options\"",
    "\"value\"",
    "\"pattern\"",
    "\"(a{1000}){1000}\"",
    "\"min\"",
    "\"max\"",
    "\"step\"",
    "\"0e2147483647\"",
    "\"1e-2147483648\"",
    "\"show_if\"",
    "\"field\"",
    "\"equals\"",
    "\"price_cents\"",
    "\"max_length\"",
    "\"charset\"",
    "\"latin\"",
    "\"preview\"",
    "\"values\"",
    "\\u202e",
    "\\u0301",
    "\\r\\n",
    "\\u0000",
    "null",
    "true",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
];
const PREFERENCE_WORDS: &[&str] = &[
    "\"sizes\"",
    "\"interests\"",
    "\"communication\"",
    "\"consent\"",
    "\"email\"",
    "\"sms\"",
    "\"frequency\"",
    "\"size_categories\"",
    "\"frequencies\"",
    "\"texts\"",
    "\"key\"",
    "\"label\"",
    "\"name\"",
    "\"values\"",
    "\"product_id\"",
    "\"pinned\"",
    "\"excluded\"",
    "\"excluded_everywhere\"",
    "\"1\"",
    "\"+1\"",
    "\"home-decor\"",
    "null",
    "true",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\\u0000",
];
const SIGNATURE_WORDS: &[&str] = &[
    "v1.",
    ".",
    "+",
    "-",
    "0",
    "9223372036854775807",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "=",
    " ",
    "_",
    "v2.",
];
const CSV_WORDS: &[&str] = &[
    "\"=cmd\"",
    "\"+1\"",
    "\"-1\"",
    "\"@x\"",
    "\"\\t\"",
    "\"\\r\"",
    "\"\\n\"",
    "\"\\\"\"",
    "\",\"",
    "\"_atelier\"",
    "\"\\ufeff\"",
    "[",
    "]",
    ",",
];

// ---- targets ------------------------------------------------------------------------------

fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

fn decimal(input: &[u8]) {
    let s = text(input);
    if let Some(d) = Dec::parse(&s) {
        let shown = d.to_string();
        assert_eq!(
            Dec::parse(&shown),
            Some(d),
            "{s:?} → {shown}: not read back"
        );
    }
    for currency in ["USD", "JPY", "KWD"] {
        let direct = parse_minor(&s, currency);
        assert_eq!(
            parse_minor_json(&Value::String(s.clone()), currency),
            direct
        );
        if let Ok(n) = serde_json::from_str::<serde_json::Number>(s.trim()) {
            let _ = parse_minor_json(&Value::Number(n), currency);
        }
    }
}

fn query(input: &[u8]) {
    let pairs = parse_query(&text(input));
    let _ = verify_oauth_query(b"hush", &pairs);
    let _ = verify_app_proxy(b"hush", &pairs);
    let unsigned: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "hmac" && k != "signature")
        .collect();
    let mut signed = unsigned.clone();
    signed.push(("hmac".into(), sign_oauth_query(b"hush", &unsigned)));
    assert!(
        verify_oauth_query(b"hush", &signed),
        "signed OAuth query refused"
    );
    let mut proxied = unsigned.clone();
    proxied.push(("signature".into(), sign_app_proxy(b"hush", &unsigned)));
    let repeated = ["shop", "timestamp", "logged_in_customer_id", "path_prefix"]
        .iter()
        .any(|k| unsigned.iter().filter(|(n, _)| n == k).count() > 1);
    assert_eq!(
        verify_app_proxy(b"hush", &proxied),
        !repeated,
        "app-proxy verdict"
    );
}

fn shop_domain(input: &[u8]) {
    let s = text(input);
    if let Ok(shop) = ShopDomain::parse(&s) {
        let h = shop.handle();
        assert!(
            shop.as_str().ends_with(".myshopify.com")
                && !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{s:?} accepted as {shop}"
        );
    }
    if let Some(host) = decode_host(&s) {
        assert!(
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-./_".contains(&b))
        );
    }
}

fn session_token(input: &[u8]) {
    let s = text(input);
    assert!(
        verify_at(&s, "k", b"hush", 1_700_000_000).is_err(),
        "an unsigned token passed"
    );
    // The input as claims, correctly signed: any verdict, never a panic.
    if let Ok(claims) = serde_json::from_slice::<Value>(input) {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"hush"),
        )
        .expect("HS256 encodes any JSON");
        let _ = verify_at(&token, "k", b"hush", 1_700_000_000);
    }
}

fn webhook(input: &[u8]) {
    let _ = serde_json::from_slice::<payload::OrderPayload>(input);
    let _ = serde_json::from_slice::<payload::ProductPayload>(input);
    let _ = serde_json::from_slice::<payload::CustomerPayload>(input);
    let _ = serde_json::from_slice::<payload::DeletedPayload>(input);
    let _ = serde_json::from_slice::<payload::DataRequestPayload>(input);
    let _ = serde_json::from_slice::<payload::RedactPayload>(input);
    for topic in ["shop/redact", "app/uninstalled"] {
        let _ = payload::names_another_shop(topic, "a.myshopify.com", input);
    }
    assert!(verify_webhook(
        b"hush",
        input,
        &sign_webhook(b"hush", input)
    ));
    if let Some(clean) = without_nul(input) {
        fn has_nul(v: &Value) -> bool {
            match v {
                Value::String(s) => s.contains('\0'),
                Value::Array(items) => items.iter().any(has_nul),
                Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
                _ => false,
            }
        }
        let v: Value = serde_json::from_slice(&clean).expect("cleaned body is JSON");
        assert!(!has_nul(&v), "a NUL survived");
    }
    if let Ok(v) = serde_json::from_slice::<Value>(input) {
        fn visit(v: &Value) {
            let _ = parse_id(v);
            let _ = tag_list(v);
            match v {
                Value::String(s) => {
                    let _ = parse_time(s);
                }
                Value::Array(items) => items.iter().for_each(visit),
                Value::Object(members) => members.values().for_each(visit),
                _ => {}
            }
        }
        visit(&v);
    }
}

fn template(input: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    let _ = parse_input(&v);
    let fields = v.get("fields").unwrap_or(&v);
    if let Ok(defs) = parse_fields(fields) {
        assert!(
            CompiledTemplate::new(defs.clone()).is_ok(),
            "accepted template does not compile"
        );
        let stored = serde_json::to_value(&defs).expect("serializable");
        assert_eq!(
            parse_fields(&stored).as_ref(),
            Ok(&defs),
            "stored form reads back differently"
        );
    }
}

fn uploads(id: &str) -> Option<String> {
    (id == "up1").then(|| "https://cdn.example/up1.png".to_owned())
}

fn values(input: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    let Some(fields) = v.get("fields") else {
        return;
    };
    let Ok(defs) = parse_fields(fields) else {
        return;
    };
    let template = CompiledTemplate::new(defs).expect("accepted templates compile");
    let empty = Map::new();
    let values = v.get("values").and_then(Value::as_object).unwrap_or(&empty);
    let words: Vec<String> = v
        .get("blocked")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let blocked = BlockedWords::new(&words);
    if let Ok(accepted) = validate(&template, values, &blocked, &uploads) {
        let again = validate(&template, &accepted.values, &blocked, &uploads);
        assert_eq!(
            again.as_ref(),
            Ok(&accepted),
            "normalized values are judged differently"
        );
    }
}

fn preferences(input: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    let _ = prefs::parse_update(&v);
    let _ = center::parse_update(&v);
    let _ = saved::parse_new(&v);
    if let Ok(s) = steering::parse_update(&v, &Steering::default()) {
        assert_eq!(
            steering::parse_update(&s.to_json(), &Steering::default()).as_ref(),
            Ok(&s),
            "steering settings read back differently"
        );
    }
}

fn signature_value(input: &[u8]) {
    let s = text(input);
    if let Some(signed) = signature::parse(&s) {
        let prefix = format!(
            "v1.{}.{}.{}.",
            signed.template_id, signed.version, signed.price_cents
        );
        assert!(s.trim().starts_with(&prefix), "{s:?} is a second spelling");
    }
}

/// Input: `[[order_name, [[name, value], …]], …]` (anything else is read as one order name).
fn csv_cells(input: &[u8]) {
    let rows: Vec<(String, Vec<(String, String)>)> = match serde_json::from_slice::<Value>(input) {
        Ok(Value::Array(rows)) => rows
            .iter()
            .map(|r| {
                let name = r
                    .get(0)
                    .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_owned))
                    .unwrap_or_default();
                let props = r
                    .get(1)
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                let s = |i: usize| {
                                    p.get(i).and_then(Value::as_str).unwrap_or("").to_owned()
                                };
                                (s(0), s(1))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (name, props)
            })
            .collect(),
        _ => vec![(text(input), Vec::new())],
    };
    let lines: Vec<ExportLine> = rows
        .iter()
        .enumerate()
        .map(|(i, (name, props))| ExportLine {
            order_name: name.clone(),
            line: line(i as i64 + 1, props),
        })
        .collect();
    let bytes = document(&[], &lines).expect("the export writes any text");
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .expect("byte order mark");
    let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body)
        .records()
        .collect::<Result<_, _>>()
        .expect("the export reads back as CSV");
    assert_eq!(records.len(), rows.len() + 1);
    // The documented columns: visible property names in order of appearance, each once.
    let mut columns: Vec<&str> = Vec::new();
    for (n, _) in rows.iter().flat_map(|(_, p)| p) {
        if !n.starts_with('_') && !columns.contains(&n.as_str()) {
            columns.push(n);
        }
    }
    let header: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(columns.iter().map(|c| inert(c)))
        .collect();
    assert_eq!(records[0].iter().collect::<Vec<_>>(), header, "header");
    for (record, (name, props)) in records[1..].iter().zip(&rows) {
        assert_eq!(record.len(), header.len(), "ragged row");
        assert_eq!(&record[0], inert(name), "order name cell");
        for (j, col) in columns.iter().enumerate() {
            let want = props
                .iter()
                .find(|(n, _)| n == col)
                .map(|(_, v)| inert(v))
                .unwrap_or_default();
            assert_eq!(
                &record[FIXED_COLUMNS.len() + j],
                want,
                "cell of column {col:?}"
            );
        }
    }
}

fn line(order: i64, props: &[(String, String)]) -> LineItem {
    let props: Vec<PropertyOut> = props
        .iter()
        .map(|(name, value)| PropertyOut {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    LineItem {
        shop_id: "s".into(),
        line_item_id: order,
        order_id: order,
        position: 0,
        product_id: Some(1),
        variant_id: None,
        title: String::new(),
        variant_title: None,
        sku: None,
        quantity: 1,
        current_quantity: 1,
        refunded_quantity: 0,
        price_cents: 0,
        gift_card: false,
        properties: serde_json::to_string(&props).expect("serializable"),
        discount_cents: 0,
        personalization_verified: Some(true),
        verdict: None,
        template_id: None,
        template_version: None,
        expected_cents: None,
        charged_cents: None,
        status: None,
        status_changed_at: None,
    }
}

// ---- inputs -------------------------------------------------------------------------------

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A random JSON value made of the target's words (member names and strings).
fn gen_json(rng: &mut StdRng, words: &[&str], depth: u32) -> Value {
    let word = |rng: &mut StdRng| -> String {
        let w = pick(rng, words);
        serde_json::from_str::<String>(w).unwrap_or_else(|_| (*w).to_owned())
    };
    match rng.random_range(0..if depth > 4 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-5i64..2000)),
        3 => json!(rng.random::<i64>()),
        4 => Value::String(word(rng)),
        5 => Value::String(gen_text(rng, words, 12)),
        6 | 7 => Value::Object(
            (0..rng.random_range(0..6))
                .map(|_| (word(rng), gen_json(rng, words, depth + 1)))
                .collect(),
        ),
        _ => Value::Array(
            (0..rng.random_range(0..6))
                .map(|_| gen_json(rng, words, depth + 1))
                .collect(),
        ),
    }
}

fn gen_text(rng: &mut StdRng, words: &[&str], parts: usize) -> String {
    const CHARS: &[char] = &[
        'a', 'Z', '0', '9', ' ', '-', '.', '\u{0}', '\n', 'é', '\u{301}', '\u{202E}', '👍', '"',
        '\\',
    ];
    let mut s = String::new();
    for _ in 0..rng.random_range(0..=parts) {
        if rng.random_bool(0.5) {
            s.push_str(words[rng.random_range(0..words.len())]);
        } else {
            s.push(*pick(rng, CHARS));
        }
    }
    s
}

fn generate(rng: &mut StdRng, t: &Target) -> Vec<u8> {
    if t.json {
        serde_json::to_vec(&gen_json(rng, t.dictionary, 0)).expect("serializable")
    } else {
        gen_text(rng, t.dictionary, 24).into_bytes()
    }
}

/// A random place in `v` to change, walking down from the root.
fn mutate_value(rng: &mut StdRng, v: &mut Value, words: &[&str]) {
    let children = match v {
        Value::Array(a) if !a.is_empty() => a.len(),
        Value::Object(m) if !m.is_empty() => m.len(),
        _ => 0,
    };
    if children > 0 && rng.random_bool(0.7) {
        let i = rng.random_range(0..children);
        match v {
            Value::Array(a) => return mutate_value(rng, &mut a[i], words),
            Value::Object(m) => {
                if let Some(child) = m.values_mut().nth(i) {
                    return mutate_value(rng, child, words);
                }
            }
            _ => {}
        }
    }
    match rng.random_range(0..8) {
        0 => *v = gen_json(rng, words, 3),
        1 => *v = json!([v.take()]),
        2 => {
            // Stretch: a long run of one value (lists, digit runs, repeated marks).
            let n = rng.random_range(2..400);
            let stretched = match &*v {
                Value::String(s) if !s.is_empty() => {
                    Value::String(s.repeat(n.min(MAX_INPUT / s.len().max(1))))
                }
                other => Value::Array(vec![other.clone(); n.min(64)]),
            };
            *v = stretched;
        }
        3 => {
            if let Value::Object(m) = v {
                m.insert(
                    pick(rng, words).trim_matches('"').to_owned(),
                    gen_json(rng, words, 3),
                );
            } else {
                *v = Value::String(gen_text(rng, words, 6));
            }
        }
        4 => *v = Value::String(v.to_string()),
        5 => {
            *v = json!(pick(
                rng,
                &[
                    "0e2147483647",
                    "1e-2147483648",
                    "99999999999999999999",
                    "-0",
                    "",
                    " ",
                    "\u{0}"
                ]
            ))
        }
        6 => *v = json!(*pick(rng, &[0.5f64, -1.0, 1e300, 1e-7, f64::MAX])),
        _ => *v = Value::Null,
    }
}

fn mutate_bytes(rng: &mut StdRng, input: &mut Vec<u8>, words: &[&str], other: &[u8]) {
    for _ in 0..rng.random_range(1..4) {
        let len = input.len();
        match rng.random_range(0..7) {
            0 if len > 0 => input[rng.random_range(0..len)] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => {
                input[rng.random_range(0..len)] = *pick(
                    rng,
                    &[
                        0u8, 0xFF, b'"', b'\\', b'9', b'.', b'&', b'=', b'%', 0xC3, 0x80,
                    ],
                )
            }
            2 => {
                let at = rng.random_range(0..=len);
                input.splice(at..at, pick(rng, words).bytes());
            }
            3 if len > 0 => {
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 16));
                input.drain(a..b);
            }
            4 if len > 0 => {
                // Repeat a slice many times: deep nesting, digit and exponent runs.
                let a = rng.random_range(0..len);
                let b = rng.random_range(a..=len.min(a + 8));
                let chunk = input[a..b].to_vec();
                let times = rng.random_range(2..300);
                for _ in 0..times {
                    input.splice(b..b, chunk.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let at = rng.random_range(0..=len);
                let a = rng.random_range(0..other.len());
                input.splice(at..at, other[a..].iter().copied().take(64));
            }
            _ => {
                let at = rng.random_range(0..=len);
                input.insert(at, rng.random());
            }
        }
    }
    input.truncate(MAX_INPUT);
}

fn mutate(rng: &mut StdRng, t: &Target, seed: &[u8], other: &[u8]) -> Vec<u8> {
    if t.json
        && rng.random_bool(0.6)
        && let Ok(mut v) = serde_json::from_slice::<Value>(seed)
    {
        for _ in 0..rng.random_range(1..4) {
            mutate_value(rng, &mut v, t.dictionary);
        }
        let mut out = serde_json::to_vec(&v).expect("serializable");
        out.truncate(MAX_INPUT);
        return out;
    }
    let mut out = seed.to_vec();
    mutate_bytes(rng, &mut out, t.dictionary, other);
    out
}

// ---- the loop -----------------------------------------------------------------------------

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

struct Report {
    execs: u64,
    findings: Vec<String>,
    slowest: Duration,
}

fn load_corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

fn save(root: &Path, target: &str, kind: &str, input: &[u8]) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    input.hash(&mut h);
    let dir = root.join("artifacts").join(target);
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    let path = dir.join(format!("{kind}-{:016x}", h.finish()));
    std::fs::write(&path, input).expect("artifact written");
    path
}

fn fuzz(root: &Path, t: &Target, secs: u64, slow: Duration, rng: &mut StdRng) -> Report {
    let mut pool = load_corpus(&root.join("corpus").join(t.name));
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let seeds = pool.len();
    let mut report = Report {
        execs: 0,
        findings: Vec::new(),
        slowest: Duration::ZERO,
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    // First, every seed as it is (and a warm-up: one-time set-up is not a slow input).
    let mut queue: Vec<Vec<u8>> = pool.clone();
    (t.run)(&pool[0]);
    while Instant::now() < deadline && report.findings.len() < 10 {
        let input = queue.pop().unwrap_or_else(|| {
            if rng.random_bool(0.2) {
                generate(rng, t)
            } else {
                let seed = pick(rng, &pool).clone();
                let other = pick(rng, &pool).clone();
                mutate(rng, t, &seed, &other)
            }
        });
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
        let took = started.elapsed();
        report.execs += 1;
        report.slowest = report.slowest.max(took);
        match outcome {
            Err(_) => {
                let why = LAST_PANIC.lock().unwrap().take().unwrap_or_default();
                let path = save(root, t.name, "crash", &input);
                report
                    .findings
                    .push(format!("panic: {why} ({})", path.display()));
            }
            // Slow on every one of three more tries: the input, not a busy machine.
            Ok(())
                if took > slow
                    && (0..3).all(|_| {
                        let again = Instant::now();
                        (t.run)(&input);
                        again.elapsed() > slow
                    }) =>
            {
                let path = save(root, t.name, "slow", &input);
                report
                    .findings
                    .push(format!("slow: {took:?} ({})", path.display()));
            }
            Ok(()) => {}
        }
        // Keep some of what was tried as material for later mutations (bounded).
        if rng.random_bool(0.01) {
            if pool.len() < seeds + 256 {
                pool.push(input);
            } else {
                let i = rng.random_range(seeds..pool.len());
                pool[i] = input;
            }
        }
    }
    report
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let secs: u64 = std::env::var("FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let slow_ms: u64 = std::env::var("FUZZ_SLOW_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|w| !TARGETS.iter().any(|t| t.name == *w))
    {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("unknown target {unknown:?}; targets: {}", names.join(" "));
        std::process::exit(2);
    }
    panic::set_hook(Box::new(|info| {
        *LAST_PANIC.lock().unwrap() = Some(info.to_string().replace('\n', " "));
    }));
    println!("fuzzing {secs} s per target, seed {seed}, slow above {slow_ms} ms");
    println!("| target | seconds | executions | executions/s | slowest input | findings |");
    println!("|---|---|---|---|---|---|");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failed = false;
    for t in TARGETS
        .iter()
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w == t.name))
    {
        let started = Instant::now();
        let r = fuzz(&root, t, secs, Duration::from_millis(slow_ms), &mut rng);
        let took = started.elapsed().as_secs_f64();
        println!(
            "| {} | {took:.0} | {} | {:.0} | {:.1} ms | {} |",
            t.name,
            r.execs,
            r.execs as f64 / took,
            r.slowest.as_secs_f64() * 1000.0,
            r.findings.len()
        );
        for f in &r.findings {
            println!("    {} {f}", t.name);
        }
        failed |= !r.findings.is_empty();
    }
    if failed {
        eprintln!("findings: inputs saved under fuzz/artifacts/");
        std::process::exit(1);
    }
}
