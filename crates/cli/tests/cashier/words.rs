//! The cashier's words (part of the `cashier` test crate): every page and every refusal in Chinese by
//! default and in English for a browser that prefers it, each with its own message and next step; and
//! a phone without a wallet opening one at the cashier, only with its SMS code.

use super::*;

/// The same request in Chinese (by default) and in English (`Accept-Language`): the status, `<html lang>`
/// and a text of each.
#[allow(clippy::too_many_arguments)]
fn both(s: &Server, method: &str, path: &str, cookie: Option<&str>, form: &[(&str, &str)], status: u16, zh: &[&str], en: &[&str]) {
    for (lang, tag, texts) in [(None, "zh-CN", zh), (Some(EN), "en", en)] {
        let r = page_in(s, lang, method, path, cookie, form);
        assert_eq!(r.status, status, "{} {method} {path} in {tag}: {}", s.backend, r.body);
        assert!(r.body.contains(&format!("<html lang=\"{tag}\">")), "{} {path}: {}", s.backend, r.body);
        for t in texts {
            assert!(r.body.contains(t), "{} {method} {path} in {tag} lacks {t:?}: {}", s.backend, r.body);
        }
    }
}

/// Every page and every refusal in Chinese by default and in English for a browser that prefers it,
/// each with its own message that says what to do next; the explicit switch (`?lang=en`, remembered in
/// a cookie for the forms that follow).
#[test]
fn every_page_speaks_chinese_and_english() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("Dumplings 饺子", "public_key");
        let c = s.client(&m);
        let appid = m["appid"].as_str().unwrap();
        let (pa, pb) = ("13600000001", "13600000002");
        let a = support::user(&s, pa, 200_000);
        support::user(&s, pb, 10_000);
        let path = path_of(&h5_order(&c, &m, "WORDS001", "饺子 x12", 1_250), &s);
        let prepay = path.split("prepay_id=").nth(1).unwrap().to_string();

        // Logged out: the order and the login, money as ¥12.50.
        both(&s, "GET", &path, None, &[], 200, &["登录后付款", "获取验证码", "¥12.50", "收银台 · saoma"], &["Log in to pay", "Send code", "¥12.50", "Checkout · saoma"]);
        // Links that lead to no payable order, each with its own words.
        both(&s, "GET", "/cashier/h5", None, &[], 400, &["缺少 prepay_id"], &["has no prepay_id"]);
        both(&s, "GET", "/cashier/h5?prepay_id=wxNOSUCHORDER", None, &[], 404, &["订单不存在", "请回到商户重新发起付款"], &["No such order", "Go back to the merchant"]);
        let closed = path_of(&h5_order(&c, &m, "WORDSCLOSED", "d", 100), &s);
        assert_eq!(c.request("POST", "/v3/pay/transactions/out-trade-no/WORDSCLOSED/close", &json!({"mchid": m["mchid"]}).to_string()).unwrap().status, 204);
        both(&s, "GET", &closed, None, &[], 410, &["订单已关闭", "重新下单"], &["Order closed", "The merchant closed this order"]);
        let bad_back = format!("{path}&redirect_url=javascript%3Aalert(1)");
        both(&s, "GET", &bad_back, None, &[], 400, &["返回地址无效", "redirect_url"], &["Bad return address", "redirect_url"]);
        both(&s, "GET", "/cashier/result?transaction_id=4200000000", None, &[], 404, &["没有这笔付款"], &["No such payment"]);
        both(&s, "GET", "/cashier/done", None, &[], 200, &["可以关闭此页面"], &["you can close this page now"]);
        both(&s, "GET", "/collect/1600000000", None, &[], 404, &["商户不存在", "索取正确的收款码"], &["No such merchant", "Ask the merchant for its code"]);
        let collect = format!("/collect/{}", m["mchid"].as_str().unwrap());
        both(&s, "GET", &collect, None, &[], 200, &["向商家付款", "Dumplings 饺子 的收款码"], &["Pay the merchant", "collection code"]);
        for (lang, says) in [(None, "这个表单来自其他网站"), (Some(EN), "This form was sent from another site")] {
            let mut h = vec![("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "http://evil.example")];
            h.extend(lang.map(|l| ("Accept-Language", l)));
            let r = http(&s.base, "POST", "/cashier/pay", &h, &form_encode(&[("prepay_id", &prepay)])).unwrap();
            assert!(r.status == 403 && r.body.contains(says), "{b}: {}", r.body);
        }
        both(&s, "POST", "/cashier/sms", None, &[("phone", pa), ("next", "https://evil.example/")], 400, &["链接无效"], &["Bad link"]);
        both(&s, "POST", "/cashier/sms", None, &[("phone", "12"), ("next", &path)], 400, &["手机号格式不正确"], &["That is not a phone number we can text"]);

        // Logging in: one code per phone (the code page in each language), a wrong code, then the right one.
        let r = page(&s, "POST", "/cashier/sms", None, &[("phone", pa), ("next", &path)]);
        assert!(r.status == 200 && r.body.contains("验证码已发送至 136****0001") && r.body.contains("<html lang=\"zh-CN\">"), "{b}: {}", r.body);
        let r = page_in(&s, Some(EN), "POST", "/cashier/sms", None, &[("phone", pb), ("next", &path)]);
        assert!(r.status == 200 && r.body.contains("We sent a 6-digit code to 136****0002") && r.body.contains("<html lang=\"en\">"), "{b}: {}", r.body);
        both(&s, "POST", "/cashier/login", None, &[("phone", pa), ("code", "00000x"), ("next", &path)], 401, &["验证码错误、已使用或已过期（还可以再试 4 次）"], &["The code is wrong, used or expired (3 tries left)"]);
        // Asking again within the minute (the send limits): how long to wait; the code step stays open.
        for (lang, phone, says) in [(None, pa, "验证码刚刚发送过"), (Some(EN), pb, "A code was sent recently")] {
            let r = page_in(&s, lang, "POST", "/cashier/sms", None, &[("phone", phone), ("next", &path)]);
            let wait: i64 = r.header("retry-after").unwrap_or("0").parse().unwrap();
            assert!(r.status == 429 && (1..=60).contains(&wait) && r.body.contains(says) && r.body.contains("id=\"code\""), "{b}: {}", r.body);
            assert!(r.body.contains(&format!("{wait} 秒后")) || r.body.contains(&format!("in {wait} seconds")), "{b}: {}", r.body);
        }
        // Five wrong codes lock the phone's login: until when, then 429 with Retry-After.
        // (Guesses lock only a phone with a live code: made-up codes without one never do.)
        let pc = "13600000003";
        assert_eq!(page(&s, "POST", "/cashier/sms", None, &[("phone", pc), ("next", &path)]).status, 200);
        for _ in 0..4 {
            assert_eq!(page(&s, "POST", "/cashier/login", None, &[("phone", pc), ("code", "00000x"), ("next", &path)]).status, 401);
        }
        let r = page(&s, "POST", "/cashier/login", None, &[("phone", pc), ("code", "00000x"), ("next", &path)]);
        assert!(r.status == 401 && r.body.contains("这个手机号的登录已锁定至") && r.body.contains("（北京时间）") && r.body.contains("id=\"phone\""), "{b}: {}", r.body);
        let r = page_in(&s, Some(EN), "POST", "/cashier/login", None, &[("phone", pc), ("code", "00000x"), ("next", &path)]);
        assert!(r.status == 429 && r.header("retry-after").is_some() && r.body.contains("logging in with this phone is locked until"), "{b}: {}", r.body);
        let session_of = |phone: &str| {
            let r = page(&s, "POST", "/cashier/login", None, &[("phone", phone), ("code", &sms_code(&s, phone)), ("next", &path)]);
            assert_eq!(r.status, 303, "{b}: {}", r.body);
            r.header("set-cookie").unwrap().split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string()
        };
        let (ca, cb) = (session_of(pa), session_of(pb));

        // Logged in: who pays, the balance, the button with the amount.
        both(&s, "GET", &path, Some(&ca), &[], 200, &["付款钱包：", "136****0001", "可用余额 ", "¥2000.00", "确认支付 ¥12.50"], &["Paying from the wallet of", "Balance ", "Pay ¥12.50"]);
        // The switch: a link to the same page in the other language, remembered for the forms after it.
        let r = page(&s, "GET", &path, Some(&ca), &[]);
        assert!(r.body.contains(&format!("id=\"lang-switch\" href=\"{}&amp;lang=en\"", path.replace('&', "&amp;"))), "{b}: {}", r.body);
        let r = page(&s, "GET", &format!("{path}&lang=en"), Some(&ca), &[]);
        assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("lang=zh\""), "{b}: {}", r.body);
        assert!(r.header("set-cookie").is_some_and(|c| c.starts_with("saoma_lang=en;")), "{b}: {:?}", r.header("set-cookie"));
        let h = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", s.base.as_str()), ("Cookie", "saoma_lang=en")];
        let r = http(&s.base, "POST", "/cashier/sms", &h, &form_encode(&[("phone", "1"), ("next", &path)])).unwrap();
        assert!(r.status == 400 && r.body.contains("<html lang=\"en\">"), "{b}: the remembered choice: {}", r.body);

        // Not enough money: said on the page (no button to fail), and by a payment that tries.
        let big = path_of(&h5_order(&c, &m, "WORDSBIG", "banquet", 90_000), &s);
        let big_prepay = big.split("prepay_id=").nth(1).unwrap();
        both(&s, "GET", &big, Some(&cb), &[], 200, &["余额不足", "本单需 ¥900.00，可用余额 ¥100.00", "充值"], &["balance is not enough for ¥900.00 (you have ¥100.00)", "Top up your wallet"]);
        assert!(!page(&s, "GET", &big, Some(&cb), &[]).body.contains("id=\"pay\""));
        both(&s, "POST", "/cashier/pay", Some(&cb), &[("prepay_id", big_prepay)], 403, &["支付失败", "本单需 ¥900.00", "本次未扣款"], &["Payment failed", "Top up your wallet", "Nothing was charged"]);

        // Another payer's JSAPI order: its own words, on the page and from the payment itself.
        let jsapi = json!({"appid": appid, "mchid": m["mchid"], "description": "for A", "out_trade_no": "WORDSJSAPI", "notify_url": "https://example.com/n", "amount": {"total": 300}, "payer": {"openid": a["openids"][appid]}});
        let jsapi_prepay = c.request("POST", "/v3/pay/transactions/jsapi", &jsapi.to_string()).unwrap().json()["prepay_id"].as_str().unwrap().to_string();
        let jsapi_path = format!("/cashier/jsapi?prepay_id={jsapi_prepay}");
        both(&s, "GET", &jsapi_path, Some(&cb), &[], 403, &["不是你的订单", "只有该用户可以付款", "换个账号登录"], &["Not your order", "only that user can pay it"]);
        let r = page(&s, "POST", "/cashier/pay", Some(&cb), &[("prepay_id", &jsapi_prepay)]);
        assert!(r.status == 403 && r.body.contains("只有该用户可以付款") && !r.body.contains("正在付款"), "{b}: {}", r.body);
        assert_eq!(query(&c, "WORDSJSAPI").json()["trade_state"], "NOTPAY");
        // Its payer sees the ordinary page.
        assert!(page(&s, "GET", &jsapi_path, Some(&ca), &[]).body.contains("确认支付 ¥3.00"));

        // The PIN: required, wrong (tries left, counted down), then locked until a time.
        let pin = path_of(&h5_order(&c, &m, "WORDSPIN", "catering", 150_000), &s);
        let pin_prepay = pin.split("prepay_id=").nth(1).unwrap();
        both(&s, "GET", &pin, Some(&ca), &[], 200, &["支付密码（6 位数字）"], &["Payment PIN (6 digits)"]);
        both(&s, "POST", "/cashier/pay", Some(&ca), &[("prepay_id", pin_prepay)], 403, &["需要输入 6 位支付密码", "id=\"pin\""], &["needs your 6-digit payment PIN", "id=\"pin\""]);
        let wrong = |lang: Option<&str>| page_in(&s, lang, "POST", "/cashier/pay", Some(&ca), &[("prepay_id", pin_prepay), ("pin", "000000")]);
        for (lang, says) in [(None, "支付密码错误，还可以再试 4 次"), (Some(EN), "Wrong PIN. 3 tries left"), (None, "还可以再试 2 次"), (Some(EN), "Wrong PIN. 1 try left")] {
            let r = wrong(lang);
            assert!(r.status == 403 && r.body.contains(says) && r.body.contains("id=\"pin\""), "{b}: {says}: {}", r.body);
        }
        let r = wrong(None);
        assert!(r.status == 403 && r.body.contains("需要密码的付款已锁定至") && r.body.contains("（北京时间）"), "{b}: {}", r.body);
        let r = page_in(&s, Some(EN), "POST", "/cashier/pay", Some(&ca), &[("prepay_id", pin_prepay), ("pin", "123456")]);
        assert!(r.status == 403 && r.body.contains("payments that need the PIN are locked until") && r.body.contains("(China time)"), "{b}: {}", r.body);
        assert_eq!(query(&c, "WORDSPIN").json()["trade_state"], "NOTPAY");

        // The receipt: the success mark, amount, merchant, time, order numbers, 完成.
        let tid = result_id(&page(&s, "POST", "/cashier/pay", Some(&ca), &[("prepay_id", &prepay)]));
        let receipt = format!("/cashier/result?transaction_id={tid}");
        both(&s, "GET", &receipt, Some(&ca), &[], 200,
            &["id=\"success-mark\"", "✓", "支付成功", "¥12.50", "商户", "Dumplings 饺子", "支付时间", "（北京时间）", "交易单号", &tid, "商户单号", "WORDS001", ">完成</a>"],
            &["✓", "Payment successful", "¥12.50", "Merchant", "Paid at", "(China time)", "Transaction no.", "Merchant order no.", ">Done</a>"]);
        // Paid: the payer goes to the receipt; another wallet is told; a stranger may log in to see theirs.
        assert_eq!(page(&s, "GET", &path, Some(&ca), &[]).header("location"), Some(receipt.as_str()));
        both(&s, "GET", &path, Some(&cb), &[], 409, &["订单已支付", "已由其他账号付款"], &["Already paid", "already been paid from another wallet"]);
        both(&s, "GET", &path, None, &[], 409, &["登录后可以查看付款凭证", "id=\"send-code\""], &["log in to see your receipt", "id=\"send-code\""]);
        both(&s, "POST", "/cashier/pay", Some(&cb), &[("prepay_id", &prepay)], 409, &["已由其他账号付款"], &["already been paid from another wallet"]);

        // The collection code: its form, a mistyped amount, an out-of-date form.
        both(&s, "GET", &collect, Some(&ca), &[], 200, &["付款金额（元）", ">付款</button>"], &["Amount (yuan)", ">Pay</button>"]);
        let token = page(&s, "GET", &collect, Some(&ca), &[]).body.split("name=\"token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        both(&s, "POST", &format!("{collect}/pay"), Some(&ca), &[("amount", "abc"), ("token", &token)], 400, &["请按元输入金额，如 12 或 12.34"], &["like 12 or 12.34"]);
        both(&s, "POST", &format!("{collect}/pay"), Some(&ca), &[("amount", "1"), ("token", "short")], 400, &["表单已过期"], &["Out-of-date form"]);

        // An order past its time to pay: expired, not "closed by the merchant".
        let soon = saoma_core::time::format_rfc3339_cst(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + 120);
        let body = json!({"appid": appid, "mchid": m["mchid"], "description": "soon", "out_trade_no": "WORDSEXPIRE", "notify_url": "https://example.com/n", "time_expire": soon,
            "amount": {"total": 100}, "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}});
        let r = c.request("POST", "/v3/pay/transactions/h5", &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{b}: {}", r.body);
        let expiring = path_of(r.json()["h5_url"].as_str().unwrap(), &s);
        support::advance(&s, "10m");
        both(&s, "GET", &expiring, None, &[], 410, &["订单已过期", "已超过付款时限"], &["Order expired", "past its time to pay"]);
        let expiring_prepay = expiring.split("prepay_id=").nth(1).unwrap();
        both(&s, "POST", "/cashier/pay", Some(&ca), &[("prepay_id", expiring_prepay)], 410, &["已超过付款时限"], &["past its time to pay"]);
        support::ledger_check(&s);
    }
}

/// A phone without a wallet opens one from the cashier, and only with the SMS code that proves it is
/// theirs: the code checked first (a made-up or wrong code opens nothing), the wallet empty, the order
/// page then saying 余额不足 and how to top up.
#[test]
fn a_new_phone_opens_a_wallet_at_the_cashier() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("Bakery", "public_key");
        let c = s.client(&m);
        let path = path_of(&h5_order(&c, &m, "REGISTER01", "bread", 1_250), &s);
        let prepay = path.split("prepay_id=").nth(1).unwrap().to_string();
        let (new, never) = ("13700000001", "13700000002");

        // An attacker's forms: no code at all for a phone, or a wrong code for one that has a code.
        let r = page(&s, "POST", "/cashier/register", None, &[("phone", never), ("code", "123456"), ("next", &path)]);
        assert!(r.status == 401 && r.header("set-cookie").is_none(), "{b}: {}", r.body);
        assert_eq!(page(&s, "POST", "/cashier/sms", None, &[("phone", new), ("next", &path)]).status, 200);
        let r = page(&s, "POST", "/cashier/register", None, &[("phone", new), ("code", "00000x"), ("next", &path)]);
        assert!(r.status == 401 && r.header("set-cookie").is_none() && r.body.contains("验证码错误"), "{b}: {}", r.body);
        let r = page(&s, "POST", "/cashier/register", None, &[("phone", new), ("code", "123456"), ("next", "https://evil.example/")]);
        assert_eq!(r.status, 400, "{b}: a foreign next");

        // The right code for a phone without a wallet: the offer, no session yet (so the forms above
        // opened nothing: the phone still has no wallet).
        let code = sms_code(&s, new);
        let r = page(&s, "POST", "/cashier/login", None, &[("phone", new), ("code", &code), ("next", &path)]);
        assert!(r.status == 200 && r.header("set-cookie").is_none(), "{b}: {}", r.body);
        for t in ["开通钱包", "137****0001 还没有 saoma 钱包", "新钱包余额为 ¥0.00", "id=\"register\"", "换个手机号"] {
            assert!(r.body.contains(t), "{b}: {t}: {}", r.body);
        }
        // Accepting it: a session, an empty wallet, back to the order, which says 余额不足 and how to top up.
        let r = page(&s, "POST", "/cashier/register", None, &[("phone", new), ("code", &code), ("next", &path)]);
        assert_eq!((r.status, r.header("location")), (303, Some(path.as_str())), "{b}: {}", r.body);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string();
        assert_eq!(balance(&s, &cookie), 0);
        let r = page(&s, "GET", &path, Some(&cookie), &[]);
        assert!(r.status == 200 && r.body.contains("余额不足") && r.body.contains("本单需 ¥12.50，可用余额 ¥0.00") && r.body.contains("用银行卡充值"), "{b}: {}", r.body);
        assert!(r.body.contains("137****0001") && !r.body.contains("id=\"pay\""), "{b}: {}", r.body);
        let r = page(&s, "POST", "/cashier/pay", Some(&cookie), &[("prepay_id", &prepay)]);
        assert!(r.status == 403 && r.body.contains("余额不足"), "{b}: {}", r.body);
        assert_eq!(query(&c, "REGISTER01").json()["trade_state"], "NOTPAY");
        // The code is used up: the same form again opens nothing more.
        assert_eq!(page(&s, "POST", "/cashier/register", None, &[("phone", new), ("code", &code), ("next", &path)]).status, 401);

        // In English, and for a phone that has a wallet by now the same form just logs in (one wallet).
        let en = "13700000003";
        assert_eq!(page_in(&s, Some(EN), "POST", "/cashier/sms", None, &[("phone", en), ("next", &path)]).status, 200);
        let code = sms_code(&s, en);
        let r = page_in(&s, Some(EN), "POST", "/cashier/login", None, &[("phone", en), ("code", &code), ("next", &path)]);
        assert!(r.status == 200 && r.body.contains("Open a wallet") && r.body.contains("There is no saoma wallet for 137****0003"), "{b}: {}", r.body);
        let r = page_in(&s, Some(EN), "POST", "/cashier/register", None, &[("phone", en), ("code", &code), ("next", &path)]);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string();
        let r = page_in(&s, Some(EN), "GET", &path, Some(&cookie), &[]);
        assert!(r.body.contains("balance is not enough") && r.body.contains("Top up your wallet"), "{b}: {}", r.body);
        user(&s, "13700000004", 500);
        assert_eq!(page(&s, "POST", "/cashier/sms", None, &[("phone", "13700000004"), ("next", &path)]).status, 200);
        let r = page(&s, "POST", "/cashier/register", None, &[("phone", "13700000004"), ("code", &sms_code(&s, "13700000004")), ("next", &path)]);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().strip_prefix("saoma_wallet=").unwrap().to_string();
        assert_eq!(balance(&s, &cookie), 500, "{b}: the existing wallet, not a second one");
        support::ledger_check(&s);
    }
}
