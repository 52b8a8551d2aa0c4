//! What needs an operator's eye: the transit gates and their alarms (clones, sequence conflicts), and the
//! notifications merchants' servers keep refusing.

use super::pages::{cut, operator_page, require, LIST_LIMIT};
use crate::http::web::i18n::Msg;
use crate::http::web::{param, system_error, Ctx, Params};
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use maud::html as markup;
use std::sync::Arc;

/// `GET /operator/transit`: every gate's uploads, and the alarms, newest first.
pub(super) async fn transit(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let read = crate::blocking(|| Ok::<_, saoma_store::StoreError>((crate::transit::admin::all_terminals(&app, LIST_LIMIT)?, crate::transit::admin::all_alarms(&app, LIST_LIMIT)?)));
    let (terminals, alarms) = match read {
        Ok(r) => r,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #alarms {
            h1 #alarms-title { (ctx.t(Msg::OpsAlarmsTitle)) }
            p.muted { (ctx.t(Msg::OpsAlarmsHint)) }
            @if alarms.is_empty() { p.muted #no-alarms { (ctx.t(Msg::OpsNoAlarms)) } }
            ul.items aria-labelledby="alarms-title" {
                @for a in &alarms {
                    li.alarm data-kind=(a.kind) {
                        h2.bad {
                            @match a.kind.as_str() {
                                "CLONE" => (ctx.t(Msg::OpsAlarmClone)),
                                "CONFLICT" => (ctx.t(Msg::OpsAlarmConflict)),
                                other => (other),
                            }
                        }
                        dl {
                            dt { (ctx.t(Msg::OpsCard)) }
                            dd.card-tail { @match &a.card_tail { Some(t) => (ctx.fill(Msg::OpsCardTail, &[("tail", t)])), None => (ctx.t(Msg::OpsNone)) } }
                            dt { (ctx.t(Msg::OpsTime)) } dd.time { (ctx.lang.time(a.at)) }
                            dt { (ctx.t(Msg::OpsGate)) }
                            dd.gate { (ctx.fill(Msg::OpsTerminal, &[("id", &a.terminal_id.to_string()), ("name", &a.terminal_name)])) }
                            dt { (ctx.t(Msg::OpsDetail)) } dd.detail { (a.detail) }
                        }
                    }
                }
            }
            (cut(&ctx, alarms.len()))
        }
        div.card #terminals {
            h1 #terminals-title { (ctx.t(Msg::OpsTerminalsTitle)) }
            @if terminals.is_empty() { p.muted #no-terminals { (ctx.t(Msg::OpsNoTerminals)) } }
            ul.items aria-labelledby="terminals-title" {
                @for t in &terminals {
                    li.terminal data-id=(t.terminal_id) {
                        h2 { (ctx.fill(Msg::OpsTerminal, &[("id", &t.terminal_id.to_string()), ("name", &t.name)])) }
                        p.muted { (ctx.fill(Msg::OpsScopeStop, &[("scope", &t.scope.to_string()), ("stop", &t.stop_id.to_string())])) }
                        dl {
                            dt { (ctx.t(Msg::OpsRecords)) } dd.records { (t.records) }
                            dt { (ctx.t(Msg::OpsMissing)) } dd.missing { (t.missing) }
                            dt { (ctx.t(Msg::OpsLastUpload)) }
                            dd { @match t.last_upload_at { Some(at) => (ctx.lang.time(at)), None => (ctx.t(Msg::OpsNever)) } }
                            dt { (ctx.t(Msg::OpsAlarmCount)) }
                            dd.alarm-count { @if t.alarms > 0 { span.bad { (t.alarms) } } @else { (t.alarms) } }
                        }
                    }
                }
            }
            (cut(&ctx, terminals.len()))
        }
    };
    operator_page(&ctx, &app, StatusCode::OK, "/operator/transit", ctx.t(Msg::OpsTabTransit), body)
}

/// `GET /operator/notifications?mchid=`: notifications tried and not delivered, of one merchant or all.
pub(super) async fn notifications(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, uri: Uri, Query(q): Query<Params>) -> Response {
    if let Err(r) = require(&app, &ctx, &headers, &uri) {
        return r;
    }
    let mchid = param(&q, "mchid");
    let failing = match crate::notifications::admin::failing(&app, (!mchid.is_empty()).then_some(mchid), LIST_LIMIT) {
        Ok(f) => f,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #notification-filter {
            h1 { (ctx.t(Msg::OpsNotificationsTitle)) }
            p.muted { (ctx.t(Msg::OpsNotificationsHint)) }
            form method="get" action="/operator/notifications" {
                label for="mchid" { (ctx.t(Msg::OpsFilterMerchant)) }
                input #mchid name="mchid" value=(mchid) inputmode="numeric" autocomplete="off";
                button #filter type="submit" { (ctx.t(Msg::OpsFilter)) }
            }
        }
        div.card #failing {
            @if failing.is_empty() { p.muted #no-failing { (ctx.t(Msg::OpsNoFailing)) } }
            ul.items aria-label=(ctx.t(Msg::OpsNotificationsTitle)) {
                @for f in &failing {
                    li.notification data-mchid=(f.mchid) {
                        h2 { (f.mchid) }
                        dl {
                            dt { (ctx.t(Msg::OpsOutTradeNo)) } dd.reference { (f.reference) }
                            dt { (ctx.t(Msg::OpsEvent)) } dd { (f.event_type) }
                            dt { (ctx.t(Msg::OpsAttempts)) } dd.attempts { (f.attempts) }
                            dt { (ctx.t(Msg::OpsLastError)) }
                            dd.last-error.bad {
                                @match (&f.last_error, f.last_status) {
                                    (Some(e), _) => (e),
                                    (None, Some(s)) => (ctx.fill(Msg::OpsHttpStatus, &[("status", &s.to_string())])),
                                    (None, None) => (ctx.t(Msg::OpsNone)),
                                }
                            }
                            dt { (ctx.t(Msg::OpsNextRetry)) }
                            dd.next-retry { @match f.next_attempt_at { Some(at) => (ctx.lang.time(at)), None => (ctx.t(Msg::OpsGaveUp)) } }
                        }
                    }
                }
            }
            (cut(&ctx, failing.len()))
        }
    };
    operator_page(&ctx, &app, StatusCode::OK, "/operator/notifications", ctx.t(Msg::OpsNotificationsTitle), body)
}
