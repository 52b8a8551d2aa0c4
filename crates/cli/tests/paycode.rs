//! The user's payment code (付款码) end to end on both backends: a cashier charges it through
//! `/v3/pay/transactions/codepay`; within the password-free rules it is paid at once, above them the
//! order waits USERPAYING for the PIN in the wallet and is revoked at its deadline; `reverse` cancels and
//! gives paid money back; every refusal (bad, reused, expired code, another user's order, reversing
//! twice, not enough money) is a clear error that changes nothing.

mod support;

use saoma_wechatpay::client::V3Client;
use serde_json::{json, Value};
use support::{advance, balance, codepay, ledger_check, saoma, user, wallet_call, Server};

/// `saoma paycode --phone`: a fresh code.
fn paycode(s: &Server, phone: &str) -> String {
    let out = saoma().args(["paycode", "--phone", phone, "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(saoma_core::paycode::valid_format(&code), "{code}");
    code
}

fn query(c: &V3Client, no: &str) -> Value {
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn reverse(c: &V3Client, m: &Value, no: &str) -> (u16, Value) {
    let r = c.request("POST", &format!("/v3/pay/transactions/out-trade-no/{no}/reverse"), &json!({"appid": m["appid"], "mchid": m["mchid"]}).to_string()).unwrap();
    (r.status, r.json())
}


#[test]
fn a_cashier_charges_payment_codes() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("便利店", "public_key");
        let c = s.client(&m);
        user(&s, "13700000001", 500_000);
        let alice = s.wallet_session("13700000001");

        // Within the password-free limit: paid at once, MICROPAY, the 0.6% fee taken.
        let code = paycode(&s, "13700000001");
        let (st, t) = codepay(&c, &m, "CP00000001", 1_000, &code);
        assert_eq!(st, 200, "{b} {t}");
        assert_eq!(t["trade_state"], "SUCCESS");
        assert_eq!(t["trade_type"], "MICROPAY");
        assert_eq!(balance(&s, &alice), 499_000);
        // The same request again answers with the order as it is; nothing is charged twice.
        let (st, again) = codepay(&c, &m, "CP00000001", 1_000, &code);
        assert_eq!((st, &again["transaction_id"]), (200, &t["transaction_id"]), "{again}");
        assert_eq!(balance(&s, &alice), 499_000);

        // A used code, an unknown one, a malformed one, and one past its minute: refused, nothing created.
        let (st, e) = codepay(&c, &m, "CP00000002", 1_000, &code);
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("used"), "{e}");
        let (st, e) = codepay(&c, &m, "CP00000002", 1_000, "134567890123456789");
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        let (st, e) = codepay(&c, &m, "CP00000002", 1_000, "99999");
        assert_eq!((st, e["code"].as_str()), (400, Some("PARAM_ERROR")), "{e}");
        let stale = paycode(&s, "13700000001");
        advance(&s, "61s");
        let (st, e) = codepay(&c, &m, "CP00000002", 1_000, &stale);
        assert_eq!(st, 400, "{e}");
        assert!(e["message"].as_str().unwrap().contains("expired"), "{e}");
        let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/CP00000002?mchid={}", c.mchid), "").unwrap();
        assert_eq!(r.status, 404, "refused codepay left an order behind: {}", r.body);
        assert_eq!(balance(&s, &alice), 499_000);

        // Above the password-free limit (1,000 CNY): 202 USERPAYING until the user confirms with the PIN.
        let code = paycode(&s, "13700000001");
        let (st, e) = codepay(&c, &m, "CP00000003", 150_000, &code);
        assert_eq!((st, e["code"].as_str()), (202, Some("USERPAYING")), "{b} {e}");
        let q = query(&c, "CP00000003");
        assert_eq!(q["trade_state"], "USERPAYING");
        let tid = q["transaction_id"].as_str().unwrap().to_string();
        let (_, waiting) = wallet_call(&s, &alice, "GET", "/wallet/paying", "");
        assert_eq!(waiting["orders"][0]["transaction_id"], tid.as_str(), "{waiting}");
        assert_eq!(waiting["orders"][0]["total"], 150_000);
        // Another user cannot confirm it; a wrong PIN keeps it waiting.
        user(&s, "13700000002", 10);
        let bob = s.wallet_session("13700000002");
        let (st, e) = wallet_call(&s, &bob, "POST", "/wallet/confirm", &json!({"transaction_id": tid, "pin": "123456"}).to_string());
        assert_eq!((st, e["code"].as_str()), (404, Some("ORDER_NOT_EXIST")), "{e}");
        let (st, e) = wallet_call(&s, &alice, "POST", "/wallet/confirm", &json!({"transaction_id": tid, "pin": "000000"}).to_string());
        assert_eq!((st, e["code"].as_str()), (403, Some("PIN_WRONG")), "{e}");
        assert_eq!(query(&c, "CP00000003")["trade_state"], "USERPAYING");
        let (st, ok) = wallet_call(&s, &alice, "POST", "/wallet/confirm", &json!({"transaction_id": tid, "pin": "123456"}).to_string());
        assert_eq!((st, ok["trade_state"].as_str()), (200, Some("SUCCESS")), "{ok}");
        assert_eq!(query(&c, "CP00000003")["trade_state"], "SUCCESS");
        assert_eq!(balance(&s, &alice), 349_000);

        // Left unconfirmed, the order is revoked at its 45-second deadline and cannot be confirmed after.
        let code = paycode(&s, "13700000001");
        assert_eq!(codepay(&c, &m, "CP00000004", 120_000, &code).0, 202);
        let tid4 = query(&c, "CP00000004")["transaction_id"].as_str().unwrap().to_string();
        advance(&s, "46s");
        assert_eq!(query(&c, "CP00000004")["trade_state"], "REVOKED");
        let (st, e) = wallet_call(&s, &alice, "POST", "/wallet/confirm", &json!({"transaction_id": tid4, "pin": "123456"}).to_string());
        assert_eq!((st, e["code"].as_str()), (400, Some("ORDER_REVOKED")), "{e}");
        assert_eq!(balance(&s, &alice), 349_000);

        // Reverse: a paid order's money goes back and the order is REVOKED; reversing twice is refused.
        let (st, r) = reverse(&c, &m, "CP00000001");
        assert_eq!((st, r["out_trade_no"].as_str()), (200, Some("CP00000001")), "{r}");
        assert_eq!(query(&c, "CP00000001")["trade_state"], "REVOKED");
        assert_eq!(balance(&s, &alice), 350_000);
        let (st, e) = reverse(&c, &m, "CP00000001");
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("reversed already"), "{e}");
        assert_eq!(balance(&s, &alice), 350_000);
        // A waiting order is revoked by reverse, and then cannot be confirmed.
        let code = paycode(&s, "13700000001");
        assert_eq!(codepay(&c, &m, "CP00000005", 110_000, &code).0, 202);
        let tid5 = query(&c, "CP00000005")["transaction_id"].as_str().unwrap().to_string();
        assert_eq!(reverse(&c, &m, "CP00000005").0, 200);
        let (st, _) = wallet_call(&s, &alice, "POST", "/wallet/confirm", &json!({"transaction_id": tid5, "pin": "123456"}).to_string());
        assert_eq!(st, 400);
        // Only payment-code orders are reversed; unknown orders are unknown.
        let native = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "x", "out_trade_no": "NATIVE0001", "notify_url": "https://example.com/n", "amount": {"total": 5}});
        assert_eq!(c.request("POST", "/v3/pay/transactions/native", &native.to_string()).unwrap().status, 200);
        assert_eq!(reverse(&c, &m, "NATIVE0001").0, 400);
        assert_eq!(reverse(&c, &m, "NOSUCHORDER").0, 404);

        // Not enough money: 403 NOT_ENOUGH and the order stays PAYERROR; nothing moved.
        let code = paycode(&s, "13700000002");
        let (st, e) = codepay(&c, &m, "CP00000006", 500, &code);
        assert_eq!((st, e["code"].as_str()), (403, Some("NOT_ENOUGH")), "{e}");
        assert_eq!(query(&c, "CP00000006")["trade_state"], "PAYERROR");
        assert_eq!(balance(&s, &bob), 10);

        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
    }
}

#[test]
fn the_eleventh_password_free_payment_of_a_day_needs_the_pin() {
    for s in Server::all(true) {
        let m = s.merchant("早餐", "public_key");
        let c = s.client(&m);
        user(&s, "13700000003", 100_000);
        for i in 0..10 {
            let code = paycode(&s, "13700000003");
            let (st, t) = codepay(&c, &m, &format!("DAY0000{i:03}"), 100, &code);
            assert_eq!((st, t["trade_state"].as_str()), (200, Some("SUCCESS")), "{} payment {i}: {t}", s.backend);
        }
        let code = paycode(&s, "13700000003");
        let (st, e) = codepay(&c, &m, "DAY0000010", 100, &code);
        assert_eq!((st, e["code"].as_str()), (202, Some("USERPAYING")), "{e}");
        // The next China day starts a new count.
        advance(&s, "24h");
        let code = paycode(&s, "13700000003");
        assert_eq!(codepay(&c, &m, "DAY0000011", 100, &code).0, 200);
    }
}
