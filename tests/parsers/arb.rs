//! Input generators shared by the properties: arbitrary text and JSON (what a hostile client can
//! send), values near the edges every parser has to refuse (huge exponents, digit runs, NULs,
//! control and direction characters), and a check that an error's `field` path names a real
//! place in the request.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any text, every Unicode scalar value possible (proptest biases `char` towards the edges).
pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Text over a small alphabet, so that a parser's own syntax comes up often.
pub fn text_of(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

/// Texts every parser meets sooner or later.
pub const EDGE_TEXTS: &[&str] = &[
    "",
    " ",
    "0",
    "-0",
    "-1",
    "+1",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "0e2147483647",
    "0e-2147483647",
    "1e2147483647",
    "1e-2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "NaN",
    "inf",
    "true",
    "null",
    "\u{0}",
    "a\u{0}b",
    "\u{202E}abc",
    "\r\n",
    "\t",
    "=1+1",
    "@SUM(A1)",
    "e\u{301}",
    "👨‍👩‍👧‍👦",
    "gid://shopify/Product/123",
    "some-shop.myshopify.com",
    "admin.shopify.com/store/some-shop",
    "2026-02-30",
    "2024-02-29",
    "9999-12-31T23:59:59-01:00",
    "v1.t.1.0.AAAA",
    "%",
    "&",
    "=",
    "+",
    "[",
    "a.b",
    "fields[0]",
];

/// One of [`EDGE_TEXTS`], or a long run of one character (digits, zeros, marks).
pub fn edge_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(EDGE_TEXTS).prop_map(str::to_owned),
        1 => (prop::sample::select(&['9', '0', 'a', '\u{301}', ' ', 'e', '.'][..]), 100..3000usize)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// Text a client may send: arbitrary, near the edges, or both glued together.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        text(24),
        edge_text(),
        (edge_text(), text(8)).prop_map(|(a, b)| a + &b),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1_000i64..1_000).prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        hostile_text().prop_map(Value::String),
    ]
}

/// Member names: mostly ones the parsers know, so that the generated JSON gets past the first
/// type check now and then.
pub fn key(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(known).prop_map(str::to_owned),
        1 => hostile_text(),
    ]
}

/// Any JSON value, members named from `known` most of the time.
pub fn json_with(known: &'static [&'static str]) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(known), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Any JSON object, members named from `known` most of the time.
pub fn object_with(known: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(known), json_with(known)), 0..8)
        .prop_map(|kv| kv.into_iter().collect())
}

/// Whether an error `path` (`fields[2].options[0].value`, `sizes.shoes`, `` for the body)
/// names a place in `root`: every step but the last must exist; the last may also be a member
/// the object lacks (a `required` member). Member names may themselves hold `.` or `[`, so
/// every way of reading the path is tried.
pub fn names_location(root: &Value, path: &str) -> bool {
    walk(root, path, true)
}

fn walk(v: &Value, rest: &str, top: bool) -> bool {
    if rest.is_empty() {
        return true;
    }
    if let Some(r) = rest.strip_prefix('[')
        && let Value::Array(items) = v
        && let Some((index, after)) = r.split_once(']')
        && let Ok(i) = index.parse::<usize>()
        && i < items.len()
        && walk(&items[i], after, false)
    {
        return true;
    }
    let member = if top {
        Some(rest)
    } else {
        rest.strip_prefix('.')
    };
    let (Some(r), Value::Object(members)) = (member, v) else {
        return false;
    };
    let step_ends = |after: &str| after.is_empty() || after.starts_with(['.', '[']);
    members.iter().any(|(k, child)| {
        r.strip_prefix(k.as_str())
            .is_some_and(|after| step_ends(after) && walk(child, after, false))
    }) || (!r.is_empty() && !r.contains(['.', '[']))
}

#[test]
fn paths_name_locations_and_nothing_else() {
    let body = json!({"fields": [{"key": "a", "options": [{"value": 1}]}], "sizes": {"a.b": "M"}});
    for ok in [
        "",
        "fields",
        "fields[0].key",
        "fields[0].options[0].value",
        "fields[0].label",
        "sizes.a.b",
        "name",
    ] {
        assert!(names_location(&body, ok), "{ok}");
    }
    for bad in [
        "fields[1]",
        "fields[0].options[1].value",
        "fields.key",
        "sizes.a.b.c.d",
        "values.x",
        "fields[x]",
    ] {
        assert!(!names_location(&body, bad), "{bad}");
    }
}
