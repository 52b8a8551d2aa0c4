//! Operators add a merchant's staff: `POST /admin/merchants/{mchid}/staff {phone, name, role, password}`.

use super::{StaffError, MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
use crate::http::admin::error;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub(super) struct NewStaff {
    phone: String,
    name: String,
    role: String,
    password: String,
}

pub(super) async fn create_staff(State(app): State<Arc<App>>, Path(mchid): Path<String>, body: axum::body::Bytes) -> Response {
    let req: NewStaff = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    match super::create(&app, &mchid, &req.phone, &req.name, &req.role, &req.password).await {
        Ok(s) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "staff_id": format!("{:032x}", s.id), "mchid": s.mchid, "phone": s.phone, "name": s.name, "role": s.role.as_str() })),
        )
            .into_response(),
        Err(e) => staff_error(e),
    }
}

fn staff_error(e: StaffError) -> Response {
    match e {
        StaffError::BadPhone => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", crate::users::PHONE_RULE),
        StaffError::BadName => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("name must be 1–{MAX_NAME_CHARS} characters, no control characters")),
        StaffError::BadRole => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "role must be manager or cashier"),
        StaffError::BadPassword => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("password must be {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} characters")),
        StaffError::NoSuchMerchant => error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "no such merchant"),
        StaffError::PhoneTaken => error(StatusCode::CONFLICT, "PHONE_TAKEN", "this phone is staff of a merchant already"),
        StaffError::Store(e) => {
            tracing::error!(error = %e, "staff creation");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not add the staff member")
        }
    }
}
