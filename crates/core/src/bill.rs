//! Bills (对账单): WeChat Pay's trade bill (交易账单) and fund-flow bill (资金账单), as the CSV files a
//! merchant downloads, and the rule for which days may be asked for. Pure: rows in, text out.
//!
//! The layout follows WeChat Pay's files (v3 docs, "交易账单详细说明" / "资金账单详细说明", checked against
//! real files quoted by SDK tests): a header row, one row per entry with every field prefixed by a
//! backtick (so spreadsheets keep long numbers as text), then a summary header and a summary row,
//! itself backtick-prefixed. Rows end with CRLF. Amounts are yuan with two decimals, formatted from
//! integer fen; the fee columns have five decimals as WeChat Pay's do (its fees are computed below the
//! fen; saoma's are whole fen, so the last three digits are zeros). Times are China time,
//! `YYYY-MM-DD HH:MM:SS`.
//!
//! One difference from the documentation, on purpose: the v3 docs list a four-column summary for the
//! SUCCESS bill (总交易单数,应结订单总金额,手续费总金额,订单总金额), but WeChat Pay's real SUCCESS files carry
//! the same seven columns as ALL and REFUND, and SDK parsers read them by position; saoma writes the
//! seven.

use crate::time::{format_cst_datetime, format_rfc3339_cst, parse_cst_date};

/// Which rows a trade bill holds (`bill_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeBillType {
    /// Payments and refunds of the day.
    All,
    /// Payments only.
    Success,
    /// Refunds only.
    Refund,
}

impl TradeBillType {
    pub fn parse(s: &str) -> Option<TradeBillType> {
        Some(match s {
            "ALL" => TradeBillType::All,
            "SUCCESS" => TradeBillType::Success,
            "REFUND" => TradeBillType::Refund,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            TradeBillType::All => "ALL",
            TradeBillType::Success => "SUCCESS",
            TradeBillType::Refund => "REFUND",
        }
    }
}

/// Which of the merchant's accounts a fund-flow bill is about (`account_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountType {
    /// 基本账户: where payments are credited (saoma: the merchant's unsettled account).
    Basic,
    /// 运营账户 (saoma merchants have none yet).
    Operation,
    /// 手续费账户 (saoma merchants have none yet: fees are taken from the basic account).
    Fees,
}

impl AccountType {
    pub fn parse(s: &str) -> Option<AccountType> {
        Some(match s {
            "BASIC" => AccountType::Basic,
            "OPERATION" => AccountType::Operation,
            "FEES" => AccountType::Fees,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            AccountType::Basic => "BASIC",
            AccountType::Operation => "OPERATION",
            AccountType::Fees => "FEES",
        }
    }
}

/// What a trade-bill row says about its order (the same on a payment and on its refunds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderInfo {
    pub appid: String,
    pub mchid: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub trade_type: String,
    /// 付款银行, as the order query's `bank_type`.
    pub bank_type: String,
    pub currency: String,
    pub description: String,
    pub attach: String,
    /// The fee rate fixed at payment, in basis points.
    pub fee_rate_bp: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TradeEntry {
    /// A payment: the order's amount and the fee charged on it.
    Payment { total: i64, fee: i64 },
    /// A refund: its amount and the fee given back with it; `requested_at` is when it was asked for.
    Refund { refund_id: String, out_refund_no: String, amount: i64, fee_refund: i64, requested_at: i64 },
}

/// One row of a trade bill. `at` (Unix seconds) is the payment's success time, or the time the refund
/// was made (WeChat Pay: 发起退款成功时间).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeRow {
    pub at: i64,
    pub order: OrderInfo,
    pub entry: TradeEntry,
}

/// A trade bill's summary, in fen (also what a reconciliation compares with the ledger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TradeTotals {
    /// 总交易单数
    pub count: i64,
    /// 应结订单总金额: the payments.
    pub settlement_total: i64,
    /// 退款总金额
    pub refund_total: i64,
    /// 手续费总金额: fees charged less fees given back.
    pub fee_total: i64,
    /// 订单总金额 (no coupons: the same as the settlement total).
    pub order_total: i64,
    /// 申请退款总金额 (the same as the refunds).
    pub refund_requested_total: i64,
}

const TRADE_HEADER_ALL: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,\
应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const TRADE_HEADER_SUCCESS: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,\
应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";
const TRADE_HEADER_REFUND: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,\
应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const TRADE_SUMMARY_HEADER: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

const FUND_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
const FUND_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

const EOL: &str = "\r\n";

use crate::yuan::format as yuan;

/// A fee as WeChat Pay writes it: yuan with five decimals (`4` → `0.04000`).
pub fn fee_yuan(fen: i64) -> String {
    format!("{}000", yuan(fen))
}

/// Basis points as a percentage with two decimals: `60` → `0.60%`.
pub fn rate(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    let a = bp.unsigned_abs();
    format!("{sign}{}.{:02}%", a / 100, a % 100)
}

/// A field the merchant or the user wrote (description, attach, remarks): nothing in it may break the
/// row. CR and LF become the two characters `\r` and `\n`, U+0001 a space (as WeChat Pay does), and a
/// comma the full-width `，` (a field must never split in two).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\u{1}' => out.push(' '),
            ',' => out.push('，'),
            c => out.push(c),
        }
    }
    out
}

fn push_row(out: &mut String, fields: &[String]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('`');
        out.push_str(f);
    }
    out.push_str(EOL);
}

/// The rows of `rows` a bill of `kind` holds.
fn included(kind: TradeBillType, e: &TradeEntry) -> bool {
    matches!((kind, e), (TradeBillType::All, _) | (TradeBillType::Success, TradeEntry::Payment { .. }) | (TradeBillType::Refund, TradeEntry::Refund { .. }))
}

/// The summary of the rows a bill of `kind` holds.
pub fn trade_totals(kind: TradeBillType, rows: &[TradeRow]) -> TradeTotals {
    let mut t = TradeTotals::default();
    for r in rows.iter().filter(|r| included(kind, &r.entry)) {
        t.count += 1;
        match &r.entry {
            TradeEntry::Payment { total, fee } => {
                t.settlement_total += total;
                t.order_total += total;
                t.fee_total += fee;
            }
            TradeEntry::Refund { amount, fee_refund, .. } => {
                t.refund_total += amount;
                t.refund_requested_total += amount;
                t.fee_total -= fee_refund;
            }
        }
    }
    t
}

/// The trade bill of `kind` for `rows`, in the order given (the caller sorts: by time, then by the
/// ledger's order, so that the same day always gives the same bytes).
pub fn trade_bill(kind: TradeBillType, rows: &[TradeRow]) -> String {
    let mut out = String::new();
    out.push_str(match kind {
        TradeBillType::All => TRADE_HEADER_ALL,
        TradeBillType::Success => TRADE_HEADER_SUCCESS,
        TradeBillType::Refund => TRADE_HEADER_REFUND,
    });
    out.push_str(EOL);
    for r in rows.iter().filter(|r| included(kind, &r.entry)) {
        let o = &r.order;
        let mut f: Vec<String> = vec![
            format_cst_datetime(r.at),
            text(&o.appid),
            text(&o.mchid),
            // 特约商户号: 0 for a direct merchant; 设备号: saoma takes no device_info.
            "0".into(),
            String::new(),
            text(&o.transaction_id),
            text(&o.out_trade_no),
            text(&o.openid),
            text(&o.trade_type),
        ];
        match &r.entry {
            TradeEntry::Payment { total, fee } => {
                f.extend(["SUCCESS".into(), text(&o.bank_type), text(&o.currency), yuan(*total), yuan(0)]);
                if kind == TradeBillType::All {
                    // A payment has no refund: WeChat Pay writes 0 for the refund numbers.
                    f.extend(["0".into(), "0".into(), yuan(0), yuan(0), String::new(), String::new()]);
                }
                f.extend([text(&o.description), text(&o.attach), fee_yuan(*fee), rate(o.fee_rate_bp), yuan(*total)]);
                if kind == TradeBillType::All {
                    f.push(yuan(0));
                }
                f.push(String::new());
            }
            TradeEntry::Refund { refund_id, out_refund_no, amount, fee_refund, requested_at } => {
                f.extend(["REFUND".into(), text(&o.bank_type), text(&o.currency), yuan(0), yuan(0)]);
                if kind == TradeBillType::Refund {
                    f.extend([format_cst_datetime(*requested_at), format_cst_datetime(r.at)]);
                }
                // Refunds go back the way the money came (ORIGINAL) and succeed at once in saoma. The fee
                // column is the fee given back, negative.
                f.extend([text(refund_id), text(out_refund_no), yuan(*amount), yuan(0), "ORIGINAL".into(), "SUCCESS".into()]);
                f.extend([text(&o.description), text(&o.attach), fee_yuan(-fee_refund), rate(o.fee_rate_bp), yuan(0), yuan(*amount), String::new()]);
            }
        }
        push_row(&mut out, &f);
    }
    let t = trade_totals(kind, rows);
    out.push_str(TRADE_SUMMARY_HEADER);
    out.push_str(EOL);
    push_row(
        &mut out,
        &[t.count.to_string(), yuan(t.settlement_total), yuan(t.refund_total), yuan(0), fee_yuan(t.fee_total), yuan(t.order_total), yuan(t.refund_requested_total)],
    );
    out
}

/// What moved the money on a fund-flow row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FundKind {
    /// A payment credited to the merchant (交易/交易, 收入).
    Payment,
    /// The fee on a payment (交易/扣除交易手续费, 支出).
    Fee,
    /// A refund paid back to the user (退款/退款, 支出).
    Refund,
    /// The fee given back with a refund (退款/退还交易手续费, 收入).
    FeeRefund,
}

impl FundKind {
    /// 业务名称, 业务类型 (WeChat Pay's words).
    pub fn names(&self) -> (&'static str, &'static str) {
        match self {
            FundKind::Payment => ("交易", "交易"),
            FundKind::Fee => ("交易", "扣除交易手续费"),
            FundKind::Refund => ("退款", "退款"),
            FundKind::FeeRefund => ("退款", "退还交易手续费"),
        }
    }

    pub fn is_income(&self) -> bool {
        matches!(self, FundKind::Payment | FundKind::FeeRefund)
    }
}

/// One movement of the account on a fund-flow bill. `amount` is positive; the kind says which way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundRow {
    /// 记账时间 (Unix seconds).
    pub at: i64,
    /// 微信支付业务单号: the transaction_id of a payment, the refund_id of a refund.
    pub business_no: String,
    /// 资金流水单号: the ledger transfer.
    pub flow_no: String,
    pub kind: FundKind,
    pub amount: i64,
    /// 资金变更提交申请人
    pub applicant: String,
    /// 备注
    pub remark: String,
    /// 业务凭证号: the merchant's out_trade_no or out_refund_no.
    pub voucher_no: String,
}

/// A fund-flow bill's summary (fen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FundTotals {
    pub count: i64,
    pub income_count: i64,
    pub income: i64,
    pub expense_count: i64,
    pub expense: i64,
}

pub fn fund_totals(rows: &[FundRow]) -> FundTotals {
    let mut t = FundTotals::default();
    for r in rows {
        t.count += 1;
        if r.kind.is_income() {
            t.income_count += 1;
            t.income += r.amount;
        } else {
            t.expense_count += 1;
            t.expense += r.amount;
        }
    }
    t
}

/// The fund-flow bill of an account that held `opening_balance` (fen) when the day began, with the
/// day's movements in the order they were booked; 账户结余 is the running balance after each row.
pub fn fund_flow_bill(opening_balance: i64, rows: &[FundRow]) -> String {
    let mut out = String::new();
    out.push_str(FUND_HEADER);
    out.push_str(EOL);
    let mut balance = opening_balance;
    for r in rows {
        let (name, kind) = r.kind.names();
        balance += if r.kind.is_income() { r.amount } else { -r.amount };
        push_row(
            &mut out,
            &[
                format_cst_datetime(r.at),
                text(&r.business_no),
                text(&r.flow_no),
                name.into(),
                kind.into(),
                if r.kind.is_income() { "收入" } else { "支出" }.into(),
                yuan(r.amount),
                yuan(balance),
                text(&r.applicant),
                text(&r.remark),
                text(&r.voucher_no),
            ],
        );
    }
    let t = fund_totals(rows);
    out.push_str(FUND_SUMMARY_HEADER);
    out.push_str(EOL);
    push_row(&mut out, &[t.count.to_string(), t.income_count.to_string(), yuan(t.income), t.expense_count.to_string(), yuan(t.expense)]);
    out
}

/// A day's bills are made once the day has been over this long (seconds): a job stamped in the last
/// instant of the day may still be committing right after midnight, and a bill, once hashed, must not
/// change.
pub const READY_AFTER_SECS: i64 = 300;

/// Why a `bill_date` is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillDateError {
    /// Not a `YYYY-MM-DD` calendar date.
    Format,
    /// Today or later (China time): the day is not over.
    NotPast,
    /// Before the three months bills are kept; the earliest date that may be asked for.
    TooOld { earliest: String },
    /// Yesterday, in the first minutes of today: the bill is still being made (WeChat Pay:
    /// STATEMENT_CREATING).
    NotReady,
}

/// Checks `bill_date` against business time `now` (Unix seconds) and returns the Unix second its
/// (China) day starts. A bill can be had for a day that is over, from the same day three calendar
/// months back (clamped to the month's end: on 31 May, from 28 or 29 February) up to yesterday.
pub fn check_bill_date(bill_date: &str, now: i64) -> Result<i64, BillDateError> {
    let start = parse_cst_date(bill_date).ok_or(BillDateError::Format)?;
    let today = crate::time::cst_day_start(now);
    if start >= today {
        return Err(BillDateError::NotPast);
    }
    let earliest = three_months_before(&format_rfc3339_cst(now)[..10]);
    let earliest_start = parse_cst_date(&earliest).ok_or(BillDateError::Format)?;
    if start < earliest_start {
        return Err(BillDateError::TooOld { earliest });
    }
    if start + 86_400 == today && now < today + READY_AFTER_SECS {
        return Err(BillDateError::NotReady);
    }
    Ok(start)
}

/// `YYYY-MM-DD` three calendar months before the date `ymd`, the day clamped to the month's length.
fn three_months_before(ymd: &str) -> String {
    let y: i64 = ymd[0..4].parse().unwrap_or(1970);
    let m: i64 = ymd[5..7].parse().unwrap_or(1);
    let d: i64 = ymd[8..10].parse().unwrap_or(1);
    let months = y * 12 + (m - 1) - 3;
    let (y, m) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(m - 1) as usize];
    format!("{y:04}-{m:02}-{:02}", d.min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderInfo {
        OrderInfo {
            appid: "wx8888888888888888".into(),
            mchid: "1900000109".into(),
            transaction_id: "4200000001202401010000000001".into(),
            out_trade_no: "T0001".into(),
            openid: "oUser1".into(),
            trade_type: "NATIVE".into(),
            bank_type: "OTHERS".into(),
            currency: "CNY".into(),
            description: "咖啡, 大杯".into(),
            attach: "a\nb".into(),
            fee_rate_bp: 60,
        }
    }

    // 2024-01-02 10:00:00 China time.
    const T: i64 = 1_704_160_800;

    #[test]
    fn yuan_from_fen() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(1234), "12.34");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(yuan(-100), "-1.00");
        assert_eq!(yuan(i64::MIN), "-92233720368547758.08");
        assert_eq!(fee_yuan(4), "0.04000");
        assert_eq!(fee_yuan(-2), "-0.02000");
        assert_eq!(rate(60), "0.60%");
        assert_eq!(rate(1000), "10.00%");
    }

    #[test]
    fn free_text_cannot_break_a_row() {
        assert_eq!(text("a,b\r\nc\u{1}d"), "a，b\\r\\nc d");
    }

    fn rows() -> Vec<TradeRow> {
        vec![
            TradeRow { at: T, order: order(), entry: TradeEntry::Payment { total: 1234, fee: 7 } },
            TradeRow {
                at: T + 61,
                order: order(),
                entry: TradeEntry::Refund { refund_id: "50300000000000000000000000001".into(), out_refund_no: "R1".into(), amount: 234, fee_refund: 1, requested_at: T + 60 },
            },
        ]
    }

    #[test]
    fn the_all_bill_is_wechat_pays_layout() {
        let bill = trade_bill(TradeBillType::All, &rows());
        let want = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
`2024-01-02 10:00:00,`wx8888888888888888,`1900000109,`0,`,`4200000001202401010000000001,`T0001,`oUser1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`咖啡， 大杯,`a\\nb,`0.07000,`0.60%,`12.34,`0.00,`\r\n\
`2024-01-02 10:01:01,`wx8888888888888888,`1900000109,`0,`,`4200000001202401010000000001,`T0001,`oUser1,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000000000000000000000001,`R1,`2.34,`0.00,`ORIGINAL,`SUCCESS,`咖啡， 大杯,`a\\nb,`-0.01000,`0.60%,`0.00,`2.34,`\r\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
`2,`12.34,`2.34,`0.00,`0.06000,`12.34,`2.34\r\n";
        assert_eq!(bill, want);
        // Every detail row has as many fields as the header.
        for line in bill.lines().take(3) {
            assert_eq!(line.split(',').count(), 27, "{line}");
        }
    }

    #[test]
    fn success_and_refund_bills_hold_their_rows_only() {
        let s = trade_bill(TradeBillType::Success, &rows());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].split(',').count(), 20);
        assert_eq!(lines[1].split(',').count(), 20);
        assert!(lines[1].contains("`SUCCESS,"));
        assert_eq!(lines[3], "`1,`12.34,`0.00,`0.00,`0.07000,`12.34,`0.00");

        let r = trade_bill(TradeBillType::Refund, &rows());
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].split(',').count(), 29);
        assert_eq!(lines[1].split(',').count(), 29);
        assert!(lines[1].contains(",`2024-01-02 10:01:00,`2024-01-02 10:01:01,`50300000000000000000000000001,`R1,`2.34,"), "{}", lines[1]);
        assert_eq!(lines[3], "`1,`0.00,`2.34,`0.00,`-0.01000,`0.00,`2.34");
        assert_eq!(trade_totals(TradeBillType::All, &rows()), TradeTotals { count: 2, settlement_total: 1234, refund_total: 234, fee_total: 6, order_total: 1234, refund_requested_total: 234 });
    }

    #[test]
    fn fund_flow_bill_runs_the_balance() {
        let row = |kind, amount, flow: &str| FundRow {
            at: T,
            business_no: "4200000001202401010000000001".into(),
            flow_no: flow.into(),
            kind,
            amount,
            applicant: "system".into(),
            remark: String::new(),
            voucher_no: "T0001".into(),
        };
        let rows = vec![row(FundKind::Payment, 1234, "f1"), row(FundKind::Fee, 7, "f2"), row(FundKind::FeeRefund, 1, "f3"), row(FundKind::Refund, 234, "f4")];
        let bill = fund_flow_bill(100, &rows);
        let lines: Vec<&str> = bill.lines().collect();
        assert_eq!(lines[0], "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号");
        assert_eq!(lines[1], "`2024-01-02 10:00:00,`4200000001202401010000000001,`f1,`交易,`交易,`收入,`12.34,`13.34,`system,`,`T0001");
        assert_eq!(lines[2], "`2024-01-02 10:00:00,`4200000001202401010000000001,`f2,`交易,`扣除交易手续费,`支出,`0.07,`13.27,`system,`,`T0001");
        assert_eq!(lines[3], "`2024-01-02 10:00:00,`4200000001202401010000000001,`f3,`退款,`退还交易手续费,`收入,`0.01,`13.28,`system,`,`T0001");
        assert_eq!(lines[4], "`2024-01-02 10:00:00,`4200000001202401010000000001,`f4,`退款,`退款,`支出,`2.34,`10.94,`system,`,`T0001");
        assert_eq!(lines[5], "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额");
        assert_eq!(lines[6], "`4,`2,`12.35,`2,`2.41");
        assert_eq!(lines.len(), 7);
        assert!(bill.ends_with("\r\n"));
    }

    #[test]
    fn which_days_have_bills() {
        // Now: 2024-05-31 12:00 China time.
        let now = parse_cst_date("2024-05-31").unwrap() + 12 * 3600;
        assert_eq!(check_bill_date("2024-05-30", now), Ok(parse_cst_date("2024-05-30").unwrap()));
        assert_eq!(check_bill_date("2024-05-31", now), Err(BillDateError::NotPast));
        assert_eq!(check_bill_date("2024-06-01", now), Err(BillDateError::NotPast));
        assert_eq!(check_bill_date("2030-01-01", now), Err(BillDateError::NotPast));
        // Three months back from 31 May is 29 February (2024 is a leap year).
        assert!(check_bill_date("2024-02-29", now).is_ok());
        assert_eq!(check_bill_date("2024-02-28", now), Err(BillDateError::TooOld { earliest: "2024-02-29".into() }));
        for bad in ["2024-02-30", "2024-5-30", "20240530", "", "2024-05-30T00:00:00+08:00", "２024-05-30"] {
            assert_eq!(check_bill_date(bad, now), Err(BillDateError::Format), "{bad}");
        }
        // Just after midnight, yesterday's bill is still being made; the day before is ready.
        let just_after = parse_cst_date("2024-05-31").unwrap() + 10;
        assert_eq!(check_bill_date("2024-05-30", just_after), Err(BillDateError::NotReady));
        assert!(check_bill_date("2024-05-29", just_after).is_ok());
        assert!(check_bill_date("2024-05-30", parse_cst_date("2024-05-31").unwrap() + READY_AFTER_SECS).is_ok());
        assert_eq!(three_months_before("2024-01-15"), "2023-10-15");
        assert_eq!(three_months_before("2023-05-31"), "2023-02-28");
    }
}
