//! The one way a PIN is checked: [`verify`] — every path that takes the PIN (paying, confirming a
//! payment-code order, signing an agreement, opening a transit card, binding a bank card, topping up,
//! withdrawing, the cashier) calls it, and what it returns, a [`PinProof`], is what those paths' jobs require.
//!
//! Why two jobs around the check: argon2 is slow on purpose, so it cannot run under the writer. Read
//! the lock before it and count the failure after, and thirteen guesses sent at once are all checked
//! (and a right one can get through while the account is locking). So one job reserves a try — checks
//! the lock and the tries left, counting the tries still being checked, and takes one — before argon2
//! runs, and a second job settles it (the rule is `saoma_core::pin::{reserve, settle}`). N guesses at
//! once run argon2 at most as many times as there are tries left.

use crate::users::login::{self, Purpose};
use crate::users::{User, UserError};
use std::net::IpAddr;
use crate::App;
use saoma_core::pin::{self, Outcome, Refusal, Tries};
use saoma_store::{JobTx, StoreError};

/// Why a PIN was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinError {
    Wrong { tries_left: i64 },
    Locked { until: i64 },
    /// Every try left is being checked right now (guesses sent at once).
    Busy,
    Store(String),
}

impl From<StoreError> for PinError {
    fn from(e: StoreError) -> Self {
        PinError::Store(e.to_string())
    }
}

/// The user gave the right PIN, in this request. Only [`verify`] makes one; a job that moves money
/// out of a wallet on the PIN's authority takes it and calls [`PinProof::check`] or
/// [`PinProof::check_in_job`] under the writer.
#[derive(Debug)]
#[must_use = "a PIN proof is what authorizes the operation: pass it to the job"]
pub struct PinProof {
    user: u128,
}

impl PinProof {
    pub fn user(&self) -> u128 {
        self.user
    }

    /// Under the writer, with the user's row the job read anyway: the proof is this user's, and no lock
    /// came after the check (wrong guesses racing the right one).
    pub fn check(&self, user: &User, now: i64) -> Result<(), PinError> {
        if user.id != self.user {
            return Err(PinError::Wrong { tries_left: 0 });
        }
        if pin::locked(user.pin_locked_until, now) {
            return Err(PinError::Locked { until: user.pin_locked_until });
        }
        Ok(())
    }

    /// [`PinProof::check`] reading the lock itself.
    pub fn check_in_job(&self, tx: &mut JobTx<'_>, now: i64) -> Result<Result<(), PinError>, StoreError> {
        let until = tx.query_one("SELECT pin_locked_until FROM users WHERE id = $1", &[self.user.into()])?.map(|r| r.opt_int("pin_locked_until")).transpose()?.flatten();
        Ok(match until {
            None => Err(PinError::Wrong { tries_left: 0 }),
            Some(u) if pin::locked(u, now) => Err(PinError::Locked { until: u }),
            Some(_) => Ok(()),
        })
    }
}

const TRIES_COLUMNS: &str = "pin_hash, pin_failures, pin_locked_until, pin_in_flight, pin_in_flight_until";

fn tries_in_job(tx: &mut JobTx<'_>, user: u128) -> Result<(Option<String>, Tries), StoreError> {
    let r = tx.query_one(&format!("SELECT {TRIES_COLUMNS} FROM users WHERE id = $1"), &[user.into()])?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
    Ok((
        r.opt_text("pin_hash")?.map(str::to_string),
        Tries { failures: r.int("pin_failures")?, locked_until: r.int("pin_locked_until")?, in_flight: r.int("pin_in_flight")?, in_flight_until: r.int("pin_in_flight_until")? },
    ))
}

fn write_tries(tx: &mut JobTx<'_>, user: u128, t: Tries) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET pin_failures = $1, pin_locked_until = $2, pin_in_flight = $3, pin_in_flight_until = $4 WHERE id = $5",
        &[t.failures.into(), t.locked_until.into(), t.in_flight.into(), t.in_flight_until.into(), user.into()],
    )?;
    Ok(())
}

/// Checks the PIN `user` typed: reserves a try under the writer, runs argon2 outside it, and settles
/// the try (a right PIN clears the failures; the fifth wrong one locks for three hours).
pub async fn verify(app: &App, user: &User, given: &str) -> Result<PinProof, PinError> {
    let user_id = user.id;
    let now = app.business_now_secs();
    // The hash is read with the counters, under the writer: the one the check runs against is current.
    let hash = app
        .store
        .transact(move |tx| {
            let (hash, tries) = tries_in_job(tx, user_id)?;
            let (t, reserved) = pin::reserve(tries, now);
            // Written on a refusal too (lapsed tries may have been counted): the job is kept either way.
            write_tries(tx, user_id, t)?;
            Ok(Ok(match reserved {
                Ok(()) => Ok(hash),
                Err(Refusal::Locked { until }) => Err(PinError::Locked { until }),
                Err(Refusal::AllInFlight) => Err(PinError::Busy),
            }))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("pin".into()))??;
    // From here to the settling job's submission nothing awaits: a request dropped by its client (the
    // future dropped) can only be dropped before this point — its try then lapses after
    // `pin::IN_FLIGHT_SECS` and counts as wrong, unchecked — or after the outcome is on its way to the
    // writer.
    let right = match hash {
        Some(h) if pin::valid_format(given) => {
            app.metrics.pin_checked();
            crate::blocking(|| crate::users::pin_matches(&h, given))
        }
        // No PIN set, or not six digits: wrong without running argon2, and counted all the same.
        _ => false,
    };
    let now = app.business_now_secs();
    let outcome = app
        .store
        .transact(move |tx| {
            let (_, tries) = tries_in_job(tx, user_id)?;
            let (t, outcome) = pin::settle(tries, right, now);
            write_tries(tx, user_id, t)?;
            Ok(Ok::<_, ()>(outcome))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("pin".into()))?;
    match outcome {
        Outcome::Right => Ok(PinProof { user: user_id }),
        Outcome::Wrong { tries_left } => Err(PinError::Wrong { tries_left }),
        Outcome::Locked { until } => Err(PinError::Locked { until }),
    }
}

/// Where the user's PIN stands (the wallet shows it; tests read it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct PinStatus {
    pub set: bool,
    pub failures: i64,
    pub tries_left: i64,
    pub in_flight: i64,
    /// Unix seconds; 0 when not locked.
    pub locked_until: i64,
}

pub fn status(app: &App, user: u128) -> Result<PinStatus, StoreError> {
    let now = app.business_now_secs();
    let r = app.store.query_one(&format!("SELECT {TRIES_COLUMNS} FROM users WHERE id = $1"), &[user.into()])?.ok_or_else(|| StoreError::Corrupt("user vanished".into()))?;
    let n = |name: &str| r.opt_int(name).map(|v| v.unwrap_or(0));
    let t = pin::lapse(Tries { failures: n("pin_failures")?, locked_until: n("pin_locked_until")?, in_flight: n("pin_in_flight")?, in_flight_until: n("pin_in_flight_until")? }, now);
    let (failures, locked_until, in_flight) = (t.failures, t.locked_until, t.in_flight);
    let locked = pin::locked(locked_until, now);
    Ok(PinStatus {
        set: r.opt_text("pin_hash")?.is_some(),
        failures,
        tries_left: if locked { 0 } else { (pin::MAX_FAILURES - failures).max(0) },
        in_flight,
        locked_until: if locked { locked_until } else { 0 },
    })
}

/// Why a new PIN was not set.
#[derive(Debug)]
pub enum SetPinError {
    /// The new PIN is not six digits.
    BadPin,
    /// The wallet has no PIN: setting one takes a code texted for it (`login::Purpose::SetPin`).
    CodeRequired,
    /// The code was refused (wrong, used or expired and counted like a wrong login code; the phone's
    /// codes locked; the address's wrong codes used up): a `UserError` of the login's.
    Code(UserError),
    /// The wallet has a PIN: changing it takes the old one.
    OldPinRequired,
    /// The old PIN was not accepted (counted as any wrong PIN).
    OldPin(PinError),
    Store(StoreError),
}

impl From<StoreError> for SetPinError {
    fn from(e: StoreError) -> Self {
        SetPinError::Store(e)
    }
}

/// Sets the payment PIN of `user`'s wallet. A wallet without one (opened from the login page) proves the
/// phone again: `code`, texted for this purpose, checked and counted in the same job that sets the PIN
/// (only if there is still none: a PIN set meanwhile needs the old one). A wallet with one proves the old
/// PIN through [`verify`] (tries counted), re-checked under the writer, and the PIN changes only if
/// it is still the one that was checked.
pub async fn set(app: &App, user: &User, code: Option<&str>, old_pin: Option<&str>, new_pin: &str, client: IpAddr) -> Result<(), SetPinError> {
    // Argon2 outside the writer; a bad format is refused before any code or try is spent.
    let hash = match crate::users::hash_pin(new_pin) {
        Ok(h) => h,
        Err(UserError::Store(e)) => return Err(SetPinError::Store(e)),
        Err(_) => return Err(SetPinError::BadPin),
    };
    let user_id = user.id;
    match &user.pin_hash {
        None => {
            let Some(code) = code.filter(|c| !c.is_empty()).map(str::to_string) else { return Err(SetPinError::CodeRequired) };
            let (phone, addr, per_address) = (user.phone.clone(), login::address_key(client), app.config.sms_per_address_per_hour);
            app.store
                .transact(move |tx| {
                    let now = login::secs(tx);
                    let id = match login::check_code_in_job(tx, &phone, Purpose::SetPin, &code, &addr, per_address, now)? {
                        Ok(id) => id,
                        // Kept: the wrong code is counted.
                        Err(e) => return Ok(Ok(Err(SetPinError::Code(e)))),
                    };
                    // Only a wallet that still has no PIN: one set meanwhile is changed with the old PIN.
                    if tx.execute("UPDATE users SET pin_hash = $1 WHERE id = $2 AND pin_hash IS NULL", &[hash.into(), user_id.into()])? == 0 {
                        return Ok(Err(SetPinError::OldPinRequired));
                    }
                    login::code_used_in_job(tx, id, &phone, now)?;
                    Ok(Ok(Ok(())))
                })
                .await?
                .and_then(|r| r)
        }
        Some(_) => {
            let Some(old) = old_pin.filter(|p| !p.is_empty()) else { return Err(SetPinError::OldPinRequired) };
            let proof = verify(app, user, old).await.map_err(SetPinError::OldPin)?;
            let now = app.business_now_secs();
            let checked = user.pin_hash.clone();
            app.store
                .transact(move |tx| {
                    let Some(current) = crate::users::in_job(tx, user_id)? else { return Ok(Err(SetPinError::OldPin(PinError::Wrong { tries_left: 0 }))) };
                    if let Err(e) = proof.check(&current, now) {
                        return Ok(Err(SetPinError::OldPin(e)));
                    }
                    // Changed by another request since the old PIN was checked: that one is not the PIN now.
                    if current.pin_hash != checked {
                        return Ok(Err(SetPinError::OldPin(PinError::Wrong { tries_left: 0 })));
                    }
                    tx.execute("UPDATE users SET pin_hash = $1 WHERE id = $2", &[hash.into(), user_id.into()])?;
                    Ok(Ok(()))
                })
                .await?
        }
    }
}
