//! Withholding agreements end to end on both backends: a merchant proposes to a user it knows by
//! openid, the user signs with the PIN, the merchant sends a pre-debit notice and charges within the
//! limits (idempotent on out_trade_no), charges above the limits or after termination are refused, a
//! failed charge leaves a PAYERROR order, and every step the merchant must hear of is notified.

mod support;

use saoma_wechatpay::aead::{ApiV3Key, Resource};
use saoma_wechatpay::client::{http, V3Client};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{wallet_call, advance, balance, ledger_check, user, Server};

fn call(c: &V3Client, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = c.request(method, path, &if body.is_null() { String::new() } else { body.to_string() }).unwrap();
    (r.status, r.json())
}


fn charge(c: &V3Client, contract: &str, no: &str, total: i64) -> (u16, Value) {
    call(c, "POST", &format!("/v3/agreements/{contract}/charges"), json!({"out_trade_no": no, "description": "月票", "amount": {"total": total}}))
}

#[test]
fn a_merchant_charges_through_an_agreement_the_user_signed() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("公交公司", "public_key");
        let c = s.client(&m);
        let appid = m["appid"].as_str().unwrap();
        let u = user(&s, "13500000001", 10_000);
        let session = s.wallet_session("13500000001");
        let openid = u["openids"][appid].as_str().unwrap();
        let rx = support::receiver(|_| 200);

        // Proposing to someone who is not a user of the app, or with bad limits: refused.
        let propose = |code: &str, openid: &str, per_charge: i64, per_day: i64| {
            call(&c, "POST", "/v3/agreements", json!({"appid": appid, "mchid": m["mchid"], "out_contract_code": code, "openid": openid, "description": "乘车码免密支付", "limits": {"per_charge": per_charge, "per_day": per_day}, "notify_url": rx.url}))
        };
        assert_eq!(propose("CONTRACT01", "o-nobody", 500, 2_000).0, 400);
        assert_eq!(propose("CONTRACT01", openid, 500, 400).0, 400);
        let (st, a) = propose("CONTRACT01", openid, 500, 1_200);
        assert_eq!((st, a["state"].as_str()), (200, Some("PROPOSED")), "{b} {a}");
        let contract = a["contract_id"].as_str().unwrap().to_string();
        // The same proposal again is the same agreement; other limits under the same code are refused.
        assert_eq!(propose("CONTRACT01", openid, 500, 1_200).1["contract_id"], contract.as_str());
        assert_eq!(propose("CONTRACT01", openid, 600, 1_200).0, 400);
        // Not signed yet: no charge.
        let (st, e) = charge(&c, &contract, "RIDE000001", 200);
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");

        // The user sees it in the wallet and signs with the PIN (a wrong PIN does not sign).
        let (_, list) = wallet_call(&s, &session, "GET", "/wallet/agreements", "");
        assert_eq!(list["agreements"][0]["contract_id"], contract.as_str(), "{list}");
        assert_eq!(list["agreements"][0]["merchant"], "公交公司");
        assert_eq!(wallet_call(&s, &session, "POST", &format!("/wallet/agreements/{contract}/sign"), r#"{"pin":"000000"}"#).0, 403);
        let (st, signed) = wallet_call(&s, &session, "POST", &format!("/wallet/agreements/{contract}/sign"), r#"{"pin":"123456"}"#);
        assert_eq!((st, signed["state"].as_str()), (200, Some("SIGNED")), "{signed}");
        assert_eq!(wallet_call(&s, &session, "POST", &format!("/wallet/agreements/{contract}/sign"), r#"{"pin":"123456"}"#).0, 400);

        // A pre-debit notice reaches the user through the SMS outbox.
        let (st, n) = call(&c, "POST", &format!("/v3/agreements/{contract}/notices"), json!({"amount": {"total": 400}, "description": "11月22日乘车费"}));
        assert_eq!(st, 200, "{n}");
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        let outbox = http(&s.base, "GET", "/admin/sms?phone=13500000001", &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap().json();
        let notice = outbox["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "pre-debit").unwrap_or_else(|| panic!("{outbox}"));
        assert!(notice["message"].as_str().unwrap().contains("4.00 CNY"), "{notice}");

        // Charges within the limits; the same out_trade_no again is the same charge.
        let (st, t) = charge(&c, &contract, "RIDE000001", 400);
        assert_eq!((st, t["trade_state"].as_str(), t["trade_type"].as_str()), (200, Some("SUCCESS"), Some("PAP")), "{t}");
        assert_eq!(charge(&c, &contract, "RIDE000001", 400).1["transaction_id"], t["transaction_id"]);
        assert_eq!(balance(&s, &session), 9_600);
        // Above the per-charge limit, and past the daily limit: RULE_LIMIT, nothing charged.
        let (st, e) = charge(&c, &contract, "RIDE000002", 501);
        assert_eq!((st, e["code"].as_str()), (403, Some("RULE_LIMIT")), "{e}");
        assert_eq!(charge(&c, &contract, "RIDE000002", 500).0, 200);
        let (st, e) = charge(&c, &contract, "RIDE000003", 301);
        assert_eq!((st, e["code"].as_str()), (403, Some("RULE_LIMIT")), "{e}");
        assert!(e["message"].as_str().unwrap().contains("300 fen left"), "{e}");
        assert_eq!(balance(&s, &session), 9_100);
        // The next day the daily limit starts again.
        advance(&s, "24h");
        assert_eq!(charge(&c, &contract, "RIDE000004", 500).0, 200);

        // Another merchant cannot see, charge or end it.
        let other = s.merchant("别家", "public_key");
        let oc = s.client(&other);
        assert_eq!(call(&oc, "GET", &format!("/v3/agreements/{contract}"), Value::Null).0, 404);
        assert_eq!(charge(&oc, &contract, "STEAL00001", 100).0, 404);
        assert_eq!(call(&oc, "POST", &format!("/v3/agreements/{contract}/terminate"), json!({})).0, 404);

        // The user ends it: no more charges.
        let session = s.wallet_session("13500000001");
        let (st, ended) = wallet_call(&s, &session, "POST", &format!("/wallet/agreements/{contract}/terminate"), "");
        assert_eq!((st, ended["state"].as_str()), (200, Some("TERMINATED")), "{ended}");
        let (st, e) = charge(&c, &contract, "RIDE000005", 100);
        assert_eq!((st, e["code"].as_str()), (400, Some("INVALID_REQUEST")), "{e}");
        let q = call(&c, "GET", "/v3/agreements/out-contract-code/CONTRACT01", Value::Null).1;
        assert_eq!((q["state"].as_str(), q["terminated_by"].as_str()), (Some("TERMINATED"), Some("USER")), "{q}");

        // A user who cannot pay: the charge fails, the order is PAYERROR, nothing moved.
        let poor = user(&s, "13500000002", 50);
        let (_, a2) = call(&c, "POST", "/v3/agreements", json!({"appid": appid, "mchid": m["mchid"], "out_contract_code": "CONTRACT02", "openid": poor["openids"][appid], "description": "乘车码", "limits": {"per_charge": 500, "per_day": 1_000}}));
        let c2 = a2["contract_id"].as_str().unwrap().to_string();
        let poor_session = s.wallet_session("13500000002");
        assert_eq!(wallet_call(&s, &poor_session, "POST", &format!("/wallet/agreements/{c2}/sign"), r#"{"pin":"123456"}"#).0, 200);
        let (st, e) = charge(&c, &c2, "POOR000001", 100);
        assert_eq!((st, e["code"].as_str()), (403, Some("NOT_ENOUGH")), "{e}");
        let q = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/POOR000001?mchid={}", c.mchid), "").unwrap().json();
        assert_eq!(q["trade_state"], "PAYERROR", "{q}");
        assert_eq!(balance(&s, &poor_session), 50);
        // The merchant terminates its own agreement.
        assert_eq!(call(&c, "POST", &format!("/v3/agreements/{c2}/terminate"), json!({})).1["terminated_by"], "MERCHANT");

        // Notifications: signed, the three charges, terminated — decrypted with the APIv3 key.
        let key = ApiV3Key::new(m["apiv3_key"].as_str().unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let events = loop {
            let events: Vec<(String, Value)> = rx.got.lock().unwrap().iter().map(|(_, body)| {
                let v: Value = serde_json::from_str(body).unwrap();
                let r: Resource = serde_json::from_value(v["resource"].clone()).unwrap();
                (v["event_type"].as_str().unwrap().to_string(), serde_json::from_slice(&r.open(&key).unwrap()).unwrap())
            }).collect();
            if events.len() >= 5 || Instant::now() > deadline {
                break events;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        kinds.sort();
        assert_eq!(kinds, ["AGREEMENT.SIGNED", "AGREEMENT.TERMINATED", "TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS"], "{b}: {events:?}");
        let signed = events.iter().find(|(e, _)| e == "AGREEMENT.SIGNED").unwrap();
        assert_eq!((signed.1["contract_id"].as_str(), signed.1["openid"].as_str()), (Some(contract.as_str()), Some(openid)));

        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
    }
}
