//! The ledger's side of a reconciliation: a window of transfers as the ledger stored them.

use crate::App;
use crate::http::admin::error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct LedgerWindow {
    /// The merchant whose basic account to audit, or…
    mchid: Option<String>,
    /// …any ledger account, as 32 hex digits.
    account: Option<String>,
    /// Unix seconds, from (inclusive; default the beginning) to (exclusive; default now, business time).
    from: Option<i64>,
    to: Option<i64>,
}

/// The ledger's transfers touching one account in a time window, with its balance before and after:
/// what an operator (and the bills test) reconciles a bill against. A scan of the transfers table.
pub(super) async fn ledger_transfers(State(app): State<Arc<App>>, axum::extract::Query(q): axum::extract::Query<LedgerWindow>) -> Response {
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or_else(|| app.business_now_secs() + 1));
    let (Some(from), Some(to)) = (from.checked_mul(saoma_store::NANOS_PER_SEC), to.checked_mul(saoma_store::NANOS_PER_SEC)) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "from and to are Unix seconds");
    };
    if from > to {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "from must not be after to");
    }
    let account = match (&q.mchid, &q.account) {
        (Some(m), None) => match crate::merchants::unsettled_account(&app, m) {
            Ok(Some(a)) => a,
            Ok(None) => return error(StatusCode::NOT_FOUND, "MCH_NOT_EXISTS", "no such merchant"),
            Err(e) => {
                tracing::error!(error = %e, "ledger audit");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the merchant");
            }
        },
        (None, Some(a)) => match u128::from_str_radix(a, 16) {
            Ok(id) if a.len() == 32 => id,
            _ => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "account must be 32 hex digits"),
        },
        _ => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "give mchid or account (one of them)"),
    };
    match crate::bills::ledger_window(&app, account, from, to) {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "ledger audit");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not read the ledger")
        }
    }
}
