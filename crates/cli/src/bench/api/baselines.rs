//! What the payments are compared with, in the same run: RSA-2048 response signatures per second alone
//! (on as many threads as the server has workers), and a bare HTTP round trip at the same concurrency.

use super::*;

pub(super) struct Ceiling {
    pub(super) per_sec: f64,
    /// CPU time per signature (this process's, while nothing else in it runs).
    pub(super) cpu_ms: Option<f64>,
}

/// RSA-2048 SHA256withRSA signatures/s of a response message, with a fresh nonce each, on `threads`
/// threads — `PrivateKey::sign`, as `v3::auth::sign_response` and the notification worker call it.
pub(super) fn signing_ceiling(threads: usize, body: &str, run: Duration) -> Result<Ceiling, String> {
    let key = PrivateKey::generate().map_err(|e| e.to_string())?;
    let cpu_before = proc_ticks("self");
    let started = Instant::now();
    let counts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(usize, Duration), String> {
                    let mut n = 0;
                    while started.elapsed() < run {
                        let nonce = random_string(32).map_err(|e| e.to_string())?;
                        key.sign(response_message(now_secs(), &nonce, body).as_bytes()).map_err(|e| e.to_string())?;
                        n += 1;
                    }
                    Ok((n, started.elapsed()))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().map_err(|_| "a signing thread panicked".to_string())?).collect::<Result<Vec<_>, String>>()
    })?;
    let cpu_after = proc_ticks("self");
    let n: usize = counts.iter().map(|c| c.0).sum();
    let secs = counts.iter().map(|c| c.1).max().unwrap_or(run).as_secs_f64();
    let cpu_ms = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if n > 0 => Some(b.saturating_sub(a) as f64 * MS_PER_TICK / n as f64),
        _ => None,
    };
    Ok(Ceiling { per_sec: n as f64 / secs, cpu_ms })
}

/// Opens one connection per client before the clock starts.
pub(super) async fn open_all(base: &str, clients: usize) -> Result<Vec<Conn>, String> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(base).await.map_err(io_err("connecting"))?);
    }
    Ok(conns)
}

/// `GET /healthz` from every client for `run`: round trips/s and their latencies (µs).
pub(super) async fn http_baseline(base: &str, clients: usize, run: Duration) -> Result<(f64, Vec<u64>), String> {
    let conns = open_all(base, clients).await?;
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while started.elapsed() < run {
                    let t0 = Instant::now();
                    let r = conn.request("GET", "/healthz", &[], "").await.map_err(io_err("GET /healthz"))?;
                    if r.status != 200 {
                        return Err(format!("GET /healthz: HTTP {} {}", r.status, r.body));
                    }
                    lat.push(t0.elapsed().as_micros() as u64);
                }
                Ok::<_, String>(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((all.len() as f64 / secs, all))
}

/// A body the size of a query's answer (what most signed answers look like).
pub(super) fn orders_sample_body(mchid: &str) -> String {
    json!({
        "appid": "wx0123456789abcdef", "mchid": mchid, "out_trade_no": "BENCH00000000", "trade_type": "NATIVE",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "attach": "", "transaction_id": "4200000000202401010000000000",
        "bank_type": "OTHERS", "success_time": "2024-01-01T00:00:00+08:00", "payer": { "openid": "o0123456789abcdefghijklmnopq" },
        "amount": { "total": 100, "currency": "CNY", "payer_total": 100, "payer_currency": "CNY" },
    })
    .to_string()
}
