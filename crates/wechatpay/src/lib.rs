//! The WeChat Pay API v3 wire protocol, both sides of it: what a merchant's SDK sends and checks, and
//! what the platform answers and signs. Used by the server's v3 adapter, and by tests and benchmarks as
//! a client. No HTTP here: strings and bytes in, strings and bytes out.
//!
//! - [`auth`]: the `Authorization: WECHATPAY2-SHA256-RSA2048 …` header and the strings that get signed;
//! - [`keys`]: RSA-2048 keys, SHA256withRSA signatures in base64;
//! - [`aead`]: `AEAD_AES_256_GCM` resources (callbacks, certificates) under the merchant's APIv3 key;
//! - [`cert`]: the platform's X.509 certificate, for merchants in certificate mode;
//! - [`error`]: the v3 error codes, their HTTP statuses and the `{"code","message"}` body.

pub mod aead;
pub mod auth;
pub mod cert;
pub mod client;
pub mod digest;
pub mod error;
pub mod keys;

pub use error::{ErrorBody, ErrorCode};

/// The signature type of every v3 signature, in headers and in the `Authorization` schema.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";
