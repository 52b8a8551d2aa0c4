//! Amounts as people read and type them: yuan with at most two decimals, to and from integer fen.
//! Pure integer arithmetic on the digits (never a float: 0.1 + 0.2 is not 0.3 in binary).

use crate::order::MAX_TOTAL;

/// `1234` → `"12.34"`, `-5` → `"-0.05"`.
pub fn format(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// Not a number of the form `12`, `12.3` or `12.34`.
    Format,
    /// Zero (a payment moves at least one fen).
    Zero,
    /// More than one order may be (`order::MAX_TOTAL`).
    TooLarge,
}

impl std::fmt::Display for AmountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AmountError::Format => write!(f, "enter the amount in yuan, like 12 or 12.34 (at most two decimals)"),
            AmountError::Zero => write!(f, "the amount must be at least 0.01 yuan"),
            AmountError::TooLarge => write!(f, "the amount must be at most {} yuan", format(MAX_TOTAL)),
        }
    }
}

/// What a user typed as yuan (`12`, `12.3`, `12.34`, `0.05`; surrounding spaces allowed) → fen, between
/// 1 and the order maximum. No sign, no exponent, no thousands separators: an amount to pay is typed
/// plainly or refused.
pub fn parse(typed: &str) -> Result<i64, AmountError> {
    let s = typed.trim();
    let (whole, decimals) = match s.split_once('.') {
        Some((w, d)) => (w, d),
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(decimals) || decimals.len() > 2 || (s.contains('.') && decimals.is_empty()) {
        return Err(AmountError::Format);
    }
    // Leading zeros are harmless; more digits than an order can hold are too large, not a format error.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 12 {
        return Err(AmountError::TooLarge);
    }
    let yuan: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| AmountError::Format)? };
    let cents: i64 = match decimals.len() {
        0 => 0,
        1 => decimals.parse::<i64>().map_err(|_| AmountError::Format)? * 10,
        _ => decimals.parse().map_err(|_| AmountError::Format)?,
    };
    let fen = yuan * 100 + cents;
    match fen {
        0 => Err(AmountError::Zero),
        f if f > MAX_TOTAL => Err(AmountError::TooLarge),
        f => Ok(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_fen_as_yuan() {
        assert_eq!(format(0), "0.00");
        assert_eq!(format(5), "0.05");
        assert_eq!(format(1234), "12.34");
        assert_eq!(format(100_000), "1000.00");
        assert_eq!(format(-5), "-0.05");
        assert_eq!(format(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn parses_typed_yuan() {
        for (typed, fen) in [("12", 1200), ("12.3", 1230), ("12.34", 1234), ("0.01", 1), (" 007.5 ", 750), ("10000000", MAX_TOTAL), ("0.10", 10)] {
            assert_eq!(parse(typed), Ok(fen), "{typed}");
        }
        for typed in ["", " ", ".5", "5.", "1.234", "-1", "+1", "1e3", "1,000", "１２", "12.3.4", "0x10", "NaN"] {
            assert_eq!(parse(typed), Err(AmountError::Format), "{typed:?}");
        }
        for typed in ["0", "0.00", "000.0"] {
            assert_eq!(parse(typed), Err(AmountError::Zero), "{typed}");
        }
        for typed in ["10000000.01", "99999999999999999999999", "1000000000000"] {
            assert_eq!(parse(typed), Err(AmountError::TooLarge), "{typed}");
        }
        // Every amount formats and parses back to itself.
        for fen in [1, 9, 10, 99, 100, 101, 123_456, MAX_TOTAL] {
            assert_eq!(parse(&format(fen)), Ok(fen));
        }
    }
}
