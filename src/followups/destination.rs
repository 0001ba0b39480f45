//! Where follow-up events may go. A merchant types a URL; Atelier must not become a way to reach
//! its own network (cloud metadata, the database, loopback services). So:
//!
//! - a saved URL must be `https`, without credentials, and not name a loopback, private,
//!   link-local or otherwise non-public address or a local-only host name;
//! - at every delivery the host is resolved by [`PublicOnly`], which drops every non-public
//!   address it resolves to (a name that pointed somewhere public when saved and to
//!   `127.0.0.1` now gets no connection), and redirects are not followed.
//!
//! `ATELIER_OUTBOX_ALLOW_PRIVATE` (refused in production) lets tests use a receiver on
//! loopback over plain `http`.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The longest destination URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Whether an address is on the public internet (what a merchant's tool can be on).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                // Carrier-grade NAT, benchmarking, "this network", reserved.
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a == 0
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8))
        }
    }
}

fn local_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".local")
        || h.ends_with(".internal")
        || h.ends_with(".home.arpa")
        || !h.contains('.')
}

/// Checks a destination URL as the merchant saves it; answers it normalized, or why not.
pub fn check_url(raw: &str, allow_private: bool) -> Result<String, String> {
    if raw.len() > MAX_URL_LEN || raw.chars().any(char::is_control) {
        return Err(format!(
            "The URL must be at most {MAX_URL_LEN} characters, without control characters."
        ));
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| "This is not a URL.".to_owned())?;
    let scheme_ok = url.scheme() == "https" || (allow_private && url.scheme() == "http");
    if !scheme_ok {
        return Err("The URL must start with https://.".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The URL must not carry a user name or password.".into());
    }
    let public = match url.host() {
        None => return Err("The URL has no host.".into()),
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => !local_name(d),
    };
    if !public && !allow_private {
        return Err(
            "The URL must point to a public host (not localhost or a private network).".into(),
        );
    }
    Ok(url.to_string())
}

/// A resolver that answers only public addresses (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err("the destination resolves to no public address".into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The client deliveries use: no redirects, a timeout, and (unless the testing aid is on) the
/// public-only resolver. A URL naming an IP literal never reaches the resolver, so the sender
/// checks it again with [`check_url`] before every attempt.
pub fn client(
    timeout: std::time::Duration,
    allow_private: bool,
) -> reqwest::Result<reqwest::Client> {
    let b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Atelier-Followups/", env!("CARGO_PKG_VERSION")));
    let b = if allow_private {
        b
    } else {
        b.dns_resolver(std::sync::Arc::new(PublicOnly))
    };
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_destinations_are_accepted() {
        assert!(check_url("https://hooks.example.com/atelier", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://localhost/x",
            "https://10.0.0.8/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://user:pw@hooks.example.com/x",
            "https://metadata.internal/x",
            "https://intranet/x",
            "ftp://hooks.example.com/x",
            "not a url",
            "https://hooks.example.com/\u{0}",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9000/x", true).is_ok());
    }

    #[test]
    fn public_addresses_are_told_apart() {
        assert!(is_public("93.184.216.34".parse().unwrap()));
        assert!(is_public("2606:2800:220:1::".parse().unwrap()));
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "169.254.1.1",
            "::1",
            "fe80::1",
            "fc00::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
