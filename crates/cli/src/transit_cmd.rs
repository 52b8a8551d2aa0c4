//! The transit ride code from the command line: `saoma ridecode` acts as a rider's phone (a device key
//! kept in the data directory, today's credential from the wallet API, a fresh code each time) and
//! lists the issuer keys gates trust; `saoma gate` runs a gate (a registered key, the signed lists it
//! pulled, offline verification, a durable queue of signed records, uploads).

use crate::admin_cmd::{report, ServerArgs};
use clap::Subcommand;
use saoma_ridecode::{
    verify, Blacklist, Credential, CredentialCache, DeviceKeyPair, Direction, KeyList, PlatformPublicKey, PublicKey, RideCode, Suite, TerminalConfig, TerminalKeyPair,
    TerminalRecord, TerminalState, Trust,
};
use saoma_server::hex;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RidecodeCmd {
    /// The issuer keys gates trust: [{key_id, suite, public_key_hex, not_before, not_after}].
    Keys {
        #[command(flatten)]
        server: ServerArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A fresh ride code of PHONE's card (as the phone makes it: device key in DATA_DIR/phones, today's
    /// credential fetched when needed, the counter moved on).
    Show {
        #[command(flatten)]
        server: ServerArgs,
        /// The rider's phone number (the wallet account).
        #[arg(long)]
        phone: String,
        /// The operator (scope) of the card.
        #[arg(long)]
        scope: u16,
        /// hex, base45, svg or png.
        #[arg(long, default_value = "hex")]
        format: String,
        /// The device key's suite: ed25519, p256 or sm2 (each suite is a card of its own on the phone).
        #[arg(long, default_value = "ed25519")]
        suite: String,
        /// Write to this file instead of standard output (for png).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn business_time(server: &ServerArgs) -> Result<u32, String> {
    let v = server.call("GET", "/healthz", None, "")?;
    v["business_time"].as_u64().map(|t| t as u32).ok_or_else(|| "the server did not say its time".to_string())
}

fn suite_named(name: &str) -> Result<Suite, String> {
    Suite::ALL.into_iter().find(|s| s.name() == name.to_ascii_lowercase()).ok_or_else(|| format!("unknown suite {name}: ed25519, p256 or sm2"))
}

/// The phone's state: its device key seed, today's credential, the last counter used. The counter moves
/// on with every code drawn, shown or not: the phone cannot know which codes a gate accepted, and a
/// counter never reused is never a replay.
fn phone_code(server: &ServerArgs, phone: &str, scope: u16, suite: Suite) -> Result<Vec<u8>, String> {
    if !saoma_server::users::valid_phone(phone) {
        return Err(format!("--phone: {}", saoma_server::users::PHONE_RULE));
    }
    let dir = server.data_dir().join("phones");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = match suite {
        Suite::Ed25519 => dir.join(format!("{phone}-{scope}.json")),
        other => dir.join(format!("{phone}-{scope}-{}.json", other.name())),
    };
    let mut state: Value = std::fs::read_to_string(&file).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or(json!({}));
    let device = match state["device_seed"].as_str().and_then(hex::decode).and_then(|v| <[u8; 32]>::try_from(v).ok()) {
        Some(s) => DeviceKeyPair::from_seed(suite, &s).map_err(|e| format!("device key: {e}"))?,
        None => loop {
            // A P-256 or SM2 scalar must lie below the group order: draw again on the rare miss.
            let s = saoma_wechatpay::aead::random_bytes::<32>().map_err(|e| e.to_string())?;
            if let Ok(d) = DeviceKeyPair::from_seed(suite, &s) {
                state["device_seed"] = hex::encode(&s).into();
                break d;
            }
        },
    };
    let now = business_time(server)?;
    let mut credential = state["credential_hex"].as_str().and_then(hex::decode).and_then(|b| Credential::parse(&b).ok());
    let mut counter = state["counter"].as_u64().unwrap_or(0) as u16;
    let usable = |c: &Credential, counter: u16| now < c.terms().not_after && counter < c.terms().max_uses as u16 && c.device_key() == &device.public_key();
    if !credential.as_ref().is_some_and(|c| usable(c, counter)) {
        let body = json!({ "suite": suite.name(), "device_public_key": hex::encode(device.public_key().as_bytes()) });
        let v = crate::session::call_as(server, phone, "POST", &format!("/wallet/transit/{scope}/credentials"), &body.to_string())?;
        let bytes = v["credential_hex"].as_str().and_then(hex::decode).ok_or("no credential in the answer")?;
        credential = Some(Credential::parse(&bytes).map_err(|e| format!("credential: {e:?}"))?);
        state["credential_hex"] = v["credential_hex"].clone();
        counter = 0;
    }
    counter += 1;
    state["counter"] = counter.into();
    let code = RideCode::generate(credential.as_ref().expect("set above"), &device, now, counter).map_err(|e| format!("{e:?}"))?;
    std::fs::write(&file, state.to_string()).map_err(|e| e.to_string())?;
    Ok(code.to_bytes())
}

pub fn ridecode(cmd: RidecodeCmd) -> ExitCode {
    match cmd {
        RidecodeCmd::Keys { server, json } => report(server.get("/admin/ridecode/keys"), json, |v| {
            for k in v.as_array().into_iter().flatten() {
                println!("{} {} {} {}–{}", k["key_id"], k["suite"].as_str().unwrap_or("?"), k["public_key_hex"].as_str().unwrap_or("?"), k["not_before"], k["not_after"]);
            }
        }),
        RidecodeCmd::Show { server, phone, scope, format, suite, out } => {
            let r = suite_named(&suite).and_then(|suite| phone_code(&server, &phone, scope, suite)).and_then(|code| render(&code, &format));
            match r {
                Ok(bytes) => {
                    let written = match &out {
                        Some(path) => std::fs::write(path, &bytes),
                        None => std::io::stdout().write_all(&bytes),
                    };
                    if let Err(e) = written {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// A code as hex or Base45 text (one line), or as a QR code (SVG, PNG) carrying the raw bytes.
fn render(code: &[u8], format: &str) -> Result<Vec<u8>, String> {
    use saoma_server::http::web::qr::Matrix;
    Ok(match format {
        "hex" => format!("{}\n", hex::encode(code)).into_bytes(),
        "base45" => format!("{}\n", saoma_ridecode::base45_encode(code)).into_bytes(),
        "svg" => Matrix::encode_bytes(code).map_err(|e| e.to_string())?.svg().into_bytes(),
        "png" => Matrix::encode_bytes(code).map_err(|e| e.to_string())?.png(8),
        other => return Err(format!("unknown format {other}: hex, base45, svg or png")),
    })
}

#[derive(Subcommand)]
pub enum GateCmd {
    /// Registers a gate with the operator (a new record-signing key) and keeps its configuration in DIR.
    Init {
        #[command(flatten)]
        server: ServerArgs,
        /// The gate's directory (configuration, lists, memory, queue).
        #[arg(long)]
        dir: PathBuf,
        /// The operator (scope) the gate belongs to.
        #[arg(long)]
        scope: u16,
        /// The gate's stop id (for distance fares).
        #[arg(long)]
        stop: u32,
        /// in or out.
        #[arg(long, default_value = "in")]
        direction: String,
        /// The gate's name in the operator's list.
        #[arg(long, default_value = "gate")]
        name: String,
        /// The fare each tap is checked against (minor units); by default the operator's fare table
        /// pulled with the lists decides: its flat fare, or its maximum fare for distance fares (a gate
        /// cannot know the other end of the trip offline).
        #[arg(long)]
        fare: Option<u16>,
    },
    /// Pulls the signed key list and blacklist (verified against the list keys from registration).
    Pull {
        #[command(flatten)]
        server: ServerArgs,
        /// The gate's directory (configuration, lists, memory, queue).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Verifies codes offline (hex or Base45) — CODE, or one per line on standard input — and queues
    /// each accepted tap as a signed record. Prints ACCEPT, DOUBLE or REJECT <reason> per code.
    Scan {
        #[command(flatten)]
        server: ServerArgs,
        /// The gate's directory (configuration, lists, memory, queue).
        #[arg(long)]
        dir: PathBuf,
        /// The fare to check against the code's maximum (minor units); by default the gate's
        /// configured fare (see `gate init --fare`) or the operator's fare table.
        #[arg(long)]
        fare: Option<u16>,
        /// One code (hex or Base45); without it, one per line on standard input.
        code: Option<String>,
    },
    /// Uploads the queued records not yet acknowledged (batches of 500).
    Upload {
        #[command(flatten)]
        server: ServerArgs,
        /// The gate's directory (configuration, lists, memory, queue).
        #[arg(long)]
        dir: PathBuf,
    },
}

struct GateFiles {
    config: PathBuf,
    lists: PathBuf,
    queue: PathBuf,
    uploaded: PathBuf,
    /// The replay and double-tap memory (`TerminalState::to_bytes`), rewritten before each answer.
    memory: PathBuf,
}

fn files(dir: &Path) -> GateFiles {
    GateFiles { config: dir.join("gate.json"), lists: dir.join("lists.json"), queue: dir.join("queue"), uploaded: dir.join("uploaded"), memory: dir.join("memory") }
}

/// The most uses a gate remembers (and so the size its memory file can reach, ~2 MiB).
const MEMORY_CAPACITY: usize = 100_000;

fn read_json(p: &Path) -> Result<Value, String> {
    let s = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&s).map_err(|e| format!("{}: {e}", p.display()))
}

/// Writes a file so that a crash leaves the old or the new content, never half of it.
fn write_atomic(p: &Path, content: &[u8]) -> Result<(), String> {
    let tmp = p.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| e.to_string())?;
    f.write_all(content).and_then(|_| f.sync_all()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, p).map_err(|e| e.to_string())?;
    // The rename itself is durable only once the directory is.
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| e.to_string())
}

fn list_keys(config: &Value) -> Vec<PlatformPublicKey> {
    config["list_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| {
            let suite = Suite::ALL.into_iter().find(|s| Some(s.name()) == k["suite"].as_str()).unwrap_or(Suite::Ed25519);
            let key = PublicKey::from_bytes(suite, &hex::decode(k["public_key_hex"].as_str()?)?).ok()?;
            Some(PlatformPublicKey { key_id: k["key_id"].as_u64()? as u16, public_key: key })
        })
        .collect()
}

fn pull(server: &ServerArgs, dir: &Path) -> Result<Value, String> {
    let f = files(dir);
    let config = read_json(&f.config)?;
    let scope = config["scope"].as_u64().unwrap_or(0);
    let v = server.call("GET", &format!("/transit/{scope}/lists"), None, "")?;
    // Checked before it replaces what the gate trusts.
    let keys = list_keys(&config);
    let verified = |v: &Value| -> Result<(KeyList, Blacklist), String> {
        let key_list = KeyList::parse_verified(&hex::decode(v["key_list_hex"].as_str().unwrap_or("")).unwrap_or_default(), &keys).map_err(|e| format!("key list: {e:?}"))?;
        let blacklist = Blacklist::parse_verified(&hex::decode(v["blacklist_hex"].as_str().unwrap_or("")).unwrap_or_default(), &keys).map_err(|e| format!("blacklist: {e:?}"))?;
        Ok((key_list, blacklist))
    };
    let (key_list, blacklist) = verified(&v)?;
    // Never back to older lists: an old blacklist replayed (validly signed) would drop the entries since.
    if let Ok((held_keys, held_blacklist)) = read_json(&f.lists).and_then(|old| verified(&old)) {
        if key_list.version() < held_keys.version() || blacklist.version() < held_blacklist.version() {
            return Err(format!(
                "refusing lists older than those installed (key list {} < {} or blacklist {} < {})",
                key_list.version(),
                held_keys.version(),
                blacklist.version(),
                held_blacklist.version()
            ));
        }
    }
    write_atomic(&f.lists, v.to_string().as_bytes())?;
    // The fare scans will check, as the gate now resolves it.
    let fare = gate_fare(None, &config, &v).ok();
    Ok(json!({ "blacklisted": v["blacklisted"], "stale_fare_limit": v["stale_fare_limit"], "fare": fare }))
}

/// The fare a tap is checked against: the one given, else the gate's configured fare, else the
/// operator's table as pulled with the lists (flat fare, or the maximum of a distance table).
fn gate_fare(given: Option<u16>, config: &Value, lists: &Value) -> Result<u16, String> {
    let table = &lists["fares"];
    let from_table = table["flat"].as_u64().or_else(|| table["max_fare"].as_u64());
    given
        .map(u64::from)
        .or_else(|| config["fare"].as_u64())
        .or(from_table)
        .and_then(|f| u16::try_from(f).ok())
        .ok_or_else(|| "no fare: give --fare, configure one at `gate init --fare`, or pull the operator's fare table".to_string())
}

fn scan(server: &ServerArgs, dir: &Path, fare: Option<u16>, code: Option<String>) -> Result<(), String> {
    let f = files(dir);
    let config = read_json(&f.config)?;
    let lists = read_json(&f.lists).map_err(|e| format!("{e} (run `saoma gate pull` first)"))?;
    let keys = list_keys(&config);
    let key_list = KeyList::parse_verified(&hex::decode(lists["key_list_hex"].as_str().unwrap_or("")).unwrap_or_default(), &keys).map_err(|e| format!("key list: {e:?}"))?;
    let blacklist = Blacklist::parse_verified(&hex::decode(lists["blacklist_hex"].as_str().unwrap_or("")).unwrap_or_default(), &keys).map_err(|e| format!("blacklist: {e:?}"))?;
    let seed: [u8; 32] = config["seed"].as_str().and_then(hex::decode).and_then(|v| v.try_into().ok()).ok_or("gate seed")?;
    let key = TerminalKeyPair::from_seed(&seed);
    let tc = TerminalConfig { scope: config["scope"].as_u64().unwrap_or(0) as u16, stale_fare_limit: lists["stale_fare_limit"].as_u64().unwrap_or(0) as u16 };
    let direction = if config["direction"] == "out" { Direction::Out } else { Direction::In };
    let fare = gate_fare(fare, &config, &lists)?;
    // What this gate accepted before, across restarts: without it the same code passes twice.
    let mut state = match std::fs::read(&f.memory) {
        Ok(bytes) => TerminalState::from_bytes(&bytes, MEMORY_CAPACITY).map_err(|e| format!("{}: {e} (the gate's memory is unreadable; refusing to start without it)", f.memory.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => TerminalState::new(MEMORY_CAPACITY),
        Err(e) => return Err(format!("{}: {e}", f.memory.display())),
    };
    let mut cache = CredentialCache::new(4096);
    // The queue is append-only: a record's sequence is its line number, so nothing else needs saving.
    let mut seq = std::fs::read_to_string(&f.queue).map(|s| s.lines().count() as u64).unwrap_or(0);
    let mut queue = std::fs::OpenOptions::new().create(true).append(true).open(&f.queue).map_err(|e| e.to_string())?;
    let codes: Box<dyn Iterator<Item = String>> = match code {
        Some(c) => Box::new(std::iter::once(c)),
        None => Box::new(std::io::stdin().lock().lines().map_while(Result::ok)),
    };
    for text in codes {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let bytes = hex::decode(text).or_else(|| saoma_ridecode::base45_decode(text).ok()).unwrap_or_default();
        let now = business_time(server).unwrap_or_else(|_| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0));
        let verdict = verify(&bytes, now as u64, fare, &tc, Trust { key_list: &key_list, blacklist: &blacklist }, &mut cache, &mut state);
        if verdict.is_ok() {
            // The memory is durable before the gate opens and before the record is queued: a crash
            // in between loses at most a tap the rider was not let through for (a fresh code passes),
            // never lets the same code through twice.
            write_atomic(&f.memory, &state.to_bytes())?;
        }
        match verdict {
            Ok(a) if a.tap == saoma_ridecode::TapKind::New => {
                seq += 1;
                let rec = TerminalRecord { terminal_id: config["terminal_id"].as_u64().unwrap_or(0), terminal_sequence: seq, time: now, direction, stop_id: config["stop"].as_u64().unwrap_or(0) as u32, code: bytes };
                let signed = rec.sign(&key).map_err(|e| format!("{e:?}"))?;
                // Durable before the gate opens: an acknowledged tap is never lost.
                writeln!(queue, "{}", hex::encode(&signed)).and_then(|_| queue.sync_data()).map_err(|e| e.to_string())?;
                println!("ACCEPT {seq}");
            }
            Ok(_) => println!("DOUBLE"),
            // The specification's snake_case code (`Reject::code`), as the server stores it.
            Err(r) => println!("REJECT {}", r.code()),
        }
    }
    Ok(())
}

fn upload(server: &ServerArgs, dir: &Path) -> Result<Value, String> {
    let f = files(dir);
    let config = read_json(&f.config)?;
    let terminal = config["terminal_id"].as_u64().unwrap_or(0);
    let records: Vec<String> = std::fs::read_to_string(&f.queue).unwrap_or_default().lines().map(str::to_string).collect();
    let mut done: usize = std::fs::read_to_string(&f.uploaded).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let mut statuses = serde_json::Map::new();
    while done < records.len() {
        let batch = &records[done..records.len().min(done + 500)];
        let v = server.call("POST", &format!("/transit/terminals/{terminal}/uploads"), None, &json!({ "records": batch }).to_string())?;
        for r in v["results"].as_array().into_iter().flatten() {
            let s = r["status"].as_str().unwrap_or("?").to_string();
            let n = statuses.get(&s).and_then(Value::as_u64).unwrap_or(0) + 1;
            statuses.insert(s, n.into());
        }
        // Only what the server acknowledged moves the mark (a re-sent batch is answered the same).
        done += batch.len();
        write_atomic(&f.uploaded, done.to_string().as_bytes())?;
    }
    Ok(json!({ "uploaded": done, "statuses": statuses }))
}

pub fn gate(cmd: GateCmd) -> ExitCode {
    let r = match cmd {
        GateCmd::Init { server, dir, scope, stop, direction, name, fare } => (|| {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let f = files(&dir);
            if f.config.exists() {
                return Err(format!("{} exists: this directory is a gate already", f.config.display()));
            }
            let seed = saoma_wechatpay::aead::random_bytes::<32>().map_err(|e| e.to_string())?;
            let key = TerminalKeyPair::from_seed(&seed);
            let v = server.post("/admin/transit/terminals", &json!({ "scope": scope, "stop_id": stop, "public_key": hex::encode(key.public_key().as_bytes()), "name": name }))?;
            let config = json!({ "terminal_id": v["terminal_id"], "scope": scope, "stop": stop, "direction": direction, "seed": hex::encode(&seed), "list_keys": v["list_keys"], "fare": fare });
            write_atomic(&f.config, config.to_string().as_bytes())?;
            pull(&server, &dir)?;
            Ok(json!({ "terminal_id": v["terminal_id"], "scope": scope, "stop": stop, "fare": fare }))
        })(),
        GateCmd::Pull { server, dir } => pull(&server, &dir),
        GateCmd::Scan { server, dir, fare, code } => scan(&server, &dir, fare, code).map(|()| Value::Null),
        GateCmd::Upload { server, dir } => upload(&server, &dir),
    };
    match r {
        Ok(Value::Null) => ExitCode::SUCCESS,
        other => report(other, true, |_| {}),
    }
}
