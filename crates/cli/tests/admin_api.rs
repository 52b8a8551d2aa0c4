//! The admin API's edges, on both backends: the sandbox's tokenless access on loopback refuses what a
//! web page could make a browser send (a foreign Origin, Sec-Fetch-Site cross-site or same-site, a POST
//! body that is not JSON, a Host rebound to loopback) and creates nothing; every error is a
//! `{"code","message"}` JSON body, axum's own refusals included; optional parameters are optional.

mod support;

use saoma_wechatpay::client::http;
use serde_json::{json, Value};
use support::Server;

fn call(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value, String) {
    let r = http(&s.base, method, path, headers, body).unwrap();
    let v = r.json();
    (r.status, v, r.body)
}

fn token(s: &Server) -> String {
    format!("Bearer {}", std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap().trim())
}

#[test]
fn the_open_sandbox_admin_api_refuses_cross_site_requests() {
    for s in Server::all(true) {
        let b = s.backend;
        let user = |phone: &str| json!({"phone": phone, "balance": 100}).to_string();
        let json_ct = ("Content-Type", "application/json");
        let host = s.base.trim_start_matches("http://").to_string();
        let evil_host = format!("evil.example:{}", host.rsplit(':').next().unwrap());
        let refusals: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("a foreign Origin", vec![json_ct, ("Origin", "http://evil.example")]),
            ("Origin null", vec![json_ct, ("Origin", "null")]),
            ("a look-alike Origin", vec![json_ct, ("Origin", "http://127.0.0.1.evil.example")]),
            ("Sec-Fetch-Site: cross-site", vec![json_ct, ("Sec-Fetch-Site", "cross-site")]),
            ("Sec-Fetch-Site: same-site", vec![json_ct, ("Sec-Fetch-Site", "same-site")]),
            ("a text/plain body", vec![("Content-Type", "text/plain")]),
            ("a form body", vec![("Content-Type", "application/x-www-form-urlencoded")]),
            ("a multipart body", vec![("Content-Type", "multipart/form-data; boundary=x")]),
            ("no Content-Type", vec![]),
        ];
        for (what, headers) in &refusals {
            let (st, v, body) = call(&s, "POST", "/admin/users", headers, &user("13700000001"));
            assert!(st == 403 && v["code"] == "CROSS_SITE" && v["message"].is_string(), "{b}: {what}: {st} {body}");
        }
        // A page on a name rebound to 127.0.0.1 (DNS rebinding) is same-origin to the browser, but its
        // Host is its own name.
        let body = user("13700000001");
        let raw = format!("POST /admin/users HTTP/1.1\r\nHost: {evil_host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let mut conn = std::net::TcpStream::connect(&host).unwrap();
        std::io::Write::write_all(&mut conn, raw.as_bytes()).unwrap();
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 403") && answer.contains("CROSS_SITE"), "{b}: rebound Host: {answer}");
        // A GET a page could trigger (an <img>) is refused cross-site too.
        let (st, _, body) = call(&s, "GET", "/admin/sms?phone=13700000001", &[("Sec-Fetch-Site", "cross-site")], "");
        assert_eq!(st, 403, "{b}: {body}");
        // Nothing was created: the phone is free, and a request as the CLI sends it is taken.
        let (st, v, body) = call(&s, "POST", "/admin/users", &[json_ct], &user("13700000001"));
        assert!(st == 200 && v["phone"] == "13700000001", "{b}: {st} {body}");
        // The server's own origin, and a request a person makes by typing the URL, pass.
        let own = [json_ct, ("Origin", s.base.as_str()), ("Sec-Fetch-Site", "same-origin")];
        let (st, _, body) = call(&s, "POST", "/admin/users", &own, &user("13700000002"));
        assert_eq!(st, 200, "{b}: {body}");
        let (st, _, body) = call(&s, "GET", "/admin/sms?phone=13700000001", &[("Sec-Fetch-Site", "none")], "");
        assert_eq!(st, 200, "{b}: {body}");
        // Through a proxy on this machine (it says it forwarded the request), the caller is not here:
        // the token is needed.
        for forwarded in [("X-Forwarded-For", "203.0.113.5"), ("Forwarded", "for=203.0.113.5"), ("X-Real-IP", "203.0.113.5")] {
            let (st, v, body) = call(&s, "GET", "/admin/sms?phone=13700000001", &[forwarded], "");
            assert!(st == 401 && v["code"] == "UNAUTHORIZED", "{b}: {forwarded:?}: {st} {body}");
        }
        // With the token (the CLI), the body rule does not apply, the Origin rule does.
        let t = token(&s);
        let (st, _, body) = call(&s, "POST", "/admin/users", &[("Authorization", &t)], &user("13700000003"));
        assert_eq!(st, 200, "{b}: {body}");
        let (st, _, body) = call(&s, "POST", "/admin/users", &[("Authorization", &t), json_ct, ("Origin", "http://evil.example")], &user("13700000004"));
        assert_eq!(st, 403, "{b}: {body}");
    }
}

#[test]
fn admin_errors_are_json_and_optional_parameters_are_optional() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("Audit", "public_key");
        let mchid = m["mchid"].as_str().unwrap();
        let t = token(&s);
        let auth = [("Authorization", t.as_str()), ("Content-Type", "application/json")];
        // from and to default to the beginning and now.
        let (st, v, body) = call(&s, "GET", &format!("/admin/ledger/transfers?mchid={mchid}"), &auth, "");
        assert!(st == 200 && v.is_object(), "{b}: {st} {body}");
        let (st, _, body) = call(&s, "GET", &format!("/admin/ledger/transfers?mchid={mchid}&from=0"), &auth, "");
        assert_eq!(st, 200, "{b}: {body}");
        for (method, path, body, want_status, want_code) in [
            ("GET", format!("/admin/ledger/transfers?mchid={mchid}&from=yesterday"), "", 400, "PARAM_ERROR"),
            ("GET", "/admin/ledger/transfers?from=1&to=0&mchid=x".to_string(), "", 400, "PARAM_ERROR"),
            ("GET", "/admin/sms".to_string(), "", 400, "PARAM_ERROR"),
            ("GET", "/admin/notifications".to_string(), "", 400, "PARAM_ERROR"),
            ("POST", "/admin/users".to_string(), "{not json", 400, "PARAM_ERROR"),
            ("POST", "/admin/users".to_string(), "{}", 400, "PARAM_ERROR"),
            ("POST", "/admin/merchants".to_string(), r#"{"notify_url": 5}"#, 400, "PARAM_ERROR"),
            ("POST", "/admin/merchants".to_string(), r#"{"name": "x", "h5_domains": ["https://shop.example/"]}"#, 400, "PARAM_ERROR"),
            ("POST", "/admin/clock/advance".to_string(), r#"{"seconds": "soon"}"#, 400, "PARAM_ERROR"),
            ("GET", "/admin/users".to_string(), "", 405, "METHOD_NOT_ALLOWED"),
            ("DELETE", "/admin/merchants".to_string(), "", 405, "METHOD_NOT_ALLOWED"),
            ("GET", "/admin/nope".to_string(), "", 404, "NOT_FOUND"),
            ("POST", "/admin/transit/nope/deeper".to_string(), "{}", 404, "NOT_FOUND"),
        ] {
            let r = http(&s.base, method, &path, &auth, body).unwrap();
            let v = r.json();
            assert!(
                r.status == want_status && v["code"] == want_code && v["message"].as_str().is_some_and(|m| !m.is_empty()) && r.header("content-type").is_some_and(|c| c.starts_with("application/json")),
                "{b}: {method} {path} {body}: {} {:?} {}",
                r.status,
                r.header("content-type"),
                r.body
            );
        }
    }
}
