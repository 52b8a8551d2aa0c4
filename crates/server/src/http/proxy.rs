//! The server as the world reaches it: the public URL every handed-out link uses, the proxies in front
//! of it, and the caller's address as far as those proxies can be believed.
//!
//! `--public-url https://pay.example.com` is what `h5_url`, `code_url` pages, collection codes and their
//! QR images, cashier links and bill `download_url`s are built on (without it: `http://` + the bound
//! address, fine on a laptop, wrong behind anything). `X-Forwarded-For` is believed only when the
//! connection comes from a `--trusted-proxy` address; `X-Forwarded-Proto` and `X-Forwarded-Host` are
//! never used to build URLs (the public URL says where the server is), so a caller cannot make the
//! server hand out links to another host.

use crate::App;
use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// Address blocks separated by commas (`--trusted-proxy`, `--notify-allow`).
pub fn parse_cidrs(s: &str) -> Result<Vec<Cidr>, String> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(Cidr::parse).collect()
}

/// An address block of the operator's allowlist (`10.1.0.0/16`, `fd00::/8`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let net: IpAddr = a.parse().map_err(|_| format!("{s:?} is not an address block such as 10.0.0.0/8"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, unmap(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => self.prefix == 0 || (u32::from(n) ^ u32::from(a)) >> (32 - self.prefix as u32) == 0,
            (IpAddr::V6(n), IpAddr::V6(a)) => self.prefix == 0 || (u128::from(n) ^ u128::from(a)) >> (128 - self.prefix as u32) == 0,
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub(crate) fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}


/// Checks `--public-url`: absolute `http` or `https`, a host, no query, fragment or credentials.
/// Returned without a trailing slash, ready to have paths appended.
pub fn parse_public_url(s: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("--public-url {s:?}: {why}"));
    let rest = match s.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => return bad("must be an absolute http:// or https:// URL"),
    };
    if s.contains(['?', '#']) {
        return bad("must not have a query or a fragment");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii()) {
        return bad("must be ASCII without spaces");
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return bad("must name a host (and no user or password)");
    }
    let port = match host.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((a, port)) if a.parse::<std::net::Ipv6Addr>().is_ok() => port.strip_prefix(':').map(Some).unwrap_or(if port.is_empty() { None } else { Some("x") }),
            _ => return bad("has a malformed IPv6 host"),
        },
        None => host.split_once(':').map(|(_, p)| p),
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return bad("has a port that is not a number");
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// The caller's address: the connection's peer, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right: each
/// proxy appends what it saw, and only the entries our own proxies appended can be believed).
/// What rate limits and the sandbox's loopback rule key on. One place, so every helper agrees.
pub fn client_addr(app: &App, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    client_addr_with(&app.config.trusted_proxies, peer, headers)
}

pub fn client_addr_with(trusted: &[Cidr], peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let mut addr = unmap(peer.ip());
    if !trusted.iter().any(|c| c.contains(addr)) {
        return addr;
    }
    let hops: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip())) {
            Ok(ip) => {
                addr = unmap(ip);
                if !trusted.iter().any(|c| c.contains(addr)) {
                    return addr;
                }
            }
            // Garbage from beyond our proxies: the last address a trusted proxy vouched for stands.
            Err(_) => return addr,
        }
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()) && !one.contains("127.0.0.2".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/33").unwrap();
        assert!(v6.contains("2001:db8:7fff::1".parse().unwrap()) && !v6.contains("2001:db8:8000::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err() && Cidr::parse("x").is_err());
    }

    #[test]
    fn public_urls() {
        assert_eq!(parse_public_url("https://pay.example.com/").unwrap(), "https://pay.example.com");
        assert_eq!(parse_public_url("http://10.0.0.1:8080/pay").unwrap(), "http://10.0.0.1:8080/pay");
        assert!(parse_public_url("https://[::1]:8443").is_ok());
        for bad in ["pay.example.com", "ftp://x", "https://", "https://x/?a=1", "https://x/#f", "https://u@x", "https://x:abc", "https://x y"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = parse_cidrs("10.0.0.0/8").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7".parse().unwrap());
        let proxy: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.1:4000".parse().unwrap();
        assert_eq!(client_addr_with(&trusted, proxy, &h), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_addr_with(&trusted, stranger, &h), "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(client_addr_with(&[], proxy, &h), "10.0.0.2".parse::<IpAddr>().unwrap());
        h.insert("x-forwarded-for", "junk".parse().unwrap());
        assert_eq!(client_addr_with(&trusted, proxy, &h), "10.0.0.2".parse::<IpAddr>().unwrap());
    }
}
