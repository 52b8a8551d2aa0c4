//! Users and their wallets: registration by phone (login by SMS code and sessions are `login.rs`), the
//! SMS outbox (there is no gateway), the payment PIN (argon2; five wrong tries lock PIN payments for
//! three hours), openids per app, and the CNY wallet — a no-overdraft ledger account.
//!
//! Here: users, wallets, openids and the SMS outbox (`mod.rs`); `login.rs` codes, limits and sessions;
//! `pins.rs` the one way a PIN is checked; `wallet.rs` the wallet API's login, balance, history and PIN
//! state; `admin.rs` user creation and the SMS outbox for operators; `pages.rs` the login pages.
//!
//! Invariants: one wallet per phone (its canonical spelling); a wallet never goes below zero (the ledger
//! account's flag); every login limit and PIN try is a row counted in the job that checks it; sessions
//! are stored only as hashes. Other capabilities read a user through `in_job`, `by_openid_in_job`,
//! `wallet_in_job` and the join fragments here, never through the tables.

mod admin;
pub mod history;
pub mod home;
pub mod login;
mod me;
mod pages;
pub mod pins;
mod wallet;

pub use pages::login_card;
pub use wallet::user_error;

use crate::platform::accounts::{kind, movement, BANK_CLEARING_CNY};
use crate::App;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use saoma_core::pin;
use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount, NewTransfer};
use saoma_store::{JobTx, Row, StoreError};
use saoma_wechatpay::aead::random_string;

/// Above this a payment needs the PIN (1,000 CNY, WeChat Pay's default), in fen.
pub const DEFAULT_PASSWORD_FREE_LIMIT: i64 = 100_000;

#[derive(Clone, Debug)]
pub struct User {
    pub id: u128,
    pub phone: String,
    pub pin_hash: Option<String>,
    pub pin_failures: i64,
    pub pin_locked_until: i64,
    pub password_free_limit: i64,
    pub wallet: AccountId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserError {
    BadPhone,
    BadPin,
    BadBalance,
    PhoneTaken,
    NoSuchUser,
    /// A wrong, used, retired or expired code; counted against the phone. `locked_until` (business
    /// seconds) is set when this was the wrong code that locked the phone's login.
    BadCode { tries_left: i64, locked_until: i64 },
    /// Too many codes asked for (this phone, or this client address): try again in `retry_after` seconds.
    FrequencyLimited { retry_after: i64 },
    /// Too many wrong codes: the phone's login is locked until then (business seconds).
    LoginLocked { until: i64, retry_after: i64 },
    /// A code for setting the PIN was asked for a wallet that has one (it is changed with the old PIN).
    PinSet,
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Store(e)
    }
}

pub(crate) const COLUMNS: &str = "id, phone, pin_hash, pin_failures, pin_locked_until, password_free_limit, wallet_account";

pub(crate) fn from_row(r: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: r.id("id")?,
        phone: r.text("phone")?.to_string(),
        pin_hash: r.opt_text("pin_hash")?.map(str::to_string),
        pin_failures: r.int("pin_failures")?,
        pin_locked_until: r.int("pin_locked_until")?,
        password_free_limit: r.int("password_free_limit")?,
        wallet: AccountId(r.id("wallet_account")?),
    })
}

/// What [`valid_phone`] accepts, for error messages.
pub const PHONE_RULE: &str = "phone must be a mainland mobile number (11 digits, 13x–19x) or E.164 (+ then 8–15 digits, not starting with 0)";

/// A mainland China mobile number (`1[3-9]` and 9 more digits) or an E.164 number (`+`, then 8–15
/// digits, the first not 0). Nothing else reaches the SMS outbox or the login counters.
pub fn valid_phone(p: &str) -> bool {
    let b = p.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b {
        [b'+', first, rest @ ..] => (b'1'..=b'9').contains(first) && (7..=14).contains(&rest.len()) && digits(rest),
        [b'1', second, rest @ ..] => (b'3'..=b'9').contains(second) && rest.len() == 9 && digits(rest),
        _ => false,
    }
}

/// The one spelling of a valid phone: a mainland mobile number written `+86…` is its 11 digits (one
/// handset, one wallet, one set of SMS limits); other numbers as given. `None` for an invalid one.
pub fn canonical_phone(p: &str) -> Option<String> {
    if !valid_phone(p) {
        return None;
    }
    match p.strip_prefix("+86") {
        Some(mainland) if mainland.starts_with('1') && valid_phone(mainland) => Some(mainland.to_string()),
        _ => Some(p.to_string()),
    }
}

pub fn hash_pin(pin: &str) -> Result<String, UserError> {
    if !pin::valid_format(pin) {
        return Err(UserError::BadPin);
    }
    let salt = SaltString::encode_b64(random_string(16).map_err(|e| StoreError::Io(e.to_string()))?.as_bytes()).map_err(|e| StoreError::Io(e.to_string()))?;
    Ok(Argon2::default().hash_password(pin.as_bytes(), &salt).map_err(|e| StoreError::Io(e.to_string()))?.to_string())
}

/// Checks a PIN against its hash (slow on purpose: run it outside the writer).
pub fn pin_matches(hash: &str, pin: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pin.as_bytes(), &h).is_ok())
}

pub fn by_phone(app: &App, phone: &str) -> Result<Option<User>, StoreError> {
    app.store.query_one(&format!("SELECT {COLUMNS} FROM users WHERE phone = $1"), &[phone.into()])?.map(|r| from_row(&r)).transpose()
}

/// Users, newest first (at most `limit`): the operator console's list.
pub fn newest(app: &App, limit: i64) -> Result<Vec<User>, StoreError> {
    app.store.query(&format!("SELECT {COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT $1"), &[limit.into()])?.iter().map(from_row).collect()
}

pub fn in_job(tx: &mut JobTx<'_>, id: u128) -> Result<Option<User>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"), &[id.into()])?.map(|r| from_row(&r)).transpose()
}

/// Registers a user with a wallet, topped up with `balance` fen from the (simulated) bank.
pub async fn create(app: &App, phone: String, pin: Option<String>, balance: i64) -> Result<User, UserError> {
    let Some(phone) = canonical_phone(&phone) else { return Err(UserError::BadPhone) };
    if balance < 0 || balance > saoma_core::order::MAX_TOTAL * 100 {
        return Err(UserError::BadBalance);
    }
    let pin_hash = pin.as_deref().map(hash_pin).transpose()?;
    let ids = NewUserIds::new(app);
    let now = app.business_now_secs();
    app.store.transact(move |tx| create_in_job(tx, ids, phone, pin_hash, balance, now)).await?
}

/// The ids a new user takes (made before the job, as every id is).
#[derive(Clone, Copy)]
pub struct NewUserIds {
    id: u128,
    wallet: AccountId,
    topup: u128,
}

impl NewUserIds {
    pub fn new(app: &App) -> NewUserIds {
        NewUserIds { id: app.ids.next(), wallet: AccountId(app.ids.next()), topup: app.ids.next() }
    }
}

/// [`create`] inside a job (the phone and balance already checked).
pub(crate) fn create_in_job(tx: &mut JobTx<'_>, ids: NewUserIds, phone: String, pin_hash: Option<String>, balance: i64, now: i64) -> Result<Result<User, UserError>, StoreError> {
    let NewUserIds { id, wallet, topup } = ids;
    if tx.query_one("SELECT id FROM users WHERE phone = $1", &[phone.as_str().into()])?.is_some() {
        return Ok(Err(UserError::PhoneTaken));
    }
    let account = NewAccount { id: wallet, currency: Currency::CNY, code: kind::WALLET, owner: id, flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS };
    if let Some(Err(e)) = tx.create_accounts(&[account])?.pop() {
        return Err(StoreError::Corrupt(format!("wallet account: {e}")));
    }
    if balance > 0 {
        if let Some(Err(e)) = tx.create_transfers(&[NewTransfer::simple(topup, BANK_CLEARING_CNY, wallet, balance, Currency::CNY, movement::TOP_UP, id)])?.pop() {
            return Err(StoreError::Corrupt(format!("top-up: {e}")));
        }
    }
    tx.execute(
        "INSERT INTO users (id, phone, pin_hash, pin_failures, pin_locked_until, password_free_limit, wallet_account, created_at) VALUES ($1, $2, $3, 0, 0, $4, $5, $6)",
        &[id.into(), phone.as_str().into(), pin_hash.clone().into(), DEFAULT_PASSWORD_FREE_LIMIT.into(), wallet.0.into(), now.into()],
    )?;
    Ok(Ok(User { id, phone, pin_hash, pin_failures: 0, pin_locked_until: 0, password_free_limit: DEFAULT_PASSWORD_FREE_LIMIT, wallet }))
}

/// The user's openid for `appid`, created on first use.
pub fn openid_for(tx: &mut JobTx<'_>, user: u128, appid: &str) -> Result<String, StoreError> {
    if let Some(r) = tx.query_one("SELECT openid FROM openids WHERE user_id = $1 AND appid = $2", &[user.into(), appid.into()])? {
        return Ok(r.text("openid")?.to_string());
    }
    let openid = format!("o{}", random_string(27).map_err(|e| StoreError::Io(e.to_string()))?);
    tx.execute("INSERT INTO openids (openid, appid, user_id) VALUES ($1, $2, $3)", &[openid.as_str().into(), appid.into(), user.into()])?;
    Ok(openid)
}

/// The user `openid` names in `appid`, inside a job.
pub fn by_openid_in_job(tx: &mut JobTx<'_>, openid: &str, appid: &str) -> Result<Option<u128>, StoreError> {
    tx.query_one("SELECT user_id FROM openids WHERE openid = $1 AND appid = $2", &[openid.into(), appid.into()])?.map(|r| r.id("user_id")).transpose()
}

/// The user's openid for `appid` if one was made (a read: none is created).
pub fn openid_made(app: &App, user: u128, appid: &str) -> Result<Option<String>, StoreError> {
    let row = app.store.query_one("SELECT openid FROM openids WHERE user_id = $1 AND appid = $2", &[user.into(), appid.into()])?;
    Ok(row.map(|r| r.opt_text("openid").map(|o| o.map(str::to_string))).transpose()?.flatten())
}

/// The user's wallet account, inside a job.
pub fn wallet_in_job(tx: &mut JobTx<'_>, id: u128) -> Result<Option<AccountId>, StoreError> {
    tx.query_one("SELECT wallet_account FROM users WHERE id = $1", &[id.into()])?.map(|r| r.id("wallet_account").map(AccountId)).transpose()
}

// The pay job reads the order, the payer, the merchant and the payer's openid in one statement (the
// busiest path: each statement is a round trip on PostgreSQL). The users' part of it comes from here:
// `users u` (read with [`COLUMNS`] qualified by `u`) and `openids i`.

/// `users u` joined to the user whose id is `id`, an expression (or parameter) of the outer statement.
pub(crate) fn join(id: &str) -> String {
    format!("JOIN users u ON u.id = {id}")
}

/// `openids i` left-joined to user `user`'s openid in app `appid` (expressions of the outer statement):
/// [`OPENID`] is NULL where none was made.
pub(crate) fn openid_join(user: &str, appid: &str) -> String {
    format!("LEFT JOIN openids i ON i.user_id = {user} AND i.appid = {appid}")
}

/// The openid, as a column of [`openid_join`]'s `i`.
pub(crate) const OPENID: &str = "i.openid";

/// The user's openid for every app on the platform (what a test or sandbox user needs to place JSAPI orders).
pub async fn all_openids(app: &App, user: u128) -> Result<Vec<(String, String)>, StoreError> {
    app.store
        .transact(move |tx| {
            let mut out = Vec::new();
            for a in crate::merchants::all_appids_in_job(tx)? {
                let o = openid_for(tx, user, &a)?;
                out.push((a, o));
            }
            Ok(Ok::<_, ()>(out))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("openids".into()))
}

/// Puts a message for the user in the SMS outbox (a pre-debit notice, a reminder): not a login code.
pub fn message_in_job(tx: &mut JobTx<'_>, id: u128, phone: &str, purpose: &str, message: &str, now: i64) -> Result<(), StoreError> {
    debug_assert_ne!(purpose, "login");
    tx.execute(
        "INSERT INTO sms_outbox (id, phone, code, purpose, created_at, expires_at, used_at, message) VALUES ($1, $2, '', $3, $4, $4, $4, $5)",
        &[id.into(), phone.into(), purpose.into(), now.into(), message.into()],
    )?;
    Ok(())
}


/// Texts a one-time code from someone other than the platform's login (a bank's card binding code):
/// valid until `expires_at`; its purpose keeps it from ever serving as a login code.
#[allow(clippy::too_many_arguments)]
pub fn code_in_job(tx: &mut JobTx<'_>, id: u128, phone: &str, purpose: &str, code: &str, message: &str, now: i64, expires_at: i64) -> Result<(), StoreError> {
    debug_assert_ne!(purpose, "login");
    tx.execute(
        "INSERT INTO sms_outbox (id, phone, code, purpose, created_at, expires_at, used_at, message) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
        &[id.into(), phone.into(), code.into(), purpose.into(), now.into(), expires_at.into(), message.into()],
    )?;
    Ok(())
}

/// Marks the [`code_in_job`] texts of `code` for `purpose` to `phone` used.
pub fn code_used_in_job(tx: &mut JobTx<'_>, phone: &str, purpose: &str, code: &str, now: i64) -> Result<(), StoreError> {
    debug_assert_ne!(purpose, "login");
    tx.execute("UPDATE sms_outbox SET used_at = $1 WHERE phone = $2 AND code = $3 AND purpose = $4 AND used_at IS NULL", &[now.into(), phone.into(), code.into(), purpose.into()])?;
    Ok(())
}

/// Logging in, the wallet's balance and history, the PIN's state; operators' user creation and SMS outbox; the login pages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        wallet: axum::Router::new()
            .route("/wallet/sms", post(wallet::send_code))
            .route("/wallet/login", post(wallet::login))
            .route("/wallet/balance", get(wallet::balance))
            .route("/wallet/transactions", get(wallet::transactions))
            .route("/wallet/pin", get(wallet::pin_status).post(wallet::set_pin))
            .route("/wallet/pin/sms", post(wallet::send_pin_code)),
        admin: axum::Router::new()
            .route("/admin/users", post(admin::create_user))
            .route("/admin/sms", get(admin::sms_outbox)),
        pages: axum::Router::new()
            .route("/", get(home::home))
            .route("/history", get(me::history_page))
            .route("/me", get(me::me))
            .route("/me/pin/sms", post(me::send_pin_code))
            .route("/me/pin", post(me::set_pin))
            .route("/cashier/sms", post(pages::send_code))
            .route("/cashier/login", post(pages::login))
            .route("/cashier/register", post(pages::register))
            .route("/cashier/logout", post(pages::logout)),
        ..Default::default()
    }
}
