//! Operators create merchants (keys, appids, fee rate, notify_url, H5 domains).

use crate::App;
use crate::http::admin::error;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use crate::platform::KeyMode;

#[derive(serde::Deserialize)]
pub(super) struct NewMerchant {
    name: String,
    notify_url: Option<String>,
    /// `public_key` (default) or `certificate`.
    platform_key_mode: Option<String>,
    /// H5 domains (host names) an H5 payment may return to (`redirect_url`), with their subdomains.
    #[serde(default)]
    h5_domains: Vec<String>,
}

pub(super) async fn create_merchant(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewMerchant = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("body: {e}")),
    };
    if req.name.trim().is_empty() || req.name.chars().count() > 64 {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "name must be 1–64 characters");
    }
    if let Some(u) = &req.notify_url {
        if let Err(e) = saoma_core::order::check_notify_url(u) {
            return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e.to_string());
        }
        if let Err(e) = crate::notifications::check_url(&app, u).await {
            return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e);
        }
    }
    let mode = match req.platform_key_mode.as_deref().map(KeyMode::parse) {
        None => KeyMode::PublicKey,
        Some(Some(m)) => m,
        Some(None) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "platform_key_mode must be public_key or certificate"),
    };
    let mut domains = Vec::new();
    for d in &req.h5_domains {
        match crate::merchants::h5_domain(d) {
            Ok(d) if !domains.contains(&d) => domains.push(d),
            Ok(_) => {}
            Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e),
        }
    }
    if domains.len() > 5 || domains.iter().map(|d| d.len() + 1).sum::<usize>() > 1024 {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "at most 5 H5 domains");
    }
    let created = match crate::merchants::create(&app, req.name, req.notify_url, mode, domains).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "creating a merchant failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "could not create the merchant");
        }
    };
    let m = &created.merchant;
    let key = app.keys.signing(Some(m.key_mode));
    tracing::info!(mchid = %m.mchid, "merchant created");
    Json(serde_json::json!({
        "mchid": m.mchid,
        "name": m.name,
        "appid": m.appids.first(),
        "serial_no": m.serial_no,
        "private_key": created.private_key_pem,
        "apiv3_key": m.apiv3_key.expose(),
        "platform_key_mode": m.key_mode.as_str(),
        "h5_domains": m.h5_domains,
        "platform_public_key": key.public_key_pem,
        "platform_public_key_id": key.key_id,
        "platform_certificate": key.certificate_pem,
        "platform_serial_no": key.serial_no,
    }))
    .into_response()
}
