//! `saoma bench api`: payments through the real server, over HTTP, with real v3 signatures.
//!
//! Per backend, a `saoma serve` child process (this very binary, as deployed) on a fresh database. Setup,
//! not timed: a merchant with its v3 keys, users with money (ten payments each, all under the
//! password-free limit, so that no payment runs the deliberately slow PIN check), a wallet session per
//! user, and a local notification endpoint that checks each callback's signature, opens its resource and
//! answers 200.
//!
//! Timed: `--clients` concurrent clients, each on one kept-alive connection (as an SDK's session), pay
//! one order after another: Native create (signed request; the signed answer verified) → pay through the
//! wallet API with the user's session → v3 query (signed, verified) showing SUCCESS. The window ends
//! when the last TRANSACTION.SUCCESS notification has been delivered, not at the last query: the
//! notification's signature is one of the three RSA signatures a payment costs the platform, so it has
//! to be inside the window that the signing ceiling is compared with.
//!
//! Requests are signed before the window (pre-signed, each with its own nonce and a timestamp that the
//! server accepts for 5 minutes). A merchant signs on its own machines; here the clients share the
//! server's two cores, and signing two requests per payment in the window would take about two thirds
//! of the CPU the platform's own three signatures need. Verifying answers is cheap (about 30 µs) and is
//! done in the window. The load generator runs on one thread; what it and the server cost during the
//! window is measured from /proc and printed.
//!
//! In the same run: the ceiling of the platform's RSA-2048 response signing alone (the same call the
//! server makes, on as many threads as the server's runtime has workers) and a bare HTTP round trip
//! (`GET /healthz`, same client, same concurrency).

use super::server::{expect_json, io_err, ServerProcess};
use super::wire::{self, Conn, Notifications};
use super::Latency;
use saoma_store::testing::TestDb;
use saoma_wechatpay::aead::{random_string, ApiV3Key};
use saoma_wechatpay::auth::response_message;
use saoma_wechatpay::client::V3Client;
use saoma_wechatpay::keys::{PrivateKey, PublicKey};
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod baselines;
mod cpu;
use baselines::{http_baseline, open_all, orders_sample_body, signing_ceiling};
use cpu::{database_backends, proc_ticks, CpuSample, MS_PER_TICK};

/// Payments per user: as many as the strictest per-day password-free count (`saoma_core::pin`, the
/// payment code's), so that no payment could ever need the PIN; many payers is also the realistic shape.
const PAYMENTS_PER_USER: usize = saoma_core::pin::MAX_PIN_FREE_PER_DAY as usize;
/// RSA signatures the platform makes per payment: the create answer, the query answer, the
/// notification. The wallet API is not v3 and signs nothing (the benchmark checks that its answers
/// carry no signature); the count is also measured (signed answers and deliveries seen).
const SIGNATURES_PER_PAYMENT: f64 = 3.0;
/// Requests a payment sends to the server (create, pay, query), for the HTTP baseline's ratio.
const REQUESTS_PER_PAYMENT: f64 = 3.0;
const NATIVE: &str = "/v3/pay/transactions/native";

#[derive(clap::Args)]
pub struct Args {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// sqlite, postgres, or all (PostgreSQL only when reachable).
    #[arg(long, default_value = "all")]
    backend: String,
    /// PostgreSQL to use (a fresh schema is made in it and dropped after). Default: $SAOMA_TEST_PG or
    /// postgres://127.0.0.1:5432/test.
    #[arg(long)]
    pg: Option<String>,
    /// Concurrent clients, each with one kept-alive connection.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    clients: u32,
    /// Timed payments (after one warm-up payment per client). At most 20,000: requests are signed
    /// before the window and the server accepts a signature for 5 minutes.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    payments: u32,
    /// Seconds each baseline runs (the signing ceiling twice, the HTTP round trip once).
    #[arg(long, default_value_t = 2.0, hide = true)]
    baseline_secs: f64,
}

#[derive(serde::Serialize)]
struct Figure {
    backend: &'static str,
    scenario: &'static str,
    payments: usize,
    clients: usize,
    /// Timed payments whose query showed SUCCESS, and those whose TRANSACTION.SUCCESS notification
    /// arrived signed and decryptable (the benchmark fails unless both equal `payments`).
    succeeded: usize,
    notified: usize,
    /// Payments/s: timed payments over the window (first create sent → last notification delivered).
    per_sec: f64,
    /// Per-payment latency, create sent → query answer verified.
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// signing_per_sec / signatures_per_payment.
    ceiling_per_sec: f64,
    ratio: f64,
    /// RSA-2048 response signatures/s alone, on `signing_threads` threads.
    signing_per_sec: f64,
    signing_threads: usize,
    /// As measured: signed v3 answers verified plus notification deliveries, per payment.
    signatures_per_payment: f64,
    /// Bare round trips/s (`GET /healthz`), same client and concurrency.
    http_per_sec: f64,
    http_p50_ms: f64,
    http_p99_ms: f64,
    /// per_sec / (http_per_sec / 3 requests per payment).
    http_ratio: f64,
    /// Pay answered → its notification delivered.
    notify_p50_ms: f64,
    notify_p99_ms: f64,
    /// Shares of the machine's CPU (all cores) during the window, from /proc (absent elsewhere):
    /// the server process, this process (clients and notification endpoint), the database's backends
    /// serving the server (PostgreSQL), and everything else on the machine.
    server_cpu: Option<f64>,
    load_generator_cpu: Option<f64>,
    database_cpu: Option<f64>,
    other_cpu: Option<f64>,
    /// CPU time per payment (server + load generator + database) and per signature, and the ratio
    /// they imply for a machine with nothing else running: signing CPU per payment ÷ CPU per payment.
    cpu_ms_per_payment: Option<f64>,
    signing_cpu_ms: Option<f64>,
    cpu_ratio: Option<f64>,
    /// The writer's group commits per payment, and writer requests (jobs) per commit, in the window.
    commits_per_payment: f64,
    jobs_per_commit: f64,
    /// What ends the window.
    window_ends: &'static str,
}

fn progress(backend: &str, msg: &str) {
    eprintln!("  [{backend}] {msg}");
}

pub fn run(args: Args) -> ExitCode {
    if let Some(pg) = &args.pg {
        // Read by TestDb::postgres(); set before any thread exists.
        std::env::set_var("SAOMA_TEST_PG", pg);
    }
    let Some(dbs) = super::databases(&args.backend) else { return ExitCode::FAILURE };
    if dbs.is_empty() {
        eprintln!("--backend must be sqlite, postgres or all");
        return ExitCode::from(2);
    }
    let mut figures = Vec::new();
    for db in &dbs {
        eprintln!("[{}] {} clients, {} payments (+{} warm-up)", db.name(), args.clients, args.payments, args.clients);
        match bench_backend(db, &args) {
            Ok(f) => figures.push(f),
            Err(e) => {
                eprintln!("[{}] failed: {e}", db.name());
                return ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        println!("{}", json!({ "results": figures }));
    } else {
        print_table(&figures);
    }
    ExitCode::SUCCESS
}

fn print_table(figures: &[Figure]) {
    println!(
        "{:<9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>6} {:>10} {:>10}",
        "backend", "payments/s", "p50 ms", "p99 ms", "max ms", "signs/s", "signs/p", "ceiling/s", "ratio", "http req/s", "http ratio"
    );
    for f in figures {
        println!(
            "{:<9} {:>10.1} {:>8.1} {:>8.1} {:>8.1} {:>8.0} {:>7.2} {:>10.1} {:>6.2} {:>10.0} {:>10.2}",
            f.backend, f.per_sec, f.p50_ms, f.p99_ms, f.max_ms, f.signing_per_sec, f.signatures_per_payment, f.ceiling_per_sec, f.ratio, f.http_per_sec, f.http_ratio
        );
    }
    println!();
    println!("payments/s: {} timed payments (create → wallet pay → query SUCCESS) until the last notification was delivered;", figures.first().map_or(0, |f| f.payments));
    println!("ceiling/s: RSA-2048 signatures/s alone ({} threads, as the server's runtime) ÷ signatures per payment;", figures.first().map_or(0, |f| f.signing_threads));
    println!("http req/s: GET /healthz (one store read), same client and concurrency; http ratio = payments/s ÷ (req/s ÷ 3 requests per payment).");
    let pct = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.0}%", v * 100.0));
    let num = |x: Option<f64>, d: usize| x.map_or("n/a".to_string(), |v| format!("{v:.d$}"));
    for f in figures {
        println!(
            "{}: notification p50 {:.1} ms, p99 {:.1} ms after the pay answer. Machine CPU in the window: server {}, load generator {}, database {}, other processes {}.",
            f.backend,
            f.notify_p50_ms,
            f.notify_p99_ms,
            pct(f.server_cpu),
            pct(f.load_generator_cpu),
            pct(f.database_cpu),
            pct(f.other_cpu)
        );
        println!(
            "{}: CPU per payment {} ms (server + load generator + database), per signature {} ms: CPU ratio {} (the ratio on an otherwise idle machine, if the payments keep it busy). {:.2} commits per payment, {:.1} jobs per commit.",
            f.backend,
            num(f.cpu_ms_per_payment, 2),
            num(f.signing_cpu_ms, 3),
            num(f.cpu_ratio, 2),
            f.commits_per_payment,
            f.jobs_per_commit
        );
    }
}

/// One payment, with its requests signed ahead of the window.
struct Planned {
    out_trade_no: String,
    body: String,
    create_auth: String,
    query_path: String,
    query_auth: String,
    user: usize,
}

/// What every client shares.
struct Ctx {
    base: String,
    v3: V3Client,
    sessions: Vec<String>,
    plans: Vec<Planned>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}



fn server_threads() -> usize {
    // `saoma serve` builds tokio's default multi-threaded runtime: one worker per core.
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn bench_backend(db: &TestDb, args: &Args) -> Result<Figure, String> {
    let name = db.name();
    let clients = args.clients as usize;
    let timed = args.payments as usize;
    let total = clients + timed;
    let users = total.div_ceil(PAYMENTS_PER_USER);
    let app_name = format!("saoma_bench_api_{}", std::process::id());
    let mut server = ServerProcess::start(db, &app_name, clients)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let token = format!("Bearer {}", server.admin_token()?);

    // Setup (not timed).
    progress(name, &format!("setup: merchant, {users} users with wallet sessions, notification endpoint"));
    let seen = Arc::new(Notifications::default());
    let (merchant, sessions) = rt.block_on(async {
        let (listener, notify_url) = wire::bind_receiver().await.map_err(io_err("binding the notification endpoint"))?;
        let mut conn = Conn::open(&server.base).await.map_err(io_err("connecting"))?;
        let body = json!({ "name": "Bench", "notify_url": notify_url, "platform_key_mode": "public_key" }).to_string();
        let r = conn.request("POST", "/admin/merchants", &[("Authorization", &token), ("Content-Type", "application/json")], &body).await.map_err(io_err("creating the merchant"))?;
        let m = expect_json(&r, "creating the merchant", 200)?;
        let text = |k: &str| m[k].as_str().map(str::to_string).ok_or_else(|| format!("merchant: no {k} in {m}"));
        let platform = PublicKey::from_pem(&text("platform_public_key")?).map_err(|e| e.to_string())?;
        let apiv3 = ApiV3Key::new(&text("apiv3_key")?).map_err(|e| e.to_string())?;
        wire::serve_receiver(listener, platform, apiv3, seen.clone());
        let sessions = setup_users(&server.base, &token, users, clients).await?;
        Ok::<_, String>((Merchant { json: m, notify_url }, sessions))
    })?;
    let m = &merchant.json;
    let text = |k: &str| m[k].as_str().map(str::to_string).ok_or_else(|| format!("merchant: no {k}"));
    let v3 = V3Client {
        base: server.base.clone(),
        mchid: text("mchid")?,
        serial_no: text("serial_no")?,
        key: PrivateKey::from_pem(&text("private_key")?).map_err(|e| e.to_string())?,
        platform: PublicKey::from_pem(&text("platform_public_key")?).map_err(|e| e.to_string())?,
    };

    progress(name, &format!("signing {} requests ahead of the window", 2 * total));
    let plans = presign(&v3, &text("appid")?, &merchant.notify_url, total, users)?;
    let ctx = Arc::new(Ctx { base: server.base.clone(), v3, sessions, plans });

    // The signing ceiling is measured before and after the payments and averaged: other processes on a
    // shared machine come and go, and the ratio should compare like with like.
    let threads = server_threads();
    progress(name, &format!("signing ceiling: RSA-2048 response signatures alone on {threads} threads"));
    let sample_body = orders_sample_body(&ctx.v3.mchid);
    let baseline = Duration::from_secs_f64(args.baseline_secs.clamp(0.1, 60.0));
    let ceiling_before = signing_ceiling(threads, &sample_body, baseline)?;

    progress(name, "bare HTTP round trips: GET /healthz");
    let (http_per_sec, http_lat) = rt.block_on(http_baseline(&ctx.base, clients, baseline))?;
    let http_lat = Latency::of(http_lat);

    progress(name, &format!("warm-up: {clients} payments"));
    rt.block_on(async {
        run_payments(ctx.clone(), 0..clients, clients).await?;
        await_notifications(&seen, &ctx.plans[..clients]).await
    })?;

    progress(name, &format!("timed: {timed} payments from {clients} clients"));
    let writer_before = rt.block_on(writer_counters(&ctx.base))?;
    let db_pids = database_backends(db, &app_name);
    let cpu_before = CpuSample::take(server.child.id(), &db_pids);
    let run = rt.block_on(async {
        let run = run_payments(ctx.clone(), clients..total, clients).await?;
        let arrivals = await_notifications(&seen, &ctx.plans[clients..]).await?;
        Ok::<_, String>((run, arrivals))
    });
    let cpu_after = CpuSample::take(server.child.id(), &db_pids);
    let (run, arrivals) = run?;
    let writer_after = rt.block_on(writer_counters(&ctx.base))?;
    let commits = writer_after.0.saturating_sub(writer_before.0);
    let writer_requests = writer_after.1.saturating_sub(writer_before.1);
    progress(name, "signing ceiling again");
    let ceiling_after = signing_ceiling(threads, &sample_body, baseline)?;
    let signing_per_sec = (ceiling_before.per_sec + ceiling_after.per_sec) / 2.0;
    let signing_cpu_ms = match (ceiling_before.cpu_ms, ceiling_after.cpu_ms) {
        (Some(a), Some(b)) => Some((a + b) / 2.0),
        _ => None,
    };
    let window_end = arrivals.values().copied().max().map_or(run.queries_done, |last| last.max(run.queries_done));
    let secs = window_end.duration_since(run.started).as_secs_f64();
    let per_sec = timed as f64 / secs;
    let mut notify_lat: Vec<u64> = Vec::with_capacity(timed);
    for (k, ack) in &run.acks {
        if let Some(at) = arrivals.get(&ctx.plans[*k].out_trade_no) {
            notify_lat.push(at.saturating_duration_since(*ack).as_micros() as u64);
        }
    }
    let notify_lat = Latency::of(notify_lat);
    let deliveries = {
        let timed_nos: std::collections::HashSet<&str> = ctx.plans[clients..].iter().map(|p| p.out_trade_no.as_str()).collect();
        seen.got.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(no, _)| timed_nos.contains(no.as_str())).count()
    };
    let signatures_per_payment = (run.signed_answers + deliveries) as f64 / timed as f64;
    if (signatures_per_payment - SIGNATURES_PER_PAYMENT).abs() > 0.05 {
        progress(name, &format!("note: {signatures_per_payment:.2} signatures per payment seen, {SIGNATURES_PER_PAYMENT} expected (repeated deliveries?)"));
    }
    let ceiling_per_sec = signing_per_sec / signatures_per_payment;
    let cpu = CpuSample::between(&cpu_before, &cpu_after);
    let cpu_ms_per_payment = cpu.as_ref().map(|c| c.ms_per(timed));
    let cpu_ratio = match (signing_cpu_ms, cpu_ms_per_payment) {
        (Some(s), Some(p)) if p > 0.0 => Some(s * signatures_per_payment / p),
        _ => None,
    };
    let (succeeded, notified) = (run.latencies.len(), arrivals.len());
    if succeeded != timed || notified != timed {
        return Err(format!("{succeeded} of {timed} payments succeeded, {notified} notified"));
    }
    let lat = Latency::of(run.latencies);

    progress(name, "stopping the server; checking the ledger");
    server.stop()?;
    let report = saoma_store::check_database(&db.database).map_err(|e| format!("ledger check: {e}"))?;
    if !report.is_clean() {
        return Err(format!("ledger check failed after the benchmark: {:?}", report.violations.first()));
    }
    Ok(Figure {
        backend: name,
        scenario: "payment",
        payments: timed,
        clients,
        succeeded,
        notified,
        per_sec,
        p50_ms: lat.p50,
        p99_ms: lat.p99,
        max_ms: lat.max,
        ceiling_per_sec,
        ratio: per_sec / ceiling_per_sec,
        signing_per_sec,
        signing_threads: threads,
        signatures_per_payment,
        http_per_sec,
        http_p50_ms: http_lat.p50,
        http_p99_ms: http_lat.p99,
        http_ratio: per_sec / (http_per_sec / REQUESTS_PER_PAYMENT),
        notify_p50_ms: notify_lat.p50,
        notify_p99_ms: notify_lat.p99,
        server_cpu: cpu.as_ref().map(|c| c.share(c.server)),
        load_generator_cpu: cpu.as_ref().map(|c| c.share(c.this)),
        database_cpu: cpu.as_ref().and_then(|c| c.db.map(|d| c.share(d))),
        other_cpu: cpu.as_ref().map(|c| c.share(c.busy.saturating_sub(c.server + c.this + c.db.unwrap_or(0)))),
        cpu_ms_per_payment,
        signing_cpu_ms,
        cpu_ratio,
        commits_per_payment: commits as f64 / timed as f64,
        jobs_per_commit: writer_requests as f64 / commits.max(1) as f64,
        window_ends: "last_notification_delivered",
    })
}

/// The writer's (commits, requests) counters from `/metrics`.
async fn writer_counters(base: &str) -> Result<(u64, u64), String> {
    let mut conn = Conn::open(base).await.map_err(io_err("connecting"))?;
    let r = conn.request("GET", "/metrics", &[], "").await.map_err(io_err("GET /metrics"))?;
    let counter = |name: &str| {
        r.body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok())).ok_or_else(|| format!("/metrics has no {name}"))
    };
    Ok((counter("saoma_ledger_commits_total ")?, counter("saoma_ledger_requests_total ")?))
}

struct Merchant {
    json: serde_json::Value,
    notify_url: String,
}

/// Users with money and a wallet session each (SMS code from the outbox through the admin API).
async fn setup_users(base: &str, admin: &str, users: usize, clients: usize) -> Result<Vec<String>, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients.min(users).min(16) {
        let (base, admin, next) = (base.to_string(), admin.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&base).await.map_err(io_err("connecting"))?;
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= users {
                    return Ok::<_, String>(out);
                }
                let phone = format!("139{i:08}");
                let json_h = ("Content-Type", "application/json");
                // Ten payments of at most 100 yuan each, with room to spare.
                let body = json!({ "phone": phone, "balance": 200_000 }).to_string();
                let r = conn.request("POST", "/admin/users", &[("Authorization", &admin), json_h], &body).await.map_err(io_err("creating a user"))?;
                expect_json(&r, "creating a user", 200)?;
                let r = conn.request("POST", "/wallet/sms", &[json_h], &json!({ "phone": phone }).to_string()).await.map_err(io_err("asking for an SMS code"))?;
                if r.status != 204 {
                    return Err(format!("asking for an SMS code: HTTP {} {}", r.status, r.body));
                }
                let r = conn.request("GET", &format!("/admin/sms?phone={phone}"), &[("Authorization", &admin)], "").await.map_err(io_err("reading the SMS outbox"))?;
                let outbox = expect_json(&r, "reading the SMS outbox", 200)?;
                let code = outbox["messages"][0]["code"].as_str().ok_or("no SMS code in the outbox")?.to_string();
                let r = conn.request("POST", "/wallet/login", &[json_h], &json!({ "phone": phone, "code": code }).to_string()).await.map_err(io_err("logging in"))?;
                let login = expect_json(&r, "logging in", 200)?;
                out.push((i, format!("Bearer {}", login["token"].as_str().ok_or("no session token")?)));
            }
        }));
    }
    let mut sessions = vec![String::new(); users];
    for t in tasks {
        for (i, s) in t.await.map_err(|e| e.to_string())?? {
            sessions[i] = s;
        }
    }
    Ok(sessions)
}

/// Signs every create and query request ahead of the window, on as many threads as there are cores.
fn presign(v3: &V3Client, appid: &str, notify_url: &str, total: usize, users: usize) -> Result<Vec<Planned>, String> {
    let threads = server_threads();
    let chunk = total.div_ceil(threads);
    let plan = |k: usize| -> Result<Planned, String> {
        let out_trade_no = format!("BENCH{k:08}");
        let body = json!({
            "appid": appid,
            "mchid": v3.mchid,
            "description": "saoma bench api",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": { "total": 1 + (k * 7919) % 10_000, "currency": "CNY" },
        })
        .to_string();
        let query_path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}", v3.mchid);
        let ts = now_secs();
        let nonce = || random_string(32).map_err(|e| e.to_string());
        let create_auth = v3.authorization("POST", NATIVE, &body, ts, &nonce()?);
        let query_auth = v3.authorization("GET", &query_path, "", ts, &nonce()?);
        Ok(Planned { out_trade_no, body, create_auth, query_path, query_auth, user: k % users })
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || (t * chunk..((t + 1) * chunk).min(total)).map(plan).collect::<Result<Vec<_>, String>>())).collect();
        let mut all = Vec::with_capacity(total);
        for h in handles {
            all.extend(h.join().map_err(|_| "a signing thread panicked".to_string())??);
        }
        Ok(all)
    })
}

struct PaymentRun {
    started: Instant,
    queries_done: Instant,
    /// create sent → query verified, µs.
    latencies: Vec<u64>,
    /// (payment, when its pay was answered).
    acks: Vec<(usize, Instant)>,
    /// v3 answers whose signature was verified.
    signed_answers: usize,
}

/// Pays `range` of the planned payments from `clients` concurrent clients.
async fn run_payments(ctx: Arc<Ctx>, range: std::ops::Range<usize>, clients: usize) -> Result<PaymentRun, String> {
    let conns = open_all(&ctx.base, clients).await?;
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (ctx, next) = (ctx.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut acks = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= end {
                        return Ok::<_, String>((lat, acks));
                    }
                    let t0 = Instant::now();
                    let ack = pay_one(&mut conn, &ctx, &ctx.plans[k]).await.map_err(|e| format!("{}: {e}", ctx.plans[k].out_trade_no))?;
                    lat.push(t0.elapsed().as_micros() as u64);
                    acks.push((k, ack));
                }
            })
        })
        .collect();
    let mut run = PaymentRun { started, queries_done: started, latencies: Vec::new(), acks: Vec::new(), signed_answers: 0 };
    for t in tasks {
        let (lat, acks) = t.await.map_err(|e| e.to_string())??;
        run.latencies.extend(lat);
        run.acks.extend(acks);
    }
    run.queries_done = Instant::now();
    // Every payment's create and query answers were verified (pay_one fails otherwise).
    run.signed_answers = 2 * run.latencies.len();
    Ok(run)
}

/// One payment: create, pay, query. Returns when the pay was answered.
async fn pay_one(conn: &mut Conn, ctx: &Ctx, p: &Planned) -> Result<Instant, String> {
    let json_h = ("Content-Type", "application/json");
    let accept = ("Accept", "application/json");
    let r = conn.request("POST", NATIVE, &[("Authorization", &p.create_auth), json_h, accept], &p.body).await.map_err(io_err("create"))?;
    if !ctx.v3.verify(&r) {
        return Err(format!("create: the answer's signature does not verify ({} {})", r.status, r.body));
    }
    let created = expect_json(&r, "create", 200)?;
    let code_url = created["code_url"].as_str().ok_or_else(|| format!("create: no code_url in {created}"))?;

    let session = &ctx.sessions[p.user];
    let r = conn.request("POST", "/wallet/pay", &[("Authorization", session), json_h], &json!({ "code": code_url }).to_string()).await.map_err(io_err("pay"))?;
    let ack = Instant::now();
    let paid = expect_json(&r, "pay", 200)?;
    if paid["trade_state"] != "SUCCESS" {
        return Err(format!("pay: {paid}"));
    }
    if r.header("Wechatpay-Signature").is_some() {
        return Err("pay: the wallet API signed its answer; signatures per payment would be 4".into());
    }

    let r = conn.request("GET", &p.query_path, &[("Authorization", &p.query_auth), accept], "").await.map_err(io_err("query"))?;
    if !ctx.v3.verify(&r) {
        return Err(format!("query: the answer's signature does not verify ({} {})", r.status, r.body));
    }
    let q = expect_json(&r, "query", 200)?;
    if q["trade_state"] != "SUCCESS" || q["out_trade_no"] != p.out_trade_no.as_str() {
        return Err(format!("query: {q}"));
    }
    Ok(ack)
}

/// Waits until every payment in `plans` has been notified; the first arrival of each. Fails on a
/// refused notification, or when none arrives for 30 s.
async fn await_notifications(seen: &Notifications, plans: &[Planned]) -> Result<HashMap<String, Instant>, String> {
    let mut first: HashMap<String, Instant> = HashMap::with_capacity(plans.len());
    let wanted: std::collections::HashSet<&str> = plans.iter().map(|p| p.out_trade_no.as_str()).collect();
    let mut read = 0;
    let mut last_progress = Instant::now();
    loop {
        if seen.refused.load(Ordering::Relaxed) > 0 {
            let why = seen.first_refusal.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
            return Err(format!("the notification endpoint refused {}: {why}", seen.refused.load(Ordering::Relaxed)));
        }
        {
            let got = seen.got.lock().unwrap_or_else(|p| p.into_inner());
            if got.len() > read {
                last_progress = Instant::now();
            }
            for (no, at) in &got[read..] {
                if wanted.contains(no.as_str()) {
                    first.entry(no.clone()).or_insert(*at);
                }
            }
            read = got.len();
        }
        if first.len() == wanted.len() {
            return Ok(first);
        }
        if last_progress.elapsed() > Duration::from_secs(30) {
            return Err(format!("{} of {} payments were never notified", wanted.len() - first.len(), wanted.len()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
