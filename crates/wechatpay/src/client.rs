//! A small blocking v3 client: signs requests as an SDK does and checks the platform's signature on
//! every answer. For saoma's CLI, tests and benchmarks (HTTP/1.1 over a plain TCP connection to a
//! server it trusts to answer with `Content-Length`), not for merchants, who have their SDKs.

use crate::auth::{request_message, response_message, Authorization};
use crate::keys::{PrivateKey, PublicKey};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as it came (a bill may be gzip, an image is not text).
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One HTTP/1.1 request on a fresh connection. `base` is `http://host:port` or `https://host[:port]`.
pub fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<HttpResponse> {
    http_with_timeout(base, method, path, headers, body, Duration::from_secs(60))
}

/// As [`http`], giving up after `timeout` (connect, and each read or write).
pub fn http_with_timeout(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str, timeout: Duration) -> std::io::Result<HttpResponse> {
    let base = base.trim().trim_end_matches('/');
    let (tls, host) = match base.strip_prefix("https://") {
        Some(h) => (true, h),
        None => (false, base.trim_start_matches("http://")),
    };
    let addr = if host.contains(':') { host.to_string() } else { format!("{host}:{}", if tls { 443 } else { 80 }) };
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)?.next().ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let tcp = TcpStream::connect_timeout(&sock, timeout)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    if tls {
        let connector = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).map_err(std::io::Error::other)?.build();
        let name = host.split(':').next().unwrap_or(host);
        let s = connector.connect(name, tcp).map_err(|e| std::io::Error::other(e.to_string()))?;
        exchange(s, host, method, path, headers, body)
    } else {
        exchange(tcp, host, method, path, headers, body)
    }
}

fn exchange<S: Read + Write>(mut s: S, host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<HttpResponse> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    let mut length = None;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(HttpResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned(), bytes: body })
}

/// Signs as merchant `mchid` with `key` (whose serial is `serial_no`) and verifies answers with the
/// platform's public key.
pub struct V3Client {
    pub base: String,
    pub mchid: String,
    pub serial_no: String,
    pub key: PrivateKey,
    pub platform: PublicKey,
}

impl V3Client {
    /// The `Authorization` header for one request (exposed so tests can tamper with it).
    pub fn authorization(&self, method: &str, path: &str, body: &str, timestamp: i64, nonce: &str) -> String {
        let signature = self.key.sign(request_message(method, path, timestamp, nonce, body).as_bytes()).unwrap_or_default();
        Authorization { mchid: self.mchid.clone(), nonce_str: nonce.to_string(), signature, timestamp, serial_no: self.serial_no.clone() }.to_header()
    }

    /// Sends a signed request; fails if the answer's signature does not verify.
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<HttpResponse> {
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let nonce = crate::aead::random_string(32).map_err(|e| std::io::Error::other(e.to_string()))?;
        let auth = self.authorization(method, path, body, ts, &nonce);
        let r = http(&self.base, method, path, &[("Authorization", &auth), ("Content-Type", "application/json"), ("Accept", "application/json")], body)?;
        if !self.verify(&r) {
            return Err(std::io::Error::other(format!("the answer's signature does not verify: {} {}", r.status, r.body)));
        }
        Ok(r)
    }

    pub fn verify(&self, r: &HttpResponse) -> bool {
        let (Some(ts), Some(nonce), Some(sig)) = (r.header("Wechatpay-Timestamp"), r.header("Wechatpay-Nonce"), r.header("Wechatpay-Signature")) else {
            return false;
        };
        let Ok(ts) = ts.parse::<i64>() else { return false };
        self.platform.verify(response_message(ts, nonce, &r.body).as_bytes(), sig)
    }
}
