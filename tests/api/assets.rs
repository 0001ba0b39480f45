//! The admin's static files as a browser gets them: gzipped when it accepts gzip, a strong
//! validator per representation (a bodiless `304` when it already has the bytes), cached for good
//! at the versioned address the pages link and revalidated anywhere else. And in production the
//! development admin does not exist while the real one works.

use std::io::Read;

use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, ETAG, VARY};
use serde_json::Value;

use crate::helpers::*;

const SHOP: &str = "assets-shop.myshopify.com";

fn on_disk(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a valid gzip stream");
    out
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> String {
    resp.headers()
        .get(&name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// One file's whole negotiation: plain, gzipped, and revalidated in both forms.
async fn check_negotiation(app: &TestApp, path: &str, file: &str) {
    let expected = on_disk(file);

    let plain = get_with(app, path, &[]).await;
    assert_eq!(plain.status(), 200, "{path}");
    assert_eq!(
        header(&plain, CONTENT_ENCODING),
        "",
        "{path}: no gzip unasked"
    );
    assert!(header(&plain, VARY).contains("Accept-Encoding"), "{path}");
    assert_eq!(header(&plain, CACHE_CONTROL), "no-cache", "{path}");
    let plain_tag = header(&plain, ETAG);
    assert!(
        plain_tag.starts_with('"') && plain_tag.len() > 10,
        "{path}: a strong ETag, {plain_tag}"
    );
    assert_eq!(plain.bytes().await.unwrap().as_ref(), expected, "{path}");

    let gz = get_with(app, path, &[("Accept-Encoding", "gzip, deflate, br")]).await;
    assert_eq!(gz.status(), 200, "{path}");
    assert_eq!(header(&gz, CONTENT_ENCODING), "gzip", "{path}");
    assert!(header(&gz, VARY).contains("Accept-Encoding"), "{path}");
    let gz_tag = header(&gz, ETAG);
    assert!(gz_tag.starts_with('"'), "{path}: {gz_tag}");
    assert_ne!(
        gz_tag, plain_tag,
        "{path}: each representation its own validator"
    );
    let body = gz.bytes().await.unwrap();
    assert!(body.len() < expected.len(), "{path}: smaller when gzipped");
    assert_eq!(
        gunzip(&body),
        expected,
        "{path}: the same bytes once inflated"
    );

    // HEAD: the same headers, no body.
    let head = app.client.head(app.url(path)).send().await.unwrap();
    assert_eq!(head.status(), 200, "{path}");
    assert_eq!(header(&head, ETAG), plain_tag, "{path}");
    assert!(head.bytes().await.unwrap().is_empty(), "{path}");

    // A refused gzip is not sent.
    let refused = get_with(app, path, &[("Accept-Encoding", "*, gzip;q=0")]).await;
    assert_eq!(header(&refused, CONTENT_ENCODING), "", "{path}");

    for (tag, encoding) in [
        (plain_tag.clone(), None),
        (gz_tag.clone(), Some("gzip")),
        (format!("W/{plain_tag}"), None),
        (format!("\"stale\", {gz_tag}"), Some("gzip")),
    ] {
        let mut headers = vec![("If-None-Match", tag.as_str())];
        if let Some(e) = encoding {
            headers.push(("Accept-Encoding", e));
        }
        let resp = get_with(app, path, &headers).await;
        assert_eq!(resp.status(), 304, "{path}: If-None-Match {tag}");
        assert!(header(&resp, VARY).contains("Accept-Encoding"), "{path}");
        assert_eq!(header(&resp, CACHE_CONTROL), "no-cache", "{path}");
        assert!(!header(&resp, ETAG).is_empty(), "{path}");
        assert!(resp.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
    // The gzipped validator does not stand for the plain bytes, nor a stale one for either.
    let resp = get_with(app, path, &[("If-None-Match", gz_tag.as_str())]).await;
    assert_eq!(resp.status(), 200, "{path}");
    let resp = get_with(
        app,
        path,
        &[("If-None-Match", "\"0000\""), ("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(resp.status(), 200, "{path}");
}

/// The versioned addresses a page links (`?v=`), in the order they appear.
fn versioned_links(html: &str, prefix: &str) -> Vec<String> {
    html.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &html[i..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .filter(|u| u.contains("?v="))
        .collect()
}

fn launch_url(shop: &str) -> String {
    let params = vec![
        ("shop".to_owned(), shop.to_owned()),
        ("timestamp".to_owned(), now().to_string()),
        ("embedded".to_owned(), "1".to_owned()),
    ];
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(sign_params(params, API_SECRET))
        .finish();
    format!("/?{q}")
}

#[tokio::test]
async fn the_admin_assets_are_gzipped_validated_and_revalidated() {
    let app = spawn_app().await;
    for (path, file) in [
        ("/admin/assets/admin.js", "src/routes/admin/assets/admin.js"),
        (
            "/admin/assets/admin.css",
            "src/routes/admin/assets/admin.css",
        ),
        (
            "/admin/assets/preview.js",
            "src/routes/admin/assets/preview.js",
        ),
        (
            "/admin/theme/atelier.css",
            "theme-extension/assets/atelier.css",
        ),
        (
            "/admin/theme/atelier-personalizer.js",
            "theme-extension/assets/atelier-personalizer.js",
        ),
    ] {
        check_negotiation(&app, path, file).await;
    }
}

#[tokio::test]
async fn the_pages_link_versioned_assets_that_browsers_keep() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let shell = app.get(&launch_url(SHOP)).await;
    assert_eq!(shell.status(), 200);
    let html = shell.text().await.unwrap();
    let links = versioned_links(&html, "/admin/assets/");
    assert_eq!(
        links.len(),
        6,
        "admin.css, admin.js, engagement.js, storesync.js, questions.js and experiments.js, versioned: {html}"
    );
    for link in links {
        let resp = get_with(&app, &link, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(resp.status(), 200, "{link}");
        assert_eq!(
            header(&resp, CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{link}"
        );
        assert_eq!(header(&resp, CONTENT_ENCODING), "gzip", "{link}");
        // Another version's address is not kept for good: its bytes are not those.
        let other = format!("{}?v=0123456789abcdef", link.split('?').next().unwrap());
        let resp = app.get(&other).await;
        assert_eq!(resp.status(), 200, "{other}");
        assert_eq!(header(&resp, CACHE_CONTROL), "no-cache", "{other}");
    }

    let frame = app
        .get("/admin/preview/personalizer")
        .await
        .text()
        .await
        .unwrap();
    let links = [
        versioned_links(&frame, "/admin/theme/"),
        versioned_links(&frame, "/admin/assets/"),
    ]
    .concat();
    assert_eq!(
        links.len(),
        4,
        "theme CSS and script, preview CSS and script: {frame}"
    );
    for link in links {
        let resp = app.get(&link).await;
        assert_eq!(resp.status(), 200, "{link}");
        assert_eq!(
            header(&resp, CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{link}"
        );
    }
}

/// In production the development admin and its stand-in for App Bridge are absent, while the
/// admin Shopify opens works: the shell with Shopify's App Bridge, its assets, and the API with
/// a session token.
#[tokio::test]
async fn in_production_the_demo_admin_is_404_and_the_real_admin_works() {
    let app = spawn_app().await;
    assert!(app.state.settings.is_production());
    app.install(SHOP).await;
    for path in ["/demo/admin", "/demo/admin/bridge.js", "/demo"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["error"]["code"],
            "not_found",
            "{path}"
        );
    }
    let minted = app
        .client
        .post(app.url("/demo/admin/session-token"))
        .header("X-Atelier-Dev-Bridge", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 404, "no development tokens in production");

    let shell = app.get(&launch_url(SHOP)).await;
    assert_eq!(shell.status(), 200);
    let html = shell.text().await.unwrap();
    assert!(
        html.contains(r#"<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">"#),
        "{html}"
    );
    assert!(!html.contains("/demo/"), "nothing of the demo: {html}");
    assert!(html.contains(r#"data-env="production""#), "{html}");
    for link in versioned_links(&html, "/admin/assets/") {
        assert_eq!(app.get(&link).await.status(), 200, "{link}");
    }
    let resp = app.api_get("/api/shop", SHOP).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["shop"], SHOP);
    assert_eq!(app.get("/api/shop").await.status(), 401);
}

#[cfg(feature = "demo")]
#[tokio::test]
async fn the_demo_store_serves_the_theme_assets_and_bridge_the_same_way() {
    let app = spawn_app_with(|vars| {
        vars.insert("ATELIER_ENV".into(), "development".into());
    })
    .await;
    check_negotiation(
        &app,
        "/demo/assets/atelier-personalizer.js",
        "theme-extension/assets/atelier-personalizer.js",
    )
    .await;
    check_negotiation(&app, "/demo/admin/bridge.js", "src/demo/admin-bridge.js").await;
    let page = app.get("/demo/admin").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert_eq!(versioned_links(&html, "/admin/assets/").len(), 6, "{html}");
}
