//! The saoma ride code: an offline transit QR code that a phone draws and a gate checks with no
//! network on either side.
//!
//! The design is a two-signature chain. Once a day the platform (the *issuer*) signs a
//! [`Credential`] for a rider: account, window, limits and the public key of a fresh device key
//! pair. Every 30 s the phone signs the credential plus a generation time and a counter with that
//! device key, producing a [`RideCode`]. A gate ([`verify`]) checks both signatures against a
//! signed [`KeyList`] it received earlier, consults a signed [`Blacklist`], remembers what it has
//! seen in a caller-owned [`TerminalState`], and on acceptance the caller appends a
//! [`TerminalRecord`] signed with the gate's own key to its upload queue.
//!
//! The crate is deliberately pure so that a gate vendor can embed it alone: no I/O, no clock
//! reads (time is always passed in as Unix seconds), no threads and no OS randomness (keys come
//! from seed bytes or a caller-supplied RNG). Parsing never panics on any input. The wire format
//! is published in `docs/ridecode.md`, whose test vectors the tests check byte for byte.

mod base45;
mod code;
mod credential;
mod error;
mod lists;
mod reason;
mod record;
mod suite;
mod terminal;
mod wire;

pub use base45::{decode as base45_decode, encode as base45_encode};
pub use code::{DeviceKeyPair, RideCode};
pub use credential::{Credential, CredentialTerms, IssuerKeyPair, IssuerPublicKey};
pub use error::Error;
pub use lists::{
    Blacklist, BlacklistEntry, KeyList, KeyListEntry, PlatformKeyPair, PlatformPublicKey,
};
pub use reason::RecordReason;
pub use record::{Direction, SignedTerminalRecord, TerminalKeyPair, TerminalRecord};
pub use suite::{DecodedKey, KeyPair, PublicKey, Suite, SM2_DISTINGUISHING_ID};
pub use terminal::{
    verify, Accepted, CredentialCache, Reject, TapKind, TerminalConfig, TerminalState, Trust,
};

/// The only code format defined so far; it is the first byte of every code and credential.
pub const FORMAT_V1: u8 = 0x01;

/// A credential may span at most 26 hours, so that two daily credentials overlap by two hours
/// around the local midnight and a phone is never without a valid one.
pub const MAX_CREDENTIAL_SPAN: u32 = 26 * 3600;

/// Clock skew tolerated between the issuer's window and the phone's clock.
pub const WINDOW_GRACE: u32 = 300;

/// A code older than this (terminal time minus generation time) is refused: a screenshot dies fast.
pub const MAX_CODE_AGE: u32 = 60;

/// A code generated further than this in the terminal's future is refused (phone clock ahead).
pub const MAX_CODE_FUTURE: u32 = 30;

/// A second acceptance for the same account at the same gate within this many seconds is a
/// double tap: let the rider through, but make no new record and so no second charge.
pub const DOUBLE_TAP_WINDOW: u32 = 10;

/// A key list or blacklist issued longer ago than this is stale: the gate has been offline too
/// long to trust revocations, so only low fares are accepted (see [`TerminalConfig`]).
pub const STALE_AFTER: u32 = 24 * 3600;

/// Signature domain tags. Each signature in the system covers its own tag so that bytes signed
/// for one purpose can never be replayed as another.
pub mod tags {
    /// Issuer signature over a credential.
    pub const CREDENTIAL: &[u8] = b"RCv1/cred";
    /// Device signature over a code.
    pub const CODE: &[u8] = b"RCv1/code";
    /// Platform signature over a key list.
    pub const KEY_LIST: &[u8] = b"RCv1/keylist";
    /// Platform signature over a blacklist.
    pub const BLACKLIST: &[u8] = b"RCv1/blacklist";
    /// Terminal signature over a record.
    pub const RECORD: &[u8] = b"RCv1/record";
}
