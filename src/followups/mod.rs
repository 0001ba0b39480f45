//! Triggered follow-ups: events sent to the merchant's email/SMS tool when something happens
//! that a shopper would want to hear about — a price drop or a return to stock of a product they
//! wished, a personalization they validated and did not order.
//!
//! - [`settings`]: destination, format (`webhook` or `klaviyo`), channel, triggers, delay, and
//!   the signing secret Atelier generates.
//! - [`triggers`]: detection (product updates compared with what was stored, validated
//!   personalizations not ordered in time) and the enqueueing of one event per shopper.
//! - [`outbox`]: the durable queue: leased claims, the consent/frequency/pause gate checked at
//!   send time, retries with backoff, dead letters.
//! - [`deliver`]: the body of each format, its signature, the HTTP call.
//! - [`destination`]: which URLs may be called (no private networks).
//!
//! Marketing is only sent with the shopper's marketing consent for the shop's channel, checked
//! when the event is made **and again when it is sent**, within their frequency and not before
//! their "pause until" date.

pub mod deliver;
pub mod destination;
pub mod outbox;
pub mod settings;
pub mod triggers;

use diesel::QueryResult;
use time::PrimitiveDateTime;

use crate::db::DbConnection;
use crate::preferences::prefs::{MarketingContact, marketing_contact};

pub const PRICE_DROP: &str = "price_drop";
pub const BACK_IN_STOCK: &str = "back_in_stock";
pub const ABANDONED: &str = "abandoned_personalization";

/// Why an event is not sent to this shopper now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    NoConsent,
    Paused,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::NoConsent => "no_consent",
            Hold::Paused => "paused",
        }
    }
}

/// Whether marketing may reach the shopper on `channel` today: consent for marketing and for
/// the channel, and no pause running. Returns their contact record when it may.
pub fn may_contact(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    channel: &str,
    at: PrimitiveDateTime,
) -> QueryResult<Result<MarketingContact, Hold>> {
    let Some(contact) = marketing_contact(c, shop_id, customer_id)? else {
        return Ok(Err(Hold::NoConsent));
    };
    let channel_ok = match channel {
        "sms" => contact.sms,
        _ => contact.email,
    };
    if !contact.marketing || !channel_ok {
        return Ok(Err(Hold::NoConsent));
    }
    let today = at.date().to_string();
    // `YYYY-MM-DD` strings order as dates.
    if contact
        .pause_until
        .as_deref()
        .is_some_and(|until| today.as_str() < until)
    {
        return Ok(Err(Hold::Paused));
    }
    Ok(Ok(contact))
}

/// The shopper's frequency as the window in which at most one follow-up reaches them: `daily`,
/// `weekly`, `monthly` (30 days); any other or no choice counts as daily, the most a shopper
/// who did not choose is sent.
pub fn frequency_window(frequency: Option<&str>) -> time::Duration {
    match frequency {
        Some("weekly") => time::Duration::days(7),
        Some("monthly") => time::Duration::days(30),
        _ => time::Duration::days(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_are_windows_of_one_message() {
        assert_eq!(frequency_window(Some("daily")), time::Duration::days(1));
        assert_eq!(frequency_window(Some("weekly")), time::Duration::days(7));
        assert_eq!(frequency_window(Some("monthly")), time::Duration::days(30));
        assert_eq!(frequency_window(None), time::Duration::days(1));
        assert_eq!(frequency_window(Some("hourly")), time::Duration::days(1));
    }
}
