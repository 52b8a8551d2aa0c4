//! The test vectors published in docs/ridecode.md, regenerated and compared byte for byte.
//!
//! The markdown is the source of truth for other implementations, so the test reads it at
//! compile time and fails if a single published byte differs from what the crate produces. To
//! print fresh blocks after a deliberate format change:
//! `cargo test -p saoma-ridecode --test vectors -- --ignored --nocapture`.

use saoma_ridecode::*;

const SPEC: &str = include_str!("../../../docs/ridecode.md");

/// 2026-01-01 00:00 at UTC+8.
const T0: u32 = 1_767_196_800;
const GENERATED_AT: u32 = T0 + 9 * 3600;
const ACCOUNT: u64 = 0x0000_0123_4567_89ab;

fn seed(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(i as u8))
}

enum Block {
    Hex(Vec<u8>),
    Base45(String),
}

fn issuer(suite: Suite) -> IssuerKeyPair {
    IssuerKeyPair::from_seed(suite, &seed(0x01), u16::from(suite.as_byte()), T0, T0 + 90 * 86400)
        .unwrap()
}

fn terms() -> CredentialTerms {
    CredentialTerms {
        account_id: ACCOUNT,
        sequence: 42,
        not_before: T0,
        not_after: T0 + MAX_CREDENTIAL_SPAN,
        max_fare: 400,
        max_uses: 8,
        class_flags: 0,
        scope: 0x0021,
    }
}

fn vectors() -> Vec<(String, Block)> {
    let mut out = Vec::new();
    let mut entries = Vec::new();
    let mut ed25519_code = Vec::new();
    for suite in Suite::ALL {
        let name = suite.name();
        let issuer = issuer(suite);
        let device = DeviceKeyPair::from_seed(suite, &seed(0x21)).unwrap();
        let credential = issuer.issue(&terms(), &device.public_key()).unwrap();
        let code = RideCode::generate(&credential, &device, GENERATED_AT, 1).unwrap();
        out.push((format!("{name}.issuer_public_key"), Block::Hex(issuer.public().public_key.as_bytes().to_vec())));
        out.push((format!("{name}.device_public_key"), Block::Hex(device.public_key().as_bytes().to_vec())));
        out.push((format!("{name}.credential"), Block::Hex(credential.to_bytes())));
        out.push((format!("{name}.code"), Block::Hex(code.to_bytes())));
        out.push((format!("{name}.code_base45"), Block::Base45(code.to_base45())));
        entries.push(KeyListEntry { key: issuer.public(), revoked_at: None });
        if suite == Suite::Ed25519 {
            ed25519_code = code.to_bytes();
        }
    }
    let platform = platform(Suite::Ed25519);
    out.push(("platform_public_key".into(), Block::Hex(platform.public().public_key.as_bytes().to_vec())));
    let key_list = KeyList::new(1, GENERATED_AT - 3600, entries).unwrap();
    out.push(("key_list".into(), Block::Hex(key_list.sign(&platform))));
    let blacklist = blacklist();
    out.push(("blacklist".into(), Block::Hex(blacklist.sign(&platform))));
    // The same lists signed by a P-256 and an SM2 platform key.
    for suite in [Suite::P256, Suite::Sm2] {
        let name = suite.name();
        let signer = self::platform(suite);
        out.push((format!("{name}.platform_public_key"), Block::Hex(signer.public().public_key.as_bytes().to_vec())));
        out.push((format!("{name}.key_list"), Block::Hex(key_list.sign(&signer))));
        out.push((format!("{name}.blacklist"), Block::Hex(blacklist.sign(&signer))));
    }
    let terminal = TerminalKeyPair::from_seed(&seed(0x61));
    out.push(("terminal_public_key".into(), Block::Hex(terminal.public_key().as_bytes().to_vec())));
    let record = TerminalRecord {
        terminal_id: 9001,
        terminal_sequence: 1,
        time: GENERATED_AT + 2,
        direction: Direction::In,
        stop_id: 120,
        code: ed25519_code,
    };
    out.push(("record".into(), Block::Hex(record.sign(&terminal).unwrap())));
    out.push(("reject.key_list".into(), Block::Hex(reject_key_list().sign(&platform))));
    for v in reject_vectors() {
        out.push((format!("reject.{}", v.expected.code()), Block::Hex(v.code)));
    }
    out
}

/// The platform key of `suite` (seed 0x41), with key id = the suite byte.
fn platform(suite: Suite) -> PlatformKeyPair {
    PlatformKeyPair::from_seed(suite, &seed(0x41), u16::from(suite.as_byte())).unwrap()
}

fn blacklist() -> Blacklist {
    Blacklist::new(
        5,
        GENERATED_AT - 3600,
        vec![
            BlacklistEntry { account_id: 666, until: T0 + 86400 },
            BlacklistEntry { account_id: ACCOUNT + 1, until: T0 + MAX_CREDENTIAL_SPAN },
        ],
    )
}

/// The reject vectors' key list: the three issuer keys, key 4 (seed 0x04) valid only from an hour
/// after the vectors' time, key 5 (seed 0x05) revoked an hour before it.
fn reject_key_list() -> KeyList {
    let mut entries: Vec<KeyListEntry> = Suite::ALL.into_iter().map(|s| KeyListEntry { key: issuer(s).public(), revoked_at: None }).collect();
    entries.push(KeyListEntry { key: reject_issuer(4).public(), revoked_at: None });
    entries.push(KeyListEntry { key: reject_issuer(5).public(), revoked_at: Some(GENERATED_AT - 3600) });
    KeyList::new(2, GENERATED_AT - 3600, entries).unwrap()
}

/// Ed25519 issuer keys for the reject vectors: 4 (not valid yet), 5 (revoked), 9 (not listed).
fn reject_issuer(key_id: u16) -> IssuerKeyPair {
    let (start, not_before) = match key_id {
        4 => (0x04, GENERATED_AT + 3600),
        5 => (0x05, T0),
        _ => (0x01, T0),
    };
    IssuerKeyPair::from_seed(Suite::Ed25519, &seed(start), key_id, not_before, T0 + 90 * 86400).unwrap()
}

/// One reject vector: the code, the gate's time and fare, and how many times it is scanned (the
/// last scan is refused with `expected`, the earlier ones accepted).
struct RejectVector {
    code: Vec<u8>,
    now: u32,
    fare: u16,
    scans: usize,
    expected: Reject,
}

fn reject_vectors() -> Vec<RejectVector> {
    let device = DeviceKeyPair::from_seed(Suite::Ed25519, &seed(0x21)).unwrap();
    let issue = |issuer: &IssuerKeyPair, terms: CredentialTerms| issuer.issue(&terms, &device.public_key()).unwrap();
    let code = |credential: &Credential, generated_at: u32, counter: u16| RideCode::generate(credential, &device, generated_at, counter).unwrap().to_bytes();
    let normal = issue(&issuer(Suite::Ed25519), terms());
    let good = code(&normal, GENERATED_AT, 1);
    let flipped = |at: usize, with: u8| {
        let mut c = good.clone();
        c[at] ^= with;
        c
    };
    let v = |code: Vec<u8>, now: u32, fare: u16, scans: usize, expected: Reject| RejectVector { code, now, fare, scans, expected };
    let at = GENERATED_AT;
    vec![
        v(good[..195].to_vec(), at, 300, 1, Reject::Length),
        v(flipped(0, 0x03), at, 300, 1, Reject::UnknownFormat),
        v(flipped(1, 0x05), at, 300, 1, Reject::UnknownSuite),
        v(code(&issue(&issuer(Suite::Ed25519), CredentialTerms { scope: 0x0022, ..terms() }), at, 1), at, 300, 1, Reject::ScopeMismatch),
        v(code(&issue(&reject_issuer(9), terms()), at, 1), at, 300, 1, Reject::UnknownIssuerKey),
        v(code(&issue(&reject_issuer(4), terms()), at, 1), at, 300, 1, Reject::IssuerKeyExpired),
        v(code(&issue(&reject_issuer(5), terms()), at, 1), at, 300, 1, Reject::IssuerKeyRevoked),
        v(flipped(70, 0x01), at, 300, 1, Reject::IssuerSignature),
        v(code(&issue(&issuer(Suite::Ed25519), CredentialTerms { not_before: at + 301, not_after: at + 301 + MAX_CREDENTIAL_SPAN, ..terms() }), at, 1), at, 300, 1, Reject::OutsideWindow),
        v(flipped(140, 0x01), at, 300, 1, Reject::DeviceSignature),
        v(code(&normal, at - 61, 1), at, 300, 1, Reject::CodeTooOld),
        v(code(&normal, at + 31, 1), at, 300, 1, Reject::CodeFromFuture),
        v(code(&normal, at, 9), at, 300, 1, Reject::CounterOutOfRange),
        v(code(&issue(&issuer(Suite::Ed25519), CredentialTerms { account_id: ACCOUNT + 1, ..terms() }), at, 1), at, 300, 1, Reject::Blacklisted),
        v(code(&normal, at, 2), at, 300, 2, Reject::Replay),
        v(good.clone(), at, 401, 1, Reject::FareAboveMax),
        v(code(&issue(&issuer(Suite::Ed25519), CredentialTerms { sequence: 43, not_before: T0 + 86400, not_after: T0 + 86400 + MAX_CREDENTIAL_SPAN, ..terms() }), at + 86400, 1), at + 86400, 300, 1, Reject::StaleLists),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Fenced blocks whose info string is `hex NAME` or `base45 NAME`.
fn published() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    for line in SPEC.lines() {
        if let Some((kind, name, mut body)) = current.take() {
            if line.trim_start().starts_with("```") {
                out.push((kind, name, body));
            } else {
                body.push_str(line);
                body.push('\n');
                current = Some((kind, name, body));
            }
        } else if let Some(info) = line.strip_prefix("```") {
            let mut parts = info.split_whitespace();
            if let (Some(kind @ ("hex" | "base45")), Some(name)) = (parts.next(), parts.next()) {
                current = Some((kind.to_string(), name.to_string(), String::new()));
            }
        }
    }
    out
}

#[test]
fn published_vectors_match_byte_for_byte() {
    let published = published();
    let generated = vectors();
    assert_eq!(published.len(), generated.len(), "number of vector blocks in docs/ridecode.md");
    for (name, block) in &generated {
        let (kind, _, body) = published
            .iter()
            .find(|(_, n, _)| n == name)
            .unwrap_or_else(|| panic!("vector {name} missing from docs/ridecode.md"));
        match block {
            Block::Hex(bytes) => {
                assert_eq!(kind, "hex", "{name}");
                assert_eq!(hex(&unhex(body)), hex(bytes), "vector {name}");
            }
            Block::Base45(text) => {
                assert_eq!(kind, "base45", "{name}");
                assert_eq!(body.trim_end_matches('\n'), text, "vector {name}");
            }
        }
    }
}

#[test]
fn published_codes_verify_at_a_gate() {
    let published = published();
    let get = |name: &str| unhex(&published.iter().find(|(_, n, _)| n == name).unwrap().2);
    let platform = PublicKey::from_bytes(Suite::Ed25519, &get("platform_public_key")).unwrap();
    let trusted = [PlatformPublicKey { key_id: 1, public_key: platform }];
    let key_list = KeyList::parse_verified(&get("key_list"), &trusted).unwrap();
    let blacklist = Blacklist::parse_verified(&get("blacklist"), &trusted).unwrap();
    let config = TerminalConfig { scope: 0x0021, stale_fare_limit: 0 };
    for suite in Suite::ALL {
        let code = get(&format!("{}.code", suite.name()));
        let mut cache = CredentialCache::new(4);
        let mut state = TerminalState::new(4);
        let trust = Trust { key_list: &key_list, blacklist: &blacklist };
        let ok = verify(&code, u64::from(GENERATED_AT), 300, &config, trust, &mut cache, &mut state)
            .unwrap();
        assert_eq!((ok.suite, ok.account_id, ok.counter), (suite, ACCOUNT, 1));
        let text = published.iter().find(|(_, n, _)| *n == format!("{}.code_base45", suite.name()));
        assert_eq!(RideCode::from_base45(text.unwrap().2.trim()).unwrap().to_bytes(), code);
    }
    let terminal = PublicKey::from_bytes(Suite::Ed25519, &get("terminal_public_key")).unwrap();
    let record = TerminalRecord::parse(&get("record")).unwrap().verify(&terminal).unwrap();
    assert_eq!(record.code, get("ed25519.code"));
}

#[test]
fn published_lists_verify_under_every_suite() {
    let published = published();
    let get = |name: &str| unhex(&published.iter().find(|(_, n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).2);
    let ed25519 = PublicKey::from_bytes(Suite::Ed25519, &get("platform_public_key")).unwrap();
    let reference = [PlatformPublicKey { key_id: 1, public_key: ed25519 }];
    let key_list = KeyList::parse_verified(&get("key_list"), &reference).unwrap();
    let blacklist = Blacklist::parse_verified(&get("blacklist"), &reference).unwrap();
    for suite in [Suite::P256, Suite::Sm2] {
        let name = suite.name();
        let key = PublicKey::from_bytes(suite, &get(&format!("{name}.platform_public_key"))).unwrap();
        let trusted = [PlatformPublicKey { key_id: u16::from(suite.as_byte()), public_key: key }];
        let kl = KeyList::parse_verified(&get(&format!("{name}.key_list")), &trusted).unwrap();
        let bl = Blacklist::parse_verified(&get(&format!("{name}.blacklist")), &trusted).unwrap();
        // The same content as the Ed25519-signed lists; only the envelope's signer differs.
        assert_eq!((kl.version(), kl.issued_at()), (key_list.version(), key_list.issued_at()));
        assert!(kl.entries().eq(key_list.entries()), "{name} key list entries");
        assert_eq!((bl.version(), bl.issued_at(), bl.entries()), (blacklist.version(), blacklist.issued_at(), blacklist.entries()));
        // Not under the Ed25519 platform key, and not under another suite's.
        assert!(KeyList::parse_verified(&get(&format!("{name}.key_list")), &reference).is_err());
    }
}

/// Every reject vector, read from the document, gets exactly its code at a fresh gate: scope
/// 0x0021, the reject key list and the blacklist above, a stale-fare limit of 0.
#[test]
fn published_reject_vectors_get_their_codes() {
    let published = published();
    let get = |name: &str| unhex(&published.iter().find(|(_, n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).2);
    let platform = PublicKey::from_bytes(Suite::Ed25519, &get("platform_public_key")).unwrap();
    let trusted = [PlatformPublicKey { key_id: 1, public_key: platform }];
    let key_list = KeyList::parse_verified(&get("reject.key_list"), &trusted).unwrap();
    let blacklist = Blacklist::parse_verified(&get("blacklist"), &trusted).unwrap();
    let config = TerminalConfig { scope: 0x0021, stale_fare_limit: 0 };
    let vectors = reject_vectors();
    let covered: Vec<Reject> = vectors.iter().map(|v| v.expected).collect();
    assert_eq!(covered, Reject::ALL, "one vector per reject code, in check order");
    for v in vectors {
        let name = format!("reject.{}", v.expected.code());
        let code = get(&name);
        let (mut cache, mut state) = (CredentialCache::new(4), TerminalState::new(4));
        let mut scan = || verify(&code, u64::from(v.now), v.fare, &config, Trust { key_list: &key_list, blacklist: &blacklist }, &mut cache, &mut state);
        for _ in 1..v.scans {
            assert!(scan().is_ok(), "{name}: the earlier scans are accepted");
        }
        assert_eq!(scan(), Err(v.expected), "{name}");
    }
    // The stale rule holds for a ride that costs nothing too: a limit of 0 refuses everything.
    let stale = get("reject.stale_lists");
    let (mut cache, mut state) = (CredentialCache::new(4), TerminalState::new(4));
    let trust = Trust { key_list: &key_list, blacklist: &blacklist };
    assert_eq!(verify(&stale, u64::from(GENERATED_AT + 86400), 0, &config, trust, &mut cache, &mut state), Err(Reject::StaleLists));
}

#[test]
#[ignore = "prints the vector blocks for docs/ridecode.md"]
fn print_vectors() {
    for (name, block) in vectors() {
        match block {
            Block::Hex(bytes) => {
                println!("```hex {name}");
                for chunk in bytes.chunks(32) {
                    println!("{}", hex(chunk));
                }
            }
            Block::Base45(text) => {
                println!("```base45 {name}");
                println!("{text}");
            }
        }
        println!("```\n");
    }
}
