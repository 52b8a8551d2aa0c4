//! Authentication of v3 requests and signing of v3 responses, as one middleware: nothing reaches a
//! handler unless its signature verifies, and nothing leaves unsigned.
//!
//! Order of checks (each failure is 401 `SIGN_ERROR`, and nothing is stored): the header parses; the
//! merchant exists; `serial_no` names the merchant's key; the timestamp is within 5 minutes of real
//! time; the signature over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` verifies; only then is the
//! nonce remembered, and a nonce seen before is refused (so that a forger cannot burn nonces).
//!
//! The URL signed may be written as SDKs write it (`canonical_urls`): the path and query as sent, or
//! the absolute URL under the public URL (an SDK signs a `download_url` as it was handed out), and a
//! query with non-ASCII values raw or percent-encoded. Those forms of the one request, no other.
//!
//! Nonces are shared by every process on the database (`request_nonces`, one row per nonce, the
//! primary key deciding): a request replayed to another process behind the same address is refused.
//! A per-process memory in front refuses most replays without a write.
//! Timestamps and nonces use the real clock, not the business clock: a sandbox whose virtual clock has
//! been advanced still accepts a real SDK.

use super::V3Error;
use crate::merchants::Merchant;
use crate::platform::KeyMode;
use crate::App;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use saoma_wechatpay::auth::{request_message, response_message, Authorization};
use saoma_wechatpay::{ErrorCode, SIGNATURE_TYPE};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Requests bodies above this are refused before they are read further.
const MAX_BODY: usize = 1 << 20;
const WINDOW_SECS: i64 = 300;

pub fn real_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The authenticated caller, for handlers.
#[derive(Clone)]
pub struct Caller {
    pub merchant: Arc<Merchant>,
    pub body: Arc<String>,
}

/// Nonces this process saw in the signature window, per merchant: refuses a replay to this process
/// without a database write. The database's `request_nonces` is the authority across processes.
#[derive(Default)]
pub struct Nonces {
    inner: Mutex<(HashMap<(String, String), i64>, VecDeque<(i64, String, String)>)>,
}

impl crate::Part for Nonces {
    fn new(_: &crate::Config) -> Self {
        Nonces::default()
    }
}

impl Nonces {
    /// Records a nonce; false if it was already used within the window.
    pub fn fresh(&self, mchid: &str, nonce: &str, now: i64) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (seen, order) = &mut *g;
        while let Some((t, _, _)) = order.front() {
            if *t > now - 2 * WINDOW_SECS {
                break;
            }
            let (_, m, n) = order.pop_front().expect("front exists");
            seen.remove(&(m, n));
        }
        let key = (mchid.to_string(), nonce.to_string());
        if seen.contains_key(&key) {
            return false;
        }
        seen.insert(key, now);
        order.push_back((now, mchid.to_string(), nonce.to_string()));
        true
    }
}

/// The nonce's row: inserted, or refused if a row of it is younger than the window (every process's
/// requests count). One statement, committed on its own: the primary key settles a race between two processes.
pub async fn record_nonce(app: &App, mchid: &str, nonce: &str, now: i64) -> Result<bool, saoma_store::StoreError> {
    // The primary key decides, so the statement needs no job around it (`write_alone`: on PostgreSQL
    // one round trip beside the writer; every v3 request makes one).
    let n = app
        .store
        .write_alone(
            "INSERT INTO request_nonces (mchid, nonce, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (mchid, nonce) DO UPDATE SET seen_at = excluded.seen_at WHERE request_nonces.seen_at < $4",
            vec![mchid.into(), nonce.into(), now.into(), (now - 2 * WINDOW_SECS).into()],
        )
        .await?;
    Ok(n == 1)
}

/// Removes nonces older than the window (any process may; run now and then).
pub async fn prune_nonces(app: &App) -> Result<u64, saoma_store::StoreError> {
    let before = real_now() - 2 * WINDOW_SECS;
    app.store.transact(move |tx| Ok(Ok::<u64, ()>(tx.execute("DELETE FROM request_nonces WHERE seen_at < $1", &[before.into()])?))).await.map(|r| r.unwrap_or(0))
}

/// The ways an SDK may have written the URL of this request in what it signed: the path and query as
/// received and, where the public URL is known, the absolute URL under it; each as received and with
/// percent-encoded non-ASCII characters written raw (SDKs sign a query with Chinese values either way).
/// Nothing else: no decoding of ASCII escapes, no other host.
pub fn canonical_urls(public_base: &str, target: &str) -> Vec<String> {
    let mut forms = vec![target.to_string()];
    if let Some(raw) = decode_non_ascii(target) {
        forms.push(raw);
    }
    if !target.is_ascii() {
        // Sent raw (a lenient client): the SDK may have signed it encoded.
        forms.push(target.chars().map(|c| if c.is_ascii() { c.to_string() } else { c.to_string().bytes().map(|b| format!("%{b:02X}")).collect() }).collect());
    }
    let absolute: Vec<String> = forms.iter().map(|f| format!("{public_base}{f}")).collect();
    forms.extend(absolute);
    forms
}

/// `target` with each percent-encoded run that decodes to non-ASCII UTF-8 written raw; `None` when
/// there is none (ASCII escapes such as `%26` stay: decoding them would change the query).
fn decode_non_ascii(target: &str) -> Option<String> {
    let b = target.as_bytes();
    let hexval = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        // A run of %XX escapes whose bytes are all >= 0x80 and form valid UTF-8.
        let mut run = Vec::new();
        let mut j = i;
        while j + 2 < b.len() && b[j] == b'%' {
            match (hexval(b[j + 1]), hexval(b[j + 2])) {
                (Some(h), Some(l)) if h >= 8 => {
                    run.push(h << 4 | l);
                    j += 3;
                }
                _ => break,
            }
        }
        if !run.is_empty() && std::str::from_utf8(&run).is_ok() {
            out.extend_from_slice(&run);
            changed = true;
            i = j;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    changed.then(|| String::from_utf8(out).ok()).flatten()
}

fn sign_error(message: &str) -> V3Error {
    V3Error::new(ErrorCode::SignError, message)
}

pub async fn authenticate_and_sign(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let (response, merchant) = match authenticate(&app, req).await {
        Ok((req, caller)) => {
            let m = caller.merchant.clone();
            let mut req = req;
            req.extensions_mut().insert(caller);
            (next.run(req).await, Some(m))
        }
        Err((e, m)) => (e.into_response(), m),
    };
    sign_response(&app, merchant.as_deref(), response).await
}

async fn authenticate(app: &App, req: Request) -> Result<(Request, Caller), (V3Error, Option<Arc<Merchant>>)> {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| (V3Error::param("request body too large or unreadable"), None))?;
    let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or((sign_error("Authorization header missing"), None))?;
    let auth = Authorization::parse(header).map_err(|e| (sign_error(&e.to_string()), None))?;
    let merchant = crate::merchants::get(app, &auth.mchid)
        .map_err(|e| (V3Error::system(e), None))?
        .ok_or((sign_error("mchid is not a merchant of this platform"), None))?;
    let m = Some(merchant.clone());
    if auth.serial_no.to_uppercase() != merchant.serial_no {
        return Err((sign_error("serial_no does not name this merchant's API key"), m));
    }
    let now = real_now();
    if (now - auth.timestamp).abs() > WINDOW_SECS {
        return Err((sign_error("timestamp must be within 5 minutes of the request time"), m));
    }
    let body = std::str::from_utf8(&bytes).map_err(|_| (V3Error::param("request body is not UTF-8"), m.clone()))?;
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let verifies = |url: &str| merchant.public_key.verify(request_message(parts.method.as_str(), url, auth.timestamp, &auth.nonce_str, body).as_bytes(), &auth.signature);
    // The path as sent first (what nearly every SDK signs); the other forms only when it fails.
    if !verifies(path) && !canonical_urls(app.public_base_url(), path).iter().skip(1).any(|u| verifies(u)) {
        return Err((sign_error("signature does not verify"), m));
    }
    if auth.nonce_str.len() > 64 {
        return Err((sign_error("nonce_str longer than 64 characters"), m));
    }
    if !app.part::<Nonces>().fresh(&merchant.mchid, &auth.nonce_str, now) {
        return Err((sign_error("nonce_str already used"), m));
    }
    match record_nonce(app, &merchant.mchid, &auth.nonce_str, now).await {
        Ok(true) => {}
        Ok(false) => return Err((sign_error("nonce_str already used"), m)),
        Err(e) => return Err((V3Error::system(e), m)),
    }
    let caller = Caller { merchant, body: Arc::new(body.to_string()) };
    Ok((Request::from_parts(parts, Body::from(bytes)), caller))
}

/// Marks a response that leaves unsigned and untouched: the bill download, whose body is a file (binary
/// when gzip-compressed) that WeChat Pay does not sign either; SDKs check its SHA-1 instead.
#[derive(Clone, Copy, Debug)]
pub struct Unsigned;

/// Signs whatever the handler answered: `TIMESTAMP\nNONCE\nBODY\n` with the newest platform key, and
/// `Wechatpay-Serial` as the merchant knows the key (its public-key id, or its certificate's serial).
pub async fn sign_response(app: &App, merchant: Option<&Merchant>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if parts.extensions.get::<Unsigned>().is_some() {
        return Response::from_parts(parts, body);
    }
    let mut bytes = to_bytes(body, usize::MAX).await.unwrap_or_default().to_vec();
    // Axum's own answers (unknown method, …) carry no v3 body: give them one.
    if (parts.status.is_client_error() || parts.status.is_server_error()) && bytes.is_empty() {
        let code = if parts.status == StatusCode::METHOD_NOT_ALLOWED { ErrorCode::InvalidRequest } else { ErrorCode::ResourceNotExists };
        let e = saoma_wechatpay::ErrorBody::new(code, parts.status.canonical_reason().unwrap_or("error"));
        bytes = serde_json::to_vec(&e).unwrap_or_default();
        parts.headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let key = app.keys.signing(merchant.map(|m| m.key_mode));
    let timestamp = real_now();
    let nonce = saoma_wechatpay::aead::random_string(32).unwrap_or_else(|_| "0".repeat(32));
    match key.private_key.sign(response_message(timestamp, &nonce, &body).as_bytes()) {
        Ok(signature) => {
            let serial = match merchant.map(|m| m.key_mode) {
                Some(KeyMode::Certificate) => key.serial_no.clone(),
                _ => key.key_id.clone(),
            };
            let h = &mut parts.headers;
            for (name, value) in [
                ("wechatpay-timestamp", timestamp.to_string()),
                ("wechatpay-nonce", nonce),
                ("wechatpay-signature", signature),
                ("wechatpay-serial", serial),
                ("wechatpay-signature-type", SIGNATURE_TYPE.to_string()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    h.insert(name, v);
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "signing a v3 response failed"),
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::canonical_urls;

    #[test]
    fn the_forms_an_sdk_may_sign() {
        let base = "https://pay.example.com";
        assert_eq!(canonical_urls(base, "/v3/x?a=1"), vec!["/v3/x?a=1", "https://pay.example.com/v3/x?a=1"]);
        let encoded = "/v3/x?name=%E4%B8%AD%E6%96%87&amp=%26";
        let forms = canonical_urls(base, encoded);
        assert_eq!(forms, vec![encoded.to_string(), "/v3/x?name=中文&amp=%26".into(), format!("{base}{encoded}"), format!("{base}/v3/x?name=中文&amp=%26")]);
        // Not UTF-8: left as sent.
        assert_eq!(canonical_urls(base, "/v3/x?a=%E4%B8").len(), 2);
        assert!(canonical_urls(base, "/v3/x?name=中文").contains(&"/v3/x?name=%E4%B8%AD%E6%96%87".to_string()));
    }
}
