//! The v3 merchant API through the real server, on SQLite and PostgreSQL: authentication failures,
//! isolation between merchants, bad input, idempotent creation, close — and nothing stored when refused.

mod support;

use saoma_wechatpay::client::{http, V3Client};
use saoma_wechatpay::keys::PrivateKey;
use serde_json::json;
use support::Server;

const NATIVE: &str = "/v3/pay/transactions/native";

fn order(m: &serde_json::Value, no: &str, total: i64) -> String {
    json!({"appid": m["appid"], "mchid": m["mchid"], "description": "一杯咖啡", "out_trade_no": no, "notify_url": "https://example.com/notify", "amount": {"total": total, "currency": "CNY"}}).to_string()
}

fn query(c: &V3Client, no: &str) -> (u16, serde_json::Value) {
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    (r.status, r.json())
}

fn now() -> i64 {
    saoma_server::http::v3::auth::real_now()
}

#[test]
fn signature_failures_are_401_signed_and_store_nothing() {
    for s in Server::all(false) {
        let m = s.merchant("Shop", "public_key");
        let c = s.client(&m);
        let ok = c.request("POST", NATIVE, &order(&m, "GOOD000001", 100)).unwrap();
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert!(ok.json()["code_url"].as_str().unwrap().starts_with("weixin://wxpay/bizpayurl?pr="));

        let send = |auth: &str, path: &str, body: &str| http(&s.base, "POST", path, &[("Authorization", auth), ("Content-Type", "application/json")], body).unwrap();
        let expect_401 = |r: saoma_wechatpay::client::HttpResponse, what: &str| {
            assert_eq!(r.status, 401, "{}: {what}: {}", s.backend, r.body);
            assert_eq!(r.json()["code"], "SIGN_ERROR", "{what}");
            assert!(c.verify(&r), "{what}: a refusal is signed too");
        };
        let body = order(&m, "BAD0000001", 100);
        // Another key than the merchant's.
        let forger = V3Client { key: PrivateKey::generate().unwrap(), ..s.client(&m) };
        expect_401(send(&forger.authorization("POST", NATIVE, &body, now(), "n1"), NATIVE, &body), "wrong key");
        // Body and path changed after signing.
        expect_401(send(&c.authorization("POST", NATIVE, &body, now(), "n2"), NATIVE, &order(&m, "BAD0000001", 1)), "tampered body");
        expect_401(send(&c.authorization("POST", NATIVE, &body, now(), "n3"), "/v3/pay/transactions/app", &body), "tampered path");
        // Stale and future timestamps.
        expect_401(send(&c.authorization("POST", NATIVE, &body, now() - 301, "n4"), NATIVE, &body), "stale timestamp");
        // Well past the window: under load a second can pass between signing and the server's check.
        expect_401(send(&c.authorization("POST", NATIVE, &body, now() + 330, "n5"), NATIVE, &body), "future timestamp");
        // A replayed request: the first is accepted, the same nonce again is not.
        let auth = c.authorization("POST", NATIVE, &order(&m, "REPLAY0001", 100), now(), "n6");
        assert_eq!(send(&auth, NATIVE, &order(&m, "REPLAY0001", 100)).status, 200);
        expect_401(send(&auth, NATIVE, &order(&m, "REPLAY0001", 100)), "replayed nonce");
        // Unknown serial, unknown merchant, malformed headers.
        let other_serial = V3Client { serial_no: "1234567890ABCDEF".into(), ..s.client(&m) };
        expect_401(send(&other_serial.authorization("POST", NATIVE, &body, now(), "n7"), NATIVE, &body), "unknown serial");
        let other_mchid = V3Client { mchid: "1999999999".into(), ..s.client(&m) };
        expect_401(send(&other_mchid.authorization("POST", NATIVE, &body, now(), "n8"), NATIVE, &body), "unknown mchid");
        for bad in ["", "Bearer x", "WECHATPAY2-SHA256-RSA2048 mchid=1", "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"x\""] {
            expect_401(send(bad, NATIVE, &body), bad);
        }
        // Nothing of the refused requests exists.
        assert_eq!(query(&c, "BAD0000001").0, 404);
        assert_eq!(query(&c, "GOOD000001").1["trade_state"], "NOTPAY");
    }
}

#[test]
fn one_merchant_never_sees_another() {
    for s in Server::all(false) {
        let (ma, mb) = (s.merchant("A", "public_key"), s.merchant("B", "public_key"));
        let (a, b) = (s.client(&ma), s.client(&mb));
        assert_eq!(a.request("POST", NATIVE, &order(&ma, "SECRET0001", 500)).unwrap().status, 200);
        let (st, v) = query(&b, "SECRET0001");
        assert_eq!((st, v["code"].as_str()), (404, Some("ORDER_NOT_EXIST")), "{}", s.backend);
        // B naming A in the query is refused, not answered.
        let r = b.request("GET", &format!("/v3/pay/transactions/out-trade-no/SECRET0001?mchid={}", a.mchid), "").unwrap();
        assert_eq!(r.status, 400);
        // B cannot close A's order; A's order is unchanged.
        let r = b.request("POST", "/v3/pay/transactions/out-trade-no/SECRET0001/close", &json!({"mchid": b.mchid}).to_string()).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(query(&a, "SECRET0001").1["trade_state"], "NOTPAY");
        // B cannot create with A's appid.
        let r = b.request("POST", NATIVE, &order(&ma, "STEAL00001", 1).replace(ma["mchid"].as_str().unwrap(), mb["mchid"].as_str().unwrap())).unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("APPID_MCHID_NOT_MATCH")));
    }
}

#[test]
fn bad_input_gets_v3_errors_and_stores_nothing() {
    for s in Server::all(false) {
        let m = s.merchant("Shop", "public_key");
        let c = s.client(&m);
        let base = |no: &str| json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": 1}});
        let mut cases: Vec<(String, &str)> = vec![("{not json".into(), "PARAM_ERROR"), ("[]".into(), "PARAM_ERROR")];
        let mut edit = |no: &str, f: &dyn Fn(&mut serde_json::Value), code: &'static str| {
            let mut v = base(no);
            f(&mut v);
            cases.push((v.to_string(), code));
        };
        edit("NODESC0001", &|v| { v.as_object_mut().unwrap().remove("description"); }, "PARAM_ERROR");
        edit("LONGDESC01", &|v| v["description"] = json!("长".repeat(128)), "PARAM_ERROR");
        edit("bad no!", &|_| {}, "PARAM_ERROR");
        edit("ZERO000001", &|v| v["amount"]["total"] = json!(0), "PARAM_ERROR");
        edit("NEG0000001", &|v| v["amount"]["total"] = json!(-1), "PARAM_ERROR");
        edit("FRAC000001", &|v| v["amount"]["total"] = json!(1.5), "PARAM_ERROR");
        edit("TEXT000001", &|v| v["amount"]["total"] = json!("100"), "PARAM_ERROR");
        edit("HUGE000001", &|v| v["amount"]["total"] = json!(i64::MAX), "PARAM_ERROR");
        edit("USD0000001", &|v| v["amount"]["currency"] = json!("USD"), "PARAM_ERROR");
        edit("SOON000001", &|v| v["time_expire"] = json!(saoma_core::time::format_rfc3339_cst(now() + 30)), "PARAM_ERROR");
        edit("BADTIME001", &|v| v["time_expire"] = json!("tomorrow"), "PARAM_ERROR");
        edit("ATTACH0001", &|v| v["attach"] = json!("x".repeat(129)), "PARAM_ERROR");
        edit("NOTIFY0001", &|v| v["notify_url"] = json!("ftp://x"), "PARAM_ERROR");
        edit("MCHID00001", &|v| v["mchid"] = json!("1000000000"), "PARAM_ERROR");
        edit("APPID00001", &|v| v["appid"] = json!("wx0000000000000000"), "APPID_MCHID_NOT_MATCH");
        for (body, code) in &cases {
            let r = c.request("POST", NATIVE, body).unwrap();
            assert_eq!(r.status, 400, "{}: {body}: {}", s.backend, r.body);
            assert_eq!(r.json()["code"], *code, "{body}");
            assert!(!r.json()["message"].as_str().unwrap_or("").is_empty());
        }
        // JSAPI needs the payer; H5 needs its scene.
        let r = c.request("POST", "/v3/pay/transactions/jsapi", &base("JSAPI00001").to_string()).unwrap();
        assert_eq!(r.status, 400);
        for no in ["NODESC0001", "ZERO000001", "SOON000001", "APPID00001", "JSAPI00001"] {
            assert_eq!(query(&c, no).0, 404, "{no} must not exist");
        }
        // Unknown API and wrong method: v3 bodies, signed.
        let r = c.request("GET", "/v3/no/such/thing", "").unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (404, Some("RESOURCE_NOT_EXISTS")));
    }
}

#[test]
fn creation_is_idempotent_and_close_is_final() {
    for s in Server::all(false) {
        let m = s.merchant("Shop", "certificate");
        let c = s.client(&m);
        let first = c.request("POST", NATIVE, &order(&m, "IDEM000001", 100)).unwrap();
        let again = c.request("POST", NATIVE, &order(&m, "IDEM000001", 100)).unwrap();
        assert_eq!(first.json()["code_url"], again.json()["code_url"]);
        assert_eq!(again.header("Wechatpay-Serial"), Some(m["platform_serial_no"].as_str().unwrap()), "certificate mode names the certificate");
        let other = c.request("POST", NATIVE, &order(&m, "IDEM000001", 101)).unwrap();
        assert_eq!((other.status, other.json()["code"].as_str()), (403, Some("OUT_TRADE_NO_USED")));
        let jsapi = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": "JSAPI00002", "notify_url": "https://example.com/n", "amount": {"total": 1}, "payer": {"openid": "o-user"}});
        let r = c.request("POST", "/v3/pay/transactions/jsapi", &jsapi.to_string()).unwrap();
        assert!(r.json()["prepay_id"].as_str().unwrap().starts_with("wx"), "{}", r.body);
        let close = |no: &str| c.request("POST", &format!("/v3/pay/transactions/out-trade-no/{no}/close"), &json!({"mchid": m["mchid"]}).to_string()).unwrap();
        assert_eq!(close("IDEM000001").status, 204);
        assert_eq!(close("IDEM000001").status, 204, "closing twice is done already");
        assert_eq!(close("NOSUCH0001").status, 404);
        assert_eq!(query(&c, "IDEM000001").1["trade_state"], "CLOSED");
        // Re-creating a closed order with the same parameters returns it, still closed.
        assert_eq!(c.request("POST", NATIVE, &order(&m, "IDEM000001", 100)).unwrap().json()["code_url"], first.json()["code_url"]);
        let r = c.request("GET", &format!("/v3/pay/transactions/id/4200000000000000000000000000?mchid={}", c.mchid), "").unwrap();
        assert_eq!(r.status, 404);
    }
}

#[test]
fn platform_key_rotation_overlaps() {
    for s in Server::all(false) {
        let (mp, mc) = (s.merchant("PK", "public_key"), s.merchant("Cert", "certificate"));
        let (p, c) = (s.client(&mp), s.client(&mc));
        let out = support::saoma().args(["platform", "rotate-key", "--json", "--overlap", "3s", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let new: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_ne!(new["platform_serial_no"], mc["platform_serial_no"]);
        // Certificate mode: the new key signs at once, and /v3/certificates offers both during the overlap.
        let r = c.request("GET", "/v3/certificates", "");
        assert!(r.is_err(), "{}: the old key no longer signs for certificate-mode merchants", s.backend);
        let c2 = saoma_wechatpay::client::V3Client { platform: saoma_wechatpay::keys::PublicKey::from_pem(new["platform_public_key"].as_str().unwrap()).unwrap(), ..s.client(&mc) };
        let r = c2.request("GET", "/v3/certificates", "").unwrap();
        assert_eq!(r.header("Wechatpay-Serial"), new["platform_serial_no"].as_str());
        assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);
        // Public-key mode: the old key keeps signing until it retires, then the new one.
        let r = p.request("POST", NATIVE, &order(&mp, "ROTATE0001", 1)).unwrap();
        assert_eq!(r.header("Wechatpay-Serial"), mp["platform_public_key_id"].as_str());
        std::thread::sleep(std::time::Duration::from_millis(3200));
        let p2 = saoma_wechatpay::client::V3Client { platform: saoma_wechatpay::keys::PublicKey::from_pem(new["platform_public_key"].as_str().unwrap()).unwrap(), ..s.client(&mp) };
        let r = p2.request("POST", NATIVE, &order(&mp, "ROTATE0002", 1)).unwrap();
        assert_eq!(r.header("Wechatpay-Serial"), new["platform_public_key_id"].as_str());
        assert_eq!(c2.request("GET", "/v3/certificates", "").unwrap().json()["data"].as_array().unwrap().len(), 1, "the old certificate retired");
    }
}
