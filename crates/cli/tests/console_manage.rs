//! The merchant console's managers' pages through a real server on both backends: an order's page (its
//! amounts, masked payer, and the notifications about it with each delivery attempt), the orders
//! search by a state reached by the clock (an unpaid order past its deadline is CLOSED), the day's
//! bills as the v3 download's CSV, and the staff: managers add cashiers only, end a cashier's sessions
//! and remove cashiers of their own shop, and nothing else.

mod support;

use serde_json::json;
use std::time::{Duration, Instant};
use support::console::{add_staff, cafe, get, header, log_in, pay, post};
use support::Server;

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_orders_page_shows_its_notifications_and_the_search_reads_states_as_of_now() {
    for s in Server::all(true) {
        let b = s.backend;
        let rx = support::receiver(|n| if n == 1 { 500 } else { 200 });
        let (m, mchid) = cafe(&s, false);
        support::user(&s, "13900000001", 100_000);
        let payer = s.wallet_session("13900000001");
        let transaction_id = pay(&s, &m, &payer, "CAFE0001", 1_250, &rx.url);
        let manager = log_in(&s, "13800000001", "manager-pass-1");

        // The search links each order to its page.
        let r = get(&s, "/console/orders?no=CAFE0001", &manager);
        assert!(r.body.contains("href=\"/console/orders/CAFE0001\""), "{}", r.body);
        // The first attempt failed (500): said, with the next try.
        wait_for("the first attempt", || rx.got.lock().unwrap().len() == 1);
        let mut page = String::new();
        wait_for("the attempt recorded", || {
            page = get(&s, "/console/orders/CAFE0001", &manager).body;
            page.contains("返回 HTTP 500")
        });
        assert!(page.contains("id=\"order-total\">¥12.50<") && page.contains(&transaction_id) && page.contains("TRANSACTION.SUCCESS") && page.contains("将于"), "{b}: {page}");
        assert!(page.contains("id=\"order-payer\">o") && page.contains("****"), "the payer's openid, masked: {page}");
        assert!(!page.contains("13900000001"), "never the payer's phone");
        support::advance(&s, "15s");
        wait_for("delivery", || get(&s, "/console/orders/CAFE0001", &manager).body.contains("已送达"));
        let page = get(&s, "/console/orders/CAFE0001?lang=en", &manager).body;
        assert!(page.contains("answered HTTP 500") && page.contains("answered HTTP 200") && page.contains("Delivered"), "{b}: {page}");
        assert_eq!(get(&s, "/console/orders/NOSUCH", &manager).status, 404);

        // An unpaid order past its deadline reads CLOSED in the search (the state is read in SQL).
        let c = s.client(&m);
        let paid = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/CAFE0001?mchid={mchid}"), "").unwrap().json();
        let paid_at = saoma_core::time::parse_rfc3339(paid["success_time"].as_str().unwrap()).unwrap();
        let expire = saoma_core::time::format_rfc3339_cst(paid_at + 300);
        let body = json!({"appid": m["appid"], "mchid": mchid, "description": "未付", "out_trade_no": "CAFE0002", "time_expire": expire,
                          "notify_url": "https://example.com/notify", "amount": {"total": 100}});
        assert_eq!(c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap().status, 200);
        let found = |q: &str| get(&s, &format!("/console/orders{q}"), &manager).body.split("id=\"orders\"").nth(1).unwrap_or("").contains("CAFE0002");
        assert!(found("?no=CAFE0002&state=NOTPAY") && !found("?no=CAFE0002&state=CLOSED"));
        support::advance(&s, "10m");
        assert!(!found("?no=CAFE0002&state=NOTPAY") && found("?no=CAFE0002&state=CLOSED"), "{b}: past its time_expire it is closed");
        assert!(get(&s, "/console/orders/CAFE0002", &manager).body.contains("已关闭"));
    }
}

#[test]
fn bills_are_the_v3_download_and_managers_only() {
    for s in Server::all(true) {
        let b = s.backend;
        let (m, mchid) = cafe(&s, true);
        support::user(&s, "13900000001", 100_000);
        let payer = s.wallet_session("13900000001");
        pay(&s, &m, &payer, "CAFE0001", 1_250, "https://example.com/notify");
        let c = s.client(&m);
        let q = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/CAFE0001?mchid={mchid}"), "").unwrap().json();
        let day = q["success_time"].as_str().unwrap()[..10].to_string();
        let manager = log_in(&s, "13800000001", "manager-pass-1");

        // Today's bill does not exist yet: said on the page.
        let r = get(&s, &format!("/console/bills/trade?day={day}"), &manager);
        assert_eq!(r.status, 400);
        assert!(r.body.contains("role=\"alert\"") && r.body.contains("只能下载已经结束的一天"), "{}", r.body);
        // A day later (the sessions of a working day have ended: a new login).
        support::advance(&s, "86700s");
        let manager = log_in(&s, "13800000001", "manager-pass-1");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");
        let page = get(&s, "/console/bills", &manager);
        assert!(page.status == 200 && page.body.contains("id=\"trade-bill\"") && page.body.contains("id=\"fund-bill\""), "{}", page.body);
        for (which, v3) in [("trade", format!("/v3/bill/tradebill?bill_date={day}")), ("fund", format!("/v3/bill/fundflowbill?bill_date={day}"))] {
            let r = get(&s, &format!("/console/bills/{which}?day={day}"), &manager);
            assert_eq!(r.status, 200, "{b}: {}", r.body);
            assert!(header(&r, "content-type").is_some_and(|t| t.starts_with("text/csv")), "{:?}", r.headers);
            assert!(header(&r, "content-disposition").is_some_and(|d| d.starts_with("attachment") && d.contains(&day)), "{:?}", r.headers);
            let applied = c.request("GET", &v3, "").unwrap().json();
            let url = applied["download_url"].as_str().unwrap();
            // The file is served unsigned (as WeChat Pay's): asked for with a signed request, read as is.
            let path = &url[url.find("/v3/").unwrap()..];
            let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            let auth = c.authorization("GET", path, "", ts, &saoma_wechatpay::aead::random_string(32).unwrap());
            let file = saoma_wechatpay::client::http(&s.base, "GET", path, &[("Authorization", &auth)], "").unwrap();
            assert_eq!(file.status, 200);
            assert_eq!(r.body, file.body, "{b}: the console's {which} bill is the v3 file");
            assert!(r.body.contains("CAFE0001"), "{}", r.body);
            assert_eq!(get(&s, &format!("/console/bills/{which}?day={day}"), &cashier).status, 403, "{b}: a cashier gets no bill");
        }
        // A day with nothing, a day too old, garbage: the page says so.
        let r = get(&s, "/console/bills/trade?day=2001-01-01", &manager);
        assert!(r.status == 400 && r.body.contains("三个月"), "{}", r.body);
        assert_eq!(get(&s, "/console/bills/trade?day=yesterday", &manager).status, 400);
        assert_eq!(get(&s, "/console/bills/other?day=2001-01-01", &manager).status, 404);
        let quiet = get(&s, &format!("/console/bills/trade?day={}", support_prev_day(&day)), &manager);
        assert_eq!(quiet.status, 404, "{b}: no payments that day: {}", quiet.body);
        assert_eq!(get(&s, "/console/bills", &cashier).status, 403);
    }
}

/// The day before `day` (YYYY-MM-DD).
fn support_prev_day(day: &str) -> String {
    let secs = saoma_core::time::parse_cst_date(day).unwrap();
    saoma_core::time::format_rfc3339_cst(secs - 86_400)[..10].to_string()
}

#[test]
fn managers_add_end_and_remove_their_cashiers_only() {
    for s in Server::all(true) {
        let b = s.backend;
        let (_, mchid) = cafe(&s, false);
        add_staff(&s, &mchid, "13800000003", "赵店长", "manager", "manager-pass-3");
        let other = s.merchant("别家 Other", "public_key");
        add_staff(&s, other["mchid"].as_str().unwrap(), "13800000009", "别家收银", "cashier", "cashier-pass-9");
        let manager = log_in(&s, "13800000001", "manager-pass-1");

        // Managers add cashiers, not managers.
        let page = get(&s, "/console/staff", &manager).body;
        assert!(page.contains("id=\"cashiers-only\"") && !page.contains("value=\"manager\""), "{page}");
        let r = post(&s, "/console/staff", &manager, "phone=13800000004&name=x&role=manager&password=manager-pass-4");
        assert_eq!(r.status, 403, "{b}: {}", r.body);
        let r = post(&s, "/console/staff", &manager, "phone=13800000002&name=%E5%B0%8F%E6%9D%8E&role=cashier&password=cashier-pass-1");
        assert_eq!(r.status, 200, "{}", r.body);
        let id = |phone: &str| {
            let rows = support::db_rows(&s, &format!("SELECT id FROM staff WHERE phone = '{phone}'"));
            format!("{:032x}", rows[0][0].id().unwrap())
        };
        let cashier_id = id("13800000002");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");
        assert!(get(&s, "/console", &cashier).body.contains("id=\"takings\""));

        // Not theirs to manage: another manager, themselves, another shop's cashier, nobody.
        for target in [id("13800000003"), id("13800000001"), id("13800000009"), "0".repeat(32), "zz".into()] {
            for action in ["logout", "remove"] {
                let r = post(&s, &format!("/console/staff/{action}"), &manager, &format!("staff={target}"));
                assert!(r.status == 403 || r.status == 400, "{b}: {action} {target}: {} {}", r.status, r.body);
            }
        }
        assert_eq!(support::db_rows(&s, "SELECT COUNT(*) FROM staff")[0][0].int(), 4);
        // A cashier manages nobody.
        assert_eq!(post(&s, "/console/staff/logout", &cashier, &format!("staff={cashier_id}")).status, 403);

        // Ending the cashier's sessions logs them out; they may log in again.
        let r = post(&s, "/console/staff/logout", &manager, &format!("staff={cashier_id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("小李 的所有登录已结束"), "{}", r.body);
        assert!(get(&s, "/console", &cashier).body.contains("action=\"/console/sms\""), "{b}: logged out");
        support::advance(&s, "61s");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");
        // Removing them ends their session too, and their phone is nobody's staff any more.
        let r = post(&s, "/console/staff/remove", &manager, &format!("staff={cashier_id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("已移除 小李") && !r.body.split("id=\"staff\"").nth(1).unwrap_or("").contains("小李<"), "{}", r.body);
        assert!(get(&s, "/console", &cashier).body.contains("action=\"/console/sms\""));
        support::advance(&s, "61s");
        let console_codes = || {
            let (_, v) = support::console::admin(&s, "GET", "/admin/sms?phone=13800000002", &serde_json::Value::Null);
            v["messages"].as_array().unwrap().iter().filter(|m| m["purpose"] == "console").count()
        };
        let before = console_codes();
        assert_eq!(post(&s, "/console/sms", "", "phone=13800000002").status, 200);
        assert_eq!(console_codes(), before, "{b}: a removed cashier is nobody's staff: no code is texted");
        let r = post(&s, "/console/login", "", "phone=13800000002&code=123456");
        assert_eq!(r.status, 401, "{b}: {}", r.body);
        assert_eq!(support::db_rows(&s, "SELECT COUNT(*) FROM staff")[0][0].int(), 3);
    }
}

/// A form field's value, URL-encoded.
fn enc(v: &str) -> String {
    saoma_server::http::web::url_encode(v)
}

#[test]
fn api_settings_rotate_the_key_and_set_the_notify_url_and_domains() {
    for s in Server::all(true) {
        let b = s.backend;
        let (m, mchid) = cafe(&s, true);
        let manager = log_in(&s, "13800000001", "manager-pass-1");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");
        let page = get(&s, "/console/settings", &manager);
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&mchid) && page.body.contains(m["serial_no"].as_str().unwrap()) && page.body.contains("微信支付公钥"), "{}", page.body);
        assert_eq!(get(&s, "/console/settings", &cashier).status, 403);
        assert_eq!(post(&s, "/console/settings", &cashier, "notify_url=&h5_domains=&key_mode=public_key").status, 403);

        // notify_url, H5 domains, key mode: refused when wrong, saved when right.
        let save = |url: &str, domains: &str, mode: &str| post(&s, "/console/settings", &manager, &format!("notify_url={}&h5_domains={}&key_mode={mode}", enc(url), enc(domains)));
        let r = save("ftp://example.com/n", "", "public_key");
        assert!(r.status == 400 && r.body.contains("role=\"alert\""), "{}", r.body);
        assert_eq!(save("https://example.com/n", "shop example", "public_key").status, 400);
        assert_eq!(save("https://example.com/n", "a.cn\nb.cn\nc.cn\nd.cn\ne.cn\nf.cn", "public_key").status, 400);
        assert_eq!(save("https://example.com/n", "", "rsa").status, 400);
        let r = save("https://pay.example.com/notify", "Shop.Example.com\nm.example.com", "certificate");
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        assert!(r.body.contains("id=\"saved\"") && r.body.contains("https://pay.example.com/notify") && r.body.contains("shop.example.com\nm.example.com"), "{}", r.body);
        assert!(r.body.contains("id=\"key-mode\">平台证书<"), "{}", r.body);
        let rows = support::db_rows(&s, &format!("SELECT notify_url, h5_domains, platform_key_mode FROM merchants WHERE mchid = '{mchid}'"));
        assert_eq!((rows[0][0].text(), rows[0][1].text(), rows[0][2].text()), ("https://pay.example.com/notify", "shop.example.com,m.example.com", "certificate"));

        // A new API key: garbage is refused before the password is asked (no try spent); a wrong password
        // is counted; then the new key works and the old one is refused.
        let old = s.client(&m);
        assert_eq!(old.request("GET", &format!("/v3/pay/transactions/out-trade-no/NONE?mchid={mchid}"), "").unwrap().status, 404);
        let key = saoma_wechatpay::keys::PrivateKey::generate().unwrap();
        let pem = key.public_key().unwrap().to_pem().unwrap();
        let rotate = |pem: &str, password: &str| post(&s, "/console/settings/key", &manager, &format!("public_key={}&password={password}", enc(pem)));
        let r = rotate("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----", "manager-pass-1");
        assert!(r.status == 400 && r.body.contains("不是有效的 RSA 公钥"), "{}", r.body);
        let r = rotate(&pem, "wrong-password");
        assert!(r.status == 401 && r.body.contains("还可以再试 4 次"), "{b}: the garbage key cost no try: {}", r.body);
        let r = rotate(&pem, "manager-pass-1");
        assert!(r.status == 200 && r.body.contains("id=\"saved\""), "{b}: {}", r.body);
        let serial = support::db_rows(&s, &format!("SELECT serial_no FROM merchants WHERE mchid = '{mchid}'"))[0][0].text().to_string();
        assert_ne!(serial, m["serial_no"].as_str().unwrap());
        assert!(get(&s, "/console/settings", &manager).body.contains(&serial));
        let r = old.request("GET", &format!("/v3/pay/transactions/out-trade-no/NONE?mchid={mchid}"), "").unwrap();
        assert_eq!(r.status, 401, "{b}: the old key is refused: {}", r.body);
        let mut new = s.client(&m);
        (new.serial_no, new.key) = (serial, key);
        // (Read raw: the answer is signed with the platform certificate now, the mode just set.)
        let path = format!("/v3/pay/transactions/out-trade-no/NONE?mchid={mchid}");
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let auth = new.authorization("GET", &path, "", ts, &saoma_wechatpay::aead::random_string(32).unwrap());
        let raw = saoma_wechatpay::client::http(&s.base, "GET", &path, &[("Authorization", &auth)], "").unwrap();
        assert_eq!(raw.status, 404, "{b}: the new key is accepted: {}", raw.body);
    }
}
