//! CPU time from /proc, to say what the server, the load generator and the database cost in the window.

use super::*;

/// Linux counts CPU time in /proc in ticks of 1/100 s (USER_HZ, 100 on every mainstream architecture).
pub(super) const MS_PER_TICK: f64 = 10.0;

/// The PostgreSQL backends serving the server (tagged with `application_name`), when the database is
/// PostgreSQL on this machine.
pub(super) fn database_backends(db: &TestDb, app_name: &str) -> Vec<u32> {
    let saoma_store::Database::Postgres(url) = &db.database else { return Vec::new() };
    let Ok(mut c) = ::std::panic::catch_unwind(|| saoma_store::testing::pg_client(url)) else { return Vec::new() };
    c.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", &[&app_name])
        .map(|rows| rows.iter().map(|r| r.get::<_, i32>(0) as u32).collect())
        .unwrap_or_default()
}

/// CPU time from /proc (Linux; in clock ticks): the server's, this process's, the database backends',
/// and the machine's.
pub(super) struct CpuSample {
    pub(super) server: u64,
    pub(super) this: u64,
    pub(super) db: Option<u64>,
    pub(super) busy: u64,
    pub(super) total: u64,
}

pub(super) fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first; utime and stime the
    // 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl CpuSample {
    pub(super) fn take(server_pid: u32, db_pids: &[u32]) -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal …
        let idle = cpu.get(3)? + cpu.get(4)?;
        let busy: u64 = cpu.iter().take(8).sum::<u64>() - idle;
        let db = if db_pids.is_empty() { None } else { db_pids.iter().map(|p| proc_ticks(&p.to_string())).sum::<Option<u64>>() };
        Some(CpuSample { server: proc_ticks(&server_pid.to_string())?, this: proc_ticks("self")?, db, busy, total: busy + idle })
    }

    /// What was spent between two samples.
    pub(super) fn between(a: &Option<CpuSample>, b: &Option<CpuSample>) -> Option<CpuSample> {
        let (a, b) = (a.as_ref()?, b.as_ref()?);
        Some(CpuSample {
            server: b.server.saturating_sub(a.server),
            this: b.this.saturating_sub(a.this),
            db: a.db.zip(b.db).map(|(a, b)| b.saturating_sub(a)),
            busy: b.busy.saturating_sub(a.busy),
            total: b.total.saturating_sub(a.total).max(1),
        })
    }

    /// A share of the machine's CPU (all cores).
    pub(super) fn share(&self, ticks: u64) -> f64 {
        ticks as f64 / self.total as f64
    }

    /// Server, load generator and database CPU per payment, ms.
    pub(super) fn ms_per(&self, payments: usize) -> f64 {
        (self.server + self.this + self.db.unwrap_or(0)) as f64 * MS_PER_TICK / payments.max(1) as f64
    }
}
