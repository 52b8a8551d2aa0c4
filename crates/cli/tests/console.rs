//! The merchant console (`/console…`) through a real server on both backends: staff created by the
//! operator (and its refusals) and by a manager; the login's steps — phone, SMS code (a code of the
//! console's own), the staff member's password — and their refusals; five wrong passwords lock, across
//! a restart; a cashier cannot open the managers' pages; the console's session and the wallet's are
//! separate; the events stream delivers a payment made through v3 and the wallet API within 2 s, and the
//! orders search finds it. In headless Chromium (`console_browser.py`): a cashier logs in, the test pays,
//! the open page shows the payment within 2 s and says it aloud; the manager finds it among the orders.
//! `SAOMA_SCREENS=DIR` saves console-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use support::{wallet_call, Server};

fn admin(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = http(&s.base, method, path, &[("Authorization", &format!("Bearer {}", token.trim())), ("Content-Type", "application/json")], &body.to_string()).unwrap();
    (r.status, r.json())
}

fn add_staff(s: &Server, mchid: &str, phone: &str, name: &str, role: &str, password: &str) -> (u16, Value) {
    admin(s, "POST", &format!("/admin/merchants/{mchid}/staff"), &json!({"phone": phone, "name": name, "role": role, "password": password}))
}

/// The newest console login code texted to `phone`.
fn console_code(s: &Server, phone: &str) -> String {
    let (st, v) = admin(s, "GET", &format!("/admin/sms?phone={phone}"), &Value::Null);
    assert_eq!(st, 200, "{v}");
    v["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "console").expect("no console code")["code"].as_str().unwrap().to_string()
}

/// A form posted from the console's own pages, with `cookie` (may be empty).
fn post(s: &Server, path: &str, cookie: &str, form: &str) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str())];
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

/// `saoma_console=TOKEN` from a response's `Set-Cookie`, which must carry the console cookie's attributes.
fn console_cookie(r: &HttpResponse) -> String {
    let set = header(r, "set-cookie").unwrap_or_else(|| panic!("no cookie: {} {}", r.status, r.body));
    assert!(set.starts_with("saoma_console=") && set.contains("; Path=/console") && set.contains("; HttpOnly") && set.contains("; SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_string()
}

/// Phone and code: the cookie of a session waiting for the password.
fn code_step(s: &Server, phone: &str) -> String {
    let r = post(s, "/console/sms", "", &format!("phone={phone}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("action=\"/console/login\""), "{}", r.body);
    let r = post(s, "/console/login", "", &format!("phone={phone}&code={}", console_code(s, phone)));
    assert_eq!((r.status, header(&r, "location")), (303, Some("/console")), "{}", r.body);
    console_cookie(&r)
}

/// All three steps: the cookie of a live session.
fn log_in(s: &Server, phone: &str, password: &str) -> String {
    let waiting = code_step(s, phone);
    let r = post(s, "/console/password", &waiting, &format!("password={password}"));
    assert_eq!((r.status, header(&r, "location")), (303, Some("/console")), "{}", r.body);
    let live = console_cookie(&r);
    assert_ne!(live, waiting, "the password gives a new session");
    live
}

#[test]
fn staff_login_roles_and_sessions() {
    for mut s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("便利店 Corner Shop", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        // The operator adds staff; what it refuses.
        let (st, v) = add_staff(&s, &mchid, "13700000001", "李店长", "manager", "manager-pass-1");
        assert_eq!((st, v["role"].as_str()), (201, Some("manager")), "{b}: {v}");
        assert_eq!(add_staff(&s, &mchid, "13700000001", "又一个", "cashier", "cashier-pass-1").0, 409, "one merchant per phone");
        assert_eq!(add_staff(&s, &mchid, "13700000009", "x", "boss", "cashier-pass-1").0, 400);
        assert_eq!(add_staff(&s, &mchid, "13700000009", "x", "cashier", "short").0, 400);
        assert_eq!(add_staff(&s, &mchid, "12345", "x", "cashier", "cashier-pass-1").0, 400);
        assert_eq!(add_staff(&s, &mchid, "13700000009", "", "cashier", "cashier-pass-1").0, 400);
        assert_eq!(add_staff(&s, "1900000000", "13700000009", "x", "cashier", "cashier-pass-1").0, 404);

        // Logged out: the phone step, in Chinese, with the page's security headers.
        let r = get(&s, "/console", "");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<html lang=\"zh-CN\">") && r.body.contains("action=\"/console/sms\"") && r.body.contains("登录商户收款台"), "{}", r.body);
        assert!(header(&r, "content-security-policy").is_some_and(|c| c.contains("default-src 'none'")));
        assert!(get(&s, "/console?lang=en", "").body.contains("Log in to the merchant console"));
        assert_eq!(get(&s, "/console/events", "").status, 401);

        // The SMS step: a wrong code is counted and says so; a console code never logs in to a wallet.
        let r = post(&s, "/console/sms", "", "phone=13700000001");
        assert_eq!(r.status, 200, "{}", r.body);
        let r = post(&s, "/console/login", "", "phone=13700000001&code=000000");
        assert_eq!(r.status, 401);
        assert!(r.body.contains("还可以再试 4 次") && r.body.contains("id=\"code\""), "{}", r.body);
        let code = console_code(&s, "13700000001");
        let w = http(&s.base, "POST", "/wallet/login", &[], &json!({"phone": "13700000001", "code": code}).to_string()).unwrap();
        assert_eq!(w.status, 401, "{b}: a console code is not a wallet code: {}", w.body);
        let r = post(&s, "/console/sms", "", "phone=13700000001");
        assert_eq!(r.status, 429, "one code a minute: {}", r.body);
        assert!(header(&r, "retry-after").is_some());
        // The phone step's refusals.
        assert_eq!(post(&s, "/console/sms", "", "phone=123").status, 400);
        support::advance(&s, "61s");

        // A phone that is nobody's staff is texted nothing, and the page says no more than for staff
        // (it does not tell who is staff); a guess opens nothing.
        let r = post(&s, "/console/sms", "", "phone=13700000099");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("如果 137****0099 是店员的手机号"), "{}", r.body);
        let (_, sent) = admin(&s, "GET", "/admin/sms?phone=13700000099", &Value::Null);
        assert_eq!(sent["messages"].as_array().map(Vec::len), Some(0), "{b}: texted a stranger: {sent}");
        let r = post(&s, "/console/login", "", "phone=13700000099&code=123456");
        assert_eq!(r.status, 401);
        assert!(header(&r, "set-cookie").is_none(), "{}", r.body);

        // After the code, the password is asked for; nothing else opens yet.
        let waiting = code_step(&s, "13700000001");
        let r = get(&s, "/console", &waiting);
        assert!(r.body.contains("id=\"password\"") && r.body.contains("李店长"), "{}", r.body);
        assert!(get(&s, "/console/orders", &waiting).body.contains("id=\"password\""));
        assert_eq!(get(&s, "/console/events", &waiting).status, 401);
        let r = post(&s, "/console/password", &waiting, "password=wrong-password");
        assert_eq!(r.status, 401);
        assert!(r.body.contains("还可以再试 4 次"), "{}", r.body);
        let r = post(&s, "/console/password", &waiting, "password=manager-pass-1");
        assert_eq!(r.status, 303, "{}", r.body);
        let manager = console_cookie(&r);
        assert!(get(&s, "/console", &waiting).body.contains("action=\"/console/sms\""), "the first step's session is gone");
        let home = get(&s, "/console", &manager);
        assert_eq!(home.status, 200);
        assert!(home.body.contains("id=\"takings-sum\">¥0.00<") && home.body.contains("href=\"/console/orders\"") && home.body.contains("script src=\"/static/console.js\""), "{}", home.body);
        assert!(header(&home, "content-security-policy").is_some_and(|c| c.contains("script-src 'self'")));

        // A manager adds a cashier from the console; the cashier sees the takings only.
        let r = get(&s, "/console/staff", &manager);
        assert_eq!(r.status, 200);
        let r = post(&s, "/console/staff", &manager, "phone=13700000002&name=%E5%B0%8F%E7%8E%8B&role=cashier&password=cashier-pass-1");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("id=\"added\"") && r.body.contains("小王"), "{}", r.body);
        let r = post(&s, "/console/staff", &manager, "phone=13700000002&name=x&role=cashier&password=cashier-pass-1");
        assert_eq!(r.status, 400);
        assert!(r.body.contains("role=\"alert\""), "{}", r.body);
        let cashier = log_in(&s, "13700000002", "cashier-pass-1");
        let r = get(&s, "/console", &cashier);
        assert!(r.body.contains("id=\"takings\"") && !r.body.contains("href=\"/console/orders\""), "{}", r.body);
        for path in ["/console/orders", "/console/orders?no=x", "/console/staff"] {
            let r = get(&s, path, &cashier);
            assert_eq!(r.status, 403, "{b}: a cashier opened {path}");
            assert!(r.body.contains("id=\"managers-only\""), "{}", r.body);
        }
        assert_eq!(post(&s, "/console/staff", &cashier, "phone=13700000003&name=x&role=manager&password=cashier-pass-1").status, 403);

        // The console's session and the wallet's are separate: neither cookie opens the other.
        support::user(&s, "13700000001", 10_000);
        let wallet = s.wallet_session("13700000001");
        let wallet_cookie = format!("saoma_wallet={}", wallet.strip_prefix("Bearer ").unwrap());
        assert!(get(&s, "/console", &wallet_cookie).body.contains("action=\"/console/sms\""));
        let console_token = manager.strip_prefix("saoma_console=").unwrap();
        assert!(get(&s, "/", &format!("saoma_wallet={console_token}")).body.contains("登录钱包"));
        assert_eq!(http(&s.base, "GET", "/wallet/balance", &[("Authorization", &format!("Bearer {console_token}"))], "").unwrap().status, 401);
        assert!(get(&s, "/", &format!("{manager}; {wallet_cookie}")).body.contains("id=\"balance\""), "both at once, each its own");

        // Five wrong passwords lock the console for the staff member, durably (across a restart).
        support::advance(&s, "61s");
        let waiting = code_step(&s, "13700000002");
        for left in (1..=4).rev() {
            let r = post(&s, "/console/password", &waiting, "password=guess-guess");
            assert!(r.status == 401 && r.body.contains(&format!("还可以再试 {left} 次")), "{b}: {} {}", r.status, r.body);
        }
        let r = post(&s, "/console/password", &waiting, "password=guess-guess");
        assert_eq!(r.status, 403);
        assert!(r.body.contains("已锁定至"), "{}", r.body);
        s.restart();
        support::advance(&s, "61s");
        let waiting = code_step(&s, "13700000002");
        let r = post(&s, "/console/password", &waiting, "password=cashier-pass-1");
        assert_eq!(r.status, 403, "{b}: the right password while locked: {}", r.body);
        assert!(r.body.contains("已锁定至"));
        // The lock is the staff member's, not the shop's: the manager is still in.
        assert_eq!(get(&s, "/console/orders", &manager).status, 200);

        // Logging out ends the session and clears the cookie.
        let r = post(&s, "/console/logout", &manager, "");
        assert_eq!(r.status, 303);
        assert!(header(&r, "set-cookie").is_some_and(|c| c.starts_with("saoma_console=;") && c.contains("Max-Age=0")));
        assert!(get(&s, "/console", &manager).body.contains("action=\"/console/sms\""));
    }
}

/// Reads server-sent events from `/console/events` on a connection of its own.
struct Events {
    conn: std::net::TcpStream,
    seen: String,
}

impl Events {
    fn open(s: &Server, cookie: &str) -> Events {
        let host = s.base.strip_prefix("http://").unwrap();
        let mut conn = std::net::TcpStream::connect(host).unwrap();
        write!(conn, "GET /console/events HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Events { conn, seen: String::new() }
    }

    /// Waits (at most `within`) for a `takings` event holding `needle`; how long it took.
    fn wait_for(&mut self, needle: &str, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < within {
            if let Some(at) = self.seen.find("event: takings") {
                if let Some(end) = self.seen[at..].find("\n\n") {
                    let event = self.seen[at..at + end].to_string();
                    self.seen.drain(..at + end + 2);
                    if event.contains(needle) {
                        return Some(start.elapsed());
                    }
                    continue;
                }
            }
            match self.conn.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n]).replace("\r\n", "\n")),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
        }
        None
    }
}

/// A native order paid from `session`'s wallet: v3, then the wallet API. Its transaction_id.
fn pay(s: &Server, m: &Value, session: &str, no: &str, total: i64) -> String {
    let c = s.client(m);
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "咖啡", "out_trade_no": no, "notify_url": "https://example.com/notify", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let (st, v) = wallet_call(s, session, "POST", "/wallet/pay", &json!({"code": r.json()["code_url"]}).to_string());
    assert_eq!(st, 200, "{v}");
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.json()["trade_state"], "SUCCESS");
    r.json()["transaction_id"].as_str().unwrap().to_string()
}

#[test]
fn events_deliver_a_v3_payment_and_the_orders_search_finds_it() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("咖啡馆 Cafe", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        assert_eq!(add_staff(&s, &mchid, "13800000001", "王店长", "manager", "manager-pass-1").0, 201);
        assert_eq!(add_staff(&s, &mchid, "13800000002", "小李", "cashier", "cashier-pass-1").0, 201);
        support::user(&s, "13900000001", 100_000);
        let payer = s.wallet_session("13900000001");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");

        let mut events = Events::open(&s, &cashier);
        assert!(events.wait_for("\"count\":0", Duration::from_secs(5)).is_some(), "{b}: the first event: {}", events.seen);
        let paid_at = Instant::now();
        let transaction_id = pay(&s, &m, &payer, "CAFE0001", 1_250);
        let took = events.wait_for("CAFE0001", Duration::from_secs(2)).unwrap_or_else(|| panic!("{b}: no event within 2 s: {}", events.seen));
        assert!(paid_at.elapsed() < Duration::from_secs(3), "{b}: {took:?}");
        // What the event said was read by the page's script: sum, count, the payment and its words.
        let home = get(&s, "/console", &cashier);
        assert!(home.body.contains("id=\"takings-sum\">¥12.50<") && home.body.contains("共 1 笔") && home.body.contains(&format!("data-id=\"{transaction_id}\"")), "{}", home.body);

        // Another merchant's payment is not this shop's.
        let other = s.merchant("别家 Other", "public_key");
        pay(&s, &other, &payer, "OTHER001", 500);
        pay(&s, &m, &payer, "CAFE0002", 300);
        assert!(events.wait_for("\"count\":2", Duration::from_secs(2)).is_some(), "{b}: {}", events.seen);
        assert!(!get(&s, "/console", &cashier).body.contains("OTHER001"));
        drop(events);

        // The orders search (a manager's): by either number, by state, by day.
        let manager = log_in(&s, "13800000001", "manager-pass-1");
        let c = s.client(&m);
        let body = json!({"appid": m["appid"], "mchid": mchid, "description": "未付", "out_trade_no": "CAFE0003", "notify_url": "https://example.com/notify", "amount": {"total": 100}});
        assert_eq!(c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap().status, 200);
        let found = |q: &str| {
            let r = get(&s, &format!("/console/orders{q}"), &manager);
            assert_eq!(r.status, 200, "{}", r.body);
            // The list of results (the search form above it echoes the number asked for).
            let list = r.body.split("id=\"orders\"").nth(1).unwrap_or("").to_string();
            ["CAFE0001", "CAFE0002", "CAFE0003", "OTHER001"].into_iter().filter(|no| list.contains(no)).collect::<Vec<_>>()
        };
        assert_eq!(found(""), ["CAFE0001", "CAFE0002", "CAFE0003"], "{b}: today's orders");
        assert_eq!(found("?no=CAFE0001"), ["CAFE0001"]);
        assert_eq!(found(&format!("?no={transaction_id}")), ["CAFE0001"]);
        assert_eq!(found("?no=OTHER001"), Vec::<&str>::new(), "another merchant's order");
        assert_eq!(found("?state=SUCCESS"), ["CAFE0001", "CAFE0002"]);
        assert_eq!(found("?state=NOTPAY"), ["CAFE0003"]);
        assert_eq!(found("?day=2001-01-01"), Vec::<&str>::new());
        let r = get(&s, "/console/orders?day=yesterday", &manager);
        assert!(r.body.contains("role=\"alert\""), "a bad day is said: {}", r.body);
        let r = get(&s, "/console/orders?lang=en", &manager);
        assert!(r.body.contains("Find orders") && r.body.contains("Paid"), "{}", r.body);
        support::ledger_check(&s);
    }
}

#[test]
fn browser_shows_a_payment_on_the_open_console_within_two_seconds() {
    if !support::browser_available("console") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console_browser.py");
    for s in Server::all(true) {
        let m = s.merchant("便利店 Corner Shop", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        assert_eq!(add_staff(&s, &mchid, "13600000002", "小张", "cashier", "cashier-pass-1").0, 201);
        assert_eq!(add_staff(&s, &mchid, "13600000001", "赵店长", "manager", "manager-pass-1").0, 201);
        support::user(&s, "13600000009", 100_000);
        let payer = s.wallet_session("13600000009");
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        let spec = json!({"base": s.base, "phone": "13600000002", "password": "cashier-pass-1", "manager_phone": "13600000001", "manager_password": "manager-pass-1", "screens": screens});
        let (mut shown, mut spoken, mut found) = (String::new(), String::new(), String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(console_code(&s, phone)),
            ["PAY"] => {
                pay(&s, &m, &payer, "SHOP0001", 1_250);
                Some("OK SHOP0001".into())
            }
            ["SHOWN", amount, ms] => {
                shown = format!("{amount} {ms}");
                None
            }
            ["SPOKEN", words @ ..] => {
                spoken = words.join(" ");
                None
            }
            ["FOUND", state] => {
                found = state.to_string();
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert!(shown.starts_with("¥12.50 "), "{}: {shown}", s.backend);
        assert_eq!(spoken, "收款到账 ¥12.50", "{}", s.backend);
        assert_eq!(found, "支付成功", "{}: the manager found the payment", s.backend);
    }
}
