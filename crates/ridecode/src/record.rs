//! Terminal records: what a gate appends to its upload queue for each accepted code.
//!
//! The record carries the raw code, so the server can re-run every check itself, plus where
//! and when the gate saw it. It is signed with the gate's own Ed25519 key so that the server can
//! tell a gate's upload from a forgery and can hold each gate to its sequence numbers (the
//! upload is idempotent on terminal id and sequence; the same pair with other content is an
//! alarm). Layout, big-endian:
//!
//! ```text
//! 0 "RCTR" | 4 format 0x01 | 5 terminal id u64 | 13 terminal sequence u64 | 21 time u32
//! 25 direction u8 (1 in, 2 out) | 26 stop id u32 | 30 code length u16 (196 or 197)
//! 32 code | 32+len terminal signature (64) over "RCv1/record" ‖ bytes[0..32+len]
//! ```

use crate::code::check_structure;
use crate::suite::{DecodedKey, KeyPair, PublicKey, Suite};
use crate::wire::Reader;
use crate::{tags, Error};
use rand_core::CryptoRng;

const RECORD_MAGIC: &[u8; 4] = b"RCTR";
const RECORD_FORMAT: u8 = 0x01;

/// Whether the rider was entering or leaving (distance fares pair the two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
    /// Tap-in.
    In = 1,
    /// Tap-out.
    Out = 2,
}

impl Direction {
    /// The direction for a wire byte, if known.
    pub fn from_byte(byte: u8) -> Option<Direction> {
        match byte {
            1 => Some(Direction::In),
            2 => Some(Direction::Out),
            _ => None,
        }
    }
}

/// A gate's record signing key. Always Ed25519: gates sign often and the server verifies
/// batches, and nothing outside saoma needs to check these signatures.
#[derive(Debug)]
pub struct TerminalKeyPair(KeyPair);

impl TerminalKeyPair {
    /// From 32 seed bytes (the RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> TerminalKeyPair {
        TerminalKeyPair(KeyPair::ed25519(seed))
    }

    /// From the caller's cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> TerminalKeyPair {
        TerminalKeyPair(KeyPair::generate(Suite::Ed25519, rng))
    }

    /// The key the server registers for the gate.
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
}

/// One accepted tap, as the gate queues it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TerminalRecord {
    /// The gate.
    pub terminal_id: u64,
    /// The gate's own gap-free sequence number.
    pub terminal_sequence: u64,
    /// The gate's clock at the tap, Unix seconds.
    pub time: u32,
    /// In or out.
    pub direction: Direction,
    /// The stop or station.
    pub stop_id: u32,
    /// The raw code bytes exactly as scanned.
    pub code: Vec<u8>,
}

impl TerminalRecord {
    /// Encodes and signs the record. The code must be structurally a code (196 or 197 bytes,
    /// format 1, known suite), as it is for every accepted tap.
    pub fn sign(&self, key: &TerminalKeyPair) -> Result<Vec<u8>, Error> {
        check_structure(&self.code).map_err(|_| Error::Malformed("code"))?;
        let mut out = Vec::with_capacity(32 + self.code.len() + 64);
        out.extend_from_slice(RECORD_MAGIC);
        out.push(RECORD_FORMAT);
        out.extend_from_slice(&self.terminal_id.to_be_bytes());
        out.extend_from_slice(&self.terminal_sequence.to_be_bytes());
        out.extend_from_slice(&self.time.to_be_bytes());
        out.push(self.direction as u8);
        out.extend_from_slice(&self.stop_id.to_be_bytes());
        out.extend_from_slice(&(self.code.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.code);
        let sig = key.0.sign(tags::RECORD, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }

    /// Decodes a signed record without checking the signature, so the server can look up the
    /// gate's key by terminal id first. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<SignedTerminalRecord, Error> {
        let mut r = Reader::new(bytes);
        if r.take(4).ok_or(Error::Length)? != RECORD_MAGIC || r.u8().ok_or(Error::Length)? != RECORD_FORMAT {
            return Err(Error::UnknownFormat);
        }
        let terminal_id = r.u64().ok_or(Error::Length)?;
        let terminal_sequence = r.u64().ok_or(Error::Length)?;
        let time = r.u32().ok_or(Error::Length)?;
        let direction = Direction::from_byte(r.u8().ok_or(Error::Length)?)
            .ok_or(Error::Malformed("direction"))?;
        let stop_id = r.u32().ok_or(Error::Length)?;
        let len = r.u16().ok_or(Error::Length)?;
        let code = r.take(usize::from(len)).ok_or(Error::Length)?;
        check_structure(code).map_err(|_| Error::Malformed("code"))?;
        let signed_len = r.pos();
        let signature = r.array::<64>().ok_or(Error::Length)?;
        if r.remaining() != 0 {
            return Err(Error::Length);
        }
        Ok(SignedTerminalRecord {
            record: TerminalRecord {
                terminal_id,
                terminal_sequence,
                time,
                direction,
                stop_id,
                code: code.to_vec(),
            },
            signed: bytes[..signed_len].to_vec(),
            signature,
        })
    }
}

/// A decoded record with its signature still to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTerminalRecord {
    record: TerminalRecord,
    signed: Vec<u8>,
    signature: [u8; 64],
}

impl SignedTerminalRecord {
    /// The record's fields (not yet authenticated).
    pub fn record(&self) -> &TerminalRecord {
        &self.record
    }

    /// Checks the terminal signature against the gate's registered key (Ed25519, strict) and
    /// returns the authenticated record.
    pub fn verify(self, terminal_key: &PublicKey) -> Result<TerminalRecord, Error> {
        if terminal_key.suite() != Suite::Ed25519 {
            return Err(Error::SuiteMismatch);
        }
        self.verify_decoded(&DecodedKey::new(terminal_key)?)
    }

    /// [`SignedTerminalRecord::verify`] with the gate's key decoded once for a whole batch.
    pub fn verify_decoded(self, terminal_key: &DecodedKey) -> Result<TerminalRecord, Error> {
        self.check_signature(terminal_key)?;
        Ok(self.record)
    }

    /// Checks the terminal signature (Ed25519, strict) without giving up the record.
    pub fn check_signature(&self, terminal_key: &DecodedKey) -> Result<(), Error> {
        if terminal_key.public_key().suite() != Suite::Ed25519 {
            return Err(Error::SuiteMismatch);
        }
        if terminal_key.verifier().verify(tags::RECORD, &self.signed, &self.signature) {
            Ok(())
        } else {
            Err(Error::Signature)
        }
    }

    /// The record's fields, authenticated or not: for a caller that checked the signature with
    /// [`SignedTerminalRecord::check_signature`].
    pub fn into_record(self) -> TerminalRecord {
        self.record
    }
}
