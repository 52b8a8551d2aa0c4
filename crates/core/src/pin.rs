//! The payment PIN: six digits; five wrong tries lock PIN payments for three hours.
//!
//! A try is counted in two steps around the slow hash check: [`reserve`] takes one of the tries left
//! before the check runs (refused when none is left, counting the tries still being checked), and
//! [`settle`] records its outcome. So guesses sent at once are checked at most as many times as there
//! are tries left, and a right PIN that arrives while the account is locking finds no try to take.

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

/// How long a reserved try may take to be settled. One never settled (the process died mid-check, or
/// the request was dropped while its try was being reserved) counts as a wrong try after this: an
/// outcome nobody learned still costs a try, so dropping requests cannot be a way around the count.
pub const IN_FLIGHT_SECS: i64 = 60;

/// A user's PIN counters, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tries {
    /// Wrong tries since the last right one or the last lock.
    pub failures: i64,
    pub locked_until: i64,
    /// Tries reserved and not yet settled.
    pub in_flight: i64,
    /// When the tries in flight lapse (see [`IN_FLIGHT_SECS`]).
    pub in_flight_until: i64,
}

/// Why no try could be reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Locked { until: i64 },
    /// Every try left is being checked right now: wait for their outcome.
    AllInFlight,
}

/// What a settled try did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Right,
    Wrong { tries_left: i64 },
    /// The wrong try that used the last one: locked until then.
    Locked { until: i64 },
}

/// The counters with lapsed tries in flight counted as wrong ones (the fifth locks).
pub fn lapse(t: Tries, now: i64) -> Tries {
    if t.in_flight <= 0 || now < t.in_flight_until {
        return Tries { in_flight: t.in_flight.max(0), ..t };
    }
    let mut out = Tries { in_flight: 0, ..t };
    for _ in 0..t.in_flight.min(MAX_FAILURES) {
        if locked(out.locked_until, now) {
            break;
        }
        let (failures, lock) = after_failure(out.failures, now);
        out.failures = failures;
        out.locked_until = lock.unwrap_or(out.locked_until);
    }
    out
}

/// Takes one try before the PIN is checked, or says why there is none. The counters returned are
/// the ones to store either way (lapsed tries may have been counted).
pub fn reserve(t: Tries, now: i64) -> (Tries, Result<(), Refusal>) {
    let t = lapse(t, now);
    if locked(t.locked_until, now) {
        return (t, Err(Refusal::Locked { until: t.locked_until }));
    }
    if t.failures + t.in_flight >= MAX_FAILURES {
        return (t, Err(Refusal::AllInFlight));
    }
    (Tries { in_flight: t.in_flight + 1, in_flight_until: now + IN_FLIGHT_SECS, ..t }, Ok(()))
}

/// Records a reserved try's outcome: a right PIN clears the failures, a wrong one counts and the fifth
/// locks (and starts the count again).
pub fn settle(t: Tries, right: bool, now: i64) -> (Tries, Outcome) {
    let t = lapse(t, now);
    let t = Tries { in_flight: (t.in_flight - 1).max(0), ..t };
    if right {
        return (Tries { failures: 0, ..t }, Outcome::Right);
    }
    match after_failure(t.failures, now) {
        (failures, Some(until)) => (Tries { failures, locked_until: until, ..t }, Outcome::Locked { until }),
        (failures, None) => (Tries { failures, ..t }, Outcome::Wrong { tries_left: MAX_FAILURES - failures }),
    }
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
    fn tries_are_reserved_before_the_check() {
        let now = 1_000;
        let mut t = Tries::default();
        // Thirteen guesses at once: five tries reserved, the rest refused before any check.
        let mut reserved = 0;
        for _ in 0..13 {
            let (n, r) = reserve(t, now);
            if r.is_ok() {
                reserved += 1;
            } else {
                assert_eq!((n, r), (t, Err(Refusal::AllInFlight)));
            }
            t = n;
        }
        assert_eq!((reserved, t.in_flight), (5, 5));
        // Four wrong, then the fifth wrong locks; the right PIN then finds no try.
        for left in [4, 3, 2, 1] {
            let (n, o) = settle(t, false, now);
            assert_eq!(o, Outcome::Wrong { tries_left: left });
            t = n;
        }
        let (n, o) = settle(t, false, now);
        assert_eq!(o, Outcome::Locked { until: now + LOCK_SECS });
        assert_eq!((n.failures, n.in_flight, n.locked_until), (0, 0, now + LOCK_SECS));
        assert_eq!(reserve(n, now + 1).1, Err(Refusal::Locked { until: now + LOCK_SECS }));
        // After the lock, five tries again.
        assert!(reserve(n, now + LOCK_SECS).1.is_ok());
    }

    #[test]
    fn a_right_pin_clears_failures_but_not_tries_in_flight() {
        let now = 50;
        let t = Tries { failures: 3, ..Tries::default() };
        let t = reserve(reserve(t, now).0, now).0;
        assert_eq!((t.in_flight, reserve(t, now).1), (2, Err(Refusal::AllInFlight)));
        let (t, o) = settle(t, true, now);
        assert_eq!((o, t.failures, t.in_flight), (Outcome::Right, 0, 1));
        let (t, o) = settle(t, false, now);
        assert_eq!((o, t.failures, t.in_flight), (Outcome::Wrong { tries_left: 4 }, 1, 0));
    }

    #[test]
    fn an_unsettled_try_counts_as_wrong_once_it_lapses() {
        let (t, r) = reserve(Tries { failures: 3, ..Tries::default() }, 0);
        assert!(r.is_ok());
        assert_eq!(reserve(t, IN_FLIGHT_SECS - 1).1.map(|_| ()), Ok(()));
        let (t, _) = reserve(t, IN_FLIGHT_SECS - 1);
        // Two never settled: lapsed, they are the fourth and fifth wrong tries — locked.
        let (t, r) = reserve(t, 2 * IN_FLIGHT_SECS);
        assert_eq!(r, Err(Refusal::Locked { until: 2 * IN_FLIGHT_SECS + LOCK_SECS }));
        assert_eq!((t.failures, t.in_flight), (0, 0));
        // One lapsed of a single failure: counted, not locked; a late outcome never takes in_flight below zero.
        let (t, _) = reserve(Tries::default(), 0);
        let (t2, r) = reserve(t, IN_FLIGHT_SECS);
        assert_eq!((r, t2.failures, t2.in_flight), (Ok(()), 1, 1));
        let (t3, o) = settle(t, true, IN_FLIGHT_SECS + 1);
        assert_eq!((o, t3.failures, t3.in_flight), (Outcome::Right, 0, 0));
    }

    #[test]
    fn when_the_pin_is_needed() {
        assert!(!needed(100_000, 100_000, 0));
        assert!(needed(100_001, 100_000, 0));
        assert!(!needed(1, 100_000, MAX_PIN_FREE_PER_DAY - 1));
        assert!(needed(1, 100_000, MAX_PIN_FREE_PER_DAY));
    }
}
