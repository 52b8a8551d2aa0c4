//! Users and their wallets: registration by phone, SMS codes (to an outbox: there is no gateway),
//! sessions, the payment PIN (argon2; five wrong tries lock PIN payments for three hours), openids per
//! app, and the CNY wallet — a no-overdraft ledger account.

use crate::accounts::{kind, movement, BANK_CLEARING_CNY};
use crate::App;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use saoma_core::pin;
use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount, NewTransfer};
use saoma_store::{JobTx, StoreError, Value};
use saoma_wechatpay::aead::{random_digits, random_string};

/// Above this a payment needs the PIN (1,000 CNY, WeChat Pay's default), in fen.
pub const DEFAULT_PASSWORD_FREE_LIMIT: i64 = 100_000;
const SMS_VALID_SECS: i64 = 300;
const SESSION_SECS: i64 = 24 * 3600;

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
    BadCode,
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Store(e)
    }
}

pub(crate) const COLUMNS: &str = "id, phone, pin_hash, pin_failures, pin_locked_until, password_free_limit, wallet_account";
/// The user of a live session: [`COLUMNS`] of `users`.
static SESSION_USER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {} FROM wallet_sessions s JOIN users u ON u.id = s.user_id WHERE s.token = $1 AND s.expires_at > $2", crate::qualified_columns("u", COLUMNS))
});

pub fn blob_id(v: &Value) -> Option<u128> {
    v.as_blob().and_then(|b| <[u8; 16]>::try_from(b).ok()).map(u128::from_be_bytes)
}

pub(crate) fn from_row(r: &[Value]) -> Result<User, StoreError> {
    let bad = || StoreError::Corrupt("user row".into());
    Ok(User {
        id: blob_id(&r[0]).ok_or_else(bad)?,
        phone: r[1].as_str().ok_or_else(bad)?.to_string(),
        pin_hash: r[2].as_str().map(str::to_string),
        pin_failures: r[3].as_i64().ok_or_else(bad)?,
        pin_locked_until: r[4].as_i64().ok_or_else(bad)?,
        password_free_limit: r[5].as_i64().ok_or_else(bad)?,
        wallet: AccountId(blob_id(&r[6]).ok_or_else(bad)?),
    })
}

/// Phones as digits, optionally with a leading `+` (11 digits starting with 1 in mainland China).
pub fn valid_phone(p: &str) -> bool {
    let digits = p.strip_prefix('+').unwrap_or(p);
    (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
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

pub fn in_job(tx: &mut JobTx<'_>, id: u128) -> Result<Option<User>, StoreError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"), &[id.into()])?.map(|r| from_row(&r)).transpose()
}

/// Registers a user with a wallet, topped up with `balance` fen from the (simulated) bank.
pub async fn create(app: &App, phone: String, pin: Option<String>, balance: i64) -> Result<User, UserError> {
    if !valid_phone(&phone) {
        return Err(UserError::BadPhone);
    }
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
fn create_in_job(tx: &mut JobTx<'_>, ids: NewUserIds, phone: String, pin_hash: Option<String>, balance: i64, now: i64) -> Result<Result<User, UserError>, StoreError> {
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
        &format!("INSERT INTO users ({COLUMNS}, created_at) VALUES ($1, $2, $3, 0, 0, $4, $5, $6)"),
        &[id.into(), phone.as_str().into(), pin_hash.clone().into(), DEFAULT_PASSWORD_FREE_LIMIT.into(), wallet.0.into(), now.into()],
    )?;
    Ok(Ok(User { id, phone, pin_hash, pin_failures: 0, pin_locked_until: 0, password_free_limit: DEFAULT_PASSWORD_FREE_LIMIT, wallet }))
}

/// The user's openid for `appid`, created on first use.
pub fn openid_for(tx: &mut JobTx<'_>, user: u128, appid: &str) -> Result<String, StoreError> {
    if let Some(r) = tx.query_one("SELECT openid FROM openids WHERE user_id = $1 AND appid = $2", &[user.into(), appid.into()])? {
        return r[0].as_str().map(str::to_string).ok_or_else(|| StoreError::Corrupt("openid".into()));
    }
    let openid = format!("o{}", random_string(27).map_err(|e| StoreError::Io(e.to_string()))?);
    tx.execute("INSERT INTO openids (openid, appid, user_id) VALUES ($1, $2, $3)", &[openid.as_str().into(), appid.into(), user.into()])?;
    Ok(openid)
}

/// The user's openid for every app on the platform (what a test or sandbox user needs to place JSAPI orders).
pub async fn all_openids(app: &App, user: u128) -> Result<Vec<(String, String)>, StoreError> {
    app.store
        .transact(move |tx| {
            let appids: Vec<String> = tx.query("SELECT appid FROM merchant_appids ORDER BY appid", &[])?.into_iter().filter_map(|r| r[0].as_str().map(str::to_string)).collect();
            let mut out = Vec::new();
            for a in appids {
                let o = openid_for(tx, user, &a)?;
                out.push((a, o));
            }
            Ok(Ok::<_, ()>(out))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("openids".into()))
}

/// Puts a 6-digit login code for `phone` in the SMS outbox.
pub async fn send_code(app: &App, phone: String) -> Result<(), UserError> {
    if !valid_phone(&phone) {
        return Err(UserError::BadPhone);
    }
    let code = random_digits(6).map_err(|e| StoreError::Io(e.to_string()))?;
    let (id, now) = (app.ids.next(), app.business_now_secs());
    app.store
        .transact(move |tx| {
            tx.execute(
                "INSERT INTO sms_outbox (id, phone, code, purpose, created_at, expires_at, used_at) VALUES ($1, $2, $3, 'login', $4, $5, NULL)",
                &[id.into(), phone.into(), code.into(), now.into(), (now + SMS_VALID_SECS).into()],
            )?;
            Ok(Ok::<(), UserError>(()))
        })
        .await?
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

/// Exchanges a valid, unused code for a session token.
pub async fn login(app: &App, phone: String, code: String) -> Result<(String, User), UserError> {
    login_or_register(app, phone, code, false).await
}

/// [`login`]; and when `register`, a phone without a wallet gets one (empty, no PIN) in the same job,
/// only once its code has been checked — so nobody opens a wallet on a phone whose SMS they cannot read,
/// and a wrong code counts as any wrong login code.
pub async fn login_or_register(app: &App, phone: String, code: String, register: bool) -> Result<(String, User), UserError> {
    let new_user = register.then(|| NewUserIds::new(app));
    let token = random_string(40).map_err(|e| StoreError::Io(e.to_string()))?;
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            let Some(row) = tx.query_one(
                "SELECT id FROM sms_outbox WHERE phone = $1 AND code = $2 AND purpose = 'login' AND used_at IS NULL AND expires_at > $3 ORDER BY created_at DESC LIMIT 1",
                &[phone.as_str().into(), code.into(), now.into()],
            )?
            else {
                return Ok(Err(UserError::BadCode));
            };
            let user = match (tx.query_one(&format!("SELECT {COLUMNS} FROM users WHERE phone = $1"), &[phone.as_str().into()])?, new_user) {
                (Some(u), _) => from_row(&u)?,
                (None, None) => return Ok(Err(UserError::NoSuchUser)),
                (None, Some(ids)) => match create_in_job(tx, ids, phone.clone(), None, 0, now)? {
                    Ok(u) => u,
                    Err(e) => return Ok(Err(e)),
                },
            };
            tx.execute("UPDATE sms_outbox SET used_at = $1 WHERE id = $2", &[now.into(), row[0].clone()])?;
            tx.execute("INSERT INTO wallet_sessions (token, user_id, expires_at) VALUES ($1, $2, $3)", &[token.as_str().into(), user.id.into(), (now + SESSION_SECS).into()])?;
            Ok(Ok((token, user)))
        })
        .await?
}

pub fn session_user(app: &App, token: &str) -> Result<Option<User>, StoreError> {
    let now = app.business_now_secs();
    // One statement (on PostgreSQL each is a round trip; every wallet request starts here).
    app.store.query_one(&SESSION_USER, &[token.into(), now.into()])?.map(|r| from_row(&r)).transpose()
}

/// Ends a session (the cashier page's "not you? log out").
pub async fn logout(app: &App, token: String) -> Result<(), StoreError> {
    app.store
        .transact(move |tx| {
            tx.execute("DELETE FROM wallet_sessions WHERE token = $1", &[token.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("logout".into()))
}
