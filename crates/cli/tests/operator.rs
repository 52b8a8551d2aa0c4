//! The operator console (`/operator…`) through a real server on both backends. Without a session every
//! page (and every form) sends the browser to the login; a wrong admin token is refused and counted per
//! client address, durably (the fifth locks the address, across a restart), while another address logs
//! in; the session's cookie, its pages, the ledger check run and kept, the sandbox clock moved, logout.
//! In headless Chromium (`operator_browser.py`): the operator logs in, finds the merchant whose
//! notifications keep failing (its receiver answers 500; retries come as the sandbox clock moves) and the
//! clone alarm of a ride code used at two gates, the card masked. Outside the sandbox the clock is shown and
//! does not move. `SAOMA_SCREENS=DIR` saves operator-*.png.

mod support;

use saoma_ridecode::{Credential, DeviceKeyPair, Direction, RideCode, Suite, TerminalKeyPair, TerminalRecord};
use saoma_wechatpay::client::{http, HttpResponse};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{db_rows, saoma, Server};

const PAGES: [&str; 7] = ["/operator", "/operator/merchants", "/operator/users", "/operator/transit", "/operator/notifications?mchid=1", "/operator/ledger", "/operator/clock"];

fn token(s: &Server) -> String {
    std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap().trim().to_string()
}

fn admin(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = http(&s.base, method, path, &[("Authorization", &format!("Bearer {}", token(s))), ("Content-Type", "application/json")], &body.to_string()).unwrap();
    (r.status, r.json())
}

/// A form posted from the console's own pages, as a browser behind the trusted proxy at `client`.
fn post(s: &Server, path: &str, cookie: &str, client: &str, form: &str) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str()), ("X-Forwarded-For", client)];
    if !cookie.is_empty() {
        h.push(("Cookie", cookie));
    }
    http(&s.base, "POST", path, &h, form).unwrap()
}

fn get(s: &Server, path: &str, cookie: &str) -> HttpResponse {
    let h: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie)] };
    http(&s.base, "GET", path, &h, "").unwrap()
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(s: &Server, q: &str) -> i64 {
    db_rows(s, q)[0][0].int()
}

#[test]
fn without_a_session_every_page_goes_to_the_login_and_wrong_tokens_are_counted() {
    for mut s in Server::all_with(true, &["--trusted-proxy", "127.0.0.1"]) {
        let b = s.backend;
        // No session, or one the server does not know: every page and every form goes to the login,
        // which comes back to the page asked for.
        for cookie in ["", "saoma_operator=forged-session-token"] {
            for page in PAGES {
                let r = get(&s, page, cookie);
                let to = header(&r, "location").unwrap_or("");
                assert_eq!(r.status, 303, "{b} {page}: {}", r.body);
                assert!(to.starts_with("/operator/login?next=%2Foperator"), "{b} {page}: {to}");
            }
            for (page, form) in [("/operator/ledger", ""), ("/operator/clock", "amount=1&unit=d")] {
                let r = post(&s, page, cookie, "10.0.0.9", form);
                assert_eq!((r.status, header(&r, "location").map(|l| l.starts_with("/operator/login"))), (303, Some(true)), "{b} {page}");
            }
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM ledger_checks"), 0, "{b}: no check ran without a session");
        assert!(!s.data_dir.join("clock.offset").exists(), "{b}: the clock did not move without a session");
        let r = get(&s, "/operator/login?next=%2Foperator%2Ftransit", "");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<html lang=\"zh-CN\">") && r.body.contains("登录平台运营台") && r.body.contains("value=\"/operator/transit\""), "{b}: {}", r.body);
        assert!(header(&r, "content-security-policy").is_some_and(|c| c.contains("default-src 'none'")));
        assert!(get(&s, "/operator/login?lang=en", "").body.contains("Log in to the operator console"));

        // Wrong tokens from 10.0.0.1: refused, counted (durably: in the database), the fifth locks.
        for left in (1..=4).rev() {
            let r = post(&s, "/operator/login", "", "10.0.0.1", "token=not-the-token&next=%2Foperator");
            assert_eq!(r.status, 401, "{b}");
            assert!(r.body.contains(&format!("还可以再试 {left} 次")) && header(&r, "set-cookie").is_none(), "{b}: {}", r.body);
        }
        assert_eq!(db_rows(&s, "SELECT failures FROM operator_guards WHERE client_addr = '10.0.0.1'")[0][0].int(), 4, "{b}");
        // Almost the token is still wrong (the comparison is of the whole token).
        let t = token(&s);
        let almost = format!("{}{}", &t[..t.len() - 1], if t.ends_with('x') { 'y' } else { 'x' });
        let r = post(&s, "/operator/login", "", "10.0.0.1", &format!("token={almost}"));
        assert_eq!(r.status, 429, "{b}: the fifth wrong token locks: {}", r.body);
        assert!(r.body.contains("已被锁定") && header(&r, "retry-after").is_some(), "{b}: {}", r.body);
        // Locked: even the right token is not compared; the lock survives a restart.
        s.restart();
        let r = post(&s, "/operator/login", "", "10.0.0.1", &format!("token={}", token(&s)));
        assert_eq!(r.status, 429, "{b}: locked across a restart: {}", r.body);
        assert!(header(&r, "set-cookie").is_none());
        assert_eq!(count(&s, "SELECT COUNT(*) FROM operator_sessions"), 0, "{b}");

        // Another address: the right token opens a session (stored hashed), in a cookie of its own.
        let wrong = post(&s, "/operator/login", "", "10.0.0.2", "token=nope");
        assert!(wrong.body.contains("还可以再试 4 次"), "{b}: counted per address");
        let r = post(&s, "/operator/login", "", "10.0.0.2", &format!("token={}&next=%2Foperator%2Fledger", token(&s)));
        assert_eq!((r.status, header(&r, "location")), (303, Some("/operator/ledger")), "{b}: {}", r.body);
        let set = header(&r, "set-cookie").unwrap();
        assert!(set.starts_with("saoma_operator=") && set.contains("; Path=/operator") && set.contains("; HttpOnly") && set.contains("; SameSite=Strict") && set.contains("Max-Age=43200"), "{set}");
        assert!(!set.contains("Secure"), "plain http: no Secure");
        let cookie = set.split(';').next().unwrap().to_string();
        let stored = db_rows(&s, "SELECT token_hash FROM operator_sessions");
        assert_eq!(stored.len(), 1);
        assert!(!cookie.contains(stored[0][0].text()), "{b}: only the token's hash is stored");
        assert!(db_rows(&s, "SELECT failures FROM operator_guards WHERE client_addr = '10.0.0.2'").is_empty(), "{b}: a login clears the count");
        // An open redirect is not offered: `next` stays within the console.
        let r = post(&s, "/operator/login", "", "10.0.0.3", &format!("token={}&next=https%3A%2F%2Fevil.example%2F", token(&s)));
        assert_eq!(header(&r, "location"), Some("/operator"), "{b}");

        // Every page opens with the session; nothing shows a full phone number.
        support::user(&s, "13812345678", 5_000);
        for page in PAGES {
            let r = get(&s, page, &cookie);
            let r = if r.status == 303 { get(&s, header(&r, "location").unwrap(), &cookie) } else { r };
            assert_eq!(r.status, 200, "{b} {page}: {}", r.body);
            assert!(r.body.contains("action=\"/operator/logout\"") && !r.body.contains("13812345678"), "{b} {page}");
            assert!(r.body.len() < 100_000, "{b} {page}: {} bytes", r.body.len());
        }
        assert!(get(&s, "/operator/users", &cookie).body.contains("138****5678"), "{b}");

        // The ledger check: run from the page, kept with its time, shown.
        assert!(get(&s, "/operator/ledger", &cookie).body.contains("id=\"never\""));
        let r = post(&s, "/operator/ledger", &cookie, "10.0.0.2", "");
        assert_eq!((r.status, header(&r, "location")), (303, Some("/operator/ledger")), "{b}: {}", r.body);
        assert_eq!(db_rows(&s, "SELECT clean FROM ledger_checks")[0][0].int(), 1, "{b}");
        let page = get(&s, "/operator/ledger", &cookie).body;
        assert!(page.contains("✓ 平衡") && page.contains("id=\"checked-at\"") && page.contains("data-currency=\"CNY\""), "{b}: {page}");

        // The sandbox clock: moved forward from the page, refused for nonsense.
        let r = post(&s, "/operator/clock", &cookie, "10.0.0.2", "amount=2&unit=h");
        assert_eq!((r.status, header(&r, "location")), (303, Some("/operator/clock?moved=7200")), "{b}: {}", r.body);
        assert_eq!(std::fs::read_to_string(s.data_dir.join("clock.offset")).unwrap().trim().parse::<i64>().unwrap() / 1_000_000_000, 7200, "{b}");
        for bad in ["amount=0&unit=h", "amount=-5&unit=m", "amount=1&unit=weeks", "amount=x&unit=s", "amount=99999999999&unit=d"] {
            assert_eq!(post(&s, "/operator/clock", &cookie, "10.0.0.2", bad).status, 400, "{b} {bad}");
        }
        // A form another site's page sent is refused by the page layer.
        let r = http(&s.base, "POST", "/operator/clock", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://evil.example"), ("Cookie", &cookie)], "amount=1&unit=d").unwrap();
        assert_eq!(r.status, 403, "{b}");
        // The session outlives the business clock's moves (it runs on real time); logout ends it.
        let r = post(&s, "/operator/clock", &cookie, "10.0.0.2", "amount=2&unit=d");
        assert_eq!(r.status, 303);
        assert_eq!(get(&s, "/operator/users", &cookie).status, 200, "{b}: still logged in two days later in business time");
        let r = post(&s, "/operator/logout", &cookie, "10.0.0.2", "");
        assert_eq!(header(&r, "location"), Some("/operator/login"));
        assert!(header(&r, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
        assert_eq!(get(&s, "/operator/users", &cookie).status, 303, "{b}: the session ended");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM operator_sessions"), 1, "{b}: the other session (10.0.0.3's) stays");
    }
}

/// A merchant whose notify_url is `url` (`saoma merchant create --json`).
fn merchant(s: &Server, name: &str, url: &str) -> Value {
    let out = saoma().args(["merchant", "create", "--json", "--name", name, "--notify-url", url, "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An order of `m` paid by `phone` (NATIVE, then `saoma pay`).
fn paid_order(s: &Server, m: &Value, phone: &str, no: &str, notify_url: &str) {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "运营台测试", "out_trade_no": no, "notify_url": notify_url, "amount": {"total": 1234}});
    let r = s.client(m).request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let code_url = r.json()["code_url"].as_str().unwrap().to_string();
    let out = saoma().args(["pay", "--phone", phone, "--data-dir"]).arg(&s.data_dir).arg(&code_url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A rider's ride code shown at two gates (a screenshot passed on): the second upload is a clone. The
/// card's number.
fn clone_at_two_gates(s: &Server) -> String {
    const SCOPE: u16 = 31;
    let m = merchant(s, "城市地铁", "https://example.com/notify");
    let (st, v) = admin(s, "POST", "/admin/transit/operators", &json!({"mchid": m["mchid"], "scope": SCOPE, "fares": {"flat": 200}, "max_uses": 8}));
    assert_eq!(st, 200, "{v}");
    support::user(s, "13900000031", 20_000);
    let session = s.wallet_session("13900000031");
    let (st, card) = support::wallet_call(s, &session, "POST", &format!("/wallet/transit/{SCOPE}/open"), &json!({"pin": "123456"}).to_string());
    assert_eq!(st, 200, "{card}");
    let device = DeviceKeyPair::from_seed(Suite::Ed25519, &[7; 32]).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let body = json!({"suite": "ed25519", "device_public_key": hex(device.public_key().as_bytes())});
    let (st, v) = support::wallet_call(s, &session, "POST", &format!("/wallet/transit/{SCOPE}/credentials"), &body.to_string());
    assert_eq!(st, 200, "{v}");
    let unhex = |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let credential = Credential::parse(&unhex(v["credential_hex"].as_str().unwrap())).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as u32;
    let shot = RideCode::generate(&credential, &device, now, 1).unwrap().to_bytes();
    let mut statuses = Vec::new();
    for (seed, stop) in [(41u8, 1u32), (42, 2)] {
        let key = TerminalKeyPair::from_seed(&[seed; 32]);
        let (st, t) = admin(s, "POST", "/admin/transit/terminals", &json!({"scope": SCOPE, "stop_id": stop, "public_key": hex(key.public_key().as_bytes()), "name": format!("东门 {stop}")}));
        assert_eq!(st, 200, "{t}");
        let id = t["terminal_id"].as_u64().unwrap();
        let rec = TerminalRecord { terminal_id: id, terminal_sequence: 1, time: now + stop, direction: Direction::In, stop_id: stop, code: shot.clone() }.sign(&key).unwrap();
        let r = http(&s.base, "POST", &format!("/transit/terminals/{id}/uploads"), &[("Content-Type", "application/json")], &json!({"records": [hex(&rec)]}).to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        statuses.push(r.json()["results"][0]["status"].as_str().unwrap().to_string());
    }
    assert_eq!(statuses, ["ACCEPTED", "CLONE"], "{}", s.backend);
    card["card_no"].as_str().unwrap().to_string()
}

#[test]
fn browser_operator_finds_failing_notifications_and_a_clone_alarm() {
    if !support::browser_available("operator") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/operator_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let card_no = clone_at_two_gates(&s);
        // A merchant whose receiver answers 500, always; another whose receiver takes everything.
        let failing = support::receiver(|_| 500);
        let fine = support::receiver(|_| 200);
        let bad = merchant(&s, "失败通知商户", &failing.url);
        let good = merchant(&s, "正常商户", &fine.url);
        support::user(&s, "13800000077", 100_000);
        paid_order(&s, &bad, "13800000077", "OPS-FAIL-0001", &failing.url);
        paid_order(&s, &good, "13800000077", "OPS-GOOD-0001", &fine.url);
        // Retries come as the business clock moves: 15 s, then 15 s more.
        wait_for("the first attempt", || failing.got.lock().unwrap().len() == 1);
        support::advance(&s, "15s");
        wait_for("the second attempt", || failing.got.lock().unwrap().len() == 2);
        support::advance(&s, "15s");
        wait_for("the third attempt", || failing.got.lock().unwrap().len() == 3);
        wait_for("three attempts recorded", || count(&s, "SELECT COALESCE(MAX(attempts), 0) FROM notifications WHERE reference = 'OPS-FAIL-0001'") == 3);
        wait_for("the other delivered", || count(&s, "SELECT COUNT(*) FROM notifications WHERE reference = 'OPS-GOOD-0001' AND state = 'delivered'") == 1);

        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({
            "base": s.base, "token": token(&s), "mchid": bad["mchid"], "good_mchid": good["mchid"], "out_trade_no": "OPS-FAIL-0001",
            "card_tail": &card_no[card_no.len() - 4..], "card_no": card_no, "phone": "13800000077", "screens": screens,
        });
        let mut said = Vec::new();
        support::run_browser(&s, script, &spec, |words| {
            said.push(words.join(" "));
            None
        });
        assert!(said.contains(&"FOUND NOTIFICATIONS 3".to_string()), "{b}: {said:?}");
        assert!(said.contains(&format!("FOUND CLONE {}", &card_no[card_no.len() - 4..])), "{b}: {said:?}");
        assert!(said.contains(&"LEDGER 平衡".to_string()), "{b}: {said:?}");
        // The wrong token the operator typed first was counted (the page said so), and the right one cleared it.
        assert_eq!(db_rows(&s, "SELECT COUNT(*) FROM operator_guards")[0][0].int(), 0, "{b}");
    }
}

#[test]
fn outside_the_sandbox_the_clock_is_shown_and_does_not_move() {
    for s in Server::all(false) {
        let b = s.backend;
        let r = post(&s, "/operator/login", "", "127.0.0.1", &format!("token={}", token(&s)));
        assert_eq!(r.status, 303, "{b}: {}", r.body);
        let cookie = header(&r, "set-cookie").unwrap().split(';').next().unwrap().to_string();
        let page = get(&s, "/operator/clock", &cookie).body;
        assert!(page.contains("id=\"real-time\"") && page.contains("id=\"business-now\"") && !page.contains("action=\"/operator/clock\""), "{b}: {page}");
        assert!(!page.contains("id=\"sandbox\""), "{b}: no sandbox badge");
        let r = post(&s, "/operator/clock", &cookie, "127.0.0.1", "amount=1&unit=d");
        assert_eq!(r.status, 403, "{b}: {}", r.body);
        assert!(!s.data_dir.join("clock.offset").exists(), "{b}");
    }
}
