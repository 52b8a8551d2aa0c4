//! The wallet API's paying: a `code_url` or `prepay_id` (with the PIN above the password-free limit),
//! the payment code, and confirming a USERPAYING order with the PIN.

use crate::App;
use crate::http::wallet::{body, error, session};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use crate::users::{user_error, UserError};
use super::PayError;
use crate::payments;

#[derive(serde::Deserialize)]
pub(super) struct Pay {
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
                "SOLD_OUT" => "the goods of this order are sold out; nothing was charged",
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

pub(super) async fn pay(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
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
pub(super) async fn paycode(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::payments::paycodes::issue(&app, &user).await {
        Ok((code, expires_at)) => Json(json!({ "auth_code": code, "expires_at": saoma_core::time::format_rfc3339_cst(expires_at) })).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

/// Payment-code orders waiting for this user's PIN.
pub(super) async fn paying(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::payments::paycodes::waiting(&app, &user) {
        Ok(orders) => Json(json!({ "orders": orders.iter().map(|(o, merchant)| json!({
            "transaction_id": o.transaction_id, "mchid": o.mchid, "merchant": merchant, "description": o.description,
            "total": o.total, "currency": o.currency, "confirm_before": saoma_core::time::format_rfc3339_cst(o.expire_at),
        })).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Confirm {
    transaction_id: String,
    pin: String,
}

/// Confirms a waiting payment-code order with the PIN.
pub(super) async fn confirm(State(app): State<Arc<App>>, headers: HeaderMap, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: Confirm = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::payments::paycodes::confirm(&app, &user, &req.transaction_id, &req.pin).await {
        Ok(o) => Json(json!({ "mchid": o.mchid, "out_trade_no": o.out_trade_no, "transaction_id": o.transaction_id, "trade_state": o.trade_state.as_str(), "total": o.total })).into_response(),
        Err(e) => pay_error(e),
    }
}
