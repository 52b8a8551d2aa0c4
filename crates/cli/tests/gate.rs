//! `saoma ridecode` (the phone) and `saoma gate` (a gate) against a real server on both backends: keys,
//! codes in every format, two gates registered, lists pulled, codes verified offline from a stream (a
//! replay refused at the gate), the durable queue uploaded (again: nothing new), the ride charged. A
//! gate restarted between two scans of one code (every scan is a process of its own) still refuses it;
//! the fare comes from the gate's configuration or the operator's table; phones with P-256 and SM2 device
//! keys get credentials, their codes pass a gate and are charged; malformed device keys get a 4xx.

mod support;

use saoma_wechatpay::client::http;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use support::{saoma, user, Server};

fn run(s: &Server, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = saoma();
    cmd.args(args).arg("--data-dir").arg(&s.data_dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_phone_and_two_gates_from_the_command_line() {
    for s in Server::all(true) {
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        let admin = format!("Bearer {}", token.trim());
        let m = s.merchant("公交", "public_key");
        let body = json!({ "mchid": m["mchid"], "scope": 5, "fares": { "stops": [[1, 0], [3, 9000]], "bands": [[5000, 200], [10000, 300]], "max_fare": 400 }, "max_uses": 6 });
        let r = http(&s.base, "POST", "/admin/transit/operators", &[("Authorization", &admin)], &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        user(&s, "13200000001", 10_000);
        let session = s.wallet_session("13200000001");
        let r = http(&s.base, "POST", "/wallet/transit/5/open", &[("Authorization", &session)], r#"{"pin":"123456"}"#).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);

        let keys: Value = serde_json::from_str(&run(&s, &["ridecode", "keys", "--json"], None)).unwrap();
        assert_eq!(keys[0]["suite"], "ed25519", "{keys}");
        assert_eq!(keys[0]["public_key_hex"].as_str().unwrap().len(), 64);

        let g1 = s.data_dir.join("gate1");
        let g2 = s.data_dir.join("gate2");
        let init: Value = serde_json::from_str(&run(&s, &["gate", "init", "--dir", g1.to_str().unwrap(), "--scope", "5", "--stop", "1"], None)).unwrap();
        assert!(init["terminal_id"].as_u64().is_some(), "{init}");
        run(&s, &["gate", "init", "--dir", g2.to_str().unwrap(), "--scope", "5", "--stop", "3", "--direction", "out"], None);

        // The phone: a code in each format (each a new counter).
        let code = run(&s, &["ridecode", "show", "--phone", "13200000001", "--scope", "5"], None).trim().to_string();
        assert_eq!(code.len(), 2 * 196, "{code}");
        let b45 = run(&s, &["ridecode", "show", "--phone", "13200000001", "--scope", "5", "--format", "base45"], None);
        assert_eq!(saoma_ridecode::base45_decode(b45.trim()).unwrap().len(), 196);
        assert!(run(&s, &["ridecode", "show", "--phone", "13200000001", "--scope", "5", "--format", "svg"], None).starts_with("<svg"));
        let png = s.data_dir.join("code.png");
        run(&s, &["ridecode", "show", "--phone", "13200000001", "--scope", "5", "--format", "png", "--out", png.to_str().unwrap()], None);
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");

        // Gate 1 reads a stream: the code, the same code again (a replay), garbage.
        let out = run(&s, &["gate", "scan", "--dir", g1.to_str().unwrap(), "--fare", "400"], Some(&format!("{code}\n{code}\nnot-a-code\n")));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "ACCEPT 1", "{out}");
        // The specification's code, as the server stores it.
        assert_eq!(lines[1], "REJECT replay", "{out}");
        assert!(lines[2].starts_with("REJECT"), "{out}");
        let exit = run(&s, &["ridecode", "show", "--phone", "13200000001", "--scope", "5"], None);
        assert_eq!(run(&s, &["gate", "scan", "--dir", g2.to_str().unwrap(), "--fare", "400", exit.trim()], None).trim(), "ACCEPT 1");

        let up: Value = serde_json::from_str(&run(&s, &["gate", "upload", "--dir", g1.to_str().unwrap()], None)).unwrap();
        assert_eq!((up["uploaded"].as_u64(), up["statuses"]["ACCEPTED"].as_u64()), (Some(1), Some(1)), "{up}");
        let again: Value = serde_json::from_str(&run(&s, &["gate", "upload", "--dir", g1.to_str().unwrap()], None)).unwrap();
        assert_eq!(again["uploaded"].as_u64(), Some(1), "{again}");
        run(&s, &["gate", "upload", "--dir", g2.to_str().unwrap()], None);
        // 1 → 3 is 9 km: 3 CNY, charged through the agreement.
        let v = http(&s.base, "GET", "/wallet/transit/5", &[("Authorization", &session)], "").unwrap().json();
        assert_eq!((v["rides"][0]["fare"].as_i64(), v["rides"][0]["state"].as_str()), (Some(300), Some("CHARGED")), "{}: {v}", s.backend);
        assert_eq!(support::balance(&s, &session), 10_000 - v["deposit"].as_i64().unwrap() - 300);
    }
}

#[test]
fn a_gate_remembers_across_restarts_and_every_suite_rides() {
    for s in Server::all(true) {
        let b = s.backend;
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        let admin = format!("Bearer {}", token.trim());
        let m = s.merchant("有轨电车", "public_key");
        let body = json!({ "mchid": m["mchid"], "scope": 6, "fares": { "flat": 300 }, "max_uses": 6 });
        let r = http(&s.base, "POST", "/admin/transit/operators", &[("Authorization", &admin)], &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let deposit = r.json()["deposit"].as_i64().unwrap();
        let riders = [("13200000011", "ed25519", 392), ("13200000012", "p256", 394), ("13200000013", "sm2", 394)];
        let mut sessions = Vec::new();
        for (phone, _, _) in riders {
            user(&s, phone, 10_000);
            let session = s.wallet_session(phone);
            let r = http(&s.base, "POST", "/wallet/transit/6/open", &[("Authorization", &session)], r#"{"pin":"123456"}"#).unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
            sessions.push(session);
        }

        // Malformed device keys: a 4xx with a JSON error, never a 500, and no credential.
        let p256_key = "02".to_string() + &"11".repeat(32);
        let bad = [
            ("ed25519", "zz".to_string(), "not hex"),
            ("p256", "11".repeat(32), "an Ed25519-sized key for P-256"),
            ("ed25519", "11".repeat(33), "a P-256-sized key for Ed25519"),
            ("p256", "05".to_string() + &"11".repeat(32), "no SEC1 prefix"),
            ("sm2", "02".to_string() + &"ff".repeat(32), "x beyond the field"),
            ("ed25519", "01".to_string() + &"00".repeat(31), "the identity: small order"),
            ("ed25519", "ee".to_string() + &"ff".repeat(30) + "7f", "y = p + 1: not canonical"),
            ("rsa", p256_key.clone(), "an unknown suite"),
        ];
        for (suite, key, what) in bad {
            let body = json!({ "suite": suite, "device_public_key": key });
            let r = http(&s.base, "POST", "/wallet/transit/6/credentials", &[("Authorization", &sessions[0]), ("Content-Type", "application/json")], &body.to_string()).unwrap();
            assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("PARAM_ERROR")), "{b} {what}: {}", r.body);
        }

        // A terminal key of small order is refused at registration.
        let body = json!({ "scope": 6, "stop_id": 1, "public_key": "01".to_string() + &"00".repeat(31), "name": "weak" });
        let r = http(&s.base, "POST", "/admin/transit/terminals", &[("Authorization", &admin)], &body.to_string()).unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("PARAM_ERROR")), "{b}: {}", r.body);

        // Gate 1 takes its fare from the operator's table (300), gate 2 from its configuration (301:
        // above what any credential allows).
        let g1 = s.data_dir.join("gate1");
        let g2 = s.data_dir.join("gate2");
        let init: Value = serde_json::from_str(&run(&s, &["gate", "init", "--dir", g1.to_str().unwrap(), "--scope", "6", "--stop", "1"], None)).unwrap();
        assert!(init["fare"].is_null(), "{init}");
        run(&s, &["gate", "init", "--dir", g2.to_str().unwrap(), "--scope", "6", "--stop", "2", "--fare", "301"], None);
        let pull: Value = serde_json::from_str(&run(&s, &["gate", "pull", "--dir", g1.to_str().unwrap()], None)).unwrap();
        assert_eq!(pull["fare"], 300, "{pull}");
        let pull: Value = serde_json::from_str(&run(&s, &["gate", "pull", "--dir", g2.to_str().unwrap()], None)).unwrap();
        assert_eq!(pull["fare"], 301, "{pull}");

        // A phone of each suite; each code passes gate 1. The first code is scanned again by a new gate
        // process (a restart): refused as a replay, so it is recorded and charged once.
        let mut codes = Vec::new();
        for (phone, suite, hex_len) in riders {
            let code = run(&s, &["ridecode", "show", "--phone", phone, "--scope", "6", "--suite", suite], None).trim().to_string();
            assert_eq!(code.len(), hex_len, "{b} {suite}: {code}");
            codes.push(code);
        }
        for (i, code) in codes.iter().enumerate() {
            let out = run(&s, &["gate", "scan", "--dir", g1.to_str().unwrap(), code], None);
            assert_eq!(out.trim(), format!("ACCEPT {}", i + 1), "{b} {}", riders[i].1);
        }
        assert!(g1.join("memory").exists());
        let again = run(&s, &["gate", "scan", "--dir", g1.to_str().unwrap(), &codes[0]], None);
        assert_eq!(again.trim(), "REJECT replay", "{b}: the gate restarted between the two scans");
        // The configured fare, with no --fare on the scan: above the credential's maximum.
        let out = run(&s, &["gate", "scan", "--dir", g2.to_str().unwrap(), &codes[1]], None);
        assert_eq!(out.trim(), "REJECT fare_above_max", "{b}");
        // An explicit --fare still wins over the configuration.
        let fresh = run(&s, &["ridecode", "show", "--phone", riders[2].0, "--scope", "6", "--suite", "sm2"], None);
        let out = run(&s, &["gate", "scan", "--dir", g2.to_str().unwrap(), "--fare", "300", fresh.trim()], None);
        assert_eq!(out.trim(), "ACCEPT 1", "{b}");

        // Uploaded: three rides charged at the flat fare, one per suite.
        let up: Value = serde_json::from_str(&run(&s, &["gate", "upload", "--dir", g1.to_str().unwrap()], None)).unwrap();
        assert_eq!((up["uploaded"].as_u64(), up["statuses"]["ACCEPTED"].as_u64()), (Some(3), Some(3)), "{b} {up}");
        for ((_, suite, _), session) in riders.iter().zip(&sessions) {
            let v = http(&s.base, "GET", "/wallet/transit/6", &[("Authorization", session)], "").unwrap().json();
            assert_eq!((v["rides"][0]["fare"].as_i64(), v["rides"][0]["state"].as_str()), (Some(300), Some("CHARGED")), "{b} {suite}: {v}");
            assert_eq!(support::balance(&s, session), 10_000 - deposit - 300, "{b} {suite}");
        }
        // The keys gates trust: an issuer key of every suite.
        let keys: Value = serde_json::from_str(&run(&s, &["ridecode", "keys", "--json"], None)).unwrap();
        let suites: Vec<&str> = keys.as_array().unwrap().iter().map(|k| k["suite"].as_str().unwrap()).collect();
        assert_eq!(suites, ["ed25519", "p256", "sm2"], "{keys}");

        // A gate never goes back to older lists: the lists it holds now, replayed after newer ones were
        // installed (validly signed, by a stand-in server), are refused and change nothing.
        let old = std::fs::read_to_string(g1.join("lists.json")).unwrap();
        let r = http(&s.base, "POST", "/admin/clock/advance", &[("Authorization", &admin)], r#"{"seconds": 5}"#).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        run(&s, &["gate", "pull", "--dir", g1.to_str().unwrap()], None);
        let newer = std::fs::read_to_string(g1.join("lists.json")).unwrap();
        assert_ne!(newer, old);
        let replayer = serve_once(old);
        let out = saoma().args(["gate", "pull", "--dir", g1.to_str().unwrap(), "--server", &replayer]).arg("--data-dir").arg(&s.data_dir).output().unwrap();
        assert!(!out.status.success(), "{b}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stderr).contains("older"), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read_to_string(g1.join("lists.json")).unwrap(), newer);
    }
}

/// A stand-in server that answers one request with `body` (JSON): its base URL.
fn serve_once(body: String) -> String {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let mut stream = stream;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes()));
    });
    base
}
