//! Validation alone (target: ≤ 50 µs for a 30-field template with conditional logic), and the
//! pieces around it in `personalize`: signing, and the whole pure path.
//!
//!     cargo bench --bench validation

mod common;

use std::hint::black_box;

use atelier::personalization::{BlockedWords, CompiledTemplate, parse_fields, signature, validate};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let t = thirty();
    let values = common::thirty_field_values(7);
    let values = values.as_object().unwrap();
    let blocked = BlockedWords::new(&(0..200).map(|i| format!("badword{i}")).collect::<Vec<_>>());
    let no_uploads = |_: &str| None;
    let accepted = validate(&t, values, &blocked, &no_uploads).expect("valid submission");
    assert_eq!(
        accepted.properties.len(),
        30 - 1,
        "every field but `rush` (false) is filled"
    );

    c.bench_function("validate: 30 fields, 200 blocked words", |b| {
        b.iter(|| validate(black_box(&t), black_box(values), &blocked, &no_uploads))
    });
    c.bench_function("sign the accepted properties", |b| {
        b.iter(|| {
            signature::sign(
                &[7; 32],
                "bench-shop.myshopify.com",
                7_000_000_001,
                "tpl",
                3,
                black_box(accepted.price_cents),
                black_box(&accepted.properties),
            )
        })
    });
    let body = serde_json::to_vec(&serde_json::json!({ "values": common::thirty_field_values(7) }))
        .unwrap();
    c.bench_function("parse body + validate + sign", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
            let a = validate(&t, v["values"].as_object().unwrap(), &blocked, &no_uploads).unwrap();
            signature::sign(&[7; 32], "s", 1, "tpl", 3, a.price_cents, &a.properties)
        })
    });
}

fn thirty() -> CompiledTemplate {
    let fields = parse_fields(&common::thirty_field_template()["fields"]).expect("template");
    assert_eq!(fields.len(), 30);
    CompiledTemplate::new(fields).unwrap()
}

criterion_group!(benches, bench);
criterion_main!(benches);
