//! The merchant's follow-up settings: where events go (a URL Atelier may call), in which format,
//! for which channel, which triggers are on, and the signing secret Atelier generates.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use time::PrimitiveDateTime;

use super::destination;
use crate::crypto::TokenCipher;
use crate::db::schema::followup_settings as fs;
use crate::db::{DbConnection, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};

pub const FORMATS: [&str; 2] = ["webhook", "klaviyo"];
pub const CHANNELS: [&str; 2] = ["email", "sms"];
pub const MIN_DELAY_MINUTES: i64 = 5;
pub const MAX_DELAY_MINUTES: i64 = 30 * 24 * 60;
const DEFAULT_DELAY_MINUTES: i64 = 120;

/// The stored settings, the secret still encrypted.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = fs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite), treat_none_as_null = true)]
pub struct FollowupSettings {
    pub shop_id: String,
    pub destination_url: Option<String>,
    pub format: String,
    pub channel: String,
    pub signing_secret: String,
    pub secret_hint: String,
    pub price_drop: bool,
    pub back_in_stock: bool,
    pub abandoned_personalization: bool,
    pub abandoned_after_minutes: i64,
    pub updated_at: PrimitiveDateTime,
    /// Klaviyo's private API key (encrypted), sent as `Authorization: Klaviyo-API-Key …` by
    /// the `klaviyo` format so events can go straight to Klaviyo's Create Event.
    pub klaviyo_key: Option<String>,
    /// Its last characters, for the admin.
    pub klaviyo_key_hint: Option<String>,
}

impl FollowupSettings {
    pub fn trigger_on(&self, kind: &str) -> bool {
        self.destination_url.is_some()
            && match kind {
                super::PRICE_DROP => self.price_drop,
                super::BACK_IN_STOCK => self.back_in_stock,
                super::ABANDONED => self.abandoned_personalization,
                _ => false,
            }
    }
}

fn aad(shop_id: &str) -> String {
    format!("followup-secret:{shop_id}")
}

fn klaviyo_aad(shop_id: &str) -> String {
    format!("followup-klaviyo-key:{shop_id}")
}

/// A stored (encrypted) Klaviyo private key in clear, for one delivery.
pub fn decrypt_klaviyo_key(cipher: &TokenCipher, shop_id: &str, stored: &str) -> AppResult<String> {
    cipher
        .decrypt(stored, &klaviyo_aad(shop_id))
        .map_err(AppError::internal)
}

/// Klaviyo's private API keys: `pk_` and letters or digits. Checked so a pasted public key
/// (six characters, no prefix) or stray text is refused when saved, not at every delivery.
fn is_klaviyo_private_key(k: &str) -> bool {
    k.len() >= 10
        && k.len() <= 128
        && k.starts_with("pk_")
        && k[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A stored (encrypted) signing secret in clear, for signing one delivery.
pub fn decrypt_secret(cipher: &TokenCipher, shop_id: &str, stored: &str) -> AppResult<String> {
    cipher
        .decrypt(stored, &aad(shop_id))
        .map_err(AppError::internal)
}

/// What `GET/PUT /api/followups/settings` answer. The secret itself only right after it was
/// made (`signing_secret`), otherwise its last characters.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsOut {
    pub destination_url: Option<String>,
    pub format: String,
    pub channel: String,
    pub triggers: Triggers,
    pub abandoned_after_minutes: i64,
    pub secret_hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// The last characters of the Klaviyo private key, `null` without one (the key itself is
    /// never answered).
    pub klaviyo_key_hint: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Triggers {
    pub price_drop: bool,
    pub back_in_stock: bool,
    pub abandoned_personalization: bool,
}

fn out(s: Option<&FollowupSettings>, fresh_secret: Option<String>) -> SettingsOut {
    match s {
        None => SettingsOut {
            destination_url: None,
            format: "webhook".into(),
            channel: "email".into(),
            triggers: Triggers {
                price_drop: false,
                back_in_stock: false,
                abandoned_personalization: false,
            },
            abandoned_after_minutes: DEFAULT_DELAY_MINUTES,
            secret_hint: None,
            signing_secret: None,
            klaviyo_key_hint: None,
            updated_at: None,
        },
        Some(s) => SettingsOut {
            destination_url: s.destination_url.clone(),
            format: s.format.clone(),
            channel: s.channel.clone(),
            triggers: Triggers {
                price_drop: s.price_drop,
                back_in_stock: s.back_in_stock,
                abandoned_personalization: s.abandoned_personalization,
            },
            abandoned_after_minutes: s.abandoned_after_minutes,
            secret_hint: Some(s.secret_hint.clone()),
            signing_secret: fresh_secret,
            klaviyo_key_hint: s.klaviyo_key_hint.clone(),
            updated_at: Some(rfc3339(s.updated_at)),
        },
    }
}

pub fn find(c: &mut DbConnection, shop_id: &str) -> QueryResult<Option<FollowupSettings>> {
    fs::table
        .find(shop_id)
        .select(FollowupSettings::as_select())
        .first(c)
        .optional()
}

pub fn get(c: &mut DbConnection, shop_id: &str) -> QueryResult<SettingsOut> {
    Ok(out(find(c, shop_id)?.as_ref(), None))
}

/// A checked `PUT` body: members absent stay as they are.
#[derive(Debug, Default, Clone)]
pub struct SettingsUpdate {
    /// `Some(None)` removes the destination (nothing is sent).
    pub destination_url: Option<Option<String>>,
    pub format: Option<String>,
    pub channel: Option<String>,
    pub price_drop: Option<bool>,
    pub back_in_stock: Option<bool>,
    pub abandoned_personalization: Option<bool>,
    pub abandoned_after_minutes: Option<i64>,
    /// `Some(None)` removes the Klaviyo private key.
    pub klaviyo_private_key: Option<Option<String>>,
}

/// Checks a `PUT` body, naming every problem. `allow_private` is the testing aid letting
/// destinations on loopback through.
pub fn parse_update(body: &Value, allow_private: bool) -> Result<SettingsUpdate, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "The body must be a JSON object.",
        )]);
    };
    let mut up = SettingsUpdate::default();
    for (k, v) in obj {
        match k.as_str() {
            "destination_url" => match v {
                Value::Null => up.destination_url = Some(None),
                Value::String(u) => match destination::check_url(u, allow_private) {
                    Ok(url) => up.destination_url = Some(Some(url)),
                    Err(why) => errors.push(FieldError::new(k, "invalid_url", why)),
                },
                _ => errors.push(FieldError::new(
                    k,
                    "invalid_type",
                    "destination_url is an https URL, or null to send nothing.",
                )),
            },
            "format" => match v.as_str().filter(|f| FORMATS.contains(f)) {
                Some(f) => up.format = Some(f.to_owned()),
                None => errors.push(FieldError::new(
                    k,
                    "invalid_format",
                    "format is `webhook` or `klaviyo`.",
                )),
            },
            "channel" => match v.as_str().filter(|f| CHANNELS.contains(f)) {
                Some(f) => up.channel = Some(f.to_owned()),
                None => errors.push(FieldError::new(
                    k,
                    "invalid_channel",
                    "channel is `email` or `sms`: the consent each event needs.",
                )),
            },
            "abandoned_after_minutes" => {
                match v
                    .as_i64()
                    .filter(|m| (MIN_DELAY_MINUTES..=MAX_DELAY_MINUTES).contains(m))
                {
                    Some(m) => up.abandoned_after_minutes = Some(m),
                    None => errors.push(FieldError::new(
                        k,
                        "invalid_delay",
                        format!(
                            "abandoned_after_minutes is a whole number from {MIN_DELAY_MINUTES} to {MAX_DELAY_MINUTES}."
                        ),
                    )),
                }
            }
            "triggers" => match v.as_object() {
                Some(t) => {
                    for (name, on) in t {
                        let slot = match name.as_str() {
                            "price_drop" => &mut up.price_drop,
                            "back_in_stock" => &mut up.back_in_stock,
                            "abandoned_personalization" => &mut up.abandoned_personalization,
                            _ => {
                                errors.push(FieldError::new(
                                    crate::input::member("triggers", name),
                                    "unknown_member",
                                    "The triggers are price_drop, back_in_stock and abandoned_personalization.",
                                ));
                                continue;
                            }
                        };
                        match on.as_bool() {
                            Some(b) => *slot = Some(b),
                            None => errors.push(FieldError::new(
                                crate::input::member("triggers", name),
                                "invalid_type",
                                "A trigger is true or false.",
                            )),
                        }
                    }
                }
                None => errors.push(FieldError::new(
                    k,
                    "invalid_type",
                    "triggers is an object of trigger names to true or false.",
                )),
            },
            "klaviyo_private_key" => match v {
                Value::Null => up.klaviyo_private_key = Some(None),
                Value::String(k) if is_klaviyo_private_key(k.trim()) => {
                    up.klaviyo_private_key = Some(Some(k.trim().to_owned()))
                }
                _ => errors.push(FieldError::new(
                    k,
                    "invalid_key",
                    "klaviyo_private_key is a Klaviyo private API key (pk_…), or null to remove it.",
                )),
            },
            // Members a client may send back from a `GET`.
            "secret_hint" | "updated_at" | "klaviyo_key_hint" => {}
            _ => errors.push(FieldError::new(
                crate::input::member("", k),
                "unknown_member",
                "This member is not part of the request.",
            )),
        }
    }
    if errors.is_empty() {
        Ok(up)
    } else {
        Err(errors)
    }
}

/// A new signing secret: 32 random bytes, hex, with a prefix saying what it is.
fn new_secret() -> String {
    format!("atsec_{}", crate::crypto::random_hex(32))
}

fn hint(secret: &str) -> String {
    format!("…{}", &secret[secret.len().saturating_sub(4)..])
}

/// Applies an update; the first save generates the signing secret and answers it once.
pub fn update(
    c: &mut DbConnection,
    cipher: &TokenCipher,
    shop_id: &str,
    up: &SettingsUpdate,
) -> AppResult<SettingsOut> {
    write_tx(c, |c| {
        let (mut s, fresh) = match find(c, shop_id)? {
            Some(s) => (s, None),
            None => {
                let secret = new_secret();
                (
                    FollowupSettings {
                        shop_id: shop_id.to_owned(),
                        destination_url: None,
                        format: "webhook".into(),
                        channel: "email".into(),
                        signing_secret: cipher.encrypt(&secret, &aad(shop_id)),
                        secret_hint: hint(&secret),
                        price_drop: false,
                        back_in_stock: false,
                        abandoned_personalization: false,
                        abandoned_after_minutes: DEFAULT_DELAY_MINUTES,
                        updated_at: now(),
                        klaviyo_key: None,
                        klaviyo_key_hint: None,
                    },
                    Some(secret),
                )
            }
        };
        if let Some(u) = &up.destination_url {
            s.destination_url = u.clone();
        }
        if let Some(f) = &up.format {
            s.format = f.clone();
        }
        if let Some(ch) = &up.channel {
            s.channel = ch.clone();
        }
        s.price_drop = up.price_drop.unwrap_or(s.price_drop);
        s.back_in_stock = up.back_in_stock.unwrap_or(s.back_in_stock);
        s.abandoned_personalization = up
            .abandoned_personalization
            .unwrap_or(s.abandoned_personalization);
        s.abandoned_after_minutes = up
            .abandoned_after_minutes
            .unwrap_or(s.abandoned_after_minutes);
        match &up.klaviyo_private_key {
            Some(Some(key)) => {
                s.klaviyo_key = Some(cipher.encrypt(key, &klaviyo_aad(shop_id)));
                s.klaviyo_key_hint = Some(hint(key));
            }
            Some(None) => {
                s.klaviyo_key = None;
                s.klaviyo_key_hint = None;
            }
            None => {}
        }
        s.updated_at = now();
        if fresh.is_some() {
            diesel::insert_into(fs::table).values(&s).execute(c)?;
        } else {
            diesel::update(fs::table.find(shop_id)).set(&s).execute(c)?;
        }
        Ok(out(Some(&s), fresh))
    })
}

/// Replaces the signing secret (a leaked one stops verifying at once) and answers the new one.
pub fn rotate_secret(
    c: &mut DbConnection,
    cipher: &TokenCipher,
    shop_id: &str,
) -> AppResult<SettingsOut> {
    write_tx(c, |c| {
        if find(c, shop_id)?.is_none() {
            update(c, cipher, shop_id, &SettingsUpdate::default())?;
        }
        let secret = new_secret();
        diesel::update(fs::table.find(shop_id))
            .set((
                fs::signing_secret.eq(cipher.encrypt(&secret, &aad(shop_id))),
                fs::secret_hint.eq(hint(&secret)),
                fs::updated_at.eq(now()),
            ))
            .execute(c)?;
        let s = find(c, shop_id)?.ok_or_else(|| AppError::not_found("No settings."))?;
        Ok(out(Some(&s), Some(secret)))
    })
}
