//! Settings read once from the environment and passed by value.
//!
//! `Settings::from_lookup` takes any variable source, so tests build settings from a map
//! without touching the process environment.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use crate::crypto::derive_key;

pub const DEV_API_KEY: &str = "atelier-dev-api-key";
pub const DEV_API_SECRET: &str = "atelier-dev-api-secret-do-not-use-in-production";
pub const DEFAULT_API_VERSION: &str = "2026-10";
pub const DEFAULT_SCOPES: &str = "read_products,read_orders,read_customers";

/// The development demo shop, seeded on first start and served by the demo storefront.
pub const DEMO_SHOP: &str = "atelier-demo.myshopify.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// A value that must never reach a log line or a response.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// `Debug` is written out below so that the encryption key never reaches a log line.
#[derive(Clone)]
pub struct Settings {
    pub env: Environment,
    pub database_url: Secret,
    pub bind_addr: String,
    pub app_url: Url,
    pub api_key: String,
    pub api_secret: Secret,
    /// The secret before a rotation: Shopify may sign with it for up to an hour afterwards.
    pub api_secret_previous: Option<Secret>,
    pub scopes: Vec<String>,
    pub api_version: String,
    pub shop_origin_template: String,
    pub token_encryption_key: [u8; 32],
    /// The key before a rotation (`TOKEN_ENCRYPTION_KEY_PREVIOUS`): values it encrypted are still
    /// read, and written again under the current key.
    pub token_encryption_key_previous: Option<[u8; 32]>,
    /// Timeout of every call to a store (OAuth, Admin API).
    pub store_timeout: Duration,
    /// Allowed clock difference for signed `timestamp` parameters (OAuth callback, app proxy).
    pub signature_max_age: Duration,
    /// How long an upload no order references is kept (`ATELIER_UPLOAD_RETENTION_HOURS`, 168).
    pub upload_retention: Duration,
    /// How long storefront events are kept for trending and analytics
    /// (`ATELIER_EVENT_RETENTION_DAYS`, 400: a year of daily series plus a margin).
    pub event_retention: Duration,
    /// Load balancers in front of Atelier that append to `X-Forwarded-For`
    /// (`ATELIER_TRUSTED_PROXY_HOPS`, 0): how many entries to skip from the right to reach the
    /// visitor's address as Shopify's app proxy saw it.
    pub trusted_proxy_hops: usize,
    pub db_pool_size: u32,
    /// Run background workers in this process (switch off to run HTTP-only instances).
    pub run_workers: bool,
    /// How long a worker owns a claimed webhook event before another may take it over.
    pub inbox_lease: Duration,
    /// Inbox worker tasks per instance (default: 1 on SQLite, 2 on PostgreSQL).
    pub inbox_workers: Option<usize>,
    /// Pause after each processed event (testing aid; 0 in production).
    pub worker_throttle: Duration,
    pub log_json: bool,
    /// Values defaulted in development that would be refused in production, for the start-up warning.
    pub dev_defaults: Vec<&'static str>,
    /// Delivery of follow-up events to merchants' tools.
    pub outbox: OutboxSettings,
    /// Writing products' price tables (checkout's add-on prices) to their stores.
    pub price_sync: PriceSyncSettings,
}

/// How often due price tables are written, and how a failed write waits before the next try.
#[derive(Debug, Clone)]
pub struct PriceSyncSettings {
    pub poll: Duration,
    /// First retry delay; each further one doubles (capped at a day).
    pub backoff: Duration,
}

/// How follow-up events leave: leases, retries, timeouts, and whether private addresses may be
/// called (never in production: a merchant's URL must not reach Atelier's own network).
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub lease: Duration,
    pub max_attempts: i64,
    /// First retry delay; each further one doubles (capped at 6 hours).
    pub backoff: Duration,
    pub timeout: Duration,
    pub poll: Duration,
    /// Testing aid (`ATELIER_OUTBOX_ALLOW_PRIVATE`, refused in production): destinations on
    /// loopback and private networks.
    pub allow_private: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every member, the key's bytes excepted (the secrets are `Secret`s, redacted by type).
        f.debug_struct("Settings")
            .field("env", &self.env)
            .field("database_url", &self.database_url)
            .field("bind_addr", &self.bind_addr)
            .field("app_url", &self.app_url)
            .field("api_key", &self.api_key)
            .field("api_secret", &self.api_secret)
            .field("api_secret_previous", &self.api_secret_previous)
            .field("scopes", &self.scopes)
            .field("api_version", &self.api_version)
            .field("shop_origin_template", &self.shop_origin_template)
            .field("token_encryption_key", &"[redacted]")
            .field(
                "token_encryption_key_previous",
                &self.token_encryption_key_previous.map(|_| "[redacted]"),
            )
            .field("store_timeout", &self.store_timeout)
            .field("signature_max_age", &self.signature_max_age)
            .field("upload_retention", &self.upload_retention)
            .field("event_retention", &self.event_retention)
            .field("trusted_proxy_hops", &self.trusted_proxy_hops)
            .field("db_pool_size", &self.db_pool_size)
            .field("run_workers", &self.run_workers)
            .field("inbox_lease", &self.inbox_lease)
            .field("inbox_workers", &self.inbox_workers)
            .field("worker_throttle", &self.worker_throttle)
            .field("log_json", &self.log_json)
            .field("dev_defaults", &self.dev_defaults)
            .field("outbox", &self.outbox)
            .field("price_sync", &self.price_sync)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {} {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let env = match get("ATELIER_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(err(
                    "ATELIER_ENV",
                    format!("must be `development` or `production`, got `{other}`"),
                ));
            }
        };
        let production = env == Environment::Production;
        let mut dev_defaults = Vec::new();
        let mut required = |name: &'static str, dev_default: &str| -> Result<String, ConfigError> {
            match get(name) {
                Some(v) => Ok(v),
                None if production => Err(err(name, "is required when ATELIER_ENV=production")),
                None => {
                    dev_defaults.push(name);
                    Ok(dev_default.to_owned())
                }
            }
        };

        let api_key = required("SHOPIFY_API_KEY", DEV_API_KEY)?;
        let api_secret = Secret::new(required("SHOPIFY_API_SECRET", DEV_API_SECRET)?);
        let token_key_b64 = required("TOKEN_ENCRYPTION_KEY", "")?;
        let token_encryption_key = if token_key_b64.is_empty() {
            // Development only: a key derived from the (dev) API secret, stable across restarts.
            derive_key(
                api_secret.expose().as_bytes(),
                b"atelier/dev-token-encryption-key/v1",
            )
        } else {
            parse_key("TOKEN_ENCRYPTION_KEY", &token_key_b64)?
        };
        let token_encryption_key_previous = get("TOKEN_ENCRYPTION_KEY_PREVIOUS")
            .filter(|v| !v.is_empty())
            .map(|v| parse_key("TOKEN_ENCRYPTION_KEY_PREVIOUS", &v))
            .transpose()?;

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://atelier.db".into());
        crate::db::Backend::from_url(&database_url).map_err(|m| err("DATABASE_URL", m))?;

        let bind_addr = get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        if bind_addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            return Err(err("BIND_ADDR", "must be HOST:PORT"));
        }

        // The demo secrets are public: whoever can reach a server using them can sign webhooks
        // and mint session tokens. Served on loopback only, so a lost ATELIER_ENV on a public
        // host fails to start instead of opening the store.
        if !dev_defaults.is_empty() && !is_loopback(&bind_addr) {
            return Err(err(
                "BIND_ADDR",
                format!(
                    "is not a loopback address while {} use public development defaults; set ATELIER_ENV=production with the app's real secrets, or bind 127.0.0.1",
                    dev_defaults.join(", ")
                ),
            ));
        }

        let app_url_raw = get("APP_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let app_url = Url::parse(app_url_raw.trim_end_matches('/'))
            .map_err(|e| err("APP_URL", format!("is not a URL ({e})")))?;
        if !matches!(app_url.scheme(), "http" | "https") || app_url.host_str().is_none() {
            return Err(err("APP_URL", "must be an http(s) URL with a host"));
        }
        if app_url.query().is_some() || app_url.fragment().is_some() {
            return Err(err("APP_URL", "must not carry a query or fragment"));
        }

        let scopes: Vec<String> = get("SHOPIFY_SCOPES")
            .unwrap_or_else(|| DEFAULT_SCOPES.into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if scopes
            .iter()
            .any(|s| !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            return Err(err(
                "SHOPIFY_SCOPES",
                "must be comma-separated scope names like read_orders",
            ));
        }

        let api_version = get("SHOPIFY_API_VERSION").unwrap_or_else(|| DEFAULT_API_VERSION.into());
        if !is_api_version(&api_version) {
            return Err(err(
                "SHOPIFY_API_VERSION",
                "must look like 2026-10 (or `unstable`)",
            ));
        }

        let shop_origin_template =
            get("SHOP_ORIGIN_TEMPLATE").unwrap_or_else(|| "https://{shop}".into());
        if !shop_origin_template.contains("{shop}") {
            return Err(err(
                "SHOP_ORIGIN_TEMPLATE",
                "must contain the placeholder {shop}",
            ));
        }
        Url::parse(&shop_origin_template.replace("{shop}", "example.myshopify.com")).map_err(
            |e| {
                err(
                    "SHOP_ORIGIN_TEMPLATE",
                    format!("is not a URL template ({e})"),
                )
            },
        )?;

        let store_timeout =
            Duration::from_millis(parse_num(&get, "ATELIER_STORE_TIMEOUT_MS", 10_000)?);
        let signature_max_age =
            Duration::from_secs(parse_num(&get, "ATELIER_SIGNATURE_MAX_AGE_SECS", 90)?);
        let upload_retention = Duration::from_secs(
            parse_num(&get, "ATELIER_UPLOAD_RETENTION_HOURS", 168)?.saturating_mul(3600),
        );
        let event_retention = Duration::from_secs(
            parse_num(&get, "ATELIER_EVENT_RETENTION_DAYS", 400)?
                .max(1)
                .saturating_mul(86_400),
        );
        let trusted_proxy_hops = parse_num(&get, "ATELIER_TRUSTED_PROXY_HOPS", 0)?.min(16) as usize;
        let db_pool_size = parse_num(&get, "ATELIER_DB_POOL_SIZE", 16)? as u32;
        if db_pool_size == 0 {
            return Err(err("ATELIER_DB_POOL_SIZE", "must be at least 1"));
        }
        let run_workers = parse_bool(&get, "ATELIER_WORKERS", true)?;
        let inbox_lease =
            Duration::from_secs(parse_num(&get, "ATELIER_INBOX_LEASE_SECS", 60)?.max(1));
        let inbox_workers = match get("ATELIER_INBOX_WORKERS") {
            None => None,
            Some(_) => Some(parse_num(&get, "ATELIER_INBOX_WORKERS", 1)?.clamp(1, 64) as usize),
        };
        let worker_throttle =
            Duration::from_millis(parse_num(&get, "ATELIER_WORKER_THROTTLE_MS", 0)?);
        let allow_private = parse_bool(&get, "ATELIER_OUTBOX_ALLOW_PRIVATE", false)?;
        if allow_private && production {
            return Err(err(
                "ATELIER_OUTBOX_ALLOW_PRIVATE",
                "is a testing aid and cannot be used in production",
            ));
        }
        let outbox = OutboxSettings {
            lease: Duration::from_secs(parse_num(&get, "ATELIER_OUTBOX_LEASE_SECS", 60)?.max(1)),
            max_attempts: parse_num(&get, "ATELIER_OUTBOX_MAX_ATTEMPTS", 8)?.clamp(1, 100) as i64,
            backoff: Duration::from_millis(
                parse_num(&get, "ATELIER_OUTBOX_BACKOFF_MS", 30_000)?.max(1),
            ),
            timeout: Duration::from_millis(
                parse_num(&get, "ATELIER_OUTBOX_TIMEOUT_MS", 10_000)?.max(1),
            ),
            poll: Duration::from_millis(parse_num(&get, "ATELIER_OUTBOX_POLL_MS", 1_000)?.max(10)),
            allow_private,
        };
        let price_sync = PriceSyncSettings {
            poll: Duration::from_millis(
                parse_num(&get, "ATELIER_PRICE_SYNC_POLL_MS", 5_000)?.max(10),
            ),
            backoff: Duration::from_millis(
                parse_num(&get, "ATELIER_PRICE_SYNC_BACKOFF_MS", 30_000)?.max(1),
            ),
        };
        let log_json = match get("LOG_FORMAT").as_deref() {
            None => production,
            Some("json") => true,
            Some("text") => false,
            Some(_) => return Err(err("LOG_FORMAT", "must be `json` or `text`")),
        };

        Ok(Settings {
            env,
            database_url: Secret::new(database_url),
            bind_addr,
            app_url,
            api_key,
            api_secret,
            api_secret_previous: get("SHOPIFY_API_SECRET_PREVIOUS").map(Secret::new),
            scopes,
            api_version,
            shop_origin_template,
            token_encryption_key,
            token_encryption_key_previous,
            store_timeout,
            signature_max_age,
            upload_retention,
            event_retention,
            trusted_proxy_hops,
            db_pool_size,
            run_workers,
            inbox_lease,
            inbox_workers,
            worker_throttle,
            log_json,
            dev_defaults,
            outbox,
            price_sync,
        })
    }

    /// Development with any public demo credential in use.
    pub fn uses_dev_defaults(&self) -> bool {
        !self.dev_defaults.is_empty()
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// `APP_URL` without a trailing slash, for building absolute URLs.
    pub fn app_base(&self) -> &str {
        self.app_url.as_str().trim_end_matches('/')
    }

    /// The origin used for every call to `shop` (`SHOP_ORIGIN_TEMPLATE`).
    pub fn shop_origin(&self, shop: &str) -> String {
        self.shop_origin_template
            .replace("{shop}", shop)
            .trim_end_matches('/')
            .to_owned()
    }
}

fn is_api_version(v: &str) -> bool {
    if v == "unstable" {
        return true;
    }
    let b = v.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[5..].iter().all(u8::is_ascii_digit)
}

/// A 32-byte key written in base64.
fn parse_key(name: &'static str, b64: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = STANDARD
        .decode(b64.trim().as_bytes())
        .map_err(|_| err(name, "must be base64 (standard alphabet)"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| err(name, format!("must decode to 32 bytes, got {}", b.len())))
}

fn parse_num(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| err(name, "must be a whole number")),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(_) => Err(err(name, "must be true or false")),
    }
}

/// `HOST:PORT` whose host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
fn is_loopback(bind_addr: &str) -> bool {
    let Some((host, _)) = bind_addr.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn debug_shows_no_key_and_no_secret() {
        let key = [7u8; 32];
        let s = settings(&[
            ("TOKEN_ENCRYPTION_KEY", &STANDARD.encode(key)),
            ("SHOPIFY_API_SECRET", "s3cret-value"),
        ])
        .unwrap();
        assert_eq!(s.token_encryption_key, key);
        let shown = format!("{s:?}");
        assert!(
            shown.contains("token_encryption_key: \"[redacted]\""),
            "{shown}"
        );
        assert!(!shown.contains("7, 7, 7"), "{shown}");
        assert!(!shown.contains(&format!("{key:?}")), "{shown}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
        assert!(
            shown.contains("bind_addr"),
            "the other members are shown: {shown}"
        );
    }

    #[test]
    fn development_defaults_work_without_any_variable() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.database_url.expose(), "sqlite://atelier.db");
        assert_eq!(s.bind_addr, "127.0.0.1:8080");
        assert_eq!(s.app_base(), "http://127.0.0.1:8080");
        assert_eq!(s.scopes, ["read_products", "read_orders", "read_customers"]);
        assert_eq!(
            s.dev_defaults,
            [
                "SHOPIFY_API_KEY",
                "SHOPIFY_API_SECRET",
                "TOKEN_ENCRYPTION_KEY"
            ]
        );
        assert_eq!(s.shop_origin("a.myshopify.com"), "https://a.myshopify.com");
    }

    #[test]
    fn production_names_each_missing_variable() {
        let e = settings(&[("ATELIER_ENV", "production")]).unwrap_err();
        assert_eq!(e.variable, "SHOPIFY_API_KEY");
        let e = settings(&[("ATELIER_ENV", "production"), ("SHOPIFY_API_KEY", "k")]).unwrap_err();
        assert_eq!(e.variable, "SHOPIFY_API_SECRET");
        let e = settings(&[
            ("ATELIER_ENV", "production"),
            ("SHOPIFY_API_KEY", "k"),
            ("SHOPIFY_API_SECRET", "s"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "TOKEN_ENCRYPTION_KEY");
        assert!(
            e.to_string().contains("TOKEN_ENCRYPTION_KEY is required"),
            "{e}"
        );
    }

    #[test]
    fn rejects_bad_values_with_the_variable_name() {
        for (var, value) in [
            ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ="),
            ("TOKEN_ENCRYPTION_KEY", "not base64!"),
            ("DATABASE_URL", "mysql://x"),
            ("APP_URL", "ftp://x"),
            ("SHOPIFY_API_VERSION", "latest"),
            ("SHOP_ORIGIN_TEMPLATE", "https://example.com"),
            ("ATELIER_ENV", "staging"),
            ("BIND_ADDR", "localhost"),
        ] {
            let e = settings(&[(var, value)]).unwrap_err();
            assert_eq!(e.variable, var, "{var}={value}");
        }
    }

    #[test]
    fn public_development_defaults_are_served_on_loopback_only() {
        for addr in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "localhost:3000",
            "127.1.2.3:80",
        ] {
            assert!(settings(&[("BIND_ADDR", addr)]).is_ok(), "{addr}");
        }
        for addr in [
            "0.0.0.0:8080",
            "[::]:8080",
            "10.0.0.5:80",
            "shop.example.com:443",
        ] {
            let e = settings(&[("BIND_ADDR", addr)]).unwrap_err();
            assert_eq!(e.variable, "BIND_ADDR", "{addr}");
            assert!(e.to_string().contains("SHOPIFY_API_SECRET"), "{e}");
        }
        // Development with the app's own credentials may listen anywhere (a tunnel, a container).
        let key = STANDARD.encode([7u8; 32]);
        let own = [
            ("BIND_ADDR", "0.0.0.0:8080"),
            ("SHOPIFY_API_KEY", "k"),
            ("SHOPIFY_API_SECRET", "s"),
            ("TOKEN_ENCRYPTION_KEY", key.as_str()),
        ];
        assert!(settings(&own).is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let s = settings(&[("SHOPIFY_API_SECRET", "super-secret-value")]).unwrap();
        assert!(!format!("{s:?}").contains("super-secret-value"));
    }
}
