//! The wallet API's login (phone + SMS code), balance, history and the PIN's state.

use crate::App;
use crate::http::wallet::{body, error, session, too_many};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use crate::users::pins::{self, PinError, SetPinError};
use crate::users::{login, UserError};

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
        UserError::PinSet => error(StatusCode::CONFLICT, "PIN_SET", "a PIN is set already: change it with the old one (POST /wallet/pin {old_pin, pin})"),
        UserError::Store(e) => {
            tracing::error!(error = %e, "wallet request failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Phone {
    phone: String,
}

pub(super) async fn send_code(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let req: Phone = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match login::send_code(&app, req.phone, crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => user_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Login {
    phone: String,
    code: String,
}

pub(super) async fn login(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let req: Login = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match login::login(&app, req.phone, req.code, crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok((token, user)) => Json(json!({ "token": token, "user_id": format!("{:032x}", user.id) })).into_response(),
        Err(e) => user_error(e),
    }
}

pub(super) async fn balance(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
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

/// The user's history (`users::history`), newest first.
pub(super) async fn transactions(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::blocking(|| crate::users::history::of(&app, user.id)) {
        Ok(entries) => Json(json!({ "currency": "CNY", "transactions": entries.iter().map(|e| e.json()).collect::<Vec<_>>() })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

/// Where the user's PIN stands: set, failures, tries left, locked until.
pub(super) async fn pin_status(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::users::pins::status(&app, user.id) {
        Ok(s) => Json(s).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SetPin {
    code: Option<String>,
    old_pin: Option<String>,
    pin: String,
}

/// `POST /wallet/pin {code?, old_pin?, pin}`: sets the PIN of a wallet without one (with a code from
/// `POST /wallet/pin/sms`), or changes it (with the old PIN). 204 when done.
pub(super) async fn set_pin(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: SetPin = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let client = crate::http::proxy::client_addr(&app, peer, &headers);
    match pins::set(&app, &user, req.code.as_deref(), req.old_pin.as_deref(), &req.pin, client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => set_pin_error(e),
    }
}

fn set_pin_error(e: SetPinError) -> Response {
    let time = saoma_core::time::format_rfc3339_cst;
    match e {
        SetPinError::BadPin => user_error(UserError::BadPin),
        SetPinError::CodeRequired => error(StatusCode::BAD_REQUEST, "CODE_REQUIRED", "the wallet has no PIN: send the code texted by POST /wallet/pin/sms"),
        SetPinError::Code(e) => user_error(e),
        SetPinError::OldPinRequired => error(StatusCode::BAD_REQUEST, "OLD_PIN_REQUIRED", "the wallet has a PIN: send it as old_pin to change it"),
        SetPinError::OldPin(PinError::Wrong { tries_left }) => error(StatusCode::FORBIDDEN, "PIN_WRONG", format!("wrong PIN; {tries_left} tries left")),
        SetPinError::OldPin(PinError::Locked { until }) => error(StatusCode::FORBIDDEN, "PIN_LOCKED", format!("PIN locked until {}", time(until))),
        SetPinError::OldPin(PinError::Busy) => error(StatusCode::TOO_MANY_REQUESTS, "PIN_BUSY", "every PIN try left is being checked right now; try again in a moment"),
        SetPinError::OldPin(PinError::Store(e)) => user_error(UserError::Store(saoma_store::StoreError::Io(e))),
        SetPinError::Store(e) => user_error(UserError::Store(e)),
    }
}

/// `POST /wallet/pin/sms`: texts the session's phone a code for setting the PIN (the login's limits).
pub(super) async fn send_pin_code(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match login::send_code_for(&app, user.phone, login::Purpose::SetPin, crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => user_error(e),
    }
}
