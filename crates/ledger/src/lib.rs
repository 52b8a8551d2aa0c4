//! saoma's double-entry ledger, pure: no I/O, no clock, no allocation beyond its maps.
//!
//! Every movement of money is a [`Transfer`] from a debit account to a credit account of the same
//! currency. Transfers are idempotent on their caller-chosen id, may be two-phase (pending, then posted
//! in full or in part, voided, or expired on the clock), and may be linked into chains that succeed or
//! fail together. Accounts carry their balances and may forbid overdraft.
//!
//! The invariants (see [`check`]): per currency debits equal credits; each account's balances equal
//! the sums of its transfers; no account breaks its limit flags.

mod account;
pub mod check;
mod currency;
mod engine;
mod hash;
mod transfer;

pub use account::{Account, AccountError, AccountFlags, AccountId, NewAccount};
pub use check::{check, CheckReport, Checker, Violation};
pub use currency::Currency;
pub use hash::{IdMap, IdSet};
pub use engine::{Applied, BatchError, Changes, Ledger, Savepoint, MAX_BATCH};
pub use transfer::{NewTransfer, PendingStatus, Transfer, TransferError, TransferFlags, TransferId};
