//! The crate's one error type, for everything except a gate's verdict on a code.
//!
//! A gate's refusal is not an error but an outcome with its own stable codes ([`crate::Reject`]);
//! this type covers building, parsing and signing the other artefacts (keys, credentials, lists,
//! records, Base45), where the caller usually just needs to know what was wrong.

use core::fmt;

/// What went wrong while building, parsing or checking a ride-code artefact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input does not have the length its format and suite require.
    Length,
    /// The format byte or magic is not one this crate knows.
    UnknownFormat,
    /// The suite byte is not 1, 2 or 3.
    UnknownSuite,
    /// Seed bytes are not a valid private key for the suite (P-256/SM2: zero or ≥ the group order).
    InvalidSeed,
    /// Public key bytes are not a valid point for the suite.
    InvalidKey,
    /// Two keys that must be of the same suite are not.
    SuiteMismatch,
    /// A signature did not verify.
    Signature,
    /// A list or record is signed by a key the caller does not trust.
    UnknownSigner,
    /// A field holds a value the format forbids; the text names the field.
    Malformed(&'static str),
    /// Credential terms the issuer must not sign; the text says which rule.
    InvalidTerms(&'static str),
    /// The device key pair does not match the device key in the credential.
    DeviceKeyMismatch,
    /// Not valid Base45 (RFC 9285).
    Base45,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Length => f.write_str("wrong length"),
            Error::UnknownFormat => f.write_str("unknown format"),
            Error::UnknownSuite => f.write_str("unknown suite"),
            Error::InvalidSeed => f.write_str("seed is not a valid private key"),
            Error::InvalidKey => f.write_str("invalid public key"),
            Error::SuiteMismatch => f.write_str("keys of different suites"),
            Error::Signature => f.write_str("bad signature"),
            Error::UnknownSigner => f.write_str("signed by an untrusted key"),
            Error::Malformed(field) => write!(f, "malformed {field}"),
            Error::InvalidTerms(rule) => write!(f, "invalid credential terms: {rule}"),
            Error::DeviceKeyMismatch => f.write_str("device key does not match the credential"),
            Error::Base45 => f.write_str("invalid Base45"),
        }
    }
}

impl std::error::Error for Error {}
