//! Daily credentials: what the issuer vouches for, and the issuer keys that vouch.
//!
//! A credential binds a rider's account and limits to one device public key for about a day. It
//! is the first 126 (Ed25519) or 127 (P-256, SM2) bytes of every code the phone draws that day, so
//! a gate can cache "this credential's issuer signature is good" and pay for it once.
//!
//! Byte layout (δ = 0 for Ed25519, 1 for P-256 and SM2, because their keys are 33 bytes):
//!
//! ```text
//! 0 format | 1 suite | 2 issuer key id u16 | 4 account u64 | 12 sequence u32 | 16 not before u32
//! 20 not after u32 | 24 max fare u16 | 26 max uses u8 | 27 class/flags u8 | 28 scope u16
//! 30 device public key (32+δ) | 62+δ issuer signature (64) over "RCv1/cred" ‖ bytes[0..62+δ]
//! ```

use crate::suite::{DecodedKey, KeyPair, PublicKey, Suite};
use crate::wire::{be_u16, be_u32, be_u64};
use crate::{tags, Error, FORMAT_V1, MAX_CREDENTIAL_SPAN};

/// Offset of the device public key; everything after it shifts by the suite's δ.
pub(crate) const DEVICE_KEY_AT: usize = 30;

/// Bytes covered by the issuer signature for `suite` (62 or 63).
pub(crate) fn signed_len(suite: Suite) -> usize {
    DEVICE_KEY_AT + suite.public_key_len()
}

/// Total credential length for `suite` (126 or 127).
pub(crate) fn credential_len(suite: Suite) -> usize {
    signed_len(suite) + 64
}

/// What the issuer decides per rider per day; the signed credential adds suite, key and device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialTerms {
    /// The withholding agreement's pseudonymous account id (never the user id).
    pub account_id: u64,
    /// The issuer's sequence number for this account's credentials; new each day.
    pub sequence: u32,
    /// Start of validity, Unix seconds.
    pub not_before: u32,
    /// End of validity, Unix seconds; at most [`MAX_CREDENTIAL_SPAN`] after `not_before`.
    pub not_after: u32,
    /// Highest fare one ride may cost, in minor units.
    pub max_fare: u16,
    /// How many codes (counters 1..=max_uses) the credential may produce.
    pub max_uses: u8,
    /// Rider class and flags (e.g. concession); opaque to the gate.
    pub class_flags: u8,
    /// Operator group whose gates accept the credential.
    pub scope: u16,
}

impl CredentialTerms {
    /// Whether the window is one the issuer may sign: ordered and at most 26 h long.
    pub fn window_is_valid(&self) -> bool {
        self.not_after >= self.not_before && self.not_after - self.not_before <= MAX_CREDENTIAL_SPAN
    }
}

/// An issuer key as terminals and the server know it (no secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuerPublicKey {
    /// The id carried at offset 2 of every code it certifies.
    pub key_id: u16,
    /// Its suite; codes must carry the same suite byte.
    pub suite: Suite,
    /// The key itself.
    pub public_key: PublicKey,
    /// First second at which codes may be generated under it.
    pub not_before: u32,
    /// Last second at which codes may be generated under it (inclusive).
    pub not_after: u32,
}

impl IssuerPublicKey {
    /// Whether `time` lies in `[not_before, not_after]`.
    pub fn valid_at(&self, time: u32) -> bool {
        self.not_before <= time && time <= self.not_after
    }
}

/// The issuer's signing key with the id and validity it is published under.
#[derive(Debug)]
pub struct IssuerKeyPair {
    key_id: u16,
    not_before: u32,
    not_after: u32,
    key: KeyPair,
}

impl IssuerKeyPair {
    /// Wraps a key pair with its published id and validity.
    pub fn new(key_id: u16, not_before: u32, not_after: u32, key: KeyPair) -> IssuerKeyPair {
        IssuerKeyPair { key_id, not_before, not_after, key }
    }

    /// Builds the key pair from seed bytes (see [`KeyPair::from_seed`]).
    pub fn from_seed(
        suite: Suite,
        seed: &[u8; 32],
        key_id: u16,
        not_before: u32,
        not_after: u32,
    ) -> Result<IssuerKeyPair, Error> {
        Ok(IssuerKeyPair::new(key_id, not_before, not_after, KeyPair::from_seed(suite, seed)?))
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.key.suite()
    }

    /// The key as published to terminals.
    pub fn public(&self) -> IssuerPublicKey {
        IssuerPublicKey {
            key_id: self.key_id,
            suite: self.key.suite(),
            public_key: self.key.public_key(),
            not_before: self.not_before,
            not_after: self.not_after,
        }
    }

    /// Signs a credential certifying `device_key` under `terms`. Refuses terms a gate would
    /// reject anyway (bad window, zero uses) and a device key of another suite or not on the curve.
    pub fn issue(&self, terms: &CredentialTerms, device_key: &PublicKey) -> Result<Credential, Error> {
        if device_key.suite() != self.suite() {
            return Err(Error::SuiteMismatch);
        }
        PublicKey::certifiable(device_key.suite(), device_key.as_bytes())?;
        if !terms.window_is_valid() {
            return Err(Error::InvalidTerms("window must be ordered and at most 26 h"));
        }
        if terms.max_uses == 0 {
            return Err(Error::InvalidTerms("max uses must be at least 1"));
        }
        let mut credential = Credential {
            suite: self.suite(),
            issuer_key_id: self.key_id,
            terms: *terms,
            device_key: *device_key,
            issuer_signature: [0; 64],
        };
        let mut signed = Vec::with_capacity(credential_len(self.suite()));
        credential.write_signed_part(&mut signed);
        credential.issuer_signature = self.key.sign(tags::CREDENTIAL, &signed);
        Ok(credential)
    }
}

/// An issuer-signed credential. Parsing only checks structure; [`Credential::verify`] or the
/// terminal check ([`crate::verify`]) checks the signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credential {
    suite: Suite,
    issuer_key_id: u16,
    terms: CredentialTerms,
    device_key: PublicKey,
    issuer_signature: [u8; 64],
}

impl Credential {
    /// The suite of both the issuer key and the device key.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The id of the issuer key that signed it.
    pub fn issuer_key_id(&self) -> u16 {
        self.issuer_key_id
    }

    /// Account, window and limits.
    pub fn terms(&self) -> &CredentialTerms {
        &self.terms
    }

    /// The device public key it certifies (as carried; not validated by parsing).
    pub fn device_key(&self) -> &PublicKey {
        &self.device_key
    }

    /// The issuer's 64-byte signature.
    pub fn issuer_signature(&self) -> &[u8; 64] {
        &self.issuer_signature
    }

    /// Encoded length: 126 (Ed25519) or 127 (P-256, SM2).
    pub fn encoded_len(suite: Suite) -> usize {
        credential_len(suite)
    }

    fn write_signed_part(&self, out: &mut Vec<u8>) {
        let t = &self.terms;
        out.push(FORMAT_V1);
        out.push(self.suite.as_byte());
        out.extend_from_slice(&self.issuer_key_id.to_be_bytes());
        out.extend_from_slice(&t.account_id.to_be_bytes());
        out.extend_from_slice(&t.sequence.to_be_bytes());
        out.extend_from_slice(&t.not_before.to_be_bytes());
        out.extend_from_slice(&t.not_after.to_be_bytes());
        out.extend_from_slice(&t.max_fare.to_be_bytes());
        out.push(t.max_uses);
        out.push(t.class_flags);
        out.extend_from_slice(&t.scope.to_be_bytes());
        out.extend_from_slice(self.device_key.as_bytes());
    }

    /// Appends the encoded credential to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_signed_part(out);
        out.extend_from_slice(&self.issuer_signature);
    }

    /// The encoded credential.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(credential_len(self.suite));
        self.write(&mut out);
        out
    }

    /// Parses an encoded credential: exact length for its suite, format 1, known suite.
    pub fn parse(bytes: &[u8]) -> Result<Credential, Error> {
        let suite = match bytes.get(1) {
            Some(&b) => Suite::from_byte(b).ok_or(Error::UnknownSuite)?,
            None => return Err(Error::Length),
        };
        if bytes.len() != credential_len(suite) {
            return Err(Error::Length);
        }
        if bytes[0] != FORMAT_V1 {
            return Err(Error::UnknownFormat);
        }
        Ok(Credential::decode(bytes, suite))
    }

    /// Decodes the fields of a credential at the start of `bytes`, whose format, suite and
    /// length (at least [`credential_len`]) the caller has checked.
    pub(crate) fn decode(bytes: &[u8], suite: Suite) -> Credential {
        let key_end = signed_len(suite);
        let mut issuer_signature = [0u8; 64];
        issuer_signature.copy_from_slice(&bytes[key_end..key_end + 64]);
        Credential {
            suite,
            issuer_key_id: be_u16(bytes, 2),
            terms: CredentialTerms {
                account_id: be_u64(bytes, 4),
                sequence: be_u32(bytes, 12),
                not_before: be_u32(bytes, 16),
                not_after: be_u32(bytes, 20),
                max_fare: be_u16(bytes, 24),
                max_uses: bytes[26],
                class_flags: bytes[27],
                scope: be_u16(bytes, 28),
            },
            device_key: PublicKey::copied(suite, &bytes[DEVICE_KEY_AT..key_end]),
            issuer_signature,
        }
    }

    /// Checks the issuer signature against `issuer` (id and suite must match too).
    pub fn verify(&self, issuer: &IssuerPublicKey) -> Result<(), Error> {
        if issuer.key_id != self.issuer_key_id {
            return Err(Error::UnknownSigner);
        }
        if issuer.suite != self.suite {
            return Err(Error::SuiteMismatch);
        }
        self.verify_decoded(issuer.key_id, &DecodedKey::new(&issuer.public_key)?)
    }

    /// [`Credential::verify`] with the issuer key (published under `key_id`) decoded once.
    pub fn verify_decoded(&self, key_id: u16, issuer: &DecodedKey) -> Result<(), Error> {
        if key_id != self.issuer_key_id {
            return Err(Error::UnknownSigner);
        }
        if issuer.public_key().suite() != self.suite {
            return Err(Error::SuiteMismatch);
        }
        let mut signed = Vec::with_capacity(credential_len(self.suite));
        self.write_signed_part(&mut signed);
        if issuer.verifier().verify(tags::CREDENTIAL, &signed, &self.issuer_signature) {
            Ok(())
        } else {
            Err(Error::Signature)
        }
    }
}
