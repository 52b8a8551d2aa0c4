//! What every page shares (the pages themselves live with their capabilities: `cashier/`, `users/pages.rs`):
//! the layout and style, escaping, money and phones as people read them, the language ([`Ctx`]), the
//! wallet session's cookie, the same-origin rule for POSTs, the security headers, QR codes as SVG and PNG.
//!
//! Server-rendered HTML with inline CSS and no script: the pages work in any browser, and the strict
//! Content-Security-Policy forbids scripts altogether, so text a merchant wrote (descriptions, names)
//! cannot run even if an escape were missed. Every value written into a page goes through [`esc`].
//!
//! Pages speak Chinese (zh-CN) unless the browser prefers English or the user switched (`i18n.rs`: the
//! one catalogue of texts, and how a request's language is chosen); each handler takes a [`Ctx`].
//!
//! The session is the wallet's own (`crate::users::login`, the `wallet_sessions` table), carried in an HttpOnly
//! cookie with `SameSite=Lax`: pages read it without script, and no other site can post a payment with
//! it (its cookie is not sent on cross-site POSTs, and POSTs whose `Origin` is another site are refused).

// Page helpers answer `Result<T, Response>`: the error is the finished page that says what went wrong.
// It is large (axum's Response) but only ever built on the way out.
#![allow(clippy::result_large_err)]

pub mod barcode;
mod catalogue;
pub mod i18n;
pub mod qr;

use crate::users::User;
use crate::App;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use i18n::{Lang, Msg, LANG_COOKIE};
use std::collections::HashMap;
use std::sync::Arc;

/// The capabilities' pages, with the language a `?lang=` chose remembered and every POST refused unless
/// it comes from this site; `/qr.svg` and `/qr.png` draw any short text as a QR code.
pub fn layer(app: Arc<App>, routes: Router<Arc<App>>) -> Router<Arc<App>> {
    routes
        .route("/favicon.svg", get(favicon))
        .route("/qr.svg", get(qr_svg))
        .route("/qr.png", get(qr_png))
        .route_layer(middleware::from_fn_with_state(app, same_origin_posts))
        .route_layer(middleware::from_fn(remember_lang))
}

/// What a page needs to speak to its reader: the language, and (on pages reached by GET) this very
/// address, to offer the other language on.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub lang: Lang,
    /// `href` of the link to the other language (`None` on pages that answer a POST).
    switch: Option<String>,
}

impl Ctx {
    pub fn t(&self, m: Msg) -> &'static str {
        self.lang.t(m)
    }

    pub fn fill(&self, m: Msg, args: &[(&str, &str)]) -> String {
        self.lang.fill(m, args)
    }

    pub fn html(&self, m: Msg, args: &[(&str, &str)]) -> String {
        self.lang.html(m, args)
    }
}

/// The value of `?lang=` in a query string, if any.
fn lang_param(query: &str) -> Option<&str> {
    query.split('&').find_map(|kv| kv.strip_prefix("lang="))
}

#[axum::async_trait]
impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let lang = Lang::of(&parts.headers, lang_param(query));
        let switch = (parts.method == Method::GET).then(|| {
            let mut kept: Vec<&str> = query.split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("lang=")).collect();
            let other = format!("lang={}", lang.other().code());
            kept.push(&other);
            format!("{}?{}", parts.uri.path(), kept.join("&"))
        });
        Ok(Ctx { lang, switch })
    }
}

/// A GET with `?lang=zh|en` remembers the choice in a cookie, so that the forms that follow (and the
/// pages they lead to) keep the language the user chose.
async fn remember_lang(req: Request, next: Next) -> Response {
    let chosen = (req.method() == Method::GET).then(|| req.uri().query().and_then(lang_param).and_then(Lang::from_code)).flatten();
    let mut r = next.run(req).await;
    if let Some(lang) = chosen {
        let cookie = format!("{LANG_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000", lang.code());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// The wallet session cookie (its value is a `wallet_sessions` token).
pub const SESSION_COOKIE: &str = "saoma_wallet";

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `¥12.34` from fen (integer formatting, no float on the way).
pub fn yuan(fen: i64) -> String {
    format!("¥{}", saoma_core::yuan::format(fen))
}

/// A phone as pages show it: the middle hidden (`138****0001`).
pub fn masked_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return phone.to_string();
    }
    let (head, tail) = (3, 4);
    format!("{}{}{}", chars[..head].iter().collect::<String>(), "*".repeat(chars.len() - head - tail), chars[chars.len() - tail..].iter().collect::<String>())
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;background:#f2f2f2;margin:0;color:#111}\
main{max-width:26rem;margin:0 auto;padding:1rem}\
.card{background:#fff;border-radius:.5rem;padding:1.25rem;margin-bottom:1rem}\
h1{font-size:1.1rem;margin:0 0 .75rem;color:#555;font-weight:500}\
.amount{font-size:2.2rem;font-weight:600;margin:.25rem 0}\
.muted{color:#777;font-size:.9rem}\
.error{background:#fdecea;color:#a8071a;padding:.6rem .8rem;border-radius:.35rem;margin:.5rem 0}\
.ok{color:#07c160}\
label{display:block;margin:.6rem 0 .25rem;font-size:.9rem;color:#555}\
input{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.55rem;border:1px solid #ccc;border-radius:.35rem}\
button{width:100%;margin-top:.9rem;font-size:1.1rem;padding:.7rem;border:0;border-radius:.35rem;background:#07c160;color:#fff}\
button.link{background:none;color:#576b95;font-size:.9rem;width:auto;padding:0;margin:0}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem .8rem;margin:.5rem 0}dt{color:#777}dd{margin:0;word-break:break-all}\
.qr{text-align:center}.qr img{width:12rem;height:12rem}\
nav.lang{text-align:right;font-size:.85rem;margin:0 0 .5rem}nav.lang a,a.plain{color:#576b95;text-decoration:none}\
a.button{display:block;box-sizing:border-box;text-align:center;text-decoration:none;margin-top:.9rem;font-size:1.1rem;padding:.7rem;border-radius:.35rem;background:#07c160;color:#fff}\
a.button.secondary{background:#fff;color:#07c160;border:1px solid #07c160}\
.success{text-align:center}.success dl{text-align:left}\
.mark{display:flex;width:4.5rem;height:4.5rem;border-radius:50%;background:#07c160;color:#fff;font-size:2.6rem;line-height:1;align-items:center;justify-content:center;margin:.5rem auto .75rem}\
.mark.fail{background:#fa5151}.success .error{text-align:left}\
.success h1{color:#111;font-size:1.3rem;font-weight:600;margin:0}\
.who{margin:0 0 .5rem}nav.tabs{display:flex;gap:.5rem;margin:1rem 0 .5rem}\
nav.tabs a{flex:1;text-align:center;padding:.6rem;border-radius:.35rem;background:#fff;color:#576b95;text-decoration:none}\
nav.tabs a.current{background:#07c160;color:#fff}form.logout{text-align:center}\
.paycode{text-align:center}.barcode svg{width:100%;height:5rem;display:block}\
.digits{font-size:1.3rem;letter-spacing:.08em;font-variant-numeric:tabular-nums;margin:.4rem 0}\
.paycode .qr svg{width:11rem;height:11rem}";

/// A whole page in `ctx`'s language: `title` and `body` (already HTML; callers escape what they put in it).
pub fn layout(ctx: &Ctx, title: &str, body: &str) -> String {
    let switch = ctx
        .switch
        .as_deref()
        .map(|href| {
            let other = ctx.lang.other();
            format!("<nav class=\"lang\"><a id=\"lang-switch\" href=\"{}\" hreflang=\"{}\" lang=\"{}\">{}</a></nav>", esc(href), other.tag(), other.tag(), esc(ctx.t(Msg::SwitchLanguage)))
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · saoma</title><link rel=\"icon\" href=\"/favicon.svg\"><style>{STYLE}</style></head><body><main>{switch}{body}</main></body></html>\n",
        ctx.lang.tag(),
        esc(title)
    )
}

/// A page that runs this server's own scripts (`/static/…`, nothing inline, nothing from elsewhere) and
/// may fetch from this server: otherwise the headers of [`html`].
pub fn html_with_script(status: StatusCode, page: String) -> Response {
    let mut r = html(status, page);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    r
}

/// The pages' icon: a green tile with 扫 (the browser asks for an icon on every site; a 404 is noise).
async fn favicon() -> Response {
    const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect width=\"32\" height=\"32\" rx=\"7\" fill=\"#07c160\"/><text x=\"16\" y=\"23\" font-size=\"20\" text-anchor=\"middle\" fill=\"#fff\">扫</text></svg>";
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}

/// A script of this server's pages (`/static/NAME.js`): cached an hour, typed, never sniffed.
pub fn script(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], body).into_response()
}

/// An HTML answer with the headers every page carries: no script at all, no framing (a payment page in
/// someone else's frame is a clickjacking target), no caching (pages show balances and sessions), and
/// no referrer to other sites (URLs carry prepay ids; `no-referrer` would also blank the `Origin` of
/// our own form posts).
pub fn html(status: StatusCode, page: String) -> Response {
    let mut r = (status, page).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The same address reads differently by language and session.
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    r
}

/// A page that only says what went wrong (unknown order, closed, system error…) and what to do next.
pub fn message_page(ctx: &Ctx, status: StatusCode, title: Msg, message: &str) -> Response {
    let title = ctx.t(title);
    html(status, layout(ctx, title, &format!("<div class=\"card\" id=\"notice\"><h1>{}</h1><p id=\"message\">{}</p></div>", esc(title), esc(message))))
}

/// [`message_page`] with a text of the catalogue.
pub fn notice(ctx: &Ctx, status: StatusCode, title: Msg, message: Msg) -> Response {
    message_page(ctx, status, title, ctx.t(message))
}

pub fn system_error(ctx: &Ctx, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "cashier page failed");
    notice(ctx, StatusCode::INTERNAL_SERVER_ERROR, Msg::SystemErrorTitle, Msg::SystemError)
}

/// A 303 to `location` (after a POST: the browser GETs it, and a reload does not post again).
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The logged-in wallet user, if the session cookie names a live session.
pub fn session(app: &App, headers: &HeaderMap) -> Result<Option<User>, saoma_store::StoreError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(token) if !token.is_empty() => crate::users::login::session_user(app, token),
        _ => Ok(None),
    }
}

/// `Set-Cookie` for a new session (its lifetime is the wallet session's, checked on every use).
pub fn session_cookie(app: &App, token: &str) -> HeaderValue {
    let secure = if app.public_base_url().starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400{secure}")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where a login may send the browser back to: a page of this server (never another site: no open
/// redirect), never one of its APIs.
pub fn safe_next(next: &str) -> Option<&str> {
    let mut segments = next.trim_start_matches('/').split(['?']).next().unwrap_or("").split('/');
    let first = segments.next().unwrap_or("");
    // Under /transit the wallet's pages (`/transit`, `/transit/{scope}`, its `code` and `refund`) sit beside
    // the gates' API (`/transit/{scope}/lists`, `/transit/terminals/…`).
    let transit_page = first == "transit" && {
        let (scope, page) = (segments.next(), segments.next());
        let scope_ok = scope.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        scope_ok && [None, Some("code"), Some("refund")].contains(&page) && segments.next().is_none()
    };
    let api = ["admin", "v3", "wallet", "transit", "healthz", "metrics"].contains(&first) && !transit_page;
    let ok_chars = next.bytes().all(|b| b.is_ascii_alphanumeric() || b"/?=&_-.%~".contains(&b));
    (next.starts_with('/') && !api && ok_chars && !next.contains("//") && !next.contains("..")).then_some(next)
}

/// Refuses POSTs that another site's page sent (the browser says so in `Origin` and
/// `Sec-Fetch-Site`): defence in depth beside the SameSite cookie.
async fn same_origin_posts(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST {
        let h = req.headers();
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        // This server as the browser reached it, or as it announces itself (behind a proxy). An opaque
        // origin ("null": a sandboxed frame, a privacy redirect) counts only where Sec-Fetch-Site vouches.
        let origin_ok = match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some("null") => fetch_site.is_some(),
            Some(o) => o == app.public_base_url() || o.strip_prefix("http://").or_else(|| o.strip_prefix("https://")).is_some_and(|o| o == host),
        };
        let fetch_ok = fetch_site.is_none_or(|s| s == "same-origin" || s == "none");
        if !(origin_ok && fetch_ok) {
            let ctx = Ctx { lang: Lang::of(h, None), switch: None };
            return notice(&ctx, StatusCode::FORBIDDEN, Msg::CrossSiteTitle, Msg::CrossSite);
        }
    }
    next.run(req).await
}

/// The widest QR PNG drawn, in pixels.
const MAX_PNG_PX: usize = 2048;

pub fn qr_answer(text: &str, kind: &str, q: &HashMap<String, String>) -> Response {
    let matrix = match qr::Matrix::encode(text) {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "code": "PARAM_ERROR", "message": e.to_string() }))).into_response(),
    };
    let (content_type, body) = match kind {
        "png" => {
            let scale = match q.get("scale").map(|s| s.parse::<usize>()) {
                None => qr::DEFAULT_SCALE,
                Some(Ok(s)) if (1..=qr::MAX_SCALE).contains(&s) => s,
                Some(_) => {
                    let message = format!("scale must be 1–{} pixels per module", qr::MAX_SCALE);
                    return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "code": "PARAM_ERROR", "message": message }))).into_response();
                }
            };
            // A large code at a large scale is megapixels deflated: refused past 2,048 px a side, and drawn
            // where blocking is allowed, not on an async worker.
            if matrix.size() * scale > MAX_PNG_PX {
                let message = format!("the image would be {} pixels wide; at most {MAX_PNG_PX} (a smaller scale or a shorter text)", matrix.size() * scale);
                return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "code": "PARAM_ERROR", "message": message }))).into_response();
            }
            ("image/png", crate::blocking(|| matrix.png(scale)))
        }
        _ => ("image/svg+xml", matrix.svg().into_bytes()),
    };
    // The same text always draws the same code: caches may keep it.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

/// `GET /qr.svg?text=…`: any text (at most 1 KiB) as a QR code.
async fn qr_svg(Query(q): Query<HashMap<String, String>>) -> Response {
    qr_answer(q.get("text").map(String::as_str).unwrap_or(""), "svg", &q)
}

/// `GET /qr.png?text=…[&scale=8]`.
async fn qr_png(Query(q): Query<HashMap<String, String>>) -> Response {
    qr_answer(q.get("text").map(String::as_str).unwrap_or(""), "png", &q)
}

/// The error of a form, said where a screen reader announces it.
pub fn error_box(error: Option<&str>) -> String {
    error.map(|e| format!("<div class=\"error\" id=\"error\" role=\"alert\">{}</div>", esc(e))).unwrap_or_default()
}


/// A form or query string, by field name.
pub type Params = HashMap<String, String>;

/// A field of a form or query string; empty when absent.
pub fn param<'a>(p: &'a Params, name: &str) -> &'a str {
    p.get(name).map(|s| s.trim()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_helpers() {
        assert_eq!(esc(r#"<script>alert("x")</script> & 'y'"#), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
        assert_eq!(url_encode("http://a/b?x=1&y=票"), "http%3A%2F%2Fa%2Fb%3Fx%3D1%26y%3D%E7%A5%A8");
        assert_eq!(yuan(150_000), "¥1500.00");
        assert_eq!(masked_phone("13800000001"), "138****0001");
        assert_eq!(masked_phone("+8613800000001"), "+86*******0001");
        assert_eq!(masked_phone("12345"), "12345");
        assert_eq!(safe_next("/cashier/h5?prepay_id=wxABC"), Some("/cashier/h5?prepay_id=wxABC"));
        assert_eq!(safe_next("/collect/1612345678"), Some("/collect/1612345678"));
        assert_eq!(safe_next("/"), Some("/"));
        assert_eq!(safe_next("/code"), Some("/code"));
        for good in ["/transit", "/transit/5", "/transit/5/code", "/transit/65535/refund"] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in ["/transit/5/lists", "/transit/terminals/9/uploads", "/transit/x", "/transit/5/code.png", "/transit//code"] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
        for bad in ["https://evil.example/", "//evil.example", "/collect//evil", "/admin/merchants", "/collect/x\r\nSet-Cookie:", "/collect/../admin", "/cashier/h5?x=\"><", "/wallet/balance", "/v3/certificates", "", "code", "/\\evil.example"] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}
