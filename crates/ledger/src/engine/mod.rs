//! The ledger engine: applies account creations and transfers to an in-memory set of accounts and
//! transfers, and says what changed. It is used two ways:
//! - as a whole ledger held in memory (tests, simulations, the property tests' model);
//! - as the working set of one storage transaction: the store loads the rows a batch touches,
//!   the engine decides, and the store writes back [`Changes`].
//!
//! Pure: no I/O, no clock. Time comes in as `now` (nanoseconds) from the caller's Clock.

use crate::{Account, AccountError, AccountFlags, AccountId, NewAccount, NewTransfer, PendingStatus, Transfer, TransferError, TransferFlags, TransferId};
use crate::hash::{IdMap, IdSet};
use std::collections::BTreeSet;

mod transfers;
pub use transfers::BatchError;

/// Most events one batch may carry (as TigerBeetle: what fits a 1 MiB message). Bigger batches are
/// refused whole, before anything is applied.
pub const MAX_BATCH: usize = 8190;

/// A transfer or account creation that succeeded. `replay` is true when the id already existed with
/// the same content: the first result is returned and nothing moved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Applied {
    pub timestamp: i64,
    pub replay: bool,
}

/// What a batch changed, for the store to write.
#[derive(Default, Debug)]
pub struct Changes {
    /// Accounts created, in order.
    pub new_accounts: Vec<AccountId>,
    /// Transfers created, in timestamp order.
    pub new_transfers: Vec<TransferId>,
    /// Existing accounts whose balances or flags changed (may include new ones; the store skips those).
    pub accounts: IdSet<AccountId>,
    /// Existing pending transfers whose status changed (posted, voided, expired).
    pub pending: IdSet<TransferId>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.new_accounts.is_empty() && self.new_transfers.is_empty() && self.accounts.is_empty() && self.pending.is_empty()
    }
}

/// An undo record, kept while a savepoint is open (a linked chain, or a caller's job).
#[derive(Debug)]
enum Undo {
    AccountCreated(AccountId),
    Account(Account),
    TransferCreated(TransferId),
    Pending(TransferId, Option<PendingStatus>),
}

/// A point to roll back to. Savepoints nest; release or roll back in reverse order of creation.
#[derive(Debug)]
#[must_use]
pub struct Savepoint(usize);

#[derive(Default)]
pub struct Ledger {
    accounts: IdMap<AccountId, Account>,
    transfers: IdMap<TransferId, Transfer>,
    /// Pending transfers with a timeout, by expiry; stale entries (already resolved) are skipped.
    due: BTreeSet<(i64, TransferId)>,
    last_timestamp: i64,
    journal: Vec<Undo>,
    savepoints: usize,
    changes: Changes,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    // ---- loading (the store fills the working set; loading is not a change) ----

    pub fn load_account(&mut self, a: Account) {
        self.accounts.entry(a.id).or_insert(a);
    }

    pub fn load_transfer(&mut self, t: Transfer) {
        if let (Some(PendingStatus::Pending), Some(at)) = (t.pending_status, t.expires_at()) {
            self.due.insert((at, t.id));
        }
        self.transfers.entry(t.id).or_insert(t);
    }

    /// Timestamps handed out stay above this (the store seeds it with the last committed one).
    pub fn set_last_timestamp(&mut self, ts: i64) {
        self.last_timestamp = self.last_timestamp.max(ts);
    }

    pub fn last_timestamp(&self) -> i64 {
        self.last_timestamp
    }

    /// Transfer ids a batch refers to that are not loaded yet (its own ids, for idempotency, and
    /// the pending transfers it posts or voids).
    pub fn missing_transfers(&self, batch: &[NewTransfer]) -> Vec<TransferId> {
        let mut out: Vec<TransferId> = Vec::new();
        let mut seen = IdSet::default();
        for t in batch {
            for id in [Some(t.id), t.pending_id].into_iter().flatten() {
                if id.0 != 0 && !self.transfers.contains_key(&id) && seen.insert(id) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Account ids a batch refers to that are not loaded yet, including those of the pending
    /// transfers it resolves (load the transfers first).
    pub fn missing_accounts(&self, batch: &[NewTransfer]) -> Vec<AccountId> {
        let mut out = Vec::new();
        let mut seen = IdSet::default();
        let mut want = |id: AccountId, out: &mut Vec<AccountId>| {
            if id.0 != 0 && !self.accounts.contains_key(&id) && seen.insert(id) {
                out.push(id);
            }
        };
        for t in batch {
            want(t.debit_account_id, &mut out);
            want(t.credit_account_id, &mut out);
            if let Some(p) = t.pending_id.and_then(|p| self.transfers.get(&p)) {
                want(p.debit_account_id, &mut out);
                want(p.credit_account_id, &mut out);
            }
        }
        out
    }

    // ---- reading ----

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn transfers(&self) -> impl Iterator<Item = &Transfer> {
        self.transfers.values()
    }

    /// What changed since the last call; also forgets the journal (a committed batch cannot be undone).
    pub fn take_changes(&mut self) -> Changes {
        debug_assert_eq!(self.savepoints, 0, "take_changes inside a savepoint");
        self.journal.clear();
        std::mem::take(&mut self.changes)
    }

    /// Empties the working set, keeping the timestamp high-water mark.
    pub fn clear(&mut self) {
        let last = self.last_timestamp;
        *self = Ledger::default();
        self.last_timestamp = last;
    }

    /// Forgets the loaded transfers but keeps the accounts: the store's writer keeps accounts cached
    /// across batches while it knows no other writer has touched the database.
    pub fn clear_transfers(&mut self) {
        debug_assert_eq!(self.savepoints, 0);
        self.transfers.clear();
        self.due.clear();
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    // ---- savepoints ----

    pub fn savepoint(&mut self) -> Savepoint {
        self.savepoints += 1;
        Savepoint(self.journal.len())
    }

    pub fn release(&mut self, sp: Savepoint) {
        debug_assert!(self.savepoints > 0);
        self.savepoints -= 1;
        if self.savepoints == 0 {
            self.journal.clear();
        } else {
            debug_assert!(sp.0 <= self.journal.len());
        }
    }

    /// Undoes everything done since `sp` was taken.
    pub fn rollback(&mut self, sp: Savepoint) {
        debug_assert!(self.savepoints > 0);
        while self.journal.len() > sp.0 {
            match self.journal.pop().expect("len checked") {
                Undo::AccountCreated(id) => {
                    self.accounts.remove(&id);
                    let popped = self.changes.new_accounts.pop();
                    debug_assert_eq!(popped, Some(id));
                }
                Undo::Account(a) => {
                    self.accounts.insert(a.id, a);
                }
                Undo::TransferCreated(id) => {
                    if let Some(t) = self.transfers.remove(&id) {
                        if let Some(at) = t.expires_at() {
                            self.due.remove(&(at, id));
                        }
                    }
                    let popped = self.changes.new_transfers.pop();
                    debug_assert_eq!(popped, Some(id));
                    // A pending transfer created and resolved inside the undone chain is not a change
                    // to write either (the store would look for a row that no longer exists).
                    self.changes.pending.remove(&id);
                }
                Undo::Pending(id, status) => {
                    if let Some(t) = self.transfers.get_mut(&id) {
                        t.pending_status = status;
                        if let (Some(PendingStatus::Pending), Some(at)) = (status, t.expires_at()) {
                            self.due.insert((at, id));
                        }
                    }
                }
            }
        }
        self.savepoints -= 1;
        if self.savepoints == 0 {
            self.journal.clear();
        }
    }

    fn record(&mut self, u: Undo) {
        if self.savepoints > 0 {
            self.journal.push(u);
        }
    }

    fn next_timestamp(&mut self, now: i64) -> i64 {
        self.last_timestamp = now.max(self.last_timestamp + 1);
        self.last_timestamp
    }

    // ---- accounts ----

    pub fn create_accounts(&mut self, batch: &[NewAccount], now: i64) -> Vec<Result<Applied, AccountError>> {
        batch.iter().map(|a| self.create_account(a, now)).collect()
    }

    fn create_account(&mut self, a: &NewAccount, now: i64) -> Result<Applied, AccountError> {
        if a.id.0 == 0 {
            return Err(AccountError::IdMustNotBeZero);
        }
        if !a.flags.is_valid() {
            return Err(AccountError::UnknownFlags);
        }
        if a.flags.contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS) {
            return Err(AccountError::FlagsAreMutuallyExclusive);
        }
        if let Some(e) = self.accounts.get(&a.id) {
            return if e.currency != a.currency {
                Err(AccountError::ExistsWithDifferentCurrency)
            } else if e.code != a.code {
                Err(AccountError::ExistsWithDifferentCode)
            } else if e.owner != a.owner {
                Err(AccountError::ExistsWithDifferentOwner)
            } else if e.flags.without(AccountFlags::CLOSED) != a.flags.without(AccountFlags::CLOSED) {
                Err(AccountError::ExistsWithDifferentFlags)
            } else {
                Ok(Applied { timestamp: e.timestamp, replay: true })
            };
        }
        let ts = self.next_timestamp(now);
        self.accounts.insert(a.id, Account::new(a, ts));
        self.changes.new_accounts.push(a.id);
        self.record(Undo::AccountCreated(a.id));
        Ok(Applied { timestamp: ts, replay: false })
    }

    /// Closes (or reopens) an account: a closed account takes no new transfers.
    pub fn set_closed(&mut self, id: AccountId, closed: bool) -> Result<(), AccountError> {
        let a = *self.accounts.get(&id).ok_or(AccountError::NotFound)?;
        self.record(Undo::Account(a));
        let flags = if closed { a.flags | AccountFlags::CLOSED } else { a.flags.without(AccountFlags::CLOSED) };
        self.accounts.get_mut(&id).expect("present").flags = flags;
        self.changes.accounts.insert(id);
        Ok(())
    }

    // ---- expiry ----

    /// Expires every loaded pending transfer whose timeout has passed at `now`, releasing its reservation.
    /// Returns how many expired.
    pub fn expire_due(&mut self, now: i64) -> usize {
        let mut n = 0;
        while let Some(&(at, id)) = self.due.first() {
            if at > now {
                break;
            }
            self.due.pop_first();
            let Some(t) = self.transfers.get(&id).copied() else { continue };
            if t.pending_status != Some(PendingStatus::Pending) {
                continue;
            }
            // Both accounts were loaded with the transfer (the store guarantees it); a missing one is
            // a store bug, so leave the transfer pending rather than corrupt balances.
            let (Some(dr), Some(cr)) = (self.accounts.get(&t.debit_account_id).copied(), self.accounts.get(&t.credit_account_id).copied()) else {
                debug_assert!(false, "expiring transfer without its accounts loaded");
                continue;
            };
            self.record(Undo::Account(dr));
            self.record(Undo::Account(cr));
            self.record(Undo::Pending(id, t.pending_status));
            self.accounts.get_mut(&dr.id).expect("loaded").debits_pending -= t.amount;
            self.accounts.get_mut(&cr.id).expect("loaded").credits_pending -= t.amount;
            self.transfers.get_mut(&id).expect("loaded").pending_status = Some(PendingStatus::Expired);
            self.changes.accounts.insert(dr.id);
            self.changes.accounts.insert(cr.id);
            self.changes.pending.insert(id);
            n += 1;
        }
        n
    }

    /// Pending transfers loaded and due at `now` (the store uses it to know what to load).
    pub fn next_expiry(&self) -> Option<i64> {
        self.due.first().map(|(at, _)| *at)
    }
}
