//! Operators' view of a merchant's notifications and their attempts.

use crate::App;
use crate::http::admin::error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct MchidQuery {
    mchid: String,
}

/// A merchant's notifications and every delivery attempt.
pub(super) async fn notifications(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<MchidQuery>) -> Response {
    match crate::notifications::list(&app, &q.mchid) {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "notifications");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read notifications")
        }
    }
}
