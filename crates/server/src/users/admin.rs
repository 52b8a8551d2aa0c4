//! Operators' user creation (sandbox and tests) and the SMS outbox (the simulated SMS gateway).

use crate::App;
use crate::http::admin::error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct NewUser {
    phone: String,
    pin: Option<String>,
    #[serde(default)]
    balance: i64,
}

pub(super) async fn create_user(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewUser = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    // The wallet API's answers for user errors: 409 for a taken phone, 500 for storage failures.
    let user = match crate::users::create(&app, req.phone, req.pin, req.balance).await {
        Ok(u) => u,
        Err(e) => return crate::users::user_error(e),
    };
    let openids = match crate::users::all_openids(&app, user.id).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "openids");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not assign openids");
        }
    };
    let openids: serde_json::Map<String, serde_json::Value> = openids.into_iter().map(|(a, o)| (a, o.into())).collect();
    Json(serde_json::json!({ "user_id": format!("{:032x}", user.id), "phone": user.phone, "openids": openids })).into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct PhoneQuery {
    phone: String,
}

/// The SMS outbox for one phone, newest first (there is no SMS gateway).
pub(super) async fn sms_outbox(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<PhoneQuery>) -> Response {
    // The outbox holds each phone in its one spelling (`users::canonical_phone`).
    let phone = crate::users::canonical_phone(&q.phone).unwrap_or_else(|| q.phone.clone());
    let messages = app.store.query("SELECT code, purpose, created_at, expires_at, used_at, message FROM sms_outbox WHERE phone = $1 ORDER BY created_at DESC, id DESC LIMIT 20", &[phone.as_str().into()]).and_then(|rows| {
        rows.iter()
            .map(|r| Ok(serde_json::json!({ "code": r.opt_text("code")?, "purpose": r.opt_text("purpose")?, "created_at": r.opt_int("created_at")?, "expires_at": r.opt_int("expires_at")?, "used": !r.value("used_at")?.is_null(), "message": r.opt_text("message")? })))
            .collect::<Result<Vec<serde_json::Value>, saoma_store::StoreError>>()
    });
    match messages {
        Ok(messages) => {
            Json(serde_json::json!({ "phone": q.phone, "messages": messages })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "sms outbox");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the outbox")
        }
    }
}
