//! The static files compiled into the binary (the admin's script and stylesheets, the theme
//! extension's assets for the block previews and the demo store, the demo's App Bridge
//! stand-in), served the way a CDN would: gzipped once at first use for browsers that accept
//! it, with a strong `ETag` per representation (`304 Not Modified` when the browser already has
//! it) and `Vary: Accept-Encoding`.
//!
//! Caching follows the URL: a page that links a file as `url()` gives (`?v=` its content hash)
//! lets browsers keep it for a year without asking, because a new binary with other bytes links
//! another URL; any other address is revalidated on each use (`no-cache`), which the `ETag`
//! makes a bodiless `304`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

/// What browsers may do with a file fetched at its versioned URL: keep it, since that URL never
/// names other bytes.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Any other URL: use the copy only after asking (a `304` when it is still current).
pub const REVALIDATE: &str = "no-cache";

/// A file's version and its compressed form, computed once per process.
struct Prepared {
    /// The first 16 hex digits of the content's SHA-256.
    version: String,
    /// `None` when gzip would not make it smaller.
    gzip: Option<Vec<u8>>,
}

fn prepare(bytes: &[u8]) -> Prepared {
    let digest = Sha256::digest(bytes);
    let version = hex::encode(&digest[..8]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let gzip = gz
        .write_all(bytes)
        .and_then(|()| gz.finish())
        .ok()
        .filter(|z| z.len() < bytes.len());
    Prepared { version, gzip }
}

/// The prepared form of one file, by the name its route serves it under. The set of files is
/// fixed (compiled in), so the map stays as small as the list of assets.
fn prepared(key: (&'static str, &'static str), bytes: &'static [u8]) -> &'static Prepared {
    static CACHE: OnceLock<Mutex<HashMap<(&'static str, &'static str), &'static Prepared>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache.lock().get(&key) {
        return p;
    }
    // Compressed outside the lock; two first requests racing both compress, one result is kept.
    let fresh = prepare(bytes);
    let mut map = cache.lock();
    map.entry(key).or_insert_with(|| Box::leak(Box::new(fresh)))
}

/// The route for a static file: `GET`, and `HEAD` (the same headers, no body) as browsers and
/// caches use it to check a file.
pub fn method() -> actix_web::Route {
    use actix_web::guard;
    actix_web::web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The address to link a file by: `{base}{name}?v={content hash}`, cacheable for good.
pub fn url(base: &'static str, name: &'static str, bytes: &'static [u8]) -> String {
    format!("{base}{name}?v={}", prepared((base, name), bytes).version)
}

/// Whether the request's `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*` with a
/// non-zero quality; an explicit `gzip;q=0` refuses it even beside `*`).
pub fn accepts_gzip(req: &HttpRequest) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in req.headers().get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
                })
                .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => any = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// One compiled-in file, `name` under the route `base` (the same pair `url` links it by).
pub fn serve(
    req: &HttpRequest,
    base: &'static str,
    name: &'static str,
    mime: &str,
    bytes: &'static [u8],
) -> HttpResponse {
    let p = prepared((base, name), bytes);
    let gzip = p.gzip.as_deref().filter(|_| accepts_gzip(req));
    // Each representation has its own strong validator: the gzipped bytes are not the same
    // entity as the plain ones.
    let etag = match gzip {
        Some(_) => format!("\"{}-gz\"", p.version),
        None => format!("\"{}\"", p.version),
    };
    let versioned = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "v" && v == p.version.as_str());
    let unchanged = not_modified(req, &etag);
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((
            header::CACHE_CONTROL,
            if versioned { IMMUTABLE } else { REVALIDATE },
        ))
        .insert_header((header::VARY, "Accept-Encoding"));
    if unchanged {
        return res.finish();
    }
    res.content_type(mime);
    match gzip {
        Some(z) => res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(z),
        None => res.body(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn gzip_ok(header: &str) -> bool {
        accepts_gzip(
            &TestRequest::default()
                .insert_header(("Accept-Encoding", header))
                .to_http_request(),
        )
    }

    #[test]
    fn accept_encoding_is_read_with_its_qualities() {
        assert!(gzip_ok("gzip, deflate, br"));
        assert!(gzip_ok("br;q=1.0, gzip;q=0.8"));
        assert!(gzip_ok("*"));
        assert!(gzip_ok("X-GZIP"));
        assert!(!gzip_ok("gzip;q=0"));
        assert!(!gzip_ok("*, gzip;q=0"));
        assert!(!gzip_ok("br, deflate"));
        assert!(!gzip_ok("identity"));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn a_file_gets_a_stable_version_and_a_smaller_gzip() {
        let text: &'static [u8] = b"body { color: red; } body { color: red; } body { color: red; }";
        let a = prepare(text);
        assert_eq!(a.version.len(), 16);
        assert_eq!(a.version, prepare(text).version);
        assert!(a.gzip.as_ref().is_some_and(|z| z.len() < text.len()));
        // Gzip that would grow the file is not offered.
        assert!(prepare(b"x").gzip.is_none());
    }
}
