//! Terminals and their uploads: registration, and ingest of signed tap records — idempotent on
//! (terminal, sequence), re-verified against the issuance table and the keys' status at generation
//! time, deduplicated per code (a code accepted at two gates is a clone: charged once, flagged, the
//! account blocked), fares from entry/exit pairs, rides charged through the card's agreement with the
//! ride's id as the idempotency key, a failed charge left as debt. One job per batch.

use super::{agreement_of, card_by_account_in_job, check, keys, operator_in_job, Card, Operator};
use crate::agreements::Agreement;
use std::collections::HashMap;
use crate::payments::orders::{self, NewOrder};
use crate::payments::ChargeIds;
use crate::refunds::{self, RefundIds};
use crate::{agreements, hex, App};
use saoma_core::fare::{FareTable, MAX_TRIP_SECS};
use saoma_core::order::TradeType;
use saoma_ridecode::{DecodedKey, Direction, PublicKey, RecordReason, Reject, RideCode, Suite, TerminalRecord, DOUBLE_TAP_WINDOW};
use saoma_store::{JobTx, Row, StoreError, Value};
use std::sync::Arc;

/// The most records one upload may carry.
pub const MAX_BATCH: usize = 1_000;

/// Registers a gate and its record-signing key (Ed25519): its id.
pub async fn register(app: &App, scope: u16, stop_id: u32, public_key: Vec<u8>, name: String) -> Result<Result<u64, &'static str>, StoreError> {
    // The spec's rule for every Ed25519 key: canonical and not of small order (no signature would ever
    // verify strictly under such a key, so it is refused at the door rather than at every upload).
    if PublicKey::certifiable(Suite::Ed25519, &public_key).is_err() {
        return Ok(Err("public_key must be a 32-byte Ed25519 key in hex (canonical, not of small order)"));
    }
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            if operator_in_job(tx, scope)?.is_none() {
                return Ok(Err("no transit operator with this scope"));
            }
            let id = tx.query_one("SELECT MAX(terminal_id) AS highest FROM terminals", &[])?.map(|r| r.opt_int("highest")).transpose()?.flatten().unwrap_or(0) + 1;
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
    let rows = app.store.query(
        "SELECT t.terminal_id, t.stop_id, t.name, t.highest_sequence, t.records, t.last_upload_at, \
         (SELECT COUNT(*) FROM transit_alarms a WHERE a.terminal_id = t.terminal_id) AS alarms FROM terminals t WHERE t.scope = $1 ORDER BY t.terminal_id",
        &[(scope as i64).into()],
    )?;
    let terminals = rows.iter().map(|r| {
        let (highest, records) = (r.opt_int("highest_sequence")?.unwrap_or(0), r.opt_int("records")?.unwrap_or(0));
        Ok(serde_json::json!({
            "terminal_id": r.opt_int("terminal_id")?, "stop_id": r.opt_int("stop_id")?, "name": r.opt_text("name")?, "highest_sequence": highest,
            "records": records, "missing": highest - records, "last_upload_at": r.opt_int("last_upload_at")?, "alarms": r.opt_int("alarms")?,
        }))
    }).collect::<Result<Vec<_>, StoreError>>()?;
    Ok(serde_json::json!({ "terminals": terminals }))
}

pub fn alarms(app: &App, scope: u16) -> Result<serde_json::Value, StoreError> {
    let rows = app.store.query(
        "SELECT a.terminal_id, a.kind, a.detail, a.created_at FROM transit_alarms a JOIN terminals t ON t.terminal_id = a.terminal_id WHERE t.scope = $1 ORDER BY a.created_at",
        &[(scope as i64).into()],
    )?;
    let alarms = rows.iter().map(|r| {
        let kind = r.opt_text("kind")?;
        Ok(serde_json::json!({
            "terminal_id": r.opt_int("terminal_id")?, "kind": kind, "reason": kind.and_then(alarm_reason), "detail": r.opt_text("detail")?, "time": r.opt_int("created_at")?,
        }))
    }).collect::<Result<Vec<_>, StoreError>>()?;
    Ok(serde_json::json!({ "alarms": alarms }))
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

/// What one upload's job reads once and keeps while it goes through the records: the gate, the issuer
/// keys, the gate's taps already stored under the batch's sequences, issuance rows, cards, operators,
/// agreements and the charges' memo; and what it adds to the gate's counters at the end.
struct Batch {
    terminal: check::Terminal,
    issuers: Vec<check::IssuerKey>,
    /// Sequence → (digest, status, reason) of the taps stored (and stored by this job) for the gate.
    taps: HashMap<i64, (String, String, Option<String>)>,
    issued: HashMap<(u64, u32), Option<check::Issued>>,
    cards: HashMap<u64, Card>,
    operators: HashMap<u16, Operator>,
    charges: Charges,
    stored: i64,
    highest: i64,
}

/// The charging side of a job that charges many rides: agreements by id and the agreements' memo.
#[derive(Default)]
pub struct Charges {
    agreements: HashMap<u128, Agreement>,
    memo: agreements::ChargeMemo,
}

impl Charges {
    fn agreement(&mut self, tx: &mut JobTx<'_>, card: &Card) -> Result<Agreement, StoreError> {
        if let Some(a) = self.agreements.get(&card.agreement_id) {
            return Ok(a.clone());
        }
        let a = agreement_of(tx, card)?;
        self.agreements.insert(card.agreement_id, a.clone());
        Ok(a)
    }
}

fn terminal_from_row(id: u64, row: &Row) -> Result<check::Terminal, StoreError> {
    let key = row
        .opt_text("public_key")?
        .and_then(hex::decode)
        .and_then(|k| PublicKey::from_bytes(Suite::Ed25519, &k).ok())
        .and_then(|k| DecodedKey::new(&k).ok())
        .ok_or_else(|| StoreError::Corrupt("terminal key".into()))?;
    Ok(check::Terminal { id, scope: row.opt_int("scope")?.unwrap_or(0) as u16, key })
}

const TERMINAL: &str = "SELECT scope, public_key FROM terminals WHERE terminal_id = $1";

/// Sequences looked up per statement when an upload's job reads the taps stored before.
const TAP_LOOKUP: usize = 64;

fn tap_lookup_sql() -> String {
    let list: Vec<String> = (2..TAP_LOOKUP + 2).map(|i| format!("${i}")).collect();
    format!("SELECT terminal_sequence, digest, status, reason FROM taps WHERE terminal_id = $1 AND terminal_sequence IN ({})", list.join(", "))
}

/// Ingests one batch: a result per record, in order.
///
/// The signatures are verified first, outside the job, against the keys as read then (several
/// uploads at once use every core; the writer is one thread). The job then reads the gate and the
/// keys again under the writer and runs every check in order, reusing a signature verdict only where
/// the key is the same (see [`check::Signatures`]).
pub async fn upload(app: &Arc<App>, terminal_id: u64, records: Vec<Vec<u8>>) -> Result<Vec<serde_json::Value>, UploadFail> {
    if records.len() > MAX_BATCH {
        return Err(UploadFail::TooMany);
    }
    let app2 = app.clone();
    let (records, mut sigs) = tokio::task::spawn_blocking(move || {
        let row = app2.store.query_one(TERMINAL, &[(terminal_id as i64).into()])?;
        let Some(row) = row else { return Ok((records, Vec::new())) };
        let terminal = terminal_from_row(terminal_id, &row)?;
        let issuers = keys::all(&app2.store, "issuer")?.iter().map(keys::StoredKey::issuer_key).collect::<Result<Vec<_>, _>>()?;
        let sigs = check::precheck(&terminal, &issuers, &records);
        Ok::<_, StoreError>((records, sigs))
    })
    .await
    .map_err(|e| StoreError::Io(format!("checking signatures: {e}")))??;
    sigs.resize_with(records.len(), Default::default);
    let app2 = app.clone();
    let now = app.business_now_secs();
    let r = app
        .store
        .transact(move |tx| {
            let Some(row) = tx.query_one(TERMINAL, &[(terminal_id as i64).into()])? else {
                return Ok(Err(()));
            };
            let terminal = terminal_from_row(terminal_id, &row)?;
            let issuers = keys::all_in_job(tx, "issuer")?.iter().map(keys::StoredKey::issuer_key).collect::<Result<Vec<_>, _>>()?;
            let mut batch = Batch {
                terminal,
                issuers,
                taps: HashMap::new(),
                issued: HashMap::new(),
                cards: HashMap::new(),
                operators: HashMap::new(),
                charges: Charges::default(),
                stored: 0,
                highest: 0,
            };
            // The gate's taps already stored under this batch's sequences: looked up by sequence, a
            // fixed number at a time (one statement text, prepared once; short chunks repeat a value).
            let mut seqs: Vec<i64> = records.iter().filter_map(|b| TerminalRecord::parse(b).ok()).filter(|s| s.record().terminal_id == terminal_id).map(|s| s.record().terminal_sequence as i64).collect();
            seqs.sort_unstable();
            seqs.dedup();
            let sql = tap_lookup_sql();
            for chunk in seqs.chunks(TAP_LOOKUP) {
                let mut params: Vec<Value> = vec![(terminal_id as i64).into()];
                params.extend((0..TAP_LOOKUP).map(|i| Value::from(chunk[i.min(chunk.len() - 1)])));
                for r in tx.query(&sql, &params)? {
                    let text = |name: &str| r.opt_text(name).map(|t| t.map(str::to_string));
                    batch.taps.insert(r.opt_int("terminal_sequence")?.unwrap_or(0), (text("digest")?.unwrap_or_default(), text("status")?.unwrap_or_default(), text("reason")?));
                }
            }
            let mut out = Vec::with_capacity(records.len());
            for (i, (bytes, sigs)) in records.iter().zip(sigs.iter_mut()).enumerate() {
                out.push(ingest_one(tx, &app2, &mut batch, i, bytes, sigs, now)?);
            }
            tx.execute(
                "UPDATE terminals SET last_upload_at = $1, records = records + $2, highest_sequence = CASE WHEN highest_sequence < $3 THEN $3 ELSE highest_sequence END WHERE terminal_id = $4",
                &[now.into(), batch.stored.into(), batch.highest.into(), (terminal_id as i64).into()],
            )?;
            Ok(Ok(out))
        })
        .await?;
    r.map_err(|()| UploadFail::UnknownTerminal)
}

/// One record's answer; `reason` is a [`RecordReason`] code (the vocabulary of the specification).
fn result(index: usize, sequence: Option<u64>, status: &str, reason: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "index": index, "terminal_sequence": sequence, "status": status, "reason": reason })
}

/// An alarm's kind as stored, and the reason code it is raised for.
fn alarm_reason(kind: &str) -> Option<&'static str> {
    match kind {
        "CONFLICT" => Some(RecordReason::SequenceConflict.code()),
        "CLONE" => Some(RecordReason::Clone.code()),
        _ => None,
    }
}

/// Raises an alarm at `terminal`; `account`: the card it is about, where one is known (a clone's).
fn alarm(tx: &mut JobTx<'_>, app: &App, terminal: u64, kind: &str, detail: &str, account: Option<u64>, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO transit_alarms (id, terminal_id, kind, detail, created_at, account_id) VALUES ($1, $2, $3, $4, $5, $6)",
        &[app.ids.next().into(), (terminal as i64).into(), kind.into(), detail.into(), now.into(), account.map(|a| a as i64).into()],
    )?;
    Ok(())
}

/// The issuance table's row for a credential, read once per batch.
fn issued(tx: &mut JobTx<'_>, batch: &mut Batch, account: u64, sequence: u32) -> Result<Option<check::Issued>, StoreError> {
    if let Some(i) = batch.issued.get(&(account, sequence)) {
        return Ok(i.clone());
    }
    let row = tx.query_one("SELECT key_id, device_key, max_uses FROM transit_credentials WHERE account_id = $1 AND sequence = $2", &[(account as i64).into(), (sequence as i64).into()])?;
    let i = match row {
        None => None,
        Some(r) => Some(check::Issued {
            key_id: r.opt_int("key_id")?.unwrap_or(-1),
            device_key: r.opt_text("device_key")?.and_then(hex::decode).ok_or_else(|| StoreError::Corrupt("issued device key".into()))?,
            max_uses: r.opt_int("max_uses")?.unwrap_or(0),
        }),
    };
    batch.issued.insert((account, sequence), i.clone());
    Ok(i)
}

#[allow(clippy::too_many_arguments)]
fn ingest_one(tx: &mut JobTx<'_>, app: &Arc<App>, batch: &mut Batch, index: usize, bytes: &[u8], sigs: &mut check::Signatures, now: i64) -> Result<serde_json::Value, StoreError> {
    let auth = match check::authenticate(&batch.terminal, bytes, sigs) {
        Ok(a) => a,
        Err((seq, reason)) => return Ok(result(index, seq, "REJECTED", Some(reason.code()))),
    };
    let (seq, rec, digest) = (auth.sequence, auth.record, auth.digest);
    let terminal_id = batch.terminal.id;
    if let Some((prev_digest, status, reason)) = batch.taps.get(&(seq as i64)) {
        if *prev_digest == digest {
            return Ok(result(index, Some(seq), status, reason.as_deref()));
        }
        alarm(tx, app, terminal_id, "CONFLICT", &format!("sequence {seq} uploaded again with other content"), None, now)?;
        return Ok(result(index, Some(seq), "REJECTED", Some(RecordReason::SequenceConflict.code())));
    }
    let code = RideCode::parse(&rec.code).ok();
    let (account, cred_seq, counter) = code.as_ref().map_or((0, 0, 0), |c| (c.credential().terms().account_id, c.credential().terms().sequence, c.counter()));
    let direction = match rec.direction {
        Direction::In => saoma_core::fare::Direction::In,
        _ => saoma_core::fare::Direction::Out,
    };
    let record_tap = |tx: &mut JobTx<'_>, batch: &mut Batch, status: &str, reason: Option<&str>, ride: Option<u128>| {
        tx.execute(
            "INSERT INTO taps (terminal_id, terminal_sequence, digest, account_id, credential_sequence, counter, time, direction, stop_id, status, reason, ride_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                (terminal_id as i64).into(),
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
                ride.into(),
                now.into(),
            ],
        )?;
        batch.taps.insert(seq as i64, (digest.clone(), status.to_string(), reason.map(str::to_string)));
        batch.stored += 1;
        batch.highest = batch.highest.max(seq as i64);
        Ok::<(), StoreError>(())
    };
    let checked = match &code {
        // What the gate would have answered for bytes it cannot read (checks 1–3).
        None => Err(RecordReason::Code(Reject::structural(&rec.code).unwrap_or(Reject::Length))),
        Some(c) => {
            let issued = issued(tx, batch, account, cred_seq)?;
            check::check_code(&batch.terminal, &batch.issuers, c, rec.time as i64, issued.as_ref(), sigs)
        }
    };
    if let Err(reason) = checked {
        record_tap(tx, batch, "REJECTED", Some(reason.code()), None)?;
        return Ok(result(index, Some(seq), "REJECTED", Some(reason.code())));
    }
    let code = code.expect("checked above");
    // One charge per code: the same (account, credential, counter) seen before is a double tap at the
    // same gate, or a clone anywhere else.
    if let Some(prev) = tx.query_one(
        "SELECT terminal_id, time FROM taps WHERE account_id = $1 AND credential_sequence = $2 AND counter = $3 AND status = 'ACCEPTED'",
        &[(account as i64).into(), (cred_seq as i64).into(), (counter as i64).into()],
    )? {
        let (prev_terminal, prev_time) = (prev.opt_int("terminal_id")?, prev.opt_int("time")?.unwrap_or(0));
        let same_gate = prev_terminal == Some(terminal_id as i64) && (prev_time - rec.time as i64).abs() <= DOUBLE_TAP_WINDOW as i64;
        if same_gate {
            let reason = RecordReason::DoubleTap.code();
            record_tap(tx, batch, "DUPLICATE", Some(reason), None)?;
            return Ok(result(index, Some(seq), "DUPLICATE", Some(reason)));
        }
        record_tap(tx, batch, "CLONE", Some(RecordReason::Clone.code()), None)?;
        alarm(tx, app, terminal_id, "CLONE", &format!("account {account} credential {cred_seq} counter {counter} also seen at terminal {}", prev_terminal.unwrap_or(0)), Some(account), now)?;
        let until = code.credential().terms().not_after as i64;
        tx.execute("UPDATE transit_cards SET blocked_until = CASE WHEN blocked_until < $1 THEN $1 ELSE blocked_until END WHERE account_id = $2", &[until.into(), (account as i64).into()])?;
        batch.cards.remove(&account);
        return Ok(result(index, Some(seq), "CLONE", Some(RecordReason::Clone.code())));
    }
    let card = match batch.cards.get(&account) {
        Some(c) => c.clone(),
        None => {
            let c = card_by_account_in_job(tx, account)?.ok_or_else(|| StoreError::Corrupt("issued credential without a card".into()))?;
            batch.cards.insert(account, c.clone());
            c
        }
    };
    let op = match batch.operators.get(&card.scope) {
        Some(o) => o.clone(),
        None => {
            let o = operator_in_job(tx, card.scope)?.ok_or_else(|| StoreError::Corrupt("card without an operator".into()))?;
            batch.operators.insert(card.scope, o.clone());
            o
        }
    };
    let ride = on_tap(tx, app, &mut batch.charges, &card, &op, rec.time as i64, rec.stop_id as u16, direction, now)?;
    record_tap(tx, batch, "ACCEPTED", None, ride)?;
    Ok(result(index, Some(seq), "ACCEPTED", None))
}

/// What a tap does to the rider's rides; the ride it belongs to.
#[allow(clippy::too_many_arguments)]
fn on_tap(tx: &mut JobTx<'_>, app: &Arc<App>, charges: &mut Charges, card: &Card, op: &Operator, time: i64, stop: u16, dir: saoma_core::fare::Direction, now: i64) -> Result<Option<u128>, StoreError> {
    use saoma_core::fare::Direction::{In, Out};
    let account = card.account_id as i64;
    let max = op.fares.max_fare();
    if let FareTable::Flat(fare) = op.fares {
        if dir == Out {
            return Ok(None);
        }
        // A flat fare is known at the tap: charge first and write the ride once, as it ends up.
        let ride = app.ids.next();
        let (state, order, charged_at) = match charge_fare(tx, app, charges, card, ride, fare, (Some(stop as i64), None), true)? {
            Charged::Paid(order, at) => ("CHARGED", Some(order), Some(at)),
            Charged::Unpaid(order) => ("DEBT", order, None),
            Charged::Refused => ("DEBT", None, None),
        };
        tx.execute(
            "INSERT INTO rides (id, card_id, account_id, entry_time, entry_stop, exit_time, exit_stop, fare, state, order_id, created_at, charged_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $7, $8, $9, $10)",
            &[ride.into(), card.id.into(), account.into(), time.into(), (stop as i64).into(), fare.into(), state.into(), order.into(), now.into(), charged_at.into()],
        )?;
        return Ok(Some(ride));
    }
    match dir {
        In => {
            // An exit uploaded before its entry (another gate was offline): pair them now.
            if let Some(r) = tx.query_one(
                "SELECT id FROM rides WHERE account_id = $1 AND entry_time IS NULL AND exit_time >= $2 AND exit_time <= $3 AND state IN ('CHARGED', 'DEBT') ORDER BY exit_time LIMIT 1",
                &[account.into(), time.into(), (time + MAX_TRIP_SECS).into()],
            )? {
                let ride = r.id("id")?;
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
                let ride = r.id("id")?;
                let fare = op.fares.between(r.opt_int("entry_stop")?.unwrap_or(0) as u16, stop);
                tx.execute("UPDATE rides SET exit_time = $1, exit_stop = $2, fare = $3 WHERE id = $4", &[time.into(), (stop as i64).into(), fare.into(), ride.into()])?;
                charge(tx, app, charges, card, ride)?;
                return Ok(Some(ride));
            }
            // A late exit of an entry already charged the maximum: correct it.
            if let Some(r) = tx.query_one(
                "SELECT id FROM rides WHERE account_id = $1 AND exit_time IS NULL AND state IN ('CHARGED', 'DEBT') AND entry_time <= $2 AND entry_time >= $3 ORDER BY entry_time DESC LIMIT 1",
                &[account.into(), time.into(), (time - MAX_TRIP_SECS).into()],
            )? {
                let ride = r.id("id")?;
                tx.execute("UPDATE rides SET exit_time = $1, exit_stop = $2 WHERE id = $3", &[time.into(), (stop as i64).into(), ride.into()])?;
                correct(tx, app, op, ride, now)?;
                return Ok(Some(ride));
            }
            // An exit with no entry: the maximum.
            let ride = new_ride(tx, app, card, None, Some((time, stop)), max, now)?;
            charge(tx, app, charges, card, ride)?;
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
    let fare = op.fares.between(r.opt_int("entry_stop")?.unwrap_or(0) as u16, r.opt_int("exit_stop")?.unwrap_or(0) as u16);
    let diff = r.opt_int("fare")?.unwrap_or(0) - fare;
    if r.opt_text("state")? == Some("DEBT") {
        tx.execute("UPDATE rides SET fare = $1 WHERE id = $2", &[fare.into(), ride.into()])?;
        return Ok(());
    }
    if diff > 0 {
        let order_id = r.opt_id("order_id")?.ok_or_else(|| StoreError::Corrupt("charged ride without an order".into()))?;
        let order = orders::in_job(tx, order_id)?.ok_or_else(|| StoreError::Corrupt("ride's order".into()))?;
        let out_refund_no = format!("FIX{}", &order.out_trade_no[1..]);
        let digest = serde_json::json!(["fare correction", ride.to_string()]).to_string();
        match refunds::in_job(tx, &order, diff, order.total, &out_refund_no, Some("票价更正"), None, &digest, now, RefundIds::new(app))? {
            Ok((_, state)) => {
                orders::set_state(tx, order.id, state)?;
            }
            Err(e) => return Err(StoreError::Corrupt(format!("fare correction refund: {e:?}"))),
        }
    }
    tx.execute("UPDATE rides SET fare = $1, state = 'CORRECTED' WHERE id = $2", &[fare.into(), ride.into()])?;
    Ok(())
}

/// Charges a ride (a refused charge is debt, not an error).
fn charge(tx: &mut JobTx<'_>, app: &Arc<App>, charges: &mut Charges, card: &Card, ride: u128) -> Result<(), StoreError> {
    charge_ride_with(tx, app, charges, card, ride, true).map(|_| ())
}

/// How a ride's charge ended.
enum Charged {
    /// Paid: the order and the time.
    Paid(u128, i64),
    /// The wallet could not pay: the order (PAYERROR), if one was made.
    Unpaid(Option<u128>),
    /// Refused by the agreement's rules (limits, state).
    Refused,
}

/// Charges `fare` for a ride through the card's agreement; the ride's id is the charge's idempotency
/// key (`out_trade_no`). Leaves the ride's row to the caller.
#[allow(clippy::too_many_arguments)]
fn charge_fare(tx: &mut JobTx<'_>, app: &Arc<App>, charges: &mut Charges, card: &Card, ride: u128, fare: i64, stops: (Option<i64>, Option<i64>), within_limits: bool) -> Result<Charged, StoreError> {
    let a = charges.agreement(tx, card)?;
    // `R…` for the ride's own charge, `P…` for its repayment: one order each, both keyed by the ride.
    let prefix = if within_limits { 'R' } else { 'P' };
    let n = NewOrder {
        mchid: a.mchid.clone(),
        appid: a.appid.clone(),
        trade_type: TradeType::Pap,
        description: match stops {
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
    Ok(match agreements::charge_remembering(tx, &a, n, prepared, ChargeIds::new(app), now, within_limits, &mut charges.memo)? {
        Ok((order, None)) => Charged::Paid(order.id, now),
        Ok((order, Some(_))) => Charged::Unpaid(Some(order.id)),
        Err(_) => Charged::Refused,
    })
}

/// Charges a ride through the card's agreement; the ride's id is the charge's idempotency key
/// (`out_trade_no`). A refused charge leaves the ride DEBT. `Ok(Err(()))` only for a repayment
/// (`within_limits: false`) that could not be paid: the caller undoes the whole repayment.
pub fn charge_ride(tx: &mut JobTx<'_>, app: &Arc<App>, card: &Card, ride: u128, within_limits: bool) -> Result<Result<i64, ()>, StoreError> {
    charge_ride_with(tx, app, &mut Charges::default(), card, ride, within_limits)
}

fn charge_ride_with(tx: &mut JobTx<'_>, app: &Arc<App>, charges: &mut Charges, card: &Card, ride: u128, within_limits: bool) -> Result<Result<i64, ()>, StoreError> {
    let r = tx.query_one("SELECT fare, entry_stop, exit_stop FROM rides WHERE id = $1", &[ride.into()])?.ok_or_else(|| StoreError::Corrupt("ride".into()))?;
    let fare = r.opt_int("fare")?.unwrap_or(0);
    match charge_fare(tx, app, charges, card, ride, fare, (r.opt_int("entry_stop")?, r.opt_int("exit_stop")?), within_limits)? {
        Charged::Paid(order, now) => {
            tx.execute("UPDATE rides SET state = 'CHARGED', order_id = $1, charged_at = $2 WHERE id = $3", &[order.into(), now.into(), ride.into()])?;
            Ok(Ok(fare))
        }
        _ if !within_limits => Ok(Err(())),
        Charged::Unpaid(order) => {
            tx.execute("UPDATE rides SET state = 'DEBT', order_id = $1 WHERE id = $2", &[order.into(), ride.into()])?;
            Ok(Ok(0))
        }
        Charged::Refused => {
            tx.execute("UPDATE rides SET state = 'DEBT' WHERE id = $1", &[ride.into()])?;
            Ok(Ok(0))
        }
    }
}

/// The worker's part: entries whose exit did not come within the longest trip are charged the maximum.
pub async fn settle_open_rides(app: &Arc<App>) -> Result<usize, StoreError> {
    let now = app.business_now_secs();
    let due: Vec<u128> = app.store.query("SELECT id FROM rides WHERE state = 'OPEN' AND entry_time < $1 LIMIT 500", &[(now - MAX_TRIP_SECS).into()])?
        .iter()
        .filter_map(|r| r.opt_id("id").transpose())
        .collect::<Result<_, _>>()?;
    if due.is_empty() {
        return Ok(0);
    }
    let n = due.len();
    let app2 = app.clone();
    app.store
        .transact(move |tx| {
            let mut charges = Charges::default();
            for ride in due {
                let Some(row) = tx.query_one("SELECT account_id, state FROM rides WHERE id = $1", &[ride.into()])? else { continue };
                if row.opt_text("state")? != Some("OPEN") {
                    continue;
                }
                let card = card_by_account_in_job(tx, row.opt_int("account_id")?.unwrap_or(0) as u64)?.ok_or_else(|| StoreError::Corrupt("ride without a card".into()))?;
                charge(tx, &app2, &mut charges, &card, ride)?;
            }
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("settling rides".into()))?;
    Ok(n)
}
