//! The wallet's bank card and agreement pages (`/cards`, `/cards/topup`, `/cards/withdraw`,
//! `/agreements`) through a real server on both backends, as a browser's forms post them: binding a card
//! (a bad number, a wrong PIN, a card the bank will not bind, a wrong and a right bank code, the same card
//! again), a top-up, the same form sent twice and two copies at once moving the money once, a bad
//! amount, a withdrawal above the balance and one within it, a declined card, a slow card pending and
//! then settled, a wrong PIN and the lock; a merchant's proposal (v3) signed and ended on the pages.
//! And in headless Chromium (`wallet_cards_browser.py`): log in, bind a card with the bank's code, top up
//! ¥100.00, the new balance on `/`; sign a merchant's proposal with the PIN and end it. `SAOMA_SCREENS=DIR` saves the pages as cards-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse as Response, V3Client};
use serde_json::{json, Value};
use support::{balance, bank_code, ledger_check, user, Server};

fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn get(s: &Server, cookie: &str, path: &str) -> Response {
    http(&s.base, "GET", path, &[("Cookie", cookie)], "").unwrap()
}

fn post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
    let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    http(&s.base, "POST", path, &[("Cookie", cookie), ("Origin", &s.base), ("Content-Type", "application/x-www-form-urlencoded")], &body).unwrap()
}

/// The value of the first `name="NAME" value="…"` (hidden fields) or `option value="…"` in a page.
fn field(page: &str, name: &str) -> String {
    let marker = if name == "option" { "<option value=\"".to_string() } else { format!("name=\"{name}\" value=\"") };
    page.split(&marker).nth(1).unwrap_or_else(|| panic!("no {name} in {page}")).split('"').next().unwrap().to_string()
}

/// A money form drawn afresh: (request_id, the id of the card ending in `tail`).
fn form(s: &Server, cookie: &str, path: &str, tail: &str) -> (String, String) {
    let page = get(s, cookie, path);
    assert_eq!(page.status, 200, "{}", page.body);
    // The option whose label (not its value: a card id may hold the same digits) ends in the tail.
    let card = page
        .body
        .split("<option value=\"")
        .skip(1)
        .find(|o| o.split_once('>').and_then(|(_, label)| label.split('<').next()).is_some_and(|label| label.trim().ends_with(tail)))
        .unwrap_or_else(|| panic!("no card {tail}: {}", page.body))
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (field(&page.body, "request_id"), card)
}

fn money(s: &Server, cookie: &str, path: &str, amount: &str, card: &str, pin: &str, request_id: &str) -> Response {
    post(s, cookie, path, &[("amount", amount), ("card", card), ("pin", pin), ("request_id", request_id)])
}

/// Binds `card_no` through the pages; the page that answered the code.
fn bind(s: &Server, cookie: &str, phone: &str, card_no: &str) -> Response {
    let r = post(s, cookie, "/cards/bind", &[("card_no", card_no), ("pin", "123456")]);
    assert_eq!(r.status, 200, "{}: {}", s.backend, r.body);
    assert!(r.body.contains("输入银行验证码"), "{}", r.body);
    post(s, cookie, "/cards/bind/confirm", &[("binding", &field(&r.body, "binding")), ("tail", &card_no[card_no.len() - 4..]), ("code", &bank_code(s, phone))])
}

fn v3(c: &V3Client, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = c.request(method, path, &if body.is_null() { String::new() } else { body.to_string() }).unwrap();
    (r.status, r.json())
}

#[test]
fn cards_and_agreements_over_http() {
    for s in Server::all(true) {
        let b = s.backend;
        // Logged out: the login, coming back to the page asked for.
        let r = http(&s.base, "GET", "/cards/topup", &[], "").unwrap();
        assert!(r.status == 200 && r.body.contains("name=\"next\" value=\"/cards/topup\""), "{}", r.body);

        // The merchant first: users get their openids for its app when they are created.
        let m = s.merchant("公交公司", "public_key");
        let c = s.client(&m);
        let appid = m["appid"].as_str().unwrap();
        let phone = "13700000001";
        let openid = user(&s, phone, 10_000)["openids"][appid].as_str().unwrap().to_string();
        let session = s.wallet_session(phone);
        let cookie = format!("saoma_wallet={}", session.strip_prefix("Bearer ").unwrap());
        let r = get(&s, &cookie, "/cards");
        assert!(r.status == 200 && r.body.contains("id=\"no-cards\"") && r.body.contains("还没有绑定银行卡"), "{}", r.body);
        assert!(get(&s, &cookie, "/cards?lang=en").body.contains("No bank card yet"));
        let r = get(&s, &cookie, "/cards/topup");
        assert!(r.body.contains("请先绑定一张银行卡") && !r.body.contains("name=\"request_id\""), "no card, no money form: {}", r.body);

        // Binding: refusals say what to do, and keep what was typed.
        let r = post(&s, &cookie, "/cards/bind", &[("card_no", "1234"), ("pin", "123456")]);
        assert!(r.status == 400 && r.body.contains("卡号应为 16–19 位数字") && r.body.contains("value=\"1234\""), "{}", r.body);
        let r = post(&s, &cookie, "/cards/bind", &[("card_no", "6222 0000 0000 0001"), ("pin", "000000")]);
        assert!(r.status == 403 && r.body.contains("支付密码错误，还可以再试 4 次"), "{}", r.body);
        let r = post(&s, &cookie, "/cards/bind", &[("card_no", "6222000000000004"), ("pin", "123456")]);
        assert!(r.status == 403 && r.body.contains("银行拒绝绑定这张卡"), "{}", r.body);
        let r = post(&s, &cookie, "/cards/bind", &[("card_no", "6222 0000 0000 0001"), ("pin", "123456")]);
        assert!(r.status == 200 && r.body.contains("尾号 0001") && r.body.contains("137****0001"), "{}", r.body);
        let binding = field(&r.body, "binding");
        let r = post(&s, &cookie, "/cards/bind/confirm", &[("binding", &binding), ("tail", "0001"), ("code", "000000")]);
        assert!(r.status == 403 && r.body.contains("验证码不对，还可以再试 2 次") && r.body.contains("id=\"code\""), "{}", r.body);
        let r = post(&s, &cookie, "/cards/bind/confirm", &[("binding", &binding), ("tail", "0001"), ("code", &bank_code(&s, phone))]);
        assert!(r.status == 200 && r.body.contains("绑定成功") && r.body.contains("尾号 0001 的银行卡已绑定"), "{b}: {}", r.body);
        let r = post(&s, &cookie, "/cards/bind", &[("card_no", "6222000000000001"), ("pin", "123456")]);
        assert!(r.status == 409 && r.body.contains("已经绑定在你的钱包里"), "{}", r.body);
        let r = get(&s, &cookie, "/cards");
        assert!(r.body.contains("data-tail=\"0001\"") && !r.body.contains("6222000000000001"), "never the whole number: {}", r.body);

        // A top-up of ¥100.00; the same form sent again moves nothing more.
        let (rid, card) = form(&s, &cookie, "/cards/topup", "0001");
        let r = money(&s, &cookie, "/cards/topup", "100", &card, "123456", &rid);
        assert!(r.status == 200 && r.body.contains("data-state=\"succeeded\"") && r.body.contains("充值成功") && r.body.contains("钱包余额 ¥200.00"), "{b}: {}", r.body);
        assert_eq!(balance(&s, &session), 20_000);
        let again = money(&s, &cookie, "/cards/topup", "100", &card, "123456", &rid);
        assert!(again.status == 200 && again.body.contains("data-state=\"succeeded\""), "{}", again.body);
        assert_eq!(balance(&s, &session), 20_000, "{b}: a double submit moves the money once");
        // Two copies of a new form sent at once: one top-up.
        let (rid, _) = form(&s, &cookie, "/cards/topup", "0001");
        let answers: Vec<Response> = std::thread::scope(|t| {
            let hs: Vec<_> = (0..2).map(|_| t.spawn(|| money(&s, &cookie, "/cards/topup", "12.50", &card, "123456", &rid))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for a in &answers {
            assert!(a.status == 200 && a.body.contains("¥12.50"), "{b}: {}", a.body);
        }
        assert_eq!(balance(&s, &session), 21_250, "{b}: two copies of one form moved the money once");
        // The same request_id for another amount: a new form, nothing moved.
        let r = money(&s, &cookie, "/cards/topup", "13", &card, "123456", &rid);
        assert!(r.status == 409 && r.body.contains("这个表单已经提交过另一笔操作") && field(&r.body, "request_id") != rid, "{}", r.body);
        // A bad amount, and a form this server did not draw.
        let (rid, _) = form(&s, &cookie, "/cards/topup", "0001");
        let r = money(&s, &cookie, "/cards/topup", "12.345", &card, "123456", &rid);
        assert!(r.status == 400 && r.body.contains("请按元输入金额") && field(&r.body, "request_id") == rid, "{}", r.body);
        let r = money(&s, &cookie, "/cards/topup", "1", &card, "123456", "forged");
        assert_eq!(r.status, 400, "{}", r.body);

        // Withdrawals: above the balance refused, within it paid out.
        let (rid, _) = form(&s, &cookie, "/cards/withdraw", "0001");
        let r = money(&s, &cookie, "/cards/withdraw", "500", &card, "123456", &rid);
        assert!(r.status == 403 && r.body.contains("可提现余额 ¥212.50，不够提现 ¥500.00"), "{}", r.body);
        let r = money(&s, &cookie, "/cards/withdraw", "50.5", &card, "123456", &rid);
        assert!(r.status == 200 && r.body.contains("提现成功") && r.body.contains("已把 ¥50.50 提现到尾号 0001 的银行卡"), "{}", r.body);
        assert_eq!(balance(&s, &session), 16_200);

        // A declined card: nothing moves, and the page says so.
        assert_eq!(bind(&s, &cookie, phone, "6222000000000002").status, 200);
        let (rid, declined) = form(&s, &cookie, "/cards/topup", "0002");
        let r = money(&s, &cookie, "/cards/topup", "30", &declined, "123456", &rid);
        assert!(r.status == 200 && r.body.contains("data-state=\"failed\"") && r.body.contains("银行已拒绝") && r.body.contains("都没有变动"), "{}", r.body);
        assert_eq!(balance(&s, &session), 16_200);
        // A slow card: pending at the bank, and it settles by itself.
        assert_eq!(bind(&s, &cookie, phone, "6222000000000003").status, 200);
        let (rid, slow) = form(&s, &cookie, "/cards/topup", "0003");
        let r = money(&s, &cookie, "/cards/topup", "10", &slow, "123456", &rid);
        assert!(r.status == 200 && r.body.contains("data-state=\"pending\"") && r.body.contains("结果出来后会自动入账"), "{}", r.body);
        support::advance(&s, "11s");
        let t = std::time::Instant::now();
        while balance(&s, &session) != 17_200 && t.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert_eq!(balance(&s, &session), 17_200, "{b}: the slow top-up settled");

        // A wrong PIN moves nothing and says how many tries are left; the fifth locks.
        let (rid, _) = form(&s, &cookie, "/cards/withdraw", "0001");
        let r = money(&s, &cookie, "/cards/withdraw", "1", &card, "111111", &rid);
        assert!(r.status == 403 && r.body.contains("还可以再试 4 次") && field(&r.body, "request_id") == rid, "{}", r.body);
        for _ in 0..3 {
            money(&s, &cookie, "/cards/withdraw", "1", &card, "111111", &rid);
        }
        let r = money(&s, &cookie, "/cards/withdraw", "1", &card, "111111", &rid);
        assert!(r.status == 403 && r.body.contains("锁定至"), "{}", r.body);
        let r = money(&s, &cookie, "/cards/withdraw", "1", &card, "123456", &rid);
        assert!(r.status == 403 && r.body.contains("锁定至"), "even the right PIN waits: {}", r.body);
        assert_eq!(balance(&s, &session), 17_200);

        // Agreements: a merchant proposes over v3; the user signs and ends it on the pages.
        user(&s, "13700000002", 0);
        let bob = s.wallet_session("13700000002");
        let bob = format!("saoma_wallet={}", bob.strip_prefix("Bearer ").unwrap());
        let r = get(&s, &cookie, "/agreements");
        assert!(r.body.contains("id=\"no-agreements\""), "{}", r.body);
        let (st, a) = v3(&c, "POST", "/v3/agreements", json!({"appid": appid, "mchid": m["mchid"], "out_contract_code": "PAGES01", "openid": openid, "description": "乘车码 <免密> 支付", "limits": {"per_charge": 500, "per_day": 1_200}}));
        assert_eq!(st, 200, "{a}");
        let contract = a["contract_id"].as_str().unwrap().to_string();
        let r = get(&s, &cookie, "/agreements");
        assert!(r.body.contains("公交公司") && r.body.contains("乘车码 &lt;免密&gt; 支付") && r.body.contains("¥5.00") && r.body.contains("¥12.00") && r.body.contains("待你确认"), "{}", r.body);
        let r = post(&s, &bob, "/agreements/sign", &[("contract_id", &contract), ("pin", "123456")]);
        assert!(r.status == 404 && r.body.contains("找不到这份协议"), "another user's agreement: {}", r.body);
        let r = post(&s, &cookie, "/agreements/sign", &[("contract_id", &contract), ("pin", "123456")]);
        assert!(r.status == 403 && r.body.contains("锁定至"), "the PIN is still locked: {}", r.body);
        assert_eq!(v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1["state"], "PROPOSED");
        support::advance(&s, "3h");
        let r = post(&s, &cookie, "/agreements/sign", &[("contract_id", &contract), ("pin", "000000")]);
        assert!(r.status == 403 && r.body.contains("还可以再试 4 次"), "{}", r.body);
        let r = post(&s, &cookie, "/agreements/sign", &[("contract_id", &contract), ("pin", "123456")]);
        assert!(r.status == 200 && r.body.contains("签约成功") && r.body.contains("公交公司 现在可以在限额内自动扣款"), "{}", r.body);
        assert_eq!(v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1["state"], "SIGNED");
        let r = post(&s, &cookie, "/agreements/sign", &[("contract_id", &contract), ("pin", "123456")]);
        assert!(r.status == 409 && r.body.contains("已经签约"), "{}", r.body);
        let r = get(&s, &cookie, "/agreements");
        assert!(r.body.contains("已生效") && r.body.contains(&format!("/agreements/terminate?contract_id={contract}")), "{}", r.body);
        let r = get(&s, &cookie, &format!("/agreements/terminate?contract_id={contract}"));
        assert!(r.status == 200 && r.body.contains("确认解约") && r.body.contains("id=\"terminate-no\""), "{}", r.body);
        assert_eq!(v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1["state"], "SIGNED", "looking at the confirm step ends nothing");
        let r = post(&s, &bob, "/agreements/terminate", &[("contract_id", &contract)]);
        assert_eq!(r.status, 404, "{}", r.body);
        let r = post(&s, &cookie, "/agreements/terminate", &[("contract_id", &contract)]);
        assert!(r.status == 200 && r.body.contains("已解约"), "{}", r.body);
        assert_eq!(post(&s, &cookie, "/agreements/terminate", &[("contract_id", &contract)]).status, 200, "sent twice");
        let t = v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1;
        assert_eq!((t["state"].as_str(), t["terminated_by"].as_str()), (Some("TERMINATED"), Some("USER")), "{t}");

        // Another site's form is refused by the web layer.
        let r = http(&s.base, "POST", "/cards/topup", &[("Cookie", &cookie), ("Origin", "https://evil.example"), ("Content-Type", "application/x-www-form-urlencoded")], "amount=1").unwrap();
        assert_eq!(r.status, 403);
        ledger_check(&s);
    }
}

#[test]
fn browser_binds_a_card_and_tops_up() {
    if !support::browser_available("wallet cards") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wallet_cards_browser.py");
    for s in Server::all(true) {
        let m = s.merchant("公交公司", "public_key");
        let c = s.client(&m);
        let appid = m["appid"].as_str().unwrap();
        let openid = user(&s, "13800000009", 5_000)["openids"][appid].as_str().unwrap().to_string();
        let (st, a) = v3(&c, "POST", "/v3/agreements", json!({"appid": appid, "mchid": m["mchid"], "out_contract_code": "BROWSER01", "openid": openid, "description": "乘车码免密支付", "limits": {"per_charge": 500, "per_day": 2_000}}));
        assert_eq!(st, 200, "{a}");
        let contract = a["contract_id"].as_str().unwrap().to_string();
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| s.backend == "sqlite");
        let spec = json!({"base": s.base, "phone": "13800000009", "pin": "123456", "card": "6222 0200 0000 0001", "contract": contract, "screens": screens});
        let (mut result, mut home) = (String::new(), String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => {
                let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
                let r = http(&s.base, "GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap();
                Some(r.json()["messages"][0]["code"].as_str().unwrap().to_string())
            }
            ["BANK_CODE", phone] => Some(bank_code(&s, phone)),
            ["RESULT", rest @ ..] => {
                result = rest.join(" ");
                None
            }
            ["BALANCE", b] => {
                home = b.to_string();
                None
            }
            ["AGREEMENT", state] => {
                assert_eq!(v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1["state"], *state, "{}", s.backend);
                Some("OK".into())
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert!(result.contains("¥100.00"), "{}: {result}", s.backend);
        assert_eq!(home, "¥150.00", "{}: 50.00 + 100.00", s.backend);
        let t = v3(&c, "GET", &format!("/v3/agreements/{contract}"), Value::Null).1;
        assert_eq!((t["state"].as_str(), t["terminated_by"].as_str()), (Some("TERMINATED"), Some("USER")), "{t}");
        ledger_check(&s);
    }
}
