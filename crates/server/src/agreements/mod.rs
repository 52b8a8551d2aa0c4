//! Withholding agreements (签约代扣), the application service: a merchant proposes (naming the user by
//! the openid it knows), the user signs with the PIN in the wallet, the merchant charges within the
//! limits (each charge an order of trade type PAP, idempotent on out_trade_no, paid in the same job),
//! sends pre-debit notices, and either side terminates. Signing, terminating and every charge notify the
//! merchant. The rules are `saoma_core::agreement`.

mod pages;
mod v3;
mod wallet;

use crate::payments::orders::{self, NewOrder, Order, OrderError};
use crate::payments::{self, ChargeIds, PayError};
use crate::users::{self, User};
use crate::App;
use saoma_core::agreement::{self as rules, AgreementError, AgreementState, Limits};
use saoma_core::order::{TradeState, TradeType};
use saoma_core::time::{cst_day_start, format_rfc3339_cst};
use saoma_store::{JobTx, Row, StoreError};

#[derive(Clone, Debug)]
pub struct Agreement {
    pub id: u128,
    pub contract_id: String,
    pub mchid: String,
    pub appid: String,
    pub out_contract_code: String,
    pub user_id: u128,
    pub description: String,
    pub limits: Limits,
    pub notify_url: Option<String>,
    pub state: AgreementState,
    pub proposed_at: i64,
    pub signed_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub terminated_by: Option<String>,
}

pub struct NewAgreement {
    pub mchid: String,
    pub appid: String,
    pub out_contract_code: String,
    pub openid: String,
    pub description: String,
    pub limits: Limits,
    pub notify_url: Option<String>,
}

#[derive(Clone, Debug)]
pub enum AgreementFail {
    NotFound,
    /// The openid is not a user of this appid.
    UnknownUser,
    Rule(AgreementError),
    CodeUsed,
    /// The charge's order (out_trade_no) was refused.
    Order(OrderError),
    /// The charge failed; the order is PAYERROR.
    Charge(PayError),
    Pin(PayError),
    Store(String),
}

impl From<StoreError> for AgreementFail {
    fn from(e: StoreError) -> Self {
        AgreementFail::Store(e.to_string())
    }
}

/// The agreement as merchants see it (and its notifications' resource).
pub fn agreement_json(a: &Agreement, openid: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "contract_id": a.contract_id,
        "mchid": a.mchid,
        "appid": a.appid,
        "out_contract_code": a.out_contract_code,
        "description": a.description,
        "limits": { "per_charge": a.limits.per_charge, "per_day": a.limits.per_day, "currency": "CNY" },
        "state": a.state.as_str(),
        "proposed_time": format_rfc3339_cst(a.proposed_at),
    });
    if let Some(o) = openid {
        v["openid"] = o.into();
    }
    if let Some(t) = a.signed_at {
        v["signed_time"] = format_rfc3339_cst(t).into();
    }
    if let Some(t) = a.terminated_at {
        v["terminated_time"] = format_rfc3339_cst(t).into();
        v["terminated_by"] = a.terminated_by.clone().into();
    }
    v
}

pub const COLUMNS: &str = "id, contract_id, mchid, appid, out_contract_code, user_id, description, per_charge_limit, per_day_limit, notify_url, state, \
                           proposed_at, signed_at, terminated_at, terminated_by, request_digest";

fn from_row(r: &Row) -> Result<(Agreement, String), StoreError> {
    let bad = |w: &str| StoreError::Corrupt(format!("agreement row: {w}"));
    let text = |name: &str| r.text(name).map(str::to_string);
    let opt = |name: &str| r.opt_text(name).map(|t| t.map(str::to_string));
    Ok((
        Agreement {
            id: r.id("id")?,
            contract_id: text("contract_id")?,
            mchid: text("mchid")?,
            appid: text("appid")?,
            out_contract_code: text("out_contract_code")?,
            user_id: r.id("user_id")?,
            description: text("description")?,
            limits: Limits { per_charge: r.int("per_charge_limit")?, per_day: r.int("per_day_limit")? },
            notify_url: opt("notify_url")?,
            state: AgreementState::parse(r.text("state")?).ok_or_else(|| bad("state"))?,
            proposed_at: r.int("proposed_at")?,
            signed_at: r.opt_int("signed_at")?,
            terminated_at: r.opt_int("terminated_at")?,
            terminated_by: opt("terminated_by")?,
        },
        text("request_digest")?,
    ))
}

/// The agreement by contract_id, inside a job.
pub fn in_job(tx: &mut JobTx<'_>, contract_id: &str) -> Result<Option<Agreement>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM agreements WHERE contract_id = $1"), &[contract_id.into()])?.map(|r| from_row(&r).map(|(a, _)| a)).transpose()
}

/// The agreement by its id, inside a job.
pub fn by_id_in_job(tx: &mut JobTx<'_>, id: u128) -> Result<Option<Agreement>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM agreements WHERE id = $1"), &[id.into()])?.map(|r| from_row(&r).map(|(a, _)| a)).transpose()
}

/// Inside a job: writes a new agreement as `a` has it (proposed: the caller has checked the limits,
/// found the user and drawn the ids). `digest` is what makes a repeated proposal the same request.
pub fn record_in_job(tx: &mut JobTx<'_>, a: &Agreement, digest: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO agreements (id, contract_id, mchid, appid, out_contract_code, user_id, description, per_charge_limit, per_day_limit, notify_url, state, \
         proposed_at, signed_at, terminated_at, terminated_by, request_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        &[
            a.id.into(),
            a.contract_id.as_str().into(),
            a.mchid.as_str().into(),
            a.appid.as_str().into(),
            a.out_contract_code.as_str().into(),
            a.user_id.into(),
            a.description.as_str().into(),
            a.limits.per_charge.into(),
            a.limits.per_day.into(),
            a.notify_url.clone().into(),
            a.state.as_str().into(),
            a.proposed_at.into(),
            a.signed_at.into(),
            a.terminated_at.into(),
            a.terminated_by.clone().into(),
            digest.into(),
        ],
    )?;
    Ok(())
}

/// The agreement by contract_id (read side).
pub fn get(app: &App, contract_id: &str) -> Result<Option<Agreement>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM agreements WHERE contract_id = $1"), &[contract_id.into()])?;
    row.map(|r| from_row(&r).map(|(a, _)| a)).transpose()
}

pub fn by_out_contract_code(app: &App, mchid: &str, code: &str) -> Result<Option<Agreement>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM agreements WHERE mchid = $1 AND out_contract_code = $2"), &[mchid.into(), code.into()])?;
    row.map(|r| from_row(&r).map(|(a, _)| a)).transpose()
}

/// The user's agreements (the wallet's list), newest first.
pub fn of_user(app: &App, user: u128) -> Result<Vec<(Agreement, String)>, StoreError> {
    let rows = app.store.query(
        &format!("SELECT {COLUMNS}, {} AS merchant_name FROM agreements WHERE user_id = $1 ORDER BY proposed_at DESC", crate::merchants::name_of("agreements.mchid")),
        &[user.into()],
    )?;
    rows.iter().map(|r| Ok((from_row(r)?.0, r.opt_text("merchant_name")?.unwrap_or_default().to_string()))).collect()
}

/// The openid the merchant knows the agreement's user by.
pub fn openid_in_job(tx: &mut JobTx<'_>, a: &Agreement) -> Result<String, StoreError> {
    users::openid_for(tx, a.user_id, &a.appid)
}

fn notify(tx: &mut JobTx<'_>, id: u128, a: &Agreement, event: &str, summary: &str, now: i64) -> Result<(), StoreError> {
    let Some(url) = a.notify_url.as_deref().filter(|u| !u.is_empty()) else { return Ok(()) };
    let key = crate::merchants::settlement_in_job(tx, &a.mchid)?.ok_or_else(|| StoreError::Corrupt("agreement of an unknown merchant".into()))?.apiv3_key(&a.mchid)?;
    let openid = openid_in_job(tx, a)?;
    crate::notifications::enqueue(tx, id, &a.mchid, &key, url, event, summary, "agreement", &a.contract_id, &agreement_json(a, Some(&openid)), now)
}

/// A merchant proposes an agreement to the user it knows as `openid` (idempotent on out_contract_code).
pub async fn propose(app: &App, n: NewAgreement) -> Result<Agreement, AgreementFail> {
    rules::check_limits(n.limits).map_err(AgreementFail::Rule)?;
    let now = app.business_now_secs();
    let id = app.ids.next();
    let contract_id = format!("C{}{:019}", saoma_core::time::format_rfc3339_cst(now).chars().take(10).filter(char::is_ascii_digit).collect::<String>(), saoma_store::splitmix(id as u64) % 10_000_000_000_000_000_000);
    let digest = serde_json::json!([n.appid, n.openid, n.description, n.limits.per_charge, n.limits.per_day, n.notify_url]).to_string();
    app.store
        .transact(move |tx| {
            if let Some(row) = tx.query_one(&format!("SELECT {COLUMNS} FROM agreements WHERE mchid = $1 AND out_contract_code = $2"), &[n.mchid.as_str().into(), n.out_contract_code.as_str().into()])? {
                let (a, existing) = from_row(&row)?;
                return Ok(if existing == digest { Ok(a) } else { Err(AgreementFail::CodeUsed) });
            }
            let Some(user_id) = users::by_openid_in_job(tx, &n.openid, &n.appid)? else {
                return Ok(Err(AgreementFail::UnknownUser));
            };
            let a = Agreement {
                id,
                contract_id,
                mchid: n.mchid,
                appid: n.appid,
                out_contract_code: n.out_contract_code,
                user_id,
                description: n.description,
                limits: n.limits,
                notify_url: n.notify_url,
                state: AgreementState::Proposed,
                proposed_at: now,
                signed_at: None,
                terminated_at: None,
                terminated_by: None,
            };
            record_in_job(tx, &a, &digest)?;
            Ok(Ok(a))
        })
        .await?
}

/// Signs inside a job (the PIN, if asked for, was checked before): the AGREEMENT.SIGNED notification
/// commits with it.
pub fn sign_in_job(tx: &mut JobTx<'_>, a: Agreement, notification: u128, now: i64) -> Result<Result<Agreement, AgreementFail>, StoreError> {
    let state = match rules::sign(a.state, a.proposed_at, now) {
        Ok(s) => s,
        Err(e) => return Ok(Err(AgreementFail::Rule(e))),
    };
    tx.execute("UPDATE agreements SET state = $1, signed_at = $2 WHERE id = $3", &[state.as_str().into(), now.into(), a.id.into()])?;
    let a = Agreement { state, signed_at: Some(now), ..a };
    notify(tx, notification, &a, "AGREEMENT.SIGNED", "签约成功", now)?;
    Ok(Ok(a))
}

/// The user consents to a proposal, confirming with the PIN.
pub async fn sign(app: &App, user: &User, contract_id: &str, pin_given: &str) -> Result<Agreement, AgreementFail> {
    let now = app.business_now_secs();
    let a = get(app, contract_id)?.filter(|a| a.user_id == user.id).ok_or(AgreementFail::NotFound)?;
    rules::sign(a.state, a.proposed_at, now).map_err(AgreementFail::Rule)?;
    let proof = crate::users::pins::verify(app, user, pin_given).await.map_err(|e| AgreementFail::Pin(e.into()))?;
    let (contract_id, notification) = (a.contract_id, app.ids.next());
    app.store
        .transact(move |tx| {
            if let Err(e) = proof.check_in_job(tx, now)? {
                return Ok(Err(AgreementFail::Pin(e.into())));
            }
            let a = in_job(tx, &contract_id)?.ok_or_else(|| StoreError::Corrupt("agreement vanished".into()))?;
            sign_in_job(tx, a, notification, now)
        })
        .await?
}

/// Who ends an agreement.
#[derive(Clone, Debug)]
pub enum Party {
    Merchant(String),
    User(u128),
}

/// Ends the agreement inside a job.
pub fn terminate_in_job(tx: &mut JobTx<'_>, a: Agreement, by: &str, notification: u128, now: i64) -> Result<Result<Agreement, AgreementFail>, StoreError> {
    let state = match rules::terminate(a.state) {
        Ok(s) => s,
        Err(e) => return Ok(Err(AgreementFail::Rule(e))),
    };
    tx.execute("UPDATE agreements SET state = $1, terminated_at = $2, terminated_by = $3 WHERE id = $4", &[state.as_str().into(), now.into(), by.into(), a.id.into()])?;
    let a = Agreement { state, terminated_at: Some(now), terminated_by: Some(by.to_string()), ..a };
    notify(tx, notification, &a, "AGREEMENT.TERMINATED", "解约成功", now)?;
    Ok(Ok(a))
}

/// Either side ends the agreement; the other side never sees it as its own.
pub async fn terminate(app: &App, contract_id: &str, by: Party) -> Result<Agreement, AgreementFail> {
    let now = app.business_now_secs();
    let (contract_id, notification) = (contract_id.to_string(), app.ids.next());
    app.store
        .transact(move |tx| {
            let Some(a) = in_job(tx, &contract_id)? else { return Ok(Err(AgreementFail::NotFound)) };
            let who = match &by {
                Party::Merchant(m) if *m == a.mchid => "MERCHANT",
                Party::User(u) if *u == a.user_id => "USER",
                _ => return Ok(Err(AgreementFail::NotFound)),
            };
            terminate_in_job(tx, a, who, notification, now)
        })
        .await?
}

/// A pre-debit notice (预扣费通知): the user is told, through the SMS outbox, what will be charged.
pub async fn notice(app: &App, mchid: &str, contract_id: &str, amount: i64, description: String) -> Result<serde_json::Value, AgreementFail> {
    let now = app.business_now_secs();
    let (mchid, contract_id, id, sms) = (mchid.to_string(), contract_id.to_string(), app.ids.next(), app.ids.next());
    app.store
        .transact(move |tx| {
            let Some(a) = in_job(tx, &contract_id)?.filter(|a| a.mchid == mchid) else { return Ok(Err(AgreementFail::NotFound)) };
            if let Err(e) = rules::charge(a.state, a.limits, 0, amount) {
                return Ok(Err(AgreementFail::Rule(e)));
            }
            tx.execute(
                "INSERT INTO agreement_notices (id, agreement_id, amount, description, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[id.into(), a.id.into(), amount.into(), description.as_str().into(), now.into()],
            )?;
            let phone = users::in_job(tx, a.user_id)?.map(|u| u.phone).unwrap_or_default();
            let merchant = crate::merchants::name_in_job(tx, &a.mchid)?.unwrap_or_default();
            let text = format!("{merchant} will charge {} CNY through your agreement {}: {description}", saoma_core::yuan::format(amount), a.contract_id);
            users::message_in_job(tx, sms, &phone, "pre-debit", &text, now)?;
            Ok(Ok(serde_json::json!({ "notice_id": format!("{id:032x}"), "contract_id": a.contract_id, "amount": { "total": amount, "currency": "CNY" }, "description": description, "create_time": format_rfc3339_cst(now) })))
        })
        .await?
}


/// What the day's charges through `a` add up to (China day).
pub fn charged_today(tx: &mut JobTx<'_>, a: &Agreement, now: i64) -> Result<i64, StoreError> {
    orders::charged_through(tx, a.id, cst_day_start(now))
}

/// Charges `n` (an order of trade type PAP) through the agreement inside a job: the order is created
/// (or found: idempotent on out_trade_no), the limits checked, the wallet charged. A failed charge is
/// committed as PAYERROR and reported beside the order.
pub fn charge_in_job(tx: &mut JobTx<'_>, a: &Agreement, n: NewOrder, prepared: orders::Prepared, ids: ChargeIds, now: i64) -> Result<Result<(Order, Option<PayError>), AgreementFail>, StoreError> {
    charge_with(tx, a, n, prepared, ids, now, true)
}

/// As [`charge_in_job`]; `within_limits: false` is for the user's own repayment of debts charged
/// through the agreement (the user is present and pays what is owed: the daily limit does not apply).
pub fn charge_with(tx: &mut JobTx<'_>, a: &Agreement, n: NewOrder, prepared: orders::Prepared, ids: ChargeIds, now: i64, within_limits: bool) -> Result<Result<(Order, Option<PayError>), AgreementFail>, StoreError> {
    charge_remembering(tx, a, n, prepared, ids, now, within_limits, &mut ChargeMemo::default())
}

/// What one job that charges many times through agreements (a transit upload: a ride each) keeps from
/// one charge to the next instead of reading it again: each agreement's charges of the day, this job's
/// own charges added as they succeed, and each payer. Valid within one job only (one `now`, one
/// transaction that nothing else writes).
#[derive(Default)]
pub struct ChargeMemo {
    today: std::collections::HashMap<u128, i64>,
    payers: std::collections::HashMap<u128, User>,
    payments: payments::PayMemo,
}

/// [`charge_with`] with a [`ChargeMemo`] kept across the job's charges.
#[allow(clippy::too_many_arguments)]
pub fn charge_remembering(
    tx: &mut JobTx<'_>,
    a: &Agreement,
    n: NewOrder,
    prepared: orders::Prepared,
    ids: ChargeIds,
    now: i64,
    within_limits: bool,
    memo: &mut ChargeMemo,
) -> Result<Result<(Order, Option<PayError>), AgreementFail>, StoreError> {
    let (order, created) = match orders::create_in_job(tx, n, prepared, &format!("/{}", a.contract_id))? {
        Ok(o) => o,
        Err(e) => return Ok(Err(AgreementFail::Order(e))),
    };
    if !created {
        return Ok(Ok((order, None)));
    }
    let charged_today = match (within_limits, memo.today.get(&a.id)) {
        (false, _) => 0,
        (true, Some(sum)) => *sum,
        (true, None) => {
            let sum = charged_today(tx, a, now)?;
            memo.today.insert(a.id, sum);
            sum
        }
    };
    let limits = if within_limits { a.limits } else { Limits { per_charge: i64::MAX, per_day: i64::MAX } };
    if let Err(e) = rules::charge(a.state, limits, charged_today, order.total) {
        return Ok(Err(AgreementFail::Rule(e)));
    }
    let user = match memo.payers.get(&a.user_id) {
        Some(u) => u.clone(),
        None => {
            let u = users::in_job(tx, a.user_id)?.ok_or_else(|| StoreError::Corrupt("agreement's user vanished".into()))?;
            memo.payers.insert(a.user_id, u.clone());
            u
        }
    };
    let id = order.id;
    let failed = order.clone();
    // The order is marked with the agreement by the payment's own update (one write of the row): that
    // mark is what the day's limit counts. A repayment is not marked: the user, present, pays what is
    // owed, and that must not use up the day's allowance for the merchant's own deductions (a rider who
    // repays would otherwise have her next rides refused as over the limit, and fall into debt again).
    memo.payments.agreement = within_limits.then_some(a.id);
    let charged = payments::charge_remembering(tx, order, &user, false, ids, &mut memo.payments);
    memo.payments.agreement = None;
    match charged? {
        Ok(paid) => {
            // Counted in the day's sum from now on, as the database would count it (same day: the job's time).
            if let Some(sum) = memo.today.get_mut(&a.id).filter(|_| within_limits) {
                *sum += paid.total;
            }
            Ok(Ok((paid, None)))
        }
        Err(reason) => {
            orders::mark_pay_error(tx, id, user.id, within_limits.then_some(a.id))?;
            Ok(Ok((Order { trade_state: TradeState::PayError, payer_user: Some(user.id), ..failed }, Some(reason))))
        }
    }
}

/// A merchant charges through its agreement.
pub async fn charge(app: &App, mchid: &str, contract_id: &str, mut n: NewOrder) -> Result<Order, AgreementFail> {
    let a = get(app, contract_id)?.filter(|a| a.mchid == mchid).ok_or(AgreementFail::NotFound)?;
    n.trade_type = TradeType::Pap;
    n.appid = a.appid.clone();
    if n.notify_url.is_empty() {
        n.notify_url = a.notify_url.clone().unwrap_or_default();
    }
    let prepared = orders::prepare(app, &n).map_err(AgreementFail::Order)?;
    let ids = ChargeIds::new(app);
    let now = app.business_now_secs();
    let contract_id = a.contract_id.clone();
    let r = app
        .store
        .transact(move |tx| {
            let a = in_job(tx, &contract_id)?.ok_or_else(|| StoreError::Corrupt("agreement vanished".into()))?;
            charge_in_job(tx, &a, n, prepared, ids, now)
        })
        .await??;
    match r {
        (order, None) => Ok(order),
        (_, Some(reason)) => Err(AgreementFail::Charge(reason)),
    }
}


/// The v3 withholding API; the user's agreements in the wallet API and the wallet's pages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        pages: axum::Router::new()
            .route("/agreements", get(pages::show))
            .route("/agreements/sign", post(pages::sign))
            .route("/agreements/terminate", get(pages::confirm_terminate).post(pages::terminate)),
        v3: axum::Router::new()
            .route("/v3/agreements", post(v3::propose))
            .route("/v3/agreements/out-contract-code/:code", get(v3::query_by_code))
            .route("/v3/agreements/:contract_id", get(v3::query))
            .route("/v3/agreements/:contract_id/terminate", post(v3::terminate))
            .route("/v3/agreements/:contract_id/notices", post(v3::notice))
            .route("/v3/agreements/:contract_id/charges", post(v3::charge)),
        wallet: axum::Router::new()
            .route("/wallet/agreements", get(wallet::agreements))
            .route("/wallet/agreements/:contract_id/sign", post(wallet::sign_agreement))
            .route("/wallet/agreements/:contract_id/terminate", post(wallet::terminate_agreement)),
        ..Default::default()
    }
}
