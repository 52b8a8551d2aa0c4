//! The gates' public routes: `GET /transit/{scope}/lists` (the key list and blacklist, signed) and
//! `POST /transit/terminals/{terminal_id}/uploads {records: [hex]}` (records signed by the gate's
//! registered key, checked before anything is stored).

use super::{ingest, TransitFail};
use crate::http::wallet::error;
use crate::users::{user_error, UserError};
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use super::wallet::{fail, scope};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/transit/:scope/lists", get(lists)).route("/transit/terminals/:terminal_id/uploads", post(upload))
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
