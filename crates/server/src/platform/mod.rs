//! The platform itself: its signing keys (`keys`: what signs every v3 answer and callback, rotation),
//! its own ledger accounts and the codes that name account and transfer kinds (`accounts`), its secrets
//! at rest (`secrets`: the master key, sealed columns), `/v3/certificates`, and the operator's key
//! rotation and sandbox clock.
//!
//! Invariants: at least one key is valid at any time (a rotation overlaps); no private key, APIv3 key or
//! seed is stored unsealed; the sandbox clock only moves forward.

pub mod accounts;
mod admin;
pub mod keys;
pub mod secrets;
mod v3;

pub use admin::{advance_clock_by, ClockRefusal, MAX_ADVANCE_SECS};
pub use keys::{KeyMode, Keys, PlatformKey};

/// `/v3/certificates`, key rotation and the sandbox clock.
pub fn routes() -> crate::http::Routes {
    use axum::routing::{get, post};
    crate::http::Routes {
        v3: axum::Router::new()
            .route("/v3/certificates", get(v3::list)),
        admin: axum::Router::new()
            .route("/admin/platform/rotate", post(admin::rotate_platform_key))
            .route("/admin/clock/advance", post(admin::advance_clock)),
        ..Default::default()
    }
}
