//! A real `saoma serve` for integration tests: SQLite in a temp dir, or a fresh PostgreSQL schema.

#![allow(dead_code)]

pub mod console;

use saoma_store::testing::TestDb;
use saoma_wechatpay::client::V3Client;
use saoma_wechatpay::keys::{PrivateKey, PublicKey};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn saoma() -> Command {
    Command::new(env!("CARGO_BIN_EXE_saoma"))
}

pub struct Server {
    pub base: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub backend: &'static str,
    sandbox: bool,
    child: Child,
    /// More `saoma serve` flags (kept across restarts; `set_args` changes them).
    args: Vec<String>,
    /// `None` for a second server on another's database.
    _db: Option<TestDb>,
}

/// Tests log many users in from 127.0.0.1: the per-address limit on login codes is lifted for them,
/// except where a test sets it (the test of that limit).
const TEST_SMS_PER_ADDRESS: &str = "1000000";

fn spawn(db_url: &str, data_dir: &std::path::Path, sandbox: bool, args: &[String]) -> (Child, String) {
        let _ = std::fs::remove_file(data_dir.join("server.addr"));
        let mut cmd = saoma();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url, "--data-dir"]).arg(data_dir).stdout(Stdio::null()).stderr(std::fs::File::create(data_dir.join("server.log")).unwrap());
        if sandbox {
            cmd.arg("--sandbox");
        }
        if !args.iter().any(|a| a == "--sms-per-address") {
            cmd.args(["--sms-per-address", TEST_SMS_PER_ADDRESS]);
        }
        cmd.args(args);
        let mut child = cmd.spawn().unwrap();
        let addr = data_dir.join("server.addr");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !addr.exists() {
            assert!(Instant::now() < deadline, "server did not start");
            assert!(child.try_wait().unwrap().is_none(), "server exited early: {}", std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(50));
        }
        let base = std::fs::read_to_string(&addr).unwrap().trim().to_string();
        (child, base)
}

impl Server {
    pub fn start(db: TestDb, sandbox: bool) -> Server {
        Server::start_with(db, sandbox, &[])
    }

    /// With extra `saoma serve` flags.
    pub fn start_with(db: TestDb, sandbox: bool, args: &[&str]) -> Server {
        let (url, name) = (db.url(), db.name());
        let mut s = Server::start_on(&url, name, sandbox, args);
        s._db = Some(db);
        s
    }

    /// A server on a database another server owns (several processes on one PostgreSQL).
    pub fn start_on(database_url: &str, backend: &'static str, sandbox: bool, args: &[&str]) -> Server {
        let data_dir = std::env::temp_dir().join(format!("saoma_srv_{}_{}", std::process::id(), saoma_wechatpay::aead::random_string(8).unwrap()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, base) = spawn(database_url, &data_dir, sandbox, &args);
        Server { base, database_url: database_url.to_string(), data_dir, backend, sandbox, child, args, _db: None }
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// Starts a stopped server again on the same data.
    pub fn start_again(&mut self) {
        let (child, base) = spawn(&self.database_url, &self.data_dir, self.sandbox, &self.args);
        self.child = child;
        self.base = base;
    }

    /// The server process's id (for /proc figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The flags the next (re)start uses.
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
    }

    /// Stops the server (SIGTERM, gracefully) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop_and_start("-TERM");
    }

    /// Kills the server (SIGKILL: no chance to finish anything) and starts it again on the same data.
    pub fn crash_and_restart(&mut self) {
        self.stop_and_start("-KILL");
    }

    fn stop_and_start(&mut self, signal: &str) {
        let _ = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let (child, base) = spawn(&self.database_url, &self.data_dir, self.sandbox, &self.args);
        self.child = child;
        self.base = base;
    }

    /// Both backends (PostgreSQL where reachable).
    pub fn all(sandbox: bool) -> Vec<Server> {
        TestDb::all().into_iter().map(|db| Server::start(db, sandbox)).collect()
    }

    /// Both backends, with more `saoma serve` flags ([`Server::start_with`]).
    pub fn all_with(sandbox: bool, args: &[&str]) -> Vec<Server> {
        TestDb::all().into_iter().map(|db| Server::start_with(db, sandbox, args)).collect()
    }

    /// `saoma merchant create --json` against this server.
    pub fn merchant(&self, name: &str, mode: &str) -> serde_json::Value {
        self.merchant_with(name, mode, &[])
    }

    /// `saoma merchant create --json` with more flags (e.g. `--h5-domain shop.example`).
    pub fn merchant_with(&self, name: &str, mode: &str, args: &[&str]) -> serde_json::Value {
        let out = saoma()
            .args(["merchant", "create", "--json", "--name", name, "--notify-url", "https://example.com/notify", "--platform-key-mode", mode, "--data-dir"])
            .arg(&self.data_dir)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A wallet session for `phone`, kept where `saoma pay`, `paycode` and `ridecode show` keep theirs
    /// (`DATA_DIR/sessions/PHONE`): the test and the CLI act as the same phone, which stays logged in
    /// while the server accepts its session (the server sends a phone one code a minute). A new login,
    /// with an SMS code read from the outbox through the admin API, only when the session is rejected.
    pub fn wallet_session(&self, phone: &str) -> String {
        use saoma_wechatpay::client::http;
        let dir = self.data_dir.join("sessions");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(phone);
        let kept: serde_json::Value = std::fs::read_to_string(&file).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
        // (Its server's port may have changed: restarts listen on port 0.)
        if let Some(token) = kept["token"].as_str() {
            let session = format!("Bearer {token}");
            if http(&self.base, "GET", "/wallet/balance", &[("Authorization", &session)], "").unwrap().status != 401 {
                return session;
            }
        }
        let session = self.wallet_login(phone);
        let token = session.strip_prefix("Bearer ").unwrap();
        std::fs::write(&file, serde_json::json!({ "server": self.base, "token": token }).to_string()).unwrap();
        session
    }

    /// A new wallet session for `phone` (SMS code read from the outbox through the admin API).
    pub fn wallet_login(&self, phone: &str) -> String {
        use saoma_wechatpay::client::http;
        let token = std::fs::read_to_string(self.data_dir.join("admin.token")).unwrap();
        let admin = format!("Bearer {}", token.trim());
        let sent = http(&self.base, "POST", "/wallet/sms", &[], &format!(r#"{{"phone":"{phone}"}}"#)).unwrap();
        assert_eq!(sent.status, 204, "{phone}: {}", sent.body);
        let outbox = http(&self.base, "GET", &format!("/admin/sms?phone={}", saoma_server::http::web::url_encode(phone)), &[("Authorization", &admin)], "").unwrap().json();
        let code = outbox["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "login").unwrap()["code"].as_str().unwrap().to_string();
        let login = http(&self.base, "POST", "/wallet/login", &[], &format!(r#"{{"phone":"{phone}","code":"{code}"}}"#)).unwrap();
        assert_eq!(login.status, 200, "{phone}: {}", login.body);
        format!("Bearer {}", login.json()["token"].as_str().unwrap())
    }

    pub fn client(&self, m: &serde_json::Value) -> V3Client {
        V3Client {
            base: self.base.clone(),
            mchid: m["mchid"].as_str().unwrap().to_string(),
            serial_no: m["serial_no"].as_str().unwrap().to_string(),
            key: PrivateKey::from_pem(m["private_key"].as_str().unwrap()).unwrap(),
            platform: PublicKey::from_pem(m["platform_public_key"].as_str().unwrap()).unwrap(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server said: the log goes with the data directory otherwise.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- {} server log (last {} lines) ---", self.backend, tail.len());
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// One request a [`Receiver`] got: lower-cased headers and the body.
pub type Received = (Vec<(String, String)>, String);

/// A local HTTP endpoint standing in for a merchant's `notify_url`: answers the n-th request (from 1)
/// with `status(n)` and keeps every request.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

pub fn receiver(status: impl Fn(usize) -> u16 + Send + 'static) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", l.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut headers, mut line, mut len) = (Vec::new(), String::new(), 0usize);
            r.read_line(&mut line).unwrap_or(0);
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim().split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    headers.push((k.trim().to_lowercase(), v.trim().to_string()));
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let n = {
                let mut g = g.lock().unwrap();
                g.push((headers, String::from_utf8_lossy(&body).into_owned()));
                g.len()
            };
            let _ = write!(s, "HTTP/1.1 {} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status(n));
        }
    });
    Receiver { url, got }
}

/// `saoma user create` with PIN 123456 and `balance` fen: the user's JSON (user_id, phone, openids).
pub fn user(s: &Server, phone: &str, balance: i64) -> serde_json::Value {
    let out = saoma().args(["user", "create", "--json", "--phone", phone, "--pin", "123456", "--balance", &balance.to_string(), "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `saoma ledger check` must pass; its report.
pub fn ledger_check(s: &Server) -> String {
    let out = saoma().args(["ledger", "check", "--data-dir"]).arg(&s.data_dir).args(["--database-url", &s.database_url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

/// Advances the sandbox clock (`saoma clock advance 45s`).
pub fn advance(s: &Server, d: &str) {
    let out = saoma().args(["clock", "advance", d, "--data-dir"]).arg(&s.data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The wallet balance behind a session.
pub fn balance(s: &Server, session: &str) -> i64 {
    let r = saoma_wechatpay::client::http(&s.base, "GET", "/wallet/balance", &[("Authorization", session)], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["balance"].as_i64().unwrap()
}

/// A wallet API call with a session: status and JSON.
pub fn wallet_call(s: &Server, session: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let r = saoma_wechatpay::client::http(&s.base, method, path, &[("Authorization", session), ("Content-Type", "application/json")], body).unwrap();
    (r.status, r.json())
}

/// The newest bank binding code the simulated bank texted `phone` (the SMS outbox, purpose card_bind).
pub fn bank_code(s: &Server, phone: &str) -> String {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let admin = format!("Bearer {}", token.trim());
    let outbox = saoma_wechatpay::client::http(&s.base, "GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &admin)], "").unwrap().json();
    outbox["messages"].as_array().unwrap().iter().find(|m| m["purpose"] == "card_bind").expect("no card_bind code")["code"].as_str().unwrap().to_string()
}

/// Binds `card_no` to the wallet of `phone` behind `session`: the PIN (123456, as [`user`] sets it),
/// then the bank's code from the SMS outbox. The bound card's JSON.
pub fn bind_card(s: &Server, session: &str, phone: &str, card_no: &str) -> serde_json::Value {
    let (st, b) = wallet_call(s, session, "POST", "/wallet/cards", &serde_json::json!({ "card_no": card_no, "pin": "123456" }).to_string());
    assert_eq!((st, b["state"].as_str()), (200, Some("code_sent")), "{} {b}", s.backend);
    let code = bank_code(s, phone);
    let (st, c) = wallet_call(s, session, "POST", &format!("/wallet/cards/{}/confirm", b["id"].as_str().unwrap()), &serde_json::json!({ "code": code }).to_string());
    assert_eq!(st, 200, "{} {c}", s.backend);
    c
}

/// Opens a secret sealed in the database with the server's master key (as someone holding both the
/// database and the key file could).
pub fn unseal(s: &Server, table: &str, column: &str, row: &str, sealed: &str) -> String {
    let key_hex = std::fs::read_to_string(s.data_dir.join("master.key")).unwrap();
    let unhex = |h: &str| (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let key: [u8; 32] = unhex(key_hex.trim()).try_into().unwrap();
    let bytes = unhex(sealed.strip_prefix("sealed:v1:").expect("sealed"));
    String::from_utf8(saoma_wechatpay::aead::open_raw(&key, format!("{table}.{column}:{row}").as_bytes(), &bytes).expect("opens under the master key")).unwrap()
}

/// A value read from the server's database.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    pub fn int(&self) -> i64 {
        match self {
            Cell::Int(v) => *v,
            c => panic!("not an integer: {c:?}"),
        }
    }
    pub fn text(&self) -> &str {
        match self {
            Cell::Text(v) => v,
            c => panic!("not text: {c:?}"),
        }
    }
    /// A 16-byte id (big-endian, as the store keeps them), or none for NULL.
    pub fn id(&self) -> Option<u128> {
        match self {
            Cell::Null => None,
            Cell::Blob(b) => Some(u128::from_be_bytes(b.as_slice().try_into().unwrap())),
            c => panic!("not an id: {c:?}"),
        }
    }
    /// As text: NULL, the number, the text, or a blob in hex.
    pub fn render(&self) -> String {
        match self {
            Cell::Null => "NULL".to_string(),
            Cell::Int(v) => v.to_string(),
            Cell::Text(v) => v.clone(),
            Cell::Blob(b) => saoma_server::hex::encode(b),
        }
    }
}

/// The rows of `q` (no parameters) run on the server's database directly, for what no API shows.
pub fn db_rows(s: &Server, q: &str) -> Vec<Vec<Cell>> {
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

/// Headless Chromium driven by a Python Selenium script: what a browser test needs and this machine lacks.
pub fn browser_missing() -> Vec<&'static str> {
    let mut missing = Vec::new();
    let chromium = std::env::var("SAOMA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("SAOMA_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if !std::path::Path::new(&chromium).exists() {
        missing.push("chromium (apt-get install chromium)");
    }
    if !std::path::Path::new(&driver).exists() {
        missing.push("chromedriver (apt-get install chromium-driver)");
    }
    if !Command::new("python3").args(["-c", "import selenium"]).status().is_ok_and(|s| s.success()) {
        missing.push("Python selenium (pip install selenium)");
    }
    missing
}

/// Whether a browser test can run here: `false` (after saying so loudly) where Chromium, chromedriver or
/// Selenium is missing, a panic instead with `SAOMA_REQUIRE_BROWSER=1` (CI).
pub fn browser_available(test: &str) -> bool {
    let missing = browser_missing();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("SAOMA_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("SAOMA_REQUIRE_BROWSER=1 but missing: {}", missing.join(", "));
    }
    eprintln!("\n*** SKIPPED the headless-Chromium {test} test: missing {} ***\n", missing.join(", "));
    false
}

/// Runs a browser script (`python3 SCRIPT SPEC_JSON`) and answers its lines: `answer` gets each line's
/// words and returns what to write back (`None`: nothing); the script's `DONE` ends the run. A script
/// silent for 60 s fails the test with its log, so a stuck browser cannot hang it.
pub fn run_browser(s: &Server, script: &str, spec: &serde_json::Value, mut answer: impl FnMut(&[&str]) -> Option<String>) {
    let stderr = s.data_dir.join("browser.log");
    let mut child = Command::new("python3").arg(script).arg(spec.to_string()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr).unwrap()).spawn().unwrap();
    let mut to_script = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{}: the browser script stopped: {}", s.backend, std::fs::read_to_string(&stderr).unwrap_or_default());
            }
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        if words == ["DONE"] {
            break;
        }
        if let Some(reply) = answer(&words) {
            writeln!(to_script, "{reply}").unwrap();
        }
    }
    assert!(child.wait().unwrap().success(), "{}", std::fs::read_to_string(&stderr).unwrap_or_default());
}

/// The phone's newest SMS code, as the admin API's outbox shows it.
pub fn sms_code(s: &Server, phone: &str) -> String {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let r = saoma_wechatpay::client::http(&s.base, "GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &format!("Bearer {}", token.trim()))], "").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["messages"][0]["code"].as_str().unwrap().to_string()
}

/// A cashier charges a payment code (v3 codepay) for a new order `no`: the status and the answer.
pub fn codepay(c: &V3Client, m: &serde_json::Value, no: &str, total: i64, auth_code: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "appid": m["appid"], "mchid": m["mchid"], "description": "便利店", "out_trade_no": no,
        "payer": {"auth_code": auth_code}, "amount": {"total": total, "currency": "CNY"},
        "scene_info": {"store_info": {"out_id": "store-1"}, "device_ip": "127.0.0.1"},
    });
    let r = c.request("POST", "/v3/pay/transactions/codepay", &body.to_string()).unwrap();
    (r.status, r.json())
}
