//! The transit ride code end to end on both backends, over a simulated day on the virtual clock: an
//! operator with distance fares, two gates verifying offline against the signed lists they pulled,
//! three riders. Offline taps uploaded late and out of order, an entry whose exit arrives after the
//! maximum was charged (corrected), a rider whose wallet runs dry (debt → credential refused and
//! blacklisted at the gate → repay → rides again), a screenshot replayed at another gate (one charge,
//! an alarm, the card blocked), batches re-sent and conflicting, and a card refund (72 h hold, deposit
//! back, agreement ended). At the end every ride is charged exactly once and the ledger is clean.

mod support;

use saoma_ridecode::{
    verify, Blacklist, Credential, CredentialCache, DeviceKeyPair, Direction, KeyList, PlatformPublicKey, PublicKey, Reject, RideCode, Suite, TerminalConfig,
    TerminalKeyPair, TerminalRecord, TerminalState, Trust,
};
use saoma_wechatpay::client::http;
use serde_json::{json, Value};
use support::{ledger_check, user, Server};

const SCOPE: u16 = 21;

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

struct Admin<'a> {
    s: &'a Server,
    token: String,
    offset: i64,
}

impl<'a> Admin<'a> {
    /// The operator's client (the token from the data directory), at the clock's current offset 0.
    fn new(s: &'a Server) -> Admin<'a> {
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        Admin { s, token: format!("Bearer {}", token.trim()), offset: 0 }
    }
    fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = http(&self.s.base, method, path, &[("Authorization", &self.token), ("Content-Type", "application/json")], &body.to_string()).unwrap();
        (r.status, r.json())
    }
    /// Business time: the real clock plus what the test advanced.
    fn now(&self) -> u32 {
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + self.offset) as u32
    }
    fn advance(&mut self, seconds: i64) {
        let (st, v) = self.call("POST", "/admin/clock/advance", json!({ "seconds": seconds }));
        assert_eq!(st, 200, "{v}");
        self.offset = v["offset_seconds"].as_i64().unwrap();
    }
    /// Makes merchant `m` the operator of SCOPE: the operator's JSON (its deposit).
    fn operator(&self, m: &Value, fares: Value, max_uses: u8) -> Value {
        let (st, op) = self.call("POST", "/admin/transit/operators", json!({ "mchid": m["mchid"], "scope": SCOPE, "fares": fares, "max_uses": max_uses }));
        assert_eq!(st, 200, "{} {op}", self.s.backend);
        op
    }
}

/// A rider's phone: a wallet session, a device key, today's credential and its counter.
struct Phone {
    session: String,
    device: DeviceKeyPair,
    credential: Option<Credential>,
    counter: u16,
}

impl Phone {
    fn new(s: &Server, phone: &str, seed: u8) -> Phone {
        Phone { session: s.wallet_session(phone), device: DeviceKeyPair::from_seed(Suite::Ed25519, &[seed; 32]).unwrap(), credential: None, counter: 0 }
    }
    fn wallet(&self, s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
        support::wallet_call(s, &self.session, method, path, &body.to_string())
    }
    /// Opens the transit service with `pin` (the agreement signed, the deposit held): the answer.
    fn open(&self, s: &Server, pin: &str) -> (u16, Value) {
        self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/open"), json!({ "pin": pin }))
    }
    /// `POST /wallet/transit/{scope}/repay`: the answer.
    fn repay(&self, s: &Server) -> (u16, Value) {
        self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/repay"), Value::Null)
    }
    /// Tops the wallet up from a test bank card that succeeds; the bank's answer is awaited.
    fn top_up(&self, s: &Server, amount: i64, request_id: &str) {
        let (st, v) = self.wallet(s, "POST", "/wallet/topup", json!({"card_no": "6222020000000001", "amount": amount, "request_id": request_id}));
        assert_eq!((st, v["state"].as_str()), (200, Some("succeeded")), "{v}");
    }
    /// Asks for today's credential: Ok or the refusal's code.
    fn refresh(&mut self, s: &Server) -> Result<(), String> {
        let (st, v) = self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/credentials"), json!({ "suite": "ed25519", "device_public_key": hexs(self.device.public_key().as_bytes()) }));
        if st != 200 {
            return Err(v["code"].as_str().unwrap_or("?").to_string());
        }
        self.credential = Some(Credential::parse(&unhex(v["credential_hex"].as_str().unwrap())).unwrap());
        self.counter = 0;
        Ok(())
    }
    fn code(&mut self, now: u32) -> Vec<u8> {
        self.counter += 1;
        RideCode::generate(self.credential.as_ref().unwrap(), &self.device, now, self.counter).unwrap().to_bytes()
    }
    fn view(&self, s: &Server) -> Value {
        let (st, v) = self.wallet(s, "GET", &format!("/wallet/transit/{SCOPE}"), Value::Null);
        assert_eq!(st, 200, "{v}");
        v
    }
    fn balance(&self, s: &Server) -> i64 {
        support::balance(s, &self.session)
    }
}

/// A gate: its key, the lists it trusts, its offline state and its queue of signed records.
struct Gate {
    id: u64,
    stop: u32,
    direction: Direction,
    key: TerminalKeyPair,
    list_keys: Vec<PlatformPublicKey>,
    key_list: Option<KeyList>,
    blacklist: Option<Blacklist>,
    cache: CredentialCache,
    state: TerminalState,
    seq: u64,
    queue: Vec<Vec<u8>>,
}

impl Gate {
    fn register(a: &Admin, stop: u32, direction: Direction, seed: u8) -> Gate {
        let key = TerminalKeyPair::from_seed(&[seed; 32]);
        let (st, v) = a.call("POST", "/admin/transit/terminals", json!({ "scope": SCOPE, "stop_id": stop, "public_key": hexs(key.public_key().as_bytes()), "name": format!("gate {stop}") }));
        assert_eq!(st, 200, "{v}");
        let list_keys = v["list_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| PlatformPublicKey { key_id: k["key_id"].as_u64().unwrap() as u16, public_key: PublicKey::from_bytes(Suite::Ed25519, &unhex(k["public_key_hex"].as_str().unwrap())).unwrap() })
            .collect();
        Gate { id: v["terminal_id"].as_u64().unwrap(), stop, direction, key, list_keys, key_list: None, blacklist: None, cache: CredentialCache::new(64), state: TerminalState::new(10_000), seq: 0, queue: Vec::new() }
    }
    /// The signed lists the platform publishes now, verified with the gate's list keys.
    fn lists(&self, s: &Server) -> (KeyList, Blacklist) {
        let v = http(&s.base, "GET", &format!("/transit/{SCOPE}/lists"), &[], "").unwrap().json();
        (
            KeyList::parse_verified(&unhex(v["key_list_hex"].as_str().unwrap()), &self.list_keys).unwrap(),
            Blacklist::parse_verified(&unhex(v["blacklist_hex"].as_str().unwrap()), &self.list_keys).unwrap(),
        )
    }
    /// Pulls the signed lists (what a gate does whenever it has a network).
    fn pull(&mut self, s: &Server) {
        let (key_list, blacklist) = self.lists(s);
        (self.key_list, self.blacklist) = (Some(key_list), Some(blacklist));
    }
    /// A tap, verified offline; accepted taps are queued as signed records.
    fn tap(&mut self, code: &[u8], now: u32) -> Result<(), Reject> {
        let config = TerminalConfig { scope: SCOPE, stale_fare_limit: 0 };
        let trust = Trust { key_list: self.key_list.as_ref().unwrap(), blacklist: self.blacklist.as_ref().unwrap() };
        let accepted = verify(code, now as u64, 300, &config, trust, &mut self.cache, &mut self.state)?;
        if accepted.tap == saoma_ridecode::TapKind::New {
            self.seq += 1;
            let rec = TerminalRecord { terminal_id: self.id, terminal_sequence: self.seq, time: now, direction: self.direction, stop_id: self.stop, code: code.to_vec() };
            self.queue.push(rec.sign(&self.key).unwrap());
        }
        Ok(())
    }
    fn upload_records(&self, s: &Server, records: &[Vec<u8>]) -> Vec<Value> {
        let body = json!({ "records": records.iter().map(|r| hexs(r)).collect::<Vec<_>>() });
        let r = http(&s.base, "POST", &format!("/transit/terminals/{}/uploads", self.id), &[("Content-Type", "application/json")], &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["results"].as_array().unwrap().clone()
    }
    /// Uploads the queue; the statuses.
    fn upload(&mut self, s: &Server) -> Vec<String> {
        let q = std::mem::take(&mut self.queue);
        self.upload_records(s, &q).iter().map(|r| r["status"].as_str().unwrap().to_string()).collect()
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

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
        assert_eq!(alice.refresh(&s), Err("CARD_BLOCKED".into()));
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

/// A value read from the server's database.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    fn int(&self) -> i64 {
        match self {
            Cell::Int(v) => *v,
            c => panic!("not an integer: {c:?}"),
        }
    }
    fn text(&self) -> &str {
        match self {
            Cell::Text(v) => v,
            c => panic!("not text: {c:?}"),
        }
    }
}

/// The rows of `q` (no parameters) run on the server's database directly, for what no API shows.
fn db_rows(s: &Server, q: &str) -> Vec<Vec<Cell>> {
    if let Some(path) = s.database_url.strip_prefix("sqlite:") {
        use rusqlite::types::ValueRef;
        let c = rusqlite::Connection::open(path).unwrap();
        let mut st = c.prepare(q).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => Cell::Null,
                            ValueRef::Integer(v) => Cell::Int(v),
                            ValueRef::Text(t) => Cell::Text(String::from_utf8(t.to_vec()).unwrap()),
                            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                            ValueRef::Real(v) => panic!("a float in {q}: {v}"),
                        })
                    })
                    .collect()
            })
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    } else {
        use postgres::types::Type;
        let mut c = postgres::Client::connect(&s.database_url, postgres::NoTls).unwrap();
        let cell = |r: &postgres::Row, i: usize| {
            let t = r.columns()[i].type_();
            let v = if *t == Type::INT8 {
                r.get::<_, Option<i64>>(i).map(Cell::Int)
            } else if *t == Type::INT4 {
                r.get::<_, Option<i32>>(i).map(|v| Cell::Int(v as i64))
            } else if *t == Type::TEXT || *t == Type::VARCHAR {
                r.get::<_, Option<String>>(i).map(Cell::Text)
            } else if *t == Type::BYTEA {
                r.get::<_, Option<Vec<u8>>>(i).map(Cell::Blob)
            } else {
                panic!("column type {t} in {q}")
            };
            v.unwrap_or(Cell::Null)
        };
        c.query(q, &[]).unwrap().iter().map(|r| (0..r.len()).map(|i| cell(r, i)).collect()).collect()
    }
}

/// The newest issuer key's seed, read from the database (an attacker who stole it).
fn stolen_issuer_key(s: &Server) -> saoma_ridecode::IssuerKeyPair {
    let rows = db_rows(s, "SELECT key_id, seed, not_before, not_after FROM ridecode_keys WHERE purpose = 'issuer' ORDER BY key_id DESC LIMIT 1");
    let r = &rows[0];
    let seed: [u8; 32] = unhex(r[1].text()).try_into().unwrap();
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
        assert_eq!((r[0]["status"].as_str(), r[0]["reason"].as_str()), (Some("REJECTED"), Some("credential not issued")), "{b} {r:?}");
        rider.credential = Some(real);

        // A gate whose clock was reset to 2000: its records are refused (the code's age makes no sense).
        let code = rider.code(t);
        let rec = TerminalRecord { terminal_id: gate.id, terminal_sequence: 2, time: 946_684_800, direction: Direction::In, stop_id: 1, code }.sign(&gate.key).unwrap();
        let r = gate.upload_records(&s, &[rec]);
        assert_eq!(r[0]["reason"], "code age at the gate out of bounds", "{r:?}");
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

