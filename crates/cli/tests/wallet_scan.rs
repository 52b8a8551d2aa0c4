//! Paying a scanned code in the wallet (`/scan`), through a real server on both backends: a Native
//! order's code_url pasted in opens its confirmation (`/cashier/scan`) and pays it; this platform's own
//! links open their pages; another site's link, someone's payment code, an unknown text and a photo
//! without a code are refused with what to do; a Native order is not opened by the H5 page, nor an H5
//! order by the scan page. And in headless Chromium (`wallet_scan_browser.py`): paste a code_url and
//! pay; pick a photo of another order's QR code and pay it; the merchant sees both paid.
//! `SAOMA_SCREENS=DIR` saves the pages as scan-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse as Response, V3Client};
use serde_json::{json, Value};
use support::{sms_code, user, Server};

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
    let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    http(&s.base, "POST", path, &[("Cookie", cookie), ("Origin", &s.base), ("Content-Type", "application/x-www-form-urlencoded")], &body).unwrap()
}

/// A POST of raw bytes (the scan page's script sends a photo's grey levels so): status and JSON.
fn post_bytes(s: &Server, cookie: &str, path: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let host = s.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\nCookie: {cookie}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.base,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let json = answer.split_once("\r\n\r\n").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    (status, json)
}

fn native(c: &V3Client, m: &Value, no: &str, total: i64) -> String {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "扫码点单", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code_url"].as_str().unwrap().to_string()
}

fn state(c: &V3Client, m: &Value, no: &str) -> String {
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", m["mchid"].as_str().unwrap()), "").unwrap();
    r.json()["trade_state"].as_str().unwrap_or("").to_string()
}

/// A wallet page session for `phone`, as the login form sets it.
fn page_session(s: &Server, phone: &str) -> String {
    assert_eq!(post(s, "", "/cashier/sms", &[("phone", phone), ("next", "/scan")]).status, 200);
    let r = post(s, "", "/cashier/login", &[("phone", phone), ("code", &sms_code(s, phone)), ("next", "/scan")]);
    assert_eq!(r.status, 303, "{}", r.body);
    r.header("set-cookie").unwrap().split(';').next().unwrap().to_string()
}

#[test]
fn scanned_texts_lead_to_their_pages_or_say_why_not() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("扫码小店", "public_key");
        let c = s.client(&m);
        user(&s, "13300000001", 100_000);
        let cookie = page_session(&s, "13300000001");

        let code_url = native(&c, &m, "SCAN0001", 1_250);
        let r = post(&s, &cookie, "/scan", &[("text", &format!("  {code_url}\n"))]);
        assert_eq!(r.status, 303, "{b}: {}", r.body);
        let confirm = r.header("location").unwrap().to_string();
        assert!(confirm.starts_with("/cashier/scan?prepay_id=wx"), "{confirm}");
        let page = http(&s.base, "GET", &confirm, &[("Cookie", &cookie)], "").unwrap();
        assert!(page.status == 200 && page.body.contains("¥12.50") && page.body.contains("扫码小店"), "{b}: {}", page.body);
        let prepay = confirm.split("prepay_id=").nth(1).unwrap();
        // The H5 page does not open a Native order, nor the scan page an H5 one.
        assert_eq!(http(&s.base, "GET", &format!("/cashier/h5?prepay_id={prepay}"), &[], "").unwrap().status, 404);
        let h5 = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "h5", "out_trade_no": "SCANH5", "notify_url": "https://example.com/n",
            "amount": {"total": 5}, "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}});
        let h5_url = c.request("POST", "/v3/pay/transactions/h5", &h5.to_string()).unwrap().json()["h5_url"].as_str().unwrap().to_string();
        let h5_prepay = h5_url.split("prepay_id=").nth(1).unwrap().split('&').next().unwrap();
        assert_eq!(http(&s.base, "GET", &format!("/cashier/scan?prepay_id={h5_prepay}"), &[], "").unwrap().status, 404);
        // An H5 link of this platform, scanned, opens its page.
        let r = post(&s, &cookie, "/scan", &[("text", &h5_url)]);
        assert_eq!((r.status, r.header("location")), (303, Some(&h5_url[s.base.len()..])), "{b}: {}", r.body);

        // Paid from the confirmation page, under the password-free limit: no PIN.
        let r = post(&s, &cookie, "/cashier/pay", &[("prepay_id", prepay)]);
        assert_eq!(r.status, 303, "{b}: {}", r.body);
        assert!(r.header("location").unwrap().starts_with("/cashier/result?transaction_id="));
        assert_eq!(state(&c, &m, "SCAN0001"), "SUCCESS", "{b}");
        // Scanned again: the payer is sent to the receipt; the money moved once.
        let r = post(&s, &cookie, "/scan", &[("text", &code_url)]);
        let again = http(&s.base, "GET", r.header("location").unwrap(), &[("Cookie", &cookie)], "").unwrap();
        assert_eq!(again.status, 303, "{b}: {}", again.body);
        assert!(again.header("location").unwrap().starts_with("/cashier/result"));

        // This platform's collection code opens its page.
        let collect = format!("{}/collect/{}", s.base, m["mchid"].as_str().unwrap());
        let r = post(&s, &cookie, "/scan", &[("text", &collect)]);
        assert_eq!((r.status, r.header("location")), (303, Some(&collect[s.base.len()..])), "{b}: {}", r.body);

        // Refusals, each saying why and keeping the text.
        for (text, says) in [
            ("https://pay.evil.example/collect/1", "指向其他网站"),
            ("134567890123456789", "这是别人的付款码"),
            ("weixin://wxpay/bizpayurl?pr=NoSuchOrder1", "没有找到这个二维码对应的订单"),
            ("weixin://wxpay/bizpayurl?pr=../../x", "没有找到这个二维码对应的订单"),
            ("hello", "这不是能付款的二维码"),
            (&format!("{}/admin/merchants", s.base), "这不是能付款的二维码"),
            ("", "请先粘贴二维码内容"),
        ] {
            let r = post(&s, &cookie, "/scan", &[("text", text)]);
            assert_eq!(r.status, 422, "{b}: {text}: {}", r.body);
            assert!(r.body.contains(says) && r.header("location").is_none(), "{b}: {text}: {}", r.body);
        }
        // Logged out, the scan page asks for the login first.
        let r = http(&s.base, "GET", "/scan", &[], "").unwrap();
        assert!(r.status == 200 && r.body.contains("name=\"next\" value=\"/scan\""), "{}", r.body);
        // Another site's POST is refused.
        let r = http(&s.base, "POST", "/scan", &[("Cookie", &cookie), ("Origin", "https://evil.example"), ("Content-Type", "application/x-www-form-urlencoded")], "text=x").unwrap();
        assert_eq!(r.status, 403, "{b}");

        // A photo: its grey levels, and the answers for a blank one, a lying size, and no session.
        let photo = |cookie: &str, w: u32, h: u32, grey: &[u8]| {
            let mut raw = w.to_be_bytes().to_vec();
            raw.extend(h.to_be_bytes());
            raw.extend_from_slice(grey);
            post_bytes(&s, cookie, "/scan/photo", &raw)
        };
        let (st, v) = photo(&cookie, 100, 100, &[255u8; 10_000]);
        assert_eq!((st, v["code"].as_str()), (422, Some("NO_QR_CODE")), "{b}: {v}");
        assert!(v["message"].as_str().unwrap().contains("没有找到能识别的二维码"), "{v}");
        let (st, v) = photo(&cookie, 100, 100, &[255u8; 9_999]);
        assert_eq!((st, v["code"].as_str()), (422, Some("NO_QR_CODE")), "{b}: {v}");
        let (st, v) = photo(&cookie, 4096, 4096, &[]);
        assert_eq!((st, v["code"].as_str()), (422, Some("NO_QR_CODE")), "{b}: {v}");
        let (st, v) = photo("", 100, 100, &[255u8; 10_000]);
        assert_eq!((st, v["code"].as_str()), (401, Some("UNAUTHORIZED")), "{b}: {v}");
    }
}

#[test]
fn browser_pays_a_pasted_code_and_a_photo_of_one() {
    if !support::browser_available("wallet scan") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet_scan_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("扫码小店", "public_key");
        let c = s.client(&m);
        user(&s, "13300000002", 100_000);
        let first = native(&c, &m, "SCANB0001", 880);
        let second = native(&c, &m, "SCANB0002", 1_990);
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        let spec = json!({"base": s.base, "phone": "13300000002", "first": first, "second": second, "screens": screens});
        let mut receipts = Vec::new();
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(sms_code(&s, phone)),
            ["RESULT", amount] => {
                receipts.push(amount.to_string());
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert_eq!(receipts, ["¥8.80", "¥19.90"], "{b}");
        assert_eq!((state(&c, &m, "SCANB0001"), state(&c, &m, "SCANB0002")), ("SUCCESS".into(), "SUCCESS".into()), "{b}");
    }
}
