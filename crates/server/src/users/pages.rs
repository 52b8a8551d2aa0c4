//! Logging in to the wallet from a payment page (the cashier and the collection code share it): the
//! phone, the SMS code, and — for a phone without a wallet — opening one on the spot.
//!
//! Opening a wallet is offered only after the code proved the phone (`login::login` answered
//! `NoSuchUser`, which it does only for a right code, leaving the code unused), and done by
//! `login::login_or_register`, which checks the code again in the same job that creates the wallet: a
//! form posted by anybody without the SMS opens nothing, and a wrong code there counts against the
//! phone as any wrong login code. The new wallet is empty, so the order page that follows says 余额不足
//! and how to top up. The send limits and the lock after wrong codes (`crate::users::login`) answer 429 with
//! `Retry-After`, in words that say how long to wait.

use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, param, Params, esc, html, layout, masked_phone, notice, safe_next, see_other, session_cookie, system_error, Ctx, SESSION_COOKIE};
use crate::users::login as wallet_login;
use crate::users::{self, UserError};
use crate::App;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use std::net::SocketAddr;
use std::sync::Arc;

/// The first login step (phone) for a page that sends the browser back to `next` when done.
pub fn login_card(ctx: &Ctx, next: &str, error: Option<&str>) -> String {
    format!(
        "<div class=\"card\"><h1>{}</h1>{}<p class=\"muted\">{}</p><form method=\"post\" action=\"/cashier/sms\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><label for=\"phone\">{}</label>\
         <input id=\"phone\" name=\"phone\" type=\"tel\" inputmode=\"numeric\" autocomplete=\"tel\" required>\
         <button id=\"send-code\" type=\"submit\">{}</button></form></div>",
        esc(ctx.t(Msg::LoginTitle)),
        error_box(error),
        esc(ctx.t(Msg::LoginHint)),
        esc(next),
        esc(ctx.t(Msg::PhoneLabel)),
        esc(ctx.t(Msg::SendCode)),
    )
}

/// A login page of its own: the code step, or the phone step again after a mistake (`phone` `None`).
fn login_page(ctx: &Ctx, status: StatusCode, next: &str, phone: Option<&str>, error: Option<&str>) -> Response {
    let body = match phone {
        None => login_card(ctx, next, error),
        Some(phone) => format!(
            "<div class=\"card\"><h1>{}</h1>{}<p class=\"muted\">{}</p>\
             <form method=\"post\" action=\"/cashier/login\"><input type=\"hidden\" name=\"next\" value=\"{}\"><input type=\"hidden\" name=\"phone\" value=\"{}\">\
             <label for=\"code\">{}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" required>\
             <button id=\"login\" type=\"submit\">{}</button></form><p><a class=\"plain\" href=\"{}\">{}</a></p></div>",
            esc(ctx.t(Msg::CodeTitle)),
            error_box(error),
            esc(&ctx.fill(Msg::CodeSent, &[("phone", &masked_phone(phone))])),
            esc(next),
            esc(phone),
            esc(ctx.t(Msg::CodeLabel)),
            esc(ctx.t(Msg::LoginButton)),
            esc(next),
            esc(ctx.t(Msg::Back)),
        ),
    };
    html(status, layout(ctx, ctx.t(Msg::LoginTitle), &body))
}

/// After a right code for a phone without a wallet: the offer to open one. The form carries the code
/// again, because opening the wallet checks it again (and only then uses it up).
fn no_wallet_page(ctx: &Ctx, next: &str, phone: &str, code: &str) -> Response {
    let body = format!(
        "<div class=\"card\" id=\"register-offer\"><h1>{}</h1><p>{}</p>\
         <form method=\"post\" action=\"/cashier/register\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <input type=\"hidden\" name=\"phone\" value=\"{}\"><input type=\"hidden\" name=\"code\" value=\"{}\">\
         <button id=\"register\" type=\"submit\">{}</button></form><p><a class=\"plain\" id=\"other-phone\" href=\"{}\">{}</a></p></div>",
        esc(ctx.t(Msg::NoWalletTitle)),
        esc(&ctx.fill(Msg::NoWallet, &[("phone", &masked_phone(phone))])),
        esc(next),
        esc(phone),
        esc(code),
        esc(ctx.t(Msg::RegisterButton)),
        esc(next),
        esc(ctx.t(Msg::OtherPhone)),
    );
    html(StatusCode::OK, layout(ctx, ctx.t(Msg::NoWalletTitle), &body))
}

fn bad_next(ctx: &Ctx) -> Response {
    notice(ctx, StatusCode::BAD_REQUEST, Msg::BadLinkTitle, Msg::BadLink)
}

/// A refusal page with `Retry-After` (seconds).
fn retry_after(mut r: Response, seconds: i64) -> Response {
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

/// `POST /cashier/sms` {phone, next}: sends the login code, then asks for it.
pub async fn send_code(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next(&ctx) };
    let phone = param(&p, "phone").replace([' ', '-'], "");
    match wallet_login::send_code(&app, phone.clone(), crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => login_page(&ctx, StatusCode::OK, next, Some(&phone), None),
        Err(UserError::BadPhone) => login_page(&ctx, StatusCode::BAD_REQUEST, next, None, Some(ctx.t(Msg::BadPhone))),
        // A code sent a moment ago is still the one to type: the code step stays open.
        Err(UserError::FrequencyLimited { retry_after: wait }) => {
            let says = ctx.fill(Msg::TooManyCodes, &[("secs", &wait.max(1).to_string())]);
            retry_after(login_page(&ctx, StatusCode::TOO_MANY_REQUESTS, next, Some(&phone), Some(&says)), wait)
        }
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// The page after a login (or registration) attempt: the session in the cookie and back to `next`,
/// or what went wrong on the code page.
fn logged_in(ctx: &Ctx, app: &App, next: &str, phone: &str, code: &str, outcome: Result<(String, users::User), UserError>) -> Response {
    match outcome {
        Ok((token, _)) => {
            let mut r = see_other(next);
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(app, &token));
            r
        }
        // The wrong code that locked the phone: back to the phone step, with until when.
        Err(UserError::BadCode { locked_until, .. }) if locked_until > 0 => {
            login_page(ctx, StatusCode::UNAUTHORIZED, next, None, Some(&ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(locked_until))])))
        }
        Err(UserError::BadCode { tries_left, .. }) => login_page(ctx, StatusCode::UNAUTHORIZED, next, Some(phone), Some(&ctx.fill(Msg::BadCode, &[("n", &tries_left.to_string())]))),
        Err(UserError::LoginLocked { until, retry_after: wait }) => {
            let says = ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(until))]);
            retry_after(login_page(ctx, StatusCode::TOO_MANY_REQUESTS, next, None, Some(&says)), wait)
        }
        // This address's wrong codes for the hour are used up (before its code was looked at).
        Err(UserError::FrequencyLimited { retry_after: wait }) => {
            let says = ctx.fill(Msg::TooManyTries, &[("secs", &wait.max(1).to_string())]);
            retry_after(login_page(ctx, StatusCode::TOO_MANY_REQUESTS, next, Some(phone), Some(&says)), wait)
        }
        // Only ever after a right code (the code is checked first).
        Err(UserError::NoSuchUser) => no_wallet_page(ctx, next, phone, code),
        Err(UserError::BadPhone) => login_page(ctx, StatusCode::BAD_REQUEST, next, None, Some(ctx.t(Msg::BadPhone))),
        Err(e) => system_error(ctx, format!("{e:?}")),
    }
}

/// `POST /cashier/login` {phone, code, next}: a wallet session in the cookie, back to the page; for a
/// phone without a wallet, the offer to open one.
pub async fn login(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next(&ctx) };
    let (phone, code) = (param(&p, "phone"), param(&p, "code"));
    let outcome = wallet_login::login(&app, phone.to_string(), code.to_string(), crate::http::proxy::client_addr(&app, peer, &headers)).await;
    logged_in(&ctx, &app, next, phone, code, outcome)
}

/// `POST /cashier/register` {phone, code, next}: opens a wallet for the phone the code proves (or logs
/// in, should it have one by now), then back to the page.
pub async fn register(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next(&ctx) };
    let (phone, code) = (param(&p, "phone"), param(&p, "code"));
    let outcome = wallet_login::login_or_register(&app, phone.to_string(), code.to_string(), true, crate::http::proxy::client_addr(&app, peer, &headers)).await;
    logged_in(&ctx, &app, next, phone, code, outcome)
}

/// `POST /cashier/logout` {next}: ends the wallet session and clears the cookie.
pub async fn logout(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next(&ctx) };
    if let Some(token) = crate::http::web::cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = wallet_login::logout(&app, token.to_string()).await {
            return system_error(&ctx, e);
        }
    }
    let mut r = see_other(next);
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("saoma_wallet=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
    r
}
