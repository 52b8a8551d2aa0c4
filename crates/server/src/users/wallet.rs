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

/// How many entries the wallet's history shows, and reads of each kind.
const HISTORY_LIMIT: i64 = 50;

/// The user's payments, refunds, top-ups and withdrawals, and transit deposits held and returned, newest
/// first (at most [`HISTORY_LIMIT`]), each read from the capability that keeps it.
pub(super) async fn transactions(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let rows = crate::blocking(|| -> Result<Vec<(i64, serde_json::Value)>, saoma_store::StoreError> {
        let time = saoma_core::time::format_rfc3339_cst;
        let mut out = Vec::new();
        for (o, merchant) in crate::payments::paid_by(&app, user.id, HISTORY_LIMIT)? {
            let at = o.success_at.unwrap_or(0);
            out.push((at, json!({
                "kind": "payment", "time": time(at), "amount": -o.total,
                "merchant": merchant, "mchid": o.mchid, "out_trade_no": o.out_trade_no, "transaction_id": o.transaction_id,
                "description": o.description, "state": o.trade_state.as_str(),
            })));
        }
        for (r, merchant) in crate::refunds::to_payer(&app, user.id, HISTORY_LIMIT)? {
            let at = r.success_at.unwrap_or(0);
            out.push((at, json!({
                "kind": "refund", "time": time(at), "amount": r.amount,
                "merchant": merchant, "mchid": r.mchid, "out_trade_no": r.out_trade_no, "refund_id": r.refund_id,
            })));
        }
        for (at, op) in crate::bank::operations_of(&app, user.id, HISTORY_LIMIT)? {
            let signed = if op.kind == "withdrawal" { -op.amount } else { op.amount };
            out.push((at, json!({ "kind": op.kind, "time": time(at), "amount": signed, "state": op.state, "request_id": op.request_id })));
        }
        // Transit cards: the deposit held when the card was opened, and returned when it was closed.
        for d in crate::transit::deposits_of(&app, user.id, HISTORY_LIMIT)? {
            let card = |kind: &str, at: i64, amount: i64| {
                (at, json!({ "kind": kind, "time": time(at), "amount": amount, "merchant": d.merchant, "card_no": d.card_no, "scope": d.scope }))
            };
            out.push(card("transit_deposit_hold", d.held_at, -d.amount));
            if let Some(returned) = d.returned_at {
                out.push(card("transit_deposit_return", returned, d.amount));
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0));
        out.truncate(HISTORY_LIMIT as usize);
        Ok(out)
    });
    match rows {
        Ok(rows) => Json(json!({ "currency": "CNY", "transactions": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>() })).into_response(),
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
