//! Binding bank cards to a wallet. Money moves to and from a card only once it is bound (`bank`), and
//! binding needs both the user's PIN and the bank's confirmation: the bank sends the card holder a
//! one-time code, which the user types back (the bank counts the tries and lets the code expire).
//! A card is bound to one user at a time: a card another user has bound is refused.

use crate::bank::BindingAnswer;
use crate::users::pins::{self, PinError};
use crate::users::User;
use crate::App;
use saoma_store::{StoreError, Value};
use std::sync::Arc;

/// A bound card as the wallet shows it: never the whole number.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Card {
    pub id: String,
    /// The number's last four digits.
    pub tail: String,
    pub bound_at: i64,
}

/// A binding request as the wallet shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Binding {
    pub id: String,
    pub tail: String,
    /// `code_sent`, `bound` or `failed`.
    pub state: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardError {
    BadCard,
    AlreadyBound,
    /// Another user has bound this card.
    BoundElsewhere,
    Pin(PinError),
    NoSuchBinding,
    WrongCode { tries_left: i64 },
    /// The bank refused (the test card `…0004`, a lapsed code, too many wrong codes).
    Refused(String),
    /// Too many binding requests (by this user, or for this card) in a day: each sends the holder an
    /// SMS and a fresh code with fresh tries, so unlimited requests would be an unlimited guess.
    TooMany { retry_after: i64 },
    Store(String),
}

impl From<StoreError> for CardError {
    fn from(e: StoreError) -> Self {
        CardError::Store(e.to_string())
    }
}

/// Binding requests in a rolling day: by one user, and for one card whoever asks (the card's holder
/// gets one SMS each). Three code tries each: at most 15 guesses a day at a card's six-digit code.
pub const BINDINGS_PER_USER_PER_DAY: i64 = 10;
pub const BINDINGS_PER_CARD_PER_DAY: i64 = 5;
const DAY: i64 = 24 * 3600;

/// The last four digits, all a page ever shows of a card number.
pub fn tail(card_no: &str) -> String {
    card_no[card_no.len().saturating_sub(4)..].to_string()
}

/// Which user, if any, has bound `card_no`.
fn bound_by(app: &App, card_no: &str) -> Result<Option<u128>, StoreError> {
    Ok(app.store.query_one("SELECT user_id FROM bank_cards WHERE card_no = $1 AND bound_at IS NOT NULL", &[card_no.into()])?.map(|r| r.opt_id("user_id")).transpose()?.flatten())
}

/// Starts binding `card_no`: the PIN, then the bank sends its code to the holder's phone.
pub async fn request(app: &Arc<App>, user: &User, card_no: String, pin: &str) -> Result<Binding, CardError> {
    if !crate::bank::valid_card(&card_no) {
        return Err(CardError::BadCard);
    }
    // One's own card is refused before the PIN (no try spent); whether another wallet holds a card is
    // said only to someone who knows this wallet's PIN (not an oracle for a stolen session).
    let holder = bound_by(app, &card_no)?;
    if holder == Some(user.id) {
        return Err(CardError::AlreadyBound);
    }
    let proof = pins::verify(app, user, pin).await.map_err(CardError::Pin)?;
    if holder.is_some() {
        return Err(CardError::BoundElsewhere);
    }
    let (id, now, user_id) = (app.ids.next(), app.business_now_secs(), user.id);
    // The PIN's proof, the day's counts and the request's row in one job, before the bank is asked:
    // requests sent at once cannot all pass the count.
    let card2 = card_no.clone();
    app.store
        .transact(move |tx| {
            if let Err(e) = proof.check_in_job(tx, now)? {
                return Ok(Err(CardError::Pin(e)));
            }
            let since = now - DAY;
            for (column, key, limit) in [("user_id", Value::from(user_id), BINDINGS_PER_USER_PER_DAY), ("card_no", Value::from(card2.as_str()), BINDINGS_PER_CARD_PER_DAY)] {
                // The oldest of the last `limit` requests: when it leaves the day, one more may be made.
                let oldest = tx.query_one(
                    &format!("SELECT created_at FROM card_bindings WHERE {column} = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 1 OFFSET $3"),
                    &[key, since.into(), (limit - 1).into()],
                )?;
                if let Some(t) = oldest.map(|r| r.opt_int("created_at")).transpose()?.flatten() {
                    return Ok(Err(CardError::TooMany { retry_after: (t + DAY - now).max(1) }));
                }
            }
            tx.execute(
                "INSERT INTO card_bindings (id, user_id, card_no, state, error, created_at, finished_at) VALUES ($1, $2, $3, 'requesting', NULL, $4, NULL)",
                &[id.into(), user_id.into(), card2.into(), now.into()],
            )?;
            Ok(Ok(()))
        })
        .await??;
    let (app2, name, card2, phone) = (app.clone(), format!("{id:032x}"), card_no.clone(), user.phone.clone());
    let answer = tokio::task::spawn_blocking(move || crate::bank::connector(&app2).request_binding(&app2.store, &name, &card2, &phone, now)).await.map_err(|e| CardError::Store(e.to_string()))??;
    let (state, error) = match &answer {
        BindingAnswer::CodeSent => ("code_sent", None),
        BindingAnswer::Refused(why) => ("failed", Some(why.clone())),
        other => ("failed", Some(format!("unexpected bank answer: {other:?}"))),
    };
    let error2 = error.clone();
    app.store
        .transact(move |tx| {
            tx.execute(
                "UPDATE card_bindings SET state = $1, error = $2, finished_at = $3 WHERE id = $4",
                &[state.into(), error2.into(), (state == "failed").then_some(now).into(), id.into()],
            )?;
            Ok(Ok::<(), CardError>(()))
        })
        .await??;
    match answer {
        BindingAnswer::CodeSent => Ok(Binding { id: format!("{id:032x}"), tail: tail(&card_no), state: state.into(), error }),
        _ => Err(CardError::Refused(error.unwrap_or_default())),
    }
}

/// The user types the bank's code: once the bank confirms, the card is bound.
pub async fn confirm(app: &Arc<App>, user: &User, binding_id: &str, code: String) -> Result<Card, CardError> {
    let id = u128::from_str_radix(binding_id, 16).ok().filter(|_| binding_id.len() == 32).ok_or(CardError::NoSuchBinding)?;
    let row = app.store.query_one("SELECT card_no, state, error FROM card_bindings WHERE id = $1 AND user_id = $2", &[id.into(), user.id.into()])?;
    let Some(row) = row else { return Err(CardError::NoSuchBinding) };
    let card_no = row.opt_text("card_no")?.unwrap_or_default().to_string();
    match row.opt_text("state")? {
        Some("code_sent") | Some("bound") => {}
        _ => return Err(CardError::Refused(row.opt_text("error")?.unwrap_or("the binding failed").to_string())),
    }
    let now = app.business_now_secs();
    let (app2, name) = (app.clone(), format!("{id:032x}"));
    let answer = tokio::task::spawn_blocking(move || crate::bank::connector(&app2).confirm_binding(&app2.store, &name, &code, now)).await.map_err(|e| CardError::Store(e.to_string()))??;
    let (user_id, card_id) = (user.id, app.ids.next());
    match answer {
        BindingAnswer::Bound => {
            let card2 = card_no.clone();
            app.store
                .transact(move |tx| {
                    // Under the writer: two users confirming the same card at once — one binds it.
                    let other = tx.query_one("SELECT user_id FROM bank_cards WHERE card_no = $1 AND bound_at IS NOT NULL AND user_id <> $2", &[card2.as_str().into(), user_id.into()])?;
                    if other.is_some() {
                        tx.execute("UPDATE card_bindings SET state = 'failed', error = $1, finished_at = $2 WHERE id = $3", &["bound by another user".into(), now.into(), id.into()])?;
                        return Ok(Ok(Err(CardError::BoundElsewhere)));
                    }
                    tx.execute("UPDATE card_bindings SET state = 'bound', finished_at = $1 WHERE id = $2 AND state = 'code_sent'", &[now.into(), id.into()])?;
                    tx.execute(
                        "INSERT INTO bank_cards (id, user_id, card_no, created_at, bound_at) VALUES ($1, $2, $3, $4, $4) \
                         ON CONFLICT (user_id, card_no) DO UPDATE SET bound_at = COALESCE(bank_cards.bound_at, excluded.bound_at)",
                        &[card_id.into(), user_id.into(), card2.as_str().into(), now.into()],
                    )?;
                    let r = tx.query_one("SELECT id, bound_at FROM bank_cards WHERE user_id = $1 AND card_no = $2", &[user_id.into(), card2.as_str().into()])?;
                    let r = r.ok_or_else(|| StoreError::Corrupt("bound card vanished".into()))?;
                    let id = r.id("id")?;
                    Ok(Ok::<_, ()>(Ok(Card { id: format!("{id:032x}"), tail: tail(&card2), bound_at: r.opt_int("bound_at")?.unwrap_or(now) })))
                })
                .await?
                .map_err(|_| CardError::Store("binding".into()))?
        }
        BindingAnswer::WrongCode { tries_left } => Err(CardError::WrongCode { tries_left }),
        BindingAnswer::Refused(why) => {
            let why2 = why.clone();
            app.store
                .transact(move |tx| {
                    tx.execute("UPDATE card_bindings SET state = 'failed', error = $1, finished_at = $2 WHERE id = $3 AND state = 'code_sent'", &[why2.into(), now.into(), id.into()])?;
                    Ok(Ok::<(), ()>(()))
                })
                .await?
                .ok();
            Err(CardError::Refused(why))
        }
        BindingAnswer::CodeSent => Err(CardError::Store("unexpected bank answer".into())),
    }
}

/// The user's bound cards, oldest first.
pub fn list(app: &App, user: u128) -> Result<Vec<Card>, StoreError> {
    let rows = app.store.query("SELECT id, card_no, bound_at FROM bank_cards WHERE user_id = $1 AND bound_at IS NOT NULL ORDER BY bound_at, id", &[user.into()])?;
    rows.iter()
        .map(|r| {
            Ok(Card {
                id: r.opt_id("id")?.map(|i| format!("{i:032x}")).unwrap_or_default(),
                tail: tail(r.opt_text("card_no")?.unwrap_or_default()),
                bound_at: r.opt_int("bound_at")?.unwrap_or(0),
            })
        })
        .collect()
}

/// The number of `user`'s bound card `card_id` (`Card::id`): pages name a card by its id and never show
/// its number, and the bank is asked with the number.
pub fn number(app: &App, user: u128, card_id: &str) -> Result<Option<String>, StoreError> {
    let Some(id) = u128::from_str_radix(card_id, 16).ok().filter(|_| card_id.len() == 32) else { return Ok(None) };
    let row = app.store.query_one("SELECT card_no FROM bank_cards WHERE id = $1 AND user_id = $2 AND bound_at IS NOT NULL", &[id.into(), user.into()])?;
    row.map(|r| r.text("card_no").map(str::to_string)).transpose()
}
