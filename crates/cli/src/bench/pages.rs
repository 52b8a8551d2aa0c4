//! `saoma bench pages`: how long the server takes to render each page people open, under load.
//!
//! Per backend, a `saoma serve` child process on a fresh database with a merchant, a user with money and
//! a PIN, her wallet session, and an H5 order. Each page in turn is asked for by `--clients` clients,
//! each on one kept-alive connection, for `--secs` seconds: the wallet's login (`/` logged out), home
//! (`/`), history, me, cards, agreements, payment code (`/code`: a writer job each time, as a phone's
//! view issues a code — past ten unused codes a minute, the newest shown again), the cashier for the H5
//! order, the merchant's collection page, the scan page, the transit card (`/transit/7`), the public shop,
//! the merchant console's live takings and orders (a manager's session), and the operator console's
//! merchants (an operator's session). Before them, in the same run, the same load on
//! `GET /healthz` (a read through the store and a small JSON answer): the baseline each page's figures
//! are divided by.
//!
//! Two timings per page: the server's own (its request log's `micros`, from the request's arrival to its
//! answer: the render time) and the client's (the round trip on loopback). And each page's size: HTML
//! with its CSS and script, which must stay under 100 KB.

use super::server::{expect_json, io_err, ServerProcess};
use super::wire::Conn;
use super::Latency;
use saoma_store::testing::TestDb;
use saoma_wechatpay::client::V3Client;
use saoma_wechatpay::keys::{PrivateKey, PublicKey};
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What a page with its CSS and script may weigh.
const MAX_PAGE_BYTES: usize = 100 * 1024;

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// sqlite, postgres, or all (PostgreSQL only when reachable).
    #[arg(long, default_value = "all")]
    backend: String,
    /// Concurrent clients, each with one kept-alive connection.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    clients: u32,
    /// Seconds each page (and the baseline) is asked for.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
}

#[derive(serde::Serialize)]
struct PageFigure {
    backend: &'static str,
    page: &'static str,
    path: String,
    requests: usize,
    /// The answer's body, in bytes (HTML with its inline CSS; the script it loads added).
    bytes: usize,
    /// The server's render time (its request log), in milliseconds.
    server_p50_ms: f64,
    server_p99_ms: f64,
    /// The round trip as the client saw it.
    client_p50_ms: f64,
    client_p99_ms: f64,
    /// server_p50_ms / the baseline's server p50.
    p50_ratio: f64,
    p99_ratio: f64,
}

pub fn run(args: Args) -> ExitCode {
    let Some(dbs) = super::databases(&args.backend) else {
        eprintln!("PostgreSQL is not reachable");
        return ExitCode::FAILURE;
    };
    let mut figures = Vec::new();
    for db in &dbs {
        match bench_backend(db, &args) {
            Ok(f) => figures.extend(f),
            Err(e) => {
                eprintln!("bench pages ({}): {e}", db.name());
                return ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        println!("{}", json!({ "pages": figures, "max_page_bytes": MAX_PAGE_BYTES }));
    } else {
        println!("{:<9} {:<14} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}", "backend", "page", "bytes", "srv p50", "srv p99", "cli p50", "cli p99", "×p50", "×p99");
        for f in &figures {
            println!(
                "{:<9} {:<14} {:>8} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>7.1} {:>7.1}",
                f.backend, f.page, f.bytes, f.server_p50_ms, f.server_p99_ms, f.client_p50_ms, f.client_p99_ms, f.p50_ratio, f.p99_ratio
            );
        }
        println!("(×: the server's render time over its time for GET /healthz, same run, same load; pages must stay under {} KB)", MAX_PAGE_BYTES / 1024);
    }
    if let Some(f) = figures.iter().find(|f| f.bytes > MAX_PAGE_BYTES) {
        eprintln!("{} is {} bytes, over {MAX_PAGE_BYTES}", f.page, f.bytes);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The server's `micros` for `route` in its JSON request log from byte `from` on.
fn server_micros(server: &ServerProcess, from: usize, route: &str) -> Vec<u64> {
    let log = std::fs::read(server.data_dir.join("server.log")).unwrap_or_default();
    String::from_utf8_lossy(&log[from.min(log.len())..])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "request" && v["route"] == route)
        .filter_map(|v| v["micros"].as_u64())
        .collect()
}

fn log_len(server: &ServerProcess) -> usize {
    std::fs::metadata(server.data_dir.join("server.log")).map(|m| m.len() as usize).unwrap_or(0)
}

/// `clients` connections asking for `path` for `secs`: every answer's latency and the last body.
async fn load(base: &str, path: &str, headers: &[(&str, &str)], clients: usize, secs: f64) -> Result<(Vec<u64>, String), String> {
    let started = Instant::now();
    let run = Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut conn = Conn::open(base).await.map_err(io_err("connecting"))?;
        let (path, headers): (String, Vec<(String, String)>) = (path.to_string(), headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut body) = (Vec::new(), String::new());
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            while started.elapsed() < run {
                let t0 = Instant::now();
                let r = conn.request("GET", &path, &h, "").await.map_err(io_err("GET"))?;
                if r.status != 200 {
                    return Err(format!("GET {path}: HTTP {} {}", r.status, &r.body[..r.body.len().min(300)]));
                }
                lat.push(t0.elapsed().as_micros() as u64);
                body = r.body;
            }
            Ok::<_, String>((lat, body))
        }));
    }
    let (mut all, mut body) = (Vec::new(), String::new());
    for t in tasks {
        let (lat, b) = t.await.map_err(|e| e.to_string())??;
        all.extend(lat);
        body = b;
    }
    Ok((all, body))
}

/// `NAME=VALUE` of the response's `Set-Cookie` for `name`.
fn cookie_of(r: &saoma_wechatpay::client::HttpResponse, name: &str) -> Result<String, String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or(""))
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
        .ok_or_else(|| format!("no {name} cookie ({} {})", r.status, r.body.chars().take(200).collect::<String>()))
}

fn bench_backend(db: &TestDb, args: &Args) -> Result<Vec<PageFigure>, String> {
    let name = db.name();
    let clients = args.clients as usize;
    let server = ServerProcess::start(db, &format!("saoma_bench_pages_{}", std::process::id()), clients)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let admin = format!("Bearer {}", server.admin_token()?);
    eprintln!("  [{name}] setup: a merchant, a user with a PIN and money, her session, an H5 order");
    let base = server.base.clone();
    let (m, cookie, console, operator) = rt.block_on(async {
        let mut conn = Conn::open(&server.base).await.map_err(io_err("connecting"))?;
        let json_h = ("Content-Type", "application/json");
        let body = json!({ "name": "便利店 Corner Shop", "platform_key_mode": "public_key", "h5_domains": ["localhost"] }).to_string();
        let m = expect_json(&conn.request("POST", "/admin/merchants", &[("Authorization", &admin), json_h], &body).await.map_err(io_err("merchant"))?, "creating the merchant", 200)?;
        let phone = "13900000001";
        let body = json!({ "phone": phone, "pin": "123456", "balance": 1_000_000 }).to_string();
        expect_json(&conn.request("POST", "/admin/users", &[("Authorization", &admin), json_h], &body).await.map_err(io_err("user"))?, "creating the user", 200)?;
        conn.request("POST", "/wallet/sms", &[json_h], &json!({ "phone": phone }).to_string()).await.map_err(io_err("SMS"))?;
        let outbox = expect_json(&conn.request("GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &admin)], "").await.map_err(io_err("outbox"))?, "the SMS outbox", 200)?;
        let code = outbox["messages"][0]["code"].as_str().ok_or("no SMS code")?.to_string();
        let login = expect_json(&conn.request("POST", "/wallet/login", &[json_h], &json!({ "phone": phone, "code": code }).to_string()).await.map_err(io_err("login"))?, "logging in", 200)?;
        let wallet = format!("saoma_wallet={}", login["token"].as_str().ok_or("no session token")?);
        let mchid = m["mchid"].as_str().ok_or("merchant: no mchid")?.to_string();
        // The merchant runs the ride code too (the wallet's /transit page has a card to open).
        let body = json!({ "mchid": mchid, "scope": 7, "fares": { "flat": 300 }, "max_uses": 2 }).to_string();
        expect_json(&conn.request("POST", "/admin/transit/operators", &[("Authorization", &admin), json_h], &body).await.map_err(io_err("operator"))?, "the transit operator", 200)?;
        // A manager in the console: the staff row, then the three login steps (code, password).
        let form_h = ("Content-Type", "application/x-www-form-urlencoded");
        let origin = ("Origin", base.as_str());
        let staff_phone = "13900000002";
        let body = json!({ "phone": staff_phone, "name": "店长", "role": "manager", "password": "bench-password-1" }).to_string();
        expect_json(&conn.request("POST", &format!("/admin/merchants/{mchid}/staff"), &[("Authorization", &admin), json_h], &body).await.map_err(io_err("staff"))?, "the manager", 201)?;
        conn.request("POST", "/console/sms", &[form_h, origin], &format!("phone={staff_phone}")).await.map_err(io_err("console SMS"))?;
        let outbox = expect_json(&conn.request("GET", &format!("/admin/sms?phone={staff_phone}"), &[("Authorization", &admin)], "").await.map_err(io_err("outbox"))?, "the SMS outbox", 200)?;
        let code = outbox["messages"][0]["code"].as_str().ok_or("no console code")?.to_string();
        let r = conn.request("POST", "/console/login", &[form_h, origin], &format!("phone={staff_phone}&code={code}")).await.map_err(io_err("console code"))?;
        let waiting = cookie_of(&r, "saoma_console")?;
        let r = conn.request("POST", "/console/password", &[form_h, origin, ("Cookie", &waiting)], "password=bench-password-1").await.map_err(io_err("console password"))?;
        let console = cookie_of(&r, "saoma_console")?;
        // The operator console, with the admin token.
        let token = admin.trim_start_matches("Bearer ");
        let r = conn.request("POST", "/operator/login", &[form_h, origin], &format!("token={token}")).await.map_err(io_err("operator login"))?;
        let operator = cookie_of(&r, "saoma_operator")?;
        Ok::<_, String>((m, wallet, console, operator))
    })?;
    let text = |k: &str| m[k].as_str().map(str::to_string).ok_or_else(|| format!("merchant: no {k}"));
    let v3 = V3Client {
        base: server.base.clone(),
        mchid: text("mchid")?,
        serial_no: text("serial_no")?,
        key: PrivateKey::from_pem(&text("private_key")?).map_err(|e| e.to_string())?,
        platform: PublicKey::from_pem(&text("platform_public_key")?).map_err(|e| e.to_string())?,
    };
    let order = json!({
        "appid": text("appid")?, "mchid": v3.mchid, "description": "珍珠奶茶", "out_trade_no": "BENCHPAGES1",
        "notify_url": "https://example.com/notify", "amount": {"total": 1_250, "currency": "CNY"},
        "scene_info": {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}},
    });
    let r = v3.request("POST", "/v3/pay/transactions/h5", &order.to_string()).map_err(|e| format!("H5 order: {e}"))?;
    let h5 = expect_json(&r, "the H5 order", 200)?;
    let h5_url = h5["h5_url"].as_str().ok_or("no h5_url")?;
    let cashier = h5_url.find("/cashier/").map(|i| h5_url[i..].to_string()).ok_or("h5_url without /cashier/")?;
    let collect = format!("/collect/{}", v3.mchid);
    let logged_in: &[(&str, &str)] = &[("Cookie", &cookie), ("Accept-Language", "zh-CN")];
    let logged_out: &[(&str, &str)] = &[("Accept-Language", "zh-CN")];
    let staff: &[(&str, &str)] = &[("Cookie", &console), ("Accept-Language", "zh-CN")];
    let ops: &[(&str, &str)] = &[("Cookie", &operator), ("Accept-Language", "zh-CN")];
    let shop = format!("/shop/{}", v3.mchid);
    // (name, path, the route as the server logs it, headers, the script it loads)
    let pages: Vec<(&'static str, String, &str, &[(&str, &str)], Option<&str>)> = vec![
        ("healthz", "/healthz".into(), "/healthz", logged_out, None),
        ("login", "/".into(), "/", logged_out, None),
        ("home", "/".into(), "/", logged_in, None),
        ("history", "/history".into(), "/history", logged_in, None),
        ("me", "/me".into(), "/me", logged_in, None),
        ("cards", "/cards".into(), "/cards", logged_in, None),
        ("agreements", "/agreements".into(), "/agreements", logged_in, None),
        ("paycode", "/code".into(), "/code", logged_in, Some("/static/paycode.js")),
        ("cashier", cashier, "/cashier/h5", logged_in, None),
        ("collect", collect, "/collect/:mchid", logged_in, None),
        ("scan", "/scan".into(), "/scan", logged_in, Some("/static/scan.js")),
        ("transit", "/transit/7".into(), "/transit/:scope", logged_in, None),
        ("shop", shop, "/shop/:mchid", logged_out, None),
        ("console", "/console".into(), "/console", staff, Some("/static/console.js")),
        ("console-orders", "/console/orders".into(), "/console/orders", staff, None),
        ("operator", "/operator/merchants".into(), "/operator/merchants", ops, None),
    ];
    let mut out = Vec::new();
    let mut base_p50 = (0.0, 0.0);
    for (page, path, route, headers, script) in pages {
        eprintln!("  [{name}] {page}: {clients} clients for {} s", args.secs);
        let from = log_len(&server);
        let (client, body) = rt.block_on(load(&server.base, &path, headers, clients, args.secs))?;
        // The log is written as the answers go out; let its last lines reach the file.
        std::thread::sleep(Duration::from_millis(200));
        let srv = Latency::of(server_micros(&server, from, route));
        let cli = Latency::of(client.clone());
        let extra = match script {
            Some(s) => rt.block_on(async { Conn::open(&server.base).await.map_err(io_err("connecting"))?.request("GET", s, &[], "").await.map_err(io_err("script")) })?.body.len(),
            None => 0,
        };
        if page == "healthz" {
            base_p50 = (srv.p50.max(0.001), srv.p99.max(0.001));
        }
        out.push(PageFigure {
            backend: name,
            page,
            path,
            requests: client.len(),
            bytes: body.len() + extra,
            server_p50_ms: srv.p50,
            server_p99_ms: srv.p99,
            client_p50_ms: cli.p50,
            client_p99_ms: cli.p99,
            p50_ratio: srv.p50 / base_p50.0,
            p99_ratio: srv.p99 / base_p50.1,
        });
    }
    let mut server = server;
    server.stop()?;
    Ok(out)
}
