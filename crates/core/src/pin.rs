//! The payment PIN: six digits; five wrong tries lock PIN payments for three hours.

pub const MAX_FAILURES: i64 = 5;
pub const LOCK_SECS: i64 = 3 * 3600;

pub fn valid_format(pin: &str) -> bool {
    pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Where a user stands after a wrong PIN: the new failure count and, on the fifth, the lock's end.
pub fn after_failure(failures: i64, now: i64) -> (i64, Option<i64>) {
    let f = failures + 1;
    if f >= MAX_FAILURES {
        (0, Some(now + LOCK_SECS))
    } else {
        (f, None)
    }
}

pub fn locked(locked_until: i64, now: i64) -> bool {
    now < locked_until
}

/// Payment-code payments a user may make without the PIN in one (China) day; the next one asks for it.
pub const MAX_PIN_FREE_PER_DAY: i64 = 10;

/// Whether a payment-code payment of `amount` needs the PIN: above the user's password-free limit, or
/// once the day's password-free payment-code payments are used up.
pub fn needed(amount: i64, password_free_limit: i64, pin_free_today: i64) -> bool {
    amount > password_free_limit || pin_free_today >= MAX_PIN_FREE_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout() {
        assert!(valid_format("123456"));
        assert!(!valid_format("12345"));
        assert!(!valid_format("12345a"));
        let mut f = 0;
        for _ in 0..4 {
            let (nf, lock) = after_failure(f, 100);
            assert!(lock.is_none());
            f = nf;
        }
        assert_eq!(after_failure(f, 100), (0, Some(100 + LOCK_SECS)));
        assert!(locked(100 + LOCK_SECS, 100 + LOCK_SECS - 1));
        assert!(!locked(100 + LOCK_SECS, 100 + LOCK_SECS));
    }

    #[test]
    fn when_the_pin_is_needed() {
        assert!(!needed(100_000, 100_000, 0));
        assert!(needed(100_001, 100_000, 0));
        assert!(!needed(1, 100_000, MAX_PIN_FREE_PER_DAY - 1));
        assert!(needed(1, 100_000, MAX_PIN_FREE_PER_DAY));
    }
}
