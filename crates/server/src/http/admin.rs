//! What every admin API handler shares: the admin API for operators and the CLI. Authenticated by a token kept in the data directory
//! (`admin.token`, readable by the operator only); in sandbox mode requests from loopback need none.

use crate::App;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The capabilities' admin routes behind the token (or the sandbox's loopback rule), unknown admin paths
/// and every error answered as the admin API answers (`{"code","message"}`).
pub fn layer(app: Arc<App>, routes: Router<Arc<App>>) -> Router<Arc<App>> {
    routes
        // Unknown admin paths answer as the admin API does (JSON), not with the server's bare 404.
        .route("/admin/*rest", any(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such admin API") }))
        .route_layer(middleware::from_fn_with_state(app, require_token))
        .layer(middleware::map_response(json_errors))
}

/// Every admin error as `{"code","message"}`: axum's own answers (a query string or JSON body its
/// extractors refuse, a method the route does not take) are plain text; they are rewritten here.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        s if s.is_server_error() => "SYSTEM_ERROR",
        _ => "PARAM_ERROR",
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    error(status, code, &message)
}

/// Reads the token, creating it (mode 0600) on first start.
pub fn load_or_create_token(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if t.len() >= 32 {
            return Ok(t);
        }
    }
    let token = saoma_wechatpay::aead::random_string(40).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(&path)?, format!("{token}\n").as_bytes())?;
    Ok(token)
}

pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(serde_json::json!({ "code": code, "message": message }))).into_response()
}

async fn require_token(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request, next: Next) -> Response {
    let given = req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    // Open only to a caller on this machine itself: never through a proxy (a trusted one, or any request
    // that says it was forwarded), since a proxy on this machine is loopback to us whoever is behind it.
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| req.headers().contains_key(*h));
    let via_proxy = app.config.trusted_proxies.iter().any(|c| c.contains(peer.ip()));
    let open = app.config.sandbox && !forwarded && !via_proxy && crate::http::proxy::unmap(peer.ip()).is_loopback();
    // Compare in constant time: the token is a secret.
    let ok = given.is_some_and(|g| g.len() == app.admin_token.len() && g.bytes().zip(app.admin_token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0);
    if let Err(why) = same_site(&app, &req, !ok) {
        return error(StatusCode::FORBIDDEN, "CROSS_SITE", why);
    }
    if !(ok || open) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "admin token required (DATA_DIR/admin.token)");
    }
    next.run(req).await
}

/// Refuses what a web page could make a browser send: the sandbox admin API is open on loopback, and
/// any page the operator visits can reach loopback. A cross-site request carries a foreign `Origin` or
/// `Sec-Fetch-Site: cross-site`/`same-site`; one a page can send without either (a "simple" form POST)
/// cannot have `Content-Type: application/json`; and a page on a name rebound to 127.0.0.1 (DNS
/// rebinding) sends its own name as `Host`. The token's holders (the CLI) send none of these, and a page
/// cannot attach the token, so the body and `Host` rules apply to requests without it (`open`).
fn same_site(app: &App, req: &Request, open: bool) -> Result<(), &'static str> {
    let h = req.headers();
    let text = |name: header::HeaderName| h.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    let host = text(header::HOST).unwrap_or("");
    let loopback_host = {
        let name = host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(n, _)| n);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    };
    if let Some(site) = h.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return Err("cross-site requests are refused (Sec-Fetch-Site)");
        }
    }
    if let Some(origin) = text(header::ORIGIN) {
        let own = origin == app.base_url || (loopback_host && (origin == format!("http://{host}") || origin == format!("https://{host}")));
        if !own {
            return Err("requests from another origin are refused (Origin)");
        }
    }
    if open {
        if !loopback_host {
            return Err("without a token, the admin API answers only requests addressed to a loopback host (Host)");
        }
        let json = text(header::CONTENT_TYPE).is_some_and(|c| c.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
        if req.method() == axum::http::Method::POST && !json {
            return Err("admin POST bodies must be Content-Type: application/json");
        }
    }
    Ok(())
}
