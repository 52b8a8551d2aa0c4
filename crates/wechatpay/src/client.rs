//! A small blocking v3 client: signs requests as an SDK does and checks the platform's signature on
//! every answer. For saoma's CLI, tests and benchmarks (HTTP/1.1 over plain TCP or TLS), not for
//! merchants, who have their SDKs; and the plain HTTP/1.1 client the notification worker posts with
//! (`KeepAlive`).

use crate::auth::{request_message, response_message, Authorization};
use crate::keys::{PrivateKey, PublicKey};
use std::io::{BufRead, BufReader, Read, Write};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
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
    let (response, _) = exchange(&mut conn, &host, method, path, headers, body, false, usize::MAX)?;
    Ok(response)
}

/// A connection, plain or TLS, read through a buffer that stays with it between requests.
type Conn = BufReader<Box<dyn Stream>>;

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A TCP stream that gives up at a deadline the owner moves per request: each read or write waits at
/// most what is left of it, so that a peer answering a byte at a time cannot hold a request longer.
#[derive(Debug)]
struct Timed {
    tcp: TcpStream,
    deadline: Deadline,
}

/// The deadline of the request a connection is carrying (none: each operation has the socket timeout).
type Deadline = std::sync::Arc<Mutex<Option<Instant>>>;

impl Timed {
    fn arm(&self) -> std::io::Result<()> {
        let deadline = *self.deadline.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline passed"));
            }
            self.tcp.set_read_timeout(Some(left))?;
            self.tcp.set_write_timeout(Some(left))?;
        }
        Ok(())
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.arm()?;
        self.tcp.read(buf)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.arm()?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// Opens a connection to `base`; also returns the `Host` header's value.
fn connect(base: &str, timeout: Duration) -> std::io::Result<(Conn, String)> {
    let base = base.trim().trim_end_matches('/');
    let (tls, host) = match base.strip_prefix("https://") {
        Some(h) => (true, h),
        None => (false, base.trim_start_matches("http://")),
    };
    let addr = if host.contains(':') { host.to_string() } else { format!("{host}:{}", if tls { 443 } else { 80 }) };
    let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)?.next().ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))?;
    let name = host.split(':').next().unwrap_or(host);
    let conn = open(sock, tls, name, timeout, Deadline::default())?;
    Ok((conn, host.to_string()))
}

/// A TCP connection to `sock` (TLS with `server_name` checked against the certificate when `tls`).
fn open(sock: SocketAddr, tls: bool, server_name: &str, timeout: Duration, deadline: Deadline) -> std::io::Result<Conn> {
    let tcp = TcpStream::connect_timeout(&sock, timeout)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let timed = Timed { tcp, deadline };
    let stream: Box<dyn Stream> = if tls {
        let connector = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).map_err(std::io::Error::other)?.build();
        Box::new(connector.connect(server_name, timed).map_err(|e| std::io::Error::other(e.to_string()))?)
    } else {
        Box::new(timed)
    };
    Ok(BufReader::new(stream))
}

/// Where a [`KeepAlive`] request goes: an address already resolved (and checked) by the caller, which
/// the client connects to without resolving anything, and the name the request and TLS are for.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    pub tls: bool,
    /// The `Host` header: `host[:port]`.
    pub authority: &'a str,
    /// The name TLS verifies the certificate against (the host without the port).
    pub server_name: &'a str,
    pub addr: SocketAddr,
}

/// Connections kept open between requests (HTTP/1.1 keep-alive), per endpoint: for a sender that posts
/// to the same few endpoints again and again, such as the notification worker, where a TCP (and TLS)
/// handshake per request would cost both sides more than the request itself.
#[derive(Default)]
pub struct KeepAlive {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

/// A kept connection, its deadline handle, and since when it is idle.
type Idle = (Conn, Deadline, Instant);

/// A kept connection idle longer than this is closed rather than used (servers close theirs after
/// 5 to 75 seconds; a request on a connection the server is closing would have to be sent again).
const KEEP_IDLE: Duration = Duration::from_secs(4);
/// Idle connections kept per endpoint at most.
const KEEP_PER_BASE: usize = 32;
/// The longest answer a [`KeepAlive`] request reads (a notification's answer is a few bytes; a peer
/// must not be able to make the sender hold gigabytes).
pub const MAX_ANSWER: usize = 64 * 1024;

impl KeepAlive {
    /// One request to `to`, finished by `deadline` (connecting, sending and reading the answer all
    /// included), on a kept connection if there is one, else on a new one, which is kept afterwards if
    /// the answer allows. A kept connection that fails other than by timing out (the server closed it
    /// while it was idle) is dropped and the request sent once more on a new one: the caller must be
    /// able to take a request delivered twice, as notifications are (at least once).
    pub fn request(&self, to: &Endpoint<'_>, method: &str, path: &str, headers: &[(&str, &str)], body: &str, deadline: Instant) -> std::io::Result<HttpResponse> {
        let key = format!("{}|{}|{}", if to.tls { "https" } else { "http" }, to.authority, to.addr);
        let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline passed");
        if let Some((mut conn, handle)) = self.take(&key) {
            *handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
            match exchange(&mut conn, to.authority, method, path, headers, body, true, MAX_ANSWER) {
                Ok((response, reusable)) => {
                    if reusable {
                        self.put(&key, conn, handle);
                    }
                    return Ok(response);
                }
                // A slow server is not a closed connection: sending again would only wait again.
                Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => return Err(e),
                Err(_) => {}
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        let handle = Deadline::new(Mutex::new(Some(deadline)));
        let mut conn = open(to.addr, to.tls, to.server_name, left, handle.clone())?;
        let (response, reusable) = exchange(&mut conn, to.authority, method, path, headers, body, true, MAX_ANSWER)?;
        if reusable {
            self.put(&key, conn, handle);
        }
        Ok(response)
    }

    fn take(&self, key: &str) -> Option<(Conn, Deadline)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some((conn, handle, since)) = list.pop() {
            if since.elapsed() < KEEP_IDLE {
                return Some((conn, handle));
            }
        }
        None
    }

    fn put(&self, key: &str, conn: Conn, handle: Deadline) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Idle lists of endpoints no longer posted to are dropped as they age.
        idle.retain(|_, list| {
            list.retain(|(_, _, since)| since.elapsed() < KEEP_IDLE);
            !list.is_empty()
        });
        let list = idle.entry(key.to_string()).or_default();
        if list.len() < KEEP_PER_BASE {
            list.push((conn, handle, Instant::now()));
        }
    }
}

/// A line of the answer's head, at most 8 KiB.
fn read_head_line(r: &mut Conn, line: &mut String) -> std::io::Result<usize> {
    let n = r.by_ref().take(8 * 1024).read_line(line)?;
    if n > 0 && !line.ends_with('\n') {
        return Err(std::io::Error::other("answer head line too long"));
    }
    Ok(n)
}

fn too_long() -> std::io::Error {
    std::io::Error::other("answer too long")
}

/// Sends one request and reads its answer (a body of at most `max_body` bytes); also says whether the
/// connection can carry another (asked for with `keep_alive`, and the answer's length known and not
/// followed by a close).
#[allow(clippy::too_many_arguments)]
fn exchange(r: &mut Conn, host: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str, keep_alive: bool, max_body: usize) -> std::io::Result<(HttpResponse, bool)> {
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
    if read_head_line(r, &mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before an answer"));
    }
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    let mut length = None;
    let mut chunked = false;
    let mut close = line.starts_with("HTTP/1.0");
    loop {
        line.clear();
        read_head_line(r, &mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if headers.len() >= 100 {
            return Err(std::io::Error::other("answer has too many headers"));
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
        read_chunked(r, &mut body, max_body)?;
        true
    } else if let Some(n) = length {
        if n > max_body {
            return Err(too_long());
        }
        body.resize(n, 0);
        r.read_exact(&mut body)?;
        true
    } else {
        r.by_ref().take(max_body.saturating_add(1) as u64).read_to_end(&mut body)?;
        if body.len() > max_body {
            return Err(too_long());
        }
        false
    };
    let reusable = keep_alive && delimited && !close;
    Ok((HttpResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned(), bytes: body }, reusable))
}

/// A chunked body (RFC 9112 §7.1), trailers skipped.
fn read_chunked(r: &mut Conn, body: &mut Vec<u8>, max_body: usize) -> std::io::Result<()> {
    let mut line = String::new();
    loop {
        line.clear();
        read_head_line(r, &mut line)?;
        let size = line.trim_end().split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
        if n == 0 {
            loop {
                line.clear();
                if read_head_line(r, &mut line)? == 0 || line.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let at = body.len();
        if n > max_body - at {
            return Err(too_long());
        }
        body.resize(at + n, 0);
        r.read_exact(&mut body[at..])?;
        line.clear();
        read_head_line(r, &mut line)?;
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
        let authority = base.trim_start_matches("http://").to_string();
        let to = Endpoint { tls: false, authority: &authority, server_name: "127.0.0.1", addr: authority.parse().unwrap() };
        let t = || Instant::now() + Duration::from_secs(5);
        let first = pool.request(&to, "POST", "/n", &[], "{}", t()).unwrap();
        assert_eq!((first.status, first.body.as_str()), (200, "ok"));
        let second = pool.request(&to, "POST", "/n", &[], "{}", t()).unwrap();
        assert_eq!((second.status, second.body.as_str()), (201, "abcde"));
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the second request went on the kept connection");
        // The server closed the kept connection: the request is sent again on a new one.
        let third = pool.request(&to, "POST", "/n", &[], "{}", t()).unwrap();
        assert_eq!(third.status, 204);
        let fourth = pool.request(&to, "POST", "/n", &[], "{}", t()).unwrap();
        assert_eq!(fourth.status, 204);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    /// A peer that answers a byte at a time, or never, or endlessly, holds a request no longer than its
    /// deadline and makes the sender keep no more than `MAX_ANSWER`.
    #[test]
    fn deadlines_and_answer_limits_hold_against_hostile_peers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let mut s = stream.unwrap();
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    read_request(&mut r);
                    match n {
                        // A byte every 100 ms: each read succeeds, the whole never ends.
                        0 => {
                            for b in b"HTTP/1.1 200 OK\r\nX: ".iter().chain(std::iter::repeat(&b'a')) {
                                if s.write_all(&[*b]).is_err() {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                        // A huge declared body, and an endless header line.
                        1 => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n");
                        }
                        _ => {
                            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX: ");
                            let chunk = [b'a'; 4096];
                            while s.write_all(&chunk).is_ok() {}
                        }
                    }
                });
            }
        });
        let pool = KeepAlive::default();
        let authority = addr.to_string();
        let to = Endpoint { tls: false, authority: &authority, server_name: "127.0.0.1", addr };
        let started = Instant::now();
        let e = pool.request(&to, "POST", "/n", &[], "{}", Instant::now() + Duration::from_millis(700)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "held {:?}: {e}", started.elapsed());
        assert!(pool.request(&to, "POST", "/n", &[], "{}", Instant::now() + Duration::from_secs(5)).unwrap_err().to_string().contains("too long"));
        assert!(pool.request(&to, "POST", "/n", &[], "{}", Instant::now() + Duration::from_secs(5)).unwrap_err().to_string().contains("too long"));
    }
}
