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

/// How long a reserved try counts as being checked. A try is settled within a request; one never
/// settled (the process died mid-check) stops holding its place after this.
pub const IN_FLIGHT_SECS: i64 = 60;

/// A user's PIN counters, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tries {
    /// Wrong tries since the last right one or the last lock.
    pub failures: i64,
    pub locked_until: i64,
    /// Tries reserved and not yet settled.
    pub in_flight: i64,
    /// When the tries in flight stop counting (see [`IN_FLIGHT_SECS`]).
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

impl Tries {
    fn live_in_flight(&self, now: i64) -> i64 {
        if now < self.in_flight_until {
            self.in_flight.max(0)
        } else {
            0
        }
    }
}

/// Takes one try before the PIN is checked, or says why there is none.
pub fn reserve(t: Tries, now: i64) -> Result<Tries, Refusal> {
    if locked(t.locked_until, now) {
        return Err(Refusal::Locked { until: t.locked_until });
    }
    let in_flight = t.live_in_flight(now);
    if t.failures + in_flight >= MAX_FAILURES {
        return Err(Refusal::AllInFlight);
    }
    Ok(Tries { in_flight: in_flight + 1, in_flight_until: now + IN_FLIGHT_SECS, ..t })
}

/// Records a reserved try's outcome: a right PIN clears the failures, a wrong one counts and the fifth
/// locks (and starts the count again).
pub fn settle(t: Tries, right: bool, now: i64) -> (Tries, Outcome) {
    let t = Tries { in_flight: (t.live_in_flight(now) - 1).max(0), ..t };
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
            if let Ok(n) = reserve(t, now) {
                t = n;
                reserved += 1;
            } else {
                assert_eq!(reserve(t, now), Err(Refusal::AllInFlight));
            }
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
        assert_eq!(reserve(n, now + 1), Err(Refusal::Locked { until: now + LOCK_SECS }));
        // After the lock, five tries again.
        assert!(reserve(n, now + LOCK_SECS).is_ok());
    }

    #[test]
    fn a_right_pin_clears_failures_but_not_tries_in_flight() {
        let now = 50;
        let t = Tries { failures: 3, ..Tries::default() };
        let t = reserve(reserve(t, now).unwrap(), now).unwrap();
        assert_eq!(reserve(t, now), Err(Refusal::AllInFlight));
        let (t, o) = settle(t, true, now);
        assert_eq!((o, t.failures, t.in_flight), (Outcome::Right, 0, 1));
        let (t, o) = settle(t, false, now);
        assert_eq!((o, t.failures, t.in_flight), (Outcome::Wrong { tries_left: 4 }, 1, 0));
    }

    #[test]
    fn an_unsettled_try_stops_counting() {
        let t = reserve(Tries { failures: 4, ..Tries::default() }, 0).unwrap();
        assert_eq!(reserve(t, IN_FLIGHT_SECS - 1), Err(Refusal::AllInFlight));
        assert_eq!(reserve(t, IN_FLIGHT_SECS).unwrap().in_flight, 1);
        // Its late outcome still counts, and never takes the count below zero.
        let (t, o) = settle(t, false, IN_FLIGHT_SECS + 5);
        assert_eq!((o, t.in_flight), (Outcome::Locked { until: IN_FLIGHT_SECS + 5 + LOCK_SECS }, 0));
    }

    #[test]
    fn when_the_pin_is_needed() {
        assert!(!needed(100_000, 100_000, 0));
        assert!(needed(100_001, 100_000, 0));
        assert!(!needed(1, 100_000, MAX_PIN_FREE_PER_DAY - 1));
        assert!(needed(1, 100_000, MAX_PIN_FREE_PER_DAY));
    }
}
