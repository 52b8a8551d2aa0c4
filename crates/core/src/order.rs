//! Orders (交易): what a merchant may create, the trade-state machine, and the rules of each field as
//! WeChat Pay v3 enforces them.

use std::fmt;

pub const DEFAULT_EXPIRY_SECS: i64 = 7 * 24 * 3600;
pub const MIN_EXPIRY_SECS: i64 = 60;
/// The largest single order: ten million yuan, in fen. Far above any real checkout; keeps sums of many
/// orders well inside i64.
pub const MAX_TOTAL: i64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeType {
    Native,
    Jsapi,
    App,
    H5,
    Micropay,
    /// Charged through a withholding agreement (委托代扣), without the user present.
    Pap,
}

impl TradeType {
    /// The v3 name (`H5` orders are `MWEB` in queries).
    pub fn as_str(&self) -> &'static str {
        match self {
            TradeType::Native => "NATIVE",
            TradeType::Jsapi => "JSAPI",
            TradeType::App => "APP",
            TradeType::H5 => "MWEB",
            TradeType::Micropay => "MICROPAY",
            TradeType::Pap => "PAP",
        }
    }

    pub fn parse(s: &str) -> Option<TradeType> {
        Some(match s {
            "NATIVE" => TradeType::Native,
            "JSAPI" => TradeType::Jsapi,
            "APP" => TradeType::App,
            "MWEB" => TradeType::H5,
            "MICROPAY" => TradeType::Micropay,
            "PAP" => TradeType::Pap,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TradeState {
    NotPay,
    Success,
    Refund,
    Closed,
    Revoked,
    UserPaying,
    PayError,
}

impl TradeState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::UserPaying => "USERPAYING",
            TradeState::PayError => "PAYERROR",
        }
    }

    pub fn parse(s: &str) -> Option<TradeState> {
        Some(match s {
            "NOTPAY" => TradeState::NotPay,
            "SUCCESS" => TradeState::Success,
            "REFUND" => TradeState::Refund,
            "CLOSED" => TradeState::Closed,
            "REVOKED" => TradeState::Revoked,
            "USERPAYING" => TradeState::UserPaying,
            "PAYERROR" => TradeState::PayError,
            _ => return None,
        })
    }

    /// What `trade_state_desc` says.
    pub fn description(&self) -> &'static str {
        match self {
            TradeState::NotPay => "未支付",
            TradeState::Success => "支付成功",
            TradeState::Refund => "转入退款",
            TradeState::Closed => "已关闭",
            TradeState::Revoked => "已撤销",
            TradeState::UserPaying => "用户支付中",
            TradeState::PayError => "支付失败",
        }
    }

    /// The state as of `now`: an unpaid order past its `time_expire` is closed, and a payment-code order
    /// still waiting for the user's PIN at its deadline is revoked — whether or not anyone has written
    /// that down yet, so every reader agrees on the clock.
    pub fn at(self, expire_at: i64, now: i64) -> TradeState {
        match self {
            TradeState::NotPay if now >= expire_at => TradeState::Closed,
            TradeState::UserPaying if now >= expire_at => TradeState::Revoked,
            s => s,
        }
    }

    /// The stored state that becomes this one at its deadline ([`TradeState::at`]): NOTPAY → CLOSED,
    /// USERPAYING → REVOKED. A search by state as of now (in SQL) reads it.
    pub fn lapsed_from(self) -> Option<TradeState> {
        match self {
            TradeState::Closed => Some(TradeState::NotPay),
            TradeState::Revoked => Some(TradeState::UserPaying),
            _ => None,
        }
    }
}

/// Why an order may not be closed or paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Paid (or refunded): `ORDERPAID`.
    Paid,
    /// Closed, expired or revoked: `ORDER_CLOSED`.
    Closed,
    /// A payment is in progress (the user is entering the PIN).
    Paying,
}

/// Closing: allowed while unpaid; closing a closed order again is answered as done.
pub fn close(state: TradeState) -> Result<TradeState, StateError> {
    match state {
        TradeState::NotPay | TradeState::Closed | TradeState::PayError => Ok(TradeState::Closed),
        TradeState::Success | TradeState::Refund => Err(StateError::Paid),
        TradeState::Revoked => Err(StateError::Closed),
        TradeState::UserPaying => Err(StateError::Paying),
    }
}

/// Paying: only an unpaid, unexpired order.
pub fn pay(state: TradeState) -> Result<(), StateError> {
    match state {
        TradeState::NotPay | TradeState::PayError => Ok(()),
        TradeState::Success | TradeState::Refund => Err(StateError::Paid),
        TradeState::Closed | TradeState::Revoked => Err(StateError::Closed),
        TradeState::UserPaying => Err(StateError::Paying),
    }
}

/// Why a payment-code order may not be reversed (撤销).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReverseError {
    /// Only payment-code (MICROPAY) orders are reversed; others are closed or refunded.
    NotPaymentCode,
    /// Reversed already: a second reverse changes nothing and says so.
    Reversed,
    /// Refunds were made: the rest is refunded, not reversed.
    Refunded,
    Closed,
}

/// What reversing does from `state`: `Ok(true)` when the payment must be given back first (it had
/// succeeded), `Ok(false)` when there is nothing to give back.
pub fn reverse(trade_type: TradeType, state: TradeState) -> Result<bool, ReverseError> {
    if trade_type != TradeType::Micropay {
        return Err(ReverseError::NotPaymentCode);
    }
    match state {
        TradeState::NotPay | TradeState::UserPaying | TradeState::PayError => Ok(false),
        TradeState::Success => Ok(true),
        TradeState::Revoked => Err(ReverseError::Reversed),
        TradeState::Refund => Err(ReverseError::Refunded),
        TradeState::Closed => Err(ReverseError::Closed),
    }
}

/// A field that breaks the v3 rules: answered as `PARAM_ERROR` naming the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

/// Length in characters between `min` and `max`.
pub fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(err(field, format!("length must be {min}–{max} characters, is {n}")));
    }
    Ok(())
}

/// `out_trade_no`: 6–32 characters of `[0-9A-Za-z_-|*]`.
pub fn check_out_trade_no(field: &'static str, v: &str) -> Result<(), FieldError> {
    if v.len() < 6 || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b)) {
        return Err(err(field, "must be 6–32 characters of 0-9, A-Z, a-z, _ - | *"));
    }
    Ok(())
}

pub fn check_notify_url(v: &str) -> Result<(), FieldError> {
    check_len("notify_url", v, 1, 255)?;
    if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(char::is_whitespace) {
        return Err(err("notify_url", "must be an http(s) URL"));
    }
    Ok(())
}

pub fn check_amount(total: i64, currency: &str) -> Result<(), FieldError> {
    if total <= 0 || total > MAX_TOTAL {
        return Err(err("amount.total", format!("must be 1–{MAX_TOTAL} fen")));
    }
    if currency != "CNY" {
        return Err(err("amount.currency", "must be CNY"));
    }
    Ok(())
}

/// When an order created at `now` expires: `time_expire` if given (RFC 3339, at least a minute ahead),
/// else seven days.
pub fn expiry(time_expire: Option<&str>, now: i64) -> Result<i64, FieldError> {
    match time_expire {
        None => Ok(now + DEFAULT_EXPIRY_SECS),
        Some(s) => {
            let at = crate::time::parse_rfc3339(s).ok_or_else(|| err("time_expire", "must be an RFC 3339 time such as 2018-06-08T10:34:56+08:00"))?;
            if at < now + MIN_EXPIRY_SECS {
                return Err(err("time_expire", "must be at least one minute after now"));
            }
            Ok(at)
        }
    }
}

/// A 28-digit `transaction_id`, as WeChat Pay's look: `42000` + the 8-digit CST date + 15 digits of a
/// number unique to the order.
pub fn transaction_id(now: i64, unique: u64) -> String {
    let date: String = crate::time::format_rfc3339_cst(now).chars().take(10).filter(|c| c.is_ascii_digit()).collect();
    format!("42000{date}{:015}", unique % 1_000_000_000_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lapsed_from_agrees_with_at() {
        let all = ["NOTPAY", "SUCCESS", "REFUND", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR"].map(|s| TradeState::parse(s).unwrap());
        for stored in all {
            for shown in all {
                let lapses = stored.at(10, 10) != stored;
                // Shown as `shown` past the deadline: stored so and not lapsing, or lapsing into it.
                let expected = (stored == shown && !lapses) || shown.lapsed_from() == Some(stored);
                assert_eq!(stored.at(10, 10) == shown, expected, "{stored:?} {shown:?}");
                assert_eq!(stored.at(10, 9) == shown, stored == shown, "{stored:?} {shown:?} before the deadline");
            }
        }
    }

    use super::*;

    #[test]
    fn state_machine() {
        assert_eq!(close(TradeState::NotPay), Ok(TradeState::Closed));
        assert_eq!(close(TradeState::Closed), Ok(TradeState::Closed));
        assert_eq!(close(TradeState::Success), Err(StateError::Paid));
        assert_eq!(pay(TradeState::Closed), Err(StateError::Closed));
        assert_eq!(pay(TradeState::Success), Err(StateError::Paid));
        assert_eq!(TradeState::NotPay.at(100, 100), TradeState::Closed);
        assert_eq!(TradeState::NotPay.at(100, 99), TradeState::NotPay);
        assert_eq!(TradeState::Success.at(100, 1000), TradeState::Success);
        assert_eq!(TradeState::UserPaying.at(100, 99), TradeState::UserPaying);
        assert_eq!(TradeState::UserPaying.at(100, 100), TradeState::Revoked);
        for s in ["NOTPAY", "SUCCESS", "REFUND", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR"] {
            assert_eq!(TradeState::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn reversing() {
        assert_eq!(reverse(TradeType::Micropay, TradeState::UserPaying), Ok(false));
        assert_eq!(reverse(TradeType::Micropay, TradeState::Success), Ok(true));
        assert_eq!(reverse(TradeType::Micropay, TradeState::Revoked), Err(ReverseError::Reversed));
        assert_eq!(reverse(TradeType::Micropay, TradeState::Refund), Err(ReverseError::Refunded));
        assert_eq!(reverse(TradeType::Native, TradeState::Success), Err(ReverseError::NotPaymentCode));
    }

    #[test]
    fn fields() {
        assert!(check_out_trade_no("out_trade_no", "1217752501201407033233368018").is_ok());
        assert!(check_out_trade_no("out_trade_no", "a_b-c|d*").is_ok());
        assert!(check_out_trade_no("out_trade_no", "short").is_err());
        assert!(check_out_trade_no("out_trade_no", &"x".repeat(33)).is_err());
        assert!(check_out_trade_no("out_trade_no", "bad no!").is_err());
        assert!(check_len("description", &"好".repeat(127), 1, 127).is_ok());
        assert!(check_len("description", &"好".repeat(128), 1, 127).is_err());
        assert!(check_amount(0, "CNY").is_err());
        assert!(check_amount(-1, "CNY").is_err());
        assert!(check_amount(MAX_TOTAL + 1, "CNY").is_err());
        assert!(check_amount(1, "USD").is_err());
        assert_eq!(expiry(None, 1000), Ok(1000 + DEFAULT_EXPIRY_SECS));
        assert!(expiry(Some("2018-06-08T10:34:56+08:00"), 1_528_425_296 - 59).is_err());
        assert_eq!(expiry(Some("2018-06-08T10:34:56+08:00"), 1_528_425_296 - 60), Ok(1_528_425_296));
        assert!(expiry(Some("tomorrow"), 0).is_err());
        assert!(check_notify_url("https://example.com/notify").is_ok());
        assert!(check_notify_url("ftp://x").is_err());
        let id = transaction_id(1_528_425_296, 42);
        assert_eq!(id.len(), 28);
        assert!(id.starts_with("4200020180608"));
    }
}
