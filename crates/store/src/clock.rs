//! The one Clock. Business time comes only from here: real in production, virtual in tests and in
//! sandbox mode, where it can be moved forward so that expiries and holds run in seconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the Unix epoch.
    fn now(&self) -> i64;
}

fn real_now() -> i64 {
    // A clock before 1970 is a broken machine; treat it as the epoch rather than panic.
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// The machine's wall clock.
#[derive(Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        real_now()
    }
}

/// Real time plus an offset that only grows: time keeps flowing (timestamps stay unique and
/// ordered) and an operator or a test can jump ahead.
#[derive(Default)]
pub struct VirtualClock {
    offset: AtomicI64,
}

impl VirtualClock {
    pub fn new() -> VirtualClock {
        VirtualClock::default()
    }

    /// Moves the clock forward; a negative amount is ignored (time never runs backwards).
    pub fn advance(&self, nanos: i64) {
        if nanos > 0 {
            self.offset.fetch_add(nanos, Ordering::SeqCst);
        }
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> i64 {
        real_now() + self.offset.load(Ordering::SeqCst)
    }
}

/// A clock that moves only when told: deterministic tests and simulations.
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(start: i64) -> ManualClock {
        ManualClock { now: AtomicI64::new(start) }
    }

    pub fn advance(&self, nanos: i64) {
        if nanos > 0 {
            self.now.fetch_add(nanos, Ordering::SeqCst);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}
