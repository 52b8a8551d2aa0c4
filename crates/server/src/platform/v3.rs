//! `GET /v3/certificates`: the platform's valid certificates, each encrypted under the caller's APIv3
//! key (associated data "certificate"), as certificate-mode SDKs fetch them.

use crate::http::v3::auth::Caller;
use crate::http::v3::{json, V3Error};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use saoma_core::time::format_rfc3339_cst;
use saoma_wechatpay::aead::Resource;
use std::sync::Arc;

pub async fn list(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, V3Error> {
    let mut data = Vec::new();
    for k in app.keys.valid() {
        let sealed = Resource::seal(&caller.merchant.apiv3_key, None, "certificate", k.certificate_pem.as_bytes()).map_err(V3Error::system)?;
        data.push(serde_json::json!({
            "serial_no": k.serial_no,
            "effective_time": format_rfc3339_cst(k.not_before),
            "expire_time": format_rfc3339_cst(k.not_after),
            "encrypt_certificate": sealed,
        }));
    }
    Ok(json(StatusCode::OK, serde_json::json!({ "data": data })))
}
