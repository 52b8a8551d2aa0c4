//! What every HTTP adapter shares, knowing no capability: the accept loop (`conn`), the caller's address
//! and the public URL (`proxy`), health and metrics (`ops`), and one folder or file per protocol — the
//! WeChat Pay v3 merchant API (`v3`: authentication, signing, error bodies), the wallet API (`wallet`:
//! the bearer session, JSON errors), the admin API (`admin`: the token), and pages (`web`: languages,
//! layout, cookies, same-origin posts). Each capability hands its handlers over as [`Routes`];
//! [`router`] puts each protocol's routes behind that protocol's checks.

pub mod admin;
pub mod conn;
pub mod ops;
pub mod proxy;
pub mod v3;
pub mod wallet;
pub mod web;

use crate::App;
use axum::middleware;
use axum::Router;
use std::sync::Arc;

/// A capability's handlers, by the protocol that reaches them.
#[derive(Default)]
pub struct Routes {
    /// The merchant API: every request authenticated and every answer signed (`v3::layer`).
    pub v3: Router<Arc<App>>,
    /// The users' wallet API (`/wallet/…`): handlers take the session with `wallet::session`.
    pub wallet: Router<Arc<App>>,
    /// The operators' API (`/admin/…`), behind the admin token (`admin::layer`).
    pub admin: Router<Arc<App>>,
    /// Pages for a browser (`web::layer`): the language remembered, POSTs from this site only.
    pub pages: Router<Arc<App>>,
    /// Routes that authenticate their callers themselves (a gate's signed uploads) or need none.
    pub public: Router<Arc<App>>,
}

/// The whole server: every capability's routes behind their protocols' layers, `/healthz` and
/// `/metrics`, and the request log around everything.
pub fn router(app: Arc<App>, capabilities: Vec<Routes>) -> Router {
    let mut all = Routes::default();
    for c in capabilities {
        all.v3 = all.v3.merge(c.v3);
        all.wallet = all.wallet.merge(c.wallet);
        all.admin = all.admin.merge(c.admin);
        all.pages = all.pages.merge(c.pages);
        all.public = all.public.merge(c.public);
    }
    Router::new()
        .merge(ops::routes())
        .merge(v3::layer(app.clone(), all.v3))
        .merge(all.wallet)
        .merge(admin::layer(app.clone(), all.admin))
        .merge(web::layer(app.clone(), all.pages))
        .merge(all.public)
        .layer(middleware::from_fn_with_state(app.clone(), ops::log_requests))
        .with_state(app)
}
