//! Every table holding customer data, with how to export it (`customers/data_request`) and
//! how to erase it (`customers/redact`).

use diesel::QueryResult;
use serde_json::{Value, json};

use crate::db::{DbConnection, rfc3339};
use crate::preferences::{prefs, questions, saved, wishlist};

/// One kind of customer data: how to export it and how to erase it.
pub struct CustomerDataSource {
    /// Member of the export object.
    pub key: &'static str,
    pub export: fn(&mut DbConnection, &str, i64) -> QueryResult<Value>,
    /// `(conn, shop_id, customer_id, orders_to_redact)`
    pub redact: fn(&mut DbConnection, &str, i64, &[i64]) -> QueryResult<()>,
}

/// Every table holding customer data, in export order.
pub const CUSTOMER_DATA: &[CustomerDataSource] =
    &[
        // Experiment exposures before the events: their erasure finds the shopper's sessions
        // through the events.
        CustomerDataSource {
            key: "experiment_exposures",
            export: crate::recommendations::experiments::export,
            redact: crate::recommendations::experiments::redact,
        },
        // Recommendations first: its erasure finds the shopper's orders through
        // `orders.customer_id`, which the `orders` entry unlinks.
        CustomerDataSource {
            key: "events",
            export: crate::recommendations::model::export_events,
            redact: crate::recommendations::redact_customer,
        },
        CustomerDataSource {
            key: "orders",
            export: |c, shop, customer| {
                Ok(
                    serde_json::to_value(crate::orders::for_customer(c, shop, customer)?)
                        .unwrap_or_default(),
                )
            },
            redact: crate::orders::redact_customer,
        },
        CustomerDataSource {
            key: "store_marketing_consent",
            export: |c, shop, customer| {
                Ok(crate::customers::find(c, shop, customer)?.map_or(Value::Null, |cu| {
                json!({
                    "email_marketing_state": cu.email_marketing_state,
                    "email_marketing_updated_at": cu.email_marketing_updated_at.map(rfc3339),
                    "sms_marketing_state": cu.sms_marketing_state,
                    "sms_marketing_updated_at": cu.sms_marketing_updated_at.map(rfc3339),
                })
            }))
            },
            redact: |c, shop, customer, _| crate::customers::redact(c, shop, customer),
        },
        PREFERENCES,
        CONSENT_HISTORY,
        SAVED,
        WISHLIST,
        QUIZ_ANSWERS,
        FOLLOWUPS,
        FOLLOWUP_PERSONALIZATIONS,
        STORE_WRITES,
    ];

/// `preferences`: PREFERENCES, or `null` when nothing is stored.
pub const PREFERENCES: CustomerDataSource = CustomerDataSource {
    key: "preferences",
    export: |c, shop, customer| {
        Ok(prefs::stored(c, shop, customer)?
            .map_or(Value::Null, |p| serde_json::to_value(p).unwrap_or_default()))
    },
    redact: |c, shop, customer, _| prefs::redact(c, shop, customer),
};

/// `consent_history`: every change, oldest first.
pub const CONSENT_HISTORY: CustomerDataSource = CustomerDataSource {
    key: "consent_history",
    export: |c, shop, customer| {
        Ok(serde_json::to_value(prefs::history(c, shop, customer)?).unwrap_or_default())
    },
    redact: |c, shop, customer, _| prefs::redact_history(c, shop, customer),
};

/// `saved`: saved personalizations, newest first.
pub const SAVED: CustomerDataSource = CustomerDataSource {
    key: "saved",
    export: |c, shop, customer| {
        Ok(serde_json::to_value(saved::list(c, shop, customer)?).unwrap_or_default())
    },
    redact: |c, shop, customer, _| saved::redact(c, shop, customer),
};

/// `wishlist`: the products the shopper keeps, newest first.
pub const WISHLIST: CustomerDataSource = CustomerDataSource {
    key: "wishlist",
    export: wishlist::export,
    redact: |c, shop, customer, _| wishlist::redact(c, shop, customer),
};

/// `quiz_answers`: the shopper's answers to the merchant's questions (their history is in
/// `consent_history`).
pub const QUIZ_ANSWERS: CustomerDataSource = CustomerDataSource {
    key: "quiz_answers",
    export: questions::answers::export,
    redact: |c, shop, customer, _| questions::answers::redact(c, shop, customer),
};

/// `followups`: follow-up events made for the shopper (kind, state, when).
pub const FOLLOWUPS: CustomerDataSource = CustomerDataSource {
    key: "followups",
    export: crate::followups::outbox::export,
    redact: |c, shop, customer, _| crate::followups::outbox::redact(c, shop, customer),
};

/// `validated_personalizations`: products whose personalization the shopper validated and has
/// not ordered yet (kept for the abandoned-personalization follow-up).
pub const FOLLOWUP_PERSONALIZATIONS: CustomerDataSource = CustomerDataSource {
    key: "validated_personalizations",
    export: crate::followups::triggers::export,
    redact: |c, shop, customer, _| crate::followups::triggers::redact(c, shop, customer),
};

/// `store_writes`: the marketing consent Atelier wrote to the store for the shopper (and, when
/// erased, the flags of the orders being redacted).
pub const STORE_WRITES: CustomerDataSource = CustomerDataSource {
    key: "store_writes",
    export: crate::writeback::export,
    redact: crate::writeback::redact,
};
