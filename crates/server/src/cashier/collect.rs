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

use super::pages::{available, error_box, failure_page, login_card, payer_line, pin_field, pin_needed, refusal};
use super::{esc, html, layout, message_page, see_other, session, system_error, url_encode, yuan};
use crate::merchants::Merchant;
use crate::orders::{self, NewOrder, Order, OrderError};
use crate::payments::{self, ChargeIds, PayError};
use crate::users::{self, User};
use crate::App;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use saoma_core::order::TradeType;
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
        Some(given) if needs_pin => Some(crate::pins::verify(app, user, &given).await.map_err(PayError::from)?),
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

fn merchant(app: &App, mchid: &str) -> Result<Arc<Merchant>, Response> {
    match app.merchants.get(&app.store, mchid) {
        Ok(Some(m)) => Ok(m),
        Ok(None) => Err(message_page(StatusCode::NOT_FOUND, "No such merchant", "This collection code does not belong to any merchant. Ask the merchant for its code.")),
        Err(e) => Err(system_error(e)),
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

fn render(app: &App, m: &Merchant, user: Option<&User>, f: Entry<'_>, status: StatusCode) -> Response {
    let next = page_path(m);
    let mut body = format!("<div class=\"card\"><h1>Pay the merchant · 向商家付款</h1><div class=\"amount\" id=\"merchant\">{}</div></div>", esc(&m.name));
    match user {
        None => body.push_str(&login_card(&next, f.error)),
        Some(user) => {
            let balance = match available(app, user) {
                Ok(b) => b,
                Err(e) => return system_error(e),
            };
            // With the PIN asked for, the amount it was asked for stays as it is.
            let amount_attrs = if f.ask_pin { " readonly" } else { " autofocus" };
            body.push_str(&format!(
                "<div class=\"card\">{}{}<p class=\"muted\">Balance <span id=\"balance\">{}</span></p>\
                 <form method=\"post\" action=\"{}/pay\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
                 <label for=\"amount-input\">Amount (yuan)</label><input id=\"amount-input\" name=\"amount\" inputmode=\"decimal\" \
                 placeholder=\"0.00\" value=\"{}\" required{amount_attrs}>{}<button id=\"pay\" type=\"submit\">Pay · 付款</button></form></div>",
                error_box(f.error),
                payer_line(user, &next),
                esc(&yuan(balance)),
                esc(&next),
                esc(f.token),
                esc(f.amount),
                if f.ask_pin { pin_field() } else { "" },
            ));
        }
    }
    body.push_str(&format!(
        "<div class=\"card qr muted\"><img id=\"collect-qr\" src=\"{}/qr.svg\" alt=\"collection code\"><div>{}'s collection code</div></div>",
        esc(&next),
        esc(&m.name)
    ));
    html(status, layout("收款码 Pay the merchant", &body))
}

fn new_token() -> Result<String, Response> {
    saoma_wechatpay::aead::random_string(TOKEN_LEN).map_err(|e| system_error(e.to_string()))
}

/// `GET /collect/{mchid}`.
pub async fn page(State(app): State<Arc<App>>, headers: HeaderMap, Path(mchid): Path<String>) -> Response {
    let m = match merchant(&app, &mchid) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let user = match session(&app, &headers) {
        Ok(u) => u,
        Err(e) => return system_error(e),
    };
    let token = match new_token() {
        Ok(t) => t,
        Err(page) => return page,
    };
    render(&app, &m, user.as_ref(), Entry { amount: "", token: &token, error: None, ask_pin: false }, StatusCode::OK)
}

/// `POST /collect/{mchid}/pay` {amount (yuan), token, pin?}.
pub async fn pay(State(app): State<Arc<App>>, headers: HeaderMap, Path(mchid): Path<String>, form: Option<Form<Params>>) -> Response {
    let p = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| p.get(k).map(|s| s.trim()).unwrap_or("");
    let m = match merchant(&app, &mchid) {
        Ok(m) => m,
        Err(page) => return page,
    };
    let token = get("token");
    if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return message_page(StatusCode::BAD_REQUEST, "Out-of-date form", "This payment form is out of date. Open the merchant's page again.");
    }
    let amount = get("amount");
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => {
            let f = Entry { amount, token, error: Some("Your session has ended. Log in again to pay."), ask_pin: false };
            return render(&app, &m, None, f, StatusCode::UNAUTHORIZED);
        }
        Err(e) => return system_error(e),
    };
    let total = match saoma_core::yuan::parse(amount) {
        Ok(t) => t,
        Err(e) => return render(&app, &m, Some(&user), Entry { amount, token, error: Some(&e.to_string()), ask_pin: false }, StatusCode::BAD_REQUEST),
    };
    let pin = Some(get("pin")).filter(|s| !s.is_empty()).map(str::to_string);
    // Ask for the PIN before the first try when it is plainly needed (the job checks again).
    if pin.is_none() && pin_needed(&user, total) {
        let f = Entry { amount, token, error: Some("This payment needs your 6-digit payment PIN."), ask_pin: true };
        return render(&app, &m, Some(&user), f, StatusCode::FORBIDDEN);
    }
    let back = page_path(&m);
    match collect(&app, &m, &user, total, token, pin).await {
        Ok(order) => see_other(&format!("/cashier/result?transaction_id={}", url_encode(&order.transaction_id))),
        Err(CollectError::Pay(e @ (PayError::PinRequired | PayError::WrongPin { .. } | PayError::PinBusy))) => {
            let (status, message) = refusal(&app, &user, &e, total);
            render(&app, &m, Some(&user), Entry { amount, token, error: Some(&message), ask_pin: true }, status)
        }
        Err(CollectError::Pay(e)) => {
            let (status, message) = refusal(&app, &user, &e, total);
            failure_page(status, &message, &back)
        }
        Err(CollectError::FormUsed) => failure_page(StatusCode::CONFLICT, "This payment form was used already. Open the merchant's page again to make another payment.", &back),
        Err(CollectError::NoAppid) => message_page(StatusCode::CONFLICT, "Not set up", "This merchant cannot take payments yet (it has no app). Pay another way."),
        Err(CollectError::Order(OrderError::Field(f))) => render(&app, &m, Some(&user), Entry { amount, token, error: Some(&f.to_string()), ask_pin: false }, StatusCode::BAD_REQUEST),
        Err(CollectError::Order(e)) => system_error(format!("{e:?}")),
        Err(CollectError::Store(e)) => system_error(e),
    }
}

fn qr(app: &App, mchid: &str, kind: &str, q: &Params) -> Response {
    match merchant(app, mchid) {
        Ok(m) => super::qr_answer(&collect_url(app, &m), kind, q),
        Err(page) => page,
    }
}

/// `GET /collect/{mchid}/qr.svg`: the code to print.
pub async fn qr_svg(State(app): State<Arc<App>>, Path(mchid): Path<String>, axum::extract::Query(q): axum::extract::Query<Params>) -> Response {
    qr(&app, &mchid, "svg", &q)
}

/// `GET /collect/{mchid}/qr.png[?scale=8]`.
pub async fn qr_png(State(app): State<Arc<App>>, Path(mchid): Path<String>, axum::extract::Query(q): axum::extract::Query<Params>) -> Response {
    qr(&app, &mchid, "png", &q)
}
