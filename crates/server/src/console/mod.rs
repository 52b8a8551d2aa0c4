//! The merchant console: staff, roles, the shop's takings.
//!
//! A merchant's staff (`staff`: phone, name, role, their own argon2 password) are created by the
//! operator (`admin.rs`) or by a manager in the console (`pages.rs`). A phone is staff of one merchant.
//!
//! Logging in takes two factors, each a step: the phone's SMS code (the wallet's code sending, limits
//! and lock, `users::login`, with a purpose of its own, `console`, so a console code never opens a
//! wallet nor the other way round), which opens a session at stage `password`; then the staff member's
//! password, which replaces it with a `live` session (a new token: the one that only proved the phone
//! stops working). Wrong passwords are counted as PIN tries are (`saoma_core::pin`: a try reserved under
//! the writer before argon2 runs outside it, settled after; the fifth wrong one locks the console for
//! three hours), in the staff row, so the count survives restarts and guesses sent at once run argon2
//! at most as many times as there are tries left. Sessions are kept as the SHA-256 of their token, in a
//! cookie of their own (`saoma_console`, `SameSite=Strict`, path `/console`), apart from the wallet's.
//!
//! Roles: a `cashier` sees the takings and an order's page; a `manager` also searches the orders,
//! refunds (`order.rs`, confirmed by their password: [`confirm_password`], the login's tries), downloads
//! bills (`bills.rs`), sets the API settings (`settings.rs`), adds cashiers and ends their sessions or
//! removes them ([`manage_cashier`]); managers are the operator's to add. Orders are read through
//! `payments::orders`, refunds made through `refunds`, never by SQL here.

mod admin;
mod bills;
mod live;
mod order;
mod pages;
mod settings;
mod stand;

/// For the console pages of other capabilities (the shop's products and inbox): the page shell with the
/// console's tabs, and the managers' session check.
pub(crate) use pages::{console_page, manager};

use crate::users::login::{self as sms_login, Purpose};
use crate::users::UserError;
use crate::App;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use saoma_core::pin::{self, Outcome, Refusal, Tries};
use saoma_store::{JobTx, Row, StoreError, NANOS_PER_SEC};
use saoma_wechatpay::aead::random_string;
use saoma_wechatpay::digest::sha256_hex;
use std::net::IpAddr;

/// Between the SMS code and the password.
const PASSWORD_STAGE_SECS: i64 = 10 * 60;
/// A console left open at the till for a working day.
const SESSION_SECS: i64 = 12 * 3600;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Manager,
    Cashier,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Cashier => "cashier",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "manager" => Some(Role::Manager),
            "cashier" => Some(Role::Cashier),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Staff {
    pub id: u128,
    pub mchid: String,
    pub phone: String,
    pub name: String,
    pub role: Role,
}

const COLUMNS: &str = "id, mchid, phone, name, role";

fn from_row(r: &Row) -> Result<Staff, StoreError> {
    Ok(Staff {
        id: r.id("id")?,
        mchid: r.text("mchid")?.to_string(),
        phone: r.text("phone")?.to_string(),
        name: r.text("name")?.to_string(),
        role: Role::parse(r.text("role")?).ok_or_else(|| StoreError::Corrupt("staff role".into()))?,
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffError {
    BadPhone,
    BadName,
    BadRole,
    /// Shorter than [`MIN_PASSWORD_CHARS`] or longer than [`MAX_PASSWORD_CHARS`].
    BadPassword,
    NoSuchMerchant,
    PhoneTaken,
    Store(String),
}

impl From<StoreError> for StaffError {
    fn from(e: StoreError) -> Self {
        StaffError::Store(e.to_string())
    }
}

/// Adds a staff member to the merchant `mchid`.
pub async fn create(app: &App, mchid: &str, phone: &str, name: &str, role: &str, password: &str) -> Result<Staff, StaffError> {
    let Some(phone) = crate::users::canonical_phone(phone) else { return Err(StaffError::BadPhone) };
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(StaffError::BadName);
    }
    let Some(role) = Role::parse(role) else { return Err(StaffError::BadRole) };
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count()) {
        return Err(StaffError::BadPassword);
    }
    let salt = random_string(16).map_err(|e| StoreError::Io(e.to_string()))?;
    let salt = SaltString::encode_b64(salt.as_bytes()).map_err(|e| StoreError::Io(e.to_string()))?;
    let hash = crate::blocking(|| Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())).map_err(|e| StoreError::Io(e.to_string()))?;
    let staff = Staff { id: app.ids.next(), mchid: mchid.to_string(), phone, name, role };
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            if !crate::merchants::exists_in_job(tx, &staff.mchid)? {
                return Ok(Err(StaffError::NoSuchMerchant));
            }
            if tx.query_one("SELECT id FROM staff WHERE phone = $1", &[staff.phone.as_str().into()])?.is_some() {
                return Ok(Err(StaffError::PhoneTaken));
            }
            tx.execute(
                "INSERT INTO staff (id, mchid, phone, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[staff.id.into(), staff.mchid.as_str().into(), staff.phone.as_str().into(), staff.name.as_str().into(), staff.role.as_str().into(), hash.into(), now.into()],
            )?;
            Ok(Ok(staff))
        })
        .await?
}

/// The merchant's staff, by name.
pub fn of_merchant(app: &App, mchid: &str) -> Result<Vec<Staff>, StoreError> {
    app.store.query(&format!("SELECT {COLUMNS} FROM staff WHERE mchid = $1 ORDER BY name, phone"), &[mchid.into()])?.iter().map(from_row).collect()
}

/// Why a manager may not act on a staff member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManageError {
    /// Not a cashier of the manager's shop (another shop's, a manager, themselves, or gone).
    NotYours,
    Store(String),
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        ManageError::Store(e.to_string())
    }
}

/// Ends every session of `staff_id` — a cashier of `manager`'s shop — and, with `remove`, removes them
/// from the staff; one job, so a removed cashier has no session left at any moment. Their name.
pub async fn manage_cashier(app: &App, manager: &Staff, staff_id: u128, remove: bool) -> Result<String, ManageError> {
    let (mchid, me) = (manager.mchid.clone(), manager.id);
    app.store
        .transact(move |tx| {
            // Who the manager is must still hold (a removed or demoted manager acts on nobody).
            let still = tx.query_one("SELECT role FROM staff WHERE id = $1 AND mchid = $2", &[me.into(), mchid.as_str().into()])?;
            if still.map(|r| r.text("role").map(|t| t == Role::Manager.as_str())).transpose()? != Some(true) {
                return Ok(Err(ManageError::NotYours));
            }
            let sql = format!("SELECT {COLUMNS} FROM staff WHERE id = $1 AND mchid = $2");
            let Some(r) = tx.query_one(&sql, &[staff_id.into(), mchid.as_str().into()])? else {
                return Ok(Err(ManageError::NotYours));
            };
            let target = from_row(&r)?;
            if target.role != Role::Cashier || target.id == me {
                return Ok(Err(ManageError::NotYours));
            }
            tx.execute("DELETE FROM console_sessions WHERE staff_id = $1", &[staff_id.into()])?;
            if remove {
                tx.execute("DELETE FROM staff WHERE id = $1", &[staff_id.into()])?;
            }
            Ok(Ok(target.name))
        })
        .await?
}

/// Why a login step was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginError {
    /// The SMS code step (a wrong code, the limits, the lock): as the wallet's login says it.
    Code(UserError),
    /// A right code for a phone that is nobody's staff.
    NotStaff,
    WrongPassword { tries_left: i64 },
    Locked { until: i64 },
    /// Every try left is being checked right now (guesses sent at once).
    Busy,
    /// The session of the first step is gone (expired, logged out, used).
    SessionGone,
    Store(String),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Store(e.to_string())
    }
}

impl From<UserError> for LoginError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Store(e) => e.into(),
            e => LoginError::Code(e),
        }
    }
}

/// Texts a console login code to `phone` (the wallet's limits, counted in one job).
pub async fn send_code(app: &App, phone: &str, client: IpAddr) -> Result<(), LoginError> {
    Ok(sms_login::send_code_for(app, phone.replace([' ', '-'], ""), Purpose::Console, client).await?)
}

fn new_token() -> Result<(String, String), StoreError> {
    let token = random_string(40).map_err(|e| StoreError::Io(e.to_string()))?;
    let hash = sha256_hex(token.as_bytes());
    Ok((token, hash))
}

fn secs(tx: &JobTx<'_>) -> i64 {
    tx.now().div_euclid(NANOS_PER_SEC)
}

/// The first step: the phone's console code for a session at stage `password`.
pub async fn code_step(app: &App, phone: &str, code: &str, client: IpAddr) -> Result<String, LoginError> {
    let Some(phone) = crate::users::canonical_phone(&phone.replace([' ', '-'], "")) else { return Err(LoginError::Code(UserError::BadPhone)) };
    let (addr, per_address) = (sms_login::address_key(client), app.config.sms_per_address_per_hour);
    let (token, token_hash) = new_token()?;
    let code = code.to_string();
    app.store
        .transact(move |tx| {
            let now = secs(tx);
            let sms = match sms_login::check_code_in_job(tx, &phone, Purpose::Console, &code, &addr, per_address, now)? {
                Ok(sms) => sms,
                // Kept: a wrong code is counted (a refusal before the check wrote nothing).
                Err(e) => return Ok(Ok(Err(e.into()))),
            };
            let Some(staff) = tx.query_one("SELECT id FROM staff WHERE phone = $1", &[phone.as_str().into()])? else {
                return Ok(Err(LoginError::NotStaff));
            };
            sms_login::code_used_in_job(tx, sms, &phone, now)?;
            tx.execute(
                "INSERT INTO console_sessions (token_hash, staff_id, stage, expires_at) VALUES ($1, $2, 'password', $3)",
                &[token_hash.into(), staff.id("id")?.into(), (now + PASSWORD_STAGE_SECS).into()],
            )?;
            Ok(Ok(Ok(token)))
        })
        .await?
        .and_then(|r| r)
}

/// Where a console session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The phone is proved; the password is still to come.
    Password,
    Live,
}

/// The staff member of a session token and its stage, if it is live (one statement).
pub fn session(app: &App, token: &str) -> Result<Option<(Staff, Stage)>, StoreError> {
    let sql = format!(
        "SELECT {}, c.stage FROM console_sessions c JOIN staff s ON s.id = c.staff_id WHERE c.token_hash = $1 AND c.expires_at > $2",
        crate::app::qualified_columns("s", COLUMNS)
    );
    let Some(r) = app.store.query_one(&sql, &[sha256_hex(token.as_bytes()).into(), app.business_now_secs().into()])? else { return Ok(None) };
    let stage = if r.text("stage")? == "live" { Stage::Live } else { Stage::Password };
    Ok(Some((from_row(&r)?, stage)))
}

const TRIES_COLUMNS: &str = "password_hash, password_failures, password_locked_until, password_in_flight, password_in_flight_until";

fn tries_in_job(tx: &mut JobTx<'_>, staff: u128) -> Result<(String, Tries), StoreError> {
    let r = tx.query_one(&format!("SELECT {TRIES_COLUMNS} FROM staff WHERE id = $1"), &[staff.into()])?.ok_or_else(|| StoreError::Corrupt("staff vanished".into()))?;
    Ok((
        r.text("password_hash")?.to_string(),
        Tries {
            failures: r.int("password_failures")?,
            locked_until: r.int("password_locked_until")?,
            in_flight: r.int("password_in_flight")?,
            in_flight_until: r.int("password_in_flight_until")?,
        },
    ))
}

fn write_tries(tx: &mut JobTx<'_>, staff: u128, t: Tries) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE staff SET password_failures = $1, password_locked_until = $2, password_in_flight = $3, password_in_flight_until = $4 WHERE id = $5",
        &[t.failures.into(), t.locked_until.into(), t.in_flight.into(), t.in_flight_until.into(), staff.into()],
    )?;
    Ok(())
}

/// Reserves a password try for `staff_id` under the writer (`pin::reserve`): the stored hash to check
/// against, or why no try may be made now.
async fn reserve_try(app: &App, staff_id: u128) -> Result<String, LoginError> {
    app.store
        .transact(move |tx| {
            let now = secs(tx);
            let (hash, tries) = tries_in_job(tx, staff_id)?;
            let (t, reserved) = pin::reserve(tries, now);
            write_tries(tx, staff_id, t)?;
            Ok(Ok::<_, ()>(match reserved {
                Ok(()) => Ok(hash),
                Err(Refusal::Locked { until }) => Err(LoginError::Locked { until }),
                Err(Refusal::AllInFlight) => Err(LoginError::Busy),
            }))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("password".into()))?
}

/// Whether `password` is the one `hash` was made from (argon2, off the async workers).
fn password_matches(hash: &str, password: &str) -> bool {
    password.chars().count() <= MAX_PASSWORD_CHARS
        && crate::blocking(|| PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()))
}

/// Inside a job: settles the try reserved by [`reserve_try`] (`pin::settle`); the refusal when wrong.
fn settle_try(tx: &mut JobTx<'_>, staff_id: u128, right: bool) -> Result<Result<(), LoginError>, StoreError> {
    let now = secs(tx);
    let (_, tries) = tries_in_job(tx, staff_id)?;
    let (t, outcome) = pin::settle(tries, right, now);
    write_tries(tx, staff_id, t)?;
    Ok(match outcome {
        Outcome::Right => Ok(()),
        Outcome::Wrong { tries_left } => Err(LoginError::WrongPassword { tries_left }),
        Outcome::Locked { until } => Err(LoginError::Locked { until }),
    })
}

/// The second step: the password of the staff member whose `password`-stage session `token` is. A
/// right password replaces the session by a live one (its new token returned), in the job that settles
/// the try; a wrong one is counted, the fifth locks.
pub async fn password_step(app: &App, token: &str, staff: &Staff, password: &str) -> Result<String, LoginError> {
    let staff_id = staff.id;
    let old_hash = sha256_hex(token.as_bytes());
    let hash = reserve_try(app, staff_id).await?;
    // Nothing awaits from here to the settling job's submission (as `users::pins::verify`): a dropped
    // request leaves its try to lapse, counted as wrong.
    let right = password_matches(&hash, password);
    let (token, token_hash) = new_token()?;
    app.store
        .transact(move |tx| {
            let now = secs(tx);
            match settle_try(tx, staff_id, right)? {
                Ok(()) => {}
                Err(e @ LoginError::Locked { .. }) => {
                    // A lock ends the sessions waiting for this password.
                    tx.execute("DELETE FROM console_sessions WHERE staff_id = $1 AND stage = 'password'", &[staff_id.into()])?;
                    return Ok(Ok(Err(e)));
                }
                Err(e) => return Ok(Ok(Err(e))),
            }
            let gone = tx.execute("DELETE FROM console_sessions WHERE token_hash = $1 AND staff_id = $2 AND stage = 'password' AND expires_at > $3", &[old_hash.into(), staff_id.into(), now.into()])?;
            if gone == 0 {
                return Ok(Ok(Err(LoginError::SessionGone)));
            }
            tx.execute("INSERT INTO console_sessions (token_hash, staff_id, stage, expires_at) VALUES ($1, $2, 'live', $3)", &[token_hash.into(), staff_id.into(), (now + SESSION_SECS).into()])?;
            Ok(Ok(Ok(token)))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("password".into()))?
}

/// A live staff member confirms a sensitive act (a refund) with their own password: the login's tries,
/// counted in the same staff row (a wrong one here counts toward the same lock). The fifth wrong one
/// locks the console and ends every session of theirs, the live ones too.
pub async fn confirm_password(app: &App, staff: &Staff, password: &str) -> Result<(), LoginError> {
    let staff_id = staff.id;
    let hash = reserve_try(app, staff_id).await?;
    // As in `password_step`: nothing awaits between the check and the settling job's submission.
    let right = password_matches(&hash, password);
    app.store
        .transact(move |tx| {
            let r = settle_try(tx, staff_id, right)?;
            if let Err(LoginError::Locked { .. }) = r {
                tx.execute("DELETE FROM console_sessions WHERE staff_id = $1", &[staff_id.into()])?;
            }
            Ok(Ok::<_, ()>(r))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("password".into()))?
}

/// Ends a console session (either stage).
pub async fn logout(app: &App, token: &str) -> Result<(), StoreError> {
    let token_hash = sha256_hex(token.as_bytes());
    app.store
        .transact(move |tx| {
            tx.execute("DELETE FROM console_sessions WHERE token_hash = $1", &[token_hash.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("logout".into()))
}

/// The console's pages and events, and the operators' staff creation.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        admin: axum::Router::new().route("/admin/merchants/:mchid/staff", post(admin::create_staff)),
        pages: axum::Router::new()
            .route("/console", get(live::home))
            .route("/console/sms", post(pages::send_code))
            .route("/console/login", post(pages::login))
            .route("/console/password", post(pages::password))
            .route("/console/logout", post(pages::logout))
            .route("/console/events", get(live::events))
            .route("/console/orders", get(pages::orders))
            .route("/console/orders/:no", get(order::show))
            .route("/console/orders/:no/refund", post(order::refund))
            .route("/console/staff", get(pages::staff).post(pages::add_staff))
            .route("/console/staff/:action", post(pages::manage_staff))
            .route("/console/bills", get(bills::page))
            .route("/console/settings", get(settings::page).post(settings::save))
            .route("/console/settings/key", post(settings::rotate_key))
            .route("/console/bills/:which", get(bills::download))
            .route("/console/stand", get(stand::page))
            .route("/console/stand.pdf", get(stand::pdf_file))
            .route("/static/stand.js", get(stand::stand_js))
            .route("/static/console.js", get(live::console_js)),
        ..Default::default()
    }
}
