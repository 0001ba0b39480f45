//! Detection: what happened that a shopper may hear about, and one outbox event per shopper.
//!
//! - **Price drop / back in stock** on a wished product: a `products/update` is compared with
//!   what was stored before it (lowest variant price, availability), inside the webhook's
//!   transaction, so a redelivered update (nothing changes any more) triggers nothing twice.
//! - **Abandoned personalization**: a logged-in shopper's validated personalization is recorded;
//!   once the shop's delay has passed without an order of that product by them since, an event
//!   is made (the periodic scan, safe on several instances: the event's dedupe key is unique).

use diesel::prelude::*;
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use super::settings::{self, MAX_DELAY_MINUTES};
use super::{ABANDONED, BACK_IN_STOCK, PRICE_DROP, may_contact, outbox};
use crate::db::schema::{
    followup_personalizations as fp, order_line_items, orders, products, shops,
};
use crate::db::{DbConnection, now, write_tx};

/// A product as stored, before an update is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductState {
    pub product_id: i64,
    pub price_min_cents: Option<i64>,
    pub available: bool,
    pub deleted: bool,
}

pub fn product_state(
    c: &mut DbConnection,
    shop_id: &str,
    product_id: i64,
) -> QueryResult<Option<ProductState>> {
    let row: Option<(Option<i64>, bool, bool)> = products::table
        .filter(products::shop_id.eq(shop_id))
        .filter(products::product_id.eq(product_id))
        .select((
            products::price_min_cents,
            products::available,
            products::deleted,
        ))
        .first(c)
        .optional()?;
    Ok(
        row.map(|(price_min_cents, available, deleted)| ProductState {
            product_id,
            price_min_cents,
            available,
            deleted,
        }),
    )
}

/// What a product's public page is: what the shopper's message links to.
fn product_data(
    c: &mut DbConnection,
    shop_id: &str,
    domain: &str,
    product_id: i64,
) -> QueryResult<Value> {
    let cards = crate::products::cards(c, shop_id, &[product_id])?;
    let card = cards.get(&product_id);
    Ok(json!({
        "product_id": product_id.to_string(),
        "title": card.map(|c| c.title.clone()),
        "handle": card.map(|c| c.handle.clone()),
        "url": card.map(|c| format!("https://{domain}/products/{}", c.handle)),
        "image_url": card.and_then(|c| c.image_url.clone()),
        "price_cents": card.and_then(|c| c.price_min_cents),
    }))
}

/// After a product update was applied: price drop and back in stock, for every shopper who
/// wished the product and may be contacted. Returns the events made.
pub fn product_changed(
    c: &mut DbConnection,
    shop_id: &str,
    domain: &str,
    before: Option<ProductState>,
) -> QueryResult<usize> {
    let Some(before) = before.filter(|b| !b.deleted) else {
        return Ok(0);
    };
    let Some(after) = product_state(c, shop_id, before.product_id)? else {
        return Ok(0);
    };
    if after.deleted {
        return Ok(0);
    }
    let mut kinds = Vec::new();
    if let (Some(old), Some(new)) = (before.price_min_cents, after.price_min_cents)
        && new < old
        && after.available
    {
        kinds.push((
            PRICE_DROP,
            format!("{}:{old}>{new}", before.product_id),
            json!({"old_price_cents": old, "new_price_cents": new}),
        ));
    }
    if !before.available && after.available {
        kinds.push((
            BACK_IN_STOCK,
            format!(
                "{}:{}",
                before.product_id,
                now().assume_utc().unix_timestamp()
            ),
            json!({}),
        ));
    }
    if kinds.is_empty() {
        return Ok(0);
    }
    let Some(s) = settings::find(c, shop_id)? else {
        return Ok(0);
    };
    let kinds: Vec<_> = kinds.into_iter().filter(|k| s.trigger_on(k.0)).collect();
    if kinds.is_empty() {
        return Ok(0);
    }
    let wishers = crate::preferences::wishlist::customers_wishing(c, shop_id, before.product_id)?;
    let product = product_data(c, shop_id, domain, before.product_id)?;
    let at = now();
    let mut made = 0;
    for customer in wishers {
        if may_contact(c, shop_id, customer, &s.channel, at)?.is_err() {
            continue;
        }
        for (kind, key, extra) in &kinds {
            let mut data = product.clone();
            if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            if outbox::enqueue(
                c,
                shop_id,
                customer,
                kind,
                &format!("{kind}:{key}:{customer}"),
                &data,
            )? {
                made += 1;
            }
        }
    }
    Ok(made)
}

/// A logged-in shopper validated a personalization of a product (`personalize` answered
/// `valid`): kept, only while the shop follows abandoned personalizations up.
pub fn record_validated(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
) -> QueryResult<()> {
    let Some(s) = settings::find(c, shop_id)? else {
        return Ok(());
    };
    if !s.trigger_on(ABANDONED) {
        return Ok(());
    }
    let at = now();
    crate::per_backend!(c, |c| diesel::insert_into(fp::table)
        .values((
            fp::shop_id.eq(shop_id),
            fp::customer_id.eq(customer_id),
            fp::product_id.eq(product_id),
            fp::validated_at.eq(at),
        ))
        .on_conflict((fp::shop_id, fp::customer_id, fp::product_id))
        .do_update()
        .set(fp::validated_at.eq(at))
        .execute(c))?;
    Ok(())
}

/// Whether the customer ordered the product since `since`.
pub(super) fn ordered_since(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
    since: PrimitiveDateTime,
) -> QueryResult<bool> {
    let their: Vec<i64> = orders::table
        .filter(orders::shop_id.eq(shop_id))
        .filter(orders::customer_id.eq(customer_id))
        .filter(orders::created_at.ge(since))
        .select(orders::order_id)
        .limit(500)
        .load(c)?;
    if their.is_empty() {
        return Ok(false);
    }
    let n: i64 = order_line_items::table
        .filter(order_line_items::shop_id.eq(shop_id))
        .filter(order_line_items::order_id.eq_any(&their))
        .filter(order_line_items::product_id.eq(product_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Validated personalizations whose delay has passed: an event when not ordered since, and the
/// record goes either way. Each shop is read with its own delay, so a shop with a long one
/// never holds up another's. Returns the events made.
pub fn scan_abandoned(c: &mut DbConnection, at: PrimitiveDateTime) -> QueryResult<usize> {
    use crate::db::schema::followup_settings as fs;
    // Past the longest delay a record serves nothing (the trigger was turned off meanwhile).
    diesel::delete(
        fp::table.filter(fp::validated_at.lt(at - time::Duration::minutes(MAX_DELAY_MINUTES))),
    )
    .execute(c)?;
    let shops: Vec<(String, i64)> = fs::table
        .filter(fs::abandoned_personalization.eq(true))
        .select((fs::shop_id, fs::abandoned_after_minutes))
        .load(c)?;
    let mut made = 0;
    for (shop_id, delay) in shops {
        let due: Vec<(i64, i64, PrimitiveDateTime)> = fp::table
            .filter(fp::shop_id.eq(&shop_id))
            .filter(fp::validated_at.le(at - time::Duration::minutes(delay)))
            .order(fp::validated_at)
            .select((fp::customer_id, fp::product_id, fp::validated_at))
            .limit(200)
            .load(c)?;
        for (customer, product, validated_at) in due {
            made += follow_up(c, &shop_id, customer, product, validated_at, at)?;
        }
    }
    Ok(made)
}

/// One due record: removed, and followed up unless it was ordered since or the shopper may
/// not be contacted.
fn follow_up(
    c: &mut DbConnection,
    shop_id: &str,
    customer: i64,
    product: i64,
    validated_at: PrimitiveDateTime,
    at: PrimitiveDateTime,
) -> QueryResult<usize> {
    write_tx(c, |c| {
        // Another instance may have handled it: only the one that removes it goes on.
        if forget(c, shop_id, customer, product, validated_at)? == 0 {
            return Ok(0);
        }
        let Some(s) = settings::find(c, shop_id)? else {
            return Ok(0);
        };
        if !s.trigger_on(ABANDONED) || ordered_since(c, shop_id, customer, product, validated_at)? {
            return Ok(0);
        }
        // A shopper who paused gets it when the pause ends (see the module's rule).
        let due = match may_contact(c, shop_id, customer, &s.channel, at)? {
            Ok(_) => at,
            Err(hold) => match hold.deferred_to(ABANDONED, at) {
                Some(until) => until,
                None => return Ok(0),
            },
        };
        let domain: String = shops::table
            .filter(shops::id.eq(shop_id))
            .select(shops::domain)
            .first(c)?;
        let mut data = product_data(c, shop_id, &domain, product)?;
        if let Some(d) = data.as_object_mut() {
            d.insert(
                "validated_at".into(),
                Value::String(crate::db::rfc3339(validated_at)),
            );
        }
        let key = format!(
            "{ABANDONED}:{product}:{customer}:{}",
            validated_at.assume_utc().unix_timestamp_nanos() / 1000
        );
        Ok(usize::from(outbox::enqueue_at(
            c, shop_id, customer, ABANDONED, &key, &data, due,
        )?))
    })
}

fn forget(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    product_id: i64,
    validated_at: PrimitiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        fp::table
            .filter(fp::shop_id.eq(shop_id))
            .filter(fp::customer_id.eq(customer_id))
            .filter(fp::product_id.eq(product_id))
            .filter(fp::validated_at.eq(validated_at)),
    )
    .execute(c)
}

/// Erases the customer's recorded personalizations (`customers/redact`).
pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        fp::table
            .filter(fp::shop_id.eq(shop_id))
            .filter(fp::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

/// The customer's recorded personalizations, for the data request export.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    let rows: Vec<(i64, PrimitiveDateTime)> = fp::table
        .filter(fp::shop_id.eq(shop_id))
        .filter(fp::customer_id.eq(customer_id))
        .select((fp::product_id, fp::validated_at))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|(p, at)| json!({"product_id": p.to_string(), "validated_at": crate::db::rfc3339(at)}))
            .collect(),
    ))
}
