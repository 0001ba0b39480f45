//! Template definitions, the personalize values checked against them, and the signed
//! `_atelier` property. Every refusal names a place in the request; what is accepted is stored
//! in a form that reads back the same, and a shopper's accepted values stay accepted when saved
//! and used again.

use atelier::personalization::signature::{self, PROPERTY};
use atelier::personalization::store::parse_input;
use atelier::personalization::template::parse_fields;
use atelier::personalization::values::visibility;
use atelier::personalization::{BlockedWords, CompiledTemplate, validate};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::arb::{edge_text, hostile_text, json_with, names_location, text, text_of};

const FIELD_KEYS: &[&str] = &[
    "fields",
    "name",
    "product_ids",
    "key",
    "label",
    "type",
    "required",
    "help_text",
    "placeholder",
    "min_length",
    "max_length",
    "pattern",
    "charset",
    "min",
    "max",
    "step",
    "options",
    "value",
    "price_cents",
    "color",
    "show_if",
    "field",
    "equals",
    "preview",
    "font",
    "x",
    "y",
    "size",
];

const TYPES: &[&str] = &[
    "text", "textarea", "number", "select", "swatch", "checkbox", "date", "image", "hologram",
];

const PATTERNS: &[&str] = &[
    "[A-Za-z ]+",
    "(unclosed",
    "(a{1000}){1000}",
    "a*",
    "",
    "\\d{1,3}",
    "(?<=x)y",
    "[[:alpha:]]+",
    "x{0,100000}",
];

fn member_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_with(FIELD_KEYS),
        (-5i64..2_000).prop_map(|n| json!(n)),
        prop::sample::select(PATTERNS).prop_map(|p| json!(p)),
        prop::sample::select(
            &[
                "2020-01-01",
                "2030-12-31",
                "0e2147483647",
                "1e-9",
                "0.5",
                "latin",
                "ascii",
                "#fff",
                "#d4af37",
                "red"
            ][..]
        )
        .prop_map(|s| json!(s)),
        edge_text().prop_map(Value::String),
    ]
}

fn option() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["o0", "o1", "o2", "", "1"][..]),
        prop::sample::select(&["One", "Two", " One ", "", "_x"][..]),
        prop::option::of(-5i64..20_000_000),
        prop::option::of(prop::sample::select(
            &["#fff", "#d4af37", "red", "#12345"][..],
        )),
    )
        .prop_map(|(v, l, p, c)| {
            let mut o = json!({"value": v, "label": l});
            if let Some(p) = p {
                o["price_cents"] = json!(p);
            }
            if let Some(c) = c {
                o["color"] = json!(c);
            }
            o
        })
}

/// A field definition close enough to a real one that the checks behind the first type
/// check run: known members with plausible, edge or wrong values.
fn field() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["a", "b", "c", "engraving", "Bad Key", "", "a_1"][..]),
        prop::sample::select(&["A", "B", "Engraving", " A ", "", "_hidden"][..]),
        prop::sample::select(TYPES),
        prop::collection::vec((prop::sample::select(FIELD_KEYS), member_value()), 0..5),
        prop::option::of(prop::collection::vec(option(), 0..4)),
        prop::option::of((
            prop::sample::select(&["a", "b", "c", "nope"][..]),
            member_value(),
        )),
    )
        .prop_map(|(key, label, kind, members, options, show_if)| {
            let mut f = json!({"key": key, "label": label, "type": kind});
            for (k, v) in members {
                f[k] = v;
            }
            if let Some(o) = options {
                f["options"] = Value::Array(o);
            }
            if let Some((field, equals)) = show_if {
                f["show_if"] = json!({"field": field, "equals": equals});
            }
            f
        })
}

fn fields() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec(field(), 0..6).prop_map(Value::Array),
        1 => json_with(FIELD_KEYS),
    ]
}

fn assert_paths(root: &Value, errors: &[atelier::error::FieldError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty());
    for e in errors {
        prop_assert!(
            names_location(root, &e.field),
            "{:?} is not in {}",
            e.field,
            root
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn template_fields_are_parsed_or_every_problem_is_located(fields in fields()) {
        let root = json!({"fields": fields});
        match parse_fields(&fields) {
            Err(errors) => assert_paths(&root, &errors)?,
            Ok(defs) => {
                // An accepted template compiles for the storefront...
                prop_assert!(CompiledTemplate::new(defs.clone()).is_ok());
                // ...and its stored form reads back as the same template.
                let stored = serde_json::to_value(&defs).unwrap();
                prop_assert_eq!(parse_fields(&stored), Ok(defs.clone()));
                let text: Vec<atelier::personalization::FieldDef> = serde_json::from_str(&serde_json::to_string(&defs).unwrap()).unwrap();
                prop_assert_eq!(text, defs);
            }
        }
    }

    #[test]
    fn template_bodies_are_parsed_or_every_problem_is_located(
        name in prop_oneof![hostile_text().prop_map(Value::String), json_with(FIELD_KEYS)],
        fields in fields(),
        product_ids in prop_oneof![json_with(FIELD_KEYS), prop::collection::vec(prop_oneof![any::<i64>().prop_map(|n| json!(n)), hostile_text().prop_map(Value::String)], 0..6).prop_map(Value::Array)],
        drop in prop::collection::vec(any::<bool>(), 3),
        raw in json_with(FIELD_KEYS),
    ) {
        let mut body = json!({"name": name, "fields": fields, "product_ids": product_ids});
        for (k, gone) in ["name", "fields", "product_ids"].into_iter().zip(drop) {
            if gone { body.as_object_mut().unwrap().remove(k); }
        }
        for b in [body, raw] {
            match parse_input(&b) {
                Err(errors) => assert_paths(&b, &errors)?,
                Ok(t) => {
                    prop_assert!(!t.name.is_empty() && t.name.trim() == t.name);
                    prop_assert!(t.product_ids.iter().all(|id| *id > 0));
                }
            }
        }
    }
}

/// A template that passes the checks, with every kind of field and `show_if` chains.
fn template() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(
        (0usize..8, any::<bool>(), 0u32..6, 1u32..30, 0..4usize, 0..5usize, 0i64..1_000, prop::option::of((0usize..8, 0usize..3))),
        1..7,
    )
    .prop_map(|specs| {
        let mut out: Vec<Value> = Vec::new();
        for (i, (kind, required, min_len, max_len, pattern, charset, price, show_if)) in specs.into_iter().enumerate() {
            let kind = TYPES[kind];
            let mut f = json!({"key": format!("f{i}"), "label": format!("Field {i}"), "type": kind, "required": required, "price_cents": price});
            match kind {
                "text" | "textarea" => {
                    f["min_length"] = json!(min_len.min(max_len));
                    f["max_length"] = json!(max_len);
                    if let Some(p) = [None, Some("[A-Za-z ]+"), Some("\\d+"), Some(".*")][pattern] { f["pattern"] = json!(p); }
                    if let Some(c) = [None, Some("ascii"), Some("latin"), Some("alphanumeric"), Some("digits")][charset] { f["charset"] = json!(c); }
                }
                "number" => {
                    f["min"] = json!(-(min_len as i64));
                    f["max"] = [json!(max_len), json!("1e3"), json!(12.5)][pattern % 3].clone();
                    f["step"] = [json!(0.5), json!(1), json!("0.25"), json!(3)][pattern].clone();
                }
                "select" | "swatch" => {
                    f["options"] = json!([
                        {"value": "o0", "label": "Zero"},
                        {"value": "o1", "label": "One", "price_cents": 250, "color": "#d4af37"},
                        {"value": "2", "label": "Two", "price_cents": 9_999_999},
                    ]);
                }
                "date" => {
                    f["min"] = json!("2020-01-01");
                    f["max"] = json!("2030-12-31");
                }
                _ => {}
            }
            if let Some((target, equals)) = show_if && i > 0 {
                let t = target % i;
                let equals = match out[t]["type"].as_str().unwrap() {
                    "select" | "swatch" => [json!("o1"), json!(["o0", "2"]), json!(2)][equals].clone(),
                    "checkbox" => [json!(true), json!(false), json!("true")][equals].clone(),
                    "number" => [json!(1), json!("1.0"), json!([0, 2])][equals].clone(),
                    _ => [json!("yes"), json!(["a", "b"]), json!(5)][equals].clone(),
                };
                f["show_if"] = json!({"field": format!("f{t}"), "equals": equals});
            }
            out.push(f);
        }
        out
    })
}

/// A value a shopper might send for a field of `kind`.
fn value_for(kind: &'static str) -> BoxedStrategy<Value> {
    let typical = match kind {
        "text" | "textarea" => prop_oneof![
            text_of(
                &[
                    'a', 'B', ' ', '7', 'é', '\n', '\r', '\t', '\u{301}', '\u{202E}', '\u{0}', '👍'
                ],
                40
            )
            .prop_map(Value::String),
            Just(json!("Anna")),
        ]
        .boxed(),
        "number" => prop::sample::select(vec![
            json!(0),
            json!(1),
            json!(2.5),
            json!("0.5"),
            json!("1e2"),
            json!(" 3 "),
            json!("0e2147483647"),
            json!("1e-2147483648"),
            json!(1e300),
            json!(-1),
            json!("9".repeat(70)),
        ])
        .boxed(),
        "select" | "swatch" => prop::sample::select(vec![
            json!("o0"),
            json!("o1"),
            json!("2"),
            json!(2),
            json!("nope"),
        ])
        .boxed(),
        "checkbox" => {
            prop::sample::select(vec![json!(true), json!(false), json!("true"), json!(1)]).boxed()
        }
        "date" => prop::sample::select(vec![
            json!("2024-02-29"),
            json!("2026-02-30"),
            json!("2019-12-31"),
            json!("2031-01-01"),
            json!("2025-6-1"),
        ])
        .boxed(),
        _ => prop::sample::select(vec![json!("up1"), json!("up2"), json!("x".repeat(200))]).boxed(),
    };
    prop_oneof![
        6 => typical,
        1 => Just(Value::Null),
        1 => hostile_text().prop_map(Value::String),
        1 => json_with(&["f0", "f1"]),
    ]
    .boxed()
}

fn template_and_values() -> impl Strategy<Value = (Vec<Value>, Map<String, Value>)> {
    template().prop_flat_map(|fields| {
        let per_field: Vec<_> = fields
            .iter()
            .map(|f| {
                let kind = TYPES.iter().find(|t| **t == f["type"]).copied().unwrap();
                (any::<bool>(), value_for(kind))
            })
            .collect();
        let fields2 = fields.clone();
        (
            Just(fields),
            per_field,
            prop::collection::vec(
                (prop::sample::select(&["f9", "zz", ""][..]), hostile_text()),
                0..2,
            ),
        )
            .prop_map(move |(fields, vals, extra)| {
                let mut values = Map::new();
                for (f, (present, v)) in fields2.iter().zip(vals) {
                    if present {
                        values.insert(f["key"].as_str().unwrap().to_owned(), v);
                    }
                }
                for (k, v) in extra {
                    values.insert(k.to_owned(), Value::String(v));
                }
                (fields, values)
            })
    })
}

fn uploads(id: &str) -> Option<String> {
    (id == "up1").then(|| "https://cdn.example/up1.png".to_owned())
}

proptest! {
    #[test]
    fn personalize_values_are_accepted_or_each_problem_names_its_field(
        (fields, values) in template_and_values(),
        blocked in prop::collection::vec(prop::sample::select(&["anna", "Bad", "é", " "][..]).prop_map(str::to_owned), 0..2),
    ) {
        let defs = parse_fields(&Value::Array(fields.clone())).expect("generated templates are valid");
        let template = CompiledTemplate::new(defs.clone()).unwrap();
        let blocked = BlockedWords::new(&blocked);
        // Two routes to visibility agree.
        prop_assert_eq!(template.visibility(&values), visibility(&defs, &values));
        let root = json!({"values": values});
        match validate(&template, &values, &blocked, &uploads) {
            Err(errors) => {
                assert_paths(&root, &errors)?;
                for e in &errors {
                    let key = e.field.strip_prefix("values.").unwrap_or("");
                    prop_assert!(defs.iter().any(|d| d.key == key), "{:?}", e.field);
                }
            }
            Ok(accepted) => {
                // One property per filled visible field, in template order, named by its label.
                let labels: Vec<&str> = accepted.properties.iter().map(|(n, _)| n.as_str()).collect();
                let order: Vec<&str> = defs.iter().map(|d| d.label.as_str()).filter(|l| labels.contains(l)).collect();
                prop_assert_eq!(&labels, &order);
                prop_assert!(accepted.values.keys().all(|k| defs.iter().any(|d| &d.key == k)));
                prop_assert!(accepted.price_cents >= 0);
                prop_assert!(!accepted.properties.iter().any(|(n, _)| n == PROPERTY));
                // Saved and used again, the normalized values give the same answer.
                let again = validate(&template, &accepted.values, &blocked, &uploads);
                prop_assert_eq!(again, Ok(accepted.clone()), "values {:?}", values);
            }
        }
    }

    #[test]
    fn arbitrary_values_never_panic(values in crate::arb::object_with(&["f0", "f1", "f2", "f3"])) {
        let defs = parse_fields(&json!([
            {"key": "f0", "label": "Text", "type": "text", "max_length": 10, "pattern": "[a-z ]+", "charset": "latin"},
            {"key": "f1", "label": "Number", "type": "number", "min": "-1e3", "max": 1000, "step": "0.001"},
            {"key": "f2", "label": "Choice", "type": "select", "options": [{"value": "1", "label": "One"}], "show_if": {"field": "f1", "equals": [1, "2.5"]}},
            {"key": "f3", "label": "Date", "type": "date", "required": true, "show_if": {"field": "f2", "equals": "1"}}
        ])).unwrap();
        let template = CompiledTemplate::new(defs).unwrap();
        let root = json!({"values": values});
        if let Err(errors) = validate(&template, &values, &BlockedWords::default(), &uploads) {
            assert_paths(&root, &errors)?;
        }
    }
}

const ID_CHARS: &[char] = &['a', 'Z', '0', '9', '-', '_'];

fn properties() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(8), text(12)), 0..5)
}

proptest! {
    #[test]
    fn signed_values_parse_and_verify_and_nothing_else_does(
        template_id in text_of(ID_CHARS, 64).prop_filter("non-empty", |s| !s.is_empty()),
        version in any::<i64>(),
        price in any::<i64>(),
        product in any::<i64>(),
        shop in text(20),
        props in properties(),
        other in properties(),
    ) {
        let key = [7u8; 32];
        let value = signature::sign(&key, &shop, product, &template_id, version, price, &props);
        let s = signature::parse(&value).unwrap();
        prop_assert_eq!((s.template_id.as_str(), s.version, s.price_cents), (template_id.as_str(), version, price));
        prop_assert!(signature::verify(&key, &shop, product, &s, &props));
        // Reordered properties are the same personalization; other ones are not.
        let mut reordered = props.clone();
        reordered.reverse();
        prop_assert!(signature::verify(&key, &shop, product, &s, &reordered));
        let mut a = props.clone(); a.sort();
        let mut b = other.clone(); b.sort();
        if a != b {
            prop_assert!(!signature::verify(&key, &shop, product, &s, &other));
        }
        prop_assert!(!signature::verify(&key, &shop, product.wrapping_add(1), &s, &props));
        prop_assert!(!signature::verify(&[8u8; 32], &shop, product, &s, &props));
    }

    #[test]
    fn a_signature_value_has_one_spelling(
        value in prop_oneof![
            hostile_text(),
            (text_of(ID_CHARS, 8), text_of(&['0', '1', '-', '+', ' '], 4), text_of(&['0', '7', '-', '+'], 4), text_of(&['A', 'g', '-', '_', '=', '+', '/'], 44))
                .prop_map(|(t, v, p, m)| format!("v1.{t}.{v}.{p}.{m}")),
            // A real value with its numbers or MAC respelled.
            (any::<i64>(), 0..6usize, prop::sample::select(&["", "+", "0", "-0", " ", "00"][..]))
                .prop_map(|(n, part, extra)| {
                    let real = signature::sign(&[7u8; 32], "a.myshopify.com", 1, "tpl", n % 1000, n, &[]);
                    let mut parts: Vec<String> = real.split('.').map(str::to_owned).collect();
                    match part {
                        2 | 3 => parts[part].insert_str(0, extra),
                        4 => parts[4].push_str(if extra.is_empty() { "=" } else { extra }),
                        _ => {}
                    }
                    parts.join(".")
                }),
        ],
    ) {
        // Atelier writes `v1.{id}.{version}.{price}.{mac}` with plain decimal numbers; a value
        // read as the same signature must be that text (a fee line is matched to its line by
        // the value, so two spellings of one signature must not both pass).
        let value = value.trim();
        if let Some(s) = signature::parse(value) {
            let prefix = format!("v1.{}.{}.{}.", s.template_id, s.version, s.price_cents);
            prop_assert!(value.starts_with(&prefix), "{:?} read as {:?}", value, s);
            let mac = &value[prefix.len()..];
            prop_assert!(mac.len() == 43 && mac.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{:?}", value);
        }
    }
}
