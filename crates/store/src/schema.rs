//! One schema for both backends. Each migration is written once, with the few words that differ
//! between SQLite and PostgreSQL as placeholders, and runs at start in its own transaction.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    sql: &'static str,
    /// Statements only PostgreSQL needs (storage tuning).
    postgres_only: &'static str,
}

/// Ids are 16-byte big-endian blobs (byte order = numeric order). Transfers and accounts are keyed
/// by them directly: ids are time-ordered, so inserts append. There is deliberately no index on a
/// transfer's accounts yet: each would add a random-position insert per transfer (DESIGN.md §7);
/// history queries will get their own, narrower tables.
macro_rules! transfers_table {
    () => {
        "CREATE TABLE transfers (
    id {BLOB} PRIMARY KEY,
    debit_account_id {BLOB} NOT NULL,
    credit_account_id {BLOB} NOT NULL,
    amount BIGINT NOT NULL,
    pending_id {BLOB},
    currency TEXT NOT NULL,
    code INTEGER NOT NULL,
    reference {BLOB} NOT NULL,
    flags INTEGER NOT NULL,
    timeout BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    pending_status INTEGER,
    expires_at BIGINT
){WITHOUT_ROWID};"
    };
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "ledger",
    sql: concat!("
CREATE TABLE ledger_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_ts BIGINT NOT NULL,
    commit_seq BIGINT NOT NULL
);
INSERT INTO ledger_meta (id, last_ts, commit_seq) VALUES (1, 0, 0);
CREATE TABLE accounts (
    id {BLOB} PRIMARY KEY,
    currency TEXT NOT NULL,
    code INTEGER NOT NULL,
    owner {BLOB} NOT NULL,
    flags INTEGER NOT NULL,
    debits_pending BIGINT NOT NULL,
    debits_posted BIGINT NOT NULL,
    credits_pending BIGINT NOT NULL,
    credits_posted BIGINT NOT NULL,
    ts BIGINT NOT NULL
){WITHOUT_ROWID};
", transfers_table!(), "
CREATE INDEX transfers_due ON transfers (expires_at) WHERE pending_status = 1 AND expires_at IS NOT NULL;
"),
    postgres_only: "",
}, Migration {
    version: 2,
    name: "account_journal",
    // See journal.rs: packed account states appended per commit, folded into `accounts` at checkpoints.
    sql: "CREATE TABLE account_journal (seq BIGINT PRIMARY KEY, data {BLOB} NOT NULL);",
    // Already dense: do not spend CPU compressing it.
    postgres_only: "ALTER TABLE account_journal ALTER COLUMN data SET STORAGE EXTERNAL;",
}];

/// The benchmark's raw twin of the transfers table: same columns, same key, no ledger logic.
pub fn raw_table_sql(d: Dialect) -> String {
    let m = Migration { version: 0, name: "bench_raw", sql: transfers_table!(), postgres_only: "" };
    m.sql(d).replace("CREATE TABLE transfers", "CREATE TABLE IF NOT EXISTS bench_raw")
}

impl Migration {
    pub fn sql(&self, d: Dialect) -> String {
        let (blob, without_rowid) = match d {
            Dialect::Sqlite => ("BLOB", " WITHOUT ROWID"),
            Dialect::Postgres => ("BYTEA", ""),
        };
        let sql = self.sql.replace("{BLOB}", blob).replace("{WITHOUT_ROWID}", without_rowid);
        match d {
            Dialect::Sqlite => sql,
            Dialect::Postgres => format!("{sql}\n{}", self.postgres_only),
        }
    }
}

pub const TRANSFER_COLUMNS: &str =
    "id, debit_account_id, credit_account_id, amount, pending_id, currency, code, reference, flags, timeout, ts, pending_status, expires_at";
pub const ACCOUNT_COLUMNS: &str =
    "id, currency, code, owner, flags, debits_pending, debits_posted, credits_pending, credits_posted, ts";
