//! The cashier (收银台) and the static collection code (收款码), through a real server on both backends.
//!
//! Over plain HTTP (always): refusals with their statuses (unknown, Native, closed, paid orders; bad
//! links; cross-site posts), escaping of merchant text, the wallet session in the cookie, paying, the
//! receipt only for the payer, double submits that pay once, not enough money, logout; the collection
//! code's amount rules, idempotent form, PIN, the merchant's notification (or none without a
//! notify_url), its QR codes (the same bytes from the page, the endpoint and `saoma merchant qr`).
//!
//! In every page's two languages (zh-CN by default, English by `Accept-Language`): each page and each
//! refusal with its own words; a phone without a wallet opening one at the cashier (only with its code).
//!
//! In headless Chromium (Python Selenium driving /usr/bin/chromium through /usr/bin/chromedriver, script
//! `cashier_browser.py`, a phone-sized window preferring zh-CN): an H5 order paid from its h5_url, one above
//! the password-free limit with a wrong then the right PIN, a collection-code payment (with the language
//! switch), and a new phone opening a wallet from the cashier; each checked afterwards through the v3
//! query and the wallet balance. `SAOMA_SCREENS=DIR` saves the pages as screenshots (docs/screens). Where Chromium, chromedriver or Selenium is missing the browser test says loudly that
//! it skipped, unless `SAOMA_REQUIRE_BROWSER=1` (CI), where that is a failure.

mod support;
/// Every page and refusal in both languages; opening a wallet at the cashier.
#[path = "cashier/words.rs"]
mod words;

use saoma_server::http::web::qr::Matrix;
use saoma_wechatpay::client::{http, HttpResponse, V3Client};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{saoma, sms_code, Server};

fn user(s: &Server, phone: &str, balance: i64) {
    let out = saoma().args(["user", "create", "--phone", phone, "--pin", "123456", "--balance", &balance.to_string(), "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn admin_get(s: &Server, path: &str) -> Value {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = http(&s.base, "GET", path, &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", saoma_server::http::web::url_encode(v))).collect::<Vec<_>>().join("&")
}

/// A browser-like request: the session cookie (if any) and, for a POST, a form from this very site.
/// No `Accept-Language`: the pages answer in Chinese.
fn page(s: &Server, method: &str, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> HttpResponse {
    page_in(s, None, method, path, cookie, form)
}

/// What an English-speaking browser sends.
const EN: &str = "en-US,en;q=0.9";

/// [`page`] from a browser that sends `Accept-Language: accept_language`.
fn page_in(s: &Server, accept_language: Option<&str>, method: &str, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> HttpResponse {
    let cookie = cookie.map(|c| format!("saoma_wallet={c}"));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str())];
    if let Some(c) = &cookie {
        headers.push(("Cookie", c));
    }
    if let Some(l) = accept_language {
        headers.push(("Accept-Language", l));
    }
    http(&s.base, method, path, &headers, &form_encode(form)).unwrap()
}

fn path_of(url: &str, s: &Server) -> String {
    url.strip_prefix(&s.base).unwrap_or_else(|| panic!("{url} is not on {}", s.base)).to_string()
}

/// Logs in through the pages (phone, SMS code from the outbox, code): the session cookie's value.
fn log_in(s: &Server, phone: &str, next: &str) -> String {
    let r = page(s, "POST", "/cashier/sms", None, &[("phone", phone), ("next", next)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"code\""), "{}", r.body);
    let code = sms_code(s, phone);
    let r = page(s, "POST", "/cashier/login", None, &[("phone", phone), ("code", &code), ("next", next)]);
    assert_eq!((r.status, r.header("location")), (303, Some(next)), "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    cookie.split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string()
}

fn balance(s: &Server, token: &str) -> i64 {
    let r = http(&s.base, "GET", "/wallet/balance", &[("Authorization", &format!("Bearer {token}"))], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["balance"].as_i64().unwrap()
}

fn query(c: &V3Client, no: &str) -> HttpResponse {
    c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap()
}

fn query_id(c: &V3Client, transaction_id: &str) -> Value {
    let r = c.request("GET", &format!("/v3/pay/transactions/id/{transaction_id}?mchid={}", c.mchid), "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn h5_order(c: &V3Client, m: &Value, no: &str, description: &str, total: i64) -> String {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": description, "out_trade_no": no, "notify_url": "https://example.com/n",
        "amount": {"total": total}, "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}});
    let r = c.request("POST", "/v3/pay/transactions/h5", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["h5_url"].as_str().unwrap().to_string()
}

fn result_id(r: &HttpResponse) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    r.header("location").unwrap().strip_prefix("/cashier/result?transaction_id=").unwrap_or_else(|| panic!("{:?}", r.header("location"))).to_string()
}

/// A merchant through the CLI, with `notify_url` or without one.
fn merchant(s: &Server, name: &str, notify_url: Option<&str>) -> Value {
    let mut cmd = saoma();
    cmd.args(["merchant", "create", "--json", "--name", name, "--data-dir"]).arg(&s.data_dir);
    if let Some(u) = notify_url {
        cmd.args(["--notify-url", u]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn cashier_pages_over_http() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("Tea <b>&</b> \"Co\"", "public_key");
        let c = s.client(&m);
        user(&s, "13500000001", 10_000);
        user(&s, "13500000002", 10_000);

        let h5_url = h5_order(&c, &m, "CASHIER001", "<script>alert(1)</script> 奶茶", 1_234);
        assert!(h5_url.starts_with(&format!("{}/cashier/h5?prepay_id=wx", s.base)), "{h5_url}");
        let path = path_of(&h5_url, &s);
        let prepay_id = path.split("prepay_id=").nth(1).unwrap().to_string();

        // Logged out: the order (merchant text escaped, never markup), the amount in yuan, the login.
        let r = page(&s, "GET", &path, None, &[]);
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; 奶茶") && !r.body.contains("<script>"), "{}", r.body);
        assert!(r.body.contains("Tea &lt;b&gt;&amp;&lt;/b&gt; &quot;Co&quot;"), "{}", r.body);
        assert!(r.body.contains("¥12.34") && r.body.contains("id=\"send-code\""));
        assert!(r.header("content-security-policy").unwrap().contains("default-src 'none'"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));

        // Links that lead to no payable order: each page says so with its status.
        assert_eq!(page(&s, "GET", "/cashier/h5", None, &[]).status, 400);
        assert_eq!(page(&s, "GET", "/cashier/h5?prepay_id=wxNOSUCHORDER", None, &[]).status, 404);
        let native = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "d", "out_trade_no": "CASHNATIVE", "notify_url": "https://example.com/n", "amount": {"total": 5}});
        let code_url = c.request("POST", "/v3/pay/transactions/native", &native.to_string()).unwrap().json()["code_url"].as_str().unwrap().to_string();
        let native_code = code_url.split("pr=").nth(1).unwrap();
        assert_eq!(page(&s, "GET", &format!("/cashier/h5?prepay_id=wx{native_code}"), None, &[]).status, 404, "a Native order is not paid here");
        let closed = path_of(&h5_order(&c, &m, "CASHCLOSED", "d", 100), &s);
        assert_eq!(c.request("POST", "/v3/pay/transactions/out-trade-no/CASHCLOSED/close", &json!({"mchid": m["mchid"]}).to_string()).unwrap().status, 204);
        let r = page(&s, "GET", &closed, None, &[]);
        assert!(r.status == 410 && r.body.contains("订单已关闭"), "{}", r.body);
        // JSAPI prepay ids open the same page.
        let jsapi = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "jsapi", "out_trade_no": "CASHJSAPI1", "notify_url": "https://example.com/n", "amount": {"total": 7}, "payer": {"openid": "o-anyone"}});
        let jsapi_prepay = c.request("POST", "/v3/pay/transactions/jsapi", &jsapi.to_string()).unwrap().json()["prepay_id"].as_str().unwrap().to_string();
        let r = page(&s, "GET", &format!("/cashier/jsapi?prepay_id={jsapi_prepay}"), None, &[]);
        assert!(r.status == 200 && r.body.contains("¥0.07"), "{}", r.body);

        // Login: a wrong code and a foreign `next` are refused; the right code sets the wallet session.
        let r = page(&s, "POST", "/cashier/sms", None, &[("phone", "13500000001"), ("next", "https://evil.example/")]);
        assert_eq!(r.status, 400);
        assert_eq!(page(&s, "POST", "/cashier/sms", None, &[("phone", "12"), ("next", &path)]).status, 400);
        assert_eq!(page(&s, "POST", "/cashier/sms", None, &[("phone", "13500000001"), ("next", &path)]).status, 200);
        let r = page(&s, "POST", "/cashier/login", None, &[("phone", "13500000001"), ("code", "000000x"), ("next", &path)]);
        assert!(r.status == 401 && r.body.contains("验证码错误、已使用或已过期") && r.body.contains("还可以再试 4 次"), "{}", r.body);
        // Asking again within the minute: no new code, the code step stays open for the one sent.
        let r = page(&s, "POST", "/cashier/sms", None, &[("phone", "13500000001"), ("next", &path)]);
        assert!(r.status == 429 && r.header("retry-after").is_some() && r.body.contains("id=\"code\""), "{}", r.body);
        let r = page(&s, "POST", "/cashier/login", None, &[("phone", "13500000001"), ("code", &sms_code(&s, "13500000001")), ("next", &path)]);
        assert_eq!((r.status, r.header("location")), (303, Some(path.as_str())), "{}", r.body);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string();
        // The cookie holds a wallet session: the wallet API takes it as a bearer token.
        assert_eq!(balance(&s, &cookie), 10_000);
        let r = page(&s, "GET", &path, Some(&cookie), &[]);
        assert!(r.status == 200 && r.body.contains("确认支付 ¥12.34") && r.body.contains("¥100.00"), "{}", r.body);
        assert!(r.body.contains("135****0001") && !r.body.contains("id=\"pin\""), "within the password-free limit: no PIN; {}", r.body);

        // Another site's form cannot pay with the user's session.
        let r = http(&s.base, "POST", "/cashier/pay", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.example"), ("Cookie", &format!("saoma_wallet={cookie}"))], &form_encode(&[("prepay_id", &prepay_id)])).unwrap();
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(query(&c, "CASHIER001").json()["trade_state"], "NOTPAY");
        // Without a session the page asks to log in again; nothing is paid.
        let r = page(&s, "POST", "/cashier/pay", None, &[("prepay_id", &prepay_id)]);
        assert!(r.status == 401 && r.body.contains("请重新登录"), "{}", r.body);

        // Paying: to the receipt; the order SUCCESS with the same transaction_id; the money moved once.
        let tid = result_id(&page(&s, "POST", "/cashier/pay", Some(&cookie), &[("prepay_id", &prepay_id)]));
        let q = query(&c, "CASHIER001").json();
        assert_eq!((q["trade_state"].as_str(), q["transaction_id"].as_str(), q["trade_type"].as_str()), (Some("SUCCESS"), Some(tid.as_str()), Some("MWEB")), "{b}");
        let receipt = page(&s, "GET", &format!("/cashier/result?transaction_id={tid}"), Some(&cookie), &[]);
        assert!(receipt.status == 200 && receipt.body.contains(&tid) && receipt.body.contains("¥12.34") && receipt.body.contains("Tea &lt;b&gt;"), "{}", receipt.body);
        // A second click finds the receipt, and pays nothing more.
        assert_eq!(result_id(&page(&s, "POST", "/cashier/pay", Some(&cookie), &[("prepay_id", &prepay_id)])), tid);
        assert_eq!(balance(&s, &cookie), 10_000 - 1_234);
        // The payer coming back is sent to the receipt; anybody else learns only that it is paid.
        assert_eq!(page(&s, "GET", &path, Some(&cookie), &[]).header("location"), Some(format!("/cashier/result?transaction_id={tid}").as_str()));
        assert_eq!(page(&s, "GET", &path, None, &[]).status, 409);
        let other = log_in(&s, "13500000002", &path);
        assert_eq!(page(&s, "GET", &format!("/cashier/result?transaction_id={tid}"), Some(&other), &[]).status, 404, "a receipt is the payer's only");
        assert_eq!(page(&s, "GET", &format!("/cashier/result?transaction_id={tid}"), None, &[]).status, 404);
        let r = page(&s, "POST", "/cashier/pay", Some(&other), &[("prepay_id", &prepay_id)]);
        assert!(r.status == 409 && r.body.contains("已由其他账号付款"), "{}", r.body);

        // Not enough money: the reason in plain words, nothing charged, the order still open.
        let big = path_of(&h5_order(&c, &m, "CASHBIG001", "big", 50_000), &s);
        let big_prepay = big.split("prepay_id=").nth(1).unwrap();
        let r = page(&s, "POST", "/cashier/pay", Some(&cookie), &[("prepay_id", big_prepay)]);
        assert!(r.status == 403 && r.body.contains("本单需 ¥500.00，可用余额 ¥87.66") && r.body.contains("充值"), "{}", r.body);
        assert_eq!(query(&c, "CASHBIG001").json()["trade_state"], "NOTPAY");
        assert_eq!(balance(&s, &cookie), 10_000 - 1_234);

        // Logging out ends the wallet session itself, not just the cookie.
        let r = page(&s, "POST", "/cashier/logout", Some(&cookie), &[("next", &path)]);
        assert!(r.status == 303 && r.header("set-cookie").unwrap().contains("Max-Age=0"), "{}", r.body);
        assert_eq!(http(&s.base, "GET", "/wallet/balance", &[("Authorization", &format!("Bearer {cookie}"))], "").unwrap().status, 401);
    }
}

/// H5's `redirect_url` (WeChat Pay: appended to h5_url, URL-encoded): carried through login and payment
/// to the receipt, which links back to the merchant and returns there by itself; anything that is not
/// an http(s) address is refused, not followed.
#[test]
fn h5_redirect_url_returns_to_the_merchant() {
    for s in Server::all(true) {
        let b = s.backend;
        // The merchant registered its H5 domain; redirect_url must be on it (or a subdomain).
        let m = s.merchant_with("Noodles", "public_key", &["--h5-domain", "shop.example,pay.other.example", "--h5-domain", "third.example"]);
        assert_eq!(m["h5_domains"], json!(["shop.example", "pay.other.example", "third.example"]), "{b}");
        let c = s.client(&m);
        user(&s, "13500000011", 10_000);
        let back = "https://shop.example/orders/H5BACK1?from=pay&x=~1";
        let enc = saoma_server::http::web::url_encode(back);
        let path = format!("{}&redirect_url={enc}", path_of(&h5_order(&c, &m, "H5BACK1", "noodles", 1_800), &s));
        let prepay_id = path.split("prepay_id=").nth(1).unwrap().split('&').next().unwrap().to_string();

        for bad in [
            "javascript:alert(1)",
            "/admin/merchants",
            "https://",
            "https://user@evil.example/",
            "https://shop.example/\"><script>",
            "ftp://shop.example/",
            // Hosts that only look like the registered domain, read as a browser would.
            "https://shop.example.evil.com/",
            "https://evilshop.example/",
            "https://evil.com/@shop.example",
            "https://evil.com\\@shop.example/",
            "https://shop.example\\@evil.com/",
            "https://shop.example@evil.com/",
            "https://evil.com#@shop.example",
            "https://evil.com?@shop.example",
            "https://127.0.0.1/",
            "https://example/",
            "https://other.example/",
        ] {
            let r = page(&s, "GET", &format!("/cashier/h5?prepay_id={prepay_id}&redirect_url={}", saoma_server::http::web::url_encode(bad)), None, &[]);
            assert!(r.status == 400 && r.body.contains("redirect_url"), "{b}: {bad}: {} {}", r.status, r.body);
        }
        // zh-CN first, English after.
        let r = page(&s, "GET", &format!("/cashier/h5?prepay_id={prepay_id}&redirect_url={}", saoma_server::http::web::url_encode("https://evil.example/")), None, &[]);
        assert!(r.status == 400 && r.body.contains("返回地址无效") && r.body.contains("H5 域名"), "{b}: {}", r.body);
        // A subdomain of a registered domain, and the other registered domains, are accepted.
        for good in ["https://m.shop.example/back", "http://pay.other.example:8080/x?y=1", "https://THIRD.example/"] {
            let r = page(&s, "GET", &format!("/cashier/h5?prepay_id={prepay_id}&redirect_url={}", saoma_server::http::web::url_encode(good)), None, &[]);
            assert_eq!(r.status, 200, "{b}: {good}: {}", r.body);
        }
                let long = format!("https://shop.example/{}", "a".repeat(1100));
        assert_eq!(page(&s, "GET", &format!("/cashier/h5?prepay_id={prepay_id}&redirect_url={long}"), None, &[]).status, 400);

        // The login comes back to the page with the address; the form carries it to the payment.
        let r = page(&s, "GET", &path, None, &[]);
        assert!(r.status == 200 && r.body.contains(&format!("redirect_url={enc}")), "{b}: {}", r.body);
        let cookie = log_in(&s, "13500000011", &path);
        let r = page(&s, "GET", &path, Some(&cookie), &[]);
        assert!(r.body.contains(&format!("name=\"redirect_url\" value=\"{}\"", back.replace('&', "&amp;"))), "{b}: {}", r.body);
        let r = page(&s, "POST", "/cashier/pay", Some(&cookie), &[("prepay_id", &prepay_id), ("redirect_url", back)]);
        let location = r.header("location").unwrap_or_default().to_string();
        assert!(r.status == 303 && location.starts_with("/cashier/result?transaction_id=") && location.ends_with(&format!("&redirect_url={enc}")), "{b}: {} {location}", r.status);
        assert_eq!(query(&c, "H5BACK1").json()["trade_state"], "SUCCESS", "{b}");
        let receipt = page(&s, "GET", &location, Some(&cookie), &[]);
        let escaped = back.replace('&', "&amp;");
        assert!(receipt.status == 200 && receipt.body.contains(&format!("id=\"done\" href=\"{escaped}\">完成</a>")), "{b}: {}", receipt.body);
        assert!(receipt.body.contains(&format!("<meta http-equiv=\"refresh\" content=\"5;url={escaped}\">")), "{b}: {}", receipt.body);
        // Coming back to the paid order's page keeps the way back.
        assert_eq!(page(&s, "GET", &path, Some(&cookie), &[]).header("location"), Some(location.as_str()));
        // Without one, 完成 leads to a page that says the payment is done, and nothing refreshes.
        let plain = page(&s, "GET", location.split("&redirect_url").next().unwrap(), Some(&cookie), &[]);
        assert!(plain.status == 200 && plain.body.contains("id=\"done\" href=\"/cashier/done\"") && !plain.body.contains("refresh"), "{b}: {}", plain.body);
    }
}

#[test]
fn collection_code_over_http() {
    for s in Server::all(true) {
        let b = s.backend;
        let rx = support::receiver(|_| 200);
        let shop = merchant(&s, "Noodle Stall", Some(&rx.url));
        let bare = merchant(&s, "No Server Kiosk", None);
        let (cs, cb) = (s.client(&shop), s.client(&bare));
        let mchid = shop["mchid"].as_str().unwrap();
        user(&s, "13400000001", 200_000);
        let cookie = s.wallet_session("13400000001").strip_prefix("Bearer ").unwrap().to_string();
        let collect = format!("/collect/{mchid}");

        // The page: the merchant, a one-time form token, its QR code.
        assert_eq!(page(&s, "GET", "/collect/1600000000", None, &[]).status, 404);
        let r = page(&s, "GET", &collect, Some(&cookie), &[]);
        assert!(r.status == 200 && r.body.contains("Noodle Stall") && r.body.contains(&format!("src=\"{collect}/qr.svg\"")), "{b}: {}", r.body);
        let token_of = |body: &str| body.split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let token = token_of(&r.body);
        assert_eq!(token.len(), 24);
        assert_ne!(token_of(&page(&s, "GET", &collect, Some(&cookie), &[]).body), token, "a fresh token per page");

        // The QR codes: the collect page's full URL, the same drawing from every door.
        let matrix = Matrix::encode(&format!("{}{collect}", s.base)).unwrap();
        let svg = page(&s, "GET", &format!("{collect}/qr.svg"), None, &[]);
        assert_eq!((svg.status, svg.header("content-type")), (200, Some("image/svg+xml")));
        assert_eq!(svg.body, matrix.svg());
        let png = page(&s, "GET", &format!("{collect}/qr.png"), None, &[]);
        assert_eq!((png.status, png.header("content-type")), (200, Some("image/png")));
        assert_eq!(png.bytes, matrix.png(8));
        assert_eq!(page(&s, "GET", &format!("{collect}/qr.png?scale=3"), None, &[]).bytes, matrix.png(3));
        let file = s.data_dir.join("collect.png");
        let out = saoma().args(["merchant", "qr", "--mchid", mchid, "--format", "png", "--out"]).arg(&file).arg("--data-dir").arg(&s.data_dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::read(&file).unwrap(), png.bytes);
        let out = saoma().args(["merchant", "qr", "--mchid", mchid, "--format", "svg", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), svg.body);
        let out = saoma().args(["merchant", "qr", "--mchid", "1600000000", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no merchant 1600000000"));
        assert_eq!(page(&s, "GET", &format!("/qr.svg?text={}", "x".repeat(1025)), None, &[]).status, 400);
        assert_eq!(page(&s, "GET", "/qr.png?text=", None, &[]).status, 400);
        assert_eq!(page(&s, "GET", "/qr.png?text=hi&scale=33", None, &[]).status, 400);
        assert_eq!(page(&s, "GET", "/qr.svg?text=hello", None, &[]).body, Matrix::encode("hello").unwrap().svg());

        // Amounts are yuan with at most two decimals, above zero, at most an order's maximum.
        let pay = |amount: &str, token: &str, pin: &str| page(&s, "POST", &format!("{collect}/pay"), Some(&cookie), &[("amount", amount), ("token", token), ("pin", pin)]);
        for (amount, says) in [("0", "至少为 0.01 元"), ("abc", "如 12 或 12.34"), ("1.234", "最多两位小数"), ("10000000.01", "不能超过 10000000.00 元"), ("-5", "如 12")] {
            let r = pay(amount, &token, "");
            assert!(r.status == 400 && r.body.contains(says), "{amount}: {}", r.body);
        }
        assert_eq!(pay("1", "short", "").status, 400, "a forged token");
        assert_eq!(balance(&s, &cookie), 200_000, "refusals charge nothing");

        // Paying 12.34: a NATIVE order the merchant queries and is notified of, on its first appid.
        let tid = result_id(&pay("12.34", &token, ""));
        let q = query_id(&cs, &tid);
        assert_eq!(q["trade_state"], "SUCCESS", "{b}");
        assert_eq!((q["trade_type"].as_str(), q["amount"]["total"].as_i64(), q["appid"].as_str()), (Some("NATIVE"), Some(1_234), shop["appid"].as_str()));
        let out_trade_no = format!("SK{token}");
        assert_eq!(q["out_trade_no"], out_trade_no.as_str());
        assert_eq!(query(&cs, &out_trade_no).json()["transaction_id"], tid.as_str());
        wait_for("the merchant's notification", || rx.got.lock().unwrap().iter().any(|(_, body)| body.contains("TRANSACTION.SUCCESS")));
        let n = admin_get(&s, &format!("/admin/notifications?mchid={mchid}"));
        assert_eq!((n["notifications"][0]["reference"].as_str(), n["notifications"][0]["event_type"].as_str()), (Some(out_trade_no.as_str()), Some("TRANSACTION.SUCCESS")));
        let receipt = page(&s, "GET", &format!("/cashier/result?transaction_id={tid}"), Some(&cookie), &[]);
        assert!(receipt.status == 200 && receipt.body.contains("Noodle Stall") && receipt.body.contains("¥12.34"));
        // The same form again pays nothing more; with another amount it is refused.
        assert_eq!(result_id(&pay("12.34", &token, "")), tid);
        let r = pay("5", &token, "");
        assert!(r.status == 409 && r.body.contains("此付款表单已经用过"), "{}", r.body);
        assert_eq!(balance(&s, &cookie), 200_000 - 1_234);

        // Above the password-free limit: the PIN, asked before trying; a wrong one counted; the right one pays.
        let token2 = token_of(&page(&s, "GET", &collect, Some(&cookie), &[]).body);
        let r = pay("1500", &token2, "");
        assert!(r.status == 403 && r.body.contains("id=\"pin\"") && r.body.contains("value=\"1500\" required readonly"), "{}", r.body);
        let r = pay("1500", &token2, "000000");
        assert!(r.status == 403 && r.body.contains("支付密码错误，还可以再试 4 次"), "{}", r.body);
        assert_eq!(query(&cs, &format!("SK{token2}")).status, 404, "a refused payment leaves no order");
        let tid2 = result_id(&pay("1500", &token2, "123456"));
        assert_eq!(query_id(&cs, &tid2)["amount"]["total"], 150_000);

        // Not enough money: nothing created, nothing charged.
        let token3 = token_of(&page(&s, "GET", &collect, Some(&cookie), &[]).body);
        let r = pay("999", &token3, "");
        assert!(r.status == 403 && r.body.contains("余额不足"), "{}", r.body);
        assert_eq!(query(&cs, &format!("SK{token3}")).json()["code"], "ORDER_NOT_EXIST");
        assert_eq!(balance(&s, &cookie), 200_000 - 1_234 - 150_000);

        // A merchant without a notify_url: paid and queryable, no notification.
        let bare_collect = format!("/collect/{}", bare["mchid"].as_str().unwrap());
        let token4 = token_of(&page(&s, "GET", &bare_collect, Some(&cookie), &[]).body);
        let r = page(&s, "POST", &format!("{bare_collect}/pay"), Some(&cookie), &[("amount", "1"), ("token", &token4)]);
        let tid4 = result_id(&r);
        assert_eq!(query_id(&cb, &tid4)["trade_state"], "SUCCESS");
        let n = admin_get(&s, &format!("/admin/notifications?mchid={}", bare["mchid"].as_str().unwrap()));
        assert_eq!(n["notifications"].as_array().unwrap().len(), 0, "{n}");

        let out = saoma().args(["ledger", "check", "--data-dir"]).arg(&s.data_dir).args(["--database-url", &s.database_url]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("clean"), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn browser_pays_h5_with_and_without_pin_and_a_collection_code_and_opens_a_wallet() {
    if !support::browser_available("cashier") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cashier_browser.py");
    for s in Server::all(true) {
        let started = Instant::now();
        // Its H5 domain: localhost (this server stands in for the merchant's site below).
        let m = s.merchant_with("Bubble Tea 奶茶", "public_key", &["--h5-domain", "localhost"]);
        let c = s.client(&m);
        for phone in ["13300000001", "13300000002", "13300000003"] {
            user(&s, phone, 200_000);
        }
        let h5 = h5_order(&c, &m, "BROWSER001", "珍珠奶茶 <large>", 2_345);
        let pin = h5_order(&c, &m, "BROWSER002", "Catering for 40", 150_000);
        // The merchant's page to return to (this server's /healthz stands in for it).
        let back = format!("{}/healthz?from=cashier", s.base.replace("127.0.0.1", "localhost"));
        let h5 = format!("{h5}&redirect_url={}", saoma_server::http::web::url_encode(&back));
        let for_new = h5_order(&c, &m, "BROWSER003", "芝士蛋糕", 1_250);
        let collect_url = format!("{}/collect/{}", s.base, m["mchid"].as_str().unwrap());
        // SAOMA_SCREENS=DIR saves the pages as cashier-*.png (docs/screens), from the first backend.
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        let spec = json!({"screens": screens, "scenarios": [
            {"kind": "h5", "name": "h5", "url": h5, "phone": "13300000001", "amount": "¥23.45", "description": "珍珠奶茶 <large>", "back": back},
            {"kind": "pin", "name": "pin", "url": pin, "phone": "13300000002", "wrong_pin": "000000", "pin": "123456"},
            {"kind": "collect", "name": "collect", "url": collect_url, "phone": "13300000003", "amount": "12.34", "merchant": "Bubble Tea 奶茶"},
            {"kind": "register", "name": "register", "url": for_new, "phone": "13300000009", "amount": "¥12.50", "collect": collect_url},
        ]});
        let mut results = std::collections::HashMap::new();
        support::run_browser(&s, script, &spec, |words| {
            match words {
                ["SMS", phone] => return Some(sms_code(&s, phone)),
                ["RESULT", name, tid, amount] => {
                    results.insert(name.to_string(), (tid.to_string(), amount.to_string()));
                }
                ["REGISTERED", phone] => {
                    results.insert("registered".to_string(), (phone.to_string(), String::new()));
                }
                _ => eprintln!("browser script: {}", words.join(" ")),
            }
            None
        });
        // The test looks at the wallets as another device: the browser logged these phones in a moment
        // ago, and the server sends a phone one code a minute.
        support::advance(&s, "61s");
        let wallet = |phone: &str| balance(&s, s.wallet_session(phone).strip_prefix("Bearer ").unwrap());

        // The H5 order: SUCCESS under the transaction_id the page showed; the wallet paid it once.
        let (tid, amount) = &results["h5"];
        let q = query(&c, "BROWSER001").json();
        assert_eq!((q["trade_state"].as_str(), q["transaction_id"].as_str()), (Some("SUCCESS"), Some(tid.as_str())), "{}", s.backend);
        assert_eq!(amount, "¥23.45");
        assert_eq!(wallet("13300000001"), 200_000 - 2_345);
        // Above the password-free limit, paid after a wrong and then the right PIN.
        let (tid, amount) = &results["pin"];
        assert_eq!(query(&c, "BROWSER002").json()["transaction_id"], tid.as_str());
        assert_eq!(amount, "¥1500.00");
        assert_eq!(wallet("13300000002"), 200_000 - 150_000);
        // The collection code: the merchant finds the payment by the receipt's transaction_id.
        let (tid, amount) = &results["collect"];
        let q = query_id(&c, tid);
        assert_eq!((q["trade_state"].as_str(), q["trade_type"].as_str(), q["amount"]["total"].as_i64()), (Some("SUCCESS"), Some("NATIVE"), Some(1_234)));
        assert_eq!(amount, "¥12.34");
        assert_eq!(wallet("13300000003"), 200_000 - 1_234);
        // The wallet opened at the cashier: there, empty; the order it could not pay still open.
        assert_eq!(results["registered"].0, "13300000009");
        assert_eq!(wallet("13300000009"), 0);
        assert_eq!(query(&c, "BROWSER003").json()["trade_state"], "NOTPAY");
        support::ledger_check(&s);
        eprintln!("{}: four browser scenarios in {:.1} s", s.backend, started.elapsed().as_secs_f64());
    }
}
