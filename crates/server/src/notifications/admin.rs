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

/// A notification that keeps failing, as the operator console lists it.
pub struct Failing {
    pub mchid: String,
    pub event_type: String,
    /// The merchant's number of what it reports (`out_trade_no`, `out_refund_no`, a contract id).
    pub reference: String,
    /// `pending` (retries left) or `failed` (none).
    pub state: String,
    pub attempts: i64,
    /// The last attempt: the receiver's status, or why there was none.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    /// Business seconds; `None` once no retry is left.
    pub next_attempt_at: Option<i64>,
}

/// Notifications not delivered after at least one attempt (of one merchant, or all), the most tried
/// first, at most `limit`.
pub fn failing(app: &App, mchid: Option<&str>, limit: i64) -> Result<Vec<Failing>, saoma_store::StoreError> {
    let sql = "SELECT n.mchid, n.event_type, n.reference, n.state, n.attempts, n.next_attempt_at, a.status, a.error \
               FROM notifications n LEFT JOIN notification_attempts a ON a.notification_id = n.id AND a.attempt = n.attempts \
               WHERE n.state <> 'delivered' AND n.attempts > 0 AND ($1 = '' OR n.mchid = $1) \
               ORDER BY n.attempts DESC, n.created_at DESC, n.id DESC LIMIT $2";
    let rows = app.store.query(sql, &[mchid.unwrap_or("").into(), limit.into()])?;
    rows.iter()
        .map(|r| {
            let state = r.text("state")?.to_string();
            Ok(Failing {
                mchid: r.text("mchid")?.to_string(),
                event_type: r.text("event_type")?.to_string(),
                reference: r.text("reference")?.to_string(),
                next_attempt_at: if state == "pending" { Some(r.int("next_attempt_at")?) } else { None },
                state,
                attempts: r.int("attempts")?,
                last_status: r.opt_int("status")?,
                last_error: r.opt_text("error")?.map(str::to_string),
            })
        })
        .collect()
}
