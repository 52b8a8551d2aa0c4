//! Transfers: a batch applied in order, linked chains all-or-nothing, balances moved, pending
//! transfers posted or voided. A second `impl Ledger`, beside the accounts and savepoints of `mod.rs`.

use super::*;

impl Ledger {
    /// Applies a batch: expired reservations are released first, then each transfer in order, each
    /// linked chain all-or-nothing. One result per transfer. An oversized batch is refused whole.
    pub fn create_transfers(&mut self, batch: &[NewTransfer], now: i64) -> Result<Vec<Result<Applied, TransferError>>, BatchError> {
        if batch.len() > MAX_BATCH {
            return Err(BatchError::TooLarge { len: batch.len(), max: MAX_BATCH });
        }
        self.expire_due(now);
        let n = batch.len();
        let mut results: Vec<Result<Applied, TransferError>> = Vec::with_capacity(n);
        let mut i = 0;
        while i < n {
            let mut j = i;
            while j < n && batch[j].flags.contains(TransferFlags::LINKED) {
                j += 1;
            }
            if j == n {
                // The last transfer still says "linked to the next", and there is no next.
                for _ in i..n - 1 {
                    results.push(Err(TransferError::LinkedEventFailed));
                }
                results.push(Err(TransferError::LinkedEventChainOpen));
                break;
            }
            if i == j {
                let r = self.create_transfer(&batch[i], now);
                results.push(r);
            } else {
                let sp = self.savepoint();
                let mut chain = Vec::with_capacity(j - i + 1);
                let mut failed = None;
                for (k, t) in batch[i..=j].iter().enumerate() {
                    match self.create_transfer(t, now) {
                        Ok(a) => chain.push(Ok(a)),
                        Err(e) => {
                            failed = Some((k, e));
                            break;
                        }
                    }
                }
                match failed {
                    None => {
                        self.release(sp);
                        results.extend(chain);
                    }
                    Some((k, e)) => {
                        self.rollback(sp);
                        for m in 0..=(j - i) {
                            results.push(Err(if m == k { e } else { TransferError::LinkedEventFailed }));
                        }
                    }
                }
            }
            i = j + 1;
        }
        Ok(results)
    }

    fn create_transfer(&mut self, t: &NewTransfer, now: i64) -> Result<Applied, TransferError> {
        use TransferError::*;
        if !t.flags.is_valid() {
            return Err(UnknownFlags);
        }
        if t.id.0 == 0 {
            return Err(IdMustNotBeZero);
        }
        let phase_flags = [TransferFlags::PENDING, TransferFlags::POST_PENDING, TransferFlags::VOID_PENDING];
        if phase_flags.iter().filter(|f| t.flags.contains(**f)).count() > 1 {
            return Err(FlagsAreMutuallyExclusive);
        }
        if let Some(e) = self.transfers.get(&t.id) {
            e.same_request(t)?;
            return Ok(Applied { timestamp: e.timestamp, replay: true });
        }
        if t.flags.resolves_pending() {
            self.resolve_pending(t, now)
        } else {
            self.move_amount(t, now)
        }
    }

    /// A single-phase transfer, or the reservation of a pending one.
    fn move_amount(&mut self, t: &NewTransfer, now: i64) -> Result<Applied, TransferError> {
        use TransferError::*;
        if t.pending_id.is_some() {
            return Err(PendingIdMustBeZero);
        }
        if t.debit_account_id.0 == 0 {
            return Err(DebitAccountIdMustNotBeZero);
        }
        if t.credit_account_id.0 == 0 {
            return Err(CreditAccountIdMustNotBeZero);
        }
        if t.debit_account_id == t.credit_account_id {
            return Err(AccountsMustBeDifferent);
        }
        if t.amount == 0 {
            return Err(AmountMustNotBeZero);
        }
        if t.amount < 0 {
            return Err(AmountMustBePositive);
        }
        let currency = t.currency.ok_or(CurrencyRequired)?;
        let pending = t.flags.contains(TransferFlags::PENDING);
        if t.timeout != 0 && !pending {
            return Err(TimeoutReservedForPendingTransfer);
        }
        let dr = *self.accounts.get(&t.debit_account_id).ok_or(DebitAccountNotFound)?;
        let cr = *self.accounts.get(&t.credit_account_id).ok_or(CreditAccountNotFound)?;
        if dr.currency != cr.currency {
            return Err(AccountsMustHaveTheSameCurrency);
        }
        if currency != dr.currency {
            return Err(CurrencyMustMatchAccounts);
        }
        if dr.flags.contains(AccountFlags::CLOSED) {
            return Err(DebitAccountClosed);
        }
        if cr.flags.contains(AccountFlags::CLOSED) {
            return Err(CreditAccountClosed);
        }
        let a = t.amount;
        let (dr_pending, cr_pending, dr_posted, cr_posted) = if pending {
            (
                dr.debits_pending.checked_add(a).ok_or(OverflowsDebitsPending)?,
                cr.credits_pending.checked_add(a).ok_or(OverflowsCreditsPending)?,
                dr.debits_posted,
                cr.credits_posted,
            )
        } else {
            (
                dr.debits_pending,
                cr.credits_pending,
                dr.debits_posted.checked_add(a).ok_or(OverflowsDebitsPosted)?,
                cr.credits_posted.checked_add(a).ok_or(OverflowsCreditsPosted)?,
            )
        };
        dr_pending.checked_add(dr_posted).ok_or(OverflowsDebits)?;
        cr_pending.checked_add(cr_posted).ok_or(OverflowsCredits)?;
        if dr.flags.contains(AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS) && dr_pending + dr_posted > dr.credits_posted {
            return Err(ExceedsCredits);
        }
        if cr.flags.contains(AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS) && cr_pending + cr_posted > cr.debits_posted {
            return Err(ExceedsDebits);
        }
        let ts = self.next_timestamp(now);
        if t.timeout > 0 {
            ts.checked_add(t.timeout as i64 * 1_000_000_000).ok_or(OverflowsTimeout)?;
        }
        self.record(Undo::Account(dr));
        self.record(Undo::Account(cr));
        {
            let d = self.accounts.get_mut(&dr.id).expect("loaded");
            d.debits_pending = dr_pending;
            d.debits_posted = dr_posted;
        }
        {
            let c = self.accounts.get_mut(&cr.id).expect("loaded");
            c.credits_pending = cr_pending;
            c.credits_posted = cr_posted;
        }
        let stored = Transfer {
            id: t.id,
            debit_account_id: dr.id,
            credit_account_id: cr.id,
            amount: a,
            pending_id: None,
            currency,
            code: t.code,
            reference: t.reference,
            flags: t.flags,
            timeout: t.timeout,
            timestamp: ts,
            pending_status: if pending { Some(PendingStatus::Pending) } else { None },
        };
        self.insert_transfer(stored);
        self.changes.accounts.insert(dr.id);
        self.changes.accounts.insert(cr.id);
        Ok(Applied { timestamp: ts, replay: false })
    }

    fn insert_transfer(&mut self, t: Transfer) {
        if let Some(at) = t.expires_at() {
            self.due.insert((at, t.id));
        }
        self.transfers.insert(t.id, t);
        self.changes.new_transfers.push(t.id);
        self.record(Undo::TransferCreated(t.id));
    }

    /// Post (in full or in part) or void a pending transfer.
    fn resolve_pending(&mut self, t: &NewTransfer, now: i64) -> Result<Applied, TransferError> {
        use TransferError::*;
        let pid = match t.pending_id {
            Some(p) if p.0 != 0 => p,
            _ => return Err(PendingIdMustNotBeZero),
        };
        if pid == t.id {
            return Err(PendingIdMustBeDifferent);
        }
        if t.timeout != 0 {
            return Err(TimeoutReservedForPendingTransfer);
        }
        if t.amount < 0 {
            return Err(AmountMustBePositive);
        }
        let p = *self.transfers.get(&pid).ok_or(PendingTransferNotFound)?;
        if !p.flags.contains(TransferFlags::PENDING) {
            return Err(PendingTransferNotPending);
        }
        if t.debit_account_id.0 != 0 && t.debit_account_id != p.debit_account_id {
            return Err(PendingTransferHasDifferentDebitAccount);
        }
        if t.credit_account_id.0 != 0 && t.credit_account_id != p.credit_account_id {
            return Err(PendingTransferHasDifferentCreditAccount);
        }
        if t.currency.is_some_and(|c| c != p.currency) {
            return Err(PendingTransferHasDifferentCurrency);
        }
        let post = t.flags.contains(TransferFlags::POST_PENDING);
        let amount = if post {
            if t.amount > p.amount {
                return Err(ExceedsPendingTransferAmount);
            }
            if t.amount == 0 { p.amount } else { t.amount }
        } else {
            if t.amount != 0 && t.amount != p.amount {
                return Err(PendingTransferHasDifferentAmount);
            }
            p.amount
        };
        match p.pending_status {
            Some(PendingStatus::Posted) => return Err(PendingTransferAlreadyPosted),
            Some(PendingStatus::Voided) => return Err(PendingTransferAlreadyVoided),
            Some(PendingStatus::Expired) => return Err(PendingTransferExpired),
            Some(PendingStatus::Pending) => {}
            None => return Err(PendingTransferNotPending),
        }
        let ts = self.next_timestamp(now);
        if p.expires_at().is_some_and(|at| at <= ts) {
            return Err(PendingTransferExpired);
        }
        let dr = *self.accounts.get(&p.debit_account_id).ok_or(DebitAccountNotFound)?;
        let cr = *self.accounts.get(&p.credit_account_id).ok_or(CreditAccountNotFound)?;
        let (dr_posted, cr_posted) = if post {
            (
                dr.debits_posted.checked_add(amount).ok_or(OverflowsDebitsPosted)?,
                cr.credits_posted.checked_add(amount).ok_or(OverflowsCreditsPosted)?,
            )
        } else {
            (dr.debits_posted, cr.credits_posted)
        };
        // Posting moves at most the reserved amount from pending to posted, so totals never grow and
        // no limit can newly break.
        self.record(Undo::Account(dr));
        self.record(Undo::Account(cr));
        self.record(Undo::Pending(pid, p.pending_status));
        {
            let d = self.accounts.get_mut(&dr.id).expect("loaded");
            d.debits_pending -= p.amount;
            d.debits_posted = dr_posted;
        }
        {
            let c = self.accounts.get_mut(&cr.id).expect("loaded");
            c.credits_pending -= p.amount;
            c.credits_posted = cr_posted;
        }
        self.transfers.get_mut(&pid).expect("loaded").pending_status = Some(if post { PendingStatus::Posted } else { PendingStatus::Voided });
        self.insert_transfer(Transfer {
            id: t.id,
            debit_account_id: dr.id,
            credit_account_id: cr.id,
            amount,
            pending_id: Some(pid),
            currency: p.currency,
            code: t.code,
            reference: t.reference,
            flags: t.flags,
            timeout: 0,
            timestamp: ts,
            pending_status: None,
        });
        self.changes.accounts.insert(dr.id);
        self.changes.accounts.insert(cr.id);
        self.changes.pending.insert(pid);
        Ok(Applied { timestamp: ts, replay: false })
    }
}

/// A batch refused as a whole.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BatchError {
    TooLarge { len: usize, max: usize },
}

impl BatchError {
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::TooLarge { .. } => "batch_too_large",
        }
    }
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::TooLarge { len, max } => write!(f, "batch_too_large: {len} events, at most {max}"),
        }
    }
}

impl std::error::Error for BatchError {}
