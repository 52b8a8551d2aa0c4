//! Behaviour of the pure ledger, case by case.

use saoma_ledger::*;

const S: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * S;

fn ledger() -> Ledger {
    let mut l = Ledger::new();
    let accs = [
        (1, AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS, Currency::CNY),
        (2, AccountFlags::empty(), Currency::CNY),
        (3, AccountFlags::empty(), Currency::CNY),
        (4, AccountFlags::empty(), Currency::USD),
        (5, AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS, Currency::CNY),
    ];
    for (id, flags, currency) in accs {
        let r = l.create_accounts(&[NewAccount { id: AccountId(id), currency, code: 1, owner: 0, flags }], T0);
        assert!(r[0].is_ok());
    }
    l
}

fn t(id: u128, dr: u128, cr: u128, amount: i64) -> NewTransfer {
    NewTransfer::simple(id, AccountId(dr), AccountId(cr), amount, Currency::CNY, 1, 0)
}

fn one(l: &mut Ledger, tr: NewTransfer, now: i64) -> Result<Applied, TransferError> {
    l.create_transfers(&[tr], now).unwrap().remove(0)
}

fn clean(l: &Ledger) {
    let r = check(l.accounts(), l.transfers());
    assert!(r.is_clean(), "{:?}", r.violations);
}

#[test]
fn simple_transfer_moves_balances() {
    let mut l = ledger();
    one(&mut l, t(10, 2, 1, 500), T0).unwrap();
    one(&mut l, t(11, 1, 3, 200), T0).unwrap();
    assert_eq!(l.account(AccountId(1)).unwrap().credit_balance(), 300);
    assert_eq!(l.account(AccountId(2)).unwrap().debits_posted, 500);
    assert_eq!(l.account(AccountId(3)).unwrap().credits_posted, 200);
    clean(&l);
}

#[test]
fn bad_input_is_refused_precisely_and_writes_nothing() {
    use TransferError::*;
    let mut l = ledger();
    let _ = l.take_changes();
    let cases = [
        (t(0, 2, 3, 1), IdMustNotBeZero),
        (t(20, 2, 3, 0), AmountMustNotBeZero),
        (t(21, 2, 3, -1), AmountMustBePositive),
        (t(22, 2, 2, 1), AccountsMustBeDifferent),
        (t(23, 0, 3, 1), DebitAccountIdMustNotBeZero),
        (t(24, 2, 0, 1), CreditAccountIdMustNotBeZero),
        (t(25, 2, 99, 1), CreditAccountNotFound),
        (t(26, 99, 2, 1), DebitAccountNotFound),
        (t(27, 2, 4, 1), AccountsMustHaveTheSameCurrency),
        (NewTransfer { currency: Some(Currency::USD), ..t(28, 2, 3, 1) }, CurrencyMustMatchAccounts),
        (NewTransfer { currency: None, ..t(29, 2, 3, 1) }, CurrencyRequired),
        (t(30, 1, 2, 1), ExceedsCredits),
        (t(31, 2, 5, 1), ExceedsDebits),
        (NewTransfer { flags: TransferFlags(64), ..t(32, 2, 3, 1) }, UnknownFlags),
        (NewTransfer { flags: TransferFlags::PENDING | TransferFlags::VOID_PENDING, ..t(33, 2, 3, 1) }, FlagsAreMutuallyExclusive),
        (NewTransfer { timeout: 5, ..t(34, 2, 3, 1) }, TimeoutReservedForPendingTransfer),
        (NewTransfer { pending_id: Some(TransferId(1)), ..t(35, 2, 3, 1) }, PendingIdMustBeZero),
    ];
    for (tr, want) in cases {
        assert_eq!(one(&mut l, tr, T0), Err(want), "{tr:?}");
    }
    assert!(l.take_changes().is_empty());
    // Overflow: two i64::MAX credits cannot fit.
    one(&mut l, t(40, 2, 3, i64::MAX), T0).unwrap();
    assert_eq!(one(&mut l, t(41, 2, 3, 1), T0), Err(OverflowsDebitsPosted));
    clean(&l);
}

#[test]
fn replay_returns_first_result_and_conflicts_are_errors() {
    let mut l = ledger();
    let first = one(&mut l, t(10, 2, 1, 500), T0).unwrap();
    assert!(!first.replay);
    let again = one(&mut l, t(10, 2, 1, 500), T0 + S).unwrap();
    assert_eq!(again, Applied { timestamp: first.timestamp, replay: true });
    assert_eq!(one(&mut l, t(10, 2, 1, 501), T0), Err(TransferError::ExistsWithDifferentAmount));
    assert_eq!(one(&mut l, t(10, 3, 1, 500), T0), Err(TransferError::ExistsWithDifferentAccounts));
    assert_eq!(one(&mut l, NewTransfer { reference: 9, ..t(10, 2, 1, 500) }, T0), Err(TransferError::ExistsWithDifferentReference));
    assert_eq!(l.account(AccountId(1)).unwrap().credits_posted, 500);
    clean(&l);
}

#[test]
fn two_phase_post_partial_void_and_expiry() {
    let mut l = ledger();
    one(&mut l, t(10, 2, 1, 1000), T0).unwrap();
    let pending = |id, amount, timeout| NewTransfer { flags: TransferFlags::PENDING, timeout, ..t(id, 1, 3, amount) };
    let resolve = |id, pid, amount, flags| NewTransfer {
        id: TransferId(id),
        debit_account_id: AccountId(0),
        credit_account_id: AccountId(0),
        amount,
        pending_id: Some(TransferId(pid)),
        currency: None,
        code: 2,
        reference: 0,
        flags,
        timeout: 0,
    };
    one(&mut l, pending(20, 600, 0), T0).unwrap();
    // The reservation counts against the no-overdraft wallet.
    assert_eq!(one(&mut l, t(21, 1, 3, 401), T0), Err(TransferError::ExceedsCredits));
    assert_eq!(l.account(AccountId(1)).unwrap().available(), 400);
    // Post in part: 250 of 600; the rest is released.
    assert_eq!(one(&mut l, resolve(22, 20, 601, TransferFlags::POST_PENDING), T0), Err(TransferError::ExceedsPendingTransferAmount));
    one(&mut l, resolve(22, 20, 250, TransferFlags::POST_PENDING), T0).unwrap();
    let a = *l.account(AccountId(1)).unwrap();
    assert_eq!((a.debits_pending, a.debits_posted), (0, 250));
    assert_eq!(one(&mut l, resolve(23, 20, 0, TransferFlags::VOID_PENDING), T0), Err(TransferError::PendingTransferAlreadyPosted));
    // Void.
    one(&mut l, pending(30, 100, 0), T0).unwrap();
    one(&mut l, resolve(31, 30, 0, TransferFlags::VOID_PENDING), T0).unwrap();
    assert_eq!(one(&mut l, resolve(32, 30, 0, TransferFlags::POST_PENDING), T0), Err(TransferError::PendingTransferAlreadyVoided));
    // Post of a non-pending transfer.
    assert_eq!(one(&mut l, resolve(33, 10, 0, TransferFlags::POST_PENDING), T0), Err(TransferError::PendingTransferNotPending));
    assert_eq!(one(&mut l, resolve(34, 999, 0, TransferFlags::POST_PENDING), T0), Err(TransferError::PendingTransferNotFound));
    // Expiry on the clock: 10 s timeout.
    one(&mut l, pending(40, 300, 10), T0).unwrap();
    assert_eq!(l.account(AccountId(1)).unwrap().debits_pending, 300);
    assert_eq!(l.expire_due(T0 + 9 * S), 0);
    assert_eq!(one(&mut l, t(41, 2, 3, 1), T0 + 11 * S).map(|a| a.replay), Ok(false));
    assert_eq!(l.account(AccountId(1)).unwrap().debits_pending, 0);
    assert_eq!(l.transfer(TransferId(40)).unwrap().pending_status, Some(PendingStatus::Expired));
    assert_eq!(one(&mut l, resolve(42, 40, 0, TransferFlags::POST_PENDING), T0 + 12 * S), Err(TransferError::PendingTransferExpired));
    // Replay of a post with the amount left out.
    let r = one(&mut l, resolve(22, 20, 0, TransferFlags::POST_PENDING), T0).unwrap();
    assert!(r.replay);
    clean(&l);
}

#[test]
fn linked_chain_is_all_or_nothing() {
    let mut l = ledger();
    one(&mut l, t(10, 2, 1, 100), T0).unwrap();
    let linked = |tr: NewTransfer| NewTransfer { flags: TransferFlags::LINKED, ..tr };
    // Payment 100 from wallet 1 to merchant 3 with a fee of 1 from 3 to 2: fine.
    let r = l.create_transfers(&[linked(t(20, 1, 3, 100)), t(21, 3, 2, 1)], T0).unwrap();
    assert!(r.iter().all(|r| r.is_ok()));
    // Second payment: the wallet is empty, so the fee transfer must not happen either.
    let r = l.create_transfers(&[linked(t(30, 3, 2, 5)), linked(t(31, 1, 3, 1)), t(32, 2, 3, 1), t(33, 2, 3, 7)], T0).unwrap();
    assert_eq!(r[0], Err(TransferError::LinkedEventFailed));
    assert_eq!(r[1], Err(TransferError::ExceedsCredits));
    assert_eq!(r[2], Err(TransferError::LinkedEventFailed));
    assert!(r[3].is_ok());
    assert!(l.transfer(TransferId(30)).is_none());
    assert_eq!(l.account(AccountId(3)).unwrap().debits_posted, 1);
    // An open chain at the end of the batch.
    let r = l.create_transfers(&[linked(t(40, 2, 3, 1)), linked(t(41, 2, 3, 1))], T0).unwrap();
    assert_eq!(r, vec![Err(TransferError::LinkedEventFailed), Err(TransferError::LinkedEventChainOpen)]);
    assert!(l.transfer(TransferId(40)).is_none());
    clean(&l);
}

#[test]
fn oversized_batch_is_refused_whole() {
    let mut l = ledger();
    let batch: Vec<NewTransfer> = (1..=MAX_BATCH as u128 + 1).map(|i| t(i, 2, 3, 1)).collect();
    assert_eq!(l.create_transfers(&batch, T0), Err(BatchError::TooLarge { len: MAX_BATCH + 1, max: MAX_BATCH }));
    assert!(l.transfers().next().is_none());
}

#[test]
fn closed_accounts_take_no_new_transfers() {
    let mut l = ledger();
    l.set_closed(AccountId(3), true).unwrap();
    assert_eq!(one(&mut l, t(10, 2, 3, 1), T0), Err(TransferError::CreditAccountClosed));
    assert_eq!(one(&mut l, t(11, 3, 2, 1), T0), Err(TransferError::DebitAccountClosed));
    l.set_closed(AccountId(3), false).unwrap();
    one(&mut l, t(12, 2, 3, 1), T0).unwrap();
    assert_eq!(l.set_closed(AccountId(77), true), Err(AccountError::NotFound));
}

#[test]
fn accounts_are_idempotent_too() {
    let mut l = ledger();
    let a = NewAccount { id: AccountId(1), currency: Currency::CNY, code: 1, owner: 0, flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS };
    assert!(l.create_accounts(&[a], T0)[0].unwrap().replay);
    assert_eq!(l.create_accounts(&[NewAccount { currency: Currency::USD, ..a }], T0)[0], Err(AccountError::ExistsWithDifferentCurrency));
    assert_eq!(l.create_accounts(&[NewAccount { id: AccountId(0), ..a }], T0)[0], Err(AccountError::IdMustNotBeZero));
    let both = AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS;
    assert_eq!(l.create_accounts(&[NewAccount { id: AccountId(9), flags: both, ..a }], T0)[0], Err(AccountError::FlagsAreMutuallyExclusive));
}

#[test]
fn timestamps_are_unique_and_increasing() {
    let mut l = ledger();
    let r = l.create_transfers(&(10..20).map(|i| t(i, 2, 3, 1)).collect::<Vec<_>>(), T0).unwrap();
    let ts: Vec<i64> = r.iter().map(|r| r.unwrap().timestamp).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn check_finds_tampering() {
    let mut l = ledger();
    one(&mut l, t(10, 2, 1, 5), T0).unwrap();
    let mut accounts: Vec<Account> = l.accounts().copied().collect();
    accounts.iter_mut().find(|a| a.id == AccountId(1)).unwrap().credits_posted += 1;
    let r = check(&accounts, l.transfers());
    assert!(!r.is_clean());
    assert!(r.violations.iter().any(|v| matches!(v, Violation::BalanceMismatch { .. })));
    assert!(r.violations.iter().any(|v| matches!(v, Violation::CurrencyUnbalanced { .. })));
}

/// Found by the store's differential test: a chain that creates a pending transfer, posts it, then
/// fails must leave no trace in the changes either (not even "this pending transfer changed").
#[test]
fn undone_chain_leaves_no_pending_change() {
    let mut l = ledger();
    one(&mut l, t(10, 2, 1, 100), T0).unwrap();
    let _ = l.take_changes();
    let pending = NewTransfer { flags: TransferFlags::PENDING | TransferFlags::LINKED, ..t(26, 1, 2, 1) };
    let post = |id, pid, flags| NewTransfer {
        id: TransferId(id),
        debit_account_id: AccountId(0),
        credit_account_id: AccountId(0),
        amount: 0,
        pending_id: Some(TransferId(pid)),
        currency: None,
        code: 1,
        reference: 0,
        flags,
        timeout: 0,
    };
    let r = l.create_transfers(&[pending, post(1, 26, TransferFlags::POST_PENDING | TransferFlags::LINKED), post(1, 19, TransferFlags::POST_PENDING)], T0).unwrap();
    assert!(r.iter().all(|r| r.is_err()));
    let changes = l.take_changes();
    assert!(changes.new_transfers.is_empty());
    assert!(changes.pending.is_empty(), "{:?}", changes.pending);
    assert!(l.transfer(TransferId(26)).is_none());
}
