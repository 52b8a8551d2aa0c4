//! Payments: orders (Native, JSAPI, APP, H5, payment code), paying them from a wallet, the user's
//! payment code and what a cashier does with it (codepay, reverse), and the v3 and wallet handlers.
//!
//! Invariants: an order is paid at most once — the state change, the money (wallet → the merchant's
//! unsettled account, the fee to the platform, one linked chain) and its notification commit in one job;
//! creation is idempotent on (mchid, out_trade_no); a payment-code order waits USERPAYING at most 45 s;
//! an order with goods attached (`Order::goods`, the shop's) has their stock taken in its payment's job,
//! or the payment fails as sold out with nothing moved.

pub mod orders;
mod pages;
pub mod paycodes;
mod scan;
mod v3;
mod wallet;

pub(crate) use wallet::pay_error;

// Paying an order from a wallet: one job that checks the order and the user, moves the money as one
// linked chain (wallet → the merchant's unsettled account, then the fee to the platform), and marks
// the order paid — all committed together, or nothing.
use crate::platform::accounts::{movement, FEES_CNY};
use orders::{Order, OrderError};
use crate::users::pins::{self, PinError, PinProof};
use crate::users::{self, User};
use crate::{merchants, App};
use saoma_core::{fees, order as rules};
use saoma_ledger::{Currency, NewTransfer, TransferError, TransferFlags};
use saoma_store::{JobTx, StoreError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayError {
    NoSuchOrder,
    Order(String),
    NotEnough,
    PinRequired,
    WrongPin { tries_left: i64 },
    PinLocked { until: i64 },
    /// Every PIN try left is being checked right now (guesses sent at once).
    PinBusy,
    Store(String),
}

impl From<PinError> for PayError {
    fn from(e: PinError) -> Self {
        match e {
            PinError::Wrong { tries_left } => PayError::WrongPin { tries_left },
            PinError::Locked { until } => PayError::PinLocked { until },
            PinError::Busy => PayError::PinBusy,
            PinError::Store(e) => PayError::Store(e),
        }
    }
}

impl From<StoreError> for PayError {
    fn from(e: StoreError) -> Self {
        PayError::Store(e.to_string())
    }
}

impl From<OrderError> for PayError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => PayError::NoSuchOrder,
            OrderError::Paid => PayError::Order("ORDERPAID".into()),
            OrderError::Closed => PayError::Order("ORDER_CLOSED".into()),
            OrderError::Paying => PayError::Order("USERPAYING".into()),
            other => PayError::Store(format!("{other:?}")),
        }
    }
}

/// The order's code from what the user scanned or the page was given: a Native `code_url`, or a
/// `prepay_id`.
pub fn order_code(scanned: &str) -> Option<&str> {
    let s = scanned.trim();
    if let Some(q) = s.strip_prefix("weixin://wxpay/bizpayurl?pr=") {
        return Some(q);
    }
    s.strip_prefix("wx").filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Pays the order named by `scanned` as `user` (the user is in the wallet, paying what they scanned or
/// were shown); `pin` is needed above the password-free limit. The ten-a-day count is the payment
/// code's rule (`paycodes`): it is not applied here.
///
/// Without a PIN nothing is read before the job, and the job reads the order, the payer, the merchant
/// and the payer's openid in one statement: on PostgreSQL every statement is a round trip, and this is
/// the busiest path there is.
pub async fn pay(app: &App, user: &User, scanned: &str, pin_given: Option<String>) -> Result<Order, PayError> {
    let code = order_code(scanned).ok_or(PayError::NoSuchOrder)?.to_string();
    let now = app.business_now_secs();
    let proof: Option<PinProof> = match pin_given {
        // The PIN's argon2 check is slow on purpose: outside the writer, and only where the order needs it.
        Some(given) => {
            let order = orders::by_code(app, &code)?.ok_or(PayError::NoSuchOrder)?;
            rules::pay(order.state_at(now)).map_err(OrderError::from)?;
            // A PIN given where none is needed is not checked: the payment is password-free.
            if order.total > user.password_free_limit {
                Some(pins::verify(app, user, &given).await?)
            } else {
                None
            }
        }
        None => None,
    };
    let user_id = user.id;
    let ids = ChargeIds::new(app);
    app.store
        .transact(move |tx| {
            // Everything under the writer: the order, the lock and the limit may have changed.
            let Some(row) = tx.query_one(&PAY_READ, &[code.as_str().into(), user_id.into()])? else {
                return Ok(Err(PayError::NoSuchOrder));
            };
            let (order, _) = orders::from_row(&row.slice(..ORDER_COLS))?;
            if let Err(e) = rules::pay(order.state_at(now)) {
                return Ok(Err(OrderError::from(e).into()));
            }
            let user = users::from_row(&row.slice(ORDER_COLS..ORDER_COLS + USER_COLS))?;
            let merchant = merchants::settlement_from_row(&row.slice(ORDER_COLS + USER_COLS..ORDER_COLS + USER_COLS + MERCHANT_COLS))?;
            let openid = row.slice(ORDER_COLS + USER_COLS + MERCHANT_COLS..).opt_text("openid")?.map(str::to_string);
            // A JSAPI order names its payer (payer.openid): nobody else may pay it.
            if let Some(expected) = &order.payer_openid {
                if openid.as_ref() != Some(expected) {
                    return Ok(Err(PayError::Order("PAYER_MISMATCH".into())));
                }
            }
            if order.total > user.password_free_limit {
                match &proof {
                    None => return Ok(Err(PayError::PinRequired)),
                    Some(p) => {
                        if let Err(e) = p.check(&user, now) {
                            return Ok(Err(e.into()));
                        }
                    }
                }
            }
            let mut memo = PayMemo::default();
            memo.merchants.insert(order.mchid.clone(), merchant);
            if let Some(o) = openid {
                memo.openids.insert((user.id, order.appid.clone()), o);
            }
            charge_remembering(tx, order, &user, false, ids, &mut memo)
        })
        .await?
}

const ORDER_COLS: usize = 24;
const USER_COLS: usize = 7;
const MERCHANT_COLS: usize = 3;

/// The pay job's one read: the order by its code, the payer, the merchant's settlement (as `PayMemo`
/// keeps it), and the payer's openid for the order's app (if one was made). One statement over four
/// owners' tables on purpose (see [`pay`]): each table's columns and join come from its owner
/// (`users::join`, `merchants::join`, `users::openid_join`), only the order's from here.
static PAY_READ: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let (o, u, m) = (crate::app::qualified_columns("o", orders::COLUMNS), crate::app::qualified_columns("u", users::COLUMNS), merchants::SETTLEMENT_COLUMNS);
    assert_eq!(o.matches(',').count() + 1, ORDER_COLS);
    assert_eq!(u.matches(',').count() + 1, USER_COLS);
    assert_eq!(m.matches(',').count() + 1, MERCHANT_COLS);
    format!(
        "SELECT {o}, {u}, {m}, {} FROM orders o {} {} {} WHERE o.code = $1",
        users::OPENID,
        users::join("$2"),
        merchants::join("o.mchid"),
        users::openid_join("u.id", "o.appid"),
    )
});

/// Payment-code payments the user made today (China time) without the PIN: the eleventh asks for it.
pub fn pin_free_today_in_job(tx: &mut JobTx<'_>, user: u128, now: i64) -> Result<i64, StoreError> {
    let row = tx.query_one(PIN_FREE_TODAY, &[user.into(), saoma_core::time::cst_day_start(now).into()])?;
    Ok(row.map(|r| r.opt_int("paid")).transpose()?.flatten().unwrap_or(0))
}

const PIN_FREE_TODAY: &str = "SELECT COUNT(*) AS paid FROM orders WHERE payer_user = $1 AND success_at >= $2 AND pin_free = 1";

/// The orders `user` paid, each with its merchant's name, newest first, at most `limit` (the wallet's
/// history). Paid orders only: a payment-code order that was never charged (USERPAYING, PAYERROR,
/// revoked before paying) moved no money.
pub fn paid_by(app: &App, user: u128, limit: i64) -> Result<Vec<(Order, String)>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT {}, {} AS merchant_name FROM orders o {} WHERE o.payer_user = $1 AND o.success_at IS NOT NULL ORDER BY o.success_at DESC LIMIT $2",
            crate::app::qualified_columns("o", orders::COLUMNS),
            merchants::NAME,
            merchants::join("o.mchid"),
        ),
        &[user.into(), limit.into()],
    )?;
    rows.iter().map(|r| Ok((orders::from_row(r)?.0, r.text("merchant_name")?.to_string()))).collect()
}

/// The ids a charge may use, drawn before the job (the generator is not the job's).
#[derive(Clone, Copy)]
pub struct ChargeIds {
    pay: u128,
    fee: u128,
    notification: u128,
}

impl ChargeIds {
    pub fn new(app: &App) -> ChargeIds {
        ChargeIds { pay: app.ids.next(), fee: app.ids.next(), notification: app.ids.next() }
    }
}

/// Inside a job: moves the money for `order` from `payer`'s wallet as one linked chain (wallet → the
/// merchant's unsettled account, then the fee to the platform), marks the order paid, and writes the
/// TRANSACTION.SUCCESS notification when the order has a notify_url. The caller has checked the order's
/// state and the PIN; `pin_free` marks a payment-code payment made without it (counted per day).
/// `Ok(Err(NotEnough))` leaves the ledger untouched.
pub fn charge(tx: &mut JobTx<'_>, order: Order, payer: &User, pin_free: bool, ids: ChargeIds) -> Result<Result<Order, PayError>, StoreError> {
    charge_remembering(tx, order, payer, pin_free, ids, &mut PayMemo::default())
}

/// What a job that makes many payments keeps between them rather than reading it again: the
/// merchants' settlements (accounts, fee rates and APIv3 keys), and the payers' openids. Valid within one job.
#[derive(Default)]
pub struct PayMemo {
    merchants: std::collections::HashMap<String, merchants::Settlement>,
    openids: std::collections::HashMap<(u128, String), String>,
    /// The agreement the next charge goes through (set by the agreements service for each charge).
    pub(crate) agreement: Option<u128>,
}

/// [`charge`] with a [`PayMemo`] kept across the job's payments.
pub fn charge_remembering(tx: &mut JobTx<'_>, order: Order, payer: &User, pin_free: bool, ids: ChargeIds, memo: &mut PayMemo) -> Result<Result<Order, PayError>, StoreError> {
    // The job's own time: the ledger stamps the transfers with it, and bills cut days by it.
    let now = tx.now().div_euclid(saoma_store::NANOS_PER_SEC);
    let m = match memo.merchants.get(&order.mchid) {
        Some(m) => m.clone(),
        None => {
            let m = merchants::settlement_in_job(tx, &order.mchid)?.ok_or_else(|| StoreError::Corrupt("order of an unknown merchant".into()))?;
            memo.merchants.insert(order.mchid.clone(), m.clone());
            m
        }
    };
    let unsettled = m.unsettled;
    let rate = m.fee_rate_bp.clamp(0, 10_000);
    let fee = fees::fee(order.total, rate as u32);
    let reference = order.id;
    let mut chain = vec![NewTransfer::simple(ids.pay, payer.wallet, unsettled, order.total, Currency::CNY, movement::PAYMENT, reference)];
    if fee > 0 {
        chain[0].flags = TransferFlags::LINKED;
        chain.push(NewTransfer::simple(ids.fee, unsettled, FEES_CNY, fee, Currency::CNY, movement::FEE, reference));
    }
    // Goods attached to the order (a shop order): their stock is taken here, before any money moves,
    // with a conditional update; none left, and the payment fails as sold out (`SOLD_OUT`) with nothing moved.
    if order.goods {
        if let Err(e) = crate::shop::take_goods_in_job(tx, order.id, payer, now)? {
            return Ok(Err(e));
        }
    }
    let results = tx.create_transfers(&chain)?;
    if results.iter().any(|r| matches!(r, Err(TransferError::ExceedsCredits))) {
        if order.goods {
            // Whoever runs the job may keep it after a refusal (a payment-code order is kept as PAYERROR).
            crate::shop::give_back_goods_in_job(tx, order.id)?;
        }
        return Ok(Err(PayError::NotEnough));
    }
    if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
        return Err(StoreError::Corrupt(format!("payment transfer refused: {e}")));
    }
    let openid = match memo.openids.get(&(payer.id, order.appid.clone())) {
        Some(o) => o.clone(),
        None => {
            let o = users::openid_for(tx, payer.id, &order.appid)?;
            memo.openids.insert((payer.id, order.appid.clone()), o.clone());
            o
        }
    };
    let fee_transfer = (fee > 0).then_some(ids.fee);
    let mut params = vec![now.into(), openid.as_str().into(), payer.id.into(), ids.pay.into(), fee.into(), rate.into(), fee_transfer.into(), (pin_free as i64).into(), order.id.into()];
    let sql = match memo.agreement {
        // A charge through an agreement: the order is marked with it in the same write.
        Some(a) => {
            params.push(a.into());
            "UPDATE orders SET trade_state = 'SUCCESS', success_at = $1, payer_openid = $2, payer_user = $3, payment_transfer = $4, \
             fee = $5, fee_rate_bp = $6, fee_transfer = $7, pin_free = $8, agreement_id = $10 WHERE id = $9"
        }
        None => {
            "UPDATE orders SET trade_state = 'SUCCESS', success_at = $1, payer_openid = $2, payer_user = $3, payment_transfer = $4, \
             fee = $5, fee_rate_bp = $6, fee_transfer = $7, pin_free = $8 WHERE id = $9"
        }
    };
    tx.execute(sql, &params)?;
    let paid = Order { trade_state: saoma_core::order::TradeState::Success, success_at: Some(now), payer_openid: Some(openid), ..order };
    // The notification commits with the payment, or neither does. Payment-code orders have no
    // notify_url: the cashier learns the result from the answer and the query.
    if !paid.notify_url.is_empty() {
        let apiv3 = m.apiv3_key(&paid.mchid)?;
        crate::notifications::enqueue(
            tx,
            ids.notification,
            &paid.mchid,
            &apiv3,
            &paid.notify_url,
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            &paid.out_trade_no,
            &orders::transaction_json(&paid, now),
            now,
        )?;
    }
    Ok(Ok(paid))
}

/// Orders and paying: the v3 transactions API and the wallet's pay, payment code and confirm.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        v3: axum::Router::new()
            .route("/v3/pay/transactions/native", post(v3::create_native))
            .route("/v3/pay/transactions/jsapi", post(v3::create_jsapi))
            .route("/v3/pay/transactions/app", post(v3::create_app))
            .route("/v3/pay/transactions/h5", post(v3::create_h5))
            .route("/v3/pay/transactions/codepay", post(v3::codepay))
            .route("/v3/pay/transactions/out-trade-no/:out_trade_no/reverse", post(v3::reverse))
            .route("/v3/pay/transactions/out-trade-no/:out_trade_no", get(v3::query_by_out_trade_no))
            .route("/v3/pay/transactions/id/:transaction_id", get(v3::query_by_id))
            .route("/v3/pay/transactions/out-trade-no/:out_trade_no/close", post(v3::close)),
        pages: axum::Router::new()
            .route("/code", get(pages::show))
            .route("/code/confirm", post(pages::confirm))
            .route("/code/state", get(pages::state))
            .route("/static/paycode.js", get(pages::paycode_js))
            .route("/scan", get(scan::show).post(scan::go))
            .route("/scan/photo", post(scan::photo))
            .route("/static/scan.js", get(scan::scan_js)),
        wallet: axum::Router::new()
            .route("/wallet/pay", post(wallet::pay))
            .route("/wallet/paycode", post(wallet::paycode))
            .route("/wallet/paying", get(wallet::paying))
            .route("/wallet/confirm", post(wallet::confirm)),
        ..Default::default()
    }
}
