//! The ledger's invariants, checked from scratch over every account and transfer:
//! - per currency, posted debits = posted credits and pending debits = pending credits;
//! - each account's four balances equal the sums of its transfers;
//! - every transfer names existing accounts of its currency;
//! - no account breaks its limit flags.
//!
//! Streaming: the store feeds rows one at a time, so checking a large ledger needs memory per account,
//! not per transfer.

use crate::{Account, AccountFlags, AccountId, Currency, PendingStatus, Transfer, TransferFlags, TransferId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Totals {
    pub debits_posted: i128,
    pub credits_posted: i128,
    pub debits_pending: i128,
    pub credits_pending: i128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    CurrencyUnbalanced { currency: Currency, totals: Totals },
    BalanceMismatch { account: AccountId, field: &'static str, stored: i64, from_transfers: i128 },
    LimitBroken { account: AccountId, flags: AccountFlags },
    UnknownAccount { transfer: TransferId, account: AccountId },
    CurrencyMismatch { transfer: TransferId },
    NegativeBalance { account: AccountId, field: &'static str },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::CurrencyUnbalanced { currency, totals } => write!(
                f,
                "{currency}: debits {} != credits {} (pending {} / {})",
                totals.debits_posted, totals.credits_posted, totals.debits_pending, totals.credits_pending
            ),
            Violation::BalanceMismatch { account, field, stored, from_transfers } => {
                write!(f, "account {:032x}: {field} is {stored}, its transfers sum to {from_transfers}", account.0)
            }
            Violation::LimitBroken { account, flags } => write!(f, "account {:032x}: balances break {flags:?}", account.0),
            Violation::UnknownAccount { transfer, account } => {
                write!(f, "transfer {:032x} names unknown account {:032x}", transfer.0, account.0)
            }
            Violation::CurrencyMismatch { transfer } => write!(f, "transfer {:032x}: currency differs from its accounts'", transfer.0),
            Violation::NegativeBalance { account, field } => write!(f, "account {:032x}: {field} is negative", account.0),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    pub accounts: u64,
    pub transfers: u64,
    pub pending_open: u64,
    pub currencies: BTreeMap<Currency, Totals>,
    pub violations: Vec<Violation>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Sums of one account's transfers, by balance field.
#[derive(Clone, Copy, Default)]
struct Sums {
    dp: i128,
    dpo: i128,
    cp: i128,
    cpo: i128,
}

/// Accumulates transfers first (any order), then accounts; `finish` gives the report.
#[derive(Default)]
pub struct Checker {
    sums: HashMap<AccountId, Sums>,
    currency_of_transfers: Vec<(TransferId, AccountId, AccountId, Currency)>,
    account_currency: HashMap<AccountId, Currency>,
    report: CheckReport,
}

impl Checker {
    pub fn new() -> Checker {
        Checker::default()
    }

    pub fn transfer(&mut self, t: &Transfer) {
        self.report.transfers += 1;
        let a = t.amount as i128;
        let (posted, pending) = if t.flags.contains(TransferFlags::PENDING) {
            // A reservation counts as pending while it is open; once posted, the post transfer carries
            // the posted amount; voided or expired, it counts for nothing.
            let open = t.pending_status == Some(PendingStatus::Pending);
            if open {
                self.report.pending_open += 1;
            }
            (0, if open { a } else { 0 })
        } else if t.flags.contains(TransferFlags::VOID_PENDING) {
            (0, 0)
        } else {
            (a, 0)
        };
        let d = self.sums.entry(t.debit_account_id).or_default();
        d.dpo += posted;
        d.dp += pending;
        let c = self.sums.entry(t.credit_account_id).or_default();
        c.cpo += posted;
        c.cp += pending;
        self.currency_of_transfers.push((t.id, t.debit_account_id, t.credit_account_id, t.currency));
    }

    pub fn account(&mut self, a: &Account) {
        self.report.accounts += 1;
        let s = self.sums.remove(&a.id).unwrap_or_default();
        for (field, stored, sum) in [
            ("debits_pending", a.debits_pending, s.dp),
            ("debits_posted", a.debits_posted, s.dpo),
            ("credits_pending", a.credits_pending, s.cp),
            ("credits_posted", a.credits_posted, s.cpo),
        ] {
            if stored as i128 != sum {
                self.report.violations.push(Violation::BalanceMismatch { account: a.id, field, stored, from_transfers: sum });
            }
            if stored < 0 {
                self.report.violations.push(Violation::NegativeBalance { account: a.id, field });
            }
        }
        if a.violates_limits() {
            self.report.violations.push(Violation::LimitBroken { account: a.id, flags: a.flags });
        }
        let t = self.report.currencies.entry(a.currency).or_default();
        t.debits_posted += a.debits_posted as i128;
        t.credits_posted += a.credits_posted as i128;
        t.debits_pending += a.debits_pending as i128;
        t.credits_pending += a.credits_pending as i128;
        self.account_currency.insert(a.id, a.currency);
    }

    pub fn finish(mut self) -> CheckReport {
        // Transfers naming accounts that were never fed.
        for (tid, dr, cr, cur) in std::mem::take(&mut self.currency_of_transfers) {
            for acc in [dr, cr] {
                match self.account_currency.get(&acc) {
                    None => self.report.violations.push(Violation::UnknownAccount { transfer: tid, account: acc }),
                    Some(c) if *c != cur => {
                        self.report.violations.push(Violation::CurrencyMismatch { transfer: tid });
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
        for (currency, totals) in &self.report.currencies {
            if totals.debits_posted != totals.credits_posted || totals.debits_pending != totals.credits_pending {
                self.report.violations.push(Violation::CurrencyUnbalanced { currency: *currency, totals: *totals });
            }
        }
        self.report
    }
}

/// Checks a whole in-memory ledger.
pub fn check<'a>(accounts: impl IntoIterator<Item = &'a Account>, transfers: impl IntoIterator<Item = &'a Transfer>) -> CheckReport {
    let mut c = Checker::new();
    for t in transfers {
        c.transfer(t);
    }
    for a in accounts {
        c.account(a);
    }
    c.finish()
}
