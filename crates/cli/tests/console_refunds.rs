//! Refunds from the merchant console through a real server on both backends: a manager refunds part of
//! a paid order from its page, confirmed by their own password (a wrong one is counted with the login's
//! tries and refunds nothing; the fifth locks and logs them out); the form's one-time token makes a
//! double submit or a replay refund once; the refund is the v3 API's (its query finds it, the
//! REFUND.SUCCESS notification is written, the ledger checks); a cashier's session, or another shop's
//! manager, refunds nothing, even posting the form directly. In headless Chromium
//! (`console_refunds_browser.py`): a customer pays, the manager opens the order, refunds part of it,
//! sees it among the order's refunds and on the takings; the cashier has no refund form and a posted
//! one is refused. `SAOMA_SCREENS=DIR` saves console-refund*.png.

mod support;

use serde_json::json;
use support::console::{add_staff, cafe, get, header, hidden, log_in, pay, post};
use support::{db_rows, Server};

/// The number of refunds of the order `no` and what they add up to, as the database has them.
fn refunded(s: &Server, no: &str) -> (i64, i64) {
    let rows = db_rows(s, &format!("SELECT COUNT(*), CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) FROM refunds r JOIN orders o ON o.id = r.order_id WHERE o.out_trade_no = '{no}'"));
    (rows[0][0].int(), rows[0][1].int())
}

#[test]
fn a_manager_refunds_once_with_their_password_and_a_cashier_cannot() {
    for s in Server::all(true) {
        let b = s.backend;
        let (m, _) = cafe(&s, true);
        support::user(&s, "13900000001", 100_000);
        let payer = s.wallet_session("13900000001");
        pay(&s, &m, &payer, "CAFE0001", 1_250, "https://example.com/notify");
        let before = support::balance(&s, &payer);
        let manager = log_in(&s, "13800000001", "manager-pass-1");
        let cashier = log_in(&s, "13800000002", "cashier-pass-1");

        // The order's page: the manager's has the form and its one-time token; the cashier's has none.
        let page = get(&s, "/console/orders/CAFE0001", &manager);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("id=\"refund-form\"") && page.body.contains("id=\"order-refundable\">¥12.50<") && page.body.contains("id=\"no-refunds\""), "{}", page.body);
        let token = hidden(&page.body, "token").expect("a token");
        assert_ne!(hidden(&get(&s, "/console/orders/CAFE0001", &manager).body, "token").unwrap(), token, "one token per form shown");
        let seen = get(&s, "/console/orders/CAFE0001", &cashier);
        assert_eq!(seen.status, 200);
        assert!(!seen.body.contains("id=\"refund-form\"") && !seen.body.contains("name=\"token\""), "{b}: a cashier's page has no refund form");

        // A cashier posting the form (with a token of their own making, or the manager's) is refused.
        for t in ["console-AAAAAAAAAAAAAAAAAAAAAAAA", token.as_str()] {
            let r = post(&s, "/console/orders/CAFE0001/refund", &cashier, &format!("token={t}&amount=5&reason=&password=cashier-pass-1"));
            assert_eq!(r.status, 403, "{b}: {}", r.body);
            assert!(r.body.contains("id=\"managers-only\""), "{}", r.body);
        }
        assert_eq!(refunded(&s, "CAFE0001"), (0, 0), "{b}: the cashier refunded nothing");

        // Refusals that refund nothing: a wrong password (counted), a bad amount, too much, a made-up form.
        let form = |t: &str, amount: &str, password: &str| format!("token={t}&amount={amount}&reason=%E5%B0%91%E6%89%BE%E9%9B%B6&password={password}");
        let r = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "5.00", "not-my-password"));
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("还可以再试 4 次") && r.body.contains("value=\"5.00\""), "{}", r.body);
        let r = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "5.001", "manager-pass-1"));
        assert_eq!(r.status, 400, "{}", r.body);
        let r = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "12.51", "manager-pass-1"));
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("¥12.50"), "says what is left: {}", r.body);
        assert_eq!(post(&s, "/console/orders/CAFE0001/refund", &manager, &form("made-up", "5", "manager-pass-1")).status, 400);
        assert_eq!(refunded(&s, "CAFE0001"), (0, 0));

        // The refund: back to the order, which says so and lists it.
        let r = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "5.00", "manager-pass-1"));
        assert_eq!(r.status, 303, "{b}: {}", r.body);
        let location = header(&r, "location").unwrap().to_string();
        assert_eq!(location, format!("/console/orders/CAFE0001?refunded={token}"));
        let page = get(&s, &location, &manager);
        assert!(page.body.contains("id=\"refunded-now\"") && page.body.contains("已退款 ¥5.00") && page.body.contains(&format!("data-id=\"{token}\"")), "{}", page.body);
        assert!(page.body.contains("id=\"order-refundable\">¥7.50<") && page.body.contains("原因：少找零") && page.body.contains("已转入退款"), "{}", page.body);
        assert_eq!(refunded(&s, "CAFE0001"), (1, 500));
        assert_eq!(support::balance(&s, &payer), before + 500);
        // The same form again (a double click, a replay): the same refund, nothing more.
        let again = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "5.00", "manager-pass-1"));
        assert_eq!((again.status, header(&again, "location")), (303, Some(location.as_str())), "{b}: {}", again.body);
        assert_eq!(refunded(&s, "CAFE0001"), (1, 500), "{b}: a replay refunds once");
        // The same token for another amount is refused, and says so.
        let r = post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token, "1.00", "manager-pass-1"));
        assert_eq!(r.status, 409);
        assert!(r.body.contains("这张退款表单已经用过了"), "{}", r.body);
        assert_eq!(support::balance(&s, &payer), before + 500);

        // It is the v3 API's refund: the query finds it, the notification went to the outbox, the
        // takings show it.
        let c = s.client(&m);
        let q = c.request("GET", &format!("/v3/refund/domestic/refunds/{token}"), "").unwrap();
        assert_eq!(q.status, 200, "{}", q.body);
        assert_eq!((q.json()["amount"]["refund"].as_i64(), q.json()["status"].as_str()), (Some(500), Some("SUCCESS")));
        let n = db_rows(&s, &format!("SELECT event_type, url FROM notifications WHERE reference = '{token}'"));
        assert_eq!((n.len(), n[0][0].text(), n[0][1].text()), (1, "REFUND.SUCCESS", "https://example.com/notify"), "{b}");
        let home = get(&s, "/console", &cashier);
        assert!(home.body.contains("今日退款 ¥5.00（1 笔）"), "{}", home.body);
        let page = get(&s, "/console/orders/CAFE0001", &manager);
        assert!(page.body.contains("REFUND.SUCCESS") && page.body.contains("TRANSACTION.SUCCESS"), "the order's notifications: {}", page.body);

        // Another shop's manager sees nothing of this order and refunds nothing.
        let other = s.merchant("别家 Other", "public_key");
        add_staff(&s, other["mchid"].as_str().unwrap(), "13800000009", "别家店长", "manager", "manager-pass-9");
        let stranger = log_in(&s, "13800000009", "manager-pass-9");
        assert_eq!(get(&s, "/console/orders/CAFE0001", &stranger).status, 404);
        let fresh = "console-BBBBBBBBBBBBBBBBBBBBBBBB";
        assert_eq!(post(&s, "/console/orders/CAFE0001/refund", &stranger, &form(fresh, "1", "manager-pass-9")).status, 404);
        assert_eq!(refunded(&s, "CAFE0001"), (1, 500));

        // A second refund with a new form; then wrong passwords (a right one started the count again):
        // the fifth locks the console and ends the manager's sessions.
        let token2 = hidden(&get(&s, "/console/orders/CAFE0001", &manager).body, "token").unwrap();
        assert_eq!(post(&s, "/console/orders/CAFE0001/refund", &manager, &form(&token2, "7.50", "manager-pass-1")).status, 303);
        assert_eq!(refunded(&s, "CAFE0001"), (2, 1_250));
        assert!(!get(&s, "/console/orders/CAFE0001", &manager).body.contains("id=\"refund-form\""), "nothing left to refund");
        pay(&s, &m, &payer, "CAFE0002", 800, "https://example.com/notify");
        let token3 = hidden(&get(&s, "/console/orders/CAFE0002", &manager).body, "token").unwrap();
        for left in (1..=4).rev() {
            let r = post(&s, "/console/orders/CAFE0002/refund", &manager, &form(&token3, "1", "wrong-wrong"));
            assert!(r.status == 401 && r.body.contains(&format!("还可以再试 {left} 次")), "{b}: {} {}", r.status, r.body);
        }
        let r = post(&s, "/console/orders/CAFE0002/refund", &manager, &form(&token3, "1", "wrong-wrong"));
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("已锁定至"), "{}", r.body);
        assert!(get(&s, "/console/orders/CAFE0002", &manager).body.contains("action=\"/console/sms\""), "{b}: the lock logged the manager out");
        assert_eq!(refunded(&s, "CAFE0002"), (0, 0));
        support::ledger_check(&s);
    }
}

#[test]
fn browser_a_manager_refunds_part_of_an_order_and_a_cashier_cannot() {
    if !support::browser_available("console refunds") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console_refunds_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("便利店 Corner Shop", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        add_staff(&s, &mchid, "13600000001", "赵店长", "manager", "manager-pass-1");
        add_staff(&s, &mchid, "13600000002", "小张", "cashier", "cashier-pass-1");
        support::user(&s, "13600000009", 100_000);
        let payer = s.wallet_session("13600000009");
        pay(&s, &m, &payer, "SHOP0001", 1_250, "https://example.com/notify");
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({
            "base": s.base, "no": "SHOP0001", "manager_phone": "13600000001", "manager_password": "manager-pass-1",
            "cashier_phone": "13600000002", "cashier_password": "cashier-pass-1", "screens": screens,
        });
        let mut said = Vec::new();
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(support::console::console_code(&s, phone)),
            ["REFUNDED"] => Some(format!("{} {}", refunded(&s, "SHOP0001").0, refunded(&s, "SHOP0001").1)),
            _ => {
                said.push(words.join(" "));
                None
            }
        });
        assert!(said.iter().any(|w| w == "REFUND_SHOWN ¥5.00 ¥7.50"), "{b}: {said:?}");
        assert!(said.iter().any(|w| w == "TAKINGS 今日退款 ¥5.00（1 笔）"), "{b}: {said:?}");
        assert!(said.iter().any(|w| w == "CASHIER_REFUSED managers-only"), "{b}: {said:?}");
        assert_eq!(refunded(&s, "SHOP0001"), (1, 500), "{b}: one refund, the manager's");
        support::ledger_check(&s);
    }
}
