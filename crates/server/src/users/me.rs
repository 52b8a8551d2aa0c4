//! The wallet's History (`/history`: every movement of the wallet, `users::history`) and Me (`/me`: the
//! phone, the payment PIN, where cards and agreements are) tabs, and setting the PIN from the page.
//!
//! A wallet opened from the login page has no PIN, and money cannot enter or leave it without one: Me
//! texts a code for that purpose (`login::Purpose::SetPin`, the login's limits) and takes it with the new
//! PIN twice; the job that sets the PIN checks the code (`pins::set`). A wallet with a PIN changes it
//! with the old one (`pins::verify`, tries counted). The forms move no money, so they carry no request_id.

// Page helpers answer `Result<T, Response>`: the error is the finished page (large, built only on the way out).
#![allow(clippy::result_large_err)]

use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, masked_phone, param, see_other, session, system_error, yuan, Ctx, Params};
use crate::users::history::{self, Kind};
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::login::{self, Purpose};
use crate::users::pins::{self, PinError, SetPinError};
use crate::users::{User, UserError};
use crate::App;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use saoma_core::order::{TradeState, TradeType};
use std::net::SocketAddr;
use std::sync::Arc;

const HISTORY_CSS: &str = "ul.moves{list-style:none;margin:0;padding:0}ul.moves li{display:flex;justify-content:space-between;gap:.75rem;padding:.7rem 0;border-top:1px solid #eee}\
ul.moves li:first-child{border-top:0}.move-what{min-width:0;overflow-wrap:anywhere}.move-what p{margin:0}.move-amount{font-weight:600;white-space:nowrap;font-variant-numeric:tabular-nums}\
.move-amount.in{color:#07c160}.declined{color:#a8071a}";
const ME_CSS: &str = ".pin-state{font-weight:600}.pin-state.none,.pin-state.locked{color:#a8071a}.done{background:#e8f8ef;color:#05713a;padding:.6rem .8rem;border-radius:.35rem;margin:.5rem 0}\
ul.links{list-style:none;margin:0;padding:0}ul.links li{border-top:1px solid #eee}ul.links li:first-child{border-top:0}ul.links a{display:block;padding:.75rem 0;color:#576b95;text-decoration:none}summary{color:#576b95;cursor:pointer;padding:.25rem 0}";

/// The session's user, or the login page that comes back to `next`.
fn user_or_login(app: &App, ctx: &Ctx, headers: &HeaderMap, next: &str) -> Result<User, Response> {
    match session(app, headers) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(login_page(ctx, next)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// `-¥12.50` / `+¥12.50`.
fn signed(fen: i64) -> String {
    if fen < 0 {
        format!("-{}", yuan(-fen))
    } else {
        format!("+{}", yuan(fen))
    }
}

/// What an entry is, and its state when it has one worth saying (`true`: a refusal).
fn describe(ctx: &Ctx, kind: &Kind) -> (String, Option<(&'static str, bool)>) {
    match kind {
        Kind::Payment { merchant, trade_type, state, .. } => {
            let what = if *trade_type == TradeType::Pap { Msg::HistWithholding } else { Msg::HistPayment };
            let state = match state {
                TradeState::Success => (Msg::StatePaid, false),
                TradeState::Refund => (Msg::StateRefunded, false),
                TradeState::Revoked | TradeState::Closed => (Msg::StateReversed, false),
                TradeState::NotPay | TradeState::UserPaying => (Msg::StatePending, false),
                TradeState::PayError => (Msg::StateFailed, true),
            };
            (ctx.fill(what, &[("merchant", merchant)]), Some((ctx.t(state.0), state.1)))
        }
        Kind::Refund { merchant, .. } => (ctx.fill(Msg::HistRefund, &[("merchant", merchant)]), None),
        Kind::Bank { withdrawal, state, .. } => {
            let state = match state.as_str() {
                "pending" => (Msg::StatePending, false),
                "succeeded" => (Msg::StateSucceeded, false),
                _ => (Msg::StateDeclined, true),
            };
            (ctx.t(if *withdrawal { Msg::HistWithdrawal } else { Msg::HistTopUp }).to_string(), Some((ctx.t(state.0), state.1)))
        }
        Kind::Deposit { returned, merchant, .. } => (ctx.fill(if *returned { Msg::HistDepositReturned } else { Msg::HistDepositHeld }, &[("merchant", merchant)]), None),
        Kind::RideOwed { merchant, .. } => (ctx.fill(Msg::HistRideOwed, &[("merchant", merchant)]), Some((ctx.t(Msg::StateOwed), true))),
    }
}

/// `GET /history`: the wallet's movements, newest first.
pub async fn history_page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match user_or_login(&app, &ctx, &headers, "/history") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let entries = match crate::blocking(|| history::of(&app, user.id)) {
        Ok(e) => e,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        style { (PreEscaped(HISTORY_CSS)) }
        div.card #history {
            h1 { (ctx.t(Msg::HistoryTitle)) }
            @if entries.is_empty() {
                p #history-empty { (ctx.t(Msg::HistoryEmpty)) }
                a.button #history-topup href="/cards" { (ctx.t(Msg::HistoryTopUp)) }
                a.button.secondary href="/code" { (ctx.t(Msg::HistoryShowCode)) }
            } @else {
                p.muted { (ctx.t(Msg::HistoryHint)) }
                ul.moves {
                    @for e in &entries {
                        @let (what, state) = describe(&ctx, &e.kind);
                        li.move {
                            div.move-what {
                                p.move-title { (what) }
                                p.muted { time { (ctx.lang.time(e.at)) } }
                                @if let Some((state, refused)) = state { p.muted.move-state.declined[refused] { (state) } }
                            }
                            @if let Kind::RideOwed { fare, scope, .. } = &e.kind {
                                a.move-amount.declined.owed href=(format!("/transit/{scope}")) { (yuan(*fare)) }
                            } @else {
                                span.move-amount.in[e.amount > 0] { (signed(e.amount)) }
                            }
                        }
                    }
                }
            }
        }
    };
    html(StatusCode::OK, wallet_page(&ctx, &user, Tab::History, ctx.t(Msg::HistoryTitle), body))
}

/// Which form the PIN card shows.
enum PinStep<'a> {
    /// No PIN: the button that texts a code.
    Start,
    /// No PIN, a code sent: code and the new PIN twice.
    Code,
    /// A PIN: the old one and the new one twice.
    Change,
    /// Done (`set` or `changed`): said above the form.
    Done(Msg, &'a PinStep<'a>),
}

/// `open`: the change form shown unfolded (it answers a refusal); otherwise folded under its button.
fn pin_form(ctx: &Ctx, user: &User, step: &PinStep, open: bool) -> Markup {
    let new_pin = markup! {
        label for="new-pin" { (ctx.t(Msg::NewPinLabel)) }
        input #new-pin name="pin" type="password" inputmode="numeric" autocomplete="new-password" pattern="[0-9]{6}" maxlength="6" required;
        label for="new-pin-again" { (ctx.t(Msg::NewPinAgainLabel)) }
        input #new-pin-again name="pin_again" type="password" inputmode="numeric" autocomplete="new-password" pattern="[0-9]{6}" maxlength="6" required;
    };
    let phone = masked_phone(&user.phone);
    match step {
        PinStep::Start => markup! {
            p { (ctx.fill(Msg::PinNoneHint, &[("phone", &phone)])) }
            form method="post" action="/me/pin/sms" {
                button #pin-send-code type="submit" { (ctx.t(Msg::PinSendCode)) }
            }
        },
        PinStep::Code => markup! {
            p { (ctx.fill(Msg::PinCodeSent, &[("phone", &phone)])) }
            form method="post" action="/me/pin" {
                label for="code" { (ctx.t(Msg::CodeLabel)) }
                input #code name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required;
                (new_pin)
                button #set-pin type="submit" { (ctx.t(Msg::SetPinButton)) }
            }
        },
        PinStep::Change => markup! {
            details #change-pin-details open[open] {
                summary #change-pin-open { (ctx.t(Msg::ChangePinButton)) }
                p.muted { (ctx.t(Msg::ChangePinHint)) }
                form method="post" action="/me/pin" {
                    label for="old-pin" { (ctx.t(Msg::OldPinLabel)) }
                    input #old-pin name="old_pin" type="password" inputmode="numeric" autocomplete="current-password" pattern="[0-9]{6}" maxlength="6" required;
                    (new_pin)
                    button #change-pin type="submit" { (ctx.t(Msg::ChangePinButton)) }
                }
            }
        },
        PinStep::Done(msg, then) => markup! {
            p.done #pin-done role="status" { (ctx.t(*msg)) }
            (pin_form(ctx, user, then, open))
        },
    }
}

/// The Me page with the PIN card at `step`, `error` said in it.
fn me_page(ctx: &Ctx, app: &App, user: &User, step: &PinStep, error: Option<&str>, status: StatusCode) -> Response {
    let pin = match pins::status(app, user.id) {
        Ok(p) => p,
        Err(e) => return system_error(ctx, e),
    };
    let (state, class) = if pin.locked_until > 0 {
        (ctx.fill(Msg::PinStateLocked, &[("until", &ctx.lang.time(pin.locked_until))]), "locked")
    } else if pin.set {
        (ctx.t(Msg::PinStateSet).to_string(), "set")
    } else {
        (ctx.t(Msg::PinStateNone).to_string(), "none")
    };
    let body = markup! {
        style { (PreEscaped(ME_CSS)) }
        div.card #me {
            h1 { (ctx.t(Msg::MeTitle)) }
            dl {
                dt { (ctx.t(Msg::MePhone)) } dd #me-phone { (masked_phone(&user.phone)) }
                dt { (ctx.t(Msg::PinSection)) } dd { span.pin-state.(class) #pin-state { (state) } }
            }
        }
        div.card #pin-card {
            h1 { (ctx.t(Msg::PinSection)) }
            (PreEscaped(error_box(error)))
            (pin_form(ctx, user, step, error.is_some()))
        }
        div.card #more {
            h1 { (ctx.t(Msg::MoreSection)) }
            ul.links {
                li { a #cards-link href="/cards" { (ctx.t(Msg::CardsLink)) } }
                li { a #agreements-link href="/agreements" { (ctx.t(Msg::AgreementsLink)) } }
            }
        }
    };
    html(status, wallet_page(ctx, user, Tab::Me, ctx.t(Msg::MeTitle), body))
}

/// The PIN form a user with (or without) a PIN starts from.
fn first_step(user: &User) -> PinStep<'static> {
    if user.pin_hash.is_some() {
        PinStep::Change
    } else {
        PinStep::Start
    }
}

/// `GET /me[?pin=set|changed]`.
pub async fn me(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let user = match user_or_login(&app, &ctx, &headers, "/me") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let first = first_step(&user);
    let step = match param(&q, "pin") {
        "set" if user.pin_hash.is_some() => PinStep::Done(Msg::PinSetDone, &first),
        "changed" if user.pin_hash.is_some() => PinStep::Done(Msg::PinChangedDone, &first),
        _ => first_step(&user),
    };
    me_page(&ctx, &app, &user, &step, None, StatusCode::OK)
}

/// What a refused code says (the login's words: the same limits and counts).
fn code_refusal(ctx: &Ctx, e: &UserError) -> (StatusCode, String) {
    match e {
        UserError::BadCode { locked_until, .. } if *locked_until > 0 => (StatusCode::UNAUTHORIZED, ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(*locked_until))])),
        UserError::BadCode { tries_left, .. } => (StatusCode::UNAUTHORIZED, ctx.fill(Msg::BadCode, &[("n", &tries_left.to_string())])),
        UserError::LoginLocked { until, .. } => (StatusCode::TOO_MANY_REQUESTS, ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(*until))])),
        UserError::FrequencyLimited { retry_after } => (StatusCode::TOO_MANY_REQUESTS, ctx.fill(Msg::TooManyTries, &[("secs", &retry_after.max(&1).to_string())])),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).to_string()),
    }
}

/// `POST /me/pin/sms`: texts a code for setting the PIN, then asks for it with the new PIN.
pub async fn send_pin_code(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let user = match user_or_login(&app, &ctx, &headers, "/me") {
        Ok(u) => u,
        Err(page) => return page,
    };
    if user.pin_hash.is_some() {
        return see_other("/me");
    }
    match login::send_code_for(&app, user.phone.clone(), Purpose::SetPin, crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => me_page(&ctx, &app, &user, &PinStep::Code, None, StatusCode::OK),
        // A code sent a moment ago is still the one to type: the code step stays open.
        Err(UserError::FrequencyLimited { retry_after }) => {
            let says = ctx.fill(Msg::TooManyCodes, &[("secs", &retry_after.max(1).to_string())]);
            me_page(&ctx, &app, &user, &PinStep::Code, Some(&says), StatusCode::TOO_MANY_REQUESTS)
        }
        // Set meanwhile (another tab): Me offers changing it.
        Err(UserError::PinSet) => see_other("/me"),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// `POST /me/pin {code | old_pin, pin, pin_again}`: sets or changes the PIN, then back to Me.
pub async fn set_pin(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match user_or_login(&app, &ctx, &headers, "/me") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    // The step the form came from is the step a refusal shows again.
    let step = if user.pin_hash.is_some() { PinStep::Change } else { PinStep::Code };
    let refuse = |status, says: &str| me_page(&ctx, &app, &user, &step, Some(says), status);
    let (pin, again) = (param(&p, "pin"), param(&p, "pin_again"));
    if !saoma_core::pin::valid_format(pin) {
        return refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::PinBadFormat));
    }
    if pin != again {
        return refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::PinMismatch));
    }
    let (code, old) = (param(&p, "code"), param(&p, "old_pin"));
    let client = crate::http::proxy::client_addr(&app, peer, &headers);
    let done = if user.pin_hash.is_some() { "changed" } else { "set" };
    match pins::set(&app, &user, Some(code), Some(old), pin, client).await {
        Ok(()) => see_other(&format!("/me?pin={done}")),
        Err(SetPinError::BadPin) => refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::PinBadFormat)),
        Err(SetPinError::CodeRequired) => refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::PinCodeMissing)),
        Err(SetPinError::Code(e)) => {
            let (status, says) = code_refusal(&ctx, &e);
            refuse(status, &says)
        }
        // A PIN was set by another request meanwhile: the change form, with the old PIN.
        Err(SetPinError::OldPinRequired) => me_page(&ctx, &app, &user, &PinStep::Change, Some(ctx.t(Msg::PinSetMeanwhile)), StatusCode::CONFLICT),
        Err(SetPinError::OldPin(PinError::Wrong { tries_left: 1 })) => refuse(StatusCode::FORBIDDEN, ctx.t(Msg::PinWrongOne)),
        Err(SetPinError::OldPin(PinError::Wrong { tries_left })) => refuse(StatusCode::FORBIDDEN, &ctx.fill(Msg::PinWrong, &[("n", &tries_left.to_string())])),
        Err(SetPinError::OldPin(PinError::Locked { until })) => refuse(StatusCode::FORBIDDEN, &ctx.fill(Msg::PinLocked, &[("until", &ctx.lang.time(until))])),
        Err(SetPinError::OldPin(PinError::Busy)) => refuse(StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::PinBusy)),
        Err(SetPinError::OldPin(PinError::Store(e))) => system_error(&ctx, e),
        Err(SetPinError::Store(e)) => system_error(&ctx, e),
    }
}
