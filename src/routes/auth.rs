//! OAuth authorization-code install.
//!
//! `GET /auth?shop=` binds a fresh nonce and the shop to this browser with a signed cookie and
//! sends the merchant to the store's grant screen. `GET /auth/callback` accepts the grant only if
//! the shop domain is valid, Shopify's HMAC over the query verifies, the timestamp is fresh and
//! the state matches the cookie for the same shop, and the state has not been used by an earlier
//! callback; only then is the code exchanged, the shop stored and its webhooks registered. Any
//! failed check (a replay included) stores nothing and calls no store.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{constant_time_eq, hmac_sha256, random_hex};
use crate::error::{AppError, AppResult};
use crate::shopify::hmac::parse_query;
use crate::shopify::shop_domain::decode_host;
use crate::shopify::{ShopDomain, StoreError, Verdict, scopes_cover, split_scopes};
use crate::shops;
use crate::state::AppState;

pub const STATE_COOKIE: &str = "shopify_app_state";
pub const STATE_COOKIE_SIG: &str = "shopify_app_state.sig";
const STATE_COOKIE_MAX_AGE_SECS: i64 = 600;
const CALLBACK_PATH: &str = "/auth/callback";

/// Signature of a cookie value, as Shopify's library computes it.
pub fn sign_cookie(key: &[u8; 32], value: &str) -> String {
    STANDARD.encode(hmac_sha256(key, value.as_bytes()))
}

fn single<'a>(pairs: &'a [(String, String)], key: &str) -> AppResult<Option<&'a str>> {
    let mut values = pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(AppError::bad_request(
            "duplicate_parameter",
            format!("`{key}` appears more than once."),
        ));
    }
    Ok(first)
}

fn required<'a>(pairs: &'a [(String, String)], key: &str) -> AppResult<&'a str> {
    single(pairs, key)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AppError::bad_request("missing_parameter", format!("`{key}` is required.")))
}

fn parse_shop(raw: &str) -> AppResult<ShopDomain> {
    ShopDomain::parse(raw).map_err(|e| AppError::bad_request("invalid_shop", format!("{e}.")))
}

fn html_page(shop: &ShopDomain, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!("frame-ancestors https://{shop} https://admin.shopify.com;"),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// `GET /auth?shop=SHOP`
pub async fn begin(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let pairs = parse_query(req.query_string());
    let shop = parse_shop(single(&pairs, "shop")?.unwrap_or(""))?;
    crate::telemetry::record_shop(shop.as_str());
    let settings = &state.settings;

    // Inside the admin iframe the grant screen cannot load and the state cookie would be a
    // blocked third-party cookie: leave the iframe first (App Bridge navigates the top window).
    let in_iframe = single(&pairs, "embedded")? == Some("1")
        || req
            .headers()
            .get("Sec-Fetch-Dest")
            .is_some_and(|v| v == "iframe");
    if in_iframe {
        let target = format!("{}/auth?shop={}", settings.app_base(), shop);
        let target_js = serde_json::to_string(&target)
            .unwrap_or_default()
            .replace('<', "\\u003c");
        return Ok(html_page(
            &shop,
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"shopify-api-key\" content=\"{key}\">\
                 <script src=\"https://cdn.shopify.com/shopifycloud/app-bridge.js\"></script></head>\
                 <body><script>window.open({target_js}, \"_top\");</script></body></html>",
                key = settings.api_key
            ),
        ));
    }

    let nonce = random_hex(32);
    let cookie_value = format!("{nonce}:{shop}");
    let redirect_uri = format!("{}{CALLBACK_PATH}", settings.app_base());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &settings.api_key)
        .append_pair("scope", &settings.scopes.join(","))
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("state", &nonce)
        .finish();
    let location = format!(
        "{}/admin/oauth/authorize?{query}",
        state.store.origin(&shop)
    );
    let secure = settings.app_url.scheme() == "https";
    let cookie = |name: &'static str, value: String| {
        Cookie::build(name, value)
            .path(CALLBACK_PATH)
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::seconds(STATE_COOKIE_MAX_AGE_SECS))
            .finish()
    };
    let sig = sign_cookie(&state.cookie_key, &cookie_value);
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie(STATE_COOKIE, cookie_value))
        .cookie(cookie(STATE_COOKIE_SIG, sig))
        .finish())
}

/// The nonce and shop bound to this browser by `/auth`, if the cookie's signature verifies.
fn state_from_cookie(req: &HttpRequest, key: &[u8; 32]) -> Option<(String, String)> {
    let value = req.cookie(STATE_COOKIE)?.value().to_owned();
    let sig = STANDARD
        .decode(req.cookie(STATE_COOKIE_SIG)?.value())
        .ok()?;
    if !crate::crypto::hmac_sha256_verify(key, value.as_bytes(), &sig) {
        return None;
    }
    let (nonce, shop) = value.split_once(':')?;
    Some((nonce.to_owned(), shop.to_owned()))
}

fn invalid_state() -> AppError {
    AppError::unauthorized(
        "invalid_state",
        "The OAuth state does not match this browser's install request; start the install again.",
    )
}

/// `GET /auth/callback?code&hmac&host&shop&state&timestamp`
pub async fn callback(req: HttpRequest, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let pairs = parse_query(req.query_string());
    let code = required(&pairs, "code")?;
    required(&pairs, "hmac")?;
    let shop = parse_shop(required(&pairs, "shop")?)?;
    let nonce = required(&pairs, "state")?;
    required(&pairs, "timestamp")?;
    let host = single(&pairs, "host")?;
    crate::telemetry::record_shop(shop.as_str());

    match state.signatures.oauth_query(&pairs) {
        Verdict::Valid => {}
        Verdict::BadSignature => {
            return Err(AppError::unauthorized(
                "invalid_hmac",
                "The request signature (hmac) is not valid.",
            ));
        }
        Verdict::BadTimestamp => {
            return Err(AppError::bad_request(
                "invalid_timestamp",
                "`timestamp` must be Unix seconds.",
            ));
        }
        Verdict::Stale => {
            return Err(AppError::unauthorized(
                "stale_request",
                "The request timestamp is too old or in the future.",
            ));
        }
    }
    let (cookie_nonce, cookie_shop) =
        state_from_cookie(&req, &state.cookie_key).ok_or_else(invalid_state)?;
    // Both comparisons always run: no early exit tells which one failed.
    let nonce_ok = constant_time_eq(cookie_nonce.as_bytes(), nonce.as_bytes());
    let shop_ok = constant_time_eq(cookie_shop.as_bytes(), shop.as_str().as_bytes());
    if !(nonce_ok & shop_ok) {
        return Err(invalid_state());
    }
    let admin_host = match host {
        Some(h) => Some(decode_host(h).ok_or_else(|| {
            AppError::bad_request("invalid_host", "`host` is not a Shopify admin host.")
        })?),
        None => None,
    };
    // Every check on the request itself has passed; the last one is that this nonce has not
    // completed a callback before. A replay (the same signed query and cookie sent again, within
    // the timestamp window) ends here, before the store hears of it: no second code exchange,
    // no webhook registration, nothing stored.
    let (n, d) = (nonce.to_owned(), shop.as_str().to_owned());
    let first_use = state
        .db
        .run_write(move |c| Ok(shops::consume_oauth_nonce(c, &n, &d)?))
        .await?;
    if !first_use {
        return Err(AppError::unauthorized(
            "state_already_used",
            "This install request was already completed or refused; start the install again.",
        ));
    }

    let grant = state.store.exchange_code(&shop, code).await.map_err(|e| match e {
        StoreError::Rejected { status, .. } => AppError::bad_request(
            "oauth_code_rejected",
            format!("The store refused the authorization code (HTTP {status}); start the install again."),
        ),
        other => shops::map_store_error(other),
    })?;
    let granted = split_scopes(&grant.scope);
    if !scopes_cover(&granted, &state.settings.scopes) {
        return Err(AppError::bad_request(
            "insufficient_scopes",
            format!(
                "The store granted `{}` but Atelier needs `{}`.",
                grant.scope,
                state.settings.scopes.join(",")
            ),
        ));
    }
    crate::jobs::install::complete_install(&state, &shop, grant).await?;

    let location = match admin_host {
        Some(h) => format!("https://{h}/apps/{}", state.settings.api_key),
        None => format!("https://{shop}/admin/apps/{}", state.settings.api_key),
    };
    let expired = |name: &'static str| {
        let mut c = Cookie::build(name, "").path(CALLBACK_PATH).finish();
        c.make_removal();
        c
    };
    Ok(HttpResponse::build(StatusCode::FOUND)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(expired(STATE_COOKIE))
        .cookie(expired(STATE_COOKIE_SIG))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_cookie_signature_matches_shopify_library_v9() {
        let key = crate::crypto::derive_key(b"hush", crate::state::COOKIE_KEY_INFO);
        assert_eq!(
            sign_cookie(&key, "0123abcd"),
            "zQqugzVTLi5IbcGeBi3v5TVVNjVev7qe9n4ic/9ZXBI="
        );
    }
}
