//! The store's customer record, reduced to what the preference center needs (marketing
//! consent states), and the tombstones of erased customers. No name, email, phone or address
//! is kept.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use crate::db::schema::{customers, redacted_customers};
use crate::db::{DbConnection, dialect, now};
use crate::per_backend;
use crate::shopify::payload::{CustomerPayload, parse_time};
use crate::shops::Shop;
use crate::sync::{Outcome, SyncContext, SyncError, Version, is_stale};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customers, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct Customer {
    pub shop_id: String,
    pub customer_id: i64,
    pub email_marketing_state: Option<String>,
    pub email_marketing_updated_at: Option<PrimitiveDateTime>,
    pub sms_marketing_state: Option<String>,
    pub sms_marketing_updated_at: Option<PrimitiveDateTime>,
    pub updated_at: PrimitiveDateTime,
    pub version_triggered_at: Option<PrimitiveDateTime>,
    pub synced_at: PrimitiveDateTime,
}

pub fn find(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
) -> QueryResult<Option<Customer>> {
    customers::table
        .filter(customers::shop_id.eq(shop_id))
        .filter(customers::customer_id.eq(customer_id))
        .select(Customer::as_select())
        .first(c)
        .optional()
}

/// Email marketing consent as the store reported it in a `customers/update`: the preference
/// center follows it (most recent change wins).
#[derive(Debug, Clone)]
pub struct MarketingReport {
    pub customer_id: i64,
    pub email_state: Option<String>,
    pub email_at: Option<PrimitiveDateTime>,
}

/// `customers/update`: the stored record, and what the store said about email marketing
/// when the delivery was applied.
pub fn apply_update(
    c: &mut DbConnection,
    ctx: &SyncContext,
    shop: &Shop,
    body: &[u8],
    triggered: Option<PrimitiveDateTime>,
) -> Result<(Outcome, Option<MarketingReport>), SyncError> {
    let p: CustomerPayload =
        serde_json::from_slice(body).map_err(|e| SyncError::malformed("customers/update", e))?;
    if is_redacted(c, ctx, &shop.domain, p.id)? {
        return Ok((Outcome::Ignored("customer was redacted".into()), None));
    }
    let updated_at = p
        .updated_at
        .as_deref()
        .and_then(parse_time)
        .or(triggered)
        .ok_or_else(|| SyncError::malformed("customers/update", "no updated_at"))?;
    let q = customers::table
        .filter(customers::shop_id.eq(&shop.id))
        .filter(customers::customer_id.eq(p.id))
        .select((customers::updated_at, customers::version_triggered_at));
    let stored: Option<Version> = dialect::first_locked(c, q, |q| q.for_update()).optional()?;
    if stored.is_some_and(|s| is_stale(&(updated_at, triggered), &s)) {
        return Ok((Outcome::Stale, None));
    }
    let (email_state, email_at) = match &p.email_marketing_consent {
        Some(consent) => (
            consent.state.clone(),
            consent.consent_updated_at.as_deref().and_then(parse_time),
        ),
        None => (
            p.accepts_marketing
                .map(|b| if b { "subscribed" } else { "not_subscribed" }.to_owned()),
            p.accepts_marketing_updated_at
                .as_deref()
                .and_then(parse_time),
        ),
    };
    let customer = Customer {
        shop_id: shop.id.clone(),
        customer_id: p.id,
        email_marketing_state: email_state.map(|s| s.to_ascii_lowercase()),
        email_marketing_updated_at: email_at.or(Some(updated_at)),
        sms_marketing_state: p
            .sms_marketing_consent
            .as_ref()
            .and_then(|s| s.state.clone())
            .map(|s| s.to_ascii_lowercase()),
        sms_marketing_updated_at: p
            .sms_marketing_consent
            .as_ref()
            .and_then(|s| s.consent_updated_at.as_deref())
            .and_then(parse_time),
        updated_at,
        version_triggered_at: triggered,
        synced_at: now(),
    };
    per_backend!(c, |c| diesel::insert_into(customers::table)
        .values(&customer)
        .on_conflict((customers::shop_id, customers::customer_id))
        .do_update()
        .set(&customer)
        .execute(c))?;
    let report = MarketingReport {
        customer_id: p.id,
        email_state: customer.email_marketing_state.clone(),
        email_at,
    };
    Ok((Outcome::Applied, Some(report)))
}

/// Atelier wrote a marketing state to the store: the stored record says so at once, so a next
/// change compares against what the store now holds rather than against the report before the
/// write (the `customers/update` the write causes confirms it later). Only an existing record
/// is touched; without one the store's state is unknown and every write is made.
pub fn note_written(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    email: Option<&str>,
    sms: Option<&str>,
) -> QueryResult<()> {
    let target = customers::table
        .filter(customers::shop_id.eq(shop_id))
        .filter(customers::customer_id.eq(customer_id));
    if let Some(state) = email {
        diesel::update(target)
            .set(customers::email_marketing_state.eq(Some(state.to_ascii_lowercase())))
            .execute(c)?;
    }
    if let Some(state) = sms {
        diesel::update(target)
            .set(customers::sms_marketing_state.eq(Some(state.to_ascii_lowercase())))
            .execute(c)?;
    }
    Ok(())
}

pub fn redact(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<()> {
    diesel::delete(
        customers::table
            .filter(customers::shop_id.eq(shop_id))
            .filter(customers::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    Ok(())
}

/// Keyed hash naming a customer without their id (audit trail and redaction tombstones).
pub fn customer_ref(ctx: &SyncContext, shop_domain: &str, customer_id: i64) -> String {
    hex::encode(crate::crypto::hmac_sha256(
        &ctx.customer_ref_key,
        format!("{shop_domain}:{customer_id}").as_bytes(),
    ))
}

pub fn is_redacted(
    c: &mut DbConnection,
    ctx: &SyncContext,
    shop_domain: &str,
    customer_id: i64,
) -> QueryResult<bool> {
    let r = customer_ref(ctx, shop_domain, customer_id);
    let found: Option<String> = redacted_customers::table
        .filter(redacted_customers::shop_domain.eq(shop_domain))
        .filter(redacted_customers::customer_ref.eq(r))
        .select(redacted_customers::customer_ref)
        .first(c)
        .optional()?;
    Ok(found.is_some())
}

/// Remembers that a customer was erased, without their id: later deliveries about them are
/// not linked to them again.
pub fn add_tombstone(c: &mut DbConnection, shop_domain: &str, r: &str) -> QueryResult<()> {
    per_backend!(c, |c| diesel::insert_into(redacted_customers::table)
        .values((
            redacted_customers::shop_domain.eq(shop_domain),
            redacted_customers::customer_ref.eq(r),
            redacted_customers::redacted_at.eq(now()),
        ))
        .on_conflict((
            redacted_customers::shop_domain,
            redacted_customers::customer_ref
        ))
        .do_nothing()
        .execute(c))?;
    Ok(())
}

const REF_KEY_NAME: &str = "customer-ref";

/// The key of customer references (the compliance audit trail, redaction tombstones). It must
/// never change: a tombstone written under one key no longer matches under another, and an
/// erased customer's later deliveries would be linked to them again. So it lives in the database
/// (shared by every instance), encrypted under `TOKEN_ENCRYPTION_KEY`, and is re-encrypted when
/// that key rotates. `initial` is what the first start stores: the key that databases from before
/// this table used (derived from the token key of the time), so their tombstones keep matching.
pub fn ref_key(
    c: &mut DbConnection,
    cipher: &crate::crypto::TokenCipher,
    initial: [u8; 32],
) -> anyhow::Result<[u8; 32]> {
    use crate::db::schema::app_keys;
    let read = |c: &mut DbConnection| -> QueryResult<Option<String>> {
        app_keys::table
            .find(REF_KEY_NAME)
            .select(app_keys::value_enc)
            .first(c)
            .optional()
    };
    let stored = match read(c)? {
        Some(v) => v,
        None => {
            let enc = cipher.encrypt(&hex::encode(initial), REF_KEY_NAME);
            per_backend!(c, |c| diesel::insert_into(app_keys::table)
                .values((
                    app_keys::name.eq(REF_KEY_NAME),
                    app_keys::value_enc.eq(&enc),
                    app_keys::updated_at.eq(now()),
                ))
                .on_conflict(app_keys::name)
                .do_nothing()
                .execute(c))?;
            // Another instance starting at the same moment may have won: use what is stored.
            read(c)?.ok_or_else(|| anyhow::anyhow!("the customer-reference key was not stored"))?
        }
    };
    let (plain, stale) = cipher.decrypt_fresh(&stored, REF_KEY_NAME).map_err(|_| {
        anyhow::anyhow!(
            "the stored customer-reference key does not decrypt: TOKEN_ENCRYPTION_KEY changed; \
             set TOKEN_ENCRYPTION_KEY_PREVIOUS to the former key"
        )
    })?;
    if stale {
        diesel::update(
            app_keys::table
                .filter(app_keys::name.eq(REF_KEY_NAME))
                .filter(app_keys::value_enc.eq(&stored)),
        )
        .set((
            app_keys::value_enc.eq(cipher.encrypt(&plain, REF_KEY_NAME)),
            app_keys::updated_at.eq(now()),
        ))
        .execute(c)?;
    }
    let bytes = hex::decode(plain.trim())?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the stored customer-reference key is not 32 bytes"))
}
