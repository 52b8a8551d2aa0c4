//! The store on both backends: bad input writes nothing, limits hold under concurrency (and, on
//! PostgreSQL, across two processes), expiry runs on the clock, and a killed writer loses nothing it
//! acknowledged.

use saoma_ledger::*;
use saoma_store::testing::TestDb;
use saoma_store::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WALLET: AccountId = AccountId(1);
const BANK: AccountId = AccountId(2);
const MERCHANT: AccountId = AccountId(3);

fn open(db: &TestDb) -> Store {
    Store::open(db.database.clone(), Arc::new(SystemClock), StoreOptions::default()).unwrap()
}

fn setup(store: &Store, funds: i64) {
    let acc = |id, flags| NewAccount { id, currency: Currency::CNY, code: 1, owner: 0, flags };
    let r = store
        .create_accounts_blocking(vec![acc(WALLET, AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS), acc(BANK, AccountFlags::empty()), acc(MERCHANT, AccountFlags::empty())])
        .unwrap();
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    if funds > 0 {
        let r = store.create_transfers_blocking(vec![NewTransfer::simple(1, BANK, WALLET, funds, Currency::CNY, 1, 0)]).unwrap();
        assert!(r[0].is_ok(), "{r:?}");
    }
}

fn count_rows(store: &Store) -> (u64, u64) {
    let r = store.check().unwrap();
    assert!(r.is_clean(), "{:?}", r.violations);
    (r.accounts, r.transfers)
}

#[test]
fn bad_input_gets_precise_errors_and_writes_nothing() {
    for db in TestDb::all() {
        let store = open(&db);
        setup(&store, 100);
        let before = count_rows(&store);
        let t = |id, dr: AccountId, cr: AccountId, amount| NewTransfer::simple(id, dr, cr, amount, Currency::CNY, 1, 0);
        let cases = vec![
            (t(10, BANK, MERCHANT, 0), TransferError::AmountMustNotBeZero),
            (t(11, BANK, MERCHANT, -5), TransferError::AmountMustBePositive),
            (t(12, BANK, AccountId(99), 5), TransferError::CreditAccountNotFound),
            (NewTransfer { currency: Some(Currency::USD), ..t(13, BANK, MERCHANT, 5) }, TransferError::CurrencyMustMatchAccounts),
            (t(14, WALLET, MERCHANT, 101), TransferError::ExceedsCredits),
            (t(1, BANK, WALLET, 101), TransferError::ExistsWithDifferentAmount),
        ];
        for (tr, want) in cases {
            let r = store.create_transfers_blocking(vec![tr]).unwrap();
            assert_eq!(r[0], Err(want), "{}: {tr:?}", db.name());
        }
        // Overflow: the bank can absorb i64::MAX once, not twice.
        let r = store.create_transfers_blocking(vec![t(20, MERCHANT, BANK, i64::MAX - 100)]).unwrap();
        assert!(r[0].is_ok(), "{r:?}");
        let r = store.create_transfers_blocking(vec![t(21, MERCHANT, BANK, i64::MAX)]).unwrap();
        assert_eq!(r[0], Err(TransferError::OverflowsDebitsPosted));
        let before = (before.0, before.1 + 1);
        // Oversized batch: refused whole.
        let big: Vec<NewTransfer> = (1000..1000 + MAX_BATCH as u128 + 1).map(|i| t(i, BANK, MERCHANT, 1)).collect();
        let err = store.create_transfers_blocking(big).unwrap_err();
        assert!(matches!(err, StoreError::Batch(BatchError::TooLarge { .. })), "{err:?}");
        assert_eq!(count_rows(&store), before, "{}", db.name());
        // A replay with the same content moves nothing.
        let r = store.create_transfers_blocking(vec![t(1, BANK, WALLET, 100)]).unwrap();
        assert!(r[0].unwrap().replay);
        assert_eq!(store.account(WALLET).unwrap().unwrap().credits_posted, 100);
        assert_eq!(count_rows(&store), before);
    }
}

#[test]
fn concurrent_spenders_get_exactly_what_is_affordable() {
    for db in TestDb::all() {
        let store = Arc::new(open(&db));
        setup(&store, 1000);
        let ids = Arc::new(IdGen::new());
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let (store, ids) = (store.clone(), ids.clone());
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for _ in 0..8 {
                        let r = store.create_transfers_blocking(vec![NewTransfer::simple(ids.next(), WALLET, MERCHANT, 7, Currency::CNY, 2, 0)]).unwrap();
                        match r[0] {
                            Ok(_) => ok += 1,
                            Err(TransferError::ExceedsCredits) => {}
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        let ok: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(ok, 1000 / 7, "{}", db.name());
        let w = store.account(WALLET).unwrap().unwrap();
        assert_eq!(w.credit_balance(), 1000 % 7);
        assert!(store.check().unwrap().is_clean());
    }
}

/// Runs this test binary again as a child process doing one named role.
fn child(role: &str, url: &str) -> Process {
    let mut p = Process::new(std::env::current_exe().unwrap());
    p.args(["--exact", "child_role", "--nocapture", "--test-threads=1"]).env("SAOMA_CHILD_ROLE", role).env("SAOMA_CHILD_URL", url);
    p
}

/// Not a test of its own: the entry point of child processes (does nothing when run normally).
#[test]
fn child_role() {
    let (Ok(role), Ok(url)) = (std::env::var("SAOMA_CHILD_ROLE"), std::env::var("SAOMA_CHILD_URL")) else { return };
    // The harness has printed "test child_role ... " without a newline; start our lines clean.
    println!();
    // Checkpoint every few commits, so that kills also land in and around checkpoints.
    let options = StoreOptions { checkpoint: CheckpointPolicy { max_rows: 8, ..Default::default() }, ..Default::default() };
    let store = Arc::new(Store::open(Database::parse(&url).unwrap(), Arc::new(SystemClock), options).unwrap());
    let ids = Arc::new(IdGen::new());
    match role.as_str() {
        "spend" => {
            // Spend 7 at a time from the shared wallet until refused; print how many succeeded.
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (store, ids) = (store.clone(), ids.clone());
                    std::thread::spawn(move || {
                        let mut ok = 0u64;
                        for _ in 0..40 {
                            let r = store.create_transfers_blocking(vec![NewTransfer::simple(ids.next(), WALLET, MERCHANT, 7, Currency::CNY, 2, 0)]).unwrap();
                            if r[0].is_ok() {
                                ok += 1;
                            }
                        }
                        ok
                    })
                })
                .collect();
            let ok: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            println!("SPENT {ok}");
        }
        "commit" => {
            // Commit transfers forever from several threads, printing each acknowledged id.
            let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
            let threads: Vec<_> = (0..6)
                .map(|k| {
                    let (store, ids, out) = (store.clone(), ids.clone(), out.clone());
                    std::thread::spawn(move || loop {
                        let n = 1 + (ids.next() as usize % 40);
                        let batch: Vec<NewTransfer> = (0..n)
                            .map(|i| {
                                let mut t = NewTransfer::simple(ids.next(), BANK, MERCHANT, 1 + i as i64, Currency::CNY, 3, k);
                                if i % 3 == 0 && i + 1 < n {
                                    t.flags = TransferFlags::LINKED;
                                }
                                t
                            })
                            .collect();
                        let r = store.create_transfers_blocking(batch.clone()).unwrap();
                        let mut o = out.lock().unwrap();
                        for (t, r) in batch.iter().zip(r) {
                            assert!(r.is_ok(), "{r:?}");
                            writeln!(o, "ACK {:032x}", t.id.0).unwrap();
                        }
                        o.flush().unwrap();
                    })
                })
                .collect();
            for t in threads {
                let _ = t.join();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn two_processes_share_one_postgres_and_limits_hold() {
    let Some(db) = TestDb::postgres() else { return };
    {
        let store = open(&db);
        setup(&store, 1000);
    }
    let spawn = || child("spend", &db.url()).stdout(Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let spent = |c: std::process::Child| -> u64 {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {text}");
        text.lines().find_map(|l| l.strip_prefix("SPENT ")).expect("SPENT line").trim().parse().unwrap()
    };
    let total = spent(a) + spent(b);
    assert_eq!(total, 1000 / 7);
    let store = open(&db);
    assert_eq!(store.account(WALLET).unwrap().unwrap().credit_balance(), 1000 % 7);
    assert!(store.check().unwrap().is_clean());
}

#[test]
fn pending_transfers_expire_on_the_clock() {
    for db in TestDb::all() {
        let clock = Arc::new(ManualClock::new(1_700_000_000 * NANOS_PER_SEC));
        let store = Store::open(db.database.clone(), clock.clone(), StoreOptions::default()).unwrap();
        setup(&store, 100);
        let hold = NewTransfer { flags: TransferFlags::PENDING, timeout: 60, ..NewTransfer::simple(50, WALLET, MERCHANT, 80, Currency::CNY, 4, 0) };
        assert!(store.create_transfers_blocking(vec![hold]).unwrap()[0].is_ok());
        assert_eq!(store.account(WALLET).unwrap().unwrap().available(), 20);
        clock.advance(61 * NANOS_PER_SEC);
        // No traffic needed: the idle writer sweeps.
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.account(WALLET).unwrap().unwrap().debits_pending != 0 {
            assert!(Instant::now() < deadline, "{}: reservation not released", db.name());
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(store.transfer(TransferId(50)).unwrap().unwrap().pending_status, Some(PendingStatus::Expired));
        let post = NewTransfer { id: TransferId(51), debit_account_id: AccountId(0), credit_account_id: AccountId(0), amount: 0, pending_id: Some(TransferId(50)), currency: None, code: 4, reference: 0, flags: TransferFlags::POST_PENDING, timeout: 0 };
        assert_eq!(store.create_transfers_blocking(vec![post]).unwrap()[0], Err(TransferError::PendingTransferExpired));
        assert!(store.check().unwrap().is_clean());
    }
}

/// SIGKILL a committing child at a random moment, 20+ times on each backend; every acknowledged
/// transfer must be there afterwards and the ledger must check clean.
#[test]
fn acknowledged_transfers_survive_sigkill() {
    for db in TestDb::all() {
        {
            let store = open(&db);
            setup(&store, 0);
        }
        let mut acked: Vec<u128> = Vec::new();
        let mut rng = splitmix(std::process::id() as u64);
        for round in 0..20 {
            let mut c = child("commit", &db.url()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
            let stdout = c.stdout.take().unwrap();
            let reader = std::thread::spawn(move || {
                BufReader::new(stdout).lines().map_while(Result::ok).filter_map(|l| l.strip_prefix("ACK ").map(|h| u128::from_str_radix(h, 16).unwrap())).collect::<Vec<u128>>()
            });
            rng = splitmix(rng);
            // Wait until the child is committing, then a random moment more.
            std::thread::sleep(Duration::from_millis(150 + rng % 350));
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
            let got = reader.join().unwrap();
            assert!(!got.is_empty() || round > 0, "{}: the child acknowledged nothing", db.name());
            acked.extend(got);
        }
        let store = open(&db);
        for id in &acked {
            assert!(store.transfer(TransferId(*id)).unwrap().is_some(), "{}: acknowledged transfer {id:032x} lost", db.name());
        }
        let report = store.check().unwrap();
        assert!(report.is_clean(), "{}: {:?}", db.name(), report.violations);
        assert!(report.transfers as usize >= acked.len());
        // Balances as the store serves them agree with the transfers that are there.
        let bank = store.account(BANK).unwrap().unwrap();
        let merchant = store.account(MERCHANT).unwrap().unwrap();
        assert_eq!(bank.debits_posted, merchant.credits_posted);
        assert_eq!(report.currencies[&Currency::CNY].debits_posted, bank.debits_posted as i128);
        eprintln!("{}: {} acknowledged transfers over 20 SIGKILLs, all present", db.name(), acked.len());
    }
}
