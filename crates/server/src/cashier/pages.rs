//! The cashier (收银台) for an order's prepay id (`h5_url` is `/cashier/h5?prepay_id=wx…`; JSAPI and APP
//! prepay ids open `/cashier/jsapi?prepay_id=wx…`): the order, the wallet login, the confirmation (with
//! the PIN when the payment needs it), and the result, which leads back to the merchant's page when the
//! h5_url carried a `redirect_url`. Also the login pages the collection code shares.

use super::{esc, html, layout, masked_phone, message_page, safe_next, see_other, session, session_cookie, system_error, url_encode, yuan, SESSION_COOKIE};
use crate::merchants::Merchant;
use crate::orders::{self, Order};
use crate::payments::{self, PayError};
use crate::login;
use crate::users::{User, UserError};
use crate::App;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Form;
use saoma_core::order::{TradeState, TradeType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

type Params = HashMap<String, String>;

fn param<'a>(p: &'a Params, name: &str) -> &'a str {
    p.get(name).map(|s| s.trim()).unwrap_or("")
}

/// The order a cashier page is for, and its merchant; or the page that says why there is none.
fn load(app: &App, prepay_id: &str) -> Result<(Order, Arc<Merchant>), Response> {
    if prepay_id.is_empty() {
        return Err(message_page(StatusCode::BAD_REQUEST, "Incomplete link", "This payment link has no prepay_id. Go back to the merchant and start the payment again."));
    }
    let not_found = || message_page(StatusCode::NOT_FOUND, "No such order", "There is no order to pay at this link. Go back to the merchant and start the payment again.");
    // Only prepay ids (`wx…`): a Native code_url is scanned in the wallet, not opened here.
    let code = match payments::order_code(prepay_id) {
        Some(c) if prepay_id.starts_with("wx") => c,
        _ => return Err(not_found()),
    };
    let order = match orders::by_code(app, code) {
        Ok(Some(o)) if matches!(o.trade_type, TradeType::H5 | TradeType::Jsapi | TradeType::App) => o,
        Ok(_) => return Err(not_found()),
        Err(e) => return Err(system_error(e)),
    };
    match app.merchants.get(&app.store, &order.mchid) {
        Ok(Some(m)) => Ok((order, m)),
        Ok(None) => Err(system_error(format!("order {} of unknown merchant {}", order.id, order.mchid))),
        Err(e) => Err(system_error(e)),
    }
}

/// The page for an order that can no longer be paid: 409 when paid (or being paid), 410 when closed.
fn not_payable(state: TradeState) -> Option<Response> {
    match state {
        TradeState::NotPay => None,
        TradeState::Success | TradeState::Refund => Some(message_page(StatusCode::CONFLICT, "Already paid", "This order has already been paid. There is nothing more to pay.")),
        TradeState::UserPaying => Some(message_page(StatusCode::CONFLICT, "Payment in progress", "A payment of this order is in progress. Check your wallet before paying again.")),
        TradeState::Closed | TradeState::Revoked | TradeState::PayError => {
            Some(message_page(StatusCode::GONE, "Order closed", "This order is closed or has expired and can no longer be paid. Go back to the merchant to order again."))
        }
    }
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

pub fn error_box(error: Option<&str>) -> String {
    error.map(|e| format!("<div class=\"error\" id=\"error\" role=\"alert\">{}</div>", esc(e))).unwrap_or_default()
}

/// The first login step (phone) for a page that sends the browser back to `next` when done.
pub fn login_card(next: &str, error: Option<&str>) -> String {
    format!(
        "<div class=\"card\"><h1>Log in to pay · 登录付款</h1>{}<form method=\"post\" action=\"/cashier/sms\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><label for=\"phone\">Phone number</label>\
         <input id=\"phone\" name=\"phone\" type=\"tel\" inputmode=\"numeric\" autocomplete=\"tel\" required>\
         <button id=\"send-code\" type=\"submit\">Send code</button></form></div>",
        error_box(error),
        esc(next)
    )
}

/// Who is paying, with a way out (another account).
pub fn payer_line(user: &User, next: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/cashier/logout\" class=\"muted\">Paying from the wallet of <span id=\"payer\">{}</span>. \
         <input type=\"hidden\" name=\"next\" value=\"{}\"><button class=\"link\" type=\"submit\">Not you?</button></form>",
        esc(&masked_phone(&user.phone)),
        esc(next)
    )
}

/// The PIN field, for a payment that needs it.
pub fn pin_field() -> &'static str {
    "<label for=\"pin\">Payment PIN (6 digits)</label><input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" \
     autocomplete=\"off\" pattern=\"[0-9]{6}\" maxlength=\"6\" required>"
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

fn cashier_path(order: &Order, back: Option<&str>) -> String {
    let page = if order.trade_type == TradeType::H5 { "h5" } else { "jsapi" };
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
fn redirect_url(p: &Params, merchant: &Merchant) -> Result<Option<String>, Response> {
    let url = param(p, "redirect_url");
    if url.is_empty() {
        return Ok(None);
    }
    let plain = url.len() <= 1024 && url.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"'`\\".contains(&b));
    let host = crate::outbound::parse_url(url).ok().and_then(|t| match t.host {
        crate::outbound::Host::Name(n) => Some(n),
        crate::outbound::Host::Ip(_) => None,
    });
    match host {
        Some(h) if plain && merchant.h5_domains.iter().any(|d| crate::outbound::host_within(&h, d)) => Ok(Some(url.to_string())),
        _ => Err(message_page(
            StatusCode::BAD_REQUEST,
            "返回地址无效 · Bad return address",
            "此支付链接的 redirect_url 不是商户登记的 H5 域名下的地址。请返回商户页面重新发起支付。\
             This payment link's redirect_url is not an address on the merchant's registered H5 domains. Go back to the merchant and start the payment again.",
        )),
    }
}

/// The cashier page: the order, then the login or the confirmation.
#[allow(clippy::too_many_arguments)]
fn render(app: &App, order: &Order, merchant: &Merchant, user: Option<&User>, error: Option<&str>, ask_pin: bool, status: StatusCode, back: Option<&str>) -> Response {
    let next = cashier_path(order, back);
    let mut body = summary(&merchant.name, &order.description, order.total);
    match user {
        None => body.push_str(&login_card(&next, error)),
        Some(user) => {
            let needs_pin = pin_needed(user, order.total) || ask_pin;
            let balance = match available(app, user) {
                Ok(b) => b,
                Err(e) => return system_error(e),
            };
            body.push_str("<div class=\"card\">");
            body.push_str(&error_box(error));
            body.push_str(&payer_line(user, &next));
            body.push_str(&format!("<p class=\"muted\">Balance <span id=\"balance\">{}</span></p>", esc(&yuan(balance))));
            if needs_pin && user.pin_hash.is_none() {
                body.push_str("<p class=\"error\">This payment needs your payment PIN, and your wallet has none yet. Set a PIN in the wallet first.</p>");
            } else {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/cashier/pay\"><input type=\"hidden\" name=\"prepay_id\" value=\"{}\">{}{}\
                     <button id=\"pay\" type=\"submit\">Pay {} · 确认支付</button></form>",
                    esc(&order.prepay_id()),
                    back.map(|b| format!("<input type=\"hidden\" name=\"redirect_url\" value=\"{}\">", esc(b))).unwrap_or_default(),
                    if needs_pin { pin_field() } else { "" },
                    esc(&yuan(order.total))
                ));
            }
            body.push_str("</div>");
        }
    }
    // For a customer at a desktop: the same page on a phone.
    let here = format!("{}{next}", app.public_base_url());
    body.push_str(&format!(
        "<div class=\"card qr muted\"><img src=\"/qr.svg?text={}\" alt=\"QR code of this page\"><div>Or scan to pay on your phone</div></div>",
        esc(&url_encode(&here))
    ));
    html(status, layout("收银台 Checkout", &body))
}

/// `GET /cashier/h5?prepay_id=…` and `GET /cashier/jsapi?prepay_id=…`.
pub async fn cashier(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let (order, merchant) = match load(&app, param(&q, "prepay_id")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let back = match redirect_url(&q, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return system_error(e),
    };
    let state = order.state_at(app.business_now_secs());
    // The payer coming back (reload, back button) sees their receipt.
    if state == TradeState::Success && user.as_ref().is_some_and(|u| order.payer_user == Some(u.id)) {
        return see_other(&result_path(&order, back.as_deref()));
    }
    if let Some(page) = not_payable(state) {
        return page;
    }
    render(&app, &order, &merchant, user.as_ref(), None, false, StatusCode::OK, back.as_deref())
}

fn result_path(order: &Order, back: Option<&str>) -> String {
    format!("/cashier/result?transaction_id={}{}", url_encode(&order.transaction_id), back_param(back))
}

/// A payment that did not happen, in plain words, with the way back.
pub fn failure_page(status: StatusCode, reason: &str, back: &str) -> Response {
    let body = format!(
        "<div class=\"card\" id=\"result\"><h1>Payment failed · 支付失败</h1>{}<p>Nothing was charged.</p><p><a href=\"{}\">Back to the payment</a></p></div>",
        error_box(Some(reason)),
        esc(back)
    );
    html(status, layout("Payment failed", &body))
}

/// Why a payment was refused, in plain words, and the page's status.
pub fn refusal(app: &App, user: &User, e: &PayError, total: i64) -> (StatusCode, String) {
    match e {
        PayError::NotEnough => {
            let balance = available(app, user).map(|b| format!(" (you have {})", yuan(b))).unwrap_or_default();
            (StatusCode::FORBIDDEN, format!("Your wallet balance is not enough for {}{balance}. Top up your wallet and try again.", yuan(total)))
        }
        PayError::PinLocked { until } => (
            StatusCode::FORBIDDEN,
            format!("Too many wrong PINs: payments that need the PIN are locked until {}.", saoma_core::time::format_rfc3339_cst(*until).replace('T', " ")),
        ),
        PayError::PinRequired => (StatusCode::FORBIDDEN, "This payment needs your 6-digit payment PIN.".into()),
        PayError::PinBusy => (StatusCode::TOO_MANY_REQUESTS, "Your PIN is being checked for other requests right now. Wait a moment and try again.".into()),
        PayError::WrongPin { tries_left } => (StatusCode::FORBIDDEN, format!("Wrong PIN. {tries_left} {} left before PIN payments are locked.", if *tries_left == 1 { "try" } else { "tries" })),
        PayError::NoSuchOrder => (StatusCode::NOT_FOUND, "There is no such order.".into()),
        PayError::Order(code) if code == "ORDERPAID" => (StatusCode::CONFLICT, "This order has already been paid.".into()),
        PayError::Order(code) if code == "ORDER_CLOSED" => (StatusCode::GONE, "This order is closed or has expired.".into()),
        PayError::Order(_) => (StatusCode::CONFLICT, "A payment of this order is already in progress.".into()),
        PayError::Store(e) => {
            tracing::error!(error = %e, "cashier payment failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "A system error stopped the payment. Please try again.".into())
        }
    }
}

/// `POST /cashier/pay` {prepay_id, pin?}.
pub async fn pay(State(app): State<Arc<App>>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let (order, merchant) = match load(&app, param(&p, "prepay_id")) {
        Ok(x) => x,
        Err(page) => return page,
    };
    let back = match redirect_url(&p, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    let back = back.as_deref();
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return render(&app, &order, &merchant, None, Some("Your session has ended. Log in again to pay."), false, StatusCode::UNAUTHORIZED, back),
        Err(e) => return system_error(e),
    };
    let pin = Some(param(&p, "pin")).filter(|s| !s.is_empty()).map(str::to_string);
    match payments::pay(&app, &user, &order.prepay_id(), pin).await {
        Ok(paid) => see_other(&result_path(&paid, back)),
        // A second click after the first paid: the receipt, not an error.
        Err(PayError::Order(c)) if c == "ORDERPAID" && orders::by_code(&app, &order.code).ok().flatten().is_some_and(|o| o.payer_user == Some(user.id)) => see_other(&result_path(&order, back)),
        Err(e @ (PayError::PinRequired | PayError::WrongPin { .. } | PayError::PinBusy)) => {
            let (status, message) = refusal(&app, &user, &e, order.total);
            render(&app, &order, &merchant, Some(&user), Some(&message), true, status, back)
        }
        Err(e) => {
            let (status, message) = refusal(&app, &user, &e, order.total);
            failure_page(status, &message, &cashier_path(&order, back))
        }
    }
}

/// `GET /cashier/result?transaction_id=…`: the payer's receipt (nobody else's: 404 for them).
pub async fn result(State(app): State<Arc<App>>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let nothing = || message_page(StatusCode::NOT_FOUND, "No such payment", "There is no payment of yours to show here. Log in on the payment page to see your payments.");
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return nothing(),
        Err(e) => return system_error(e),
    };
    let transaction_id = param(&q, "transaction_id");
    let row = app.store.query_one(&format!("SELECT {} FROM orders WHERE transaction_id = $1", orders::COLUMNS), &[transaction_id.into()]);
    let order = match row.and_then(|r| r.map(|r| orders::from_row(&r).map(|(o, _)| o)).transpose()) {
        Ok(Some(o)) if o.payer_user == Some(user.id) && o.success_at.is_some() => o,
        Ok(_) => return nothing(),
        Err(e) => return system_error(e),
    };
    let merchant = match app.merchants.get(&app.store, &order.mchid) {
        Ok(Some(m)) => m,
        Ok(None) => return system_error("paid order of an unknown merchant"),
        Err(e) => return system_error(e),
    };
    let back = match redirect_url(&q, &merchant) {
        Ok(b) => b,
        Err(page) => return page,
    };
    // Back to the merchant's page, by a link and after five seconds by itself.
    let (return_link, refresh) = match &back {
        Some(url) => (
            format!("<p><a id=\"return\" href=\"{}\">Back to {} · 返回商户</a></p>", esc(url), esc(&merchant.name)),
            format!("<meta http-equiv=\"refresh\" content=\"5;url={}\">", esc(url)),
        ),
        None => (String::new(), String::new()),
    };
    let refunded = if order.refunded > 0 { format!("<dt>Refunded</dt><dd id=\"refunded\">{}</dd>", esc(&yuan(order.refunded))) } else { String::new() };
    let body = format!(
        "<div class=\"card\" id=\"result\"><h1 class=\"ok\">Payment successful · 支付成功</h1><div class=\"amount\" id=\"amount\">{}</div><dl>\
         <dt>Merchant</dt><dd id=\"merchant\">{}</dd><dt>Item</dt><dd id=\"description\">{}</dd><dt>Paid at</dt><dd>{}</dd>\
         <dt>Transaction</dt><dd id=\"transaction-id\">{}</dd>{refunded}<dt>Wallet</dt><dd>{}</dd></dl>{return_link}</div>{refresh}",
        esc(&yuan(order.total)),
        esc(&merchant.name),
        esc(&order.description),
        esc(&order.success_at.map(|t| saoma_core::time::format_rfc3339_cst(t).replace('T', " ")).unwrap_or_default()),
        esc(&order.transaction_id),
        esc(&masked_phone(&user.phone)),
    );
    html(StatusCode::OK, layout("Payment successful", &body))
}

/// A login page of its own (the code step, or the phone step again after a mistake).
fn login_page(status: StatusCode, next: &str, phone: Option<&str>, error: Option<&str>) -> Response {
    let body = match phone {
        None => login_card(next, error),
        Some(phone) => format!(
            "<div class=\"card\"><h1>Enter the SMS code · 输入验证码</h1>{}<p class=\"muted\">We sent a 6-digit code to {}.</p>\
             <form method=\"post\" action=\"/cashier/login\"><input type=\"hidden\" name=\"next\" value=\"{}\"><input type=\"hidden\" name=\"phone\" value=\"{}\">\
             <label for=\"code\">Code</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\" maxlength=\"6\" required>\
             <button id=\"login\" type=\"submit\">Log in</button></form><p><a href=\"{}\">Back</a></p></div>",
            error_box(error),
            esc(&masked_phone(phone)),
            esc(next),
            esc(phone),
            esc(next)
        ),
    };
    html(status, layout("Log in", &body))
}

fn bad_next() -> Response {
    message_page(StatusCode::BAD_REQUEST, "Bad link", "This login form does not come from a payment page. Open the payment page again.")
}

/// A refusal page with `Retry-After` (seconds).
fn retry_after(mut r: Response, seconds: i64) -> Response {
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

fn clock(t: i64) -> String {
    saoma_core::time::format_rfc3339_cst(t).replace('T', " ")
}

/// `POST /cashier/sms` {phone, next}: sends the login code, then asks for it.
pub async fn send_code(State(app): State<Arc<App>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next() };
    let phone = param(&p, "phone").replace([' ', '-'], "");
    match login::send_code(&app, phone.clone(), crate::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => login_page(StatusCode::OK, next, Some(&phone), None),
        Err(UserError::BadPhone) => login_page(StatusCode::BAD_REQUEST, next, None, Some("Enter your mobile number: 11 digits (13x–19x), or + and the country code.")),
        // A code sent a moment ago is still the one to type: the code step stays open.
        Err(UserError::FrequencyLimited { retry_after: wait }) => retry_after(
            login_page(StatusCode::TOO_MANY_REQUESTS, next, Some(&phone), Some(&format!("A code was sent recently (too many codes asked for). Use the last code, or ask for a new one in {wait} s."))),
            wait,
        ),
        Err(e) => system_error(format!("{e:?}")),
    }
}

/// `POST /cashier/login` {phone, code, next}: a wallet session in the cookie, back to the page.
pub async fn login(State(app): State<Arc<App>>, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next() };
    let phone = param(&p, "phone").to_string();
    match login::login(&app, phone.clone(), param(&p, "code").to_string()).await {
        Ok((token, _)) => {
            let mut r = see_other(next);
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &token));
            r
        }
        Err(UserError::BadCode { locked_until, .. }) if locked_until > 0 => {
            login_page(StatusCode::UNAUTHORIZED, next, None, Some(&format!("The code is wrong. Too many wrong codes: logging in with this phone is locked until {}.", clock(locked_until))))
        }
        Err(UserError::BadCode { tries_left, .. }) => login_page(
            StatusCode::UNAUTHORIZED,
            next,
            Some(&phone),
            Some(&format!("The code is wrong, used or expired ({tries_left} tries left). Check the SMS, or go back and send a new code.")),
        ),
        Err(UserError::LoginLocked { until, retry_after: wait }) => retry_after(
            login_page(StatusCode::TOO_MANY_REQUESTS, next, None, Some(&format!("Too many wrong codes: logging in with this phone is locked until {}.", clock(until)))),
            wait,
        ),
        Err(UserError::BadPhone) => login_page(StatusCode::BAD_REQUEST, next, None, Some("Enter your mobile number: 11 digits (13x–19x), or + and the country code.")),
        Err(UserError::NoSuchUser) => login_page(StatusCode::NOT_FOUND, next, None, Some("No wallet is registered with this phone number.")),
        Err(e) => system_error(format!("{e:?}")),
    }
}

/// `POST /cashier/logout` {next}: ends the wallet session and clears the cookie.
pub async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let Some(next) = safe_next(param(&p, "next")) else { return bad_next() };
    if let Some(token) = super::cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = login::logout(&app, token.to_string()).await {
            return system_error(e);
        }
    }
    let mut r = see_other(next);
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("saoma_wallet=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"));
    r
}
