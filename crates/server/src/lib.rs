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
pub mod merchants;
pub mod notifications;
pub mod payments;
pub mod platform;
pub mod refunds;
pub mod transit;
pub mod users;

pub use app::{blocking, App, Config, Part};
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
        refunds::routes(),
        bills::routes(),
        agreements::routes(),
        notifications::routes(),
        transit::routes(),
    ]
}
