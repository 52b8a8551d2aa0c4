//! The wallet app's pages (`/`, `/code`) through a real server on both backends: over HTTP (logged out,
//! the login's return, the payment code's state for its owner only, the script's headers), and in headless
//! Chromium (`wallet_browser.py`): log in, the balance, the payment code as barcode, QR and digits; a
//! cashier charges it (v3 codepay) and the page shows a new code by itself; a charge above the
//! password-free limit turns the page into the PIN prompt, the PIN pays it; the new balance on the
//! home page. `SAOMA_SCREENS=DIR` saves the pages as wallet-*.png.

mod support;

use saoma_wechatpay::client::{http, V3Client};
use serde_json::{json, Value};
use support::{codepay, saoma, sms_code, user, Server};

fn query(c: &V3Client, no: &str) -> Value {
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn pages_over_http() {
    for s in Server::all(true) {
        // Logged out: the home page is the login, in Chinese unless asked otherwise, and comes back to `/`.
        let r = http(&s.base, "GET", "/", &[], "").unwrap();
        assert_eq!(r.status, 200, "{}: {}", s.backend, r.body);
        assert!(r.body.contains("<html lang=\"zh-CN\">") && r.body.contains("登录钱包") && r.body.contains("name=\"next\" value=\"/\""), "{}", r.body);
        assert!(r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-security-policy") && v.contains("default-src 'none'")));
        let r = http(&s.base, "GET", "/code", &[("Accept-Language", "en-US,en;q=0.9")], "").unwrap();
        assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("name=\"next\" value=\"/code\""), "{}", r.body);
        // The state of a code is its owner's business only.
        let r = http(&s.base, "GET", "/code/state?code=134567890123456789", &[], "").unwrap();
        assert_eq!(r.status, 401, "{}", r.body);
        user(&s, "13500000001", 10_000);
        user(&s, "13500000002", 10_000);
        let alice = s.wallet_session("13500000001");
        let bob = s.wallet_session("13500000002");
        let cookie = |bearer: &str| format!("saoma_wallet={}", bearer.strip_prefix("Bearer ").unwrap());
        let page = http(&s.base, "GET", "/code", &[("Cookie", &cookie(&alice))], "").unwrap();
        assert_eq!(page.status, 200, "{}", page.body);
        let code = page.body.split("data-code=\"").nth(1).unwrap()[..18].to_string();
        assert!(page.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-security-policy") && v.contains("script-src 'self'")));
        let state_of = |who: &str, code: &str| http(&s.base, "GET", &format!("/code/state?code={code}"), &[("Cookie", &cookie(who))], "").unwrap().json()["state"].as_str().unwrap().to_string();
        let state = |who: &str| state_of(who, &code);
        assert_eq!(state(&alice), "valid");
        assert_eq!(state(&bob), "expired", "another user's code tells nothing");
        // The next code retires this one: a photographed code dies when the page shows the next.
        let show = || http(&s.base, "GET", "/code", &[("Cookie", &cookie(&alice))], "").unwrap().body.split("data-code=\"").nth(1).unwrap()[..18].to_string();
        let next = show();
        assert_ne!(next, code);
        assert_eq!((state(&alice), state_of(&alice, &next)), ("expired".to_string(), "valid".to_string()));
        let m = s.merchant("便利店", "public_key");
        let (st, e) = codepay(&s.client(&m), &m, "WPOLD0001", 100, &code);
        assert_eq!(st, 400, "a retired code cannot be charged: {e}");
        // A script reloading the page gets at most ten unused codes a minute, then the newest again.
        let codes: std::collections::HashSet<String> = (0..15).map(|_| show()).collect();
        assert!(codes.len() <= 10, "{} codes in a minute", codes.len());
        support::advance(&s, "61s");
        assert_eq!(state_of(&alice, &next), "expired");
        assert_ne!(show(), next, "a minute later, new codes again");
        // A QR PNG is at most 2,048 px wide.
        let long = "a".repeat(1000);
        assert_eq!(http(&s.base, "GET", &format!("/qr.png?text={long}&scale=32"), &[], "").unwrap().status, 400);
        assert_eq!(http(&s.base, "GET", "/qr.png?text=hi&scale=32", &[], "").unwrap().status, 200);
        let js = http(&s.base, "GET", "/static/paycode.js", &[], "").unwrap();
        assert_eq!(js.status, 200);
        assert!(js.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("text/javascript")));
        // A login may come back to a wallet page, never to an API or another site.
        let r = http(&s.base, "POST", "/cashier/sms", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &s.base)], "next=%2Fwallet%2Fbalance&phone=13500000001").unwrap();
        assert_eq!(r.status, 400, "{}", r.body);
    }
}

/// `saoma bench pages --json`, run tiny: every page measured, each under 100 KB with what it loads.
#[test]
fn bench_pages_json() {
    let out = saoma().args(["bench", "pages", "--json", "--backend", "sqlite", "--secs", "0.2", "--clients", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages: Vec<&str> = v["pages"].as_array().unwrap().iter().map(|p| p["page"].as_str().unwrap()).collect();
    assert_eq!(pages, ["healthz", "login", "home", "history", "me", "cards", "agreements", "paycode", "cashier", "collect", "scan", "transit", "shop", "console", "console-orders", "operator"]);
    for p in v["pages"].as_array().unwrap() {
        assert!(p["requests"].as_u64().unwrap() > 0 && p["server_p50_ms"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["bytes"].as_u64().unwrap() < 100 * 1024, "{p}");
    }
}

#[test]
fn browser_shows_the_payment_code_a_cashier_charges_it_and_the_pin_prompt() {
    if !support::browser_available("wallet") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet_browser.py");
    for s in Server::all(true) {
        let m = s.merchant("便利店 Corner Shop", "public_key");
        let c = s.client(&m);
        user(&s, "13600000001", 200_000);
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        let spec = json!({"base": s.base, "phone": "13600000001", "pin": "123456", "balance": "¥2000.00", "screens": screens});
        let (mut paid, mut balance) = (String::new(), String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(sms_code(&s, phone)),
            ["CODE", code] => {
                let (st, o) = codepay(&c, &m, "WP00000001", 1_250, code);
                assert_eq!((st, o["trade_state"].as_str()), (200, Some("SUCCESS")), "{o}");
                Some("OK ¥12.50".into())
            }
            ["CODE_PIN", code] => {
                let (st, e) = codepay(&c, &m, "WP00000002", 150_000, code);
                assert_eq!((st, e["code"].as_str()), (202, Some("USERPAYING")), "{e}");
                Some("OK ¥1500.00".into())
            }
            ["PAID", amount] => {
                paid = amount.to_string();
                None
            }
            ["BALANCE", b] => {
                balance = b.to_string();
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert_eq!(paid, "¥1500.00");
        assert_eq!(query(&c, "WP00000001")["trade_state"], "SUCCESS");
        assert_eq!(query(&c, "WP00000002")["trade_state"], "SUCCESS", "the PIN typed in the page paid the waiting order");
        assert_eq!(balance, "¥487.50", "{}: 2000.00 − 12.50 − 1500.00", s.backend);
        support::ledger_check(&s);
    }
}
