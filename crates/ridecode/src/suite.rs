//! Signature suites: one place that knows how each algorithm encodes keys and signatures.
//!
//! Every signature in the format is 64 bytes: Ed25519 natively, ECDSA P-256 and SM2 as raw
//! `r ‖ s` (32 bytes each, big-endian). Public keys are 32 bytes (Ed25519) or 33 bytes
//! (compressed SEC1) so that a code fits QR version 10 at level M.
//!
//! Malleability is closed on every suite, because the terminal's replay memory and the server's
//! dedupe key on the signed content, and a second valid encoding of the same signature must not
//! exist: Ed25519 uses strict verification (`s` < L, `R` and the key canonically encoded and
//! not of small order, the cofactorless equation, as ed25519-dalek's `verify_strict`), P-256
//! signs low-S and refuses high-S, SM2 needs nothing extra (its verification equation fixes `s`).
//!
//! SM2 uses the default distinguishing identifier of GM/T 0009-2012, `1234567812345678`, since
//! the RustCrypto `sm2` crate leaves the choice to the caller and gate vendors' SM2 libraries
//! default to it.

use crate::Error;
use p256::ecdsa::signature::{MultipartSigner, MultipartVerifier};
use p256::elliptic_curve::sec1::ToSec1Point;
use rand_core::CryptoRng;

/// The SM2 distinguishing identifier (GM/T 0009-2012 default user ID).
pub const SM2_DISTINGUISHING_ID: &str = "1234567812345678";

/// A signature suite; its number is byte 1 of every code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Suite {
    /// Ed25519 (RFC 8032), strict verification. The default.
    Ed25519 = 1,
    /// ECDSA over NIST P-256 with SHA-256, low-S only.
    P256 = 2,
    /// SM2 signatures with SM3 (GB/T 32918, GM/T 0003), the Chinese national standard.
    Sm2 = 3,
}

impl Suite {
    /// All suites, in wire-number order.
    pub const ALL: [Suite; 3] = [Suite::Ed25519, Suite::P256, Suite::Sm2];

    /// The suite for a wire byte, if known.
    pub fn from_byte(byte: u8) -> Option<Suite> {
        match byte {
            1 => Some(Suite::Ed25519),
            2 => Some(Suite::P256),
            3 => Some(Suite::Sm2),
            _ => None,
        }
    }

    /// The wire byte.
    pub fn as_byte(self) -> u8 {
        self as u8
    }

    /// Length of a public key: 32 for Ed25519, 33 (compressed SEC1) otherwise.
    pub fn public_key_len(self) -> usize {
        match self {
            Suite::Ed25519 => 32,
            Suite::P256 | Suite::Sm2 => 33,
        }
    }

    /// A stable lowercase name, for JSON and logs.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Ed25519 => "ed25519",
            Suite::P256 => "p256",
            Suite::Sm2 => "sm2",
        }
    }
}

/// A public key of some suite, checked to be a valid point when built with [`PublicKey::from_bytes`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey {
    suite: Suite,
    bytes: [u8; 33],
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PublicKey({}:", self.suite.name())?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl PublicKey {
    /// Parses and validates a public key of `suite` (32 bytes Ed25519, 33 bytes compressed SEC1).
    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Result<PublicKey, Error> {
        let key = PublicKey::raw(suite, bytes)?;
        Verifier::new(&key).ok_or(Error::InvalidKey)?;
        Ok(key)
    }

    /// Parses a device key that an issuer may certify: everything [`PublicKey::from_bytes`]
    /// checks, and for Ed25519 not of small order (anyone can forge signatures that lax verifiers
    /// accept under such a key, and strict verifiers accept none). [`Error::InvalidKey`] otherwise.
    pub fn certifiable(suite: Suite, bytes: &[u8]) -> Result<PublicKey, Error> {
        let key = PublicKey::raw(suite, bytes)?;
        match Verifier::new(&key) {
            Some(v) if !v.is_weak() => Ok(key),
            _ => Err(Error::InvalidKey),
        }
    }

    /// Wraps bytes of the right length without checking the point; the signature check fails
    /// later if the point is invalid. Used where parsing must stay cheap and total.
    pub(crate) fn raw(suite: Suite, bytes: &[u8]) -> Result<PublicKey, Error> {
        if bytes.len() != suite.public_key_len() {
            return Err(Error::Length);
        }
        let mut out = [0u8; 33];
        out[..bytes.len()].copy_from_slice(bytes);
        Ok(PublicKey { suite, bytes: out })
    }

    /// Copies a key of `suite` out of `bytes`, which the caller has sized; never fails, so
    /// decoders over length-checked input need no error path.
    pub(crate) fn copied(suite: Suite, bytes: &[u8]) -> PublicKey {
        let mut out = [0u8; 33];
        let n = suite.public_key_len().min(bytes.len());
        out[..n].copy_from_slice(&bytes[..n]);
        PublicKey { suite, bytes: out }
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The encoded key (32 or 33 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.suite.public_key_len()]
    }
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Sm2(sm2::dsa::SigningKey),
}

/// A private key of some suite with its public key. Built from 32 seed bytes so that tests and
/// published vectors are reproducible, or from a caller's RNG; never from OS randomness here.
pub struct KeyPair {
    secret: Secret,
    public: PublicKey,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Builds a key pair from 32 seed bytes: the RFC 8032 secret key for Ed25519; for P-256 and
    /// SM2 the private scalar, big-endian, which must lie in `[1, n-1]` ([`Error::InvalidSeed`]
    /// otherwise).
    pub fn from_seed(suite: Suite, seed: &[u8; 32]) -> Result<KeyPair, Error> {
        let secret = match suite {
            Suite::Ed25519 => Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)),
            Suite::P256 => Secret::P256(
                p256::ecdsa::SigningKey::from_slice(seed).map_err(|_| Error::InvalidSeed)?,
            ),
            Suite::Sm2 => Secret::Sm2(
                sm2::dsa::SigningKey::from_slice(SM2_DISTINGUISHING_ID, seed)
                    .map_err(|_| Error::InvalidSeed)?,
            ),
        };
        let public = match &secret {
            Secret::Ed25519(k) => PublicKey::raw(suite, k.verifying_key().as_bytes()),
            Secret::P256(k) => {
                PublicKey::raw(suite, k.verifying_key().to_sec1_point(true).as_bytes())
            }
            Secret::Sm2(k) => {
                PublicKey::raw(suite, k.verifying_key().as_affine().to_sec1_point(true).as_bytes())
            }
        }?;
        Ok(KeyPair { secret, public })
    }

    /// Ed25519 from a seed; infallible because every 32-byte string is an Ed25519 secret key.
    pub(crate) fn ed25519(seed: &[u8; 32]) -> KeyPair {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::copied(Suite::Ed25519, key.verifying_key().as_bytes());
        KeyPair { secret: Secret::Ed25519(key), public }
    }

    /// Builds a fresh key pair from the caller's cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(suite: Suite, rng: &mut R) -> KeyPair {
        loop {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            // Only P-256/SM2 seeds can be invalid, with probability below 2^-32; draw again.
            if let Ok(pair) = KeyPair::from_seed(suite, &seed) {
                return pair;
            }
        }
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.public.suite
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs `tag ‖ body`, returning the 64-byte wire signature. Deterministic on every suite:
    /// Ed25519 by construction, P-256 by RFC 6979, SM2 by RFC 6979-style nonces with HMAC-SM3.
    pub(crate) fn sign(&self, tag: &[u8], body: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        match &self.secret {
            Secret::Ed25519(k) => out = k.multipart_sign(&[tag, body]).to_bytes(),
            Secret::P256(k) => {
                let sig: p256::ecdsa::Signature = k.multipart_sign(&[tag, body]);
                out.copy_from_slice(&sig.normalize_s().to_bytes());
            }
            Secret::Sm2(k) => {
                let sig: sm2::dsa::Signature = k.multipart_sign(&[tag, body]);
                out.copy_from_slice(&sig.to_bytes());
            }
        }
        out
    }
}

/// A public key decoded once for many verifications: point decompression (and for SM2 the SM3
/// identity hash) is paid here, not per signature. For a verifier that meets the same keys again
/// and again, such as a server checking a gate's records or an issuer's credentials in batches.
#[derive(Clone, Debug)]
pub struct DecodedKey {
    public: PublicKey,
    verifier: Verifier,
}

impl DecodedKey {
    /// Decodes `key`; [`Error::InvalidKey`] if it is not a point of its suite.
    pub fn new(key: &PublicKey) -> Result<DecodedKey, Error> {
        Ok(DecodedKey { public: *key, verifier: Verifier::new(key).ok_or(Error::InvalidKey)? })
    }

    /// The key as encoded.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// A public key decoded into the form its algorithm verifies with. Decoding costs a point
/// decompression (and for SM2 the SM3 identity hash `Z`), so gates keep these in the key list
/// and the credential cache rather than decoding per code.
#[derive(Clone, Debug)]
pub(crate) enum Verifier {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Sm2(sm2::dsa::VerifyingKey),
}

impl Verifier {
    /// Whether the key is a small-order Ed25519 point: verifiable only non-strictly, and never
    /// worth certifying, since anyone can forge signatures that pass lax verifiers.
    pub(crate) fn is_weak(&self) -> bool {
        matches!(self, Verifier::Ed25519(k) if k.is_weak())
    }

    pub(crate) fn new(key: &PublicKey) -> Option<Verifier> {
        let bytes = key.as_bytes();
        match key.suite {
            Suite::Ed25519 => {
                let arr: &[u8; 32] = bytes.try_into().ok()?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(arr).ok()?;
                // Canonical encodings only (y < p, and no "negative zero" x): a second encoding
                // of the same point would be a second identity for the same key.
                (key.to_edwards().compress().as_bytes() == arr).then_some(Verifier::Ed25519(key))
            }
            Suite::P256 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).ok().map(Verifier::P256)
            }
            Suite::Sm2 => sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTINGUISHING_ID, bytes)
                .ok()
                .map(Verifier::Sm2),
        }
    }

    /// Verifies a 64-byte wire signature over `tag ‖ body`, strictly.
    pub(crate) fn verify(&self, tag: &[u8], body: &[u8], sig: &[u8; 64]) -> bool {
        match self {
            Verifier::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_bytes(sig);
                // verify_strict needs one contiguous message; codes fit on the stack.
                let mut stack = [0u8; 256];
                let len = tag.len() + body.len();
                if len <= stack.len() {
                    stack[..tag.len()].copy_from_slice(tag);
                    stack[tag.len()..len].copy_from_slice(body);
                    k.verify_strict(&stack[..len], &sig).is_ok()
                } else {
                    let mut msg = Vec::with_capacity(len);
                    msg.extend_from_slice(tag);
                    msg.extend_from_slice(body);
                    k.verify_strict(&msg, &sig).is_ok()
                }
            }
            Verifier::P256(k) => {
                let Ok(sig) = p256::ecdsa::Signature::from_slice(sig) else {
                    return false;
                };
                // High-S is the second valid encoding of the same signature; refuse it.
                if sig.normalize_s() != sig {
                    return false;
                }
                k.multipart_verify(&[tag, body], &sig).is_ok()
            }
            Verifier::Sm2(k) => {
                let Ok(sig) = sm2::dsa::Signature::from_slice(sig) else {
                    return false;
                };
                k.multipart_verify(&[tag, body], &sig).is_ok()
            }
        }
    }
}
