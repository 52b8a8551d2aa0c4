//! The wallet API's agreements: the user's list, signing (PIN) and terminating.

use crate::App;
use crate::http::wallet::{body, error, session};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use crate::payments::pay_error;
use crate::users::{user_error, UserError};

fn agreement_error(e: crate::agreements::AgreementFail) -> Response {
    use crate::agreements::AgreementFail;
    use saoma_core::agreement::AgreementError;
    match e {
        AgreementFail::NotFound => error(StatusCode::NOT_FOUND, "AGREEMENT_NOT_EXIST", "no such agreement of yours"),
        AgreementFail::Rule(AgreementError::ProposalExpired) => error(StatusCode::BAD_REQUEST, "PROPOSAL_EXPIRED", "the proposal expired; ask the merchant again"),
        AgreementFail::Rule(AgreementError::Terminated) => error(StatusCode::BAD_REQUEST, "AGREEMENT_TERMINATED", "the agreement has ended"),
        AgreementFail::Rule(_) => error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "the agreement is signed already"),
        AgreementFail::Pin(e) => pay_error(e),
        other => {
            tracing::error!(error = ?other, "agreement");
            error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "system error")
        }
    }
}

/// The user's withholding agreements (proposed, signed, ended).
pub(super) async fn agreements(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::agreements::of_user(&app, user.id) {
        Ok(list) => Json(json!({ "agreements": list.iter().map(|(a, merchant)| {
            let mut v = crate::agreements::agreement_json(a, None);
            v["merchant"] = merchant.as_str().into();
            v
        }).collect::<Vec<_>>() }))
        .into_response(),
        Err(e) => user_error(UserError::Store(e)),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Pin {
    pin: String,
}

/// The user consents to a proposed agreement with the PIN.
pub(super) async fn sign_agreement(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(contract_id): axum::extract::Path<String>, bytes: axum::body::Bytes) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let req: Pin = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::agreements::sign(&app, &user, &contract_id, &req.pin).await {
        Ok(a) => Json(crate::agreements::agreement_json(&a, None)).into_response(),
        Err(e) => agreement_error(e),
    }
}

/// The user ends an agreement (or declines a proposal).
pub(super) async fn terminate_agreement(State(app): State<Arc<App>>, headers: HeaderMap, axum::extract::Path(contract_id): axum::extract::Path<String>) -> Response {
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match crate::agreements::terminate(&app, &contract_id, crate::agreements::Party::User(user.id)).await {
        Ok(a) => Json(crate::agreements::agreement_json(&a, None)).into_response(),
        Err(e) => agreement_error(e),
    }
}
