//! The balance journal: how account balances reach the database without rewriting account rows on
//! every commit.
//!
//! A commit that changes existing accounts appends one row to `account_journal`: the new flags and
//! balances of every account it changed, packed (id, then varints). Accounts it creates are inserted
//! into `accounts` whole, in the same commit. The `accounts` table is brought up to date only at a
//! checkpoint (every few seconds or megabytes, and at shutdown), which writes the balances the journal
//! holds and empties it, in one transaction. The current state of an account is therefore its row in
//! `accounts` overlaid by the journal rows in commit (`seq`) order (the last one naming it wins).
//!
//! Why: with balances updated in place, a batch of 4,000 transfers over 10,000 accounts rewrote some
//! 6,000 account rows spread over every page of the table, and those page writes (and their fsync)
//! cost more than the transfers themselves. A journal row is one sequential append of ~30 bytes per
//! account; the checkpoint writes each account once however many commits changed it.

use crate::StoreError;
use saoma_ledger::{Account, AccountFlags, AccountId};
use std::collections::HashMap;

/// What a journal record carries: the part of an account that changes after it is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balances {
    pub flags: AccountFlags,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

impl Balances {
    pub fn of(a: &Account) -> Balances {
        Balances {
            flags: a.flags,
            debits_pending: a.debits_pending,
            debits_posted: a.debits_posted,
            credits_pending: a.credits_pending,
            credits_posted: a.credits_posted,
        }
    }

    pub fn apply_to(&self, a: &mut Account) {
        a.flags = self.flags;
        a.debits_pending = self.debits_pending;
        a.debits_posted = self.debits_posted;
        a.credits_pending = self.credits_pending;
        a.credits_posted = self.credits_posted;
    }
}

pub type Overlay = HashMap<AccountId, Balances>;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Packs accounts' balances into one journal row: per account, the 16-byte id, then flags and the
/// four balances as (zigzag) varints.
pub fn encode<'a>(accounts: impl IntoIterator<Item = &'a Account>) -> Vec<u8> {
    let mut out = Vec::new();
    for a in accounts {
        out.extend_from_slice(&a.id.0.to_be_bytes());
        put_varint(&mut out, a.flags.0 as u64);
        for v in [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted] {
            put_varint(&mut out, zigzag(v));
        }
    }
    out
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn corrupt(&self) -> StoreError {
        StoreError::Corrupt(format!("journal row truncated at byte {}", self.at))
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.at).ok_or_else(|| self.corrupt())?;
            self.at += 1;
            v |= ((b & 0x7F) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.corrupt())
    }

    fn id(&mut self) -> Result<AccountId, StoreError> {
        let b: [u8; 16] = self.data.get(self.at..self.at + 16).ok_or_else(|| self.corrupt())?.try_into().expect("16 bytes");
        self.at += 16;
        Ok(AccountId(u128::from_be_bytes(b)))
    }
}

/// Applies one journal row to an overlay (later rows must be applied later).
pub fn apply(data: &[u8], overlay: &mut Overlay) -> Result<(), StoreError> {
    let mut r = Reader { data, at: 0 };
    while r.at < data.len() {
        let id = r.id()?;
        let flags = u16::try_from(r.varint()?).map_err(|_| StoreError::Corrupt("journal: flags".into()))?;
        let mut b = [0i64; 4];
        for v in &mut b {
            *v = unzigzag(r.varint()?);
        }
        overlay.insert(id, Balances { flags: AccountFlags(flags), debits_pending: b[0], debits_posted: b[1], credits_pending: b[2], credits_posted: b[3] });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use saoma_ledger::Currency;

    fn acc(id: u128, bal: i64) -> Account {
        Account {
            id: AccountId(id),
            currency: Currency::JPY,
            code: 7,
            owner: 1,
            flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
            debits_pending: 0,
            debits_posted: -2,
            credits_pending: i64::MAX,
            credits_posted: bal,
            timestamp: 42,
        }
    }

    #[test]
    fn round_trips() {
        let accounts: Vec<Account> = [9u128, 3, 1 << 100, u128::MAX].iter().map(|i| acc(*i, i64::MIN + (*i % 7) as i64)).collect();
        let data = encode(&accounts);
        let mut overlay = Overlay::new();
        apply(&data, &mut overlay).unwrap();
        for a in &accounts {
            assert_eq!(overlay[&a.id], Balances::of(a));
        }
        assert!(apply(&data[..data.len() - 1], &mut overlay).is_err());
        // Small balances take a byte or two each.
        assert!(encode(&[Account { credits_posted: 10_000, debits_posted: 120, credits_pending: 0, ..acc(5, 0) }]).len() <= 16 + 1 + 1 + 2 + 1 + 3);
    }
}
