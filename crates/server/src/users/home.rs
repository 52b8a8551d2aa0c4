//! The wallet app's home (`/`) and the shell every wallet page shares: who is logged in, the page, and
//! the tabs at the bottom. A visitor without a session gets the login (phone, then the SMS code, and a
//! wallet opened on the spot for a new phone: `users/pages.rs`), which comes back here.

use crate::http::web::i18n::Msg;
use crate::http::web::{html, layout, masked_phone, session, system_error, yuan, Ctx};
use crate::users::{login_card, User};
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{html as markup, Markup, PreEscaped};
use std::sync::Arc;

/// The wallet's tabs; the page shows which one it is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Home,
    PayCode,
    History,
    Me,
}

/// A wallet page for `user`: the title, the body, the tabs.
pub fn wallet_page(ctx: &Ctx, user: &User, tab: Tab, title: &str, body: Markup) -> String {
    let tabs = [(Tab::Home, "/", Msg::TabHome), (Tab::PayCode, "/code", Msg::TabPayCode), (Tab::History, "/history", Msg::TabHistory), (Tab::Me, "/me", Msg::TabMe)];
    let page = markup! {
        p.muted.who { (ctx.fill(Msg::WalletOf, &[("phone", &masked_phone(&user.phone))])) }
        (body)
        nav.tabs aria-label=(ctx.t(Msg::WalletTitle)) {
            @for (t, href, label) in tabs {
                @if t == tab { a.current href=(href) aria-current="page" { (ctx.t(label)) } } @else { a href=(href) { (ctx.t(label)) } }
            }
        }
        form.logout method="post" action="/cashier/logout" {
            input type="hidden" name="next" value="/";
            button.link #logout type="submit" { (ctx.t(Msg::LogOut)) }
        }
    };
    layout(ctx, title, &page.into_string())
}

/// The login card for a wallet page that needs a session, sending the browser back to `next`.
pub fn login_page(ctx: &Ctx, next: &str) -> Response {
    let body = PreEscaped(login_card(ctx, next, None));
    html(StatusCode::OK, layout(ctx, ctx.t(Msg::WalletLoginTitle), &markup! { (body) }.into_string()))
}

/// `/`: the balance and what the wallet can do (pay a shop; ride, where an operator takes the ride code).
pub async fn home(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(&ctx, "/"),
        Err(e) => return system_error(&ctx, e),
    };
    let balance = match app.store.account(user.wallet) {
        Ok(a) => a.map(|a| a.available()).unwrap_or(0),
        Err(e) => return system_error(&ctx, e),
    };
    // The ride code, where a transit operator takes it.
    let transit = match crate::transit::device::operators(&app) {
        Ok(ops) => !ops.is_empty(),
        Err(e) => return system_error(&ctx, e),
    };
    // Messages from the shops the user bought from (`crate::shop`), the unread ones counted.
    let unread = match crate::shop::unread_count(&app, user.id) {
        Ok(n) => n,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #balance-card {
            h1 { (ctx.t(Msg::AvailableBalance)) }
            p.amount #balance { (yuan(balance)) }
            a.button #show-code href="/code" { (ctx.t(Msg::PayCodeTitle)) }
            a.button.secondary #scan href="/scan" { (ctx.t(Msg::ScanTitle)) }
            @if transit { a.button.secondary #transit-link href="/transit" { (ctx.t(Msg::TransitHomeLink)) } }
            a.button.secondary #messages-link href="/messages" {
                (ctx.t(Msg::ShopMessagesTitle))
                @if unread > 0 { " · " span #unread { (ctx.fill(Msg::ShopUnread, &[("n", &unread.to_string())])) } }
            }
        }
    };
    html(StatusCode::OK, wallet_page(&ctx, &user, Tab::Home, ctx.t(Msg::WalletTitle), body))
}

