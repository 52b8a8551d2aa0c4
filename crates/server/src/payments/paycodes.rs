//! The user's payment code (付款码) and what a cashier does with it: the wallet issues a single-use code
//! valid a minute; the merchant charges it (`codepay`) — at once within the password-free rules, else
//! the order waits `USERPAYING` for the user's PIN in the wallet and is revoked at its 45-second deadline
//! (read from the clock like every expiry: `TradeState::at`); `reverse` cancels a payment-code order and
//! gives the money back if it was paid.

use crate::payments::orders::{self, NewOrder, Order, OrderError};
use crate::payments::{self, ChargeIds, PayError};
use crate::refunds::{self, RefundFail, RefundIds};
use crate::users::{self, User};
use crate::App;
use saoma_core::order::{self as rules, ReverseError, TradeState};
use saoma_core::paycode::{self, CodeError};
use saoma_core::pin;
use saoma_store::StoreError;

/// How long a payment-code order waits for the user's PIN before it is revoked.
pub const CONFIRM_SECS: i64 = 45;

/// Codes a user may be issued in a minute and leave unused before the newest is shown again.
const MAX_UNUSED_PER_MINUTE: i64 = 10;

/// Issues a payment code for `user`: `(code, expires_at)`; the user's earlier codes stop working.
pub async fn issue(app: &App, user: &User) -> Result<(String, i64), StoreError> {
    let now = app.business_now_secs();
    let user_id = user.id;
    let mut candidates = Vec::with_capacity(4);
    for _ in 0..4 {
        let digits = saoma_wechatpay::aead::random_digits(17).map_err(|e| StoreError::Io(e.to_string()))?;
        let mut d = [0u8; 17];
        for (o, c) in d.iter_mut().zip(digits.bytes()) {
            *o = c - b'0';
        }
        candidates.push(paycode::from_digits(&d));
    }
    let expires_at = now + paycode::VALID_SECS;
    app.store
        .transact(move |tx| {
            // A script asking for code after code would take the writer every payment shares: past ten
            // unused codes in a minute, the newest is shown again (it is live: codes last a minute).
            let unused = tx.query_one("SELECT COUNT(*) AS n FROM payment_codes WHERE user_id = $1 AND created_at > $2 AND used_at IS NULL", &[user_id.into(), (now - 60).into()])?;
            if unused.map(|r| r.int("n")).transpose()?.unwrap_or(0) >= MAX_UNUSED_PER_MINUTE {
                let newest = tx.query_one(
                    "SELECT code, expires_at FROM payment_codes WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 1",
                    &[user_id.into(), now.into()],
                )?;
                if let Some(r) = newest {
                    return Ok(Ok((r.text("code")?.to_string(), r.int("expires_at")?)));
                }
            }
            // Only the code on the screen can be charged: a new one retires those shown before it (a
            // photographed code dies when the page shows the next).
            tx.execute("UPDATE payment_codes SET expires_at = $1 WHERE user_id = $2 AND used_at IS NULL AND expires_at > $1", &[now.into(), user_id.into()])?;
            for code in candidates {
                // Codes are single use forever: a code once issued is never issued again.
                if tx.query_one("SELECT code FROM payment_codes WHERE code = $1", &[code.as_str().into()])?.is_none() {
                    tx.execute(
                        "INSERT INTO payment_codes (code, user_id, created_at, expires_at, used_at, order_id) VALUES ($1, $2, $3, $4, NULL, NULL)",
                        &[code.as_str().into(), user_id.into(), now.into(), expires_at.into()],
                    )?;
                    return Ok(Ok::<_, ()>((code, expires_at)));
                }
            }
            Err(StoreError::Io("no free payment code after 4 tries".into()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("payment code".into()))
}

#[derive(Clone, Debug)]
pub enum CodepayError {
    Code(CodeError),
    Order(OrderError),
    /// The charge failed: the order is PAYERROR (kept, so the merchant can query it).
    PayError { order: Box<Order>, reason: PayError },
    Store(String),
}

impl From<StoreError> for CodepayError {
    fn from(e: StoreError) -> Self {
        CodepayError::Store(e.to_string())
    }
}

impl From<OrderError> for CodepayError {
    fn from(e: OrderError) -> Self {
        CodepayError::Order(e)
    }
}

/// Charges a payment code for a new MICROPAY order. Idempotent on out_trade_no: the same request again
/// answers with the order as it stands now (its code is not charged twice).
pub async fn codepay(app: &App, n: NewOrder, auth_code: String) -> Result<Order, CodepayError> {
    if !paycode::valid_format(&auth_code) {
        return Err(CodepayError::Code(CodeError::Format));
    }
    let prepared = orders::prepare(app, &n)?;
    let ids = ChargeIds::new(app);
    let now = app.business_now_secs();
    let digest_extra = format!("/{auth_code}");
    app.store
        .transact(move |tx| {
            let (order, created) = match orders::create_in_job(tx, n, prepared, &digest_extra)? {
                Ok(o) => o,
                Err(e) => return Ok(Err(e.into())),
            };
            if !created {
                return Ok(Ok((order, None)));
            }
            let Some(row) = tx.query_one("SELECT user_id, expires_at, used_at FROM payment_codes WHERE code = $1", &[auth_code.as_str().into()])? else {
                return Ok(Err(CodepayError::Code(CodeError::Unknown)));
            };
            if let Err(e) = paycode::check(row.opt_int("expires_at")?.unwrap_or(0), !row.value("used_at")?.is_null(), now) {
                return Ok(Err(CodepayError::Code(e)));
            }
            let user_id = row.id("user_id")?;
            let user = users::in_job(tx, user_id)?.ok_or_else(|| StoreError::Corrupt("payment code of a vanished user".into()))?;
            tx.execute("UPDATE payment_codes SET used_at = $1, order_id = $2 WHERE code = $3", &[now.into(), order.id.into(), auth_code.as_str().into()])?;
            let pin_free_today = payments::pin_free_today_in_job(tx, user_id, now)?;
            if pin::needed(order.total, user.password_free_limit, pin_free_today) {
                let deadline = now + CONFIRM_SECS;
                tx.execute("UPDATE orders SET trade_state = 'USERPAYING', payer_user = $1, expire_at = $2 WHERE id = $3", &[user_id.into(), deadline.into(), order.id.into()])?;
                return Ok(Ok((Order { trade_state: TradeState::UserPaying, payer_user: Some(user_id), expire_at: deadline, ..order }, None)));
            }
            charge_or_fail(tx, order, &user, true, ids)
        })
        .await?
        .and_then(outcome)
}

/// Charges inside the job. A refused charge is kept as the order's PAYERROR state (committed, so the
/// merchant can query it; the ledger is untouched) and reported beside it.
fn charge_or_fail(tx: &mut saoma_store::JobTx<'_>, order: Order, user: &User, pin_free: bool, ids: ChargeIds) -> Result<Result<Charged, CodepayError>, StoreError> {
    let (id, failed) = (order.id, order.clone());
    match payments::charge(tx, order, user, pin_free, ids)? {
        Ok(paid) => Ok(Ok((paid, None))),
        Err(reason) => {
            tx.execute("UPDATE orders SET trade_state = 'PAYERROR', payer_user = $1 WHERE id = $2", &[user.id.into(), id.into()])?;
            Ok(Ok((Order { trade_state: TradeState::PayError, payer_user: Some(user.id), ..failed }, Some(reason))))
        }
    }
}

/// The order after a job, and why its charge failed if it did (the failure is committed, not undone).
type Charged = (Order, Option<PayError>);

fn outcome(c: Charged) -> Result<Order, CodepayError> {
    match c {
        (order, None) => Ok(order),
        (order, Some(reason)) => Err(CodepayError::PayError { order: Box::new(order), reason }),
    }
}

/// The user's payment-code orders waiting for the PIN.
pub fn waiting(app: &App, user: &User) -> Result<Vec<(Order, String)>, StoreError> {
    let now = app.business_now_secs();
    let rows = app.store.query(
        &format!("SELECT {}, {} AS merchant_name FROM orders WHERE payer_user = $1 AND trade_state = 'USERPAYING' AND expire_at > $2", orders::COLUMNS, crate::merchants::name_of("orders.mchid")),
        &[user.id.into(), now.into()],
    )?;
    rows.iter()
        .map(|r| Ok((orders::from_row(r)?.0, r.opt_text("merchant_name")?.unwrap_or_default().to_string())))
        .collect()
}

/// The user confirms a waiting payment-code order with the PIN.
pub async fn confirm(app: &App, user: &User, transaction_id: &str, pin_given: &str) -> Result<Order, PayError> {
    let now = app.business_now_secs();
    let order = orders::by_transaction_id_any(app, transaction_id)?;
    // Another user's order is not this user's business: it does not exist for them.
    let Some(order) = order.filter(|o| o.payer_user == Some(user.id)) else {
        return Err(PayError::NoSuchOrder);
    };
    check_waiting(order.state_at(now))?;
    let proof = crate::users::pins::verify(app, user, pin_given).await?;
    let (order_id, user_id) = (order.id, user.id);
    let ids = ChargeIds::new(app);
    let r = app
        .store
        .transact(move |tx| {
            let Some(order) = orders::in_job(tx, order_id)? else {
                return Ok(Err(CodepayError::Order(OrderError::NotFound)));
            };
            if let Err(e) = check_waiting(order.state_at(now)) {
                return Ok(Err(CodepayError::PayError { order: Box::new(order), reason: e }));
            }
            let user = users::in_job(tx, user_id)?.ok_or_else(|| StoreError::Corrupt("payer vanished".into()))?;
            if let Err(e) = proof.check(&user, now) {
                return Ok(Err(CodepayError::PayError { order: Box::new(order), reason: e.into() }));
            }
            charge_or_fail(tx, order, &user, false, ids)
        })
        .await?
        .and_then(outcome);
    match r {
        Ok(o) => Ok(o),
        Err(CodepayError::PayError { reason, .. }) => Err(reason),
        Err(CodepayError::Order(e)) => Err(e.into()),
        Err(CodepayError::Store(e)) => Err(PayError::Store(e)),
        Err(CodepayError::Code(_)) => Err(PayError::NoSuchOrder),
    }
}

fn check_waiting(state: TradeState) -> Result<(), PayError> {
    match state {
        TradeState::UserPaying => Ok(()),
        TradeState::Success | TradeState::Refund => Err(PayError::Order("ORDERPAID".into())),
        TradeState::Revoked => Err(PayError::Order("ORDER_REVOKED".into())),
        _ => Err(PayError::Order("ORDER_CLOSED".into())),
    }
}

#[derive(Clone, Debug)]
pub enum ReverseFail {
    NotFound,
    Rule(ReverseError),
    Refund(RefundFail),
    Store(String),
}

impl From<StoreError> for ReverseFail {
    fn from(e: StoreError) -> Self {
        ReverseFail::Store(e.to_string())
    }
}

/// Reverses (撤销) a payment-code order: an unpaid or waiting one is revoked; a paid one is refunded in
/// full (a refund row like any other, so bills and the ledger agree) and revoked.
pub async fn reverse(app: &App, mchid: &str, out_trade_no: &str) -> Result<Order, ReverseFail> {
    let ids = RefundIds::new(app);
    let (mchid, out_trade_no) = (mchid.to_string(), out_trade_no.to_string());
    app.store
        .transact(move |tx| {
            // The job's own time: the refund a paid order gets is stamped with it, like its transfers.
            let now = tx.now().div_euclid(saoma_store::NANOS_PER_SEC);
            let Some(order) = orders::by_out_trade_no_in_job(tx, &mchid, &out_trade_no)? else {
                return Ok(Err(ReverseFail::NotFound));
            };
            let paid = match rules::reverse(order.trade_type, order.state_at(now)) {
                Ok(p) => p,
                Err(e) => return Ok(Err(ReverseFail::Rule(e))),
            };
            if paid {
                let out_refund_no = format!("REVERSE-{}", order.transaction_id);
                let digest = serde_json::json!(["reverse", order.transaction_id]).to_string();
                if let Err(e) = refunds::in_job(tx, &order, order.total, order.total, &out_refund_no, Some("撤销"), None, &digest, now, ids)? {
                    return Ok(Err(ReverseFail::Refund(e)));
                }
            }
            tx.execute("UPDATE orders SET trade_state = 'REVOKED' WHERE id = $1", &[order.id.into()])?;
            Ok(Ok(Order { trade_state: TradeState::Revoked, ..order }))
        })
        .await?
}

/// Where one of `user`'s payment codes stands, for the page that shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeState {
    /// Not used and not expired: keep showing it.
    Valid,
    /// A cashier charged it (or an order for it waits for the PIN).
    Used,
    Expired,
}

/// The state of `code` if it is `user`'s (`None`: no such code of hers).
pub fn state(app: &App, user: &User, code: &str) -> Result<Option<CodeState>, StoreError> {
    let now = app.business_now_secs();
    let row = app.store.query_one("SELECT expires_at, used_at FROM payment_codes WHERE code = $1 AND user_id = $2", &[code.into(), user.id.into()])?;
    row.map(|r| {
        Ok(if r.opt_int("used_at")?.is_some() {
            CodeState::Used
        } else if r.int("expires_at")? <= now {
            CodeState::Expired
        } else {
            CodeState::Valid
        })
    })
    .transpose()
}
