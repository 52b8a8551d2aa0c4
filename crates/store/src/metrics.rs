//! Counters the writer keeps, rendered by the server's `/metrics` in Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of the commit-latency histogram buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub requests: AtomicU64,
    pub transfers_applied: AtomicU64,
    pub transfers_refused: AtomicU64,
    pub accounts_created: AtomicU64,
    pub pending_expired: AtomicU64,
    pub checkpoints: AtomicU64,
    pub journal_appends: AtomicU64,
    commit_seconds_bucket: [AtomicU64; BUCKETS.len()],
    commit_seconds_count: AtomicU64,
    commit_micros_sum: AtomicU64,
}

impl Metrics {
    pub fn observe_commit(&self, seconds: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.commit_seconds_bucket[i].fetch_add(1, Relaxed);
            }
        }
        self.commit_seconds_count.fetch_add(1, Relaxed);
        self.commit_micros_sum.fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let counters = [
            ("saoma_ledger_commits_total", "Database transactions committed by the ledger writer", &self.commits),
            ("saoma_ledger_commit_failures_total", "Writer transactions rolled back on a storage error", &self.commit_failures),
            ("saoma_ledger_requests_total", "Requests handled by the ledger writer", &self.requests),
            ("saoma_ledger_transfers_applied_total", "Transfers committed", &self.transfers_applied),
            ("saoma_ledger_transfers_refused_total", "Transfers refused with an error code", &self.transfers_refused),
            ("saoma_ledger_accounts_created_total", "Accounts created", &self.accounts_created),
            ("saoma_ledger_pending_expired_total", "Pending transfers expired on the clock", &self.pending_expired),
            ("saoma_ledger_checkpoints_total", "Balance-journal checkpoints into the accounts table", &self.checkpoints),
            ("saoma_ledger_journal_appends_total", "Commits that appended balances to the journal", &self.journal_appends),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        }
        let name = "saoma_ledger_commit_seconds";
        let _ = writeln!(out, "# HELP {name} Latency of one group commit\n# TYPE {name} histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", self.commit_seconds_bucket[i].load(Relaxed));
        }
        let count = self.commit_seconds_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.commit_micros_sum.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}
