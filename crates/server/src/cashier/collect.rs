//! The static collection code (收款码): one QR per merchant, printed at the till, that opens
//! `/collect/{mchid}`; the user logs in, types the amount, and pays.
//!
//! The platform creates the order itself and pays it in the same job — a NATIVE order with an
//! out_trade_no the platform makes (`SK` + the form's one-time token), the merchant's first appid, and the
//! merchant's notify_url. So the merchant sees the payment as any other order: the TRANSACTION.SUCCESS
//! notification, the v3 query, the bills. A merchant without a notify_url gets no notification (there is
//! nowhere to send it); it finds these payments by query (the payer's receipt shows the transaction_id)
//! and in its bills. Either the order exists and is paid, or nothing was written: a refused payment (not
//! enough money, the PIN) leaves no unpaid order behind.
//!
//! The form's token makes paying idempotent: a double click or a reload of the POST finds the order it
//! already paid instead of paying twice; the same token with another amount is refused.

use crate::http::web::i18n::Msg;
use crate::users::login_card;
use crate::http::web::error_box;
use super::pages::{available, failure_page, payer_line, pin_field, pin_needed, refusal};
use crate::http::web::{esc, html, layout, notice, see_other, session, system_error, url_encode, Ctx};
use crate::merchants::Merchant;
use crate::payments::orders::{self, NewOrder, Order, OrderError};
use crate::payments::{self, ChargeIds, PayError};
use crate::users::{self, User};
use crate::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use saoma_core::order::TradeType;
use saoma_core::yuan::AmountError;
use saoma_store::StoreError;
use std::collections::HashMap;
use std::sync::Arc;

/// What a collection-code order says it was for (the merchant's name is beside it everywhere).
pub const DESCRIPTION: &str = "收款码付款";
/// Prefix of the out_trade_no of collection-code orders; the rest is the form's token.
pub const OUT_TRADE_NO_PREFIX: &str = "SK";
const TOKEN_LEN: usize = 24;

#[derive(Debug)]
pub enum CollectError {
    /// The merchant has no appid to put on the order.
    NoAppid,
    /// This form's token paid already (another amount, or another payer): a fresh form is needed.
    FormUsed,
    Pay(PayError),
    Order(OrderError),
    Store(StoreError),
}

impl From<StoreError> for CollectError {
    fn from(e: StoreError) -> Self {
        CollectError::Store(e)
    }
}

impl From<PayError> for CollectError {
    fn from(e: PayError) -> Self {
        CollectError::Pay(e)
    }
}

/// Creates the merchant's order for `total` fen and pays it from `user`'s wallet, in one job.
/// `token` is the form's one-time token (`TOKEN_LEN` letters and digits).
pub async fn collect(app: &App, merchant: &Merchant, user: &User, total: i64, token: &str, pin_given: Option<String>) -> Result<Order, CollectError> {
    let appid = merchant.appids.first().ok_or(CollectError::NoAppid)?.clone();
    let n = NewOrder {
        mchid: merchant.mchid.clone(),
        appid,
        trade_type: TradeType::Native,
        description: DESCRIPTION.to_string(),
        out_trade_no: format!("{OUT_TRADE_NO_PREFIX}{token}"),
        time_expire: None,
        attach: None,
        notify_url: merchant.notify_url.clone().unwrap_or_default(),
        goods_tag: None,
        total,
        currency: "CNY".to_string(),
        payer_openid: None,
    };
    let prepared = orders::prepare_notifying(app, &n, merchant.notify_url.is_some()).map_err(CollectError::Order)?;
    let now = app.business_now_secs();
    let needs_pin = pin_needed(user, total);
    // The PIN's argon2 check is slow on purpose: before the job, as `payments::pay` does.
    let proof = match pin_given {
        Some(given) if needs_pin => Some(crate::users::pins::verify(app, user, &given).await.map_err(PayError::from)?),
        _ => None,
    };
    let user_id = user.id;
    let ids = ChargeIds::new(app);
    app.store
        .transact(move |tx| {
            let (order, created) = match orders::create_in_job(tx, n, prepared, "")? {
                Ok(o) => o,
                Err(OrderError::OutTradeNoUsed) => return Ok(Err(CollectError::FormUsed)),
                Err(e) => return Ok(Err(CollectError::Order(e))),
            };
            if !created {
                // The same form again: what it paid, never a second payment.
                let mine = order.payer_user == Some(user_id) && order.success_at.is_some();
                return Ok(if mine { Ok(order) } else { Err(CollectError::FormUsed) });
            }
            // From here a refusal undoes the job, the new order with it.
            let user = users::in_job(tx, user_id)?.ok_or_else(|| StoreError::Corrupt("payer vanished".into()))?;
            if pin_needed(&user, order.total) {
                match &proof {
                    None => return Ok(Err(PayError::PinRequired.into())),
                    Some(p) => {
                        if let Err(e) = p.check(&user, now) {
                            return Ok(Err(PayError::from(e).into()));
                        }
                    }
                }
            }
            // Not a payment-code payment: not counted towards the ten PIN-free ones a day.
            Ok(payments::charge(tx, order, &user, false, ids)?.map_err(CollectError::Pay))
        })
        .await?
}

type Params = HashMap<String, String>;

fn merchant(ctx: &Ctx, app: &App, mchid: &str) -> Result<Arc<Merchant>, Response> {
    match crate::merchants::get(&app, mchid) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(notice(ctx, StatusCode::NOT_FOUND, Msg::NoMerchantTitle, Msg::NoMerchant)),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// A typed amount that is not one, in the reader's words.
fn amount_error(ctx: &Ctx, e: AmountError) -> String {
    match e {
        AmountError::Format => ctx.t(Msg::AmountFormat).into(),
        AmountError::Zero => ctx.t(Msg::AmountZero).into(),
        AmountError::TooLarge => ctx.fill(Msg::AmountTooLarge, &[("max", &saoma_core::yuan::format(saoma_core::order::MAX_TOTAL))]),
    }
}

fn page_path(m: &Merchant) -> String {
    format!("/collect/{}", url_encode(&m.mchid))
}

/// The full URL a merchant's collection code encodes.
pub fn collect_url(app: &App, m: &Merchant) -> String {
    format!("{}{}", app.public_base_url(), page_path(m))
}

/// What the amount form shows again.
struct Entry<'a> {
    amount: &'a str,
    token: &'a str,
    error: Option<&'a str>,
    ask_pin: bool,
}

fn render(ctx: &Ctx, app: &App, m: &Merchant, user: Option<&User>, f: Entry<'_>, status: StatusCode) -> Response {
    let next = page_path(m);
    let mut body = format!("<div class=\"card\"><h1>{}</h1><div class=\"amount\" id=\"merchant\">{}</div></div>", esc(ctx.t(Msg::CollectHeading)), esc(&m.name));
    match user {
        None => body.push_str(&login_card(ctx, &next, f.error)),
        Some(user) => {
            let balance = match available(app, user) {
                Ok(b) => b,
                Err(e) => return system_error(ctx, e),
            };
            // With the PIN asked for, the amount it was asked for stays as it is.
            let amount_attrs = if f.ask_pin { " readonly" } else { " autofocus" };
            body.push_str(&format!(
                "<div class=\"card\">{}{}\
                 <form method=\"post\" action=\"{}/pay\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
                 <label for=\"amount-input\">{}</label><input id=\"amount-input\" name=\"amount\" inputmode=\"decimal\" \
                 placeholder=\"0.00\" value=\"{}\" required{amount_attrs}>{}<button id=\"pay\" type=\"submit\">{}</button></form></div>",
                error_box(f.error),
                payer_line(ctx, user, &next, balance),
                esc(&next),
                esc(f.token),
                esc(ctx.t(Msg::AmountLabel)),
                esc(f.amount),
                if f.ask_pin { pin_field(ctx) } else { String::new() },
                esc(ctx.t(Msg::CollectPay)),
            ));
        }
    }
    body.push_str(&format!(
        "<div class=\"card qr muted\"><img id=\"collect-qr\" src=\"{}/qr.svg\" alt=\"{}\"><div>{}</div></div>",
        esc(&next),
        esc(ctx.t(Msg::CollectAlt)),
        esc(&ctx.fill(Msg::CollectCaption, &[("merchant", &m.name)]))
    ));
    html(status, layout(ctx, ctx.t(Msg::CollectTitle), &body))
}

fn new_token(ctx: &Ctx) -> Result<String, Response> {
    saoma_wechatpay::aead::random_string(TOKEN_LEN).map_err(|e| system_error(ctx, e.to_string()))
}

/// `GET /collect/{mchid}`.
pub async fn page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(mchid): Path<String>) -> Response {
    let m = match merchant(&ctx, &app, &mchid) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return system_error(&ctx, e),
    };
    let token = match new_token(&ctx) {
        Ok(t) => t,
        Err(page) => return page,
    };
    render(&ctx, &app, &m, user.as_ref(), Entry { amount: "", token: &token, error: None, ask_pin: false }, StatusCode::OK)
}

/// `POST /collect/{mchid}/pay` {amount (yuan), token, pin?}.
pub async fn pay(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Path(mchid): Path<String>, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| p.get(k).map(|s| s.trim()).unwrap_or("");
    let m = match merchant(&ctx, &app, &mchid) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let token = get("token");
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return notice(&ctx, StatusCode::BAD_REQUEST, Msg::FormOutdatedTitle, Msg::FormOutdated);
    }
    let amount = get("amount");
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => {
            let f = Entry { amount, token, error: Some(ctx.t(Msg::SessionEnded)), ask_pin: false };
            return render(&ctx, &app, &m, None, f, StatusCode::UNAUTHORIZED);
        }
        Err(e) => return system_error(&ctx, e),
    };
    let total = match saoma_core::yuan::parse(amount) {
        Ok(t) => t,
        Err(e) => return render(&ctx, &app, &m, Some(&user), Entry { amount, token, error: Some(&amount_error(&ctx, e)), ask_pin: false }, StatusCode::BAD_REQUEST),
    };
    let pin = Some(get("pin")).filter(|s| !s.is_empty()).map(str::to_string);
    // Ask for the PIN before the first try when it is plainly needed (the job checks again).
    if pin.is_none() && pin_needed(&user, total) {
        let f = Entry { amount, token, error: Some(ctx.t(Msg::PinRequired)), ask_pin: true };
        return render(&ctx, &app, &m, Some(&user), f, StatusCode::FORBIDDEN);
    }
    let back = page_path(&m);
    match collect(&app, &m, &user, total, token, pin).await {
        Ok(order) => see_other(&format!("/cashier/result?transaction_id={}", url_encode(&order.transaction_id))),
        Err(CollectError::Pay(e @ (PayError::PinRequired | PayError::WrongPin { .. } | PayError::PinBusy))) => {
            let (status, message) = refusal(&ctx, &app, &user, &e, total, None);
            render(&ctx, &app, &m, Some(&user), Entry { amount, token, error: Some(&message), ask_pin: true }, status)
        }
        Err(CollectError::Pay(e)) => {
            let (status, message) = refusal(&ctx, &app, &user, &e, total, None);
            failure_page(&ctx, status, &message, &back)
        }
        Err(CollectError::FormUsed) => failure_page(&ctx, StatusCode::CONFLICT, ctx.t(Msg::FormUsed), &back),
        Err(CollectError::NoAppid) => notice(&ctx, StatusCode::CONFLICT, Msg::NotSetUpTitle, Msg::NotSetUp),
        Err(CollectError::Order(OrderError::Field(f))) => {
            tracing::info!(field = %f, "collection-code amount refused");
            render(&ctx, &app, &m, Some(&user), Entry { amount, token, error: Some(ctx.t(Msg::AmountRefused)), ask_pin: false }, StatusCode::BAD_REQUEST)
        }
        Err(CollectError::Order(e)) => system_error(&ctx, format!("{e:?}")),
        Err(CollectError::Store(e)) => system_error(&ctx, e),
    }
}

fn qr(ctx: &Ctx, app: &App, mchid: &str, kind: &str, q: &Params) -> Response {
    match merchant(ctx, app, mchid) {
        Ok(m) => crate::http::web::qr_answer(&collect_url(app, &m), kind, q),
        Err(page) => page,
    }
}

/// `GET /collect/{mchid}/qr.svg`: the code to print.
pub async fn qr_svg(State(app): State<Arc<App>>, ctx: Ctx, Path(mchid): Path<String>, axum::extract::Query(q): axum::extract::Query<Params>) -> Response {
    qr(&ctx, &app, &mchid, "svg", &q)
}

/// `GET /collect/{mchid}/qr.png[?scale=8]`.
pub async fn qr_png(State(app): State<Arc<App>>, ctx: Ctx, Path(mchid): Path<String>, axum::extract::Query(q): axum::extract::Query<Params>) -> Response {
    qr(&ctx, &app, &mchid, "png", &q)
}
