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

/// The user's payments, refunds, top-ups and withdrawals, and transit deposits held and returned, newest
/// first (at most 50).
pub(super) async fn transactions(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
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
            let at = r.opt_int("success_at")?.unwrap_or(0);
            out.push((at, json!({
                "kind": "payment", "time": saoma_core::time::format_rfc3339_cst(at), "amount": -r.opt_int("total")?.unwrap_or(0),
                "merchant": r.opt_text("name")?, "mchid": r.opt_text("mchid")?, "out_trade_no": r.opt_text("out_trade_no")?, "transaction_id": r.opt_text("transaction_id")?,
                "description": r.opt_text("description")?, "state": r.opt_text("trade_state")?,
            })));
        }
        for r in app.store.query(
            "SELECT r.success_at, o.mchid, m.name, o.out_trade_no, r.out_refund_no, r.amount, r.refund_id FROM refunds r JOIN orders o ON o.id = r.order_id \
             JOIN merchants m ON m.mchid = o.mchid WHERE o.payer_user = $1 ORDER BY r.success_at DESC LIMIT 50",
            &[user.id.into()],
        )? {
            let at = r.opt_int("success_at")?.unwrap_or(0);
            out.push((at, json!({
                "kind": "refund", "time": saoma_core::time::format_rfc3339_cst(at), "amount": r.opt_int("amount")?.unwrap_or(0),
                "merchant": r.opt_text("name")?, "mchid": r.opt_text("mchid")?, "out_trade_no": r.opt_text("out_trade_no")?, "refund_id": r.opt_text("refund_id")?,
            })));
        }
        for r in app.store.query("SELECT created_at, kind, amount, state, request_id FROM bank_operations WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50", &[user.id.into()])? {
            let at = r.opt_int("created_at")?.unwrap_or(0);
            let amount = r.opt_int("amount")?.unwrap_or(0);
            let kind = r.opt_text("kind")?;
            let signed = if kind == Some("withdrawal") { -amount } else { amount };
            out.push((at, json!({ "kind": kind, "time": saoma_core::time::format_rfc3339_cst(at), "amount": signed, "state": r.opt_text("state")?, "request_id": r.opt_text("request_id")? })));
        }
        // Transit cards: the deposit held when the card was opened, and returned when it was closed.
        for r in app.store.query(
            "SELECT c.created_at, c.closed_at, c.state, c.deposit, c.card_no, c.scope, m.name FROM transit_cards c JOIN transit_operators o ON o.scope = c.scope \
             JOIN merchants m ON m.mchid = o.mchid WHERE c.user_id = $1 ORDER BY c.created_at DESC LIMIT 50",
            &[user.id.into()],
        )? {
            let (opened, deposit) = (r.opt_int("created_at")?.unwrap_or(0), r.opt_int("deposit")?.unwrap_or(0));
            let (merchant, card_no, scope) = (r.opt_text("name")?, r.opt_text("card_no")?, r.opt_int("scope")?);
            let card = |kind: &str, at: i64, amount: i64| {
                (at, json!({ "kind": kind, "time": saoma_core::time::format_rfc3339_cst(at), "amount": amount, "merchant": merchant, "card_no": card_no, "scope": scope }))
            };
            out.push(card("transit_deposit_hold", opened, -deposit));
            if let (Some("CLOSED"), Some(closed)) = (r.opt_text("state")?, r.opt_int("closed_at")?) {
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
