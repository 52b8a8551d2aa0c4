//! `saoma ledger …`: operator commands on the ledger.

use crate::DataArgs;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum LedgerCmd {
    /// Check every invariant: per currency debits = credits, every account's balances equal the sums of
    /// its transfers, no limit broken. Exits non-zero on any violation.
    Check {
        #[command(flatten)]
        data: DataArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: LedgerCmd) -> ExitCode {
    match cmd {
        LedgerCmd::Check { data, json } => {
            let database = match data.database() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            if let saoma_store::Database::Sqlite(p) = &database {
                if !p.exists() {
                    eprintln!("no database at {}", p.display());
                    return ExitCode::from(2);
                }
            }
            let report = match saoma_store::check_database(&database) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("ledger check could not run: {e}");
                    return ExitCode::from(2);
                }
            };
            if json {
                let currencies: serde_json::Map<String, serde_json::Value> = report
                    .currencies
                    .iter()
                    .map(|(c, t)| {
                        (
                            c.code().to_string(),
                            serde_json::json!({
                                "debits_posted": t.debits_posted.to_string(), "credits_posted": t.credits_posted.to_string(),
                                "debits_pending": t.debits_pending.to_string(), "credits_pending": t.credits_pending.to_string(),
                            }),
                        )
                    })
                    .collect();
                let v = serde_json::json!({
                    "clean": report.is_clean(),
                    "accounts": report.accounts,
                    "transfers": report.transfers,
                    "pending_open": report.pending_open,
                    "currencies": currencies,
                    "violations": report.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                });
                println!("{v}");
            } else {
                println!("ledger check: {} accounts, {} transfers ({} pending open)", report.accounts, report.transfers, report.pending_open);
                for (c, t) in &report.currencies {
                    let exp = c.exponent() as u32;
                    println!(
                        "  {c}: debits {} = credits {} (pending {} / {})",
                        major(t.debits_posted, exp),
                        major(t.credits_posted, exp),
                        major(t.debits_pending, exp),
                        major(t.credits_pending, exp)
                    );
                }
                if report.is_clean() {
                    println!("clean");
                } else {
                    println!("{} VIOLATIONS:", report.violations.len());
                    for v in &report.violations {
                        println!("  {v}");
                    }
                }
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Minor units as a decimal amount in major units, exactly (no floats).
fn major(minor: i128, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let p = 10i128.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.abs();
    format!("{sign}{}.{:0width$}", m / p, m % p, width = exponent as usize)
}
