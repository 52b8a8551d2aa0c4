//! Where the server sends its own requests, end to end on both backends: notify_urls to addresses that
//! are not public refused on every API that takes one, with nothing stored (outside sandbox mode, unless
//! the operator's allowlist admits them); the same check again at delivery on the address the connection
//! uses; the server's own address never; and a receiver that never answers (a tarpit holding a thousand
//! notifications) not delaying another merchant's.

mod support;

use saoma_wechatpay::client::{http, V3Client};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{receiver, user, wallet_call, Server};

/// Every spelling of an address that is not public, and a name that resolves to loopback.
const NOT_PUBLIC: [&str; 22] = [
    "http://2130706433/n",
    "http://017700000001/n",
    "http://0x7f.0.0.1/n",
    "http://127.1/n",
    "http://127.0.0.1:9/n",
    "https://[::1]/n",
    "http://0.0.0.0/n",
    "http://[::]/n",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/n",
    "http://172.16.3.4/n",
    "http://192.168.1.1/n",
    "http://100.64.0.1/n",
    "http://224.0.0.1/n",
    "https://[fe80::1]/n",
    "https://[fd00::1]/n",
    "http://[::ffff:127.0.0.1]/n",
    "http://[::ffff:a00:1]/n",
    "http://localhost/n",
    "http://LOCALHOST./n",
    "https://user@example.com/n",
    "http://example.com\\@127.0.0.1/n",
];

fn wait_for(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn admin(s: &Server) -> String {
    format!("Bearer {}", std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap().trim())
}

fn admin_call(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = http(&s.base, method, path, &[("Authorization", &admin(s)), ("Content-Type", "application/json")], &body.to_string()).unwrap();
    (r.status, r.json())
}

fn notifications(s: &Server, m: &Value) -> Vec<Value> {
    let (st, v) = admin_call(s, "GET", &format!("/admin/notifications?mchid={}", m["mchid"].as_str().unwrap()), &json!(null));
    assert_eq!(st, 200, "{v}");
    v["notifications"].as_array().unwrap().clone()
}

fn native(c: &V3Client, m: &Value, no: &str, url: &str) -> (u16, Value) {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": no, "notify_url": url, "amount": {"total": 1}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    (r.status, r.json())
}

fn paid(s: &Server, c: &V3Client, m: &Value, session: &str, no: &str, url: &str) {
    let (st, v) = native(c, m, no, url);
    assert_eq!(st, 200, "{}: {v}", s.backend);
    let (st, v) = wallet_call(s, session, "POST", "/wallet/pay", &json!({"code": v["code_url"]}).to_string());
    assert_eq!(st, 200, "{}: {v}", s.backend);
}

fn refused(what: &str, url: &str, st: u16, v: &Value) {
    assert!(st == 400 && v["code"] == "PARAM_ERROR" && v["message"].as_str().unwrap_or("").contains("notify_url"), "{what} {url}: {st} {v}");
}

#[test]
fn notify_urls_to_addresses_that_are_not_public_are_refused_with_nothing_stored() {
    for s in Server::all(false) {
        let b = s.backend;
        let m = s.merchant("Shop", "public_key");
        let c = s.client(&m);
        user(&s, "13900000001", 10_000);
        let session = s.wallet_session("13900000001");
        // A paid order to refund, and the user's openid for an agreement.
        paid(&s, &c, &m, &session, "PAID000001", "https://example.com/n");
        let openid = support::user(&s, "13900000002", 0)["openids"][m["appid"].as_str().unwrap()].clone();
        for (i, url) in NOT_PUBLIC.iter().enumerate() {
            let no = format!("BAD{i:07}");
            // Orders of every trade type and payment codes.
            for kind in ["native", "jsapi", "app", "h5"] {
                let mut body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": no, "notify_url": url, "amount": {"total": 1}, "payer": {"openid": openid}});
                if kind == "h5" {
                    body["scene_info"] = json!({"payer_client_ip": "1.2.3.4", "h5_info": {"type": "Wap"}});
                }
                let r = c.request("POST", &format!("/v3/pay/transactions/{kind}"), &body.to_string()).unwrap();
                refused(kind, url, r.status, &r.json());
            }
            let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": no, "notify_url": url, "amount": {"total": 1}, "payer": {"auth_code": "134567890123456789"}, "scene_info": {"store_info": {"out_id": "S1"}}});
            let r = c.request("POST", "/v3/pay/transactions/codepay", &body.to_string()).unwrap();
            refused("codepay", url, r.status, &r.json());
            let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
            assert_eq!(r.status, 404, "{b}: {url}: an order was stored: {}", r.body);
            // Refunds.
            let body = json!({"out_trade_no": "PAID000001", "out_refund_no": no, "notify_url": url, "amount": {"refund": 1, "total": 1, "currency": "CNY"}});
            let r = c.request("POST", "/v3/refund/domestic/refunds", &body.to_string()).unwrap();
            refused("refund", url, r.status, &r.json());
            let r = c.request("GET", &format!("/v3/refund/domestic/refunds/{no}"), "").unwrap();
            assert_eq!(r.status, 404, "{b}: {url}: a refund was stored: {}", r.body);
            // Agreements and their charges.
            let body = json!({"appid": m["appid"], "mchid": m["mchid"], "out_contract_code": no, "openid": openid, "description": "d", "limits": {"per_charge": 100, "per_day": 200}, "notify_url": url});
            let r = c.request("POST", "/v3/agreements", &body.to_string()).unwrap();
            refused("agreement", url, r.status, &r.json());
            let r = c.request("GET", &format!("/v3/agreements/out-contract-code/{no}"), "").unwrap();
            assert_eq!(r.status, 404, "{b}: {url}: an agreement was stored: {}", r.body);
            let body = json!({"out_trade_no": no, "description": "d", "notify_url": url, "amount": {"total": 1}});
            let r = c.request("POST", "/v3/agreements/NOSUCHCONTRACT/charges", &body.to_string()).unwrap();
            refused("charge", url, r.status, &r.json());
            // Merchants (the admin API).
            let (st, v) = admin_call(&s, "POST", "/admin/merchants", &json!({"name": format!("Evil {i}"), "notify_url": url}));
            refused("merchant", url, st, &v);
        }
        // The refused merchants do not exist: no merchant's notifications list has them, and the refund
        // left the order whole.
        let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/PAID000001?mchid={}", c.mchid), "").unwrap();
        assert_eq!(r.json()["trade_state"], "SUCCESS", "{b}");
        // Public addresses (and names that do not resolve here) are accepted.
        for (i, url) in ["https://example.com/n", "http://93.184.216.34/n", "https://[2606:4700::1111]/n"].iter().enumerate() {
            let (st, v) = native(&c, &m, &format!("GOOD{i:06}"), url);
            assert_eq!(st, 200, "{b}: {url}: {v}");
        }
    }
}

/// The operator's allowlist admits a private receiver; delivery checks the address again when it
/// connects — a URL accepted earlier (here under an allowlist the server no longer has, as a name whose
/// DNS answer changed would be) is refused at delivery, recorded as a failed attempt with its reason and
/// retried on the schedule.
#[test]
fn the_allowlist_admits_and_delivery_checks_again() {
    for mut s in Server::all_with(false, &["--notify-allow", "127.0.0.0/8"]) {
        let b = s.backend;
        let rx = receiver(|_| 200);
        let m = s.merchant("Allowed", "public_key");
        let c = s.client(&m);
        user(&s, "13900000011", 10_000);
        let session = s.wallet_session("13900000011");
        paid(&s, &c, &m, &session, "ALLOW00001", &rx.url);
        wait_for("delivery through the allowlist", Duration::from_secs(20), || rx.got.lock().unwrap().len() == 1);
        // Loopback only: the allowlist is not a way to other private addresses.
        let (st, v) = native(&c, &m, "ALLOW00002", "http://10.0.0.1/n");
        refused("native", "http://10.0.0.1/n", st, &v);
        let (st, v) = native(&c, &m, "ALLOW00003", &rx.url);
        assert_eq!(st, 200, "{b}: {v}");

        s.set_args(&[]);
        s.restart();
        let c = s.client(&m);
        let session = s.wallet_session("13900000011");
        let (st, v) = wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": v["code_url"]}).to_string());
        assert_eq!(st, 200, "{b}: {v}");
        wait_for("the refused attempt", Duration::from_secs(20), || notifications(&s, &m).iter().any(|n| n["attempts"] == 1 && n["state"] == "pending"));
        let list = notifications(&s, &m);
        let n = list.iter().find(|n| n["attempts"] == 1 && n["state"] == "pending").unwrap();
        let attempt = &n["attempt_log"][0];
        let error = attempt["error"].as_str().unwrap_or("");
        assert!(attempt["status"].is_null() && error.contains("refused") && error.contains("loopback"), "{b}: {n}");
        assert_eq!(n["next_attempt_at"].as_i64().unwrap(), attempt["at"].as_i64().unwrap() + 15, "{b}: retried on the schedule: {n}");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(rx.got.lock().unwrap().len(), 1, "{b}: nothing reached the receiver");
        // And a new one is refused when given.
        let (st, v) = native(&c, &m, "ALLOW00004", &rx.url);
        refused("native", &rx.url, st, &v);
    }
}

/// Sandbox mode delivers to loopback (tests' receivers), but never to the server itself.
#[test]
fn sandbox_allows_loopback_but_not_the_server_itself() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("Sandbox", "public_key");
        let c = s.client(&m);
        let own = format!("{}/v3/certificates", s.base);
        let (st, v) = native(&c, &m, "OWN0000001", &own);
        refused("native", &own, st, &v);
        assert!(v["message"].as_str().unwrap().contains("own address"), "{b}: {v}");
        let (st, v) = admin_call(&s, "POST", "/admin/merchants", &json!({"name": "Loop", "notify_url": own}));
        refused("merchant", &own, st, &v);
        let (st, v) = native(&c, &m, "OWN0000002", "http://127.0.0.1:9/n");
        assert_eq!(st, 200, "{b}: {v}");
    }
}

/// A receiver that accepts connections and never answers, holding them.
fn tarpit() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in l.incoming() {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, accepted)
}

#[test]
fn a_tarpit_holding_a_thousand_notifications_does_not_delay_another_merchant() {
    for s in Server::all_with(false, &["--notify-allow", "127.0.0.0/8"]) {
        let b = s.backend;
        let (pit, accepted) = tarpit();
        let slow = s.merchant("Tarpit", "public_key");
        let c = s.client(&slow);
        user(&s, "13900000021", 1_000_000);
        let session = s.wallet_session("13900000021");
        // A thousand paid orders notifying the tarpit, from four clients at once.
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (s, c, slow, session, pit) = (&s, &c, &slow, &session, &pit);
                scope.spawn(move || {
                    for i in 0..250 {
                        paid(s, c, slow, session, &format!("PIT{t}{i:06}"), pit);
                    }
                });
            }
        });
        wait_for("the tarpit holding connections", Duration::from_secs(30), || accepted.load(Ordering::SeqCst) >= 4);

        let rx = receiver(|_| 200);
        let other = s.merchant("Other", "public_key");
        let oc = s.client(&other);
        let (st, v) = native(&oc, &other, "OTHER00001", &rx.url);
        assert_eq!(st, 200, "{b}: {v}");
        let (st, v) = wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": v["code_url"]}).to_string());
        assert_eq!(st, 200, "{b}: {v}");
        let paid_at = Instant::now();
        // Before the fix this waited for the tarpit's whole backlog (5 s per batch of 64: over a
        // minute); the issue asks for 1 s (measured 50–100 ms here), the figure is printed.
        wait_for("the other merchant's notification", Duration::from_secs(60), || !rx.got.lock().unwrap().is_empty());
        let took = paid_at.elapsed();
        eprintln!("{b}: the other merchant notified {:.0} ms after paying, the tarpit holding 1,000", took.as_secs_f64() * 1e3);
        assert!(took < Duration::from_secs(1), "{b}: the other merchant waited {took:?} behind the tarpit");
        // What the tarpit costs the server while it holds its backlog (deferred rows claimed again every
        // second): printed, not asserted (the machine is shared).
        let cpu = |pid: u32| -> f64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            (fields.get(11).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0) + fields.get(12).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0)) / 100.0
        };
        let (before, at) = (cpu(s.pid()), Instant::now());
        std::thread::sleep(Duration::from_secs(3));
        eprintln!("{b}: server CPU while the tarpit holds 1,000: {:.0}% of one core", (cpu(s.pid()) - before) / at.elapsed().as_secs_f64() * 100.0);
        // The tarpit's notifications are still pending (none delivered).
        let pending = notifications(&s, &slow).iter().filter(|n| n["state"] == "pending").count();
        assert_eq!(pending, 100, "{b}: the list shows the newest 100, all pending");
    }
}
