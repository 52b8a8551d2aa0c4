//! The wallet's History (`/history`) and Me (`/me`) tabs through a real server on both backends: every
//! kind of movement we can make (a payment, a refund, top-ups, a declined top-up, a withdrawal) on the
//! page with its signed ¥ amount, the same history in the wallet API; setting the PIN on the page (the
//! code texted for it, refusals: a wrong code, two PINs that differ, a bad format, a login code, and the
//! PIN's code cannot log in) and changing it (the old PIN, tries counted); and `POST /wallet/pin`. In
//! headless Chromium (`wallet_me_browser.py`): a new wallet opened from `/`, its PIN set on Me, History.
//! `SAOMA_SCREENS=DIR` saves the pages as wallet-me-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse, V3Client};
use serde_json::{json, Value};
use support::{bind_card, saoma, user, wallet_call, Server};

fn cookie(bearer: &str) -> String {
    format!("saoma_wallet={}", bearer.strip_prefix("Bearer ").unwrap())
}

fn page(s: &Server, session: &str, path: &str) -> HttpResponse {
    http(&s.base, "GET", path, &[("Cookie", &cookie(session))], "").unwrap()
}

fn post_form(s: &Server, session: &str, path: &str, form: &str) -> HttpResponse {
    let c = cookie(session);
    http(&s.base, "POST", path, &[("Cookie", &c), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &s.base)], form).unwrap()
}

/// The newest code of `purpose` texted to `phone` (the SMS outbox, through the admin API).
fn sms(s: &Server, phone: &str, purpose: &str) -> String {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = http(&s.base, "GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap();
    r.json()["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == purpose).unwrap_or_else(|| panic!("no {purpose} code: {}", r.body))["code"].as_str().unwrap().to_string()
}

/// Another six digits than `code`.
fn wrong(code: &str) -> String {
    code.chars().map(|c| if c == '9' { '0' } else { char::from(c as u8 + 1) }).collect()
}

fn no_pin_user(s: &Server, phone: &str) -> String {
    let out = saoma().args(["user", "create", "--phone", phone, "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    s.wallet_session(phone)
}

fn pin_status(s: &Server, session: &str) -> Value {
    wallet_call(s, session, "GET", "/wallet/pin", "").1
}

fn paid_order(s: &Server, c: &V3Client, m: &Value, phone: &str, no: &str, total: i64) {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "一本书", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let out = saoma().args(["pay", "--json", "--phone", phone, "--data-dir"]).arg(&s.data_dir).arg(r.json()["code_url"].as_str().unwrap()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn bank(s: &Server, session: &str, path: &str, card: &str, amount: i64, rid: &str) -> String {
    let (_, v) = wallet_call(s, session, "POST", path, &json!({"card_no": card, "amount": amount, "request_id": rid, "pin": "123456"}).to_string());
    v["state"].as_str().unwrap_or("").to_string()
}

#[test]
fn history_lists_every_movement_with_signed_amounts() {
    for s in Server::all(true) {
        let b = s.backend;
        // A new wallet: an empty history says what to do.
        let fresh = no_pin_user(&s, "13700000009");
        let r = page(&s, &fresh, "/history");
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        assert!(r.body.contains("id=\"history-empty\"") && r.body.contains("href=\"/cards\"") && r.body.contains("href=\"/code\""), "{}", r.body);
        assert!(r.body.contains("aria-current=\"page\">账单<"), "the History tab is the current one");
        // Logged out: the login, coming back here.
        let r = http(&s.base, "GET", "/history", &[], "").unwrap();
        assert!(r.body.contains("name=\"next\" value=\"/history\""), "{}", r.body);

        user(&s, "13700000001", 10_000);
        let session = s.wallet_session("13700000001");
        bind_card(&s, &session, "13700000001", "6222000000000001");
        bind_card(&s, &session, "13700000001", "6222000000000002");
        // A second between movements: the history is ordered by the second each happened in.
        let tick = || support::advance(&s, "1s");
        assert_eq!(bank(&s, &session, "/wallet/topup", "6222000000000001", 5_000, "t1"), "succeeded");
        tick();
        assert_eq!(bank(&s, &session, "/wallet/withdraw", "6222000000000001", 2_000, "w1"), "succeeded");
        tick();
        assert_eq!(bank(&s, &session, "/wallet/topup", "6222000000000002", 700, "t2"), "failed");
        tick();
        let m = s.merchant("书店", "public_key");
        let c = s.client(&m);
        paid_order(&s, &c, &m, "13700000001", "ME-0001", 1_250);
        tick();
        let r = c.request("POST", "/v3/refund/domestic/refunds", &json!({"out_trade_no": "ME-0001", "out_refund_no": "MR-0001", "amount": {"refund": 300, "total": 1_250, "currency": "CNY"}}).to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);

        let r = page(&s, &session, "/history");
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        let body = &r.body;
        for want in ["付款给 书店", "-¥12.50", "书店 退款", "+¥3.00", "银行卡充值", "+¥50.00", "提现到银行卡", "-¥20.00", "+¥7.00", "银行已拒绝，余额未变", "有退款", "（北京时间）"] {
            assert!(body.contains(want), "{b}: {want} missing from {body}");
        }
        // Newest first: the refund, then the payment, then the bank's operations newest first.
        let at = |s: &str| body.find(s).unwrap_or_else(|| panic!("{s}"));
        assert!(at("书店 退款") < at("付款给 书店") && at("付款给 书店") < at("提现到银行卡") && at("提现到银行卡") < at("+¥50.00"), "{body}");
        assert!(!body.contains("history-empty"));
        let en = page(&s, &session, "/history?lang=en");
        assert!(en.body.contains("Paid 书店") && en.body.contains("Refund from 书店") && en.body.contains("Declined by the bank") && en.body.contains("(China time)"), "{}", en.body);

        // The wallet API lists the same, newest first, in the JSON it always had.
        let (st, v) = wallet_call(&s, &session, "GET", "/wallet/transactions", "");
        assert_eq!(st, 200, "{v}");
        let got: Vec<(String, i64)> = v["transactions"].as_array().unwrap().iter().map(|t| (t["kind"].as_str().unwrap().to_string(), t["amount"].as_i64().unwrap())).collect();
        let want: Vec<(String, i64)> = [("refund", 300), ("payment", -1_250), ("top_up", 700), ("withdrawal", -2_000), ("top_up", 5_000)].iter().map(|(k, a)| (k.to_string(), *a)).collect();
        assert_eq!(got, want, "{b}: {v}");
        let payment = &v["transactions"][1];
        assert_eq!((payment["merchant"].as_str(), payment["out_trade_no"].as_str(), payment["state"].as_str()), (Some("书店"), Some("ME-0001"), Some("REFUND")), "{payment}");
        assert_eq!(v["transactions"][2]["state"], "failed");
        support::ledger_check(&s);
    }
}

#[test]
fn the_pin_is_set_with_a_code_of_its_own_and_changed_with_the_old_one() {
    for s in Server::all(true) {
        let b = s.backend;
        let phone = "13700000002";
        let session = no_pin_user(&s, phone);
        let me = page(&s, &session, "/me");
        assert_eq!(me.status, 200, "{b}: {}", me.body);
        for want in ["id=\"pin-state\"", "未设置", "action=\"/me/pin/sms\"", "href=\"/cards\"", "href=\"/agreements\"", "137****0002"] {
            assert!(me.body.contains(want), "{want} missing from {}", me.body);
        }
        assert!(me.body.contains("aria-current=\"page\">我的<"));
        // The code step: a code texted for the PIN, labelled fields.
        let r = post_form(&s, &session, "/me/pin/sms", "");
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        assert!(r.body.contains("<label for=\"code\">") && r.body.contains("<label for=\"new-pin\">") && r.body.contains("<label for=\"new-pin-again\">"), "{}", r.body);
        let code = sms(&s, phone, "set_pin");
        // Refusals: a wrong code (counted), PINs that differ, a bad format; the PIN stays unset.
        let r = post_form(&s, &session, "/me/pin", &format!("code={}&pin=135790&pin_again=135790", wrong(&code)));
        assert_eq!(r.status, 401, "{b}: {}", r.body);
        assert!(r.body.contains("还可以再试 4 次"), "{}", r.body);
        let r = post_form(&s, &session, "/me/pin", &format!("code={code}&pin=135790&pin_again=135791"));
        assert_eq!(r.status, 400);
        assert!(r.body.contains("两次输入的新支付密码不一致"), "{}", r.body);
        let r = post_form(&s, &session, "/me/pin", &format!("code={code}&pin=1357&pin_again=1357"));
        assert_eq!(r.status, 400);
        assert!(r.body.contains("支付密码须为 6 位数字"), "{}", r.body);
        // A login code cannot set the PIN, and the PIN's code cannot log in.
        support::advance(&s, "61s");
        let sent = http(&s.base, "POST", "/wallet/sms", &[], &json!({"phone": phone}).to_string()).unwrap();
        assert_eq!(sent.status, 204, "{}", sent.body);
        let login_code = sms(&s, phone, "login");
        if login_code != code {
            let r = post_form(&s, &session, "/me/pin", &format!("code={login_code}&pin=135790&pin_again=135790"));
            assert_eq!(r.status, 401, "{b}: a login code sets no PIN: {}", r.body);
            let r = http(&s.base, "POST", "/wallet/login", &[], &json!({"phone": phone, "code": code}).to_string()).unwrap();
            assert_eq!(r.status, 401, "{b}: a PIN code logs nobody in: {}", r.body);
        }
        assert_eq!(pin_status(&s, &session)["set"], false);
        // The right code and the new PIN twice: set, said on Me.
        let r = post_form(&s, &session, "/me/pin", &format!("code={code}&pin=135790&pin_again=135790"));
        assert_eq!((r.status, r.header("location")), (303, Some("/me?pin=set")), "{b}: {}", r.body);
        let me = page(&s, &session, "/me?pin=set");
        assert!(me.body.contains("id=\"pin-done\"") && me.body.contains("支付密码已设置") && me.body.contains("已设置") && me.body.contains("id=\"old-pin\""), "{}", me.body);
        assert_eq!(pin_status(&s, &session)["set"], true);
        // The code is used up: it sets nothing again (the wallet now changes its PIN with the old one).
        let r = post_form(&s, &session, "/me/pin", &format!("code={code}&pin=111111&pin_again=111111"));
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("如需修改，请输入当前支付密码"), "{}", r.body);
        // Changing: the old PIN, counted when wrong.
        let r = post_form(&s, &session, "/me/pin", "old_pin=000000&pin=246802&pin_again=246802");
        assert_eq!(r.status, 403, "{b}: {}", r.body);
        assert!(r.body.contains("支付密码错误"), "{}", r.body);
        assert_eq!(pin_status(&s, &session)["failures"], 1);
        let r = post_form(&s, &session, "/me/pin", "old_pin=135790&pin=246802&pin_again=246802");
        assert_eq!((r.status, r.header("location")), (303, Some("/me?pin=changed")), "{b}: {}", r.body);
        assert!(page(&s, &session, "/me?pin=changed&lang=en").body.contains("Your PIN is changed"));
        assert_eq!(pin_status(&s, &session)["failures"], 0, "the right PIN clears the failures");
        // Another site's form is refused before anything.
        let r = http(&s.base, "POST", "/me/pin", &[("Cookie", &cookie(&session)), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "https://evil.example")], "old_pin=246802&pin=111111&pin_again=111111").unwrap();
        assert_eq!(r.status, 403);
    }
}

#[test]
fn the_wallet_api_sets_and_changes_the_pin() {
    for s in Server::all(true) {
        let b = s.backend;
        let phone = "13700000003";
        let session = no_pin_user(&s, phone);
        let call = |body: Value| wallet_call(&s, &session, "POST", "/wallet/pin", &body.to_string());
        let (st, e) = call(json!({"pin": "111111"}));
        assert_eq!((st, e["code"].as_str()), (400, Some("CODE_REQUIRED")), "{b}: {e}");
        let (st, _) = wallet_call(&s, &session, "POST", "/wallet/pin/sms", "");
        assert_eq!(st, 204);
        let code = sms(&s, phone, "set_pin");
        let (st, e) = call(json!({"code": wrong(&code), "pin": "111111"}));
        assert_eq!((st, e["code"].as_str()), (401, Some("CODE_INVALID")), "{b}: {e}");
        let (st, e) = call(json!({"code": code, "pin": "11111a"}));
        assert_eq!((st, e["code"].as_str()), (400, Some("PARAM_ERROR")), "{b}: {e}");
        let (st, e) = call(json!({"code": code, "pin": "111111"}));
        assert_eq!(st, 204, "{b}: {e}");
        assert_eq!(pin_status(&s, &session)["set"], true);
        let (st, e) = call(json!({"code": code, "pin": "222222"}));
        assert_eq!((st, e["code"].as_str()), (400, Some("OLD_PIN_REQUIRED")), "{b}: {e}");
        // No code is texted to set a PIN over the one there is (past the minute between codes).
        support::advance(&s, "61s");
        let (st, e) = wallet_call(&s, &session, "POST", "/wallet/pin/sms", "");
        assert_eq!((st, e["code"].as_str()), (409, Some("PIN_SET")), "{b}: {e}");
        let (st, e) = call(json!({"old_pin": "000000", "pin": "222222"}));
        assert_eq!((st, e["code"].as_str()), (403, Some("PIN_WRONG")), "{b}: {e}");
        let (st, e) = call(json!({"old_pin": "111111", "pin": "222222"}));
        assert_eq!(st, 204, "{b}: {e}");
        // The new PIN is the one that works now.
        let (st, e) = call(json!({"old_pin": "111111", "pin": "333333"}));
        assert_eq!((st, e["code"].as_str()), (403, Some("PIN_WRONG")), "{b}: {e}");
        let (st, e) = call(json!({"old_pin": "222222", "pin": "333333"}));
        assert_eq!(st, 204, "{b}: {e}");
        let (st, e) = wallet_call(&s, &session, "POST", "/wallet/pin", "{}");
        assert_eq!(st, 400, "{e}");
    }
}

#[test]
fn browser_opens_a_wallet_sets_its_pin_and_sees_the_history() {
    if !support::browser_available("wallet_me") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet_me_browser.py");
    for s in Server::all(true) {
        let phone = "13700000004";
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        // The PIN support::bind_card types.
        let spec = json!({"base": s.base, "phone": phone, "pin": "123456", "screens": screens});
        let mut seen = Vec::new();
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", p] => Some(sms(&s, p, "login")),
            ["PIN_SMS", p] => Some(sms(&s, p, "set_pin")),
            ["PIN_SET"] => {
                support::advance(&s, "61s"); // the login's one code a minute
                let session = s.wallet_session(phone);
                bind_card(&s, &session, phone, "6222000000000001");
                assert_eq!(bank(&s, &session, "/wallet/topup", "6222000000000001", 20_000, "bt1"), "succeeded");
                support::advance(&s, "1s");
                assert_eq!(bank(&s, &session, "/wallet/withdraw", "6222000000000001", 4_550, "bw1"), "succeeded");
                Some("OK".into())
            }
            ["SEEN", what] => {
                seen.push(what.to_string());
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert_eq!(seen, ["pin-set", "history-empty", "-¥45.50,+¥200.00"], "{}", s.backend);
        let session = s.wallet_session(phone);
        assert_eq!(pin_status(&s, &session)["set"], true, "the PIN typed on Me is set");
    }
}
