//! The shop's console pages (managers only, through the console's session: `console::manager`): the
//! products (`/console/products`: list one with its picture, change price and stock, hide and show) and
//! the inbox of paid shop orders (`/console/inbox`: buyer masked, product, quantity, paid time), where
//! the manager writes to a buyer. Every statement is keyed by the manager's own mchid.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::messages::{self, SendError, MAX_MESSAGE_CHARS};
use super::public::{picture_answer, CSS};
use super::{id_hex, parse_id, upload, Product, ShopError, MAX_NAME_CHARS, MAX_STOCK};
use crate::console::{console_page, manager, Staff};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, param, system_error, url_encode, yuan, Ctx, Params};
use crate::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html as markup, PreEscaped};
use saoma_core::yuan::AmountError;
use std::sync::Arc;

/// Paid orders the inbox lists at most.
const INBOX_LIMIT: i64 = 50;

/// What a refused product form says, in the reader's words.
fn refusal(ctx: &Ctx, e: &ShopError) -> Option<String> {
    Some(match e {
        ShopError::BadName => ctx.fill(Msg::ShopBadName, &[("max", &MAX_NAME_CHARS.to_string())]),
        ShopError::BadPrice(AmountError::Format) => ctx.t(Msg::AmountFormat).into(),
        ShopError::BadPrice(AmountError::Zero) => ctx.t(Msg::AmountZero).into(),
        ShopError::BadPrice(AmountError::TooLarge) => {
            ctx.fill(Msg::AmountTooLarge, &[("max", &saoma_core::yuan::format(saoma_core::order::MAX_TOTAL))])
        }
        ShopError::BadStock => ctx.fill(Msg::ShopBadStock, &[("max", &MAX_STOCK.to_string())]),
        ShopError::BadPicture => ctx.t(Msg::ShopBadPicture).into(),
        ShopError::PictureTooLarge => ctx.t(Msg::ShopPictureTooLarge).into(),
        ShopError::NotFound => ctx.t(Msg::ShopNoProduct).into(),
        _ => return None,
    })
}

/// The products page: the merchant's products (hidden ones marked) with their forms, and the form that
/// lists a new one. `said`: what the last action did (`Ok`) or why it was refused (`Err`).
fn products_page(ctx: &Ctx, app: &App, me: &Staff, status: StatusCode, said: Option<Result<String, String>>) -> Response {
    let all = match super::products_of(app, &me.mchid, true) {
        Ok(a) => a,
        Err(e) => return system_error(ctx, e),
    };
    let (done, error) = match said {
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let shop_path = format!("/shop/{}", url_encode(&me.mchid));
    let row = |p: &Product| {
        let id = id_hex(p.id);
        markup! {
            li.product data-id=(id) {
                div.head {
                    @if p.has_picture { img.thumb src={ "/console/products/" (id) "/picture" } alt=(p.name); } @else { span.thumb {} }
                    span {
                        a.plain.name href={ (shop_path) "/p/" (id) } { (p.name) } br;
                        span.price { (yuan(p.price)) } " · " (ctx.fill(Msg::ShopStockLeft, &[("n", &p.stock.to_string())]))
                        @if p.hidden { " · " strong.soldout.hidden-mark { (ctx.t(Msg::ShopHiddenMark)) } }
                    }
                }
                form.edit method="post" action={ "/console/products/" (id) } {
                    label for={ "price-" (id) } { (ctx.t(Msg::ShopPriceLabel)) }
                    input id={ "price-" (id) } name="price" inputmode="decimal" value=(saoma_core::yuan::format(p.price)) required;
                    label for={ "stock-" (id) } { (ctx.t(Msg::ShopStockLabel)) }
                    input id={ "stock-" (id) } name="stock" type="number" inputmode="numeric" min="0" max=(MAX_STOCK)
                        value=(p.stock) required;
                    button.save type="submit" { (ctx.t(Msg::ShopSave)) }
                }
                form method="post" action={ "/console/products/" (id) "/hidden" } {
                    input type="hidden" name="hidden" value=(if p.hidden { "0" } else { "1" });
                    button.link.toggle type="submit" { (ctx.t(if p.hidden { Msg::ShopShow } else { Msg::ShopHide })) }
                }
            }
        }
    };
    let body = markup! {
        style {
            (PreEscaped(CSS))
            "li.product{padding:.75rem 0;border-bottom:1px solid #eee}\
             li.product .head{display:grid;grid-template-columns:4.5rem 1fr;gap:.75rem;align-items:center}\
             form.edit{display:grid;grid-template-columns:1fr 1fr;gap:0 .5rem}form.edit button{grid-column:1/3}\
             input[type=file]{font-size:.9rem}"
        }
        div.card #product-list {
            h1 #products-title { (ctx.t(Msg::ShopProductsTitle)) }
            @if let Some(d) = &done { p.ok #done role="status" { (d) } }
            (PreEscaped(error_box(error.as_deref())))
            @if all.is_empty() { p.muted #no-products { (ctx.t(Msg::ShopNoProducts)) } }
            ul.products aria-labelledby="products-title" { @for p in &all { (row(p)) } }
            p { a.plain #open-shop href=(shop_path) { (ctx.t(Msg::ShopViewShop)) } }
        }
        div.card #product-add {
            h1 { (ctx.t(Msg::ShopAddTitle)) }
            form method="post" action="/console/products" enctype="multipart/form-data" {
                label for="name" { (ctx.t(Msg::ShopNameLabel)) }
                input #name name="name" maxlength=(MAX_NAME_CHARS) autocomplete="off" required;
                label for="price" { (ctx.t(Msg::ShopPriceLabel)) }
                input #price name="price" inputmode="decimal" placeholder="12.50" autocomplete="off" required;
                label for="stock" { (ctx.t(Msg::ShopStockLabel)) }
                input #stock name="stock" type="number" inputmode="numeric" min="0" max=(MAX_STOCK) required;
                label for="picture" { (ctx.t(Msg::ShopPictureLabel)) }
                input #picture name="picture" type="file" accept="image/png,image/jpeg";
                button #add-product type="submit" { (ctx.t(Msg::ShopAddButton)) }
            }
        }
    };
    html(status, console_page(ctx, app, me, "/console/products", ctx.t(Msg::ShopProductsTitle), body))
}

/// `GET /console/products` (managers).
pub(super) async fn products(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match manager(&app, &ctx, &headers) {
        Ok(me) => products_page(&ctx, &app, &me, StatusCode::OK, None),
        Err(page) => page,
    }
}

/// `POST /console/products` (multipart: name, price, stock, picture): lists a product in the manager's shop.
pub(super) async fn add(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, body: Bytes) -> Response {
    let me = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(parts) = upload::parse(content_type, &body) else {
        return products_page(&ctx, &app, &me, StatusCode::BAD_REQUEST, Some(Err(ctx.t(Msg::ShopBadForm).into())));
    };
    let f = upload::fields(&parts);
    let picture = parts.into_iter().find(|p| p.file && p.name == "picture").map(|p| p.data);
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    match super::add_product(&app, &me.mchid, get("name"), get("price"), get("stock"), picture).await {
        Ok(p) => products_page(&ctx, &app, &me, StatusCode::OK, Some(Ok(ctx.fill(Msg::ShopAdded, &[("name", &p.name)])))),
        Err(e) => match refusal(&ctx, &e) {
            Some(why) => products_page(&ctx, &app, &me, StatusCode::BAD_REQUEST, Some(Err(why))),
            None => system_error(&ctx, format!("{e:?}")),
        },
    }
}

/// A manager's form about one product: the manager and the product's id (whether it is their shop's, the
/// service decides with the mchid), or the page that refuses.
fn managed(app: &App, ctx: &Ctx, headers: &HeaderMap, id: &str) -> Result<(Staff, u128), Response> {
    let me = manager(app, ctx, headers)?;
    match parse_id(id) {
        Some(id) => Ok((me, id)),
        None => Err(products_page(ctx, app, &me, StatusCode::NOT_FOUND, Some(Err(ctx.t(Msg::ShopNoProduct).into())))),
    }
}

/// `POST /console/products/{id} {price, stock}` (managers): the product's new price and stock.
pub(super) async fn update(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Option<Form<Params>>,
) -> Response {
    let (me, id) = match managed(&app, &ctx, &headers, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let f = form.map(|f| f.0).unwrap_or_default();
    match super::update_product(&app, &me.mchid, id, param(&f, "price"), param(&f, "stock")).await {
        Ok(p) => products_page(&ctx, &app, &me, StatusCode::OK, Some(Ok(ctx.fill(Msg::ShopSaved, &[("name", &p.name)])))),
        Err(e) => match refusal(&ctx, &e) {
            Some(why) => {
                let status = if matches!(e, ShopError::NotFound) { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
                products_page(&ctx, &app, &me, status, Some(Err(why)))
            }
            None => system_error(&ctx, format!("{e:?}")),
        },
    }
}

/// `POST /console/products/{id}/hidden {hidden: 1|0}` (managers): hides the product or shows it again.
pub(super) async fn hide(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Option<Form<Params>>,
) -> Response {
    let (me, id) = match managed(&app, &ctx, &headers, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let f = form.map(|f| f.0).unwrap_or_default();
    let hidden = param(&f, "hidden") == "1";
    match super::set_hidden(&app, &me.mchid, id, hidden).await {
        Ok(p) => {
            let said = ctx.fill(if hidden { Msg::ShopHidden } else { Msg::ShopShown }, &[("name", &p.name)]);
            products_page(&ctx, &app, &me, StatusCode::OK, Some(Ok(said)))
        }
        Err(ShopError::NotFound) => products_page(&ctx, &app, &me, StatusCode::NOT_FOUND, Some(Err(ctx.t(Msg::ShopNoProduct).into()))),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// `GET /console/products/{id}/picture` (managers; their shop's products, hidden ones too).
pub(super) async fn picture(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let me = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    match parse_id(&id) {
        Some(id) => picture_answer(super::picture(&app, &me.mchid, id, true)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The inbox: the shop's paid orders, newest first, each with what was said to its buyer and a form to
/// say more.
fn inbox_page(ctx: &Ctx, app: &App, me: &Staff, status: StatusCode, said: Option<Result<String, String>>) -> Response {
    let (sold, sent) = match (super::sold(app, &me.mchid, INBOX_LIMIT), messages::sent_by(app, &me.mchid, INBOX_LIMIT)) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return system_error(ctx, e),
    };
    let (done, error) = match said {
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let body = markup! {
        style {
            "ul.sold{list-style:none;padding:0;margin:0}ul.sold>li{padding:.75rem 0;border-bottom:1px solid #eee}\
             ul.sold>li:last-child{border-bottom:0}\
             ul.sold p{margin:.2rem 0}\
             .said{background:#f2f8f4;border-radius:.35rem;padding:.4rem .6rem;margin:.3rem 0;white-space:pre-wrap;word-break:break-word}\
             textarea{width:100%;box-sizing:border-box;font-size:1rem;padding:.5rem;border:1px solid #ccc;border-radius:.35rem;\
             font-family:inherit}"
        }
        div.card #inbox {
            h1 #inbox-title { (ctx.t(Msg::ShopInboxTitle)) }
            @if let Some(d) = &done { p.ok #done role="status" { (d) } }
            (PreEscaped(error_box(error.as_deref())))
            p.muted { (ctx.t(Msg::ShopInboxHint)) }
            @if sold.is_empty() { p.muted #no-sold { (ctx.t(Msg::ShopInboxEmpty)) } }
            ul.sold aria-labelledby="inbox-title" {
                @for s in &sold {
                    @let id = id_hex(s.order_id);
                    li.sold-order data-order=(id) {
                        p { strong.product { (s.product_name) } " × " span.qty { (s.qty) } }
                        p.muted {
                            (ctx.t(Msg::ShopBuyerLabel)) " " span.buyer { (s.buyer_phone) }
                            " · " (ctx.t(Msg::ShopPaidAtLabel)) " " span.paid-at { (ctx.lang.time(s.paid_at)) }
                        }
                        @for m in sent.get(&s.order_id).map(Vec::as_slice).unwrap_or(&[]) { p.said { (m.body) } }
                        form method="post" action={ "/console/inbox/" (id) "/message" } {
                            label for={ "message-" (id) } { (ctx.t(Msg::ShopMessageLabel)) }
                            textarea id={ "message-" (id) } name="body" rows="2" maxlength=(MAX_MESSAGE_CHARS) required {}
                            button.send type="submit" { (ctx.t(Msg::ShopSend)) }
                        }
                    }
                }
            }
        }
    };
    html(status, console_page(ctx, app, me, "/console/inbox", ctx.t(Msg::ShopInboxTitle), body))
}

/// `GET /console/inbox` (managers).
pub(super) async fn inbox(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match manager(&app, &ctx, &headers) {
        Ok(me) => inbox_page(&ctx, &app, &me, StatusCode::OK, None),
        Err(page) => page,
    }
}

/// `POST /console/inbox/{order}/message {body}` (managers): a message to the buyer of one of their
/// shop's paid orders.
pub(super) async fn send(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(order): Path<String>,
    form: Option<Form<Params>>,
) -> Response {
    let me = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let f = form.map(|f| f.0).unwrap_or_default();
    let no_order = || inbox_page(&ctx, &app, &me, StatusCode::NOT_FOUND, Some(Err(ctx.t(Msg::ShopNoOrder).into())));
    let Some(order) = parse_id(&order) else { return no_order() };
    // Not trimmed by `param`: line breaks inside are kept (the service trims the ends).
    let body = f.get("body").map(String::as_str).unwrap_or("");
    match messages::send(&app, &me.mchid, order, body).await {
        Ok(()) => inbox_page(&ctx, &app, &me, StatusCode::OK, Some(Ok(ctx.t(Msg::ShopSent).into()))),
        Err(SendError::BadBody) => {
            let why = ctx.fill(Msg::ShopBadMessage, &[("max", &MAX_MESSAGE_CHARS.to_string())]);
            inbox_page(&ctx, &app, &me, StatusCode::BAD_REQUEST, Some(Err(why)))
        }
        Err(SendError::NoOrder) => no_order(),
        Err(SendError::Store(e)) => system_error(&ctx, e),
    }
}
