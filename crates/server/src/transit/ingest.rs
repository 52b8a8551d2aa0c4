//! Terminals and their uploads: registration, and ingest of signed tap records — idempotent on
//! (terminal, sequence), re-verified against the issuance table and the keys' status at generation
//! time, deduplicated per code (a code accepted at two gates is a clone: charged once, flagged, the
//! account blocked), fares from entry/exit pairs, rides charged through the card's agreement with the
//! ride's id as the idempotency key, a failed charge left as debt. One job per batch.

use super::{agreement_of, card_by_account_in_job, keys, operator_in_job, Card, Operator};
use crate::orders::{self, NewOrder};
use crate::payments::ChargeIds;
use crate::refunds::{self, RefundIds};
use crate::users::blob_id;
use crate::{agreements, hex, App};
use saoma_core::fare::{FareTable, MAX_TRIP_SECS};
use saoma_core::order::TradeType;
use saoma_ridecode::{Direction, PublicKey, RideCode, Suite, TerminalRecord, DOUBLE_TAP_WINDOW, MAX_CODE_AGE, MAX_CODE_FUTURE, WINDOW_GRACE};
use saoma_store::{JobTx, StoreError, Value};
use std::sync::Arc;

/// The most records one upload may carry.
pub const MAX_BATCH: usize = 1_000;

/// Registers a gate and its record-signing key (Ed25519): its id.
pub async fn register(app: &App, scope: u16, stop_id: u32, public_key: Vec<u8>, name: String) -> Result<Result<u64, &'static str>, StoreError> {
    if PublicKey::from_bytes(Suite::Ed25519, &public_key).is_err() {
        return Ok(Err("public_key must be a 32-byte Ed25519 key in hex"));
    }
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            if operator_in_job(tx, scope)?.is_none() {
                return Ok(Err("no transit operator with this scope"));
            }
            let id = tx.query_one("SELECT MAX(terminal_id) FROM terminals", &[])?.and_then(|r| r[0].as_i64()).unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO terminals (terminal_id, scope, stop_id, public_key, name, registered_at, highest_sequence, records, last_upload_at) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, NULL)",
                &[id.into(), (scope as i64).into(), (stop_id as i64).into(), hex::encode(&public_key).into(), name.into(), now.into()],
            )?;
            Ok(Ok(id as u64))
        })
        .await
}

/// Per-terminal upload status, for operators.
pub fn terminals(app: &App, scope: u16) -> Result<serde_json::Value, StoreError> {
    let rows = crate::blocking(|| {
        app.store.query(
            "SELECT t.terminal_id, t.stop_id, t.name, t.highest_sequence, t.records, t.last_upload_at, \
             (SELECT COUNT(*) FROM transit_alarms a WHERE a.terminal_id = t.terminal_id) FROM terminals t WHERE t.scope = $1 ORDER BY t.terminal_id",
            &[(scope as i64).into()],
        )
    })?;
    Ok(serde_json::json!({ "terminals": rows.iter().map(|r| {
        let (highest, records) = (r[3].as_i64().unwrap_or(0), r[4].as_i64().unwrap_or(0));
        serde_json::json!({
            "terminal_id": r[0].as_i64(), "stop_id": r[1].as_i64(), "name": r[2].as_str(), "highest_sequence": highest,
            "records": records, "missing": highest - records, "last_upload_at": r[5].as_i64(), "alarms": r[6].as_i64(),
        })
    }).collect::<Vec<_>>() }))
}

pub fn alarms(app: &App, scope: u16) -> Result<serde_json::Value, StoreError> {
    let rows = crate::blocking(|| {
        app.store.query(
            "SELECT a.terminal_id, a.kind, a.detail, a.created_at FROM transit_alarms a JOIN terminals t ON t.terminal_id = a.terminal_id WHERE t.scope = $1 ORDER BY a.created_at",
            &[(scope as i64).into()],
        )
    })?;
    Ok(serde_json::json!({ "alarms": rows.iter().map(|r| serde_json::json!({ "terminal_id": r[0].as_i64(), "kind": r[1].as_str(), "detail": r[2].as_str(), "time": r[3].as_i64() })).collect::<Vec<_>>() }))
}

#[derive(Debug)]
pub enum UploadFail {
    UnknownTerminal,
    TooMany,
    Store(StoreError),
}

impl From<StoreError> for UploadFail {
    fn from(e: StoreError) -> Self {
        UploadFail::Store(e)
    }
}

struct Terminal {
    id: u64,
    scope: u16,
    key: PublicKey,
}

/// Ingests one batch: a result per record, in order.
pub async fn upload(app: &Arc<App>, terminal_id: u64, records: Vec<Vec<u8>>) -> Result<Vec<serde_json::Value>, UploadFail> {
    if records.len() > MAX_BATCH {
        return Err(UploadFail::TooMany);
    }
    let app2 = app.clone();
    let now = app.business_now_secs();
    let r = app
        .store
        .transact(move |tx| {
            let Some(row) = tx.query_one("SELECT scope, public_key FROM terminals WHERE terminal_id = $1", &[(terminal_id as i64).into()])? else {
                return Ok(Err(()));
            };
            let key = row[1].as_str().and_then(hex::decode).and_then(|k| PublicKey::from_bytes(Suite::Ed25519, &k).ok()).ok_or_else(|| StoreError::Corrupt("terminal key".into()))?;
            let terminal = Terminal { id: terminal_id, scope: row[0].as_i64().unwrap_or(0) as u16, key };
            let issuers = keys::all_in_job(tx, "issuer")?;
            let mut out = Vec::with_capacity(records.len());
            for (i, bytes) in records.iter().enumerate() {
                out.push(ingest_one(tx, &app2, &terminal, &issuers, i, bytes, now)?);
            }
            tx.execute("UPDATE terminals SET last_upload_at = $1 WHERE terminal_id = $2", &[now.into(), (terminal_id as i64).into()])?;
            Ok(Ok(out))
        })
        .await?;
    r.map_err(|()| UploadFail::UnknownTerminal)
}

fn result(index: usize, sequence: Option<u64>, status: &str, reason: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "index": index, "terminal_sequence": sequence, "status": status, "reason": reason })
}

fn alarm(tx: &mut JobTx<'_>, app: &App, terminal: u64, kind: &str, detail: &str, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transit_alarms (id, terminal_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[app.ids.next().into(), (terminal as i64).into(), kind.into(), detail.into(), now.into()],
    )?;
    Ok(())
}

fn ingest_one(tx: &mut JobTx<'_>, app: &Arc<App>, t: &Terminal, issuers: &[keys::StoredKey], index: usize, bytes: &[u8], now: i64) -> Result<serde_json::Value, StoreError> {
    let Ok(signed) = TerminalRecord::parse(bytes) else { return Ok(result(index, None, "REJECTED", Some("malformed record"))) };
    let seq = signed.record().terminal_sequence;
    if signed.record().terminal_id != t.id {
        return Ok(result(index, Some(seq), "REJECTED", Some("record of another terminal")));
    }
    let Ok(rec) = signed.verify(&t.key) else { return Ok(result(index, Some(seq), "REJECTED", Some("terminal signature"))) };
    // The record's signature names its content: the same sequence with other content is a conflict.
    let digest = hex::encode(&bytes[bytes.len().saturating_sub(64)..]);
    if let Some(prev) = tx.query_one("SELECT digest, status, reason FROM taps WHERE terminal_id = $1 AND terminal_sequence = $2", &[(t.id as i64).into(), (seq as i64).into()])? {
        if prev[0].as_str() == Some(digest.as_str()) {
            return Ok(result(index, Some(seq), prev[1].as_str().unwrap_or("ACCEPTED"), prev[2].as_str()));
        }
        alarm(tx, app, t.id, "CONFLICT", &format!("sequence {seq} uploaded again with other content"), now)?;
        return Ok(result(index, Some(seq), "REJECTED", Some("conflicts with the record already uploaded under this sequence")));
    }
    let code = RideCode::parse(&rec.code).ok();
    let (account, cred_seq, counter) = code.as_ref().map_or((0, 0, 0), |c| (c.credential().terms().account_id, c.credential().terms().sequence, c.counter()));
    let direction = match rec.direction {
        Direction::In => saoma_core::fare::Direction::In,
        _ => saoma_core::fare::Direction::Out,
    };
    let record_tap = |tx: &mut JobTx<'_>, status: &str, reason: Option<&str>| {
        tx.execute(
            "INSERT INTO taps (terminal_id, terminal_sequence, digest, account_id, credential_sequence, counter, time, direction, stop_id, status, reason, ride_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12)",
            &[
                (t.id as i64).into(),
                (seq as i64).into(),
                digest.as_str().into(),
                (account as i64).into(),
                (cred_seq as i64).into(),
                (counter as i64).into(),
                (rec.time as i64).into(),
                (direction.as_u8() as i64).into(),
                (rec.stop_id as i64).into(),
                status.into(),
                reason.into(),
                now.into(),
            ],
        )?;
        tx.execute(
            "UPDATE terminals SET records = records + 1, highest_sequence = CASE WHEN highest_sequence < $1 THEN $1 ELSE highest_sequence END WHERE terminal_id = $2",
            &[(seq as i64).into(), (t.id as i64).into()],
        )?;
        Ok::<(), StoreError>(())
    };
    let checked = match &code {
        None => Err("malformed code"),
        Some(c) => check_code(tx, t, issuers, c, rec.time as i64)?,
    };
    if let Err(reason) = checked {
        record_tap(tx, "REJECTED", Some(reason))?;
        return Ok(result(index, Some(seq), "REJECTED", Some(reason)));
    }
    let code = code.expect("checked above");
    // One charge per code: the same (account, credential, counter) seen before is a double tap at the
    // same gate, or a clone anywhere else.
    if let Some(prev) = tx.query_one(
        "SELECT terminal_id, time FROM taps WHERE account_id = $1 AND credential_sequence = $2 AND counter = $3 AND status = 'ACCEPTED'",
        &[(account as i64).into(), (cred_seq as i64).into(), (counter as i64).into()],
    )? {
        let same_gate = prev[0].as_i64() == Some(t.id as i64) && (prev[1].as_i64().unwrap_or(0) - rec.time as i64).abs() <= DOUBLE_TAP_WINDOW as i64;
        if same_gate {
            record_tap(tx, "DUPLICATE", Some("double tap"))?;
            return Ok(result(index, Some(seq), "DUPLICATE", Some("double tap")));
        }
        record_tap(tx, "CLONE", Some("code already used at another gate"))?;
        alarm(tx, app, t.id, "CLONE", &format!("account {account} credential {cred_seq} counter {counter} also seen at terminal {}", prev[0].as_i64().unwrap_or(0)), now)?;
        let until = code.credential().terms().not_after as i64;
        tx.execute("UPDATE transit_cards SET blocked_until = CASE WHEN blocked_until < $1 THEN $1 ELSE blocked_until END WHERE account_id = $2", &[until.into(), (account as i64).into()])?;
        return Ok(result(index, Some(seq), "CLONE", Some("code already used at another gate")));
    }
    record_tap(tx, "ACCEPTED", None)?;
    let card = card_by_account_in_job(tx, account)?.ok_or_else(|| StoreError::Corrupt("issued credential without a card".into()))?;
    let op = operator_in_job(tx, card.scope)?.ok_or_else(|| StoreError::Corrupt("card without an operator".into()))?;
    let ride = on_tap(tx, app, &card, &op, rec.time as i64, rec.stop_id as u16, direction, now)?;
    if let Some(ride) = ride {
        tx.execute("UPDATE taps SET ride_id = $1 WHERE terminal_id = $2 AND terminal_sequence = $3", &[ride.into(), (t.id as i64).into(), (seq as i64).into()])?;
    }
    Ok(result(index, Some(seq), "ACCEPTED", None))
}

/// The server's re-verification, with the keys' status at the code's generation time and the
/// issuance table. `Ok(Err(reason))` refuses the tap.
fn check_code(tx: &mut JobTx<'_>, t: &Terminal, issuers: &[keys::StoredKey], code: &RideCode, record_time: i64) -> Result<Result<(), &'static str>, StoreError> {
    let cred = code.credential();
    let terms = cred.terms();
    if terms.scope != t.scope {
        return Ok(Err("code of another operator"));
    }
    let gen = code.generated_at() as i64;
    let Some(key) = issuers.iter().find(|k| k.key_id == cred.issuer_key_id()) else { return Ok(Err("unknown issuer key")) };
    if key.suite != cred.suite() {
        return Ok(Err("suite does not match the issuer key"));
    }
    if gen < key.not_before || gen > key.not_after {
        return Ok(Err("issuer key not valid when the code was made"));
    }
    if key.revoked_at.is_some_and(|r| gen >= r) {
        return Ok(Err("issuer key revoked"));
    }
    if cred.verify(&key.issuer_public()?).is_err() {
        return Ok(Err("issuer signature"));
    }
    let issued = tx.query_one("SELECT key_id, device_key, max_uses FROM transit_credentials WHERE account_id = $1 AND sequence = $2", &[(terms.account_id as i64).into(), (terms.sequence as i64).into()])?;
    let Some(issued) = issued else { return Ok(Err("credential not issued")) };
    if issued[0].as_i64() != Some(key.key_id as i64) || issued[1].as_str() != Some(hex::encode(cred.device_key().as_bytes()).as_str()) {
        return Ok(Err("credential differs from the one issued"));
    }
    if code.verify_device_signature().is_err() {
        return Ok(Err("device signature"));
    }
    if code.counter() == 0 || code.counter() as i64 > issued[2].as_i64().unwrap_or(0) {
        return Ok(Err("counter out of range"));
    }
    if gen + (WINDOW_GRACE as i64) < terms.not_before as i64 || gen > terms.not_after as i64 + WINDOW_GRACE as i64 {
        return Ok(Err("generated outside the credential's window"));
    }
    let age = record_time - gen;
    if age > MAX_CODE_AGE as i64 || age < -(MAX_CODE_FUTURE as i64) {
        return Ok(Err("code age at the gate out of bounds"));
    }
    Ok(Ok(()))
}

/// What a tap does to the rider's rides; the ride it belongs to.
#[allow(clippy::too_many_arguments)]
fn on_tap(tx: &mut JobTx<'_>, app: &Arc<App>, card: &Card, op: &Operator, time: i64, stop: u16, dir: saoma_core::fare::Direction, now: i64) -> Result<Option<u128>, StoreError> {
    use saoma_core::fare::Direction::{In, Out};
    let account = card.account_id as i64;
    let max = op.fares.max_fare();
    if let FareTable::Flat(fare) = op.fares {
        if dir == Out {
            return Ok(None);
        }
        let ride = new_ride(tx, app, card, Some((time, stop)), None, fare, now)?;
        charge(tx, app, card, ride)?;
        return Ok(Some(ride));
    }
    match dir {
        In => {
            // An exit uploaded before its entry (another gate was offline): pair them now.
            if let Some(r) = tx.query_one(
                "SELECT id FROM rides WHERE account_id = $1 AND entry_time IS NULL AND exit_time >= $2 AND exit_time <= $3 AND state IN ('CHARGED', 'DEBT') ORDER BY exit_time LIMIT 1",
                &[account.into(), time.into(), (time + MAX_TRIP_SECS).into()],
            )? {
                let ride = blob_id(&r[0]).ok_or_else(|| StoreError::Corrupt("ride id".into()))?;
                tx.execute("UPDATE rides SET entry_time = $1, entry_stop = $2 WHERE id = $3", &[time.into(), (stop as i64).into(), ride.into()])?;
                correct(tx, app, op, ride, now)?;
                return Ok(Some(ride));
            }
            // Otherwise the entry waits for its exit (charged the maximum if none comes in time).
            Ok(Some(new_ride(tx, app, card, Some((time, stop)), None, max, now)?))
        }
        Out => {
            if let Some(r) = tx.query_one(
                "SELECT id, entry_stop FROM rides WHERE account_id = $1 AND state = 'OPEN' AND entry_time <= $2 AND entry_time >= $3 ORDER BY entry_time DESC LIMIT 1",
                &[account.into(), time.into(), (time - MAX_TRIP_SECS).into()],
            )? {
                let ride = blob_id(&r[0]).ok_or_else(|| StoreError::Corrupt("ride id".into()))?;
                let fare = op.fares.between(r[1].as_i64().unwrap_or(0) as u16, stop);
                tx.execute("UPDATE rides SET exit_time = $1, exit_stop = $2, fare = $3 WHERE id = $4", &[time.into(), (stop as i64).into(), fare.into(), ride.into()])?;
                charge(tx, app, card, ride)?;
                return Ok(Some(ride));
            }
            // A late exit of an entry already charged the maximum: correct it.
            if let Some(r) = tx.query_one(
                "SELECT id FROM rides WHERE account_id = $1 AND exit_time IS NULL AND state IN ('CHARGED', 'DEBT') AND entry_time <= $2 AND entry_time >= $3 ORDER BY entry_time DESC LIMIT 1",
                &[account.into(), time.into(), (time - MAX_TRIP_SECS).into()],
            )? {
                let ride = blob_id(&r[0]).ok_or_else(|| StoreError::Corrupt("ride id".into()))?;
                tx.execute("UPDATE rides SET exit_time = $1, exit_stop = $2 WHERE id = $3", &[time.into(), (stop as i64).into(), ride.into()])?;
                correct(tx, app, op, ride, now)?;
                return Ok(Some(ride));
            }
            // An exit with no entry: the maximum.
            let ride = new_ride(tx, app, card, None, Some((time, stop)), max, now)?;
            charge(tx, app, card, ride)?;
            Ok(Some(ride))
        }
    }
}

fn new_ride(tx: &mut JobTx<'_>, app: &App, card: &Card, entry: Option<(i64, u16)>, exit: Option<(i64, u16)>, fare: i64, now: i64) -> Result<u128, StoreError> {
    let id = app.ids.next();
    tx.execute(
        "INSERT INTO rides (id, card_id, account_id, entry_time, entry_stop, exit_time, exit_stop, fare, state, order_id, created_at, charged_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'OPEN', NULL, $9, NULL)",
        &[
            id.into(),
            card.id.into(),
            (card.account_id as i64).into(),
            entry.map(|e| e.0).into(),
            entry.map(|e| e.1 as i64).into(),
            exit.map(|e| e.0).into(),
            exit.map(|e| e.1 as i64).into(),
            fare.into(),
            now.into(),
        ],
    )?;
    Ok(id)
}

/// A ride charged the maximum whose partner tap arrived: the fare from the pair, the difference refunded
/// (or the debt lowered if the charge had failed).
fn correct(tx: &mut JobTx<'_>, app: &Arc<App>, op: &Operator, ride: u128, now: i64) -> Result<(), StoreError> {
    let r = tx.query_one("SELECT entry_stop, exit_stop, fare, state, order_id FROM rides WHERE id = $1", &[ride.into()])?.ok_or_else(|| StoreError::Corrupt("ride".into()))?;
    let fare = op.fares.between(r[0].as_i64().unwrap_or(0) as u16, r[1].as_i64().unwrap_or(0) as u16);
    let diff = r[2].as_i64().unwrap_or(0) - fare;
    if r[3].as_str() == Some("DEBT") {
        tx.execute("UPDATE rides SET fare = $1 WHERE id = $2", &[fare.into(), ride.into()])?;
        return Ok(());
    }
    if diff > 0 {
        let order_id = r[4].as_blob().map(|b| b.to_vec()).ok_or_else(|| StoreError::Corrupt("charged ride without an order".into()))?;
        let row = tx.query_one(&format!("SELECT {} FROM orders WHERE id = $1", orders::COLUMNS), &[Value::Blob(order_id)])?.ok_or_else(|| StoreError::Corrupt("ride's order".into()))?;
        let (order, _) = orders::from_row(&row)?;
        let out_refund_no = format!("FIX{}", &order.out_trade_no[1..]);
        let digest = serde_json::json!(["fare correction", ride.to_string()]).to_string();
        match refunds::in_job(tx, &order, diff, order.total, &out_refund_no, Some("票价更正"), None, &digest, now, RefundIds::new(app))? {
            Ok((_, state)) => {
                tx.execute("UPDATE orders SET trade_state = $1 WHERE id = $2", &[state.as_str().into(), order.id.into()])?;
            }
            Err(e) => return Err(StoreError::Corrupt(format!("fare correction refund: {e:?}"))),
        }
    }
    tx.execute("UPDATE rides SET fare = $1, state = 'CORRECTED' WHERE id = $2", &[fare.into(), ride.into()])?;
    Ok(())
}

/// Charges a ride (a refused charge is debt, not an error).
fn charge(tx: &mut JobTx<'_>, app: &Arc<App>, card: &Card, ride: u128) -> Result<(), StoreError> {
    charge_ride(tx, app, card, ride, true).map(|_| ())
}

/// Charges a ride through the card's agreement; the ride's id is the charge's idempotency key
/// (`out_trade_no`). A refused charge leaves the ride DEBT. `Ok(Err(()))` only for a repayment
/// (`within_limits: false`) that could not be paid: the caller undoes the whole repayment.
pub fn charge_ride(tx: &mut JobTx<'_>, app: &Arc<App>, card: &Card, ride: u128, within_limits: bool) -> Result<Result<i64, ()>, StoreError> {
    let r = tx.query_one("SELECT fare, entry_stop, exit_stop FROM rides WHERE id = $1", &[ride.into()])?.ok_or_else(|| StoreError::Corrupt("ride".into()))?;
    let fare = r[0].as_i64().unwrap_or(0);
    let a = agreement_of(tx, card)?;
    // `R…` for the ride's own charge, `P…` for its repayment: one order each, both keyed by the ride.
    let prefix = if within_limits { 'R' } else { 'P' };
    let n = NewOrder {
        mchid: a.mchid.clone(),
        appid: a.appid.clone(),
        trade_type: TradeType::Pap,
        description: match (r[1].as_i64(), r[2].as_i64()) {
            (Some(a), Some(b)) => format!("乘车 {a}→{b}"),
            _ => "乘车".to_string(),
        },
        out_trade_no: format!("{prefix}{:031x}", ride & ((1u128 << 124) - 1)),
        time_expire: None,
        attach: Some(format!("card {}", card.card_no)),
        notify_url: a.notify_url.clone().unwrap_or_default(),
        goods_tag: None,
        total: fare,
        currency: "CNY".into(),
        payer_openid: None,
    };
    let now = tx.now().div_euclid(saoma_store::NANOS_PER_SEC);
    let prepared = orders::prepare(app, &n).map_err(|e| StoreError::Corrupt(format!("ride order: {e:?}")))?;
    match agreements::charge_with(tx, &a, n, prepared, ChargeIds::new(app), now, within_limits)? {
        Ok((order, None)) => {
            tx.execute("UPDATE rides SET state = 'CHARGED', order_id = $1, charged_at = $2 WHERE id = $3", &[order.id.into(), now.into(), ride.into()])?;
            Ok(Ok(fare))
        }
        _ if !within_limits => Ok(Err(())),
        Ok((order, Some(_))) => {
            tx.execute("UPDATE rides SET state = 'DEBT', order_id = $1 WHERE id = $2", &[order.id.into(), ride.into()])?;
            Ok(Ok(0))
        }
        Err(_) => {
            tx.execute("UPDATE rides SET state = 'DEBT' WHERE id = $1", &[ride.into()])?;
            Ok(Ok(0))
        }
    }
}

/// The worker's part: entries whose exit did not come within the longest trip are charged the maximum.
pub async fn settle_open_rides(app: &Arc<App>) -> Result<usize, StoreError> {
    let now = app.business_now_secs();
    let due: Vec<u128> = crate::blocking(|| app.store.query("SELECT id FROM rides WHERE state = 'OPEN' AND entry_time < $1 LIMIT 500", &[(now - MAX_TRIP_SECS).into()]))?
        .iter()
        .filter_map(|r| blob_id(&r[0]))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let n = due.len();
    let app2 = app.clone();
    app.store
        .transact(move |tx| {
            for ride in due {
                let Some(row) = tx.query_one("SELECT account_id, state FROM rides WHERE id = $1", &[ride.into()])? else { continue };
                if row[1].as_str() != Some("OPEN") {
                    continue;
                }
                let card = card_by_account_in_job(tx, row[0].as_i64().unwrap_or(0) as u64)?.ok_or_else(|| StoreError::Corrupt("ride without a card".into()))?;
                charge(tx, &app2, &card, ride)?;
            }
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("settling rides".into()))?;
    Ok(n)
}
