//! A small blocking v3 client: signs requests as an SDK does and checks the platform's signature on
//! every answer. For saoma's CLI, tests and benchmarks (HTTP/1.1 over plain TCP or TLS), not for
//! merchants, who have their SDKs; and the plain HTTP/1.1 client the notification worker posts with
//! (`KeepAlive`).

use crate::auth::{request_message, response_message, Authorization};
use crate::keys::{PrivateKey, PublicKey};
use std::io::{BufRead, BufReader, Read, Write};
use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    let (mut conn, host) = connect(base, timeout)?;
    let (response, _) = exchange(&mut conn, &host, method, path, headers, body, false)?;
    Ok(response)
}

/// A connection, plain or TLS, read through a buffer that stays with it between requests.
type Conn = BufReader<Box<dyn Stream>>;

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// Opens a connection to `base`; also returns the `Host` header's value.
fn connect(base: &str, timeout: Duration) -> std::io::Result<(Conn, String)> {
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
    let stream: Box<dyn Stream> = if tls {
        let connector = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).map_err(std::io::Error::other)?.build();
        let name = host.split(':').next().unwrap_or(host);
        Box::new(connector.connect(name, tcp).map_err(|e| std::io::Error::other(e.to_string()))?)
    } else {
        Box::new(tcp)
    };
    Ok((BufReader::new(stream), host.to_string()))
}

/// Connections kept open between requests (HTTP/1.1 keep-alive), per base URL: for a sender that posts
/// to the same few endpoints again and again, such as the notification worker, where a TCP (and TLS)
/// handshake per request would cost both sides more than the request itself.
#[derive(Default)]
pub struct KeepAlive {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

/// A kept connection, its `Host`, and since when it is idle.
type Idle = (Conn, String, Instant);

/// A kept connection idle longer than this is closed rather than used (servers close theirs after
/// 5 to 75 seconds; a request on a connection the server is closing would have to be sent again).
const KEEP_IDLE: Duration = Duration::from_secs(4);
/// Idle connections kept per base URL at most.
const KEEP_PER_BASE: usize = 32;

impl KeepAlive {
    /// One request on a kept connection to `base` if there is one, else on a new one, which is kept
    /// afterwards if the answer allows. A kept connection that fails other than by timing out (the
    /// server closed it while it was idle) is dropped and the request sent once more on a new one: the
    /// caller must be able to take a request delivered twice, as notifications are (at least once). A
    /// kept connection keeps the timeout it was opened with.
    pub fn request(&self, base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str, timeout: Duration) -> std::io::Result<HttpResponse> {
        if let Some((mut conn, host)) = self.take(base) {
            match exchange(&mut conn, &host, method, path, headers, body, true) {
                Ok((response, reusable)) => {
                    if reusable {
                        self.put(base, conn, host);
                    }
                    return Ok(response);
                }
                // A slow server is not a closed connection: sending again would only wait again.
                Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => return Err(e),
                Err(_) => {}
            }
        }
        let (mut conn, host) = connect(base, timeout)?;
        let (response, reusable) = exchange(&mut conn, &host, method, path, headers, body, true)?;
        if reusable {
            self.put(base, conn, host);
        }
        Ok(response)
    }

    fn take(&self, base: &str) -> Option<(Conn, String)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(base)?;
        while let Some((conn, host, since)) = list.pop() {
            if since.elapsed() < KEEP_IDLE {
                return Some((conn, host));
            }
        }
        None
    }

    fn put(&self, base: &str, conn: Conn, host: String) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(base.to_string()).or_default();
        list.retain(|(_, _, since)| since.elapsed() < KEEP_IDLE);
        if list.len() < KEEP_PER_BASE {
            list.push((conn, host, Instant::now()));
        }
    }
}

/// Sends one request and reads its answer; also says whether the connection can carry another (asked
/// for with `keep_alive`, and the answer's length known and not followed by a close).
fn exchange(r: &mut Conn, host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str, keep_alive: bool) -> std::io::Result<(HttpResponse, bool)> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    r.get_mut().write_all(req.as_bytes())?;
    r.get_mut().flush()?;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before an answer"));
    }
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    let mut length = None;
    let mut chunked = false;
    let mut close = line.starts_with("HTTP/1.0");
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if k.eq_ignore_ascii_case("connection") {
                close |= v.eq_ignore_ascii_case("close");
            }
            headers.push((k.to_string(), v.to_string()));
        }
    }
    let mut body = Vec::new();
    let no_body = method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    let delimited = if no_body {
        true
    } else if chunked {
        read_chunked(r, &mut body)?;
        true
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
        true
    } else {
        r.read_to_end(&mut body)?;
        false
    };
    let reusable = keep_alive && delimited && !close;
    Ok((HttpResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned(), bytes: body }, reusable))
}

/// A chunked body (RFC 9112 §7.1), trailers skipped.
fn read_chunked(r: &mut Conn, body: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
        if n == 0 {
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let at = body.len();
        body.resize(at + n, 0);
        r.read_exact(&mut body[at..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Reads one request (head and Content-Length body) from `r`; false at EOF.
    fn read_request(r: &mut BufReader<TcpStream>) -> bool {
        let (mut line, mut length) = (String::new(), 0);
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return false;
            }
            if line.trim_end().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        r.read_exact(&mut body).unwrap();
        true
    }

    #[test]
    fn keep_alive_reuses_connections_reads_chunked_answers_and_resends_after_a_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let n = a.fetch_add(1, Ordering::SeqCst);
                let mut r = BufReader::new(stream.unwrap());
                if n == 0 {
                    // The first connection: a sized answer, a chunked one, then the server closes it
                    // while the client keeps it idle.
                    assert!(read_request(&mut r));
                    r.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
                    assert!(read_request(&mut r));
                    r.get_mut().write_all(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap();
                } else {
                    while read_request(&mut r) {
                        r.get_mut().write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
                    }
                }
            }
        });
        let pool = KeepAlive::default();
        let t = Duration::from_secs(5);
        let first = pool.request(&base, "POST", "/n", &[], "{}", t).unwrap();
        assert_eq!((first.status, first.body.as_str()), (200, "ok"));
        let second = pool.request(&base, "POST", "/n", &[], "{}", t).unwrap();
        assert_eq!((second.status, second.body.as_str()), (201, "abcde"));
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the second request went on the kept connection");
        // The server closed the kept connection: the request is sent again on a new one.
        let third = pool.request(&base, "POST", "/n", &[], "{}", t).unwrap();
        assert_eq!(third.status, 204);
        let fourth = pool.request(&base, "POST", "/n", &[], "{}", t).unwrap();
        assert_eq!(fourth.status, 204);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
