//! The preference center's entries in [`crate::compliance::CUSTOMER_DATA`]: what a
//! `customers/data_request` exports and a `customers/redact` erases.

use serde_json::Value;

use super::{prefs, saved};
use crate::compliance::CustomerDataSource;

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
