//! The WeChat Pay v3 adapter: the merchant API, wire-compatible with WeChat Pay's. Every request is
//! authenticated before anything is read ([`auth`]); every response, errors included, is signed by
//! the platform key ([`auth::sign_response`]); handlers speak v3 error bodies ([`V3Error`]).

mod agreements;
pub mod auth;
mod bills;
mod certificates;
mod refunds;
mod transactions;

use crate::App;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use saoma_wechatpay::{ErrorBody, ErrorCode};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router<Arc<App>> {
    Router::new()
        .route("/v3/certificates", get(certificates::list))
        .route("/v3/pay/transactions/native", post(transactions::create_native))
        .route("/v3/pay/transactions/jsapi", post(transactions::create_jsapi))
        .route("/v3/pay/transactions/app", post(transactions::create_app))
        .route("/v3/pay/transactions/h5", post(transactions::create_h5))
        .route("/v3/pay/transactions/codepay", post(transactions::codepay))
        .route("/v3/pay/transactions/out-trade-no/:out_trade_no/reverse", post(transactions::reverse))
        .route("/v3/agreements", post(agreements::propose))
        .route("/v3/agreements/out-contract-code/:code", get(agreements::query_by_code))
        .route("/v3/agreements/:contract_id", get(agreements::query))
        .route("/v3/agreements/:contract_id/terminate", post(agreements::terminate))
        .route("/v3/agreements/:contract_id/notices", post(agreements::notice))
        .route("/v3/agreements/:contract_id/charges", post(agreements::charge))
        .route("/v3/refund/domestic/refunds", post(refunds::create))
        .route("/v3/refund/domestic/refunds/:out_refund_no", get(refunds::query))
        .route("/v3/pay/transactions/out-trade-no/:out_trade_no", get(transactions::query_by_out_trade_no))
        .route("/v3/pay/transactions/id/:transaction_id", get(transactions::query_by_id))
        .route("/v3/pay/transactions/out-trade-no/:out_trade_no/close", post(transactions::close))
        .route("/v3/bill/tradebill", get(bills::tradebill))
        .route("/v3/bill/fundflowbill", get(bills::fundflowbill))
        .route("/v3/billdownload/file", get(bills::download))
        // Unknown v3 paths get a signed v3 answer; other paths are not the v3 adapter's.
        .route("/v3/*rest", any(not_found))
        .route_layer(middleware::from_fn_with_state(app, auth::authenticate_and_sign))
}

async fn not_found() -> V3Error {
    V3Error::new(ErrorCode::ResourceNotExists, "no such API")
}

/// A v3 error: the status its code carries and the `{code, message}` body. Signed on the way out.
#[derive(Debug)]
pub struct V3Error {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl V3Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> V3Error {
        V3Error { status: StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST), body: ErrorBody::new(code, message) }
    }

    pub fn param(message: impl Into<String>) -> V3Error {
        V3Error::new(ErrorCode::ParamError, message)
    }

    pub fn system(e: impl std::fmt::Display) -> V3Error {
        tracing::error!(error = %e, "v3 request failed");
        V3Error::new(ErrorCode::SystemError, "system error, retry with the same request")
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self.body).unwrap_or_else(|_| r#"{"code":"SYSTEM_ERROR","message":"error"}"#.to_string());
        (self.status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl From<saoma_store::StoreError> for V3Error {
    fn from(e: saoma_store::StoreError) -> Self {
        V3Error::system(e)
    }
}

/// A given notify_url's address, as the policy allows it (`crate::notify::check_url`): checked before
/// anything is stored. An empty or absent one passes (the caller's rules say whether one is required).
pub(crate) async fn check_notify_url(app: &App, url: Option<&str>) -> Result<(), V3Error> {
    match url.filter(|u| !u.is_empty()) {
        Some(u) => crate::notify::check_url(app, u).await.map_err(V3Error::param),
        None => Ok(()),
    }
}

/// A JSON reply with a status.
pub fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}
