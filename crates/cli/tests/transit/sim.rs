//! The transit test's actors: the operator's admin client on the virtual clock, a rider's phone (its
//! device key, credential and counter, through the wallet API) and a gate (registered, pulling its signed
//! lists, verifying offline, queueing and uploading records).

use super::support::Server;
use super::SCOPE;
use saoma_ridecode::{
    verify, Blacklist, Credential, CredentialCache, DeviceKeyPair, Direction, KeyList, PlatformPublicKey, PublicKey, Reject, RideCode, Suite, TerminalConfig,
    TerminalKeyPair, TerminalRecord, TerminalState, Trust,
};
use saoma_wechatpay::client::http;
use serde_json::{json, Value};

pub fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

pub struct Admin<'a> {
    pub s: &'a Server,
    pub token: String,
    pub offset: i64,
}

impl<'a> Admin<'a> {
    /// The operator's client (the token from the data directory), at the clock's current offset 0.
    pub fn new(s: &'a Server) -> Admin<'a> {
        let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
        Admin { s, token: format!("Bearer {}", token.trim()), offset: 0 }
    }
    pub fn call(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = http(&self.s.base, method, path, &[("Authorization", &self.token), ("Content-Type", "application/json")], &body.to_string()).unwrap();
        (r.status, r.json())
    }
    /// Business time: the real clock plus what the test advanced.
    pub fn now(&self) -> u32 {
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + self.offset) as u32
    }
    pub fn advance(&mut self, seconds: i64) {
        let (st, v) = self.call("POST", "/admin/clock/advance", json!({ "seconds": seconds }));
        assert_eq!(st, 200, "{v}");
        self.offset = v["offset_seconds"].as_i64().unwrap();
    }
    /// Makes merchant `m` the operator of SCOPE: the operator's JSON (its deposit).
    pub fn operator(&self, m: &Value, fares: Value, max_uses: u8) -> Value {
        let (st, op) = self.call("POST", "/admin/transit/operators", json!({ "mchid": m["mchid"], "scope": SCOPE, "fares": fares, "max_uses": max_uses }));
        assert_eq!(st, 200, "{} {op}", self.s.backend);
        op
    }
}

/// A rider's phone: a wallet session, a device key, today's credential and its counter.
pub struct Phone {
    pub phone: String,
    pub session: String,
    pub device: DeviceKeyPair,
    pub credential: Option<Credential>,
    pub counter: u16,
}

impl Phone {
    pub fn new(s: &Server, phone: &str, seed: u8) -> Phone {
        Phone { phone: phone.to_string(), session: s.wallet_session(phone), device: DeviceKeyPair::from_seed(Suite::Ed25519, &[seed; 32]).unwrap(), credential: None, counter: 0 }
    }
    pub fn wallet(&self, s: &Server, method: &str, path: &str, body: Value) -> (u16, Value) {
        super::support::wallet_call(s, &self.session, method, path, &body.to_string())
    }
    /// Opens the transit service with `pin` (the agreement signed, the deposit held): the answer.
    pub fn open(&self, s: &Server, pin: &str) -> (u16, Value) {
        self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/open"), json!({ "pin": pin }))
    }
    /// `POST /wallet/transit/{scope}/repay`: the answer.
    pub fn repay(&self, s: &Server) -> (u16, Value) {
        self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/repay"), Value::Null)
    }
    /// Tops the wallet up from a test bank card that succeeds (bound first: money moves only with bound
    /// cards), with the PIN (a top-up needs it); the bank's answer is awaited.
    pub fn top_up(&self, s: &Server, amount: i64, request_id: &str) {
        // One card per rider (a card is bound to one wallet): its last digits are the phone's.
        let card = format!("6222020000000001{}", &self.phone[self.phone.len() - 2..]);
        if self.wallet(s, "GET", "/wallet/cards", Value::Null).1["cards"].as_array().unwrap().is_empty() {
            super::support::bind_card(s, &self.session, &self.phone, &card);
        }
        let (st, v) = self.wallet(s, "POST", "/wallet/topup", json!({"card_no": card, "amount": amount, "request_id": request_id, "pin": "123456"}));
        assert_eq!((st, v["state"].as_str()), (200, Some("succeeded")), "{v}");
    }
    /// Asks for today's credential: Ok or the refusal's code.
    pub fn refresh(&mut self, s: &Server) -> Result<(), String> {
        let (st, v) = self.wallet(s, "POST", &format!("/wallet/transit/{SCOPE}/credentials"), json!({ "suite": "ed25519", "device_public_key": hexs(self.device.public_key().as_bytes()) }));
        if st != 200 {
            return Err(v["code"].as_str().unwrap_or("?").to_string());
        }
        self.credential = Some(Credential::parse(&unhex(v["credential_hex"].as_str().unwrap())).unwrap());
        self.counter = 0;
        Ok(())
    }
    pub fn code(&mut self, now: u32) -> Vec<u8> {
        self.counter += 1;
        RideCode::generate(self.credential.as_ref().unwrap(), &self.device, now, self.counter).unwrap().to_bytes()
    }
    pub fn view(&self, s: &Server) -> Value {
        let (st, v) = self.wallet(s, "GET", &format!("/wallet/transit/{SCOPE}"), Value::Null);
        assert_eq!(st, 200, "{v}");
        v
    }
    pub fn balance(&self, s: &Server) -> i64 {
        super::support::balance(s, &self.session)
    }
}

/// A gate: its key, the lists it trusts, its offline state and its queue of signed records.
pub struct Gate {
    pub id: u64,
    pub stop: u32,
    pub direction: Direction,
    pub key: TerminalKeyPair,
    pub list_keys: Vec<PlatformPublicKey>,
    pub key_list: Option<KeyList>,
    pub blacklist: Option<Blacklist>,
    pub cache: CredentialCache,
    pub state: TerminalState,
    pub seq: u64,
    pub queue: Vec<Vec<u8>>,
}

impl Gate {
    pub fn register(a: &Admin, stop: u32, direction: Direction, seed: u8) -> Gate {
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
    pub fn lists(&self, s: &Server) -> (KeyList, Blacklist) {
        let v = http(&s.base, "GET", &format!("/transit/{SCOPE}/lists"), &[], "").unwrap().json();
        (
            KeyList::parse_verified(&unhex(v["key_list_hex"].as_str().unwrap()), &self.list_keys).unwrap(),
            Blacklist::parse_verified(&unhex(v["blacklist_hex"].as_str().unwrap()), &self.list_keys).unwrap(),
        )
    }
    /// Pulls the signed lists (what a gate does whenever it has a network).
    pub fn pull(&mut self, s: &Server) {
        let (key_list, blacklist) = self.lists(s);
        (self.key_list, self.blacklist) = (Some(key_list), Some(blacklist));
    }
    /// A tap, verified offline; accepted taps are queued as signed records.
    pub fn tap(&mut self, code: &[u8], now: u32) -> Result<(), Reject> {
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
    pub fn upload_records(&self, s: &Server, records: &[Vec<u8>]) -> Vec<Value> {
        let body = json!({ "records": records.iter().map(|r| hexs(r)).collect::<Vec<_>>() });
        let r = http(&s.base, "POST", &format!("/transit/terminals/{}/uploads", self.id), &[("Content-Type", "application/json")], &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["results"].as_array().unwrap().clone()
    }
    /// Uploads the queue; the statuses.
    pub fn upload(&mut self, s: &Server) -> Vec<String> {
        let q = std::mem::take(&mut self.queue);
        self.upload_records(s, &q).iter().map(|r| r["status"].as_str().unwrap().to_string()).collect()
    }
}

pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
