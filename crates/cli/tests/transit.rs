//! The transit ride code end to end on both backends, over a simulated day on the virtual clock: an
//! operator with distance fares, two gates verifying offline against the signed lists they pulled,
//! three riders. Offline taps uploaded late and out of order, an entry whose exit arrives after the
//! maximum was charged (corrected), a rider whose wallet runs dry (debt → credential refused and
//! blacklisted at the gate → repay → rides again), a screenshot replayed at another gate (one charge,
//! an alarm, the card blocked), batches re-sent and conflicting, and a card refund (72 h hold, deposit
//! back, agreement ended). At the end every ride is charged exactly once and the ledger is clean.
//! Then what the server refuses and tolerates, and a rider's repayments racing a gate's uploads of her
//! new rides, round after round, with every ride's orders and payments read from the database.

mod support;

use saoma_ridecode::{DeviceKeyPair, Direction, Reject, RideCode, Suite, TerminalRecord};
use serde_json::{json, Value};
use support::{db_rows, ledger_check, user, Cell, Server};

const SCOPE: u16 = 21;

#[path = "transit/sim.rs"]
mod sim;
use sim::*;

#[test]
fn a_day_of_rides_on_two_gates_with_three_riders() {
    for s in Server::all(true) {
        let b = s.backend;
        let mut admin = Admin::new(&s);
        let m = s.merchant("地铁公司", "public_key");
        // Stops 1, 2, 3 at 0, 5 and 11 km; up to 6 km 2 CNY, up to 12 km 3 CNY, beyond 5 CNY.
        let fares = json!({ "stops": [[1, 0], [2, 5000], [3, 11000]], "bands": [[6000, 200], [12000, 300], [4000000000u64, 500]], "max_fare": 500 });
        let op = admin.operator(&m, fares, 8);
        let deposit = op["deposit"].as_i64().unwrap();
        assert_eq!(deposit, 2 * 8 * 500);

        user(&s, "13300000001", 30_000);
        user(&s, "13300000002", 30_000);
        user(&s, "13300000003", deposit + 100);
        let mut alice = Phone::new(&s, "13300000001", 1);
        let mut bob = Phone::new(&s, "13300000002", 2);
        let mut carol = Phone::new(&s, "13300000003", 3);
        // No card yet: no credential. Opening: the agreement signed with the PIN, the deposit held.
        assert_eq!(alice.refresh(&s), Err("CARD_NOT_EXIST".into()));
        assert_eq!(alice.open(&s, "000000").0, 403);
        for p in [&alice, &bob, &carol] {
            let (st, card) = p.open(&s, "123456");
            assert_eq!((st, card["state"].as_str()), (200, Some("ACTIVE")), "{card}");
            assert_eq!(card["card_no"].as_str().unwrap().len(), 16);
        }
        assert_eq!(alice.open(&s, "123456").0, 409);
        assert_eq!(alice.balance(&s), 30_000 - deposit);
        for p in [&mut alice, &mut bob, &mut carol] {
            p.refresh(&s).unwrap();
        }

        let mut gate_a = Gate::register(&admin, 1, Direction::In, 11);
        let mut gate_b = Gate::register(&admin, 3, Direction::Out, 12);
        gate_a.pull(&s);
        gate_b.pull(&s);

        // Morning: Alice and Bob ride 1 → 3 (3 CNY), Carol too — her wallet has 1 CNY left.
        let t = admin.now();
        for p in [&mut alice, &mut bob, &mut carol] {
            let c = p.code(t);
            gate_a.tap(&c, t).unwrap();
            // The same code again is a replay; a fresh code within 10 s is a double tap: the gate opens
            // but queues nothing.
            assert_eq!(gate_a.tap(&c, t + 1), Err(Reject::Replay));
            let c2 = p.code(t + 2);
            gate_a.tap(&c2, t + 2).unwrap();
        }
        assert_eq!(gate_a.queue.len(), 3);
        let t2 = t + 1200;
        for p in [&mut alice, &mut carol] {
            let c = p.code(t2);
            gate_b.tap(&c, t2).unwrap();
        }
        // Bob's exit is on gate B too, but gate B goes offline with it (uploaded much later).
        let bob_exit = bob.code(t2 + 5);
        gate_b.tap(&bob_exit, t2 + 5).unwrap();
        let bob_exit_record = gate_b.queue.pop().unwrap();
        // Gate B uploads first: exits before their entries.
        assert_eq!(gate_b.upload(&s), ["ACCEPTED", "ACCEPTED"]);
        let a_batch = gate_a.queue.clone();
        assert_eq!(gate_a.upload(&s), ["ACCEPTED", "ACCEPTED", "ACCEPTED"]);
        // The same batch again changes nothing.
        let again: Vec<String> = gate_a.upload_records(&s, &a_batch).iter().map(|r| r["status"].as_str().unwrap().to_string()).collect();
        assert_eq!(again, ["ACCEPTED", "ACCEPTED", "ACCEPTED"]);

        // Alice: exit first (charged the maximum), then the entry came: corrected to 3 CNY.
        let v = alice.view(&s);
        assert_eq!(v["rides"].as_array().unwrap().len(), 1, "{b} {v}");
        assert_eq!((v["rides"][0]["fare"].as_i64(), v["rides"][0]["state"].as_str()), (Some(300), Some("CORRECTED")), "{v}");
        assert_eq!(alice.balance(&s), 30_000 - deposit - 300);
        // Carol could not pay: debt; no new credential; the gates' next blacklist refuses her.
        let v = carol.view(&s);
        assert_eq!((v["debt"].as_i64(), v["rides"][0]["state"].as_str()), (Some(300), Some("DEBT")), "{v}");
        assert_eq!(carol.refresh(&s), Err("IN_DEBT".into()));
        gate_a.pull(&s);
        let t3 = admin.now();
        assert_eq!(gate_a.tap(&carol.code(t3), t3), Err(Reject::Blacklisted));
        // In force until no code of her last credential can pass a gate: not_after + 300 s + 60 s.
        let carol_terms = *carol.credential.as_ref().unwrap().terms();
        let entry = gate_a.blacklist.as_ref().unwrap().entries().iter().find(|e| e.account_id == carol_terms.account_id).copied();
        assert_eq!(entry.map(|e| e.until), Some(carol_terms.not_after + 360), "{b}");

        // Bob's entry waits for its exit; after four hours it is charged the maximum…
        assert_eq!(bob.view(&s)["rides"][0]["state"], "OPEN");
        admin.advance(4 * 3600 + 60);
        wait_for("Bob's open ride charged", || bob.view(&s)["rides"][0]["state"] == "CHARGED");
        assert_eq!(bob.balance(&s), 30_000 - deposit - 500);
        // …and corrected when gate B finally uploads his exit.
        let r = gate_b.upload_records(&s, std::slice::from_ref(&bob_exit_record));
        assert_eq!(r[0]["status"], "ACCEPTED", "{r:?}");
        assert_eq!(bob.view(&s)["rides"][0]["state"], "CORRECTED");
        assert_eq!(bob.balance(&s), 30_000 - deposit - 300);
        // Gate B uploading that sequence again with other content is a conflict: refused, an alarm.
        let forged = TerminalRecord { terminal_id: gate_b.id, terminal_sequence: 3, time: t2, direction: Direction::Out, stop_id: 2, code: RideCode::parse(&bob_exit).unwrap().to_bytes() }.sign(&gate_b.key).unwrap();
        assert_eq!(gate_b.upload_records(&s, &[forged])[0]["status"], "REJECTED");

        // Carol tops up and repays: the debt is gone, she gets a credential and rides again.
        carol.top_up(&s, 2_000, "carol-1");
        assert_eq!(carol.balance(&s), 2_100);
        let (st, r) = carol.repay(&s);
        assert_eq!((st, r["repaid"].as_i64()), (200, Some(300)), "{r}");
        assert_eq!(carol.balance(&s), 1_800);
        carol.refresh(&s).unwrap();
        gate_a.pull(&s);
        gate_b.pull(&s);
        let t4 = admin.now();
        gate_a.tap(&carol.code(t4), t4).unwrap();
        gate_b.tap(&carol.code(t4 + 600), t4 + 600).unwrap();
        assert_eq!(gate_a.upload(&s), ["ACCEPTED"]);
        assert_eq!(gate_b.upload(&s), ["ACCEPTED"]);
        assert_eq!(carol.balance(&s), 1_500);

        // A screenshot of Alice's code shown at two gates offline: both let it through, the server
        // charges once, raises an alarm and blocks the card.
        alice.refresh(&s).unwrap();
        let t5 = admin.now();
        let shot = alice.code(t5);
        gate_a.tap(&shot, t5).unwrap();
        let mut gate_c = Gate::register(&admin, 2, Direction::In, 13);
        gate_c.pull(&s);
        gate_c.tap(&shot, t5 + 3).unwrap();
        assert_eq!(gate_a.upload(&s), ["ACCEPTED"]);
        assert_eq!(gate_c.upload(&s), ["CLONE"]);
        let (_, alarms) = admin.call("GET", &format!("/admin/transit/{SCOPE}/alarms"), Value::Null);
        let kinds: Vec<&str> = alarms["alarms"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["CONFLICT", "CLONE"], "{alarms}");
        let reasons: Vec<&str> = alarms["alarms"].as_array().unwrap().iter().map(|a| a["reason"].as_str().unwrap()).collect();
        assert_eq!(reasons, ["sequence_conflict", "clone"], "{alarms}");
        assert_eq!(alice.refresh(&s), Err("CARD_BLOCKED".into()));
        // The rider sees why: the card BLOCKED for a clone, until the copied credential expires.
        let v = alice.view(&s);
        let until = alice.credential.as_ref().unwrap().terms().not_after as i64;
        assert_eq!((v["state"].as_str(), v["blocked"]["reason"].as_str(), v["blocked"]["until_unix"].as_i64()), (Some("BLOCKED"), Some("clone"), Some(until)), "{b} {v}");
        assert_eq!(v["blocked"]["until"].as_str(), Some(saoma_core::time::format_rfc3339_cst(until).as_str()), "{v}");
        let (_, terms) = admin.call("GET", &format!("/admin/transit/{SCOPE}/terminals"), Value::Null);
        assert_eq!(terms["terminals"].as_array().unwrap().len(), 3, "{terms}");

        // Bob asks for his card refund: no more credentials; after 72 h past his credential's expiry
        // the deposit comes back and the agreement ends.
        let before = bob.balance(&s);
        let (st, r) = bob.wallet(&s, "POST", &format!("/wallet/transit/{SCOPE}/refund-card"), Value::Null);
        assert_eq!((st, r["state"].as_str()), (200, Some("LEAVING")), "{r}");
        assert_eq!(bob.refresh(&s), Err("CARD_CLOSED".into()));
        // The hold ends 72 h after the later of the request and the last credential's expiry.
        let due = (admin.now() as i64).max(bob.credential.as_ref().unwrap().terms().not_after as i64) + 72 * 3600;
        admin.advance(due - admin.now() as i64 - 120);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // Days later the wallet session has expired: log in again to look.
        let bob = Phone { session: s.wallet_session("13300000002"), ..bob };
        assert_eq!(bob.view(&s)["state"], "LEAVING", "{b}: two minutes before the hold ends");
        admin.advance(240);
        wait_for("Bob's deposit refund", || bob.view(&s)["state"] == "CLOSED");
        assert_eq!(bob.balance(&s), before + deposit);
        let (_, agreements) = bob.wallet(&s, "GET", "/wallet/agreements", Value::Null);
        assert_eq!(agreements["agreements"][0]["state"], "TERMINATED", "{agreements}");
        // His wallet history shows the deposit held when the card opened and returned when it closed.
        let (_, history) = bob.wallet(&s, "GET", "/wallet/transactions", Value::Null);
        let deposits: Vec<(&str, i64)> = history["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"].as_str().is_some_and(|k| k.starts_with("transit_deposit")))
            .map(|t| (t["kind"].as_str().unwrap(), t["amount"].as_i64().unwrap()))
            .collect();
        assert_eq!(deposits, [("transit_deposit_return", deposit), ("transit_deposit_hold", -deposit)], "{b} {history}");

        // Every ride charged exactly once: Alice's cloned code once (its exit never came: the maximum),
        // Carol's debt once and her later ride once.
        let alice = Phone { session: s.wallet_session("13300000001"), ..alice };
        wait_for("Alice's open ride charged", || alice.view(&s)["rides"].as_array().unwrap().iter().all(|r| r["state"] != "OPEN"));
        assert_eq!(alice.view(&s)["rides"].as_array().unwrap().len(), 2);
        assert_eq!(alice.balance(&s), 30_000 - deposit - 300 - 500);
        let carol = Phone { session: s.wallet_session("13300000003"), ..carol };
        assert_eq!((carol.balance(&s), carol.view(&s)["debt"].as_i64()), (1_500, Some(0)));
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
    }
}

/// The newest Ed25519 issuer key's seed, read from the database and opened with the master key (an
/// attacker who stole both: the seed is sealed at rest).
fn stolen_issuer_key(s: &Server) -> saoma_ridecode::IssuerKeyPair {
    let rows = db_rows(s, "SELECT key_id, seed, not_before, not_after FROM ridecode_keys WHERE purpose = 'issuer' AND suite = 1 ORDER BY key_id DESC LIMIT 1");
    let r = &rows[0];
    let seed_hex = support::unseal(s, "ridecode_keys", "seed", &r[0].int().to_string(), r[1].text());
    let seed: [u8; 32] = unhex(&seed_hex).try_into().unwrap();
    saoma_ridecode::IssuerKeyPair::from_seed(Suite::Ed25519, &seed, r[0].int() as u16, r[2].int() as u32, r[3].int() as u32).unwrap()
}

#[test]
fn what_the_server_refuses_and_what_it_tolerates() {
    for s in Server::all(true) {
        let b = s.backend;
        let mut admin = Admin::new(&s);
        let m = s.merchant("巴士", "public_key");
        admin.operator(&m, json!({ "flat": 300 }), 20);
        user(&s, "13300000011", 50_000);
        let mut rider = Phone::new(&s, "13300000011", 7);
        assert_eq!(rider.open(&s, "123456").0, 200);
        rider.refresh(&s).unwrap();
        let mut gate = Gate::register(&admin, 1, Direction::In, 21);
        gate.pull(&s);

        // A credential signed with the real (stolen) issuer key but never issued: refused by the server
        // even though a gate would accept it.
        let real = rider.credential.unwrap();
        let mut terms = *real.terms();
        terms.sequence = 999;
        let thief = DeviceKeyPair::from_seed(Suite::Ed25519, &[66; 32]).unwrap();
        let forged = stolen_issuer_key(&s).issue(&terms, &thief.public_key()).unwrap();
        let t = admin.now();
        let code = RideCode::generate(&forged, &thief, t, 1).unwrap().to_bytes();
        gate.tap(&code, t).unwrap();
        let queued = std::mem::take(&mut gate.queue);
        let r = gate.upload_records(&s, &queued);
        assert_eq!((r[0]["status"].as_str(), r[0]["reason"].as_str()), (Some("REJECTED"), Some("credential_not_issued")), "{b} {r:?}");
        rider.credential = Some(real);

        // A gate whose clock was reset to 2000: its records are refused (the code's age makes no sense).
        let code = rider.code(t);
        let rec = TerminalRecord { terminal_id: gate.id, terminal_sequence: 2, time: 946_684_800, direction: Direction::In, stop_id: 1, code }.sign(&gate.key).unwrap();
        let r = gate.upload_records(&s, &[rec]);
        // Made "now" by the phone, so 26 years in the gate's future: the gate's own reason code.
        assert_eq!(r[0]["reason"], "code_from_future", "{r:?}");
        gate.seq = 2;

        // A gate offline for five days: its taps still count, charged when they arrive. A gap in its
        // sequence shows in the operator's view.
        // (Fifteen seconds on: the forged tap of the same account was a moment ago — a double tap.)
        let t2 = admin.now() + 15;
        let c1 = rider.code(t2);
        gate.tap(&c1, t2).unwrap();
        gate.seq += 1; // a record lost on the gate
        let c2 = rider.code(t2 + 60);
        gate.tap(&c2, t2 + 60).unwrap();
        admin.advance(5 * 24 * 3600);
        let before = {
            let rider = Phone { session: s.wallet_session("13300000011"), ..Phone::new(&s, "13300000011", 7) };
            rider.balance(&s)
        };
        assert_eq!(gate.upload(&s), ["ACCEPTED", "ACCEPTED"]);
        let session = s.wallet_session("13300000011");
        assert_eq!(support::balance(&s, &session), before - 600, "{b}");
        let (_, terms_view) = admin.call("GET", &format!("/admin/transit/{SCOPE}/terminals"), Value::Null);
        assert_eq!((terms_view["terminals"][0]["highest_sequence"].as_i64(), terms_view["terminals"][0]["missing"].as_i64()), (Some(5), Some(1)), "{terms_view}");

        // Midnight (China time): a code made just before it with yesterday's credential is accepted just
        // after it, and the new day's credential works too.
        let mut rider = Phone { session, ..rider };
        let now = admin.now() as i64;
        let midnight = (now + 8 * 3600).div_euclid(86_400) * 86_400 + 86_400 - 8 * 3600;
        rider.refresh(&s).unwrap();
        admin.advance(midnight - now - 20);
        let t3 = admin.now();
        let late = rider.code(t3);
        gate.pull(&s);
        gate.tap(&late, t3 + 30).unwrap();
        admin.advance(60);
        let mut rider = Phone { session: s.wallet_session("13300000011"), ..rider };
        rider.refresh(&s).unwrap();
        let t4 = admin.now();
        gate.tap(&rider.code(t4), t4 + 20).unwrap();
        assert_eq!(gate.upload(&s), ["ACCEPTED", "ACCEPTED"], "{b}");

        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
    }
}

/// What the database says of one rider's rides and money, checked ride by ride on the way: each ride
/// CHARGED by exactly one paid order keyed by the ride (its own charge `R…` or its repayment `P…`, as
/// ingest names them) whose one payment left her wallet with the fare, or DEBT with no paid order; no
/// other paid order, no other payment from her wallet, no payment for an order that is not paid.
struct Books {
    /// CHARGED ride → the paid order: `R` (its own charge) or `P` (its repayment), and the order's id.
    paid: std::collections::HashMap<u128, (char, u128)>,
    debt_rides: std::collections::HashSet<u128>,
    /// The fares of the CHARGED rides; the unpaid ones; the repayment orders' totals.
    charged: i64,
    debt: i64,
    repaid: i64,
}

fn books(s: &Server, phone: &str, account: u64, mchid: &str, fare: i64) -> Books {
    use std::collections::{HashMap, HashSet};
    let b = s.backend;
    let rides = db_rows(s, &format!("SELECT id, fare, state, order_id FROM rides WHERE account_id = {account}"));
    // out_trade_no → (order id, state, total).
    let orders: HashMap<String, (u128, String, i64)> = db_rows(s, &format!("SELECT out_trade_no, id, trade_state, total FROM orders WHERE mchid = '{mchid}'"))
        .into_iter()
        .map(|r| (r[0].text().to_string(), (r[1].id().unwrap(), r[2].text().to_string(), r[3].int())))
        .collect();
    // Every payment out of her wallet: order id → the amounts.
    let mut payments: HashMap<u128, Vec<i64>> = HashMap::new();
    for r in db_rows(s, &format!("SELECT t.reference, t.amount FROM transfers t JOIN users u ON u.wallet_account = t.debit_account_id WHERE u.phone = '{phone}' AND t.code = 1")) {
        payments.entry(r[0].id().unwrap()).or_default().push(r[1].int());
    }
    let mut books = Books { paid: HashMap::new(), debt_rides: HashSet::new(), charged: 0, debt: 0, repaid: 0 };
    let mut ride_orders = HashSet::new();
    for r in &rides {
        let (ride, state, order) = (r[0].id().unwrap(), r[2].text(), r[3].id());
        assert_eq!(r[1].int(), fare, "{b}: ride {ride:032x}'s fare");
        let key = |prefix: char| format!("{prefix}{:031x}", ride & ((1u128 << 124) - 1));
        let mut paid = Vec::new();
        for prefix in ['R', 'P'] {
            if let Some(o) = orders.get(&key(prefix)) {
                ride_orders.insert(key(prefix));
                if o.1 == "SUCCESS" {
                    paid.push((prefix, o.0, o.2));
                }
            }
        }
        match state {
            "CHARGED" => {
                assert_eq!(paid.len(), 1, "{b}: ride {ride:032x} is CHARGED and has {} paid orders: {paid:?}", paid.len());
                let (prefix, id, total) = paid[0];
                assert_eq!((order, total), (Some(id), fare), "{b}: ride {ride:032x}'s order");
                books.paid.insert(ride, (prefix, id));
                books.charged += fare;
                if prefix == 'P' {
                    books.repaid += fare;
                }
            }
            "DEBT" => {
                assert_eq!(paid, [], "{b}: ride {ride:032x} is DEBT yet paid");
                books.debt_rides.insert(ride);
                books.debt += fare;
            }
            other => panic!("{b}: ride {ride:032x} is {other}"),
        }
    }
    for (no, (id, state, total)) in &orders {
        assert!(ride_orders.contains(no), "{b}: order {no} ({state}) belongs to no ride of hers");
        let moved = payments.remove(id).unwrap_or_default();
        let expected = if state == "SUCCESS" { vec![*total] } else { vec![] };
        assert_eq!(moved, expected, "{b}: order {no} ({state}): the payments out of her wallet");
    }
    assert!(payments.is_empty(), "{b}: payments out of her wallet for no order of hers: {payments:?}");
    books
}

/// Repayment racing the charging of new rides (ridecode.md, "Cases a test suite must include"), round
/// after round on both backends. A rider in debt rides on at a gate that is offline (its lists pulled
/// before she owed anything, so her credential keeps working there); each round the gate uploads her
/// new rides — the batch sent twice, the gate retrying — at the same moment as she repays twice (a
/// double submit, the second a request later), four threads released together. Before each round her
/// wallet is topped up to her debt plus the fares of 2, 5, 1 or 4 rides (a batch is 4), so that in most
/// rounds whichever job the writer takes first leaves the other short. The agreement's daily limit is
/// reached after a few rounds (by the rides charged; repayments do not count towards it): past it the gate's rides are refused and
/// become debt while money remains, so a repayment that comes after the upload pays rides of the very
/// batch it raced. When her credential runs out of codes she first repays everything alone (a new
/// credential needs no debt). After each round: the books above, the balance what was put in less the
/// rides charged, the repayments' answers adding up to exactly the repayment orders, paid rides staying
/// paid by the same order, the debt in her view, a credential refused and the account on the gates'
/// blacklist exactly while she owes; at the end a clean ledger check.
#[test]
fn repayment_racing_the_charging_of_new_rides() {
    const FARE: i64 = 300;
    // Codes per credential, and the agreement's daily limit in rides.
    const MAX_USES: usize = 20;
    const BATCH: usize = 4;
    const ROUNDS: usize = 12;
    // What a top-up leaves beyond her debt, in rides, round after round: enough for every new ride or not.
    const SPARE: [i64; 4] = [2, 5, 1, 4];
    const PHONE: &str = "13300000021";
    for s in Server::all(true) {
        let b = s.backend;
        let started = std::time::Instant::now();
        let admin = Admin::new(&s);
        let m = s.merchant("公交", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        let op = admin.operator(&m, json!({ "flat": FARE }), MAX_USES as u8);
        user(&s, PHONE, op["deposit"].as_i64().unwrap());
        let mut rider = Phone::new(&s, PHONE, 9);
        assert_eq!(rider.open(&s, "123456").0, 200);
        assert_eq!(rider.balance(&s), 0);
        rider.refresh(&s).unwrap();
        let account = rider.credential.as_ref().unwrap().terms().account_id;
        let mut gate = Gate::register(&admin, 1, Direction::In, 31);
        gate.pull(&s);
        let (mut funded, mut answered, mut taps, t0) = (0, 0, 0u32, admin.now());
        // Her next rides at the gate, fifteen seconds apart: the signed records it queued.
        let ride = |rider: &mut Phone, gate: &mut Gate, taps: &mut u32| {
            for _ in 0..BATCH {
                let t = t0 + 15 * *taps;
                *taps += 1;
                let code = rider.code(t);
                gate.tap(&code, t).unwrap();
            }
            std::mem::take(&mut gate.queue)
        };
        // In debt from the start: her first rides taken with nothing in the wallet.
        let first = ride(&mut rider, &mut gate, &mut taps);
        assert_eq!(gate.upload_records(&s, &first).iter().filter(|r| r["status"] == "ACCEPTED").count(), BATCH, "{b}");
        let mut last = books(&s, PHONE, account, &mchid, FARE);
        assert_eq!((last.charged, last.debt), (0, BATCH as i64 * FARE), "{b}");
        assert_eq!(rider.refresh(&s), Err("IN_DEBT".to_string()), "{b}");
        let (mut repaid_first, mut refused, mut repaid_own) = (0, 0, 0);
        for round in 0..ROUNDS {
            let fund = |rider: &Phone, funded: &mut i64, target: i64, tag: &str| {
                let top = target - rider.balance(&s);
                if top > 0 {
                    rider.top_up(&s, top, &format!("{tag}-{round}"));
                    *funded += top;
                }
            };
            // A credential needs no debt: with too few codes left she pays everything first, alone.
            if rider.counter as usize + BATCH > MAX_USES {
                fund(&rider, &mut funded, last.debt, "settle");
                let (st, r) = rider.repay(&s);
                assert_eq!((st, r["repaid"].as_i64()), (200, Some(last.debt)), "{b} round {round}: {r}");
                answered += last.debt;
                rider.refresh(&s).unwrap();
            }
            fund(&rider, &mut funded, last.debt + SPARE[round % SPARE.len()] * FARE, "race");
            let batch = ride(&mut rider, &mut gate, &mut taps);
            let go = std::sync::Barrier::new(4);
            let (uploads, repays) = std::thread::scope(|sc| {
                let uploads: Vec<_> = (0..2).map(|_| sc.spawn(|| { go.wait(); gate.upload_records(&s, &batch) })).collect();
                let repays: Vec<_> = (0..2)
                    .map(|i| {
                        let (go, rider, s) = (&go, &rider, &s);
                        sc.spawn(move || {
                            go.wait();
                            // The second looks at what she owes first, as the app would: one request later.
                            if i == 1 {
                                rider.view(s);
                            }
                            rider.repay(s)
                        })
                    })
                    .collect();
                (uploads.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>(), repays.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>())
            });
            for r in &uploads {
                let statuses: Vec<&str> = r.iter().map(|x| x["status"].as_str().unwrap()).collect();
                assert_eq!(statuses, ["ACCEPTED"; BATCH], "{b} round {round}: {r:?}");
            }
            let now = books(&s, PHONE, account, &mchid, FARE);
            for (st, r) in &repays {
                match (st, r["repaid"].as_i64(), r["code"].as_str()) {
                    (200, Some(paid), _) => answered += paid,
                    (403, _, Some("NOT_ENOUGH")) => {}
                    _ => panic!("{b} round {round}: repayment answered {st} {r}"),
                }
            }
            // Every record one ride, charged once or owed; the money and the answers agree with them.
            assert_eq!(now.paid.len() + now.debt_rides.len(), taps as usize, "{b} round {round}: one ride per tap");
            assert_eq!(rider.balance(&s), funded - now.charged, "{b} round {round}: the wallet is what was put in less the rides charged");
            assert_eq!(answered, now.repaid, "{b} round {round}: the repayments' answers against the repayment orders");
            assert_eq!(rider.view(&s)["debt"].as_i64(), Some(now.debt), "{b} round {round}: the debt she sees");
            // A ride once paid stays paid, by the same order.
            for (ride, order) in &last.paid {
                assert_eq!(now.paid.get(ride), Some(order), "{b} round {round}: ride {ride:032x}");
            }
            // Credentials and the blacklist follow the debt.
            let listed = gate.lists(&s).1.is_blocked(account, admin.now() as u64);
            let issued = rider.refresh(&s);
            if now.debt > 0 {
                assert_eq!((issued, listed), (Err("IN_DEBT".to_string()), true), "{b} round {round}: owes {}", now.debt);
            } else {
                assert_eq!((issued, listed), (Ok(()), false), "{b} round {round}: owes nothing");
            }
            // How the race went (printed, not asserted: the writer's order is not the test's to choose).
            let own = now.paid.iter().filter(|(r, (prefix, _))| *prefix == 'P' && !last.paid.contains_key(r) && !last.debt_rides.contains(r)).count();
            repaid_own += own;
            if own == 0 && repays.iter().any(|(st, r)| *st == 200 && r["repaid"].as_i64() > Some(0)) {
                repaid_first += 1;
            }
            if repays.iter().all(|(st, _)| *st == 403) {
                refused += 1;
            }
            last = now;
        }
        // Only the operator's own deductions count towards the agreement's daily limit: the rides'
        // charges carry the agreement, her repayments (she is present, paying what she owes) do not.
        let marked = |prefix: &str| {
            let q = format!("SELECT COUNT(*), COUNT(agreement_id) FROM orders WHERE mchid = '{mchid}' AND out_trade_no LIKE '{prefix}%' AND trade_state = 'SUCCESS'");
            match &db_rows(&s, &q)[0][..] {
                [Cell::Int(all), Cell::Int(with_agreement)] => (*all, *with_agreement),
                other => panic!("{b}: {other:?}"),
            }
        };
        let (rides, rides_marked) = marked("R");
        let (repayments, repayments_marked) = marked("P");
        assert!(rides > 0 && repayments > 0, "{b}: {rides} rides and {repayments} repayments paid");
        assert_eq!((rides_marked, repayments_marked), (rides, 0), "{b}: orders counted towards the daily limit");
        let text = ledger_check(&s);
        assert!(text.contains("clean"), "{b}: {text}");
        eprintln!(
            "{b}: {ROUNDS} rounds, {taps} rides ({} charged, {} owed at the end); rounds where a repayment paid older rides only: {repaid_first}, \
             where both were refused: {refused}; rides repaid in the round that uploaded them: {repaid_own}; {:.1} s",
            last.paid.len(),
            last.debt_rides.len(),
            started.elapsed().as_secs_f64()
        );
    }
}
