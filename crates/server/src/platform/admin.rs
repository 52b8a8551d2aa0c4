//! Operators' platform key rotation and, in sandbox mode, moving the business clock forward.

use crate::App;
use crate::http::admin::error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct Rotate {
    /// How long the current keys stay valid beside the new one (default 7 days).
    overlap_seconds: Option<i64>,
}

pub(super) async fn rotate_platform_key(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: Rotate = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    let overlap = req.overlap_seconds.unwrap_or(7 * 24 * 3600);
    if !(0..=365 * 24 * 3600).contains(&overlap) {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "overlap_seconds must be 0 to one year");
    }
    match crate::platform::keys::rotate(&app.store, crate::http::v3::auth::real_now(), overlap).await {
        Ok(key_id) => {
            app.keys.reload(&app.store);
            let k = app.keys.newest();
            tracing::info!(key_id = %key_id, overlap, "platform key rotated");
            Json(serde_json::json!({
                "platform_public_key_id": k.key_id,
                "platform_serial_no": k.serial_no,
                "platform_public_key": k.public_key_pem,
                "platform_certificate": k.certificate_pem,
                "previous_keys_retire_in_seconds": overlap,
            }))
            .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "rotating the platform key");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not rotate the platform key")
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Advance {
    seconds: i64,
}

/// Why the clock did not move.
#[derive(Debug, PartialEq, Eq)]
pub enum ClockRefusal {
    /// Not in sandbox mode: business time is real time.
    NotSandbox,
    /// Not positive, or more than ten years.
    BadSeconds,
}

/// The longest one move of the clock.
pub const MAX_ADVANCE_SECS: i64 = 10 * 365 * 24 * 3600;

/// Moves the sandbox's business clock forward by `seconds` (the offset kept in the data directory, so
/// a restart keeps it): the offset after, in seconds. The admin API and the operator console both.
pub fn advance_clock_by(app: &App, seconds: i64) -> Result<i64, ClockRefusal> {
    let Some(clock) = app.virtual_clock.as_ref() else { return Err(ClockRefusal::NotSandbox) };
    if seconds <= 0 || seconds > MAX_ADVANCE_SECS {
        return Err(ClockRefusal::BadSeconds);
    }
    clock.advance(seconds * saoma_store::NANOS_PER_SEC);
    if let Err(e) = crate::platform::secrets::write_private(&app.config.data_dir.join("clock.offset"), clock.offset().to_string().as_bytes(), false) {
        tracing::warn!(error = %e, "could not record the clock offset");
    }
    Ok(clock.offset() / saoma_store::NANOS_PER_SEC)
}

/// Moves the virtual clock forward (sandbox mode only).
pub(super) async fn advance_clock(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    if app.virtual_clock.is_none() {
        return error(StatusCode::FORBIDDEN, "NOT_SANDBOX", "the clock moves only in sandbox mode (saoma serve --sandbox)");
    }
    let req: Advance = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    match advance_clock_by(&app, req.seconds) {
        Ok(offset) => Json(serde_json::json!({ "now": saoma_core::time::format_rfc3339_cst(app.business_now_secs()), "offset_seconds": offset })).into_response(),
        Err(ClockRefusal::NotSandbox) => error(StatusCode::FORBIDDEN, "NOT_SANDBOX", "the clock moves only in sandbox mode (saoma serve --sandbox)"),
        Err(ClockRefusal::BadSeconds) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "seconds must be positive and at most ten years"),
    }
}
