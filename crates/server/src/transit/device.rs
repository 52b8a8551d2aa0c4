//! The web wallet's ride code, and what the wallet's pages read about a rider's transit card.
//!
//! A phone keeps its device key in its own key store; the web wallet cannot (a browser is no key store, and
//! it is online whenever it shows a page). So the platform holds its device key: one Ed25519 key pair per
//! rider, operator and China day, generated here, the seed sealed at rest under the master key
//! (`platform::secrets`, table `transit_web_devices`) and never sent to the browser. The day's credential
//! for it comes from [`super::credential`], the same function a phone's request reaches (debt, a block or
//! a card refund refuse it there); each code the page shows is signed here with the next counter (one job
//! takes it, so two pages never draw the same use), and a used-up or expired credential is replaced by a
//! new one for the same key. The page gets the code's bytes; the QR image re-signs the last code drawn
//! (Ed25519 is deterministic: the same bytes), so showing it takes no counter.
//!
//! Unlike a phone offline, the server checks the card before every code: in debt, blocked or leaving, no
//! code is drawn even with a credential in hand.

use super::{riding_card_in_job, TransitFail, CARD_REFUND_HOLD_SECS};
use crate::platform::secrets;
use crate::users::User;
use crate::{hex, App};
use saoma_core::time::cst_day_start;
use saoma_ridecode::{Credential, DeviceKeyPair, RideCode, Suite};
use saoma_store::{Row, StoreError, Value};

const TABLE: &str = "transit_web_devices";

/// A code drawn for the web wallet.
#[derive(Clone, Debug)]
pub struct Drawn {
    /// The raw code (196 bytes, Ed25519), as the QR code carries it.
    pub bytes: Vec<u8>,
    pub counter: u16,
    /// Its generation time (business clock).
    pub made_at: i64,
    pub max_uses: u16,
}

/// The key of a rider's device row for one operator and China day.
fn device_name(user: u128, scope: u16, day: i64) -> String {
    format!("{user:032x}.{scope}.{day}")
}

/// What a device row holds for signing.
struct Stored {
    device: String,
    seed: String,
    credential: String,
    counter: i64,
    drawn_at: i64,
    max_uses: i64,
}

fn sign(s: &Stored) -> Result<Drawn, StoreError> {
    let seed_hex = secrets::open(TABLE, "seed", &s.device, &s.seed)?;
    let seed: [u8; 32] =
        hex::decode(&seed_hex).and_then(|v| v.try_into().ok()).ok_or_else(|| StoreError::Corrupt("web device seed".into()))?;
    let device = DeviceKeyPair::from_seed(Suite::Ed25519, &seed).map_err(|e| StoreError::Corrupt(format!("web device key: {e:?}")))?;
    let credential = hex::decode(&s.credential)
        .and_then(|b| Credential::parse(&b).ok())
        .ok_or_else(|| StoreError::Corrupt("web device credential".into()))?;
    let code = RideCode::generate(&credential, &device, s.drawn_at as u32, s.counter as u16)
        .map_err(|e| StoreError::Corrupt(format!("signing a ride code: {e:?}")))?;
    Ok(Drawn { bytes: code.to_bytes(), counter: s.counter as u16, made_at: s.drawn_at, max_uses: s.max_uses as u16 })
}

/// The credential's account, if the stored hex is one.
fn account_of(credential_hex: &str) -> Option<u64> {
    hex::decode(credential_hex).and_then(|b| Credential::parse(&b).ok()).map(|c| c.terms().account_id)
}

/// Draws the rider's next code: takes the next counter of today's credential under the writer (after
/// checking the card), or — none yet, used up, expired, or another card's — asks for a new credential
/// for today's key first.
pub async fn draw(app: &App, user: &User, scope: u16) -> Result<Drawn, TransitFail> {
    for _ in 0..2 {
        let now = app.business_now_secs();
        let device = device_name(user.id, scope, cst_day_start(now));
        if let Some(stored) = take_counter(app, user.id, scope, device.clone(), now).await? {
            return Ok(sign(&stored)?);
        }
        let seed = ensure_key(app, user.id, scope, &device, now).await?;
        let public = DeviceKeyPair::from_seed(Suite::Ed25519, &seed)
            .map_err(|e| StoreError::Corrupt(format!("web device key: {e:?}")))?
            .public_key();
        let v = super::credential(app, user, scope, Suite::Ed25519, public.as_bytes()).await?;
        let credential = v["credential_hex"].as_str().unwrap_or_default().to_string();
        let (sequence, not_after, max_uses) =
            (v["sequence"].as_i64().unwrap_or(0), v["not_after"].as_i64().unwrap_or(0), v["max_uses"].as_i64().unwrap_or(0));
        app.store
            .transact(move |tx| {
                // A newer credential stored meanwhile (two pages at once) stays.
                tx.execute(
                    "UPDATE transit_web_devices SET credential = $1, sequence = $2, not_after = $3, max_uses = $4, \
                     counter = 0, drawn_at = 0 WHERE device = $5 AND sequence < $2",
                    &[credential.into(), sequence.into(), not_after.into(), max_uses.into(), device.into()],
                )?;
                Ok(Ok::<(), ()>(()))
            })
            .await?
            .map_err(|_| StoreError::Corrupt("storing a web credential".into()))?;
    }
    Err(TransitFail::Store("no usable credential for the web wallet".into()))
}

/// One job: the card may ride (active, not blocked, no debt), and today's credential has a counter left
/// for the card's account: the next one is taken. `None`: a credential is needed first.
async fn take_counter(app: &App, user_id: u128, scope: u16, device: String, now: i64) -> Result<Option<Stored>, TransitFail> {
    app.store
        .transact(move |tx| {
            let card = match riding_card_in_job(tx, user_id, scope, now)? {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let row = tx.query_one(
                "SELECT seed, credential, counter, max_uses, not_after FROM transit_web_devices WHERE device = $1",
                &[device.as_str().into()],
            )?;
            let Some(r) = row else { return Ok(Ok(None)) };
            let Some(credential) = r.opt_text("credential")?.map(str::to_string) else { return Ok(Ok(None)) };
            let (counter, max_uses) = (r.int("counter")?, r.int("max_uses")?);
            if now >= r.int("not_after")? || counter >= max_uses || account_of(&credential) != Some(card.account_id) {
                return Ok(Ok(None));
            }
            tx.execute(
                "UPDATE transit_web_devices SET counter = $1, drawn_at = $2 WHERE device = $3",
                &[(counter + 1).into(), now.into(), device.as_str().into()],
            )?;
            Ok(Ok(Some(Stored { device, seed: r.text("seed")?.to_string(), credential, counter: counter + 1, drawn_at: now, max_uses })))
        })
        .await?
}

/// Today's device key for the rider and operator, made (and sealed) if there is none; older days' rows go.
async fn ensure_key(app: &App, user_id: u128, scope: u16, device: &str, now: i64) -> Result<[u8; 32], StoreError> {
    let fresh = saoma_wechatpay::aead::random_bytes::<32>().map_err(|e| StoreError::Io(e.to_string()))?;
    let sealed = secrets::seal(TABLE, "seed", device, &hex::encode(&fresh))?;
    let (day, name) = (cst_day_start(now), device.to_string());
    let stored = app
        .store
        .transact(move |tx| {
            let (user, scope) = (Value::from(user_id), Value::from(scope as i64));
            let old = "DELETE FROM transit_web_devices WHERE user_id = $1 AND scope = $2 AND day < $3";
            tx.execute(old, &[user.clone(), scope.clone(), day.into()])?;
            tx.execute(
                "INSERT INTO transit_web_devices (device, user_id, scope, day, seed, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (device) DO NOTHING",
                &[name.as_str().into(), user, scope, day.into(), sealed.into(), now.into()],
            )?;
            let r = tx.query_one("SELECT seed FROM transit_web_devices WHERE device = $1", &[name.as_str().into()])?;
            let r = r.ok_or_else(|| StoreError::Corrupt("web device row".into()))?;
            Ok(Ok::<String, ()>(r.text("seed")?.to_string()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("web device key".into()))?;
    let seed_hex = secrets::open(TABLE, "seed", device, &stored)?;
    hex::decode(&seed_hex).and_then(|v| v.try_into().ok()).ok_or_else(|| StoreError::Corrupt("web device seed".into()))
}

/// The code drawn last for the rider and operator, if its counter is `counter` (the page's image of
/// the code it shows: signed again, the same bytes, no counter taken).
pub fn last_drawn(app: &App, user: &User, scope: u16, counter: u16) -> Result<Option<Drawn>, StoreError> {
    let r = app.store.query_one(
        "SELECT device, seed, credential, counter, drawn_at, max_uses FROM transit_web_devices WHERE user_id = $1 AND scope = $2 \
         ORDER BY day DESC LIMIT 1",
        &[user.id.into(), (scope as i64).into()],
    )?;
    let Some(r) = r else { return Ok(None) };
    let Some(credential) = r.opt_text("credential")?.map(str::to_string) else { return Ok(None) };
    let stored = Stored {
        device: r.text("device")?.to_string(),
        seed: r.text("seed")?.to_string(),
        credential,
        counter: r.int("counter")?,
        drawn_at: r.int("drawn_at")?,
        max_uses: r.int("max_uses")?,
    };
    if stored.counter != counter as i64 || stored.counter == 0 {
        return Ok(None);
    }
    sign(&stored).map(Some)
}

/// An operator as the wallet lists it.
#[derive(Clone, Debug)]
pub struct OperatorEntry {
    pub scope: u16,
    pub merchant: String,
    pub deposit: i64,
    pub max_fare: i64,
}

/// Every operator of this deployment, by scope.
pub fn operators(app: &App) -> Result<Vec<OperatorEntry>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT o.scope, o.deposit, o.fare_table, {} AS merchant_name FROM transit_operators o {} ORDER BY o.scope",
            crate::merchants::NAME,
            crate::merchants::join("o.mchid")
        ),
        &[],
    )?;
    rows.iter()
        .map(|r| {
            let fares = serde_json::from_str(r.text("fare_table")?).ok().and_then(|v: serde_json::Value| super::fares_from_json(&v));
            Ok(OperatorEntry {
                scope: u16::try_from(r.int("scope")?).map_err(|_| StoreError::Corrupt("transit operator row: bad scope".into()))?,
                merchant: r.text("merchant_name")?.to_string(),
                deposit: r.int("deposit")?,
                max_fare: fares.map(|f| f.max_fare()).unwrap_or(0),
            })
        })
        .collect()
}

/// When a leaving card's deposit comes back at the earliest: the hold after the later of the refund
/// request and the last credential's expiry (as [`super::settle_leaving`] decides), if no ride is owed.
pub fn deposit_due(app: &App, user: &User, scope: u16) -> Result<Option<i64>, StoreError> {
    let r = app.store.query_one(
        "SELECT c.refund_requested_at, \
         (SELECT MAX(t.not_after) FROM transit_credentials t WHERE t.account_id = c.account_id) AS last_expiry \
         FROM transit_cards c WHERE c.user_id = $1 AND c.scope = $2 AND c.state = 'LEAVING'",
        &[user.id.into(), (scope as i64).into()],
    )?;
    let Some(r) = r else { return Ok(None) };
    let requested = r.opt_int("refund_requested_at")?.unwrap_or(0);
    Ok(Some(requested.max(r.opt_int("last_expiry")?.unwrap_or(0)) + CARD_REFUND_HOLD_SECS))
}

/// A ride the rider owes (its charge failed), as the wallet's history shows it.
#[derive(Clone, Debug)]
pub struct OwedRide {
    pub at: i64,
    pub fare: i64,
    pub merchant: String,
    pub card_no: String,
    pub scope: u16,
    pub entry_stop: Option<i64>,
    pub exit_stop: Option<i64>,
}

fn owed_from_row(r: &Row) -> Result<OwedRide, StoreError> {
    Ok(OwedRide {
        at: r.opt_int("exit_time")?.or(r.opt_int("entry_time")?).unwrap_or(r.int("created_at")?),
        fare: r.int("fare")?,
        merchant: r.text("merchant_name")?.to_string(),
        card_no: r.text("card_no")?.to_string(),
        scope: u16::try_from(r.int("scope")?).map_err(|_| StoreError::Corrupt("transit card row: bad scope".into()))?,
        entry_stop: r.opt_int("entry_stop")?,
        exit_stop: r.opt_int("exit_stop")?,
    })
}

/// The rides `user` owes on any card, newest first, at most `limit` (the wallet's history).
pub fn owed_by(app: &App, user: u128, limit: i64) -> Result<Vec<OwedRide>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT r.entry_time, r.exit_time, r.created_at, r.fare, r.entry_stop, r.exit_stop, c.card_no, c.scope, {} AS merchant_name \
             FROM rides r JOIN transit_cards c ON c.id = r.card_id JOIN transit_operators o ON o.scope = c.scope {} \
             WHERE c.user_id = $1 AND r.state = 'DEBT' ORDER BY r.created_at DESC LIMIT $2",
            crate::merchants::NAME,
            crate::merchants::join("o.mchid"),
        ),
        &[user.into(), limit.into()],
    )?;
    rows.iter().map(owed_from_row).collect()
}
