//! The transit service on the ride code (乘车码): operators and their fares, riders' cards (a withholding
//! agreement plus a held deposit), daily credentials, the signed lists gates pull, ingest of the gates'
//! uploads (re-verification, dedupe and clones, fares, charging through the agreement, debt), repayment,
//! and the card refund after a 72-hour hold. The code format and offline checks are `saoma_ridecode`;
//! fares are `saoma_core::fare`.
//!
//! Here: operators, cards, credentials, lists, repayment and card refunds (`mod.rs`); `keys.rs` the issuer
//! and list keys; `ingest.rs` the gates' uploads in one job each; `check.rs` its pure half (decoding and
//! signatures, fuzzed alone); `wallet.rs`, `gates.rs`, `admin.rs` the rider's, the gates' and the
//! operators' routes; `device.rs` the web wallet's ride code (a device key the platform holds) and
//! `pages.rs` the wallet's pages (`/transit`).
//!
//! Invariants: each tap is charged at most once (the ride is the order's key); an upload is idempotent on
//! (terminal, sequence); a ride the wallet cannot pay becomes debt, and a card in debt gets no new
//! credential; the deposit is held while the card is open and returned only after the 72-hour hold.

pub mod check;
pub mod admin;
pub mod device;
mod gates;
mod pages;
mod wallet;
pub mod ingest;
pub mod keys;
mod operators;
pub use operators::*;

use crate::platform::accounts::{kind, movement};
use crate::agreements::{self, Agreement};
use crate::payments;
use crate::users::{self, User};
use crate::{hex, App};
use saoma_core::agreement::{AgreementState, Limits};
use saoma_core::fare::FareTable;
use saoma_core::time::cst_day_start;
use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount, NewTransfer, TransferError};
use saoma_ridecode::{Blacklist, BlacklistEntry, CredentialTerms, KeyList, KeyListEntry, PublicKey, Suite};
use saoma_store::{JobTx, Row, StoreError};

/// How long after the later of the refund request and the last credential's expiry the deposit waits
/// for late uploads.
pub const CARD_REFUND_HOLD_SECS: i64 = 72 * 3600;
/// How often a rider in debt who asked for a card refund is reminded.
pub const REMINDER_EVERY_SECS: i64 = 24 * 3600;

#[derive(Clone, Debug)]
pub enum TransitFail {
    NoOperator,
    NoMerchant,
    ScopeTaken,
    BadConfig(&'static str),
    NoCard,
    CardOpen,
    NotEnough,
    /// Unpaid rides: no new credentials until repaid.
    InDebt(i64),
    /// A card refund was asked for (or the card is closed).
    CardClosed,
    /// A clone of the rider's code was seen; the card is blocked until then.
    Blocked(i64),
    BadDeviceKey,
    Pin(payments::PayError),
    Store(String),
}

impl From<StoreError> for TransitFail {
    fn from(e: StoreError) -> Self {
        TransitFail::Store(e.to_string())
    }
}

#[derive(Clone, Debug)]
pub struct Card {
    pub id: u128,
    pub scope: u16,
    pub user_id: u128,
    pub card_no: String,
    pub account_id: u64,
    pub agreement_id: u128,
    pub deposit: i64,
    pub state: String,
    pub refund_requested_at: Option<i64>,
    pub reminded_at: Option<i64>,
    pub blocked_until: i64,
}

const CARD_COLUMNS: &str = "id, scope, user_id, card_no, account_id, agreement_id, deposit, state, refund_requested_at, reminded_at, blocked_until";

fn card_from_row(r: &Row) -> Result<Card, StoreError> {
    Ok(Card {
        id: r.id("id")?,
        scope: u16::try_from(r.int("scope")?).map_err(|_| StoreError::Corrupt("transit card row: bad scope".into()))?,
        user_id: r.id("user_id")?,
        card_no: r.text("card_no")?.to_string(),
        account_id: r.int("account_id")? as u64,
        agreement_id: r.id("agreement_id")?,
        deposit: r.int("deposit")?,
        state: r.text("state")?.to_string(),
        refund_requested_at: r.opt_int("refund_requested_at")?,
        reminded_at: r.opt_int("reminded_at")?,
        blocked_until: r.int("blocked_until")?,
    })
}

/// The user's card with the operator that is not closed.
pub fn card_of_user_in_job(tx: &mut JobTx<'_>, user: u128, scope: u16) -> Result<Option<Card>, StoreError> {
    tx.query_one(&format!("SELECT {CARD_COLUMNS} FROM transit_cards WHERE user_id = $1 AND scope = $2 AND state <> 'CLOSED'"), &[user.into(), (scope as i64).into()])?
        .map(|r| card_from_row(&r))
        .transpose()
}

pub fn card_by_account_in_job(tx: &mut JobTx<'_>, account_id: u64) -> Result<Option<Card>, StoreError> {
    tx.query_one(&format!("SELECT {CARD_COLUMNS} FROM transit_cards WHERE account_id = $1"), &[(account_id as i64).into()])?.map(|r| card_from_row(&r)).transpose()
}

pub fn agreement_of(tx: &mut JobTx<'_>, card: &Card) -> Result<Agreement, StoreError> {
    agreements::by_id_in_job(tx, card.agreement_id)?.ok_or_else(|| StoreError::Corrupt("card's agreement".into()))
}

/// What the rider owes: rides whose charge failed.
const DEBT: &str = "SELECT CAST(COALESCE(SUM(fare), 0) AS BIGINT) AS debt FROM rides WHERE account_id = $1 AND state = 'DEBT'";

/// [`DEBT`] inside a job (under the writer: current).
pub fn debt_in_job(tx: &mut JobTx<'_>, account_id: u64) -> Result<i64, StoreError> {
    let r = tx.query_one(DEBT, &[(account_id as i64).into()])?;
    Ok(r.map(|r| r.opt_int("debt")).transpose()?.flatten().unwrap_or(0))
}

fn random_u63() -> Result<u64, StoreError> {
    let b = saoma_wechatpay::aead::random_bytes::<8>().map_err(|e| StoreError::Io(e.to_string()))?;
    Ok(u64::from_be_bytes(b) >> 1)
}

/// Opens the service for a rider (already registered: phone + SMS login): signs the operator's
/// withholding agreement (the PIN is the consent), pays the deposit from the wallet into the
/// operator's held-deposit account, and issues a virtual card. All in one job.
pub async fn open(app: &App, user: &User, scope: u16, pin_given: &str) -> Result<Card, TransitFail> {
    let now = app.business_now_secs();
    let proof = crate::users::pins::verify(app, user, pin_given).await.map_err(|e| TransitFail::Pin(e.into()))?;
    let (card_id, agreement_id, deposit_transfer, notification) = (app.ids.next(), app.ids.next(), app.ids.next(), app.ids.next());
    let account_id = random_u63()?;
    let card_no = format!("8{}", saoma_wechatpay::aead::random_digits(15).map_err(|e| StoreError::Io(e.to_string()))?);
    let contract_id = format!("T{:031x}", agreement_id & ((1u128 << 124) - 1));
    let (user_id, wallet) = (user.id, user.wallet);
    app.store
        .transact(move |tx| {
            if let Err(e) = proof.check_in_job(tx, now)? {
                return Ok(Err(TransitFail::Pin(e.into())));
            }
            let Some(op) = operator_in_job(tx, scope)? else { return Ok(Err(TransitFail::NoOperator)) };
            if card_of_user_in_job(tx, user_id, scope)?.is_some() {
                return Ok(Err(TransitFail::CardOpen));
            }
            let chain = [NewTransfer::simple(deposit_transfer, wallet, op.deposit_account, op.deposit, Currency::CNY, movement::DEPOSIT, card_id)];
            let r = tx.create_transfers(&chain)?;
            if matches!(r.first(), Some(Err(TransferError::ExceedsCredits))) {
                return Ok(Err(TransitFail::NotEnough));
            }
            if let Some(Err(e)) = r.into_iter().next() {
                return Err(StoreError::Corrupt(format!("deposit: {e}")));
            }
            let appid = crate::merchants::first_appid_in_job(tx, &op.mchid)?.ok_or_else(|| StoreError::Corrupt("operator without an appid".into()))?;
            let notify_url = crate::merchants::notify_url_in_job(tx, &op.mchid)?;
            let limits = Limits { per_charge: op.fares.max_fare(), per_day: op.daily_cap().max(op.fares.max_fare()) };
            // Proposed and signed at once: the rider opened the service and gave the PIN.
            let a = Agreement {
                id: agreement_id,
                contract_id,
                mchid: op.mchid.clone(),
                appid,
                out_contract_code: format!("CARD{card_no}"),
                user_id,
                description: "乘车码免密支付".into(),
                limits,
                notify_url,
                state: AgreementState::Proposed,
                proposed_at: now,
                signed_at: None,
                terminated_at: None,
                terminated_by: None,
            };
            // No digest: not proposed through the merchant API, so no repeated request to compare.
            agreements::record_in_job(tx, &a, "")?;
            if let Err(e) = agreements::sign_in_job(tx, a, notification, now)? {
                return Err(StoreError::Corrupt(format!("signing the transit agreement: {e:?}")));
            }
            tx.execute(
                "INSERT INTO transit_cards (id, scope, user_id, card_no, account_id, agreement_id, deposit, state, refund_requested_at, reminded_at, blocked_until, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'ACTIVE', NULL, NULL, 0, $8)",
                &[card_id.into(), (scope as i64).into(), user_id.into(), card_no.as_str().into(), (account_id as i64).into(), agreement_id.into(), op.deposit.into(), now.into()],
            )?;
            Ok(Ok(Card {
                id: card_id,
                scope,
                user_id,
                card_no,
                account_id,
                agreement_id,
                deposit: op.deposit,
                state: "ACTIVE".into(),
                refund_requested_at: None,
                reminded_at: None,
                blocked_until: 0,
            }))
        })
        .await?
}

/// A daily credential for the rider's device key: valid from an hour before this China day to an hour
/// after it (26 h, so consecutive days overlap around midnight). Refused while in debt, blocked, or
/// after a card refund was asked for.
/// The user's card, if it may ride now: open, not blocked for a copied code, no rides owed. Asked in the
/// job that issues a credential or draws a code, so that a debt or a block stops the next one at once.
pub fn riding_card_in_job(tx: &mut JobTx<'_>, user_id: u128, scope: u16, now: i64) -> Result<Result<Card, TransitFail>, StoreError> {
    let Some(card) = card_of_user_in_job(tx, user_id, scope)? else { return Ok(Err(TransitFail::NoCard)) };
    if card.state != "ACTIVE" {
        return Ok(Err(TransitFail::CardClosed));
    }
    if card.blocked_until > now {
        return Ok(Err(TransitFail::Blocked(card.blocked_until)));
    }
    let debt = debt_in_job(tx, card.account_id)?;
    if debt > 0 {
        return Ok(Err(TransitFail::InDebt(debt)));
    }
    Ok(Ok(card))
}

pub async fn credential(app: &App, user: &User, scope: u16, suite: Suite, device_key: &[u8]) -> Result<serde_json::Value, TransitFail> {
    // Checked before the job with the issuer's own rule: a key of the suite, canonical, and not one
    // of the small-order Ed25519 keys no issuer certifies.
    let device = PublicKey::certifiable(suite, device_key).map_err(|_| TransitFail::BadDeviceKey)?;
    let now = app.business_now_secs();
    let user_id = user.id;
    app.store
        .transact(move |tx| {
            let Some(op) = operator_in_job(tx, scope)? else { return Ok(Err(TransitFail::NoOperator)) };
            let card = match riding_card_in_job(tx, user_id, scope, now)? {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let issuers = keys::all_in_job(tx, "issuer")?;
            let key = keys::current_of(&issuers, suite, now).ok_or_else(|| StoreError::Corrupt(format!("no valid {} issuer key", suite.name())))?;
            let sequence = tx.query_one("SELECT MAX(sequence) AS highest FROM transit_credentials WHERE account_id = $1", &[(card.account_id as i64).into()])?.map(|r| r.opt_int("highest")).transpose()?.flatten().unwrap_or(0) + 1;
            let day = cst_day_start(now);
            let terms = CredentialTerms {
                account_id: card.account_id,
                sequence: sequence as u32,
                not_before: (day - 3600) as u32,
                not_after: (day + 25 * 3600) as u32,
                max_fare: op.fares.max_fare() as u16,
                max_uses: op.max_uses,
                class_flags: 0,
                scope,
            };
            let cred = key.issuer()?.issue(&terms, &device).map_err(|e| StoreError::Corrupt(format!("issuing: {e:?}")))?;
            tx.execute(
                "INSERT INTO transit_credentials (account_id, sequence, key_id, device_key, not_before, not_after, max_fare, max_uses, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    (card.account_id as i64).into(),
                    sequence.into(),
                    (key.key_id as i64).into(),
                    hex::encode(device.as_bytes()).into(),
                    (terms.not_before as i64).into(),
                    (terms.not_after as i64).into(),
                    (terms.max_fare as i64).into(),
                    (terms.max_uses as i64).into(),
                    now.into(),
                ],
            )?;
            let bytes = cred.to_bytes();
            Ok(Ok(serde_json::json!({
                "credential_hex": hex::encode(&bytes), "account_id": card.account_id.to_string(), "sequence": sequence,
                "not_before": terms.not_before, "not_after": terms.not_after, "max_fare": terms.max_fare, "max_uses": terms.max_uses, "scope": scope,
            })))
        })
        .await?
}

/// The gates' trust: the signed key list (every issuer key, with revocations) and the operator's signed
/// blacklist (accounts in debt, leaving, closed or blocked for a clone, until no code of their last
/// credential can pass a gate: its not_after + 300 s grace + 60 s age), and the list keys that verify
/// both.
pub fn lists(app: &App, scope: u16) -> Result<serde_json::Value, StoreError> {
    let now = app.business_now_secs();
    let issuers = keys::all(&app.store, "issuer")?;
    let list_keys = keys::all(&app.store, "lists")?;
    let signer = keys::current(&list_keys, now).ok_or_else(|| StoreError::Corrupt("no valid list key".into()))?.lists()?;
    let entries = issuers
        .iter()
        .map(|k| Ok(KeyListEntry { key: k.issuer_public()?, revoked_at: k.revoked_at.map(|t| t as u32) }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let key_list = KeyList::new(now as u64, now as u32, entries).map_err(|e| StoreError::Corrupt(format!("key list: {e:?}")))?;
    let rows = app.store.query(
        "SELECT c.account_id, (SELECT MAX(not_after) FROM transit_credentials t WHERE t.account_id = c.account_id) AS last_expiry, c.state, c.blocked_until, \
         (SELECT COUNT(*) FROM rides r WHERE r.account_id = c.account_id AND r.state = 'DEBT') AS unpaid_rides FROM transit_cards c WHERE c.scope = $1",
        &[(scope as i64).into()],
    )?;
    let mut blocked = Vec::new();
    // A code of the last credential can be made until its not_after plus the window grace and reach a
    // gate up to the maximum age later: the entry stays in force (gate time ≤ until) that long.
    let tail = (saoma_ridecode::WINDOW_GRACE + saoma_ridecode::MAX_CODE_AGE) as i64;
    for r in rows {
        let until = r.opt_int("last_expiry")?.map_or(0, |t| t + tail);
        let refused = r.opt_text("state")? != Some("ACTIVE") || r.opt_int("blocked_until")?.unwrap_or(0) > now || r.opt_int("unpaid_rides")?.unwrap_or(0) > 0;
        if refused && until >= now {
            blocked.push(BlacklistEntry { account_id: r.opt_int("account_id")?.unwrap_or(0) as u64, until: until as u32 });
        }
    }
    let blacklist = Blacklist::new(now as u64, now as u32, blocked);
    Ok(serde_json::json!({
        "key_list_hex": hex::encode(&key_list.sign(&signer)),
        "blacklist_hex": hex::encode(&blacklist.sign(&signer)),
        "blacklisted": blacklist.entries().len(),
        "list_keys": list_keys.iter().map(|k| k.json()).collect::<Vec<_>>(),
    }))
}

/// Repays every unpaid ride from the wallet (the rider is present: no daily limit), all or nothing;
/// credentials and the blacklist follow the debt. The wallet's pages repay with the PIN (`proof`, checked
/// under the writer); the wallet API without.
pub async fn repay(app: &std::sync::Arc<App>, user: &User, scope: u16, proof: Option<users::pins::PinProof>) -> Result<i64, TransitFail> {
    let (user_id, app2, now) = (user.id, app.clone(), app.business_now_secs());
    app.store
        .transact(move |tx| {
            if let Some(Err(e)) = proof.as_ref().map(|p| p.check_in_job(tx, now)).transpose()? {
                return Ok(Err(TransitFail::Pin(e.into())));
            }
            let Some(card) = card_of_user_in_job(tx, user_id, scope)? else { return Ok(Err(TransitFail::NoCard)) };
            let rides: Vec<u128> = tx
                .query("SELECT id FROM rides WHERE account_id = $1 AND state = 'DEBT' ORDER BY created_at", &[(card.account_id as i64).into()])?
                .iter()
                .filter_map(|r| r.opt_id("id").transpose())
                .collect::<Result<_, _>>()?;
            let mut paid = 0;
            for ride in rides {
                match ingest::charge_ride(tx, &app2, &card, ride, false)? {
                    Ok(fare) => paid += fare,
                    Err(_) => return Ok(Err(TransitFail::NotEnough)),
                }
            }
            Ok(Ok(paid))
        })
        .await?
}

/// The rider asks for the card refund: no more credentials, blacklisted until the last one expires;
/// the deposit comes back after the hold (see [`settle_leaving`]).
pub async fn request_card_refund(app: &App, user: &User, scope: u16) -> Result<Card, TransitFail> {
    let now = app.business_now_secs();
    let user_id = user.id;
    app.store
        .transact(move |tx| {
            let Some(card) = card_of_user_in_job(tx, user_id, scope)? else { return Ok(Err(TransitFail::NoCard)) };
            if card.state != "ACTIVE" {
                return Ok(Ok(card));
            }
            tx.execute("UPDATE transit_cards SET state = 'LEAVING', refund_requested_at = $1 WHERE id = $2", &[now.into(), card.id.into()])?;
            Ok(Ok(Card { state: "LEAVING".into(), refund_requested_at: Some(now), ..card }))
        })
        .await?
}

/// The worker's part of card refunds: a leaving card whose hold has passed gets its deposit back and its
/// agreement ended — unless the rider owes rides, who is then reminded (SMS outbox, once a day) and waits.
pub async fn settle_leaving(app: &App) -> Result<usize, StoreError> {
    let now = app.business_now_secs();
    let due: Vec<u128> = app.store.query("SELECT id FROM transit_cards WHERE state = 'LEAVING' AND refund_requested_at <= $1", &[(now - CARD_REFUND_HOLD_SECS).into()])?
        .iter()
        .filter_map(|r| r.opt_id("id").transpose())
        .collect::<Result<_, _>>()?;
    let mut settled = 0;
    for card_id in due {
        let (refund, sms, notification) = (app.ids.next(), app.ids.next(), app.ids.next());
        let done = app
            .store
            .transact(move |tx| {
                let Some(card) = tx.query_one(&format!("SELECT {CARD_COLUMNS} FROM transit_cards WHERE id = $1"), &[card_id.into()])?.map(|r| card_from_row(&r)).transpose()? else {
                    return Ok(Ok(false));
                };
                let last_expiry = tx.query_one("SELECT MAX(not_after) AS last_expiry FROM transit_credentials WHERE account_id = $1", &[(card.account_id as i64).into()])?.map(|r| r.opt_int("last_expiry")).transpose()?.flatten().unwrap_or(0);
                let requested = card.refund_requested_at.unwrap_or(now);
                if card.state != "LEAVING" || now < requested.max(last_expiry) + CARD_REFUND_HOLD_SECS {
                    return Ok(Ok(false));
                }
                let debt = debt_in_job(tx, card.account_id)?;
                let user = users::in_job(tx, card.user_id)?.ok_or_else(|| StoreError::Corrupt("card's user".into()))?;
                if debt > 0 {
                    if card.reminded_at.is_none_or(|t| now >= t + REMINDER_EVERY_SECS) {
                        let text = format!("Your transit card {} has {} CNY of unpaid rides; repay them to get your deposit back.", card.card_no, saoma_core::yuan::format(debt));
                        users::message_in_job(tx, sms, &user.phone, "reminder", &text, now)?;
                        tx.execute("UPDATE transit_cards SET reminded_at = $1 WHERE id = $2", &[now.into(), card.id.into()])?;
                    }
                    return Ok(Ok(false));
                }
                let op = operator_in_job(tx, card.scope)?.ok_or_else(|| StoreError::Corrupt("card's operator".into()))?;
                let r = tx.create_transfers(&[NewTransfer::simple(refund, op.deposit_account, user.wallet, card.deposit, Currency::CNY, movement::DEPOSIT, card.id)])?;
                if let Some(Err(e)) = r.into_iter().next() {
                    return Err(StoreError::Corrupt(format!("deposit refund: {e}")));
                }
                let a = agreement_of(tx, &card)?;
                if a.state != AgreementState::Terminated {
                    if let Err(e) = agreements::terminate_in_job(tx, a, "USER", notification, now)? {
                        return Err(StoreError::Corrupt(format!("ending the transit agreement: {e:?}")));
                    }
                }
                tx.execute("UPDATE transit_cards SET state = 'CLOSED', closed_at = $1 WHERE id = $2", &[now.into(), card.id.into()])?;
                Ok(Ok::<bool, ()>(true))
            })
            .await?;
        if done == Ok(true) {
            settled += 1;
        }
    }
    Ok(settled)
}

/// A card's deposit as the rider's wallet history shows it: held when the card was opened, returned when
/// it was closed.
#[derive(Clone, Debug)]
pub struct CardDeposit {
    pub card_no: String,
    pub scope: u16,
    /// The operator's (merchant's) name.
    pub merchant: String,
    pub amount: i64,
    pub held_at: i64,
    pub returned_at: Option<i64>,
}

/// The deposits of `user`'s cards, newest card first, at most `limit` cards (the wallet's history).
pub fn deposits_of(app: &App, user: u128, limit: i64) -> Result<Vec<CardDeposit>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT c.created_at, c.closed_at, c.state, c.deposit, c.card_no, c.scope, {} AS merchant_name FROM transit_cards c JOIN transit_operators o ON o.scope = c.scope \
             {} WHERE c.user_id = $1 ORDER BY c.created_at DESC LIMIT $2",
            crate::merchants::NAME,
            crate::merchants::join("o.mchid"),
        ),
        &[user.into(), limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(CardDeposit {
                card_no: r.text("card_no")?.to_string(),
                scope: u16::try_from(r.int("scope")?).map_err(|_| StoreError::Corrupt("transit card row: bad scope".into()))?,
                merchant: r.text("merchant_name")?.to_string(),
                amount: r.int("deposit")?,
                held_at: r.int("created_at")?,
                returned_at: if r.text("state")? == "CLOSED" { r.opt_int("closed_at")? } else { None },
            })
        })
        .collect()
}

/// What the rider sees: the card, deposit, debt, and the latest rides. A card blocked after a clone
/// of its code was seen shows as `BLOCKED`, with the reason (the upload's reason code, `clone`) and
/// until when — the rider's answer to "why does my code not work".
pub fn rider_view(app: &App, user: &User, scope: u16) -> Result<Option<serde_json::Value>, StoreError> {
    let row = app.store.query_one(&format!("SELECT {CARD_COLUMNS} FROM transit_cards WHERE user_id = $1 AND scope = $2 ORDER BY created_at DESC LIMIT 1"), &[user.id.into(), (scope as i64).into()])?;
    let Some(card) = row.map(|r| card_from_row(&r)).transpose()? else { return Ok(None) };
    let rides = app.store.query(
        "SELECT entry_time, entry_stop, exit_time, exit_stop, fare, state, charged_at FROM rides WHERE account_id = $1 ORDER BY COALESCE(entry_time, exit_time) DESC LIMIT 50",
        &[(card.account_id as i64).into()],
    )?;
    // All of the debt, not only what the latest rides show (the same sum that refuses credentials).
    let debt = app.store.query_one(DEBT, &[(card.account_id as i64).into()])?.map(|r| r.opt_int("debt")).transpose()?.flatten().unwrap_or(0);
    // Only a clone blocks a card (ingest sets `blocked_until` to the copied credential's expiry).
    let blocked = (card.blocked_until > app.business_now_secs()).then(|| {
        serde_json::json!({
            "reason": saoma_ridecode::RecordReason::Clone.code(), "until": saoma_core::time::format_rfc3339_cst(card.blocked_until), "until_unix": card.blocked_until,
        })
    });
    let state = if blocked.is_some() && card.state == "ACTIVE" { "BLOCKED" } else { card.state.as_str() };
    let rides = rides
        .iter()
        .map(|r| {
            Ok(serde_json::json!({
                "entry_time": r.opt_int("entry_time")?, "entry_stop": r.opt_int("entry_stop")?, "exit_time": r.opt_int("exit_time")?, "exit_stop": r.opt_int("exit_stop")?,
                "fare": r.opt_int("fare")?, "state": r.opt_text("state")?, "charged_at": r.opt_int("charged_at")?,
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(serde_json::json!({
        "card_no": card.card_no, "scope": card.scope, "state": state, "blocked": blocked, "deposit": card.deposit, "debt": debt,
        "refund_requested_at": card.refund_requested_at,
        "rides": rides,
    })))
}

/// The rider's wallet routes, the gates' public routes and the operators' admin routes.
pub fn routes() -> crate::http::Routes {
    let (wallet, public, admin, pages) = (wallet::routes(), gates::routes(), admin::routes(), pages::routes());
    crate::http::Routes { wallet, public, admin, pages, ..Default::default() }
}
