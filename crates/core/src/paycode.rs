//! The user's payment code (付款码): what the cashier scans from the user's phone. 18 digits starting
//! 10–15 (WeChat Pay's range, so that cashier software routes it to us), single use, valid a minute.

/// How long a code can be charged after it was shown.
pub const VALID_SECS: i64 = 60;
pub const LEN: usize = 18;

/// Whether `code` has the form of a payment code (not whether it exists).
pub fn valid_format(code: &str) -> bool {
    code.len() == LEN && code.bytes().all(|b| b.is_ascii_digit()) && matches!(&code[..2], "10" | "11" | "12" | "13" | "14" | "15")
}

/// A code from 17 random decimal digits (the caller's randomness): the prefix 10–15 from the first digit,
/// then 16 digits — about 53 bits, so that guessing a live code is hopeless within its minute.
pub fn from_digits(random: &[u8; 17]) -> String {
    let mut s = String::with_capacity(LEN);
    s.push('1');
    s.push(char::from(b'0' + random[0] % 6));
    for d in &random[1..] {
        s.push(char::from(b'0' + d % 10));
    }
    s
}

/// Why a scanned code cannot be charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeError {
    /// Not 18 digits starting 10–15.
    Format,
    /// No such code was issued.
    Unknown,
    /// Charged already (single use).
    Used,
    /// Older than a minute.
    Expired,
}

/// Checks an issued code at `now`.
pub fn check(expires_at: i64, used: bool, now: i64) -> Result<(), CodeError> {
    if used {
        return Err(CodeError::Used);
    }
    if now >= expires_at {
        return Err(CodeError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format() {
        for d in 0..=255u8 {
            let c = from_digits(&[d; 17]);
            assert!(valid_format(&c), "{c}");
        }
        assert!(valid_format("134567890123456789"));
        assert!(!valid_format("164567890123456789"));
        assert!(!valid_format("09456789012345678"));
        assert!(!valid_format("13456789012345678a"));
        assert!(!valid_format("1345678901234567890"));
        assert_eq!(check(100, false, 99), Ok(()));
        assert_eq!(check(100, false, 100), Err(CodeError::Expired));
        assert_eq!(check(100, true, 0), Err(CodeError::Used));
    }
}
