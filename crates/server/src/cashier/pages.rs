//! The cashier (收银台) for an order's prepay id (`h5_url` is `/cashier/h5?prepay_id=wx…`; JSAPI and APP
//! prepay ids open `/cashier/jsapi?prepay_id=wx…`): the order, the wallet login (`login.rs`), the
//! confirmation (with the PIN when the payment needs it), and the receipt, whose 完成 button leads back to
//! the merchant's page when the h5_url carried a `redirect_url`. Every order that cannot be paid gets a
//! page of its own saying why and what to do next.

use crate::http::web::i18n::Msg;
use crate::users::login_card;
use crate::http::web::{error_box, param, Params, esc, html, layout, masked_phone, message_page, notice, see_other, session, system_error, url_encode, yuan, Ctx};
use crate::merchants::Merchant;
use crate::payments::orders::{self, Order};
use crate::payments::{self, PayError};
use crate::users::User;
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use saoma_core::order::{TradeState, TradeType};
use std::sync::Arc;

/// The orders `/cashier/h5` and `/cashier/jsapi` open: those a merchant's page or app hands the payer.
const HANDED: &[TradeType] = &[TradeType::H5, TradeType::Jsapi, TradeType::App];
/// What `/cashier/scan` opens: a Native order, whose code_url the payer scanned in the wallet (`/scan`).
const SCANNED: &[TradeType] = &[TradeType::Native];

/// The order of one of `kinds` a cashier page is for, and its merchant; or the page that says why there
/// is none. A payment code's order is the cashier's to charge, never a page's.
fn load(ctx: &Ctx, app: &App, prepay_id: &str, kinds: &[TradeType]) -> Result<(Order, Arc<Merchant>), Response> {
    if prepay_id.is_empty() {
        return Err(notice(ctx, StatusCode::BAD_REQUEST, Msg::LinkIncompleteTitle, Msg::LinkIncomplete));
    }
    let not_found = || notice(ctx, StatusCode::NOT_FOUND, Msg::OrderNotFoundTitle, Msg::OrderNotFound);
    // Only prepay ids (`wx…`).
    let code = match payments::order_code(prepay_id) {
        Some(c) if prepay_id.starts_with("wx") => c,
        _ => return Err(not_found()),
    };
    let order = match orders::by_code(app, code) {
        Ok(Some(o)) if kinds.contains(&o.trade_type) => o,
        Ok(_) => return Err(not_found()),
        Err(e) => return Err(system_error(ctx, e)),
    };
    match crate::merchants::get(&app, &order.mchid) {
        Ok(Some(m)) => Ok((order, m)),
        Ok(None) => Err(system_error(ctx, format!("order {} of unknown merchant {}", order.id, order.mchid))),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// Why an order cannot be paid (by this user), each with its own page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unpayable {
    Closed,
    Expired,
    Revoked,
    /// Paid, and the reader is not (known to be) the payer.
    Paid,
    Paying,
    /// A JSAPI order placed for another user's openid.
    PayerMismatch,
    /// The goods of a shop order are gone (`crate::shop`): nothing was charged.
    SoldOut,
}

impl Unpayable {
    /// Why `order` cannot be paid as of `now`, if it cannot.
    fn of(order: &Order, now: i64) -> Option<Unpayable> {
        match order.state_at(now) {
            TradeState::NotPay => None,
            TradeState::Success | TradeState::Refund => Some(Unpayable::Paid),
            TradeState::UserPaying => Some(Unpayable::Paying),
            TradeState::Revoked => Some(Unpayable::Revoked),
            // Unpaid in the table but past its time: it expired (the merchant did not close it).
            TradeState::Closed if order.trade_state == TradeState::NotPay => Some(Unpayable::Expired),
            TradeState::Closed | TradeState::PayError => Some(Unpayable::Closed),
        }
    }

    /// The refusal code of a payment job (`PayError::Order`), read against the order as it is now.
    fn of_code(code: &str, now_order: Option<&Order>, now: i64) -> Unpayable {
        match code {
            "ORDERPAID" => Unpayable::Paid,
            "USERPAYING" => Unpayable::Paying,
            "ORDER_REVOKED" => Unpayable::Revoked,
            "PAYER_MISMATCH" => Unpayable::PayerMismatch,
            "SOLD_OUT" => Unpayable::SoldOut,
            _ => now_order.and_then(|o| Unpayable::of(o, now)).filter(|u| *u == Unpayable::Expired).unwrap_or(Unpayable::Closed),
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Unpayable::Closed | Unpayable::Expired | Unpayable::Revoked => StatusCode::GONE,
            Unpayable::Paid | Unpayable::Paying | Unpayable::SoldOut => StatusCode::CONFLICT,
            Unpayable::PayerMismatch => StatusCode::FORBIDDEN,
        }
    }

    /// Title and text (`logged_in`: whoever reads it is logged in, so "log in to see your receipt" would
    /// be no help).
    fn texts(self, logged_in: bool) -> (Msg, Msg) {
        match self {
            Unpayable::Closed => (Msg::OrderClosedTitle, Msg::OrderClosed),
            Unpayable::Expired => (Msg::OrderExpiredTitle, Msg::OrderExpired),
            Unpayable::Revoked => (Msg::OrderRevokedTitle, Msg::OrderRevoked),
            Unpayable::Paid if logged_in => (Msg::OrderPaidTitle, Msg::OrderPaidByOther),
            Unpayable::Paid => (Msg::OrderPaidTitle, Msg::OrderPaid),
            Unpayable::Paying => (Msg::OrderPayingTitle, Msg::OrderPaying),
            Unpayable::PayerMismatch => (Msg::PayerMismatchTitle, Msg::PayerMismatch),
            Unpayable::SoldOut => (Msg::ShopSoldOutTitle, Msg::ShopSoldOut),
        }
    }

    /// The page: a paid order offers the login (after which its payer lands on the receipt), another
    /// payer's order a way to switch account; `next` is the order's cashier page.
    fn page(self, ctx: &Ctx, logged_in: bool, next: &str) -> Response {
        let (title, text) = self.texts(logged_in);
        let more = match self {
            Unpayable::Paid if !logged_in => login_card(ctx, next, None),
            Unpayable::PayerMismatch => format!(
                "<form method=\"post\" action=\"/cashier/logout\"><input type=\"hidden\" name=\"next\" value=\"{}\"><button id=\"switch-account\" type=\"submit\">{}</button></form>",
                esc(next),
                esc(ctx.t(Msg::SwitchAccount))
            ),
            _ => return notice(ctx, self.status(), title, text),
        };
        let body = format!("<div class=\"card\" id=\"notice\"><h1>{}</h1><p id=\"message\">{}</p></div>{more}", esc(ctx.t(title)), esc(ctx.t(text)));
        html(self.status(), layout(ctx, ctx.t(title), &body))
    }
}

/// Whether `user` is not the payer a JSAPI order was placed for (its `payer.openid` is not theirs in the
/// order's app). The payment job decides again under the writer; this shapes the page.
fn payer_mismatch(app: &App, order: &Order, user: &User) -> Result<bool, saoma_store::StoreError> {
    let Some(expected) = &order.payer_openid else { return Ok(false) };
    Ok(crate::users::openid_made(app, user.id, &order.appid)?.as_ref() != Some(expected))
}

/// The top of every payment page: whom, what, how much.
pub fn summary(merchant: &str, description: &str, total: i64) -> String {
    format!(
        "<div class=\"card\"><h1 id=\"merchant\">{}</h1><div class=\"muted\" id=\"description\">{}</div><div class=\"amount\" id=\"amount\">{}</div></div>",
        esc(merchant),
        esc(description),
        esc(&yuan(total))
    )
}

/// Who is paying and their balance, with a way out (another account).
pub fn payer_line(ctx: &Ctx, user: &User, next: &str, balance: i64) -> String {
    format!(
        "<form method=\"post\" action=\"/cashier/logout\" class=\"muted\">{} \
         <input type=\"hidden\" name=\"next\" value=\"{}\"><button class=\"link\" type=\"submit\">{}</button></form>\
         <p class=\"muted\">{}</p>",
        ctx.html(Msg::PayingFrom, &[("phone", &format!("<span id=\"payer\">{}</span>", esc(&masked_phone(&user.phone))))]),
        esc(next),
        esc(ctx.t(Msg::NotYou)),
        ctx.html(Msg::Balance, &[("balance", &format!("<span id=\"balance\">{}</span>", esc(&yuan(balance))))]),
    )
}

/// The PIN field, for a payment that needs it.
pub fn pin_field(ctx: &Ctx) -> String {
    format!(
        "<label for=\"pin\">{}</label><input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" \
         autocomplete=\"off\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" required>",
        esc(ctx.t(Msg::PinLabel))
    )
}

/// Whether `user` must give the PIN to pay `total`: above the password-free limit, as for every payment
/// the user makes in the wallet (the ten-a-day count is the payment code's rule only). The payment decides
/// again under the writer; this shapes the page.
pub fn pin_needed(user: &User, total: i64) -> bool {
    total > user.password_free_limit
}

/// The wallet's available balance.
pub fn available(app: &App, user: &User) -> Result<i64, saoma_store::StoreError> {
    Ok(app.store.account(user.wallet)?.map(|a| a.available()).unwrap_or(0))
}

/// What to say when the wallet holds less than `total`: the shortfall and how to top up.
pub fn not_enough(ctx: &Ctx, total: i64, balance: i64) -> String {
    ctx.fill(Msg::NotEnough, &[("total", &yuan(total)), ("balance", &yuan(balance))])
}

fn cashier_path(order: &Order, back: Option<&str>) -> String {
    let page = match order.trade_type {
        TradeType::H5 => "h5",
        TradeType::Native => "scan",
        _ => "jsapi",
    };
    format!("/cashier/{page}?prepay_id={}{}", url_encode(&order.prepay_id()), back_param(back))
}

fn back_param(back: Option<&str>) -> String {
    back.map(|b| format!("&redirect_url={}", url_encode(b))).unwrap_or_default()
}

/// The merchant page an H5 payment returns to (`h5_url` + `&redirect_url=…`, URL-encoded, as WeChat
/// Pay's H5 flow has it), carried through login and payment to the result page, which links back and
/// returns there after a few seconds, paid or not (the merchant page must query the order, not trust
/// the return). An absolute http(s) URL of at most 1,024 characters whose host is one of the merchant's
/// registered H5 domains or a subdomain (as WeChat Pay's H5 domain configuration), read strictly
/// (`outbound::parse_url`: no userinfo, backslashes, odd characters); anything else is refused rather
/// than followed (no `javascript:`, no relative path into this server, no other site).
fn redirect_url(ctx: &Ctx, p: &Params, merchant: &Merchant) -> Result<Option<String>, Response> {
    let url = param(p, "redirect_url");
    if url.is_empty() {
        return Ok(None);
    }
    let plain = url.len() <= 1024 && url.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"'`\\".contains(&b));
    let host = crate::notifications::outbound::parse_url(url).ok().and_then(|t| match t.host {
        crate::notifications::outbound::Host::Name(n) => Some(n),
        crate::notifications::outbound::Host::Ip(_) => None,
    });
    match host {
        Some(h) if plain && merchant.h5_domains.iter().any(|d| crate::notifications::outbound::host_within(&h, d)) => Ok(Some(url.to_string())),
        _ => Err(notice(ctx, StatusCode::BAD_REQUEST, Msg::BadRedirectTitle, Msg::BadRedirect)),
    }
}

/// The cashier page: the order, then the login or the confirmation.
#[allow(clippy::too_many_arguments)]
fn render(ctx: &Ctx, app: &App, order: &Order, merchant: &Merchant, user: Option<&User>, error: Option<&str>, ask_pin: bool, status: StatusCode, back: Option<&str>) -> Response {
    let next = cashier_path(order, back);
    let mut body = summary(&merchant.name, &order.description, order.total);
    match user {
        None => body.push_str(&login_card(ctx, &next, error)),
        Some(user) => {
            let needs_pin = pin_needed(user, order.total) || ask_pin;
            let balance = match available(app, user) {
                Ok(b) => b,
                Err(e) => return system_error(ctx, e),
            };
            body.push_str("<div class=\"card\">");
            body.push_str(&error_box(error));
            body.push_str(&payer_line(ctx, user, &next, balance));
            if balance < order.total && error.is_none() {
                // A new wallet, or a small one: say so now, and how to top up, instead of a button that fails.
                body.push_str(&format!(
                    "{}<a class=\"plain\" id=\"reload\" href=\"{}\">{}</a>",
                    error_box(Some(&not_enough(ctx, order.total, balance))),
                    esc(&next),
                    esc(ctx.t(Msg::ToppedUp))
                ));
            } else if needs_pin && user.pin_hash.is_none() {
                body.push_str(&format!("<p class=\"error\" id=\"error\">{}</p>", esc(ctx.t(Msg::PinNotSet))));
            } else {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/cashier/pay\"><input type=\"hidden\" name=\"prepay_id\" value=\"{}\">{}{}\
                     <button id=\"pay\" type=\"submit\">{}</button></form>",
                    esc(&order.prepay_id()),
                    back.map(|b| format!("<input type=\"hidden\" name=\"redirect_url\" value=\"{}\">", esc(b))).unwrap_or_default(),
                    if needs_pin { pin_field(ctx) } else { String::new() },
                    esc(&ctx.fill(Msg::PayButton, &[("amount", &yuan(order.total))]))
                ));
            }
            body.push_str("</div>");
        }
    }
    // For a customer at a desktop: the same page on a phone.
    let here = format!("{}{next}", app.public_base_url());
    body.push_str(&format!(
        "<div class=\"card qr muted\"><img src=\"/qr.svg?text={}\" alt=\"{}\"><div>{}</div></div>",
        esc(&url_encode(&here)),
        esc(ctx.t(Msg::QrAlt)),
        esc(ctx.t(Msg::ScanOnPhone))
    ));
    html(status, layout(ctx, ctx.t(Msg::CheckoutTitle), &body))
}

/// `GET /cashier/h5?prepay_id=…` and `GET /cashier/jsapi?prepay_id=…`.
pub async fn cashier(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    show(&app, &ctx, &headers, &q, HANDED)
}

/// `GET /cashier/scan?prepay_id=…`: a Native order the wallet's scan page resolved.
pub async fn scanned(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    show(&app, &ctx, &headers, &q, SCANNED)
}

fn show(app: &App, ctx: &Ctx, headers: &HeaderMap, q: &Params, kinds: &[TradeType]) -> Response {
    let (order, merchant) = match load(ctx, app, param(q, "prepay_id"), kinds) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let back = match redirect_url(&ctx, &q, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return system_error(&ctx, e),
    };
    let now = app.business_now_secs();
    // The payer coming back (reload, back button) sees their receipt.
    if order.state_at(now) == TradeState::Success && user.as_ref().is_some_and(|u| order.payer_user == Some(u.id)) {
        return see_other(&result_path(&order, back.as_deref()));
    }
    if let Some(why) = Unpayable::of(&order, now) {
        return why.page(&ctx, user.is_some(), &cashier_path(&order, back.as_deref()));
    }
    // A shop order whose goods are gone: said now, not after the buyer presses pay.
    if order.goods {
        match crate::shop::goods_left(app, order.id) {
            Ok(true) => {}
            Ok(false) => return sold_out_page(ctx, &order),
            Err(e) => return system_error(ctx, e),
        }
    }
    if let Some(u) = &user {
        match payer_mismatch(&app, &order, u) {
            Ok(true) => return Unpayable::PayerMismatch.page(&ctx, true, &cashier_path(&order, back.as_deref())),
            Ok(false) => {}
            Err(e) => return system_error(&ctx, e),
        }
    }
    render(&ctx, &app, &order, &merchant, user.as_ref(), None, false, StatusCode::OK, back.as_deref())
}

fn result_path(order: &Order, back: Option<&str>) -> String {
    format!("/cashier/result?transaction_id={}{}", url_encode(&order.transaction_id), back_param(back))
}

/// A payment that did not happen, in plain words, with the way back.
pub fn failure_page(ctx: &Ctx, status: StatusCode, reason: &str, back: &str) -> Response {
    let body = format!(
        "<div class=\"card success\" id=\"result\"><div class=\"mark fail\" id=\"failure-mark\" aria-hidden=\"true\">!</div><h1>{}</h1>{}<p>{}</p>\
         <a class=\"button secondary\" id=\"back\" href=\"{}\">{}</a></div>",
        esc(ctx.t(Msg::PayFailedTitle)),
        error_box(Some(reason)),
        esc(ctx.t(Msg::NothingCharged)),
        esc(back),
        esc(ctx.t(Msg::BackToPayment))
    );
    html(status, layout(ctx, ctx.t(Msg::PayFailedTitle), &body))
}

/// A shop order whose goods sold out while the buyer paid: said first, nothing charged, back to the shop.
fn sold_out_page(ctx: &Ctx, order: &Order) -> Response {
    let body = format!(
        "<div class=\"card success\" id=\"result\"><div class=\"mark fail\" id=\"failure-mark\" aria-hidden=\"true\">!</div><h1 id=\"sold-out\">{}</h1>{}\
         <a class=\"button secondary\" id=\"back\" href=\"/shop/{}\">{}</a></div>",
        esc(ctx.t(Msg::ShopSoldOutTitle)),
        error_box(Some(ctx.t(Msg::ShopSoldOut))),
        esc(&url_encode(&order.mchid)),
        esc(ctx.t(Msg::ShopBackToShop))
    );
    html(Unpayable::SoldOut.status(), layout(ctx, ctx.t(Msg::ShopSoldOutTitle), &body))
}

/// Why a payment was refused, in plain words with what to do next, and the page's status. `order` is
/// the order as it is now, where there is one (it tells an expired order from a closed one).
pub fn refusal(ctx: &Ctx, app: &App, user: &User, e: &PayError, total: i64, order: Option<&Order>) -> (StatusCode, String) {
    match e {
        PayError::NotEnough => {
            let balance = available(app, user).unwrap_or(0);
            (StatusCode::FORBIDDEN, not_enough(ctx, total, balance))
        }
        PayError::PinLocked { until } => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinLocked, &[("until", &ctx.lang.time(*until))])),
        PayError::PinRequired => (StatusCode::FORBIDDEN, ctx.t(Msg::PinRequired).into()),
        PayError::PinBusy => (StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::PinBusy).into()),
        PayError::WrongPin { tries_left: 1 } => (StatusCode::FORBIDDEN, ctx.t(Msg::PinWrongOne).into()),
        PayError::WrongPin { tries_left } => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinWrong, &[("n", &tries_left.to_string())])),
        PayError::NoSuchOrder => (StatusCode::NOT_FOUND, ctx.t(Msg::OrderNotFound).into()),
        PayError::Order(code) => {
            // Each text says what happened and what to do, without its title.
            let why = Unpayable::of_code(code, order, app.business_now_secs());
            (why.status(), ctx.t(why.texts(true).1).into())
        }
        PayError::Store(e) => {
            tracing::error!(error = %e, "cashier payment failed");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).into())
        }
    }
}

/// `POST /cashier/pay` {prepay_id, pin?}.
pub async fn pay(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let (order, merchant) = match load(&ctx, &app, param(&p, "prepay_id"), &[HANDED, SCANNED].concat()) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let back = match redirect_url(&ctx, &p, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    let back = back.as_deref();
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return render(&ctx, &app, &order, &merchant, None, Some(ctx.t(Msg::SessionEnded)), false, StatusCode::UNAUTHORIZED, back),
        Err(e) => return system_error(&ctx, e),
    };
    let pin = Some(param(&p, "pin")).filter(|s| !s.is_empty()).map(str::to_string);
    match payments::pay(&app, &user, &order.prepay_id(), pin).await {
        Ok(paid) => see_other(&result_path(&paid, back)),
        Err(e) => {
            // The order as it is now: a second click after the first paid finds the receipt, not an error.
            let now_order = orders::by_code(&app, &order.code).ok().flatten();
            if matches!(&e, PayError::Order(c) if c == "ORDERPAID") && now_order.as_ref().is_some_and(|o| o.payer_user == Some(user.id)) {
                return see_other(&result_path(&order, back));
            }
            let (status, message) = refusal(&ctx, &app, &user, &e, order.total, now_order.as_ref());
            match e {
                PayError::Order(c) if c == "SOLD_OUT" => sold_out_page(&ctx, &order),
                PayError::PinRequired | PayError::WrongPin { .. } | PayError::PinBusy => render(&ctx, &app, &order, &merchant, Some(&user), Some(&message), true, status, back),
                _ => failure_page(&ctx, status, &message, &cashier_path(&order, back)),
            }
        }
    }
}

/// Where the receipt's 完成 button goes: the merchant's page when the payment came with one; the
/// collection code's page for a collection-code payment (the next customer pays there); else a page
/// that says the user may close it (the pages run no script, so they cannot close themselves).
fn done_href(order: &Order, back: Option<&str>) -> String {
    match back {
        Some(url) => url.to_string(),
        None if order.trade_type == TradeType::Native && order.out_trade_no.starts_with(super::collect::OUT_TRADE_NO_PREFIX) => format!("/collect/{}", url_encode(&order.mchid)),
        // A shop order: back to the shop.
        None if order.goods => format!("/shop/{}", url_encode(&order.mchid)),
        None => "/cashier/done".to_string(),
    }
}

/// `GET /cashier/result?transaction_id=…`: the payer's receipt (nobody else's: 404 for them).
pub async fn result(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let nothing = || notice(&ctx, StatusCode::NOT_FOUND, Msg::NoPaymentTitle, Msg::NoPayment);
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return nothing(),
        Err(e) => return system_error(&ctx, e),
    };
    let transaction_id = param(&q, "transaction_id");
    let order = match orders::by_transaction_id_any(&app, transaction_id) {
        Ok(Some(o)) if o.payer_user == Some(user.id) && o.success_at.is_some() => o,
        Ok(_) => return nothing(),
        Err(e) => return system_error(&ctx, e),
    };
    let merchant = match crate::merchants::get(&app, &order.mchid) {
        Ok(Some(m)) => m,
        Ok(None) => return system_error(&ctx, "paid order of an unknown merchant"),
        Err(e) => return system_error(&ctx, e),
    };
    let back = match redirect_url(&ctx, &q, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    // Back to the merchant's page by the 完成 button, and after five seconds by itself.
    let (soon, refresh) = match &back {
        Some(url) => (format!("<p class=\"muted\">{}</p>", esc(ctx.t(Msg::ReturnsSoon))), format!("<meta http-equiv=\"refresh\" content=\"5;url={}\">", esc(url))),
        None => (String::new(), String::new()),
    };
    let row = |label: Msg, id: &str, value: &str| format!("<dt>{}</dt><dd id=\"{id}\">{}</dd>", esc(ctx.t(label)), esc(value));
    let mut rows = row(Msg::Merchant, "merchant", &merchant.name);
    rows.push_str(&row(Msg::Item, "description", &order.description));
    rows.push_str(&row(Msg::PaidAt, "paid-at", &order.success_at.map(|t| ctx.lang.time(t)).unwrap_or_default()));
    rows.push_str(&row(Msg::TransactionNo, "transaction-id", &order.transaction_id));
    rows.push_str(&row(Msg::MerchantOrderNo, "out-trade-no", &order.out_trade_no));
    if order.refunded > 0 {
        rows.push_str(&row(Msg::Refunded, "refunded", &yuan(order.refunded)));
    }
    rows.push_str(&row(Msg::PaidFrom, "wallet", &masked_phone(&user.phone)));
    let body = format!(
        "<div class=\"card success\" id=\"result\"><div class=\"mark\" id=\"success-mark\" aria-hidden=\"true\">✓</div><h1 class=\"ok\">{}</h1>\
         <div class=\"amount\" id=\"amount\">{}</div><dl>{rows}</dl><a class=\"button\" id=\"done\" href=\"{}\">{}</a>{soon}</div>{refresh}",
        esc(ctx.t(Msg::PaidTitle)),
        esc(&yuan(order.total)),
        esc(&done_href(&order, back.as_deref())),
        esc(ctx.t(Msg::Done)),
    );
    html(StatusCode::OK, layout(&ctx, ctx.t(Msg::PaidTitle), &body))
}

/// `GET /cashier/done`: where 完成 leads when there is no merchant page to return to.
pub async fn done(ctx: Ctx) -> Response {
    message_page(&ctx, StatusCode::OK, Msg::DoneTitle, ctx.t(Msg::DoneText))
}
