//! Refunds (退款): what may be refunded, and how the platform's fee is given back.
//!
//! WeChat Pay's rules: at most 50 refunds per order, their sum never above what was paid, within a year
//! of the payment; one `out_refund_no` is one refund. The fee comes back in proportion: after every
//! refund the merchant has paid exactly the fee on what it kept, so a full refund returns the whole fee
//! and rounding never accumulates.

use crate::fees;

pub const MAX_REFUNDS: i64 = 50;
/// A year of 365 days, counted from the payment.
pub const WINDOW_SECS: i64 = 365 * 24 * 3600;

/// Why a refund is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundError {
    /// The order was never paid (or was reversed).
    NotPaid,
    /// `amount.total` is not the order's amount.
    TotalMismatch,
    /// Above what is left to refund.
    ExceedsRefundable { left: i64 },
    /// The order has had its 50 refunds.
    TooMany,
    /// More than a year after the payment.
    TooLate,
}

/// The order as a refund sees it.
#[derive(Clone, Copy, Debug)]
pub struct Paid {
    pub total: i64,
    pub paid_at: i64,
    pub refunded: i64,
    pub refund_count: i64,
    pub fee: i64,
    pub fee_refunded: i64,
    pub fee_rate_bp: i64,
}

/// Checks a refund of `amount` (already validated as 1…MAX_TOTAL) against the order, and returns the fee
/// share to give back with it.
pub fn check(p: &Paid, requested_total: i64, amount: i64, now: i64) -> Result<i64, RefundError> {
    if requested_total != p.total {
        return Err(RefundError::TotalMismatch);
    }
    if now >= p.paid_at.saturating_add(WINDOW_SECS) {
        return Err(RefundError::TooLate);
    }
    if p.refund_count >= MAX_REFUNDS {
        return Err(RefundError::TooMany);
    }
    let left = p.total - p.refunded;
    if amount > left {
        return Err(RefundError::ExceedsRefundable { left });
    }
    Ok(fee_share(p, amount))
}

/// The fee returned with a refund of `amount`: what was charged and not yet returned, less the fee on
/// what the merchant keeps afterwards.
pub fn fee_share(p: &Paid, amount: i64) -> i64 {
    let kept_after = p.total - p.refunded - amount;
    let fee_after = fees::fee(kept_after, p.fee_rate_bp.clamp(0, 10_000) as u32);
    (p.fee - p.fee_refunded - fee_after).max(0)
}

/// `out_refund_no`: 1–64 characters of `[0-9A-Za-z_-|*@]`.
pub fn valid_out_refund_no(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(total: i64) -> Paid {
        Paid { total, paid_at: 1000, refunded: 0, refund_count: 0, fee: fees::fee(total, 60), fee_refunded: 0, fee_rate_bp: 60 }
    }

    #[test]
    fn limits() {
        let p = paid(10_000);
        assert_eq!(check(&p, 9_999, 1, 1000), Err(RefundError::TotalMismatch));
        assert_eq!(check(&p, 10_000, 10_001, 1000), Err(RefundError::ExceedsRefundable { left: 10_000 }));
        assert_eq!(check(&p, 10_000, 1, 1000 + WINDOW_SECS), Err(RefundError::TooLate));
        assert!(check(&p, 10_000, 1, 1000 + WINDOW_SECS - 1).is_ok());
        let many = Paid { refund_count: MAX_REFUNDS, refunded: 50, ..p };
        assert_eq!(check(&many, 10_000, 1, 1000), Err(RefundError::TooMany));
        let rest = Paid { refunded: 9_000, refund_count: 1, ..p };
        assert_eq!(check(&rest, 10_000, 1_001, 1000), Err(RefundError::ExceedsRefundable { left: 1_000 }));
        assert!(valid_out_refund_no("R-1@x"));
        assert!(!valid_out_refund_no(""));
        assert!(!valid_out_refund_no(&"x".repeat(65)));
        assert!(!valid_out_refund_no("no spaces"));
    }

    #[test]
    fn fees_come_back_exactly() {
        // Any split of refunds returns the whole fee once everything is refunded, and after each
        // refund the fee kept is the fee on the amount kept.
        for total in [1, 83, 100, 167, 250, 9_999, 123_457] {
            for parts in 1..6i64 {
                let mut p = paid(total);
                let mut left = total;
                for i in 0..parts {
                    let amount = if i == parts - 1 { left } else { (total / parts).max(0) };
                    if amount == 0 {
                        continue;
                    }
                    let share = check(&p, total, amount, 1000).unwrap();
                    p.refunded += amount;
                    p.fee_refunded += share;
                    p.refund_count += 1;
                    left -= amount;
                    assert_eq!(p.fee - p.fee_refunded, fees::fee(total - p.refunded, 60), "total {total} parts {parts}");
                }
                assert_eq!(p.fee_refunded, p.fee);
            }
        }
    }
}
