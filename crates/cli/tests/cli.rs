//! The `saoma` binary end to end: the server starts on the embedded default and on PostgreSQL, answers
//! health and metrics, and stops gracefully on SIGTERM; `ledger check` passes a clean ledger and fails a
//! tampered one; `bench ledger --json` prints the documented shape.

use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount, NewTransfer};
use saoma_store::testing::TestDb;
use saoma_store::{Database, Store, StoreOptions, SystemClock};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn saoma() -> Command {
    Command::new(env!("CARGO_BIN_EXE_saoma"))
}

/// A minimal HTTP/1.1 GET, so the tests need no HTTP client crate.
fn get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim().trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("saoma_cli_{name}_{}_{}", std::process::id(), Instant::now().elapsed().as_nanos()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Kills the server if the test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_and_stop(data_dir: &std::path::Path, database_url: Option<&str>, backend: &str) {
    let mut cmd = saoma();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(u) = database_url {
        cmd.args(["--database-url", u]);
    }
    let mut guard = KillOnDrop(cmd.spawn().unwrap());
    let child = &mut guard.0;
    let addr_file = data_dir.join("server.addr");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !addr_file.exists() {
        assert!(Instant::now() < deadline, "server did not start");
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let base = std::fs::read_to_string(&addr_file).unwrap();
    let (status, body) = get(&base, "/healthz");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], backend);
    let (status, body) = get(&base, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE saoma_ledger_commits_total counter"), "{body}");
    assert!(body.contains("saoma_http_requests_total 1"), "{body}");
    assert!(body.contains("saoma_ledger_commit_seconds_bucket{le=\"+Inf\"}"));
    assert_eq!(get(&base, "/no-such-page").0, 404);

    // Graceful shutdown on SIGTERM: exit 0, address file removed.
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(status.success(), "exit {status:?}: {logs}");
    assert!(!addr_file.exists());
    // Structured logs: one JSON object per line, with the request lines.
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    assert!(lines.iter().any(|l| l["message"] == "request" && l["route"] == "/healthz" && l["status"] == 200), "{logs}");
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
}

#[test]
fn serve_on_sqlite_and_postgres() {
    let dir = temp_dir("serve");
    serve_and_stop(&dir, None, "sqlite");
    assert!(dir.join("saoma.db").exists(), "embedded default: SQLite in the data directory");
    if let Some(pg) = TestDb::postgres() {
        let dir2 = temp_dir("serve_pg");
        serve_and_stop(&dir2, Some(&pg.url()), "postgres");
    }
}

#[test]
fn ledger_check_passes_clean_and_fails_tampered() {
    for db in TestDb::all() {
        {
            let store = Store::open(db.database.clone(), Arc::new(SystemClock), StoreOptions::default()).unwrap();
            let acc = |id, flags| NewAccount { id: AccountId(id), currency: Currency::CNY, code: 1, owner: 0, flags };
            store.create_accounts_blocking(vec![acc(1, AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS), acc(2, AccountFlags::empty())]).unwrap();
            let r = store.create_transfers_blocking(vec![NewTransfer::simple(9, AccountId(2), AccountId(1), 12345, Currency::CNY, 1, 0)]).unwrap();
            assert!(r[0].is_ok());
        }
        let url = db.url();
        let out = saoma().args(["ledger", "check", "--database-url", &url]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("CNY: debits 123.45 = credits 123.45"), "{text}");
        assert!(text.contains("clean"));
        let out = saoma().args(["ledger", "check", "--json", "--database-url", &url]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["clean"], true);
        assert_eq!(v["transfers"], 1);

        // Tamper with a balance behind the ledger's back.
        match &db.database {
            Database::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).unwrap();
                c.execute("UPDATE accounts SET credits_posted = credits_posted + 1", []).unwrap();
            }
            Database::Postgres(u) => {
                let mut c = postgres_client(u);
                c.batch_execute("UPDATE accounts SET credits_posted = credits_posted + 1").unwrap();
            }
        }
        let out = saoma().args(["ledger", "check", "--database-url", &url]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("VIOLATIONS"), "{text}");
        assert!(text.contains("credits_posted is 12346, its transfers sum to 12345"), "{text}");
    }
}

fn postgres_client(url: &str) -> saoma_store::testing::PgClient {
    saoma_store::testing::pg_client(url)
}

#[test]
fn bench_ledger_prints_the_documented_json() {
    let out = saoma().args(["bench", "ledger", "--json", "--transfers", "8000", "--accounts", "500"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    let backends = if TestDb::postgres().is_some() { 2 } else { 1 };
    assert_eq!(results.len(), 3 * backends);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["scenario"], ["batch", "clients64", "hot"][i % 3]);
        assert_eq!(r["backend"], ["sqlite", "postgres"][i / 3]);
        for k in ["per_sec", "p50_ms", "p99_ms", "max_ms", "raw_per_sec", "ratio"] {
            assert!(r[k].as_f64().is_some_and(|x| x > 0.0), "{k} in {r}");
        }
    }
}
