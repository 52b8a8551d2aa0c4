//! Refunds through the v3 API: `POST /v3/refund/domestic/refunds` and the query by out_refund_no.

use crate::http::v3::auth::Caller;
use crate::http::v3::{json, V3Error};
use crate::refunds::{self, NewRefund, RefundFail};
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use saoma_core::order as order_rules;
use saoma_core::refund::{self as rules, RefundError};
use saoma_wechatpay::ErrorCode;
use serde_json::Value as Json;
use std::sync::Arc;

pub fn refund_error(e: RefundFail) -> V3Error {
    match e {
        RefundFail::OrderNotFound => V3Error::new(ErrorCode::ResourceNotExists, "the order does not exist"),
        RefundFail::Rule(r) => match r {
            RefundError::NotPaid => V3Error::new(ErrorCode::InvalidRequest, "the order is not paid: there is nothing to refund"),
            RefundError::TotalMismatch => V3Error::param("amount.total must be the order's amount"),
            RefundError::ExceedsRefundable { left } => V3Error::new(ErrorCode::InvalidRequest, format!("amount.refund exceeds what is left to refund ({left} fen)")),
            RefundError::TooMany => V3Error::new(ErrorCode::InvalidRequest, format!("an order can have at most {} refunds", rules::MAX_REFUNDS)),
            RefundError::TooLate => V3Error::new(ErrorCode::InvalidRequest, "the order was paid more than a year ago and can no longer be refunded"),
        },
        RefundFail::NotEnough => V3Error::new(ErrorCode::NotEnough, "the merchant's balance is not enough for this refund"),
        RefundFail::OutRefundNoUsed => V3Error::new(ErrorCode::InvalidRequest, "out_refund_no has been used for another refund"),
        RefundFail::Store(e) => V3Error::system(e),
    }
}

fn text(v: &Json, key: &str) -> Result<Option<String>, V3Error> {
    match v.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(V3Error::param(format!("{key} must be a string"))),
    }
}

fn fen(v: &Json, key: &str) -> Result<i64, V3Error> {
    match v.get("amount").and_then(|a| a.get(key)) {
        Some(Json::Number(n)) => n.as_i64().ok_or_else(|| V3Error::param(format!("amount.{key} must be an integer number of fen"))),
        None | Some(Json::Null) => Err(V3Error::param(format!("amount.{key} is required"))),
        Some(_) => Err(V3Error::param(format!("amount.{key} must be an integer number of fen"))),
    }
}

fn parse(caller: &Caller) -> Result<NewRefund, V3Error> {
    let v: Json = serde_json::from_str(&caller.body).map_err(|e| V3Error::param(format!("body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(V3Error::param("body must be a JSON object"));
    }
    let out_refund_no = text(&v, "out_refund_no")?.ok_or_else(|| V3Error::param("out_refund_no is required"))?;
    if !rules::valid_out_refund_no(&out_refund_no) {
        return Err(V3Error::param("out_refund_no must be 1–64 characters of 0-9, A-Z, a-z, _ - | * @"));
    }
    let (transaction_id, out_trade_no) = (text(&v, "transaction_id")?, text(&v, "out_trade_no")?);
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(V3Error::param("transaction_id or out_trade_no is required"));
    }
    let reason = text(&v, "reason")?;
    if let Some(r) = &reason {
        order_rules::check_len("reason", r, 0, 80)?;
    }
    let notify_url = text(&v, "notify_url")?;
    if let Some(u) = &notify_url {
        order_rules::check_notify_url(u)?;
    }
    let (refund, total) = (fen(&v, "refund")?, fen(&v, "total")?);
    let currency = v.get("amount").and_then(|a| a.get("currency")).and_then(Json::as_str).unwrap_or("CNY").to_string();
    order_rules::check_amount(total, &currency)?;
    if refund <= 0 || refund > order_rules::MAX_TOTAL {
        return Err(V3Error::param(format!("amount.refund must be 1–{} fen", order_rules::MAX_TOTAL)));
    }
    Ok(NewRefund { mchid: caller.merchant.mchid.clone(), transaction_id, out_trade_no, out_refund_no, reason, notify_url, refund, total, currency })
}

pub async fn create(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, V3Error> {
    let n = parse(&caller)?;
    crate::notifications::check_notify_url(&app, n.notify_url.as_deref()).await?;
    let r = refunds::create(&app, n).await.map_err(refund_error)?;
    Ok(json(StatusCode::OK, refunds::refund_json(&r)))
}

pub async fn query(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(out_refund_no): Path<String>) -> Result<Response, V3Error> {
    let r = refunds::by_out_refund_no(&app, &caller.merchant.mchid, &out_refund_no)?
        .ok_or_else(|| V3Error::new(ErrorCode::ResourceNotExists, "no refund with this out_refund_no"))?;
    Ok(json(StatusCode::OK, refunds::refund_json(&r)))
}
