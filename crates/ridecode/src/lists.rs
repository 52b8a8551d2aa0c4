//! What a gate must trust offline: the issuer keys (a signed key list) and the refused accounts
//! (a signed blacklist), both pushed by the platform and both signed by a platform key.
//!
//! The two share one envelope so that a gate needs a single parser and a single rule for
//! freshness: `magic ‖ format ‖ signer suite ‖ signer key id ‖ version ‖ issued at ‖ body ‖
//! signature`, the signature covering a domain tag and every byte before it. The version lets a
//! gate refuse a rollback to an older list; the issue time tells it when its lists are stale.
//! Entries are strictly sorted on their key, so lookups are binary searches and every list has
//! one encoding.

use crate::credential::IssuerPublicKey;
use crate::suite::{KeyPair, PublicKey, Suite, Verifier};
use crate::wire::Reader;
use crate::{tags, Error};

const KEY_LIST_MAGIC: &[u8; 4] = b"RCKL";
const BLACKLIST_MAGIC: &[u8; 4] = b"RCBL";
const LIST_FORMAT: u8 = 0x01;

/// The platform's list-signing key.
#[derive(Debug)]
pub struct PlatformKeyPair {
    key_id: u16,
    key: KeyPair,
}

impl PlatformKeyPair {
    /// Wraps a key pair with the id gates know it by.
    pub fn new(key_id: u16, key: KeyPair) -> PlatformKeyPair {
        PlatformKeyPair { key_id, key }
    }

    /// From seed bytes (see [`KeyPair::from_seed`]).
    pub fn from_seed(suite: Suite, seed: &[u8; 32], key_id: u16) -> Result<PlatformKeyPair, Error> {
        Ok(PlatformKeyPair::new(key_id, KeyPair::from_seed(suite, seed)?))
    }

    /// What gates are provisioned with.
    pub fn public(&self) -> PlatformPublicKey {
        PlatformPublicKey { key_id: self.key_id, public_key: self.key.public_key() }
    }

    fn sign(&self, tag: &[u8], magic: &[u8; 4], version: u64, issued_at: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + body.len() + 64);
        out.extend_from_slice(magic);
        out.push(LIST_FORMAT);
        out.push(self.key.suite().as_byte());
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&issued_at.to_be_bytes());
        out.extend_from_slice(body);
        let sig = self.key.sign(tag, &out);
        out.extend_from_slice(&sig);
        out
    }
}

/// A platform key as a gate is provisioned with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformPublicKey {
    /// The id in the list envelope.
    pub key_id: u16,
    /// The key (its suite is the envelope's signer suite).
    pub public_key: PublicKey,
}

/// Checks the envelope and signature, returning version, issue time and the body reader.
fn open<'a>(
    bytes: &'a [u8],
    magic: &[u8; 4],
    tag: &[u8],
    trusted: &[PlatformPublicKey],
) -> Result<(u64, u32, Reader<'a>), Error> {
    let mut r = Reader::new(bytes);
    if r.take(4).ok_or(Error::Length)? != magic {
        return Err(Error::UnknownFormat);
    }
    if r.u8().ok_or(Error::Length)? != LIST_FORMAT {
        return Err(Error::UnknownFormat);
    }
    let suite = Suite::from_byte(r.u8().ok_or(Error::Length)?).ok_or(Error::UnknownSuite)?;
    let key_id = r.u16().ok_or(Error::Length)?;
    let version = r.u64().ok_or(Error::Length)?;
    let issued_at = r.u32().ok_or(Error::Length)?;
    let signed_len = bytes.len().checked_sub(64).filter(|&n| n >= r.pos()).ok_or(Error::Length)?;
    let signer = trusted
        .iter()
        .find(|k| k.key_id == key_id && k.public_key.suite() == suite)
        .ok_or(Error::UnknownSigner)?;
    let verifier = Verifier::new(&signer.public_key).ok_or(Error::InvalidKey)?;
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&bytes[signed_len..]);
    if !verifier.verify(tag, &bytes[..signed_len], &sig) {
        return Err(Error::Signature);
    }
    let header = r.pos();
    Ok((version, issued_at, Reader::new(&bytes[header..signed_len])))
}

/// One issuer key in a key list, with its revocation if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyListEntry {
    /// The key and its validity.
    pub key: IssuerPublicKey,
    /// Codes generated at or after this second are refused (the key leaked or was retired early).
    pub revoked_at: Option<u32>,
}

#[derive(Clone, Debug)]
struct TrustedKey {
    entry: KeyListEntry,
    verifier: Verifier,
}

/// The issuer keys a gate trusts, decoded once so that each code costs no key decoding.
#[derive(Clone, Debug)]
pub struct KeyList {
    version: u64,
    issued_at: u32,
    keys: Vec<TrustedKey>,
}

impl KeyList {
    /// Builds a key list; key ids must be unique and keys valid points of their suite.
    pub fn new(version: u64, issued_at: u32, mut entries: Vec<KeyListEntry>) -> Result<KeyList, Error> {
        entries.sort_by_key(|e| e.key.key_id);
        if entries.windows(2).any(|w| w[0].key.key_id == w[1].key.key_id) {
            return Err(Error::Malformed("duplicate issuer key id"));
        }
        if entries.len() > usize::from(u16::MAX) {
            return Err(Error::Malformed("too many issuer keys"));
        }
        let keys = entries
            .into_iter()
            .map(|entry| {
                if entry.revoked_at == Some(0) {
                    // 0 encodes "not revoked"; a key revoked from the start is simply not listed.
                    return Err(Error::Malformed("revoked_at 0"));
                }
                if entry.key.public_key.suite() != entry.key.suite {
                    return Err(Error::SuiteMismatch);
                }
                let verifier = Verifier::new(&entry.key.public_key).ok_or(Error::InvalidKey)?;
                Ok(TrustedKey { entry, verifier })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(KeyList { version, issued_at, keys })
    }

    /// Monotonic version; a gate refuses to replace a list with one of a lower version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the platform issued it, Unix seconds; drives staleness.
    pub fn issued_at(&self) -> u32 {
        self.issued_at
    }

    /// The entries, sorted by key id.
    pub fn entries(&self) -> impl Iterator<Item = &KeyListEntry> {
        self.keys.iter().map(|k| &k.entry)
    }

    /// The entry for `key_id`, if listed.
    pub fn get(&self, key_id: u16) -> Option<&KeyListEntry> {
        self.trusted(key_id).map(|(e, _)| e)
    }

    pub(crate) fn trusted(&self, key_id: u16) -> Option<(&KeyListEntry, &Verifier)> {
        let i = self.keys.binary_search_by_key(&key_id, |k| k.entry.key.key_id).ok()?;
        self.keys.get(i).map(|k| (&k.entry, &k.verifier))
    }

    /// Encodes and signs the list.
    pub fn sign(&self, signer: &PlatformKeyPair) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(self.keys.len() as u16).to_be_bytes());
        for TrustedKey { entry, .. } in &self.keys {
            let k = &entry.key;
            body.extend_from_slice(&k.key_id.to_be_bytes());
            body.push(k.suite.as_byte());
            body.extend_from_slice(&k.not_before.to_be_bytes());
            body.extend_from_slice(&k.not_after.to_be_bytes());
            body.extend_from_slice(&entry.revoked_at.unwrap_or(0).to_be_bytes());
            body.extend_from_slice(k.public_key.as_bytes());
        }
        signer.sign(tags::KEY_LIST, KEY_LIST_MAGIC, self.version, self.issued_at, &body)
    }

    /// Checks the signature against the trusted platform keys, then decodes. Never panics.
    pub fn parse_verified(bytes: &[u8], trusted: &[PlatformPublicKey]) -> Result<KeyList, Error> {
        let (version, issued_at, mut r) = open(bytes, KEY_LIST_MAGIC, tags::KEY_LIST, trusted)?;
        let count = r.u16().ok_or(Error::Length)?;
        let mut entries = Vec::with_capacity(usize::from(count).min(r.remaining() / 47));
        let mut previous: Option<u16> = None;
        for _ in 0..count {
            let key_id = r.u16().ok_or(Error::Length)?;
            if previous.is_some_and(|p| p >= key_id) {
                return Err(Error::Malformed("issuer key ids not strictly ascending"));
            }
            previous = Some(key_id);
            let suite = Suite::from_byte(r.u8().ok_or(Error::Length)?).ok_or(Error::UnknownSuite)?;
            let not_before = r.u32().ok_or(Error::Length)?;
            let not_after = r.u32().ok_or(Error::Length)?;
            let revoked_at = r.u32().ok_or(Error::Length)?;
            let key_bytes = r.take(suite.public_key_len()).ok_or(Error::Length)?;
            let public_key = PublicKey::from_bytes(suite, key_bytes)?;
            entries.push(KeyListEntry {
                key: IssuerPublicKey { key_id, suite, public_key, not_before, not_after },
                revoked_at: (revoked_at != 0).then_some(revoked_at),
            });
        }
        if r.remaining() != 0 {
            return Err(Error::Length);
        }
        KeyList::new(version, issued_at, entries)
    }
}

/// One refused account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlacklistEntry {
    /// The account id carried in codes.
    pub account_id: u64,
    /// The entry is in force while the terminal's time is at or before this (Unix seconds);
    /// the platform sets it to the expiry of the account's last credential.
    pub until: u32,
}

/// The accounts a gate refuses (debt, card refund, clone detected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blacklist {
    version: u64,
    issued_at: u32,
    entries: Vec<BlacklistEntry>,
}

impl Blacklist {
    /// Builds a blacklist; an account listed twice keeps its latest `until`.
    pub fn new(version: u64, issued_at: u32, mut entries: Vec<BlacklistEntry>) -> Blacklist {
        entries.sort();
        // After sorting, the last of each run of equal accounts has the largest `until`.
        entries.reverse();
        entries.dedup_by_key(|e| e.account_id);
        entries.reverse();
        Blacklist { version, issued_at, entries }
    }

    /// Monotonic version; a gate refuses to replace a list with one of a lower version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the platform issued it, Unix seconds; drives staleness.
    pub fn issued_at(&self) -> u32 {
        self.issued_at
    }

    /// The entries, sorted by account.
    pub fn entries(&self) -> &[BlacklistEntry] {
        &self.entries
    }

    /// Whether `account_id` is refused at terminal time `now`.
    pub fn is_blocked(&self, account_id: u64, now: u64) -> bool {
        match self.entries.binary_search_by_key(&account_id, |e| e.account_id) {
            Ok(i) => self.entries.get(i).is_some_and(|e| now <= u64::from(e.until)),
            Err(_) => false,
        }
    }

    /// Encodes and signs the list.
    pub fn sign(&self, signer: &PlatformKeyPair) -> Vec<u8> {
        let mut body = Vec::with_capacity(4 + self.entries.len() * 12);
        body.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            body.extend_from_slice(&e.account_id.to_be_bytes());
            body.extend_from_slice(&e.until.to_be_bytes());
        }
        signer.sign(tags::BLACKLIST, BLACKLIST_MAGIC, self.version, self.issued_at, &body)
    }

    /// Checks the signature against the trusted platform keys, then decodes. Never panics.
    pub fn parse_verified(bytes: &[u8], trusted: &[PlatformPublicKey]) -> Result<Blacklist, Error> {
        let (version, issued_at, mut r) = open(bytes, BLACKLIST_MAGIC, tags::BLACKLIST, trusted)?;
        let count = r.u32().ok_or(Error::Length)?;
        let count = usize::try_from(count).map_err(|_| Error::Length)?;
        if count.checked_mul(12) != Some(r.remaining()) {
            return Err(Error::Length);
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let account_id = r.u64().ok_or(Error::Length)?;
            let until = r.u32().ok_or(Error::Length)?;
            if entries.last().is_some_and(|p: &BlacklistEntry| p.account_id >= account_id) {
                return Err(Error::Malformed("blacklisted accounts not strictly ascending"));
            }
            entries.push(BlacklistEntry { account_id, until });
        }
        Ok(Blacklist { version, issued_at, entries })
    }
}
