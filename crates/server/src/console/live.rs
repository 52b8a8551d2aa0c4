//! The console's home (`/console`): the takings of the day (China day, business clock) with the newest
//! payments, kept current by server-sent events (`/console/events`) and a small script of this server's
//! (`/static/console.js`) that can also say each payment aloud; without script the page reloads itself.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::pages::{console_page, live, token, who};
use super::Stage;
use crate::http::web::i18n::Msg;
use crate::http::web::{html_with_script, script, system_error, yuan, Ctx};
use crate::payments::orders::{self, Order};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use maud::html as markup;
use saoma_core::time::{cst_day_start, format_rfc3339_cst};
use std::sync::Arc;
use std::time::Duration;

/// Payments listed on the home page.
const LATEST: i64 = 10;
/// How often the events stream looks for new payments.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// An events stream ends after this (the browser reconnects at once): a graceful stop of the server
/// waits for open responses, so none may stay open for ever.
const STREAM_FOR: Duration = Duration::from_secs(25);

/// `HH:MM:SS`, China time.
fn clock_time(unix: i64) -> String {
    format_rfc3339_cst(unix).get(11..19).unwrap_or("").to_string()
}

/// The day's refunds in words.
fn refunds_text(ctx: &Ctx, (count, sum): (i64, i64)) -> String {
    ctx.fill(Msg::ConsoleTodayRefunds, &[("amount", &yuan(sum)), ("n", &count.to_string())])
}

/// The day's takings as the page and the events show them.
struct Takings {
    count: i64,
    sum: i64,
    latest: Vec<Order>,
    /// The day's refunds: how many, how much.
    refunds: (i64, i64),
}

fn takings(app: &App, mchid: &str) -> Result<Takings, saoma_store::StoreError> {
    let day = cst_day_start(app.business_now_secs());
    let (count, sum, latest) = orders::paid_since(app, mchid, day, LATEST)?;
    Ok(Takings { count, sum, latest, refunds: crate::refunds::succeeded_since(app, mchid, day)? })
}

/// `GET /console`: the takings of the day (or the login step the visitor is at).
pub(super) async fn home(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let staff = match live(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let t = match takings(&app, &staff.mchid) {
        Ok(t) => t,
        Err(e) => return system_error(&ctx, e),
    };
    let body = markup! {
        div.card #takings {
            h1 { (ctx.t(Msg::ConsoleTodayTakings)) }
            p.amount #takings-sum { (yuan(t.sum)) }
            p #takings-count { (ctx.fill(Msg::ConsolePaymentCount, &[("n", &t.count.to_string())])) }
            p #takings-refunds hidden[t.refunds.0 == 0] { (refunds_text(&ctx, t.refunds)) }
            p.muted { (ctx.t(Msg::ConsoleLiveHint)) }
            div.speak {
                input #speak type="checkbox";
                label for="speak" { (ctx.t(Msg::ConsoleSpeakToggle)) }
            }
        }
        div.card {
            h1 #latest-title { (ctx.t(Msg::ConsoleLatest)) }
            p.muted #no-payments hidden[!t.latest.is_empty()] { (ctx.t(Msg::ConsoleNoPayments)) }
            ul.payments #payments aria-labelledby="latest-title" aria-live="polite" {
                @for o in &t.latest {
                    li data-id=(o.transaction_id) {
                        span.pay-time { (clock_time(o.success_at.unwrap_or(0))) }
                        span.pay-amount { (yuan(o.total)) }
                        span.pay-no { (o.out_trade_no) }
                    }
                }
            }
        }
        noscript { meta http-equiv="refresh" content="5"; }
        script src="/static/console.js" defer {}
    };
    html_with_script(StatusCode::OK, console_page(&ctx, &app, &staff, "/console", ctx.t(Msg::ConsoleTitle), body))
}

/// What the events stream remembers between looks: the state last sent.
struct Watch {
    app: Arc<App>,
    ctx: Ctx,
    token: String,
    mchid: String,
    sent: Option<(i64, i64, (i64, i64), Vec<String>)>,
    until: tokio::time::Instant,
}

/// `GET /console/events`: server-sent events — a `takings` event with the day's count, sum and newest
/// payments at once and whenever they change (looked at every 500 ms), while the session is live.
pub(super) async fn events(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let (staff, token) = match (who(&app, &headers), token(&headers)) {
        (Ok(Some((s, Stage::Live))), Some(t)) => (s, t.to_string()),
        (Ok(_), _) => return (StatusCode::UNAUTHORIZED, "log in to the console first").into_response(),
        (Err(e), _) => {
            tracing::error!(error = %e, "console events");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let watch = Watch { app, ctx, token, mchid: staff.mchid, sent: None, until: tokio::time::Instant::now() + STREAM_FOR };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        loop {
            if w.sent.is_some() {
                if tokio::time::Instant::now() >= w.until {
                    return None;
                }
                tokio::time::sleep(WATCH_EVERY).await;
            }
            // A session that ended (logged out, expired) ends its stream.
            if !matches!(super::session(&w.app, &w.token), Ok(Some((_, Stage::Live)))) {
                return None;
            }
            let t = match takings(&w.app, &w.mchid) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "console events");
                    return None;
                }
            };
            let state = (t.count, t.sum, t.refunds, t.latest.iter().map(|o| o.transaction_id.clone()).collect::<Vec<_>>());
            if w.sent.as_ref() == Some(&state) {
                continue;
            }
            let payments: Vec<serde_json::Value> = t
                .latest
                .iter()
                .map(|o| {
                    let amount = yuan(o.total);
                    serde_json::json!({
                        "id": o.transaction_id, "out_trade_no": o.out_trade_no, "amount": amount,
                        "time": clock_time(o.success_at.unwrap_or(0)), "speak": w.ctx.fill(Msg::ConsoleSpeak, &[("amount", &amount)]),
                    })
                })
                .collect();
            let data = serde_json::json!({
                "count": t.count, "count_text": w.ctx.fill(Msg::ConsolePaymentCount, &[("n", &t.count.to_string())]),
                "sum": t.sum, "sum_text": yuan(t.sum), "payments": payments,
                "refunds": t.refunds.0, "refunds_text": refunds_text(&w.ctx, t.refunds),
            });
            w.sent = Some(state);
            let event = Event::default().event("takings").retry(Duration::from_millis(500)).data(data.to_string());
            return Some((Ok::<_, std::convert::Infallible>(event), w));
        }
    });
    let mut r = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Keeps the takings current from `/console/events`: the sum, the count and the list (text only, never
/// HTML); a payment not shown before is said aloud when the user switched it on (remembered in this
/// browser). The browser reconnects by itself when the stream ends.
const CONSOLE_JS: &str = r#""use strict";
(function () {
  var list = document.getElementById("payments");
  if (!list || !window.EventSource) return;
  var speak = document.getElementById("speak");
  var seen = {};
  Array.prototype.forEach.call(list.children, function (li) { seen[li.getAttribute("data-id")] = true; });
  try { speak.checked = localStorage.getItem("saoma.console.speak") === "1"; } catch (e) {}
  speak.addEventListener("change", function () {
    try { localStorage.setItem("saoma.console.speak", speak.checked ? "1" : "0"); } catch (e) {}
  });
  function say(text) {
    if (!speak.checked || !window.speechSynthesis) return;
    var u = new SpeechSynthesisUtterance(text);
    u.lang = document.documentElement.lang;
    window.speechSynthesis.speak(u);
  }
  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }
  var events = new EventSource("/console/events");
  events.addEventListener("takings", function (m) {
    var t = JSON.parse(m.data);
    document.getElementById("takings-sum").textContent = t.sum_text;
    document.getElementById("takings-count").textContent = t.count_text;
    var refunds = document.getElementById("takings-refunds");
    refunds.textContent = t.refunds_text;
    refunds.hidden = t.refunds === 0;
    document.getElementById("no-payments").hidden = t.payments.length > 0;
    var fresh = [];
    while (list.firstChild) list.removeChild(list.firstChild);
    t.payments.forEach(function (p) {
      var li = document.createElement("li");
      li.setAttribute("data-id", p.id);
      li.appendChild(span("pay-time", p.time));
      li.appendChild(span("pay-amount", p.amount));
      li.appendChild(span("pay-no", p.out_trade_no));
      list.appendChild(li);
      if (!seen[p.id]) fresh.push(p.speak);
      seen[p.id] = true;
    });
    fresh.reverse().forEach(say);
  });
})();
"#;

pub(super) async fn console_js() -> Response {
    script(CONSOLE_JS)
}
