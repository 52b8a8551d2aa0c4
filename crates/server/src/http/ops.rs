//! Operations endpoints: `/healthz` for load balancers and `/metrics` for Prometheus, plus the
//! request log and request counters every router shares.

use crate::App;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

#[derive(Default)]
pub struct HttpMetrics {
    requests: AtomicU64,
    errors_4xx: AtomicU64,
    errors_5xx: AtomicU64,
    /// PINs checked with argon2 (what a burst of guesses costs: at most the tries left).
    pin_checks: AtomicU64,
    /// Connections open now, and closed at once for a cap (`conn`).
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
}

impl HttpMetrics {
    pub(crate) fn pin_checked(&self) {
        self.pin_checks.fetch_add(1, Relaxed);
    }
}

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// Healthy when the database answers a read.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    let app2 = app.clone();
    let probe = tokio::task::spawn_blocking(move || app2.store.account(saoma_ledger::AccountId(0))).await;
    let backend = app.store.database().backend_name();
    match probe {
        // The business time too: a sandbox clock may be days ahead, and tools acting as phones or gates
        // (saoma ridecode show, saoma gate) must stamp codes and taps with it.
        Ok(Ok(_)) => Json(serde_json::json!({"status": "ok", "backend": backend, "sandbox": app.config.sandbox, "business_time": app.business_now_secs()})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "backend": backend}))).into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut out = String::new();
    let m = &app.metrics;
    for (name, help, v) in [
        ("saoma_http_requests_total", "HTTP requests answered", &m.requests),
        ("saoma_http_client_errors_total", "HTTP requests answered with 4xx", &m.errors_4xx),
        ("saoma_http_server_errors_total", "HTTP requests answered with 5xx", &m.errors_5xx),
        ("saoma_pin_checks_total", "payment PINs checked with argon2", &m.pin_checks),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
    }
    let _ = writeln!(out, "# HELP saoma_connections_refused_total Connections closed at once: the server's or an address's cap was reached\n# TYPE saoma_connections_refused_total counter\nsaoma_connections_refused_total {}", m.connections_refused.load(Relaxed));
    let _ = writeln!(out, "# HELP saoma_connections_open Connections open\n# TYPE saoma_connections_open gauge\nsaoma_connections_open {}", m.connections_open.load(Relaxed));
    app.store.metrics().render(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// One structured log line per request (method, route, status, latency); never headers or bodies,
/// which may carry secrets.
pub(crate) async fn log_requests(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| req.uri().path().to_string());
    let resp = next.run(req).await;
    let status = resp.status();
    app.metrics.requests.fetch_add(1, Relaxed);
    if status.is_client_error() {
        app.metrics.errors_4xx.fetch_add(1, Relaxed);
    } else if status.is_server_error() {
        app.metrics.errors_5xx.fetch_add(1, Relaxed);
    }
    tracing::info!(%method, route, status = status.as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    resp
}
