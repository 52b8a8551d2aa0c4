//! `saoma ridecode` (the phone) and `saoma gate` (a gate) against a real server on both backends: keys,
//! codes in every format, two gates registered, lists pulled, codes verified offline from a stream (a
//! replay refused at the gate), the durable queue uploaded (again: nothing new), the ride charged.

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
        assert!(lines[1].starts_with("REJECT Replay"), "{out}");
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
