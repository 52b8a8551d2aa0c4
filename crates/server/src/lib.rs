//! saoma's server: the application services of each capability and the HTTP adapters around them.
//!
//! One folder per capability (`payments/`, `refunds/`, `transit/`, …), each holding its application
//! service and its handlers for every protocol that reaches it (`v3.rs`, `wallet.rs`, `admin.rs`,
//! `pages.rs`); `http/` is what every adapter of one protocol shares and knows no capability;
//! [`capabilities`] is the one list that mounts them. ARCHITECTURE.md has the map.

pub mod app;
pub mod hex;
pub mod http;
mod serve;

pub mod agreements;
pub mod bank;
pub mod bills;
pub mod cashier;
pub mod console;
pub mod merchants;
pub mod notifications;
pub mod operator;
pub mod payments;
pub mod platform;
pub mod refunds;
pub mod shop;
pub mod transit;
pub mod users;

pub use app::{blocking, App, Chore, Config, Part};
pub use serve::{serve, ServeError};

/// Every capability's routes, mounted by `http::router` behind its protocol's authentication. A new
/// capability adds its folder, its `mod` line above and one line here.
pub fn capabilities() -> Vec<http::Routes> {
    vec![
        platform::routes(),
        merchants::routes(),
        users::routes(),
        bank::routes(),
        payments::routes(),
        cashier::routes(),
        console::routes(),
        refunds::routes(),
        bills::routes(),
        agreements::routes(),
        notifications::routes(),
        transit::routes(),
        operator::routes(),
        shop::routes(),
    ]
}

/// Every capability's background work, run by `serve`. A capability that needs some adds one line here.
pub fn chores() -> Vec<Chore> {
    vec![
        Chore { what: "bank reconciliation", every_secs: 1, run: |app| Box::pin(async move { bank::reconcile(&app).await.map(drop) }) },
        Chore { what: "settling open rides", every_secs: 1, run: |app| Box::pin(async move { transit::ingest::settle_open_rides(&app).await.map(drop) }) },
        Chore { what: "card refunds", every_secs: 1, run: |app| Box::pin(async move { transit::settle_leaving(&app).await.map(drop) }) },
        // Another process may have rotated the platform's keys.
        Chore { what: "reloading platform keys", every_secs: 30, run: |app| Box::pin(async move {
            app.keys.reload(&app.store);
            Ok(())
        }) },
        Chore { what: "pruning request nonces", every_secs: 60, run: |app| Box::pin(async move { http::v3::auth::prune_nonces(&app).await.map(drop) }) },
    ]
}
