//! Each file in `tests/fixtures/` is one documented case: `description`, the function's `input`
//! (the JSON Shopify sends for `src/cart_transform_run.graphql`) and the `output` it must answer.
//! The server's test suite runs the same files through the same pricing code (the demo cart's
//! path), so the server and the function answer each case alike.

use super::*;
use shopify_function::run_function_with_input;
use shopify_function::wasm_api::{Context, Serialize};

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    let mut context = Context::new_with_input(serde_json::json!({}));
    value.serialize(&mut context).expect("serializable");
    context.finalize_output_and_return().expect("output")
}

#[test]
fn every_fixture_gives_its_documented_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        assert!(case["description"].is_string(), "{}", path.display());
        let result = run_function_with_input(cart_transform_run, &case["input"].to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(to_json(&result), case["output"], "{}", path.display());
    }
}
