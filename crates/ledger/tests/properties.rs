//! Property tests on the pure ledger: random workloads keep every invariant, linked chains are
//! all-or-nothing, replays return the first result, and refused transfers change nothing.

#[path = "support/strategy.rs"]
mod strategy;

use proptest::prelude::*;
use saoma_ledger::*;
use strategy::*;

const SECOND: i64 = 1_000_000_000;

fn snapshot(l: &Ledger) -> (Vec<Account>, Vec<Transfer>) {
    let mut a: Vec<Account> = l.accounts().copied().collect();
    a.sort_by_key(|a| a.id);
    let mut t: Vec<Transfer> = l.transfers().copied().collect();
    t.sort_by_key(|t| t.id);
    (a, t)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_workloads_keep_invariants(ops in workload()) {
        let mut l = Ledger::new();
        let mut now = 1_700_000_000 * SECOND;
        let mut first_result: std::collections::HashMap<TransferId, i64> = Default::default();
        for op in &ops {
            match op {
                Op::CreateAccount { slot, flags, code } => {
                    let _ = l.create_accounts(&[new_account(*slot, *flags, *code)], now);
                }
                Op::Close { slot, closed } => {
                    let _ = l.set_closed(AccountId(*slot), *closed);
                }
                Op::Advance { secs } => now += *secs as i64 * SECOND,
                Op::Transfers(batch) => {
                    let before = snapshot(&l);
                    let results = l.create_transfers(batch, now).unwrap();
                    prop_assert_eq!(results.len(), batch.len());
                    // Chains: all succeed or all fail.
                    let mut start = 0;
                    for (i, t) in batch.iter().enumerate() {
                        if !t.flags.contains(TransferFlags::LINKED) || i == batch.len() - 1 {
                            let chain = &results[start..=i];
                            let oks = chain.iter().filter(|r| r.is_ok()).count();
                            prop_assert!(oks == 0 || oks == chain.len(), "chain partly applied: {:?}", chain);
                            start = i + 1;
                        }
                    }
                    // Replays return the first timestamp.
                    for (t, r) in batch.iter().zip(&results) {
                        if let Ok(a) = r {
                            if a.replay {
                                prop_assert_eq!(Some(&a.timestamp), first_result.get(&t.id));
                            } else {
                                prop_assert!(first_result.insert(t.id, a.timestamp).is_none());
                            }
                        }
                    }
                    // A batch that applied nothing changed nothing (expiries aside).
                    if results.iter().all(|r| r.is_err() || r.unwrap().replay) && l.next_expiry().map_or(true, |e| e > now) {
                        let after = snapshot(&l);
                        let expired_only = before.0.len() == after.0.len() && before.1.len() == after.1.len();
                        prop_assert!(expired_only);
                    }
                }
            }
            let report = check(l.accounts(), l.transfers());
            prop_assert!(report.is_clean(), "violations: {:?}", report.violations);
            // What the store would write names only rows that exist (an undone chain leaves nothing).
            let changes = l.take_changes();
            for id in changes.new_transfers.iter().chain(changes.pending.iter()) {
                prop_assert!(l.transfer(*id).is_some(), "change names missing transfer {:?}", id);
            }
            for id in changes.new_accounts.iter().chain(changes.accounts.iter()) {
                prop_assert!(l.account(*id).is_some(), "change names missing account {:?}", id);
            }
        }
    }
}
