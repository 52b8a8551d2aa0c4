//! `saoma fuzz ridecode`: a deterministic, seeded fuzzer for everything that reads ride-code bytes
//! from outside, on the stable toolchain (cargo-fuzz needs nightly).
//!
//! Every input starts from a valid one — a code of each suite, its credential, its Base45 text, a
//! gate's signed record, an upload body — or from nothing (pure random bytes), and is mutated:
//! bit flips, bytes set to random or boundary values, truncation, extension, insertion, deletion,
//! duplication, splicing with another input; or, structure-aware, a field set to a boundary value
//! (times at the ±1 s edges of every window, counters 0/1/max/max+1, scope, key ids known, revoked,
//! expired and unknown, suite swapped…) and the credential, code and record signed again with the
//! real keys, so that inputs get past the signatures into the checks behind them. Each goes through:
//! - the gate: `RideCode::parse`, `Credential::parse` (+ `verify`), `base45_decode`, and `verify`
//!   with a real key list, blacklist, credential cache and replay memory;
//! - the server: `TerminalRecord::parse` + signature, the upload body's decoding
//!   (`transit::check::decode_upload`) and the per-record checks ingest runs before it touches the
//!   database (`check::precheck`, `check::authenticate`, `check::check_code` against an issuance
//!   table held in memory). Ingest's database part runs only for records that passed all of these
//!   and is exercised by the transit end-to-end test and by `saoma bench ridecode`.
//!
//! A panic stops the run and prints the seed, the iteration and the input in hex; so does an input
//! that takes longer than `--hang-secs` (a watchdog thread). The same seed replays the same run.

use saoma_ridecode::{
    base45_decode, base45_encode, verify, Blacklist, BlacklistEntry, Credential, CredentialCache, CredentialTerms, DecodedKey, DeviceKeyPair, Direction, IssuerKeyPair,
    KeyList, KeyListEntry, RideCode, Suite, TerminalConfig, TerminalKeyPair, TerminalRecord, TerminalState, Trust, MAX_CREDENTIAL_SPAN,
};
use saoma_server::transit::check;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Subcommand)]
pub enum FuzzCmd {
    /// The ride code's parsers and checks, at the gate and at the server.
    Ridecode(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// Inputs to run.
    #[arg(long, default_value_t = 1_000_000)]
    iterations: u64,
    /// Seed of the input sequence (the same seed, the same inputs).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An input running longer than this is a hang: the run stops and fails.
    #[arg(long, default_value_t = 10)]
    hang_secs: u64,
}

pub fn run(cmd: FuzzCmd) -> ExitCode {
    match cmd {
        FuzzCmd::Ridecode(args) => ridecode(args),
    }
}

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// 2026-01-01 00:00 at UTC+8, and 09:00 that day: the world's fixed times (no clock is read).
const T0: u32 = 1_767_196_800;
const NOW: u32 = T0 + 9 * 3600;
const SCOPE: u16 = 0x0021;
const TERMINAL_ID: u64 = 5;
const BLOCKED_ACCOUNT: u64 = 201;
const UNISSUED_ACCOUNT: u64 = 302;

fn seed(tag: u8, n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = 0x10;
    s[1] = tag;
    s[31] = n + 1;
    s
}

struct Rider {
    device: DeviceKeyPair,
    credential: Credential,
}

/// Keys, lists, riders and the gate's state: a small world where the valid inputs are accepted.
struct World {
    /// Per suite: the listed issuer key, and the same secret under a revoked, an expired and an
    /// unknown key id.
    issuers: Vec<(Suite, Vec<IssuerKeyPair>)>,
    riders: Vec<Rider>,
    key_list: KeyList,
    blacklist: Blacklist,
    config: TerminalConfig,
    cache: CredentialCache,
    state: TerminalState,
    terminal_key: TerminalKeyPair,
    server_terminal: check::Terminal,
    server_issuers: Vec<check::IssuerKey>,
    issued: BTreeMap<(u64, u32), check::Issued>,
    /// Valid inputs to start from.
    codes: Vec<Vec<u8>>,
    records: Vec<Vec<u8>>,
    sequence: u64,
}

fn terms(account_id: u64, sequence: u32) -> CredentialTerms {
    CredentialTerms { account_id, sequence, not_before: T0, not_after: T0 + MAX_CREDENTIAL_SPAN, max_fare: 400, max_uses: 8, class_flags: 0, scope: SCOPE }
}

fn world() -> Result<World, String> {
    let e = |e: saoma_ridecode::Error| e.to_string();
    let mut issuers = Vec::new();
    let mut entries = Vec::new();
    let mut server_issuers = Vec::new();
    let mut riders = Vec::new();
    let mut issued = BTreeMap::new();
    for (i, suite) in Suite::ALL.into_iter().enumerate() {
        let id = 10 * (i as u16 + 1);
        let s = seed(1, i as u8);
        // Listed; revoked at NOW − 100 s; expired before T0; not listed at all.
        let keys = vec![
            IssuerKeyPair::from_seed(suite, &s, id, T0 - 30 * 86400, T0 + 30 * 86400).map_err(e)?,
            IssuerKeyPair::from_seed(suite, &s, id + 1, T0 - 30 * 86400, T0 + 30 * 86400).map_err(e)?,
            IssuerKeyPair::from_seed(suite, &s, id + 2, T0 - 30 * 86400, T0 - 1).map_err(e)?,
            IssuerKeyPair::from_seed(suite, &s, id + 3, T0 - 30 * 86400, T0 + 30 * 86400).map_err(e)?,
        ];
        for (k, revoked) in keys.iter().take(3).zip([None, Some(NOW - 100), None]) {
            entries.push(KeyListEntry { key: k.public(), revoked_at: revoked });
            let p = k.public();
            server_issuers.push(check::IssuerKey {
                key_id: p.key_id,
                suite,
                key: DecodedKey::new(&p.public_key).map_err(e)?,
                not_before: p.not_before as i64,
                not_after: p.not_after as i64,
                revoked_at: revoked.map(i64::from),
            });
        }
        // Three riders per suite: an ordinary one, one on the blacklist, one never issued.
        for (r, account) in [100 + i as u64, BLOCKED_ACCOUNT + 10 * i as u64, UNISSUED_ACCOUNT + 10 * i as u64].into_iter().enumerate() {
            let device = DeviceKeyPair::from_seed(suite, &seed(2, (3 * i + r) as u8)).map_err(e)?;
            let credential = keys[0].issue(&terms(account, 42), &device.public_key()).map_err(e)?;
            if r != 2 {
                issued.insert((account, 42), check::Issued { key_id: id as i64, device_key: device.public_key().as_bytes().to_vec(), max_uses: 8 });
            }
            riders.push(Rider { device, credential });
        }
        issuers.push((suite, keys));
    }
    let blocked = (0..3).map(|i| BlacklistEntry { account_id: BLOCKED_ACCOUNT + 10 * i, until: T0 + 86400 }).collect();
    let terminal_key = TerminalKeyPair::from_seed(&seed(3, 0));
    let server_terminal = check::Terminal { id: TERMINAL_ID, scope: SCOPE, key: DecodedKey::new(&terminal_key.public_key()).map_err(e)? };
    let mut w = World {
        issuers,
        riders,
        key_list: KeyList::new(1, NOW, entries).map_err(e)?,
        blacklist: Blacklist::new(1, NOW, blocked),
        config: TerminalConfig { scope: SCOPE, stale_fare_limit: 200 },
        cache: CredentialCache::new(64),
        state: TerminalState::new(4096),
        terminal_key,
        server_terminal,
        server_issuers,
        issued,
        codes: Vec::new(),
        records: Vec::new(),
        sequence: 0,
    };
    for r in 0..w.riders.len() {
        for counter in 1..=3 {
            let code = RideCode::generate(&w.riders[r].credential, &w.riders[r].device, NOW - 5, counter).map_err(e)?.to_bytes();
            let record = w.record(code.clone(), NOW, Direction::In).ok_or("record")?;
            w.codes.push(code);
            w.records.push(record);
        }
    }
    Ok(w)
}

impl World {
    fn record(&mut self, code: Vec<u8>, time: u32, direction: Direction) -> Option<Vec<u8>> {
        self.sequence += 1;
        TerminalRecord { terminal_id: TERMINAL_ID, terminal_sequence: self.sequence, time, direction, stop_id: 3, code }.sign(&self.terminal_key).ok()
    }
}

/// Values at the edges of what a field may hold, for fields of `bytes` bytes.
fn boundary(rng: &mut Rng, bytes: usize) -> u64 {
    let max = if bytes >= 8 { u64::MAX } else { (1u64 << (8 * bytes)) - 1 };
    let random = rng.next() & max;
    *rng.pick(&[0, 1, 2, max, max - 1, max / 2, max / 2 + 1, random])
}

/// Times at the ±1 s edges of every rule around `at`.
fn edge_time(rng: &mut Rng, at: u32) -> u32 {
    let d = *rng.pick(&[0i64, 1, -1, 30, 31, -30, -31, 60, 61, -60, -61, 299, 300, 301, -300, -301, 86_400, -86_400, 26 * 3600 + 301, i64::from(i32::MAX)]);
    (i64::from(at) + d).clamp(0, i64::from(u32::MAX)) as u32
}

/// A code with one field changed to an edge value and signed again (credential by an issuer key,
/// code by the device), or `None` where the issuer refuses to sign such terms.
fn resigned_code(w: &World, rng: &mut Rng) -> Option<Vec<u8>> {
    let r = rng.below(w.riders.len());
    let rider = &w.riders[r];
    let suite = rider.credential.suite();
    let keys = &w.issuers.iter().find(|(s, _)| *s == suite)?.1;
    let issuer = rng.pick(keys);
    let mut t = *rider.credential.terms();
    let mut at = NOW - 5;
    let mut counter = 1 + rng.below(8) as u16;
    match rng.below(11) {
        0 => t.account_id = boundary(rng, 8),
        1 => t.sequence = boundary(rng, 4) as u32,
        2 => t.not_before = edge_time(rng, at),
        3 => t.not_after = edge_time(rng, at),
        4 => t.max_fare = boundary(rng, 2) as u16,
        5 => t.max_uses = boundary(rng, 1) as u8,
        6 => t.class_flags = boundary(rng, 1) as u8,
        7 => t.scope = boundary(rng, 2) as u16,
        8 => at = edge_time(rng, NOW),
        9 => counter = *rng.pick(&[0, 1, 8, 9, u16::MAX]),
        _ => {
            at = edge_time(rng, NOW);
            counter = boundary(rng, 2) as u16;
        }
    }
    let credential = issuer.issue(&t, &rider.device.public_key()).ok()?;
    RideCode::generate(&credential, &rider.device, at, counter).ok().map(|c| c.to_bytes())
}

/// A record with one field (or its code) changed and signed again by the gate's key.
fn resigned_record(w: &mut World, rng: &mut Rng) -> Option<Vec<u8>> {
    let code = match rng.below(3) {
        0 => resigned_code(w, rng)?,
        1 => rng.pick(&w.codes).clone(),
        _ => {
            // A code with bytes changed in place (the gate would have refused it; a gate's key
            // leaked or a gate gone rogue signs anything).
            let mut c = rng.pick(&w.codes).clone();
            for _ in 0..1 + rng.below(3) {
                let i = 2 + rng.below(c.len() - 2);
                c[i] = rng.next() as u8;
            }
            c
        }
    };
    let gen = RideCode::parse(&code).map(|c| c.generated_at()).unwrap_or(NOW);
    let mut rec = TerminalRecord { terminal_id: TERMINAL_ID, terminal_sequence: w.sequence + 1, time: gen, direction: Direction::In, stop_id: 3, code };
    w.sequence += 1;
    match rng.below(5) {
        0 => rec.terminal_id = *rng.pick(&[0, TERMINAL_ID + 1, u64::MAX]),
        1 => rec.terminal_sequence = boundary(rng, 8),
        2 => rec.time = edge_time(rng, gen),
        3 => rec.direction = Direction::Out,
        _ => rec.stop_id = boundary(rng, 4) as u32,
    }
    rec.sign(&w.terminal_key).ok()
}

/// Byte-level mutations, one to four of them, `other` for splicing.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = b.len();
        match rng.below(10) {
            0 if n > 0 => {
                let i = rng.below(n);
                b[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                b[i] = rng.next() as u8;
            }
            2 if n > 0 => {
                let i = rng.below(n);
                b[i] = *rng.pick(&[0u8, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
            }
            3 => b.truncate(rng.below(n + 1)),
            4 => {
                let len = 1 + rng.below(64);
                let more = rng.bytes(len);
                b.extend_from_slice(&more);
            }
            5 => {
                let i = rng.below(n + 1);
                let v = rng.next() as u8;
                b.insert(i, v);
            }
            6 if n > 0 => {
                b.remove(rng.below(n));
            }
            7 if n > 0 => {
                let (i, len) = (rng.below(n), 1 + rng.below(16));
                let chunk: Vec<u8> = b[i..(i + len).min(n)].to_vec();
                let at = rng.below(b.len() + 1);
                b.splice(at..at, chunk);
            }
            8 => {
                // Splice: this input's head, the other's tail.
                let (i, j) = (rng.below(n + 1), rng.below(other.len() + 1));
                b.truncate(i);
                b.extend_from_slice(&other[j..]);
            }
            _ => {
                let len = rng.below(400);
                b = rng.bytes(len);
            }
        }
    }
    b
}

#[derive(Default)]
struct Tally {
    inputs: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
}

impl Tally {
    fn outcome(&mut self, target: &'static str, what: &str) {
        *self.outcomes.entry(format!("{target}: {what}")).or_default() += 1;
    }
}

/// The gate's check of one code, at a time and for a fare around the edges.
fn gate(w: &mut World, rng: &mut Rng, code: &[u8], tally: &mut Tally) {
    let _ = RideCode::parse(code);
    if code.len() > 127 {
        let _ = Credential::parse(&code[..127]).map(|c| c.verify(&w.issuers[0].1[0].public()));
    }
    let now = edge_time(rng, NOW) as u64;
    let fare = *rng.pick(&[0u16, 1, 200, 201, 300, 400, 401, u16::MAX]);
    if rng.chance(5) {
        w.state = TerminalState::new(4096);
    }
    let trust = Trust { key_list: &w.key_list, blacklist: &w.blacklist };
    match verify(code, now, fare, &w.config, trust, &mut w.cache, &mut w.state) {
        Ok(a) => tally.outcome("gate", if a.makes_record() { "accepted" } else { "double tap" }),
        Err(r) => tally.outcome("gate", r.code()),
    }
}

/// The server's checks of one record, as ingest runs them before the database.
fn server_record(w: &World, bytes: &[u8], sigs: &mut check::Signatures, tally: &mut Tally) {
    let auth = match check::authenticate(&w.server_terminal, bytes, sigs) {
        Ok(a) => a,
        Err((_, reason)) => return tally.outcome("server", reason.code()),
    };
    let Ok(code) = RideCode::parse(&auth.record.code) else {
        return tally.outcome("server", saoma_ridecode::Reject::structural(&auth.record.code).unwrap_or(saoma_ridecode::Reject::Length).code());
    };
    let terms = code.credential().terms();
    let issued = w.issued.get(&(terms.account_id, terms.sequence));
    match check::check_code(&w.server_terminal, &w.server_issuers, &code, auth.record.time as i64, issued, sigs) {
        Ok(()) => tally.outcome("server", "passes every check"),
        Err(reason) => tally.outcome("server", reason.code()),
    }
}

fn upload_body(w: &World, body: &[u8], tally: &mut Tally) {
    match check::decode_upload(body) {
        Err(check::BodyError::Json(_)) => tally.outcome("body", "not the upload's JSON"),
        Err(check::BodyError::NotHex(_)) => tally.outcome("body", "a record not hex"),
        Ok(records) => {
            tally.outcome("body", "decoded");
            let mut sigs = check::precheck(&w.server_terminal, &w.server_issuers, &records);
            for (r, s) in records.iter().zip(sigs.iter_mut()) {
                server_record(w, r, s, tally);
            }
        }
    }
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One input: made from the iteration's own RNG, so that any iteration can be replayed alone.
fn one(w: &mut World, rng: &mut Rng, tally: &mut Tally, current: &Mutex<(&'static str, Vec<u8>)>) {
    let target: &'static str = ["code", "base45", "credential", "record", "body", "random"][rng.below(6)];
    *tally.inputs.entry(target).or_default() += 1;
    let set = |b: &[u8]| *current.lock().unwrap_or_else(|p| p.into_inner()) = (target, b.to_vec());
    match target {
        "code" => {
            let code = match rng.below(3) {
                0 => resigned_code(w, rng).unwrap_or_else(|| rng.pick(&w.codes).clone()),
                1 => rng.pick(&w.codes).clone(),
                _ => {
                    let (a, b) = (rng.pick(&w.codes).clone(), rng.pick(&w.codes).clone());
                    mutate(rng, &a, &b)
                }
            };
            set(&code);
            gate(w, rng, &code, tally);
        }
        "base45" => {
            let code: &Vec<u8> = rng.pick(&w.codes);
            let text = base45_encode(code);
            let text = String::from_utf8_lossy(&mutate(rng, text.as_bytes(), b"%69 VD92EX0".as_slice())).into_owned();
            set(text.as_bytes());
            match base45_decode(&text) {
                Ok(bytes) => gate(w, rng, &bytes, tally),
                Err(_) => tally.outcome("base45", "not base45"),
            }
        }
        "credential" => {
            let cred = rng.pick(&w.riders).credential.to_bytes();
            let other = rng.pick(&w.codes).clone();
            let bytes = mutate(rng, &cred, &other);
            set(&bytes);
            match Credential::parse(&bytes) {
                Ok(c) => {
                    let ok = w.issuers.iter().flat_map(|(_, k)| k.iter()).any(|k| c.verify(&k.public()).is_ok());
                    tally.outcome("credential", if ok { "verifies" } else { "parses" });
                }
                Err(e) => tally.outcome("credential", &e.to_string()),
            }
        }
        "record" => {
            let rec = match rng.below(3) {
                0 => resigned_record(w, rng).unwrap_or_else(|| rng.pick(&w.records).clone()),
                1 => rng.pick(&w.records).clone(),
                _ => {
                    let (a, b) = (rng.pick(&w.records).clone(), rng.pick(&w.records).clone());
                    mutate(rng, &a, &b)
                }
            };
            set(&rec);
            if let Ok(signed) = TerminalRecord::parse(&rec) {
                let _ = signed.verify(&w.terminal_key.public_key());
            }
            let mut sigs = check::precheck(&w.server_terminal, &w.server_issuers, std::slice::from_ref(&rec)).pop().unwrap_or_default();
            server_record(w, &rec, &mut sigs, tally);
        }
        "body" => {
            let n = rng.below(5);
            let mut recs = Vec::new();
            for _ in 0..n {
                let r = if rng.chance(30) { resigned_record(w, rng).unwrap_or_else(|| rng.pick(&w.records).clone()) } else { rng.pick(&w.records).clone() };
                recs.push(if rng.chance(30) { mutate(rng, &r, &[]) } else { r });
            }
            let strings: Vec<String> = recs.iter().map(|r| hexs(r)).collect();
            let valid = serde_json::json!({ "records": strings }).to_string().into_bytes();
            let body = match rng.below(4) {
                0 => valid,
                1 => mutate(rng, &valid, br#"{"records": [[[[]]]], "x": 1e999, "records": "ff"}"#),
                2 => {
                    // Wrong shapes and JSON at its edges.
                    let shapes = [
                        "{}".to_string(),
                        "[]".to_string(),
                        r#"{"records": null}"#.to_string(),
                        r#"{"records": [1, 2]}"#.to_string(),
                        r#"{"records": ["0"]}"#.to_string(),
                        r#"{"records": ["zz"]}"#.to_string(),
                        format!(r#"{{"records": ["{}"], "records": []}}"#, strings.first().cloned().unwrap_or_default()),
                        format!("{}{}", "[".repeat(200), "]".repeat(200)),
                        format!(r#"{{"records": [{}"{}"]}}"#, "\"\",".repeat(rng.below(50)), "\\u0000"),
                        "\u{feff}{\"records\": []}".to_string(),
                    ];
                    rng.pick(&shapes).clone().into_bytes()
                }
                _ => {
                    let len = rng.below(300);
                    rng.bytes(len)
                }
            };
            set(&body);
            upload_body(w, &body, tally);
        }
        _ => {
            let len = rng.below(400);
            let bytes = rng.bytes(len);
            set(&bytes);
            gate(w, rng, &bytes, tally);
            let _ = Credential::parse(&bytes);
            let _ = base45_decode(&String::from_utf8_lossy(&bytes));
            let _ = check::decode_upload(&bytes);
            let mut sigs = check::Signatures::default();
            server_record(w, &bytes, &mut sigs, tally);
        }
    }
}

fn ridecode(args: Args) -> ExitCode {
    let mut w = match world() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("building the fuzzing world: {e}");
            return ExitCode::FAILURE;
        }
    };
    let current: Arc<Mutex<(&'static str, Vec<u8>)>> = Arc::new(Mutex::new(("", Vec::new())));
    // The watchdog: the iteration counter must move at least once per --hang-secs.
    let done = Arc::new(AtomicU64::new(0));
    {
        let (done, current, seed, hang) = (done.clone(), current.clone(), args.seed, args.hang_secs.max(1));
        std::thread::spawn(move || {
            let mut last = u64::MAX;
            loop {
                std::thread::sleep(Duration::from_secs(hang));
                let now = done.load(Ordering::Relaxed);
                if now == last {
                    let (target, input) = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    eprintln!("HANG: seed {seed}, iteration {now}, target {target}, no progress for {hang} s; input hex: {}", hexs(&input));
                    std::process::exit(3);
                }
                last = now;
            }
        });
    }
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut slowest = (Duration::ZERO, 0u64);
    let report_every = (args.iterations / 10).max(1);
    for i in 0..args.iterations {
        // Each iteration's RNG from the seed and its number: a run is the same run on every machine.
        let mut rng = Rng(args.seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        rng.next();
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one(&mut w, &mut rng, &mut tally, &current)));
        let took = t0.elapsed();
        if took > slowest.0 {
            slowest = (took, i);
        }
        if r.is_err() {
            let (target, input) = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
            eprintln!("PANIC: seed {}, iteration {i}, target {target}; input hex: {}", args.seed, hexs(&input));
            return ExitCode::FAILURE;
        }
        done.store(i + 1, Ordering::Relaxed);
        if (i + 1) % report_every == 0 {
            eprintln!("  {} inputs, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("fuzz ridecode: seed {}, {} inputs in {secs:.1} s ({:.0}/s), no panic, no hang; slowest input {:.1} ms (iteration {})", args.seed, args.iterations, args.iterations as f64 / secs, slowest.0.as_secs_f64() * 1000.0, slowest.1);
    for (target, n) in &tally.inputs {
        println!("  inputs {target:<10} {n}");
    }
    for (outcome, n) in &tally.outcomes {
        println!("  {outcome:<60} {n}");
    }
    ExitCode::SUCCESS
}
