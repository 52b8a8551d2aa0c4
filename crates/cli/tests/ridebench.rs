//! The ride code's fuzzer and benchmark, run small: `saoma fuzz ridecode` goes through a fixed
//! number of inputs with no panic and no hang, and its inputs reach the deepest outcomes (accepted at
//! the gate, past every check of the server) as well as the refusals; `saoma bench ridecode --json`
//! prints the documented shape, with an ingest figure for every available backend (its own checks —
//! every ride CHARGED, the ledger clean — make it fail otherwise). Never a speed.

use saoma_store::testing::TestDb;
use std::process::Command;

fn saoma() -> Command {
    Command::new(env!("CARGO_BIN_EXE_saoma"))
}

#[test]
fn fuzzing_20k_inputs_reaches_every_layer_without_a_panic() {
    let out = saoma().args(["fuzz", "ridecode", "--iterations", "20000", "--seed", "7"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("20000 inputs") && text.contains("no panic, no hang"), "{text}");
    let count = |outcome: &str| -> u64 {
        text.lines().find(|l| l.trim_start().starts_with(outcome)).and_then(|l| l.split_whitespace().last()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    // Deep: valid and re-signed inputs get through; shallow: mutations are refused at each layer.
    for outcome in [
        "gate: accepted",
        "gate: length",
        "gate: device_signature",
        "gate: issuer_signature",
        "gate: code_too_old",
        "gate: blacklisted",
        "gate: replay",
        "server: passes every check",
        "server: malformed_record",
        "server: terminal_signature",
        "server: credential_not_issued",
        "server: issuer_key_revoked",
        "body: decoded",
        "body: not the upload's JSON",
    ] {
        assert!(count(outcome) > 0, "no input reached {outcome:?}:\n{text}");
    }
    // The same seed is the same run.
    let again = saoma().args(["fuzz", "ridecode", "--iterations", "2000", "--seed", "7"]).output().unwrap();
    let first = saoma().args(["fuzz", "ridecode", "--iterations", "2000", "--seed", "7"]).output().unwrap();
    let tally = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(tally(&again), tally(&first));
}

#[test]
fn bench_ridecode_prints_the_documented_json() {
    let out = saoma()
        .args(["bench", "ridecode", "--json", "--codes", "80", "--rounds", "1", "--rides", "90", "--riders", "3", "--gates", "2", "--batch", "20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    let results = v["results"].as_array().unwrap();
    let backends: Vec<&str> = if TestDb::postgres().is_some() { vec!["sqlite", "postgres"] } else { vec!["sqlite"] };
    assert_eq!(results.len(), 3 * 2 + backends.len(), "{v}");
    for (i, r) in results.iter().enumerate() {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6, "{r}");
        for k in ["scenario", "suite", "backend", "per_sec", "raw_per_sec", "ratio"] {
            assert!(keys.contains(&k), "{k} missing in {r}");
        }
        assert!(r["per_sec"].as_f64().is_some_and(|x| x > 0.0), "{r}");
        if i < 6 {
            assert_eq!(r["scenario"], ["verify_cached", "verify_uncached"][i % 2], "{r}");
            assert_eq!(r["suite"], ["ed25519", "p256", "sm2"][i / 2], "{r}");
            assert!(r["backend"].is_null(), "{r}");
            let (raw, ratio) = (r["raw_per_sec"].as_f64().unwrap(), r["ratio"].as_f64().unwrap());
            assert!((ratio - r["per_sec"].as_f64().unwrap() / raw).abs() < 1e-9, "{r}");
        } else {
            assert_eq!(r["scenario"], "ingest");
            assert_eq!(r["suite"], "ed25519");
            assert_eq!(r["backend"], backends[i - 6]);
            let (raw, ratio) = (r["raw_per_sec"].as_f64().unwrap(), r["ratio"].as_f64().unwrap());
            assert!(raw > 0.0 && (ratio - r["per_sec"].as_f64().unwrap() / raw).abs() < 1e-9, "{r}");
        }
    }
}
