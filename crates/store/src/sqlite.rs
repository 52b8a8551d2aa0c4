//! SQLite backend: WAL, `synchronous=FULL` by default (an acknowledged commit survives power loss),
//! one write transaction per group commit (`BEGIN IMMEDIATE`, so two processes on one file take turns).

use crate::schema::{raw_table_sql, Dialect, ACCOUNT_COLUMNS, MIGRATIONS, TRANSFER_COLUMNS};
use crate::journal::Balances;
use crate::{Backend, Durability, Meta, Row as JobRow, StoreError, Value};
use rusqlite::{params, Connection, OptionalExtension, Row};
use saoma_ledger::{Account, AccountFlags, AccountId, Changes, Currency, Ledger, PendingStatus, Transfer, TransferFlags, TransferId};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Sqlite {
    conn: Connection,
    /// The writer's background checkpointer (see `open_writer`), stopped when the writer goes.
    checkpointer: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.checkpointer.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

/// How often the background checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

pub(crate) fn id_bytes(id: u128) -> [u8; 16] {
    id.to_be_bytes()
}

pub(crate) fn id_from(b: &[u8]) -> Result<u128, StoreError> {
    let arr: [u8; 16] = b.try_into().map_err(|_| StoreError::Corrupt(format!("id of {} bytes", b.len())))?;
    Ok(u128::from_be_bytes(arr))
}

pub(crate) fn currency_from(s: &str) -> Result<Currency, StoreError> {
    Currency::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown currency {s:?}")))
}

pub(crate) fn u16_from(v: i64, what: &str) -> Result<u16, StoreError> {
    u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} out of range")))
}

fn account_from_row(r: &Row) -> Result<Account, StoreError> {
    Ok(Account {
        id: AccountId(id_from(&r.get::<_, Vec<u8>>(0)?)?),
        currency: currency_from(&r.get::<_, String>(1)?)?,
        code: u16_from(r.get(2)?, "account code")?,
        owner: id_from(&r.get::<_, Vec<u8>>(3)?)?,
        flags: AccountFlags(u16_from(r.get(4)?, "account flags")?),
        debits_pending: r.get(5)?,
        debits_posted: r.get(6)?,
        credits_pending: r.get(7)?,
        credits_posted: r.get(8)?,
        timestamp: r.get(9)?,
    })
}

fn transfer_from_row(r: &Row) -> Result<Transfer, StoreError> {
    let pending_id: Option<Vec<u8>> = r.get(4)?;
    let status: Option<i64> = r.get(11)?;
    Ok(Transfer {
        id: TransferId(id_from(&r.get::<_, Vec<u8>>(0)?)?),
        debit_account_id: AccountId(id_from(&r.get::<_, Vec<u8>>(1)?)?),
        credit_account_id: AccountId(id_from(&r.get::<_, Vec<u8>>(2)?)?),
        amount: r.get(3)?,
        pending_id: pending_id.map(|b| id_from(&b).map(TransferId)).transpose()?,
        currency: currency_from(&r.get::<_, String>(5)?)?,
        code: u16_from(r.get(6)?, "transfer code")?,
        reference: id_from(&r.get::<_, Vec<u8>>(7)?)?,
        flags: TransferFlags(u16_from(r.get(8)?, "transfer flags")?),
        timeout: u32::try_from(r.get::<_, i64>(9)?).map_err(|_| StoreError::Corrupt("timeout".into()))?,
        timestamp: r.get(10)?,
        pending_status: status
            .map(|s| PendingStatus::from_i64(s).ok_or_else(|| StoreError::Corrupt(format!("pending status {s}"))))
            .transpose()?,
    })
}

/// Sets a file's or directory's mode (Unix; elsewhere nothing).
fn restrict(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| StoreError::Io(format!("chmod {}: {e}", path.display())))?;
    }
    let _ = (path, mode);
    Ok(())
}

/// The database and its -wal and -shm files readable by their owner only (0600): they hold every
/// payment. SQLite gives the -wal and -shm files the database file's mode, so the database file is
/// made 0600 before SQLite first opens it; files an older version left 0644 are tightened.
fn private_files(path: &Path) -> Result<(), StoreError> {
    if !path.exists() {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        opts.open(path).map_err(|e| StoreError::Io(format!("creating {}: {e}", path.display())))?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists() {
            restrict(&p, 0o600)?;
        }
    }
    Ok(())
}

impl Sqlite {
    pub fn open(path: &Path, durability: Durability) -> Result<Sqlite, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(format!("creating {}: {e}", dir.display())))?;
                restrict(dir, 0o700)?;
            }
        }
        private_files(path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY;"
        ))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Sqlite { conn, checkpointer: None })
    }

    /// The writer's connection. SQLite would otherwise copy the WAL back into the database inside
    /// whichever commit crosses 1,000 pages, stalling that commit for tens of milliseconds; here a
    /// thread with its own connection does it alongside (a passive checkpoint never blocks the writer).
    pub fn open_writer(path: &Path, durability: Durability) -> Result<Sqlite, StoreError> {
        let mut w = Sqlite::open(path, durability)?;
        w.conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
        let other = Sqlite::open(path, durability)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::Builder::new()
            .name("sqlite-checkpointer".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    std::thread::sleep(CHECKPOINT_INTERVAL);
                    if let Err(e) = other.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                }
                // A last, full one: the WAL is folded back when the writer stops.
                let _ = other.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(|e| StoreError::Io(format!("spawning the checkpointer: {e}")))?;
        w.checkpointer = Some((stop, handle));
        Ok(w)
    }

    pub fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL);")?;
        let r = (|| {
            let current: i64 = self.conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
            for m in MIGRATIONS.iter().filter(|m| m.version > current) {
                self.conn.execute_batch(&m.sql(Dialect::Sqlite))?;
                self.conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?1, ?2)", params![m.version, m.name])?;
            }
            Ok::<_, StoreError>(())
        })();
        match r {
            Ok(()) => Ok(self.conn.execute_batch("COMMIT")?),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// Rows per multi-row statement: amortises SQLite's per-statement cost (bind checks, VDBE start,
/// reset) over many rows; 32 × 13 parameters stays far below SQLite's limit.
const ROWS_PER_STATEMENT: usize = 32;

fn placeholders(columns: usize, rows: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..columns {
            if c > 0 {
                s.push(',');
            }
            s.push('?');
        }
        s.push(')');
    }
    s
}

/// Runs `prefix VALUES (…),(…)… suffix` over `rows`, many rows per statement.
fn execute_rows<T>(
    conn: &Connection,
    prefix: &str,
    suffix: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut rusqlite::Statement, usize, &T) -> rusqlite::Result<()>,
) -> Result<(), StoreError> {
    let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
    if rows.len() >= ROWS_PER_STATEMENT {
        let mut stmt = conn.prepare_cached(&format!("{prefix} VALUES {} {suffix}", placeholders(columns, ROWS_PER_STATEMENT)))?;
        for chunk in &mut chunks {
            for (i, row) in chunk.iter().enumerate() {
                bind(&mut stmt, i * columns, row)?;
            }
            stmt.raw_execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut stmt = conn.prepare_cached(&format!("{prefix} VALUES {} {suffix}", placeholders(columns, 1)))?;
        for row in rest {
            bind(&mut stmt, 0, row)?;
            stmt.raw_execute()?;
        }
    }
    Ok(())
}

fn bind_transfer(stmt: &mut rusqlite::Statement, base: usize, t: &&Transfer) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(base + 1, &id_bytes(t.id.0)[..])?;
    stmt.raw_bind_parameter(base + 2, &id_bytes(t.debit_account_id.0)[..])?;
    stmt.raw_bind_parameter(base + 3, &id_bytes(t.credit_account_id.0)[..])?;
    stmt.raw_bind_parameter(base + 4, t.amount)?;
    stmt.raw_bind_parameter(base + 5, t.pending_id.map(|p| id_bytes(p.0).to_vec()))?;
    stmt.raw_bind_parameter(base + 6, t.currency.code())?;
    stmt.raw_bind_parameter(base + 7, t.code as i64)?;
    stmt.raw_bind_parameter(base + 8, &id_bytes(t.reference)[..])?;
    stmt.raw_bind_parameter(base + 9, t.flags.0 as i64)?;
    stmt.raw_bind_parameter(base + 10, t.timeout as i64)?;
    stmt.raw_bind_parameter(base + 11, t.timestamp)?;
    stmt.raw_bind_parameter(base + 12, t.pending_status.map(|s| s.as_i64()))?;
    stmt.raw_bind_parameter(base + 13, t.expires_at())
}

fn bind_account(stmt: &mut rusqlite::Statement, base: usize, a: &&Account) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(base + 1, &id_bytes(a.id.0)[..])?;
    stmt.raw_bind_parameter(base + 2, a.currency.code())?;
    stmt.raw_bind_parameter(base + 3, a.code as i64)?;
    stmt.raw_bind_parameter(base + 4, &id_bytes(a.owner)[..])?;
    stmt.raw_bind_parameter(base + 5, a.flags.0 as i64)?;
    stmt.raw_bind_parameter(base + 6, a.debits_pending)?;
    stmt.raw_bind_parameter(base + 7, a.debits_posted)?;
    stmt.raw_bind_parameter(base + 8, a.credits_pending)?;
    stmt.raw_bind_parameter(base + 9, a.credits_posted)?;
    stmt.raw_bind_parameter(base + 10, a.timestamp)
}

/// Inserts transfer rows into `table` (the ledger's, or the benchmark's raw twin of it).
fn insert_transfers(conn: &Connection, table: &str, rows: &[&Transfer]) -> Result<(), StoreError> {
    execute_rows(conn, &format!("INSERT INTO {table} ({TRANSFER_COLUMNS})"), "", 13, rows, bind_transfer)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// `$1` → `?1`: the jobs' portable placeholders in SQLite's spelling. Runs for every statement a job
/// sends, so it works on bytes (a `$` before a digit is ASCII both ways, so the text stays UTF-8).
fn sqlite_placeholders(sql: &str) -> String {
    let mut out = sql.as_bytes().to_vec();
    for i in 0..out.len().saturating_sub(1) {
        if out[i] == b'$' && out[i + 1].is_ascii_digit() {
            out[i] = b'?';
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn bind_values(stmt: &mut rusqlite::Statement, params: &[Value]) -> Result<(), StoreError> {
    if stmt.parameter_count() != params.len() {
        return Err(StoreError::Database(format!("statement takes {} parameters, {} given", stmt.parameter_count(), params.len())));
    }
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p)?;
    }
    Ok(())
}

impl Backend for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(&sqlite_placeholders(sql))?;
        bind_values(&mut stmt, params)?;
        Ok(stmt.raw_execute()? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<JobRow>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.conn.prepare_cached(&sqlite_placeholders(sql))?;
        bind_values(&mut stmt, params)?;
        // Named once for the whole result; every row shares them.
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let n = columns.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    ValueRef::Real(_) => return Err(StoreError::Corrupt("a floating-point column: saoma stores none".into())),
                });
            }
            out.push(JobRow::new(columns.clone(), row));
        }
        Ok(out)
    }

    fn raw_insert(&mut self, rows: &[Transfer]) -> Result<(), StoreError> {
        self.conn.execute_batch(&raw_table_sql(Dialect::Sqlite))?;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let rows: Vec<&Transfer> = rows.iter().collect();
        let r = insert_transfers(&self.conn, "bench_raw", &rows);
        if r.is_err() {
            self.rollback();
            return r;
        }
        self.commit()
    }

    fn drop_raw(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("DROP TABLE IF EXISTS bench_raw")?)
    }

    fn begin_write(&mut self, savepoint: bool) -> Result<(Meta, Option<u128>), StoreError> {
        self.conn.execute_batch(if savepoint { "BEGIN IMMEDIATE; SAVEPOINT job" } else { "BEGIN IMMEDIATE" })?;
        let meta = self
            .conn
            .prepare_cached("SELECT last_ts, commit_seq FROM ledger_meta WHERE id = 1")?
            .query_row([], |r| Ok(Meta { last_ts: r.get(0)?, commit_seq: r.get(1)? }))?;
        let max_id: Option<Vec<u8>> =
            self.conn.prepare_cached("SELECT id FROM transfers ORDER BY id DESC LIMIT 1")?.query_row([], |r| r.get(0)).optional()?;
        Ok((meta, max_id.map(|b| id_from(&b)).transpose()?))
    }

    fn load_accounts(&mut self, ids: &[AccountId], out: &mut Vec<Account>) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"))?;
        for id in ids {
            let mut rows = stmt.query([&id_bytes(id.0)[..]])?;
            if let Some(r) = rows.next()? {
                out.push(account_from_row(r)?);
            }
        }
        Ok(())
    }

    fn load_transfers(&mut self, ids: &[TransferId], out: &mut Vec<Transfer>) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?1"))?;
        for id in ids {
            let mut rows = stmt.query([&id_bytes(id.0)[..]])?;
            if let Some(r) = rows.next()? {
                out.push(transfer_from_row(r)?);
            }
        }
        Ok(())
    }

    fn load_due(&mut self, now: i64, limit: usize, out: &mut Vec<Transfer>) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE pending_status = 1 AND expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![now, limit as i64])?;
        while let Some(r) = rows.next()? {
            out.push(transfer_from_row(r)?);
        }
        Ok(())
    }

    fn earliest_due(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT MIN(expires_at) FROM transfers WHERE pending_status = 1 AND expires_at IS NOT NULL")?
            .query_row([], |r| r.get(0))?)
    }

    fn write(&mut self, ledger: &Ledger, changes: &Changes, meta: Meta) -> Result<(), StoreError> {
        let missing = || StoreError::Corrupt("changed row missing from the working set".into());
        let transfers: Vec<&Transfer> = changes.new_transfers.iter().map(|id| ledger.transfer(*id).ok_or_else(missing)).collect::<Result<_, _>>()?;
        insert_transfers(&self.conn, "transfers", &transfers)?;
        let new_transfers: std::collections::HashSet<TransferId> =
            if changes.pending.is_empty() { Default::default() } else { changes.new_transfers.iter().copied().collect() };
        {
            let mut upd = self.conn.prepare_cached("UPDATE transfers SET pending_status = ?1 WHERE id = ?2")?;
            for id in changes.pending.iter().filter(|id| !new_transfers.contains(id)) {
                let t = ledger.transfer(*id).ok_or_else(missing)?;
                upd.execute(params![t.pending_status.map(|s| s.as_i64()), &id_bytes(id.0)[..]])?;
            }
        }
        self.conn.prepare_cached("UPDATE ledger_meta SET last_ts = ?1, commit_seq = ?2 WHERE id = 1")?.execute([meta.last_ts, meta.commit_seq])?;
        Ok(())
    }

    fn append_journal(&mut self, seq: i64, data: &[u8]) -> Result<(), StoreError> {
        self.conn.prepare_cached("INSERT INTO account_journal (seq, data) VALUES (?1, ?2)")?.execute(params![seq, data])?;
        Ok(())
    }

    fn load_journal(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT data FROM account_journal ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.push(r.get(0)?);
        }
        Ok(())
    }

    fn insert_accounts(&mut self, accounts: &[&Account]) -> Result<(), StoreError> {
        execute_rows(&self.conn, &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS})"), "", 10, accounts, bind_account)
    }

    fn checkpoint(&mut self, balances: &[(AccountId, Balances)]) -> Result<(), StoreError> {
        execute_rows(
            &self.conn,
            "UPDATE accounts SET flags = v.column2, debits_pending = v.column3, debits_posted = v.column4, \
             credits_pending = v.column5, credits_posted = v.column6 FROM (",
            ") AS v WHERE accounts.id = v.column1",
            6,
            balances,
            |stmt, base, (id, b)| {
                stmt.raw_bind_parameter(base + 1, &id_bytes(id.0)[..])?;
                stmt.raw_bind_parameter(base + 2, b.flags.0 as i64)?;
                stmt.raw_bind_parameter(base + 3, b.debits_pending)?;
                stmt.raw_bind_parameter(base + 4, b.debits_posted)?;
                stmt.raw_bind_parameter(base + 5, b.credits_pending)?;
                stmt.raw_bind_parameter(base + 6, b.credits_posted)
            },
        )?;
        self.conn.prepare_cached("DELETE FROM account_journal")?.execute([])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn scan(
        &mut self,
        on_transfer: &mut dyn FnMut(Transfer),
        on_account: &mut dyn FnMut(Account),
        on_journal: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // One read transaction: a consistent snapshot while the writer goes on (WAL).
        self.conn.execute_batch("BEGIN")?;
        let r = (|| {
            let mut stmt = self.conn.prepare(&format!("SELECT {TRANSFER_COLUMNS} FROM transfers"))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                on_transfer(transfer_from_row(r)?);
            }
            let mut stmt = self.conn.prepare(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts"))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                on_account(account_from_row(r)?);
            }
            let mut stmt = self.conn.prepare("SELECT data FROM account_journal ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                on_journal(r.get_ref(0)?.as_blob().map_err(|e| StoreError::Corrupt(format!("journal: {e}")))?)?;
            }
            Ok::<_, StoreError>(())
        })();
        let _ = self.conn.execute_batch("COMMIT");
        r
    }

    fn account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"))?;
        let row = stmt.query_row([&id_bytes(id.0)[..]], |r| Ok(account_from_row(r))).optional()?;
        row.transpose()
    }

    fn transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?1"))?;
        let row = stmt.query_row([&id_bytes(id.0)[..]], |r| Ok(transfer_from_row(r))).optional()?;
        row.transpose()
    }
}
