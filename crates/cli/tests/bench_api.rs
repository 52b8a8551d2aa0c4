//! `saoma bench api --json` on a few payments: the documented shape, on SQLite and (where reachable)
//! PostgreSQL, and every timed payment SUCCESS and notified. Speed is not asserted (shared machines).

use saoma_store::testing::TestDb;
use std::process::Command;

#[test]
fn bench_api_prints_the_documented_json_and_every_payment_succeeds() {
    let out = Command::new(env!("CARGO_BIN_EXE_saoma")).args(["bench", "api", "--json", "--payments", "24", "--clients", "4", "--baseline-secs", "0.3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    let backends: &[&str] = if TestDb::postgres().is_some() { &["sqlite", "postgres"] } else { &["sqlite"] };
    assert_eq!(results.len(), backends.len(), "{v}");
    for (r, backend) in results.iter().zip(backends) {
        assert_eq!(r["backend"], *backend);
        assert_eq!(r["scenario"], "payment");
        for k in ["per_sec", "p50_ms", "p99_ms", "max_ms", "ceiling_per_sec", "ratio", "signing_per_sec", "http_per_sec"] {
            assert!(r[k].as_f64().is_some_and(|x| x > 0.0 && x.is_finite()), "{k} in {r}");
        }
        let ratio = r["per_sec"].as_f64().unwrap() / r["ceiling_per_sec"].as_f64().unwrap();
        assert!((r["ratio"].as_f64().unwrap() - ratio).abs() < 1e-9 * ratio.max(1.0), "{r}");
        // The ceiling is the signing rate over the signatures a payment costs: create and query answers
        // and one notification (the wallet API signs nothing).
        assert_eq!(r["signatures_per_payment"].as_f64(), Some(3.0), "{r}");
        let ceiling = r["signing_per_sec"].as_f64().unwrap() / 3.0;
        assert!((r["ceiling_per_sec"].as_f64().unwrap() - ceiling).abs() < 1e-9 * ceiling, "{r}");
        assert!(r["p50_ms"].as_f64() <= r["p99_ms"].as_f64() && r["p99_ms"].as_f64() <= r["max_ms"].as_f64(), "{r}");
        for k in ["payments", "succeeded", "notified"] {
            assert_eq!(r[k], 24, "{k} in {r}");
        }
    }
}
