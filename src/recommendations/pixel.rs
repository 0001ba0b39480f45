//! Storefront events from Shopify's web pixel (the app's pixel extension): the standard
//! `product_viewed` and `product_added_to_cart` events become the model's `view` and
//! `add_to_cart` events, with the pixel's client id as the session, and `checkout_completed`
//! links that session to the order it placed, so attribution can credit a recommendation
//! clicked in an anonymous session with its order.
//!
//! The pixel's requests are unsigned: an event never names a customer (a logged-in shopper's
//! own signals come only through signed routes), and each event is stored once by the id
//! Shopify gave it.

use diesel::prelude::*;

use super::model::{EventKind, NewEvent, record_event};
use crate::db::schema::{pixel_events, pixel_order_links};
use crate::db::{DbConnection, now, write_tx};

/// What one pixel event asks of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PixelSignal {
    /// `page_viewed`: counted once, teaches nothing (no product).
    Page,
    /// `product_viewed`.
    View(i64),
    /// `product_added_to_cart`.
    AddToCart(i64),
    /// `checkout_completed`: the session placed this order.
    Checkout(i64),
}

#[derive(Debug, Clone)]
pub struct PixelEvent {
    pub shop_id: String,
    pub event_id: String,
    pub client_id: String,
    pub name: &'static str,
    pub signal: PixelSignal,
}

/// Stores the event and learns from it in one transaction; `false` when an event with this id
/// was stored before (by any instance: the primary key decides), and then nothing changes.
pub fn record(c: &mut DbConnection, ev: &PixelEvent) -> QueryResult<bool> {
    write_tx(c, |c| {
        let at = now();
        let inserted = crate::per_backend!(c, |c| diesel::insert_into(pixel_events::table)
            .values((
                pixel_events::shop_id.eq(&ev.shop_id),
                pixel_events::event_id.eq(&ev.event_id),
                pixel_events::client_id.eq(&ev.client_id),
                pixel_events::name.eq(ev.name),
                pixel_events::received_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if inserted == 0 {
            return Ok(false);
        }
        let event = |kind, product_id| NewEvent {
            shop_id: ev.shop_id.clone(),
            session_id: ev.client_id.clone(),
            customer_id: None,
            kind,
            product_id,
            intent: None,
            source_product_id: None,
            experiment: None,
        };
        match ev.signal {
            PixelSignal::Page => {}
            PixelSignal::View(p) => record_event(c, &event(EventKind::View, p))?,
            PixelSignal::AddToCart(p) => record_event(c, &event(EventKind::AddToCart, p))?,
            PixelSignal::Checkout(order_id) => {
                crate::per_backend!(c, |c| diesel::insert_into(pixel_order_links::table)
                    .values((
                        pixel_order_links::shop_id.eq(&ev.shop_id),
                        pixel_order_links::order_id.eq(order_id),
                        pixel_order_links::session_id.eq(&ev.client_id),
                        pixel_order_links::linked_at.eq(at),
                    ))
                    .on_conflict_do_nothing()
                    .execute(c))?;
            }
        }
        Ok(true)
    })
}

/// The sessions that placed these orders (for erasure: such a session is the customer's).
pub fn sessions_of_orders(
    c: &mut DbConnection,
    shop_id: &str,
    order_ids: &[i64],
) -> QueryResult<Vec<String>> {
    let mut out = Vec::new();
    for chunk in order_ids.chunks(500) {
        out.extend(
            pixel_order_links::table
                .filter(pixel_order_links::shop_id.eq(shop_id))
                .filter(pixel_order_links::order_id.eq_any(chunk))
                .select(pixel_order_links::session_id)
                .load::<String>(c)?,
        );
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Forgets the links of these orders and the event ids of these sessions.
pub fn forget(
    c: &mut DbConnection,
    shop_id: &str,
    order_ids: &[i64],
    sessions: &[String],
) -> QueryResult<()> {
    for chunk in order_ids.chunks(500) {
        diesel::delete(
            pixel_order_links::table
                .filter(pixel_order_links::shop_id.eq(shop_id))
                .filter(pixel_order_links::order_id.eq_any(chunk)),
        )
        .execute(c)?;
    }
    for chunk in sessions.chunks(500) {
        diesel::delete(
            pixel_order_links::table
                .filter(pixel_order_links::shop_id.eq(shop_id))
                .filter(pixel_order_links::session_id.eq_any(chunk)),
        )
        .execute(c)?;
        diesel::delete(
            pixel_events::table
                .filter(pixel_events::shop_id.eq(shop_id))
                .filter(pixel_events::client_id.eq_any(chunk)),
        )
        .execute(c)?;
    }
    Ok(())
}

/// Event ids and order links past the storefront events' retention, in short batches.
pub fn purge(
    c: &mut DbConnection,
    retention: std::time::Duration,
    batch: i64,
) -> QueryResult<usize> {
    let cutoff = now() - time::Duration::try_from(retention).unwrap_or(time::Duration::days(400));
    let ids: Vec<(String, String)> = pixel_events::table
        .filter(pixel_events::received_at.lt(cutoff))
        .order(pixel_events::received_at.asc())
        .select((pixel_events::shop_id, pixel_events::event_id))
        .limit(batch)
        .load(c)?;
    let mut n = 0;
    for (shop, id) in &ids {
        n += diesel::delete(
            pixel_events::table
                .filter(pixel_events::shop_id.eq(shop))
                .filter(pixel_events::event_id.eq(id)),
        )
        .execute(c)?;
    }
    n += diesel::delete(pixel_order_links::table.filter(pixel_order_links::linked_at.lt(cutoff)))
        .execute(c)?;
    Ok(n)
}
