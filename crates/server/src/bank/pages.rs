//! The wallet's bank cards (`/cards`): the bound cards, binding one (the number and the PIN, then the
//! bank's SMS code: `cards::request` and `cards::confirm`, the wallet API's rules and limits), topping up
//! from a card and withdrawing to one (`/cards/topup`, `/cards/withdraw`: `bank::start`, after the same
//! checks as the wallet API: a retry first, the card, the PIN).
//!
//! A money form carries a one-time `request_id` drawn when the form is drawn: the bank's operations are
//! idempotent on it, so a double click or a resent POST answers with the operation already started
//! instead of moving the money again. A form shown again after a refusal that moved nothing keeps its
//! request_id; one whose request_id went to another operation gets a new one. Forms name a card by its
//! id; no page shows more of a number than its last four digits.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as in `http::web`).
#![allow(clippy::result_large_err)]

use super::cards::{self, Card, CardError};
use super::{BankError, Kind, Operation};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, masked_phone, param, session, system_error, yuan, Ctx, Params};
use crate::payments::PayError;
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::User;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use saoma_core::yuan::AmountError;
use std::sync::Arc;

const CSS: &str = "select{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.55rem;border:1px solid #ccc;border-radius:.35rem;background:#fff}\
ul.cards{list-style:none;padding:0;margin:0}ul.cards li{padding:.6rem 0;border-bottom:1px solid #eee}ul.cards li:last-child{border-bottom:0}\
.actions{display:flex;gap:.5rem}.actions a.button{flex:1}";

/// Length of a form's request_id (letters and digits; the bank takes up to 64).
const REQUEST_ID_LEN: usize = 24;

fn new_request_id(ctx: &Ctx) -> Result<String, Response> {
    saoma_wechatpay::aead::random_string(REQUEST_ID_LEN).map_err(|e| system_error(ctx, e.to_string()))
}

/// The logged-in user, or the page to answer instead (the login, coming back to `back`).
fn user_or_login(ctx: &Ctx, app: &App, headers: &HeaderMap, back: &str) -> Result<User, Response> {
    match session(app, headers) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(login_page(ctx, back)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

fn balance(app: &App, user: &User) -> Result<i64, saoma_store::StoreError> {
    Ok(app.store.account(user.wallet)?.map(|a| a.available()).unwrap_or(0))
}

fn page(ctx: &Ctx, user: &User, status: StatusCode, title: &str, body: Markup) -> Response {
    let body = markup! { style { (PreEscaped(CSS)) } (body) };
    html(status, wallet_page(ctx, user, Tab::Me, title, body))
}

/// A refusal of the PIN, in words that say what to do.
fn pin_message(ctx: &Ctx, e: PayError) -> (StatusCode, String) {
    match e {
        PayError::WrongPin { tries_left: 1 } => (StatusCode::FORBIDDEN, ctx.t(Msg::PinWrongOne).into()),
        PayError::WrongPin { tries_left } => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinWrong, &[("n", &tries_left.to_string())])),
        PayError::PinLocked { until } => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinLocked, &[("until", &ctx.lang.time(until))])),
        PayError::PinBusy => (StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::PinBusy).into()),
        other => {
            tracing::error!(error = ?other, "bank page: PIN");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).into())
        }
    }
}

fn pin_field(ctx: &Ctx) -> Markup {
    markup! {
        label for="pin" { (ctx.t(Msg::PinLabel)) }
        input #pin name="pin" type="password" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required;
    }
}

/// `/cards`: the bound cards, the top-up and withdrawal buttons, and the form that binds a card
/// (`card_no` typed so far and an error when it was refused).
fn cards_page(ctx: &Ctx, app: &App, user: &User, card_no: &str, error: Option<&str>, status: StatusCode) -> Response {
    let list = match cards::list(app, user.id) {
        Ok(l) => l,
        Err(e) => return system_error(ctx, e),
    };
    let body = markup! {
        div.card #cards {
            h1 { (ctx.t(Msg::CardsTitle)) }
            @if list.is_empty() {
                p #no-cards { (ctx.t(Msg::CardsNone)) }
            } @else {
                ul.cards {
                    @for c in &list {
                        li.bound-card data-tail=(c.tail) {
                            div { (ctx.fill(Msg::CardTail, &[("tail", &c.tail)])) }
                            div.muted { (ctx.fill(Msg::CardBoundAt, &[("time", &ctx.lang.time(c.bound_at))])) }
                        }
                    }
                }
                p.muted { (ctx.t(Msg::CardsHint)) }
                div.actions {
                    a.button #topup href="/cards/topup" { (ctx.t(Msg::TopUpTitle)) }
                    a.button.secondary #withdraw href="/cards/withdraw" { (ctx.t(Msg::WithdrawTitle)) }
                }
            }
        }
        div.card #bind {
            h1 { (ctx.t(Msg::BindTitle)) }
            (PreEscaped(error_box(error)))
            p.muted { (ctx.t(Msg::BindHint)) }
            form method="post" action="/cards/bind" {
                label for="card-no" { (ctx.t(Msg::CardNoLabel)) }
                input #card-no name="card_no" inputmode="numeric" autocomplete="cc-number" value=(card_no) required;
                (pin_field(ctx))
                button #bind-card type="submit" { (ctx.t(Msg::BindButton)) }
            }
        }
    };
    page(ctx, user, status, ctx.t(Msg::CardsTitle), body)
}

/// `GET /cards`.
pub async fn show(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match user_or_login(&ctx, &app, &headers, "/cards") {
        Ok(u) => u,
        Err(page) => return page,
    };
    cards_page(&ctx, &app, &user, "", None, StatusCode::OK)
}

/// The step that takes the bank's code for binding `binding` (the card ending in `tail`).
fn code_page(ctx: &Ctx, user: &User, binding: &str, tail: &str, error: Option<&str>, status: StatusCode) -> Response {
    let body = markup! {
        div.card #bind-code {
            h1 { (ctx.t(Msg::BindCodeTitle)) }
            (PreEscaped(error_box(error)))
            p.muted { (ctx.fill(Msg::BindCodeSent, &[("phone", &masked_phone(&user.phone)), ("tail", tail)])) }
            form method="post" action="/cards/bind/confirm" {
                input type="hidden" name="binding" value=(binding);
                input type="hidden" name="tail" value=(tail);
                label for="code" { (ctx.t(Msg::BankCodeLabel)) }
                input #code name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus;
                button #confirm-card type="submit" { (ctx.t(Msg::BindConfirm)) }
            }
            p { a.plain href="/cards" { (ctx.t(Msg::BackToCards)) } }
        }
    };
    page(ctx, user, status, ctx.t(Msg::BindCodeTitle), body)
}

/// A refusal to bind, in the reader's words.
fn card_message(ctx: &Ctx, app: &App, e: CardError) -> (StatusCode, String) {
    match e {
        CardError::BadCard => (StatusCode::BAD_REQUEST, ctx.t(Msg::CardBadNumber).into()),
        CardError::AlreadyBound => (StatusCode::CONFLICT, ctx.t(Msg::CardAlreadyBound).into()),
        CardError::BoundElsewhere => (StatusCode::CONFLICT, ctx.t(Msg::CardBoundElsewhere).into()),
        CardError::Pin(e) => pin_message(ctx, e.into()),
        CardError::NoSuchBinding => (StatusCode::NOT_FOUND, ctx.t(Msg::CardCodeFailed).into()),
        CardError::WrongCode { tries_left } => (StatusCode::FORBIDDEN, ctx.fill(Msg::CardCodeWrong, &[("n", &tries_left.to_string())])),
        // The bank's reason is its own wording, in English: the page says what it means for the user.
        CardError::Refused(why) if why.contains("start again") || why.contains("binding failed") || why.contains("no such binding") => {
            (StatusCode::FORBIDDEN, ctx.t(Msg::CardCodeFailed).into())
        }
        CardError::Refused(_) => (StatusCode::FORBIDDEN, ctx.t(Msg::CardRefused).into()),
        CardError::TooMany { retry_after } => {
            let until = ctx.lang.time(app.business_now_secs() + retry_after);
            (StatusCode::TOO_MANY_REQUESTS, ctx.fill(Msg::CardTooMany, &[("until", &until)]))
        }
        CardError::Store(e) => {
            tracing::error!(error = %e, "bank page: binding");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).into())
        }
    }
}

/// `POST /cards/bind {card_no, pin}`: the bank texts its code; the page asks for it.
pub async fn bind(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match user_or_login(&ctx, &app, &headers, "/cards") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    // People copy card numbers with spaces between the groups.
    let card_no: String = param(&p, "card_no").chars().filter(|c| !c.is_whitespace()).collect();
    match cards::request(&app, &user, card_no.clone(), param(&p, "pin")).await {
        Ok(b) => code_page(&ctx, &user, &b.id, &b.tail, None, StatusCode::OK),
        Err(e) => {
            let (status, message) = card_message(&ctx, &app, e);
            cards_page(&ctx, &app, &user, &card_no, Some(&message), status)
        }
    }
}

/// `POST /cards/bind/confirm {binding, tail, code}`: the bank's code; the card is bound.
pub async fn confirm(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match user_or_login(&ctx, &app, &headers, "/cards") {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let binding = param(&p, "binding");
    // Shown again only (the binding is the user's own, looked up by `cards::confirm`).
    let tail: String = param(&p, "tail").chars().filter(char::is_ascii_digit).take(4).collect();
    match cards::confirm(&app, &user, binding, param(&p, "code").to_string()).await {
        Ok(card) => bound_page(&ctx, &user, &card),
        Err(e @ CardError::WrongCode { .. }) => {
            let (status, message) = card_message(&ctx, &app, e);
            code_page(&ctx, &user, binding, &tail, Some(&message), status)
        }
        Err(e) => {
            let (status, message) = card_message(&ctx, &app, e);
            cards_page(&ctx, &app, &user, "", Some(&message), status)
        }
    }
}

fn bound_page(ctx: &Ctx, user: &User, card: &Card) -> Response {
    let body = markup! {
        div.card.success #card-bound {
            div.mark aria-hidden="true" { "✓" }
            h1 { (ctx.t(Msg::CardBoundTitle)) }
            p #result-text { (ctx.fill(Msg::CardBound, &[("tail", &card.tail)])) }
            a.button #topup href="/cards/topup" { (ctx.t(Msg::TopUpTitle)) }
            a.button.secondary href="/cards" { (ctx.t(Msg::BackToCards)) }
        }
    };
    page(ctx, user, StatusCode::OK, ctx.t(Msg::CardBoundTitle), body)
}

/// What a money form shows (again).
struct Entry<'a> {
    amount: &'a str,
    card: &'a str,
    request_id: &'a str,
    error: Option<&'a str>,
}

fn texts(kind: Kind) -> (Msg, Msg, Msg, &'static str) {
    match kind {
        Kind::TopUp => (Msg::TopUpTitle, Msg::TopUpAmount, Msg::TopUpButton, "/cards/topup"),
        Kind::Withdrawal => (Msg::WithdrawTitle, Msg::WithdrawAmount, Msg::WithdrawButton, "/cards/withdraw"),
    }
}

/// The top-up or withdrawal form: amount in yuan, the card, the PIN, the form's request_id.
fn money_form(ctx: &Ctx, app: &App, user: &User, kind: Kind, f: Entry<'_>, status: StatusCode) -> Response {
    let (title, amount_label, button, action) = texts(kind);
    let (list, available) = match (cards::list(app, user.id), balance(app, user)) {
        (Ok(l), Ok(b)) => (l, b),
        (Err(e), _) | (_, Err(e)) => return system_error(ctx, e),
    };
    let body = markup! {
        div.card #money-form {
            h1 { (ctx.t(title)) }
            (PreEscaped(error_box(f.error)))
            @if list.is_empty() {
                p #no-cards { (ctx.t(Msg::BindFirst)) }
                a.button href="/cards" { (ctx.t(Msg::BindTitle)) }
            } @else {
                p.muted {
                    @match kind {
                        Kind::TopUp => (ctx.t(Msg::TopUpHint)),
                        Kind::Withdrawal => (ctx.fill(Msg::WithdrawHint, &[("balance", &yuan(available))])),
                    }
                }
                form method="post" action=(action) {
                    input type="hidden" name="request_id" value=(f.request_id);
                    label for="amount" { (ctx.t(amount_label)) }
                    input #amount name="amount" inputmode="decimal" placeholder="0.00" value=(f.amount) required autofocus;
                    label for="card" { (ctx.t(Msg::CardLabel)) }
                    select #card name="card" required {
                        @for c in &list {
                            option value=(c.id) selected[c.id == f.card] { (ctx.fill(Msg::CardTail, &[("tail", &c.tail)])) }
                        }
                    }
                    (pin_field(ctx))
                    button #submit type="submit" { (ctx.t(button)) }
                }
            }
            p { a.plain href="/cards" { (ctx.t(Msg::BackToCards)) } }
        }
    };
    page(ctx, user, status, ctx.t(title), body)
}

async fn show_form(app: Arc<App>, ctx: Ctx, headers: HeaderMap, kind: Kind) -> Response {
    let user = match user_or_login(&ctx, &app, &headers, texts(kind).3) {
        Ok(u) => u,
        Err(page) => return page,
    };
    let request_id = match new_request_id(&ctx) {
        Ok(r) => r,
        Err(page) => return page,
    };
    money_form(&ctx, &app, &user, kind, Entry { amount: "", card: "", request_id: &request_id, error: None }, StatusCode::OK)
}

/// `GET /cards/topup`.
pub async fn topup_form(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    show_form(app, ctx, headers, Kind::TopUp).await
}

/// `GET /cards/withdraw`.
pub async fn withdraw_form(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    show_form(app, ctx, headers, Kind::Withdrawal).await
}

fn amount_message(ctx: &Ctx, e: AmountError) -> String {
    match e {
        AmountError::Format => ctx.t(Msg::AmountFormat).into(),
        AmountError::Zero => ctx.t(Msg::AmountZero).into(),
        AmountError::TooLarge => ctx.fill(Msg::AmountTooLarge, &[("max", &saoma_core::yuan::format(saoma_core::order::MAX_TOTAL))]),
    }
}

/// `POST /cards/topup` and `/cards/withdraw` {amount (yuan), card (its id), pin, request_id}.
async fn submit(app: Arc<App>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>, kind: Kind) -> Response {
    let user = match user_or_login(&ctx, &app, &headers, texts(kind).3) {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let (typed, card_id, request_id) = (param(&p, "amount"), param(&p, "card"), param(&p, "request_id"));
    let again = |error: &str, status: StatusCode| money_form(&ctx, &app, &user, kind, Entry { amount: typed, card: card_id, request_id, error: Some(error) }, status);
    if request_id.len() != REQUEST_ID_LEN || !request_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // Not a form this server drew: a fresh one.
        return match new_request_id(&ctx) {
            Ok(fresh) => money_form(&ctx, &app, &user, kind, Entry { amount: typed, card: card_id, request_id: &fresh, error: Some(ctx.t(Msg::BankFormUsed)) }, StatusCode::BAD_REQUEST),
            Err(page) => page,
        };
    }
    let amount = match saoma_core::yuan::parse(typed) {
        Ok(a) => a,
        Err(e) => return again(&amount_message(&ctx, e), StatusCode::BAD_REQUEST),
    };
    let card_no = match cards::number(&app, user.id, card_id) {
        Ok(Some(n)) => n,
        Ok(None) => return again(ctx.t(Msg::CardChoose), StatusCode::BAD_REQUEST),
        Err(e) => return system_error(&ctx, e),
    };
    // A second submit of the same form finds the operation the first started: its result, no PIN
    // asked, nothing moved again.
    let started = match super::replay(&app, user.id, kind, &card_no, amount, request_id) {
        Ok(Some(op)) => Ok(op),
        Ok(None) => match crate::users::pins::verify(&app, &user, param(&p, "pin")).await {
            Ok(proof) => super::start(&app, &user, kind, card_no.clone(), amount, request_id.to_string(), proof).await,
            Err(e) => Err(BankError::Pin(e)),
        },
        Err(e) => Err(e),
    };
    match started {
        Ok(op) => result_page(&ctx, &app, &user, kind, &op, &cards::tail(&card_no)),
        Err(BankError::NotEnough) => {
            let available = balance(&app, &user).unwrap_or(0);
            again(&ctx.fill(Msg::WithdrawNotEnough, &[("balance", &yuan(available)), ("amount", &yuan(amount))]), StatusCode::FORBIDDEN)
        }
        Err(BankError::Pin(e)) => {
            let (status, message) = pin_message(&ctx, e.into());
            again(&message, status)
        }
        Err(BankError::CardNotBound | BankError::BadCard) => again(ctx.t(Msg::CardChoose), StatusCode::FORBIDDEN),
        Err(BankError::BadAmount) => again(&amount_message(&ctx, AmountError::TooLarge), StatusCode::BAD_REQUEST),
        Err(BankError::RequestIdReused | BankError::BadRequestId) => match new_request_id(&ctx) {
            Ok(fresh) => money_form(&ctx, &app, &user, kind, Entry { amount: typed, card: card_id, request_id: &fresh, error: Some(ctx.t(Msg::BankFormUsed)) }, StatusCode::CONFLICT),
            Err(page) => page,
        },
        Err(BankError::Store(e)) => system_error(&ctx, e),
    }
}

/// `POST /cards/topup`.
pub async fn topup(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    submit(app, ctx, headers, form, Kind::TopUp).await
}

/// `POST /cards/withdraw`.
pub async fn withdraw(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    submit(app, ctx, headers, form, Kind::Withdrawal).await
}

/// What became of an operation: done, pending at the bank (it settles by itself), or declined.
fn result_page(ctx: &Ctx, app: &App, user: &User, kind: Kind, op: &Operation, tail: &str) -> Response {
    let available = match balance(app, user) {
        Ok(b) => b,
        Err(e) => return system_error(ctx, e),
    };
    let amount = yuan(op.amount);
    let args = [("amount", amount.as_str()), ("tail", tail), ("balance", &yuan(available))];
    let (mark, title, text) = match (op.state.as_str(), kind) {
        ("succeeded", Kind::TopUp) => ("✓", Msg::TopUpDoneTitle, Msg::TopUpDone),
        ("succeeded", Kind::Withdrawal) => ("✓", Msg::WithdrawDoneTitle, Msg::WithdrawDone),
        ("pending", Kind::TopUp) => ("…", Msg::BankPendingTitle, Msg::TopUpPending),
        ("pending", Kind::Withdrawal) => ("…", Msg::BankPendingTitle, Msg::WithdrawPending),
        (_, Kind::TopUp) => ("✕", Msg::BankDeclinedTitle, Msg::TopUpDeclined),
        (_, Kind::Withdrawal) => ("✕", Msg::BankDeclinedTitle, Msg::WithdrawDeclined),
    };
    let body = markup! {
        div.card.success #result data-state=(op.state) {
            div.mark.fail[mark == "✕"].wait[mark == "…"] aria-hidden="true" { (mark) }
            h1 { (ctx.t(title)) }
            p.amount { (amount) }
            p #result-text role="status" { (ctx.fill(text, &args)) }
            a.button #back-home href="/" { (ctx.t(Msg::BackToWallet)) }
            a.button.secondary href="/cards" { (ctx.t(Msg::BackToCards)) }
        }
    };
    let body = markup! { style { (PreEscaped(".mark.wait{background:#fa9d3b}")) } (body) };
    page(ctx, user, StatusCode::OK, ctx.t(title), body)
}
