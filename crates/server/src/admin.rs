//! The admin API for operators and the CLI. Authenticated by a token kept in the data directory
//! (`admin.token`, readable by the operator only); in sandbox mode requests from loopback need none.

use crate::merchants::KeyMode;
use crate::App;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/admin/merchants", post(create_merchant))
        .route("/admin/users", post(create_user))
        .route("/admin/sms", get(sms_outbox))
        .route("/admin/clock/advance", post(advance_clock))
        .route("/admin/notifications", get(notifications))
        .route("/admin/platform/rotate", post(rotate_platform_key))
        .route("/admin/ledger/transfers", get(ledger_transfers))
        .merge(crate::transit::http::admin_routes())
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

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(serde_json::json!({ "code": code, "message": message }))).into_response()
}

async fn require_token(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request, next: Next) -> Response {
    let given = req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    // Open only to a caller on this machine itself: never through a proxy (a trusted one, or any request
    // that says it was forwarded), since a proxy on this machine is loopback to us whoever is behind it.
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| req.headers().contains_key(*h));
    let via_proxy = app.config.trusted_proxies.iter().any(|c| c.contains(peer.ip()));
    let open = app.config.sandbox && !forwarded && !via_proxy && crate::outbound::unmap(peer.ip()).is_loopback();
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

#[derive(serde::Deserialize)]
struct NewUser {
    phone: String,
    pin: Option<String>,
    #[serde(default)]
    balance: i64,
}

async fn create_user(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewUser = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    // The wallet API's answers for user errors: 409 for a taken phone, 500 for storage failures.
    let user = match crate::users::create(&app, req.phone, req.pin, req.balance).await {
        Ok(u) => u,
        Err(e) => return crate::wallet::user_error(e),
    };
    let openids = match crate::users::all_openids(&app, user.id).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "openids");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not assign openids");
        }
    };
    let openids: serde_json::Map<String, serde_json::Value> = openids.into_iter().map(|(a, o)| (a, o.into())).collect();
    Json(serde_json::json!({ "user_id": format!("{:032x}", user.id), "phone": user.phone, "openids": openids })).into_response()
}

#[derive(serde::Deserialize)]
struct PhoneQuery {
    phone: String,
}

/// The SMS outbox for one phone, newest first (there is no SMS gateway).
async fn sms_outbox(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<PhoneQuery>) -> Response {
    // The outbox holds each phone in its one spelling (`users::canonical_phone`).
    let phone = crate::users::canonical_phone(&q.phone).unwrap_or_else(|| q.phone.clone());
    let rows = app.store.query("SELECT code, purpose, created_at, expires_at, used_at, message FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, id DESC LIMIT 20", &[phone.as_str().into()]);
    match rows {
        Ok(rows) => {
            let messages: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| serde_json::json!({ "code": r[0].as_str(), "purpose": r[1].as_str(), "created_at": r[2].as_i64(), "expires_at": r[3].as_i64(), "used": !r[4].is_null(), "message": r[5].as_str() }))
                .collect();
            Json(serde_json::json!({ "phone": q.phone, "messages": messages })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "sms outbox");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the outbox")
        }
    }
}

#[derive(serde::Deserialize)]
struct Rotate {
    /// How long the current keys stay valid beside the new one (default 7 days).
    overlap_seconds: Option<i64>,
}

async fn rotate_platform_key(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: Rotate = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    let overlap = req.overlap_seconds.unwrap_or(7 * 24 * 3600);
    if !(0..=365 * 24 * 3600).contains(&overlap) {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "overlap_seconds must be 0 to one year");
    }
    match crate::platform::rotate(&app.store, crate::v3::auth::real_now(), overlap).await {
        Ok(key_id) => {
            app.reload_platform_keys();
            let k = app.platform_key();
            tracing::info!(key_id = %key_id, overlap, "platform key rotated");
            Json(serde_json::json!({
                "platform_public_key_id": k.key_id,
                "platform_serial_no": k.serial_no,
                "platform_public_key": k.public_key_pem,
                "platform_certificate": k.certificate_pem,
                "previous_keys_retire_in_seconds": overlap,
            }))
            .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "rotating the platform key");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not rotate the platform key")
        }
    }
}

#[derive(serde::Deserialize)]
struct MchidQuery {
    mchid: String,
}

/// A merchant's notifications and every delivery attempt.
async fn notifications(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<MchidQuery>) -> Response {
    match crate::notify::list(&app, &q.mchid) {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "notifications");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read notifications")
        }
    }
}

#[derive(serde::Deserialize)]
struct Advance {
    seconds: i64,
}

/// Moves the virtual clock forward (sandbox mode only).
async fn advance_clock(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let Some(clock) = app.virtual_clock.as_ref() else {
        return error(StatusCode::FORBIDDEN, "NOT_SANDBOX", "the clock moves only in sandbox mode (saoma serve --sandbox)");
    };
    let req: Advance = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    if req.seconds <= 0 || req.seconds > 10 * 365 * 24 * 3600 {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "seconds must be positive and at most ten years");
    }
    clock.advance(req.seconds * saoma_store::NANOS_PER_SEC);
    if let Err(e) = crate::secrets::write_private(&app.config.data_dir.join("clock.offset"), clock.offset().to_string().as_bytes(), false) {
        tracing::warn!(error = %e, "could not record the clock offset");
    }
    Json(serde_json::json!({ "now": saoma_core::time::format_rfc3339_cst(app.business_now_secs()), "offset_seconds": clock.offset() / saoma_store::NANOS_PER_SEC })).into_response()
}

#[derive(serde::Deserialize)]
struct NewMerchant {
    name: String,
    notify_url: Option<String>,
    /// `public_key` (default) or `certificate`.
    platform_key_mode: Option<String>,
    /// H5 domains (host names) an H5 payment may return to (`redirect_url`), with their subdomains.
    #[serde(default)]
    h5_domains: Vec<String>,
}

async fn create_merchant(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewMerchant = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    if req.name.trim().is_empty() || req.name.chars().count() > 64 {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "name must be 1–64 characters");
    }
    if let Some(u) = &req.notify_url {
        if let Err(e) = saoma_core::order::check_notify_url(u) {
            return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e.to_string());
        }
        if let Err(e) = crate::notify::check_url(&app, u).await {
            return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e);
        }
    }
    let mode = match req.platform_key_mode.as_deref().map(KeyMode::parse) {
        None => KeyMode::PublicKey,
        Some(Some(m)) => m,
        Some(None) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "platform_key_mode must be public_key or certificate"),
    };
    let mut domains = Vec::new();
    for d in &req.h5_domains {
        match crate::merchants::h5_domain(d) {
            Ok(d) if !domains.contains(&d) => domains.push(d),
            Ok(_) => {}
            Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e),
        }
    }
    if domains.len() > 5 || domains.iter().map(|d| d.len() + 1).sum::<usize>() > 1024 {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "at most 5 H5 domains");
    }
    let created = match app.merchants.create(&app.store, &app.ids, req.name, req.notify_url, mode, domains, app.business_now_secs()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "creating a merchant failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not create the merchant");
        }
    };
    let m = &created.merchant;
    let key = app.signing_key(Some(m.key_mode));
    tracing::info!(mchid = %m.mchid, "merchant created");
    Json(serde_json::json!({
        "mchid": m.mchid,
        "name": m.name,
        "appid": m.appids.first(),
        "serial_no": m.serial_no,
        "private_key": created.private_key_pem,
        "apiv3_key": m.apiv3_key.expose(),
        "platform_key_mode": m.key_mode.as_str(),
        "h5_domains": m.h5_domains,
        "platform_public_key": key.public_key_pem,
        "platform_public_key_id": key.key_id,
        "platform_certificate": key.certificate_pem,
        "platform_serial_no": key.serial_no,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct LedgerWindow {
    /// The merchant whose basic account to audit, or…
    mchid: Option<String>,
    /// …any ledger account, as 32 hex digits.
    account: Option<String>,
    /// Unix seconds, from (inclusive; default the beginning) to (exclusive; default now, business time).
    from: Option<i64>,
    to: Option<i64>,
}

/// The ledger's transfers touching one account in a time window, with its balance before and after:
/// what an operator (and the bills test) reconciles a bill against. A scan of the transfers table.
async fn ledger_transfers(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<LedgerWindow>) -> Response {
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or_else(|| app.business_now_secs() + 1));
    let (Some(from), Some(to)) = (from.checked_mul(saoma_store::NANOS_PER_SEC), to.checked_mul(saoma_store::NANOS_PER_SEC)) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "from and to are Unix seconds");
    };
    if from > to {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "from must not be after to");
    }
    let account = match (&q.mchid, &q.account) {
        (Some(m), None) => match crate::bills::merchant_account(&app, m) {
            Ok(Some(a)) => a,
            Ok(None) => return error(StatusCode::NOT_FOUND, "MCH_NOT_EXISTS", "no such merchant"),
            Err(e) => {
                tracing::error!(error = %e, "ledger audit");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the merchant");
            }
        },
        (None, Some(a)) => match u128::from_str_radix(a, 16) {
            Ok(id) if a.len() == 32 => id,
            _ => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "account must be 32 hex digits"),
        },
        _ => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "give mchid or account (one of them)"),
    };
    match crate::bills::ledger_window(&app, account, from, to) {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "ledger audit");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the ledger")
        }
    }
}
