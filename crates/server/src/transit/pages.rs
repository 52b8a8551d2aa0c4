//! The transit card in the wallet app (`/transit`): the operators (straight to the card when there is one),
//! opening the card (the deposit, the PIN), the card with its debt (repaid with the PIN), its rides, the
//! card refund and its 72-hour hold, and the blocked and closed states in words; the ride code itself
//! (`/transit/{scope}/code`, its QR as PNG, a new code every 30 s by `/static/transit.js`) is drawn by
//! `device.rs`. The pages call the service's functions (`open`, `repay`, `request_card_refund`,
//! `rider_view`), as the wallet API does; every page reads only the session's own card.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as in `http::web`).
#![allow(clippy::result_large_err)]

use super::device::{self, Drawn};
use super::TransitFail;
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, html_with_script, param, script, see_other, session, system_error, yuan, Ctx, Params};
use crate::payments::PayError;
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::User;
use crate::{hex, App};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{html as markup, Markup, PreEscaped};
use serde_json::Value;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/transit", get(index))
        .route("/transit/:scope", get(card))
        .route("/transit/:scope/open", post(open))
        .route("/transit/:scope/repay", post(repay))
        .route("/transit/:scope/refund", get(confirm_refund).post(refund))
        .route("/transit/:scope/code", get(code))
        .route("/transit/:scope/code.json", get(code_json))
        .route("/transit/:scope/code.png", get(code_png))
        .route("/static/transit.js", get(transit_js))
}

const CSS: &str = ".state-badge{float:right;font-size:.85rem;padding:.1rem .5rem;border-radius:1rem;background:#e8f8ef;color:#067a3f}\
.state-badge.BLOCKED,.state-badge.LEAVING,.state-badge.CLOSED{background:#fff3e0;color:#ad5b00}\
.debt{border:2px solid #fa5151}.debt h1{color:#a8071a;font-size:1.4rem;font-weight:600}\
.notice{background:#fff7e6;border-left:4px solid #fa8c16}\
.done{background:#e8f8ef;color:#05713a;padding:.6rem .8rem;border-radius:.35rem;margin:.5rem 0}\
ul.rides{list-style:none;margin:0;padding:0}\
ul.rides li{display:flex;justify-content:space-between;gap:.75rem;padding:.7rem 0;border-top:1px solid #eee}\
ul.rides li:first-child{border-top:0}.ride-what{min-width:0}.ride-what p{margin:0}\
.ride-fare{font-weight:600;white-space:nowrap;font-variant-numeric:tabular-nums}\
.owed{color:#a8071a}.ridecode{text-align:center}.ridecode img{width:15rem;height:15rem;max-width:100%;image-rendering:pixelated}\
ul.operators{list-style:none;margin:0;padding:0}\
ul.operators a{display:block;padding:.75rem 0;border-top:1px solid #eee;color:#576b95;text-decoration:none}#refund-yes{background:#fa5151}";

/// The session's user, or the login page that comes back to `next`.
fn user_or_login(app: &App, ctx: &Ctx, headers: &HeaderMap, next: &str) -> Result<User, Response> {
    match session(app, headers) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(login_page(ctx, next)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

fn page(ctx: &Ctx, user: &User, status: StatusCode, title: &str, body: Markup) -> Response {
    html(status, wallet_page(ctx, user, Tab::Home, title, markup! { style { (PreEscaped(CSS)) } (body) }))
}

/// A page that only says something, with the way back to the wallet.
fn say(ctx: &Ctx, user: &User, status: StatusCode, text: &str) -> Response {
    let body = markup! {
        div.card #notice { h1 { (ctx.t(Msg::TransitTitle)) } p #message { (text) } a.button href="/" { (ctx.t(Msg::BackToWallet)) } }
    };
    page(ctx, user, status, ctx.t(Msg::TransitTitle), body)
}

/// The user and the operator named in the path (an unknown one is a page that says so).
fn user_and_operator(app: &App, ctx: &Ctx, headers: &HeaderMap, s: &str, next: &str) -> Result<(User, device::OperatorEntry), Response> {
    let user = user_or_login(app, ctx, headers, next)?;
    let ops = device::operators(app).map_err(|e| system_error(ctx, e))?;
    match s.parse::<u16>().ok().and_then(|scope| ops.into_iter().find(|o| o.scope == scope)) {
        Some(op) => Ok((user, op)),
        None => Err(say(ctx, &user, StatusCode::NOT_FOUND, ctx.t(Msg::TransitNoSuchOperator))),
    }
}

/// `GET /transit`: straight to the card when there is one operator, else the list.
async fn index(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match user_or_login(&app, &ctx, &headers, "/transit") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let ops = match device::operators(&app) {
        Ok(o) => o,
        Err(e) => return system_error(&ctx, e),
    };
    match ops.as_slice() {
        [] => say(&ctx, &user, StatusCode::OK, ctx.t(Msg::TransitNoOperator)),
        [one] => see_other(&format!("/transit/{}", one.scope)),
        many => {
            let body = markup! {
                div.card #operators {
                    h1 { (ctx.t(Msg::TransitTitle)) }
                    p { (ctx.t(Msg::TransitChooseOperator)) }
                    ul.operators {
                        @for o in many {
                            @let deposit = ctx.fill(Msg::TransitOperatorDeposit, &[("deposit", &yuan(o.deposit))]);
                            li { a href=(format!("/transit/{}", o.scope)) { (o.merchant) " · " span.muted { (deposit) } } }
                        }
                    }
                }
            };
            page(&ctx, &user, StatusCode::OK, ctx.t(Msg::TransitTitle), body)
        }
    }
}

/// What a refused PIN or a failure says (the other refusals are said where they happen).
fn pin_refusal(ctx: &Ctx, e: &TransitFail) -> (StatusCode, String) {
    match e {
        TransitFail::Pin(PayError::WrongPin { tries_left: 1 }) => (StatusCode::FORBIDDEN, ctx.t(Msg::PinWrongOne).into()),
        TransitFail::Pin(PayError::WrongPin { tries_left }) => {
            (StatusCode::FORBIDDEN, ctx.fill(Msg::PinWrong, &[("n", &tries_left.to_string())]))
        }
        TransitFail::Pin(PayError::PinLocked { until }) => {
            (StatusCode::FORBIDDEN, ctx.fill(Msg::PinLocked, &[("until", &ctx.lang.time(*until))]))
        }
        TransitFail::Pin(PayError::PinBusy) => (StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::PinBusy).into()),
        other => {
            tracing::error!(error = ?other, "transit page");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).into())
        }
    }
}

fn pin_field(ctx: &Ctx, id: &str) -> Markup {
    markup! {
        label for=(id) { (ctx.t(Msg::PinLabel)) }
        input id=(id) name="pin" type="password" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required;
    }
}

/// Where the card page says something above the card: an error, or what was just done.
enum Said<'a> {
    Nothing,
    Error(&'a str),
    Done(String),
}

/// Where a ride went, as people read it: both stops, or the one tap a flat fare (or a missing partner)
/// leaves.
fn stops(ctx: &Ctx, r: &Value) -> String {
    let stop = |s: &Value| s.as_i64().map(|s| ctx.fill(Msg::TransitStop, &[("stop", &s.to_string())]));
    match (stop(&r["entry_stop"]), stop(&r["exit_stop"])) {
        (Some(from), Some(to)) => ctx.fill(Msg::TransitRideStops, &[("from", &from), ("to", &to)]),
        (Some(from), None) => ctx.fill(Msg::TransitRideIn, &[("stop", &from)]),
        (None, Some(to)) => ctx.fill(Msg::TransitRideOut, &[("stop", &to)]),
        (None, None) => ctx.t(Msg::TransitRidesTitle).to_string(),
    }
}

fn rides(ctx: &Ctx, view: &Value) -> Markup {
    let list = view["rides"].as_array().cloned().unwrap_or_default();
    markup! {
        div.card #rides {
            h1 { (ctx.t(Msg::TransitRidesTitle)) }
            @if list.is_empty() { p #no-rides { (ctx.t(Msg::TransitNoRides)) } }
            ul.rides {
                @for r in &list {
                    @let state = r["state"].as_str().unwrap_or("");
                    @let said = match state {
                        "CHARGED" => Msg::TransitRideCharged,
                        "DEBT" => Msg::TransitRideDebt,
                        "CORRECTED" => Msg::TransitRideCorrected,
                        _ => Msg::TransitRideOpen,
                    };
                    @let at = r["exit_time"].as_i64().or(r["entry_time"].as_i64()).unwrap_or(0);
                    li.ride data-state=(state) data-fare=(r["fare"].as_i64().unwrap_or(0)) {
                        div.ride-what {
                            p.ride-stops { (stops(ctx, r)) }
                            p.muted { time { (ctx.lang.time(at)) } }
                            p.muted.ride-state.owed[state == "DEBT"] { (ctx.t(said)) }
                        }
                        span.ride-fare.owed[state == "DEBT"] { (yuan(r["fare"].as_i64().unwrap_or(0))) }
                    }
                }
            }
        }
    }
}

/// The open form (no card, or the last one closed), with the closed card's words above it.
fn open_form(
    ctx: &Ctx,
    app: &App,
    user: &User,
    op: &device::OperatorEntry,
    closed: Option<&Value>,
    said: &Said,
) -> Result<Markup, Response> {
    let closed_text = match closed {
        Some(v) => {
            let card_no = v["card_no"].as_str().unwrap_or("");
            let deposits = super::deposits_of(app, user.id, 50).map_err(|e| system_error(ctx, e))?;
            let at = deposits.iter().find(|d| d.card_no == card_no).and_then(|d| d.returned_at).unwrap_or(0);
            Some(ctx.fill(
                Msg::TransitClosed,
                &[("card_no", card_no), ("deposit", &yuan(v["deposit"].as_i64().unwrap_or(0))), ("time", &ctx.lang.time(at))],
            ))
        }
        None => None,
    };
    let (deposit, max_fare, merchant) = (yuan(op.deposit), yuan(op.max_fare), op.merchant.as_str());
    let error = if let Said::Error(e) = said { Some(*e) } else { None };
    Ok(markup! {
        @if let Some(t) = closed_text { div.card.notice #closed { p { (t) } } }
        div.card #open-card {
            h1 { (ctx.fill(Msg::TransitOpenTitle, &[("merchant", merchant)])) }
            (PreEscaped(error_box(error)))
            dl { dt { (ctx.t(Msg::TransitDepositLabel)) } dd #deposit { (deposit) } }
            p #open-hint { (ctx.fill(Msg::TransitOpenHint, &[("deposit", &deposit), ("merchant", merchant), ("max_fare", &max_fare)])) }
            form method="post" action=(format!("/transit/{}/open", op.scope)) {
                (pin_field(ctx, "pin"))
                button #open type="submit" { (ctx.fill(Msg::TransitOpenButton, &[("deposit", &deposit)])) }
            }
            @if error.is_some() { a.button.secondary #topup href="/cards" { (ctx.t(Msg::TransitTopUp)) } }
        }
    })
}

/// The card page: the open form when there is no card; else the card, its debt or state in words, the
/// rides, and the card refund.
fn card_page(ctx: &Ctx, app: &App, user: &User, op: &device::OperatorEntry, said: Said, status: StatusCode) -> Response {
    let view = match super::rider_view(app, user, op.scope) {
        Ok(v) => v,
        Err(e) => return system_error(ctx, e),
    };
    let title = ctx.t(Msg::TransitTitle);
    let v = match view {
        Some(v) if v["state"] != "CLOSED" => v,
        closed => {
            return match open_form(ctx, app, user, op, closed.as_ref(), &said) {
                Ok(body) => page(ctx, user, status, title, body),
                Err(page) => page,
            }
        }
    };
    let state = v["state"].as_str().unwrap_or("ACTIVE");
    let (debt, deposit) = (v["debt"].as_i64().unwrap_or(0), yuan(v["deposit"].as_i64().unwrap_or(0)));
    let owed = v["rides"].as_array().map(|r| r.iter().filter(|r| r["state"] == "DEBT").count()).unwrap_or(0);
    let state_text = match state {
        "BLOCKED" => Msg::TransitStateBlocked,
        "LEAVING" => Msg::TransitStateLeaving,
        _ => Msg::TransitStateActive,
    };
    let leaving = if state == "LEAVING" {
        let due = match device::deposit_due(app, user, op.scope) {
            Ok(d) => d.unwrap_or(0),
            Err(e) => return system_error(ctx, e),
        };
        let requested = ctx.lang.time(v["refund_requested_at"].as_i64().unwrap_or(0));
        Some(ctx.fill(Msg::TransitLeaving, &[("requested", &requested), ("deposit", &deposit), ("due", &ctx.lang.time(due))]))
    } else {
        None
    };
    let blocked_until = v["blocked"]["until_unix"].as_i64();
    let scope = op.scope;
    let body = markup! {
        @match &said {
            Said::Done(t) => { p.done #done role="status" { (t) } }
            Said::Error(e) if debt == 0 => { (PreEscaped(error_box(Some(*e)))) }
            _ => {}
        }
        @if debt > 0 {
            div.card.debt #debt data-debt=(debt) {
                h1 { (ctx.fill(Msg::TransitDebtTitle, &[("debt", &yuan(debt))])) }
                @if let Said::Error(e) = &said { (PreEscaped(error_box(Some(*e)))) }
                p { (ctx.fill(Msg::TransitDebtText, &[("n", &owed.max(1).to_string())])) }
                form method="post" action=(format!("/transit/{scope}/repay")) {
                    (pin_field(ctx, "repay-pin"))
                    button #repay type="submit" { (ctx.fill(Msg::TransitRepayButton, &[("debt", &yuan(debt))])) }
                }
                a.button.secondary href="/cards" { (ctx.t(Msg::TransitTopUp)) }
            }
        }
        @if let (Some(until), "BLOCKED") = (blocked_until, state) {
            @let said = ctx.fill(Msg::TransitBlocked, &[("until", &ctx.lang.time(until)), ("merchant", &op.merchant)]);
            div.card.notice #blocked { p { (said) } }
        }
        @if let Some(t) = &leaving {
            div.card.notice #leaving { p { (t) } @if debt > 0 { p { (ctx.t(Msg::TransitLeavingDebt)) } } }
        }
        div.card #transit-card data-state=(state) {
            span #card-state class=(format!("state-badge {state}")) { (ctx.t(state_text)) }
            h1 { (op.merchant) }
            dl {
                dt { (ctx.t(Msg::TransitCardNo)) } dd #card-no { (v["card_no"].as_str().unwrap_or("")) }
                dt { (ctx.t(Msg::TransitDepositLabel)) } dd #card-deposit { (deposit) }
            }
            @if state == "ACTIVE" && debt == 0 {
                a.button #show-code href=(format!("/transit/{scope}/code")) { (ctx.t(Msg::TransitShowCode)) }
            }
        }
        (rides(ctx, &v))
        @if state == "ACTIVE" || state == "BLOCKED" {
            div.card { a.plain #refund-link href=(format!("/transit/{scope}/refund")) { (ctx.t(Msg::TransitRefundLink)) } }
        }
    };
    page(ctx, user, status, title, body)
}

/// `GET /transit/{scope}[?opened=1]`.
async fn card(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>, Query(q): Query<Params>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let said = if param(&q, "opened") == "1" { Said::Done(ctx.t(Msg::TransitOpened).into()) } else { Said::Nothing };
    card_page(&ctx, &app, &user, &op, said, StatusCode::OK)
}

fn balance(app: &App, user: &User) -> i64 {
    crate::cashier::pages::available(app, user).unwrap_or(0)
}

/// `POST /transit/{scope}/open {pin}`: the deposit held and the card opened, then the card.
async fn open(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>, form: Option<Form<Params>>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    match super::open(&app, &user, op.scope, param(&p, "pin")).await {
        Ok(_) => see_other(&format!("/transit/{}?opened=1", op.scope)),
        // Opened meanwhile (the form sent twice): the card is what was asked for.
        Err(TransitFail::CardOpen) => see_other(&format!("/transit/{}", op.scope)),
        Err(TransitFail::NotEnough) => {
            let says = ctx.fill(Msg::TransitNotEnough, &[("balance", &yuan(balance(&app, &user))), ("deposit", &yuan(op.deposit))]);
            card_page(&ctx, &app, &user, &op, Said::Error(&says), StatusCode::FORBIDDEN)
        }
        Err(e) => {
            let (status, says) = pin_refusal(&ctx, &e);
            card_page(&ctx, &app, &user, &op, Said::Error(&says), status)
        }
    }
}

/// `POST /transit/{scope}/repay {pin}`: every unpaid ride paid from the wallet, all or nothing.
async fn repay(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>, form: Option<Form<Params>>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let proof = match crate::users::pins::verify(&app, &user, param(&p, "pin")).await {
        Ok(proof) => proof,
        Err(e) => {
            let (status, says) = pin_refusal(&ctx, &TransitFail::Pin(e.into()));
            return card_page(&ctx, &app, &user, &op, Said::Error(&says), status);
        }
    };
    match super::repay(&app, &user, op.scope, Some(proof)).await {
        Ok(0) => card_page(&ctx, &app, &user, &op, Said::Done(ctx.t(Msg::TransitNoDebt).into()), StatusCode::OK),
        Ok(paid) => {
            card_page(&ctx, &app, &user, &op, Said::Done(ctx.fill(Msg::TransitRepaid, &[("amount", &yuan(paid))])), StatusCode::OK)
        }
        Err(TransitFail::NotEnough) => {
            let debt = super::rider_view(&app, &user, op.scope).ok().flatten().and_then(|v| v["debt"].as_i64()).unwrap_or(0);
            let says = ctx.fill(Msg::TransitRepayNotEnough, &[("balance", &yuan(balance(&app, &user))), ("debt", &yuan(debt))]);
            card_page(&ctx, &app, &user, &op, Said::Error(&says), StatusCode::FORBIDDEN)
        }
        Err(TransitFail::NoCard) => see_other(&format!("/transit/{}", op.scope)),
        Err(e) => {
            let (status, says) = pin_refusal(&ctx, &e);
            card_page(&ctx, &app, &user, &op, Said::Error(&says), status)
        }
    }
}

/// `GET /transit/{scope}/refund`: what giving the card back means, and the confirming button.
async fn confirm_refund(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}/refund")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let view = match super::rider_view(&app, &user, op.scope) {
        Ok(v) => v,
        Err(e) => return system_error(&ctx, e),
    };
    let Some(v) = view.filter(|v| v["state"] == "ACTIVE" || v["state"] == "BLOCKED") else {
        return see_other(&format!("/transit/{}", op.scope));
    };
    let body = markup! {
        div.card #confirm-refund {
            h1 { (ctx.t(Msg::TransitRefundTitle)) }
            p #refund-text { (ctx.fill(Msg::TransitRefundText, &[("deposit", &yuan(v["deposit"].as_i64().unwrap_or(0)))])) }
            form method="post" action=(format!("/transit/{}/refund", op.scope)) {
                button #refund-yes type="submit" { (ctx.t(Msg::TransitRefundYes)) }
            }
            a.button.secondary #refund-no href=(format!("/transit/{}", op.scope)) { (ctx.t(Msg::TransitRefundNo)) }
        }
    };
    page(&ctx, &user, StatusCode::OK, ctx.t(Msg::TransitRefundTitle), body)
}

/// `POST /transit/{scope}/refund`: the card refund asked for (no money moves now), then the card.
async fn refund(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    match super::request_card_refund(&app, &user, op.scope).await {
        Ok(_) | Err(TransitFail::NoCard) => see_other(&format!("/transit/{}", op.scope)),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// The code's generation time as shown: China time to the second.
fn made_at(ctx: &Ctx, at: i64) -> String {
    let t = saoma_core::time::format_rfc3339_cst(at);
    ctx.fill(Msg::TransitCodeMade, &[("time", t.get(11..19).unwrap_or(&t))])
}

fn png_path(scope: u16, d: &Drawn) -> String {
    format!("/transit/{scope}/code.png?n={}", d.counter)
}

/// `GET /transit/{scope}/code`: a new code (the next counter), or the card page saying why not.
async fn code(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, op) = match user_and_operator(&app, &ctx, &headers, &s, &format!("/transit/{s}/code")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let drawn = match device::draw(&app, &user, op.scope).await {
        Ok(d) => d,
        Err(TransitFail::Store(e)) => return system_error(&ctx, e),
        // No card, in debt, blocked, leaving: the card page says which, and what to do.
        Err(_) => return see_other(&format!("/transit/{}", op.scope)),
    };
    let body = markup! {
        div.card.ridecode #ridecode data-code=(hex::encode(&drawn.bytes)) data-counter=(drawn.counter) data-scope=(op.scope) {
            h1 { (op.merchant) " · " (ctx.t(Msg::TransitCodeTitle)) }
            img #ridecode-qr src=(png_path(op.scope, &drawn)) alt=(ctx.t(Msg::TransitCodeAlt));
            p.muted #made-at aria-live="polite" { (made_at(&ctx, drawn.made_at)) }
            p { (ctx.t(Msg::TransitCodeHint)) }
            a.button.secondary #new-code href=(format!("/transit/{}/code", op.scope)) { (ctx.t(Msg::TransitCodeRefresh)) }
            a.button.secondary href=(format!("/transit/{}", op.scope)) { (ctx.t(Msg::TransitBackToCard)) }
        }
        noscript { meta http-equiv="refresh" content="30"; }
        script src="/static/transit.js" defer {}
    };
    let page = wallet_page(&ctx, &user, Tab::Home, ctx.t(Msg::TransitCodeTitle), markup! { style { (PreEscaped(CSS)) } (body) });
    html_with_script(StatusCode::OK, page)
}

fn json_no_store(status: StatusCode, v: Value) -> Response {
    let mut r = (status, Json(v)).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /transit/{scope}/code.json`: the page's script's next code: `{code, counter, png, made}`; 409
/// when no code can be drawn (the script then reloads the page, which says why).
async fn code_json(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return json_no_store(StatusCode::UNAUTHORIZED, serde_json::json!({ "code": "UNAUTHORIZED", "message": "log in first" }))
        }
        Err(e) => return system_error(&ctx, e),
    };
    let Ok(scope) = s.parse::<u16>() else {
        return json_no_store(StatusCode::NOT_FOUND, serde_json::json!({ "code": "OPERATOR_NOT_EXIST", "message": "no such operator" }));
    };
    match device::draw(&app, &user, scope).await {
        Ok(d) => json_no_store(
            StatusCode::OK,
            serde_json::json!({
                "code": hex::encode(&d.bytes), "counter": d.counter, "png": png_path(scope, &d), "made": made_at(&ctx, d.made_at),
            }),
        ),
        Err(TransitFail::Store(e)) => {
            tracing::error!(error = %e, "ride code");
            json_no_store(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "code": "SYSTEM_ERROR", "message": "system error" }))
        }
        Err(_) => json_no_store(StatusCode::CONFLICT, serde_json::json!({ "code": "NO_CODE", "message": "open the card page" })),
    }
}

/// `GET /transit/{scope}/code.png?n=COUNTER`: the code the page shows (the last drawn, if its counter is
/// `n`) as a QR image of its raw bytes; never cached. Another user's session finds none.
async fn code_png(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>, Query(q): Query<Params>) -> Response {
    let missing = || (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such code").into_response();
    let (Ok(Some(user)), Ok(scope), Ok(n)) = (session(&app, &headers), s.parse::<u16>(), param(&q, "n").parse::<u16>()) else {
        return missing();
    };
    let drawn = match device::last_drawn(&app, &user, scope, n) {
        Ok(Some(d)) => d,
        Ok(None) => return missing(),
        Err(e) => {
            tracing::error!(error = %e, "ride code image");
            return (StatusCode::INTERNAL_SERVER_ERROR, "system error").into_response();
        }
    };
    let Ok(matrix) = crate::http::web::qr::Matrix::encode_bytes(&drawn.bytes) else { return missing() };
    let png = crate::blocking(move || matrix.png(6));
    ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response()
}

/// Every 30 s while the page is on screen, a new code (the next counter) in place of the one shown; a
/// code that cannot be drawn reloads the page (which says why). Nothing is drawn while the page is
/// hidden: a new code when it shows again if the one on screen is 30 s old.
const TRANSIT_JS: &str = r#""use strict";
(function () {
  var card = document.getElementById("ridecode");
  if (!card) return;
  var scope = card.getAttribute("data-scope");
  var img = document.getElementById("ridecode-qr");
  var made = document.getElementById("made-at");
  var shownAt = Date.now();
  function next() {
    fetch("/transit/" + scope + "/code.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw r.status; return r.json(); })
      .then(function (c) {
        shownAt = Date.now();
        card.setAttribute("data-code", c.code);
        card.setAttribute("data-counter", String(c.counter));
        img.src = c.png;
        made.textContent = c.made;
      })
      .catch(function (status) { if (status === 409 || status === 401) location.reload(); });
  }
  setInterval(function () { if (!document.hidden && Date.now() - shownAt >= 30000) next(); }, 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden && Date.now() - shownAt >= 30000) next(); });
})();
"#;

async fn transit_js() -> Response {
    script(TRANSIT_JS)
}
