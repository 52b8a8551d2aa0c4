//! Crash safety through the API: payments under load, SIGKILL at a random moment, restart. Every
//! payment acknowledged to a user is SUCCESS on query, its notification still goes out, and the ledger
//! checks clean — on both backends.

mod support;

use saoma_wechatpay::client::http;
use serde_json::json;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{saoma, Server};

/// Counts notifications per out_trade_no (decrypted), answering 200.
fn receiver(key: saoma_wechatpay::aead::ApiV3Key) -> (String, Arc<Mutex<HashSet<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/n", l.local_addr().unwrap());
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut line, mut len) = (String::new(), 0usize);
            r.read_line(&mut line).unwrap_or(0);
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim().split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                if let Ok(res) = serde_json::from_value::<saoma_wechatpay::aead::Resource>(v["resource"].clone()) {
                    if let Ok(t) = res.open(&key) {
                        if let Ok(t) = serde_json::from_slice::<serde_json::Value>(&t) {
                            s2.lock().unwrap().insert(t["out_trade_no"].as_str().unwrap_or("").to_string());
                        }
                    }
                }
            }
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[test]
fn acknowledged_payments_survive_sigkill() {
    for mut s in Server::all(false) {
        let m = s.merchant("Crash", "public_key");
        let key = saoma_wechatpay::aead::ApiV3Key::new(m["apiv3_key"].as_str().unwrap()).unwrap();
        let (url, notified) = receiver(key);
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
                let seen = notified.lock().unwrap();
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
