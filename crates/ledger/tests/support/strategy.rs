//! Random ledger workloads for property tests, shared by the pure ledger's tests and the store's
//! (which include this file by path), so that both run the very same command sequences.

use proptest::prelude::*;
use saoma_ledger::*;

/// Account slots: 1–5 CNY, 6 USD. Some forbid overdraft, one forbids over-crediting.
pub const ACCOUNTS: u128 = 6;

#[derive(Clone, Debug)]
pub enum Op {
    CreateAccount { slot: u128, flags: u16, code: u16 },
    Transfers(Vec<NewTransfer>),
    Close { slot: u128, closed: bool },
    Advance { secs: u32 },
}

pub fn currency_of(slot: u128) -> Currency {
    if slot == 6 { Currency::USD } else { Currency::CNY }
}

fn flags_for(slot: u128, variant: u16) -> u16 {
    // Mostly the slot's own flags, sometimes other ones (to exercise exists_with_different_flags).
    let own = match slot {
        1 | 2 => AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS.0,
        3 => AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS.0,
        _ => 0,
    };
    if variant < 6 { own } else { variant % 4 }
}

fn account_op() -> impl Strategy<Value = Op> {
    (1..=ACCOUNTS + 1, 0u16..8, prop_oneof![9 => Just(1u16), 1 => Just(2u16)])
        .prop_map(|(slot, v, code)| Op::CreateAccount { slot, flags: flags_for(slot, v), code })
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        20 => 1i64..500,
        2 => Just(0i64),
        1 => Just(-5i64),
        1 => Just(i64::MAX),
        1 => Just(i64::MAX / 2 + 1),
    ]
}

fn transfer() -> impl Strategy<Value = NewTransfer> {
    (
        1u128..40,           // id: a small pool, so replays and conflicts happen
        0..=ACCOUNTS + 1,    // debit slot (0 = zero id, 7 = never created)
        0..=ACCOUNTS + 1,
        amount(),
        0u8..10,             // kind
        1u128..40,           // pending id
        0u32..4,             // timeout
        any::<bool>(),       // linked
        prop_oneof![8 => Just(None), 1 => Just(Some(Currency::USD)), 1 => Just(Some(Currency::CNY))],
    )
        .prop_map(|(id, dr, cr, amount, kind, pid, timeout, linked, cur_override)| {
            let mut flags = TransferFlags::empty();
            let mut pending_id = None;
            let mut timeout_v = 0;
            let (mut dr, mut cr) = (AccountId(dr), AccountId(cr));
            let mut currency = cur_override.or(Some(currency_of(dr.0)));
            let mut amount = amount;
            match kind {
                0..=4 => {}
                5 | 6 => {
                    flags = TransferFlags::PENDING;
                    timeout_v = timeout;
                }
                7 | 8 => {
                    flags = TransferFlags::POST_PENDING;
                    pending_id = Some(TransferId(pid));
                    dr = AccountId(0);
                    cr = AccountId(0);
                    currency = None;
                    if amount > 400 {
                        amount = 0;
                    }
                }
                _ => {
                    flags = TransferFlags::VOID_PENDING;
                    pending_id = Some(TransferId(pid));
                    dr = AccountId(0);
                    cr = AccountId(0);
                    currency = None;
                    amount = 0;
                }
            }
            if linked {
                flags = flags | TransferFlags::LINKED;
            }
            NewTransfer { id: TransferId(id), debit_account_id: dr, credit_account_id: cr, amount, pending_id, currency, code: 1, reference: id, flags, timeout: timeout_v }
        })
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => account_op(),
        10 => prop::collection::vec(transfer(), 1..6).prop_map(Op::Transfers),
        1 => (1..=ACCOUNTS, any::<bool>()).prop_map(|(slot, closed)| Op::Close { slot, closed }),
        2 => (0u32..3).prop_map(|secs| Op::Advance { secs }),
    ]
}

/// A workload that starts by creating and funding the accounts, then does random things.
pub fn workload() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60).prop_map(|ops| {
        let mut all = Vec::new();
        for slot in 1..=ACCOUNTS {
            all.push(Op::CreateAccount { slot, flags: flags_for(slot, 0), code: 1 });
        }
        // Fund the no-overdraft wallets from the unrestricted account of their currency.
        all.push(Op::Transfers(vec![
            NewTransfer::simple(1000, AccountId(4), AccountId(1), 1000, Currency::CNY, 9, 0),
            NewTransfer::simple(1001, AccountId(5), AccountId(2), 300, Currency::CNY, 9, 0),
        ]));
        all.extend(ops);
        all
    })
}

pub fn new_account(slot: u128, flags: u16, code: u16) -> NewAccount {
    NewAccount { id: AccountId(slot), currency: currency_of(slot), code, owner: slot, flags: AccountFlags(flags) }
}
