//! The API benchmark's own HTTP: a keep-alive HTTP/1.1 client on tokio (one connection per simulated
//! client, as an SDK's session keeps one), and the merchant's notification endpoint. Both run on the
//! benchmark's single-threaded runtime, so that the load generator never takes more than one core.

use saoma_wechatpay::aead::{ApiV3Key, Resource};
use saoma_wechatpay::auth::response_message;
use saoma_wechatpay::client::HttpResponse;
use saoma_wechatpay::keys::PublicKey;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One kept-alive connection to the server (reopened if the server closes it).
pub struct Conn {
    addr: String,
    io: Option<BufReader<TcpStream>>,
}

async fn connect(addr: &str) -> io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(BufReader::new(s))
}

impl Conn {
    /// `base` is `http://host:port`.
    pub async fn open(base: &str) -> io::Result<Conn> {
        let addr = base.trim().trim_start_matches("http://").trim_end_matches('/').to_string();
        let io = connect(&addr).await?;
        Ok(Conn { addr, io: Some(io) })
    }

    pub async fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> io::Result<HttpResponse> {
        let io = match &mut self.io {
            Some(io) => io,
            None => self.io.insert(connect(&self.addr).await?),
        };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        req.push_str(body);
        let result = async {
            io.get_mut().write_all(req.as_bytes()).await?;
            read_response(io).await
        }
        .await;
        match result {
            Ok((r, keep)) => {
                if !keep {
                    self.io = None;
                }
                Ok(r)
            }
            Err(e) => {
                self.io = None;
                Err(e)
            }
        }
    }
}

/// Reads a request or response head: the first line and the headers (names as sent).
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if r.read_line(&mut first).await? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let mut headers = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((first.trim_end().to_string(), headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A response and whether the connection stays open.
async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<(HttpResponse, bool)> {
    let (first, headers) = read_head(r).await?;
    let status: u16 = first.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| io::Error::other(format!("bad status line {first:?}")))?;
    let keep = !header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let mut body = Vec::new();
    if header(&headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).map_err(|_| io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            line.clear();
            r.read_line(&mut line).await?;
        }
    } else if let Some(n) = header(&headers, "content-length") {
        let n: usize = n.parse().map_err(|_| io::Error::other("bad Content-Length"))?;
        body.resize(n, 0);
        r.read_exact(&mut body).await?;
    } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
        // No length: the body runs to the end of the connection.
        r.read_to_end(&mut body).await?;
        return Ok((response(status, headers, body), false));
    }
    Ok((response(status, headers, body), keep))
}

fn response(status: u16, headers: Vec<(String, String)>, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes }
}

/// What the notification endpoint has seen.
#[derive(Default)]
pub struct Notifications {
    /// (out_trade_no, when it arrived) for every verified TRANSACTION.SUCCESS, duplicates included.
    pub got: Mutex<Vec<(String, Instant)>>,
    /// Deliveries refused: bad signature, undecryptable resource, or not a successful transaction.
    pub refused: AtomicUsize,
    pub first_refusal: Mutex<Option<String>>,
}

/// Binds the merchant's `notify_url` on loopback (before the merchant exists, since the orders name it).
pub async fn bind_receiver() -> io::Result<(TcpListener, String)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/notify", l.local_addr()?);
    Ok((l, url))
}

/// Serves the notification endpoint as a merchant must: checks the platform's signature, opens the
/// resource with the APIv3 key, answers 200 (anything else makes the platform retry later).
pub fn serve_receiver(listener: TcpListener, platform: PublicKey, key: ApiV3Key, seen: Arc<Notifications>) {
    let ctx = Arc::new((platform, key));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (ctx, seen) = (ctx.clone(), seen.clone());
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut io = BufReader::new(stream);
                // The platform's client closes after one request; answer each request on this connection.
                while let Ok((_, headers)) = read_head(&mut io).await {
                    let n = header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                    let mut body = vec![0u8; n];
                    if io.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let body = String::from_utf8_lossy(&body);
                    let status = match check(&ctx.0, &ctx.1, &headers, &body) {
                        Ok(out_trade_no) => {
                            seen.got.lock().unwrap_or_else(|p| p.into_inner()).push((out_trade_no, Instant::now()));
                            "200 OK"
                        }
                        Err(e) => {
                            seen.refused.fetch_add(1, Ordering::Relaxed);
                            seen.first_refusal.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                            "400 Bad Request"
                        }
                    };
                    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    if io.get_mut().write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// The out_trade_no of a correctly signed TRANSACTION.SUCCESS notification of a paid order.
fn check(platform: &PublicKey, key: &ApiV3Key, headers: &[(String, String)], body: &str) -> Result<String, String> {
    let (Some(ts), Some(nonce), Some(sig)) = (header(headers, "Wechatpay-Timestamp"), header(headers, "Wechatpay-Nonce"), header(headers, "Wechatpay-Signature")) else {
        return Err("a notification without the Wechatpay-* signature headers".into());
    };
    let ts: i64 = ts.parse().map_err(|_| "a notification with a bad Wechatpay-Timestamp".to_string())?;
    if !platform.verify(response_message(ts, nonce, body).as_bytes(), sig) {
        return Err("a notification whose signature does not verify".into());
    }
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("a notification that is not JSON: {e}"))?;
    if v["event_type"] != "TRANSACTION.SUCCESS" {
        return Err(format!("an unexpected notification {}", v["event_type"]));
    }
    let resource: Resource = serde_json::from_value(v["resource"].clone()).map_err(|e| format!("a notification without a resource: {e}"))?;
    let plain = resource.open(key).map_err(|e| format!("a resource that does not open with the APIv3 key: {e}"))?;
    let t: serde_json::Value = serde_json::from_slice(&plain).map_err(|e| format!("a resource that is not JSON: {e}"))?;
    if t["trade_state"] != "SUCCESS" {
        return Err(format!("a notification of a transaction in state {}", t["trade_state"]));
    }
    t["out_trade_no"].as_str().map(str::to_string).ok_or_else(|| "a transaction without out_trade_no".into())
}
