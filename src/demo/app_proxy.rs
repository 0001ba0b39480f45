//! The app proxy emulator: the storefront's `/apps/atelier/*` signed and forwarded to `/proxy/*`
//! as Shopify does it.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{DEMO_CUSTOMER, Demo, logged_in};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// `/apps/atelier/*`: what Shopify's app proxy does. The storefront's query is kept, `shop`,
/// `logged_in_customer_id` (empty when logged out), `path_prefix` and `timestamp` are added and
/// signed (sorted `key=value` pairs, repeated keys joined with `,`, concatenated, hex
/// HMAC-SHA256 with the API secret), cookies are not forwarded, and the request goes to
/// `/proxy/*` with its method and body.
pub(super) async fn app_proxy(
    req: HttpRequest,
    tail: web::Path<String>,
    body: web::Bytes,
    demo: web::Data<Demo>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let tail = tail.into_inner();
    if !forwardable(&tail) {
        return Err(AppError::not_found("No such storefront route."));
    }
    let customer = if logged_in(&req) {
        DEMO_CUSTOMER.to_string()
    } else {
        String::new()
    };
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "shop" | "logged_in_customer_id" | "path_prefix" | "timestamp" | "signature"
                )
            })
            .collect();
    pairs.push(("shop".into(), crate::config::DEMO_SHOP.into()));
    pairs.push(("logged_in_customer_id".into(), customer));
    pairs.push(("path_prefix".into(), "/apps/atelier".into()));
    pairs.push((
        "timestamp".into(),
        time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
    ));
    let signature = crate::shopify::hmac::sign_app_proxy(state.api_secret(), &pairs);
    pairs.push(("signature".into(), signature));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let url = format!("{}/proxy/{tail}?{query}", demo.self_base);
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::GET);
    let mut forward = demo.client.request(method, url).body(body.to_vec());
    for name in [
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::ACCEPT_LANGUAGE,
    ] {
        if let Some(v) = req.headers().get(&name) {
            forward = forward.header(name.as_str(), v.as_bytes());
        }
    }
    if let Some(ip) = req.peer_addr() {
        forward = forward.header("X-Forwarded-For", ip.ip().to_string());
    }
    let answer = forward
        .header("X-Forwarded-Host", crate::config::DEMO_SHOP)
        .send()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("app proxy emulator: {e}")))?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        // Shopify strips cookies and hop-by-hop headers from proxied answers.
        if matches!(
            name.as_str(),
            "content-type" | "cache-control" | "content-security-policy" | "x-content-type-options"
        ) {
            res.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("app proxy emulator: {e}")))?;
    if req.method() == Method::HEAD {
        return Ok(res.finish());
    }
    Ok(res.body(bytes))
}

/// Whether a path below `/apps/atelier/` stays below `/proxy/` once forwarded: no `.` or `..`
/// segment (the forwarded URL would resolve it and reach `/api`, `/auth` or the demo itself
/// with a valid app-proxy signature), nothing that would end the path early.
fn forwardable(tail: &str) -> bool {
    tail.split('/').all(|seg| {
        let lower = seg.to_ascii_lowercase();
        !matches!(
            lower.as_str(),
            "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
        )
    }) && !tail
        .chars()
        .any(|c| matches!(c, '?' | '#' | '\\') || c.is_control())
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_that_would_leave_the_proxy_are_not_forwarded() {
        for ok in [
            "products/1/fields",
            "preferences",
            "saved-personalizations/sp_1",
        ] {
            assert!(super::forwardable(ok), "{ok}");
        }
        for bad in [
            "../api/shop",
            "a/../../auth",
            "./x",
            "%2e%2e/api",
            "a/%2E./b",
            "x?y",
            "a\\b",
            "a\nb",
        ] {
            assert!(!super::forwardable(bad), "{bad}");
        }
    }
}
