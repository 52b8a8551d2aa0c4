//! Refunds: money back from the merchant to the payer's wallet, in one job with the refund row, the
//! order's refunded sum and state, and the REFUND.SUCCESS notification. Idempotent on
//! (mchid, out_refund_no): the same request gives back the first refund, another one is refused.
//! The rules (50 refunds, the paid amount, a year, the fee share) are `saoma_core::refund`.

mod v3;

pub(crate) use v3::refund_error;

use crate::platform::accounts::{movement, Booked, FEES_CNY};
use crate::payments::orders::{self, Order};
use crate::App;
use saoma_core::bill::OrderInfo;
use saoma_core::order::TradeState;
use saoma_core::refund::{self as rules, Paid, RefundError};
use saoma_core::time::format_rfc3339_cst;
use saoma_ledger::{Currency, NewTransfer, TransferError, TransferFlags};
use saoma_store::{JobTx, Row, StoreError};

/// A refund as the merchant asked for it (fields checked by the adapter).
#[derive(Clone, Debug)]
pub struct NewRefund {
    pub mchid: String,
    pub transaction_id: Option<String>,
    pub out_trade_no: Option<String>,
    pub out_refund_no: String,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub refund: i64,
    pub total: i64,
    pub currency: String,
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: u128,
    pub refund_id: String,
    pub out_refund_no: String,
    pub mchid: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub amount: i64,
    pub total: i64,
    pub currency: String,
    pub status: String,
    pub created_at: i64,
    pub success_at: Option<i64>,
    pub fee_refund: i64,
}

#[derive(Clone, Debug)]
pub enum RefundFail {
    OrderNotFound,
    Rule(RefundError),
    /// The merchant's account cannot cover the refund.
    NotEnough,
    OutRefundNoUsed,
    Store(String),
}

impl From<StoreError> for RefundFail {
    fn from(e: StoreError) -> Self {
        RefundFail::Store(e.to_string())
    }
}

/// The refund as v3 shows it (the answer, the query, and the REFUND.SUCCESS resource's basis).
pub fn refund_json(r: &Refund) -> serde_json::Value {
    let mut v = serde_json::json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": format_rfc3339_cst(r.created_at),
        "status": r.status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": r.total, "refund": r.amount, "payer_total": r.total, "payer_refund": r.amount,
            "settlement_total": r.total, "settlement_refund": r.amount, "discount_refund": 0, "currency": r.currency,
            "refund_fee": r.fee_refund,
        },
        "promotion_detail": [],
    });
    if let Some(at) = r.success_at {
        v["success_time"] = format_rfc3339_cst(at).into();
    }
    v
}

/// What a REFUND.SUCCESS notification carries (WeChat Pay's refund resource).
fn notification_json(r: &Refund) -> serde_json::Value {
    serde_json::json!({
        "mchid": r.mchid,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "refund_status": r.status,
        "success_time": r.success_at.map(format_rfc3339_cst),
        "user_received_account": "支付用户零钱",
        "amount": { "total": r.total, "refund": r.amount, "payer_total": r.total, "payer_refund": r.amount },
    })
}

/// A refund's own columns; what it shows of its order (transaction_id, out_trade_no, total) comes with
/// it in the same statement, joined by `payments::orders` (`by_out_refund_no_sql`, `succeeded_between`).
const COLUMNS: &str = "r.id, r.refund_id, r.out_refund_no, r.mchid, r.amount, r.currency, r.status, r.created_at, r.success_at, r.fee_refund, r.request_digest";

fn from_row(r: &Row) -> Result<(Refund, String), StoreError> {
    let text = |name: &str| r.text(name).map(str::to_string);
    Ok((
        Refund {
            id: r.id("id")?,
            refund_id: text("refund_id")?,
            out_refund_no: text("out_refund_no")?,
            mchid: text("mchid")?,
            transaction_id: text("transaction_id")?,
            out_trade_no: text("out_trade_no")?,
            amount: r.int("amount")?,
            total: r.int("total")?,
            currency: text("currency")?,
            status: text("status")?,
            created_at: r.int("created_at")?,
            success_at: r.opt_int("success_at")?,
            fee_refund: r.int("fee_refund")?,
        },
        text("request_digest")?,
    ))
}

/// The merchant's refund by its out_refund_no, with its order: one statement, the order's part as
/// `payments::orders` gives it.
fn by_out_refund_no_sql() -> String {
    format!("SELECT {COLUMNS}, {} FROM refunds r {} WHERE r.mchid = $1 AND r.out_refund_no = $2", orders::REFUNDED_COLUMNS, orders::join("r.order_id"))
}

/// A refund of this merchant by its out_refund_no.
pub fn by_out_refund_no(app: &App, mchid: &str, out_refund_no: &str) -> Result<Option<Refund>, StoreError> {
    let row = app.store.query_one(&by_out_refund_no_sql(), &[mchid.into(), out_refund_no.into()])?;
    row.map(|r| from_row(&r).map(|(r, _)| r)).transpose()
}

/// The refunds to `user`'s wallet, each with its merchant's name, newest first, at most `limit` (the
/// wallet's history).
pub fn to_payer(app: &App, user: u128, limit: i64) -> Result<Vec<(Refund, String)>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT {COLUMNS}, {}, {} AS merchant_name FROM refunds r {} {} WHERE o.payer_user = $1 ORDER BY r.success_at DESC LIMIT $2",
            orders::REFUNDED_COLUMNS,
            crate::merchants::NAME,
            orders::join("r.order_id"),
            crate::merchants::join("o.mchid")
        ),
        &[user.into(), limit.into()],
    )?;
    rows.iter().map(|r| Ok((from_row(r)?.0, r.text("merchant_name")?.to_string()))).collect()
}

/// The refunds of one of the merchant's orders with their reasons, oldest first (an order has at most
/// 50).
pub fn of_order(app: &App, mchid: &str, order_id: u128) -> Result<Vec<(Refund, Option<String>)>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, r.reason, {} FROM refunds r {} WHERE r.mchid = $1 AND r.order_id = $2 ORDER BY r.created_at, r.id",
        orders::REFUNDED_COLUMNS,
        orders::join("r.order_id")
    );
    let rows = app.store.query(&sql, &[mchid.into(), order_id.into()])?;
    rows.iter().map(|r| Ok((from_row(r)?.0, r.opt_text("reason")?.map(str::to_string)))).collect()
}

/// How many of the merchant's refunds succeeded since `from` (business seconds), and what they gave
/// back (the console's takings of the day).
pub fn succeeded_since(app: &App, mchid: &str, from: i64) -> Result<(i64, i64), StoreError> {
    let r = app.store.query_one(
        "SELECT COUNT(*) AS refunds, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount FROM refunds \
         WHERE mchid = $1 AND status = 'SUCCESS' AND success_at >= $2",
        &[mchid.into(), from.into()],
    )?;
    Ok(match r {
        Some(r) => (r.opt_int("refunds")?.unwrap_or(0), r.opt_int("amount")?.unwrap_or(0)),
        None => (0, 0),
    })
}

/// A refund made in a bill's window, with the order it gave back from and the ledger transfers it
/// names as the ledger has them (a bill checks the one against the other).
pub struct Settled {
    pub success_at: i64,
    pub created_at: i64,
    pub order: OrderInfo,
    pub refund_id: String,
    pub out_refund_no: String,
    pub amount: i64,
    pub fee_refund: i64,
    pub refund: Option<Booked>,
    pub fee_refund_transfer: Option<Booked>,
}

/// The merchant's refunds that succeeded in `[from, to)` (business seconds): one statement, each
/// joined to its order (the order's part from `payments::orders`) and to the ledger's transfers.
pub fn succeeded_between(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<Settled>, StoreError> {
    let sql = format!(
        "SELECT r.success_at, {}, r.created_at, r.refund_id, r.out_refund_no, r.amount, r.fee_refund, \
         r.refund_transfer, t.ts AS refund_ts, t.amount AS refund_amount, r.fee_refund_transfer, g.ts AS fee_refund_ts, g.amount AS fee_refund_amount \
         FROM refunds r {} \
         LEFT JOIN transfers t ON t.id = r.refund_transfer LEFT JOIN transfers g ON g.id = r.fee_refund_transfer \
         WHERE r.mchid = $1 AND r.status = 'SUCCESS' AND r.success_at >= $2 AND r.success_at < $3",
        orders::BILL_COLUMNS,
        orders::join("r.order_id"),
    );
    let rows = app.store.query(&sql, &[mchid.into(), from.into(), to.into()])?;
    rows.iter()
        .map(|r| {
            let text = |name: &str| r.opt_text(name).map(|t| t.unwrap_or("").to_string());
            Ok(Settled {
                success_at: r.int("success_at")?,
                created_at: r.int("created_at")?,
                order: orders::bill_info(r, mchid)?,
                refund_id: text("refund_id")?,
                out_refund_no: text("out_refund_no")?,
                amount: r.int("amount")?,
                fee_refund: r.int("fee_refund")?,
                refund: Booked::read(r, "refund")?,
                fee_refund_transfer: Booked::read(r, "fee_refund")?,
            })
        })
        .collect()
}

/// What the merchant's refunds that succeeded before `before` gave back, fee shares taken (a fund-flow
/// bill's opening balance).
pub fn refunded_net_before(app: &App, mchid: &str, before: i64) -> Result<i64, StoreError> {
    let r = app.store.query_one("SELECT CAST(COALESCE(SUM(amount - fee_refund), 0) AS BIGINT) AS amount FROM refunds WHERE mchid = $1 AND status = 'SUCCESS' AND success_at < $2", &[mchid.into(), before.into()])?;
    Ok(r.map(|r| r.opt_int("amount")).transpose()?.flatten().unwrap_or(0))
}

/// Ids drawn outside the writer for one refund.
#[derive(Clone, Copy)]
pub struct RefundIds {
    id: u128,
    refund_transfer: u128,
    fee_transfer: u128,
    notification: u128,
}

impl RefundIds {
    pub fn new(app: &App) -> RefundIds {
        RefundIds { id: app.ids.next(), refund_transfer: app.ids.next(), fee_transfer: app.ids.next(), notification: app.ids.next() }
    }
}

/// Refunds as the merchant asks.
pub async fn create(app: &App, n: NewRefund) -> Result<Refund, RefundFail> {
    let ids = RefundIds::new(app);
    // What makes two requests "the same refund".
    let digest = serde_json::json!([n.transaction_id, n.out_trade_no, n.refund, n.total, n.currency]).to_string();
    app.store
        .transact(move |tx| {
            // The job's own time, as a payment's: the ledger stamps the transfers with it, and bills cut
            // days by the row's time. A time read before the job was queued could fall in a day whose
            // bill has already been made (and on another day than the transfers).
            let now = tx.now().div_euclid(saoma_store::NANOS_PER_SEC);
            if let Some(row) = tx.query_one(&by_out_refund_no_sql(), &[n.mchid.as_str().into(), n.out_refund_no.as_str().into()])? {
                let (refund, existing) = from_row(&row)?;
                return Ok(if existing == digest { Ok(refund) } else { Err(RefundFail::OutRefundNoUsed) });
            }
            let order = match (&n.transaction_id, &n.out_trade_no) {
                (Some(t), _) => orders::by_transaction_id_in_job(tx, &n.mchid, t)?,
                (None, Some(o)) => orders::by_out_trade_no_in_job(tx, &n.mchid, o)?,
                (None, None) => None,
            };
            let Some(order) = order else { return Ok(Err(RefundFail::OrderNotFound)) };
            let r = in_job(tx, &order, n.refund, n.total, &n.out_refund_no, n.reason.as_deref(), n.notify_url.as_deref(), &digest, now, ids)?;
            if let Ok((_, order_state)) = &r {
                orders::set_state(tx, order.id, *order_state)?;
            }
            Ok(r.map(|(refund, _)| refund))
        })
        .await?
}

/// Inside a job: refunds `amount` of a paid `order` (rules checked here), moving the money as one
/// chain — the fee share from the platform back to the merchant, then the refund from the merchant to
/// the payer's wallet — and writing the refund row, the order's sums and the notification. Returns the
/// refund and the state the order should take (`REFUND`); the caller writes the state.
#[allow(clippy::too_many_arguments)]
pub fn in_job(
    tx: &mut JobTx<'_>,
    order: &Order,
    amount: i64,
    requested_total: i64,
    out_refund_no: &str,
    reason: Option<&str>,
    notify_url: Option<&str>,
    digest: &str,
    now: i64,
    ids: RefundIds,
) -> Result<Result<(Refund, TradeState), RefundFail>, StoreError> {
    let (Some(paid_at), Some(payer)) = (order.success_at, order.payer_user) else {
        return Ok(Err(RefundFail::Rule(RefundError::NotPaid)));
    };
    if !matches!(order.trade_state, TradeState::Success | TradeState::Refund) {
        return Ok(Err(RefundFail::Rule(RefundError::NotPaid)));
    }
    let paid = Paid {
        total: order.total,
        paid_at,
        refunded: order.refunded,
        refund_count: order.refund_count,
        fee: order.fee,
        fee_refunded: order.fee_refunded,
        fee_rate_bp: order.fee_rate_bp,
    };
    let fee_share = match rules::check(&paid, requested_total, amount, now) {
        Ok(f) => f,
        Err(e) => return Ok(Err(RefundFail::Rule(e))),
    };
    let m = crate::merchants::settlement_in_job(tx, &order.mchid)?.ok_or_else(|| StoreError::Corrupt("order of an unknown merchant".into()))?;
    let unsettled = m.unsettled;
    let wallet = crate::users::wallet_in_job(tx, payer)?.ok_or_else(|| StoreError::Corrupt("payer's wallet".into()))?;
    // The fee share first: the merchant's account must not go negative, and the share is part of what
    // it can give back.
    let mut chain = Vec::with_capacity(2);
    if fee_share > 0 {
        let mut t = NewTransfer::simple(ids.fee_transfer, FEES_CNY, unsettled, fee_share, Currency::CNY, movement::FEE_REFUND, ids.id);
        t.flags = TransferFlags::LINKED;
        chain.push(t);
    }
    chain.push(NewTransfer::simple(ids.refund_transfer, unsettled, wallet, amount, Currency::CNY, movement::REFUND, ids.id));
    let results = tx.create_transfers(&chain)?;
    if results.iter().any(|r| matches!(r, Err(TransferError::ExceedsCredits))) {
        return Ok(Err(RefundFail::NotEnough));
    }
    if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
        return Err(StoreError::Corrupt(format!("refund transfer refused: {e}")));
    }
    let candidates: Vec<String> = (0..4u64).map(|i| refund_id(now, saoma_store::splitmix(ids.id as u64 ^ i))).collect();
    let mut refund_id = None;
    for c in candidates {
        if tx.query_one("SELECT id FROM refunds WHERE refund_id = $1", &[c.as_str().into()])?.is_none() {
            refund_id = Some(c);
            break;
        }
    }
    let refund_id = refund_id.ok_or_else(|| StoreError::Io("no free refund_id after 4 tries".into()))?;
    let fee_transfer = (fee_share > 0).then_some(ids.fee_transfer);
    tx.execute(
        "INSERT INTO refunds (id, refund_id, mchid, out_refund_no, order_id, reason, notify_url, amount, fee_refund, currency, status, \
         request_digest, created_at, success_at, refund_transfer, fee_refund_transfer) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'SUCCESS', $11, $12, $12, $13, $14)",
        &[
            ids.id.into(),
            refund_id.as_str().into(),
            order.mchid.as_str().into(),
            out_refund_no.into(),
            order.id.into(),
            reason.into(),
            notify_url.into(),
            amount.into(),
            fee_share.into(),
            order.currency.as_str().into(),
            digest.into(),
            now.into(),
            ids.refund_transfer.into(),
            fee_transfer.into(),
        ],
    )?;
    orders::record_refund(tx, order.id, amount, fee_share)?;
    let refund = Refund {
        id: ids.id,
        refund_id,
        out_refund_no: out_refund_no.to_string(),
        mchid: order.mchid.clone(),
        transaction_id: order.transaction_id.clone(),
        out_trade_no: order.out_trade_no.clone(),
        amount,
        total: order.total,
        currency: order.currency.clone(),
        status: "SUCCESS".into(),
        created_at: now,
        success_at: Some(now),
        fee_refund: fee_share,
    };
    if let Some(url) = notify_url.filter(|u| !u.is_empty()) {
        let apiv3 = m.apiv3_key(&order.mchid)?;
        crate::notifications::enqueue(tx, ids.notification, &order.mchid, &apiv3, url, "REFUND.SUCCESS", "退款成功", "refund", out_refund_no, &notification_json(&refund), now)?;
    }
    Ok(Ok((refund, TradeState::Refund)))
}

/// A 29-digit refund_id as WeChat Pay's look: `50300` + the 8-digit China date + 16 digits unique to
/// the refund.
fn refund_id(now: i64, unique: u64) -> String {
    let date: String = format_rfc3339_cst(now).chars().take(10).filter(|c| c.is_ascii_digit()).collect();
    format!("50300{date}{:016}", unique % 10_000_000_000_000_000)
}


/// The v3 refunds API.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        v3: axum::Router::new()
            .route("/v3/refund/domestic/refunds", post(v3::create))
            .route("/v3/refund/domestic/refunds/:out_refund_no", get(v3::query)),
        ..Default::default()
    }
}
