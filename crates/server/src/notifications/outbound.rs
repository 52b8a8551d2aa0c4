//! Where the server may send requests of its own (merchants' `notify_url`s): the URL read strictly, the
//! address classified, the operator's policy applied. Pure except for the resolver, which is passed in
//! (so that a name's resolution can be checked, and tested, without DNS).
//!
//! Why: a notification is a POST the server makes to an address a merchant chose. Without a check, any
//! merchant could make the platform reach what only the platform can reach — loopback services, the
//! private network, a cloud's metadata endpoint (`169.254.169.254`). A URL is refused when given if its
//! host is, or resolves to, such an address; and again at delivery, on the one resolution the connection
//! then uses, because a name's answer can change in between (DNS rebinding).

use crate::http::proxy::{unmap, Cidr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A notify_url as the server reads it: only `http` and `https`, a host without userinfo, the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: Host,
    pub port: u16,
    /// `host[:port]` as it goes in the `Host` header (a name lower-cased, an address normalized).
    pub authority: String,
    /// From the first `/` (or `/` when there is none), query included, fragment dropped.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
}

/// Reads an http(s) URL the way browsers and resolvers would agree on, refusing what they might not:
/// userinfo (`user@host`), backslashes, whitespace and control characters, percent-encoded or non-ASCII
/// hosts. IPv4 addresses in any spelling a resolver accepts (`2130706433`, `0x7f.1`, `0177.0.0.1`,
/// `127.1`) are read as the address they are.
pub fn parse_url(url: &str) -> Result<Target, String> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') || !url.is_ascii() {
        return Err("must not contain spaces, control characters, backslashes or non-ASCII characters".into());
    }
    let lower = url.to_ascii_lowercase();
    let (tls, rest) = if lower.starts_with("https://") {
        (true, &url[8..])
    } else if lower.starts_with("http://") {
        (false, &url[7..])
    } else {
        return Err("must be an http:// or https:// URL".into());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err("must not carry a user name or password (`user@host`)".into());
    }
    let (host_text, port_text) = if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']').ok_or("has an unclosed `[` in its host")?;
        let after = &inner[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("has characters after its IPv6 address".into()),
        };
        (&authority[..close + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port_text {
        None | Some("") => if tls { 443 } else { 80 },
        Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or("has a bad port")?,
        Some(_) => return Err("has a bad port".into()),
    };
    let host = parse_host(host_text)?;
    let shown = match &host {
        Host::Ip(IpAddr::V6(a)) => format!("[{a}]"),
        Host::Ip(IpAddr::V4(a)) => a.to_string(),
        Host::Name(n) => n.clone(),
    };
    let default_port = port == if tls { 443 } else { 80 };
    let authority = if default_port { shown } else { format!("{shown}:{port}") };
    let path = tail.split('#').next().unwrap_or("");
    let path = if path.is_empty() { "/".to_string() } else if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    Ok(Target { tls, host, port, authority, path })
}

fn parse_host(h: &str) -> Result<Host, String> {
    if h.is_empty() {
        return Err("has no host".into());
    }
    if let Some(inner) = h.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().map(|a| Host::Ip(IpAddr::V6(a))).map_err(|_| "has a bad IPv6 address".into());
    }
    let h = h.to_ascii_lowercase();
    if let Some(v4) = parse_ipv4_any(&h) {
        return v4.map(|a| Host::Ip(IpAddr::V4(a)));
    }
    let name = h.strip_suffix('.').unwrap_or(&h);
    let labels_ok = name.split('.').all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if name.is_empty() || name.len() > 253 || !labels_ok {
        return Err("has a bad host name (letters, digits, `-` and dots; an internationalized name in its xn-- form)".into());
    }
    Ok(Host::Name(name.to_string()))
}

/// A host that is an IPv4 address in some spelling: `None` when it is a name, `Some(Err)` when it
/// looks numeric but is no address. As the WHATWG URL standard and `inet_aton` read it: the last label
/// numeric (decimal, `0x` hex, or leading-`0` octal) makes the whole host an address of 1 to 4 parts,
/// the last part filling the remaining bytes.
pub fn parse_ipv4_any(host: &str) -> Option<Result<Ipv4Addr, String>> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = |s: &str| !s.is_empty() && (s.bytes().all(|b| b.is_ascii_digit()) || ((s.starts_with("0x") || s.starts_with("0X")) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())));
    if !numeric(last) {
        return None;
    }
    let bad = || Some(Err("has a malformed IPv4 address".to_string()));
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return bad();
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if hex.is_empty() { Some(0) } else { u64::from_str_radix(hex, 16).ok() }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()
        } else if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u64>().ok()
        } else {
            None
        };
        match v {
            Some(v) => values.push(v),
            None => return bad(),
        }
    }
    let (last, first) = values.split_last()?;
    if first.iter().any(|&v| v > 255) || *last >= 1u64 << (8 * (5 - values.len())) {
        return bad();
    }
    let mut n = *last;
    for (i, &v) in first.iter().enumerate() {
        n |= v << (8 * (3 - i));
    }
    Some(Ok(Ipv4Addr::from(n as u32)))
}

/// Why an address is not public, or `None` if it is. IPv4-mapped and IPv4-compatible IPv6 addresses are
/// judged as the IPv4 address inside.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => v4_non_public(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return v4_non_public(v4);
            }
            let s = a.segments();
            if a.is_unspecified() {
                Some("unspecified (::)")
            } else if a.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local (fe80::/10)")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("unique-local (fc00::/7)")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[0] & 0xffc0 == 0xfec0 {
                Some("site-local (fec0::/10)")
            } else if s[..6] == [0; 6] {
                // ::a.b.c.d (IPv4-compatible, deprecated) and the rest of ::/96.
                Some("an IPv4-compatible address (::/96)")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 (64:ff9b::/96 and /48) reaches IPv4 addresses through a translator.
                Some("a NAT64 address (64:ff9b::/96)")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("documentation (2001:db8::/32)")
            } else if s[0] == 0x2002 {
                Some("a 6to4 address (2002::/16)")
            } else if s[0] == 0x2001 && s[1] == 0 {
                Some("a Teredo address (2001::/32)")
            } else {
                None
            }
        }
    }
}

fn v4_non_public(a: Ipv4Addr) -> Option<&'static str> {
    let o = a.octets();
    if a.is_unspecified() || o[0] == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if a.is_loopback() {
        Some("loopback (127.0.0.0/8)")
    } else if o[0] == 10 || (o[0] == 172 && o[1] & 0xf0 == 16) || (o[0] == 192 && o[1] == 168) {
        Some("private (10/8, 172.16/12, 192.168/16)")
    } else if o[0] == 169 && o[1] == 254 {
        Some("link-local (169.254.0.0/16)")
    } else if o[0] == 100 && o[1] & 0xc0 == 64 {
        Some("shared address space (100.64.0.0/10, CGNAT)")
    } else if o[0] >= 224 && o[0] < 240 {
        Some("multicast (224.0.0.0/4)")
    } else if o[0] >= 240 {
        Some("reserved (240.0.0.0/4, broadcast)")
    } else if o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2) {
        Some("reserved (192.0.0.0/24, 192.0.2.0/24)")
    } else if o[0] == 198 && (o[1] & 0xfe == 18 || (o[1] == 51 && o[2] == 100)) {
        Some("reserved (198.18.0.0/15, 198.51.100.0/24)")
    } else if o[0] == 203 && o[1] == 0 && o[2] == 113 {
        Some("documentation (203.0.113.0/24)")
    } else {
        None
    }
}

/// The operator's rules for outbound addresses.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Sandbox mode: any address (tests deliver to receivers on loopback).
    pub sandbox: bool,
    /// Blocks the operator allows although they are not public (`--notify-allow`).
    pub allow: Vec<Cidr>,
    /// The server's own listening address: never a notification's target, sandbox or not.
    pub own: Option<SocketAddr>,
    /// The host and port of the server's public URL (`--public-url`): never a target either, whatever
    /// it resolves to (behind a proxy the listening address is not what the world calls it).
    pub own_url: Option<(Host, u16)>,
}

impl Policy {
    /// Whether the server may connect to `addr`; the reason when not.
    pub fn check(&self, addr: SocketAddr) -> Result<(), String> {
        let ip = unmap(addr.ip());
        if let Some(own) = self.own {
            let own_ip = unmap(own.ip());
            // 0.0.0.0 and :: connect to this machine too, whatever the server is bound to.
            let same_host = ip == own_ip || ip.is_unspecified() || (own_ip.is_unspecified() && ip.is_loopback());
            if addr.port() == own.port() && same_host {
                return Err(format!("{addr} is this server's own address"));
            }
        }
        if self.sandbox || self.allow.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match non_public(addr.ip()) {
            Some(why) => Err(format!("{} is not a public address: {why}", addr.ip())),
            None => Ok(()),
        }
    }

    /// Refuses a target named as the server's public URL names it.
    pub fn check_authority(&self, target: &Target) -> Result<(), String> {
        match &self.own_url {
            Some((host, port)) if *host == target.host && *port == target.port => Err(format!("{} is this server's own public address", target.authority)),
            _ => Ok(()),
        }
    }

    /// The one address to connect to for `target`: its own if it is one, else the resolver's answers,
    /// every one of which must pass (a name that answers with one bad address is refused, whichever a
    /// connection would have picked). The caller connects to the address returned — it resolves no
    /// more.
    pub fn resolve(&self, target: &Target, resolver: impl FnOnce(&str, u16) -> std::io::Result<Vec<SocketAddr>>) -> Result<SocketAddr, String> {
        self.check_authority(target)?;
        let addrs = match &target.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
            Host::Name(n) => resolver(n, target.port).map_err(|e| format!("{n}: cannot resolve: {e}"))?,
        };
        if addrs.is_empty() {
            return Err(format!("{}: no address", target.authority));
        }
        for a in &addrs {
            self.check(*a).map_err(|e| format!("{}: {e}", target.authority))?;
        }
        Ok(addrs[0])
    }
}

/// The system resolver (getaddrinfo).
pub fn system_resolver(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    std::net::ToSocketAddrs::to_socket_addrs(&(name, port)).map(|a| a.collect())
}

/// Whether `host` is `domain` or one of its subdomains (both lower-case names).
pub fn host_within(host: &str, domain: &str) -> bool {
    host == domain || (host.len() > domain.len() && host.ends_with(domain) && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Result<Host, String> {
        parse_url(url).map(|t| t.host)
    }

    fn v4(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    #[test]
    fn odd_ipv4_spellings_are_the_addresses_they_spell() {
        for (url, ip) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://127.0.1/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://10.0.0.1./", "10.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("HTTP://169.254.169.254/latest", "169.254.169.254"),
            ("http://8.8.8.8/", "8.8.8.8"),
        ] {
            assert_eq!(host(url), Ok(v4(ip)), "{url}");
        }
        for bad in ["http://256.0.0.1/", "http://1.2.3.4.5/", "http://0x1g.1/", "http://1.2.3.08/", "http://4294967296/", "http://1.2.65536/"] {
            assert!(host(bad).is_err(), "{bad}");
        }
        // A name whose last label is not numeric is a name.
        assert_eq!(host("https://10.0.0.1.nip.io/n"), Ok(Host::Name("10.0.0.1.nip.io".into())));
    }

    #[test]
    fn urls_are_read_strictly() {
        let t = parse_url("https://Shop.Example.com:8443/pay/notify?x=1#frag").unwrap();
        assert_eq!((t.tls, t.host, t.port, t.authority.as_str(), t.path.as_str()), (true, Host::Name("shop.example.com".into()), 8443, "shop.example.com:8443", "/pay/notify?x=1"));
        let t = parse_url("http://[::ffff:127.0.0.1]:81").unwrap();
        assert_eq!((t.host, t.port, t.path.as_str()), (Host::Ip("::ffff:127.0.0.1".parse().unwrap()), 81, "/"));
        assert_eq!(parse_url("http://localhost./").unwrap().host, Host::Name("localhost".into()));
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com@127.0.0.1/",
            "https://exa mple.com/",
            "https://example.com\\@evil.com/",
            "https://例子.com/",
            "https://exa%6dple.com/",
            "https:///path",
            "https://example.com:0/",
            "https://example.com:65536/",
            "https://example.com:8a/",
            "https://[::1/",
            "https://[::1]x/",
            "https://-bad.com/",
            "https://a..b/",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classification() {
        for ip in [
            "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "224.0.0.1",
            "239.255.255.250", "255.255.255.255", "0.0.0.0", "0.1.2.3", "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
            "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "2001::1", "192.0.2.1", "198.18.0.1", "203.0.113.5",
        ] {
            assert!(non_public(ip.parse().unwrap()).is_some(), "{ip} is not public");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "169.253.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "223.255.255.255"] {
            assert_eq!(non_public(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn policy_sandbox_allowlist_and_own_address() {
        let own: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let strict = Policy { sandbox: false, allow: vec![], own: Some(own), own_url: None };
        assert!(strict.check("127.0.0.1:9000".parse().unwrap()).is_err());
        assert!(strict.check("93.184.216.34:443".parse().unwrap()).is_ok());
        let allow = Policy { allow: crate::http::proxy::parse_cidrs("127.0.0.0/8, 10.1.0.0/16").unwrap(), ..strict.clone() };
        assert!(allow.check("127.0.0.1:9000".parse().unwrap()).is_ok());
        assert!(allow.check("[::ffff:127.0.0.2]:9000".parse().unwrap()).is_ok());
        assert!(allow.check("10.1.9.9:80".parse().unwrap()).is_ok());
        assert!(allow.check("10.2.0.1:80".parse().unwrap()).is_err());
        assert!(allow.check(own).unwrap_err().contains("own address"));
        let sandbox = Policy { sandbox: true, ..strict.clone() };
        assert!(sandbox.check("127.0.0.1:9000".parse().unwrap()).is_ok());
        assert!(sandbox.check(own).is_err());
        assert!(sandbox.check("0.0.0.0:8080".parse().unwrap()).is_err(), "0.0.0.0 is this machine");
        assert!(sandbox.check("[::ffff:0.0.0.0]:8080".parse().unwrap()).is_err());
        let any = Policy { sandbox: true, allow: vec![], own: Some("0.0.0.0:8080".parse().unwrap()), own_url: parse_url("https://pay.example.com/").ok().map(|t| (t.host, t.port)) };
        assert!(any.check("127.0.0.1:8080".parse().unwrap()).is_err());
        assert!(any.check("127.0.0.1:8081".parse().unwrap()).is_ok());
        // The public URL's host and port, whatever they resolve to; another port of that host is not it.
        let public = |_: &str, p: u16| Ok(vec![SocketAddr::new("93.184.216.34".parse().unwrap(), p)]);
        assert!(any.resolve(&parse_url("https://PAY.example.com./notify").unwrap(), public).unwrap_err().contains("own public address"));
        assert!(any.resolve(&parse_url("https://pay.example.com:8443/notify").unwrap(), public).is_ok());
        assert!(Cidr::parse("10.0.0.0/33").is_err() && Cidr::parse("nope").is_err());
        assert!(Cidr::parse("::/0").unwrap().contains("2001:db8::1".parse().unwrap()));
    }

    /// DNS rebinding: the name was public when the URL was given; at delivery it answers loopback (or one
    /// loopback address among public ones) and is refused on that answer, which is the one resolution.
    #[test]
    fn resolution_is_checked_on_every_answer() {
        let strict = Policy { sandbox: false, allow: vec![], own: None, own_url: None };
        let t = parse_url("https://rebind.example/notify").unwrap();
        let public = |_: &str, p: u16| Ok(vec![SocketAddr::new("93.184.216.34".parse().unwrap(), p)]);
        assert_eq!(strict.resolve(&t, public), Ok("93.184.216.34:443".parse().unwrap()));
        let loopback = |_: &str, p: u16| Ok(vec![SocketAddr::new("127.0.0.1".parse().unwrap(), p)]);
        assert!(strict.resolve(&t, loopback).unwrap_err().contains("loopback"));
        let mixed = |_: &str, p: u16| Ok(vec![SocketAddr::new("93.184.216.34".parse().unwrap(), p), SocketAddr::new("::1".parse().unwrap(), p)]);
        assert!(strict.resolve(&t, mixed).is_err());
        let none = |_: &str, _: u16| Ok(vec![]);
        assert!(strict.resolve(&t, none).is_err());
        let calls = std::cell::Cell::new(0);
        let counting = |_: &str, p: u16| {
            calls.set(calls.get() + 1);
            Ok(vec![SocketAddr::new("93.184.216.34".parse().unwrap(), p)])
        };
        strict.resolve(&t, counting).unwrap();
        assert_eq!(calls.get(), 1, "one resolution");
        // An address literal is not resolved at all.
        let never = |_: &str, _: u16| -> std::io::Result<Vec<SocketAddr>> { panic!("resolved an address") };
        assert!(strict.resolve(&parse_url("http://[::1]/").unwrap(), never).is_err());
    }

    #[test]
    fn domains_and_subdomains() {
        assert!(host_within("shop.example.com", "shop.example.com"));
        assert!(host_within("m.shop.example.com", "shop.example.com"));
        assert!(!host_within("shop.example.com.evil.com", "shop.example.com"));
        assert!(!host_within("evilshop.example.com", "shop.example.com"));
        assert!(!host_within("example.com", "shop.example.com"));
    }
}
