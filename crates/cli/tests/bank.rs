//! Bank cards through the simulated bank, on both backends: top-ups and withdrawals held by pending
//! ledger transfers until the bank answers; declines release the hold; a slow bank is reconciled later;
//! idempotent on request_id. Money moves only with bound cards, and top-ups and withdrawals need the PIN
//! (binding, the PIN's refusals and replays without it: tests/pin.rs).

mod support;

use saoma_wechatpay::client::http;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{bind_card, saoma, Server};

/// A top-up or a withdrawal, with the PIN.
fn op(s: &Server, session: &str, path: &str, card: &str, amount: i64, rid: &str) -> (u16, serde_json::Value) {
    let r = http(&s.base, "POST", path, &[("Authorization", session)], &json!({"card_no": card, "amount": amount, "request_id": rid, "pin": "123456"}).to_string()).unwrap();
    (r.status, r.json())
}

fn balance(s: &Server, session: &str) -> (i64, i64) {
    let v = http(&s.base, "GET", "/wallet/balance", &[("Authorization", session)], "").unwrap().json();
    (v["balance"].as_i64().unwrap(), v["available"].as_i64().unwrap())
}

#[test]
fn top_ups_and_withdrawals_settle_as_the_bank_answers() {
    for s in Server::all(true) {
        assert!(saoma().args(["user", "create", "--phone", "13400000004", "--pin", "123456", "--data-dir"]).arg(&s.data_dir).output().unwrap().status.success());
        let session = s.wallet_session("13400000004");
        let ok_card = "6222000000000001";
        // A card not bound yet moves no money either way (and leaves no operation).
        assert_eq!(op(&s, &session, "/wallet/topup", ok_card, 5_000, "t0").1["code"], "CARD_NOT_BOUND");
        for card in [ok_card, "6222000000000002", "6222000000000003"] {
            bind_card(&s, &session, "13400000004", card);
        }
        let (st, v) = op(&s, &session, "/wallet/topup", ok_card, 5_000, "t1");
        assert_eq!((st, v["state"].as_str()), (200, Some("succeeded")), "{}: {v}", s.backend);
        assert_eq!(balance(&s, &session), (5_000, 5_000));
        // Idempotent on request_id; the same id for something else is refused.
        assert_eq!(op(&s, &session, "/wallet/topup", ok_card, 5_000, "t1").1["id"], v["id"]);
        assert_eq!(op(&s, &session, "/wallet/topup", ok_card, 6_000, "t1").0, 409);
        assert_eq!(balance(&s, &session), (5_000, 5_000));
        // Declined: the hold is voided, nothing arrives.
        let (_, v) = op(&s, &session, "/wallet/topup", "6222000000000002", 1_000, "t2");
        assert_eq!(v["state"], "failed");
        assert_eq!(balance(&s, &session), (5_000, 5_000));
        // Withdrawals: the money is reserved, then leaves; more than the balance is refused outright.
        assert_eq!(op(&s, &session, "/wallet/withdraw", ok_card, 2_000, "w1").1["state"], "succeeded");
        assert_eq!(balance(&s, &session), (3_000, 3_000));
        let (st, v) = op(&s, &session, "/wallet/withdraw", ok_card, 10_000, "w2");
        assert_eq!((st, v["code"].as_str()), (403, Some("NOT_ENOUGH")));
        let (_, v) = op(&s, &session, "/wallet/withdraw", "6222000000000002", 1_000, "w3");
        assert_eq!(v["state"], "failed");
        assert_eq!(balance(&s, &session), (3_000, 3_000));
        // A slow bank: pending (a withdrawal's money held), settled by the reconciler once the bank has
        // decided (ten seconds of business time later).
        assert_eq!(op(&s, &session, "/wallet/topup", "6222000000000003", 1_000, "t3").1["state"], "pending");
        assert_eq!(op(&s, &session, "/wallet/withdraw", "6222000000000003", 500, "w4").1["state"], "pending");
        assert_eq!(balance(&s, &session), (3_000, 2_500));
        let out = saoma().args(["clock", "advance", "11s", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(out.status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while balance(&s, &session) != (3_500, 3_500) {
            assert!(Instant::now() < deadline, "{}: not reconciled: {:?}", s.backend, balance(&s, &session));
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(op(&s, &session, "/wallet/topup", "6222000000000003", 1_000, "t3").1["state"], "succeeded");
        let out = saoma().args(["ledger", "check", "--database-url", &s.database_url]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(op(&s, &session, "/wallet/topup", "12345", 1, "t9").0, 400);
        // The history: top-ups and withdrawals, newest first, with their outcome.
        let h = http(&s.base, "GET", "/wallet/transactions", &[("Authorization", &session)], "").unwrap().json();
        let kinds: Vec<(String, i64, String)> = h["transactions"].as_array().unwrap().iter().map(|t| (t["kind"].as_str().unwrap().into(), t["amount"].as_i64().unwrap(), t["state"].as_str().unwrap().into())).collect();
        assert!(kinds.contains(&("top_up".into(), 5_000, "succeeded".into())), "{kinds:?}");
        assert!(kinds.contains(&("withdrawal".into(), -2_000, "succeeded".into())));
        assert!(kinds.contains(&("top_up".into(), 1_000, "failed".into())));
        assert_eq!(kinds.len(), 6, "refused requests (not enough money, a bad card) leave no operation");
        // The SMS outbox through the CLI.
        let out = saoma().args(["sms", "--json", "--phone", "13400000004", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["messages"][0]["used"], true);
    }
}

#[test]
fn the_cli_binds_a_card_tops_up_and_withdraws_with_the_pin() {
    for s in Server::all(true) {
        let b = s.backend;
        support::user(&s, "13400000005", 0);
        let run = |args: &[&str]| {
            let out = saoma().args(args).args(["--json", "--phone", "13400000005", "--data-dir"]).arg(&s.data_dir).output().unwrap();
            let text = if out.status.success() { String::from_utf8_lossy(&out.stdout).into_owned() } else { String::from_utf8_lossy(&out.stderr).into_owned() };
            (out.status.success(), text)
        };
        let card = "6222060000000001";
        // Not bound yet: no top-up.
        let (ok, e) = run(&["topup", "--card-no", card, "--amount", "3000", "--pin", "123456"]);
        assert!(!ok && e.contains("CARD_NOT_BOUND"), "{b}: {e}");
        let (ok, e) = run(&["card", "bind", "--pin", "000000", card]);
        assert!(!ok && e.contains("PIN_WRONG"), "{b}: {e}");
        let (ok, v) = run(&["card", "bind", "--pin", "123456", card]);
        assert!(ok, "{b}: {v}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&v).unwrap()["tail"], "0001");
        let (ok, v) = run(&["card", "list"]);
        assert!(ok && v.contains("0001") && !v.contains(card), "{b}: {v}");
        // Without --pin neither command runs: the CLI asks for it (a top-up needs the PIN too).
        for cmd in ["topup", "withdraw"] {
            let (ok, e) = run(&[cmd, "--card-no", card, "--amount", "1000"]);
            assert!(!ok && e.contains("--pin"), "{b} {cmd}: {e}");
        }
        let (ok, e) = run(&["topup", "--card-no", card, "--amount", "3000", "--pin", "000000"]);
        assert!(!ok && e.contains("PIN_WRONG"), "{b}: {e}");
        let (ok, v) = run(&["topup", "--card-no", card, "--amount", "3000", "--request-id", "cli-t1", "--pin", "123456"]);
        assert!(ok && v.contains("succeeded"), "{b}: {v}");
        let (ok, v) = run(&["withdraw", "--card-no", card, "--amount", "1000", "--pin", "123456"]);
        assert!(ok && v.contains("succeeded"), "{b}: {v}");
        let session = s.wallet_session("13400000005");
        assert_eq!(balance(&s, &session), (2_000, 2_000), "{b}");
    }
}
