//! `saoma bench …`: benchmarks that run with no arguments, show progress on stderr, and print each
//! figure beside a baseline measured in the same run (the machines are shared and noisy, so only
//! same-run ratios mean much).

mod api;
mod ledger;
mod pages;
mod ridecode;
mod server;
mod wire;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Durable ledger transfers/s and commit latency on SQLite and (when reachable) PostgreSQL, against
    /// plain INSERTs of rows of the same size in batches of the same size.
    Ledger(ledger::Args),
    /// Payments/s through the real server over HTTP with real v3 signatures (Native create → wallet
    /// pay → query, notifications delivered), against the platform's RSA signing ceiling and a bare
    /// HTTP round trip measured in the same run.
    Api(api::Args),
    /// Ride codes verified per second at a gate (issuer signature cached and not) against the raw
    /// signature-verify rate, per suite; and the server's ingest of uploaded batches, charging included.
    Ridecode(ridecode::Args),
    /// Server render time per page of the wallet and the cashier (p50/p99 from the server's own request
    /// log, and as the client saw it), and each page's size, against `GET /healthz` in the same run.
    Pages(pages::Args),
}

pub fn run(cmd: BenchCmd) -> ExitCode {
    match cmd {
        BenchCmd::Ledger(args) => ledger::run(args),
        BenchCmd::Api(args) => api::run(args),
        BenchCmd::Ridecode(args) => ridecode::run(args),
        BenchCmd::Pages(args) => pages::run(args),
    }
}

/// The databases `--backend` names: SQLite for `sqlite` or `all`, PostgreSQL for `postgres` or `all`
/// (left out, and said so, where it is not reachable — unless it alone was asked for: then `None`).
pub fn databases(backend: &str) -> Option<Vec<saoma_store::testing::TestDb>> {
    use saoma_store::testing::TestDb;
    let mut dbs = Vec::new();
    if backend == "sqlite" || backend == "all" {
        dbs.push(TestDb::sqlite());
    }
    if backend == "postgres" || backend == "all" {
        match TestDb::postgres() {
            Some(db) => dbs.push(db),
            None if backend == "postgres" => return None,
            None => eprintln!("PostgreSQL not reachable: its figures are left out"),
        }
    }
    Some(dbs)
}

/// Latency percentiles over a sample, in milliseconds.
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(mut micros: Vec<u64>) -> Latency {
        if micros.is_empty() {
            return Latency { p50: 0.0, p99: 0.0, max: 0.0 };
        }
        micros.sort_unstable();
        let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)] as f64 / 1000.0;
        Latency { p50: at(0.50), p99: at(0.99), max: *micros.last().expect("non-empty") as f64 / 1000.0 }
    }
}
