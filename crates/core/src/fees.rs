//! Fees: a rate in basis points of the amount, rounded half to even (banker's rounding), so that over
//! many payments rounding neither favours the platform nor the merchant.

/// The fee on `amount` (minor units) at `rate_bp` basis points (60 = 0.6%).
pub fn fee(amount: i64, rate_bp: u32) -> i64 {
    let n = amount as i128 * rate_bp as i128;
    let (q, r) = (n.div_euclid(10_000), n.rem_euclid(10_000));
    let up = 2 * r > 10_000 || (2 * r == 10_000 && q % 2 != 0);
    (q + up as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::fee;

    #[test]
    fn half_even() {
        assert_eq!(fee(10_000, 60), 60);
        assert_eq!(fee(100, 60), 1); // 0.6 → 1
        assert_eq!(fee(250, 20), 0); // 0.5 → 0 (even)
        assert_eq!(fee(750, 20), 2); // 1.5 → 2 (even)
        assert_eq!(fee(1, 60), 0);
        assert_eq!(fee(0, 60), 0);
        assert_eq!(fee(i64::MAX, 10_000), i64::MAX);
    }
}
