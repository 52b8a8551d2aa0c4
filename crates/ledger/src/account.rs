//! Accounts: what a balance belongs to, and the limits it keeps.

use crate::Currency;
use std::fmt;

/// 128-bit account id. Callers choose it (usually time-ordered, see [`crate::Id`]); 0 is never valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct AccountId(pub u128);

/// Account flags, a bit set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AccountFlags(pub u16);

impl AccountFlags {
    /// A no-overdraft account (a wallet): debits may never exceed credits.
    pub const DEBITS_MUST_NOT_EXCEED_CREDITS: AccountFlags = AccountFlags(1);
    /// An account that may never be credited beyond what it was debited (a bank clearing limit).
    pub const CREDITS_MUST_NOT_EXCEED_DEBITS: AccountFlags = AccountFlags(2);
    /// A closed account takes no new transfers; pending ones may still be posted or voided.
    pub const CLOSED: AccountFlags = AccountFlags(4);
    const ALL: u16 = 7;

    pub const fn empty() -> Self {
        AccountFlags(0)
    }
    pub const fn contains(self, other: AccountFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: AccountFlags) -> AccountFlags {
        AccountFlags(self.0 | other.0)
    }
    pub const fn without(self, other: AccountFlags) -> AccountFlags {
        AccountFlags(self.0 & !other.0)
    }
    pub const fn is_valid(self) -> bool {
        self.0 & !Self::ALL == 0
    }
}

impl std::ops::BitOr for AccountFlags {
    type Output = AccountFlags;
    fn bitor(self, rhs: AccountFlags) -> AccountFlags {
        self.union(rhs)
    }
}

impl fmt::Debug for AccountFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.contains(Self::DEBITS_MUST_NOT_EXCEED_CREDITS) {
            parts.push("debits_must_not_exceed_credits");
        }
        if self.contains(Self::CREDITS_MUST_NOT_EXCEED_DEBITS) {
            parts.push("credits_must_not_exceed_debits");
        }
        if self.contains(Self::CLOSED) {
            parts.push("closed");
        }
        write!(f, "AccountFlags({})", parts.join("|"))
    }
}

/// What a caller asks for when it opens an account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NewAccount {
    pub id: AccountId,
    pub currency: Currency,
    /// The kind of account (wallet, merchant unsettled, fee income, bank clearing …), chosen by the
    /// application; the ledger only stores it.
    pub code: u16,
    /// Reference to the owner (a user, merchant, the platform), chosen by the application.
    pub owner: u128,
    pub flags: AccountFlags,
}

/// An account with its balances. Balances are sums of the account's transfers, kept up to date so that
/// limits can be checked without reading history.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Account {
    pub id: AccountId,
    pub currency: Currency,
    pub code: u16,
    pub owner: u128,
    pub flags: AccountFlags,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    /// When it was created, in nanoseconds of the ledger's clock.
    pub timestamp: i64,
}

impl Account {
    pub fn new(a: &NewAccount, timestamp: i64) -> Account {
        Account {
            id: a.id,
            currency: a.currency,
            code: a.code,
            owner: a.owner,
            flags: a.flags,
            debits_pending: 0,
            debits_posted: 0,
            credits_pending: 0,
            credits_posted: 0,
            timestamp,
        }
    }

    /// Posted credits less posted debits: what a wallet holds.
    pub fn credit_balance(&self) -> i64 {
        self.credits_posted - self.debits_posted
    }

    /// What a no-overdraft account can still spend: posted credits less posted and reserved debits.
    pub fn available(&self) -> i64 {
        self.credits_posted - self.debits_posted - self.debits_pending
    }

    /// True if the balances break one of the account's own limit flags.
    pub fn violates_limits(&self) -> bool {
        (self.flags.contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS)
            && self.debits_pending as i128 + self.debits_posted as i128 > self.credits_posted as i128)
            || (self.flags.contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS)
                && self.credits_pending as i128 + self.credits_posted as i128 > self.debits_posted as i128)
    }
}

/// Why an account could not be created. `code()` gives the stable snake_case name used in APIs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountError {
    IdMustNotBeZero,
    FlagsAreMutuallyExclusive,
    NotFound,
    UnknownFlags,
    ExistsWithDifferentCurrency,
    ExistsWithDifferentCode,
    ExistsWithDifferentOwner,
    ExistsWithDifferentFlags,
}

impl AccountError {
    pub fn code(&self) -> &'static str {
        use AccountError::*;
        match self {
            NotFound => "account_not_found",
            IdMustNotBeZero => "id_must_not_be_zero",
            FlagsAreMutuallyExclusive => "flags_are_mutually_exclusive",
            UnknownFlags => "unknown_flags",
            ExistsWithDifferentCurrency => "exists_with_different_currency",
            ExistsWithDifferentCode => "exists_with_different_code",
            ExistsWithDifferentOwner => "exists_with_different_owner",
            ExistsWithDifferentFlags => "exists_with_different_flags",
        }
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for AccountError {}
