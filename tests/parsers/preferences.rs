//! Preference bodies (a shopper's `PUT`, the merchant's preference center, saved
//! personalizations) and the recommendation steering settings: every refusal names a place in
//! the body, and what is accepted reads back the same when written out again.

use atelier::preferences::{center, prefs, saved};
use atelier::recommendations::steering::{self, Steering};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::arb::{edge_text, hostile_text, json_with, names_location};

const KEYS: &[&str] = &[
    "sizes",
    "interests",
    "communication",
    "consent",
    "email",
    "sms",
    "frequency",
    "personalization",
    "marketing",
    "customer_id",
    "updated_at",
    "stale",
    "size_categories",
    "frequencies",
    "texts",
    "key",
    "label",
    "name",
    "values",
    "product_id",
    "pinned",
    "excluded",
    "excluded_everywhere",
    "shoes",
    "tops",
    "home-decor",
    "weekly",
    "1",
    "2",
];

fn small_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&["shoes", "tops", "home-decor", "a_b", "x", "Shoes", "", "a.b", "a[0]", "-"][..]).prop_map(str::to_owned),
        1 => hostile_text(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => small_key().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (-3i64..100).prop_map(|n| json!(n)),
        1 => edge_text().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => json_with(KEYS),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        1 => prop::collection::btree_map(small_key(), scalar(), 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

/// An object with members from `names` (plus a stray one now and then) holding `member`.
fn object_of(names: &'static [&'static str], member: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            prop_oneof![5 => prop::sample::select(names).prop_map(str::to_owned), 1 => small_key()],
            member,
        ),
        0..5,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect()))
    .boxed()
}

fn prefs_body() -> impl Strategy<Value = Value> {
    let sizes = prop::collection::btree_map(small_key(), scalar(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    let interests = prop::collection::vec(scalar(), 0..5)
        .prop_map(Value::Array)
        .boxed();
    let communication = object_of(&["email", "sms", "frequency"], scalar().boxed());
    let consent = object_of(&["personalization", "marketing"], scalar().boxed());
    let top = prop_oneof![sizes, interests, communication, consent, value().boxed()].boxed();
    prop_oneof![
        4 => object_of(&["sizes", "interests", "communication", "consent", "customer_id", "stale"], top),
        1 => json_with(KEYS),
    ]
}

fn center_body() -> impl Strategy<Value = Value> {
    let sizes = prop::collection::vec(scalar(), 0..5)
        .prop_map(Value::Array)
        .boxed();
    let category = object_of(
        &["key", "label", "sizes"],
        prop_oneof![scalar().boxed(), sizes].boxed(),
    );
    let categories = prop::collection::vec(category, 0..4)
        .prop_map(Value::Array)
        .boxed();
    let interest = object_of(&["key", "label"], scalar().boxed());
    let interests = prop::collection::vec(interest, 0..4)
        .prop_map(Value::Array)
        .boxed();
    let frequencies = prop::collection::vec(scalar(), 0..4)
        .prop_map(Value::Array)
        .boxed();
    let texts = prop::collection::btree_map(small_key(), scalar(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed();
    let top = prop_oneof![categories, interests, frequencies, texts, value().boxed()].boxed();
    prop_oneof![
        4 => object_of(&["size_categories", "interests", "frequencies", "texts"], top),
        1 => json_with(KEYS),
    ]
}

fn id_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1i64..20).prop_map(|n| json!(n)),
        (1i64..20).prop_map(|n| json!(n.to_string())),
        Just(json!("gid://shopify/Product/3")),
        Just(json!(i64::MAX)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!("+2")),
        scalar(),
    ]
}

fn steering_body() -> impl Strategy<Value = Value> {
    let lists = prop::collection::btree_map(
        prop_oneof![(1i64..20).prop_map(|n| n.to_string()), small_key(), Just("+3".to_owned()), Just("03".to_owned())],
        prop_oneof![4 => prop::collection::vec(id_value(), 0..5).prop_map(Value::Array), 1 => scalar()],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
    .boxed();
    let everywhere = prop::collection::vec(id_value(), 0..5)
        .prop_map(Value::Array)
        .boxed();
    let top = prop_oneof![lists, everywhere, value().boxed()].boxed();
    prop_oneof![
        4 => object_of(&["pinned", "excluded", "excluded_everywhere"], top),
        1 => json_with(KEYS),
    ]
}

fn located(body: &Value, errors: &[atelier::error::FieldError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty());
    for e in errors {
        prop_assert!(
            names_location(body, &e.field),
            "{:?} is not in {}",
            e.field,
            body
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn shopper_preference_bodies_are_read_or_every_problem_is_located(body in prefs_body()) {
        match prefs::parse_update(&body) {
            Err(errors) => located(&body, &errors)?,
            Ok(up) => {
                if let Some(interests) = &up.interests {
                    for (i, k) in interests.iter().enumerate() {
                        prop_assert!(!interests[..i].contains(k), "listed twice: {}", k);
                    }
                }
                prop_assert!(up.sizes.as_ref().is_none_or(|s| s.len() <= prefs::MAX_SIZE_ENTRIES));
            }
        }
    }

    #[test]
    fn preference_center_bodies_are_read_or_located_and_read_back_the_same(body in center_body()) {
        match center::parse_update(&body) {
            Err(errors) => located(&body, &errors)?,
            Ok(up) => {
                // What is stored, sent back as a body, is accepted as the same settings.
                let mut again = serde_json::Map::new();
                if let Some(v) = &up.size_categories { again.insert("size_categories".into(), json!(v)); }
                if let Some(v) = &up.interests { again.insert("interests".into(), json!(v)); }
                if let Some(v) = &up.frequencies { again.insert("frequencies".into(), json!(v)); }
                if let Some(v) = &up.texts { again.insert("texts".into(), json!(v)); }
                let again = Value::Object(again);
                let reread = center::parse_update(&again);
                prop_assert!(reread.is_ok(), "{} refused: {:?}", again, reread.err());
                let reread = reread.unwrap();
                prop_assert_eq!(json!(reread.size_categories), json!(up.size_categories));
                prop_assert_eq!(json!(reread.interests), json!(up.interests));
                prop_assert_eq!(json!(reread.frequencies), json!(up.frequencies));
                prop_assert_eq!(json!(reread.texts), json!(up.texts));
            }
        }
    }

    #[test]
    fn saved_personalization_bodies_are_read_or_every_problem_is_located(
        name in prop_oneof![hostile_text().prop_map(Value::String), scalar()],
        values in prop_oneof![crate::arb::object_with(&["f0", "f1"]).prop_map(Value::Object), value()],
        product_id in id_value(),
        drop in prop::collection::vec(any::<bool>(), 3),
        extra in prop::option::of(small_key()),
    ) {
        let mut body = json!({"name": name, "values": values, "product_id": product_id});
        for (k, gone) in ["name", "values", "product_id"].into_iter().zip(drop) {
            if gone { body.as_object_mut().unwrap().remove(k); }
        }
        if let Some(k) = extra { body[k] = json!(1); }
        match saved::parse_new(&body) {
            Err(errors) => located(&body, &errors)?,
            Ok(s) => {
                prop_assert!(!s.name.is_empty() && s.name.trim() == s.name);
                prop_assert!(s.values.len() <= saved::MAX_VALUES);
                prop_assert!(s.product_id.is_none_or(|id| id > 0));
            }
        }
    }

    #[test]
    fn steering_bodies_are_read_or_located_and_read_back_the_same(body in steering_body()) {
        match steering::parse_update(&body, &Steering::default()) {
            Err(errors) => located(&body, &errors)?,
            Ok(s) => {
                for (k, ids) in s.pinned.iter().chain(&s.excluded) {
                    prop_assert!(*k > 0 && ids.iter().all(|id| *id > 0 && id != k));
                }
                // The settings as `GET` shows them are accepted by `PUT` as the same settings.
                prop_assert_eq!(steering::parse_update(&s.to_json(), &Steering::default()), Ok(s.clone()));
                prop_assert_eq!(steering::parse_update(&json!({}), &s), Ok(s.clone()));
            }
        }
    }
}
