//! `saoma bench ridecode`: the ride code's two hot paths.
//!
//! - At the gate (`verify_cached`, `verify_uncached`, per suite, one core, no database): the full
//!   offline check of `saoma_ridecode::verify` — structure, key list, issuer signature, window, device
//!   signature, freshness, counter, blacklist, replay memory — over codes of many riders. With the issuer
//!   signature cached (the crate's `CredentialCache`) a code costs one signature verification, so the
//!   ceiling is the raw verify rate of the suite's library, measured in the same run over the same
//!   signatures (`raw_per_sec`); uncached a code costs two, so the ceiling is half the raw rate
//!   (`raw_per_sec` of that row is that half). `ratio` = `per_sec / raw_per_sec`.
//! - At the server (`ingest`, per backend): riders with cards, agreements and daily credentials; gates
//!   registered with their keys; each ride a code signed by the rider's device, accepted into a
//!   terminal record signed by the gate, uploaded in batches through the same functions the upload
//!   handler calls (the JSON body decoded by `transit::check::decode_upload`, then `ingest::upload`,
//!   in process: the HTTP socket is left out), several gates at once. Each record is re-verified
//!   and each ride charged through the rider's agreement (flat fare: one tap, one ride, one order, one
//!   ledger chain, one merchant notification). After the run every ride must be CHARGED and the ledger
//!   check clean. Its ceiling (`raw_per_sec`) is what the machine's cores could do if they did nothing
//!   but the two Ed25519 verifications every record needs (the gate's signature and the rider's
//!   device signature; the issuer's is verified once per credential): the raw verify rate measured
//!   right after, in the same run, × cores ÷ 2.
//!
//! Verify figures are medians of `--rounds` rounds (raw, cached, uncached interleaved, so that noise
//! from other processes hits all three alike); the spread goes to stderr.

use saoma_ridecode::{
    verify, Blacklist, BlacklistEntry, Credential, CredentialCache, CredentialTerms, DeviceKeyPair, Direction, IssuerKeyPair, KeyList, KeyListEntry, RideCode, Suite,
    TerminalConfig, TerminalKeyPair, TerminalRecord, TerminalState, Trust, MAX_CREDENTIAL_SPAN,
};
use saoma_server::transit::{self, ingest};
use saoma_server::{hex, users, App};
use saoma_store::testing::TestDb;
use saoma_store::{Store, StoreOptions, VirtualClock};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Codes per verify measurement for Ed25519; P-256 and SM2 (about seven times slower) use an eighth.
    #[arg(long, default_value_t = 40_000)]
    codes: usize,
    /// Rounds of each verify measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Suites for the verify scenarios: ed25519, p256, sm2, or all.
    #[arg(long, default_value = "all")]
    suites: String,
    /// Rides uploaded in the ingest scenario.
    #[arg(long, default_value_t = 50_000)]
    rides: usize,
    /// Riders (each a wallet, a card with its agreement and deposit, a daily credential).
    #[arg(long, default_value_t = 100)]
    riders: usize,
    /// Gates uploading at the same time.
    #[arg(long, default_value_t = 4)]
    gates: usize,
    /// Records per upload (at most 1,000).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Backends for the ingest scenario: sqlite, postgres, all (PostgreSQL only when reachable), or none.
    #[arg(long, default_value = "all")]
    backend: String,
}

/// One line of `--json`: exactly these fields.
#[derive(serde::Serialize)]
struct Figure {
    scenario: &'static str,
    suite: &'static str,
    backend: Option<&'static str>,
    per_sec: f64,
    raw_per_sec: Option<f64>,
    ratio: Option<f64>,
}

pub fn run(args: Args) -> ExitCode {
    let suites: Vec<Suite> = match args.suites.as_str() {
        "all" => Suite::ALL.to_vec(),
        "ed25519" => vec![Suite::Ed25519],
        "p256" => vec![Suite::P256],
        "sm2" => vec![Suite::Sm2],
        other => {
            eprintln!("--suites must be ed25519, p256, sm2 or all, not {other:?}");
            return ExitCode::from(2);
        }
    };
    if !(1..=ingest::MAX_BATCH).contains(&args.batch) || args.riders == 0 || args.gates == 0 || args.rounds == 0 || args.codes == 0 {
        eprintln!("--batch must be 1–{}, and --riders, --gates, --rounds and --codes at least 1", ingest::MAX_BATCH);
        return ExitCode::from(2);
    }
    let mut figures = Vec::new();
    for suite in suites {
        let n = if suite == Suite::Ed25519 { args.codes } else { (args.codes / 8).max(1) };
        match bench_verify(suite, n, args.rounds) {
            Ok(mut f) => figures.append(&mut f),
            Err(e) => {
                eprintln!("[{}] verify failed: {e}", suite.name());
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(dbs) = super::databases(&args.backend) else { return ExitCode::FAILURE };
    for db in &dbs {
        match bench_ingest(db, &args) {
            Ok(f) => figures.push(f),
            Err(e) => {
                eprintln!("[{}] ingest failed: {e}", db.name());
                return ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::json!({ "results": figures }));
    } else {
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        println!("{:<16} {:<8} {:<9} {:>12} {:>12} {:>7}", "scenario", "suite", "backend", "per_sec", "raw_per_sec", "ratio");
        for f in &figures {
            println!("{:<16} {:<8} {:<9} {:>12.0} {:>12} {:>7}", f.scenario, f.suite, f.backend.unwrap_or("-"), f.per_sec, opt(f.raw_per_sec, 0), opt(f.ratio, 3));
        }
    }
    ExitCode::SUCCESS
}

/// 2026-01-01 00:00 at UTC+8: the verify scenarios' fixed epoch (no clock is read there).
const T0: u32 = 1_767_196_800;
const SCOPE: u16 = 0x0021;
/// Seconds between a rider's taps: more than the double-tap window, so every code makes a record.
const TAP_GAP: u32 = 11;

/// 32 seed bytes that are a valid private key on every suite (a small scalar below both group orders).
fn seed(tag: u8, n: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = 0x10;
    s[1] = tag;
    s[24..].copy_from_slice(&(n + 1).to_be_bytes());
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("{lo:.0}–{hi:.0}")
}

/// The suite's library, called directly with keys decoded beforehand: the ceiling a gate can approach.
enum RawKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
    Sm2(sm2::dsa::VerifyingKey),
}

impl RawKey {
    fn new(suite: Suite, bytes: &[u8]) -> Option<RawKey> {
        Some(match suite {
            Suite::Ed25519 => RawKey::Ed25519(ed25519_dalek::VerifyingKey::from_bytes(bytes.try_into().ok()?).ok()?),
            Suite::P256 => RawKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).ok()?),
            Suite::Sm2 => RawKey::Sm2(sm2::dsa::VerifyingKey::from_sec1_bytes(saoma_ridecode::SM2_DISTINGUISHING_ID, bytes).ok()?),
        })
    }

    /// One strict verification (Ed25519 `verify_strict`, as the crate does).
    fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match self {
            RawKey::Ed25519(k) => k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig)).is_ok(),
            RawKey::P256(k) => p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok()),
            RawKey::Sm2(k) => sm2::dsa::Signature::from_slice(sig).is_ok_and(|s| sm2::dsa::signature::Verifier::verify(k, msg, &s).is_ok()),
        }
    }
}

struct VerifyWorld {
    key_list: KeyList,
    blacklist: Blacklist,
    config: TerminalConfig,
    riders: usize,
    /// (code, gate time)
    codes: Vec<(Vec<u8>, u64)>,
    /// (rider, message = tag ‖ signed bytes, device signature) for the raw ceiling.
    raw: Vec<(usize, Vec<u8>, [u8; 64])>,
    raw_keys: Vec<RawKey>,
}

fn verify_world(suite: Suite, n: usize) -> Result<VerifyWorld, String> {
    let e = |e: saoma_ridecode::Error| e.to_string();
    // Counters run 1..=250 per credential: enough riders that n codes fit.
    let riders = n.div_ceil(250).max(64);
    let issuer = IssuerKeyPair::from_seed(suite, &seed(1, 0), 7, T0 - 30 * 86400, T0 + 30 * 86400).map_err(e)?;
    let mut credentials = Vec::with_capacity(riders);
    let mut devices = Vec::with_capacity(riders);
    let mut raw_keys = Vec::with_capacity(riders);
    for r in 0..riders {
        let device = DeviceKeyPair::from_seed(suite, &seed(2, r as u64)).map_err(e)?;
        let terms = CredentialTerms {
            account_id: 1_000_000 + r as u64,
            sequence: 1,
            not_before: T0,
            not_after: T0 + MAX_CREDENTIAL_SPAN,
            max_fare: 500,
            max_uses: 255,
            class_flags: 0,
            scope: SCOPE,
        };
        credentials.push(issuer.issue(&terms, &device.public_key()).map_err(e)?);
        raw_keys.push(RawKey::new(suite, device.public_key().as_bytes()).ok_or("device key")?);
        devices.push(device);
    }
    let mut codes = Vec::with_capacity(n);
    let mut raw = Vec::with_capacity(n);
    let signed_len = RideCode::encoded_len(suite) - 64;
    for i in 0..n {
        let (r, c) = (i % riders, i / riders + 1);
        let at = T0 + 3600 + (c as u32 - 1) * TAP_GAP;
        let code = RideCode::generate(&credentials[r], &devices[r], at, c as u16).map_err(e)?.to_bytes();
        let mut msg = saoma_ridecode::tags::CODE.to_vec();
        msg.extend_from_slice(&code[..signed_len]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&code[signed_len..]);
        raw.push((r, msg, sig));
        codes.push((code, u64::from(at)));
    }
    let key_list = KeyList::new(1, T0 + 3000, vec![KeyListEntry { key: issuer.public(), revoked_at: None }]).map_err(e)?;
    // A blacklist of realistic size: a thousand other accounts.
    let blacklist = Blacklist::new(1, T0 + 3000, (0..1000).map(|k| BlacklistEntry { account_id: 5_000_000 + 7 * k, until: T0 + 86400 }).collect());
    Ok(VerifyWorld { key_list, blacklist, config: TerminalConfig { scope: SCOPE, stale_fare_limit: 0 }, riders, codes, raw, raw_keys })
}

/// Codes verified per second by the terminal check; every one must be accepted as a new tap.
fn gate_rate(w: &VerifyWorld, cache: &mut CredentialCache, expect_cached: Option<bool>) -> Result<f64, String> {
    let trust = Trust { key_list: &w.key_list, blacklist: &w.blacklist };
    let mut state = TerminalState::new(w.codes.len() + 1);
    let started = Instant::now();
    for (code, now) in &w.codes {
        let a = verify(code, *now, 300, &w.config, trust, cache, &mut state).map_err(|r| format!("a valid code refused: {r}"))?;
        if !a.makes_record() || expect_cached.is_some_and(|c| c != a.issuer_signature_cached) {
            return Err(format!("unexpected verdict {a:?}"));
        }
    }
    Ok(w.codes.len() as f64 / started.elapsed().as_secs_f64())
}

fn raw_rate(w: &VerifyWorld) -> Result<f64, String> {
    let started = Instant::now();
    for (r, msg, sig) in &w.raw {
        if !w.raw_keys[*r].verify(msg, sig) {
            return Err("raw verification failed".into());
        }
    }
    Ok(w.raw.len() as f64 / started.elapsed().as_secs_f64())
}

fn bench_verify(suite: Suite, n: usize, rounds: usize) -> Result<Vec<Figure>, String> {
    eprintln!("[{}] {n} codes: signing…", suite.name());
    let w = verify_world(suite, n)?;
    // Warm the cache with one pass (and check every code passes), so the timed passes all hit it.
    let mut warm = CredentialCache::new(w.riders * 2);
    gate_rate(&w, &mut warm, None)?;
    let (mut raw, mut cached, mut uncached) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        raw.push(raw_rate(&w)?);
        cached.push(gate_rate(&w, &mut warm, Some(true))?);
        uncached.push(gate_rate(&w, &mut CredentialCache::new(0), Some(false))?);
        eprintln!("[{}] round {round}: raw {:.0}/s, cached {:.0}/s, uncached {:.0}/s", suite.name(), raw[round - 1], cached[round - 1], uncached[round - 1]);
    }
    eprintln!("[{}] spread over {rounds} rounds: raw {}, cached {}, uncached {}", suite.name(), spread(&raw), spread(&cached), spread(&uncached));
    let (raw, cached, uncached) = (median(raw), median(cached), median(uncached));
    Ok(vec![
        Figure { scenario: "verify_cached", suite: suite.name(), backend: None, per_sec: cached, raw_per_sec: Some(raw), ratio: Some(cached / raw) },
        Figure { scenario: "verify_uncached", suite: suite.name(), backend: None, per_sec: uncached, raw_per_sec: Some(raw / 2.0), ratio: Some(uncached / (raw / 2.0)) },
    ])
}

// ---------------------------------------------------------------------------------------------------
// Ingest

fn fail<E: std::fmt::Debug>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e:?}")
}

const FARE: i64 = 200;
const MAX_USES: u8 = 255;
const PIN: &str = "135790";

struct Rider {
    user: users::User,
    device: DeviceKeyPair,
    credential: Option<Credential>,
}

struct Gate {
    id: u64,
    stop: u32,
    key: TerminalKeyPair,
    seq: u64,
}

/// The server's application state over a fresh database, in this process, as `saoma serve` builds it
/// (minus the listener and the workers), on a sandbox clock the benchmark moves a day at a time.
async fn open_app(db: &TestDb, clock: Arc<VirtualClock>) -> Result<Arc<App>, String> {
    let e = |e: saoma_store::StoreError| e.to_string();
    let database = db.database.clone();
    let c: Arc<dyn saoma_store::Clock> = clock.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(database, c, StoreOptions::default())).await.map_err(|e| e.to_string())?.map_err(e)?;
    let config = saoma_server::Config {
        data_dir: std::env::temp_dir(),
        database: Some(db.database.clone()),
        listen: "127.0.0.1:0".parse().map_err(|_| "address")?,
        sandbox: true,
        store: StoreOptions::default(),
        sms_per_address_per_hour: saoma_server::users::login::DEFAULT_SMS_PER_ADDRESS_PER_HOUR,
        notify_allow: Vec::new(),
        master_key_file: None,
        public_url: None,
        trusted_proxies: Vec::new(),
        connections: Default::default(),
    };
    // A key of this run's own: the database is fresh and dropped after.
    saoma_server::platform::secrets::install_ephemeral().map_err(|e| e.to_string())?;
    App::open(store, config, "http://127.0.0.1:0".into(), String::new(), Some(clock)).await.map_err(|e| e.to_string())
}

fn bench_ingest(db: &TestDb, args: &Args) -> Result<Figure, String> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| e.to_string())?;
    let clock = Arc::new(VirtualClock::new());
    let app = rt.block_on(open_app(db, clock.clone()))?;
    let r = rt.block_on(ingest_run(db.name(), &app, &clock, args));
    let app2 = app.clone();
    rt.block_on(async move { tokio::task::spawn_blocking(move || app2.store.shutdown()).await.map_err(|e| e.to_string()) })?;
    r
}

async fn ingest_run(backend: &'static str, app: &Arc<App>, clock: &VirtualClock, args: &Args) -> Result<Figure, String> {
    let uses = args.rides.div_ceil(args.riders).clamp(1, usize::from(MAX_USES) - 5);
    let days = args.rides.div_ceil(args.riders * uses);
    eprintln!("[{backend}] ingest: {} riders, {} gates, {} rides over {days} day(s), batches of {}: setting up…", args.riders, args.gates, args.rides, args.batch);
    let created = saoma_server::merchants::create(app, "城市地铁".into(), Some("https://127.0.0.1/transit/notify".into()), saoma_server::platform::KeyMode::PublicKey, Vec::new())
        .await
        .map_err(fail("merchant"))?;
    let op = transit::create_operator(app, created.merchant.mchid.clone(), SCOPE, saoma_core::fare::FareTable::Flat(FARE), MAX_USES, 0).await.map_err(fail("operator"))?;
    // Each rider can pay the deposit and every ride of the benchmark.
    let balance = op.deposit + (days * uses) as i64 * FARE + 10_000;
    // Opening cards checks each PIN with argon2 (slow on purpose): spread over tasks.
    let mut tasks = Vec::new();
    for r in 0..args.riders {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let user = users::create(&app, format!("139{r:08}"), Some(PIN.into()), balance).await.map_err(|e| format!("rider {r}: {e:?}"))?;
            transit::open(&app, &user, SCOPE, PIN).await.map_err(|e| format!("card {r}: {e:?}"))?;
            Ok::<_, String>(user)
        }));
    }
    let mut riders = Vec::new();
    for (r, t) in tasks.into_iter().enumerate() {
        let user = t.await.map_err(|e| e.to_string())??;
        riders.push(Rider { user, device: DeviceKeyPair::from_seed(Suite::Ed25519, &seed(3, r as u64)).map_err(|e| e.to_string())?, credential: None });
    }
    let mut gates = Vec::new();
    for g in 0..args.gates {
        let key = TerminalKeyPair::from_seed(&seed(4, g as u64));
        let stop = 100 + g as u32;
        let id = ingest::register(app, SCOPE, stop, key.public_key().as_bytes().to_vec(), format!("gate {g}")).await.map_err(fail("gate"))?.map_err(fail("gate"))?;
        gates.push(Gate { id, stop, key, seq: 0 });
    }

    let mut uploaded = 0usize;
    let mut secs = 0.0;
    let mut latencies = Vec::new();
    for day in 0..days {
        if day > 0 {
            clock.advance(86_400 * saoma_store::NANOS_PER_SEC);
        }
        for rider in &mut riders {
            let v = transit::credential(app, &rider.user, SCOPE, Suite::Ed25519, rider.device.public_key().as_bytes()).await.map_err(fail("credential"))?;
            let bytes = v["credential_hex"].as_str().and_then(hex::decode).ok_or("credential_hex")?;
            rider.credential = Some(Credential::parse(&bytes).map_err(fail("credential"))?);
        }
        let today = (args.rides - uploaded).min(args.riders * uses);
        // Taps in time order; rider r's c-th tap of the day at gate (r + c) mod gates.
        let base = app.business_now_secs() as u32 + 60;
        let mut per_gate: Vec<Vec<Vec<u8>>> = vec![Vec::new(); gates.len()];
        for k in 0..today {
            let (r, c) = (k % args.riders, k / args.riders + 1);
            let at = base + (c as u32 - 1) * TAP_GAP + (r % 7) as u32;
            let rider = &riders[r];
            let code = RideCode::generate(rider.credential.as_ref().ok_or("credential")?, &rider.device, at, c as u16).map_err(fail("code"))?.to_bytes();
            let g = (r + c) % gates.len();
            let gate = &mut gates[g];
            gate.seq += 1;
            let record = TerminalRecord { terminal_id: gate.id, terminal_sequence: gate.seq, time: at, direction: Direction::In, stop_id: gate.stop, code };
            per_gate[g].push(record.sign(&gate.key).map_err(fail("record"))?);
        }
        // Upload bodies as gates send them: `{"records": [hex, …]}`.
        let bodies: Vec<(u64, Vec<Vec<u8>>)> = gates
            .iter()
            .zip(per_gate)
            .map(|(g, records)| {
                let batches = records
                    .chunks(args.batch)
                    .map(|b| serde_json::json!({ "records": b.iter().map(|r| hex::encode(r)).collect::<Vec<_>>() }).to_string().into_bytes())
                    .collect();
                (g.id, batches)
            })
            .collect();
        eprintln!("[{backend}] day {}: uploading {today} rides…", day + 1);
        let started = Instant::now();
        let mut uploads = Vec::new();
        for (gate, batches) in bodies {
            let app = app.clone();
            uploads.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut accepted = 0;
                for body in batches {
                    let t0 = Instant::now();
                    let records = transit::check::decode_upload(&body).map_err(|e| format!("body refused: {e:?}"))?;
                    let results = ingest::upload(&app, gate, records).await.map_err(|e| format!("upload: {e:?}"))?;
                    lat.push(t0.elapsed().as_micros() as u64);
                    for r in &results {
                        if r["status"] != "ACCEPTED" {
                            return Err(format!("a valid record not accepted: {r}"));
                        }
                    }
                    accepted += results.len();
                }
                Ok::<_, String>((accepted, lat))
            }));
        }
        for u in uploads {
            let (n, lat) = u.await.map_err(|e| e.to_string())??;
            uploaded += n;
            latencies.extend(lat);
        }
        secs += started.elapsed().as_secs_f64();
    }
    // Every ride charged once, and the ledger balanced.
    // Store reads block (the PostgreSQL client starts its own runtime): off the async threads.
    let app2 = app.clone();
    let rows = tokio::task::spawn_blocking(move || app2.store.query("SELECT COUNT(*) AS charged FROM rides WHERE state = 'CHARGED'", &[])).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    let charged = rows.first().map(|r| r.int("charged")).transpose().map_err(|e| e.to_string())?.unwrap_or(0);
    let app2 = app.clone();
    if charged != uploaded as i64 || uploaded != args.rides {
        return Err(format!("{uploaded} rides uploaded of {}, {charged} charged", args.rides));
    }
    let report = tokio::task::spawn_blocking(move || app2.store.check()).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    if !report.is_clean() {
        return Err(format!("ledger check failed after the benchmark: {:?}", report.violations.first()));
    }
    let l = super::Latency::of(latencies);
    let per_sec = uploaded as f64 / secs;
    let w = verify_world(Suite::Ed25519, 4_000)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling = raw_rate(&w)? * cores as f64 / 2.0;
    eprintln!(
        "[{backend}] ingest: {uploaded} rides charged in {secs:.2} s = {per_sec:.0} rides/s; upload latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; ledger clean; \
         two raw verifies per ride on {cores} cores: at most {ceiling:.0}/s",
        l.p50, l.p99, l.max
    );
    Ok(Figure { scenario: "ingest", suite: Suite::Ed25519.name(), backend: Some(backend), per_sec, raw_per_sec: Some(ceiling), ratio: Some(per_sec / ceiling) })
}
