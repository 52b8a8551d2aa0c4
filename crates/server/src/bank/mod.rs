//! Bank cards: top-ups (card → wallet) and withdrawals (wallet → card) through a bank connector.
//!
//! The money is held by a pending ledger transfer while the bank decides: a withdrawal reserves the
//! wallet's funds (so they cannot be spent twice), a top-up shows as incoming. The bank's answer posts
//! the hold (success) or voids it (decline). A bank that does not answer in time leaves the operation
//! pending; a reconciler asks the bank again later, so no outcome is ever guessed. Each operation is
//! idempotent on the user's `request_id`.
//!
//! Money moves only to and from a card the user has bound (`cards`: the PIN, then the bank's one-time
//! code), and each operation, top-up or withdrawal, needs the PIN besides (a [`PinProof`]); a retry of
//! one already started ([`replay`]) is answered without it.
//!
//! The built-in connector is a simulated bank with test cards: numbers ending in `0002` are declined,
//! `0003` answer too slowly (and succeed ten seconds later), `0004` cannot be bound (the bank refuses to
//! send a code), every other 16–19-digit number succeeds. Its binding code goes to the SMS outbox
//! (purpose `card_bind`; never a login code), valid five minutes, three tries.

pub mod cards;
mod pages;
mod wallet;

use crate::platform::accounts::{movement, BANK_CLEARING_CNY};
use crate::users::pins::{PinError, PinProof};
use crate::users::User;
use crate::App;
use std::sync::Arc;
use saoma_ledger::{AccountId, Currency, NewTransfer, TransferError, TransferFlags, TransferId};
use saoma_store::{Row, Store, StoreError};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TopUp,
    Withdrawal,
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::TopUp => "top_up",
            Kind::Withdrawal => "withdrawal",
        }
    }

    fn movement(&self) -> u16 {
        match self {
            Kind::TopUp => movement::TOP_UP,
            Kind::Withdrawal => movement::WITHDRAWAL,
        }
    }
}

/// What a bank answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankAnswer {
    Succeeded,
    Declined(String),
    /// No answer yet (time-out, or still processing): ask again later.
    Unknown,
}

/// A bank: charges and credits cards, and says later what became of an operation. Called on a
/// blocking thread. `store` is the platform's, for connectors that keep a local record (the simulated
/// bank keeps its whole book there).
pub trait BankConnector: Send + Sync {
    fn execute(&self, store: &Store, operation: &str, kind: Kind, card_no: &str, amount: i64, now: i64) -> Result<BankAnswer, StoreError>;
    fn status(&self, store: &Store, operation: &str, now: i64) -> Result<BankAnswer, StoreError>;
    /// Asks the bank to confirm that the holder of `phone` binds `card_no`: it sends them a one-time
    /// code (`CodeSent`) or refuses.
    fn request_binding(&self, store: &Store, binding: &str, card_no: &str, phone: &str, now: i64) -> Result<BindingAnswer, StoreError>;
    /// The code the user typed for `binding`. The bank counts the tries.
    fn confirm_binding(&self, store: &Store, binding: &str, code: &str, now: i64) -> Result<BindingAnswer, StoreError>;
}

/// What a bank answers about binding a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingAnswer {
    CodeSent,
    Bound,
    WrongCode { tries_left: i64 },
    Refused(String),
}

/// Ids of the simulated bank's own rows (it is not the platform: it draws its own).
static BANK_IDS: std::sync::LazyLock<saoma_store::IdGen> = std::sync::LazyLock::new(saoma_store::IdGen::new);

/// The simulated bank's binding code: how long it is valid, and how many tries it allows.
pub const BINDING_CODE_SECS: i64 = 300;
pub const BINDING_CODE_TRIES: i64 = 3;

fn simulate_request_binding(store: &Store, binding: String, card_no: String, phone: String, now: i64) -> Result<BindingAnswer, StoreError> {
    if card_no.ends_with("0004") {
        return Ok(BindingAnswer::Refused("the issuing bank refuses to bind this card (test card)".into()));
    }
    let code = saoma_wechatpay::aead::random_digits(6).map_err(|e| StoreError::Io(e.to_string()))?;
    let sms = BANK_IDS.next();
    let tail = card_no[card_no.len() - 4..].to_string();
    tokio::runtime::Handle::current().block_on(store.transact(move |tx| {
        if tx.query_one("SELECT outcome FROM simulated_bank_bindings WHERE binding = $1", &[binding.as_str().into()])?.is_some() {
            return Ok(Ok::<(), ()>(()));
        }
        tx.execute(
            "INSERT INTO simulated_bank_bindings (binding, card_no, phone, code, tries, expires_at, outcome) VALUES ($1, $2, $3, $4, 0, $5, 'waiting')",
            &[binding.as_str().into(), card_no.into(), phone.as_str().into(), code.as_str().into(), (now + BINDING_CODE_SECS).into()],
        )?;
        // The bank's text message; its purpose keeps it from ever serving as a login code.
        let message = format!("【模拟银行】验证码 {code}，用于绑定尾号 {tail} 的银行卡，5 分钟内有效。");
        crate::users::code_in_job(tx, sms, &phone, "card_bind", &code, &message, now, now + BINDING_CODE_SECS)?;
        Ok(Ok(()))
    }))?
    .ok();
    Ok(BindingAnswer::CodeSent)
}

fn simulate_confirm_binding(store: &Store, binding: String, code: String, now: i64) -> Result<BindingAnswer, StoreError> {
    // The check and its count in one job: codes tried at once are each counted.
    let answer = tokio::runtime::Handle::current().block_on(store.transact(move |tx| {
        let Some(r) = tx.query_one("SELECT code, tries, expires_at, outcome, phone FROM simulated_bank_bindings WHERE binding = $1", &[binding.as_str().into()])? else {
            return Ok(Ok::<_, ()>(BindingAnswer::Refused("the bank has no such binding request".into())));
        };
        let (tries, expires_at) = (r.opt_int("tries")?.unwrap_or(BINDING_CODE_TRIES), r.opt_int("expires_at")?.unwrap_or(0));
        match r.opt_text("outcome")? {
            Some("bound") => return Ok(Ok(BindingAnswer::Bound)),
            Some("waiting") => {}
            _ => return Ok(Ok(BindingAnswer::Refused("the binding failed; start again".into()))),
        }
        let fail = |tx: &mut saoma_store::JobTx<'_>, why: &str| -> Result<BindingAnswer, StoreError> {
            tx.execute("UPDATE simulated_bank_bindings SET outcome = 'failed' WHERE binding = $1", &[binding.as_str().into()])?;
            Ok(BindingAnswer::Refused(why.into()))
        };
        if now >= expires_at {
            return Ok(Ok(fail(tx, "the code expired; start again")?));
        }
        if r.opt_text("code")? == Some(code.as_str()) {
            tx.execute("UPDATE simulated_bank_bindings SET outcome = 'bound', tries = $1 WHERE binding = $2", &[(tries + 1).into(), binding.as_str().into()])?;
            crate::users::code_used_in_job(tx, r.text("phone")?, "card_bind", &code, now)?;
            return Ok(Ok(BindingAnswer::Bound));
        }
        let tries = tries + 1;
        if tries >= BINDING_CODE_TRIES {
            return Ok(Ok(fail(tx, "too many wrong codes; start again")?));
        }
        tx.execute("UPDATE simulated_bank_bindings SET tries = $1 WHERE binding = $2", &[tries.into(), binding.as_str().into()])?;
        Ok(Ok(BindingAnswer::WrongCode { tries_left: BINDING_CODE_TRIES - tries }))
    }))?;
    Ok(answer.unwrap_or_else(|()| BindingAnswer::Refused("bank error".into())))
}

/// The simulated bank, keeping its book in the platform's database.
pub struct SimulatedBank;

/// How long the slow test card takes.
pub const SLOW_CARD_SECS: i64 = 10;

fn simulate(store: &Store, operation: String, kind: Kind, card_no: String, amount: i64, now: i64) -> Result<BankAnswer, StoreError> {
    let (outcome, completes_at) = if card_no.ends_with("0002") {
        ("declined", now)
    } else if card_no.ends_with("0003") {
        ("succeeded", now + SLOW_CARD_SECS)
    } else {
        ("succeeded", now)
    };
    let answer = tokio::runtime::Handle::current().block_on(store.transact(move |tx| {
        // The bank is idempotent on the operation too.
        if tx.query_one("SELECT outcome FROM simulated_bank WHERE operation = $1", &[operation.as_str().into()])?.is_none() {
            tx.execute(
                "INSERT INTO simulated_bank (operation, kind, card_no, amount, outcome, completes_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[operation.into(), kind.as_str().into(), card_no.into(), amount.into(), outcome.into(), completes_at.into()],
            )?;
        }
        Ok(Ok::<(), ()>(()))
    }))?;
    let _ = answer;
    Ok(if completes_at > now {
        // The slow card: the caller's wait runs out first.
        std::thread::sleep(Duration::from_millis(200));
        BankAnswer::Unknown
    } else if outcome == "declined" {
        BankAnswer::Declined("declined by the issuing bank (test card)".into())
    } else {
        BankAnswer::Succeeded
    })
}

impl BankConnector for SimulatedBank {
    fn execute(&self, store: &Store, operation: &str, kind: Kind, card_no: &str, amount: i64, now: i64) -> Result<BankAnswer, StoreError> {
        simulate(store, operation.to_string(), kind, card_no.to_string(), amount, now)
    }

    fn request_binding(&self, store: &Store, binding: &str, card_no: &str, phone: &str, now: i64) -> Result<BindingAnswer, StoreError> {
        simulate_request_binding(store, binding.to_string(), card_no.to_string(), phone.to_string(), now)
    }

    fn confirm_binding(&self, store: &Store, binding: &str, code: &str, now: i64) -> Result<BindingAnswer, StoreError> {
        simulate_confirm_binding(store, binding.to_string(), code.to_string(), now)
    }

    fn status(&self, store: &Store, operation: &str, now: i64) -> Result<BankAnswer, StoreError> {
        let row = store.query_one("SELECT outcome, completes_at FROM simulated_bank WHERE operation = $1", &[operation.into()])?;
        Ok(match row {
            None => BankAnswer::Declined("the bank never received the operation".into()),
            Some(r) if r.opt_int("completes_at")?.unwrap_or(0) > now => BankAnswer::Unknown,
            Some(r) if r.opt_text("outcome")? == Some("declined") => BankAnswer::Declined("declined by the issuing bank (test card)".into()),
            Some(_) => BankAnswer::Succeeded,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BankError {
    BadCard,
    BadAmount,
    BadRequestId,
    NotEnough,
    RequestIdReused,
    /// Not a card this user has bound.
    CardNotBound,
    Pin(PinError),
    Store(String),
}

impl From<StoreError> for BankError {
    fn from(e: StoreError) -> Self {
        BankError::Store(e.to_string())
    }
}

/// An operation as the wallet shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Operation {
    pub id: String,
    pub request_id: String,
    pub kind: String,
    pub amount: i64,
    pub state: String,
    pub error: Option<String>,
}

pub fn valid_card(card: &str) -> bool {
    (16..=19).contains(&card.len()) && card.bytes().all(|b| b.is_ascii_digit())
}

fn op_from_row(r: &Row) -> Result<Operation, StoreError> {
    Ok(Operation {
        id: r.opt_blob("id")?.map(|b| b.iter().map(|x| format!("{x:02x}")).collect()).unwrap_or_default(),
        request_id: r.opt_text("request_id")?.unwrap_or_default().to_string(),
        kind: r.opt_text("kind")?.unwrap_or_default().to_string(),
        amount: r.opt_int("amount")?.unwrap_or(0),
        state: r.opt_text("state")?.unwrap_or_default().to_string(),
        error: r.opt_text("error")?.map(str::to_string),
    })
}

const OP_COLUMNS: &str = "id, request_id, kind, amount, state, error, hold_transfer, card_no";

/// Checks a top-up's or withdrawal's fields before anything is asked of the user (the PIN) or the bank.
pub fn check_request(card_no: &str, amount: i64, request_id: &str) -> Result<(), BankError> {
    if !valid_card(card_no) {
        return Err(BankError::BadCard);
    }
    if amount <= 0 || amount > saoma_core::order::MAX_TOTAL {
        return Err(BankError::BadAmount);
    }
    if request_id.is_empty() || request_id.len() > 64 {
        return Err(BankError::BadRequestId);
    }
    Ok(())
}

/// Whether `user` has bound `card_no` (a read: the operation's job checks again under the writer).
pub fn card_bound(app: &App, user: u128, card_no: &str) -> Result<bool, StoreError> {
    Ok(app.store.query_one(CARD_BOUND, &[user.into(), card_no.into()])?.is_some())
}

const CARD_BOUND: &str = "SELECT id FROM bank_cards WHERE user_id = $1 AND card_no = $2 AND bound_at IS NOT NULL";

/// Whether a stored operation (`OP_COLUMNS`) is the one asked for again: same kind, amount and card.
fn same_operation(r: &Row, kind: Kind, amount: i64, card_no: &str) -> Result<bool, StoreError> {
    Ok(r.opt_text("kind")? == Some(kind.as_str()) && r.opt_int("amount")? == Some(amount) && r.opt_text("card_no")? == Some(card_no))
}

/// The operation `user` already started under `request_id`, looked up before the PIN is asked for: a
/// retry of the same operation gets its current state back without the PIN and without spending a try
/// (a replay moves nothing); the request_id used for something else is refused. `None`: a new operation.
pub fn replay(app: &App, user: u128, kind: Kind, card_no: &str, amount: i64, request_id: &str) -> Result<Option<Operation>, BankError> {
    match app.store.query_one(&format!("SELECT {OP_COLUMNS} FROM bank_operations WHERE user_id = $1 AND request_id = $2"), &[user.into(), request_id.into()])? {
        Some(r) if same_operation(&r, kind, amount, card_no)? => Ok(Some(op_from_row(&r)?)),
        Some(_) => Err(BankError::RequestIdReused),
        None => Ok(None),
    }
}

/// `user`'s top-ups and withdrawals, each with when it was started, newest first, at most `limit` (the
/// wallet's history).
pub fn operations_of(app: &App, user: u128, limit: i64) -> Result<Vec<(i64, Operation)>, StoreError> {
    let rows = app.store.query(&format!("SELECT {OP_COLUMNS}, created_at FROM bank_operations WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2"), &[user.into(), limit.into()])?;
    rows.iter().map(|r| Ok((r.int("created_at")?, op_from_row(r)?))).collect()
}

/// Starts a top-up or a withdrawal, asks the bank, and settles what the bank answered. Both need the
/// PIN (`proof`): a top-up pulls money off the card, and a stolen session must not be able to turn the
/// victim's card into wallet money spent below the password-free limit.
pub async fn start(app: &std::sync::Arc<App>, user: &User, kind: Kind, card_no: String, amount: i64, request_id: String, proof: PinProof) -> Result<Operation, BankError> {
    check_request(&card_no, amount, &request_id)?;
    if proof.user() != user.id {
        return Err(BankError::Pin(PinError::Wrong { tries_left: 0 }));
    }
    let now = app.business_now_secs();
    let (op_id, hold_id, user_id, wallet) = (app.ids.next(), app.ids.next(), user.id, user.wallet);
    let (card2, rid2) = (card_no.clone(), request_id.clone());
    let started = app
        .store
        .transact(move |tx| {
            if let Some(r) = tx.query_one(&format!("SELECT {OP_COLUMNS} FROM bank_operations WHERE user_id = $1 AND request_id = $2"), &[user_id.into(), rid2.as_str().into()])? {
                // Two first requests raced past `replay`: the later one gets the earlier's operation.
                return Ok(if same_operation(&r, kind, amount, &card2)? { Ok((op_from_row(&r)?, false)) } else { Err(BankError::RequestIdReused) });
            }
            // Under the writer: the card is bound to this user, and no PIN lock came after the check.
            if tx.query_one(CARD_BOUND, &[user_id.into(), card2.as_str().into()])?.is_none() {
                return Ok(Err(BankError::CardNotBound));
            }
            if let Err(e) = proof.check_in_job(tx, now)? {
                return Ok(Err(BankError::Pin(e)));
            }
            let (dr, cr) = match kind {
                Kind::TopUp => (BANK_CLEARING_CNY, wallet),
                Kind::Withdrawal => (wallet, BANK_CLEARING_CNY),
            };
            let mut hold = NewTransfer::simple(hold_id, dr, cr, amount, Currency::CNY, kind.movement(), op_id);
            hold.flags = TransferFlags::PENDING;
            match tx.create_transfers(&[hold])?.pop() {
                Some(Ok(_)) => {}
                Some(Err(TransferError::ExceedsCredits)) => return Ok(Err(BankError::NotEnough)),
                Some(Err(e)) => return Err(StoreError::Corrupt(format!("bank hold: {e}"))),
                None => return Err(StoreError::Corrupt("bank hold: no result".into())),
            }
            tx.execute(
                "INSERT INTO bank_operations (id, request_id, kind, amount, state, error, hold_transfer, card_no, user_id, created_at, finished_at) VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $6, $7, $8, NULL)",
                &[op_id.into(), rid2.as_str().into(), kind.as_str().into(), amount.into(), hold_id.into(), card2.as_str().into(), user_id.into(), now.into()],
            )?;
            Ok(Ok((Operation { id: format!("{op_id:032x}"), request_id: rid2, kind: kind.as_str().into(), amount, state: "pending".into(), error: None }, true)))
        })
        .await??;
    let (op, fresh) = started;
    if !fresh || op.state != "pending" {
        return Ok(op);
    }
    let (app2, op_name) = (app.clone(), op.id.clone());
    let answer = tokio::task::spawn_blocking(move || crate::bank::connector(&app2).execute(&app2.store, &op_name, kind, &card_no, amount, now)).await.map_err(|e| BankError::Store(e.to_string()))??;
    settle(app, op_id, answer).await?;
    load(app, op_id).map_err(Into::into)
}

fn load(app: &App, op_id: u128) -> Result<Operation, StoreError> {
    app.store.query_one(&format!("SELECT {OP_COLUMNS} FROM bank_operations WHERE id = $1"), &[op_id.into()])?
        .map(|r| op_from_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::Corrupt("bank operation vanished".into()))
}

/// Posts or voids the hold as the bank answered; `Unknown` leaves it for the reconciler.
async fn settle(app: &App, op_id: u128, answer: BankAnswer) -> Result<(), StoreError> {
    if answer == BankAnswer::Unknown {
        return Ok(());
    }
    let now = app.business_now_secs();
    let resolve_id = app.ids.next();
    app.store
        .transact(move |tx| {
            let Some(r) = tx.query_one(&format!("SELECT {OP_COLUMNS} FROM bank_operations WHERE id = $1"), &[op_id.into()])? else {
                return Ok(Ok(()));
            };
            if r.opt_text("state")? != Some("pending") {
                return Ok(Ok(())); // settled already (by the reconciler, or a retry)
            }
            let hold = TransferId(r.id("hold_transfer")?);
            let (flags, state, error) = match &answer {
                BankAnswer::Succeeded => (TransferFlags::POST_PENDING, "succeeded", None),
                BankAnswer::Declined(why) => (TransferFlags::VOID_PENDING, "failed", Some(why.clone())),
                BankAnswer::Unknown => return Ok(Ok(())),
            };
            let t = NewTransfer {
                id: TransferId(resolve_id),
                debit_account_id: AccountId(0),
                credit_account_id: AccountId(0),
                amount: 0,
                pending_id: Some(hold),
                currency: None,
                code: if r.opt_text("kind")? == Some("withdrawal") { movement::WITHDRAWAL } else { movement::TOP_UP },
                reference: op_id,
                flags,
                timeout: 0,
            };
            if let Some(Err(e)) = tx.create_transfers(&[t])?.pop() {
                return Err(StoreError::Corrupt(format!("settling a bank hold: {e}")));
            }
            tx.execute("UPDATE bank_operations SET state = $1, error = $2, finished_at = $3 WHERE id = $4", &[state.into(), error.into(), now.into(), op_id.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .ok();
    Ok(())
}

/// How old (business seconds) a pending operation must be before the reconciler asks the bank about it.
///
/// Why: [`start`] commits the hold, then asks the bank, then settles. An operation is pending in between,
/// and the reconciler (every second) used to take every pending one: asking the bank about an operation
/// whose request had not reached it yet, it heard "never received", voided the hold and marked the
/// operation failed — and then the request arrived and the bank moved the money anyway (a top-up taken
/// from the card and never credited; a withdrawal paid out while its hold was released). The transit
/// race test met it: a top-up answered "failed: the bank never received the operation". So the
/// reconciler leaves an operation to its first request for this long; a connector must answer (or give
/// up with `Unknown`) well within it. Kept under the slow test card's ten seconds.
pub const RECONCILE_AFTER_SECS: i64 = 5;

/// Asks the bank about operations left pending (time-outs, or a crash mid-way) and settles them.
pub async fn reconcile(app: &std::sync::Arc<App>) -> Result<usize, StoreError> {
    let now = app.business_now_secs();
    let rows = app.store.query("SELECT id FROM bank_operations WHERE state = 'pending' AND created_at <= $1 ORDER BY created_at LIMIT 64", &[(now - RECONCILE_AFTER_SECS).into()])?;
    let mut n = 0;
    for r in rows {
        let Some(op_id) = r.opt_id("id")? else { continue };
        let (app2, name) = (app.clone(), format!("{op_id:032x}"));
        let answer = tokio::task::spawn_blocking(move || crate::bank::connector(&app2).status(&app2.store, &name, now)).await.map_err(|e| StoreError::Io(e.to_string()))??;
        if answer != BankAnswer::Unknown {
            settle(app, op_id, answer).await?;
            n += 1;
        }
    }
    Ok(n)
}


/// Top-up, withdrawal and bank cards in the wallet API and the wallet's pages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        pages: axum::Router::new()
            .route("/cards", get(pages::show))
            .route("/cards/bind", post(pages::bind))
            .route("/cards/bind/confirm", post(pages::confirm))
            .route("/cards/topup", get(pages::topup_form).post(pages::topup))
            .route("/cards/withdraw", get(pages::withdraw_form).post(pages::withdraw)),
        wallet: axum::Router::new()
            .route("/wallet/topup", post(wallet::top_up))
            .route("/wallet/withdraw", post(wallet::withdraw))
            .route("/wallet/cards", get(wallet::cards).post(wallet::bind_card))
            .route("/wallet/cards/:binding_id/confirm", post(wallet::confirm_card)),
        ..Default::default()
    }
}

/// The bank this process talks to (the simulated bank today; a real connector is chosen here when there
/// is one).
struct Connector(Arc<dyn BankConnector>);

impl crate::Part for Connector {
    fn new(_: &crate::Config) -> Self {
        Connector(Arc::new(SimulatedBank))
    }
}

pub(crate) fn connector(app: &App) -> Arc<dyn BankConnector> {
    app.part::<Connector>().0.clone()
}
