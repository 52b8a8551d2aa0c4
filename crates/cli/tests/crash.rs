//! Crash safety through the API: payments under load, SIGKILL at a random moment, restart. Every
//! payment acknowledged to a user is SUCCESS on query, its notification still goes out, and the ledger
//! checks clean — on both backends.

mod support;

use saoma_wechatpay::client::http;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{saoma, Server};

/// The out_trade_nos of the transactions notified so far (decrypted).
fn notified(rx: &support::Receiver, key: &saoma_wechatpay::aead::ApiV3Key) -> HashSet<String> {
    rx.got
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, body)| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            let res: saoma_wechatpay::aead::Resource = serde_json::from_value(v["resource"].clone()).ok()?;
            let t: serde_json::Value = serde_json::from_slice(&res.open(key).ok()?).ok()?;
            t["out_trade_no"].as_str().map(str::to_string)
        })
        .collect()
}

#[test]
fn acknowledged_payments_survive_sigkill() {
    for mut s in Server::all_with(false, &["--notify-allow", "127.0.0.0/8"]) {
        let m = s.merchant("Crash", "public_key");
        let key = saoma_wechatpay::aead::ApiV3Key::new(m["apiv3_key"].as_str().unwrap()).unwrap();
        let rx = support::receiver(|_| 200);
        let url = rx.url.clone();
        let phones: Vec<String> = (0..6).map(|i| format!("1350000000{i}")).collect();
        for p in &phones {
            assert!(saoma().args(["user", "create", "--phone", p, "--balance", "100000000", "--data-dir"]).arg(&s.data_dir).output().unwrap().status.success());
        }
        let mut acked: Vec<String> = Vec::new();
        for round in 0..3 {
            let sessions: Vec<String> = phones.iter().map(|p| s.wallet_session(p)).collect();
            let stop = Arc::new(AtomicBool::new(false));
            let done: Arc<Mutex<Vec<String>>> = Arc::default();
            let workers: Vec<_> = sessions
                .into_iter()
                .enumerate()
                .map(|(i, session)| {
                    let (c, m, stop, done, url, base) = (s.client(&m), m.clone(), stop.clone(), done.clone(), url.clone(), s.base.clone());
                    std::thread::spawn(move || {
                        let mut n = 0;
                        while !stop.load(Ordering::Relaxed) {
                            n += 1;
                            let no = format!("R{round}U{i}N{n}");
                            let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "load", "out_trade_no": no, "notify_url": url, "amount": {"total": 100 + n}});
                            let Ok(r) = c.request("POST", "/v3/pay/transactions/native", &body.to_string()) else { break };
                            let Some(code_url) = r.json()["code_url"].as_str().map(str::to_string) else { break };
                            match http(&base, "POST", "/wallet/pay", &[("Authorization", &session)], &json!({"code": code_url}).to_string()) {
                                Ok(r) if r.status == 200 => done.lock().unwrap().push(no),
                                _ => break,
                            }
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(400 + 200 * round as u64));
            s.crash_and_restart();
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                let _ = w.join();
            }
            let got = std::mem::take(&mut *done.lock().unwrap());
            assert!(!got.is_empty(), "{}: round {round} acknowledged nothing", s.backend);
            acked.extend(got);
        }
        let c = s.client(&m);
        for no in &acked {
            let q = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap().json();
            assert_eq!(q["trade_state"], "SUCCESS", "{}: acknowledged payment {no} lost", s.backend);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let missing: Vec<&String> = {
                let seen = notified(&rx, &key);
                acked.iter().filter(|no| !seen.contains(*no)).collect()
            };
            if missing.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {} notifications never arrived, e.g. {:?}", s.backend, missing.len(), missing.first());
            std::thread::sleep(Duration::from_millis(200));
        }
        let out = saoma().args(["ledger", "check", "--database-url", &s.database_url]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        eprintln!("{}: {} acknowledged payments over 3 SIGKILLs: all SUCCESS, all notified, ledger clean", s.backend, acked.len());
    }
}
