//! The shop: a merchant's products, its public shop page, and buying there with the wallet.
//!
//! A merchant's managers list products in the console (`pages.rs`): a name, a price (typed in yuan, kept
//! in fen), a stock and a picture (PNG or JPEG, at most 1 MiB, its type read from its first bytes and
//! kept in the database); they change price and stock, hide a product, read the shop's paid orders and
//! write to their buyers (`messages.rs`). Anybody sees the shop (`/shop/{mchid}`) and a product's card
//! with its share link and QR (`public.rs`); a wallet user buys a quantity: the platform creates the
//! merchant's H5 order (`SP` + the card's one-time token as out_trade_no, the merchant's first appid and
//! notify_url, 30 minutes to pay) with the goods attached, in one job, and the cashier takes it from there.
//!
//! Invariants: stock never goes below zero and is never oversold — it is taken by the payment's own job
//! (`payments::charge` calls [`take_goods_in_job`] for an order with goods) with a conditional update;
//! when none is left the payment fails as `SOLD_OUT` and nothing moves. One merchant never reads or
//! changes another's products, orders or messages (every statement is keyed by the staff member's mchid);
//! a buyer reads only their own messages.

mod messages;
mod pages;
mod public;
mod upload;

pub use messages::unread_count;

use crate::payments::orders::{self, NewOrder, Order, OrderError};
use crate::payments::PayError;
use crate::users::User;
use crate::App;
use saoma_core::order::{TradeType, MAX_TOTAL};
use saoma_core::yuan::AmountError;
use saoma_store::{JobTx, Row, StoreError};

pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_PICTURE_BYTES: usize = 1 << 20;
pub const MAX_STOCK: i64 = 1_000_000;
/// The most of one product in one order.
pub const MAX_QTY: i64 = 99;
/// A shop order not paid within this is closed.
const PAY_WITHIN_SECS: i64 = 30 * 60;
/// Prefix of a shop order's out_trade_no; the rest is the product card's one-time token.
pub const OUT_TRADE_NO_PREFIX: &str = "SP";
const TOKEN_LEN: usize = 24;
/// A payment refused because the goods are gone (or were taken down): `PayError::Order(SOLD_OUT)`.
pub const SOLD_OUT: &str = "SOLD_OUT";

#[derive(Clone, Debug)]
pub struct Product {
    pub id: u128,
    pub mchid: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
    pub hidden: bool,
    pub has_picture: bool,
}

const COLUMNS: &str = "id, mchid, name, price, stock, hidden, picture_type";

fn from_row(r: &Row) -> Result<Product, StoreError> {
    Ok(Product {
        id: r.id("id")?,
        mchid: r.text("mchid")?.to_string(),
        name: r.text("name")?.to_string(),
        price: r.int("price")?,
        stock: r.int("stock")?,
        hidden: r.int("hidden")? != 0,
        has_picture: r.opt_text("picture_type")?.is_some(),
    })
}

#[derive(Debug)]
pub enum ShopError {
    BadName,
    BadPrice(AmountError),
    BadStock,
    /// Neither PNG nor JPEG.
    BadPicture,
    PictureTooLarge,
    /// No such product of this merchant (or, for a buyer, hidden).
    NotFound,
    /// Fewer left than asked for: how many are.
    NotEnoughStock(i64),
    BadQty,
    /// The price times the quantity is more than one order may be.
    TooMuch,
    /// The price changed since the card was shown.
    PriceChanged,
    /// This card's token placed another order already.
    FormUsed,
    /// The merchant has no appid to put on the order.
    NoAppid,
    Order(OrderError),
    Store(StoreError),
}

impl From<StoreError> for ShopError {
    fn from(e: StoreError) -> Self {
        ShopError::Store(e)
    }
}

/// A product id as URLs carry it (32 hex digits) and back.
pub fn id_hex(id: u128) -> String {
    crate::hex::encode(&id.to_be_bytes())
}

pub fn parse_id(s: &str) -> Option<u128> {
    let b: [u8; 16] = crate::hex::decode(s)?.try_into().ok()?;
    Some(u128::from_be_bytes(b))
}

/// The picture's content type from its first bytes (PNG or JPEG), whatever the upload claimed.
pub fn picture_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn check_name(name: &str) -> Result<String, ShopError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ShopError::BadName);
    }
    Ok(name.to_string())
}

/// A typed stock: a whole number from 0 to [`MAX_STOCK`].
fn parse_stock(typed: &str) -> Result<i64, ShopError> {
    let s = typed.trim();
    if s.is_empty() || s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ShopError::BadStock);
    }
    s.parse::<i64>().ok().filter(|n| *n <= MAX_STOCK).ok_or(ShopError::BadStock)
}

/// A typed quantity: a whole number from 1 to [`MAX_QTY`].
pub fn parse_qty(typed: &str) -> Result<i64, ShopError> {
    let s = typed.trim();
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ShopError::BadQty);
    }
    s.parse::<i64>().ok().filter(|n| (1..=MAX_QTY).contains(n)).ok_or(ShopError::BadQty)
}

/// A product the merchant's manager lists: name, price and stock as typed, a picture if given.
pub async fn add_product(
    app: &App,
    mchid: &str,
    name: &str,
    price: &str,
    stock: &str,
    picture: Option<Vec<u8>>,
) -> Result<Product, ShopError> {
    let name = check_name(name)?;
    let price = saoma_core::yuan::parse(price).map_err(ShopError::BadPrice)?;
    let stock = parse_stock(stock)?;
    let picture = match picture.filter(|p| !p.is_empty()) {
        Some(p) if p.len() > MAX_PICTURE_BYTES => return Err(ShopError::PictureTooLarge),
        Some(p) => Some((picture_type(&p).ok_or(ShopError::BadPicture)?, p)),
        None => None,
    };
    let p = Product { id: app.ids.next(), mchid: mchid.to_string(), name, price, stock, hidden: false, has_picture: picture.is_some() };
    let now = app.business_now_secs();
    app.store
        .transact(move |tx| {
            let (kind, bytes) = match picture {
                Some((k, b)) => (Some(k.to_string()), saoma_store::Value::Blob(b)),
                None => (None, saoma_store::Value::Null),
            };
            tx.execute(
                "INSERT INTO shop_products (id, mchid, name, price, stock, hidden, picture, picture_type, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8)",
                &[p.id.into(), p.mchid.as_str().into(), p.name.as_str().into(), p.price.into(), p.stock.into(), bytes, kind.into(),
                  now.into()],
            )?;
            Ok(Ok::<_, ShopError>(p))
        })
        .await?
}

/// New price and stock (as typed) for the merchant's product.
pub async fn update_product(app: &App, mchid: &str, id: u128, price: &str, stock: &str) -> Result<Product, ShopError> {
    let price = saoma_core::yuan::parse(price).map_err(ShopError::BadPrice)?;
    let stock = parse_stock(stock)?;
    let mchid = mchid.to_string();
    app.store
        .transact(move |tx| {
            let sql = "UPDATE shop_products SET price = $1, stock = $2 WHERE id = $3 AND mchid = $4";
            if tx.execute(sql, &[price.into(), stock.into(), id.into(), mchid.as_str().into()])? == 0 {
                return Ok(Err(ShopError::NotFound));
            }
            Ok(in_job(tx, &mchid, id)?.ok_or(ShopError::NotFound))
        })
        .await?
}

/// Hides the merchant's product from the shop (its orders not yet paid can no longer be paid), or shows it again.
pub async fn set_hidden(app: &App, mchid: &str, id: u128, hidden: bool) -> Result<Product, ShopError> {
    let mchid = mchid.to_string();
    app.store
        .transact(move |tx| {
            let sql = "UPDATE shop_products SET hidden = $1 WHERE id = $2 AND mchid = $3";
            if tx.execute(sql, &[(hidden as i64).into(), id.into(), mchid.as_str().into()])? == 0 {
                return Ok(Err(ShopError::NotFound));
            }
            Ok(in_job(tx, &mchid, id)?.ok_or(ShopError::NotFound))
        })
        .await?
}

fn in_job(tx: &mut JobTx<'_>, mchid: &str, id: u128) -> Result<Option<Product>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM shop_products WHERE id = $1 AND mchid = $2");
    tx.query_one(&sql, &[id.into(), mchid.into()])?.map(|r| from_row(&r)).transpose()
}

/// The merchant's products, oldest first; hidden ones only when asked (the console).
pub fn products_of(app: &App, mchid: &str, with_hidden: bool) -> Result<Vec<Product>, StoreError> {
    let shown = if with_hidden { "" } else { " AND hidden = 0" };
    let sql = format!("SELECT {COLUMNS} FROM shop_products WHERE mchid = $1{shown} ORDER BY created_at, id");
    app.store.query(&sql, &[mchid.into()])?.iter().map(from_row).collect()
}

/// The merchant's product `id` (hidden or not: the caller decides).
pub fn product(app: &App, mchid: &str, id: u128) -> Result<Option<Product>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM shop_products WHERE id = $1 AND mchid = $2");
    app.store.query_one(&sql, &[id.into(), mchid.into()])?.map(|r| from_row(&r)).transpose()
}

/// The picture of the merchant's product `id` and its type; a hidden product's only when asked.
pub fn picture(app: &App, mchid: &str, id: u128, with_hidden: bool) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let shown = if with_hidden { "" } else { " AND hidden = 0" };
    let sql = format!("SELECT picture, picture_type FROM shop_products WHERE id = $1 AND mchid = $2 AND picture_type IS NOT NULL{shown}");
    let Some(r) = app.store.query_one(&sql, &[id.into(), mchid.into()])? else { return Ok(None) };
    Ok(Some((r.text("picture_type")?.to_string(), r.blob("picture")?.to_vec())))
}

/// A new one-time token for a product card's buy form (the order's out_trade_no: a form posted twice
/// places one order).
pub fn new_token() -> Result<String, StoreError> {
    saoma_wechatpay::aead::random_string(TOKEN_LEN).map_err(|e| StoreError::Io(e.to_string()))
}

fn valid_token(t: &str) -> bool {
    t.len() == TOKEN_LEN && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `qty` of the merchant's product `id` (shown at `price` fen): the merchant's H5 order with the goods
/// attached, created in one job (or the order this card's `token` placed already). The buyer pays it
/// at the cashier; the stock is taken only then.
pub async fn buy(
    app: &App,
    merchant: &crate::merchants::Merchant,
    id: u128,
    qty: i64,
    price: i64,
    token: &str,
) -> Result<Order, ShopError> {
    if !valid_token(token) {
        return Err(ShopError::FormUsed);
    }
    if !(1..=MAX_QTY).contains(&qty) {
        return Err(ShopError::BadQty);
    }
    let product = product(app, &merchant.mchid, id)?.filter(|p| !p.hidden).ok_or(ShopError::NotFound)?;
    if product.price != price {
        return Err(ShopError::PriceChanged);
    }
    let total = product.price.checked_mul(qty).filter(|t| *t <= MAX_TOTAL).ok_or(ShopError::TooMuch)?;
    let appid = merchant.appids.first().ok_or(ShopError::NoAppid)?.clone();
    let now = app.business_now_secs();
    let n = NewOrder {
        mchid: merchant.mchid.clone(),
        appid,
        trade_type: TradeType::H5,
        description: product.name.clone(),
        out_trade_no: format!("{OUT_TRADE_NO_PREFIX}{token}"),
        time_expire: Some(saoma_core::time::format_rfc3339_cst(now + PAY_WITHIN_SECS)),
        attach: None,
        notify_url: merchant.notify_url.clone().unwrap_or_default(),
        goods_tag: None,
        total,
        currency: "CNY".to_string(),
        payer_openid: None,
    };
    let prepared = orders::prepare_notifying(app, &n, merchant.notify_url.is_some()).map_err(ShopError::Order)?;
    let (mchid, name) = (merchant.mchid.clone(), product.name.clone());
    app.store
        .transact(move |tx| {
            // Under the writer: the product as it is now.
            let Some(now_product) = in_job(tx, &mchid, id)?.filter(|p| !p.hidden) else { return Ok(Err(ShopError::NotFound)) };
            if now_product.price != price {
                return Ok(Err(ShopError::PriceChanged));
            }
            if now_product.stock < qty {
                return Ok(Err(ShopError::NotEnoughStock(now_product.stock)));
            }
            let (order, created) = match orders::create_in_job(tx, n, prepared, &format!("shop:{}", id_hex(id)))? {
                Ok(o) => o,
                Err(OrderError::OutTradeNoUsed) => return Ok(Err(ShopError::FormUsed)),
                Err(e) => return Ok(Err(ShopError::Order(e))),
            };
            if !created {
                // The same card's form again: the order it placed.
                return Ok(Ok(order));
            }
            tx.execute(
                "INSERT INTO shop_orders (order_id, mchid, product_id, product_name, qty, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[order.id.into(), mchid.as_str().into(), id.into(), name.as_str().into(), qty.into(), now.into()],
            )?;
            orders::attach_goods(tx, order.id)?;
            Ok(Ok(Order { goods: true, ..order }))
        })
        .await?
}

/// Inside a payment's job (`payments::charge`, for an order with goods): takes the goods of `order_id`
/// from stock with a conditional update and records the buyer (masked) and the time; none left, or the
/// product taken down, and the payment is refused as [`SOLD_OUT`] with nothing written.
pub fn take_goods_in_job(tx: &mut JobTx<'_>, order_id: u128, payer: &User, now: i64) -> Result<Result<(), PayError>, StoreError> {
    let line = tx
        .query_one("SELECT product_id, qty FROM shop_orders WHERE order_id = $1", &[order_id.into()])?
        .ok_or_else(|| StoreError::Corrupt("an order with goods has no shop row".into()))?;
    let (product, qty) = (line.id("product_id")?, line.int("qty")?);
    let sql = "UPDATE shop_products SET stock = stock - $1 WHERE id = $2 AND stock >= $1 AND hidden = 0";
    let taken = tx.execute(sql, &[qty.into(), product.into()])?;
    if taken == 0 {
        return Ok(Err(PayError::Order(SOLD_OUT.into())));
    }
    let buyer_phone = crate::http::web::masked_phone(&payer.phone);
    tx.execute(
        "UPDATE shop_orders SET buyer = $1, buyer_phone = $2, paid_at = $3 WHERE order_id = $4",
        &[payer.id.into(), buyer_phone.into(), now.into(), order_id.into()],
    )?;
    Ok(Ok(()))
}

/// Whether the goods attached to an unpaid order are still there (a hint for the cashier page, which then
/// says 已售罄 before the buyer tries; the payment's own job decides).
pub fn goods_left(app: &App, order_id: u128) -> Result<bool, StoreError> {
    let sql = "SELECT o.qty AS qty, p.stock AS stock, p.hidden AS hidden FROM shop_orders o JOIN shop_products p ON p.id = o.product_id \
               WHERE o.order_id = $1";
    let Some(r) = app.store.query_one(sql, &[order_id.into()])? else { return Ok(false) };
    Ok(r.int("hidden")? == 0 && r.int("stock")? >= r.int("qty")?)
}

/// Inside a payment's job whose money did not move after [`take_goods_in_job`]: the goods go back.
pub fn give_back_goods_in_job(tx: &mut JobTx<'_>, order_id: u128) -> Result<(), StoreError> {
    let sql = "SELECT product_id, qty FROM shop_orders WHERE order_id = $1 AND paid_at IS NOT NULL";
    let Some(line) = tx.query_one(sql, &[order_id.into()])? else { return Ok(()) };
    tx.execute("UPDATE shop_products SET stock = stock + $1 WHERE id = $2", &[line.int("qty")?.into(), line.id("product_id")?.into()])?;
    tx.execute("UPDATE shop_orders SET buyer = NULL, buyer_phone = NULL, paid_at = NULL WHERE order_id = $1", &[order_id.into()])?;
    Ok(())
}

/// A paid shop order as the merchant's inbox shows it.
#[derive(Clone, Debug)]
pub struct Sold {
    pub order_id: u128,
    pub product_name: String,
    pub qty: i64,
    /// Masked (`138****0001`).
    pub buyer_phone: String,
    pub paid_at: i64,
}

/// The merchant's paid shop orders, newest first, at most `limit`.
pub fn sold(app: &App, mchid: &str, limit: i64) -> Result<Vec<Sold>, StoreError> {
    let rows = app.store.query(
        "SELECT order_id, product_name, qty, buyer_phone, paid_at FROM shop_orders \
         WHERE mchid = $1 AND paid_at IS NOT NULL ORDER BY paid_at DESC, order_id DESC LIMIT $2",
        &[mchid.into(), limit.into()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Sold {
                order_id: r.id("order_id")?,
                product_name: r.text("product_name")?.to_string(),
                qty: r.int("qty")?,
                buyer_phone: r.opt_text("buyer_phone")?.unwrap_or("").to_string(),
                paid_at: r.int("paid_at")?,
            })
        })
        .collect()
}

/// The shop's pages: the console's products and inbox, the public shop and product cards, the wallet's messages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        pages: axum::Router::new()
            .route("/console/products", get(pages::products).post(pages::add))
            .route("/console/products/:id", post(pages::update))
            .route("/console/products/:id/hidden", post(pages::hide))
            .route("/console/products/:id/picture", get(pages::picture))
            .route("/console/inbox", get(pages::inbox))
            .route("/console/inbox/:order/message", post(pages::send))
            .route("/shop/:mchid", get(public::shop))
            .route("/shop/:mchid/p/:id", get(public::card))
            .route("/shop/:mchid/p/:id/buy", post(public::buy))
            .route("/shop/:mchid/p/:id/picture", get(public::picture))
            .route("/shop/:mchid/p/:id/qr.svg", get(public::qr_svg))
            .route("/messages", get(messages::page)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values() {
        assert_eq!(picture_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(picture_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(picture_type(b"GIF89a"), None);
        assert_eq!(picture_type(b"<svg"), None);
        assert_eq!(parse_stock("0").unwrap(), 0);
        assert_eq!(parse_stock(" 12 ").unwrap(), 12);
        for bad in ["", "-1", "1.5", "abc", "1000001", "99999999999999999999"] {
            assert!(parse_stock(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_qty("3").unwrap(), 3);
        for bad in ["0", "100", "-1", "", "1e2"] {
            assert!(parse_qty(bad).is_err(), "{bad}");
        }
        let id = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128;
        assert_eq!(parse_id(&id_hex(id)), Some(id));
        assert_eq!(parse_id("zz"), None);
        assert_eq!(parse_id("00"), None);
        assert!(check_name("  苹果 ").is_ok() && check_name("").is_err());
        assert!(check_name(&"x".repeat(41)).is_err() && check_name("a\nb").is_err());
    }
}
