//! Withholding agreements through the merchant API (saoma's own, in the v3 style — WeChat Pay's direct
//! papay is not a v3 API): propose, query, pre-debit notice, charge, terminate.
//!
//! - `POST /v3/agreements` `{appid, mchid, out_contract_code, openid, description, limits{per_charge,
//!   per_day}, notify_url?}` → the agreement (PROPOSED); the user signs in the wallet.
//! - `GET /v3/agreements/{contract_id}`, `GET /v3/agreements/out-contract-code/{code}`.
//! - `POST /v3/agreements/{contract_id}/notices` `{amount{total}, description}` → the notice.
//! - `POST /v3/agreements/{contract_id}/charges` `{out_trade_no, description, amount{total}, attach?,
//!   notify_url?}` → the transaction (trade_type PAP); idempotent on out_trade_no.
//! - `POST /v3/agreements/{contract_id}/terminate` → the agreement (TERMINATED).

use crate::http::v3::auth::Caller;
use crate::http::v3::{json, V3Error};
use crate::agreements::{self, AgreementFail, Party};
use crate::payments::orders::{self, NewOrder};
use crate::payments::PayError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use saoma_core::agreement::{AgreementError, Limits};
use saoma_core::order::{self as order_rules, TradeType};
use saoma_wechatpay::ErrorCode;
use serde_json::Value as Json;
use std::sync::Arc;

pub fn agreement_error(e: AgreementFail) -> V3Error {
    match e {
        AgreementFail::NotFound => V3Error::new(ErrorCode::ResourceNotExists, "no such agreement"),
        AgreementFail::UnknownUser => V3Error::param("openid is not a user of this appid"),
        AgreementFail::CodeUsed => V3Error::new(ErrorCode::InvalidRequest, "out_contract_code has been used with other parameters"),
        AgreementFail::Rule(r) => match r {
            AgreementError::BadLimits => V3Error::param("limits: per_charge must be positive and per_day at least per_charge (fen)"),
            AgreementError::NotSigned => V3Error::new(ErrorCode::InvalidRequest, "the user has not signed the agreement"),
            AgreementError::NotProposed => V3Error::new(ErrorCode::InvalidRequest, "the agreement is signed already"),
            AgreementError::ProposalExpired => V3Error::new(ErrorCode::InvalidRequest, "the proposal expired unsigned"),
            AgreementError::Terminated => V3Error::new(ErrorCode::InvalidRequest, "the agreement has been terminated"),
            AgreementError::AbovePerCharge => V3Error::new(ErrorCode::RuleLimit, "above the agreement's per-charge limit"),
            AgreementError::AbovePerDay { left } => V3Error::new(ErrorCode::RuleLimit, format!("above the agreement's daily limit ({left} fen left today)")),
        },
        AgreementFail::Order(e) => e.into(),
        AgreementFail::Charge(PayError::NotEnough) => V3Error::new(ErrorCode::NotEnough, "the user's balance is not enough; the order is PAYERROR"),
        AgreementFail::Charge(e) | AgreementFail::Pin(e) => V3Error::new(ErrorCode::TradeError, format!("the charge failed ({e:?})")),
        AgreementFail::Store(e) => V3Error::system(e),
    }
}

fn body(caller: &Caller) -> Result<Json, V3Error> {
    let v: Json = serde_json::from_str(&caller.body).map_err(|e| V3Error::param(format!("body is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(V3Error::param("body must be a JSON object"));
    }
    Ok(v)
}

fn text(v: &Json, key: &str, required: bool) -> Result<Option<String>, V3Error> {
    match v.get(key) {
        None | Some(Json::Null) if required => Err(V3Error::param(format!("{key} is required"))),
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(V3Error::param(format!("{key} must be a string"))),
    }
}

fn fen(v: Option<&Json>, name: &str) -> Result<i64, V3Error> {
    match v {
        Some(Json::Number(n)) => n.as_i64().ok_or_else(|| V3Error::param(format!("{name} must be an integer number of fen"))),
        None | Some(Json::Null) => Err(V3Error::param(format!("{name} is required"))),
        Some(_) => Err(V3Error::param(format!("{name} must be an integer number of fen"))),
    }
}

pub async fn propose(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>) -> Result<Response, V3Error> {
    let v = body(&caller)?;
    if text(&v, "mchid", true)?.as_deref() != Some(caller.merchant.mchid.as_str()) {
        return Err(V3Error::param("mchid must be the merchant named in Authorization"));
    }
    let appid = text(&v, "appid", true)?.unwrap_or_default();
    if !caller.merchant.appids.contains(&appid) {
        return Err(V3Error::new(ErrorCode::AppidMchidNotMatch, "appid is not bound to this mchid"));
    }
    let out_contract_code = text(&v, "out_contract_code", true)?.unwrap_or_default();
    order_rules::check_out_trade_no("out_contract_code", &out_contract_code)?;
    let description = text(&v, "description", true)?.unwrap_or_default();
    order_rules::check_len("description", &description, 1, 64)?;
    let notify_url = text(&v, "notify_url", false)?;
    if let Some(u) = &notify_url {
        order_rules::check_notify_url(u)?;
    }
    let limits = Limits { per_charge: fen(v.get("limits").and_then(|l| l.get("per_charge")), "limits.per_charge")?, per_day: fen(v.get("limits").and_then(|l| l.get("per_day")), "limits.per_day")? };
    let openid = text(&v, "openid", true)?.unwrap_or_default();
    crate::notifications::check_notify_url(&app, notify_url.as_deref()).await?;
    let n = agreements::NewAgreement { mchid: caller.merchant.mchid.clone(), appid, out_contract_code, openid: openid.clone(), description, limits, notify_url };
    let a = agreements::propose(&app, n).await.map_err(agreement_error)?;
    Ok(json(StatusCode::OK, agreements::agreement_json(&a, Some(&openid))))
}

fn own(app: &App, caller: &Caller, contract_id: &str) -> Result<agreements::Agreement, V3Error> {
    agreements::get(app, contract_id)?.filter(|a| a.mchid == caller.merchant.mchid).ok_or_else(|| agreement_error(AgreementFail::NotFound))
}

pub async fn query(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(contract_id): Path<String>) -> Result<Response, V3Error> {
    let a = own(&app, &caller, &contract_id)?;
    Ok(json(StatusCode::OK, agreements::agreement_json(&a, None)))
}

pub async fn query_by_code(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(code): Path<String>) -> Result<Response, V3Error> {
    let a = agreements::by_out_contract_code(&app, &caller.merchant.mchid, &code)?.ok_or_else(|| agreement_error(AgreementFail::NotFound))?;
    Ok(json(StatusCode::OK, agreements::agreement_json(&a, None)))
}

pub async fn terminate(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(contract_id): Path<String>) -> Result<Response, V3Error> {
    let a = agreements::terminate(&app, &contract_id, Party::Merchant(caller.merchant.mchid.clone())).await.map_err(agreement_error)?;
    Ok(json(StatusCode::OK, agreements::agreement_json(&a, None)))
}

pub async fn notice(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(contract_id): Path<String>) -> Result<Response, V3Error> {
    let v = body(&caller)?;
    let amount = fen(v.get("amount").and_then(|a| a.get("total")), "amount.total")?;
    order_rules::check_amount(amount, "CNY")?;
    let description = text(&v, "description", true)?.unwrap_or_default();
    order_rules::check_len("description", &description, 1, 127)?;
    let r = agreements::notice(&app, &caller.merchant.mchid, &contract_id, amount, description).await.map_err(agreement_error)?;
    Ok(json(StatusCode::OK, r))
}

pub async fn charge(State(app): State<Arc<App>>, Extension(caller): Extension<Caller>, Path(contract_id): Path<String>) -> Result<Response, V3Error> {
    let v = body(&caller)?;
    let total = fen(v.get("amount").and_then(|a| a.get("total")), "amount.total")?;
    let n = NewOrder {
        mchid: caller.merchant.mchid.clone(),
        appid: String::new(),
        trade_type: TradeType::Pap,
        description: text(&v, "description", true)?.unwrap_or_default(),
        out_trade_no: text(&v, "out_trade_no", true)?.unwrap_or_default(),
        time_expire: None,
        attach: text(&v, "attach", false)?,
        notify_url: text(&v, "notify_url", false)?.unwrap_or_default(),
        goods_tag: None,
        total,
        currency: v.get("amount").and_then(|a| a.get("currency")).and_then(Json::as_str).unwrap_or("CNY").to_string(),
        payer_openid: None,
    };
    crate::notifications::check_notify_url(&app, Some(&n.notify_url)).await?;
    let o = agreements::charge(&app, &caller.merchant.mchid, &contract_id, n).await.map_err(agreement_error)?;
    Ok(json(StatusCode::OK, orders::transaction_json(&o, app.business_now_secs())))
}
