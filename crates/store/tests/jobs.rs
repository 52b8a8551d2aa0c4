//! Jobs: business rows and ledger transfers commit together or not at all, on both backends.

use saoma_ledger::*;
use saoma_store::testing::TestDb;
use saoma_store::*;
use std::sync::Arc;

const WALLET: AccountId = AccountId(1);
const BANK: AccountId = AccountId(2);
const MERCHANT: AccountId = AccountId(3);
const FEES: AccountId = AccountId(4);

#[derive(Debug, PartialEq)]
enum Refusal {
    NotEnough,
    AlreadyPaid,
    Changed(&'static str),
}

fn setup(db: &TestDb) -> Store {
    let store = Store::open(db.database.clone(), Arc::new(SystemClock), StoreOptions::default()).unwrap();
    let acc = |id, flags| NewAccount { id, currency: Currency::CNY, code: 1, owner: 0, flags };
    store.create_accounts_blocking(vec![acc(WALLET, AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS), acc(BANK, AccountFlags::empty()), acc(MERCHANT, AccountFlags::empty()), acc(FEES, AccountFlags::empty())]).unwrap();
    store.create_transfers_blocking(vec![NewTransfer::simple(1, BANK, WALLET, 1000, Currency::CNY, 1, 0)]).unwrap();
    let r = store
        .transact_blocking(|tx| {
            let blob = if tx.dialect() == saoma_store::schema::Dialect::Sqlite { "BLOB" } else { "BYTEA" };
            tx.execute(&format!("CREATE TABLE demo_orders (out_trade_no TEXT PRIMARY KEY, amount BIGINT NOT NULL, state TEXT NOT NULL, paid_by {blob})"), &[])?;
            Ok(Ok::<(), ()>(()))
        })
        .unwrap();
    assert_eq!(r, Ok(()));
    store
}

/// Creates an order and pays it: the order row and the payment chain (wallet → merchant, fee merchant →
/// fees) in one job. A replay returns the first result.
fn pay(store: &Store, out_trade_no: &str, amount: i64, transfer_id: u128, refuse_after: bool) -> Result<Result<&'static str, Refusal>, StoreError> {
    let no = out_trade_no.to_string();
    store.transact_blocking(move |tx| {
        if let Some(row) = tx.query_one("SELECT amount, state FROM demo_orders WHERE out_trade_no = $1", &[no.as_str().into()])? {
            if row.int("amount")? != amount {
                return Ok(Err(Refusal::Changed("amount")));
            }
            return Ok(if row.text("state")? == "SUCCESS" { Ok("replay") } else { Err(Refusal::AlreadyPaid) });
        }
        tx.execute("INSERT INTO demo_orders (out_trade_no, amount, state, paid_by) VALUES ($1, $2, $3, $4)", &[no.as_str().into(), amount.into(), "SUCCESS".into(), transfer_id.into()])?;
        let fee = amount / 100;
        let mut pay = NewTransfer::simple(transfer_id, WALLET, MERCHANT, amount, Currency::CNY, 2, transfer_id);
        pay.flags = TransferFlags::LINKED;
        let r = tx.create_transfers(&[pay, NewTransfer::simple(transfer_id + 1, MERCHANT, FEES, fee.max(1), Currency::CNY, 3, transfer_id)])?;
        if r.iter().any(|r| r.is_err()) {
            return Ok(Err(Refusal::NotEnough));
        }
        if refuse_after {
            return Ok(Err(Refusal::Changed("refused on purpose, after writing")));
        }
        Ok(Ok("paid"))
    })
}

fn order_count(store: &Store) -> i64 {
    store.transact_blocking(|tx| Ok(Ok::<i64, ()>(tx.query_one("SELECT COUNT(*) AS n FROM demo_orders", &[])?.unwrap().int("n")?))).unwrap().unwrap()
}

#[test]
fn a_job_commits_rows_and_transfers_together() {
    for db in TestDb::all() {
        let store = setup(&db);
        assert_eq!(pay(&store, "A1", 300, 100, false).unwrap(), Ok("paid"));
        assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 700);
        assert_eq!(store.account(FEES).unwrap().unwrap().credits_posted, 3);
        // Replay: the first result, nothing moves.
        assert_eq!(pay(&store, "A1", 300, 100, false).unwrap(), Ok("replay"));
        assert_eq!(pay(&store, "A1", 301, 100, false).unwrap(), Err(Refusal::Changed("amount")));
        assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 700);
        assert_eq!(order_count(&store), 1);
        assert!(store.check().unwrap().is_clean());
    }
}

#[test]
fn a_refused_job_leaves_nothing_and_others_go_on() {
    for db in TestDb::all() {
        let store = Arc::new(setup(&db));
        // Not enough money: the order row the job inserted is gone too.
        assert_eq!(pay(&store, "B1", 5000, 200, false).unwrap(), Err(Refusal::NotEnough));
        // Refused after its SQL and transfers succeeded: all undone.
        assert_eq!(pay(&store, "B2", 100, 300, true).unwrap(), Err(Refusal::Changed("refused on purpose, after writing")));
        assert_eq!(order_count(&store), 0);
        assert!(store.transfer(TransferId(300)).unwrap().is_none());
        assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 1000);
        // Many at once, some refusing: those that commit are exactly the ones that said so.
        let threads: Vec<_> = (0..16u128)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || (i, pay(&store, &format!("C{i}"), 90, 1000 + 10 * i, i % 3 == 0).unwrap()))
            })
            .collect();
        let results: Vec<(u128, Result<&str, Refusal>)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let paid = results.iter().filter(|(_, r)| r.is_ok()).count() as i64;
        for (i, r) in &results {
            assert_eq!(r.is_ok(), store.transfer(TransferId(1000 + 10 * i)).unwrap().is_some(), "{}: job {i} {r:?}", db.name());
        }
        assert_eq!(order_count(&store), paid);
        assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 1000 - 90 * paid);
        assert!(store.check().unwrap().is_clean(), "{}", db.name());
    }
}

#[test]
fn a_failing_statement_fails_the_job_group_and_acknowledges_nothing() {
    for db in TestDb::all() {
        let store = setup(&db);
        let r = store.transact_blocking(|tx| {
            tx.create_transfers(&[NewTransfer::simple(77, BANK, MERCHANT, 5, Currency::CNY, 1, 0)])?;
            tx.execute("INSERT INTO no_such_table VALUES ($1)", &[1i64.into()])?;
            Ok(Ok::<(), ()>(()))
        });
        assert!(matches!(r, Err(StoreError::Database(_))), "{r:?}");
        assert!(store.transfer(TransferId(77)).unwrap().is_none());
        // The writer recovers: the next command works.
        assert_eq!(pay(&store, "D1", 10, 500, false).unwrap(), Ok("paid"));
        assert!(store.check().unwrap().is_clean());
    }
}

#[test]
fn in_one_group_a_refused_job_undoes_only_itself() {
    for db in TestDb::all() {
        let store = Arc::new(setup(&db));
        // A slow job holds the writer while four more queue up behind it; they then run in one group:
        // kept, refused after writing, kept, kept (savepoints of kept jobs are released lazily).
        let slow = {
            let store = store.clone();
            std::thread::spawn(move || store.transact_blocking(|_| { std::thread::sleep(std::time::Duration::from_millis(400)); Ok(Ok::<(), ()>(())) }).unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        let commits_before = store.metrics().commits.load(std::sync::atomic::Ordering::Relaxed);
        let queued: Vec<_> = [("G1", 600, false), ("G2", 610, true), ("G3", 620, false), ("G4", 630, false)]
            .into_iter()
            .map(|(no, id, refuse)| {
                let store = store.clone();
                let t = std::thread::spawn(move || pay(&store, no, 50, id, refuse).unwrap());
                std::thread::sleep(std::time::Duration::from_millis(30));
                t
            })
            .collect();
        slow.join().unwrap().unwrap();
        let results: Vec<_> = queued.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results, vec![Ok("paid"), Err(Refusal::Changed("refused on purpose, after writing")), Ok("paid"), Ok("paid")], "{}", db.name());
        // The slow job's group, then one for the four (the slow one's commit may or may not be counted yet).
        let commits = store.metrics().commits.load(std::sync::atomic::Ordering::Relaxed) - commits_before;
        assert!(commits <= 2, "{}: the queued jobs were meant to share a group ({commits} commits)", db.name());
        for (id, kept) in [(600, true), (610, false), (620, true), (630, true)] {
            assert_eq!(store.transfer(TransferId(id)).unwrap().is_some(), kept, "{}: transfer {id}", db.name());
        }
        assert_eq!(order_count(&store), 3);
        assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 1000 - 3 * 50);
        assert!(store.check().unwrap().is_clean(), "{}", db.name());
    }
}
