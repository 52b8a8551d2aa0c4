//! The shop through a real server on both backends: a manager lists a product in the console (multipart
//! form with a PNG picture; bad prices, stocks, pictures refused with nothing stored), changes price and
//! stock, hides it; another merchant's manager can neither see nor change it; the public shop page and
//! product card; buying (login first, the card's form placing one order however often it is posted, the
//! stock checked), paying at the cashier, stock taken by the payment; the last item paid for by two
//! buyers — one pays, the other is told 已售罄 and keeps every fen; the inbox of paid orders (buyer
//! masked) and a message the buyer reads in the wallet, nobody else. Many buyers paying for the last
//! items at once never oversell. In headless Chromium (`shop_browser.py`): the manager lists a product
//! with stock 1, two buyers in two browsers pay at the same moment, one wins, the other is told it sold
//! out; the manager writes to the winner, who reads it in the wallet. `SAOMA_SCREENS=DIR` saves shop-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::{Arc, Barrier};
use support::{db_rows, Server};

fn admin(s: &Server, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = http(&s.base, method, path, &[("Authorization", &format!("Bearer {}", token.trim())), ("Content-Type", "application/json")], &body.to_string()).unwrap();
    (r.status, r.json())
}

fn add_staff(s: &Server, mchid: &str, phone: &str, role: &str) {
    let (st, v) = admin(s, "POST", &format!("/admin/merchants/{mchid}/staff"), &json!({"phone": phone, "name": "店员", "role": role, "password": "staff-pass-1"}));
    assert_eq!(st, 201, "{v}");
}

fn console_code(s: &Server, phone: &str) -> String {
    let (_, v) = admin(s, "GET", &format!("/admin/sms?phone={phone}"), &Value::Null);
    v["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "console").expect("no console code")["code"].as_str().unwrap().to_string()
}

fn post(s: &Server, path: &str, cookie: &str, form: &str) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str())];
    if !cookie.is_empty() {
        h.push(("Cookie", cookie));
    }
    http(&s.base, "POST", path, &h, form).unwrap()
}

fn get(s: &Server, path: &str, cookie: &str) -> HttpResponse {
    let h: Vec<(&str, &str)> = if cookie.is_empty() { vec![] } else { vec![("Cookie", cookie)] };
    http(&s.base, "GET", path, &h, "").unwrap()
}

fn set_cookie(r: &HttpResponse) -> String {
    r.header("set-cookie").unwrap_or_else(|| panic!("no cookie: {} {}", r.status, r.body)).split(';').next().unwrap().to_string()
}

/// The console's three login steps: the live session's cookie.
fn console_login(s: &Server, phone: &str) -> String {
    assert_eq!(post(s, "/console/sms", "", &format!("phone={phone}")).status, 200);
    let r = post(s, "/console/login", "", &format!("phone={phone}&code={}", console_code(s, phone)));
    assert_eq!(r.status, 303, "{}", r.body);
    let r = post(s, "/console/password", &set_cookie(&r), "password=staff-pass-1");
    assert_eq!(r.status, 303, "{}", r.body);
    set_cookie(&r)
}

/// A raw HTTP exchange with a binary body: status, headers (lower-cased) and body bytes.
fn raw(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let host = s.base.strip_prefix("http://").unwrap();
    let mut c = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    (status, headers, all[end + 4..].to_vec())
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe not utf-8 \x80\x81";

/// The console's product form as a browser posts it (multipart, the picture a file).
fn add_product(s: &Server, cookie: &str, name: &str, price: &str, stock: &str, picture: &[u8]) -> (u16, String) {
    let b = "----saomaTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in [("name", name), ("price", price), ("stock", stock)] {
        body.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(picture);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={b}");
    let (st, _, page) = raw(s, "POST", "/console/products", &[("Content-Type", &ct), ("Origin", &s.base), ("Cookie", cookie)], &body);
    (st, String::from_utf8(page).unwrap())
}

/// The `data-id` of the product named `name` on a console or shop page.
fn product_id(page: &str, name: &str) -> String {
    let at = page.find(&format!(">{name}<")).unwrap_or_else(|| panic!("{name} not on the page: {page}"));
    let before = &page[..at];
    let id_at = before.rfind("data-id=\"").unwrap() + 9;
    before[id_at..id_at + 32].to_string()
}

/// The buyer's wallet cookie.
fn buyer(s: &Server, phone: &str, balance: i64) -> String {
    support::user(s, phone, balance);
    format!("saoma_wallet={}", s.wallet_session(phone).strip_prefix("Bearer ").unwrap())
}

/// The card's buy form: its token and price.
fn buy_form(s: &Server, card: &str, cookie: &str) -> (String, String) {
    let r = get(s, card, cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    let field = |name: &str| {
        let at = r.body.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name}: {}", r.body)) + name.len() + 15;
        r.body[at..].split('"').next().unwrap().to_string()
    };
    (field("token"), field("price"))
}

/// Orders `qty` from the card: the cashier's path.
fn order(s: &Server, card: &str, cookie: &str, qty: i64) -> String {
    let (token, price) = buy_form(s, card, cookie);
    let r = post(s, &format!("{card}/buy"), cookie, &format!("qty={qty}&token={token}&price={price}"));
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_string();
    assert!(to.starts_with("/cashier/h5?prepay_id=wx"), "{to}");
    to
}

fn prepay_id(cashier: &str) -> &str {
    cashier.split("prepay_id=").nth(1).unwrap()
}

fn stock(s: &Server, name: &str) -> i64 {
    db_rows(s, &format!("SELECT stock FROM shop_products WHERE name = '{name}'"))[0][0].int()
}

#[test]
fn products_buying_sold_out_inbox_and_messages() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("水果店 Fruit", "public_key");
        let other = s.merchant("别家 Other", "public_key");
        let (mchid, other_id) = (m["mchid"].as_str().unwrap().to_string(), other["mchid"].as_str().unwrap().to_string());
        add_staff(&s, &mchid, "13500000001", "manager");
        add_staff(&s, &mchid, "13500000002", "cashier");
        add_staff(&s, &other_id, "13500000003", "manager");
        let manager = console_login(&s, "13500000001");
        let cashier = console_login(&s, "13500000002");
        let stranger = console_login(&s, "13500000003");

        // Listing a product: managers only; every bad field refused with nothing stored.
        let r = get(&s, "/console/products", &manager);
        assert!(r.status == 200 && r.body.contains("enctype=\"multipart/form-data\"") && r.body.contains("href=\"/console/inbox\""), "{}", r.body);
        assert_eq!(get(&s, "/console/products", &cashier).status, 403);
        assert_eq!(add_product(&s, &cashier, "苹果", "12.50", "5", PNG).0, 403);
        for (price, stock, picture, says) in [
            ("12.345", "5", PNG, "最多两位小数"),
            ("0", "5", PNG, ""),
            ("1e3", "5", PNG, ""),
            ("12.50", "-1", PNG, "库存请填写"),
            ("12.50", "2.5", PNG, "库存请填写"),
            ("12.50", "5", &b"GIF89a......"[..], "PNG 或 JPEG"),
            ("12.50", "5", &b"<svg onload=alert(1)>"[..], "PNG 或 JPEG"),
        ] {
            let (st, page) = add_product(&s, &manager, "苹果", price, stock, picture);
            assert!(st == 400 && page.contains("role=\"alert\"") && page.contains(says), "{b}: {price} {stock}: {st} {page}");
        }
        let mut big = PNG.to_vec();
        big.resize((1 << 20) + 1, 0);
        let (st, page) = add_product(&s, &manager, "苹果", "12.50", "5", &big);
        assert!(st == 400 && page.contains("不能超过 1 MB"), "{b}: {st}");
        let (st, _, _) = raw(&s, "POST", "/console/products", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &s.base), ("Cookie", &manager)], b"name=x&price=1&stock=1");
        assert_eq!(st, 400);
        assert!(db_rows(&s, "SELECT id FROM shop_products").is_empty(), "{b}: a refused form stored a product");
        let (st, page) = add_product(&s, &manager, "苹果", "12.50", "5", PNG);
        assert!(st == 200 && page.contains("已上架 苹果"), "{b}: {st} {page}");
        let id = product_id(&page, "苹果");
        let card = format!("/shop/{mchid}/p/{id}");

        // The picture: as stored, its own type, never sniffed; another merchant's path finds nothing.
        let (st, headers, bytes) = raw(&s, "GET", &format!("{card}/picture"), &[], b"");
        let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!((st, h("content-type"), h("x-content-type-options")), (200, Some("image/png"), Some("nosniff")), "{b}");
        assert_eq!(bytes, PNG);
        assert_eq!(raw(&s, "GET", &format!("/shop/{other_id}/p/{id}/picture"), &[], b"").0, 404);

        // Another merchant's manager: not on their page, and neither changed nor hidden by them.
        assert!(!get(&s, "/console/products", &stranger).body.contains("苹果"));
        assert_eq!(post(&s, &format!("/console/products/{id}"), &stranger, "price=0.01&stock=999").status, 404);
        assert_eq!(post(&s, &format!("/console/products/{id}/hidden"), &stranger, "hidden=1").status, 404);
        assert_eq!(raw(&s, "GET", &format!("/console/products/{id}/picture"), &[("Cookie", &stranger)], b"").0, 404);
        assert_eq!(db_rows(&s, "SELECT price, stock, hidden FROM shop_products")[0], [support::Cell::Int(1250), support::Cell::Int(5), support::Cell::Int(0)], "{b}");
        // The manager changes price and stock.
        let r = post(&s, &format!("/console/products/{id}"), &manager, "price=9.9&stock=3");
        assert!(r.status == 200 && r.body.contains("已保存"), "{}", r.body);
        assert_eq!(post(&s, &format!("/console/products/{id}"), &manager, "price=abc&stock=3").status, 400);
        assert_eq!((db_rows(&s, "SELECT price FROM shop_products")[0][0].int(), stock(&s, "苹果")), (990, 3));

        // The public pages: the shop, the card with its share link and QR; a visitor is asked to log in
        // and comes back to the card.
        let r = get(&s, &format!("/shop/{mchid}"), "");
        assert!(r.status == 200 && r.body.contains("水果店 Fruit 的店铺") && r.body.contains("¥9.90") && r.body.contains("库存 3 件"), "{}", r.body);
        let r = get(&s, &card, "");
        assert!(r.body.contains("action=\"/cashier/sms\"") && r.body.contains(&format!("name=\"next\" value=\"{card}\"")), "{}", r.body);
        assert!(r.body.contains(&format!("value=\"{}{card}\"", s.base)) && r.body.contains(&format!("src=\"{card}/qr.svg\"")), "{}", r.body);
        let qr = get(&s, &format!("{card}/qr.svg"), "");
        assert!(qr.status == 200 && qr.header("content-type") == Some("image/svg+xml"), "{}", qr.status);
        assert_eq!(get(&s, &format!("/shop/{other_id}/p/{id}"), "").status, 404);
        assert_eq!(get(&s, &format!("/shop/{mchid}/p/nothex"), "").status, 404);

        // Buying: the card's form places one order however often it is posted; quantities checked.
        let alice = buyer(&s, "13900000001", 10_000);
        let (token, price) = buy_form(&s, &card, &alice);
        let first = post(&s, &format!("{card}/buy"), &alice, &format!("qty=2&token={token}&price={price}"));
        assert_eq!(first.status, 303, "{}", first.body);
        let again = post(&s, &format!("{card}/buy"), &alice, &format!("qty=2&token={token}&price={price}"));
        assert_eq!(again.header("location"), first.header("location"), "{b}: the same form twice, one order");
        assert_eq!(post(&s, &format!("{card}/buy"), &alice, &format!("qty=3&token={token}&price={price}")).status, 409, "the token with another quantity");
        let (token2, _) = buy_form(&s, &card, &alice);
        for (qty, status, says) in [("0", 400, "购买数量请填写"), ("abc", 400, "购买数量请填写"), ("4", 409, "库存只剩 3 件")] {
            let r = post(&s, &format!("{card}/buy"), &alice, &format!("qty={qty}&token={token2}&price={price}"));
            assert!(r.status == status && r.body.contains(says), "{b}: {qty}: {} {}", r.status, r.body);
        }
        assert_eq!(post(&s, &format!("{card}/buy"), &alice, &format!("qty=1&token={token2}&price=1")).status, 409, "a stale price");
        assert_eq!(post(&s, &format!("{card}/buy"), "", &format!("qty=1&token={token2}&price={price}")).status, 401);
        assert_eq!(db_rows(&s, "SELECT order_id FROM shop_orders").len(), 1, "{b}: refused forms placed no order");
        let cashier_path = first.header("location").unwrap().to_string();
        let r = get(&s, &cashier_path, &alice);
        assert!(r.body.contains("¥19.80") && r.body.contains("苹果"), "{}", r.body);
        let r = post(&s, "/cashier/pay", &alice, &format!("prepay_id={}", prepay_id(&cashier_path)));
        assert_eq!(r.status, 303, "{b}: {}", r.body);
        assert!(r.header("location").unwrap().starts_with("/cashier/result?"), "{:?}", r.header("location"));
        let receipt = get(&s, r.header("location").unwrap(), &alice);
        assert!(receipt.body.contains(&format!("href=\"/shop/{mchid}\"")), "完成 goes back to the shop: {}", receipt.body);
        assert_eq!(stock(&s, "苹果"), 1);
        assert_eq!(support::balance(&s, &format!("Bearer {}", alice.strip_prefix("saoma_wallet=").unwrap())), 10_000 - 1_980);
        let c = s.client(&m);
        let q = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/SP{token}?mchid={mchid}"), "").unwrap();
        assert_eq!((q.json()["trade_state"].as_str(), q.json()["amount"]["total"].as_i64()), (Some("SUCCESS"), Some(1_980)), "{}", q.body);

        // The last one, ordered by two: the first to pay has it; the other is told it sold out, and
        // nothing moves (the wallet API says SOLD_OUT too).
        let bob = buyer(&s, "13900000002", 10_000);
        let carol = buyer(&s, "13900000003", 10_000);
        let (to_bob, to_carol) = (order(&s, &card, &bob, 1), order(&s, &card, &carol, 1));
        assert_eq!(post(&s, "/cashier/pay", &bob, &format!("prepay_id={}", prepay_id(&to_bob))).status, 303);
        let r = post(&s, "/cashier/pay", &carol, &format!("prepay_id={}", prepay_id(&to_carol)));
        assert!(r.status == 409 && r.body.contains("id=\"sold-out\">已售罄<") && r.body.contains("你没有被扣款"), "{b}: {} {}", r.status, r.body);
        // Opened again, the cashier says so before any button is pressed.
        let r = get(&s, &to_carol, &carol);
        assert!(r.status == 409 && r.body.contains("id=\"sold-out\"") && !r.body.contains("id=\"pay\""), "{b}: {} {}", r.status, r.body);
        let carol_bearer = format!("Bearer {}", carol.strip_prefix("saoma_wallet=").unwrap());
        let (st, v) = support::wallet_call(&s, &carol_bearer, "POST", "/wallet/pay", &json!({"code": prepay_id(&to_carol)}).to_string());
        assert_eq!((st, v["code"].as_str()), (400, Some("SOLD_OUT")), "{b}: {v}");
        assert_eq!(support::balance(&s, &carol_bearer), 10_000, "{b}: the loser keeps every fen");
        assert_eq!(stock(&s, "苹果"), 0);
        assert!(get(&s, &card, &carol).body.contains("id=\"sold-out\""), "the card says it sold out");
        let paid = db_rows(&s, &format!("SELECT COUNT(*) FROM orders WHERE mchid = '{mchid}' AND trade_state = 'SUCCESS'"))[0][0].int();
        assert_eq!(paid, 2, "{b}");

        // Hidden: gone from the shop, its card and picture.
        let r = post(&s, &format!("/console/products/{id}/hidden"), &manager, "hidden=1");
        assert!(r.status == 200 && r.body.contains("已下架 苹果"), "{}", r.body);
        assert!(!get(&s, &format!("/shop/{mchid}"), "").body.contains("苹果"));
        assert_eq!(get(&s, &card, "").status, 404);
        assert_eq!(raw(&s, "GET", &format!("{card}/picture"), &[], b"").0, 404);
        assert_eq!(raw(&s, "GET", &format!("/console/products/{id}/picture"), &[("Cookie", &manager)], b"").0, 200, "the manager still sees it");

        // The inbox: paid orders, buyers masked; nobody else's; a message to the buyer, read in the wallet.
        let inbox = get(&s, "/console/inbox", &manager);
        assert!(inbox.body.contains("139****0001") && inbox.body.contains("139****0002") && !inbox.body.contains("13900000001"), "{}", inbox.body);
        assert!(!inbox.body.contains("139****0003"), "{b}: the loser did not buy");
        assert_eq!(get(&s, "/console/inbox", &cashier).status, 403);
        assert!(!get(&s, "/console/inbox", &stranger).body.contains("苹果"));
        let alice_order = db_rows(&s, "SELECT order_id FROM shop_orders WHERE buyer_phone = '139****0001'")[0][0].render();
        let path = format!("/console/inbox/{alice_order}/message");
        assert_eq!(post(&s, &path, &stranger, "body=hello").status, 404, "{b}: another merchant's order");
        assert_eq!(post(&s, &path, &manager, "body=%20%20").status, 400);
        let carol_order = db_rows(&s, "SELECT order_id FROM shop_orders WHERE paid_at IS NULL")[0][0].render();
        assert_eq!(post(&s, &format!("/console/inbox/{carol_order}/message"), &manager, "body=hi").status, 404, "an unpaid order");
        assert!(db_rows(&s, "SELECT id FROM shop_messages").is_empty());
        let r = post(&s, &path, &manager, "body=%E5%B7%B2%E5%8F%91%E8%B4%A7%EF%BC%8C%3Cb%3E%E8%B0%A2%E8%B0%A2%3C%2Fb%3E");
        assert!(r.status == 200 && r.body.contains("消息已发送") && r.body.contains("已发货，&lt;b&gt;谢谢&lt;/b&gt;"), "{}", r.body);
        let home = get(&s, "/", &alice);
        assert!(home.body.contains("1 条未读") && home.body.contains("href=\"/messages\""), "{}", home.body);
        let msgs = get(&s, "/messages", &alice);
        assert!(msgs.body.contains("已发货，&lt;b&gt;谢谢&lt;/b&gt;") && msgs.body.contains("水果店 Fruit · 苹果") && msgs.body.contains(">新<"), "{}", msgs.body);
        assert!(!get(&s, "/", &alice).body.contains("条未读"), "read once opened");
        assert!(get(&s, "/messages", &bob).body.contains("id=\"no-messages\""), "{b}: only the buyer's own");
        assert!(get(&s, "/messages", "").body.contains("action=\"/cashier/sms\""));
        assert!(get(&s, "/messages?lang=en", &alice).body.contains("Messages"));
        support::ledger_check(&s);
    }
}

/// Pays every cashier path at once (each buyer's own), released together: the statuses.
fn pay_all_at_once(s: &Server, buyers: &[(String, String)]) -> Vec<u16> {
    let gate = Arc::new(Barrier::new(buyers.len()));
    let threads: Vec<_> = buyers
        .iter()
        .cloned()
        .map(|(cookie, to)| {
            let (gate, base) = (gate.clone(), s.base.clone());
            std::thread::spawn(move || {
                let form = format!("prepay_id={}", prepay_id(&to));
                gate.wait();
                let r = http(&base, "POST", "/cashier/pay", &[("Content-Type", "application/x-www-form-urlencoded"), ("Origin", &base), ("Cookie", &cookie)], &form).unwrap();
                assert!(r.status == 303 || r.body.contains("已售罄"), "{} {}", r.status, r.body);
                r.status
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn many_buyers_paying_for_the_last_items_at_once_never_oversell() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("抢购 Rush", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        add_staff(&s, &mchid, "13400000001", "manager");
        let manager = console_login(&s, "13400000001");
        for (round, (name, stock_left, qty, buyers)) in [("雨伞", 3, 1, 12), ("手套", 5, 2, 8)].into_iter().enumerate() {
            let (st, page) = add_product(&s, &manager, name, "1.00", &stock_left.to_string(), PNG);
            assert_eq!(st, 200, "{page}");
            let card = format!("/shop/{mchid}/p/{}", product_id(&page, name));
            let people: Vec<(String, String)> = (0..buyers)
                .map(|i| {
                    let cookie = buyer(&s, &format!("1330000{round}{i:03}"), 1_000);
                    let to = order(&s, &card, &cookie, qty);
                    (cookie, to)
                })
                .collect();
            let statuses = pay_all_at_once(&s, &people);
            let winners = statuses.iter().filter(|st| **st == 303).count() as i64;
            assert_eq!(winners, stock_left / qty, "{b}: {name}: {statuses:?}");
            assert_eq!(stock(&s, name), stock_left - winners * qty, "{b}: {name}");
            // Every buyer paid in full or not at all.
            for ((cookie, _), st) in people.iter().zip(&statuses) {
                let left = support::balance(&s, &format!("Bearer {}", cookie.strip_prefix("saoma_wallet=").unwrap()));
                assert_eq!(left, if *st == 303 { 1_000 - 100 * qty } else { 1_000 }, "{b}: {name}");
            }
            let sold = db_rows(&s, &format!("SELECT CAST(COALESCE(SUM(qty), 0) AS BIGINT) FROM shop_orders s JOIN shop_products p ON p.id = s.product_id WHERE p.name = '{name}' AND s.paid_at IS NOT NULL"));
            assert_eq!(sold[0][0].int(), winners * qty, "{b}");
        }
        support::ledger_check(&s);
    }
}

#[test]
fn browser_two_buyers_one_last_item_and_a_message() {
    if !support::browser_available("shop") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/shop_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("小卖部 Kiosk", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        add_staff(&s, &mchid, "13200000001", "manager");
        let (winner_phone, loser_phone) = ("13200000011", "13200000012");
        support::user(&s, winner_phone, 5_000);
        support::user(&s, loser_phone, 5_000);
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({"base": s.base, "manager_phone": "13200000001", "password": "staff-pass-1", "buyers": [winner_phone, loser_phone], "screens": screens});
        let (mut outcome, mut read) = (Vec::new(), String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone, purpose] => {
                let (_, v) = admin(&s, "GET", &format!("/admin/sms?phone={phone}"), &Value::Null);
                Some(v["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == *purpose).expect("no code")["code"].as_str().unwrap().to_string())
            }
            ["STOCK"] => Some(stock(&s, "最后一瓶水").to_string()),
            ["PAID", phone, result] => {
                outcome.push((phone.to_string(), result.to_string()));
                None
            }
            ["READ", text @ ..] => {
                read = text.join(" ");
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        outcome.sort();
        let results: Vec<&str> = outcome.iter().map(|(_, r)| r.as_str()).collect();
        assert!(results == ["paid", "sold_out"] || results == ["sold_out", "paid"], "{b}: {outcome:?}");
        assert_eq!(stock(&s, "最后一瓶水"), 0, "{b}");
        let winner = outcome.iter().find(|(_, r)| r == "paid").unwrap().0.clone();
        let loser = outcome.iter().find(|(_, r)| r == "sold_out").unwrap().0.clone();
        // (The browsers' login codes were texted just now: one code a minute per phone.)
        support::advance(&s, "61s");
        assert_eq!(support::balance(&s, &s.wallet_session(&loser)), 5_000, "{b}: the loser's balance is unchanged");
        assert_eq!(support::balance(&s, &s.wallet_session(&winner)), 5_000 - 350, "{b}");
        assert_eq!(read, "你好，水已发货，谢谢惠顾！", "{b}: the winner read the manager's message");
        support::ledger_check(&s);
    }
}
