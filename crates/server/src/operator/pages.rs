//! The operator console's login, its page shell (tabs, logout), and the merchants and users lists.
//! Every page but the login's answers a visitor without a live session with a redirect to the login.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::LoginError;
use crate::http::web::i18n::Msg;
use crate::http::web::{cookie, error_box, html, layout, masked_phone, param, see_other, system_error, url_encode, yuan, Ctx, Params};
use crate::App;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use saoma_core::time::cst_day_start;
use std::net::SocketAddr;
use std::sync::Arc;

const COOKIE: &str = "saoma_operator";
/// Rows a list shows at most.
pub(super) const LIST_LIMIT: i64 = 100;

/// The console's own style: wider on a desktop, lists of items as a grid of cards.
const CSS: &str = "@media (min-width:48rem){main{max-width:64rem}}\
nav.ops{display:flex;flex-wrap:wrap;gap:.4rem;margin:.5rem 0 1rem}nav.ops a{flex:1 0 28%;text-align:center;padding:.5rem;border-radius:.35rem;background:#fff;color:#576b95;text-decoration:none}\
nav.ops a.current{background:#07c160;color:#fff}.badge{display:inline-block;background:#fff3cd;color:#7a5b00;border-radius:.3rem;padding:.1rem .45rem;font-size:.8rem}\
ul.items{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.75rem}\
ul.items li{background:#fafafa;border:1px solid #eee;border-radius:.4rem;padding:.6rem .75rem}ul.items h2{font-size:1rem;margin:0 0 .3rem;word-break:break-all}\
ul.items dl{grid-template-columns:auto 1fr;font-size:.9rem;margin:.2rem 0}.bad{color:#a8071a}.good{color:#07c160;font-weight:600}\
select{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.5rem;border:1px solid #ccc;border-radius:.35rem;background:#fff}\
pre{white-space:pre-wrap;word-break:break-all;font-size:.85rem}";

/// `Set-Cookie` for an operator session (`max_age` seconds; 0 clears it).
fn session_cookie(app: &App, token: &str, max_age: i64) -> HeaderValue {
    let secure = if app.public_base_url().starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/operator; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE).filter(|t| !t.is_empty())
}

/// Where a login may return to: a page of this console, nothing else.
fn next_page(next: &str) -> &str {
    match crate::http::web::safe_next(next) {
        Some(n) if n == "/operator" || n.starts_with("/operator/") || n.starts_with("/operator?") => n,
        _ => "/operator",
    }
}

/// Nothing unless the request carries a live operator session; otherwise the redirect to the login,
/// which returns to `uri` (a page asked for by GET) afterwards.
pub(super) fn require(app: &App, ctx: &Ctx, headers: &HeaderMap, uri: &Uri) -> Result<(), Response> {
    match token(headers).map(|t| super::session(app, t)) {
        Some(Ok(true)) => Ok(()),
        Some(Err(e)) => Err(system_error(ctx, e)),
        _ => {
            let back = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/operator");
            Err(see_other(&format!("/operator/login?next={}", url_encode(next_page(back)))))
        }
    }
}

const TABS: [(&str, Msg); 6] = [
    ("/operator/merchants", Msg::OpsTabMerchants),
    ("/operator/users", Msg::OpsTabUsers),
    ("/operator/transit", Msg::OpsTabTransit),
    ("/operator/notifications", Msg::OpsTabNotifications),
    ("/operator/ledger", Msg::OpsTabLedger),
    ("/operator/clock", Msg::OpsTabClock),
];

/// A page of the console: its title, the tabs, the body, the logout.
pub(super) fn operator_page(ctx: &Ctx, app: &App, status: StatusCode, current: &str, title: &str, body: Markup) -> Response {
    let page = markup! {
        style { (PreEscaped(CSS)) }
        p.muted.who #who {
            (ctx.t(Msg::OpsTitle))
            @if app.config.sandbox { " " span.badge #sandbox { (ctx.t(Msg::OpsSandbox)) } }
        }
        nav.ops aria-label=(ctx.t(Msg::OpsTitle)) {
            @for (href, label) in TABS {
                @if href == current { a.current href=(href) aria-current="page" { (ctx.t(label)) } } @else { a href=(href) { (ctx.t(label)) } }
            }
        }
        (body)
        form.logout method="post" action="/operator/logout" { button.link #logout type="submit" { (ctx.t(Msg::LogOut)) } }
    };
    html(status, layout(ctx, title, &page.into_string()))
}

/// "Only the newest N are shown", when a list was cut.
pub(super) fn cut(ctx: &Ctx, shown: usize) -> Markup {
    markup! { @if shown as i64 >= LIST_LIMIT { p.muted.cut { (ctx.fill(Msg::OpsNewestOnly, &[("n", &LIST_LIMIT.to_string())])) } } }
}

fn login_form(ctx: &Ctx, status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let body = markup! {
        style { (PreEscaped(CSS)) }
        div.card #operator-login {
            h1 { (ctx.t(Msg::OpsLoginTitle)) }
            (PreEscaped(error_box(error)))
            p.muted { (ctx.t(Msg::OpsLoginHint)) }
            form method="post" action="/operator/login" {
                input type="hidden" name="next" value=(next_page(next));
                label for="token" { (ctx.t(Msg::OpsTokenLabel)) }
                input #token name="token" type="password" autocomplete="current-password" autocapitalize="off" spellcheck="false" required autofocus;
                button #login type="submit" { (ctx.t(Msg::LoginButton)) }
            }
        }
    };
    html(status, layout(ctx, ctx.t(Msg::OpsLoginTitle), &body.into_string()))
}

/// `GET /operator/login?next=`: the token form (a live session goes straight on).
pub(super) async fn login_page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let next = param(&q, "next");
    if let Some(Ok(true)) = token(&headers).map(|t| super::session(&app, t)) {
        return see_other(next_page(next));
    }
    login_form(&ctx, StatusCode::OK, next, None)
}

/// `POST /operator/login {token, next}`: a session for the admin token's holder; wrong tokens counted.
pub(super) async fn login(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let next = param(&p, "next");
    let client = crate::http::proxy::client_addr(&app, peer, &headers);
    match super::login(&app, param(&p, "token"), client).await {
        Ok(token) => {
            tracing::info!(client = %client, "operator console login");
            let mut r = see_other(next_page(next));
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &token, super::SESSION_SECS));
            r
        }
        Err(LoginError::WrongToken { tries_left }) => {
            tracing::warn!(client = %client, tries_left, "operator console: wrong admin token");
            login_form(&ctx, StatusCode::UNAUTHORIZED, next, Some(&ctx.fill(Msg::OpsWrongToken, &[("n", &tries_left.to_string())])))
        }
        Err(LoginError::Locked { until }) => {
            tracing::warn!(client = %client, until, "operator console: address locked out");
            let mut r = login_form(&ctx, StatusCode::TOO_MANY_REQUESTS, next, Some(&ctx.fill(Msg::OpsLocked, &[("until", &ctx.lang.time(until))])));
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from((until - super::now()).max(1)));
            r
        }
        Err(LoginError::Store(e)) => system_error(&ctx, e),
    }
}

/// `POST /operator/logout`: ends the session, back to the login.
pub(super) async fn logout(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    if let Some(t) = token(&headers) {
        if let Err(e) = super::logout(&app, t).await {
            return system_error(&ctx, e);
        }
    }
    let mut r = see_other("/operator/login");
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    r
}

/// `GET /operator`: the merchants, the first tab.
pub(super) async fn home(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    match require(&app, &ctx, &headers, &uri) {
        Ok(()) => see_other("/operator/merchants"),
        Err(r) => r,
    }
}

/// `GET /operator/merchants`: each merchant with today's takings (China day, business clock) and its
/// failing notifications.
pub(super) async fn merchants(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let day = cst_day_start(app.business_now_secs());
    let read = crate::blocking(|| {
        let listed = crate::merchants::list(&app, LIST_LIMIT)?;
        let failing = crate::notifications::admin::failing(&app, None, 1000)?;
        listed
            .into_iter()
            .map(|m| {
                let (count, sum, _) = crate::payments::orders::paid_since(&app, &m.mchid, day, 0)?;
                let failing = failing.iter().filter(|f| f.mchid == m.mchid).count();
                Ok((m, count, sum, failing))
            })
            .collect::<Result<Vec<_>, saoma_store::StoreError>>()
    });
    let all = match read {
        Ok(a) => a,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #merchants {
            h1 #merchants-title { (ctx.t(Msg::OpsMerchantsTitle)) }
            @if all.is_empty() { p.muted #no-merchants { (ctx.t(Msg::OpsNoMerchants)) } }
            ul.items aria-labelledby="merchants-title" {
                @for (m, count, sum, failing) in &all {
                    li.merchant data-mchid=(m.mchid) {
                        h2 { (m.name) }
                        dl {
                            dt { (ctx.t(Msg::OpsMchid)) } dd.mchid { (m.mchid) }
                            dt { (ctx.t(Msg::OpsCreated)) } dd { (ctx.lang.time(m.created_at)) }
                            dt { (ctx.t(Msg::OpsKeyMode)) } dd { (key_mode(&ctx, &m.key_mode)) }
                            dt { (ctx.t(Msg::OpsTakingsToday)) } dd.takings { (ctx.fill(Msg::OpsTakingsValue, &[("amount", &yuan(*sum)), ("n", &count.to_string())])) }
                            dt { (ctx.t(Msg::OpsNotifyUrl)) } dd.notify-url { (m.notify_url.as_deref().unwrap_or(ctx.t(Msg::OpsNone))) }
                        }
                        @if *failing > 0 {
                            p { a.plain.bad.failing href={ "/operator/notifications?mchid=" (url_encode(&m.mchid)) } { (ctx.fill(Msg::OpsFailingLink, &[("n", &failing.to_string())])) } }
                        }
                    }
                }
            }
            (cut(&ctx, all.len()))
        }
    };
    operator_page(&ctx, &app, StatusCode::OK, "/operator/merchants", ctx.t(Msg::OpsMerchantsTitle), body)
}

fn key_mode(ctx: &Ctx, mode: &str) -> String {
    match mode {
        "public_key" => ctx.t(Msg::OpsKeyModePublicKey).to_string(),
        "certificate" => ctx.t(Msg::OpsKeyModeCertificate).to_string(),
        other => other.to_string(),
    }
}

/// `GET /operator/users`: each wallet by its masked phone, its PIN's state, balance and bound cards.
pub(super) async fn users(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let read = crate::blocking(|| {
        crate::users::newest(&app, LIST_LIMIT)?
            .into_iter()
            .map(|u| {
                let pin = crate::users::pins::status(&app, u.id)?;
                let balance = app.store.account(u.wallet)?.map(|a| a.available()).unwrap_or(0);
                let cards = crate::bank::cards::list(&app, u.id)?.len();
                Ok((masked_phone(&u.phone), pin, balance, cards))
            })
            .collect::<Result<Vec<_>, saoma_store::StoreError>>()
    });
    let all = match read {
        Ok(a) => a,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #users {
            h1 #users-title { (ctx.t(Msg::OpsUsersTitle)) }
            p.muted { (ctx.t(Msg::OpsUsersHint)) }
            @if all.is_empty() { p.muted #no-users { (ctx.t(Msg::OpsNoUsers)) } }
            ul.items aria-labelledby="users-title" {
                @for (phone, pin, balance, cards) in &all {
                    li.user {
                        h2.phone { (phone) }
                        dl {
                            dt { (ctx.t(Msg::OpsPinState)) }
                            dd.pin {
                                @if pin.locked_until > 0 { span.bad { (ctx.fill(Msg::OpsPinLocked, &[("until", &ctx.lang.time(pin.locked_until))])) } }
                                @else if pin.set { (ctx.t(Msg::OpsPinSet)) }
                                @else { (ctx.t(Msg::OpsPinNotSet)) }
                            }
                            dt { (ctx.t(Msg::OpsBalance)) } dd.balance { (yuan(*balance)) }
                            dt { (ctx.t(Msg::OpsCards)) } dd.cards { (ctx.fill(Msg::OpsCardCount, &[("n", &cards.to_string())])) }
                        }
                    }
                }
            }
            (cut(&ctx, all.len()))
        }
    };
    operator_page(&ctx, &app, StatusCode::OK, "/operator/users", ctx.t(Msg::OpsUsersTitle), body)
}
