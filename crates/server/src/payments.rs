//! Paying an order from a wallet: one job that checks the order and the user, moves the money as one
//! linked chain (wallet → the merchant's unsettled account, then the fee to the platform), and marks
//! the order paid — all committed together, or nothing.

use crate::accounts::{movement, FEES_CNY};
use crate::orders::{self, Order, OrderError};
use crate::users::{self, blob_id, User};
use crate::App;
use saoma_core::{fees, order as rules, pin};
use saoma_ledger::{AccountId, Currency, NewTransfer, TransferError, TransferFlags};
use saoma_store::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayError {
    NoSuchOrder,
    Order(String),
    NotEnough,
    PinRequired,
    WrongPin { tries_left: i64 },
    PinLocked { until: i64 },
    Store(String),
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

/// Pays the order named by `scanned` as `user`; `pin` is needed above the password-free limit.
pub async fn pay(app: &App, user: &User, scanned: &str, pin_given: Option<String>) -> Result<Order, PayError> {
    let code = order_code(scanned).ok_or(PayError::NoSuchOrder)?.to_string();
    let order = orders::by_code(app, &code)?.ok_or(PayError::NoSuchOrder)?;
    let now = app.business_now_secs();
    rules::pay(order.state_at(now)).map_err(OrderError::from)?;
    let needs_pin = order.total > user.password_free_limit;
    if needs_pin {
        if pin::locked(user.pin_locked_until, now) {
            return Err(PayError::PinLocked { until: user.pin_locked_until });
        }
        let given = pin_given.ok_or(PayError::PinRequired)?;
        // argon2 is slow on purpose: checked here, outside the writer.
        let ok = user.pin_hash.as_deref().is_some_and(|h| crate::blocking(|| users::pin_matches(h, &given)));
        if !ok {
            return Err(record_wrong_pin(app, user.id).await?);
        }
    }
    let (user_id, wallet, order_id) = (user.id, user.wallet, order.id);
    let (pay_id, fee_id, notification_id) = (app.ids.next(), app.ids.next(), app.ids.next());
    app.store
        .transact(move |tx| {
            // Everything again under the writer: the order or the lock may have changed since.
            let Some(row) = tx.query_one(&format!("SELECT {} FROM orders WHERE id = $1", orders::COLUMNS), &[order_id.into()])? else {
                return Ok(Err(PayError::NoSuchOrder));
            };
            let (order, _) = orders::from_row(&row)?;
            if let Err(e) = rules::pay(order.state_at(now)) {
                return Ok(Err(OrderError::from(e).into()));
            }
            let user = users::in_job(tx, user_id)?.ok_or_else(|| StoreError::Corrupt("payer vanished".into()))?;
            if needs_pin {
                if pin::locked(user.pin_locked_until, now) {
                    return Ok(Err(PayError::PinLocked { until: user.pin_locked_until }));
                }
                tx.execute("UPDATE users SET pin_failures = 0 WHERE id = $1", &[user_id.into()])?;
            }
            let m = tx
                .query_one("SELECT unsettled_account, fee_rate_bp, apiv3_key FROM merchants WHERE mchid = $1", &[order.mchid.as_str().into()])?
                .ok_or_else(|| StoreError::Corrupt("order of an unknown merchant".into()))?;
            let unsettled = AccountId(blob_id(&m[0]).ok_or_else(|| StoreError::Corrupt("merchant account".into()))?);
            let fee = fees::fee(order.total, m[1].as_i64().unwrap_or(0).clamp(0, 10_000) as u32);
            let reference = order.id;
            let mut chain = vec![NewTransfer::simple(pay_id, wallet, unsettled, order.total, Currency::CNY, movement::PAYMENT, reference)];
            if fee > 0 {
                chain[0].flags = TransferFlags::LINKED;
                chain.push(NewTransfer::simple(fee_id, unsettled, FEES_CNY, fee, Currency::CNY, movement::FEE, reference));
            }
            let results = tx.create_transfers(&chain)?;
            if results.iter().any(|r| matches!(r, Err(TransferError::ExceedsCredits))) {
                return Ok(Err(PayError::NotEnough));
            }
            if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                return Err(StoreError::Corrupt(format!("payment transfer refused: {e}")));
            }
            let openid = users::openid_for(tx, user_id, &order.appid)?;
            tx.execute(
                "UPDATE orders SET trade_state = 'SUCCESS', success_at = $1, payer_openid = $2, payer_user = $3, payment_transfer = $4 WHERE id = $5",
                &[now.into(), openid.as_str().into(), user_id.into(), pay_id.into(), order.id.into()],
            )?;
            let paid = Order { trade_state: saoma_core::order::TradeState::Success, success_at: Some(now), payer_openid: Some(openid), ..order };
            // The notification commits with the payment, or neither does.
            let apiv3 = m[2].as_str().ok_or_else(|| StoreError::Corrupt("merchant apiv3 key".into()))?;
            crate::notify::enqueue(
                tx,
                notification_id,
                &paid.mchid,
                apiv3,
                &paid.notify_url,
                "TRANSACTION.SUCCESS",
                "支付成功",
                "transaction",
                &paid.out_trade_no,
                &orders::transaction_json(&paid, now),
                now,
            )?;
            Ok(Ok(paid))
        })
        .await?
}

async fn record_wrong_pin(app: &App, user_id: u128) -> Result<PayError, StoreError> {
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            let user = users::in_job(tx, user_id)?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
            let (failures, lock) = pin::after_failure(user.pin_failures, now);
            let locked_until = lock.unwrap_or(user.pin_locked_until);
            tx.execute("UPDATE users SET pin_failures = $1, pin_locked_until = $2 WHERE id = $3", &[failures.into(), locked_until.into(), user_id.into()])?;
            Ok(Ok::<_, ()>(match lock {
                Some(until) => PayError::PinLocked { until },
                None => PayError::WrongPin { tries_left: pin::MAX_FAILURES - failures },
            }))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("pin".into()))
}
