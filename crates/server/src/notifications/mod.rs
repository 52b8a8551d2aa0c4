//! Notifications: the outbox and its delivery worker.
//!
//! A notification is a row written by the job that changed the state it reports (paying an order), so
//! it exists exactly when the change committed. The worker claims due rows (a lease, so that two
//! processes rarely deliver the same one), POSTs them signed like a v3 response with the resource
//! encrypted under the merchant's APIv3 key, and records each attempt. A 2xx within 5 s is delivery;
//! an address that is not allowed (`crate::notifications::outbound`, checked on the one resolution the connection
//! uses) is a failed attempt with its reason;
//! otherwise it retries on WeChat Pay's schedule (business clock), about 24 hours in all. Delivery is
//! at least once: rows survive restarts, and a crash between delivery and recording repeats it.
//!
//! Here: the claim, the recorder and the retry schedule (`mod.rs`); `deliver.rs`, one task per claimed row
//! with per-receiver, per-merchant and global limits; `outbound.rs`, where the server may send a request at
//! all; `admin.rs`, a merchant's notifications and attempts for operators. Other capabilities write
//! notifications in their own jobs (`enqueue`) and check a notify_url before storing it (`check_url`).
//!
//! Invariants: a notification exists iff the change it reports committed; each is delivered at least once
//! or its retries run out; no request goes to a non-public address unless the operator allowed it, and
//! never to this server itself; one merchant's slow receiver delays only that merchant.

pub mod admin;
pub mod outbound;

mod deliver;

use crate::App;
use saoma_core::time::format_rfc3339_cst;
use saoma_store::{JobTx, StoreError, Value};
use saoma_wechatpay::aead::{ApiV3Key, Resource};
use std::sync::Arc;
use std::time::Duration;

/// Seconds to wait after the n-th failed attempt (WeChat Pay's schedule).
pub const RETRY_AFTER: [i64; 15] = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];
/// How long a claimed notification is left to its claimant (delivery gives up after 5 s); a claimant
/// that died is replaced after this.
const LEASE_SECS: i64 = 15;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const BATCH: i64 = 64;
/// One merchant's rows in one claim at most (twice the attempts it may have at once).
const CLAIM_PER_MERCHANT: i64 = 32;
/// Ids per batch statement. Lists are padded with NULL (which matches no row) to this length, so that a
/// statement has one text — one prepared statement — whatever the size of the batch.
const IN_LIST: usize = BATCH as usize;

/// `$first, …` for an id list of [`IN_LIST`] placeholders.
fn in_list(first: usize) -> String {
    (first..first + IN_LIST).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// At most [`IN_LIST`] ids, padded with NULL to that length.
fn padded_ids(ids: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut v: Vec<Value> = ids.take(IN_LIST).collect();
    v.resize(IN_LIST, Value::Null);
    v
}

/// Writes a notification inside the job that made the change (`resource` is the plaintext JSON).
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    tx: &mut JobTx<'_>,
    id: u128,
    mchid: &str,
    apiv3_key: &str,
    url: &str,
    event_type: &str,
    summary: &str,
    original_type: &str,
    reference: &str,
    resource: &serde_json::Value,
    now: i64,
) -> Result<(), StoreError> {
    let key = ApiV3Key::new(apiv3_key).map_err(|e| StoreError::Corrupt(format!("apiv3 key: {e}")))?;
    let sealed = Resource::seal(&key, Some(original_type), original_type, resource.to_string().as_bytes()).map_err(|e| StoreError::Io(e.to_string()))?;
    let envelope = serde_json::json!({
        "id": format!("{:032x}", id),
        "create_time": format_rfc3339_cst(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": sealed,
    });
    tx.execute(
        "INSERT INTO notifications (id, mchid, event_type, reference, url, body, state, attempts, next_attempt_at, created_at, delivered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, NULL)",
        &[id.into(), mchid.into(), event_type.into(), reference.into(), url.into(), envelope.to_string().into(), now.into()],
    )?;
    // The worker's claim is a job too, so it runs after this one and sees the row (or, if this job is
    // refused or its group fails, finds nothing: a spurious wake-up, no more).
    NEW_NOTIFICATION.notify_one();
    Ok(())
}

/// Wakes the delivery worker when a notification is written, so that it does not wait for its next
/// poll (which stays, for retries that fall due and rows written by other processes). One per
/// process: jobs do not know their App; another App in the same process only wakes early.
static NEW_NOTIFICATION: tokio::sync::Notify = tokio::sync::Notify::const_new();

pub(crate) struct Due {
    id: Value,
    mchid: String,
    url: String,
    body: String,
    attempts: i64,
}

/// What became of a claimed notification: an attempt (its status, or why there was none), or no attempt
/// for now because its receiver already has as many as it may (tried again in [`DEFER_SECS`]).
pub(crate) enum Outcome {
    Attempt(Due, Result<u16, String>),
    Deferred(Due),
}

/// How long a notification waits when its receiver is busy (no attempt is counted).
const DEFER_SECS: i64 = 1;

/// Runs until `stop` is set: claims due notifications and hands each to its own delivery task, limited
/// per receiver ([`deliver`]); outcomes are recorded a batch at a time by one recorder task. The claim
/// never waits for deliveries, so a receiver that never answers delays nobody else's.
pub async fn worker(app: Arc<App>, stop: Arc<tokio::sync::Notify>) {
    let (outcomes, received) = tokio::sync::mpsc::unbounded_channel();
    let recorder = tokio::spawn(deliver::recorder(app.clone(), received));
    let limits = Arc::new(deliver::Limits::default());
    loop {
        let claimed = match claim(&app).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming notifications");
                Vec::new()
            }
        };
        let full = claimed.len() as i64 == BATCH;
        let deadline = tokio::time::Instant::now() + Duration::from_secs((LEASE_SECS - 1) as u64) - DELIVERY_TIMEOUT;
        for d in claimed {
            deliver::dispatch(&app, &limits, d, deadline, &outcomes);
        }
        if full {
            tokio::select! {
                biased;
                _ = stop.notified() => break,
                _ = std::future::ready(()) => {}
            }
        } else {
            tokio::select! {
                _ = stop.notified() => break,
                _ = NEW_NOTIFICATION.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
    // Deliveries in flight finish (each within its deadline); their outcomes are recorded. What is not
    // finished by then keeps its lease and is delivered after it, here or by another process.
    limits.wait_idle(DELIVERY_TIMEOUT + Duration::from_secs(1)).await;
    drop(outcomes);
    let _ = recorder.await;
}

/// Claims up to [`BATCH`] due notifications: leased for [`LEASE_SECS`] in one job.
async fn claim(app: &Arc<App>) -> Result<Vec<Due>, StoreError> {
    let now = app.business_now_secs();
    Ok(app
        .store
        .transact(move |tx| {
            // At most CLAIM_PER_MERCHANT of one merchant's rows a claim: a merchant whose receiver hangs
            // has its backlog claimed (and deferred) a few rows at a time, not all of it every second,
            // and the rows of others due after it are claimed beside them.
            let rows = tx.query(
                "SELECT id, mchid, url, body, attempts FROM (\
                   SELECT id, mchid, url, body, attempts, next_attempt_at, \
                          ROW_NUMBER() OVER (PARTITION BY mchid ORDER BY next_attempt_at) AS nth \
                   FROM notifications WHERE state = 'pending' AND next_attempt_at <= $1) due \
                 WHERE nth <= $3 ORDER BY next_attempt_at LIMIT $2",
                &[now.into(), BATCH.into(), CLAIM_PER_MERCHANT.into()],
            )?;
            let mut due = Vec::new();
            for r in rows {
                due.push(Due {
                    id: r.value("id")?.clone(),
                    mchid: r.opt_text("mchid")?.unwrap_or_default().to_string(),
                    url: r.opt_text("url")?.unwrap_or_default().to_string(),
                    body: r.opt_text("body")?.unwrap_or_default().to_string(),
                    attempts: r.opt_int("attempts")?.unwrap_or(0),
                });
            }
            // One statement claims the whole batch (on PostgreSQL every statement is a round trip).
            for chunk in due.chunks(IN_LIST) {
                let mut params = vec![(now + LEASE_SECS).into()];
                params.extend(padded_ids(chunk.iter().map(|d| d.id.clone())));
                tx.execute(&format!("UPDATE notifications SET next_attempt_at = $1 WHERE id IN ({})", in_list(2)), &params)?;
            }
            Ok(Ok::<_, ()>(due))
        })
        .await?
        .unwrap_or_default())
}

async fn record(app: &App, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
    let now = app.business_now_secs();
    for o in &outcomes {
        match o {
            Outcome::Attempt(d, Ok(s)) => tracing::info!(mchid = %d.mchid, attempt = d.attempts + 1, status = s, "notification attempt"),
            Outcome::Attempt(d, Err(e)) => tracing::info!(mchid = %d.mchid, attempt = d.attempts + 1, error = %e, "notification attempt failed"),
            Outcome::Deferred(_) => {}
        }
    }
    app.store
        .transact(move |tx| {
            // Deliveries (the usual outcome) are recorded a batch at a time: per (attempt, status), one
            // statement marks them delivered and one logs the attempts. Deferrals, one statement a batch.
            let mut delivered: std::collections::BTreeMap<(i64, i64), Vec<Value>> = Default::default();
            let mut deferred = Vec::new();
            for o in outcomes {
                let (d, outcome) = match o {
                    Outcome::Deferred(d) => {
                        deferred.push(d.id);
                        continue;
                    }
                    Outcome::Attempt(d, outcome) => (d, outcome),
                };
                let attempt = d.attempts + 1;
                if let Ok(s) = outcome {
                    if (200..300).contains(&s) {
                        delivered.entry((attempt, s as i64)).or_default().push(d.id);
                        continue;
                    }
                }
                let (status, error) = match &outcome {
                    Ok(s) => (Value::Int(*s as i64), Value::Null),
                    Err(e) => (Value::Null, Value::Text(e.chars().take(200).collect())),
                };
                tx.execute(
                    "INSERT INTO notification_attempts (notification_id, attempt, at, status, error) VALUES ($1, $2, $3, $4, $5)",
                    &[d.id.clone(), attempt.into(), now.into(), status, error],
                )?;
                match RETRY_AFTER.get((attempt - 1) as usize) {
                    // Only a row still pending: a late outcome (an attempt that outlived its lease while the
                    // row was claimed again and delivered) changes nothing.
                    Some(wait) => tx.execute("UPDATE notifications SET attempts = $1, next_attempt_at = $2 WHERE id = $3 AND state = 'pending'", &[attempt.into(), (now + wait).into(), d.id])?,
                    None => tx.execute("UPDATE notifications SET state = 'failed', attempts = $1 WHERE id = $2 AND state = 'pending'", &[attempt.into(), d.id])?,
                };
            }
            for chunk in deferred.chunks(IN_LIST) {
                let mut params = vec![(now + DEFER_SECS).into()];
                params.extend(padded_ids(chunk.iter().cloned()));
                tx.execute(&format!("UPDATE notifications SET next_attempt_at = $1 WHERE id IN ({}) AND state = 'pending'", in_list(2)), &params)?;
            }
            for ((attempt, status), ids) in delivered {
                for chunk in ids.chunks(IN_LIST) {
                    let mut params: Vec<Value> = vec![attempt.into(), now.into()];
                    params.extend(padded_ids(chunk.iter().cloned()));
                    tx.execute(&format!("UPDATE notifications SET state = 'delivered', attempts = $1, delivered_at = $2 WHERE id IN ({})", in_list(3)), &params)?;
                    let mut params: Vec<Value> = vec![attempt.into(), now.into(), status.into()];
                    params.extend(padded_ids(chunk.iter().cloned()));
                    tx.execute(
                        &format!(
                            "INSERT INTO notification_attempts (notification_id, attempt, at, status, error) \
                             SELECT id, CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), NULL FROM notifications WHERE id IN ({})",
                            in_list(4)
                        ),
                        &params,
                    )?;
                }
            }
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .ok();
    Ok(())
}

/// Notifications of a merchant with their attempts, newest first (the admin API).
pub fn list(app: &App, mchid: &str) -> Result<serde_json::Value, StoreError> {
    crate::blocking(|| {
        let rows = app.store.query(
            "SELECT id, event_type, reference, url, state, attempts, next_attempt_at, created_at, delivered_at FROM notifications WHERE mchid = $1 ORDER BY created_at DESC, id DESC LIMIT 100",
            &[mchid.into()],
        )?;
        let mut out = Vec::new();
        for r in rows {
            let attempts = app.store.query("SELECT attempt, at, status, error FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt", &[r.value("id")?.clone()])?;
            let attempt_log = attempts
                .iter()
                .map(|a| Ok(serde_json::json!({"attempt": a.opt_int("attempt")?, "at": a.opt_int("at")?, "status": a.opt_int("status")?, "error": a.opt_text("error")?})))
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(serde_json::json!({
                "id": r.opt_blob("id")?.map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
                "event_type": r.opt_text("event_type")?,
                "reference": r.opt_text("reference")?,
                "url": r.opt_text("url")?,
                "state": r.opt_text("state")?,
                "attempts": r.opt_int("attempts")?,
                "next_attempt_at": r.opt_int("next_attempt_at")?,
                "created_at": r.opt_int("created_at")?,
                "delivered_at": r.opt_int("delivered_at")?,
                "attempt_log": attempt_log,
            }));
        }
        Ok(serde_json::json!({ "mchid": mchid, "notifications": out }))
    })
}

/// One delivery attempt of a notification: when, and the receiver's status or why there was none.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
}

/// A notification as its merchant may see it (the console's order page): what it reports, where it
/// goes, how delivery stands, and every attempt.
#[derive(Clone, Debug)]
pub struct Notice {
    pub event_type: String,
    pub reference: String,
    pub url: String,
    pub state: String,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub attempts: Vec<Attempt>,
}

/// The merchant's notifications about `references` — (the event type's kind, `TRANSACTION` or `REFUND`,
/// and the reference: an order's out_trade_no, a refund's out_refund_no) — oldest first, each with its
/// attempts (at most 20 notifications).
pub fn about(app: &App, mchid: &str, references: &[(&str, String)]) -> Result<Vec<Notice>, StoreError> {
    let mut out = Vec::new();
    for (kind, reference) in references.iter().take(20) {
        let rows = app.store.query(
            "SELECT id, event_type, reference, url, state, next_attempt_at, created_at, delivered_at FROM notifications \
             WHERE mchid = $1 AND reference = $2 AND event_type LIKE $3 ORDER BY created_at, id LIMIT 20",
            &[mchid.into(), reference.as_str().into(), format!("{kind}.%").into()],
        )?;
        for r in rows {
            let sql = "SELECT attempt, at, status, error FROM notification_attempts WHERE notification_id = $1 ORDER BY attempt";
            let attempts = app
                .store
                .query(sql, &[r.value("id")?.clone()])?
                .iter()
                .map(|a| Ok(Attempt { at: a.int("at")?, status: a.opt_int("status")?, error: a.opt_text("error")?.map(str::to_string) }))
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(Notice {
                event_type: r.text("event_type")?.to_string(),
                reference: r.text("reference")?.to_string(),
                url: r.text("url")?.to_string(),
                state: r.text("state")?.to_string(),
                next_attempt_at: r.int("next_attempt_at")?,
                created_at: r.int("created_at")?,
                delivered_at: r.opt_int("delivered_at")?,
                attempts,
            });
        }
    }
    out.sort_by_key(|n| n.created_at);
    out.truncate(20);
    Ok(out)
}

/// How long a name's verdict at creation is remembered (creating orders must not ask DNS each time).
const VERDICT_SECS: u64 = 60;
/// How long creation waits for DNS; a name that does not answer in time is let through (delivery
/// checks again, on the address it connects to) and not remembered.
const RESOLVE_WAIT: Duration = Duration::from_secs(2);

/// Names recently resolved for [`check_url`], with their verdict, and the lookups allowed at once (each
/// holds a blocking thread while DNS answers; a caller cannot make the server hold hundreds).
struct Verdicts {
    cache: std::sync::Mutex<std::collections::HashMap<(String, u16), Verdict>>,
    lookups: Arc<tokio::sync::Semaphore>,
}

/// When a name was judged, and the verdict.
type Verdict = (std::time::Instant, Result<(), String>);

impl Default for Verdicts {
    fn default() -> Self {
        Verdicts { cache: Default::default(), lookups: Arc::new(tokio::sync::Semaphore::new(32)) }
    }
}

/// A `notify_url` as an API receives it (orders of every kind, refunds, agreements, merchants): an
/// http(s) URL whose host is, and resolves to, addresses the policy allows (`crate::notifications::outbound`). The
/// reason when not, for a `PARAM_ERROR`. A name that does not resolve now is accepted — it may later,
/// and every delivery checks the address it uses.
pub async fn check_url(app: &App, url: &str) -> Result<(), String> {
    let target = crate::notifications::outbound::parse_url(url).map_err(|e| format!("notify_url {e}"))?;
    let outbox = app.part::<Outbox>();
    let policy = &outbox.policy;
    policy.check_authority(&target).map_err(|e| format!("notify_url refused: {e}"))?;
    let name = match &target.host {
        crate::notifications::outbound::Host::Ip(ip) => return policy.check(std::net::SocketAddr::new(*ip, target.port)).map_err(|e| format!("notify_url refused: {e}")),
        crate::notifications::outbound::Host::Name(n) => n.clone(),
    };
    if policy.sandbox && policy.own.is_none() {
        return Ok(());
    }
    let key = (name.clone(), target.port);
    if let Some((at, verdict)) = outbox.verdicts.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        if at.elapsed() < Duration::from_secs(VERDICT_SECS) {
            return verdict.clone();
        }
    }
    // With every lookup slot busy, the name is let through unresolved, as one that does not answer in time.
    let Ok(slot) = outbox.verdicts.lookups.clone().try_acquire_owned() else { return Ok(()) };
    let port = target.port;
    // The slot is held by the lookup's thread, not by this wait: a name that never answers keeps its
    // thread (getaddrinfo cannot be cancelled), and so its slot, so stuck lookups stay bounded.
    let lookup = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        crate::notifications::outbound::system_resolver(&name, port)
    });
    let verdict = match tokio::time::timeout(RESOLVE_WAIT, lookup).await {
        Ok(Ok(Ok(addrs))) => policy.resolve(&target, |_, _| Ok(addrs)).map(|_| ()).map_err(|e| format!("notify_url refused: {e}")),
        Ok(Ok(Err(_))) => Ok(()),
        _ => return Ok(()),
    };
    let mut cache = outbox.verdicts.cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 4096 {
        cache.clear();
    }
    cache.insert(key, (std::time::Instant::now(), verdict.clone()));
    verdict
}

/// A given notify_url's address, as the policy allows it (`check_url`): checked before
/// anything is stored. An empty or absent one passes (the caller's rules say whether one is required).
pub(crate) async fn check_notify_url(app: &App, url: Option<&str>) -> Result<(), crate::http::v3::V3Error> {
    match url.filter(|u| !u.is_empty()) {
        Some(u) => check_url(app, u).await.map_err(crate::http::v3::V3Error::param),
        None => Ok(()),
    }
}


/// The notifications' state for operators.
pub fn routes() -> crate::http::Routes {
    use axum::routing::get;
    crate::http::Routes {
        admin: axum::Router::new()
            .route("/admin/notifications", get(admin::notifications)),
        ..Default::default()
    }
}

/// What this process keeps for sending notifications: where they may go (the sandbox, the allowlist,
/// never this server itself), the names recently judged, and connections kept alive to receivers.
pub(crate) struct Outbox {
    pub(crate) policy: outbound::Policy,
    verdicts: Verdicts,
    pub(crate) connections: saoma_wechatpay::client::KeepAlive,
}

impl crate::Part for Outbox {
    fn new(config: &crate::Config) -> Self {
        let policy = outbound::Policy {
            sandbox: config.sandbox,
            allow: config.notify_allow.clone(),
            own: (config.listen.port() != 0).then_some(config.listen),
            own_url: config.public_url.as_deref().and_then(|u| outbound::parse_url(u).ok()).map(|t| (t.host, t.port)),
        };
        Outbox { policy, verdicts: Verdicts::default(), connections: Default::default() }
    }
}
