//! The store behaves exactly as the pure ledger: the same random workloads (the ledger crate's
//! strategy) run through the real writer on SQLite and PostgreSQL and through the pure engine give the
//! same result codes, the same balances, and a clean `ledger check`.

#[path = "../../ledger/tests/support/strategy.rs"]
mod strategy;

use proptest::prelude::*;
use saoma_ledger::*;
use saoma_store::testing::TestDb;
use saoma_store::{CheckpointPolicy, Command, Durability, ManualClock, Reply, Store, StoreOptions, NANOS_PER_SEC};
use std::sync::Arc;
use strategy::*;

fn outcome<E: Copy>(r: &Result<Applied, E>) -> Result<bool, E> {
    r.map(|a| a.replay)
}

fn run(db: &TestDb, ops: &[Op], checkpoint: CheckpointPolicy) -> Result<(), TestCaseError> {
    let start = 1_700_000_000 * NANOS_PER_SEC;
    let clock = Arc::new(ManualClock::new(start));
    let store = Store::open(db.database.clone(), clock.clone(), StoreOptions { durability: Durability::Normal, checkpoint, ..Default::default() }).unwrap();
    let mut model = Ledger::new();
    let mut now = start;
    for op in ops {
        match op {
            Op::CreateAccount { slot, flags, code } => {
                let a = new_account(*slot, *flags, *code);
                let want: Vec<_> = model.create_accounts(&[a], now).iter().map(outcome).collect();
                let got: Vec<_> = store.create_accounts_blocking(vec![a]).unwrap().iter().map(outcome).collect();
                prop_assert_eq!(got, want, "{} create account {:?}", db.name(), a);
            }
            Op::Close { slot, closed } => {
                let want = model.set_closed(AccountId(*slot), *closed);
                let got = store.execute_blocking(Command::SetClosed(AccountId(*slot), *closed)).unwrap();
                prop_assert_eq!(got, Reply::Closed(want));
            }
            Op::Advance { secs } => {
                now += *secs as i64 * NANOS_PER_SEC;
                clock.advance(*secs as i64 * NANOS_PER_SEC);
            }
            Op::Transfers(batch) => {
                let want: Vec<_> = model.create_transfers(batch, now).unwrap().iter().map(outcome).collect();
                let got: Vec<_> = store.create_transfers_blocking(batch.clone()).unwrap().iter().map(outcome).collect();
                prop_assert_eq!(got, want, "{} batch {:?}", db.name(), batch);
            }
        }
        let _ = model.take_changes();
    }
    // Let both sweep expiries at the final time, then compare every account and transfer.
    model.expire_due(now);
    store.create_transfers_blocking(vec![]).unwrap();
    for a in model.accounts() {
        let stored = store.account(a.id).unwrap().expect("account stored");
        prop_assert_eq!(
            (stored.debits_pending, stored.debits_posted, stored.credits_pending, stored.credits_posted, stored.flags),
            (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags),
            "{} account {:?}", db.name(), a.id
        );
    }
    for t in model.transfers() {
        let stored = store.transfer(t.id).unwrap().expect("transfer stored");
        prop_assert_eq!((stored.amount, stored.pending_status, stored.debit_account_id), (t.amount, t.pending_status, t.debit_account_id));
    }
    // With at most 2 journal rows, a third append means a checkpoint happened in between.
    if checkpoint.max_rows == 2 && store.metrics().journal_appends.load(std::sync::atomic::Ordering::Relaxed) >= 3 {
        prop_assert!(store.metrics().checkpoints.load(std::sync::atomic::Ordering::Relaxed) > 0, "the checkpoint path did not run");
    }
    let report = store.check().unwrap();
    prop_assert!(report.is_clean(), "{}: {:?}", db.name(), report.violations);
    prop_assert_eq!(report.transfers as usize, model.transfers().count());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_pure_ledger(ops in workload(), checkpoint_often in any::<bool>()) {
        // Half the cases fold the balance journal into the accounts table every other commit, so that
        // both the journal and the checkpoint path carry state between commands.
        let policy = if checkpoint_often { CheckpointPolicy { max_rows: 2, ..Default::default() } } else { CheckpointPolicy::default() };
        for db in TestDb::all() {
            run(&db, &ops, policy)?;
        }
    }
}
