//! Orders through the v3 API: create (Native, JSAPI, APP, H5), query by `out_trade_no` or
//! `transaction_id`, close. Creation is idempotent on (mchid, out_trade_no): the same parameters give
//! back the same code; other parameters are refused.

use crate::http::v3::auth::Caller;
use crate::http::v3::{json, V3Error};
use crate::payments::orders::{self, NewOrder, OrderError};
use crate::payments::paycodes::{self, CodepayError, ReverseFail};
use crate::payments::PayError;
use saoma_core::order::{ReverseError, TradeState};
use saoma_core::paycode::CodeError;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use saoma_core::order::{FieldError, TradeType};
use saoma_wechatpay::ErrorCode;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;

impl From<FieldError> for V3Error {
    fn from(e: FieldError) -> Self {
        V3Error::param(e.to_string())
    }
}

impl From<OrderError> for V3Error {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => V3Error::new(ErrorCode::OrderNotExist, "order does not exist"),
            OrderError::Paid => V3Error::new(ErrorCode::OrderPaid, "order has been paid"),
            OrderError::Closed => V3Error::new(ErrorCode::OrderClosed, "order is closed"),
            OrderError::Paying => V3Error::new(ErrorCode::TradeError, "a payment of this order is in progress"),
            OrderError::OutTradeNoUsed => V3Error::new(ErrorCode::OutTradeNoUsed, "out_trade_no already used with other parameters"),
            OrderError::Field(f) => f.into(),
            OrderError::Store(s) => V3Error::system(s),
        }
    }
}

fn field<'a>(v: &'a Json, path: &[&'static str]) -> Option<&'a Json> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn string(v: &Json, path: &[&'static str], required: bool) -> Result<Option<String>, V3Error> {
    let name = path.join(".");
    match field(v, path) {
        None | Some(Json::Null) if required => Err(V3Error::param(format!("{name} is required"))),
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(V3Error::param(format!("{name} must be a string"))),
    }
}

fn body_json(caller: &Caller) -> Result<Json, V3Error> {
    let v: Json = serde_json::from_str(&caller.body).map_err(|e| V3Error::param(format!("body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(V3Error::param("body must be a JSON object"));
    }
    Ok(v)
}

fn parse_new(caller: &Caller, trade_type: TradeType) -> Result<NewOrder, V3Error> {
    let v = body_json(caller)?;
    parse_new_from(caller, &v, trade_type)
}

fn parse_new_from(caller: &Caller, v: &Json, trade_type: TradeType) -> Result<NewOrder, V3Error> {
    let v = v.clone();
    let mchid = string(&v, &["mchid"], true)?.unwrap_or_default();
    if mchid != caller.merchant.mchid {
        return Err(V3Error::param("mchid must be the merchant named in Authorization"));
    }
    let appid = string(&v, &["appid"], true)?.unwrap_or_default();
    if !caller.merchant.appids.contains(&appid) {
        return Err(V3Error::new(ErrorCode::AppidMchidNotMatch, "appid is not bound to this mchid"));
    }
    let total = match field(&v, &["amount", "total"]) {
        Some(Json::Number(n)) => n.as_i64().ok_or_else(|| V3Error::param("amount.total must be an integer number of fen"))?,
        None | Some(Json::Null) => return Err(V3Error::param("amount.total is required")),
        Some(_) => return Err(V3Error::param("amount.total must be an integer number of fen")),
    };
    let payer_openid = string(&v, &["payer", "openid"], trade_type == TradeType::Jsapi)?;
    if trade_type == TradeType::H5 && field(&v, &["scene_info", "h5_info", "type"]).is_none() {
        return Err(V3Error::param("scene_info.h5_info.type is required"));
    }
    Ok(NewOrder {
        mchid,
        appid,
        trade_type,
        description: string(&v, &["description"], true)?.unwrap_or_default(),
        out_trade_no: string(&v, &["out_trade_no"], true)?.unwrap_or_default(),
        time_expire: string(&v, &["time_expire"], false)?,
        attach: string(&v, &["attach"], false)?,
        notify_url: string(&v, &["notify_url"], trade_type != TradeType::Micropay)?.unwrap_or_default(),
        goods_tag: string(&v, &["goods_tag"], false)?,
        total,
        currency: string(&v, &["amount", "currency"], false)?.unwrap_or_else(|| "CNY".to_string()),
        payer_openid,
    })
}

async fn create(app: Arc<App>, caller: Caller, trade_type: TradeType) -> Result<Response, V3Error> {
    let new = parse_new(&caller, trade_type)?;
    crate::notifications::check_notify_url(&app, Some(&new.notify_url)).await?;
    let order = orders::create(&app, new).await?;
    let base = app.public_base_url();
    let reply = match trade_type {
        TradeType::Native => serde_json::json!({ "code_url": order.code_url() }),
        TradeType::H5 => serde_json::json!({ "h5_url": format!("{base}/cashier/h5?prepay_id={}", order.prepay_id()) }),
        _ => serde_json::json!({ "prepay_id": order.prepay_id() }),
    };
    Ok(json(StatusCode::OK, reply))
}

pub async fn create_native(State(app): State<Arc<App>>, Extension(c): Extension<Caller>) -> Result<Response, V3Error> {
    create(app, c, TradeType::Native).await
}
pub async fn create_jsapi(State(app): State<Arc<App>>, Extension(c): Extension<Caller>) -> Result<Response, V3Error> {
    create(app, c, TradeType::Jsapi).await
}
pub async fn create_app(State(app): State<Arc<App>>, Extension(c): Extension<Caller>) -> Result<Response, V3Error> {
    create(app, c, TradeType::App).await
}
pub async fn create_h5(State(app): State<Arc<App>>, Extension(c): Extension<Caller>) -> Result<Response, V3Error> {
    create(app, c, TradeType::H5).await
}

fn query_mchid(caller: &Caller, q: &HashMap<String, String>) -> Result<(), V3Error> {
    match q.get("mchid") {
        None => Err(V3Error::param("mchid is required in the query")),
        Some(m) if *m != caller.merchant.mchid => Err(V3Error::param("mchid must be the merchant named in Authorization")),
        Some(_) => Ok(()),
    }
}

pub async fn query_by_out_trade_no(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, V3Error> {
    query_mchid(&caller, &q)?;
    let o = orders::by_out_trade_no(&app, &caller.merchant.mchid, &out_trade_no)?.ok_or(OrderError::NotFound)?;
    Ok(json(StatusCode::OK, orders::transaction_json(&o, app.business_now_secs())))
}

pub async fn query_by_id(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(transaction_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, V3Error> {
    query_mchid(&caller, &q)?;
    let o = orders::by_transaction_id(&app, &caller.merchant.mchid, &transaction_id)?.ok_or(OrderError::NotFound)?;
    // An unpaid order has no transaction_id to the merchant yet.
    if o.success_at.is_none() {
        return Err(OrderError::NotFound.into());
    }
    Ok(json(StatusCode::OK, orders::transaction_json(&o, app.business_now_secs())))
}

/// Charges the user's payment code (付款码) for a new order: 200 with the paid transaction; 202
/// USERPAYING while the user confirms with the PIN (query until SUCCESS, or reverse); 403 NOT_ENOUGH with
/// the order left PAYERROR when the charge fails.
pub async fn codepay(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, V3Error> {
    let v = body_json(&caller)?;
    let auth_code = string(&v, &["payer", "auth_code"], true)?.unwrap_or_default();
    if field(&v, &["scene_info", "store_info", "out_id"]).and_then(Json::as_str).is_none() {
        return Err(V3Error::param("scene_info.store_info.out_id is required"));
    }
    let new = parse_new_from(&caller, &v, TradeType::Micropay)?;
    crate::notifications::check_notify_url(&app, Some(&new.notify_url)).await?;
    let now = app.business_now_secs();
    match paycodes::codepay(&app, new, auth_code).await {
        Ok(o) if o.state_at(now) == TradeState::UserPaying => Err(V3Error::new(ErrorCode::UserPaying, "the user is confirming with the PIN; query the order until it is paid, or reverse it")),
        Ok(o) => Ok(json(StatusCode::OK, orders::transaction_json(&o, now))),
        Err(CodepayError::Code(e)) => Err(match e {
            CodeError::Format => V3Error::param("payer.auth_code must be 18 digits starting 10–15"),
            CodeError::Unknown => V3Error::new(ErrorCode::InvalidRequest, "payer.auth_code is not a payment code; ask the user to show a fresh one"),
            CodeError::Used => V3Error::new(ErrorCode::InvalidRequest, "payer.auth_code has been used; ask the user to refresh the code"),
            CodeError::Expired => V3Error::new(ErrorCode::InvalidRequest, "payer.auth_code has expired; ask the user to refresh the code"),
        }),
        Err(CodepayError::Order(e)) => Err(e.into()),
        Err(CodepayError::PayError { reason: PayError::NotEnough, .. }) => Err(V3Error::new(ErrorCode::NotEnough, "the user's balance is not enough; the order is PAYERROR")),
        Err(CodepayError::PayError { reason, .. }) => Err(V3Error::new(ErrorCode::TradeError, format!("the payment failed ({reason:?}); the order is PAYERROR"))),
        Err(CodepayError::Store(e)) => Err(V3Error::system(e)),
    }
}

/// Reverses (撤销) a payment-code order: 200 `{appid, mchid, out_trade_no}`.
pub async fn reverse(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    let v = body_json(&caller)?;
    if string(&v, &["mchid"], true)?.as_deref() != Some(caller.merchant.mchid.as_str()) {
        return Err(V3Error::param("mchid must be the merchant named in Authorization"));
    }
    let appid = string(&v, &["appid"], true)?.unwrap_or_default();
    match paycodes::reverse(&app, &caller.merchant.mchid, &out_trade_no).await {
        Ok(o) => Ok(json(StatusCode::OK, serde_json::json!({ "appid": appid, "mchid": o.mchid, "out_trade_no": o.out_trade_no }))),
        Err(ReverseFail::NotFound) => Err(OrderError::NotFound.into()),
        Err(ReverseFail::Rule(e)) => Err(match e {
            ReverseError::NotPaymentCode => V3Error::new(ErrorCode::InvalidRequest, "only payment-code (MICROPAY) orders are reversed; close or refund this one"),
            ReverseError::Reversed => V3Error::new(ErrorCode::InvalidRequest, "the order has been reversed already (REVOKED)"),
            ReverseError::Refunded => V3Error::new(ErrorCode::InvalidRequest, "the order has refunds; refund the rest instead of reversing"),
            ReverseError::Closed => V3Error::new(ErrorCode::OrderClosed, "the order is closed"),
        }),
        Err(ReverseFail::Refund(e)) => Err(crate::refunds::refund_error(e)),
        Err(ReverseFail::Store(e)) => Err(V3Error::system(e)),
    }
}

pub async fn close(
    State(app): State<Arc<App>>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    let v: Json = serde_json::from_str(&caller.body).map_err(|e| V3Error::param(format!("body is not JSON: {e}")))?;
    if string(&v, &["mchid"], true)?.as_deref() != Some(caller.merchant.mchid.as_str()) {
        return Err(V3Error::param("mchid must be the merchant named in Authorization"));
    }
    orders::close(&app, &caller.merchant.mchid, &out_trade_no).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT))
}
