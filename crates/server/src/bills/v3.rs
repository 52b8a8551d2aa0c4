//! Bills through the v3 API: `GET /v3/bill/tradebill`, `GET /v3/bill/fundflowbill` (→ `{hash_type,
//! hash_value, download_url}`), and `GET /v3/billdownload/file?token=…`, the file itself — authenticated
//! like every v3 call, answered unsigned (as WeChat Pay does: SDKs skip verifying it and check the
//! SHA-1 instead). See `crate::bills` for what a day is and why the file can be made again.

use crate::http::v3::auth::{real_now, Caller, Unsigned};
use crate::http::v3::{json, V3Error};
use crate::bills::{self, BillKind, BillSpec, Token, TokenError};
use crate::App;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use saoma_core::bill::{check_bill_date, AccountType, BillDateError, TradeBillType};
use saoma_wechatpay::ErrorCode;
use std::collections::HashMap;
use std::sync::Arc;

fn no_statement() -> V3Error {
    V3Error::new(ErrorCode::NoStatementExist, "请求的账单文件不存在: no payments or refunds that day for this account")
}

/// The bill asked for: the day checked against business time, `tar_type` GZIP or absent.
fn spec(app: &App, caller: &Caller, q: &HashMap<String, String>, kind: BillKind) -> Result<(BillSpec, bool), V3Error> {
    if q.contains_key("sub_mchid") {
        return Err(V3Error::param("sub_mchid: this merchant has no sub-merchants; ask without it"));
    }
    let date = q.get("bill_date").ok_or_else(|| V3Error::param("bill_date is required (YYYY-MM-DD)"))?;
    let day_start = check_bill_date(date, app.business_now_secs()).map_err(|e| match e {
        BillDateError::Format => V3Error::param("bill_date must be a date, YYYY-MM-DD"),
        BillDateError::NotPast => V3Error::param("bill_date must be a day that is over (China time): bills of today or later do not exist yet"),
        BillDateError::TooOld { earliest } => V3Error::param(format!("bills are kept for three months: bill_date must be {earliest} or later")),
        BillDateError::NotReady => V3Error::new(ErrorCode::StatementCreating, "账单生成中: yesterday's bill is being made; ask again in a few minutes"),
    })?;
    let gzip = match q.get("tar_type").map(String::as_str) {
        None => false,
        Some("GZIP") => true,
        Some(_) => return Err(V3Error::param("tar_type must be GZIP, or absent for an uncompressed file")),
    };
    Ok((BillSpec { mchid: caller.merchant.mchid.clone(), kind, date: date.clone(), day_start }, gzip))
}

/// Makes the bill, publishes its SHA-1 and a download URL for it.
async fn apply(app: Arc<App>, spec: BillSpec, gzip: bool) -> Result<Response, V3Error> {
    // A day's orders and refunds read and written out: long work, off the async workers.
    let csv = crate::blocking(|| bills::make(&app, &spec))?.ok_or_else(no_statement)?;
    let sha1 = saoma_wechatpay::digest::sha1_hex(csv.as_bytes());
    let token = Token { spec, gzip, expires_at: real_now() + bills::URL_VALID_SECS, sha1: sha1.clone() }.seal(&app)?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({
            "hash_type": "SHA1",
            "hash_value": sha1,
            "download_url": format!("{}/v3/billdownload/file?token={token}", app.public_base_url()),
        }),
    ))
}

pub async fn tradebill(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Query(q): Query<HashMap<String, String>>) -> Result<Response, V3Error> {
    let ty = match q.get("bill_type") {
        None => TradeBillType::All,
        Some(t) => TradeBillType::parse(t).ok_or_else(|| V3Error::param("bill_type must be ALL, SUCCESS or REFUND"))?,
    };
    let (spec, gzip) = spec(&app, &caller, &q, BillKind::Trade(ty))?;
    apply(app, spec, gzip).await
}

pub async fn fundflowbill(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Query(q): Query<HashMap<String, String>>) -> Result<Response, V3Error> {
    let account = match q.get("account_type") {
        None => AccountType::Basic,
        Some(t) => AccountType::parse(t).ok_or_else(|| V3Error::param("account_type must be BASIC, OPERATION or FEES"))?,
    };
    let (spec, gzip) = spec(&app, &caller, &q, BillKind::Fund(account))?;
    apply(app, spec, gzip).await
}

/// The file: made again from the token's request, and served only if it is the file whose hash was
/// published.
pub async fn download(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Query(q): Query<HashMap<String, String>>) -> Result<Response, V3Error> {
    let token = q.get("token").ok_or_else(|| V3Error::param("token is required: use the download_url as given"))?;
    let t = Token::open(&app, token, real_now()).map_err(|e| match e {
        TokenError::Invalid => V3Error::new(ErrorCode::InvalidRequest, "this download_url is not one saoma gave out"),
        TokenError::Expired => V3Error::new(ErrorCode::InvalidRequest, "this download_url has expired (valid 5 minutes): apply for the bill again"),
    })?;
    if t.spec.mchid != caller.merchant.mchid {
        return Err(V3Error::new(ErrorCode::NoAuth, "this download_url was given to another merchant"));
    }
    let csv = crate::blocking(|| bills::make(&app, &t.spec))?.unwrap_or_default();
    if saoma_wechatpay::digest::sha1_hex(csv.as_bytes()) != t.sha1 {
        // A past day cannot change (crate::bills): this is a fault, and the merchant must not get a file
        // other than the one whose hash it holds.
        tracing::error!(mchid = %t.spec.mchid, date = %t.spec.date, "a bill made again differs from the one published");
        return Err(V3Error::new(ErrorCode::SystemError, "the bill could not be made as published; apply for it again"));
    }
    let (body, content_type) = if t.gzip { (crate::blocking(|| bills::gzip(csv.as_bytes()))?, "application/gzip") } else { (csv.into_bytes(), "text/plain; charset=utf-8") };
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    r.extensions_mut().insert(Unsigned);
    Ok(r)
}
