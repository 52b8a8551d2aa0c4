//! The cashier (收银台): the pages where a user pays an order — H5, JSAPI and APP prepay ids (`pages`) and
//! the merchants' static collection codes (收款码, `collect`), with the receipt and the failure pages.
//!
//! Invariants: a page pays through `payments` only (one job: order, money, notification); a receipt is
//! shown to the payer only; a resubmitted collection form pays once (its one-time token is the order's
//! key); an H5 `redirect_url` must be on one of the merchant's registered domains.

// Page helpers answer `Result<T, Response>`: the error is the finished page that says what went wrong.
// It is large (axum's Response) but only ever built on the way out.
#![allow(clippy::result_large_err)]

pub mod collect;
pub mod pages;

/// The cashier's and the collection code's pages.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        pages: axum::Router::new()
            // JSAPI and APP prepay ids open the same page as H5 orders.
            .route("/cashier/h5", get(pages::cashier))
            .route("/cashier/jsapi", get(pages::cashier))
            .route("/cashier/scan", get(pages::scanned))
            .route("/cashier/pay", post(pages::pay))
            .route("/cashier/result", get(pages::result))
            .route("/cashier/done", get(pages::done))
            .route("/collect/:mchid", get(collect::page))
            .route("/collect/:mchid/pay", post(collect::pay))
            .route("/collect/:mchid/qr.svg", get(collect::qr_svg))
            .route("/collect/:mchid/qr.png", get(collect::qr_png)),
        ..Default::default()
    }
}
