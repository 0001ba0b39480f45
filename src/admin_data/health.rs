//! The admin's Home page: is the store's data arriving (webhook health), and what is left to
//! set up (the checklist checks what Atelier can see from its side).

use diesel::prelude::*;
use serde::Serialize;
use time::PrimitiveDateTime;

use crate::db::schema::{
    personalization_settings, preference_settings, product_variants, rec_events,
    template_products, webhook_inbox,
};
use crate::db::{DbConnection, now, rfc3339};
use crate::inbox::{STATE_DEAD, STATE_DONE, STATE_IGNORED, STATE_PENDING, STATE_PROCESSING};

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

#[derive(Debug, Serialize)]
pub struct Check {
    pub key: &'static str,
    pub done: bool,
    pub detail: String,
}

/// Storefront activity within this many days counts as the theme's app embed being on.
pub const EMBED_EVIDENCE_DAYS: i64 = 30;

/// The setup checklist, in the order a merchant works through it.
pub fn setup_checklist(
    c: &mut DbConnection,
    shop_id: &str,
    webhooks_registered: bool,
) -> QueryResult<Vec<Check>> {
    let mut out = Vec::new();
    out.push(Check {
        key: "webhooks",
        done: webhooks_registered,
        detail: if webhooks_registered {
            "Atelier receives the store's order, product and customer webhooks.".into()
        } else {
            "Webhook registration is pending; Atelier retries it every few minutes.".into()
        },
    });
    // Atelier cannot read the theme's settings (no theme scope); storefront events reach it only
    // through the app embed or the blocks, so recent ones prove the embed is on.
    let seen: i64 = rec_events::table
        .filter(rec_events::shop_id.eq(shop_id))
        .filter(rec_events::created_at.ge(now() - time::Duration::days(EMBED_EVIDENCE_DAYS)))
        .count()
        .get_result(c)?;
    out.push(Check {
        key: "app_embed",
        done: seen > 0,
        detail: if seen > 0 {
            format!("The storefront sent {seen} events in the last {EMBED_EVIDENCE_DAYS} days.")
        } else {
            "Turn on the Atelier app embed in Online Store › Themes › Customize › App embeds; no storefront events have arrived yet.".into()
        },
    });
    let fee: Option<Option<i64>> = personalization_settings::table
        .find(shop_id)
        .select(personalization_settings::fee_variant_id)
        .first(c)
        .optional()?;
    let fee = fee.flatten();
    let fee_synced = match fee {
        Some(v) => product_variants::table
            .filter(product_variants::shop_id.eq(shop_id))
            .filter(product_variants::variant_id.eq(v))
            .count()
            .get_result::<i64>(c)?
            > 0,
        None => false,
    };
    out.push(Check {
        key: "fee_product",
        done: fee_synced,
        detail: match (fee, fee_synced) {
            (Some(v), true) => format!("Add-ons are charged with fee variant {v}."),
            (Some(v), false) => format!("Fee variant {v} is configured but not among the synced products."),
            (None, _) => "Create a hidden $0.01 “Personalization” product and set its variant as the fee variant.".into(),
        },
    });
    let assigned: i64 = template_products::table
        .filter(template_products::shop_id.eq(shop_id))
        .count()
        .get_result(c)?;
    out.push(Check {
        key: "template_assigned",
        done: assigned > 0,
        detail: if assigned > 0 {
            format!("{assigned} products have personalization fields.")
        } else {
            "Create a template and assign it to a product.".into()
        },
    });
    let prefs: Option<String> = preference_settings::table
        .find(shop_id)
        .select(preference_settings::settings)
        .first(c)
        .optional()?;
    out.push(Check {
        key: "preference_center",
        done: prefs.is_some(),
        detail: if prefs.is_some() {
            "The preference center offers your own sizes, interests and frequencies.".into()
        } else {
            "Review the preference center's sizes, interests and texts (defaults are in use).".into()
        },
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::merchant_error;

    #[test]
    fn database_errors_are_not_shown_verbatim() {
        let shown = merchant_error(Some("database error: near \"SELEC\": syntax error".into()));
        assert!(!shown.unwrap().contains("SELEC"));
        let payload = merchant_error(Some("malformed orders/create payload: missing field `id`".into()));
        assert_eq!(payload.unwrap(), "malformed orders/create payload: missing field `id`");
    }
}
