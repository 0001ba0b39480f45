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
//!
//! A pause does not turn every trigger into a later message: a price drop or a return to stock
//! is news about now (the price may be back up, the stock gone again by the time the pause
//! ends), so one found during a pause is not made and one due during a pause is suppressed
//! (`paused`). An abandoned personalization is still waiting for the shopper after their
//! pause, so it is **deferred** to the day the pause ends (and then passes every send-time
//! check again, including "not ordered since") — unless that day is more than
//! [`DEFER_LIMIT_DAYS`] away, when it is no longer timely and is dropped too.

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

/// Longest wait for a pause to end that a deferred follow-up accepts.
pub const DEFER_LIMIT_DAYS: i64 = 30;

/// Why an event is not sent to this shopper now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    NoConsent,
    /// Paused until this moment (the start of the `pause_until` day, UTC).
    Paused(PrimitiveDateTime),
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::NoConsent => "no_consent",
            Hold::Paused(_) => "paused",
        }
    }

    /// When an event of `kind` held by this may still go: the pause's end for a trigger that
    /// waits for it (an abandoned personalization) within [`DEFER_LIMIT_DAYS`] of `at`;
    /// `None`: not sent.
    pub fn deferred_to(self, kind: &str, at: PrimitiveDateTime) -> Option<PrimitiveDateTime> {
        match self {
            Hold::Paused(until)
                if kind == ABANDONED && until <= at + time::Duration::days(DEFER_LIMIT_DAYS) =>
            {
                Some(until)
            }
            _ => None,
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
    if let Some(until) = contact
        .pause_until
        .as_deref()
        .filter(|until| today.as_str() < *until)
    {
        let end = time::Date::parse(
            until,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map(|d| d.midnight())
        .unwrap_or(at);
        return Ok(Err(Hold::Paused(end)));
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
    fn only_an_abandoned_personalization_waits_for_a_pause_and_not_for_ever() {
        let at = time::macros::datetime!(2026-12-01 10:00);
        let soon = Hold::Paused(time::macros::datetime!(2026-12-05 00:00));
        assert_eq!(
            soon.deferred_to(ABANDONED, at),
            Some(time::macros::datetime!(2026-12-05 00:00))
        );
        assert_eq!(soon.deferred_to(PRICE_DROP, at), None);
        assert_eq!(soon.deferred_to(BACK_IN_STOCK, at), None);
        let far = Hold::Paused(time::macros::datetime!(2027-03-01 00:00));
        assert_eq!(far.deferred_to(ABANDONED, at), None);
        assert_eq!(Hold::NoConsent.deferred_to(ABANDONED, at), None);
    }

    #[test]
    fn frequencies_are_windows_of_one_message() {
        assert_eq!(frequency_window(Some("daily")), time::Duration::days(1));
        assert_eq!(frequency_window(Some("weekly")), time::Duration::days(7));
        assert_eq!(frequency_window(Some("monthly")), time::Duration::days(30));
        assert_eq!(frequency_window(None), time::Duration::days(1));
        assert_eq!(frequency_window(Some("hourly")), time::Duration::days(1));
    }
}
