//! The shop's public pages: the shop (`/shop/{mchid}`: its products), a product's card
//! (`/shop/{mchid}/p/{id}`: the picture, price, stock, a share link and its QR, and the buy form), the
//! picture, and buying — a wallet user (a visitor logs in first and comes back to the card) orders a
//! quantity and is sent to the cashier with the new order.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::{id_hex, parse_id, Product, ShopError, MAX_QTY};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, layout, notice, param, qr_answer, see_other, session, system_error, url_encode, yuan, Ctx, Params};
use crate::merchants::Merchant;
use crate::users::{login_card, User};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use std::sync::Arc;

pub(super) const CSS: &str = "ul.products{list-style:none;padding:0;margin:0}ul.products li{border-bottom:1px solid #eee}\
ul.products li:last-child{border-bottom:0}\
ul.products>li>a{display:grid;grid-template-columns:4.5rem 1fr auto;gap:.75rem;align-items:center;padding:.6rem 0;color:#111;\
text-decoration:none}\
.thumb{width:4.5rem;height:4.5rem;object-fit:cover;border-radius:.35rem;background:#eee;display:block}\
.picture{width:100%;max-height:20rem;object-fit:contain;border-radius:.35rem;background:#f6f6f6;display:block}\
.price{font-weight:600}.soldout{color:#fa5151}.share input{font-size:.85rem}";

fn merchant(ctx: &Ctx, app: &App, mchid: &str) -> Result<Arc<Merchant>, Response> {
    match crate::merchants::get(app, mchid) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(notice(ctx, StatusCode::NOT_FOUND, Msg::NoMerchantTitle, Msg::NoMerchant)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// The merchant and its product shown to buyers (not hidden), or the page that says there is none.
fn shown(ctx: &Ctx, app: &App, mchid: &str, id: &str) -> Result<(Arc<Merchant>, Product), Response> {
    let m = merchant(ctx, app, mchid)?;
    let none = || notice(ctx, StatusCode::NOT_FOUND, Msg::ShopNoProductTitle, Msg::ShopNoProduct);
    let Some(id) = parse_id(id) else { return Err(none()) };
    match super::product(app, &m.mchid, id) {
        Ok(Some(p)) if !p.hidden => Ok((m, p)),
        Ok(_) => Err(none()),
        Err(e) => Err(system_error(ctx, e)),
    }
}

fn card_path(p: &Product) -> String {
    format!("/shop/{}/p/{}", url_encode(&p.mchid), id_hex(p.id))
}

fn stock_line(ctx: &Ctx, p: &Product) -> Markup {
    markup! {
        @if p.stock > 0 { span.muted.stock { (ctx.fill(Msg::ShopStockLeft, &[("n", &p.stock.to_string())])) } }
        @else { span.soldout.stock { (ctx.t(Msg::ShopSoldOutTitle)) } }
    }
}

/// `GET /shop/{mchid}`: the shop's products.
pub(super) async fn shop(State(app): State<Arc<App>>, ctx: Ctx, Path(mchid): Path<String>) -> Response {
    let m = match merchant(&ctx, &app, &mchid) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let products = match super::products_of(&app, &m.mchid, false) {
        Ok(p) => p,
        Err(e) => return system_error(&ctx, e),
    };
    let title = ctx.fill(Msg::ShopTitle, &[("shop", &m.name)]);
    let body = markup! {
        style { (PreEscaped(CSS)) }
        div.card #shop {
            h1 #shop-name { (title) }
            @if products.is_empty() { p.muted #no-products { (ctx.t(Msg::ShopEmpty)) } }
            ul.products #products {
                @for p in &products {
                    li {
                        a href=(card_path(p)) data-id=(id_hex(p.id)) {
                            @if p.has_picture { img.thumb src={ (card_path(p)) "/picture" } alt=(p.name); } @else { span.thumb {} }
                            span { span.name { (p.name) } br; (stock_line(&ctx, p)) }
                            span.price { (yuan(p.price)) }
                        }
                    }
                }
            }
        }
    };
    html(StatusCode::OK, layout(&ctx, &title, &body.into_string()))
}

/// The product's card: what it is, the buy form (or the login first), the share link and its QR.
fn card_page(ctx: &Ctx, app: &App, m: &Merchant, p: &Product, user: Option<&User>, status: StatusCode, error: Option<&str>) -> Response {
    let path = card_path(p);
    let link = format!("{}{path}", app.public_base_url());
    let token = match super::new_token() {
        Ok(t) => t,
        Err(e) => return system_error(ctx, e),
    };
    let buy = match user {
        None => PreEscaped(login_card(ctx, &path, None)),
        Some(_) if p.stock == 0 => markup! {
            div.card {
                p.soldout #sold-out role="status" { (ctx.t(Msg::ShopSoldOut)) }
                a.button.secondary href={ "/shop/" (url_encode(&m.mchid)) } { (ctx.t(Msg::ShopBackToShop)) }
            }
        },
        Some(_) => markup! {
            div.card #buy-card {
                form method="post" action={ (path) "/buy" } {
                    input type="hidden" name="token" value=(token);
                    input type="hidden" name="price" value=(p.price);
                    label for="qty" { (ctx.t(Msg::ShopQtyLabel)) }
                    input #qty name="qty" type="number" inputmode="numeric" min="1" max=(p.stock.min(MAX_QTY)) value="1" required;
                    button #buy type="submit" { (ctx.t(Msg::ShopBuy)) }
                }
            }
        },
    };
    let body = markup! {
        style { (PreEscaped(CSS)) }
        div.card #product {
            @if p.has_picture { img.picture #picture src={ (path) "/picture" } alt=(p.name); }
            h1 #product-name { (p.name) }
            p.amount #price { (yuan(p.price)) }
            p #stock { (stock_line(ctx, p)) }
            p.muted { a.plain #shop-link href={ "/shop/" (url_encode(&m.mchid)) } { (ctx.fill(Msg::ShopTitle, &[("shop", &m.name)])) } }
            (PreEscaped(error_box(error)))
        }
        (buy)
        div.card.share.qr #share {
            h1 { (ctx.t(Msg::ShopShareTitle)) }
            label for="share-link" { (ctx.t(Msg::ShopShareLabel)) }
            input #share-link readonly value=(link);
            img src={ (path) "/qr.svg" } alt=(ctx.t(Msg::ShopQrAlt));
            p.muted { (ctx.t(Msg::ShopShareHint)) }
        }
    };
    html(status, layout(ctx, &p.name, &body.into_string()))
}

/// `GET /shop/{mchid}/p/{id}`.
pub(super) async fn card(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path((mchid, id)): Path<(String, String)>) -> Response {
    let (m, p) = match shown(&ctx, &app, &mchid, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return system_error(&ctx, e),
    };
    card_page(&ctx, &app, &m, &p, user.as_ref(), StatusCode::OK, None)
}

/// `POST /shop/{mchid}/p/{id}/buy {qty, price, token}`: the order, then the cashier.
pub(super) async fn buy(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path((mchid, id)): Path<(String, String)>,
    form: Option<Form<Params>>,
) -> Response {
    let f = form.map(|f| f.0).unwrap_or_default();
    let (m, p) = match shown(&ctx, &app, &mchid, &id) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return card_page(&ctx, &app, &m, &p, None, StatusCode::UNAUTHORIZED, Some(ctx.t(Msg::SessionEnded))),
        Err(e) => return system_error(&ctx, e),
    };
    let refused = |status: StatusCode, why: String| card_page(&ctx, &app, &m, &p, Some(&user), status, Some(&why));
    let qty = match super::parse_qty(param(&f, "qty")) {
        Ok(q) => q,
        Err(_) => return refused(StatusCode::BAD_REQUEST, ctx.fill(Msg::ShopBadQty, &[("max", &MAX_QTY.to_string())])),
    };
    let price = param(&f, "price").parse::<i64>().unwrap_or(-1);
    match super::buy(&app, &m, p.id, qty, price, param(&f, "token")).await {
        Ok(order) => see_other(&format!("/cashier/h5?prepay_id={}", url_encode(&order.prepay_id()))),
        Err(ShopError::NotEnoughStock(0)) | Err(ShopError::NotFound) => refused(StatusCode::CONFLICT, ctx.t(Msg::ShopSoldOut).into()),
        Err(ShopError::NotEnoughStock(n)) => refused(StatusCode::CONFLICT, ctx.fill(Msg::ShopNotEnoughStock, &[("n", &n.to_string())])),
        Err(ShopError::BadQty) => refused(StatusCode::BAD_REQUEST, ctx.fill(Msg::ShopBadQty, &[("max", &MAX_QTY.to_string())])),
        Err(ShopError::TooMuch) => refused(StatusCode::BAD_REQUEST, ctx.t(Msg::ShopTooMuch).into()),
        Err(ShopError::PriceChanged) => refused(StatusCode::CONFLICT, ctx.t(Msg::ShopPriceChanged).into()),
        Err(ShopError::FormUsed) => refused(StatusCode::CONFLICT, ctx.t(Msg::ShopFormUsed).into()),
        Err(ShopError::NoAppid) => refused(StatusCode::SERVICE_UNAVAILABLE, ctx.t(Msg::ShopNoAppid).into()),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// A product's picture: its own type (read from its bytes when stored), never sniffed, cached a while.
pub(super) fn picture_answer(found: Result<Option<(String, Vec<u8>)>, saoma_store::StoreError>) -> Response {
    match found {
        Ok(Some((kind, bytes))) => {
            let headers = [
                (header::CONTENT_TYPE, kind),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
                (header::CACHE_CONTROL, "private, max-age=300".into()),
            ];
            (headers, bytes).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "product picture");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /shop/{mchid}/p/{id}/picture` (a product on sale only).
pub(super) async fn picture(State(app): State<Arc<App>>, Path((mchid, id)): Path<(String, String)>) -> Response {
    match parse_id(&id) {
        Some(id) => picture_answer(super::picture(&app, &mchid, id, false)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /shop/{mchid}/p/{id}/qr.svg`: the card's share link as a QR code.
pub(super) async fn qr_svg(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    Path((mchid, id)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> Response {
    match shown(&ctx, &app, &mchid, &id) {
        Ok((_, p)) => qr_answer(&format!("{}{}", app.public_base_url(), card_path(&p)), "svg", &q),
        Err(page) => page,
    }
}
