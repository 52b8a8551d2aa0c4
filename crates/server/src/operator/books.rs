//! The ledger check's last result (and running it again), and the business clock (moved forward from
//! here in sandbox mode).

use super::pages::{operator_page, require};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, param, see_other, system_error, Ctx, Params};
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Form;
use maud::{html as markup, PreEscaped};
use std::sync::Arc;

/// Minor units (a decimal string, 128-bit) in major units, exactly: `12345`, 2 → `123.45`.
fn major(minor: &str, exponent: u32) -> String {
    let Ok(minor) = minor.parse::<i128>() else { return minor.to_string() };
    if exponent == 0 {
        return minor.to_string();
    }
    let p = 10i128.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.abs();
    format!("{sign}{}.{:0width$}", m / p, m % p, width = exponent as usize)
}

/// `GET /operator/ledger`: the newest run of the ledger check, and the button that runs it.
pub(super) async fn ledger(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let last = match super::last_ledger_check(&app) {
        Ok(l) => l,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #ledger {
            h1 { (ctx.t(Msg::OpsLedgerTitle)) }
            p.muted { (ctx.t(Msg::OpsLedgerHint)) }
            @match &last {
                None => p #never { (ctx.t(Msg::OpsLedgerNever)) },
                Some(c) => {
                    p #verdict role="status" {
                        @if c.clean { span.good { "✓ " (ctx.t(Msg::OpsLedgerClean)) } }
                        @else { span.bad { "✗ " (ctx.fill(Msg::OpsLedgerUnclean, &[("n", &c.violations.to_string())])) } }
                    }
                    dl {
                        dt { (ctx.t(Msg::OpsLedgerCheckedAt)) } dd #checked-at { (ctx.lang.time(c.checked_at)) }
                        dt { (ctx.t(Msg::OpsLedgerCounts)) }
                        dd #counts {
                            (ctx.fill(Msg::OpsLedgerCountsValue, &[("accounts", &c.accounts.to_string()), ("transfers", &c.transfers.to_string()), ("pending", &c.pending_open.to_string())]))
                        }
                        @for t in &c.totals {
                            dt { (t.currency) }
                            dd.totals data-currency=(t.currency) {
                                (ctx.fill(Msg::OpsLedgerTotals, &[
                                    ("debits", &major(&t.debits_posted, t.exponent)), ("credits", &major(&t.credits_posted, t.exponent)),
                                    ("dp", &major(&t.debits_pending, t.exponent)), ("cp", &major(&t.credits_pending, t.exponent)),
                                ]))
                            }
                        }
                    }
                    @if !c.sample.is_empty() {
                        h1 { (ctx.t(Msg::OpsLedgerViolations)) }
                        pre #violations { (c.sample) }
                    }
                }
            }
            form method="post" action="/operator/ledger" {
                button #run-check type="submit" { (ctx.t(Msg::OpsLedgerRun)) }
            }
        }
    };
    operator_page(&ctx, &app, StatusCode::OK, "/operator/ledger", ctx.t(Msg::OpsLedgerTitle), body)
}

/// `POST /operator/ledger`: runs the check now and shows it (kept for the next visit).
pub(super) async fn run_check(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    match super::check_ledger(&app).await {
        Ok(c) => {
            tracing::info!(clean = c.clean, violations = c.violations, "ledger check from the operator console");
            see_other("/operator/ledger")
        }
        Err(e) => system_error(&ctx, e),
    }
}

/// The units the clock's form offers, in seconds.
const UNITS: [(&str, i64, Msg); 4] = [("s", 1, Msg::OpsUnitSeconds), ("m", 60, Msg::OpsUnitMinutes), ("h", 3600, Msg::OpsUnitHours), ("d", 86_400, Msg::OpsUnitDays)];

fn clock_page(ctx: &Ctx, app: &App, status: StatusCode, moved: Option<i64>, error: Option<&str>) -> Response {
    let now = app.business_now_secs();
    let shown = saoma_core::time::format_rfc3339_cst(now);
    let shown = shown.get(..19).unwrap_or(&shown).replace('T', " ");
    let offset = app.virtual_clock.as_ref().map(|c| c.offset() / saoma_store::NANOS_PER_SEC);
    let body = markup! {
        div.card #clock {
            h1 { (ctx.t(Msg::OpsClockTitle)) }
            (PreEscaped(error_box(error)))
            @if let Some(secs) = moved { p.ok #moved role="status" { (ctx.fill(Msg::OpsClockMoved, &[("secs", &secs.to_string())])) } }
            dl { dt { (ctx.t(Msg::OpsClockNow)) } dd #business-now { time datetime=(saoma_core::time::format_rfc3339_cst(now)) { (shown) } } }
            @match offset {
                None => p.muted #real-time { (ctx.t(Msg::OpsClockReal)) },
                Some(secs) => {
                    p.muted #offset { (ctx.fill(Msg::OpsClockSandbox, &[("secs", &secs.to_string())])) }
                    form method="post" action="/operator/clock" {
                        label for="amount" { (ctx.t(Msg::OpsClockAmount)) }
                        input #amount name="amount" type="number" min="1" step="1" inputmode="numeric" required;
                        label for="unit" { (ctx.t(Msg::OpsClockUnit)) }
                        select #unit name="unit" {
                            @for (code, _, m) in UNITS { option value=(code) selected[code == "m"] { (ctx.t(m)) } }
                        }
                        button #advance type="submit" { (ctx.t(Msg::OpsClockAdvance)) }
                    }
                }
            }
        }
    };
    operator_page(ctx, app, status, "/operator/clock", ctx.t(Msg::OpsClockTitle), body)
}

/// `GET /operator/clock`: business time now; in sandbox mode, the form that moves it.
pub(super) async fn clock(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri, Query(q): Query<Params>) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let moved = param(&q, "moved").parse::<i64>().ok().filter(|s| *s > 0);
    clock_page(&ctx, &app, StatusCode::OK, moved, None)
}

/// `POST /operator/clock {amount, unit}` (sandbox mode): moves the business clock forward.
pub(super) async fn advance(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri, form: Option<Form<Params>>) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let p = form.map(|f| f.0).unwrap_or_default();
    let unit = UNITS.iter().find(|(code, _, _)| *code == param(&p, "unit")).map(|(_, secs, _)| *secs);
    let secs = match (param(&p, "amount").parse::<i64>(), unit) {
        (Ok(n), Some(u)) => n.checked_mul(u).unwrap_or(-1),
        _ => -1,
    };
    match crate::platform::advance_clock_by(&app, secs) {
        Ok(offset) => {
            tracing::info!(seconds = secs, offset, "business clock moved from the operator console");
            see_other(&format!("/operator/clock?moved={secs}"))
        }
        Err(crate::platform::ClockRefusal::NotSandbox) => clock_page(&ctx, &app, StatusCode::FORBIDDEN, None, Some(ctx.t(Msg::OpsClockReal))),
        Err(crate::platform::ClockRefusal::BadSeconds) => clock_page(&ctx, &app, StatusCode::BAD_REQUEST, None, Some(ctx.t(Msg::OpsClockBad))),
    }
}
