//! Operators' transit routes: `POST /admin/transit/operators {mchid, scope, fares, max_uses,
//! stale_fare_limit}`, `POST /admin/transit/terminals {scope, stop_id, public_key, name}`,
//! `GET /admin/transit/{scope}/terminals`, `GET /admin/transit/{scope}/alarms`, `GET /admin/ridecode/keys`.

use super::ingest;
use crate::http::wallet::{body, error};
use crate::users::{user_error, UserError};
use crate::{hex, App};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use super::wallet::{fail, scope};

/// Operator routes; `http::admin::layer` puts them behind its token.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/admin/transit/operators", post(create_operator))
        .route("/admin/transit/terminals", post(register_terminal))
        .route("/admin/transit/:scope/terminals", get(terminals))
        .route("/admin/transit/:scope/alarms", get(alarms))
        .route("/admin/ridecode/keys", get(ridecode_keys))
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

/// A gate as the operator console lists it.
pub struct TerminalView {
    pub terminal_id: i64,
    pub scope: i64,
    pub stop_id: i64,
    pub name: String,
    /// Records uploaded, and sequence numbers below the highest not (yet) seen.
    pub records: i64,
    pub missing: i64,
    pub last_upload_at: Option<i64>,
    pub alarms: i64,
}

/// Every operator's gates, by id (at most `limit`).
pub fn all_terminals(app: &App, limit: i64) -> Result<Vec<TerminalView>, saoma_store::StoreError> {
    let rows = app.store.query(
        "SELECT t.terminal_id, t.scope, t.stop_id, t.name, t.highest_sequence, t.records, t.last_upload_at, \
         (SELECT COUNT(*) FROM transit_alarms a WHERE a.terminal_id = t.terminal_id) AS alarms FROM terminals t ORDER BY t.terminal_id LIMIT $1",
        &[limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            let records = r.int("records")?;
            Ok(TerminalView {
                terminal_id: r.int("terminal_id")?,
                scope: r.int("scope")?,
                stop_id: r.int("stop_id")?,
                name: r.text("name")?.to_string(),
                records,
                missing: r.int("highest_sequence")? - records,
                last_upload_at: r.opt_int("last_upload_at")?,
                alarms: r.opt_int("alarms")?.unwrap_or(0),
            })
        })
        .collect()
}

/// An alarm as the operator console shows it: the card by its last four digits only.
pub struct AlarmView {
    pub terminal_id: i64,
    pub terminal_name: String,
    pub scope: i64,
    /// `CLONE`, `CONFLICT`.
    pub kind: String,
    pub detail: String,
    pub at: i64,
    pub card_tail: Option<String>,
}

/// Every operator's alarms, newest first (at most `limit`).
pub fn all_alarms(app: &App, limit: i64) -> Result<Vec<AlarmView>, saoma_store::StoreError> {
    let rows = app.store.query(
        "SELECT a.terminal_id, t.name, t.scope, a.kind, a.detail, a.created_at, c.card_no FROM transit_alarms a \
         JOIN terminals t ON t.terminal_id = a.terminal_id LEFT JOIN transit_cards c ON c.account_id = a.account_id \
         ORDER BY a.created_at DESC, a.id DESC LIMIT $1",
        &[limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            let card = r.opt_text("card_no")?;
            Ok(AlarmView {
                terminal_id: r.int("terminal_id")?,
                terminal_name: r.text("name")?.to_string(),
                scope: r.int("scope")?,
                kind: r.text("kind")?.to_string(),
                detail: r.text("detail")?.to_string(),
                at: r.int("created_at")?,
                card_tail: card.map(|c| c.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect()),
            })
        })
        .collect()
}
