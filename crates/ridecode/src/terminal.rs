//! The gate's offline check, in the order the specification fixes.
//!
//! The order matters for two reasons. Cheap structural checks come first so garbage costs
//! nothing; and each refusal names the first rule broken, so a gate vendor's implementation and
//! ours give the same answer (`Reject::code`) on the same input, which the server relies on when
//! it re-runs the checks on uploaded records.
//!
//! Everything a gate remembers lives in structs the caller owns and bounds: a
//! [`CredentialCache`] (issuer signatures already verified, so each costs one verification per
//! credential rather than per code) and a [`TerminalState`] (codes already accepted, and each
//! account's last tap, for replay and double-tap detection). No clock is read: the caller passes
//! the gate's time.

use crate::code::{check_structure, Structure};
use crate::credential::{credential_len, DEVICE_KEY_AT};
use crate::lists::{Blacklist, KeyList};
use crate::suite::{PublicKey, Suite, Verifier};
use crate::wire::{be_u16, be_u32, be_u64};
use crate::{
    tags, Error, DOUBLE_TAP_WINDOW, MAX_CODE_AGE, MAX_CODE_FUTURE, MAX_CREDENTIAL_SPAN, STALE_AFTER,
    WINDOW_GRACE,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Why a gate refused a code. One variant per check, in check order; [`Reject::code`] is the
/// stable snake_case name used in logs, APIs and the specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Not 196 bytes for Ed25519 or 197 for P-256/SM2 (or empty, truncated, extended).
    Length,
    /// Format byte is not 0x01.
    UnknownFormat,
    /// Suite byte is not 1, 2 or 3.
    UnknownSuite,
    /// The credential's scope is not the gate's operator group.
    ScopeMismatch,
    /// No key with this id and suite in the gate's key list.
    UnknownIssuerKey,
    /// The issuer key was not valid at the code's generation time.
    IssuerKeyExpired,
    /// The issuer key was revoked at or before the code's generation time.
    IssuerKeyRevoked,
    /// The issuer signature over the credential does not verify.
    IssuerSignature,
    /// Generation time outside the credential window (±300 s), or a window the issuer may not sign.
    OutsideWindow,
    /// The device signature over the code does not verify (strictly), or the device key is invalid.
    DeviceSignature,
    /// Generated more than 60 s before the gate's time.
    CodeTooOld,
    /// Generated more than 30 s after the gate's time.
    CodeFromFuture,
    /// Counter is 0 or above the credential's max uses.
    CounterOutOfRange,
    /// The account is on the blacklist.
    Blacklisted,
    /// This (account, credential sequence, counter) was already accepted by this gate.
    Replay,
    /// The fare exceeds the credential's max fare.
    FareAboveMax,
    /// The key list or blacklist is stale and the fare exceeds the gate's stale-fare limit (or
    /// the limit is 0).
    StaleLists,
}

impl Reject {
    /// Every variant, in check order.
    pub const ALL: [Reject; 17] = [
        Reject::Length,
        Reject::UnknownFormat,
        Reject::UnknownSuite,
        Reject::ScopeMismatch,
        Reject::UnknownIssuerKey,
        Reject::IssuerKeyExpired,
        Reject::IssuerKeyRevoked,
        Reject::IssuerSignature,
        Reject::OutsideWindow,
        Reject::DeviceSignature,
        Reject::CodeTooOld,
        Reject::CodeFromFuture,
        Reject::CounterOutOfRange,
        Reject::Blacklisted,
        Reject::Replay,
        Reject::FareAboveMax,
        Reject::StaleLists,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reject::Length => "length",
            Reject::UnknownFormat => "unknown_format",
            Reject::UnknownSuite => "unknown_suite",
            Reject::ScopeMismatch => "scope_mismatch",
            Reject::UnknownIssuerKey => "unknown_issuer_key",
            Reject::IssuerKeyExpired => "issuer_key_expired",
            Reject::IssuerKeyRevoked => "issuer_key_revoked",
            Reject::IssuerSignature => "issuer_signature",
            Reject::OutsideWindow => "outside_window",
            Reject::DeviceSignature => "device_signature",
            Reject::CodeTooOld => "code_too_old",
            Reject::CodeFromFuture => "code_from_future",
            Reject::CounterOutOfRange => "counter_out_of_range",
            Reject::Blacklisted => "blacklisted",
            Reject::Replay => "replay",
            Reject::FareAboveMax => "fare_above_max",
            Reject::StaleLists => "stale_lists",
        }
    }

    /// The variant for a stable code, the inverse of [`Reject::code`].
    pub fn from_code(code: &str) -> Option<Reject> {
        Reject::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The first structural check (1–3) that `code` fails, if any: what a gate answers before it
    /// reads a single field, and what the platform answers for a record whose code cannot be read.
    pub fn structural(code: &[u8]) -> Option<Reject> {
        check_structure(code).err().map(Reject::of_structure)
    }

    fn of_structure(e: Structure) -> Reject {
        match e {
            Structure::Length => Reject::Length,
            Structure::UnknownFormat => Reject::UnknownFormat,
            Structure::UnknownSuite => Reject::UnknownSuite,
        }
    }
}

impl core::fmt::Display for Reject {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Reject {}

/// Whether an accepted tap is new or a repeat of the rider's last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapKind {
    /// A new tap: the caller appends a signed record.
    New,
    /// The same account at this gate within 10 s: open the gate, but append no record.
    DoubleTap,
}

/// What a gate learns from an accepted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// New tap or double tap.
    pub tap: TapKind,
    /// Suite of the code.
    pub suite: Suite,
    /// The issuer key that certified the credential.
    pub issuer_key_id: u16,
    /// The rider's pseudonymous account.
    pub account_id: u64,
    /// The credential's sequence.
    pub credential_sequence: u32,
    /// The code's counter.
    pub counter: u16,
    /// The code's generation time (phone clock).
    pub generated_at: u32,
    /// The credential's max fare, minor units.
    pub max_fare: u16,
    /// The credential's class/flags.
    pub class_flags: u8,
    /// Accepted under the stale-list allowance.
    pub stale: bool,
    /// The issuer signature came from the cache (not re-verified).
    pub issuer_signature_cached: bool,
}

impl Accepted {
    /// Whether the caller must append a terminal record (false for a double tap).
    pub fn makes_record(&self) -> bool {
        self.tap == TapKind::New
    }
}

/// A gate's fixed settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TerminalConfig {
    /// The operator group this gate belongs to; codes must carry the same scope.
    pub scope: u16,
    /// Highest fare (minor units) accepted while the key list or blacklist is older than 24 h;
    /// 0 refuses every code while stale.
    pub stale_fare_limit: u16,
}

/// The signed lists the gate currently trusts.
#[derive(Clone, Copy, Debug)]
pub struct Trust<'a> {
    /// Issuer keys.
    pub key_list: &'a KeyList,
    /// Refused accounts.
    pub blacklist: &'a Blacklist,
}

type CredentialKey = [u8; 127];

#[derive(Clone, Debug)]
struct CachedCredential {
    issuer: PublicKey,
    device: Option<Verifier>,
}

/// Credentials whose issuer signature this gate has verified, keyed by the full credential
/// bytes (signature included) and bound to the issuer key that verified them, so a later key
/// list that maps the id to another key cannot reuse the verdict. The decoded device key is
/// kept too, so a cached code costs one signature verification and nothing else. Bounded;
/// the oldest entry goes first.
#[derive(Clone, Debug)]
pub struct CredentialCache {
    capacity: usize,
    entries: BTreeMap<CredentialKey, CachedCredential>,
    order: VecDeque<CredentialKey>,
}

impl CredentialCache {
    /// A cache holding at most `capacity` credentials (0 disables caching).
    pub fn new(capacity: usize) -> CredentialCache {
        CredentialCache { capacity, entries: BTreeMap::new(), order: VecDeque::new() }
    }

    /// Credentials currently cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    /// Verifies the issuer signature of `credential` unless already cached; returns the decoded
    /// device key (None if invalid) and whether the cache answered.
    fn check(
        &mut self,
        credential: &[u8],
        suite: Suite,
        issuer: &PublicKey,
        verifier: &Verifier,
    ) -> Result<(Option<Verifier>, bool), Reject> {
        let mut key = [0u8; 127];
        key[..credential.len()].copy_from_slice(credential);
        if let Some(hit) = self.entries.get(&key) {
            if hit.issuer == *issuer {
                return Ok((hit.device.clone(), true));
            }
        }
        let signed = &credential[..credential.len() - 64];
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&credential[credential.len() - 64..]);
        if !verifier.verify(tags::CREDENTIAL, signed, &sig) {
            return Err(Reject::IssuerSignature);
        }
        let device_bytes = &credential[DEVICE_KEY_AT..DEVICE_KEY_AT + suite.public_key_len()];
        let device = Verifier::new(&PublicKey::copied(suite, device_bytes));
        if self.capacity > 0 {
            if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
                if let Some(old) = self.order.pop_front() {
                    self.entries.remove(&old);
                }
            }
            let entry = CachedCredential { issuer: *issuer, device: device.clone() };
            if self.entries.insert(key, entry).is_none() {
                self.order.push_back(key);
            }
        }
        Ok((device, false))
    }
}

type Use = (u64, u32, u16);

const STATE_MAGIC: &[u8; 4] = b"RCTS";

/// What one gate remembers between codes: every (account, credential sequence, counter) it
/// accepted, until no code carrying it could pass the window and age checks any more, and each
/// account's last new tap, for double-tap detection. Bounded: when full, the entry closest to
/// expiry is dropped and counted in [`TerminalState::evicted`]; the server's one-charge-per-use
/// dedupe still stands behind it.
#[derive(Clone, Debug)]
pub struct TerminalState {
    capacity: usize,
    seen: BTreeMap<Use, u64>,
    by_expiry: BTreeSet<(u64, Use)>,
    last_tap: BTreeMap<u64, u64>,
    taps: VecDeque<(u64, u64)>,
    evicted: u64,
}

impl TerminalState {
    /// A memory of at most `capacity` accepted uses (at least 1).
    pub fn new(capacity: usize) -> TerminalState {
        TerminalState {
            capacity: capacity.max(1),
            seen: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            last_tap: BTreeMap::new(),
            taps: VecDeque::new(),
            evicted: 0,
        }
    }

    /// Uses currently remembered.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// Uses dropped before expiry because the memory was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Drops uses that can no longer be presented validly at `now` and taps too old to matter.
    pub fn prune(&mut self, now: u64) {
        while let Some(&(expires, key)) = self.by_expiry.first() {
            if expires >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.seen.remove(&key);
        }
        while let Some(&(time, account)) = self.taps.front() {
            if time + u64::from(DOUBLE_TAP_WINDOW) >= now && self.taps.len() <= self.capacity {
                break;
            }
            self.taps.pop_front();
            if self.last_tap.get(&account) == Some(&time) {
                self.last_tap.remove(&account);
            }
        }
    }

    /// The memory as bytes, for a gate to write to durable storage (atomically) before it opens
    /// for the tap that changed it: the specification requires replay and double-tap memory to
    /// survive a restart. Layout: `RCTS ‖ 0x01 ‖ evicted u64 ‖ uses u32 ‖ (account u64 ‖
    /// credential sequence u32 ‖ counter u16 ‖ forget after u64)* ‖ taps u32 ‖ (time u64 ‖
    /// account u64)*`, big-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21 + self.seen.len() * 22 + self.taps.len() * 16);
        out.extend_from_slice(STATE_MAGIC);
        out.push(1);
        out.extend_from_slice(&self.evicted.to_be_bytes());
        out.extend_from_slice(&(self.seen.len() as u32).to_be_bytes());
        for (&(account, sequence, counter), &expires) in &self.seen {
            out.extend_from_slice(&account.to_be_bytes());
            out.extend_from_slice(&sequence.to_be_bytes());
            out.extend_from_slice(&counter.to_be_bytes());
            out.extend_from_slice(&expires.to_be_bytes());
        }
        out.extend_from_slice(&(self.taps.len() as u32).to_be_bytes());
        for &(time, account) in &self.taps {
            out.extend_from_slice(&time.to_be_bytes());
            out.extend_from_slice(&account.to_be_bytes());
        }
        out
    }

    /// Restores a memory written by [`TerminalState::to_bytes`], bounded by `capacity` as
    /// [`TerminalState::new`] is (uses beyond it are dropped closest to expiry first, as when
    /// full). Anything but an exact encoding is refused: a gate that cannot read its memory must
    /// not start with an empty one silently.
    pub fn from_bytes(bytes: &[u8], capacity: usize) -> Result<TerminalState, Error> {
        let mut r = crate::wire::Reader::new(bytes);
        if r.take(4).ok_or(Error::Length)? != STATE_MAGIC {
            return Err(Error::UnknownFormat);
        }
        if r.u8().ok_or(Error::Length)? != 1 {
            return Err(Error::UnknownFormat);
        }
        let mut state = TerminalState::new(capacity);
        state.evicted = r.u64().ok_or(Error::Length)?;
        let uses = r.u32().ok_or(Error::Length)?;
        for _ in 0..uses {
            let key = (r.u64().ok_or(Error::Length)?, r.u32().ok_or(Error::Length)?, r.u16().ok_or(Error::Length)?);
            let expires = r.u64().ok_or(Error::Length)?;
            state.remember_use(key, expires);
        }
        let taps = r.u32().ok_or(Error::Length)?;
        for _ in 0..taps {
            let (time, account) = (r.u64().ok_or(Error::Length)?, r.u64().ok_or(Error::Length)?);
            if state.taps.back().is_some_and(|&(t, _)| t > time) {
                return Err(Error::Malformed("tap times out of order"));
            }
            state.remember_tap(account, time);
        }
        if r.remaining() != 0 {
            return Err(Error::Length);
        }
        Ok(state)
    }

    fn has_seen(&self, key: &Use) -> bool {
        self.seen.contains_key(key)
    }

    fn remember_use(&mut self, key: Use, expires: u64) {
        if self.seen.contains_key(&key) {
            return;
        }
        if self.seen.len() >= self.capacity {
            if let Some((_, old)) = self.by_expiry.pop_first() {
                self.seen.remove(&old);
                self.evicted += 1;
            }
        }
        self.seen.insert(key, expires);
        self.by_expiry.insert((expires, key));
    }

    fn is_double_tap(&self, account: u64, now: u64) -> bool {
        // Absolute difference, so a small backward clock step neither hides nor invents taps.
        self.last_tap.get(&account).is_some_and(|&t| t.abs_diff(now) <= u64::from(DOUBLE_TAP_WINDOW))
    }

    fn remember_tap(&mut self, account: u64, now: u64) {
        self.last_tap.insert(account, now);
        self.taps.push_back((now, account));
    }
}

/// Checks a scanned code offline, in the specification's order, at gate time `now` (Unix
/// seconds) for a ride costing `fare` minor units. On acceptance the use is remembered in
/// `state`; the caller then appends a [`crate::TerminalRecord`] unless the result is a double tap.
pub fn verify(
    code: &[u8],
    now: u64,
    fare: u16,
    config: &TerminalConfig,
    trust: Trust<'_>,
    cache: &mut CredentialCache,
    state: &mut TerminalState,
) -> Result<Accepted, Reject> {
    // 1-3. Length for the suite, format, suite.
    let suite = check_structure(code).map_err(Reject::of_structure)?;
    let cred_len = credential_len(suite);
    let scope = be_u16(code, 28);
    let issuer_key_id = be_u16(code, 2);
    let account_id = be_u64(code, 4);
    let credential_sequence = be_u32(code, 12);
    let not_before = be_u32(code, 16);
    let not_after = be_u32(code, 20);
    let max_fare = be_u16(code, 24);
    let max_uses = code[26];
    let class_flags = code[27];
    let generated_at = be_u32(code, cred_len);
    let counter = be_u16(code, cred_len + 4);

    // 4. Scope.
    if scope != config.scope {
        return Err(Reject::ScopeMismatch);
    }

    // 5. Issuer key listed, of this suite, valid and not revoked at the generation time.
    let (entry, issuer_verifier) = trust
        .key_list
        .trusted(issuer_key_id)
        .filter(|(e, _)| e.key.suite == suite)
        .ok_or(Reject::UnknownIssuerKey)?;
    if !entry.key.valid_at(generated_at) {
        return Err(Reject::IssuerKeyExpired);
    }
    if entry.revoked_at.is_some_and(|r| generated_at >= r) {
        return Err(Reject::IssuerKeyRevoked);
    }

    // 6. Issuer signature, once per credential.
    let (device, cached) =
        cache.check(&code[..cred_len], suite, &entry.key.public_key, issuer_verifier)?;

    // 7. Credential window with grace; a window longer than the issuer may sign is refused too.
    let (gen, nb, na) = (u64::from(generated_at), u64::from(not_before), u64::from(not_after));
    let grace = u64::from(WINDOW_GRACE);
    let window_ok = na >= nb && na - nb <= u64::from(MAX_CREDENTIAL_SPAN);
    if !window_ok || gen + grace < nb || gen > na + grace {
        return Err(Reject::OutsideWindow);
    }

    // 8. Device signature, strictly.
    let device = device.ok_or(Reject::DeviceSignature)?;
    let signed_end = cred_len + 6;
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&code[signed_end..signed_end + 64]);
    if !device.verify(tags::CODE, &code[..signed_end], &sig) {
        return Err(Reject::DeviceSignature);
    }

    // 9. Freshness against the gate's clock.
    if now > gen && now - gen > u64::from(MAX_CODE_AGE) {
        return Err(Reject::CodeTooOld);
    }
    if gen > now && gen - now > u64::from(MAX_CODE_FUTURE) {
        return Err(Reject::CodeFromFuture);
    }

    // 10. Counter.
    if counter == 0 || counter > u16::from(max_uses) {
        return Err(Reject::CounterOutOfRange);
    }

    // 11. Blacklist.
    if trust.blacklist.is_blocked(account_id, now) {
        return Err(Reject::Blacklisted);
    }

    // 12. Replay.
    state.prune(now);
    let use_key = (account_id, credential_sequence, counter);
    if state.has_seen(&use_key) {
        return Err(Reject::Replay);
    }
    // No code carrying this use can pass the window and age checks after this time.
    let expires = na + grace + u64::from(MAX_CODE_AGE);

    let mut accepted = Accepted {
        tap: TapKind::New,
        suite,
        issuer_key_id,
        account_id,
        credential_sequence,
        counter,
        generated_at,
        max_fare,
        class_flags,
        stale: false,
        issuer_signature_cached: cached,
    };

    // 13. Double tap: let the rider through, remember the use, make no record.
    if state.is_double_tap(account_id, now) {
        state.remember_use(use_key, expires);
        accepted.tap = TapKind::DoubleTap;
        return Ok(accepted);
    }

    // 14. Fare within the credential's limit.
    if fare > max_fare {
        return Err(Reject::FareAboveMax);
    }

    // 15. Stale lists: the gate cannot know about recent revocations, so it risks little.
    let stale_after = u64::from(STALE_AFTER);
    let stale = now > u64::from(trust.key_list.issued_at()) + stale_after
        || now > u64::from(trust.blacklist.issued_at()) + stale_after;
    // A limit of 0 refuses everything while stale, a 0 fare included: a gate configured without a
    // fare must not become an open door once it has been offline for a day.
    if stale && (config.stale_fare_limit == 0 || fare > config.stale_fare_limit) {
        return Err(Reject::StaleLists);
    }
    accepted.stale = stale;

    state.remember_use(use_key, expires);
    state.remember_tap(account_id, now);
    Ok(accepted)
}
