//! Orders, the application service: v3 field rules and the state machine from `saoma_core::order`,
//! persisted in one job each. Money moves only when an order is paid (the wallet, next).

use crate::platform::accounts::Booked;
use crate::App;
use saoma_core::bill::OrderInfo;
use saoma_core::order::{self as rules, FieldError, StateError, TradeState, TradeType};
use saoma_store::{JobTx, Row, StoreError};

/// The order as v3 shows it (queries, and the resource of a TRANSACTION.SUCCESS notification).
pub fn transaction_json(o: &Order, now: i64) -> serde_json::Value {
    let state = o.state_at(now);
    let mut v = serde_json::json!({
        "appid": o.appid,
        "mchid": o.mchid,
        "out_trade_no": o.out_trade_no,
        "trade_type": o.trade_type.as_str(),
        "trade_state": state.as_str(),
        "trade_state_desc": state.description(),
        "attach": o.attach.clone().unwrap_or_default(),
        "amount": { "total": o.total, "currency": o.currency, "payer_currency": o.currency },
    });
    // A payment-code order is a payment attempt from the start (USERPAYING, PAYERROR, REVOKED): it has
    // its transaction_id then, as WeChat Pay's have.
    if o.success_at.is_some() || o.trade_type == TradeType::Micropay {
        v["transaction_id"] = serde_json::Value::from(o.transaction_id.clone());
    }
    if let Some(success_at) = o.success_at {
        v["bank_type"] = serde_json::Value::from("OTHERS");
        v["success_time"] = serde_json::Value::from(saoma_core::time::format_rfc3339_cst(success_at));
        v["payer"] = serde_json::json!({ "openid": o.payer_openid.clone().unwrap_or_default() });
        v["amount"]["payer_total"] = serde_json::Value::from(o.total);
    }
    v
}

pub struct NewOrder {
    pub mchid: String,
    pub appid: String,
    pub trade_type: TradeType,
    pub description: String,
    pub out_trade_no: String,
    pub time_expire: Option<String>,
    pub attach: Option<String>,
    pub notify_url: String,
    pub goods_tag: Option<String>,
    pub total: i64,
    pub currency: String,
    pub payer_openid: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: u128,
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub appid: String,
    pub trade_type: TradeType,
    pub description: String,
    pub attach: Option<String>,
    pub notify_url: String,
    pub total: i64,
    pub currency: String,
    pub payer_openid: Option<String>,
    pub trade_state: TradeState,
    pub expire_at: i64,
    pub success_at: Option<i64>,
    pub code: String,
    /// Who paid (or, for a payment-code order, whose code it was).
    pub payer_user: Option<u128>,
    pub fee: i64,
    pub fee_rate_bp: i64,
    pub refunded: i64,
    pub fee_refunded: i64,
    pub refund_count: i64,
    /// Goods are attached (a shop order, `crate::shop`): paying it takes their stock in the same job.
    pub goods: bool,
}

impl Order {
    pub fn code_url(&self) -> String {
        format!("weixin://wxpay/bizpayurl?pr={}", self.code)
    }
    pub fn prepay_id(&self) -> String {
        format!("wx{}", self.code)
    }
    /// The state as of `now` (an unpaid order past `time_expire` is closed).
    pub fn state_at(&self, now: i64) -> TradeState {
        self.trade_state.at(self.expire_at, now)
    }
}

#[derive(Debug, Clone)]
pub enum OrderError {
    NotFound,
    Paid,
    Closed,
    Paying,
    OutTradeNoUsed,
    Field(FieldError),
    Store(StoreError),
}

impl From<StateError> for OrderError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Paid => OrderError::Paid,
            StateError::Closed => OrderError::Closed,
            StateError::Paying => OrderError::Paying,
        }
    }
}

impl From<FieldError> for OrderError {
    fn from(e: FieldError) -> Self {
        OrderError::Field(e)
    }
}

impl From<StoreError> for OrderError {
    fn from(e: StoreError) -> Self {
        OrderError::Store(e)
    }
}

pub const COLUMNS: &str = "id, mchid, out_trade_no, transaction_id, appid, trade_type, description, attach, notify_url, total, currency, \
                       payer_openid, trade_state, expire_at, success_at, code, request_digest, payer_user, fee, fee_rate_bp, refunded, \
                       fee_refunded, refund_count, goods";

pub fn from_row(r: &Row) -> Result<(Order, String), StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("order row: {what}"));
    let text = |name: &str| r.text(name).map(str::to_string);
    let opt = |name: &str| r.opt_text(name).map(|t| t.map(str::to_string));
    Ok((
        Order {
            id: r.id("id")?,
            mchid: text("mchid")?,
            out_trade_no: text("out_trade_no")?,
            transaction_id: text("transaction_id")?,
            appid: text("appid")?,
            trade_type: TradeType::parse(r.text("trade_type")?).ok_or_else(|| bad("trade_type"))?,
            description: text("description")?,
            attach: opt("attach")?,
            notify_url: text("notify_url")?,
            total: r.int("total")?,
            currency: text("currency")?,
            payer_openid: opt("payer_openid")?,
            trade_state: TradeState::parse(r.text("trade_state")?).ok_or_else(|| bad("trade_state"))?,
            expire_at: r.int("expire_at")?,
            success_at: r.opt_int("success_at")?,
            code: text("code")?,
            payer_user: r.opt_id("payer_user")?,
            fee: r.int("fee")?,
            fee_rate_bp: r.int("fee_rate_bp")?,
            refunded: r.int("refunded")?,
            fee_refunded: r.int("fee_refunded")?,
            refund_count: r.int("refund_count")?,
            goods: r.int("goods")? != 0,
        },
        text("request_digest")?,
    ))
}

fn validate(n: &NewOrder, now: i64, notify: bool) -> Result<i64, FieldError> {
    rules::check_len("appid", &n.appid, 1, 32)?;
    rules::check_len("description", &n.description, 1, 127)?;
    rules::check_out_trade_no("out_trade_no", &n.out_trade_no)?;
    if let Some(a) = &n.attach {
        rules::check_len("attach", a, 0, 128)?;
    }
    if let Some(g) = &n.goods_tag {
        rules::check_len("goods_tag", g, 0, 32)?;
    }
    if let Some(o) = &n.payer_openid {
        rules::check_len("payer.openid", o, 1, 128)?;
    }
    // Payment-code and agreement charges may have no notify_url (the caller has the answer at once); nor
    // may the platform's collection-code orders of a merchant without one (`prepare_notifying`).
    if notify && (!n.notify_url.is_empty() || !matches!(n.trade_type, TradeType::Micropay | TradeType::Pap)) {
        rules::check_notify_url(&n.notify_url)?;
    }
    rules::check_amount(n.total, &n.currency)?;
    rules::expiry(n.time_expire.as_deref(), now)
}

/// What creating an order needs before its job: the checked fields, and ids drawn outside the writer.
pub struct Prepared {
    id: u128,
    code: String,
    candidates: Vec<String>,
    expire_at: i64,
    digest: String,
    now: i64,
}

pub fn prepare(app: &App, n: &NewOrder) -> Result<Prepared, OrderError> {
    prepare_notifying(app, n, true)
}

/// `prepare`, where `notify: false` lets an order have no notify_url: the platform's own collection-code
/// orders for a merchant that has none (it sees them by query and in bills).
pub fn prepare_notifying(app: &App, n: &NewOrder, notify: bool) -> Result<Prepared, OrderError> {
    let now = app.business_now_secs();
    let expire_at = validate(n, now, notify)?;
    // What makes two creations "the same request" (JSON, so that no value can fake a separator).
    let digest = serde_json::json!([
        n.trade_type.as_str(), n.appid, n.description, n.total, n.currency, n.notify_url, n.attach, n.goods_tag, n.time_expire, n.payer_openid
    ])
    .to_string();
    let id = app.ids.next();
    let code = saoma_wechatpay::aead::random_string(24).map_err(|e| StoreError::Io(e.to_string()))?;
    let candidates: Vec<String> = (0..4).map(|i| rules::transaction_id(now, (saoma_store::splitmix(id as u64 ^ i) % 1_000_000_000_000_000) as u64)).collect();
    Ok(Prepared { id, code, candidates, expire_at, digest, now })
}

/// Inside a job: the order with this out_trade_no if it exists (`Ok((order, false))` when its
/// parameters are the same, `OutTradeNoUsed` when not), else a new unpaid one (`Ok((order, true))`).
///
/// The insert comes first and does nothing where a unique key is taken; only then is the existing
/// order looked for. Most orders are new, so most cost one statement instead of a lookup of the
/// out_trade_no and one of the transaction id before the insert.
pub fn create_in_job(tx: &mut JobTx<'_>, n: NewOrder, p: Prepared, digest_extra: &str) -> Result<Result<(Order, bool), OrderError>, StoreError> {
    let digest = format!("{}{digest_extra}", p.digest);
    for transaction_id in p.candidates {
        let inserted = tx.execute(
            "INSERT INTO orders (id, mchid, out_trade_no, transaction_id, appid, trade_type, description, attach, notify_url, goods_tag, \
             total, currency, payer_openid, trade_state, expire_at, created_at, success_at, request_digest, code) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, $17, $18) ON CONFLICT DO NOTHING",
            &[
                p.id.into(),
                n.mchid.as_str().into(),
                n.out_trade_no.as_str().into(),
                transaction_id.as_str().into(),
                n.appid.as_str().into(),
                n.trade_type.as_str().into(),
                n.description.as_str().into(),
                n.attach.clone().into(),
                n.notify_url.as_str().into(),
                n.goods_tag.clone().into(),
                n.total.into(),
                n.currency.as_str().into(),
                n.payer_openid.clone().into(),
                TradeState::NotPay.as_str().into(),
                p.expire_at.into(),
                p.now.into(),
                digest.as_str().into(),
                p.code.as_str().into(),
            ],
        )?;
        if inserted == 0 {
            if let Some(row) = tx.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND out_trade_no = $2"), &[n.mchid.as_str().into(), n.out_trade_no.as_str().into()])? {
                let (order, existing_digest) = from_row(&row)?;
                return Ok(if existing_digest == digest { Ok((order, false)) } else { Err(OrderError::OutTradeNoUsed) });
            }
            // Not the out_trade_no: the transaction id drawn is taken. The next one.
            continue;
        }
        return Ok(Ok((
            Order {
                id: p.id,
                mchid: n.mchid,
                out_trade_no: n.out_trade_no,
                transaction_id,
                appid: n.appid,
                trade_type: n.trade_type,
                description: n.description,
                attach: n.attach,
                notify_url: n.notify_url,
                total: n.total,
                currency: n.currency,
                payer_openid: n.payer_openid,
                trade_state: TradeState::NotPay,
                expire_at: p.expire_at,
                success_at: None,
                code: p.code,
                payer_user: None,
                fee: 0,
                fee_rate_bp: 0,
                refunded: 0,
                fee_refunded: 0,
                refund_count: 0,
                goods: false,
            },
            true,
        )));
    }
    Err(StoreError::Io("no free transaction_id after 4 tries".into()))
}

/// Creates an order, or returns the one already created with the same out_trade_no and parameters.
pub async fn create(app: &App, n: NewOrder) -> Result<Order, OrderError> {
    let p = prepare(app, &n)?;
    app.store.transact(move |tx| Ok(create_in_job(tx, n, p, "")?.map(|(o, _)| o))).await?
}

pub fn by_out_trade_no(app: &App, mchid: &str, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND out_trade_no = $2"), &[mchid.into(), out_trade_no.into()])?;
    row.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// The order a `code_url` or `prepay_id` names.
pub fn by_code(app: &App, code: &str) -> Result<Option<Order>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE code = $1"), &[code.into()])?;
    row.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

pub fn by_transaction_id(app: &App, mchid: &str, transaction_id: &str) -> Result<Option<Order>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND transaction_id = $2"), &[mchid.into(), transaction_id.into()])?;
    row.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// Inside a job: the order by its id.
pub fn in_job(tx: &mut JobTx<'_>, id: u128) -> Result<Option<Order>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"), &[id.into()])?.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// Inside a job: the merchant's order with this transaction_id.
pub fn by_transaction_id_in_job(tx: &mut JobTx<'_>, mchid: &str, transaction_id: &str) -> Result<Option<Order>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND transaction_id = $2"), &[mchid.into(), transaction_id.into()])?.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// Inside a job: the merchant's order with this out_trade_no.
pub fn by_out_trade_no_in_job(tx: &mut JobTx<'_>, mchid: &str, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND out_trade_no = $2"), &[mchid.into(), out_trade_no.into()])?.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// The order with this transaction_id, whichever merchant's (a payer's receipt: the caller checks whose it is).
pub fn by_transaction_id_any(app: &App, transaction_id: &str) -> Result<Option<Order>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {COLUMNS} FROM orders WHERE transaction_id = $1"), &[transaction_id.into()])?;
    row.map(|r| from_row(&r).map(|(o, _)| o)).transpose()
}

/// Inside a job: the order takes `state` (the caller has decided it by the rules).
pub fn set_state(tx: &mut JobTx<'_>, id: u128, state: TradeState) -> Result<(), StoreError> {
    tx.execute("UPDATE orders SET trade_state = $1 WHERE id = $2", &[state.as_str().into(), id.into()])?;
    Ok(())
}

/// Inside a job: goods are attached to the (new) order `id`: its payment takes their stock
/// (`payments::charge` asks `crate::shop` for them).
pub fn attach_goods(tx: &mut JobTx<'_>, id: u128) -> Result<(), StoreError> {
    tx.execute("UPDATE orders SET goods = 1 WHERE id = $1", &[id.into()])?;
    Ok(())
}

/// Inside a job: a charge through an agreement failed — the order is PAYERROR, with its payer, and the
/// agreement when the charge counted against its limits (`None` for a repayment of debts).
pub fn mark_pay_error(tx: &mut JobTx<'_>, id: u128, payer: u128, agreement: Option<u128>) -> Result<(), StoreError> {
    tx.execute("UPDATE orders SET trade_state = 'PAYERROR', payer_user = $1, agreement_id = $2 WHERE id = $3", &[payer.into(), agreement.into(), id.into()])?;
    Ok(())
}

/// Inside a job: a refund of `amount` (of which `fee_refund` is the fee given back) is added to the
/// order's refunded sums and count, which the refund rules read back.
pub fn record_refund(tx: &mut JobTx<'_>, id: u128, amount: i64, fee_refund: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE orders SET refunded = refunded + $1, fee_refunded = fee_refunded + $2, refund_count = refund_count + 1 WHERE id = $3",
        &[amount.into(), fee_refund.into(), id.into()],
    )?;
    Ok(())
}

/// Inside a job: what the orders paid through the agreement `agreement` since `since` add up to.
pub fn charged_through(tx: &mut JobTx<'_>, agreement: u128, since: i64) -> Result<i64, StoreError> {
    let row = tx.query_one("SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) AS charged FROM orders WHERE agreement_id = $1 AND success_at >= $2", &[agreement.into(), since.into()])?;
    Ok(row.map(|r| r.opt_int("charged")).transpose()?.flatten().unwrap_or(0))
}

/// For the statements of other capabilities that read their rows with the order each belongs to in one
/// (a refund with its order: `refunds`): the order joined as `o` to the row whose order id is in
/// `order_id`. The `o.`-qualified column lists below read from it.
pub(crate) fn join(order_id: &str) -> String {
    format!("JOIN orders o ON o.id = {order_id}")
}

/// What a refund shows of its order (through [`join`]).
pub(crate) const REFUNDED_COLUMNS: &str = "o.transaction_id, o.out_trade_no, o.total";

/// What a bill shows of an order (through [`join`], or [`paid_between`]'s own), read by [`bill_info`].
pub(crate) const BILL_COLUMNS: &str = "o.appid, o.transaction_id, o.out_trade_no, o.payer_openid, o.trade_type, o.currency, o.description, o.attach, o.fee_rate_bp";

/// The order as a bill of `mchid` shows it, from a row read with [`BILL_COLUMNS`].
pub(crate) fn bill_info(r: &Row, mchid: &str) -> Result<OrderInfo, StoreError> {
    let text = |name: &str| r.opt_text(name).map(|t| t.unwrap_or("").to_string());
    Ok(OrderInfo {
        appid: text("appid")?,
        mchid: mchid.to_string(),
        transaction_id: text("transaction_id")?,
        out_trade_no: text("out_trade_no")?,
        openid: text("payer_openid")?,
        trade_type: text("trade_type")?,
        // As the order query answers (transaction_json).
        bank_type: "OTHERS".into(),
        currency: text("currency")?,
        description: text("description")?,
        attach: text("attach")?,
        fee_rate_bp: r.opt_int("fee_rate_bp")?.unwrap_or(0),
    })
}

/// An order paid in a bill's window, with the ledger transfers it names as the ledger has them (a bill
/// checks the one against the other).
pub struct PaidOrder {
    pub success_at: i64,
    pub info: OrderInfo,
    pub total: i64,
    pub fee: i64,
    pub payment: Option<Booked>,
    pub fee_transfer: Option<Booked>,
}

/// The merchant's orders paid in `[from, to)` (business seconds), each with its transfers: one
/// statement, the ledger's transfers joined.
pub fn paid_between(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<PaidOrder>, StoreError> {
    let sql = format!(
        "SELECT o.success_at, {BILL_COLUMNS}, o.total, o.fee, o.payment_transfer, p.ts AS payment_ts, p.amount AS payment_amount, \
         o.fee_transfer, f.ts AS fee_ts, f.amount AS fee_amount \
         FROM orders o LEFT JOIN transfers p ON p.id = o.payment_transfer LEFT JOIN transfers f ON f.id = o.fee_transfer \
         WHERE o.mchid = $1 AND o.success_at >= $2 AND o.success_at < $3"
    );
    let rows = app.store.query(&sql, &[mchid.into(), from.into(), to.into()])?;
    rows.iter()
        .map(|r| {
            Ok(PaidOrder {
                success_at: r.int("success_at")?,
                info: bill_info(r, mchid)?,
                total: r.int("total")?,
                fee: r.int("fee")?,
                payment: Booked::read(r, "payment")?,
                fee_transfer: Booked::read(r, "fee")?,
            })
        })
        .collect()
}

/// What the merchant's orders paid before `before` brought in, fees taken (a fund-flow bill's opening balance).
pub fn paid_net_before(app: &App, mchid: &str, before: i64) -> Result<i64, StoreError> {
    let r = app.store.query_one("SELECT CAST(COALESCE(SUM(total - fee), 0) AS BIGINT) AS amount FROM orders WHERE mchid = $1 AND success_at < $2", &[mchid.into(), before.into()])?;
    Ok(r.map(|r| r.opt_int("amount")).transpose()?.flatten().unwrap_or(0))
}

/// What the merchant's orders paid since `from` (business seconds) add up to — their count and sum —
/// and the newest `limit` of them, newest first (the console's takings of the day).
pub fn paid_since(app: &App, mchid: &str, from: i64, limit: i64) -> Result<(i64, i64, Vec<Order>), StoreError> {
    let r = app.store.query_one(
        "SELECT COUNT(*) AS paid, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS amount FROM orders WHERE mchid = $1 AND success_at >= $2",
        &[mchid.into(), from.into()],
    )?;
    let (count, sum) = match r {
        Some(r) => (r.opt_int("paid")?.unwrap_or(0), r.opt_int("amount")?.unwrap_or(0)),
        None => (0, 0),
    };
    let rows = app.store.query(&format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1 AND success_at >= $2 ORDER BY success_at DESC, id DESC LIMIT $3"), &[mchid.into(), from.into(), limit.into()])?;
    let latest = rows.iter().map(|r| from_row(r).map(|(o, _)| o)).collect::<Result<_, _>>()?;
    Ok((count, sum, latest))
}

/// What a merchant looks for among its orders: one order by either of its numbers, else the orders
/// created in `day` (`[from, to)`, business seconds); either kept to a state as of `now`.
pub struct Search<'a> {
    pub mchid: &'a str,
    /// An `out_trade_no` or a `transaction_id`.
    pub number: Option<&'a str>,
    pub day: (i64, i64),
    pub state: Option<TradeState>,
    pub now: i64,
    pub limit: i64,
}

/// The merchant's orders as [`Search`] asks, newest first: one statement, the state as of now in it
/// (an unpaid order past its time_expire reads CLOSED, as the v3 query answers), so that the limit
/// counts only orders in the state asked for.
pub fn search(app: &App, q: &Search<'_>) -> Result<Vec<Order>, StoreError> {
    let mut params: Vec<saoma_store::Value> = vec![q.mchid.into()];
    let mut sql = format!("SELECT {COLUMNS} FROM orders WHERE mchid = $1");
    match q.number {
        Some(no) => {
            params.push(no.into());
            sql.push_str(" AND (out_trade_no = $2 OR transaction_id = $2)");
        }
        None => {
            params.extend([q.day.0.into(), q.day.1.into()]);
            sql.push_str(" AND created_at >= $2 AND created_at < $3");
        }
    }
    if let Some(s) = q.state {
        // Stored so and not lapsed, or stored as the state that lapses into it and past the deadline.
        let n = params.len();
        let lapsing = [TradeState::Closed, TradeState::Revoked]
            .map(|s| format!("'{}'", s.lapsed_from().map(|f| f.as_str()).unwrap_or("")))
            .join(", ");
        sql.push_str(&format!(
            " AND ((trade_state = ${a} AND NOT (trade_state IN ({lapsing}) AND expire_at <= ${b})) \
             OR (trade_state = ${c} AND expire_at <= ${b}))",
            a = n + 1,
            b = n + 2,
            c = n + 3
        ));
        params.extend([s.as_str().into(), q.now.into(), s.lapsed_from().map(|f| f.as_str()).unwrap_or("").into()]);
    }
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", params.len() + 1));
    params.push(q.limit.into());
    app.store.query(&sql, &params)?.iter().map(|r| from_row(r).map(|(o, _)| o)).collect()
}

/// Closes an unpaid order (closing a closed one again is done already).
pub async fn close(app: &App, mchid: &str, out_trade_no: &str) -> Result<(), OrderError> {
    let now = app.business_now_secs();
    let (mchid, out_trade_no) = (mchid.to_string(), out_trade_no.to_string());
    app.store
        .transact(move |tx| {
            let Some(order) = by_out_trade_no_in_job(tx, &mchid, &out_trade_no)? else {
                return Ok(Err(OrderError::NotFound));
            };
            match rules::close(order.state_at(now)) {
                Ok(next) => {
                    set_state(tx, order.id, next)?;
                    Ok(Ok(()))
                }
                Err(e) => Ok(Err(e.into())),
            }
        })
        .await?
}
