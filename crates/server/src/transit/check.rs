//! The pure half of ingesting a gate's upload: the body, and every check of a record that needs no
//! database. No I/O here, so that it can be fuzzed on its own (`saoma fuzz ridecode`), and so that
//! the signature work — two or three verifications per record, most of an upload's CPU — can run
//! before the job, off the single writer thread, several uploads at once ([`precheck`]). The job
//! then runs the same checks in the same order with what it read under the writer ([`authenticate`],
//! [`check_code`]), reusing a verdict only where it was reached with the very key the job reads.

use crate::hex;
use saoma_ridecode::{
    Credential, DecodedKey, PublicKey, RecordReason, Reject, RideCode, SignedTerminalRecord, Suite, TerminalRecord, MAX_CODE_AGE, MAX_CODE_FUTURE, MAX_CREDENTIAL_SPAN, WINDOW_GRACE,
};
use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

/// Why an upload body is refused as a whole (400, nothing ingested).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON of the shape `{"records": ["hex", …]}`.
    Json(String),
    /// `records[i]` is not hex.
    NotHex(usize),
}

#[derive(serde::Deserialize)]
struct Upload {
    records: Vec<String>,
}

/// Decodes `{"records": ["hex", …]}` into the records' bytes.
pub fn decode_upload(body: &[u8]) -> Result<Vec<Vec<u8>>, BodyError> {
    let upload: Upload = serde_json::from_slice(body).map_err(|e| BodyError::Json(e.to_string()))?;
    upload.records.iter().enumerate().map(|(i, r)| hex::decode(r).ok_or(BodyError::NotHex(i))).collect()
}

/// A gate as the server registered it.
#[derive(Clone, Debug)]
pub struct Terminal {
    pub id: u64,
    pub scope: u16,
    pub key: DecodedKey,
}

/// An issuer key as the server keeps it, with its validity and revocation.
#[derive(Clone, Debug)]
pub struct IssuerKey {
    pub key_id: u16,
    pub suite: Suite,
    pub key: DecodedKey,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

/// The issuance table's row for a credential: the key that signed it, the device key it certifies,
/// its number of codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub key_id: i64,
    pub device_key: Vec<u8>,
    pub max_uses: i64,
}

/// Signature verdicts for one record, each with the key it was reached with. Filled ahead by
/// [`precheck`]; asked again inside the job, a verdict is reused only for the same key, and
/// verified afresh otherwise (a key that changed in between), so no check is ever skipped.
#[derive(Clone, Debug, Default)]
pub struct Signatures {
    terminal: Option<(PublicKey, bool)>,
    issuer: Option<(PublicKey, bool)>,
    device: Option<bool>,
}

impl Signatures {
    fn terminal(&mut self, key: &DecodedKey, signed: &SignedTerminalRecord) -> bool {
        match self.terminal {
            Some((k, ok)) if k == *key.public_key() => ok,
            _ => {
                let ok = signed.check_signature(key).is_ok();
                self.terminal = Some((*key.public_key(), ok));
                ok
            }
        }
    }

    fn issuer(&mut self, key: &IssuerKey, credential: &Credential) -> bool {
        match self.issuer {
            Some((k, ok)) if k == *key.key.public_key() => ok,
            _ => {
                let ok = issuer_signature_ok(key, credential);
                self.issuer = Some((*key.key.public_key(), ok));
                ok
            }
        }
    }

    fn device(&mut self, code: &RideCode) -> bool {
        *self.device.get_or_insert_with(|| code.verify_device_signature().is_ok())
    }
}

/// Credentials whose issuer signature verified, each with the key that verified it. A rider's
/// credential is in every code of the day (up to its max uses), so its issuer signature is verified
/// about once a day rather than once a ride. Only good verdicts are kept; bounded, oldest out first;
/// one per process (that a credential verifies under a key holds for every database).
struct VerifiedCredentials {
    set: HashSet<(PublicKey, Vec<u8>)>,
    order: VecDeque<(PublicKey, Vec<u8>)>,
}

const VERIFIED_CAPACITY: usize = 50_000;

fn verified() -> &'static Mutex<VerifiedCredentials> {
    static CACHE: OnceLock<Mutex<VerifiedCredentials>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(VerifiedCredentials { set: HashSet::new(), order: VecDeque::new() }))
}

fn issuer_signature_ok(key: &IssuerKey, credential: &Credential) -> bool {
    let entry = (*key.key.public_key(), credential.to_bytes());
    if verified().lock().unwrap_or_else(|p| p.into_inner()).set.contains(&entry) {
        return true;
    }
    if credential.verify_decoded(key.key_id, &key.key).is_err() {
        return false;
    }
    let mut cache = verified().lock().unwrap_or_else(|p| p.into_inner());
    if cache.set.insert(entry.clone()) {
        cache.order.push_back(entry);
        if cache.order.len() > VERIFIED_CAPACITY {
            if let Some(old) = cache.order.pop_front() {
                cache.set.remove(&old);
            }
        }
    }
    true
}

/// A record the gate signed, with the signature's bytes (which name its content) as hex.
#[derive(Clone, Debug)]
pub struct Authentic {
    pub sequence: u64,
    pub record: TerminalRecord,
    pub digest: String,
}

/// The record's structure, gate and signature: the authenticated record, or the sequence (when the
/// record could be read) and the reason it is refused.
pub fn authenticate(t: &Terminal, bytes: &[u8], sigs: &mut Signatures) -> Result<Authentic, (Option<u64>, RecordReason)> {
    let Ok(signed) = TerminalRecord::parse(bytes) else { return Err((None, RecordReason::MalformedRecord)) };
    let sequence = signed.record().terminal_sequence;
    if signed.record().terminal_id != t.id {
        return Err((Some(sequence), RecordReason::OtherTerminal));
    }
    if !sigs.terminal(&t.key, &signed) {
        return Err((Some(sequence), RecordReason::TerminalSignature));
    }
    // The record's signature names its content: the same sequence with other content is a conflict.
    let digest = hex::encode(&bytes[bytes.len().saturating_sub(64)..]);
    Ok(Authentic { sequence, record: signed.into_record(), digest })
}

/// The server's re-verification of a code, in the gate's order (the specification's checks 4–13,
/// so that both name the same first failure with the same [`Reject`] code), with the keys' status at
/// the code's generation time, the record's time as the gate's clock, and the issuance table's row
/// for its credential (`None`: never issued) checked right after the issuer signature. The
/// blacklist, the double tap and the fare are the gate's business at the tap; the platform answers
/// a replay across gates with its own one-charge-per-use rule.
pub fn check_code(t: &Terminal, issuers: &[IssuerKey], code: &RideCode, record_time: i64, issued: Option<&Issued>, sigs: &mut Signatures) -> Result<(), RecordReason> {
    let reject = |r: Reject| Err(RecordReason::Code(r));
    let cred = code.credential();
    let terms = cred.terms();
    if terms.scope != t.scope {
        return reject(Reject::ScopeMismatch);
    }
    let gen = code.generated_at() as i64;
    let Some(key) = issuers.iter().find(|k| k.key_id == cred.issuer_key_id() && k.suite == cred.suite()) else { return reject(Reject::UnknownIssuerKey) };
    if gen < key.not_before || gen > key.not_after {
        return reject(Reject::IssuerKeyExpired);
    }
    if key.revoked_at.is_some_and(|r| gen >= r) {
        return reject(Reject::IssuerKeyRevoked);
    }
    if !sigs.issuer(key, cred) {
        return reject(Reject::IssuerSignature);
    }
    let Some(issued) = issued else { return Err(RecordReason::CredentialNotIssued) };
    if issued.key_id != key.key_id as i64 || issued.device_key != cred.device_key().as_bytes() {
        return Err(RecordReason::CredentialMismatch);
    }
    let (nb, na) = (terms.not_before as i64, terms.not_after as i64);
    let window_ok = na >= nb && na - nb <= MAX_CREDENTIAL_SPAN as i64;
    if !window_ok || gen + (WINDOW_GRACE as i64) < nb || gen > na + WINDOW_GRACE as i64 {
        return reject(Reject::OutsideWindow);
    }
    if !sigs.device(code) {
        return reject(Reject::DeviceSignature);
    }
    let age = record_time - gen;
    if age > MAX_CODE_AGE as i64 {
        return reject(Reject::CodeTooOld);
    }
    if -age > MAX_CODE_FUTURE as i64 {
        return reject(Reject::CodeFromFuture);
    }
    if code.counter() == 0 || code.counter() as i64 > issued.max_uses {
        return reject(Reject::CounterOutOfRange);
    }
    Ok(())
}

/// Every signature of every record of an upload, verified against the gate's and the issuers' keys
/// as read before the job. The verdicts say nothing on their own: the job runs every check again.
pub fn precheck(t: &Terminal, issuers: &[IssuerKey], records: &[Vec<u8>]) -> Vec<Signatures> {
    records
        .iter()
        .map(|bytes| {
            let mut sigs = Signatures::default();
            let Ok(signed) = TerminalRecord::parse(bytes) else { return sigs };
            if signed.record().terminal_id != t.id || !sigs.terminal(&t.key, &signed) {
                return sigs;
            }
            let Ok(code) = RideCode::parse(&signed.record().code) else { return sigs };
            let cred = code.credential();
            if let Some(key) = issuers.iter().find(|k| k.key_id == cred.issuer_key_id() && k.suite == cred.suite()) {
                if sigs.issuer(key, cred) {
                    sigs.device(&code);
                }
            }
            sigs
        })
        .collect()
}
