//! The code a phone shows: its credential, a generation time, a counter, and the device signature.
//!
//! The phone redraws the code every 30 s with a new generation time and the next counter, so a
//! photo of the screen is useless after a minute and each counter can be charged once. Layout
//! after the credential (δ = 0 for Ed25519, 1 for P-256 and SM2):
//!
//! ```text
//! 126+δ generation time u32 | 130+δ counter u16
//! 132+δ device signature (64) over "RCv1/code" ‖ bytes[0..132+δ]      total 196+δ bytes
//! ```

use crate::credential::{credential_len, Credential};
use crate::suite::{KeyPair, PublicKey, Suite, Verifier};
use crate::wire::{be_u16, be_u32};
use crate::{base45, tags, Error, FORMAT_V1};
use rand_core::CryptoRng;

/// Bytes covered by the device signature for `suite` (132 or 133).
pub(crate) fn code_signed_len(suite: Suite) -> usize {
    credential_len(suite) + 6
}

/// Total code length for `suite` (196 or 197).
pub(crate) fn code_len(suite: Suite) -> usize {
    code_signed_len(suite) + 64
}

/// Why a byte string is not a well-formed code, in the order a terminal checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Structure {
    Length,
    UnknownFormat,
    UnknownSuite,
}

/// The structural checks, in the terminal's order: length first (exact for the suite byte when
/// it names a known suite, else one of the two code lengths), then format, then suite. Total on
/// every input.
pub(crate) fn check_structure(bytes: &[u8]) -> Result<Suite, Structure> {
    let known_lengths = [code_len(Suite::Ed25519), code_len(Suite::P256)];
    if !known_lengths.contains(&bytes.len()) {
        return Err(Structure::Length);
    }
    let suite = bytes.get(1).copied().and_then(Suite::from_byte);
    if let Some(suite) = suite {
        if bytes.len() != code_len(suite) {
            return Err(Structure::Length);
        }
    }
    if bytes.first() != Some(&FORMAT_V1) {
        return Err(Structure::UnknownFormat);
    }
    suite.ok_or(Structure::UnknownSuite)
}

/// A phone's device key pair, fresh each day, certified by that day's credential.
#[derive(Debug)]
pub struct DeviceKeyPair(KeyPair);

impl DeviceKeyPair {
    /// From seed bytes (see [`KeyPair::from_seed`]).
    pub fn from_seed(suite: Suite, seed: &[u8; 32]) -> Result<DeviceKeyPair, Error> {
        KeyPair::from_seed(suite, seed).map(DeviceKeyPair)
    }

    /// From the caller's cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(suite: Suite, rng: &mut R) -> DeviceKeyPair {
        DeviceKeyPair(KeyPair::generate(suite, rng))
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.0.suite()
    }

    /// The public key the issuer certifies.
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
}

/// A ride code. Parsing checks structure only; the terminal check ([`crate::verify`]) checks
/// everything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RideCode {
    credential: Credential,
    generated_at: u32,
    counter: u16,
    device_signature: [u8; 64],
}

impl RideCode {
    /// Signs a code for `credential` with the device key it certifies. The counter is not
    /// range-checked here: keeping it within `1..=max_uses` and increasing is the phone's job,
    /// and refusing it otherwise is the gate's.
    pub fn generate(
        credential: &Credential,
        device: &DeviceKeyPair,
        generated_at: u32,
        counter: u16,
    ) -> Result<RideCode, Error> {
        if device.public_key() != *credential.device_key() {
            return Err(Error::DeviceKeyMismatch);
        }
        let mut code = RideCode { credential: *credential, generated_at, counter, device_signature: [0; 64] };
        let signed = code.signed_bytes();
        code.device_signature = device.0.sign(tags::CODE, &signed);
        Ok(code)
    }

    /// Encoded length: 196 (Ed25519) or 197 (P-256, SM2).
    pub fn encoded_len(suite: Suite) -> usize {
        code_len(suite)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(code_len(self.credential.suite()));
        self.credential.write(&mut out);
        out.extend_from_slice(&self.generated_at.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
        out
    }

    /// The raw bytes, as a QR code carries them in byte mode.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.device_signature);
        out
    }

    /// The Base45 text form, for a QR code in alphanumeric mode or for copying around.
    pub fn to_base45(&self) -> String {
        base45::encode(&self.to_bytes())
    }

    /// Parses raw bytes: exact length for the suite, format 1, known suite. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<RideCode, Error> {
        let suite = check_structure(bytes).map_err(|e| match e {
            Structure::Length => Error::Length,
            Structure::UnknownFormat => Error::UnknownFormat,
            Structure::UnknownSuite => Error::UnknownSuite,
        })?;
        Ok(RideCode::decode(bytes, suite))
    }

    /// Parses the Base45 text form.
    pub fn from_base45(text: &str) -> Result<RideCode, Error> {
        RideCode::parse(&base45::decode(text)?)
    }

    /// Decodes fields from bytes that passed [`check_structure`] for `suite`.
    pub(crate) fn decode(bytes: &[u8], suite: Suite) -> RideCode {
        let at = credential_len(suite);
        let mut device_signature = [0u8; 64];
        device_signature.copy_from_slice(&bytes[at + 6..at + 70]);
        RideCode {
            credential: Credential::decode(bytes, suite),
            generated_at: be_u32(bytes, at),
            counter: be_u16(bytes, at + 4),
            device_signature,
        }
    }

    /// The credential the code carries.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Generation time, Unix seconds (the phone's clock).
    pub fn generated_at(&self) -> u32 {
        self.generated_at
    }

    /// Use counter within the credential, 1..=max uses.
    pub fn counter(&self) -> u16 {
        self.counter
    }

    /// The device's 64-byte signature.
    pub fn device_signature(&self) -> &[u8; 64] {
        &self.device_signature
    }

    /// Checks the device signature, strictly, against the device key in the credential. This
    /// alone proves nothing about the rider: only with the issuer signature does it mean anything.
    pub fn verify_device_signature(&self) -> Result<(), Error> {
        let verifier = Verifier::new(self.credential.device_key()).ok_or(Error::InvalidKey)?;
        if verifier.verify(tags::CODE, &self.signed_bytes(), &self.device_signature) {
            Ok(())
        } else {
            Err(Error::Signature)
        }
    }
}
