//! Transfers: one amount moved from a debit account to a credit account of the same currency.

use crate::{AccountId, Currency};
use std::fmt;

/// 128-bit transfer id chosen by the caller; the key of idempotency. 0 is never valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct TransferId(pub u128);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransferFlags(pub u16);

impl TransferFlags {
    /// This transfer succeeds only if the next one in the batch does too (and so on to the
    /// first transfer without the flag): a payment and its fee split are one chain.
    pub const LINKED: TransferFlags = TransferFlags(1);
    /// Reserve the amount (pending balances) until posted, voided or expired.
    pub const PENDING: TransferFlags = TransferFlags(2);
    /// Post a pending transfer named by `pending_id`, in full or in part.
    pub const POST_PENDING: TransferFlags = TransferFlags(4);
    /// Void a pending transfer named by `pending_id`.
    pub const VOID_PENDING: TransferFlags = TransferFlags(8);
    const ALL: u16 = 15;

    pub const fn empty() -> Self {
        TransferFlags(0)
    }
    pub const fn contains(self, other: TransferFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: TransferFlags) -> TransferFlags {
        TransferFlags(self.0 | other.0)
    }
    pub const fn is_valid(self) -> bool {
        self.0 & !Self::ALL == 0
    }
    /// Post or void: the transfer resolves an earlier pending one.
    pub const fn resolves_pending(self) -> bool {
        self.0 & (Self::POST_PENDING.0 | Self::VOID_PENDING.0) != 0
    }
}

impl std::ops::BitOr for TransferFlags {
    type Output = TransferFlags;
    fn bitor(self, rhs: TransferFlags) -> TransferFlags {
        self.union(rhs)
    }
}

impl fmt::Debug for TransferFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [(Self::LINKED, "linked"), (Self::PENDING, "pending"), (Self::POST_PENDING, "post_pending"), (Self::VOID_PENDING, "void_pending")];
        let parts: Vec<&str> = names.iter().filter(|(f, _)| self.contains(*f)).map(|(_, n)| *n).collect();
        write!(f, "TransferFlags({})", parts.join("|"))
    }
}

/// What a caller asks for. For post and void, zero accounts, zero currency-agnostic amount and
/// `None` currency mean "as the pending transfer has it"; a post with amount 0 posts the full amount.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NewTransfer {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    /// Minor units. Signed so that a negative amount from an adapter is a precise error, not a wrap.
    pub amount: i64,
    pub pending_id: Option<TransferId>,
    pub currency: Option<Currency>,
    /// The kind of movement (payment, fee, refund, top-up …), chosen by the application.
    pub code: u16,
    /// The business object this transfer belongs to (an order, a refund, a ride).
    pub reference: u128,
    pub flags: TransferFlags,
    /// Seconds until a pending transfer expires by itself; 0 = never. Only for pending transfers.
    pub timeout: u32,
}

impl NewTransfer {
    /// A plain, single-phase transfer.
    pub fn simple(id: u128, debit: AccountId, credit: AccountId, amount: i64, currency: Currency, code: u16, reference: u128) -> Self {
        NewTransfer {
            id: TransferId(id),
            debit_account_id: debit,
            credit_account_id: credit,
            amount,
            pending_id: None,
            currency: Some(currency),
            code,
            reference,
            flags: TransferFlags::empty(),
            timeout: 0,
        }
    }
}

/// Where a pending transfer stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PendingStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingStatus {
    pub fn as_i64(self) -> i64 {
        match self {
            PendingStatus::Pending => 1,
            PendingStatus::Posted => 2,
            PendingStatus::Voided => 3,
            PendingStatus::Expired => 4,
        }
    }
    pub fn from_i64(v: i64) -> Option<PendingStatus> {
        Some(match v {
            1 => PendingStatus::Pending,
            2 => PendingStatus::Posted,
            3 => PendingStatus::Voided,
            4 => PendingStatus::Expired,
            _ => return None,
        })
    }
}

/// A committed transfer, with every field resolved (post/void carry the pending transfer's accounts
/// and currency, and the amount actually posted or voided).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Transfer {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: i64,
    pub pending_id: Option<TransferId>,
    pub currency: Currency,
    pub code: u16,
    pub reference: u128,
    pub flags: TransferFlags,
    pub timeout: u32,
    /// Unique and strictly increasing across the ledger, nanoseconds of the ledger's clock.
    pub timestamp: i64,
    /// For a pending transfer: where it stands now. `None` for every other transfer.
    pub pending_status: Option<PendingStatus>,
}

impl Transfer {
    /// When a pending transfer with a timeout stops holding its reservation.
    pub fn expires_at(&self) -> Option<i64> {
        if self.flags.contains(TransferFlags::PENDING) && self.timeout > 0 {
            Some(self.timestamp.saturating_add(self.timeout as i64 * 1_000_000_000))
        } else {
            None
        }
    }

    /// Whether `new` asks for exactly this transfer again; `Err` names the first field that differs.
    pub fn same_request(&self, new: &NewTransfer) -> Result<(), TransferError> {
        use TransferError::*;
        let resolving = new.flags.resolves_pending();
        if self.flags != new.flags {
            return Err(ExistsWithDifferentFlags);
        }
        if self.pending_id != new.pending_id {
            return Err(ExistsWithDifferentPendingId);
        }
        let accounts_given = !resolving || new.debit_account_id.0 != 0 || new.credit_account_id.0 != 0;
        if accounts_given && (self.debit_account_id != new.debit_account_id || self.credit_account_id != new.credit_account_id) {
            return Err(ExistsWithDifferentAccounts);
        }
        if !(resolving && new.amount == 0) && self.amount != new.amount {
            return Err(ExistsWithDifferentAmount);
        }
        if let Some(c) = new.currency {
            if c != self.currency {
                return Err(ExistsWithDifferentCurrency);
            }
        } else if !resolving {
            return Err(ExistsWithDifferentCurrency);
        }
        if self.code != new.code {
            return Err(ExistsWithDifferentCode);
        }
        if self.reference != new.reference {
            return Err(ExistsWithDifferentReference);
        }
        if self.timeout != new.timeout {
            return Err(ExistsWithDifferentTimeout);
        }
        Ok(())
    }
}

/// Why a transfer was refused. Nothing of a refused transfer is written. `code()` is the stable name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TransferError {
    LinkedEventFailed,
    LinkedEventChainOpen,
    IdMustNotBeZero,
    UnknownFlags,
    FlagsAreMutuallyExclusive,
    DebitAccountIdMustNotBeZero,
    CreditAccountIdMustNotBeZero,
    AccountsMustBeDifferent,
    AmountMustNotBeZero,
    AmountMustBePositive,
    CurrencyRequired,
    PendingIdMustBeZero,
    PendingIdMustNotBeZero,
    PendingIdMustBeDifferent,
    TimeoutReservedForPendingTransfer,
    DebitAccountNotFound,
    CreditAccountNotFound,
    AccountsMustHaveTheSameCurrency,
    CurrencyMustMatchAccounts,
    DebitAccountClosed,
    CreditAccountClosed,
    PendingTransferNotFound,
    PendingTransferNotPending,
    PendingTransferHasDifferentDebitAccount,
    PendingTransferHasDifferentCreditAccount,
    PendingTransferHasDifferentCurrency,
    PendingTransferHasDifferentAmount,
    ExceedsPendingTransferAmount,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    ExistsWithDifferentFlags,
    ExistsWithDifferentPendingId,
    ExistsWithDifferentAccounts,
    ExistsWithDifferentAmount,
    ExistsWithDifferentCurrency,
    ExistsWithDifferentCode,
    ExistsWithDifferentReference,
    ExistsWithDifferentTimeout,
    OverflowsDebitsPending,
    OverflowsCreditsPending,
    OverflowsDebitsPosted,
    OverflowsCreditsPosted,
    OverflowsDebits,
    OverflowsCredits,
    OverflowsTimeout,
    ExceedsCredits,
    ExceedsDebits,
}

impl TransferError {
    pub fn code(&self) -> &'static str {
        use TransferError::*;
        match self {
            LinkedEventFailed => "linked_event_failed",
            LinkedEventChainOpen => "linked_event_chain_open",
            IdMustNotBeZero => "id_must_not_be_zero",
            UnknownFlags => "unknown_flags",
            FlagsAreMutuallyExclusive => "flags_are_mutually_exclusive",
            DebitAccountIdMustNotBeZero => "debit_account_id_must_not_be_zero",
            CreditAccountIdMustNotBeZero => "credit_account_id_must_not_be_zero",
            AccountsMustBeDifferent => "accounts_must_be_different",
            AmountMustNotBeZero => "amount_must_not_be_zero",
            AmountMustBePositive => "amount_must_be_positive",
            CurrencyRequired => "currency_required",
            PendingIdMustBeZero => "pending_id_must_be_zero",
            PendingIdMustNotBeZero => "pending_id_must_not_be_zero",
            PendingIdMustBeDifferent => "pending_id_must_be_different",
            TimeoutReservedForPendingTransfer => "timeout_reserved_for_pending_transfer",
            DebitAccountNotFound => "debit_account_not_found",
            CreditAccountNotFound => "credit_account_not_found",
            AccountsMustHaveTheSameCurrency => "accounts_must_have_the_same_currency",
            CurrencyMustMatchAccounts => "currency_must_match_accounts",
            DebitAccountClosed => "debit_account_closed",
            CreditAccountClosed => "credit_account_closed",
            PendingTransferNotFound => "pending_transfer_not_found",
            PendingTransferNotPending => "pending_transfer_not_pending",
            PendingTransferHasDifferentDebitAccount => "pending_transfer_has_different_debit_account",
            PendingTransferHasDifferentCreditAccount => "pending_transfer_has_different_credit_account",
            PendingTransferHasDifferentCurrency => "pending_transfer_has_different_currency",
            PendingTransferHasDifferentAmount => "pending_transfer_has_different_amount",
            ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
            PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            PendingTransferExpired => "pending_transfer_expired",
            ExistsWithDifferentFlags => "exists_with_different_flags",
            ExistsWithDifferentPendingId => "exists_with_different_pending_id",
            ExistsWithDifferentAccounts => "exists_with_different_accounts",
            ExistsWithDifferentAmount => "exists_with_different_amount",
            ExistsWithDifferentCurrency => "exists_with_different_currency",
            ExistsWithDifferentCode => "exists_with_different_code",
            ExistsWithDifferentReference => "exists_with_different_reference",
            ExistsWithDifferentTimeout => "exists_with_different_timeout",
            OverflowsDebitsPending => "overflows_debits_pending",
            OverflowsCreditsPending => "overflows_credits_pending",
            OverflowsDebitsPosted => "overflows_debits_posted",
            OverflowsCreditsPosted => "overflows_credits_posted",
            OverflowsDebits => "overflows_debits",
            OverflowsCredits => "overflows_credits",
            OverflowsTimeout => "overflows_timeout",
            ExceedsCredits => "exceeds_credits",
            ExceedsDebits => "exceeds_debits",
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for TransferError {}
