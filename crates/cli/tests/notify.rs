//! Payment notifications: written with the payment, delivered signed and encrypted, retried on
//! WeChat Pay's schedule (virtual clock) while the receiver fails, across a server restart, and
//! delivered exactly once it answers 2xx — on both backends.

mod support;

use saoma_wechatpay::aead::{ApiV3Key, Resource};
use saoma_wechatpay::auth::response_message;
use saoma_wechatpay::keys::PublicKey;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{advance, saoma, Server};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn admin_get(s: &Server, path: &str) -> serde_json::Value {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = saoma_wechatpay::client::http(&s.base, "GET", path, &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}


#[test]
fn notifications_retry_on_schedule_survive_a_restart_and_arrive_signed() {
    for mut s in Server::all(true) {
        let rx = support::receiver(|n| if n <= 2 { 500 } else { 200 });
        let m = s.merchant("Notify", "public_key");
        let c = s.client(&m);
        let out = saoma().args(["user", "create", "--phone", "13600000003", "--balance", "5000", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(out.status.success());
        let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": "NOTIFY0001", "notify_url": rx.url, "amount": {"total": 1234}});
        let code_url = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap().json()["code_url"].as_str().unwrap().to_string();
        let out = saoma().args(["pay", "--phone", "13600000003", "--data-dir"]).arg(&s.data_dir).arg(&code_url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        // Attempt 1 at once (fails); attempt 2 only after 15 s of business time (fails).
        wait_for("the first attempt", || rx.got.lock().unwrap().len() == 1);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(rx.got.lock().unwrap().len(), 1, "{}: no retry before 15 s", s.backend);
        advance(&s, "15s");
        wait_for("the second attempt", || rx.got.lock().unwrap().len() == 2);
        // A restart between attempts loses nothing (the outbox and the virtual clock persist).
        s.restart();
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(rx.got.lock().unwrap().len(), 2, "no retry before its time, even after a restart");
        advance(&s, "15s");
        wait_for("the third attempt", || rx.got.lock().unwrap().len() == 3);
        let list = admin_get(&s, &format!("/admin/notifications?mchid={}", m["mchid"].as_str().unwrap()));
        let n = &list["notifications"][0];
        wait_for("delivery recorded", || admin_get(&s, &format!("/admin/notifications?mchid={}", m["mchid"].as_str().unwrap()))["notifications"][0]["state"] == "delivered");
        let list = admin_get(&s, &format!("/admin/notifications?mchid={}", m["mchid"].as_str().unwrap()));
        let statuses: Vec<i64> = list["notifications"][0]["attempt_log"].as_array().unwrap().iter().map(|a| a["status"].as_i64().unwrap()).collect();
        assert_eq!(statuses, vec![500, 500, 200], "{}: {n}", s.backend);
        // Delivered means no more attempts.
        advance(&s, "1h");
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(rx.got.lock().unwrap().len(), 3);

        // Every attempt is signed by the platform and carries the transaction, encrypted.
        let platform = PublicKey::from_pem(m["platform_public_key"].as_str().unwrap()).unwrap();
        let key = ApiV3Key::new(m["apiv3_key"].as_str().unwrap()).unwrap();
        for (headers, body) in rx.got.lock().unwrap().iter() {
            let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            assert_eq!(h("wechatpay-serial"), m["platform_public_key_id"].as_str().unwrap());
            assert!(platform.verify(response_message(h("wechatpay-timestamp").parse().unwrap(), &h("wechatpay-nonce"), body).as_bytes(), &h("wechatpay-signature")));
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["event_type"], "TRANSACTION.SUCCESS");
            let resource: Resource = serde_json::from_value(v["resource"].clone()).unwrap();
            let t: serde_json::Value = serde_json::from_slice(&resource.open(&key).unwrap()).unwrap();
            assert_eq!((t["out_trade_no"].as_str(), t["trade_state"].as_str(), t["amount"]["payer_total"].as_i64()), (Some("NOTIFY0001"), Some("SUCCESS"), Some(1234)));
        }
    }
}
