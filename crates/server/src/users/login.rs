//! Wallet login by phone + SMS code, made safe against a stranger taking a wallet over: one live code per
//! phone (a new code retires the older ones), send limits per phone and per client address, a lock after
//! five wrong codes, as many wrong codes an hour per client address as codes it may ask for, and sessions stored only as the SHA-256 of their token.
//!
//! Every limit is a count of rows in the database, checked and counted in ONE job under the writer (the
//! check and the insert or update that counts commit together, in one process and across processes on
//! one PostgreSQL): N requests at once can never get past a limit, and the counts survive restarts.
//!
//! The limits run on business time (the store's clock, virtual in `--sandbox`), like the codes' and
//! sessions' own expiry: in production it is the system clock; in the sandbox a tester who holds the
//! admin token can move it forward (to see a lock lift), and can never move it back.

use crate::users::{self, User, UserError, COLUMNS};
use crate::App;
use saoma_store::{JobTx, StoreError, Value, NANOS_PER_SEC};
use saoma_wechatpay::aead::{random_digits, random_string};
use saoma_wechatpay::digest::sha256_hex;
use std::net::IpAddr;

/// How long a login code is valid.
const SMS_VALID_SECS: i64 = 300;
const SESSION_SECS: i64 = 24 * 3600;
/// One code per phone a minute, five an hour.
pub const SMS_INTERVAL_SECS: i64 = 60;
pub const SMS_PER_PHONE_PER_HOUR: i64 = 5;
/// Codes one client address may ask for in an hour, by default (`saoma serve --sms-per-address`).
pub const DEFAULT_SMS_PER_ADDRESS_PER_HOUR: u32 = 20;
/// Wrong codes that lock a phone's login, and for how long.
pub const MAX_WRONG_CODES: i64 = 5;
pub const LOCK_SECS: i64 = 30 * 60;
const HOUR: i64 = 3600;

/// The user of a live session: [`COLUMNS`] of `users`.
static SESSION_USER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SELECT {} FROM wallet_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2", crate::app::qualified_columns("u", COLUMNS))
});

/// What the per-address limit counts: an IPv4 address, or the /64 network of an IPv6 one (a single
/// host usually holds a whole /64, and would otherwise get a fresh limit per address it picks).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

pub(crate) fn secs(tx: &JobTx<'_>) -> i64 {
    tx.now().div_euclid(NANOS_PER_SEC)
}

/// Why a send is refused now: seconds until it would be allowed.
fn send_refusal(tx: &mut JobTx<'_>, phone: &str, purpose: Purpose, addr: &str, per_address: u32, now: i64) -> Result<Option<i64>, StoreError> {
    let recent: Vec<i64> = tx
        .query(
            "SELECT created_at FROM sms_outbox WHERE phone = $1 AND purpose = $2 AND created_at > $3 ORDER BY created_at DESC LIMIT $4",
            &[phone.into(), purpose.as_str().into(), (now - HOUR).into(), SMS_PER_PHONE_PER_HOUR.into()],
        )?
        .iter()
        .filter_map(|r| r.opt_int("created_at").transpose())
        .collect::<Result<_, _>>()?;
    if let Some(&newest) = recent.first() {
        if newest > now - SMS_INTERVAL_SECS {
            return Ok(Some(newest + SMS_INTERVAL_SECS - now));
        }
    }
    if recent.len() as i64 >= SMS_PER_PHONE_PER_HOUR {
        // The oldest of the last five leaves the hour's window first.
        return Ok(Some(recent[recent.len() - 1] + HOUR - now));
    }
    // The per_address-th newest send from this address within the hour: if there is one, the limit is reached.
    let nth = tx.query_one(
        "SELECT created_at FROM sms_outbox WHERE client_addr = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 1 OFFSET $3",
        &[addr.into(), (now - HOUR).into(), (i64::from(per_address.max(1)) - 1).into()],
    )?;
    Ok(nth.map(|r| r.opt_int("created_at")).transpose()?.flatten().map(|t| t + HOUR - now))
}

/// What a platform code proves, kept with it: a code texted for one purpose never serves another (a
/// login code cannot set a PIN, nor a PIN code log in). Each has its own live code and per-phone send
/// limit; the per-address limit and the wrong-code counts are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Login,
    /// Setting the payment PIN of a wallet that has none (`pins::set`).
    SetPin,
    /// The merchant console's first login step (`console`): a staff phone need not have a wallet.
    Console,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::SetPin => "set_pin",
            Purpose::Console => "console",
        }
    }
}

/// Puts a 6-digit login code for `phone` in the SMS outbox, within the send limits; the phone's older
/// codes stop working.
pub async fn send_code(app: &App, phone: String, client: IpAddr) -> Result<(), UserError> {
    send_code_for(app, phone, Purpose::Login, client).await
}

/// [`send_code`] for `purpose`: only the phone's older codes of that purpose stop working.
pub async fn send_code_for(app: &App, phone: String, purpose: Purpose, client: IpAddr) -> Result<(), UserError> {
    let Some(phone) = users::canonical_phone(&phone) else { return Err(UserError::BadPhone) };
    let code = random_digits(6).map_err(|e| StoreError::Io(e.to_string()))?;
    let (id, addr, per_address) = (app.ids.next(), address_key(client), app.config.sms_per_address_per_hour);
    app.store
        .transact(move |tx| {
            let now = secs(tx);
            if let Some(wait) = send_refusal(tx, &phone, purpose, &addr, per_address, now)? {
                return Ok(Err(UserError::FrequencyLimited { retry_after: wait.max(1) }));
            }
            // Who may be texted, decided in the job that texts: a PIN code only to a wallet without a
            // PIN (else a code would set a new PIN over the old one), a console code only to staff — to
            // anyone else nothing is sent, and the answer is the same, so the form neither texts
            // strangers nor tells who is staff.
            match purpose {
                Purpose::Login => {}
                Purpose::SetPin => {
                    if tx.query_one("SELECT id FROM users WHERE phone = $1 AND pin_hash IS NULL", &[phone.as_str().into()])?.is_none() {
                        return Ok(Err(UserError::PinSet));
                    }
                }
                Purpose::Console => {
                    if tx.query_one("SELECT id FROM staff WHERE phone = $1", &[phone.as_str().into()])?.is_none() {
                        return Ok(Ok(()));
                    }
                }
            }
            tx.execute(
                "UPDATE sms_outbox SET expires_at = $1 WHERE phone = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
                &[now.into(), phone.as_str().into(), purpose.as_str().into()],
            )?;
            tx.execute(
                "INSERT INTO sms_outbox (id, phone, code, purpose, created_at, expires_at, used_at, client_addr) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
                &[id.into(), phone.into(), code.into(), purpose.as_str().into(), now.into(), (now + SMS_VALID_SECS).into(), addr.into()],
            )?;
            Ok(Ok(()))
        })
        .await?
}

/// Equal strings, compared without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Exchanges the phone's live code for a session token. A wrong code counts against the client address,
/// and, while the phone has a live code, against the phone: the fifth in a row locks its login for
/// [`LOCK_SECS`] and retires its code.
pub async fn login(app: &App, phone: String, code: String, client: IpAddr) -> Result<(String, User), UserError> {
    login_or_register(app, phone, code, false, client).await
}

/// [`login`]; and when `register`, a phone without a wallet gets one (empty, no PIN) in the same job,
/// only once its code has been found right — so nobody opens a wallet on a phone whose SMS they cannot
/// read, and a wrong code counts as any wrong login code (the cashier's "open a wallet" form).
pub async fn login_or_register(app: &App, phone: String, code: String, register: bool, client: IpAddr) -> Result<(String, User), UserError> {
    let new_user = register.then(|| users::NewUserIds::new(app));
    let (addr, per_address) = (address_key(client), app.config.sms_per_address_per_hour);
    let Some(phone) = users::canonical_phone(&phone) else { return Err(UserError::BadPhone) };
    let token = random_string(40).map_err(|e| StoreError::Io(e.to_string()))?;
    let token_hash = sha256_hex(token.as_bytes());
    app.store
        .transact(move |tx| {
            let now = secs(tx);
            let id = match check_code_in_job(tx, &phone, Purpose::Login, &code, &addr, per_address, now)? {
                Ok(id) => id,
                Err(e) => return Ok(Ok(Err(e))),
            };
            let user = match (tx.query_one(&format!("SELECT {COLUMNS} FROM users WHERE phone = $1"), &[phone.as_str().into()])?, new_user) {
                (Some(u), _) => users::from_row(&u)?,
                // A right code, and the code left unused: the cashier may offer to open a wallet.
                (None, None) => return Ok(Err(UserError::NoSuchUser)),
                (None, Some(ids)) => match users::create_in_job(tx, ids, phone.clone(), None, 0, now)? {
                    Ok(u) => u,
                    Err(e) => return Ok(Err(e)),
                },
            };
            code_used_in_job(tx, id, &phone, now)?;
            tx.execute("INSERT INTO wallet_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)", &[token_hash.into(), user.id.into(), (now + SESSION_SECS).into()])?;
            Ok(Ok(Ok((token, user))))
        })
        .await?
        .and_then(|r| r)
}

/// Checks `code` against the phone's live code for `purpose`, in the job that acts on it: `Ok(id)`, the
/// code's outbox row, for a right one (the caller marks it used with [`code_used_in_job`] once it acted);
/// else the refusal, with the wrong code already counted — against the client address, and against the
/// phone when it has a live code (the fifth in a row locks it for [`LOCK_SECS`] and retires its code) —
/// and the job to be kept.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_code_in_job(tx: &mut JobTx<'_>, phone: &str, purpose: Purpose, code: &str, addr: &str, per_address: u32, now: i64) -> Result<Result<Value, UserError>, StoreError> {
    // An address that got its hour's share of codes wrong guesses no more (so that one address
    // cannot keep locking phone after phone, nor spread its guesses over many phones).
    let nth = tx.query_one(
        "SELECT at FROM login_failures WHERE client_addr = $1 AND at > $2 ORDER BY at DESC LIMIT 1 OFFSET $3",
        &[addr.into(), (now - HOUR).into(), (i64::from(per_address.max(1)) - 1).into()],
    )?;
    if let Some(t) = nth.map(|r| r.opt_int("at")).transpose()?.flatten() {
        return Ok(Err(UserError::FrequencyLimited { retry_after: (t + HOUR - now).max(1) }));
    }
    let guard = tx.query_one("SELECT failures, locked_until FROM login_guards WHERE phone = $1", &[phone.into()])?;
    let (failures, locked_until) = match guard {
        Some(r) => (r.opt_int("failures")?.unwrap_or(0), r.opt_int("locked_until")?.unwrap_or(0)),
        None => (0, 0),
    };
    if locked_until > now {
        return Ok(Err(UserError::LoginLocked { until: locked_until, retry_after: locked_until - now }));
    }
    let live = tx.query_one(
        "SELECT id, code FROM sms_outbox WHERE phone = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id DESC LIMIT 1",
        &[phone.into(), purpose.as_str().into(), now.into()],
    )?;
    if let Some(r) = &live {
        if r.opt_text("code")?.is_some_and(|c| same(c, code)) {
            return Ok(Ok(r.value("id")?.clone()));
        }
    }
    // Counted (kept: the job succeeds and answers the refusal), against the phone and the address
    // (whose rows older than the hour go: at most the limit's worth are kept).
    tx.execute("DELETE FROM login_failures WHERE client_addr = $1 AND at <= $2", &[addr.into(), (now - HOUR).into()])?;
    tx.execute("INSERT INTO login_failures (client_addr, at) VALUES ($1, $2)", &[addr.into(), now.into()])?;
    // With no live code there is nothing to guess, so nothing to protect: counting it against the phone
    // would let anyone lock any phone's login with five made-up codes. The address pays for it alone.
    if live.is_none() {
        return Ok(Err(UserError::BadCode { tries_left: MAX_WRONG_CODES - failures, locked_until: 0 }));
    }
    let failures = failures + 1;
    let (failures, locked_until) = if failures >= MAX_WRONG_CODES { (0, now + LOCK_SECS) } else { (failures, 0) };
    tx.execute(
        "INSERT INTO login_guards (phone, failures, locked_until) VALUES ($1, $2, $3) ON CONFLICT (phone) DO UPDATE SET failures = $2, locked_until = $3",
        &[phone.into(), failures.into(), locked_until.into()],
    )?;
    if locked_until > 0 {
        if let Some(row) = &live {
            tx.execute("UPDATE sms_outbox SET expires_at = $1 WHERE id = $2", &[now.into(), row.value("id")?.clone()])?;
        }
        return Ok(Err(UserError::BadCode { tries_left: 0, locked_until }));
    }
    Ok(Err(UserError::BadCode { tries_left: MAX_WRONG_CODES - failures, locked_until: 0 }))
}

/// The right code [`check_code_in_job`] found is used up, and the phone's wrong codes are forgiven.
pub(crate) fn code_used_in_job(tx: &mut JobTx<'_>, id: Value, phone: &str, now: i64) -> Result<(), StoreError> {
    tx.execute("UPDATE sms_outbox SET used_at = $1 WHERE id = $2", &[now.into(), id])?;
    tx.execute("DELETE FROM login_guards WHERE phone = $1", &[phone.into()])?;
    Ok(())
}

/// The user of a live session token (one statement: every wallet request starts here, and on
/// PostgreSQL each statement is a round trip).
pub fn session_user(app: &App, token: &str) -> Result<Option<User>, StoreError> {
    let now = app.business_now_secs();
    app.store.query_one(&SESSION_USER, &[sha256_hex(token.as_bytes()).into(), now.into()])?.map(|r| users::from_row(&r)).transpose()
}

/// Ends a session (the cashier page's "not you? log out").
pub async fn logout(app: &App, token: String) -> Result<(), StoreError> {
    let token_hash = sha256_hex(token.as_bytes());
    app.store
        .transact(move |tx| {
            tx.execute("DELETE FROM wallet_sessions WHERE token_hash = $1", &[token_hash.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("logout".into()))
}

#[cfg(test)]
mod tests {
    use super::address_key;
    use crate::users::{self, valid_phone};

    #[test]
    fn phones() {
        for ok in ["13800000001", "19912345678", "+8613800000001", "+14155550123", "+12345678", "+123456789012345"] {
            assert!(valid_phone(ok), "{ok}");
        }
        assert_eq!(users::canonical_phone("+8613800000001").as_deref(), Some("13800000001"));
        assert_eq!(users::canonical_phone("13800000001").as_deref(), Some("13800000001"));
        assert_eq!(users::canonical_phone("+8612345678").as_deref(), Some("+8612345678"), "not a mainland mobile: as given");
        assert_eq!(users::canonical_phone("+14155550123").as_deref(), Some("+14155550123"));
        assert_eq!(users::canonical_phone("138"), None);
        for bad in ["", "+", "12", "12345678901", "10000000000", "1380000000", "138000000012", "+0123456789", "+1234567", "+1234567890123456", "+86 13800000001", "138-0000-0001", "1380000000a", "１３８００００００１", "++8613800000001"] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(address_key("203.0.113.7".parse().unwrap()), "203.0.113.7");
        assert_eq!(address_key("::ffff:203.0.113.7".parse().unwrap()), "203.0.113.7");
        // One IPv6 host holds a /64: every address in it counts as one.
        assert_eq!(address_key("2001:db8:1:2::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff:eeee:dddd:cccc".parse().unwrap()), "2001:db8:1:2::/64");
    }
}
