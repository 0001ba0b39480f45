//! Health, for the admin's Home page: is the store's data arriving, and what was set aside.

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use super::{STATE_DEAD, STATE_DONE, STATE_IGNORED, STATE_PENDING, STATE_PROCESSING};
use crate::db::schema::webhook_inbox;
use crate::db::{DbConnection, now, rfc3339};

#[derive(Debug, Serialize)]
pub struct DeadLetter {
    pub webhook_id: String,
    pub topic: String,
    pub received_at: String,
    pub attempts: i32,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WebhookHealth {
    pub last_received_at: Option<String>,
    pub last_processed_at: Option<String>,
    pub received_24h: i64,
    pub pending: i64,
    /// Pending deliveries that already failed at least once (retried with backoff).
    pub retrying: i64,
    pub dead: i64,
    /// The latest dead letters, newest first (at most 20).
    pub dead_letters: Vec<DeadLetter>,
}

/// The stored failure, as a merchant may read it: payload problems verbatim, anything from the
/// database only as a category (its text may name tables or statements).
fn merchant_error(stored: Option<String>) -> Option<String> {
    stored.map(|e| {
        if e.starts_with("database error") {
            "A database error; the delivery was retried and then set aside (details are in the server log).".to_owned()
        } else {
            e.chars().take(300).collect()
        }
    })
}

pub fn webhook_health(c: &mut DbConnection, domain: &str) -> QueryResult<WebhookHealth> {
    let mine = || webhook_inbox::table.filter(webhook_inbox::shop_domain.eq(domain));
    let last_received_at: Option<PrimitiveDateTime> = mine()
        .select(diesel::dsl::max(webhook_inbox::received_at))
        .first(c)?;
    let last_processed_at: Option<PrimitiveDateTime> = mine()
        .filter(webhook_inbox::state.eq_any([STATE_DONE, STATE_IGNORED]))
        .select(diesel::dsl::max(webhook_inbox::processed_at))
        .first::<Option<PrimitiveDateTime>>(c)?;
    let received_24h = mine()
        .filter(webhook_inbox::received_at.ge(now() - time::Duration::hours(24)))
        .count()
        .get_result(c)?;
    let pending = mine()
        .filter(webhook_inbox::state.eq_any([STATE_PENDING, STATE_PROCESSING]))
        .count()
        .get_result(c)?;
    let retrying = mine()
        .filter(webhook_inbox::state.eq_any([STATE_PENDING, STATE_PROCESSING]))
        .filter(webhook_inbox::attempts.gt(0))
        .count()
        .get_result(c)?;
    let dead = mine()
        .filter(webhook_inbox::state.eq(STATE_DEAD))
        .count()
        .get_result(c)?;
    let rows: Vec<(String, String, PrimitiveDateTime, i32, Option<String>)> = mine()
        .filter(webhook_inbox::state.eq(STATE_DEAD))
        .order(webhook_inbox::received_at.desc())
        .limit(20)
        .select((
            webhook_inbox::webhook_id,
            webhook_inbox::topic,
            webhook_inbox::received_at,
            webhook_inbox::attempts,
            webhook_inbox::last_error,
        ))
        .load(c)?;
    Ok(WebhookHealth {
        last_received_at: last_received_at.map(rfc3339),
        last_processed_at: last_processed_at.map(rfc3339),
        received_24h,
        pending,
        retrying,
        dead,
        dead_letters: rows
            .into_iter()
            .map(|(webhook_id, topic, at, attempts, error)| DeadLetter {
                webhook_id,
                topic,
                received_at: rfc3339(at),
                attempts,
                error: merchant_error(error),
            })
            .collect(),
    })
}

#[cfg(test)]
mod health_tests {
    use super::merchant_error;

    #[test]
    fn database_errors_are_not_shown_verbatim() {
        let shown = merchant_error(Some("database error: near \"SELEC\": syntax error".into()));
        assert!(!shown.unwrap().contains("SELEC"));
        let payload = merchant_error(Some(
            "malformed orders/create payload: missing field `id`".into(),
        ));
        assert_eq!(
            payload.unwrap(),
            "malformed orders/create payload: missing field `id`"
        );
    }
}
