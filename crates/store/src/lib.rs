//! Storage for saoma: one schema on SQLite (the embedded default) and PostgreSQL, migrations at start,
//! and the ledger writer.
//!
//! The writer is a single thread per process that owns the write connection. Callers send it
//! commands; it takes everything queued (up to a limit), applies it with the pure ledger inside one
//! database transaction, commits once and only then answers each caller: group commit, so the cost
//! of durability (one fsync) is paid per batch of commands, not per command. Reads go through
//! another connection and do not wait for it.

mod clock;
mod ids;
mod job;
mod journal;
mod metrics;
mod postgres;
pub mod schema;
mod sqlite;
pub mod testing;
mod writer;

pub use clock::{Clock, ManualClock, SystemClock, VirtualClock, NANOS_PER_SEC};
pub use ids::{splitmix, IdGen};
pub use job::{JobTx, Row, Value};
pub use metrics::Metrics;
pub use writer::{Command, Reply};


use saoma_ledger::{Account, AccountError, AccountId, Applied, BatchError, CheckReport, Changes, Checker, Ledger, NewAccount, NewTransfer, Transfer, TransferError, TransferId};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

/// Storage errors. Driver errors are kept as text so that one failed commit can be reported to every
/// caller in the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The database refused or failed (connection lost, disk full, …). Nothing of the request was committed.
    Database(String),
    Io(String),
    /// A stored row cannot be read back (a bug or tampering).
    Corrupt(String),
    /// A batch refused whole by the ledger.
    Batch(BatchError),
    /// The writer has stopped (shutdown).
    Closed,
    BadUrl(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database: {e}"),
            StoreError::Io(e) => write!(f, "i/o: {e}"),
            StoreError::Corrupt(e) => write!(f, "corrupt row: {e}"),
            StoreError::Batch(e) => write!(f, "{e}"),
            StoreError::Closed => write!(f, "the ledger writer has stopped"),
            StoreError::BadUrl(e) => write!(f, "bad database url: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(format!("sqlite: {e}"))
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Database(format!("postgres: {e}"))
    }
}

/// How hard a commit presses on the disk. `Full` (the default) fsyncs every commit: an acknowledged
/// transfer survives power loss. `Normal` survives a process crash but not power loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// `sqlite:PATH`, `sqlite://PATH`, `postgres://…`, `postgresql://…`, or a libpq `key=value` string.
    pub fn parse(url: &str) -> Result<Database, StoreError> {
        if let Some(p) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if p.is_empty() {
                return Err(StoreError::BadUrl("sqlite: needs a path".into()));
            }
            return Ok(Database::Sqlite(PathBuf::from(p)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") || url.contains("host=") {
            return Ok(Database::Postgres(url.to_string()));
        }
        Err(StoreError::BadUrl(format!("{url:?}: expected sqlite:PATH or postgres://…")))
    }

    /// The embedded default: SQLite in the data directory.
    pub fn in_data_dir(dir: &Path) -> Database {
        Database::Sqlite(dir.join("saoma.db"))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// A URL without credentials, fit for logs.
    pub fn redacted(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite:{}", p.display()),
            Database::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}://***@{}", &u[..s], &u[at + 1..]),
                _ => "postgres (connection string)".to_string(),
            },
        }
    }

    pub(crate) fn connect(&self, durability: Durability) -> Result<Box<dyn Backend>, StoreError> {
        Ok(match self {
            Database::Sqlite(p) => Box::new(sqlite::Sqlite::open(p, durability)?),
            Database::Postgres(u) => Box::new(postgres::Postgres::connect(u)?),
        })
    }

    fn connect_writer(&self, durability: Durability) -> Result<Box<dyn Backend>, StoreError> {
        Ok(match self {
            Database::Sqlite(p) => Box::new(sqlite::Sqlite::open_writer(p, durability)?),
            Database::Postgres(u) => Box::new(postgres::Postgres::connect(u)?),
        })
    }

    /// Runs the migrations that have not run yet.
    pub fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Database::Sqlite(p) => sqlite::Sqlite::open(p, Durability::Full)?.migrate(),
            Database::Postgres(u) => postgres::Postgres::connect(u)?.migrate(),
        }
    }
}

/// The `ledger_meta` row: the ledger's last timestamp, and a number every commit increments (so a
/// writer can tell whether anyone else committed since it did, and journal rows have an order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub last_ts: i64,
    pub commit_seq: i64,
}

/// What a backend does for the writer and the readers. One implementation per database; the
/// ledger logic is not here but in `saoma_ledger`, so both behave the same by construction.
pub(crate) trait Backend: Send {
    /// Starts the write transaction, taking the database's writer lock, and with `savepoint` opens
    /// the first job's savepoint; returns what any writer last committed, and the highest transfer id
    /// stored (ids above it cannot exist).
    fn begin_write(&mut self, savepoint: bool) -> Result<(Meta, Option<u128>), StoreError>;
    fn load_accounts(&mut self, ids: &[AccountId], out: &mut Vec<Account>) -> Result<(), StoreError>;
    fn load_transfers(&mut self, ids: &[TransferId], out: &mut Vec<Transfer>) -> Result<(), StoreError>;
    /// Pending transfers whose timeout has passed at `now`, oldest first.
    fn load_due(&mut self, now: i64, limit: usize, out: &mut Vec<Transfer>) -> Result<(), StoreError>;
    /// The earliest timeout of any pending transfer.
    fn earliest_due(&mut self) -> Result<Option<i64>, StoreError>;
    /// Writes new transfers, pending-status changes and `meta`; accounts go through the journal
    /// (`append_journal`) or a checkpoint (`checkpoint`).
    fn write(&mut self, ledger: &Ledger, changes: &Changes, meta: Meta) -> Result<(), StoreError>;
    fn append_journal(&mut self, seq: i64, data: &[u8]) -> Result<(), StoreError>;
    /// Every journal row, oldest first.
    fn load_journal(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), StoreError>;
    /// Inserts newly created accounts, whole.
    fn insert_accounts(&mut self, accounts: &[&Account]) -> Result<(), StoreError>;
    /// Writes the journal's balances into `accounts` and empties the journal.
    fn checkpoint(&mut self, balances: &[(AccountId, journal::Balances)]) -> Result<(), StoreError>;
    fn commit(&mut self) -> Result<(), StoreError>;
    fn rollback(&mut self);
    /// Every transfer, every account row, then every journal row, from one consistent snapshot.
    fn scan(
        &mut self,
        on_transfer: &mut dyn FnMut(Transfer),
        on_account: &mut dyn FnMut(Account),
        on_journal: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// The account's row in `accounts` (not overlaid by the journal: see `Store::account`).
    fn account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError>;
    fn transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError>;
    fn dialect(&self) -> schema::Dialect;
    /// Runs statements that take no parameters and return nothing.
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Jobs (see job.rs): a savepoint around each (the same SQL on both backends), and portable SQL
    /// with `$n` placeholders.
    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.batch("SAVEPOINT job")
    }
    /// Releases the previous job's savepoint and opens the next job's, in one round trip.
    fn release_and_savepoint(&mut self) -> Result<(), StoreError> {
        self.batch("RELEASE SAVEPOINT job; SAVEPOINT job")
    }
    /// Undoes what was written since the savepoint, which stays open (both databases keep it).
    fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        self.batch("ROLLBACK TO SAVEPOINT job")
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// Benchmark baseline: the same rows as transfers, inserted and committed with no ledger logic.
    fn raw_insert(&mut self, rows: &[Transfer]) -> Result<(), StoreError>;
    fn drop_raw(&mut self) -> Result<(), StoreError>;
}

#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Most events (transfers, accounts) committed in one transaction.
    pub max_group_events: usize,
    pub checkpoint: CheckpointPolicy,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { durability: Durability::Full, max_group_events: 2 * saoma_ledger::MAX_BATCH, checkpoint: CheckpointPolicy::default() }
    }
}

/// When the balance journal is folded into `accounts` (see journal.rs): at least `every`, and whenever
/// it would pass `max_bytes` or `max_rows`. Short enough that a restart, or another process, replays little.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    pub every: std::time::Duration,
    pub max_bytes: usize,
    pub max_rows: usize,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy { every: std::time::Duration::from_secs(2), max_bytes: 8 << 20, max_rows: 4096 }
    }
}

pub type TransferResults = Vec<Result<Applied, TransferError>>;
pub type AccountResults = Vec<Result<Applied, AccountError>>;

/// The open store: the writer thread, a reader connection, the clock and the metrics.
pub struct Store {
    sender: Mutex<Option<mpsc::Sender<writer::Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    reader: Mutex<Box<dyn Backend>>,
    /// PostgreSQL: the connection `write_alone` uses (opened on first use).
    side: Mutex<Option<Box<dyn Backend>>>,
    /// Accounts changed since the last checkpoint, as the writer last committed them: with the
    /// `accounts` rows, the current state (see journal.rs). Published by the writer before it answers.
    overlay: Arc<writer::Published>,
    database: Database,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    options: StoreOptions,
}

impl Store {
    /// Opens the database, runs migrations and starts the writer.
    pub fn open(database: Database, clock: Arc<dyn Clock>, options: StoreOptions) -> Result<Store, StoreError> {
        database.migrate()?;
        let db = database.connect_writer(options.durability)?;
        let mut reader = database.connect(options.durability)?;
        let overlay = Arc::new(writer::Published::default());
        let mut rows = Vec::new();
        reader.load_journal(&mut rows)?;
        {
            let mut map = overlay.write();
            for r in &rows {
                journal::apply(r, &mut map)?;
            }
        }
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = mpsc::channel();
        let handle = writer::spawn(db, rx, clock.clone(), metrics.clone(), options, overlay.clone())?;
        Ok(Store {
            sender: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            reader: Mutex::new(reader),
            side: Mutex::new(None),
            overlay,
            database,
            clock,
            metrics,
            options,
        })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Sends a command to the writer; the receiver resolves once it is committed (or refused).
    pub fn submit(&self, command: Command) -> tokio::sync::oneshot::Receiver<Result<Reply, StoreError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = writer::Request { command, reply: tx };
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(s) => {
                if let Err(mpsc::SendError(req)) = s.send(req) {
                    let _ = req.reply.send(Err(StoreError::Closed));
                }
            }
            None => {
                let _ = req.reply.send(Err(StoreError::Closed));
            }
        }
        rx
    }

    pub async fn execute(&self, command: Command) -> Result<Reply, StoreError> {
        self.submit(command).await.unwrap_or(Err(StoreError::Closed))
    }

    /// For callers outside an async runtime (CLI, tests, benchmarks on plain threads).
    pub fn execute_blocking(&self, command: Command) -> Result<Reply, StoreError> {
        self.submit(command).blocking_recv().unwrap_or(Err(StoreError::Closed))
    }

    pub fn create_accounts_blocking(&self, accounts: Vec<NewAccount>) -> Result<AccountResults, StoreError> {
        match self.execute_blocking(Command::CreateAccounts(accounts))? {
            Reply::Accounts(r) => Ok(r),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    pub fn create_transfers_blocking(&self, transfers: Vec<NewTransfer>) -> Result<TransferResults, StoreError> {
        match self.execute_blocking(Command::CreateTransfers(transfers))? {
            Reply::Transfers(r) => Ok(r),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    /// Runs a job (see job.rs) in the writer's next group commit: `Ok(Ok(v))` once committed,
    /// `Ok(Err(refusal))` when the job refused (nothing it did remains), `Err` when storage failed.
    pub async fn transact<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut JobTx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
    {
        match self.execute(Command::Job(Some(job::erase(job)))).await? {
            Reply::Job(o) => job::unerase(o),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    pub fn transact_blocking<T, E, F>(&self, job: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut JobTx<'_>) -> Result<Result<T, E>, StoreError> + Send + 'static,
    {
        match self.execute_blocking(Command::Job(Some(job::erase(job))))? {
            Reply::Job(o) => job::unerase(o),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    pub async fn create_accounts(&self, accounts: Vec<NewAccount>) -> Result<AccountResults, StoreError> {
        match self.execute(Command::CreateAccounts(accounts)).await? {
            Reply::Accounts(r) => Ok(r),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    pub async fn create_transfers(&self, transfers: Vec<NewTransfer>) -> Result<TransferResults, StoreError> {
        match self.execute(Command::CreateTransfers(transfers)).await? {
            Reply::Transfers(r) => Ok(r),
            other => Err(StoreError::Corrupt(format!("unexpected reply {other:?}"))),
        }
    }

    /// The account as last committed by this process's writer (or, for accounts it has not changed
    /// since the last checkpoint, as stored). Where several processes share one database, changes made by
    /// another process show here once this writer has seen them: within its idle interval (0.5 s).
    /// A read on the reader connection (committed data; does not wait for the writer). Portable SQL
    /// with `$n` placeholders, as in jobs.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.read(|r| r.query(sql, params))
    }

    /// Runs `f` on the reader connection, from any thread. An SQLite read is in-process and short: it
    /// runs where it is called, an async worker included (handing the worker's place to another thread,
    /// as `block_in_place` does, costs more than such a read). A PostgreSQL read waits on the network, and
    /// its synchronous client may not be driven from inside an async worker: on a multi-threaded runtime's
    /// worker it runs in `block_in_place`.
    fn read<T>(&self, f: impl FnOnce(&mut dyn Backend) -> T) -> T {
        let run = || f(&mut **self.reader.lock().unwrap_or_else(|p| p.into_inner()));
        let on_worker = || tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if matches!(self.database, Database::Postgres(_)) && on_worker() {
            tokio::task::block_in_place(run)
        } else {
            run()
        }
    }

    /// One statement committed on its own, outside the writer's group: for a small write that moves no
    /// money, that no job reads, and whose loss in a database crash costs little (a request nonce: the
    /// requests that move money are idempotent on their own keys), where a place in the single writer's
    /// queue costs more than the write. On PostgreSQL it runs on a connection of its own, in autocommit
    /// without waiting for the commit's flush (`synchronous_commit` off for that connection only): one
    /// round trip beside the writer instead of two inside it. On SQLite (in-process, where a job is cheap
    /// and a second writing connection would wait on the writer's lock) it is a job of its own. Rows
    /// affected.
    pub async fn write_alone(&self, sql: &'static str, params: Vec<Value>) -> Result<u64, StoreError> {
        if !matches!(self.database, Database::Postgres(_)) {
            return self.transact(move |tx| Ok(Ok::<u64, ()>(tx.execute(sql, &params)?))).await.map(|r| r.unwrap_or(0));
        }
        let run = || {
            let mut side = self.side.lock().unwrap_or_else(|p| p.into_inner());
            if side.is_none() {
                let mut c = self.database.connect(self.options.durability)?;
                c.query("SELECT set_config('synchronous_commit', 'off', false)", &[])?;
                *side = Some(c);
            }
            let r = side.as_mut().map(|c| c.execute(sql, &params)).unwrap_or(Ok(0));
            if r.is_err() {
                // A broken connection is opened again next time.
                *side = None;
            }
            r
        };
        // The synchronous client may not be driven from inside an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(run),
            _ => run(),
        }
    }

    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    pub fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        // The overlay first, then the row: a checkpoint in between writes the row before it clears the
        // overlay, so whichever we see is at least as new as every commit acknowledged before this call.
        let newer = self.overlay.read().get(&id).copied();
        let mut a = self.read(|r| r.account(id))?;
        if let (Some(a), Some(b)) = (a.as_mut(), newer) {
            b.apply_to(a);
        }
        Ok(a)
    }

    pub fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        self.read(|r| r.transfer(id))
    }

    /// Checks every invariant of the stored ledger from one snapshot (see `saoma_ledger::check`).
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        check_database(&self.database)
    }

    /// Stops taking commands, lets the writer finish what is queued, and waits for it.
    pub fn shutdown(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }

    pub fn options(&self) -> StoreOptions {
        self.options
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `saoma ledger check` without a running writer: opens its own connection.
pub fn check_database(database: &Database) -> Result<CheckReport, StoreError> {
    let mut db = database.connect(Durability::Full)?;
    let mut checker = Checker::new();
    let mut accounts = Vec::new();
    let mut overlay = journal::Overlay::new();
    db.scan(&mut |t| checker.transfer(&t), &mut |a| accounts.push(a), &mut |row| journal::apply(row, &mut overlay))?;
    for a in &mut accounts {
        if let Some(b) = overlay.get(&a.id) {
            b.apply_to(a);
        }
        checker.account(a);
    }
    Ok(checker.finish())
}

/// Benchmark baseline on its own connection: inserts `rows` into a raw twin of the transfers table in
/// one durable transaction.
pub struct RawInserter {
    db: Box<dyn Backend>,
}

impl RawInserter {
    pub fn open(database: &Database, durability: Durability) -> Result<RawInserter, StoreError> {
        // Set up as the writer's connection is (background checkpoints), so the two compare fairly.
        let mut db = database.connect_writer(durability)?;
        db.drop_raw()?;
        Ok(RawInserter { db })
    }

    pub fn insert(&mut self, rows: &[Transfer]) -> Result<(), StoreError> {
        self.db.raw_insert(rows)
    }
}

impl Drop for RawInserter {
    fn drop(&mut self) {
        let _ = self.db.drop_raw();
    }
}
