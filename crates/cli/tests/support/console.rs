//! The merchant console for tests: staff added by the operator, the console's login code, forms posted
//! from its pages with a session cookie, the three login steps, a paid order.

use super::{wallet_call, Server};
use saoma_wechatpay::client::{http, HttpResponse};
use serde_json::{json, Value};

pub fn admin(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = http(&s.base, method, path, &[("Authorization", &format!("Bearer {}", token.trim())), ("Content-Type", "application/json")], &body.to_string()).unwrap();
    (r.status, r.json())
}

/// The operator adds a staff member (201 expected).
pub fn add_staff(s: &Server, mchid: &str, phone: &str, name: &str, role: &str, password: &str) {
    let (st, v) = admin(s, "POST", &format!("/admin/merchants/{mchid}/staff"), &json!({"phone": phone, "name": name, "role": role, "password": password}));
    assert_eq!(st, 201, "{v}");
}

/// The newest console login code texted to `phone`.
pub fn console_code(s: &Server, phone: &str) -> String {
    let (st, v) = admin(s, "GET", &format!("/admin/sms?phone={phone}"), &Value::Null);
    assert_eq!(st, 200, "{v}");
    v["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "console").expect("no console code")["code"].as_str().unwrap().to_string()
}

/// A form posted from the console's own pages, with `cookie` (may be empty).
pub fn post(s: &Server, path: &str, cookie: &str, form: &str) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str())];
    if !cookie.is_empty() {
        h.push(("Cookie", cookie));
    }
    http(&s.base, "POST", path, &h, form).unwrap()
}

pub fn get(s: &Server, path: &str, cookie: &str) -> HttpResponse {
    let h: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie)] };
    http(&s.base, "GET", path, &h, "").unwrap()
}

pub fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The café most console tests use: a merchant with a manager (王店长, 13800000001, `manager-pass-1`) and,
/// when `cashier`, a cashier (小李, 13800000002, `cashier-pass-1`): the merchant and its mchid.
pub fn cafe(s: &Server, cashier: bool) -> (Value, String) {
    let m = s.merchant("咖啡馆 Cafe", "public_key");
    let mchid = m["mchid"].as_str().unwrap().to_string();
    add_staff(s, &mchid, "13800000001", "王店长", "manager", "manager-pass-1");
    if cashier {
        add_staff(s, &mchid, "13800000002", "小李", "cashier", "cashier-pass-1");
    }
    (m, mchid)
}

/// `saoma_console=TOKEN` from a response's `Set-Cookie`.
pub fn console_cookie(r: &HttpResponse) -> String {
    let set = header(r, "set-cookie").unwrap_or_else(|| panic!("no cookie: {} {}", r.status, r.body));
    assert!(set.starts_with("saoma_console="), "{set}");
    set.split(';').next().unwrap().to_string()
}

/// All three login steps: the cookie of a live session.
pub fn log_in(s: &Server, phone: &str, password: &str) -> String {
    let r = post(s, "/console/sms", "", &format!("phone={phone}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(s, "/console/login", "", &format!("phone={phone}&code={}", console_code(s, phone)));
    assert_eq!((r.status, header(&r, "location")), (303, Some("/console")), "{}", r.body);
    let waiting = console_cookie(&r);
    let r = post(s, "/console/password", &waiting, &format!("password={password}"));
    assert_eq!((r.status, header(&r, "location")), (303, Some("/console")), "{}", r.body);
    console_cookie(&r)
}

/// A native order (`notify_url`) paid from `session`'s wallet: v3, then the wallet API. Its transaction_id.
pub fn pay(s: &Server, m: &Value, session: &str, no: &str, total: i64, notify_url: &str) -> String {
    let c = s.client(m);
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "咖啡", "out_trade_no": no, "notify_url": notify_url, "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let (st, v) = wallet_call(s, session, "POST", "/wallet/pay", &json!({"code": r.json()["code_url"]}).to_string());
    assert_eq!(st, 200, "{v}");
    let r = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.json()["trade_state"], "SUCCESS");
    r.json()["transaction_id"].as_str().unwrap().to_string()
}

/// The value of the hidden `name` field of the first form on a page holding one.
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &body[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}
