//! The shop record: install state and the store access token, encrypted at rest. The install
//! itself (token, webhook registration, backfill) is `jobs::install`. The setup checklist says
//! what is left for the merchant to set up, from what Atelier can see on its side.

use diesel::prelude::*;
use serde::Serialize;
use time::{Duration, PrimitiveDateTime};

use crate::crypto::TokenCipher;
use crate::db::schema::{
    personalization_settings, preference_settings, product_variants, rec_events, shops,
    template_products,
};
use crate::db::{DbConnection, new_id, now, write_tx};
use crate::error::{AppError, AppResult};
use crate::shopify::{AccessGrant, ShopDomain, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = shops, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Shop {
    pub id: String,
    pub domain: String,
    pub scopes: String,
    pub access_token_enc: Option<String>,
    pub access_token_expires_at: Option<PrimitiveDateTime>,
    pub refresh_token_enc: Option<String>,
    pub refresh_token_expires_at: Option<PrimitiveDateTime>,
    pub installed: bool,
    pub installed_at: Option<PrimitiveDateTime>,
    pub uninstalled_at: Option<PrimitiveDateTime>,
    pub webhooks_registered_at: Option<PrimitiveDateTime>,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
}

impl Shop {
    pub fn scope_list(&self) -> Vec<String> {
        crate::shopify::split_scopes(&self.scopes)
    }

    pub fn has_token(&self) -> bool {
        self.installed && self.access_token_enc.is_some()
    }
}

/// Encrypted token columns of a grant.
#[derive(AsChangeset)]
#[diesel(table_name = shops, treat_none_as_null = true)]
struct TokenChanges {
    scopes: String,
    access_token_enc: Option<String>,
    access_token_expires_at: Option<PrimitiveDateTime>,
    refresh_token_enc: Option<String>,
    refresh_token_expires_at: Option<PrimitiveDateTime>,
    updated_at: PrimitiveDateTime,
}

impl TokenChanges {
    fn from_grant(cipher: &TokenCipher, domain: &str, grant: &AccessGrant) -> Self {
        let at = now();
        TokenChanges {
            scopes: grant.scope.clone(),
            access_token_enc: Some(cipher.encrypt(grant.access_token.expose(), domain)),
            access_token_expires_at: grant.expires_in.map(|s| at + Duration::seconds(s)),
            refresh_token_enc: grant
                .refresh_token
                .as_ref()
                .map(|t| cipher.encrypt(t.expose(), domain)),
            refresh_token_expires_at: grant
                .refresh_token
                .as_ref()
                .and(grant.refresh_token_expires_in)
                .map(|s| at + Duration::seconds(s)),
            updated_at: at,
        }
    }
}

pub fn find_by_domain(conn: &mut DbConnection, domain: &str) -> QueryResult<Option<Shop>> {
    shops::table
        .filter(shops::domain.eq(domain))
        .select(Shop::as_select())
        .first(conn)
        .optional()
}

/// The domain of an installed shop (one holding a token) other than `except`, if any.
pub fn installed_other_than(conn: &mut DbConnection, except: &str) -> QueryResult<Option<String>> {
    shops::table
        .filter(shops::installed.eq(true))
        .filter(shops::access_token_enc.is_not_null())
        .filter(shops::domain.ne(except))
        .select(shops::domain)
        .first(conn)
        .optional()
}

/// The scopes the shop grants, as `app/scopes_update` reported them.
pub fn set_scopes(conn: &mut DbConnection, id: &str, scopes: &str) -> QueryResult<()> {
    diesel::update(shops::table.find(id))
        .set((
            shops::scopes.eq(scopes),
            shops::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Shop> {
    shops::table.find(id).select(Shop::as_select()).first(conn)
}

/// Stores a fresh grant: creates the shop, reinstalls an uninstalled one, or replaces the token
/// of an installed one (keeping its `installed_at`).
/// Writes a shop's stored tokens again under the current key when they were read under the
/// previous one (or stored before key ids). The row is read and written in one transaction,
/// locked on PostgreSQL, so a grant saved meanwhile is never overwritten with an older token.
/// Returns whether anything was rewritten.
pub fn rewrap_tokens(
    conn: &mut DbConnection,
    cipher: &TokenCipher,
    shop_id: &str,
) -> QueryResult<bool> {
    write_tx(conn, |conn| {
        let q = shops::table.filter(shops::id.eq(shop_id)).select((
            shops::domain,
            shops::access_token_enc,
            shops::refresh_token_enc,
        ));
        let Some((domain, access, refresh)) =
            crate::db::dialect::first_locked(conn, q, |q| q.for_update())
                .optional()?
                .map(|r: (String, Option<String>, Option<String>)| r)
        else {
            return Ok(false);
        };
        let rewrap = |v: &Option<String>| -> Option<String> {
            match cipher.decrypt_fresh(v.as_deref()?, &domain) {
                Ok((plain, true)) => Some(cipher.encrypt(&plain, &domain)),
                _ => None,
            }
        };
        let (new_access, new_refresh) = (rewrap(&access), rewrap(&refresh));
        if new_access.is_none() && new_refresh.is_none() {
            return Ok(false);
        }
        diesel::update(shops::table.find(shop_id))
            .set((
                shops::access_token_enc.eq(new_access.or(access)),
                shops::refresh_token_enc.eq(new_refresh.or(refresh)),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

/// [`rewrap_tokens`] for every shop holding a token, so a rotation completes without waiting
/// for each shop's next Admin API call. Returns the shops rewritten.
pub fn rewrap_all_tokens(conn: &mut DbConnection, cipher: &TokenCipher) -> QueryResult<usize> {
    let ids: Vec<String> = shops::table
        .filter(shops::access_token_enc.is_not_null())
        .select(shops::id)
        .load(conn)?;
    let mut n = 0;
    for id in ids {
        n += rewrap_tokens(conn, cipher, &id)? as usize;
    }
    Ok(n)
}

pub fn save_grant(
    conn: &mut DbConnection,
    cipher: &TokenCipher,
    domain: &ShopDomain,
    grant: &AccessGrant,
) -> QueryResult<Shop> {
    let attempt = |conn: &mut DbConnection| {
        write_tx(conn, |conn| {
            let changes = TokenChanges::from_grant(cipher, domain.as_str(), grant);
            let at = changes.updated_at;
            match find_by_domain(conn, domain.as_str())? {
                Some(shop) => {
                    diesel::update(shops::table.find(&shop.id))
                        .set((
                            &changes,
                            shops::installed.eq(true),
                            shops::installed_at.eq(if shop.installed {
                                shop.installed_at
                            } else {
                                Some(at)
                            }),
                            shops::uninstalled_at.eq(None::<PrimitiveDateTime>),
                        ))
                        .execute(conn)?;
                    find_by_id(conn, &shop.id)
                }
                None => {
                    let id = new_id();
                    diesel::insert_into(shops::table)
                        .values((
                            shops::id.eq(&id),
                            shops::domain.eq(domain.as_str()),
                            shops::installed.eq(true),
                            shops::installed_at.eq(Some(at)),
                            shops::created_at.eq(at),
                            shops::updated_at.eq(at),
                        ))
                        .execute(conn)?;
                    diesel::update(shops::table.find(&id))
                        .set(&changes)
                        .execute(conn)?;
                    find_by_id(conn, &id)
                }
            }
        })
    };
    match attempt(conn) {
        // Two instances installing the same shop at once on PostgreSQL: the loser updates.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => attempt(conn),
        other => other,
    }
}

/// `app/uninstalled`: the token is deleted (Shopify has revoked it); data stays until
/// `shop/redact`. Idempotent.
pub fn mark_uninstalled(conn: &mut DbConnection, domain: &str) -> QueryResult<bool> {
    let at = now();
    let n = diesel::update(
        shops::table
            .filter(shops::domain.eq(domain))
            .filter(shops::installed.eq(true)),
    )
    .set((
        shops::installed.eq(false),
        shops::uninstalled_at.eq(Some(at)),
        shops::access_token_enc.eq(None::<String>),
        shops::access_token_expires_at.eq(None::<PrimitiveDateTime>),
        shops::refresh_token_enc.eq(None::<String>),
        shops::refresh_token_expires_at.eq(None::<PrimitiveDateTime>),
        shops::webhooks_registered_at.eq(None::<PrimitiveDateTime>),
        shops::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

pub fn mark_webhooks_registered(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(shops::table.find(id))
        .set(shops::webhooks_registered_at.eq(Some(now())))
        .execute(conn)?;
    Ok(())
}

/// Records that the callback carrying the OAuth `state` `nonce` for `domain` has arrived.
/// `false` when the nonce was used before: the callback is a replay and must be refused before
/// anything reaches the store. Concurrent copies of one callback race on the primary key, so
/// exactly one of them wins.
pub fn consume_oauth_nonce(
    conn: &mut DbConnection,
    nonce: &str,
    domain: &str,
) -> QueryResult<bool> {
    use crate::db::schema::oauth_nonces;
    let inserted = diesel::insert_into(oauth_nonces::table)
        .values((
            oauth_nonces::nonce.eq(nonce),
            oauth_nonces::shop_domain.eq(domain),
            oauth_nonces::used_at.eq(now()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Forgets nonces older than `keep`: a callback that old fails its timestamp check anyway, so
/// the record is no longer needed to refuse its replay.
pub fn purge_oauth_nonces(conn: &mut DbConnection, keep: Duration) -> QueryResult<usize> {
    use crate::db::schema::oauth_nonces;
    diesel::delete(oauth_nonces::table.filter(oauth_nonces::used_at.lt(now() - keep))).execute(conn)
}

/// Maps a failed call to a store onto the response Atelier gives.
pub fn map_store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Rejected { status, .. } => AppError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "store_rejected",
            format!(
                "The store refused Atelier's request (HTTP {status}); the merchant may need to reopen the app."
            ),
        ),
        StoreError::Unavailable(_) => AppError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "store_unavailable",
            "The store is not answering properly; try again shortly.",
        )
        .with_source(e),
        StoreError::Timeout => AppError::new(
            actix_web::http::StatusCode::GATEWAY_TIMEOUT,
            "store_timeout",
            "The store did not answer in time.",
        ),
    }
}

/// Row counts shown by `GET /api/shop`. Each capability adds its own tables here.
pub fn counts(
    conn: &mut DbConnection,
    shop_id: &str,
) -> AppResult<std::collections::BTreeMap<&'static str, i64>> {
    use crate::db::schema::{customers, orders, products, webhook_inbox};
    let domain: String = shops::table
        .find(shop_id)
        .select(shops::domain)
        .first(conn)?;
    let mut out = std::collections::BTreeMap::new();
    out.insert(
        "orders",
        orders::table
            .filter(orders::shop_id.eq(shop_id))
            .count()
            .get_result(conn)?,
    );
    out.insert(
        "products",
        products::table
            .filter(products::shop_id.eq(shop_id))
            .filter(products::deleted.eq(false))
            .count()
            .get_result(conn)?,
    );
    out.insert(
        "customers",
        customers::table
            .filter(customers::shop_id.eq(shop_id))
            .count()
            .get_result(conn)?,
    );
    let inbox = |state: &'static str, conn: &mut DbConnection| -> QueryResult<i64> {
        webhook_inbox::table
            .filter(webhook_inbox::shop_domain.eq(&domain))
            .filter(webhook_inbox::state.eq(state))
            .count()
            .get_result(conn)
    };
    out.insert(
        "webhooks_pending",
        inbox(crate::inbox::STATE_PENDING, conn)? + inbox(crate::inbox::STATE_PROCESSING, conn)?,
    );
    out.insert("webhooks_failed", inbox(crate::inbox::STATE_DEAD, conn)?);
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub key: &'static str,
    pub done: bool,
    pub detail: String,
}

/// Storefront activity within this many days counts as the theme's app embed being on.
pub const EMBED_EVIDENCE_DAYS: i64 = 30;

/// Whether checkout charges the add-on (Atelier's Cart Transform function): the shop's cart
/// transform is in place and the store has every product's price table. Without it the fee
/// product charges the add-on, as before.
fn checkout_add_on(c: &mut DbConnection, shop_id: &str) -> QueryResult<Check> {
    use crate::db::schema::{cart_transforms, price_table_syncs};
    let transform: Option<(Option<String>, Option<String>)> = cart_transforms::table
        .find(shop_id)
        .select((cart_transforms::transform_id, cart_transforms::last_error))
        .first(c)
        .optional()?;
    let failing: i64 = price_table_syncs::table
        .filter(price_table_syncs::shop_id.eq(shop_id))
        .filter(price_table_syncs::due.eq(true))
        .filter(price_table_syncs::attempts.gt(0))
        .count()
        .get_result(c)?;
    let (done, detail) = match transform {
        Some((Some(_), _)) if failing == 0 => (
            true,
            "Checkout charges the add-on as part of each personalized line (Atelier's Cart Transform function).".to_owned(),
        ),
        Some((Some(_), _)) => (
            false,
            format!("The store has not accepted the price table of {failing} products yet; Atelier retries (details in Checkout)."),
        ),
        Some((None, Some(error))) => (
            false,
            format!("The store did not create Atelier's cart transform ({error}); deploy the app's function with `shopify app deploy`, then retry. Until then the fee product charges the add-on."),
        ),
        _ => (
            false,
            "Atelier's cart transform is not in place yet; until it is, the fee product charges the add-on.".to_owned(),
        ),
    };
    Ok(Check {
        key: "checkout_add_on",
        done,
        detail,
    })
}

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
        Some(v) => {
            product_variants::table
                .filter(product_variants::shop_id.eq(shop_id))
                .filter(product_variants::variant_id.eq(v))
                .count()
                .get_result::<i64>(c)?
                > 0
        }
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
    out.push(checkout_add_on(c, shop_id)?);
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
            "Review the preference center's sizes, interests and texts (defaults are in use)."
                .into()
        },
    });
    Ok(out)
}
