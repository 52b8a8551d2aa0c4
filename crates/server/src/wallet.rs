//! The wallet API for users (saoma's own, in the v3 style: JSON, `{code, message}` errors): log in with
//! phone + SMS code, see the balance, pay a `code_url` or `prepay_id` (with the PIN above the
//! password-free limit).

use crate::login;
use crate::payments::{self, PayError};
use crate::users::{User, UserError};
use crate::App;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/wallet/sms", post(send_code))
        .route("/wallet/login", post(login))
        .route("/wallet/balance", get(balance))
        .route("/wallet/transactions", get(transactions))
        .route("/wallet/pay", post(pay))
        .route("/wallet/paycode", post(paycode))
        .route("/wallet/paying", get(paying))
        .route("/wallet/confirm", post(confirm))
        .route("/wallet/agreements", get(agreements))
        .route("/wallet/agreements/:contract_id/sign", post(sign_agreement))
        .route("/wallet/agreements/:contract_id/terminate", post(terminate_agreement))
        .route("/wallet/topup", post(top_up))
        .route("/wallet/withdraw", post(withdraw))
        .route("/wallet/cards", get(cards).post(bind_card))
        .route("/wallet/cards/:binding_id/confirm", post(confirm_card))
        .route("/wallet/pin", get(pin_status))
}

pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "code": code, "message": message.into() }))).into_response()
}

/// 429 with `Retry-After` (seconds).
fn too_many(code: &str, message: String, retry_after: i64) -> Response {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, code, message);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    r
}

pub fn user_error(e: UserError) -> Response {
    let time = saoma_core::time::format_rfc3339_cst;
    match e {
        UserError::BadPhone => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", crate::users::PHONE_RULE),
        UserError::BadPin => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "the PIN must be 6 digits"),
        UserError::BadBalance => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "balance must be 0 to 100,000,000,000 fen"),
        UserError::PhoneTaken => error(StatusCode::CONFLICT, "PHONE_TAKEN", "this phone is registered already"),
        UserError::NoSuchUser => error(StatusCode::NOT_FOUND, "USER_NOT_EXIST", "no user with this phone"),
        UserError::BadCode { locked_until, .. } if locked_until > 0 => {
            error(StatusCode::UNAUTHORIZED, "CODE_INVALID", format!("the SMS code is wrong, used or expired; too many wrong codes: login locked until {}", time(locked_until)))
        }
        UserError::BadCode { tries_left, .. } => error(StatusCode::UNAUTHORIZED, "CODE_INVALID", format!("the SMS code is wrong, used or expired; {tries_left} tries left")),
        UserError::FrequencyLimited { retry_after } => too_many("FREQUENCY_LIMITED", format!("too many SMS codes asked for, or too many wrong codes from this address; try again in {retry_after} s"), retry_after),
        UserError::LoginLocked { until, retry_after } => too_many("LOGIN_LOCKED", format!("too many wrong codes: login locked until {}", time(until)), retry_after),
        UserError::Store(e) => {
            tracing::error!(error = %e, "wallet request failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

pub(crate) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| error(StatusCode::BAD_REQUEST, "PARAM_ERROR", format!("body: {e}")))
}

pub(crate) fn session(app: &App, headers: &HeaderMap) -> Result<User, Response> {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
    let Some(token) = token else { return Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "log in first")) };
    match login::session_user(app, token) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "session expired or unknown")),
        Err(e) => Err(user_error(UserError::Store(e))),
    }
}

#[derive(serde::Deserialize)]
struct Phone {
    phone: String,
}

async fn send_code(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let req: Phone = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match login::send_code(&app, req.phone, crate::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => user_error(e),
    }
}

#[derive(serde::Deserialize)]
struct Login {
    phone: String,
    code: String,
}

async fn login(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let req: Login = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match login::login(&app, req.phone, req.code, crate::proxy::client_addr(&app, peer, &headers)).await {
        Ok((token, user)) => Json(json!({ "token": token, "user_id": format!("{:032x}", user.id) })).into_response(),
        Err(e) => user_error(e),
    }
}

async fn balance(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match app.store.account(user.wallet) {
        Ok(Some(a)) => Json(json!({ "currency": "CNY", "balance": a.credit_balance(), "available": a.available() })).into_response(),
        Ok(None) => error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "wallet missing"),
        Err(e) => user_error(UserError::Store(e)),
    }
}

/// The user's payments, refunds, top-ups and withdrawals, and transit deposits held and returned, newest
/// first (at most 50).
async fn transactions(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let rows = crate::blocking(|| -> Result<Vec<(i64, serde_json::Value)>, saoma_store::StoreError> {
        let mut out = Vec::new();
        for r in app.store.query(
            // Paid orders only: a payment-code order that was never charged (USERPAYING, PAYERROR,
            // revoked before paying) moved no money.
            "SELECT o.success_at, o.mchid, m.name, o.out_trade_no, o.transaction_id, o.description, o.total, o.trade_state FROM orders o \
             JOIN merchants m ON m.mchid = o.mchid WHERE o.payer_user = $1 AND o.success_at IS NOT NULL ORDER BY o.success_at DESC LIMIT 50",
            &[user.id.into()],
        )? {
            let at = r[0].as_i64().unwrap_or(0);
            out.push((at, json!({
                "kind": "payment", "time": saoma_core::time::format_rfc3339_cst(at), "amount": -r[6].as_i64().unwrap_or(0),
                "merchant": r[2].as_str(), "mchid": r[1].as_str(), "out_trade_no": r[3].as_str(), "transaction_id": r[4].as_str(),
                "description": r[5].as_str(), "state": r[7].as_str(),
            })));
        }
        for r in app.store.query(
            "SELECT r.success_at, o.mchid, m.name, o.out_trade_no, r.out_refund_no, r.amount, r.refund_id FROM refunds r JOIN orders o ON o.id = r.order_id \
             JOIN merchants m ON m.mchid = o.mchid WHERE o.payer_user = $1 ORDER BY r.success_at DESC LIMIT 50",
            &[user.id.into()],
        )? {
            let at = r[0].as_i64().unwrap_or(0);
            out.push((at, json!({
                "kind": "refund", "time": saoma_core::time::format_rfc3339_cst(at), "amount": r[5].as_i64().unwrap_or(0),
                "merchant": r[2].as_str(), "mchid": r[1].as_str(), "out_trade_no": r[3].as_str(), "refund_id": r[6].as_str(),
            })));
        }
        for r in app.store.query("SELECT created_at, kind, amount, state, request_id FROM bank_operations WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50", &[user.id.into()])? {
            let at = r[0].as_i64().unwrap_or(0);
            let amount = r[2].as_i64().unwrap_or(0);
            let signed = if r[1].as_str() == Some("withdrawal") { -amount } else { amount };
            out.push((at, json!({ "kind": r[1].as_str(), "time": saoma_core::time::format_rfc3339_cst(at), "amount": signed, "state": r[3].as_str(), "request_id": r[4].as_str() })));
        }
        // Transit cards: the deposit held when the card was opened, and returned when it was closed.
        for r in app.store.query(
            "SELECT c.created_at, c.closed_at, c.state, c.deposit, c.card_no, c.scope, m.name FROM transit_cards c JOIN transit_operators o ON o.scope = c.scope \
             JOIN merchants m ON m.mchid = o.mchid WHERE c.user_id = $1 ORDER BY c.created_at DESC LIMIT 50",
            &[user.id.into()],
        )? {
            let (opened, deposit) = (r[0].as_i64().unwrap_or(0), r[3].as_i64().unwrap_or(0));
            let card = |kind: &str, at: i64, amount: i64| {
                (at, json!({ "kind": kind, "time": saoma_core::time::format_rfc3339_cst(at), "amount": amount, "merchant": r[6].as_str(), "card_no": r[4].as_str(), "scope": r[5].as_i64() }))
            };
            out.push(card("transit_deposit_hold", opened, -deposit));
            if let (Some("CLOSED"), Some(closed)) = (r[2].as_str(), r[1].as_i64()) {
                out.push(card("transit_deposit_return", closed, deposit));
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0));
        out.truncate(50);
        Ok(out)
    });
    match rows {
        Ok(rows) => Json(json!({ "currency": "CNY", "transactions": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>() })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
struct BankRequest {
    /// A card the user has bound (`POST /wallet/cards`).
    card_no: String,
    amount: i64,
    /// The caller's idempotency key: the same request_id returns the first result.
    request_id: String,
    /// Needed for a new top-up or withdrawal (not for a retry of one already started).
    pin: Option<String>,
}

fn bank_error(e: crate::bank::BankError) -> Response {
    use crate::bank::BankError;
    match e {
        BankError::BadCard => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "card_no must be 16–19 digits"),
        BankError::BadAmount => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "amount must be 1 to 1,000,000,000 fen"),
        BankError::BadRequestId => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "request_id must be 1–64 characters"),
        BankError::NotEnough => error(StatusCode::FORBIDDEN, "NOT_ENOUGH", "the wallet balance is not enough"),
        BankError::RequestIdReused => error(StatusCode::CONFLICT, "REQUEST_ID_REUSED", "request_id already used for another operation"),
        BankError::CardNotBound => error(StatusCode::FORBIDDEN, "CARD_NOT_BOUND", "bind this card first (POST /wallet/cards)"),
        BankError::Pin(e) => pay_error(e.into()),
        BankError::Store(e) => {
            tracing::error!(error = %e, "bank operation");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

async fn bank_operation(app: Arc<App>, headers: HeaderMap, bytes: axum::body::Bytes, kind: crate::bank::Kind) -> Response {
    use crate::bank::{self, BankError};
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: BankRequest = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Err(e) = bank::check_request(&req.card_no, req.amount, &req.request_id) {
        return bank_error(e);
    }
    // A retry of an operation already started gets its result back before the PIN is asked for: no
    // try is spent on it, and it moves nothing.
    match bank::replay(&app, user.id, kind, &req.card_no, req.amount, &req.request_id) {
        Ok(Some(op)) => return Json(op).into_response(),
        Ok(None) => {}
        Err(e) => return bank_error(e),
    }
    // A new operation, either way, needs the PIN: a top-up pulls money off the card.
    let Some(pin) = req.pin else { return pay_error(PayError::PinRequired) };
    // An unbound card is refused before the PIN: no try is spent on it.
    match bank::card_bound(&app, user.id, &req.card_no) {
        Ok(true) => {}
        Ok(false) => return bank_error(BankError::CardNotBound),
        Err(e) => return bank_error(e.into()),
    }
    let r = match crate::pins::verify(&app, &user, &pin).await {
        Ok(proof) => bank::start(&app, &user, kind, req.card_no, req.amount, req.request_id, proof).await,
        Err(e) => Err(BankError::Pin(e)),
    };
    match r {
        Ok(op) => Json(op).into_response(),
        Err(e) => bank_error(e),
    }
}

async fn top_up(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    bank_operation(app, headers, bytes, crate::bank::Kind::TopUp).await
}

async fn withdraw(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    bank_operation(app, headers, bytes, crate::bank::Kind::Withdrawal).await
}

fn card_error(e: crate::cards::CardError) -> Response {
    use crate::cards::CardError;
    match e {
        CardError::BadCard => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "card_no must be 16–19 digits"),
        CardError::AlreadyBound => error(StatusCode::CONFLICT, "CARD_BOUND", "this card is bound to your wallet already"),
        CardError::BoundElsewhere => error(StatusCode::CONFLICT, "CARD_BOUND_ELSEWHERE", "this card is bound to another wallet"),
        CardError::Pin(e) => pay_error(e.into()),
        CardError::NoSuchBinding => error(StatusCode::NOT_FOUND, "BINDING_NOT_EXIST", "no such binding request of yours"),
        CardError::WrongCode { tries_left } => error(StatusCode::FORBIDDEN, "CODE_WRONG", format!("wrong code; {tries_left} tries left")),
        CardError::Refused(why) => error(StatusCode::FORBIDDEN, "BANK_REFUSED", why),
        CardError::TooMany { retry_after } => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "FREQUENCY_LIMITED", format!("too many card binding requests today; try again in {retry_after} s"));
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after));
            r
        }
        CardError::Store(e) => {
            tracing::error!(error = %e, "card binding");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

#[derive(serde::Deserialize)]
struct BindCard {
    card_no: String,
    pin: String,
}

/// Starts binding a card: the PIN, then the bank texts the holder a code.
async fn bind_card(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: BindCard = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::cards::request(&app, &user, req.card_no, &req.pin).await {
        Ok(b) => Json(b).into_response(),
        Err(e) => card_error(e),
    }
}

#[derive(serde::Deserialize)]
struct BankCode {
    code: String,
}

/// The bank's code, typed back: the card is bound.
async fn confirm_card(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(binding_id): axum::extract::Path<String>, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: BankCode = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::cards::confirm(&app, &user, &binding_id, req.code).await {
        Ok(c) => Json(c).into_response(),
        Err(e) => card_error(e),
    }
}

/// The user's bound cards.
async fn cards(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::cards::list(&app, user.id) {
        Ok(c) => Json(json!({ "cards": c })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

/// Where the user's PIN stands: set, failures, tries left, locked until.
async fn pin_status(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::pins::status(&app, user.id) {
        Ok(s) => Json(s).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
struct Pay {
    /// A Native `code_url` or a `prepay_id`.
    code: String,
    pin: Option<String>,
}

pub fn pay_error(e: PayError) -> Response {
    match e {
        PayError::NoSuchOrder => error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "no order for this code"),
        PayError::Order(code) => {
            let message = match code.as_str() {
                "ORDERPAID" => "the order has been paid",
                "ORDER_CLOSED" => "the order is closed or expired",
                "ORDER_REVOKED" => "the payment was revoked (not confirmed in time, or reversed by the merchant)",
                "PAYER_MISMATCH" => "this order was placed for another user",
                _ => "a payment of this order is in progress",
            };
            error(StatusCode::BAD_REQUEST, &code, message)
        }
        PayError::NotEnough => error(StatusCode::FORBIDDEN, "NOT_ENOUGH", "the wallet balance is not enough"),
        PayError::PinRequired => error(StatusCode::FORBIDDEN, "PIN_REQUIRED", "this payment needs the PIN"),
        PayError::WrongPin { tries_left } => error(StatusCode::FORBIDDEN, "PIN_WRONG", format!("wrong PIN; {tries_left} tries left")),
        PayError::PinBusy => error(StatusCode::TOO_MANY_REQUESTS, "PIN_BUSY", "every PIN try left is being checked right now; try again in a moment"),
        PayError::PinLocked { until } => error(StatusCode::FORBIDDEN, "PIN_LOCKED", format!("PIN payments locked until {}", saoma_core::time::format_rfc3339_cst(until))),
        PayError::Store(e) => {
            tracing::error!(error = %e, "payment failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error; the payment did not happen")
        }
    }
}

async fn pay(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: Pay = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match payments::pay(&app, &user, &req.code, req.pin).await {
        Ok(o) => Json(json!({
            "mchid": o.mchid,
            "out_trade_no": o.out_trade_no,
            "transaction_id": o.transaction_id,
            "trade_state": o.trade_state.as_str(),
            "total": o.total,
            "description": o.description,
        }))
        .into_response(),
        Err(e) => pay_error(e),
    }
}

/// A payment code (付款码) to show the cashier: single use, valid a minute.
async fn paycode(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::paycodes::issue(&app, &user).await {
        Ok((code, expires_at)) => Json(json!({ "auth_code": code, "expires_at": saoma_core::time::format_rfc3339_cst(expires_at) })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

/// Payment-code orders waiting for this user's PIN.
async fn paying(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::paycodes::waiting(&app, &user) {
        Ok(orders) => Json(json!({ "orders": orders.iter().map(|(o, merchant)| json!({
            "transaction_id": o.transaction_id, "mchid": o.mchid, "merchant": merchant, "description": o.description,
            "total": o.total, "currency": o.currency, "confirm_before": saoma_core::time::format_rfc3339_cst(o.expire_at),
        })).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
struct Confirm {
    transaction_id: String,
    pin: String,
}

/// Confirms a waiting payment-code order with the PIN.
async fn confirm(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: Confirm = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::paycodes::confirm(&app, &user, &req.transaction_id, &req.pin).await {
        Ok(o) => Json(json!({ "mchid": o.mchid, "out_trade_no": o.out_trade_no, "transaction_id": o.transaction_id, "trade_state": o.trade_state.as_str(), "total": o.total })).into_response(),
        Err(e) => pay_error(e),
    }
}

fn agreement_error(e: crate::agreements::AgreementFail) -> Response {
    use crate::agreements::AgreementFail;
    use saoma_core::agreement::AgreementError;
    match e {
        AgreementFail::NotFound => error(StatusCode::NOT_FOUND, "AGREEMENT_NOT_EXIST", "no such agreement of yours"),
        AgreementFail::Rule(AgreementError::ProposalExpired) => error(StatusCode::BAD_REQUEST, "PROPOSAL_EXPIRED", "the proposal expired; ask the merchant again"),
        AgreementFail::Rule(AgreementError::Terminated) => error(StatusCode::BAD_REQUEST, "AGREEMENT_TERMINATED", "the agreement has ended"),
        AgreementFail::Rule(_) => error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "the agreement is signed already"),
        AgreementFail::Pin(e) => pay_error(e),
        other => {
            tracing::error!(error = ?other, "agreement");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

/// The user's withholding agreements (proposed, signed, ended).
async fn agreements(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::agreements::of_user(&app, user.id) {
        Ok(list) => Json(json!({ "agreements": list.iter().map(|(a, merchant)| {
            let mut v = crate::agreements::agreement_json(a, None);
            v["merchant"] = merchant.as_str().into();
            v
        }).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
struct Pin {
    pin: String,
}

/// The user consents to a proposed agreement with the PIN.
async fn sign_agreement(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(contract_id): axum::extract::Path<String>, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: Pin = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::agreements::sign(&app, &user, &contract_id, &req.pin).await {
        Ok(a) => Json(crate::agreements::agreement_json(&a, None)).into_response(),
        Err(e) => agreement_error(e),
    }
}

/// The user ends an agreement (or declines a proposal).
async fn terminate_agreement(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(contract_id): axum::extract::Path<String>) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::agreements::terminate(&app, &contract_id, crate::agreements::Party::User(user.id)).await {
        Ok(a) => Json(crate::agreements::agreement_json(&a, None)).into_response(),
        Err(e) => agreement_error(e),
    }
}
