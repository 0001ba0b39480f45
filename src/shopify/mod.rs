//! Shopify's wire protocols: signatures and their checks, session tokens, shop domains and the store client.
//! No routing here.

pub mod client;
pub mod delivery;
pub mod hmac;
pub mod payload;
pub mod session_token;
pub mod shop_domain;
pub mod signatures;

pub use client::{AccessGrant, StoreClient, StoreError};
pub use shop_domain::ShopDomain;
pub use signatures::{Signatures, Verdict};

/// Topics registered through the Admin API at install. The compliance topics are
/// declared in `shopify.app.toml` instead: Shopify refuses them through the API.
pub const WEBHOOK_TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "products/create",
    "products/update",
    "products/delete",
    "collections/create",
    "collections/update",
    "collections/delete",
    "customers/update",
    "app/uninstalled",
    "app/scopes_update",
];

pub const COMPLIANCE_TOPICS: &[&str] =
    &["customers/data_request", "customers/redact", "shop/redact"];

/// `orders/create` → `ORDERS_CREATE` (GraphQL `WebhookSubscriptionTopic`).
pub fn graphql_topic(topic: &str) -> String {
    topic.replace(['/', '.'], "_").to_ascii_uppercase()
}

/// Scopes granted cover the scopes required (`write_x` implies `read_x`).
pub fn scopes_cover(granted: &[String], required: &[String]) -> bool {
    required.iter().all(|need| {
        granted.iter().any(|g| {
            g == need
                || need
                    .strip_prefix("read_")
                    .is_some_and(|rest| g.strip_prefix("write_") == Some(rest))
        })
    })
}

pub fn split_scopes(scope: &str) -> Vec<String> {
    scope
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_map_to_graphql_enums() {
        assert_eq!(graphql_topic("orders/create"), "ORDERS_CREATE");
        assert_eq!(graphql_topic("app/uninstalled"), "APP_UNINSTALLED");
    }

    #[test]
    fn write_scope_implies_read() {
        let granted = split_scopes("write_products,read_orders");
        assert!(scopes_cover(
            &granted,
            &split_scopes("read_products,read_orders")
        ));
        assert!(!scopes_cover(&granted, &split_scopes("read_customers")));
        assert!(!scopes_cover(
            &split_scopes("read_products"),
            &split_scopes("write_products")
        ));
    }
}
