//! The wallet's withholding agreements (`/agreements`): each with its merchant, what it is for, its
//! limits and where it stands; a proposal signed with the PIN (`agreements::sign`), an agreement ended
//! after a confirming step (`agreements::terminate`), as the wallet API does.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as in `http::web`).
#![allow(clippy::result_large_err)]

use super::{AgreementFail, Party};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, param, session, system_error, yuan, Ctx, Params};
use crate::payments::PayError;
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::User;
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, Markup, PreEscaped};
use saoma_core::agreement::{AgreementError, AgreementState};
use std::sync::Arc;

const CSS: &str = ".agreement .state{float:right;font-size:.85rem;padding:.1rem .5rem;border-radius:1rem;background:#eee;color:#555}\
.agreement .state.PROPOSED{background:#fff3e0;color:#ad5b00}.agreement .state.SIGNED{background:#e8f8ef;color:#067a3f}#terminate-yes{background:#fa5151}";

fn user_or_login(ctx: &Ctx, app: &App, headers: &HeaderMap) -> Result<User, Response> {
    match session(app, headers) {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(login_page(ctx, "/agreements")),
        Err(e) => Err(system_error(ctx, e)),
    }
}

fn page(ctx: &Ctx, user: &User, status: StatusCode, title: &str, body: Markup) -> Response {
    let body = markup! { style { (PreEscaped(CSS)) } (body) };
    html(status, wallet_page(ctx, user, Tab::Me, title, body))
}

fn state_text(state: AgreementState) -> Msg {
    match state {
        AgreementState::Proposed => Msg::AgreementProposed,
        AgreementState::Signed => Msg::AgreementSigned,
        AgreementState::Terminated => Msg::AgreementTerminated,
    }
}

/// The list; `error` is said on the agreement it is about (`contract_id`).
fn list_page(ctx: &Ctx, app: &App, user: &User, error: Option<(&str, &str)>, status: StatusCode) -> Response {
    let list = match super::of_user(app, user.id) {
        Ok(l) => l,
        Err(e) => return system_error(ctx, e),
    };
    // An error about an agreement not in the list (not the user's) is said at the top.
    let unlisted = error.filter(|(c, _)| !list.iter().any(|(a, _)| a.contract_id == *c)).map(|(_, m)| m);
    let body = markup! {
        div.card {
            h1 { (ctx.t(Msg::AgreementsTitle)) }
            (PreEscaped(error_box(unlisted)))
            @if list.is_empty() { p #no-agreements { (ctx.t(Msg::AgreementsNone)) } }
        }
        @for (a, merchant) in &list {
            div.card.agreement id=(format!("agreement-{}", a.contract_id)) data-state=(a.state.as_str()) {
                span class=(format!("state {}", a.state.as_str())) { (ctx.t(state_text(a.state))) }
                h1.merchant { (merchant) }
                p.description { (a.description) }
                dl {
                    dt { (ctx.t(Msg::LimitPerCharge)) } dd { (yuan(a.limits.per_charge)) }
                    dt { (ctx.t(Msg::LimitPerDay)) } dd { (yuan(a.limits.per_day)) }
                }
                @if let Some((_, message)) = error.filter(|(c, _)| *c == a.contract_id) { (PreEscaped(error_box(Some(message)))) }
                @match a.state {
                    AgreementState::Proposed => {
                        p.muted { (ctx.fill(Msg::SignHint, &[("merchant", merchant)])) }
                        form method="post" action="/agreements/sign" {
                            input type="hidden" name="contract_id" value=(a.contract_id);
                            label for=(format!("pin-{}", a.contract_id)) { (ctx.t(Msg::PinLabel)) }
                            input.pin id=(format!("pin-{}", a.contract_id)) name="pin" type="password" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required;
                            button.sign type="submit" { (ctx.t(Msg::SignButton)) }
                        }
                    }
                    AgreementState::Signed => {
                        a.button.secondary.terminate href=(format!("/agreements/terminate?contract_id={}", a.contract_id)) { (ctx.t(Msg::TerminateButton)) }
                    }
                    AgreementState::Terminated => {}
                }
            }
        }
    };
    page(ctx, user, status, ctx.t(Msg::AgreementsTitle), body)
}

/// `GET /agreements`.
pub async fn show(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let user = match user_or_login(&ctx, &app, &headers) {
        Ok(u) => u,
        Err(page) => return page,
    };
    list_page(&ctx, &app, &user, None, StatusCode::OK)
}

/// A refusal, in words that say what to do.
fn message(ctx: &Ctx, e: AgreementFail) -> (StatusCode, String) {
    match e {
        AgreementFail::NotFound => (StatusCode::NOT_FOUND, ctx.t(Msg::AgreementNotFound).into()),
        AgreementFail::Rule(AgreementError::ProposalExpired) => (StatusCode::GONE, ctx.t(Msg::AgreementExpired).into()),
        AgreementFail::Rule(AgreementError::Terminated) => (StatusCode::GONE, ctx.t(Msg::AgreementEnded).into()),
        AgreementFail::Rule(_) => (StatusCode::CONFLICT, ctx.t(Msg::AgreementAlreadySigned).into()),
        AgreementFail::Pin(PayError::WrongPin { tries_left: 1 }) => (StatusCode::FORBIDDEN, ctx.t(Msg::PinWrongOne).into()),
        AgreementFail::Pin(PayError::WrongPin { tries_left }) => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinWrong, &[("n", &tries_left.to_string())])),
        AgreementFail::Pin(PayError::PinLocked { until }) => (StatusCode::FORBIDDEN, ctx.fill(Msg::PinLocked, &[("until", &ctx.lang.time(until))])),
        AgreementFail::Pin(PayError::PinBusy) => (StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::PinBusy).into()),
        other => {
            tracing::error!(error = ?other, "agreement page");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.t(Msg::SystemError).into())
        }
    }
}

/// The page after a change: what happened, and the way back.
fn done_page(ctx: &Ctx, app: &App, user: &User, contract_id: &str, title: Msg, text: Msg) -> Response {
    let merchant = match super::of_user(app, user.id) {
        Ok(l) => l.into_iter().find(|(a, _)| a.contract_id == contract_id).map(|(_, m)| m).unwrap_or_default(),
        Err(e) => return system_error(ctx, e),
    };
    let body = markup! {
        div.card.success #done {
            div.mark aria-hidden="true" { "✓" }
            h1 { (ctx.t(title)) }
            p #result-text role="status" { (ctx.fill(text, &[("merchant", &merchant)])) }
            a.button href="/agreements" { (ctx.t(Msg::AgreementsTitle)) }
            a.button.secondary href="/" { (ctx.t(Msg::BackToWallet)) }
        }
    };
    page(ctx, user, StatusCode::OK, ctx.t(title), body)
}

/// `POST /agreements/sign {contract_id, pin}`.
pub async fn sign(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match user_or_login(&ctx, &app, &headers) {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let contract_id = param(&p, "contract_id");
    match super::sign(&app, &user, contract_id, param(&p, "pin")).await {
        Ok(_) => done_page(&ctx, &app, &user, contract_id, Msg::SignedTitle, Msg::Signed),
        Err(e) => {
            let (status, text) = message(&ctx, e);
            list_page(&ctx, &app, &user, Some((contract_id, &text)), status)
        }
    }
}

/// `GET /agreements/terminate?contract_id=…`: are you sure?
pub async fn confirm_terminate(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let user = match user_or_login(&ctx, &app, &headers) {
        Ok(u) => u,
        Err(page) => return page,
    };
    let contract_id = param(&q, "contract_id");
    let found = match super::of_user(&app, user.id) {
        Ok(l) => l.into_iter().find(|(a, _)| a.contract_id == contract_id && a.state == AgreementState::Signed),
        Err(e) => return system_error(&ctx, e),
    };
    let Some((a, merchant)) = found else {
        return list_page(&ctx, &app, &user, None, StatusCode::NOT_FOUND);
    };
    let body = markup! {
        div.card #confirm-terminate {
            h1 { (ctx.t(Msg::TerminateTitle)) }
            p { (ctx.fill(Msg::TerminateText, &[("merchant", &merchant), ("description", &a.description)])) }
            form method="post" action="/agreements/terminate" {
                input type="hidden" name="contract_id" value=(a.contract_id);
                button #terminate-yes type="submit" { (ctx.t(Msg::TerminateYes)) }
            }
            a.button.secondary #terminate-no href="/agreements" { (ctx.t(Msg::TerminateNo)) }
        }
    };
    page(&ctx, &user, StatusCode::OK, ctx.t(Msg::TerminateTitle), body)
}

/// `POST /agreements/terminate {contract_id}`.
pub async fn terminate(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let user = match user_or_login(&ctx, &app, &headers) {
        Ok(u) => u,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let contract_id = param(&p, "contract_id");
    match super::terminate(&app, contract_id, Party::User(user.id)).await {
        // Sent twice: the second finds it ended, which is what was asked.
        Ok(_) | Err(AgreementFail::Rule(AgreementError::Terminated)) => done_page(&ctx, &app, &user, contract_id, Msg::TerminatedTitle, Msg::Terminated),
        Err(e) => {
            let (status, text) = message(&ctx, e);
            list_page(&ctx, &app, &user, Some((contract_id, &text)), status)
        }
    }
}
