//! The ledger benchmark. Three scenarios per backend:
//! - `batch`: one client sends batches of 1,000–8,000 transfers;
//! - `clients64`: 64 clients each send one transfer at a time (group commit gathers them);
//! - `hot`: batches again, but 80% of transfers credit one merchant account.
//! Each is compared with plain INSERTs of rows of the same shape, in batches of the same sizes, into a
//! twin of the transfers table on the same database (the raw ceiling of the backend).

use super::Latency;
use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount, NewTransfer, Transfer, TransferFlags};
use saoma_store::testing::TestDb;
use saoma_store::{splitmix, IdGen, RawInserter, Store, StoreOptions, SystemClock};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Transfers per batch scenario (the 64-client scenario runs a quarter of this).
    #[arg(long, default_value_t = 400_000)]
    transfers: usize,
    /// Accounts the transfers spread over.
    #[arg(long, default_value_t = 10_000)]
    accounts: u128,
    /// sqlite, postgres, or all (PostgreSQL only when reachable).
    #[arg(long, default_value = "all")]
    backend: String,
}

#[derive(serde::Serialize)]
struct Figure {
    backend: &'static str,
    scenario: &'static str,
    transfers: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    raw_per_sec: f64,
    ratio: f64,
    /// Mean transfers per database commit.
    mean_batch: f64,
}

impl Figure {
    fn new(backend: &'static str, scenario: &'static str, transfers: usize, secs: f64, latencies: Vec<u64>, raw_per_sec: f64, commits: u64) -> Figure {
        let l = Latency::of(latencies);
        let per_sec = transfers as f64 / secs;
        Figure {
            backend,
            scenario,
            transfers,
            per_sec,
            p50_ms: l.p50,
            p99_ms: l.p99,
            max_ms: l.max,
            raw_per_sec,
            ratio: per_sec / raw_per_sec,
            mean_batch: transfers as f64 / commits.max(1) as f64,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u128) -> u128 {
        self.0 = splitmix(self.0);
        (self.0 as u128) % n
    }
}

fn progress(json: bool, msg: &str) {
    let _ = json;
    eprintln!("  {msg}");
}

pub fn run(args: Args) -> ExitCode {
    let Some(dbs) = super::databases(&args.backend) else { return ExitCode::FAILURE };
    let mut figures = Vec::new();
    for db in &dbs {
        eprintln!("[{}] {} accounts, {} transfers per batch scenario", db.name(), args.accounts, args.transfers);
        match bench_backend(db, &args) {
            Ok(mut f) => figures.append(&mut f),
            Err(e) => {
                eprintln!("[{}] failed: {e}", db.name());
                return ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::json!({ "results": figures }));
    } else {
        println!("{:<9} {:<10} {:>12} {:>9} {:>9} {:>9} {:>12} {:>7} {:>9}", "backend", "scenario", "transfers/s", "p50 ms", "p99 ms", "max ms", "raw rows/s", "ratio", "batch");
        for f in &figures {
            println!(
                "{:<9} {:<10} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>12.0} {:>7.2} {:>9.0}",
                f.backend, f.scenario, f.per_sec, f.p50_ms, f.p99_ms, f.max_ms, f.raw_per_sec, f.ratio, f.mean_batch
            );
        }
    }
    ExitCode::SUCCESS
}

fn transfer(ids: &IdGen, rng: &mut Rng, accounts: u128, hot: bool) -> NewTransfer {
    let dr = 2 + rng.below(accounts - 1);
    let cr = if hot && rng.below(100) < 80 {
        1
    } else {
        let mut c = 2 + rng.below(accounts - 1);
        if c == dr {
            c = if c == accounts { 2 } else { c + 1 };
        }
        c
    };
    NewTransfer::simple(ids.next(), AccountId(dr), AccountId(cr), 1 + rng.below(10_000) as i64, Currency::CNY, 1, 0)
}

/// Random batch sizes in [1000, 8000] adding up to `total`.
fn batch_sizes(total: usize, rng: &mut Rng) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = total;
    while left > 0 {
        let s = (1000 + rng.below(7001) as usize).min(left);
        sizes.push(s);
        left -= s;
    }
    sizes
}

/// Rows shaped like committed transfers, for the raw baseline.
fn raw_rows(ids: &IdGen, rng: &mut Rng, accounts: u128, n: usize, ts: &mut i64) -> Vec<Transfer> {
    (0..n)
        .map(|_| {
            let t = transfer(ids, rng, accounts, false);
            *ts += 1;
            Transfer {
                id: t.id,
                debit_account_id: t.debit_account_id,
                credit_account_id: t.credit_account_id,
                amount: t.amount,
                pending_id: None,
                currency: Currency::CNY,
                code: t.code,
                reference: t.reference,
                flags: TransferFlags::empty(),
                timeout: 0,
                timestamp: *ts,
                pending_status: None,
            }
        })
        .collect()
}

fn raw_rate(db: &TestDb, sizes: &[usize], accounts: u128, rng: &mut Rng) -> Result<f64, String> {
    let mut raw = RawInserter::open(&db.database, saoma_store::Durability::Full).map_err(|e| e.to_string())?;
    let ids = IdGen::new();
    let mut ts = 1;
    let batches: Vec<Vec<Transfer>> = sizes.iter().map(|n| raw_rows(&ids, rng, accounts, *n, &mut ts)).collect();
    let total: usize = sizes.iter().sum();
    let started = Instant::now();
    for b in &batches {
        raw.insert(b).map_err(|e| e.to_string())?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn bench_backend(db: &TestDb, args: &Args) -> Result<Vec<Figure>, String> {
    let store = Arc::new(Store::open(db.database.clone(), Arc::new(SystemClock), StoreOptions::default()).map_err(|e| e.to_string())?);
    let accounts = args.accounts.max(3);
    let all: Vec<NewAccount> = (1..=accounts)
        .map(|i| NewAccount { id: AccountId(i), currency: Currency::CNY, code: 1, owner: i, flags: AccountFlags::empty() })
        .collect();
    for chunk in all.chunks(saoma_ledger::MAX_BATCH) {
        let r = store.create_accounts_blocking(chunk.to_vec()).map_err(|e| e.to_string())?;
        if let Some(Err(e)) = r.iter().find(|r| r.is_err()) {
            return Err(format!("creating accounts: {e}"));
        }
    }
    let ids = Arc::new(IdGen::new());
    let mut rng = Rng(0x5A0A);
    let mut figures = Vec::new();

    for (scenario, hot) in [("batch", false), ("hot", true)] {
        let sizes = batch_sizes(args.transfers, &mut rng);
        let batches: Vec<Vec<NewTransfer>> = sizes.iter().map(|n| (0..*n).map(|_| transfer(&ids, &mut rng, accounts, hot)).collect()).collect();
        let mut lat = Vec::with_capacity(batches.len());
        let commits_before = store.metrics().commits.load(Ordering::Relaxed);
        let started = Instant::now();
        let mut done = 0;
        let mut next_report = args.transfers / 4;
        for b in batches {
            let n = b.len();
            let t0 = Instant::now();
            let r = store.create_transfers_blocking(b).map_err(|e| e.to_string())?;
            lat.push(t0.elapsed().as_micros() as u64);
            if let Some(Err(e)) = r.iter().find(|r| r.is_err()) {
                return Err(format!("{scenario}: transfer refused: {e}"));
            }
            done += n;
            if done >= next_report {
                progress(args.json, &format!("[{}] {scenario}: {done}/{}", db.name(), args.transfers));
                next_report += args.transfers / 4;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let commits = store.metrics().commits.load(Ordering::Relaxed) - commits_before;
        progress(args.json, &format!("[{}] {scenario}: raw INSERT baseline", db.name()));
        let raw = raw_rate(db, &sizes, accounts, &mut rng)?;
        figures.push(Figure::new(db.name(), scenario, args.transfers, secs, lat, raw, commits));
    }

    // 64 clients, one transfer at a time: async tasks, as the server's request handlers are.
    let total = (args.transfers / 4).max(64);
    let issued = Arc::new(AtomicUsize::new(0));
    let commits_before = store.metrics().commits.load(Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let lat = rt.block_on(async {
        let clients: Vec<_> = (0..64u64)
            .map(|k| {
                let (store, ids, issued) = (store.clone(), ids.clone(), issued.clone());
                tokio::spawn(async move {
                    let mut rng = Rng(splitmix(k + 1));
                    let mut lat = Vec::new();
                    while issued.fetch_add(1, Ordering::Relaxed) < total {
                        let t = transfer(&ids, &mut rng, accounts, false);
                        let t0 = Instant::now();
                        let r = store.create_transfers(vec![t]).await.map_err(|e| e.to_string())?;
                        lat.push(t0.elapsed().as_micros() as u64);
                        if let Err(e) = r[0] {
                            return Err(format!("clients64: transfer refused: {e}"));
                        }
                    }
                    Ok::<_, String>(lat)
                })
            })
            .collect();
        let mut lat = Vec::with_capacity(total);
        for c in clients {
            lat.extend(c.await.map_err(|_| "client task panicked".to_string())??);
        }
        Ok::<_, String>(lat)
    })?;
    let secs = started.elapsed().as_secs_f64();
    let commits = (store.metrics().commits.load(Ordering::Relaxed) - commits_before).max(1);
    let mean_batch = total as f64 / commits as f64;
    progress(args.json, &format!("[{}] clients64: {total} transfers in {commits} commits; raw INSERT baseline", db.name()));
    let group = (mean_batch.round() as usize).max(1);
    let sizes: Vec<usize> = (0..total.div_ceil(group)).map(|i| group.min(total - i * group)).collect();
    let raw = raw_rate(db, &sizes, accounts, &mut rng)?;
    figures.push(Figure::new(db.name(), "clients64", total, secs, lat, raw, commits));
    // Keep scenario order as documented: batch, clients64, hot.
    figures.swap(1, 2);
    let report = store.check().map_err(|e| e.to_string())?;
    if !report.is_clean() {
        return Err(format!("ledger check failed after the benchmark: {:?}", report.violations.first()));
    }
    Ok(figures)
}
