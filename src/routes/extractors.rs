//! Who is asking, verified before any handler runs: [`ShopSession`] for the merchant's admin
//! (`/api/*`: an App Bridge id token in `Authorization: Bearer`, and token exchange when the shop
//! has no stored offline token) and [`Storefront`] for shoppers through Shopify's app proxy
//! (`/proxy/*`: `/apps/atelier/*` on the store reaches `/proxy/*` here with `shop`,
//! `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature` added; the shop and the
//! customer are taken only from those signed parameters).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::error::AppError;
use crate::shopify::hmac::parse_query;
use crate::shopify::session_token::SessionClaims;
use crate::shopify::{ShopDomain, StoreError, Verdict};
use crate::shops::{self, Shop};
use crate::state::AppState;

/// An authenticated admin request: the shop comes from the verified token, nowhere else.
pub struct ShopSession {
    pub shop: Shop,
    pub domain: ShopDomain,
    pub claims: SessionClaims,
}

impl FromRequest for ShopSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let token = header
                .as_deref()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AppError::invalid_session(
                        "A session token (Authorization: Bearer) is required.",
                    )
                })?;
            let verified = state
                .signatures
                .session_token(token, &state.settings.api_key)
                .map_err(|e| AppError::invalid_session(format!("Invalid session token: {e}.")))?;
            crate::telemetry::record_shop(verified.shop.as_str());

            let domain = verified.shop.clone();
            let d = domain.clone();
            let stored = state
                .db
                .run(move |c| Ok(shops::find_by_domain(c, d.as_str())?))
                .await?;
            let shop = match stored {
                Some(shop) if shop.has_token() => shop,
                _ => {
                    // Shopify-managed install: no OAuth redirect ever reached us, so exchange the
                    // session token for an offline access token.
                    let grant = state
                        .store
                        .token_exchange(&domain, token)
                        .await
                        .map_err(|e| match e {
                            StoreError::Rejected { .. } => AppError::invalid_session(
                                "The store did not accept the session token for a token exchange.",
                            ),
                            other => shops::map_store_error(other),
                        })?;
                    if !crate::shopify::scopes_cover(
                        &crate::shopify::split_scopes(&grant.scope),
                        &state.settings.scopes,
                    ) {
                        tracing::warn!(shop = %domain, granted = %grant.scope, "token exchange granted fewer scopes than configured");
                    }
                    crate::jobs::install::complete_install(&state, &domain, grant).await?
                }
            };
            Ok(ShopSession {
                shop,
                domain,
                claims: verified.claims,
            })
        })
    }
}

/// A verified storefront request.
pub struct Storefront {
    pub shop: Shop,
    /// The logged-in customer, when Shopify says there is one.
    pub customer_id: Option<i64>,
    /// Who sent it, for per-visitor allowances.
    pub client: crate::limits::Client,
}

impl FromRequest for Storefront {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let pairs = parse_query(req.query_string());
        let forwarded_for = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let peer = req.peer_addr().map(|a| a.ip());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| AppError::internal(anyhow::anyhow!("AppState missing")))?;
            let bad_signature = || {
                AppError::unauthorized(
                    "invalid_signature",
                    "The app proxy signature is missing or not valid.",
                )
            };
            match state.signatures.app_proxy(&pairs) {
                Verdict::Valid => {}
                Verdict::BadSignature => return Err(bad_signature()),
                Verdict::BadTimestamp | Verdict::Stale => {
                    return Err(AppError::unauthorized(
                        "stale_request",
                        "The app proxy request is too old or in the future.",
                    ));
                }
            }
            let get = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let shop = get("shop")
                .and_then(|s| ShopDomain::parse(s).ok())
                .ok_or_else(bad_signature)?;
            crate::telemetry::record_shop(shop.as_str());
            // Shopify's customer ids are positive 64-bit integers written in plain digits; anything
            // else (`-1`, `0`, `+7`, an overflow) names no customer and must not be served as one.
            let customer_id = match get("logged_in_customer_id").unwrap_or("") {
                "" => None,
                id => Some(
                    Some(id)
                        .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|id| id.parse::<i64>().ok())
                        .filter(|id| *id > 0)
                        .ok_or_else(|| {
                            AppError::bad_request(
                                "invalid_customer",
                                "logged_in_customer_id is not a customer id (a positive integer).",
                            )
                        })?,
                ),
            };
            let shop = state
                .storefront_shop(shop.as_str())
                .await?
                .filter(Shop::has_token)
                .ok_or_else(|| AppError::not_found("Atelier is not installed on this shop."))?;
            let client = match customer_id {
                Some(id) => crate::limits::Client::Customer(id),
                None => crate::limits::client_address(
                    forwarded_for.as_deref(),
                    peer,
                    state.settings.trusted_proxy_hops,
                )
                .map_or(
                    crate::limits::Client::Unknown,
                    crate::limits::Client::Address,
                ),
            };
            Ok(Storefront {
                shop,
                customer_id,
                client,
            })
        })
    }
}
