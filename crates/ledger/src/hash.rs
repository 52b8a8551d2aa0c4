//! A fast hasher for the engine's maps, whose keys are 128-bit ids. The standard SipHash costs more
//! than the rest of a transfer's bookkeeping; this folded multiply is a few cycles. It is seeded per
//! process (from the address of a stack variable and the time), so ids chosen to collide do not
//! stay colliding.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

#[derive(Clone, Copy)]
pub struct IdHasherBuilder(u64);

impl Default for IdHasherBuilder {
    fn default() -> Self {
        use std::sync::OnceLock;
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            let local = 0u8;
            let addr = &local as *const u8 as u64;
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
            fold(addr ^ K, t | 1)
        });
        IdHasherBuilder(seed)
    }
}

impl BuildHasher for IdHasherBuilder {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

pub struct IdHasher(u64);

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let m = (a as u128) * (b as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write_u128(&mut self, v: u128) {
        self.0 = fold((v as u64) ^ self.0, ((v >> 64) as u64) ^ K);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = fold(v ^ self.0, K);
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
}

pub type IdMap<K, V> = std::collections::HashMap<K, V, IdHasherBuilder>;
pub type IdSet<K> = std::collections::HashSet<K, IdHasherBuilder>;
