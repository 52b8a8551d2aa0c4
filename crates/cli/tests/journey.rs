//! The first must-show flow, whole, through the real server on both backends and two headless
//! Chromium windows (`journey_browser.py`): a new customer registers by phone and SMS code, sets her PIN,
//! binds a card and tops up ¥100.00, shows her payment code; the shop's till charges it (v3 `codepay`);
//! the payment is the newest line of her history and shows on the cashier's open console within 2 s.
//! `SAOMA_SCREENS=DIR` saves journey-*.png.

mod support;

use serde_json::{json, Value};
use support::{codepay, Server};

/// The newest code of `purpose` texted to `phone` (the SMS outbox through the admin API).
fn code(s: &Server, purpose: &str, phone: &str) -> String {
    let (st, v) = support::console::admin(s, "GET", &format!("/admin/sms?phone={phone}"), &Value::Null);
    assert_eq!(st, 200, "{v}");
    let m = v["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == purpose);
    m.unwrap_or_else(|| panic!("no {purpose} code for {phone}: {v}"))["code"].as_str().unwrap().to_string()
}

#[test]
fn browser_register_top_up_pay_by_code_and_see_it_in_history_and_on_the_console() {
    if !support::browser_available("journey") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/journey_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("便利店 Corner Shop", "public_key");
        let c = s.client(&m);
        let mchid = m["mchid"].as_str().unwrap().to_string();
        support::console::add_staff(&s, &mchid, "13500000002", "小张", "cashier", "cashier-pass-1");
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({"base": s.base, "phone": "13500000001", "pin": "246810", "card": "6222000000000001",
            "staff_phone": "13500000002", "staff_password": "cashier-pass-1", "screens": screens});
        let (mut shown, mut history) = (None, String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", purpose, phone] => Some(code(&s, purpose, phone)),
            ["CODE", digits] => {
                let (st, o) = codepay(&c, &m, "JOURNEY0001", 1_250, digits);
                assert_eq!((st, o["trade_state"].as_str()), (200, Some("SUCCESS")), "{b}: {o}");
                Some("OK JOURNEY0001".into())
            }
            ["SHOWN", ms] => {
                shown = ms.parse::<u64>().ok();
                None
            }
            ["HISTORY", amounts] => {
                history = amounts.to_string();
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert!(shown.is_some_and(|ms| ms <= 2_000), "{b}: shown after {shown:?} ms");
        assert_eq!(history, "-¥12.50,+¥100.00", "{b}: the payment, then the top-up");
        support::ledger_check(&s);
    }
}
