//! The PIN under attack, end to end on both backends. Guesses sent at once are checked (argon2, counted
//! by the server's `saoma_pin_checks_total`) at most as often as there are tries left, on every path
//! through one mechanism — proven here on paying, signing an agreement and withdrawing — and a right
//! PIN never gets through once the account is locked. Money moves between a wallet and a bank card,
//! either way, only with the PIN and only with a card the user bound (the PIN, then the bank's one-time
//! code), and every refusal leaves the balance as it was and no bank operation; a retried request_id
//! gets its first result back without the PIN, spending no try and moving nothing.

mod support;

use saoma_wechatpay::client::http;
use serde_json::{json, Value};
use std::sync::Barrier;
use support::{advance, balance, bank_code, bind_card, ledger_check, user, wallet_call, Server};

const RIGHT: &str = "123456";
const MAX_TRIES: u64 = 5;
const GUESSES: usize = 13;

/// The server's count of PINs checked with argon2.
fn pin_checks(s: &Server) -> u64 {
    let m = http(&s.base, "GET", "/metrics", &[], "").unwrap().body;
    m.lines().find_map(|l| l.strip_prefix("saoma_pin_checks_total ")).expect("metric").trim().parse().unwrap()
}

fn pin_status(s: &Server, session: &str) -> Value {
    let (st, v) = wallet_call(s, session, "GET", "/wallet/pin", "");
    assert_eq!(st, 200, "{v}");
    v
}

/// Thirteen guesses released together: wrong ones and, with `right`, the right PIN (the seventh).
/// `send(pin, i)` makes the request; the answers are (pin, status, error code or "OK").
fn burst(right: bool, send: impl Fn(&str, usize) -> (u16, Value) + Sync) -> Vec<(String, u16, String)> {
    let go = Barrier::new(GUESSES);
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..GUESSES)
            .map(|i| {
                let pin = if right && i == 6 { RIGHT.to_string() } else { format!("{:06}", 900_000 + i) };
                let (go, send) = (&go, &send);
                sc.spawn(move || {
                    go.wait();
                    let (st, v) = send(&pin, i);
                    let code = if st == 200 { "OK".to_string() } else { v["code"].as_str().unwrap_or("?").to_string() };
                    (pin, st, code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Checks a burst's answers against the server's own counts, with `tries_before` tries left before it
/// and `done` the path's answer for "already done" (a late guess after the right one succeeded, refused
/// before any PIN check). Whether the right PIN got through.
fn judge(s: &Server, session: &str, answers: &[(String, u16, String)], checks: u64, tries_before: u64, done: &str) -> bool {
    let b = s.backend;
    let count = |c: &str| answers.iter().filter(|a| a.2 == c).count() as u64;
    let (ok, wrong) = (count("OK"), count("PIN_WRONG"));
    for (pin, st, code) in answers {
        assert!(["OK", "PIN_WRONG", "PIN_BUSY", "PIN_LOCKED", done].contains(&code.as_str()), "{b}: {pin} answered {st} {code}");
        if code == "OK" {
            assert_eq!(pin, RIGHT, "{b}: a wrong PIN got through");
        }
        if code == "PIN_WRONG" {
            assert_ne!(pin, RIGHT, "{b}: the right PIN was called wrong");
        }
    }
    let st = pin_status(s, session);
    let locked = st["locked_until"].as_i64().unwrap() > 0;
    assert_eq!(st["in_flight"], 0, "{b}: every try settled: {st}");
    // Each check settled one try: a wrong one answered PIN_WRONG, the fifth wrong one locked, and what
    // is left over is the right PIN's.
    let rights_checked = checks - wrong - locked as u64;
    assert!(rights_checked <= 1 && ok <= rights_checked, "{b}: {checks} checks, {wrong} wrong, locked {locked}, {ok} ok: {answers:?}");
    if rights_checked == 0 {
        // No right PIN checked, so no try given back: exactly the tries left were checked, and locked.
        assert_eq!(checks, tries_before, "{b}: checked more than the tries left: {answers:?}");
        assert!(locked, "{b}: {st}");
        assert_eq!((st["failures"].as_i64(), st["tries_left"].as_i64()), (Some(0), Some(0)), "{b}: {st}");
    } else {
        // The right PIN gives the tries back (as it must); the wrong guesses after it have five.
        assert!(checks <= tries_before + MAX_TRIES, "{b}: {checks} checks: {answers:?}");
        if ok == 0 {
            // Checked, then refused under the writer: a lock came between its check and its job.
            assert!(locked && answers.iter().any(|a| a.0 == RIGHT && a.2 == "PIN_LOCKED"), "{b}: {answers:?}");
        }
    }
    if !locked {
        let failures = st["failures"].as_u64().unwrap();
        assert!(failures <= wrong, "{b}: {st}");
        assert_eq!(st["tries_left"].as_u64(), Some(MAX_TRIES - failures), "{b}: {st}");
    }
    ok == 1
}

fn native(c: &saoma_wechatpay::client::V3Client, m: &Value, no: &str, total: i64) -> String {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "大件", "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code_url"].as_str().unwrap().to_string()
}

fn trade_state(c: &saoma_wechatpay::client::V3Client, no: &str) -> String {
    c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap().json()["trade_state"].as_str().unwrap().to_string()
}

fn withdrawals(s: &Server, session: &str) -> Vec<Value> {
    bank_operations(s, session, "withdrawal")
}

/// The wallet's bank operations of one kind (`top_up` or `withdrawal`), as its history shows them.
fn bank_operations(s: &Server, session: &str, kind: &str) -> Vec<Value> {
    let (_, h) = wallet_call(s, session, "GET", "/wallet/transactions", "");
    h["transactions"].as_array().unwrap().iter().filter(|t| t["kind"] == kind).cloned().collect()
}

#[test]
fn guesses_at_once_are_checked_at_most_as_often_as_tries_are_left() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("家电城", "public_key");
        let c = s.client(&m);

        // Paying above the password-free limit: twelve wrong guesses and the right one, released
        // together, three rounds (which guess wins a try differs from run to run: both outcomes are judged).
        user(&s, "13700000001", 1_000_000);
        let session = s.wallet_session("13700000001");
        let mut expected = 1_000_000;
        for round in 0..3 {
            if pin_status(&s, &session)["locked_until"].as_i64().unwrap() > 0 {
                advance(&s, "3h");
            }
            let tries = pin_status(&s, &session)["tries_left"].as_u64().unwrap();
            let no = format!("BURST0000{round}");
            let code = native(&c, &m, &no, 150_000);
            let before = pin_checks(&s);
            let answers = burst(true, |pin, _| wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": code, "pin": pin}).to_string()));
            let paid = judge(&s, &session, &answers, pin_checks(&s) - before, tries, "ORDERPAID");
            assert_eq!(trade_state(&c, &no), if paid { "SUCCESS" } else { "NOTPAY" }, "{b}");
            expected -= if paid { 150_000 } else { 0 };
            assert_eq!(balance(&s, &session), expected, "{b}");
        }
        // Thirteen wrong guesses at once: exactly the tries left are checked, then the lock.
        let tries = pin_status(&s, &session)["tries_left"].as_u64().unwrap();
        if tries > 0 {
            let code = native(&c, &m, "BURSTWRONG", 150_000);
            let before = pin_checks(&s);
            let answers = burst(false, |pin, _| wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": code, "pin": pin}).to_string()));
            assert!(!judge(&s, &session, &answers, pin_checks(&s) - before, tries, "ORDERPAID"));
        }
        // Locked: thirteen guesses with the right one among them are all refused without a check, and
        // pay nothing.
        let code = native(&c, &m, "BURSTLOCK1", 150_000);
        let before = pin_checks(&s);
        let answers = burst(true, |pin, _| wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": code, "pin": pin}).to_string()));
        assert!(answers.iter().all(|a| (a.1, a.2.as_str()) == (403, "PIN_LOCKED")), "{b}: {answers:?}");
        assert_eq!((pin_checks(&s), balance(&s, &session)), (before, expected), "{b}");
        assert_eq!(trade_state(&c, "BURSTLOCK1"), "NOTPAY");
        // Three hours on, five tries again.
        advance(&s, "3h");
        assert_eq!(pin_status(&s, &session)["tries_left"], 5);
        assert_eq!(wallet_call(&s, &session, "POST", "/wallet/pay", &json!({"code": code, "pin": RIGHT}).to_string()).0, 200, "{b}");

        // Signing an agreement, with two tries left (three wrong ones first).
        let u = user(&s, "13700000002", 10_000);
        let session = s.wallet_session("13700000002");
        let openid = u["openids"][m["appid"].as_str().unwrap()].as_str().unwrap();
        let r = c.request("POST", "/v3/agreements", &json!({"appid": m["appid"], "mchid": m["mchid"], "out_contract_code": "BURSTSIGN1", "openid": openid, "description": "免密支付", "limits": {"per_charge": 500, "per_day": 1_000}}).to_string()).unwrap();
        assert_eq!(r.status, 200, "{b} {}", r.body);
        let contract = r.json()["contract_id"].as_str().unwrap().to_string();
        let sign = |pin: &str| wallet_call(&s, &session, "POST", &format!("/wallet/agreements/{contract}/sign"), &json!({ "pin": pin }).to_string());
        for left in [4, 3, 2] {
            let (st, v) = sign("000000");
            assert_eq!((st, v["code"].as_str()), (403, Some("PIN_WRONG")), "{b}");
            assert!(v["message"].as_str().unwrap().contains(&format!("{left} tries left")), "{v}");
        }
        let before = pin_checks(&s);
        let answers = burst(true, |pin, _| sign(pin));
        let signed = judge(&s, &session, &answers, pin_checks(&s) - before, 2, "INVALID_REQUEST");
        let (_, list) = wallet_call(&s, &session, "GET", "/wallet/agreements", "");
        assert_eq!(list["agreements"][0]["state"], if signed { "SIGNED" } else { "PROPOSED" }, "{b} {answers:?}");
        if !signed {
            assert_eq!(sign(RIGHT).1["code"], "PIN_LOCKED", "{b}: the right PIN never signs once locked");
        }

        // Withdrawing to a bound card: each guess its own request.
        user(&s, "13700000003", 50_000);
        let session = s.wallet_session("13700000003");
        bind_card(&s, &session, "13700000003", "6222030000000001");
        let before = pin_checks(&s);
        let answers = burst(true, |pin, i| {
            wallet_call(&s, &session, "POST", "/wallet/withdraw", &json!({"card_no": "6222030000000001", "amount": 1_000, "request_id": format!("burst-{i}"), "pin": pin}).to_string())
        });
        let withdrew = judge(&s, &session, &answers, pin_checks(&s) - before, MAX_TRIES, "-");
        assert_eq!(balance(&s, &session), if withdrew { 49_000 } else { 50_000 }, "{b}");
        assert_eq!(withdrawals(&s, &session).len(), withdrew as usize, "{b}: no bank operation for a refused guess");
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b} {text}");
    }
}

#[test]
fn withdrawals_need_the_pin_and_a_bound_card_of_ones_own() {
    for s in Server::all(true) {
        let b = s.backend;
        user(&s, "13700000011", 10_000);
        user(&s, "13700000012", 10_000);
        let (alice, bob) = (s.wallet_session("13700000011"), s.wallet_session("13700000012"));
        let (alices_card, bobs_card, unbound) = ("6222040000000001", "6222040000000011", "6222040000000021");
        bind_card(&s, &alice, "13700000011", alices_card);
        bind_card(&s, &bob, "13700000012", bobs_card);
        let withdraw = |card: &str, pin: Option<&str>, rid: &str| {
            let mut body = json!({"card_no": card, "amount": 2_000, "request_id": rid});
            if let Some(p) = pin {
                body["pin"] = json!(p);
            }
            wallet_call(&s, &alice, "POST", "/wallet/withdraw", &body.to_string())
        };
        for (card, pin, want) in [
            (alices_card, None, "PIN_REQUIRED"),
            (alices_card, Some("000000"), "PIN_WRONG"),
            (unbound, Some(RIGHT), "CARD_NOT_BOUND"),
            (bobs_card, Some(RIGHT), "CARD_NOT_BOUND"),
        ] {
            let (st, v) = withdraw(card, pin, &format!("refused-{want}-{card}"));
            assert_eq!((st, v["code"].as_str()), (403, Some(want)), "{b} {v}");
            assert_eq!(balance(&s, &alice), 10_000, "{b}");
            assert!(withdrawals(&s, &alice).is_empty() && withdrawals(&s, &bob).is_empty(), "{b}: a refused withdrawal left an operation");
        }
        // The wrong PIN counted; an unbound card cost no try.
        assert_eq!(pin_status(&s, &alice)["failures"], 1, "{b}");
        // The bound card with the PIN: the money leaves (and the right PIN clears the failure).
        let (st, v) = withdraw(alices_card, Some(RIGHT), "ok-1");
        assert_eq!((st, v["state"].as_str()), (200, Some("succeeded")), "{b} {v}");
        assert_eq!(balance(&s, &alice), 8_000);
        assert_eq!(pin_status(&s, &alice)["failures"], 0, "{b}");
        // Top-ups too come only from a bound card.
        let topup = |card: &str| wallet_call(&s, &alice, "POST", "/wallet/topup", &json!({"card_no": card, "amount": 500, "request_id": format!("top-{card}"), "pin": RIGHT}).to_string());
        assert_eq!(topup(unbound).1["code"], "CARD_NOT_BOUND", "{b}");
        assert_eq!(topup(alices_card).1["state"], "succeeded", "{b}");
        assert_eq!(balance(&s, &alice), 8_500);
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b} {text}");
    }
}

#[test]
fn top_ups_need_the_pin_and_a_retry_needs_none() {
    for s in Server::all(true) {
        let b = s.backend;
        let phone = "13700000031";
        user(&s, phone, 10_000);
        let session = s.wallet_session(phone);
        let card = "6222070000000001";
        bind_card(&s, &session, phone, card);
        let call = |path: &str, amount: i64, rid: &str, pin: Option<&str>| {
            let mut body = json!({"card_no": card, "amount": amount, "request_id": rid});
            if let Some(p) = pin {
                body["pin"] = json!(p);
            }
            wallet_call(&s, &session, "POST", path, &body.to_string())
        };
        // A stolen session cannot pull money off the card: no PIN, or a wrong one, is refused as a
        // withdrawal's is, the balance as it was and no bank operation.
        for (pin, want) in [(None, "PIN_REQUIRED"), (Some("000000"), "PIN_WRONG")] {
            let (st, v) = call("/wallet/topup", 5_000, &format!("refused-{want}"), pin);
            assert_eq!((st, v["code"].as_str()), (403, Some(want)), "{b} {v}");
            assert_eq!(balance(&s, &session), 10_000, "{b}");
            assert!(bank_operations(&s, &session, "top_up").is_empty(), "{b}: a refused top-up left an operation");
        }
        assert_eq!(pin_status(&s, &session)["failures"], 1, "{b}: the wrong PIN counted");
        // With the PIN: the money arrives (and the right PIN clears the failure).
        let (st, top) = call("/wallet/topup", 5_000, "t1", Some(RIGHT));
        assert_eq!((st, top["state"].as_str()), (200, Some("succeeded")), "{b} {top}");
        let (st, out) = call("/wallet/withdraw", 2_000, "w1", Some(RIGHT));
        assert_eq!((st, out["state"].as_str()), (200, Some("succeeded")), "{b} {out}");
        assert_eq!(balance(&s, &session), 13_000, "{b}");
        // One wrong guess on a new request: a try spent, so a replay spending one would show.
        assert_eq!(call("/wallet/topup", 1_000, "t2", Some("000000")).1["code"], "PIN_WRONG", "{b}");
        let before = (pin_status(&s, &session), pin_checks(&s));
        assert_eq!((before.0["failures"].as_i64(), before.0["in_flight"].as_i64()), (Some(1), Some(0)), "{b}: {}", before.0);
        // Retries, without the PIN or with a wrong one: the first result, no PIN checked, nothing moved.
        for pin in [None, Some("000000")] {
            for (path, amount, rid, first) in [("/wallet/topup", 5_000, "t1", &top), ("/wallet/withdraw", 2_000, "w1", &out)] {
                let (st, v) = call(path, amount, rid, pin);
                assert_eq!(st, 200, "{b} {path} {pin:?}: {v}");
                assert_eq!(&v, first, "{b} {path} {pin:?}: the first result");
            }
            // The same request_id for something else is refused as before, without the PIN too.
            let (st, v) = call("/wallet/topup", 6_000, "t1", pin);
            assert_eq!((st, v["code"].as_str()), (409, Some("REQUEST_ID_REUSED")), "{b} {v}");
        }
        assert_eq!((pin_status(&s, &session)["failures"].clone(), pin_checks(&s)), (before.0["failures"].clone(), before.1), "{b}: a retry spent a try");
        assert_eq!(pin_status(&s, &session)["tries_left"], before.0["tries_left"], "{b}");
        assert_eq!(balance(&s, &session), 13_000, "{b}: a retry moved money");
        assert_eq!((bank_operations(&s, &session, "top_up").len(), bank_operations(&s, &session, "withdrawal").len()), (1, 1), "{b}");
        // Locked (four more wrong guesses): a new top-up is refused even with the right PIN, while a
        // retry still gets its first result.
        for i in 0..4 {
            call("/wallet/topup", 1_000, &format!("guess-{i}"), Some("000000"));
        }
        assert!(pin_status(&s, &session)["locked_until"].as_i64().unwrap() > 0, "{b}");
        assert_eq!(call("/wallet/topup", 1_000, "t3", Some(RIGHT)).1["code"], "PIN_LOCKED", "{b}");
        assert_eq!(call("/wallet/topup", 5_000, "t1", None).1, top, "{b}");
        assert_eq!(balance(&s, &session), 13_000, "{b}");
        assert_eq!(bank_operations(&s, &session, "top_up").len(), 1, "{b}");
        assert!(ledger_check(&s).contains("clean"), "{b}");
    }
}

#[test]
fn binding_a_card_needs_the_pin_and_the_banks_code() {
    for s in Server::all(true) {
        let b = s.backend;
        let phone = "13700000021";
        user(&s, phone, 10_000);
        let session = s.wallet_session(phone);
        let card = "6222050000000001";
        let request = |card: &str, pin: &str| wallet_call(&s, &session, "POST", "/wallet/cards", &json!({"card_no": card, "pin": pin}).to_string());
        let confirm = |id: &str, code: &str| wallet_call(&s, &session, "POST", &format!("/wallet/cards/{id}/confirm"), &json!({ "code": code }).to_string());
        let cards = || wallet_call(&s, &session, "GET", "/wallet/cards", "").1["cards"].as_array().unwrap().clone();
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        let outbox = || http(&s.base, "GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap().json()["messages"].as_array().unwrap().clone();

        // A wrong PIN: no code is sent.
        let (st, v) = request(card, "000000");
        assert_eq!((st, v["code"].as_str()), (403, Some("PIN_WRONG")), "{b} {v}");
        assert!(!outbox().iter().any(|m| m["purpose"] == "card_bind"), "{b}");
        // The test card that cannot be bound: the bank refuses.
        let (st, v) = request("6222050000000004", RIGHT);
        assert_eq!((st, v["code"].as_str()), (403, Some("BANK_REFUSED")), "{b} {v}");
        assert!(cards().is_empty());

        // Wrong codes, six at once: the bank counts each — two answered wrong, then the binding fails.
        let (st, v) = request(card, RIGHT);
        assert_eq!((st, v["state"].as_str()), (200, Some("code_sent")), "{b} {v}");
        let id = v["id"].as_str().unwrap().to_string();
        let code = bank_code(&s, phone);
        // The bank's code is never a login code.
        let login = http(&s.base, "POST", "/wallet/login", &[], &json!({"phone": phone, "code": code}).to_string()).unwrap();
        assert_eq!(login.status, 401, "{b} {}", login.body);
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let go = Barrier::new(6);
        let answers: Vec<String> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..6).map(|_| sc.spawn(|| {
                go.wait();
                confirm(&id, wrong).1["code"].as_str().unwrap_or("?").to_string()
            })).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(answers.iter().filter(|a| *a == "CODE_WRONG").count(), 2, "{b} {answers:?}");
        assert_eq!(answers.iter().filter(|a| *a == "BANK_REFUSED").count(), 4, "{b} {answers:?}");
        assert_eq!(confirm(&id, &code).1["code"], "BANK_REFUSED", "{b}: the right code after the tries ran out");
        assert!(cards().is_empty(), "{b}");

        // A code past its five minutes.
        let id = request(card, RIGHT).1["id"].as_str().unwrap().to_string();
        let code = bank_code(&s, phone);
        advance(&s, "6m");
        let (st, v) = confirm(&id, &code);
        assert_eq!((st, v["code"].as_str()), (403, Some("BANK_REFUSED")), "{b} {v}");
        assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
        assert!(cards().is_empty(), "{b}");

        // The PIN and the right code in time: bound (shown by its last digits only), once.
        let id = request(card, RIGHT).1["id"].as_str().unwrap().to_string();
        let (st, bound) = confirm(&id, &bank_code(&s, phone));
        assert_eq!((st, bound["tail"].as_str()), (200, Some("0001")), "{b} {bound}");
        assert_eq!(cards().len(), 1);
        assert!(!cards()[0].to_string().contains(card), "the whole number is never shown");
        assert_eq!(request(card, RIGHT).1["code"], "CARD_BOUND");
        // Nobody else can bind it.
        user(&s, "13700000022", 0);
        let other = s.wallet_session("13700000022");
        // Without this wallet's PIN it does not learn that another wallet holds the card.
        let (st, v) = wallet_call(&s, &other, "POST", "/wallet/cards", &json!({"card_no": card, "pin": "000000"}).to_string());
        assert_eq!((st, v["code"].as_str()), (403, Some("PIN_WRONG")), "{b} {v}");
        let (st, v) = wallet_call(&s, &other, "POST", "/wallet/cards", &json!({"card_no": card, "pin": RIGHT}).to_string());
        assert_eq!((st, v["code"].as_str()), (409, Some("CARD_BOUND_ELSEWHERE")), "{b} {v}");
        // The bound card works.
        let (st, v) = wallet_call(&s, &session, "POST", "/wallet/withdraw", &json!({"card_no": card, "amount": 1_000, "request_id": "w1", "pin": RIGHT}).to_string());
        assert_eq!((st, v["state"].as_str()), (200, Some("succeeded")), "{b} {v}");
        assert_eq!(balance(&s, &session), 9_000);
        assert!(ledger_check(&s).contains("clean"));
    }
}

/// Each binding request texts the card's holder a fresh code with fresh tries, so requests are counted:
/// ten a day per user, five a day per card whoever asks (counted in the job that records the request).
#[test]
fn binding_requests_are_limited_per_user_and_per_card() {
    for s in Server::all(true) {
        let b = s.backend;
        let request = |session: &str, card: &str| wallet_call(&s, session, "POST", "/wallet/cards", &json!({"card_no": card, "pin": RIGHT}).to_string());
        let phone = "13700000031";
        user(&s, phone, 0);
        let session = s.wallet_session(phone);
        for i in 0..10 {
            let (st, v) = request(&session, &format!("62220500000011{i:02}"));
            assert_eq!((st, v["state"].as_str()), (200, Some("code_sent")), "{b} request {i}: {v}");
        }
        let r = http(&s.base, "POST", "/wallet/cards", &[("Authorization", &session), ("Content-Type", "application/json")], &json!({"card_no": "6222050000001199", "pin": RIGHT}).to_string()).unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (429, Some("FREQUENCY_LIMITED")), "{b} {}", r.body);
        let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((86_000..=86_400).contains(&retry), "{b}: Retry-After {retry}");
        let codes = |p: &str| {
            let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
            let outbox = http(&s.base, "GET", &format!("/admin/sms?phone={p}"), &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap().json();
            outbox["messages"].as_array().unwrap().iter().filter(|m| m["purpose"] == "card_bind").count()
        };
        assert_eq!(codes(phone), 10, "{b}: the refused request texted nobody");

        // One card, five wallets: the sixth is refused (the holder is not texted a sixth time).
        let card = "6222050000002001";
        for i in 0..6 {
            let p = format!("137000001{i:02}");
            user(&s, &p, 0);
            let (st, v) = request(&s.wallet_session(&p), card);
            if i < 5 {
                assert_eq!((st, v["state"].as_str()), (200, Some("code_sent")), "{b} wallet {i}: {v}");
            } else {
                assert_eq!((st, v["code"].as_str()), (429, Some("FREQUENCY_LIMITED")), "{b} {v}");
                assert_eq!(codes(&p), 0, "{b}");
            }
        }

        // A day on, both may ask again.
        advance(&s, "24h");
        // (The day also ended the sessions: logged in again.)
        let (st, v) = request(&s.wallet_session(phone), "6222050000001199");
        assert_eq!((st, v["state"].as_str()), (200, Some("code_sent")), "{b} {v}");
        let (st, v) = request(&s.wallet_session("13700000105"), card);
        assert_eq!((st, v["state"].as_str()), (200, Some("code_sent")), "{b} {v}");
    }
}
