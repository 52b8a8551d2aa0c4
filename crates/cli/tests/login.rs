//! Wallet login against a stranger, end to end on both backends: thousands of code requests for a
//! victim's phone get one code, guessing stops at five wrong codes (even the right code is refused while
//! locked), a new code retires the old one, concurrent guesses are counted atomically, bad phones are
//! refused, session tokens are not stored in clear, the per-address limit holds, and every count
//! survives a restart.

mod support;

use saoma_wechatpay::client::{http, HttpResponse};
use serde_json::Value;
use support::{advance, user, Server};

fn post(s: &Server, path: &str, body: Value) -> HttpResponse {
    http(&s.base, "POST", path, &[("Content-Type", "application/json")], &body.to_string()).unwrap()
}

fn send(s: &Server, phone: &str) -> HttpResponse {
    post(s, "/wallet/sms", serde_json::json!({ "phone": phone }))
}

fn log_in(s: &Server, phone: &str, code: &str) -> HttpResponse {
    post(s, "/wallet/login", serde_json::json!({ "phone": phone, "code": code }))
}

fn code_of(r: &HttpResponse) -> String {
    r.json()["code"].as_str().unwrap_or("").to_string()
}

/// The Retry-After header of a 429 (seconds).
fn retry_after(r: &HttpResponse) -> i64 {
    assert_eq!(r.status, 429, "{}", r.body);
    r.header("retry-after").unwrap_or_else(|| panic!("no Retry-After: {}", r.body)).parse().unwrap()
}

fn admin(s: &Server) -> String {
    format!("Bearer {}", std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap().trim())
}

/// The phone's login codes in the outbox, newest first.
fn login_codes(s: &Server, phone: &str) -> Vec<String> {
    let r = http(&s.base, "GET", &format!("/admin/sms?phone={}", saoma_server::http::web::url_encode(phone)), &[("Authorization", &admin(s))], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["messages"].as_array().unwrap().iter().filter(|m| m["purpose"] == "login").map(|m| m["code"].as_str().unwrap().to_string()).collect()
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

fn business_time(s: &Server) -> i64 {
    http(&s.base, "GET", "/healthz", &[], "").unwrap().json()["business_time"].as_i64().unwrap()
}

/// `f(i)` for i in 0..n on `threads` threads at once; the results in order of i.
fn concurrently<T: Send + 'static>(n: usize, threads: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (f, next, barrier) = (f.clone(), next.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return out;
                    }
                    out.push((i, f(i)));
                }
            })
        })
        .collect();
    let mut all: Vec<(usize, T)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

/// The rows of `q` run on the server's database directly (what no API shows), every cell as text.
fn db_rows(s: &Server, q: &str) -> Vec<Vec<String>> {
    support::db_rows(s, q).iter().map(|r| r.iter().map(support::Cell::render).collect()).collect()
}

fn count(s: &Server, q: &str) -> i64 {
    db_rows(s, q)[0][0].parse().unwrap()
}

#[test]
fn thousands_of_code_requests_get_one_code() {
    for s in Server::all(true) {
        let b = s.backend;
        const VICTIM: &str = "13900000001";
        user(&s, VICTIM, 10_000);
        // 2,000 requests at once for the victim's phone: one code is sent, every other request is refused.
        let answers = concurrently(2_000, 16, {
            let base = s.base.clone();
            move |_| {
                let r = http(&base, "POST", "/wallet/sms", &[("Content-Type", "application/json")], r#"{"phone":"13900000001"}"#).unwrap();
                (r.status, code_of(&r), r.header("retry-after").map(str::to_string))
            }
        });
        let sent = answers.iter().filter(|a| a.0 == 204).count();
        assert_eq!(sent, 1, "{b}: one code a minute");
        for (status, code, retry) in answers.iter().filter(|a| a.0 != 204) {
            assert_eq!((*status, code.as_str()), (429, "FREQUENCY_LIMITED"), "{b}");
            let retry: i64 = retry.as_deref().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{b}: Retry-After {retry}");
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM sms_outbox WHERE phone = '13900000001' AND purpose = 'login'"), 1, "{b}: only the allowed code exists");

        // Five an hour: a minute apart, four more; the sixth waits for the first to leave the hour.
        for _ in 0..4 {
            advance(&s, "61s");
            assert_eq!(send(&s, VICTIM).status, 204, "{b}");
        }
        advance(&s, "61s");
        let r = send(&s, VICTIM);
        assert_eq!(code_of(&r), "FREQUENCY_LIMITED", "{b}: {}", r.body);
        let wait = retry_after(&r);
        // (The first code went out during the burst; the clock runs on in real time besides the advances.)
        assert!((3600 - 5 * 61 - 900..=3600 - 5 * 61).contains(&wait), "{b}: Retry-After {wait}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM sms_outbox WHERE phone = '13900000001' AND purpose = 'login'"), 5, "{b}");
        // Only the newest code is live: a new code retired every older one.
        let now = business_time(&s);
        assert_eq!(count(&s, &format!("SELECT COUNT(*) FROM sms_outbox WHERE phone = '13900000001' AND purpose = 'login' AND used_at IS NULL AND expires_at > {now}")), 1, "{b}");
        advance(&s, &format!("{wait}s"));
        assert_eq!(send(&s, VICTIM).status, 204, "{b}: the hour has passed");
    }
}

#[test]
fn guessing_stops_at_five_wrong_codes() {
    for s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000002";
        let id = user(&s, PHONE, 10_000)["user_id"].as_str().unwrap().to_string();
        let sessions_of_user = format!("SELECT COUNT(*) FROM wallet_sessions WHERE user_id = {}", if b == "sqlite" { format!("X'{id}'") } else { format!("'\\x{id}'::bytea") });
        assert_eq!(send(&s, PHONE).status, 204);
        let code = login_codes(&s, PHONE)[0].clone();
        for tries_left in (1..=4).rev() {
            let r = log_in(&s, PHONE, &wrong(&code));
            assert_eq!((r.status, code_of(&r)), (401, "CODE_INVALID".into()), "{b}: {}", r.body);
            assert!(r.body.contains(&format!("{tries_left} tries left")), "{b}: {}", r.body);
        }
        let r = log_in(&s, PHONE, &wrong(&code));
        assert!(r.status == 401 && r.body.contains("locked until"), "{b}: the fifth wrong code locks: {}", r.body);
        // The sixth guess is refused even with the right code.
        let r = log_in(&s, PHONE, &code);
        assert_eq!(code_of(&r), "LOGIN_LOCKED", "{b}: {}", r.body);
        let wait = retry_after(&r);
        assert!((1800 - 300..=1800).contains(&wait), "{b}: Retry-After {wait}");
        assert!(r.json()["message"].as_str().unwrap().contains("locked until"), "{b}: {}", r.body);
        assert_eq!(count(&s, &sessions_of_user), 0, "{b}: no session");

        // A new code does not help while the lock holds.
        advance(&s, "29m");
        assert_eq!(send(&s, PHONE).status, 204, "{b}");
        let fresh = login_codes(&s, PHONE)[0].clone();
        assert_eq!(code_of(&log_in(&s, PHONE, &fresh)), "LOGIN_LOCKED", "{b}");
        assert_eq!(count(&s, &sessions_of_user), 0, "{b}: no session");
        // Thirty minutes on, the lock lifts; nothing changed in the wallet.
        advance(&s, "2m");
        let r = log_in(&s, PHONE, &fresh);
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        let session = format!("Bearer {}", r.json()["token"].as_str().unwrap());
        assert_eq!(support::balance(&s, &session), 10_000, "{b}");
        assert_eq!(count(&s, &sessions_of_user), 1, "{b}");

        // A guess when no code is live (and for a phone with no wallet) counts against the address
        // only: nothing can be guessed, so the phone is not locked by strangers' made-up codes.
        let before = count(&s, "SELECT COUNT(*) FROM login_failures");
        for phone in ["13900000003", "+4915112345678"] {
            for _ in 0..6 {
                assert_eq!(code_of(&log_in(&s, phone, "123456")), "CODE_INVALID", "{b}: {phone}");
            }
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM login_failures") - before, 12, "{b}: every guess is the address's");
    }
}

#[test]
fn a_new_code_retires_the_old_one() {
    for s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000004";
        user(&s, PHONE, 0);
        assert_eq!(send(&s, PHONE).status, 204);
        let old = login_codes(&s, PHONE)[0].clone();
        let new = loop {
            advance(&s, "61s");
            assert_eq!(send(&s, PHONE).status, 204, "{b}");
            let c = login_codes(&s, PHONE)[0].clone();
            if c != old {
                break c;
            }
        };
        let r = log_in(&s, PHONE, &old);
        assert_eq!((r.status, code_of(&r)), (401, "CODE_INVALID".into()), "{b}: the old code no longer works: {}", r.body);
        assert_eq!(log_in(&s, PHONE, &new).status, 200, "{b}");
        // Used: it works once.
        assert_eq!(log_in(&s, PHONE, &new).status, 401, "{b}");
    }
}

#[test]
fn concurrent_wrong_guesses_are_counted_atomically() {
    for s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000005";
        user(&s, PHONE, 10_000);
        assert_eq!(send(&s, PHONE).status, 204);
        let code = login_codes(&s, PHONE)[0].clone();
        let answers = concurrently(20, 20, {
            let (base, guess) = (s.base.clone(), wrong(&code));
            move |_| {
                let r = http(&base, "POST", "/wallet/login", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"{PHONE}","code":"{guess}"}}"#)).unwrap();
                (r.status, code_of(&r))
            }
        });
        let tried = answers.iter().filter(|a| a.1 == "CODE_INVALID").count();
        let locked = answers.iter().filter(|a| *a == &(429, "LOGIN_LOCKED".to_string())).count();
        assert_eq!((tried, locked), (5, 15), "{b}: {answers:?}");
        assert_eq!(code_of(&log_in(&s, PHONE, &code)), "LOGIN_LOCKED", "{b}");
        let now = business_time(&s);
        let rows = db_rows(&s, &format!("SELECT failures, locked_until FROM login_guards WHERE phone = '{PHONE}'"));
        let until: i64 = rows[0][1].parse().unwrap();
        assert!(until > now && until <= now + 1800, "{b}: {rows:?}");
    }
}

#[test]
fn only_real_phone_numbers_are_accepted() {
    for s in Server::all(true) {
        let b = s.backend;
        for phone in ["12", "12345678901", "10000000000", "1380000000", "138000000012", "138-0000-0001", "+0123456789", "+1234567", "+1234567890123456", "+86 13800000001", "", "abc", "１３８００００００１"] {
            let r = send(&s, phone);
            assert_eq!((r.status, code_of(&r)), (400, "PARAM_ERROR".into()), "{b}: {phone:?}: {}", r.body);
            assert!(r.body.contains("mainland mobile number"), "{b}: {}", r.body);
            assert_eq!(log_in(&s, phone, "123456").status, 400, "{b}: {phone:?}");
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM sms_outbox"), 0, "{b}: nothing sent");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM login_guards"), 0, "{b}: nothing counted");
        for phone in ["13800000001", "19912345678", "+14155550123", "+12345678"] {
            assert_eq!(send(&s, phone).status, 204, "{b}: {phone}");
        }
        // +86 and the 11 digits are one handset: one phone to the limits (the minute is not over)…
        assert_eq!(send(&s, "+8613800000001").status, 429, "{b}");
        // …and one wallet, whichever spelling made it and whichever logs in.
        user(&s, "+8613800000077", 0);
        assert_eq!(send(&s, "13800000077").status, 204, "{b}");
        let code = login_codes(&s, "+8613800000077")[0].clone();
        let r = log_in(&s, "+8613800000077", &code);
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        assert_eq!(count(&s, "SELECT COUNT(*) FROM users WHERE phone = '13800000077'"), 1, "{b}");
        assert_eq!(count(&s, "SELECT COUNT(*) FROM users WHERE phone LIKE '+86%'"), 0, "{b}");
        let out = support::saoma().args(["user", "create", "--phone", "12345", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("mainland mobile number"), "{b}");
    }
}

#[test]
fn session_tokens_are_stored_hashed() {
    for s in Server::all(true) {
        let b = s.backend;
        user(&s, "13900000006", 100);
        let tokens: Vec<String> = (0..3)
            .map(|i| {
                if i > 0 {
                    advance(&s, "61s");
                }
                s.wallet_login("13900000006").strip_prefix("Bearer ").unwrap().to_string()
            })
            .collect();
        let rows = db_rows(&s, "SELECT * FROM wallet_sessions");
        assert_eq!(rows.len(), 3, "{b}");
        let cells: Vec<&String> = rows.iter().flatten().collect();
        for t in &tokens {
            assert!(!cells.iter().any(|c| c.contains(t.as_str())), "{b}: a token in clear");
            let hash = saoma_wechatpay::digest::sha256_hex(t.as_bytes());
            assert!(cells.contains(&&hash), "{b}: the token's hash is what is kept");
            // The token still works; its hash does not.
            assert_eq!(support::balance(&s, &format!("Bearer {t}")), 100, "{b}");
            assert_eq!(http(&s.base, "GET", "/wallet/balance", &[("Authorization", &format!("Bearer {hash}"))], "").unwrap().status, 401, "{b}");
        }
    }
}

#[test]
fn the_per_address_limit() {
    for db in saoma_store::testing::TestDb::all() {
        let s = Server::start_with(db, true, &["--sms-per-address", "3"]);
        let b = s.backend;
        // Twenty phones at once from one address: three codes.
        let answers = concurrently(20, 20, {
            let base = s.base.clone();
            move |i| {
                let r = http(&base, "POST", "/wallet/sms", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"137000000{i:02}"}}"#)).unwrap();
                (r.status, code_of(&r), r.header("retry-after").map(str::to_string))
            }
        });
        assert_eq!(answers.iter().filter(|a| a.0 == 204).count(), 3, "{b}: {answers:?}");
        for (status, code, retry) in answers.iter().filter(|a| a.0 != 204) {
            assert_eq!((*status, code.as_str()), (429, "FREQUENCY_LIMITED"), "{b}");
            let retry: i64 = retry.as_deref().unwrap().parse().unwrap();
            assert!((3600 - 600..=3600).contains(&retry), "{b}: Retry-After {retry}");
        }
        assert_eq!(count(&s, "SELECT COUNT(*) FROM sms_outbox"), 3, "{b}");
        // The cashier's login page too.
        let r = http(&s.base, "POST", "/cashier/sms", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &s.base)], "phone=13700000099&next=%2Fcashier%2Fh5%3Fprepay_id%3Dwx1").unwrap();
        assert!(retry_after(&r) > 3000, "{b}");
        // An hour on, the address may ask again.
        advance(&s, "1h");
        assert_eq!(send(&s, "13700000099").status, 204, "{b}");
    }
}

/// One address cannot keep locking phone after phone (or spread its guesses over many phones): it gets
/// as many wrong codes an hour as codes it may ask for, counted atomically, then 429 before any phone's
/// counter is touched.
/// A stranger cannot lock someone's login with made-up codes while no code is live (there is nothing
/// to guess): only the address is charged; once a code is sent, it logs in.
#[test]
fn made_up_codes_never_lock_a_phone_without_a_live_code() {
    for s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000077";
        user(&s, PHONE, 0);
        for _ in 0..8 {
            let r = log_in(&s, PHONE, "123456");
            assert_eq!((r.status, code_of(&r)), (401, "CODE_INVALID".into()), "{b}: {}", r.body);
        }
        assert_eq!(count(&s, &format!("SELECT COUNT(*) FROM login_guards WHERE phone = '{PHONE}' AND locked_until > 0")), 0, "{b}");
        assert_eq!(send(&s, PHONE).status, 204, "{b}");
        let code = login_codes(&s, PHONE)[0].clone();
        assert_eq!(log_in(&s, PHONE, &code).status, 200, "{b}: the owner logs in");
    }
}

#[test]
fn wrong_codes_per_address_are_limited() {
    for db in saoma_store::testing::TestDb::all() {
        let s = Server::start_with(db, true, &["--sms-per-address", "6"]);
        let b = s.backend;
        // Twelve guesses at twelve phones at once: six are counted, six refused for the address.
        let answers = concurrently(12, 12, {
            let base = s.base.clone();
            move |i| {
                let r = http(&base, "POST", "/wallet/login", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"136000000{i:02}","code":"000000"}}"#)).unwrap();
                (r.status, code_of(&r), r.header("retry-after").map(str::to_string))
            }
        });
        assert_eq!(answers.iter().filter(|a| a.0 == 401 && a.1 == "CODE_INVALID").count(), 6, "{b}: {answers:?}");
        let limited: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
        assert_eq!(limited.len(), 6, "{b}: {answers:?}");
        for (_, code, retry) in limited {
            assert_eq!(code, "FREQUENCY_LIMITED", "{b}");
            assert!((3000..=3600).contains(&retry.as_deref().unwrap().parse::<i64>().unwrap()), "{b}: {retry:?}");
        }
        // None of the phones had a live code: the guesses counted against the address only.
        assert_eq!(count(&s, "SELECT COUNT(*) FROM login_guards"), 0, "{b}");
        // A right code from this address is refused too until the hour is over; then it logs in.
        const PHONE: &str = "13600000099";
        user(&s, PHONE, 0);
        assert_eq!(send(&s, PHONE).status, 204, "{b}");
        let code = login_codes(&s, PHONE)[0].clone();
        assert_eq!(log_in(&s, PHONE, &code).status, 429, "{b}");
        advance(&s, "1h");
        let code = login_codes(&s, PHONE)[0].clone();
        // The code sent an hour ago has expired: a new one.
        assert_eq!(log_in(&s, PHONE, &code).status, 401, "{b}");
        assert_eq!(send(&s, PHONE).status, 204, "{b}");
        let code = login_codes(&s, PHONE)[0].clone();
        assert_eq!(log_in(&s, PHONE, &code).status, 200, "{b}");
    }
}

#[test]
fn the_limits_survive_a_restart() {
    for mut s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000007";
        user(&s, PHONE, 10_000);
        for i in 0..5 {
            if i > 0 {
                advance(&s, "61s");
            }
            assert_eq!(send(&s, PHONE).status, 204, "{b}");
        }
        let code = login_codes(&s, PHONE)[0].clone();
        for _ in 0..4 {
            assert_eq!(log_in(&s, PHONE, &wrong(&code)).status, 401, "{b}");
        }
        s.restart();
        advance(&s, "61s");
        assert_eq!(code_of(&send(&s, PHONE)), "FREQUENCY_LIMITED", "{b}: five this hour, before the restart");
        let r = log_in(&s, PHONE, &wrong(&code));
        assert!(r.status == 401 && r.body.contains("locked until"), "{b}: the fifth wrong code, four of them before the restart: {}", r.body);
        s.crash_and_restart();
        assert_eq!(code_of(&log_in(&s, PHONE, &code)), "LOGIN_LOCKED", "{b}");
    }
}

/// A second `saoma serve` on the same database (its own data directory): another process.
struct Twin {
    base: String,
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Twin {
    fn start(s: &Server) -> Twin {
        let dir = s.data_dir.join("twin");
        std::fs::create_dir_all(&dir).unwrap();
        let child = support::saoma()
            .args(["serve", "--listen", "127.0.0.1:0", "--sms-per-address", "1000000", "--database-url", &s.database_url, "--data-dir"])
            .arg(&dir)
            // Processes on one database share its master key.
            .arg("--master-key-file")
            .arg(s.data_dir.join("master.key"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !dir.join("server.addr").exists() {
            assert!(std::time::Instant::now() < deadline, "the second server did not start: {}", std::fs::read_to_string(dir.join("server.log")).unwrap_or_default());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let base = std::fs::read_to_string(dir.join("server.addr")).unwrap().trim().to_string();
        Twin { base, child, dir }
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn two_processes_on_one_database_share_the_limits() {
    for s in Server::all(false) {
        let b = s.backend;
        const PHONE: &str = "13900000008";
        user(&s, PHONE, 10_000);
        let twin = Twin::start(&s);
        let bases = [s.base.clone(), twin.base.clone()];
        // Code requests split over both processes at once: one code.
        let answers = concurrently(400, 16, {
            let bases = bases.clone();
            move |i| http(&bases[i % 2], "POST", "/wallet/sms", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"{PHONE}"}}"#)).unwrap().status
        });
        assert_eq!(answers.iter().filter(|&&st| st == 204).count(), 1, "{b}");
        assert!(answers.iter().all(|&st| st == 204 || st == 429), "{b}: {answers:?}");
        // Wrong guesses split over both: exactly five are tried.
        let code = login_codes(&s, PHONE)[0].clone();
        let answers = concurrently(20, 20, {
            let (bases, guess) = (bases.clone(), wrong(&code));
            move |i| {
                let r = http(&bases[i % 2], "POST", "/wallet/login", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"{PHONE}","code":"{guess}"}}"#)).unwrap();
                code_of(&r)
            }
        });
        let tried = answers.iter().filter(|c| *c == "CODE_INVALID").count();
        assert_eq!((tried, answers.len() - tried), (5, 15), "{b}: {answers:?}");
        assert!(answers.iter().all(|c| c == "CODE_INVALID" || c == "LOGIN_LOCKED"), "{b}: {answers:?}");
        // Locked on both.
        for base in &bases {
            let r = http(base, "POST", "/wallet/login", &[("Content-Type", "application/json")], &format!(r#"{{"phone":"{PHONE}","code":"{code}"}}"#)).unwrap();
            assert_eq!(code_of(&r), "LOGIN_LOCKED", "{b}: {}", r.body);
        }
    }
}

/// `saoma paycode --phone`: the auth code, or the error line.
fn cli_paycode(s: &Server, phone: &str) -> Result<String, String> {
    let out = support::saoma().args(["paycode", "--phone", phone, "--data-dir"]).arg(&s.data_dir).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_cli_keeps_a_users_session_as_a_phone_does() {
    use std::os::unix::fs::PermissionsExt;
    for s in Server::all(true) {
        let b = s.backend;
        const PHONE: &str = "13900000009";
        user(&s, PHONE, 10_000);
        for _ in 0..3 {
            assert_eq!(cli_paycode(&s, PHONE).unwrap().len(), 18, "{b}");
        }
        assert_eq!(login_codes(&s, PHONE).len(), 1, "{b}: one login for three commands");
        let file = s.data_dir.join("sessions").join(PHONE);
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{b}");
        let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let hash = saoma_wechatpay::digest::sha256_hex(kept["token"].as_str().unwrap().as_bytes());
        assert_eq!(count(&s, &format!("SELECT COUNT(*) FROM wallet_sessions WHERE token_hash = '{hash}'")), 1, "{b}");
        // A day on the session has expired: the next command logs in again.
        advance(&s, "25h");
        assert!(cli_paycode(&s, PHONE).is_ok(), "{b}");
        assert_eq!(login_codes(&s, PHONE).len(), 2, "{b}");

        // A code was sent to the phone a moment ago (and is still live): the command uses it rather than
        // ask for another, which the server would refuse for a minute.
        const OTHER: &str = "13900000010";
        user(&s, OTHER, 10_000);
        assert_eq!(send(&s, OTHER).status, 204, "{b}");
        assert!(cli_paycode(&s, OTHER).is_ok(), "{b}");
        let r = http(&s.base, "GET", &format!("/admin/sms?phone={OTHER}"), &[("Authorization", &admin(&s))], "").unwrap().json();
        let logins: Vec<&Value> = r["messages"].as_array().unwrap().iter().filter(|m| m["purpose"] == "login").collect();
        assert_eq!((logins.len(), &logins[0]["used"]), (1, &Value::Bool(true)), "{b}: {r}");
        // A bad phone never becomes a file name.
        assert!(cli_paycode(&s, "../admin.token").unwrap_err().contains("mainland mobile number"), "{b}");
    }
}
