//! Paying through the wallet, end to end on both backends: the order becomes SUCCESS with the payer's
//! openid, the money moves as a balanced chain (wallet → merchant, fee → platform), and every refusal
//! (not enough money, closed, expired, paid, PIN required, wrong PIN, lockout) leaves nothing behind.

mod support;

use serde_json::json;
use support::{advance, ledger_check, saoma, user, Server};

fn native(c: &saoma_wechatpay::client::V3Client, m: &serde_json::Value, no: &str, total: i64, time_expire: Option<String>) -> String {
    let mut body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "票", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total}});
    if let Some(t) = time_expire {
        body["time_expire"] = json!(t);
    }
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code_url"].as_str().unwrap().to_string()
}

fn query(c: &saoma_wechatpay::client::V3Client, no: &str) -> serde_json::Value {
    c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap().json()
}


/// `saoma pay`; Ok(answer) or Err(the error line).
fn pay(s: &Server, phone: &str, pin: Option<&str>, code: &str) -> Result<serde_json::Value, String> {
    let mut cmd = saoma();
    cmd.args(["pay", "--json", "--phone", phone, "--data-dir"]).arg(&s.data_dir);
    if let Some(p) = pin {
        cmd.args(["--pin", p]);
    }
    let out = cmd.arg(code).output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}



#[test]
fn a_user_pays_a_native_order() {
    for s in Server::all(true) {
        let m = s.merchant("Café", "public_key");
        let c = s.client(&m);
        let u = user(&s, "13800000001", 10_000);
        // Registering the phone again, or a negative balance, is a clear refusal that creates nothing.
        for (args, want) in [(["--phone", "13800000001", "--balance=1", "--pin=123456"], "409 PHONE_TAKEN"), (["--phone", "13800000009", "--balance=-1", "--pin=123456"], "400 PARAM_ERROR")] {
            let out = saoma().args(["user", "create", "--data-dir"]).arg(&s.data_dir).args(args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && err.contains(want), "{err}");
        }
        let code_url = native(&c, &m, "PAY0000001", 2_000, None);
        let paid = pay(&s, "13800000001", None, &code_url).unwrap();
        assert_eq!(paid["trade_state"], "SUCCESS", "{}", s.backend);
        let q = query(&c, "PAY0000001");
        assert_eq!(q["trade_state"], "SUCCESS");
        assert_eq!(q["transaction_id"].as_str().unwrap().len(), 28);
        assert_eq!(q["payer"]["openid"], u["openids"][m["appid"].as_str().unwrap()]);
        assert_eq!(q["amount"]["payer_total"], 2_000);
        assert!(q["success_time"].as_str().unwrap().ends_with("+08:00"));
        // The money: 2,000 from the wallet, the 0.6% fee (12) to the platform; balanced and clean.
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{text}");
        // Platform fees and bank clearing, the merchant's account, the wallet; top-up, payment, fee.
        assert!(text.contains("4 accounts, 3 transfers"), "{text}");
        // 10,000 topped up + 2,000 paid + 12 fee moved in all.
        assert!(text.contains("CNY: debits 120.12 = credits 120.12"), "{text}");
        // Paying again, or closing the paid order, is refused.
        let e = pay(&s, "13800000001", None, &code_url).unwrap_err();
        assert!(e.contains("ORDERPAID"), "{e}");
        let r = c.request("POST", "/v3/pay/transactions/out-trade-no/PAY0000001/close", &json!({"mchid": m["mchid"]}).to_string()).unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("ORDERPAID")));
        // The prepay_id of a JSAPI order pays the same way.
        let jsapi = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": "PAYJSAPI01", "notify_url": "https://example.com/n", "amount": {"total": 300}, "payer": {"openid": u["openids"][m["appid"].as_str().unwrap()]}});
        let prepay = c.request("POST", "/v3/pay/transactions/jsapi", &jsapi.to_string()).unwrap().json()["prepay_id"].as_str().unwrap().to_string();
        // It names its payer: another user cannot pay it.
        user(&s, "13800000002", 10_000);
        let e = pay(&s, "13800000002", None, &prepay).unwrap_err();
        assert!(e.contains("PAYER_MISMATCH"), "{e}");
        assert_eq!(pay(&s, "13800000001", None, &prepay).unwrap()["trade_state"], "SUCCESS");
        // The wallet's history shows both payments, newest first, and the balance what is left.
        let session = s.wallet_session("13800000001");
        let h = saoma_wechatpay::client::http(&s.base, "GET", "/wallet/transactions", &[("Authorization", &session)], "").unwrap().json();
        let paid: Vec<i64> = h["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == "payment").map(|t| t["amount"].as_i64().unwrap()).collect();
        assert_eq!(paid.len(), 2);
        assert!(paid.contains(&-2_000) && paid.contains(&-300));
        let b = saoma_wechatpay::client::http(&s.base, "GET", "/wallet/balance", &[("Authorization", &session)], "").unwrap().json();
        assert_eq!(b["balance"], 10_000 - 2_000 - 300);
    }
}

#[test]
fn refused_payments_leave_nothing_behind() {
    for s in Server::all(true) {
        let m = s.merchant("Shop", "public_key");
        let c = s.client(&m);
        user(&s, "13900000002", 200_000);
        // More than the wallet holds.
        let big = native(&c, &m, "BROKE00001", 300_000, None);
        assert!(pay(&s, "13900000002", Some("123456"), &big).unwrap_err().contains("NOT_ENOUGH"), "{}", s.backend);
        assert_eq!(query(&c, "BROKE00001")["trade_state"], "NOTPAY");
        // Closed.
        let closed = native(&c, &m, "CLOSED0001", 100, None);
        assert_eq!(c.request("POST", "/v3/pay/transactions/out-trade-no/CLOSED0001/close", &json!({"mchid": m["mchid"]}).to_string()).unwrap().status, 204);
        assert!(pay(&s, "13900000002", None, &closed).unwrap_err().contains("ORDER_CLOSED"));
        // Expired on the (virtual) clock.
        let soon = saoma_core::time::format_rfc3339_cst(saoma_server::http::v3::auth::real_now() + 90);
        let expiring = native(&c, &m, "EXPIRE0001", 100, Some(soon));
        advance(&s, "2m");
        assert!(pay(&s, "13900000002", None, &expiring).unwrap_err().contains("ORDER_CLOSED"));
        assert_eq!(query(&c, "EXPIRE0001")["trade_state"], "CLOSED");
        // Above the password-free limit (1,000 CNY): the PIN, and the lockout after five wrong tries.
        let pin_order = native(&c, &m, "PINPIN0001", 150_000, None);
        assert!(pay(&s, "13900000002", None, &pin_order).unwrap_err().contains("PIN_REQUIRED"));
        for left in [4, 3, 2, 1] {
            let e = pay(&s, "13900000002", Some("000000"), &pin_order).unwrap_err();
            assert!(e.contains("PIN_WRONG") && e.contains(&format!("{left} tries left")), "{e}");
        }
        assert!(pay(&s, "13900000002", Some("000000"), &pin_order).unwrap_err().contains("PIN_LOCKED"));
        assert!(pay(&s, "13900000002", Some("123456"), &pin_order).unwrap_err().contains("PIN_LOCKED"), "locked even for the right PIN");
        assert_eq!(query(&c, "PINPIN0001")["trade_state"], "NOTPAY");
        advance(&s, "3h");
        let pin_order = native(&c, &m, "PINPIN0002", 150_000, None);
        assert_eq!(pay(&s, "13900000002", Some("123456"), &pin_order).unwrap()["trade_state"], "SUCCESS");
        assert!(ledger_check(&s).contains("clean"));
        // Nobody else's code: unknown codes are refused.
        assert!(pay(&s, "13900000002", None, "weixin://wxpay/bizpayurl?pr=nosuchcode").unwrap_err().contains("ORDER_NOT_EXIST"));
    }
}
