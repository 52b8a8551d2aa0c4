//! The payment code in the wallet app (`/code`): the code as a Code 128 barcode and a QR code with its
//! digits, a new one every minute and after each use; when a cashier's charge needs the PIN
//! (USERPAYING), the page asks for it instead. A small script of this server's (`/static/paycode.js`)
//! asks `/code/state` whether the code shown is still good and reloads the page when it is not; without
//! script the page reloads itself every minute.

use super::paycodes::{self, CodeState};
use super::Order;
use crate::http::web::i18n::Msg;
use crate::http::web::{barcode, error_box, html, html_with_script, param, qr, script, session, system_error, yuan, Ctx, Params};
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::User;
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use maud::{html as markup, PreEscaped};
use std::sync::Arc;

/// The digits as people read them off a screen: groups of four.
fn grouped(code: &str) -> String {
    code.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// `GET /code`: the order waiting for the PIN, if any; else a fresh payment code.
pub async fn show(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(&ctx, "/code"),
        Err(e) => return system_error(&ctx, e),
    };
    match paycodes::waiting(&app, &user) {
        Ok(w) if !w.is_empty() => {
            let (order, merchant) = &w[0];
            return confirm_page(&ctx, &user, order, merchant, None, StatusCode::OK);
        }
        Ok(_) => {}
        Err(e) => return system_error(&ctx, e),
    }
    let (code, _) = match paycodes::issue(&app, &user).await {
        Ok(c) => c,
        Err(e) => return system_error(&ctx, e),
    };
    let bars = barcode::svg(&code, 50).unwrap_or_default();
    let qr = qr::Matrix::encode(&code).map(|m| m.svg()).unwrap_or_default();
    let body = markup! {
        div.card.paycode #paycode data-code=(code) {
            h1 { (ctx.t(Msg::PayCodeTitle)) }
            div.barcode role="img" aria-label=(ctx.t(Msg::PayCodeBarcodeAlt)) { (PreEscaped(bars)) }
            p.digits #paycode-digits aria-label=(ctx.t(Msg::PayCodeDigits)) { (grouped(&code)) }
            div.qr role="img" aria-label=(ctx.t(Msg::PayCodeQrAlt)) { (PreEscaped(qr)) }
            p.muted { (ctx.t(Msg::PayCodeHint)) }
            a.button.secondary #new-code href="/code" { (ctx.t(Msg::PayCodeRefresh)) }
        }
        noscript { meta http-equiv="refresh" content="60"; }
        script src="/static/paycode.js" defer {}
    };
    html_with_script(StatusCode::OK, wallet_page(&ctx, &user, Tab::PayCode, ctx.t(Msg::PayCodeTitle), body))
}

/// The PIN form for a payment-code order waiting for it.
fn confirm_page(ctx: &Ctx, user: &User, order: &Order, merchant: &str, error: Option<&str>, status: StatusCode) -> Response {
    let amount = yuan(order.total);
    let body = markup! {
        div.card #confirm-card {
            h1 { (ctx.t(Msg::PayCodeWaitingTitle)) }
            (PreEscaped(error_box(error)))
            p.amount { (amount) }
            p #waiting { (ctx.fill(Msg::PayCodeWaiting, &[("merchant", merchant), ("amount", &amount)])) }
            form method="post" action="/code/confirm" {
                input type="hidden" name="transaction_id" value=(order.transaction_id);
                label for="pin" { (ctx.t(Msg::PinLabel)) }
                input #pin name="pin" type="password" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required autofocus;
                button #confirm type="submit" { (ctx.fill(Msg::PayCodeConfirm, &[("amount", &amount)])) }
            }
        }
    };
    html(status, wallet_page(ctx, user, Tab::PayCode, ctx.t(Msg::PayCodeWaitingTitle), body))
}

/// `POST /code/confirm {transaction_id, pin}`: pays the waiting order.
pub async fn confirm(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(&ctx, "/code"),
        Err(e) => return system_error(&ctx, e),
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let transaction_id = param(&p, "transaction_id");
    let waiting = match paycodes::waiting(&app, &user) {
        Ok(w) => w,
        Err(e) => return system_error(&ctx, e),
    };
    let Some((order, merchant)) = waiting.into_iter().find(|(o, _)| o.transaction_id == transaction_id) else {
        let body = markup! { div.card { p #gone { (ctx.t(Msg::PayCodeGone)) } a.button href="/" { (ctx.t(Msg::BackToWallet)) } } };
        return html(StatusCode::CONFLICT, wallet_page(&ctx, &user, Tab::PayCode, ctx.t(Msg::PayCodeTitle), body));
    };
    if user.pin_hash.is_none() {
        return confirm_page(&ctx, &user, &order, &merchant, Some(ctx.t(Msg::PayCodeNoPin)), StatusCode::FORBIDDEN);
    }
    match paycodes::confirm(&app, &user, transaction_id, param(&p, "pin")).await {
        Ok(paid) => {
            let amount = yuan(paid.total);
            let body = markup! {
                div.card.success #paid {
                    div.mark aria-hidden="true" { "✓" }
                    h1 { (ctx.t(Msg::PayCodePaidTitle)) }
                    p.amount { (amount) }
                    p { (ctx.fill(Msg::PayCodePaid, &[("merchant", &merchant), ("amount", &amount)])) }
                    a.button href="/" { (ctx.t(Msg::BackToWallet)) }
                }
            };
            html(StatusCode::OK, wallet_page(&ctx, &user, Tab::PayCode, ctx.t(Msg::PayCodePaidTitle), body))
        }
        Err(e) => {
            let (status, message) = crate::cashier::pages::refusal(&ctx, &app, &user, &e, order.total, Some(&order));
            confirm_page(&ctx, &user, &order, &merchant, Some(&message), status)
        }
    }
}

/// `GET /code/state?code=…`: `{"state": "valid" | "used" | "expired" | "waiting"}` for the page's script
/// (`waiting`: an order waits for the PIN). Another user's code reads as expired.
pub async fn state(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "code": "UNAUTHORIZED", "message": "log in first" }))).into_response(),
        Err(e) => return state_error(e),
    };
    let waiting = paycodes::waiting(&app, &user).map(|w| !w.is_empty());
    let state = paycodes::state(&app, &user, param(&q, "code"));
    let name = match (waiting, state) {
        (Ok(true), _) => "waiting",
        (Ok(false), Ok(Some(CodeState::Valid))) => "valid",
        (Ok(false), Ok(Some(CodeState::Used))) => "used",
        (Ok(false), Ok(_)) => "expired",
        (Err(e), _) | (_, Err(e)) => return state_error(e),
    };
    let mut r = Json(serde_json::json!({ "state": name })).into_response();
    r.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    r
}

/// A failed read, logged; the page's script only learns to ask again.
fn state_error(e: saoma_store::StoreError) -> Response {
    tracing::error!(error = %e, "payment code state");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "code": "SYSTEM_ERROR", "message": "system error" }))).into_response()
}

/// Reloads the payment-code page when the code shown stops being good (used, expired, or an order
/// waits for the PIN), asking every 1.5 s; and after a minute in any case (a fresh code).
const PAYCODE_JS: &str = r#""use strict";
(function () {
  var card = document.getElementById("paycode");
  if (!card) return;
  var code = card.getAttribute("data-code");
  function ask() {
    fetch("/code/state?code=" + encodeURIComponent(code), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) { if (s.state === "valid") setTimeout(ask, 1500); else location.replace("/code"); })
      .catch(function () { setTimeout(ask, 3000); });
  }
  setTimeout(ask, 1500);
  setTimeout(function () { location.replace("/code"); }, 60000);
})();
"#;

pub async fn paycode_js() -> Response {
    script(PAYCODE_JS)
}
