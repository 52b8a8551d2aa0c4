//! API settings in the console (`/console/settings`, managers): the merchant's number, API key serial
//! and platform key mode; its notify_url, H5 domains and key mode to set (`merchants::settings::set`:
//! the notify_url goes through the same checks as the APIs', where notifications may be sent); and a new
//! API public key to upload (`merchants::settings::set_public_key`), confirmed by the manager's own
//! password (the login's tries), since whoever holds the API key can refund through the API.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::pages::{console_page, manager, refused};
use super::{LoginError, Staff};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, param, system_error, Ctx, Params};
use crate::merchants::settings::{self, Settings, SettingsError, MAX_H5_DOMAINS};
use crate::platform::KeyMode;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, PreEscaped};
use std::sync::Arc;

/// The longest PEM read (a 4096-bit key's is under 800 bytes).
const MAX_PEM_BYTES: usize = 4096;

/// What the page says: which form's error, and what was done.
#[derive(Default)]
struct Said {
    settings_error: Option<String>,
    key_error: Option<String>,
    done: Option<String>,
}

fn settings_page(app: &App, ctx: &Ctx, staff: &Staff, status: StatusCode, said: Said) -> Response {
    let m = match crate::merchants::get(app, &staff.mchid) {
        Ok(Some(m)) => m,
        Ok(None) => return system_error(ctx, "the staff member's merchant is gone"),
        Err(e) => return system_error(ctx, e),
    };
    let mode_name = |k: KeyMode| match k {
        KeyMode::PublicKey => ctx.t(Msg::ConsoleKeyModePublicKey),
        KeyMode::Certificate => ctx.t(Msg::ConsoleKeyModeCertificate),
    };
    let body = markup! {
        div.card #api {
            h1 { (ctx.t(Msg::ConsoleSettingsTitle)) }
            @if let Some(done) = &said.done { p.ok #saved role="status" { (done) } }
            dl.facts {
                dt { (ctx.t(Msg::ConsoleMchid)) } dd #mchid { (m.mchid) }
                dt { (ctx.t(Msg::ConsoleKeySerial)) } dd #serial { (m.serial_no) }
                dt { (ctx.t(Msg::ConsoleKeyModeLabel)) } dd #key-mode { (mode_name(m.key_mode)) }
            }
        }
        div.card #settings {
            (PreEscaped(error_box(said.settings_error.as_deref())))
            form method="post" action="/console/settings" {
                label for="notify-url" { (ctx.t(Msg::ConsoleNotifyUrlLabel)) }
                input #notify-url name="notify_url" type="url" autocomplete="off" value=(m.notify_url.as_deref().unwrap_or(""));
                label for="h5-domains" { (ctx.fill(Msg::ConsoleH5DomainsLabel, &[("max", &MAX_H5_DOMAINS.to_string())])) }
                textarea #h5-domains name="h5_domains" rows="3" { (m.h5_domains.join("\n")) }
                label for="mode" { (ctx.t(Msg::ConsoleKeyModeLabel)) }
                select #mode name="key_mode" {
                    @for k in [KeyMode::PublicKey, KeyMode::Certificate] {
                        option value=(k.as_str()) selected[m.key_mode == k] { (mode_name(k)) }
                    }
                }
                button #save-settings type="submit" { (ctx.t(Msg::ConsoleSaveSettings)) }
            }
        }
        div.card #rotate {
            h1 { (ctx.t(Msg::ConsoleRotateKeyTitle)) }
            (PreEscaped(error_box(said.key_error.as_deref())))
            p.muted { (ctx.t(Msg::ConsoleRotateKeyHint)) }
            form method="post" action="/console/settings/key" {
                label for="public-key" { (ctx.t(Msg::ConsolePublicKeyLabel)) }
                textarea #public-key name="public_key" required spellcheck="false" {}
                label for="key-password" { (ctx.t(Msg::ConsoleRefundPasswordLabel)) }
                input #key-password name="password" type="password" autocomplete="current-password" required;
                button #rotate-key type="submit" { (ctx.t(Msg::ConsoleRotateKey)) }
            }
        }
    };
    html(status, console_page(ctx, app, staff, "/console/settings", ctx.t(Msg::ConsoleSettingsTitle), body))
}

/// `GET /console/settings` (managers).
pub(super) async fn page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match manager(&app, &ctx, &headers) {
        Ok(staff) => settings_page(&app, &ctx, &staff, StatusCode::OK, Said::default()),
        Err(page) => page,
    }
}

/// `POST /console/settings {notify_url, h5_domains, key_mode}` (managers).
pub(super) async fn save(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let staff = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let refuse = |e: String| {
        settings_page(&app, &ctx, &staff, StatusCode::BAD_REQUEST, Said { settings_error: Some(e), ..Default::default() })
    };
    let Some(key_mode) = KeyMode::parse(param(&p, "key_mode")) else {
        return refuse(ctx.t(Msg::ConsoleBadKeyMode).to_string());
    };
    let s = Settings {
        notify_url: Some(param(&p, "notify_url").to_string()),
        h5_domains: param(&p, "h5_domains").lines().map(str::to_string).collect(),
        key_mode,
    };
    match settings::set(&app, &staff.mchid, s).await {
        Ok(()) => {
            let said = Said { done: Some(ctx.t(Msg::ConsoleSettingsSaved).into()), ..Default::default() };
            settings_page(&app, &ctx, &staff, StatusCode::OK, said)
        }
        Err(SettingsError::BadNotifyUrl(reason)) => refuse(ctx.fill(Msg::ConsoleBadNotifyUrl, &[("reason", &reason)])),
        Err(SettingsError::BadDomain(reason)) => refuse(ctx.fill(Msg::ConsoleBadH5Domain, &[("reason", &reason)])),
        Err(SettingsError::TooManyDomains) => refuse(ctx.fill(Msg::ConsoleTooManyDomains, &[("max", &MAX_H5_DOMAINS.to_string())])),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}

/// `POST /console/settings/key {public_key, password}` (managers): a new API public key, confirmed by
/// the manager's password.
pub(super) async fn rotate_key(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, form: Option<Form<Params>>) -> Response {
    let staff = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let p = form.map(|f| f.0).unwrap_or_default();
    let refuse = |status: StatusCode, e: String| {
        settings_page(&app, &ctx, &staff, status, Said { key_error: Some(e), ..Default::default() })
    };
    let pem = param(&p, "public_key");
    // Checked before the password, so that a garbage key costs no try.
    if pem.len() > MAX_PEM_BYTES || saoma_wechatpay::keys::PublicKey::from_pem(pem).is_err() {
        return refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleBadPem).to_string());
    }
    match super::confirm_password(&app, &staff, p.get("password").map(String::as_str).unwrap_or("")).await {
        Ok(()) => {}
        Err(LoginError::WrongPassword { tries_left }) => {
            return refuse(StatusCode::UNAUTHORIZED, ctx.fill(Msg::ConsoleWrongPassword, &[("n", &tries_left.to_string())]))
        }
        Err(LoginError::Busy) => return refuse(StatusCode::TOO_MANY_REQUESTS, ctx.t(Msg::ConsolePasswordBusy).to_string()),
        Err(e) => return refused(&ctx, e, &staff.phone, None),
    }
    match settings::set_public_key(&app, &staff.mchid, pem).await {
        Ok(serial) => {
            tracing::info!(mchid = %staff.mchid, staff = %staff.phone, serial = %serial, "merchant API key replaced in the console");
            let said = Said { done: Some(ctx.fill(Msg::ConsoleKeyRotated, &[("serial", &serial)])), ..Default::default() };
            settings_page(&app, &ctx, &staff, StatusCode::OK, said)
        }
        Err(SettingsError::BadKey) => refuse(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleBadPem).to_string()),
        Err(e) => system_error(&ctx, format!("{e:?}")),
    }
}
