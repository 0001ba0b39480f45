//! `recently_viewed`: the products this shopper looked at lately, newest first, each once; read
//! from the storefront's product views (the app embed's and the web pixel's, both in
//! `rec_events`), never from widget impressions.
//!
//! Whose views: a logged-in shopper's own (by customer id, and the anonymous views of the
//! browser session they are in) only with personalization consent, since those are their
//! stored history; without it the list is empty. An anonymous visitor gets the views of their
//! own session only (the session id their browser made up, which nobody else holds), never
//! those a logged-in shopper made in it.

use diesel::prelude::*;
use serde_json::json;
use time::PrimitiveDateTime;

use super::{Rec, Recommender, consent, round};
use crate::db::schema::rec_events;
use crate::db::{DbConnection, now, rfc3339};

/// View events read per request (newest first): enough for a full list of distinct products.
pub const RECENT_VIEWS: i64 = 300;

/// Shorter session ids are not private to one browser (a widget without storage reports
/// `anonymous`, say): they get no recently viewed list.
pub const MIN_SESSION_LEN: usize = 16;

/// The newest product views matching `who`, newest first.
macro_rules! views {
    ($c:expr, $shop_id:expr, $who:expr) => {
        rec_events::table
            .filter(rec_events::shop_id.eq($shop_id))
            .filter($who)
            .filter(rec_events::kind.eq("view"))
            .filter(rec_events::intent.is_null())
            .order(rec_events::created_at.desc())
            .select((rec_events::product_id, rec_events::created_at))
            .limit(RECENT_VIEWS)
            .load::<(i64, PrimitiveDateTime)>($c)
    };
}

/// "viewed 2 hours ago", from the age of a view in seconds.
pub(super) fn viewed_ago(secs: i64) -> String {
    let (n, unit) = match secs.max(0) {
        s if s < 60 => return "viewed just now".to_owned(),
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("viewed {n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

impl Recommender {
    /// The shopper's recently viewed products, newest first, without the product being viewed
    /// (`product`), merchant exclusions and products that may not be recommended (sold out,
    /// unpublished, deleted, fees): a list of things to buy, like every other. Scores are
    /// recency: 1 for the newest, then `1/(1+rank)`.
    #[allow(clippy::too_many_arguments)]
    pub fn recently_viewed(
        &self,
        c: &mut DbConnection,
        shop_id: &str,
        customer: Option<i64>,
        session: Option<&str>,
        product: Option<i64>,
        limit: usize,
        explain: bool,
    ) -> QueryResult<Vec<Rec>> {
        self.apply_local();
        self.poll(c, shop_id)?;
        let session = session.filter(|s| s.len() >= MIN_SESSION_LEN);
        let mut views: Vec<(i64, PrimitiveDateTime)> = Vec::new();
        match customer {
            Some(customer) => {
                if !consent::personalization_allowed(c, shop_id, customer)? {
                    return Ok(Vec::new());
                }
                views.extend(views!(c, shop_id, rec_events::customer_id.eq(customer))?);
            }
            None if session.is_none() => return Ok(Vec::new()),
            None => {}
        }
        if let Some(s) = session {
            views.extend(views!(
                c,
                shop_id,
                rec_events::session_id
                    .eq(s)
                    .and(rec_events::customer_id.is_null())
            )?);
        }
        views.sort_by_key(|v| std::cmp::Reverse(v.1));
        let settings = self.settings(c, shop_id)?;
        let cat = self.catalogue(c, shop_id)?;
        let excluded_here = product.and_then(|p| settings.excluded.get(&p));
        let at = now();
        let mut out: Vec<Rec> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (p, viewed) in views {
            if out.len() >= limit {
                break;
            }
            if !seen.insert(p)
                || Some(p) == product
                || settings.excluded_everywhere.contains(&p)
                || excluded_here.is_some_and(|ex| ex.contains(&p))
                || cat.recommendable(p).is_none()
            {
                continue;
            }
            let rank = out.len();
            out.push(Rec {
                product_id: p,
                score: round(1.0 / (1.0 + rank as f64)),
                reasons: if explain {
                    let age = (at - viewed).whole_seconds();
                    vec![json!({
                        "type": "recently_viewed",
                        "viewed_at": rfc3339(viewed),
                        "text": viewed_ago(age),
                    })]
                } else {
                    Vec::new()
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::viewed_ago;

    #[test]
    fn ages_read_like_a_shopper_would_say_them() {
        assert_eq!(viewed_ago(5), "viewed just now");
        assert_eq!(viewed_ago(60), "viewed 1 minute ago");
        assert_eq!(viewed_ago(7_300), "viewed 2 hours ago");
        assert_eq!(viewed_ago(86_400 * 3 + 5), "viewed 3 days ago");
        assert_eq!(viewed_ago(-4), "viewed just now");
    }
}
