//! Bills in the console (`/console/bills`, managers): a day's trade bill (ALL) or fund-flow bill (BASIC)
//! as a CSV file to save — the same file the v3 bill download gives (`crate::bills::make`), not gzipped,
//! with the same rules for which days may be asked for.

// Page helpers answer `Result<T, Response>`: the error is the finished page (as `http::web`'s).
#![allow(clippy::result_large_err)]

use super::pages::{console_page, manager};
use super::Staff;
use crate::bills::{self, BillKind, BillSpec};
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html, param, system_error, Ctx, Params};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html as markup, PreEscaped};
use saoma_core::bill::{check_bill_date, AccountType, BillDateError, TradeBillType};
use saoma_core::time::format_rfc3339_cst;
use std::sync::Arc;

/// The bills page: the day to ask for (yesterday unless given), the two downloads, what went wrong.
fn bills_page(app: &App, ctx: &Ctx, staff: &Staff, status: StatusCode, day: &str, error: Option<&str>) -> Response {
    let body = markup! {
        div.card #bills {
            h1 { (ctx.t(Msg::ConsoleBillsTitle)) }
            (PreEscaped(error_box(error)))
            p.muted { (ctx.t(Msg::ConsoleBillsHint)) }
            form method="get" action="/console/bills/trade" {
                label for="bill-day" { (ctx.t(Msg::ConsoleBillDayLabel)) }
                input #bill-day name="day" type="date" value=(day) required;
                button #trade-bill type="submit" { (ctx.t(Msg::ConsoleTradeBill)) }
                button #fund-bill type="submit" formaction="/console/bills/fund" { (ctx.t(Msg::ConsoleFundBill)) }
            }
        }
    };
    html(status, console_page(ctx, app, staff, "/console/bills", ctx.t(Msg::ConsoleBillsTitle), body))
}

/// Yesterday, China time (`YYYY-MM-DD`): the newest day with a bill.
fn yesterday(app: &App) -> String {
    format_rfc3339_cst(saoma_core::time::cst_day_start(app.business_now_secs()) - 86_400).get(..10).unwrap_or("").to_string()
}

/// `GET /console/bills` (managers).
pub(super) async fn page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match manager(&app, &ctx, &headers) {
        Ok(staff) => bills_page(&app, &ctx, &staff, StatusCode::OK, &yesterday(&app), None),
        Err(page) => page,
    }
}

/// `GET /console/bills/{trade|fund}?day=YYYY-MM-DD` (managers): the day's bill as a CSV attachment, or
/// the bills page saying why there is none.
pub(super) async fn download(
    State(app): State<Arc<App>>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(which): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    let staff = match manager(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let kind = match which.as_str() {
        "trade" => BillKind::Trade(TradeBillType::All),
        "fund" => BillKind::Fund(AccountType::Basic),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let day = param(&q, "day");
    let refused = |status: StatusCode, e: String| bills_page(&app, &ctx, &staff, status, day, Some(&e));
    let day_start = match check_bill_date(day, app.business_now_secs()) {
        Ok(d) => d,
        Err(BillDateError::Format) => return refused(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleBillBadDay).into()),
        Err(BillDateError::NotPast) => return refused(StatusCode::BAD_REQUEST, ctx.t(Msg::ConsoleBillNotPast).into()),
        Err(BillDateError::TooOld { earliest }) => {
            return refused(StatusCode::BAD_REQUEST, ctx.fill(Msg::ConsoleBillTooOld, &[("earliest", &earliest)]))
        }
        Err(BillDateError::NotReady) => return refused(StatusCode::SERVICE_UNAVAILABLE, ctx.t(Msg::ConsoleBillNotReady).into()),
    };
    let spec = BillSpec { mchid: staff.mchid.clone(), kind, date: day.to_string(), day_start };
    // A day's orders and refunds read and written out: long work, off the async workers.
    let csv = match crate::blocking(|| bills::make(&app, &spec)) {
        Ok(Some(csv)) => csv,
        Ok(None) => return refused(StatusCode::NOT_FOUND, ctx.fill(Msg::ConsoleBillNone, &[("day", day)])),
        Err(e) => return system_error(&ctx, e),
    };
    let name = format!("{}-{}-{}.csv", if which == "trade" { "tradebill" } else { "fundflowbill" }, staff.mchid, spec.date);
    let mut r = (StatusCode::OK, csv).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
