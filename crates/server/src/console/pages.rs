//! The console's pages (`/console…`): the login's three steps (phone, SMS code, password), the page shell
//! both roles share, the orders search and the staff list (managers only: they add cashiers, end their
//! sessions, remove them). The takings of the day, kept current, are `live.rs`; an order's page and its
//! refund `order.rs`; bills `bills.rs`; API settings `settings.rs`.
//!
//! The console's session has a cookie of its own (`saoma_console`: HttpOnly, `SameSite=Strict`, only
//! sent to `/console…`, Secure when the public URL is https), apart from the wallet's.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::{LoginError, ManageError, Role, Staff, StaffError, Stage};
use crate::http::web::i18n::Msg;
use crate::http::web::{cookie, error_box, html, layout, masked_phone, param, see_other, system_error, url_encode, yuan, Ctx, Params};
use crate::payments::orders::{self};
use crate::users::UserError;
use crate::App;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use saoma_core::order::TradeState;
use saoma_core::time::{cst_day_start, format_rfc3339_cst, parse_cst_date};
use std::net::SocketAddr;
use std::sync::Arc;

const COOKIE: &str = "saoma_console";
/// Orders a search lists at most.
const SEARCH_LIMIT: i64 = 100;

const CSS: &str = ".speak{display:flex;align-items:center;gap:.5rem;margin-top:.75rem}.speak input{width:auto;margin:0}.speak label{margin:0;color:#111;font-size:1rem}\
ul.payments{list-style:none;padding:0;margin:0}ul.payments li{display:grid;grid-template-columns:auto 1fr;gap:0 .75rem;padding:.55rem 0;border-bottom:1px solid #eee}\
ul.payments li:last-child{border-bottom:0}.pay-amount{font-weight:600;text-align:right}.pay-no{grid-column:1/3;color:#777;font-size:.8rem;word-break:break-all}\
select{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.5rem;border:1px solid #ccc;border-radius:.35rem;background:#fff}\
nav.tabs{flex-wrap:wrap}nav.tabs a{font-size:.95rem;white-space:nowrap}form.logout{margin-top:.5rem}\
.pay-link{grid-column:1/3;font-size:.9rem;color:#576b95}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}\
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.3rem .75rem;margin:0}\
dl.facts dt{color:#777}dl.facts dd{margin:0;word-break:break-all}\
li.notice .pay-amount{font-weight:400;font-size:.9rem}.staff-actions{grid-column:1/3;display:flex;gap:1rem}.staff-actions form{margin:0}\
textarea{width:100%;box-sizing:border-box;font-size:.85rem;padding:.5rem;border:1px solid #ccc;border-radius:.35rem;min-height:8rem}";

/// `Set-Cookie` for a console session (`max_age` seconds; 0 clears it).
fn session_cookie(app: &App, token: &str, max_age: i64) -> HeaderValue {
    let secure = if app.public_base_url().starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(super) fn token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE).filter(|t| !t.is_empty())
}

/// The staff member of the request's session and its stage, if any.
pub(super) fn who(app: &App, headers: &HeaderMap) -> Result<Option<(Staff, Stage)>, saoma_store::StoreError> {
    match token(headers) {
        Some(t) => super::session(app, t),
        None => Ok(None),
    }
}

/// A console page: the staff member and their shop, the console's tabs (a manager's), the body.
pub(crate) fn console_page(ctx: &Ctx, app: &App, staff: &Staff, current: &str, title: &str, body: Markup) -> String {
    let shop = crate::merchants::get(app, &staff.mchid).ok().flatten().map(|m| m.name.clone()).unwrap_or_default();
    let role = match staff.role {
        Role::Manager => ctx.t(Msg::ConsoleRoleManager),
        Role::Cashier => ctx.t(Msg::ConsoleRoleCashier),
    };
    let mut tabs = vec![("/console", Msg::ConsoleTabTakings)];
    if staff.role == Role::Manager {
        tabs.push(("/console/orders", Msg::ConsoleTabOrders));
        tabs.push(("/console/staff", Msg::ConsoleTabStaff));
        tabs.push(("/console/bills", Msg::ConsoleTabBills));
        tabs.push(("/console/settings", Msg::ConsoleTabSettings));
        // The shop's pages (`crate::shop`): its products and its paid orders.
        tabs.push(("/console/products", Msg::ShopTabProducts));
        tabs.push(("/console/inbox", Msg::ShopTabInbox));
    }
    // The printable collection code: any staff member may print it.
    tabs.push(("/console/stand", Msg::ConsoleTabStand));
    let page = markup! {
        style { (PreEscaped(CSS)) }
        p.muted.who #who { (ctx.fill(Msg::ConsoleWho, &[("name", &staff.name), ("role", role), ("shop", &shop)])) }
            @if tabs.len() > 1 {
            nav.tabs aria-label=(ctx.t(Msg::ConsoleTitle)) {
                @for (href, label) in &tabs {
                    @if *href == current { a.current href=(href) aria-current="page" { (ctx.t(*label)) } } @else { a href=(href) { (ctx.t(*label)) } }
                }
            }
        }
        (body)
        form.logout method="post" action="/console/logout" { button.link #logout type="submit" { (ctx.t(Msg::LogOut)) } }
    };
    layout(ctx, title, &page.into_string())
}

/// A login step's page (no session yet, or one waiting for the password).
fn login_layout(ctx: &Ctx, status: StatusCode, body: Markup) -> Response {
    let page = markup! { style { (PreEscaped(CSS)) } (body) };
    html(status, layout(ctx, ctx.t(Msg::ConsoleLoginTitle), &page.into_string()))
}

/// The first step: the phone.
fn phone_step(ctx: &Ctx, status: StatusCode, error: Option<&str>) -> Response {
    login_layout(
        ctx,
        status,
        markup! {
            div.card #console-login {
                h1 { (ctx.t(Msg::ConsoleLoginTitle)) }
                (PreEscaped(error_box(error)))
                p.muted { (ctx.t(Msg::ConsoleLoginHint)) }
                form method="post" action="/console/sms" {
                    label for="phone" { (ctx.t(Msg::PhoneLabel)) }
                    input #phone name="phone" type="tel" inputmode="numeric" autocomplete="tel" required autofocus;
                    button #send-code type="submit" { (ctx.t(Msg::SendCode)) }
                }
            }
        },
    )
}

/// The second step: the SMS code sent to `phone`.
fn code_step(ctx: &Ctx, status: StatusCode, phone: &str, error: Option<&str>) -> Response {
    login_layout(
        ctx,
        status,
        markup! {
            div.card #console-code {
                h1 { (ctx.t(Msg::CodeTitle)) }
                (PreEscaped(error_box(error)))
                p.muted { (ctx.fill(Msg::ConsoleCodeSent, &[("phone", &masked_phone(phone))])) }
                form method="post" action="/console/login" {
                    input type="hidden" name="phone" value=(phone);
                    label for="code" { (ctx.t(Msg::CodeLabel)) }
                    input #code name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus;
                    button #login type="submit" { (ctx.t(Msg::ConsoleNext)) }
                }
                p { a.plain href="/console" { (ctx.t(Msg::OtherPhone)) } }
            }
        },
    )
}

/// The third step: the staff member's password.
fn password_step(ctx: &Ctx, status: StatusCode, staff: &Staff, error: Option<&str>) -> Response {
    login_layout(
        ctx,
        status,
        markup! {
            div.card #console-password {
                h1 { (ctx.t(Msg::ConsolePasswordTitle)) }
                (PreEscaped(error_box(error)))
                p.muted { (ctx.fill(Msg::ConsolePasswordHint, &[("name", &staff.name), ("phone", &masked_phone(&staff.phone))])) }
                form method="post" action="/console/password" {
                    label for="password" { (ctx.t(Msg::ConsolePasswordLabel)) }
                    input #password name="password" type="password" autocomplete="current-password" required autofocus;
                    button #unlock type="submit" { (ctx.t(Msg::LoginButton)) }
                }
                form.logout method="post" action="/console/logout" { button.link #other-phone type="submit" { (ctx.t(Msg::OtherPhone)) } }
            }
        },
    )
}

/// Says a refused login step in words, on the step to take next.
pub(super) fn refused(ctx: &Ctx, e: LoginError, phone: &str, staff: Option<&Staff>) -> Response {
    let retry = |mut r: Response, secs: i64| {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        r
    };
    match e {
        LoginError::Code(UserError::BadPhone) => phone_step(ctx, StatusCode::BAD_REQUEST, Some(ctx.t(Msg::BadPhone))),
        LoginError::Code(UserError::FrequencyLimited { retry_after }) => {
            retry(code_step(ctx, StatusCode::TOO_MANY_REQUESTS, phone, Some(&ctx.fill(Msg::TooManyCodes, &[("secs", &retry_after.to_string())]))), retry_after)
        }
        LoginError::Code(UserError::LoginLocked { until, retry_after }) => {
            retry(phone_step(ctx, StatusCode::TOO_MANY_REQUESTS, Some(&ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(until))]))), retry_after)
        }
        LoginError::Code(UserError::BadCode { locked_until, .. }) if locked_until > 0 => {
            phone_step(ctx, StatusCode::UNAUTHORIZED, Some(&ctx.fill(Msg::LoginLocked, &[("until", &ctx.lang.time(locked_until))])))
        }
        LoginError::Code(UserError::BadCode { tries_left, .. }) => code_step(ctx, StatusCode::UNAUTHORIZED, phone, Some(&ctx.fill(Msg::BadCode, &[("n", &tries_left.to_string())]))),
        LoginError::NotStaff => phone_step(ctx, StatusCode::FORBIDDEN, Some(ctx.t(Msg::ConsoleNotStaff))),
        LoginError::WrongPassword { tries_left } => match staff {
            Some(s) => password_step(ctx, StatusCode::UNAUTHORIZED, s, Some(&ctx.fill(Msg::ConsoleWrongPassword, &[("n", &tries_left.to_string())]))),
            None => phone_step(ctx, StatusCode::UNAUTHORIZED, None),
        },
        LoginError::Locked { until } => phone_step(ctx, StatusCode::FORBIDDEN, Some(&ctx.fill(Msg::ConsolePasswordLocked, &[("until", &ctx.lang.time(until))]))),
        LoginError::Busy => match staff {
            Some(s) => password_step(ctx, StatusCode::TOO_MANY_REQUESTS, s, Some(ctx.t(Msg::ConsolePasswordBusy))),
            None => phone_step(ctx, StatusCode::TOO_MANY_REQUESTS, None),
        },
        LoginError::SessionGone => phone_step(ctx, StatusCode::UNAUTHORIZED, Some(ctx.t(Msg::ConsoleSessionGone))),
        e => system_error(ctx, format!("{e:?}")),
    }
}

/// `POST /console/sms {phone}`: texts the console code, then asks for it.
pub(super) async fn send_code(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let phone = param(&p, "phone").replace([' ', '-'], "");
    match super::send_code(&app, &phone, crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(()) => code_step(&ctx, StatusCode::OK, &phone, None),
        Err(e) => refused(&ctx, e, &phone, None),
    }
}

/// `POST /console/login {phone, code}`: the code proves the phone; a session waiting for the password.
pub(super) async fn login(State(app): State<Arc<App>>, ctx: Ctx, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let phone = param(&p, "phone");
    match super::code_step(&app, phone, param(&p, "code"), crate::http::proxy::client_addr(&app, peer, &headers)).await {
        Ok(token) => {
            let mut r = see_other("/console");
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &token, super::PASSWORD_STAGE_SECS));
            r
        }
        Err(e) => refused(&ctx, e, phone, None),
    }
}

/// `POST /console/password {password}`: the second factor; a live session in a new cookie.
pub(super) async fn password(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let (staff, token) = match (who(&app, &headers), token(&headers)) {
        (Ok(Some((s, Stage::Password))), Some(t)) => (s, t),
        // Already in: nothing to ask.
        (Ok(Some((_, Stage::Live))), _) => return see_other("/console"),
        (Ok(_), _) => return phone_step(&ctx, StatusCode::UNAUTHORIZED, Some(ctx.t(Msg::ConsoleSessionGone))),
        (Err(e), _) => return system_error(&ctx, e),
    };
    // Not trimmed: a password may hold spaces.
    let given = p.get("password").map(String::as_str).unwrap_or("");
    match super::password_step(&app, token, &staff, given).await {
        Ok(token) => {
            let mut r = see_other("/console");
            r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, &token, super::SESSION_SECS));
            r
        }
        Err(e) => refused(&ctx, e, &staff.phone, Some(&staff)),
    }
}

/// `POST /console/logout`: ends the console session (the wallet's, if any, stays).
pub(super) async fn logout(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    if let Some(t) = token(&headers) {
        if let Err(e) = super::logout(&app, t).await {
            return system_error(&ctx, e);
        }
    }
    let mut r = see_other("/console");
    r.headers_mut().insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    r
}

/// The live staff member, or the page to show instead (the login step the session is at).
pub(super) fn live(app: &App, ctx: &Ctx, headers: &HeaderMap) -> Result<Staff, Response> {
    match who(app, headers) {
        Ok(Some((s, Stage::Live))) => Ok(s),
        Ok(Some((s, Stage::Password))) => Err(password_step(ctx, StatusCode::OK, &s, None)),
        Ok(None) => Err(phone_step(ctx, StatusCode::OK, None)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// The managers' pages: the staff member, or the page that says why not.
pub(crate) fn manager(app: &App, ctx: &Ctx, headers: &HeaderMap) -> Result<Staff, Response> {
    let staff = live(app, ctx, headers)?;
    if staff.role != Role::Manager {
        let body = markup! { div.card #managers-only { h1 { (ctx.t(Msg::ConsoleManagersOnlyTitle)) } p { (ctx.t(Msg::ConsoleManagersOnly)) } a.button href="/console" { (ctx.t(Msg::ConsoleBackToTakings)) } } };
        return Err(html(StatusCode::FORBIDDEN, console_page(ctx, app, &staff, "", ctx.t(Msg::ConsoleManagersOnlyTitle), body)));
    }
    Ok(staff)
}

/// The states a search can keep to, with their names.
const STATES: [(TradeState, Msg); 7] = [
    (TradeState::Success, Msg::ConsoleStateSuccess),
    (TradeState::Refund, Msg::ConsoleStateRefund),
    (TradeState::NotPay, Msg::ConsoleStateNotPay),
    (TradeState::Closed, Msg::ConsoleStateClosed),
    (TradeState::UserPaying, Msg::ConsoleStateUserPaying),
    (TradeState::Revoked, Msg::ConsoleStateRevoked),
    (TradeState::PayError, Msg::ConsoleStatePayError),
];

pub(super) fn state_name(ctx: &Ctx, s: TradeState) -> &'static str {
    STATES.iter().find(|(t, _)| *t == s).map(|(_, m)| ctx.t(*m)).unwrap_or("")
}

/// `GET /console/orders?no=&state=&day=YYYY-MM-DD` (managers): the shop's orders by number, or by the
/// day they were made (today unless asked), kept to a state.
pub(super) async fn orders(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let staff = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let now = app.business_now_secs();
    let (no, day, state) = (param(&q, "no"), param(&q, "day"), param(&q, "state"));
    let mut error = None;
    let day_start = if day.is_empty() {
        cst_day_start(now)
    } else {
        parse_cst_date(day).unwrap_or_else(|| {
            error = Some(ctx.t(Msg::ConsoleBadDay));
            cst_day_start(now)
        })
    };
    let shown_day = format_rfc3339_cst(day_start).get(..10).unwrap_or("").to_string();
    let wanted = TradeState::parse(state);
    if !state.is_empty() && wanted.is_none() {
        error = Some(ctx.t(Msg::ConsoleBadState));
    }
    let search = orders::Search { mchid: &staff.mchid, number: (!no.is_empty()).then_some(no), day: (day_start, day_start + 86_400), state: wanted, now, limit: SEARCH_LIMIT };
    let found = match orders::search(&app, &search) {
        Ok(f) => f,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #order-search {
            h1 { (ctx.t(Msg::ConsoleOrdersTitle)) }
            (PreEscaped(error_box(error)))
            form method="get" action="/console/orders" {
                label for="no" { (ctx.t(Msg::ConsoleOrderNoLabel)) }
                input #no name="no" value=(no) autocomplete="off";
                label for="state" { (ctx.t(Msg::ConsoleStateLabel)) }
                select #state name="state" {
                    option value="" selected[wanted.is_none()] { (ctx.t(Msg::ConsoleStateAny)) }
                    @for (s, m) in STATES {
                        option value=(s.as_str()) selected[wanted == Some(s)] { (ctx.t(m)) }
                    }
                }
                label for="day" { (ctx.t(Msg::ConsoleDayLabel)) }
                input #day name="day" type="date" value=(shown_day);
                button #search type="submit" { (ctx.t(Msg::ConsoleSearch)) }
            }
        }
        div.card {
            h1 #found-title { (ctx.fill(Msg::ConsoleFound, &[("n", &found.len().to_string())])) }
            @if found.is_empty() { p.muted #no-orders { (ctx.t(Msg::ConsoleNoOrders)) } }
            ul.payments #orders aria-labelledby="found-title" {
                @for o in &found {
                    li data-id=(o.transaction_id) {
                        span.pay-state { (state_name(&ctx, o.state_at(now))) }
                        span.pay-amount { (yuan(o.total)) }
                        span.pay-no { (o.out_trade_no) " · " (o.transaction_id) }
                        a.pay-link href=(format!("/console/orders/{}", url_encode(&o.out_trade_no))) {
                            (ctx.t(Msg::ConsoleOrderDetails)) span.sr { " " (o.out_trade_no) }
                        }
                    }
                }
            }
        }
    };
    html(StatusCode::OK, console_page(&ctx, &app, &staff, "/console/orders", ctx.t(Msg::ConsoleOrdersTitle), body))
}

/// The staff page: who works here, and the form that adds someone.
fn staff_page(ctx: &Ctx, app: &App, me: &Staff, status: StatusCode, error: Option<&str>, done: Option<&str>) -> Response {
    let all = match super::of_merchant(app, &me.mchid) {
        Ok(a) => a,
        Err(e) => return system_error(ctx, e),
    };
    let role_name = |r: Role| match r {
        Role::Manager => ctx.t(Msg::ConsoleRoleManager),
        Role::Cashier => ctx.t(Msg::ConsoleRoleCashier),
    };
    let body = markup! {
        div.card #staff-list {
            h1 #staff-title { (ctx.t(Msg::ConsoleStaffTitle)) }
            @if let Some(done) = done { p.ok #added role="status" { (done) } }
            ul.payments #staff aria-labelledby="staff-title" {
                @for s in &all {
                    li data-phone=(masked_phone(&s.phone)) {
                        span { (s.name) } span.pay-amount { (role_name(s.role)) } span.pay-no { (masked_phone(&s.phone)) }
                        // A manager manages the shop's cashiers (managers are the platform's to change).
                        @if s.role == Role::Cashier && s.id != me.id {
                            div.staff-actions {
                                form method="post" action="/console/staff/logout" {
                                    input type="hidden" name="staff" value=(format!("{:032x}", s.id));
                                    button.link.end-sessions type="submit" { (ctx.fill(Msg::ConsoleEndSessions, &[("name", &s.name)])) }
                                }
                                form method="post" action="/console/staff/remove" {
                                    input type="hidden" name="staff" value=(format!("{:032x}", s.id));
                                    button.link.remove-staff type="submit" { (ctx.fill(Msg::ConsoleRemoveStaff, &[("name", &s.name)])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card #staff-add {
            h1 { (ctx.t(Msg::ConsoleAddStaffTitle)) }
            (PreEscaped(error_box(error)))
            form method="post" action="/console/staff" {
                label for="phone" { (ctx.t(Msg::PhoneLabel)) }
                input #phone name="phone" type="tel" inputmode="numeric" autocomplete="off" required;
                label for="name" { (ctx.t(Msg::ConsoleNameLabel)) }
                input #name name="name" autocomplete="off" maxlength=(super::MAX_NAME_CHARS) required;
                input type="hidden" name="role" value="cashier";
                p.muted #cashiers-only { (ctx.t(Msg::ConsoleCashiersOnlyHint)) }
                label for="new-password" { (ctx.t(Msg::ConsoleNewPasswordLabel)) }
                input #new-password name="password" type="password" autocomplete="new-password" minlength=(super::MIN_PASSWORD_CHARS) maxlength=(super::MAX_PASSWORD_CHARS) required;
                p.muted { (ctx.fill(Msg::ConsolePasswordRule, &[("min", &super::MIN_PASSWORD_CHARS.to_string())])) }
                button #add-staff type="submit" { (ctx.t(Msg::ConsoleAddStaff)) }
            }
        }
    };
    html(status, console_page(ctx, app, me, "/console/staff", ctx.t(Msg::ConsoleStaffTitle), body))
}

/// `GET /console/staff` (managers).
pub(super) async fn staff(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match manager(&app, &ctx, &headers) {
        Ok(me) => staff_page(&ctx, &app, &me, StatusCode::OK, None, None),
        Err(page) => page,
    }
}

/// `POST /console/staff {phone, name, role, password}` (managers): adds a staff member to their shop.
pub(super) async fn add_staff(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let me = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    // Managers add cashiers; a manager is added by the platform (`admin.rs`).
    if param(&p, "role") != Role::Cashier.as_str() {
        return staff_page(&ctx, &app, &me, StatusCode::FORBIDDEN, Some(ctx.t(Msg::ConsoleCashiersOnlyHint)), None);
    }
    let password = p.get("password").map(String::as_str).unwrap_or("");
    let refusal = match super::create(&app, &me.mchid, &param(&p, "phone").replace([' ', '-'], ""), param(&p, "name"), param(&p, "role"), password).await {
        Ok(s) => return staff_page(&ctx, &app, &me, StatusCode::OK, None, Some(&ctx.fill(Msg::ConsoleStaffAdded, &[("name", &s.name)]))),
        Err(StaffError::BadPhone) => ctx.t(Msg::BadPhone).to_string(),
        Err(StaffError::BadName) => ctx.fill(Msg::ConsoleBadName, &[("max", &super::MAX_NAME_CHARS.to_string())]),
        Err(StaffError::BadRole) => ctx.t(Msg::ConsoleBadRole).to_string(),
        Err(StaffError::BadPassword) => ctx.fill(Msg::ConsolePasswordRule, &[("min", &super::MIN_PASSWORD_CHARS.to_string())]),
        Err(StaffError::PhoneTaken) => ctx.t(Msg::ConsolePhoneTaken).to_string(),
        Err(e) => return system_error(&ctx, format!("{e:?}")),
    };
    staff_page(&ctx, &app, &me, StatusCode::BAD_REQUEST, Some(&refusal), None)
}

/// `POST /console/staff/{logout|remove} {staff}` (managers): ends a cashier's sessions, or removes the
/// cashier (their sessions ending in the same job).
pub(super) async fn manage_staff(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(action): Path<String>,
    form: Option<Form<Params>>,
) -> Response {
    let me = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let remove = match action.as_str() {
        "remove" => true,
        "logout" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let Ok(id) = u128::from_str_radix(param(&p, "staff"), 16) else {
        return staff_page(&ctx, &app, &me, StatusCode::BAD_REQUEST, Some(ctx.t(Msg::ConsoleStaffNotYours)), None);
    };
    match super::manage_cashier(&app, &me, id, remove).await {
        Ok(name) => {
            let done = ctx.fill(if remove { Msg::ConsoleStaffRemoved } else { Msg::ConsoleSessionsEnded }, &[("name", &name)]);
            staff_page(&ctx, &app, &me, StatusCode::OK, None, Some(&done))
        }
        Err(ManageError::NotYours) => staff_page(&ctx, &app, &me, StatusCode::FORBIDDEN, Some(ctx.t(Msg::ConsoleStaffNotYours)), None),
        Err(ManageError::Store(e)) => system_error(&ctx, e),
    }
}
