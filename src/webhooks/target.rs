//! Where a webhook may point: an `http(s)` URL, and — in production, unless
//! `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` — only public addresses, so that an admin
//! account (or whoever took it over) cannot make the server probe its own network.
//!
//! The addresses are checked when a webhook is registered and again at every delivery,
//! by the resolver the delivery client connects through ([`PublicOnly`]): a name that
//! resolved to a public address at registration and to a private one later is refused,
//! and the check and the connection use the same lookup (no window for DNS rebinding).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub(crate) const MAX_URL_CHARS: usize = 2000;

/// Whether private targets are refused (production without the opt-out).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetPolicy {
    pub allow_private: bool,
}

/// A parsed webhook URL, or why it is not one.
pub(crate) fn parse_url(text: &str) -> Result<Url, String> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(format!(
            "the URL must be at most {MAX_URL_CHARS} characters"
        ));
    }
    let url = Url::parse(text.trim()).map_err(|_| "not a URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the URL must be http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not hold credentials".to_owned());
    }
    // What is stored is the normalised form, which percent-encoding may lengthen.
    if url.as_str().len() > MAX_URL_CHARS {
        return Err(format!(
            "the URL must be at most {MAX_URL_CHARS} characters"
        ));
    }
    Ok(url)
}

impl TargetPolicy {
    /// Resolves `url`'s host and checks every address it has.
    pub(crate) async fn check(&self, url: &Url) -> Result<(), String> {
        if self.allow_private {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = resolve(host, port).await?;
        match addrs.iter().find(|a| !is_public(a.ip())) {
            // Which address is not said: registering would otherwise tell an admin
            // account what internal names resolve to.
            Some(private) => {
                tracing::info!(host, address = %private.ip(), "webhook target refused: not a public address");
                Err(format!("{host} does not resolve to public addresses only"))
            }
            None => Ok(()),
        }
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    // A bracketed IPv6 literal, as URLs write it.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addrs)
}

/// A public unicast address: not loopback, private, link-local, multicast, unspecified,
/// shared (CGNAT), documentation or otherwise reserved.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xff00) == 0 // ::/8: IPv4-compatible and other reserved forms
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64
        }
    }
}

/// The delivery client's resolver: the system's, keeping only public addresses (none
/// left: the connection fails, and the attempt with it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs = resolve(name.as_str(), 0).await?;
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The resolver for `policy`'s delivery client, when it needs one of its own.
pub(crate) fn resolver(policy: TargetPolicy) -> Option<Arc<PublicOnly>> {
    (!policy.allow_private).then_some(Arc::new(PublicOnly))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "224.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_http_with_a_host() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("ftp://example.com/").is_err());
        assert!(parse_url("not a url").is_err());
        assert!(parse_url("https://user:pw@example.com/").is_err());
        assert!(parse_url(&format!("https://e.com/{}", "a".repeat(2000))).is_err());
    }
}
