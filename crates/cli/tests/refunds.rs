//! Refunds end to end on both backends: partial and repeated refunds back to the wallet as ledger
//! transfers (with the fee's share back to the merchant), trade_state REFUND, REFUND.SUCCESS
//! notifications signed and encrypted, idempotency on out_refund_no, and every refusal (over-refund, the
//! 51st refund, after a year, an unpaid order, another merchant's order) changing nothing.

mod support;

use saoma_wechatpay::aead::{ApiV3Key, Resource};
use saoma_wechatpay::auth::response_message;
use saoma_wechatpay::client::V3Client;
use saoma_wechatpay::keys::PublicKey;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{advance, balance, ledger_check, saoma, user, Server};

fn paid_order(s: &Server, c: &V3Client, m: &Value, phone: &str, no: &str, total: i64) -> String {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "退款测试", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let code_url = r.json()["code_url"].as_str().unwrap().to_string();
    let out = saoma().args(["pay", "--json", "--phone", phone, "--data-dir"]).arg(&s.data_dir).arg(&code_url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    query(c, no)["transaction_id"].as_str().unwrap().to_string()
}

fn query(c: &V3Client, no: &str) -> Value {
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn refund(c: &V3Client, body: Value) -> (u16, Value) {
    let r = c.request("POST", "/v3/refund/domestic/refunds", &body.to_string()).unwrap();
    (r.status, r.json())
}

fn by_no(no: &str, out_refund_no: &str, amount: i64, total: i64) -> Value {
    json!({"out_trade_no": no, "out_refund_no": out_refund_no, "reason": "顾客退货", "amount": {"refund": amount, "total": total, "currency": "CNY"}})
}

#[test]
fn refunds_go_back_to_the_wallet_and_keep_the_rules() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("书店", "public_key");
        let c = s.client(&m);
        user(&s, "13600000001", 100_000);
        let session = s.wallet_session("13600000001");
        let tid = paid_order(&s, &c, &m, "13600000001", "BOOK000001", 10_000);
        assert_eq!(balance(&s, &session), 90_000);
        let rx = support::receiver(|_| 200);

        // A partial refund by transaction_id, with a notify_url: SUCCESS, money back, order REFUND.
        let (st, r1) = refund(&c, json!({"transaction_id": tid, "out_refund_no": "RF-1", "notify_url": rx.url, "amount": {"refund": 3_000, "total": 10_000, "currency": "CNY"}}));
        assert_eq!(st, 200, "{b} {r1}");
        assert_eq!((r1["status"].as_str(), r1["amount"]["refund"].as_i64(), r1["out_trade_no"].as_str()), (Some("SUCCESS"), Some(3_000), Some("BOOK000001")));
        assert_eq!(r1["refund_id"].as_str().unwrap().len(), 29);
        assert_eq!(balance(&s, &session), 93_000);
        assert_eq!(query(&c, "BOOK000001")["trade_state"], "REFUND");
        // The same request again: the same refund, nothing moves. Other content under the same number: refused.
        let (st, again) = refund(&c, json!({"transaction_id": tid, "out_refund_no": "RF-1", "notify_url": rx.url, "amount": {"refund": 3_000, "total": 10_000, "currency": "CNY"}}));
        assert_eq!((st, &again["refund_id"]), (200, &r1["refund_id"]), "{again}");
        let (st, e) = refund(&c, by_no("BOOK000001", "RF-1", 2_000, 10_000));
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert_eq!(balance(&s, &session), 93_000);

        // A second partial refund by out_trade_no; then more than what is left is refused.
        let (st, r2) = refund(&c, by_no("BOOK000001", "RF-2", 6_999, 10_000));
        assert_eq!(st, 200, "{r2}");
        let (st, e) = refund(&c, by_no("BOOK000001", "RF-3", 2, 10_000));
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("1 fen"), "{e}");
        // The wrong order total is a parameter error.
        let (st, e) = refund(&c, by_no("BOOK000001", "RF-3", 1, 9_999));
        assert_eq!((st, e["code"].as_str()), (400, Some("PARAM_ERROR")), "{e}");
        let (st, r3) = refund(&c, by_no("BOOK000001", "RF-3", 1, 10_000));
        assert_eq!(st, 200, "{r3}");
        assert_eq!(balance(&s, &session), 100_000);
        // Fully refunded: the whole fee came back with the three refunds.
        let fees: i64 = [&r1, &r2, &r3].iter().map(|r| r["amount"]["refund_fee"].as_i64().unwrap()).sum();
        assert_eq!(fees, 60, "{b}: fee shares {r1} {r2} {r3}");

        // The wallet's history shows the payment and the three refunds.
        let h = saoma_wechatpay::client::http(&s.base, "GET", "/wallet/transactions", &[("Authorization", &session)], "").unwrap().json();
        let refunds: i64 = h["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == "refund").map(|t| t["amount"].as_i64().unwrap()).sum();
        let paid: Vec<&Value> = h["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == "payment").collect();
        assert_eq!((refunds, paid.len(), paid[0]["state"].as_str()), (10_000, 1, Some("REFUND")), "{h}");

        // The query answers each refund; unknown ones are 404; another merchant sees none of them.
        let q = c.request("GET", "/v3/refund/domestic/refunds/RF-2", "").unwrap();
        assert_eq!((q.status, q.json()["amount"]["refund"].as_i64()), (200, Some(6_999)));
        assert_eq!(c.request("GET", "/v3/refund/domestic/refunds/RF-404", "").unwrap().status, 404);
        let other = s.merchant("隔壁", "public_key");
        let oc = s.client(&other);
        assert_eq!(oc.request("GET", "/v3/refund/domestic/refunds/RF-2", "").unwrap().status, 404);
        let (st, _) = refund(&oc, by_no("BOOK000001", "RF-X", 1, 10_000));
        assert_eq!(st, 404);

        // An unpaid order has nothing to refund.
        let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "未付", "out_trade_no": "UNPAID0001", "notify_url": "https://example.com/n", "amount": {"total": 500}});
        assert_eq!(c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap().status, 200);
        let (st, e) = refund(&c, by_no("UNPAID0001", "RF-U", 100, 500));
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");

        // The REFUND.SUCCESS notification of RF-1: signed by the platform, the refund encrypted inside.
        let deadline = Instant::now() + Duration::from_secs(20);
        while rx.got.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "{b}: no refund notification");
            std::thread::sleep(Duration::from_millis(100));
        }
        let platform = PublicKey::from_pem(m["platform_public_key"].as_str().unwrap()).unwrap();
        let key = ApiV3Key::new(m["apiv3_key"].as_str().unwrap()).unwrap();
        let got = rx.got.lock().unwrap();
        let (headers, body) = &got[0];
        let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        assert!(platform.verify(response_message(h("wechatpay-timestamp").parse().unwrap(), &h("wechatpay-nonce"), body).as_bytes(), &h("wechatpay-signature")));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["event_type"], "REFUND.SUCCESS");
        let resource: Resource = serde_json::from_value(v["resource"].clone()).unwrap();
        let t: Value = serde_json::from_slice(&resource.open(&key).unwrap()).unwrap();
        assert_eq!((t["out_refund_no"].as_str(), t["refund_status"].as_str(), t["amount"]["refund"].as_i64()), (Some("RF-1"), Some("SUCCESS"), Some(3_000)), "{t}");
        drop(got);

        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
    }
}

#[test]
fn fifty_refunds_at_most_and_none_after_a_year() {
    for s in Server::all(true) {
        let m = s.merchant("五十", "public_key");
        let c = s.client(&m);
        user(&s, "13600000002", 100_000);
        let session = s.wallet_session("13600000002");
        paid_order(&s, &c, &m, "13600000002", "MANY000001", 1_000);
        for i in 0..50 {
            let (st, r) = refund(&c, by_no("MANY000001", &format!("R{i:02}"), 1, 1_000));
            assert_eq!(st, 200, "{} refund {i}: {r}", s.backend);
        }
        let (st, e) = refund(&c, by_no("MANY000001", "R50", 1, 1_000));
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("50"), "{e}");
        assert_eq!(balance(&s, &session), 99_050);

        paid_order(&s, &c, &m, "13600000002", "OLD0000001", 2_000);
        advance(&s, "364d");
        let (st, r) = refund(&c, by_no("OLD0000001", "LATE-1", 100, 2_000));
        assert_eq!(st, 200, "{r}");
        advance(&s, "1d");
        let (st, e) = refund(&c, by_no("OLD0000001", "LATE-2", 100, 2_000));
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("year"), "{e}");
        // A year later the old session has expired: log in again to look.
        let session = s.wallet_session("13600000002");
        assert_eq!(balance(&s, &session), 97_150);
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{text}");
    }
}
