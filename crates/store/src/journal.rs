//! The balance journal: how account balances reach the database without rewriting account rows on
//! every commit.
//!
//! A commit that changes accounts appends one row to `account_journal`: the full new state of every
//! account it changed, packed as fixed-size records sorted by id. The `accounts` table is brought up to
//! date only at a checkpoint (every few seconds or megabytes), which upserts the accounts the journal
//! names and empties it, in one transaction. The current state of an account is therefore its row in
//! `accounts` overlaid by the journal rows in `ts` order (the last one naming it wins).
//!
//! Why: with balances updated in place, a batch of 4,000 transfers over 10,000 accounts rewrote some
//! 6,000 account rows spread over every page of the table, and those page writes (and their fsync)
//! cost more than the transfers themselves. The journal row is one sequential append; the checkpoint
//! writes each account once however many commits changed it.

use crate::StoreError;
use saoma_ledger::{Account, AccountFlags, AccountId, Currency};
use std::collections::HashMap;

/// Bytes per account record: id 16, currency 2, code 2, flags 2, reserved 2, owner 16, four balances
/// 32, timestamp 8; all big-endian.
pub const RECORD: usize = 80;

/// Packs accounts (any order) into one journal row.
pub fn encode<'a>(accounts: impl IntoIterator<Item = &'a Account>) -> Vec<u8> {
    let mut sorted: Vec<&Account> = accounts.into_iter().collect();
    sorted.sort_unstable_by_key(|a| a.id);
    let mut out = Vec::with_capacity(sorted.len() * RECORD);
    for a in sorted {
        out.extend_from_slice(&a.id.0.to_be_bytes());
        out.extend_from_slice(&a.currency.numeric().to_be_bytes());
        out.extend_from_slice(&a.code.to_be_bytes());
        out.extend_from_slice(&a.flags.0.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&a.owner.to_be_bytes());
        for v in [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.timestamp] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out
}

fn record(r: &[u8]) -> Result<Account, StoreError> {
    let u128_at = |i: usize| u128::from_be_bytes(r[i..i + 16].try_into().expect("16 bytes"));
    let u16_at = |i: usize| u16::from_be_bytes(r[i..i + 2].try_into().expect("2 bytes"));
    let i64_at = |i: usize| i64::from_be_bytes(r[i..i + 8].try_into().expect("8 bytes"));
    let numeric = u16_at(16);
    Ok(Account {
        id: AccountId(u128_at(0)),
        currency: Currency::from_numeric(numeric).ok_or_else(|| StoreError::Corrupt(format!("journal: currency {numeric}")))?,
        code: u16_at(18),
        flags: AccountFlags(u16_at(20)),
        owner: u128_at(24),
        debits_pending: i64_at(40),
        debits_posted: i64_at(48),
        credits_pending: i64_at(56),
        credits_posted: i64_at(64),
        timestamp: i64_at(72),
    })
}

/// Applies one journal row to an overlay (later rows must be applied later).
pub fn apply(data: &[u8], overlay: &mut HashMap<AccountId, Account>) -> Result<(), StoreError> {
    if data.len() % RECORD != 0 {
        return Err(StoreError::Corrupt(format!("journal row of {} bytes", data.len())));
    }
    for r in data.chunks_exact(RECORD) {
        let a = record(r)?;
        overlay.insert(a.id, a);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(id: u128, bal: i64) -> Account {
        Account {
            id: AccountId(id),
            currency: Currency::JPY,
            code: 7,
            owner: u128::MAX - id,
            flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS,
            debits_pending: 1,
            debits_posted: -2,
            credits_pending: i64::MAX,
            credits_posted: bal,
            timestamp: 42,
        }
    }

    #[test]
    fn round_trips() {
        let accounts: Vec<Account> = [9u128, 3, 1 << 100, 5].iter().map(|i| acc(*i, *i as i64)).collect();
        let data = encode(&accounts);
        assert_eq!(data.len(), 4 * RECORD);
        let mut overlay = HashMap::new();
        apply(&data, &mut overlay).unwrap();
        for a in &accounts {
            assert_eq!(overlay[&a.id], *a);
        }
        assert!(apply(&data[1..], &mut overlay).is_err());
    }
}
