//! The app's configuration for Shopify's CLI (`shopify.app.toml`) agrees with the code: the
//! webhook topics declared there and the ones registered at install are, together, exactly the
//! topics Atelier handles, none of them twice; the scopes cover what Atelier requires; the
//! API version is the one it calls.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::*;
use atelier::shopify::{COMPLIANCE_TOPICS, WEBHOOK_TOPICS, graphql_topic, scopes_cover};

fn app_toml() -> toml::Table {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shopify.app.toml");
    std::fs::read_to_string(path)
        .expect("shopify.app.toml")
        .parse()
        .expect("shopify.app.toml is TOML")
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("a topic is a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn declared_topics_are_the_compliance_topics_and_nothing_is_declared_twice() {
    let t = app_toml();
    let webhooks = t["webhooks"].as_table().expect("[webhooks]");
    assert_eq!(
        webhooks["api_version"].as_str(),
        Some(atelier::config::DEFAULT_API_VERSION)
    );
    let mut compliance = Vec::new();
    let mut declared = Vec::new();
    for sub in webhooks["subscriptions"].as_array().expect("subscriptions") {
        assert_eq!(sub["uri"].as_str(), Some("/webhooks"), "{sub}");
        compliance.extend(strings(sub.get("compliance_topics")));
        declared.extend(strings(sub.get("topics")));
    }
    let compliance_set: BTreeSet<_> = compliance.iter().cloned().collect();
    assert_eq!(
        compliance.len(),
        compliance_set.len(),
        "a compliance topic declared twice"
    );
    assert_eq!(
        compliance_set,
        COMPLIANCE_TOPICS.iter().map(|s| s.to_string()).collect()
    );
    // Shop topics come from the code's list at install; one declared too would arrive twice.
    for topic in &declared {
        assert!(
            !WEBHOOK_TOPICS.contains(&topic.as_str()),
            "{topic} is declared and registered"
        );
    }
    assert!(
        declared.is_empty(),
        "declared topics the code does not handle: {declared:?}"
    );
}

#[test]
fn the_declared_scopes_cover_what_atelier_requires_and_what_it_writes() {
    let t = app_toml();
    let scopes = atelier::shopify::split_scopes(
        t["access_scopes"]["scopes"]
            .as_str()
            .expect("access_scopes.scopes"),
    );
    let required: Vec<String> = ["read_products", "read_orders", "read_customers"]
        .map(String::from)
        .to_vec();
    assert!(scopes_cover(&scopes, &required), "{scopes:?}");
    for kind in [
        atelier::writeback::CONSENT,
        atelier::writeback::ORDER_FLAG,
        atelier::writeback::WEB_PIXEL,
    ] {
        assert!(
            atelier::writeback::may_write(&scopes, kind),
            "{kind}: scopes missing"
        );
    }
    let proxy = t["app_proxy"].as_table().expect("[app_proxy]");
    assert!(proxy["url"].as_str().unwrap().ends_with("/proxy"));
}

/// The smallest body each topic's handler reads.
fn minimal_body(topic: &str, shop: &str) -> serde_json::Value {
    match topic {
        t if t.starts_with("orders/") => order_payload(
            4_100_000_000_001,
            None,
            "2026-11-01T10:00:00Z",
            &[(4_200_000_000_001, 7, 1, "5.00")],
        ),
        t if t.starts_with("products/") => json!({"id": 7, "title": "Mug", "handle": "mug",
            "status": "active", "updated_at": "2026-11-01T10:00:00Z", "variants": []}),
        t if t.starts_with("collections/") => json!({"id": 9, "handle": "mugs", "title": "Mugs",
            "updated_at": "2026-11-01T10:00:00Z"}),
        "customers/update" => json!({"id": 1, "updated_at": "2026-11-01T10:00:00Z"}),
        "app/scopes_update" => {
            json!({"id": 1, "current": ["read_products", "read_orders", "read_customers"], "updated_at": "2026-11-01T10:00:00Z"})
        }
        "customers/redact" => {
            json!({"shop_domain": shop, "customer": {"id": 1}, "orders_to_redact": []})
        }
        "customers/data_request" => {
            json!({"shop_domain": shop, "customer": {"id": 1}, "orders_requested": [], "data_request": {"id": 1}})
        }
        "shop/redact" => json!({"shop_domain": shop}),
        _ => json!({"id": 1, "domain": shop}),
    }
}

#[tokio::test]
async fn every_registered_and_declared_topic_is_handled_and_only_those_are_registered() {
    let app = spawn_app().await;
    let shop = "topics-shop.myshopify.com";
    app.install(shop).await;
    let registered: BTreeSet<String> = app
        .store
        .subscriptions()
        .into_iter()
        .map(|(_, topic, _)| topic)
        .collect();
    assert_eq!(
        registered,
        WEBHOOK_TOPICS.iter().map(|t| graphql_topic(t)).collect()
    );
    // Not shop/redact: applied after app/uninstalled (instances apply in parallel on
    // PostgreSQL) it erases the shop and its deliveries; the compliance tests cover it.
    let topics: Vec<&str> = WEBHOOK_TOPICS
        .iter()
        .chain(COMPLIANCE_TOPICS)
        .copied()
        .filter(|t| *t != "shop/redact")
        .collect();
    for topic in &topics {
        app.deliver(&Delivery::new(topic, shop, &minimal_body(topic, shop)))
            .await;
    }
    app.drain().await;
    let rows = app.inbox_rows();
    assert_eq!(rows.len(), topics.len());
    for (topic, state, _, why, _) in rows {
        let why = why.unwrap_or_default();
        assert!(
            !why.contains("not handled") && state != "failed" && state != "dead",
            "{topic}: {state} {why}"
        );
    }
}

#[test]
fn every_extension_directory_holds_an_extension_configuration() {
    let t = app_toml();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in strings(t.get("extension_directories")) {
        let dirs: Vec<std::path::PathBuf> = match dir.strip_suffix("/*") {
            Some(parent) => std::fs::read_dir(root.join(parent))
                .expect("extension folder")
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .collect(),
            None => vec![root.join(&dir)],
        };
        for d in dirs {
            let text = std::fs::read_to_string(d.join("shopify.extension.toml"))
                .unwrap_or_else(|_| panic!("{} has no shopify.extension.toml", d.display()));
            let ext: toml::Table = text.parse().expect("extension TOML");
            let kind = ext.get("type").or_else(|| {
                ext.get("extensions")
                    .and_then(|e| e.as_array())
                    .and_then(|e| e.first())
                    .and_then(|e| e.get("type"))
            });
            assert!(
                kind.is_some_and(|k| k.is_str()),
                "{} names no type",
                d.display()
            );
            found.push(d.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found.sort();
    for expected in [
        "customer-account-preferences",
        "theme-extension",
        "web-pixel",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected} missing: {found:?}"
        );
    }
}
