//! A merchant's messages to the buyers of its paid shop orders, and the wallet's Messages page
//! (`/messages`) where a buyer reads theirs. A message is sent only about an order of the sender's
//! merchant that was paid, and goes to whoever paid it: the job checks both. A buyer sees their own
//! messages only; opening the page marks them read.

use crate::http::web::i18n::Msg;
use crate::http::web::{html, session, system_error, Ctx};
use crate::users::home::{login_page, wallet_page, Tab};
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html as markup;
use saoma_store::StoreError;
use std::collections::HashMap;
use std::sync::Arc;

pub const MAX_MESSAGE_CHARS: usize = 500;
/// Messages a page lists at most.
const LIMIT: i64 = 100;

#[derive(Clone, Debug)]
pub struct Message {
    pub order_id: u128,
    pub mchid: String,
    pub product_name: String,
    pub body: String,
    pub sent_at: i64,
    pub read: bool,
}

#[derive(Debug)]
pub enum SendError {
    /// Empty, too long, or holding control characters other than line breaks.
    BadBody,
    /// No paid shop order of this merchant with that id.
    NoOrder,
    Store(StoreError),
}

impl From<StoreError> for SendError {
    fn from(e: StoreError) -> Self {
        SendError::Store(e)
    }
}

/// Sends `body` to the buyer of the merchant's paid shop order `order_id`.
pub async fn send(app: &App, mchid: &str, order_id: u128, body: &str) -> Result<(), SendError> {
    let body = body.trim().replace("\r\n", "\n");
    if body.is_empty() || body.chars().count() > MAX_MESSAGE_CHARS || body.chars().any(|c| c.is_control() && c != '\n') {
        return Err(SendError::BadBody);
    }
    let (id, mchid, now) = (app.ids.next(), mchid.to_string(), app.business_now_secs());
    app.store
        .transact(move |tx| {
            let sql = "SELECT buyer FROM shop_orders WHERE order_id = $1 AND mchid = $2 AND paid_at IS NOT NULL";
            let Some(buyer) = tx.query_one(sql, &[order_id.into(), mchid.as_str().into()])?.map(|r| r.id("buyer")).transpose()? else {
                return Ok(Err(SendError::NoOrder));
            };
            tx.execute(
                "INSERT INTO shop_messages (id, mchid, order_id, buyer, body, sent_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[id.into(), mchid.as_str().into(), order_id.into(), buyer.into(), body.as_str().into(), now.into()],
            )?;
            Ok(Ok(()))
        })
        .await?
}

/// The messages the merchant sent about its newest `limit` paid orders (those the inbox lists), by order.
pub fn sent_by(app: &App, mchid: &str, limit: i64) -> Result<HashMap<u128, Vec<Message>>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM shop_messages m JOIN shop_orders s ON s.order_id = m.order_id \
             WHERE m.mchid = $1 AND m.order_id IN \
             (SELECT order_id FROM shop_orders WHERE mchid = $1 AND paid_at IS NOT NULL ORDER BY paid_at DESC, order_id DESC LIMIT $2) \
             ORDER BY m.sent_at, m.id"
        ),
        &[mchid.into(), limit.into()],
    )?;
    let mut by_order: HashMap<u128, Vec<Message>> = HashMap::new();
    for r in &rows {
        let m = from_row(r)?;
        by_order.entry(m.order_id).or_default().push(m);
    }
    Ok(by_order)
}

/// A message with its order's product, read by [`from_row`].
const MESSAGE_COLUMNS: &str = "m.order_id, m.mchid, s.product_name, m.body, m.sent_at, m.read_at";

fn from_row(r: &saoma_store::Row) -> Result<Message, StoreError> {
    Ok(Message {
        order_id: r.id("order_id")?,
        mchid: r.text("mchid")?.to_string(),
        product_name: r.text("product_name")?.to_string(),
        body: r.text("body")?.to_string(),
        sent_at: r.int("sent_at")?,
        read: r.opt_int("read_at")?.is_some(),
    })
}

/// The buyer's messages, newest first.
pub fn of_buyer(app: &App, user: u128) -> Result<Vec<Message>, StoreError> {
    let rows = app.store.query(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM shop_messages m JOIN shop_orders s ON s.order_id = m.order_id \
             WHERE m.buyer = $1 ORDER BY m.sent_at DESC, m.id DESC LIMIT $2"
        ),
        &[user.into(), LIMIT.into()],
    )?;
    rows.iter().map(from_row).collect()
}

/// How many of the buyer's messages are unread (the wallet's home shows it).
pub fn unread_count(app: &App, user: u128) -> Result<i64, StoreError> {
    let r = app.store.query_one("SELECT COUNT(*) AS unread FROM shop_messages WHERE buyer = $1 AND read_at IS NULL", &[user.into()])?;
    Ok(r.map(|r| r.opt_int("unread")).transpose()?.flatten().unwrap_or(0))
}

async fn mark_read(app: &App, user: u128) -> Result<(), StoreError> {
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            tx.execute("UPDATE shop_messages SET read_at = $1 WHERE buyer = $2 AND read_at IS NULL", &[now.into(), user.into()])?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|()| StoreError::Corrupt("messages".into()))
}

/// `GET /messages`: the buyer's messages from shops, newest first, the new ones marked; then all read.
pub(super) async fn page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(&ctx, "/messages"),
        Err(e) => return system_error(&ctx, e),
    };
    let list = match of_buyer(&app, user.id) {
        Ok(l) => l,
        Err(e) => return system_error(&ctx, e),
    };
    if list.iter().any(|m| !m.read) {
        if let Err(e) = mark_read(&app, user.id).await {
            return system_error(&ctx, e);
        }
    }
    let shop_name = |mchid: &str| crate::merchants::get(&app, mchid).ok().flatten().map(|m| m.name.clone()).unwrap_or_default();
    let body = markup! {
        div.card #messages {
            h1 #messages-title { (ctx.t(Msg::ShopMessagesTitle)) }
            @if list.is_empty() { p.muted #no-messages { (ctx.t(Msg::ShopNoMessages)) } }
            ul.messages aria-labelledby="messages-title" {
                @for m in &list {
                    li.message.unread[!m.read] data-order=(super::id_hex(m.order_id)) {
                        p.muted {
                            @if !m.read { strong.new { (ctx.t(Msg::ShopNew)) } " " }
                            (ctx.fill(Msg::ShopMessageFrom, &[("shop", &shop_name(&m.mchid)), ("product", &m.product_name)]))
                            " · " (ctx.lang.time(m.sent_at))
                        }
                        p.body { (m.body) }
                    }
                }
            }
        }
        style { "ul.messages{list-style:none;padding:0;margin:0}ul.messages li{padding:.6rem 0;border-bottom:1px solid #eee}\
                 ul.messages li:last-child{border-bottom:0}\
                 ul.messages p{margin:.2rem 0}p.body{white-space:pre-wrap;word-break:break-word}strong.new{color:#fa5151}" }
    };
    html(StatusCode::OK, wallet_page(&ctx, &user, Tab::Home, ctx.t(Msg::ShopMessagesTitle), body))
}
