//! The rider's transit routes in the wallet: `POST /wallet/transit/{scope}/open {pin}`,
//! `POST /wallet/transit/{scope}/credentials {suite, device_public_key}` (hex),
//! `GET /wallet/transit/{scope}`, `POST /wallet/transit/{scope}/repay`,
//! `POST /wallet/transit/{scope}/refund-card`.

use super::TransitFail;
use crate::http::wallet::{body, error, session};
use crate::payments::pay_error;
use crate::users::{user_error, UserError};
use crate::{hex, App};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use saoma_ridecode::Suite;
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/wallet/transit/:scope", get(view))
        .route("/wallet/transit/:scope/open", post(open))
        .route("/wallet/transit/:scope/credentials", post(credential))
        .route("/wallet/transit/:scope/repay", post(repay))
        .route("/wallet/transit/:scope/refund-card", post(refund_card))
}

pub(super) fn fail(e: TransitFail) -> Response {
    match e {
        TransitFail::NoOperator => error(StatusCode::NOT_FOUND, "OPERATOR_NOT_EXIST", "no transit operator with this scope"),
        TransitFail::NoMerchant => error(StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS", "no such merchant"),
        TransitFail::ScopeTaken => error(StatusCode::CONFLICT, "SCOPE_TAKEN", "the scope or the merchant is an operator already"),
        TransitFail::BadConfig(m) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", m),
        TransitFail::NoCard => error(StatusCode::NOT_FOUND, "CARD_NOT_EXIST", "open the service first"),
        TransitFail::CardOpen => error(StatusCode::CONFLICT, "CARD_EXISTS", "the service is open already"),
        TransitFail::NotEnough => error(StatusCode::FORBIDDEN, "NOT_ENOUGH", "the wallet balance is not enough"),
        TransitFail::InDebt(d) => error(StatusCode::FORBIDDEN, "IN_DEBT", format!("{} CNY of rides are unpaid: repay them first", saoma_core::yuan::format(d))),
        TransitFail::CardClosed => error(StatusCode::FORBIDDEN, "CARD_CLOSED", "a card refund was asked for; the card takes no new rides"),
        TransitFail::Blocked(until) => error(StatusCode::FORBIDDEN, "CARD_BLOCKED", format!("a copy of your code was used elsewhere; blocked until {}", saoma_core::time::format_rfc3339_cst(until))),
        TransitFail::BadDeviceKey => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "device_public_key is not a key of the suite (hex)"),
        TransitFail::Pin(e) => pay_error(e),
        TransitFail::Store(e) => user_error(UserError::Store(saoma_store::StoreError::Io(e))),
    }
}

pub(super) fn scope(s: &str) -> Result<u16, Response> {
    s.parse().map_err(|_| error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "scope must be 0–65535"))
}

#[derive(serde::Deserialize)]
struct Pin {
    pin: String,
}

async fn open(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>, bytes: axum::body::Bytes) -> Response {
    let (user, scope, req) = match (session(&app, &headers), scope(&s), body::<Pin>(&bytes)) {
        (Ok(u), Ok(s), Ok(b)) => (u, s, b),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    match super::open(&app, &user, scope, &req.pin).await {
        Ok(card) => Json(json!({ "card_no": card.card_no, "scope": card.scope, "deposit": card.deposit, "state": card.state })).into_response(),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
struct CredentialRequest {
    #[serde(default)]
    suite: Option<String>,
    device_public_key: String,
}

fn suite_named(s: Option<&str>) -> Option<Suite> {
    match s.unwrap_or("ed25519").to_ascii_lowercase().as_str() {
        "ed25519" => Some(Suite::Ed25519),
        "p256" | "p-256" | "ecdsa-p256" => Some(Suite::P256),
        "sm2" => Some(Suite::Sm2),
        _ => None,
    }
}

async fn credential(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>, bytes: axum::body::Bytes) -> Response {
    let (user, scope, req) = match (session(&app, &headers), scope(&s), body::<CredentialRequest>(&bytes)) {
        (Ok(u), Ok(s), Ok(b)) => (u, s, b),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let Some(suite) = suite_named(req.suite.as_deref()) else { return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "suite must be ed25519, p256 or sm2") };
    let Some(key) = hex::decode(&req.device_public_key) else { return fail(TransitFail::BadDeviceKey) };
    match super::credential(&app, &user, scope, suite, &key).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(e),
    }
}

async fn view(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, scope) = match (session(&app, &headers), scope(&s)) {
        (Ok(u), Ok(s)) => (u, s),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match super::rider_view(&app, &user, scope) {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => fail(TransitFail::NoCard),
        Err(e) => user_error(UserError::Store(e)),
    }
}

async fn repay(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, scope) = match (session(&app, &headers), scope(&s)) {
        (Ok(u), Ok(s)) => (u, s),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match super::repay(&app, &user, scope, None).await {
        Ok(paid) => Json(json!({ "repaid": paid })).into_response(),
        Err(e) => fail(e),
    }
}

async fn refund_card(State(app): State<Arc<App>>, headers: HeaderMap, Path(s): Path<String>) -> Response {
    let (user, scope) = match (session(&app, &headers), scope(&s)) {
        (Ok(u), Ok(s)) => (u, s),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match super::request_card_refund(&app, &user, scope).await {
        Ok(card) => Json(json!({ "card_no": card.card_no, "state": card.state, "deposit": card.deposit, "hold_hours": super::CARD_REFUND_HOLD_SECS / 3600 })).into_response(),
        Err(e) => fail(e),
    }
}
