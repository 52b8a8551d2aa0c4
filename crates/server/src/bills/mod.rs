//! Bills (对账单): a merchant's day read from the business tables — orders paid that day, refunds made
//! that day, each joined to its ledger transfers — made into WeChat Pay's files by `saoma_core::bill`,
//! and the short-lived, signed download URL.
//!
//! What a day is: business time (the Clock, virtual in sandbox mode), China days. A payment's day is its
//! `success_at`, a refund's its `success_at`: the second at which its job ran, which is also the time
//! the ledger stamped its transfers with (the ledger's timestamp is the job's clock reading, moved on by
//! at most a few nanoseconds to stay unique).
//!
//! Why the file is not stored: a past day cannot change. Every write is stamped with the job's own
//! clock reading, so once a day is over (and the few minutes a job stamped in its last instant may take
//! to commit, `READY_AFTER_SECS`) nothing more is written into it; the rows are read in a total order
//! (time, then the ledger's timestamp, which is unique); and the opening balance sums only rows of
//! earlier days. So the same request always makes the same bytes, and a download makes the file again.
//! The token carries the SHA-1 that was published, and a download whose file would differ is refused
//! rather than served: a merchant never gets a file other than the one whose hash it was given.
//!
//! The token: `mchid.kind.date.type.tar.expires.sha1.signature`, signed (SHA256withRSA) by the
//! platform's key, so it needs no table and any process sharing the database can serve it. It is valid
//! for 5 minutes of real time (as WeChat Pay's URLs): like request timestamps, it is transport, not
//! business, time, and an SDK that advanced the sandbox clock still downloads. Only the merchant that
//! asked can use it (the download is authenticated like every v3 call, and the token names the mchid).

mod admin;
mod v3;

use crate::payments::orders;
use crate::platform::accounts::Booked;
use crate::App;
use saoma_core::bill::{self, AccountType, FundKind, FundRow, OrderInfo, TradeBillType, TradeEntry, TradeRow};
use saoma_store::StoreError;
use saoma_wechatpay::keys::{KeyError, PrivateKey, PublicKey};
use std::io::Write;

/// How long a download URL works (real time).
pub const URL_VALID_SECS: i64 = 300;

/// Which bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillKind {
    Trade(TradeBillType),
    Fund(AccountType),
}

impl BillKind {
    fn name(&self) -> &'static str {
        match self {
            BillKind::Trade(_) => "tradebill",
            BillKind::Fund(_) => "fundflowbill",
        }
    }

    fn type_str(&self) -> &'static str {
        match self {
            BillKind::Trade(t) => t.as_str(),
            BillKind::Fund(a) => a.as_str(),
        }
    }

    fn parse(name: &str, ty: &str) -> Option<BillKind> {
        match name {
            "tradebill" => TradeBillType::parse(ty).map(BillKind::Trade),
            "fundflowbill" => AccountType::parse(ty).map(BillKind::Fund),
            _ => None,
        }
    }
}

/// A bill a merchant asked for: whose, which, which day (`date` as asked, `day_start` its Unix second).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillSpec {
    pub mchid: String,
    pub kind: BillKind,
    pub date: String,
    pub day_start: i64,
}

/// Makes the bill: `None` when there is none (WeChat Pay's NO_STATEMENT_EXIST: nothing happened that
/// day, or the merchant has no such account).
pub fn make(app: &App, spec: &BillSpec) -> Result<Option<String>, StoreError> {
    let (from, to) = (spec.day_start, spec.day_start + 86_400);
    match spec.kind {
        BillKind::Trade(ty) => {
            let rows = trade_rows(app, &spec.mchid, from, to)?;
            // A bill exists when the day had payments or refunds; a SUCCESS or REFUND bill of such a day
            // may have no rows of its own, and is then headers and a zero summary.
            Ok((!rows.is_empty()).then(|| bill::trade_bill(ty, &rows)))
        }
        // saoma merchants have one account, the basic one.
        BillKind::Fund(AccountType::Operation | AccountType::Fees) => Ok(None),
        BillKind::Fund(AccountType::Basic) => {
            let rows = fund_rows(app, &spec.mchid, from, to)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let opening = opening_balance(app, &spec.mchid, from)?;
            Ok(Some(bill::fund_flow_bill(opening, &rows)))
        }
    }
}

/// gzip of the bill, for `tar_type=GZIP`.
pub fn gzip(csv: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(csv.len() / 4 + 64), flate2::Compression::default());
    e.write_all(csv).map_err(|e| StoreError::Io(e.to_string()))?;
    e.finish().map_err(|e| StoreError::Io(e.to_string()))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt(format!("bill: {what}"))
}

/// A paid order of the day, with its ledger transfers (id, timestamp, amount as the ledger has them).
struct Paid {
    at: i64,
    order: OrderInfo,
    total: i64,
    fee: i64,
    payment: (u128, i64),
    fee_transfer: Option<(u128, i64)>,
}

struct Refunded {
    at: i64,
    requested_at: i64,
    order: OrderInfo,
    refund_id: String,
    out_refund_no: String,
    amount: i64,
    fee_refund: i64,
    refund: (u128, i64),
    fee_refund_transfer: Option<(u128, i64)>,
}

/// A ledger transfer as a business row names it and the ledger has it: it must exist and move `amount`
/// — a bill never shows money the ledger does not have. `None` where the business row names no
/// transfer (a fee of 0).
fn transfer(booked: Option<Booked>, amount: i64, what: &str) -> Result<Option<(u128, i64)>, StoreError> {
    let Some(Booked { id, ts, amount: moved }) = booked else { return Ok(None) };
    let ts = ts.ok_or_else(|| corrupt(format!("{what} transfer {id:032x} is not in the ledger")))?;
    let moved = moved.unwrap_or(-1);
    if moved != amount {
        return Err(corrupt(format!("{what} transfer {id:032x} moved {moved}, the business row says {amount}")));
    }
    Ok(Some((id, ts)))
}

fn paid_orders(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<Paid>, StoreError> {
    orders::paid_between(app, mchid, from, to)?
        .into_iter()
        .map(|p| {
            let (total, fee, order) = (p.total, p.fee, p.info);
            let payment = transfer(p.payment, total, "payment")?.ok_or_else(|| corrupt(format!("paid order {} has no payment transfer", order.transaction_id)))?;
            let fee_transfer = transfer(p.fee_transfer, fee, "fee")?;
            if fee_transfer.is_none() && fee != 0 {
                return Err(corrupt(format!("order {} charged a fee of {fee} without a transfer", order.transaction_id)));
            }
            Ok(Paid { at: p.success_at, order, total, fee, payment, fee_transfer })
        })
        .collect()
}

fn refunds(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<Refunded>, StoreError> {
    crate::refunds::succeeded_between(app, mchid, from, to)?
        .into_iter()
        .map(|r| {
            let (amount, fee_refund, refund_id) = (r.amount, r.fee_refund, r.refund_id);
            let refund = transfer(r.refund, amount, "refund")?.ok_or_else(|| corrupt(format!("refund {refund_id} has no transfer")))?;
            let fee_refund_transfer = transfer(r.fee_refund_transfer, fee_refund, "fee refund")?;
            if fee_refund_transfer.is_none() && fee_refund != 0 {
                return Err(corrupt(format!("refund {refund_id} gave back a fee of {fee_refund} without a transfer")));
            }
            Ok(Refunded {
                at: r.success_at,
                requested_at: r.created_at,
                order: r.order,
                refund_id,
                out_refund_no: r.out_refund_no,
                amount,
                fee_refund,
                refund,
                fee_refund_transfer,
            })
        })
        .collect()
}

/// The trade bill's rows: payments and refunds of `[from, to)`, by time, then in the ledger's order.
pub fn trade_rows(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<TradeRow>, StoreError> {
    let mut keyed: Vec<((i64, i64), TradeRow)> = Vec::new();
    for p in paid_orders(app, mchid, from, to)? {
        keyed.push(((p.at, p.payment.1), TradeRow { at: p.at, order: p.order, entry: TradeEntry::Payment { total: p.total, fee: p.fee } }));
    }
    for r in refunds(app, mchid, from, to)? {
        let entry = TradeEntry::Refund { refund_id: r.refund_id, out_refund_no: r.out_refund_no, amount: r.amount, fee_refund: r.fee_refund, requested_at: r.requested_at };
        keyed.push(((r.at, r.refund.1), TradeRow { at: r.at, order: r.order, entry }));
    }
    // The ledger's timestamps are unique: the order is total, and the same day gives the same bytes.
    keyed.sort_by_key(|(k, _)| *k);
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// The fund-flow bill's rows for the merchant's basic account: every ledger transfer of the day's
/// payments, fees, refunds and fee refunds, in the ledger's order.
pub fn fund_rows(app: &App, mchid: &str, from: i64, to: i64) -> Result<Vec<FundRow>, StoreError> {
    let mut keyed: Vec<((i64, i64), FundRow)> = Vec::new();
    let flow = |id: u128| format!("{id:032x}");
    for p in paid_orders(app, mchid, from, to)? {
        let row = |kind, amount, (id, _): (u128, i64)| FundRow {
            at: p.at,
            business_no: p.order.transaction_id.clone(),
            flow_no: flow(id),
            kind,
            amount,
            applicant: "system".into(),
            remark: String::new(),
            voucher_no: p.order.out_trade_no.clone(),
        };
        keyed.push(((p.at, p.payment.1), row(FundKind::Payment, p.total, p.payment)));
        if let Some(f) = p.fee_transfer {
            keyed.push(((p.at, f.1), row(FundKind::Fee, p.fee, f)));
        }
    }
    for r in refunds(app, mchid, from, to)? {
        // As WeChat Pay words it: the refund was asked through the merchant's API.
        let remark = format!("退款总金额{}元;含手续费{}元", saoma_core::yuan::format(r.amount), saoma_core::yuan::format(r.fee_refund));
        let row = |kind, amount, (id, _): (u128, i64)| FundRow {
            at: r.at,
            business_no: r.refund_id.clone(),
            flow_no: flow(id),
            kind,
            amount,
            applicant: format!("{mchid}API"),
            remark: remark.clone(),
            voucher_no: r.out_refund_no.clone(),
        };
        if let Some(f) = r.fee_refund_transfer {
            keyed.push(((r.at, f.1), row(FundKind::FeeRefund, r.fee_refund, f)));
        }
        keyed.push(((r.at, r.refund.1), row(FundKind::Refund, r.amount, r.refund)));
    }
    keyed.sort_by_key(|(k, _)| *k);
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// The basic account's balance when the day began: everything paid in before, less fees, refunds and
/// plus fees given back (the only movements of a merchant's account until settlement exists).
pub fn opening_balance(app: &App, mchid: &str, before: i64) -> Result<i64, StoreError> {
    Ok(orders::paid_net_before(app, mchid, before)? - crate::refunds::refunded_net_before(app, mchid, before)?)
}

/// The ledger's side of a reconciliation (the admin API's `GET /admin/ledger/transfers`): every transfer
/// that touches `account` with a timestamp in `[from_ns, to_ns)`, and the account's posted balance
/// (credits − debits) before and after that window, read from the ledger's own `transfers` table and
/// not from the business tables a bill is made from. It scans the whole table: an operator's audit
/// tool, not a merchant's path (the ledger keeps no index on a transfer's accounts on purpose).
pub fn ledger_window(app: &App, account: u128, from_ns: i64, to_ns: i64) -> Result<serde_json::Value, StoreError> {
    let rows = crate::blocking(|| {
        app.store.query(
            "SELECT id, debit_account_id, credit_account_id, amount, currency, code, flags, ts FROM transfers \
             WHERE (debit_account_id = $1 OR credit_account_id = $1) AND ts < $2",
            &[account.into(), to_ns.into()],
        )
    })?;

    let (mut before, mut after) = (0i64, 0i64);
    let mut listed: Vec<(i64, serde_json::Value)> = Vec::new();
    for r in &rows {
        let int = |name: &str| r.opt_int(name).map(|v| v.unwrap_or(0));
        let hex = |name: &str| r.opt_id(name).map(|id| id.map(|id| format!("{id:032x}")).unwrap_or_default());
        let (amount, flags, ts) = (int("amount")?, int("flags")?, int("ts")?);
        let credit = r.opt_id("credit_account_id")? == Some(account);
        // Posted: a plain transfer or the post of a pending one. A pending reservation or a void moves no
        // posted balance.
        let posted = flags & (saoma_ledger::TransferFlags::PENDING.0 | saoma_ledger::TransferFlags::VOID_PENDING.0) as i64 == 0;
        let signed = if !posted { 0 } else if credit { amount } else { -amount };
        after += signed;
        if ts < from_ns {
            before += signed;
            continue;
        }
        listed.push((
            ts,
            serde_json::json!({
                "id": hex("id")?, "debit_account_id": hex("debit_account_id")?, "credit_account_id": hex("credit_account_id")?, "amount": amount,
                "currency": r.opt_text("currency")?, "code": int("code")?, "flags": flags, "ts": ts, "posted": posted,
                "direction": if credit { "credit" } else { "debit" },
            }),
        ));
    }
    listed.sort_by_key(|(ts, _)| *ts);
    let now = app.store.account(saoma_ledger::AccountId(account))?;
    Ok(serde_json::json!({
        "account": format!("{account:032x}"),
        "from_ns": from_ns,
        "to_ns": to_ns,
        "balance_before": before,
        "balance_after": after,
        // The ledger's own balances for the account, now (to compare with the last window's end).
        "balance_now": now.map(|a| a.credits_posted.saturating_sub(a.debits_posted)),
        "transfers": listed.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    }))
}

/// The download URL's token: everything needed to make the bill again, when it stops working, the
/// SHA-1 that was published, and the platform's signature over all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub spec: BillSpec,
    pub gzip: bool,
    /// Real time (Unix seconds).
    pub expires_at: i64,
    pub sha1: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token, or not signed by this platform.
    Invalid,
    Expired,
}

impl Token {
    /// The signed part. Every field is of `[0-9A-Za-z-]`, so `.` separates them and the URL needs no
    /// escaping.
    fn message(&self) -> String {
        let s = &self.spec;
        format!("{}.{}.{}.{}.{}.{}.{}", s.mchid, s.kind.name(), s.date, s.kind.type_str(), if self.gzip { "GZIP" } else { "NONE" }, self.expires_at, self.sha1)
    }

    /// Signs the token with the platform's newest key.
    pub fn seal(&self, app: &App) -> Result<String, StoreError> {
        self.seal_with(&app.keys.newest().private_key).map_err(|e| StoreError::Io(format!("signing a bill token: {e}")))
    }

    pub fn seal_with(&self, key: &PrivateKey) -> Result<String, KeyError> {
        let m = self.message();
        // base64 → base64url without padding: the URL needs no escaping.
        let sig: String = key
            .sign(m.as_bytes())?
            .chars()
            .filter(|c| *c != '=')
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        Ok(format!("{m}.{sig}"))
    }

    /// Reads a token: signed by a platform key still valid, not expired at `now` (real time).
    pub fn open(app: &App, token: &str, now: i64) -> Result<Token, TokenError> {
        let keys: Vec<PublicKey> = app.keys.valid().iter().filter_map(|k| k.public_key().ok()).collect();
        Token::open_with(&keys, token, now)
    }

    pub fn open_with(keys: &[PublicKey], token: &str, now: i64) -> Result<Token, TokenError> {
        let (message, sig) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let mut sig: String = sig
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        while !sig.len().is_multiple_of(4) {
            sig.push('=');
        }
        if !keys.iter().any(|k| k.verify(message.as_bytes(), &sig)) {
            return Err(TokenError::Invalid);
        }
        let t = Token::parse(message).ok_or(TokenError::Invalid)?;
        if now >= t.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(t)
    }

    fn parse(message: &str) -> Option<Token> {
        let f: Vec<&str> = message.split('.').collect();
        let [mchid, name, date, ty, tar, expires, sha1] = f.as_slice() else { return None };
        let day_start = saoma_core::time::parse_cst_date(date)?;
        Some(Token {
            spec: BillSpec { mchid: mchid.to_string(), kind: BillKind::parse(name, ty)?, date: date.to_string(), day_start },
            gzip: match *tar {
                "GZIP" => true,
                "NONE" => false,
                _ => return None,
            },
            expires_at: expires.parse().ok()?,
            sha1: sha1.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token {
            spec: BillSpec { mchid: "1900000109".into(), kind: BillKind::Trade(TradeBillType::All), date: "2024-01-02".into(), day_start: 1_704_124_800 },
            gzip: true,
            expires_at: 1_000_300,
            sha1: "79bb0f45fc4c42234a918000b2668d689e2bde04".into(),
        }
    }

    #[test]
    fn tokens_are_signed_short_lived_and_url_safe() {
        let key = PrivateKey::generate().unwrap();
        let other = PrivateKey::generate().unwrap();
        let keys = [key.public_key().unwrap()];
        let t = token();
        let s = t.seal_with(&key).unwrap();
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{s}");
        assert_eq!(Token::open_with(&keys, &s, 1_000_000), Ok(t.clone()));
        // Valid until the last second, not after.
        assert_eq!(Token::open_with(&keys, &s, 1_000_299), Ok(t.clone()));
        assert_eq!(Token::open_with(&keys, &s, 1_000_300), Err(TokenError::Expired));
        // Another key's signature, any changed field, garbage: invalid.
        assert_eq!(Token::open_with(&keys, &t.seal_with(&other).unwrap(), 1_000_000), Err(TokenError::Invalid));
        for (from, to) in [("1900000109", "1900000110"), (".ALL.", ".SUCCESS."), (".GZIP.", ".NONE."), ("1000300", "9000300"), ("2024-01-02", "2024-01-03")] {
            let forged = s.replacen(from, to, 1);
            assert_ne!(forged, s);
            assert_eq!(Token::open_with(&keys, &forged, 1_000_000), Err(TokenError::Invalid), "{from}");
        }
        for junk in ["", ".", "abc", "a.b.c.d.e.f.g.h", &s[..s.len() - 4]] {
            assert_eq!(Token::open_with(&keys, junk, 1_000_000), Err(TokenError::Invalid), "{junk}");
        }
        // Fund-flow tokens name their account type.
        let f = Token { spec: BillSpec { kind: BillKind::Fund(AccountType::Basic), ..t.spec.clone() }, gzip: false, ..t };
        assert_eq!(Token::open_with(&keys, &f.seal_with(&key).unwrap(), 1_000_000), Ok(f));
    }

    #[test]
    fn gzip_round_trips() {
        let csv = "交易时间,公众账号ID\r\n`2024-01-02 10:00:00,`wx1\r\n".repeat(50);
        let z = gzip(csv.as_bytes()).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&z[..]), &mut back).unwrap();
        assert_eq!(back, csv);
        assert!(z.len() < csv.len());
    }
}


/// The v3 bills and their download; the ledger's listing for reconciliation (admin).
pub fn routes() -> crate::http::Routes {
    use axum::routing::get;
    crate::http::Routes {
        v3: axum::Router::new()
            .route("/v3/bill/tradebill", get(v3::tradebill))
            .route("/v3/bill/fundflowbill", get(v3::fundflowbill))
            .route("/v3/billdownload/file", get(v3::download)),
        admin: axum::Router::new()
            .route("/admin/ledger/transfers", get(admin::ledger_transfers)),
        ..Default::default()
    }
}
