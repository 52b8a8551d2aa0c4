//! The operator console (`/operator…`): pages for whoever runs the platform — merchants, users (masked),
//! transit gates and their alarms, notifications that keep failing, the ledger check, the sandbox clock.
//!
//! Logging in takes the admin token (`DATA_DIR/admin.token`, the admin API's), compared in constant
//! time. Wrong tokens are counted per client address (`proxy::client_addr`, an IPv6 /64 as one) in
//! `operator_guards`, in the same job that compares the token: the fifth wrong one locks the address out
//! for an hour, and a right one clears its count. Sessions are kept as the SHA-256 of their token
//! (`operator_sessions`, 12 hours), in a cookie of their own (`saoma_operator`: HttpOnly,
//! `SameSite=Strict`, path `/operator`, Secure when the public URL is https). Sessions and the lockout
//! run on real time, not the business clock: an operator moving the sandbox's clock a day ahead is not
//! logged out by it, and cannot wait out a lock by moving it.
//!
//! The pages only read, except the ledger check (run on demand where blocking is allowed, its result
//! kept in `ledger_checks` with its time) and the sandbox clock. What they show comes from each
//! capability's public functions (`merchants::list`, `users::newest`, `transit::admin::all_alarms`,
//! `notifications::admin::failing`, …), never from their tables. Full phone and card numbers never
//! reach these pages.

mod books;
mod pages;
mod problems;

use crate::App;
use saoma_store::{Row, StoreError};
use saoma_wechatpay::aead::random_string;
use saoma_wechatpay::digest::sha256_hex;
use std::net::IpAddr;

/// An operator's working day.
pub const SESSION_SECS: i64 = 12 * 3600;
/// Wrong tokens an address may send before it is locked out.
pub const MAX_FAILURES: i64 = 5;
pub const LOCK_SECS: i64 = 3600;
/// The longest token compared (the token is 40 characters; a longer guess is simply wrong).
const MAX_TOKEN_CHARS: usize = 256;

/// Real time in Unix seconds (sessions and the lockout; see the module doc).
fn now() -> i64 {
    crate::http::v3::auth::real_now()
}

/// Why a login was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// Not the admin token: `tries_left` before this address is locked out.
    WrongToken { tries_left: i64 },
    /// Too many wrong tokens from this address: until then (Unix seconds).
    Locked { until: i64 },
    Store(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Store(e.to_string())
    }
}

/// `a` and `b` equal, in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `given` against the admin token for a caller at `client`: a new session's token, or why not.
/// The address's lock, the comparison, the count and the session are one job: guesses sent at once are
/// each counted, and none is compared once the address is locked.
pub async fn login(app: &App, given: &str, client: IpAddr) -> Result<String, LoginError> {
    let addr = crate::users::login::address_key(client);
    let right = given.chars().count() <= MAX_TOKEN_CHARS && same_secret(given, &app.admin_token);
    let token = random_string(40).map_err(|e| StoreError::Io(e.to_string()))?;
    let token_hash = sha256_hex(token.as_bytes());
    let now = now();
    app.store
        .transact(move |tx| {
            let guard = tx.query_one("SELECT failures, locked_until FROM operator_guards WHERE client_addr = $1", &[addr.as_str().into()])?;
            let (failures, locked_until) = match guard {
                Some(r) => (r.int("failures")?, r.int("locked_until")?),
                None => (0, 0),
            };
            if locked_until > now {
                return Ok(Err(LoginError::Locked { until: locked_until }));
            }
            if !right {
                let failures = failures + 1;
                let (failures, locked_until) = if failures >= MAX_FAILURES { (0, now + LOCK_SECS) } else { (failures, 0) };
                tx.execute(
                    "INSERT INTO operator_guards (client_addr, failures, locked_until) VALUES ($1, $2, $3) \
                     ON CONFLICT (client_addr) DO UPDATE SET failures = $2, locked_until = $3",
                    &[addr.as_str().into(), failures.into(), locked_until.into()],
                )?;
                // Kept: the wrong token is counted.
                let refusal = if locked_until > 0 { LoginError::Locked { until: locked_until } } else { LoginError::WrongToken { tries_left: MAX_FAILURES - failures } };
                return Ok(Ok(Err(refusal)));
            }
            tx.execute("DELETE FROM operator_guards WHERE client_addr = $1", &[addr.as_str().into()])?;
            tx.execute("DELETE FROM operator_sessions WHERE expires_at <= $1", &[now.into()])?;
            tx.execute(
                "INSERT INTO operator_sessions (token_hash, client_addr, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[token_hash.into(), addr.into(), now.into(), (now + SESSION_SECS).into()],
            )?;
            Ok(Ok(Ok(token)))
        })
        .await?
        .and_then(|r| r)
}

/// Whether `token` names a live operator session (one statement).
pub fn session(app: &App, token: &str) -> Result<bool, StoreError> {
    let r = app.store.query_one("SELECT expires_at FROM operator_sessions WHERE token_hash = $1 AND expires_at > $2", &[sha256_hex(token.as_bytes()).into(), now().into()])?;
    Ok(r.is_some())
}

/// Ends an operator session.
pub async fn logout(app: &App, token: &str) -> Result<(), StoreError> {
    let token_hash = sha256_hex(token.as_bytes());
    app.store
        .transact(move |tx| {
            tx.execute("DELETE FROM operator_sessions WHERE token_hash = $1", &[token_hash.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("logout".into()))
}

/// One currency's sums, as decimal strings in minor units (they are 128-bit).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    pub currency: String,
    pub exponent: u32,
    pub debits_posted: String,
    pub credits_posted: String,
    pub debits_pending: String,
    pub credits_pending: String,
}

/// A run of the ledger check, as kept.
#[derive(Clone, Debug)]
pub struct LedgerCheck {
    /// Business seconds.
    pub checked_at: i64,
    pub clean: bool,
    pub accounts: i64,
    pub transfers: i64,
    pub pending_open: i64,
    pub totals: Vec<Totals>,
    pub violations: i64,
    /// The first few violations, one a line.
    pub sample: String,
}

/// Violations kept in words.
const SAMPLE: usize = 5;

/// Runs the ledger check (`saoma ledger check`'s, on its own connection, where blocking is allowed) and
/// keeps its result with the time.
pub async fn check_ledger(app: &App) -> Result<LedgerCheck, StoreError> {
    let report = crate::blocking(|| app.store.check())?;
    let totals = report
        .currencies
        .iter()
        .map(|(c, t)| Totals {
            currency: c.code().to_string(),
            exponent: c.exponent() as u32,
            debits_posted: t.debits_posted.to_string(),
            credits_posted: t.credits_posted.to_string(),
            debits_pending: t.debits_pending.to_string(),
            credits_pending: t.credits_pending.to_string(),
        })
        .collect();
    let sample = report.violations.iter().take(SAMPLE).map(|v| v.to_string()).collect::<Vec<_>>().join("\n");
    let check = LedgerCheck {
        checked_at: app.business_now_secs(),
        clean: report.is_clean(),
        accounts: report.accounts as i64,
        transfers: report.transfers as i64,
        pending_open: report.pending_open as i64,
        totals,
        violations: report.violations.len() as i64,
        sample,
    };
    let (id, kept) = (app.ids.next(), check.clone());
    let totals = serde_json::to_string(&kept.totals).map_err(|e| StoreError::Io(e.to_string()))?;
    app.store
        .transact(move |tx| {
            tx.execute(
                "INSERT INTO ledger_checks (id, checked_at, clean, accounts, transfers, pending_open, totals, violations, sample) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    id.into(),
                    kept.checked_at.into(),
                    (kept.clean as i64).into(),
                    kept.accounts.into(),
                    kept.transfers.into(),
                    kept.pending_open.into(),
                    totals.into(),
                    kept.violations.into(),
                    kept.sample.into(),
                ],
            )?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("ledger check".into()))?;
    Ok(check)
}

/// The newest kept run of the ledger check, if any.
pub fn last_ledger_check(app: &App) -> Result<Option<LedgerCheck>, StoreError> {
    let r = app.store.query_one(
        "SELECT checked_at, clean, accounts, transfers, pending_open, totals, violations, sample FROM ledger_checks ORDER BY id DESC LIMIT 1",
        &[],
    )?;
    r.map(|r| check_from_row(&r)).transpose()
}

fn check_from_row(r: &Row) -> Result<LedgerCheck, StoreError> {
    Ok(LedgerCheck {
        checked_at: r.int("checked_at")?,
        clean: r.int("clean")? != 0,
        accounts: r.int("accounts")?,
        transfers: r.int("transfers")?,
        pending_open: r.int("pending_open")?,
        totals: serde_json::from_str(r.text("totals")?).map_err(|e| StoreError::Corrupt(format!("ledger check totals: {e}")))?,
        violations: r.int("violations")?,
        sample: r.text("sample")?.to_string(),
    })
}

/// The operator console's pages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        pages: axum::Router::new()
            .route("/operator", get(pages::home))
            .route("/operator/login", get(pages::login_page).post(pages::login))
            .route("/operator/logout", post(pages::logout))
            .route("/operator/merchants", get(pages::merchants))
            .route("/operator/users", get(pages::users))
            .route("/operator/transit", get(problems::transit))
            .route("/operator/notifications", get(problems::notifications))
            .route("/operator/ledger", get(books::ledger).post(books::run_check))
            .route("/operator/clock", get(books::clock).post(books::advance)),
        ..Default::default()
    }
}
