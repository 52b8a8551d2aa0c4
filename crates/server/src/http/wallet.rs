//! What every wallet API handler shares (saoma's own API, in the v3 style: JSON, `{code, message}`
//! errors): the bearer session (`Authorization: Bearer TOKEN`, from `/wallet/login`), the JSON body, the
//! error shapes. The handlers live with their capabilities (`users/wallet.rs`, `payments/wallet.rs`, …).

use crate::users::{login, user_error, User, UserError};
use crate::App;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;


pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({ "code": code, "message": message.into() }))).into_response()
}

/// 429 with `Retry-After` (seconds).
pub(crate) fn too_many(code: &str, message: String, retry_after: i64) -> Response {
    let mut r = error(StatusCode::TOO_MANY_REQUESTS, code, message);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    r
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
