//! Time-ordered 128-bit ids (UUIDv7-like: 48 bits of milliseconds, then a counter and random bits).
//! Stored rows are keyed by them so that inserts append to the right edge of the B-tree; random keys
//! make SQLite about 20x slower on large tables (DESIGN.md §7).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct IdGen {
    state: Mutex<(u64, u64)>, // (last millisecond, counter within it)
    salt: AtomicU64,
}

impl Default for IdGen {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen {
    pub fn new() -> IdGen {
        // The salt keeps two processes starting in the same millisecond apart.
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0) ^ (std::process::id() as u64) << 32;
        IdGen { state: Mutex::new((0, 0)), salt: AtomicU64::new(splitmix(seed)) }
    }

    pub fn next(&self) -> u128 {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let (ms, counter) = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if ms > s.0 {
                *s = (ms, 0);
            } else {
                s.1 += 1;
            }
            *s
        };
        let salt = splitmix(self.salt.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed));
        ((ms as u128) << 80) | ((counter as u128 & 0xFFFF_FFFF) << 48) | (salt as u128 & 0xFFFF_FFFF_FFFF)
    }
}

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_increase() {
        let g = super::IdGen::new();
        let mut last = 0;
        for _ in 0..10_000 {
            let id = g.next();
            assert!(id > last);
            last = id;
        }
    }
}
