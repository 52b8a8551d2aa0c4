//! The transit service's HTTP: riders (wallet session), gates (public: lists are signed, records are
//! signed by the gate's registered key), operators (admin API).
//!
//! Riders: `POST /wallet/transit/{scope}/open {pin}`, `POST /wallet/transit/{scope}/credentials {suite,
//! device_public_key}` (hex), `GET /wallet/transit/{scope}`, `POST /wallet/transit/{scope}/repay`,
//! `POST /wallet/transit/{scope}/refund-card`.
//! Gates: `GET /transit/{scope}/lists`, `POST /transit/terminals/{terminal_id}/uploads {records: [hex]}`.
//! Operators: `POST /admin/transit/operators {mchid, scope, fares, max_uses, stale_fare_limit}`,
//! `POST /admin/transit/terminals {scope, stop_id, public_key, name}`, `GET /admin/transit/{scope}/terminals`,
//! `GET /admin/transit/{scope}/alarms`, `GET /admin/ridecode/keys`.

use super::{ingest, TransitFail};
use crate::wallet::{body, error, pay_error, session, user_error};
use crate::users::UserError;
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
        .route("/transit/:scope/lists", get(lists))
        .route("/transit/terminals/:terminal_id/uploads", post(upload))
}

/// Operator routes; the admin router puts them behind its token.
pub fn admin_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/admin/transit/operators", post(create_operator))
        .route("/admin/transit/terminals", post(register_terminal))
        .route("/admin/transit/:scope/terminals", get(terminals))
        .route("/admin/transit/:scope/alarms", get(alarms))
        .route("/admin/ridecode/keys", get(ridecode_keys))
}

fn fail(e: TransitFail) -> Response {
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

fn scope(s: &str) -> Result<u16, Response> {
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
    match super::repay(&app, &user, scope).await {
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

async fn lists(State(app): State<Arc<App>>, Path(s): Path<String>) -> Response {
    let scope = match scope(&s) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match super::operator(&app, scope) {
        Ok(Some(op)) => match super::lists(&app, scope) {
            Ok(mut v) => {
                v["scope"] = scope.into();
                v["stale_fare_limit"] = op.stale_fare_limit.into();
                v["fares"] = super::fares_to_json(&op.fares);
                Json(v).into_response()
            }
            Err(e) => user_error(UserError::Store(e)),
        },
        Ok(None) => fail(TransitFail::NoOperator),
        Err(e) => user_error(UserError::Store(e)),
    }
}

async fn upload(State(app): State<Arc<App>>, Path(t): Path<String>, bytes: axum::body::Bytes) -> Response {
    let Ok(terminal) = t.parse::<u64>() else { return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "terminal id must be a number") };
    let records = match super::check::decode_upload(&bytes) {
        Ok(r) => r,
        Err(super::check::BodyError::Json(e)) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", format!("body: {e}")),
        Err(super::check::BodyError::NotHex(i)) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", format!("records[{i}] is not hex")),
    };
    match ingest::upload(&app, terminal, records).await {
        Ok(results) => Json(json!({ "results": results })).into_response(),
        Err(ingest::UploadFail::UnknownTerminal) => error(StatusCode::NOT_FOUND, "TERMINAL_NOT_EXIST", "no such terminal"),
        Err(ingest::UploadFail::TooMany) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", format!("at most {} records per upload", ingest::MAX_BATCH)),
        Err(ingest::UploadFail::Store(e)) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
struct NewOperator {
    mchid: String,
    scope: u16,
    fares: serde_json::Value,
    #[serde(default = "default_max_uses")]
    max_uses: u8,
    #[serde(default)]
    stale_fare_limit: u16,
}

fn default_max_uses() -> u8 {
    8
}

async fn create_operator(State(app): State<Arc<App>>, bytes: axum::body::Bytes) -> Response {
    let req: NewOperator = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Some(fares) = super::fares_from_json(&req.fares) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "fares must be {\"flat\": fen} or {\"stops\": [[stop, metres]…], \"bands\": [[up_to_metres, fen]…], \"max_fare\": fen}");
    };
    match super::create_operator(&app, req.mchid, req.scope, fares, req.max_uses, req.stale_fare_limit).await {
        Ok(op) => Json(json!({ "scope": op.scope, "mchid": op.mchid, "deposit": op.deposit, "max_uses": op.max_uses, "max_fare": op.fares.max_fare() })).into_response(),
        Err(e) => fail(e),
    }
}

#[derive(serde::Deserialize)]
struct NewTerminal {
    scope: u16,
    stop_id: u32,
    public_key: String,
    #[serde(default)]
    name: String,
}

async fn register_terminal(State(app): State<Arc<App>>, bytes: axum::body::Bytes) -> Response {
    let req: NewTerminal = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Some(key) = hex::decode(&req.public_key) else { return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "public_key must be hex") };
    match ingest::register(&app, req.scope, req.stop_id, key, req.name).await {
        Ok(Ok(id)) => match super::lists(&app, req.scope) {
            Ok(l) => Json(json!({ "terminal_id": id, "scope": req.scope, "stop_id": req.stop_id, "list_keys": l["list_keys"] })).into_response(),
            Err(e) => user_error(UserError::Store(e)),
        },
        Ok(Err(m)) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", m),
        Err(e) => user_error(UserError::Store(e)),
    }
}

async fn terminals(State(app): State<Arc<App>>, Path(s): Path<String>) -> Response {
    match scope(&s).map(|s| ingest::terminals(&app, s)) {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => user_error(UserError::Store(e)),
        Err(e) => e,
    }
}

async fn alarms(State(app): State<Arc<App>>, Path(s): Path<String>) -> Response {
    match scope(&s).map(|s| ingest::alarms(&app, s)) {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => user_error(UserError::Store(e)),
        Err(e) => e,
    }
}

/// The issuer keys terminals trust: `[{key_id, suite, public_key_hex, not_before, not_after}]`.
async fn ridecode_keys(State(app): State<Arc<App>>) -> Response {
    match super::keys::all(&app.store, "issuer") {
        Ok(keys) => Json(keys.iter().map(|k| k.json()).collect::<Vec<_>>()).into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}
