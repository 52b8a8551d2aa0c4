//! The group-commit writer: one thread, one write connection, many commands per transaction.

use crate::job::{JobFn, JobHost, JobTx, Outcome};
use crate::schema::Dialect;
use crate::{journal, Backend, Clock, Meta, Metrics, StoreError, StoreOptions};
use saoma_ledger::{Account, AccountError, AccountId, Applied, Ledger, NewAccount, NewTransfer, Transfer, TransferError, TransferId, MAX_BATCH};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc, Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often an idle writer looks for pending transfers whose timeout has passed.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Most expiries handled in one transaction; the rest wait for the next.
const MAX_EXPIRIES: usize = 4096;

pub enum Command {
    CreateAccounts(Vec<NewAccount>),
    CreateTransfers(Vec<NewTransfer>),
    SetClosed(AccountId, bool),
    /// See job.rs. Taken (left `None`) when the writer runs it.
    Job(Option<JobFn>),
}

impl Command {
    fn events(&self) -> usize {
        match self {
            Command::CreateAccounts(v) => v.len(),
            Command::CreateTransfers(v) => v.len(),
            Command::SetClosed(..) | Command::Job(_) => 1,
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::CreateAccounts(v) => f.debug_tuple("CreateAccounts").field(v).finish(),
            Command::CreateTransfers(v) => f.debug_tuple("CreateTransfers").field(v).finish(),
            Command::SetClosed(id, c) => f.debug_tuple("SetClosed").field(id).field(c).finish(),
            Command::Job(_) => f.write_str("Job"),
        }
    }
}

pub enum Reply {
    Accounts(Vec<Result<Applied, AccountError>>),
    Transfers(Vec<Result<Applied, TransferError>>),
    Closed(Result<(), AccountError>),
    Job(Outcome),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Accounts(r) => f.debug_tuple("Accounts").field(r).finish(),
            Reply::Transfers(r) => f.debug_tuple("Transfers").field(r).finish(),
            Reply::Closed(r) => f.debug_tuple("Closed").field(r).finish(),
            Reply::Job(r) => write!(f, "Job({})", if r.is_ok() { "kept" } else { "refused" }),
        }
    }
}

/// Replies compare by content; a job's reply (an opaque value) equals nothing.
impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        match (self, other) {
            (Reply::Accounts(a), Reply::Accounts(b)) => a == b,
            (Reply::Transfers(a), Reply::Transfers(b)) => a == b,
            (Reply::Closed(a), Reply::Closed(b)) => a == b,
            _ => false,
        }
    }
}

/// The balances of accounts changed since the last checkpoint, as last committed: the writer's
/// overlay, shared with readers.
#[derive(Default)]
pub(crate) struct Published(RwLock<journal::Overlay>);

impl Published {
    pub fn read(&self) -> RwLockReadGuard<'_, journal::Overlay> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, journal::Overlay> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) struct Request {
    pub command: Command,
    pub reply: tokio::sync::oneshot::Sender<Result<Reply, StoreError>>,
}

pub(crate) fn spawn(
    db: Box<dyn Backend>,
    rx: mpsc::Receiver<Request>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    options: StoreOptions,
    published: Arc<Published>,
) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("ledger-writer".into())
        .spawn(move || {
            Writer {
                db,
                ledger: Ledger::new(),
                clock,
                metrics,
                options,
                buf_a: Vec::new(),
                buf_t: Vec::new(),
                cached_at: None,
                max_stored_id: None,
                overlay: journal::Overlay::new(),
                published,
                journal_rows: 0,
                journal_bytes: 0,
                last_checkpoint: Instant::now(),
                checkpoint_now: false,
                job_savepoint: JobSavepoint::None,
                earliest_due: None,
            }
            .run(rx)
        })
        .map_err(|e| StoreError::Io(format!("spawning the writer: {e}")))
}

pub(crate) struct Writer {
    db: Box<dyn Backend>,
    ledger: Ledger,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    options: StoreOptions,
    buf_a: Vec<saoma_ledger::Account>,
    buf_t: Vec<saoma_ledger::Transfer>,
    /// The `commit_seq` this writer last left in the database. While the database still shows it, no
    /// other writer has committed since, and the accounts held in `ledger` are current: they need not
    /// be read again. Any other value (another process wrote, or our commit failed) empties the cache.
    cached_at: Option<i64>,
    /// Highest transfer id stored when the group began: larger ids need no existence lookup.
    max_stored_id: Option<u128>,
    /// Balances of accounts changed since the last checkpoint (the journal, decoded): current, where
    /// their rows in `accounts` are not.
    overlay: journal::Overlay,
    /// The same, for readers; updated only after a commit.
    published: Arc<Published>,
    journal_rows: usize,
    journal_bytes: usize,
    last_checkpoint: Instant,
    /// Checkpoint at the next commit whatever the journal's size (shutdown).
    checkpoint_now: bool,
    /// Where the group's job savepoint stands (on PostgreSQL every statement is a round trip, so
    /// none is spent on a savepoint that is not needed).
    job_savepoint: JobSavepoint,
    /// The earliest timeout of a pending transfer, as far as this writer knows: `None` when it does
    /// not know (start, after another process committed, after expiring some), `Some(None)` when no
    /// pending transfer has one. While it is known and in the future, a group need not look for due
    /// transfers: one statement less per commit.
    earliest_due: Option<Option<i64>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JobSavepoint {
    /// None is open: the next job opens one.
    None,
    /// One is open and nothing was written under it (opened with the transaction, or rolled back
    /// to): the next job uses it as it is.
    Fresh,
    /// The last kept job's is open. It is released together with the next job's `SAVEPOINT` (one
    /// statement), or by the commit.
    Kept,
}

/// Accounts kept in the writer's cache at most; past this it starts afresh.
const MAX_CACHED_ACCOUNTS: usize = 1 << 20;

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut group: Vec<Request> = Vec::new();
        loop {
            match rx.recv_timeout(SWEEP_EVERY) {
                Ok(first) => {
                    let mut events = first.command.events();
                    group.push(first);
                    while events < self.options.max_group_events {
                        match rx.try_recv() {
                            Ok(r) => {
                                events += r.command.events();
                                group.push(r);
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            let started = Instant::now();
            match self.commit_group(&mut group) {
                Ok(replies) => {
                    self.metrics.observe_commit(started.elapsed().as_secs_f64());
                    for (req, reply) in group.drain(..).zip(replies) {
                        let _ = req.reply.send(reply);
                    }
                }
                Err(e) => {
                    // Nothing of this group was committed: tell every caller, so none takes it as done.
                    self.db.rollback();
                    self.cached_at = None;
                    self.ledger.clear();
                    self.metrics.commit_failures.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, requests = group.len(), "ledger commit failed");
                    for req in group.drain(..) {
                        let _ = req.reply.send(Err(e.clone()));
                    }
                }
            }
        }
        // Leave the accounts table current, so that a restart (or another process) replays nothing.
        if self.journal_rows > 0 || self.cached_at.is_none() {
            self.checkpoint_now = true;
            if let Err(e) = self.commit_group(&mut []) {
                self.db.rollback();
                tracing::warn!(error = %e, "final checkpoint failed; the journal stays and is replayed at the next start");
            }
        }
        tracing::debug!("ledger writer stopped");
    }

    fn load_accounts(&mut self, ids: &[AccountId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.buf_a.clear();
        self.db.load_accounts(ids, &mut self.buf_a)?;
        for mut a in self.buf_a.drain(..) {
            if let Some(b) = self.overlay.get(&a.id) {
                b.apply_to(&mut a);
            }
            self.ledger.load_account(a);
        }
        Ok(())
    }

    fn load_transfers(&mut self, ids: &[saoma_ledger::TransferId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.buf_t.clear();
        self.db.load_transfers(ids, &mut self.buf_t)?;
        for t in self.buf_t.drain(..) {
            self.ledger.load_transfer(t);
        }
        Ok(())
    }

    /// Runs a job inside a database savepoint and a ledger savepoint: a refusal undoes both.
    fn run_job(&mut self, job: JobFn, now: i64) -> Result<Outcome, StoreError> {
        match self.job_savepoint {
            JobSavepoint::Kept => self.db.release_and_savepoint()?,
            JobSavepoint::None => self.db.savepoint()?,
            JobSavepoint::Fresh => {}
        }
        self.job_savepoint = JobSavepoint::Kept;
        let sp = self.ledger.savepoint();
        let outcome = job(&mut JobTx { host: self, now });
        match outcome {
            Ok(Ok(v)) => {
                // What the job wrote stays; its savepoint is released lazily (see JobSavepoint::Kept).
                self.ledger.release(sp);
                Ok(Ok(v))
            }
            Ok(Err(refusal)) => {
                self.ledger.rollback(sp);
                // Rolled back to, the savepoint stays open, as it was when the job began.
                self.db.rollback_to_savepoint()?;
                self.job_savepoint = JobSavepoint::Fresh;
                Ok(Err(refusal))
            }
            Err(e) => {
                // The group fails as a whole; the writer empties its working set.
                self.ledger.rollback(sp);
                Err(e)
            }
        }
    }

    /// Reads the balance journal (inside the write transaction, so it is current) into the overlay.
    fn reload_overlay(&mut self) -> Result<(), StoreError> {
        let mut rows = Vec::new();
        self.db.load_journal(&mut rows)?;
        self.overlay.clear();
        for r in &rows {
            journal::apply(r, &mut self.overlay)?;
        }
        self.journal_rows = rows.len();
        self.journal_bytes = rows.iter().map(|r| r.len()).sum();
        *self.published.write() = self.overlay.clone();
        Ok(())
    }

    /// One database transaction: expiries, then every command in order. Returns one reply per request.
    fn commit_group(&mut self, group: &mut [Request]) -> Result<Vec<Result<Reply, StoreError>>, StoreError> {
        let now = self.clock.now();
        // A group with a job opens the first job's savepoint with the transaction.
        let has_job = group.iter().any(|r| matches!(r.command, Command::Job(_)));
        let (meta, max_id) = self.db.begin_write(has_job)?;
        self.job_savepoint = if has_job { JobSavepoint::Fresh } else { JobSavepoint::None };
        if self.cached_at != Some(meta.commit_seq) {
            // Another writer committed (or ours failed): what we hold may be stale.
            self.ledger.clear();
            self.earliest_due = None;
            self.reload_overlay()?;
        } else if self.ledger.account_count() > MAX_CACHED_ACCOUNTS {
            self.ledger.clear();
        } else {
            self.ledger.clear_transfers();
        }
        self.cached_at = None;
        self.max_stored_id = max_id;
        self.ledger.set_last_timestamp(meta.last_ts);

        self.buf_t.clear();
        let look = match self.earliest_due {
            None => true,
            Some(None) => false,
            Some(Some(t)) => t <= now,
        };
        if look {
            self.db.load_due(now, MAX_EXPIRIES, &mut self.buf_t)?;
            self.earliest_due = if self.buf_t.is_empty() { Some(self.db.earliest_due()?) } else { None };
        }
        if !self.buf_t.is_empty() {
            let mut accounts = Vec::with_capacity(self.buf_t.len() * 2);
            for t in self.buf_t.drain(..) {
                accounts.push(t.debit_account_id);
                accounts.push(t.credit_account_id);
                self.ledger.load_transfer(t);
            }
            accounts.sort();
            accounts.dedup();
            self.load_accounts(&accounts)?;
            let n = self.ledger.expire_due(now);
            self.metrics.pending_expired.fetch_add(n as u64, Relaxed);
        }

        let mut replies = Vec::with_capacity(group.len());
        // A kept job may have written rows without moving money: the group must commit then too.
        let mut jobs_kept = false;
        for req in group.iter_mut() {
            self.metrics.requests.fetch_add(1, Relaxed);
            let reply = match &mut req.command {
                Command::CreateAccounts(v) => self.create_accounts(v, now).map(Reply::Accounts),
                Command::CreateTransfers(v) => match self.create_transfers(v, now) {
                    Ok(r) => Ok(Reply::Transfers(r)),
                    // A refused batch is this caller's answer, not a failure of the group.
                    Err(e @ StoreError::Batch(_)) => Err(e),
                    Err(e) => return Err(e),
                },
                Command::SetClosed(id, closed) => {
                    if self.ledger.account(*id).is_none() {
                        self.load_accounts(&[*id])?;
                    }
                    Ok(Reply::Closed(self.ledger.set_closed(*id, *closed)))
                }
                Command::Job(job) => {
                    let job = job.take().ok_or_else(|| StoreError::Corrupt("job run twice".into()))?;
                    let outcome = self.run_job(job, now)?;
                    jobs_kept |= outcome.is_ok();
                    Ok(Reply::Job(outcome))
                }
            };
            replies.push(reply);
        }

        let changes = self.ledger.take_changes();
        // Pending transfers made now may time out before what was known; the earliest stays a lower
        // bound (a posted or voided one only makes the next look early).
        if let Some(known) = self.earliest_due {
            let mut earliest = known;
            for t in changes.new_transfers.iter().filter_map(|id| self.ledger.transfer(*id)) {
                if let Some(at) = t.expires_at() {
                    earliest = Some(earliest.map_or(at, |e: i64| e.min(at)));
                }
            }
            self.earliest_due = Some(earliest);
        }
        let checkpoint_due = self.journal_rows > 0 && (self.checkpoint_now || self.last_checkpoint.elapsed() >= self.options.checkpoint.every);
        if changes.is_empty() && !checkpoint_due && !jobs_kept {
            // Replays and refusals only: nothing to make durable.
            self.db.rollback();
            self.cached_at = Some(meta.commit_seq);
            return Ok(replies);
        }
        let seq = meta.commit_seq + 1;
        self.db.write(&self.ledger, &changes, Meta { last_ts: self.ledger.last_timestamp(), commit_seq: seq })?;
        // New accounts go into `accounts` whole; changes to existing ones into the journal.
        let new: std::collections::HashSet<&AccountId> = changes.new_accounts.iter().collect();
        let created: Vec<&Account> = changes.new_accounts.iter().filter_map(|id| self.ledger.account(*id)).collect();
        self.db.insert_accounts(&created)?;
        let mut changed: Vec<&Account> = Vec::with_capacity(changes.accounts.len());
        for id in changes.accounts.iter().filter(|id| !new.contains(id)) {
            changed.push(self.ledger.account(*id).ok_or_else(|| StoreError::Corrupt("changed account missing".into()))?);
        }
        let row = if changed.is_empty() { Vec::new() } else { journal::encode(changed.iter().copied()) };
        let checkpoint = checkpoint_due
            || self.journal_bytes + row.len() > self.options.checkpoint.max_bytes
            || self.journal_rows >= self.options.checkpoint.max_rows;
        // The overlay runs ahead of the database until the commit; if the commit fails, the next group
        // reloads it from the journal (cached_at is None until then).
        let fresh: Vec<(AccountId, journal::Balances)> = changed.iter().map(|a| (a.id, journal::Balances::of(a))).collect();
        self.overlay.extend(fresh.iter().copied());
        if checkpoint {
            let all: Vec<(AccountId, journal::Balances)> = self.overlay.iter().map(|(id, b)| (*id, *b)).collect();
            self.db.checkpoint(&all)?;
        } else if !row.is_empty() {
            self.db.append_journal(seq, &row)?;
        }
        self.db.commit()?;
        self.cached_at = Some(seq);
        self.metrics.commits.fetch_add(1, Relaxed);
        if checkpoint {
            self.overlay.clear();
            self.published.write().clear();
            self.journal_rows = 0;
            self.journal_bytes = 0;
            self.last_checkpoint = Instant::now();
            self.metrics.checkpoints.fetch_add(1, Relaxed);
        } else if !row.is_empty() {
            self.journal_rows += 1;
            self.journal_bytes += row.len();
            self.metrics.journal_appends.fetch_add(1, Relaxed);
            self.published.write().extend(fresh);
        }
        Ok(replies)
    }
}

/// Jobs reach the writer only through this (see job.rs); the writer's own commands use the same
/// `create_accounts` and `create_transfers`.
impl JobHost for Writer {
    fn backend(&mut self) -> &mut dyn Backend {
        &mut *self.db
    }

    fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    fn create_accounts(&mut self, v: &[NewAccount], now: i64) -> Result<Vec<Result<Applied, AccountError>>, StoreError> {
        let ids: Vec<AccountId> = v.iter().map(|a| a.id).filter(|id| id.0 != 0 && self.ledger.account(*id).is_none()).collect();
        self.load_accounts(&ids)?;
        let r = self.ledger.create_accounts(v, now);
        self.metrics.accounts_created.fetch_add(r.iter().filter(|r| r.is_ok_and(|a| !a.replay)).count() as u64, Relaxed);
        Ok(r)
    }

    fn create_transfers(&mut self, v: &[NewTransfer], now: i64) -> Result<Vec<Result<Applied, TransferError>>, StoreError> {
        if v.len() > MAX_BATCH {
            return Err(StoreError::Batch(saoma_ledger::BatchError::TooLarge { len: v.len(), max: MAX_BATCH }));
        }
        let mut tids = self.ledger.missing_transfers(v);
        // Ids above the highest stored one cannot be in the database (the ones this group created are
        // in memory already).
        let max = self.max_stored_id;
        tids.retain(|id| max.is_some_and(|m| id.0 <= m));
        self.load_transfers(&tids)?;
        let aids = self.ledger.missing_accounts(v);
        self.load_accounts(&aids)?;
        let r = self.ledger.create_transfers(v, now).map_err(StoreError::Batch)?;
        let ok = r.iter().filter(|r| r.is_ok()).count() as u64;
        self.metrics.transfers_applied.fetch_add(ok, Relaxed);
        self.metrics.transfers_refused.fetch_add(r.len() as u64 - ok, Relaxed);
        Ok(r)
    }

    fn working_account(&mut self, id: AccountId) -> Result<Option<Account>, StoreError> {
        if self.ledger.account(id).is_none() {
            self.load_accounts(&[id])?;
        }
        Ok(self.ledger.account(id).copied())
    }

    fn working_transfer(&mut self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        if self.ledger.transfer(id).is_none() && self.max_stored_id.is_some_and(|m| id.0 <= m) {
            self.load_transfers(&[id])?;
        }
        Ok(self.ledger.transfer(id).copied())
    }
}
