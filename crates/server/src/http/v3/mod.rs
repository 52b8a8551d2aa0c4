//! What every handler of the WeChat Pay v3 merchant API shares (the handlers live with their
//! capabilities: `payments/v3.rs`, `refunds/v3.rs`, …): every request is authenticated before anything
//! is read ([`auth`]); every response, errors included, is signed by the platform key
//! ([`auth::sign_response`]); handlers speak v3 error bodies ([`V3Error`]).

pub mod auth;

use crate::App;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use saoma_wechatpay::{ErrorBody, ErrorCode};
use std::sync::Arc;

/// The merchant API: the capabilities' v3 routes, every request authenticated before anything is read
/// and every answer signed; unknown `/v3/` paths get a signed v3 answer too.
pub fn layer(app: Arc<App>, routes: Router<Arc<App>>) -> Router<Arc<App>> {
    routes.route("/v3/*rest", any(not_found)).route_layer(middleware::from_fn_with_state(app, auth::authenticate_and_sign))
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


/// A JSON reply with a status.
pub fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}
