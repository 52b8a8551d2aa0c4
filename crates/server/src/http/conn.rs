//! Accepting connections with limits: `axum::serve` has no timeouts and no caps, and 1,100 connections
//! that send nothing were enough to stop `/healthz` from answering. This is the accept loop instead,
//! HTTP/1.1 on hyper (WeChat Pay SDKs and browsers speak it; HTTP/2 would bring its own idle rules).
//!
//! - a cap on open connections, well under the file-descriptor limit (whose soft value is raised to
//!   the hard one at start), and a cap per client address (trusted proxies exempt: they carry many
//!   clients). A connection over a cap is closed at once, so that the clients under it keep working;
//! - a header-read timeout: a connection that has not delivered a complete request head that long
//!   after it opened, or after the first byte of a later head, is closed (slow or silent clients);
//! - an idle keep-alive timeout: a kept-alive connection with nothing sent either way is closed;
//! - a request-body timeout and size cap: the body is read whole, within the time, before the
//!   handler runs (every handler reads its whole body anyway).
//!
//! A request being handled is never cut: time spent in a handler (a PIN's argon2, a bill) is not
//! limited here. On shutdown the loop stops accepting, each connection finishes the request it is in
//! and closes, and `serve_connections` returns when the last one has.

use crate::App;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// The largest request body read (the v3 API's own limit is 1 MiB).
pub const MAX_BODY: usize = 2 << 20;

/// What `saoma serve` is told about connections.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub body_timeout: Duration,
    /// Open connections at most; 0: three quarters of the file-descriptor limit, at most 16,384.
    pub max_connections: usize,
    /// Open connections from one client address at most (trusted proxies exempt).
    pub max_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(30),
            max_connections: 0,
            max_per_address: 256,
        }
    }
}

/// Raises the soft limit on open files to the hard limit; returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 1024;
        }
        if l.rlim_cur < l.rlim_max {
            let raised = libc::rlimit { rlim_cur: l.rlim_max, rlim_max: l.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                l.rlim_cur = l.rlim_max;
            }
        }
        return l.rlim_cur;
    }
    #[allow(unreachable_code)]
    1024
}

impl ConnectionLimits {
    /// The connection cap: as configured, or from the file-descriptor limit (a quarter, and at least
    /// 256, kept for the database, files and outbound notifications).
    pub fn effective_max(&self, fd_limit: u64) -> usize {
        let room = fd_limit.saturating_sub(256).max(64) as usize;
        let auto = (room * 3 / 4).min(16_384);
        if self.max_connections == 0 {
            auto
        } else {
            self.max_connections.min(room)
        }
    }
}

/// What the per-address cap counts by: an IPv4 address, or an IPv6 /64 (one subscriber's block:
/// whoever holds one has 2^64 addresses to spread over).
fn client_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Open connections per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

struct AddressSlot {
    counts: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot { counts: self.clone(), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// What a connection has been doing, for its deadlines. Milliseconds since the connection opened.
struct Activity {
    opened: Instant,
    /// A request has been handed to the router and has not answered yet.
    in_request: AtomicBool,
    /// Some request has been received on this connection.
    served_one: AtomicBool,
    /// When bytes last moved either way (+1; 0 = never).
    last_io: AtomicU64,
    /// When the first byte of the head being waited for came (+1; 0 = none yet).
    head_started: AtomicU64,
}

impl Activity {
    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64 + 1
    }

    /// When this connection is to be closed if nothing changes, or `None` while a request is handled.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.in_request.load(Ordering::Acquire) {
            return None;
        }
        let at = |ms: u64, d: Duration| self.opened + Duration::from_millis(ms.saturating_sub(1)) + d;
        let head = self.head_started.load(Ordering::Acquire);
        Some(if head != 0 {
            at(head, limits.header_read_timeout)
        } else if !self.served_one.load(Ordering::Acquire) {
            at(1, limits.header_read_timeout)
        } else {
            at(self.last_io.load(Ordering::Acquire), limits.keep_alive_timeout)
        })
    }
}

/// The socket, noting when bytes move and when a request head begins.
struct WatchedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let a = &self.activity;
            let now = a.now();
            a.last_io.store(now, Ordering::Release);
            if !a.in_request.load(Ordering::Acquire) {
                let _ = a.head_started.compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        r
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last_io.store(self.activity.now(), Ordering::Release);
        }
        r
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.last_io.store(self.activity.now(), Ordering::Release);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a connection out of `saoma_connections_open` when it ends.
struct OpenGauge(Arc<App>);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0.metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Marks the request handled when dropped (answered, or the connection gone).
struct InRequest(Arc<Activity>);

impl Drop for InRequest {
    fn drop(&mut self) {
        let a = &self.0;
        a.last_io.store(a.now(), Ordering::Release);
        a.in_request.store(false, Ordering::Release);
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r
}

/// One request: the body read whole within the body timeout, then the router.
async fn handle(router: Router, peer: SocketAddr, activity: Arc<Activity>, body_timeout: Duration, req: Request<Incoming>) -> Result<Response<Body>, std::convert::Infallible> {
    activity.in_request.store(true, Ordering::Release);
    activity.served_one.store(true, Ordering::Release);
    activity.head_started.store(0, Ordering::Release);
    let _done = InRequest(activity);
    let (mut parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(body_timeout, http_body_util::Limited::new(body, MAX_BODY).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")),
        Ok(Err(_)) => return Ok(plain(StatusCode::BAD_REQUEST, "request body unreadable\n")),
        Err(_) => return Ok(plain(StatusCode::REQUEST_TIMEOUT, "request body not received in time\n")),
    };
    parts.extensions.insert(ConnectInfo(peer));
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut svc = router;
    tower_service::Service::call(&mut svc, req).await
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the open connections finish.
pub async fn serve_connections(listener: TcpListener, router: Router, app: Arc<App>, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let (limits, trusted_proxies) = (app.config.connections.clone(), app.config.trusted_proxies.clone());
    let fd_limit = raise_fd_limit();
    let max = limits.effective_max(fd_limit).max(1);
    tracing::info!(max_connections = max, max_per_address = limits.max_per_address, fd_limit, "connection limits");
    let slots = Arc::new(Semaphore::new(max));
    let per_address = Arc::new(PerAddress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx.clone();
    let limits = Arc::new(limits);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or a connection reset before it was taken: not fatal.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            app.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "connection refused: the server's connection cap is reached");
            continue;
        };
        let ip = peer.ip();
        let address_slot = if trusted_proxies.iter().any(|c| c.contains(ip)) {
            None
        } else {
            match per_address.enter(client_block(ip), limits.max_per_address) {
                Some(s) => Some(s),
                None => {
                    app.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "connection refused: this address's connection cap is reached");
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let limits = limits.clone();
        let mut stop = stop_rx.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _slots = (slot, address_slot);
            app.metrics.connections_open.fetch_add(1, Ordering::Relaxed);
            let _open = OpenGauge(app.clone());
            let activity = Arc::new(Activity {
                opened: Instant::now(),
                in_request: AtomicBool::new(false),
                served_one: AtomicBool::new(false),
                last_io: AtomicU64::new(0),
                head_started: AtomicU64::new(0),
            });
            let io = TokioIo::new(WatchedIo { inner: stream, activity: activity.clone() });
            let a2 = activity.clone();
            let body_timeout = limits.body_timeout;
            let service = hyper::service::service_fn(move |req| handle(router.clone(), peer, a2.clone(), body_timeout, req));
            let conn = hyper::server::conn::http1::Builder::new().timer(TokioTimer::new()).header_read_timeout(None).serve_connection(io, service);
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                let deadline = activity.deadline(&limits);
                let sleep = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ = sleep => {
                        // Re-checked: a request may have begun, or bytes moved, since the deadline was set.
                        if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                            break;
                        }
                    }
                    // A request starting or ending moves the deadline: look again now and then.
                    _ = tokio::time::sleep(Duration::from_secs(1)), if deadline.is_none() => {}
                }
            }
        });
    }
    // Every connection holds a slot until it ends.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}
