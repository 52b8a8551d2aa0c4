//! Fresh databases for tests and benchmarks, on every backend that is present.
//!
//! PostgreSQL comes from `SAOMA_TEST_PG` (default `postgres://127.0.0.1:5432/test`); each `TestDb`
//! gets a schema of its own, dropped at the end. Where PostgreSQL cannot be reached the PostgreSQL
//! half of a test is skipped with a loud message, unless `SAOMA_REQUIRE_PG=1` (set by CI), where
//! that is a failure.

use crate::Database;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn pg_base_url() -> String {
    std::env::var("SAOMA_TEST_PG").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_string())
}

fn pg_required() -> bool {
    std::env::var("SAOMA_REQUIRE_PG").is_ok_and(|v| v == "1")
}

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{prefix}_{}_{}_{n}", std::process::id(), t % 1_000_000_000)
}

/// A database that exists for one test.
pub struct TestDb {
    pub database: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema(String),
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique("saoma_test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TestDb { database: Database::Sqlite(dir.join("saoma.db")), cleanup: Cleanup::Dir(dir) }
    }

    /// A fresh schema in the test PostgreSQL, or `None` (with a loud message) where there is none.
    pub fn postgres() -> Option<TestDb> {
        let base = pg_base_url();
        let mut client = match ::postgres::Client::connect(&base, ::postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                if pg_required() {
                    panic!("SAOMA_REQUIRE_PG=1 but PostgreSQL at {base} is not reachable: {e}");
                }
                eprintln!("\n*** SKIPPED the PostgreSQL half of this test: {base} not reachable ({e}) ***\n");
                return None;
            }
        };
        let schema = unique("t");
        client.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
        Some(TestDb { database: Database::Postgres(url), cleanup: Cleanup::Schema(schema) })
    }

    /// SQLite, and PostgreSQL where present.
    pub fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        v.extend(TestDb::postgres());
        v
    }

    pub fn name(&self) -> &'static str {
        self.database.backend_name()
    }

    /// Keep the database after the test (for a child process that outlives this handle).
    pub fn url(&self) -> String {
        match &self.database {
            Database::Sqlite(p) => format!("sqlite:{}", p.display()),
            Database::Postgres(u) => u.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::Schema(s) => {
                if let Ok(mut c) = ::postgres::Client::connect(&pg_base_url(), ::postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"));
                }
            }
        }
    }
}

pub type PgClient = ::postgres::Client;

/// A plain PostgreSQL connection (for tests that reach behind the store).
pub fn pg_client(url: &str) -> PgClient {
    ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect to PostgreSQL")
}
