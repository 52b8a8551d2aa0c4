//! An order in the console (`/console/orders/{out_trade_no}`): its amounts, state, times and payer
//! (masked), its refunds, and the notifications about it with every delivery attempt. Both roles may
//! read it; only a manager gets the refund form, and only a manager's POST refunds (`refund`).
//!
//! A refund from the console goes through `refunds::create`, as the v3 refund API does (one job: the
//! refund row, the order's sums and state, the ledger transfers, the REFUND.SUCCESS notification to the
//! merchant's notify_url, else the order's). It is confirmed by the manager's own password, counted with
//! the login's tries (`super::confirm_password`). The form carries a one-time token drawn when the page
//! is shown, which is the refund's out_refund_no: a second submission of the same form (a double click, a
//! replay) is the same refund, given back, and refunds nothing more.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::pages::{console_page, live, manager, refused, state_name};
use super::{LoginError, Role, Staff};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, notice, param, see_other, system_error, url_encode, yuan, Ctx, Params};
use crate::payments::orders::{self, Order};
use crate::refunds::{self, NewRefund, RefundFail};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, PreEscaped};
use saoma_core::order::TradeState;
use saoma_core::refund::{RefundError, MAX_REFUNDS};
use std::sync::Arc;

/// What starts a console refund's out_refund_no (the rest is the form's random token).
const TOKEN_PREFIX: &str = "console-";
const TOKEN_CHARS: usize = 24;
/// The longest reason kept (as v3's `reason`).
const MAX_REASON_CHARS: usize = 80;

/// A one-time token for a refund form: its out_refund_no.
fn new_token() -> Result<String, saoma_store::StoreError> {
    let r = saoma_wechatpay::aead::random_string(TOKEN_CHARS).map_err(|e| saoma_store::StoreError::Io(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{r}"))
}

fn valid_token(t: &str) -> bool {
    t.strip_prefix(TOKEN_PREFIX).is_some_and(|r| r.len() == TOKEN_CHARS && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An openid shown to the shop: its first and last four characters.
fn masked_openid(openid: &str) -> String {
    let chars: Vec<char> = openid.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    format!("{}****{}", chars[..4].iter().collect::<String>(), chars[chars.len() - 4..].iter().collect::<String>())
}

/// What is left to refund of a paid order (0 for any other).
fn refundable(o: &Order) -> i64 {
    if matches!(o.trade_state, TradeState::Success | TradeState::Refund) {
        (o.total - o.refunded).max(0)
    } else {
        0
    }
}

/// What the refund form shows again after a refusal.
#[derive(Default)]
struct Filled<'a> {
    amount: &'a str,
    reason: &'a str,
    error: Option<String>,
    done: Option<String>,
}

/// The order's page for `staff` (a manager's has the refund form), `status` and what to say.
fn order_page(app: &App, ctx: &Ctx, staff: &Staff, order: &Order, status: StatusCode, filled: Filled<'_>) -> Response {
    let now = app.business_now_secs();
    let (refund_list, notices) = match refunds::of_order(app, &staff.mchid, order.id).and_then(|r| {
        let mut about = vec![("TRANSACTION", order.out_trade_no.clone())];
        about.extend(r.iter().map(|(f, _)| ("REFUND", f.out_refund_no.clone())));
        Ok((crate::notifications::about(app, &staff.mchid, &about)?, r))
    }) {
        Ok((n, r)) => (r, n),
        Err(e) => return system_error(ctx, e),
    };
    let left = refundable(order);
    let token = if staff.role == Role::Manager && left > 0 {
        match new_token() {
            Ok(t) => Some(t),
            Err(e) => return system_error(ctx, e),
        }
    } else {
        None
    };
    let action = format!("/console/orders/{}/refund", url_encode(&order.out_trade_no));
    let body = markup! {
        div.card #order {
            h1 { (ctx.t(Msg::ConsoleOrderTitle)) }
            p.amount #order-total { (yuan(order.total)) }
            @if let Some(done) = &filled.done { p.ok #refunded-now role="status" { (done) } }
            dl.facts {
                dt { (ctx.t(Msg::ConsoleOrderState)) } dd #order-state { (state_name(ctx, order.state_at(now))) }
                dt { (ctx.t(Msg::ConsoleOrderOutTradeNo)) } dd #order-no { (order.out_trade_no) }
                dt { (ctx.t(Msg::ConsoleOrderTransactionId)) } dd { (order.transaction_id) }
                dt { (ctx.t(Msg::ConsoleOrderDescription)) } dd { (order.description) }
                @if let Some(at) = order.success_at {
                    dt { (ctx.t(Msg::ConsoleOrderPaidAt)) } dd { (ctx.lang.time(at)) }
                } @else {
                    dt { (ctx.t(Msg::ConsoleOrderExpires)) } dd { (ctx.lang.time(order.expire_at)) }
                }
                @if let Some(openid) = &order.payer_openid {
                    dt { (ctx.t(Msg::ConsoleOrderPayer)) } dd #order-payer { (masked_openid(openid)) }
                }
                dt { (ctx.t(Msg::ConsoleOrderRefunded)) } dd #order-refunded { (yuan(order.refunded)) }
                dt { (ctx.t(Msg::ConsoleOrderRefundable)) } dd #order-refundable { (yuan(left)) }
            }
        }
        div.card #refunds {
            h1 #refunds-title { (ctx.t(Msg::ConsoleRefundsTitle)) }
            @if refund_list.is_empty() { p.muted #no-refunds { (ctx.t(Msg::ConsoleNoRefunds)) } }
            ul.payments aria-labelledby="refunds-title" {
                @for (r, reason) in &refund_list {
                    li data-id=(r.out_refund_no) {
                        span.pay-time { (ctx.lang.time(r.success_at.unwrap_or(r.created_at))) }
                        span.pay-amount { (yuan(r.amount)) }
                        span.pay-no { (r.refund_id) " · " (r.out_refund_no) }
                        @if let Some(reason) = reason.as_deref().filter(|r| !r.is_empty()) {
                            span.pay-no { (ctx.fill(Msg::ConsoleRefundReason, &[("reason", reason)])) }
                        }
                    }
                }
            }
        }
        @if let Some(token) = &token {
            div.card #refund-form {
                h1 { (ctx.t(Msg::ConsoleRefundFormTitle)) }
                (PreEscaped(error_box(filled.error.as_deref())))
                p.muted { (ctx.t(Msg::ConsoleRefundHint)) }
                form method="post" action=(action) {
                    input type="hidden" name="token" value=(token);
                    label for="refund-amount" { (ctx.fill(Msg::ConsoleRefundAmountLabel, &[("max", &yuan(left))])) }
                    input #refund-amount name="amount" inputmode="decimal" autocomplete="off" required value=(filled.amount);
                    label for="refund-reason" { (ctx.t(Msg::ConsoleRefundReasonLabel)) }
                    input #refund-reason name="reason" autocomplete="off" maxlength=(MAX_REASON_CHARS) value=(filled.reason);
                    label for="refund-password" { (ctx.t(Msg::ConsoleRefundPasswordLabel)) }
                    input #refund-password name="password" type="password" autocomplete="current-password" required;
                    button #refund type="submit" { (ctx.t(Msg::ConsoleRefundButton)) }
                }
            }
        } @else if let Some(error) = &filled.error {
            div.card { (PreEscaped(error_box(Some(error)))) }
        }
        div.card #notifications {
            h1 #notifications-title { (ctx.t(Msg::ConsoleNotificationsTitle)) }
            @if notices.is_empty() { p.muted #no-notifications { (ctx.t(Msg::ConsoleNoNotifications)) } }
            ul.payments aria-labelledby="notifications-title" {
                @for n in &notices {
                    li.notice data-state=(n.state) {
                        span { (n.event_type) }
                        span.pay-amount {
                            @match (n.state.as_str(), n.delivered_at) {
                                ("delivered", Some(at)) => { (ctx.fill(Msg::ConsoleNoticeDelivered, &[("time", &ctx.lang.time(at))])) }
                                ("failed", _) => { (ctx.t(Msg::ConsoleNoticeFailed)) }
                                _ => { (ctx.fill(Msg::ConsoleNoticePending, &[("time", &ctx.lang.time(n.next_attempt_at))])) }
                            }
                        }
                        span.pay-no { (n.url) }
                        @if n.attempts.is_empty() { span.pay-no { (ctx.t(Msg::ConsoleNoAttempts)) } }
                        @for a in &n.attempts {
                            @let at = ctx.lang.time(a.at);
                            span.pay-no.attempt {
                                @match (a.status, &a.error) {
                                    (Some(st), _) => {
                                        (ctx.fill(Msg::ConsoleAttemptStatus, &[("time", &at), ("status", &st.to_string())]))
                                    }
                                    (None, e) => {
                                        (ctx.fill(Msg::ConsoleAttemptError, &[("time", &at), ("error", e.as_deref().unwrap_or(""))]))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if staff.role == Role::Manager {
            p { a.plain href="/console/orders" { (ctx.t(Msg::ConsoleBackToOrders)) } }
        } @else {
            p { a.plain href="/console" { (ctx.t(Msg::ConsoleBackToTakings)) } }
        }
    };
    html(status, console_page(ctx, app, staff, "", ctx.t(Msg::ConsoleOrderTitle), body))
}

/// The staff member's order by its out_trade_no, or the page that says there is none.
fn find(app: &App, ctx: &Ctx, staff: &Staff, no: &str) -> Result<Order, Response> {
    match orders::by_out_trade_no(app, &staff.mchid, no) {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(notice(ctx, StatusCode::NOT_FOUND, Msg::ConsoleOrderNotFoundTitle, Msg::ConsoleOrderNotFound)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// `GET /console/orders/{out_trade_no}[?refunded=OUT_REFUND_NO]`: the order (either role).
pub(super) async fn show(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(no): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    let staff = match live(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let order = match find(&app, &ctx, &staff, &no) {
        Ok(o) => o,
        Err(page) => return page,
    };
    // After a refund (303 here): said, when the refund is this order's.
    let done = match param(&q, "refunded") {
        "" => None,
        r => refunds::by_out_refund_no(&app, &staff.mchid, r)
            .ok()
            .flatten()
            .filter(|r| r.out_trade_no == order.out_trade_no)
            .map(|r| ctx.fill(Msg::ConsoleRefundDone, &[("amount", &yuan(r.amount)), ("no", &r.refund_id)])),
    };
    order_page(&app, &ctx, &staff, &order, StatusCode::OK, Filled { done, ..Default::default() })
}

/// `POST /console/orders/{out_trade_no}/refund {token, amount, reason, password}` (managers): refunds
/// `amount` of the order, confirmed by the manager's password; then back to the order (303).
pub(super) async fn refund(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(no): Path<String>,
    form: Option<Form<Params>>,
) -> Response {
    // A cashier's session is refused here, whatever it posts: nothing below runs for it.
    let staff = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let order = match find(&app, &ctx, &staff, &no) {
        Ok(o) => o,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let (token, typed, reason) = (param(&p, "token"), param(&p, "amount"), param(&p, "reason"));
    let again = |status: StatusCode, error: String| {
        order_page(&app, &ctx, &staff, &order, status, Filled { amount: typed, reason, error: Some(error), done: None })
    };
    let max = yuan(refundable(&order));
    if !valid_token(token) {
        return again(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleRefundBadForm).to_string());
    }
    let Ok(amount) = saoma_core::yuan::parse(typed) else {
        return again(StatusCode::BAD_REQUEST, ctx.fill(Msg::ConsoleRefundBadAmount, &[("max", &max)]));
    };
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return again(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleRefundBadForm).to_string());
    }
    // Not trimmed: a password may hold spaces.
    let password = p.get("password").map(String::as_str).unwrap_or("");
    match super::confirm_password(&app, &staff, password).await {
        Ok(()) => {}
        Err(LoginError::WrongPassword { tries_left }) => {
            return again(StatusCode::UNAUTHORIZED, ctx.fill(Msg::ConsoleRefundWrongPassword, &[("n", &tries_left.to_string())]))
        }
        Err(LoginError::Busy) => return again(StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::ConsolePasswordBusy).to_string()),
        // Locked: every session of theirs has ended; the login page says until when.
        Err(e) => return refused(&ctx, e, &staff.phone, None),
    }
    // A refund notification goes where the merchant receives them (its notify_url), else where this
    // order's payment was notified.
    let notify_url = crate::merchants::get(&app, &staff.mchid).ok().flatten().and_then(|m| m.notify_url.clone()).filter(|u| !u.is_empty());
    let notify_url = notify_url.or_else(|| Some(order.notify_url.clone()).filter(|u| !u.is_empty()));
    let n = NewRefund {
        mchid: staff.mchid.clone(),
        transaction_id: None,
        out_trade_no: Some(order.out_trade_no.clone()),
        out_refund_no: token.to_string(),
        reason: Some(reason.to_string()).filter(|r| !r.is_empty()),
        notify_url,
        refund: amount,
        total: order.total,
        currency: order.currency.clone(),
    };
    let error = match refunds::create(&app, n).await {
        Ok(r) => {
            tracing::info!(mchid = %staff.mchid, staff = %staff.phone, out_refund_no = %r.out_refund_no, amount = r.amount,
                "console refund");
            return see_other(&format!("/console/orders/{}?refunded={}", url_encode(&order.out_trade_no), url_encode(&r.out_refund_no)));
        }
        Err(RefundFail::Rule(RefundError::ExceedsRefundable { left })) => ctx.fill(Msg::ConsoleRefundExceeds, &[("max", &yuan(left))]),
        Err(RefundFail::Rule(RefundError::NotPaid)) => ctx.t(Msg::ConsoleRefundNotPaid).to_string(),
        Err(RefundFail::Rule(RefundError::TooMany)) => ctx.fill(Msg::ConsoleRefundTooMany, &[("n", &MAX_REFUNDS.to_string())]),
        Err(RefundFail::Rule(RefundError::TooLate)) => ctx.t(Msg::ConsoleRefundTooLate).to_string(),
        Err(RefundFail::Rule(RefundError::TotalMismatch)) | Err(RefundFail::OrderNotFound) => ctx.t(Msg::ConsoleRefundBadForm).to_string(),
        Err(RefundFail::NotEnough) => ctx.t(Msg::ConsoleRefundNotEnough).to_string(),
        Err(RefundFail::OutRefundNoUsed) => ctx.t(Msg::ConsoleRefundFormUsed).to_string(),
        Err(RefundFail::Store(e)) => return system_error(&ctx, e),
    };
    // The order as it is now (another refund may have changed what is left).
    let order = match find(&app, &ctx, &staff, &no) {
        Ok(o) => o,
        Err(page) => return page,
    };
    order_page(&app, &ctx, &staff, &order, StatusCode::CONFLICT, Filled { amount: typed, reason, error: Some(error), done: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_out_refund_nos() {
        let t = new_token().unwrap();
        assert!(valid_token(&t) && saoma_core::refund::valid_out_refund_no(&t), "{t}");
        assert_ne!(t, new_token().unwrap());
        assert!(!valid_token("console-short") && !valid_token(&t.replace("console-", "other---")));
        assert_eq!(masked_openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), "oUpF****eS6o");
    }
}
