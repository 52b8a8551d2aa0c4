//! The wallet API's top-up, withdrawal and bank cards: each takes the PIN; bank operations are
//! idempotent on the user's `request_id`.

use crate::App;
use crate::http::wallet::{body, error, session};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use crate::payments::{pay_error, PayError};
use crate::users::{user_error, UserError};

#[derive(serde::Deserialize)]
pub(super) struct BankRequest {
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

pub(super) async fn bank_operation(app: Arc<App>, headers: HeaderMap, bytes: axum::body::Bytes, kind: crate::bank::Kind) -> Response {
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
    let r = match crate::users::pins::verify(&app, &user, &pin).await {
        Ok(proof) => bank::start(&app, &user, kind, req.card_no, req.amount, req.request_id, proof).await,
        Err(e) => Err(BankError::Pin(e)),
    };
    match r {
        Ok(op) => Json(op).into_response(),
        Err(e) => bank_error(e),
    }
}

pub(super) async fn top_up(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    bank_operation(app, headers, bytes, crate::bank::Kind::TopUp).await
}

pub(super) async fn withdraw(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    bank_operation(app, headers, bytes, crate::bank::Kind::Withdrawal).await
}

fn card_error(e: crate::bank::cards::CardError) -> Response {
    use crate::bank::cards::CardError;
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
pub(super) struct BindCard {
    card_no: String,
    pin: String,
}

/// Starts binding a card: the PIN, then the bank texts the holder a code.
pub(super) async fn bind_card(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: BindCard = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::bank::cards::request(&app, &user, req.card_no, &req.pin).await {
        Ok(b) => Json(b).into_response(),
        Err(e) => card_error(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct BankCode {
    code: String,
}

/// The bank's code, typed back: the card is bound.
pub(super) async fn confirm_card(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(binding_id): axum::extract::Path<String>, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: BankCode = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::bank::cards::confirm(&app, &user, &binding_id, req.code).await {
        Ok(c) => Json(c).into_response(),
        Err(e) => card_error(e),
    }
}

/// The user's bound cards.
pub(super) async fn cards(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::bank::cards::list(&app, user.id) {
        Ok(c) => Json(json!({ "cards": c })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}
