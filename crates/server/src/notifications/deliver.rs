//! Delivering claimed notifications fairly: each is its own task, limited per receiver (host and
//! port), per merchant and in all, so that one merchant's receiver that never answers holds only its own
//! slots for at most the attempt's deadline, and everyone else's notifications go on. A notification
//! whose receiver has no slot free within its lease is not attempted: it is deferred (no attempt
//! counted) and claimed again shortly.

use super::{record, Due, Outcome, DELIVERY_TIMEOUT};
use crate::platform::KeyMode;
use crate::notifications::outbound::{self, Target};
use crate::App;
use saoma_wechatpay::aead::random_string;
use saoma_wechatpay::auth::response_message;
use saoma_wechatpay::client::Endpoint;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Attempts at once to one receiver (host and port) for one merchant: a receiver that never answers ties
/// up this many threads per merchant naming it for [`DELIVERY_TIMEOUT`], no more.
const PER_HOST: usize = 4;
/// Attempts at once for one merchant, whatever the number of its hosts.
const PER_MERCHANT: usize = 16;
/// Attempts at once in all (each holds a blocking thread while it waits on the network).
const IN_ALL: usize = 128;
/// Notifications claimed and not yet attempted (waiting for a slot), per receiver and in all. Beyond,
/// a claimed notification is deferred at once.
const QUEUED_PER_HOST: usize = 128;
const QUEUED_PER_MERCHANT: usize = 256;
const QUEUED_IN_ALL: usize = 2048;
/// Outcomes recorded per job at most.
const RECORD_BATCH: usize = 512;

/// A pool of slots and how many notifications hold or wait for one.
struct Slots {
    semaphore: Arc<Semaphore>,
    queued: usize,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots { semaphore: Arc::new(Semaphore::new(n)), queued: 0 }
    }
}

/// The worker's slots: per receiver, per merchant, in all.
pub(crate) struct Limits {
    state: Mutex<State>,
    all: Arc<Semaphore>,
}

#[derive(Default)]
struct State {
    hosts: HashMap<String, Slots>,
    merchants: HashMap<String, Slots>,
    queued: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { state: Mutex::default(), all: Arc::new(Semaphore::new(IN_ALL)) }
    }
}

/// A notification's place in the queues, given back when its task ends.
struct Ticket {
    limits: Arc<Limits>,
    host: String,
    mchid: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut guard = self.limits.state.lock().unwrap_or_else(|p| p.into_inner());
        let s = &mut *guard;
        s.queued -= 1;
        for (map, key) in [(&mut s.hosts, &self.host), (&mut s.merchants, &self.mchid)] {
            if let Some(slots) = map.get_mut(key) {
                slots.queued -= 1;
                // Receivers come and go: an idle one's entry goes.
                if slots.queued == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

impl Limits {
    /// A place in the queues of `host` and `mchid`, with their semaphores; `None` when one is full.
    fn enter(self: &Arc<Self>, host: &str, mchid: &str) -> Option<(Ticket, Arc<Semaphore>, Arc<Semaphore>)> {
        // A receiver's slots are the merchant's own: a merchant that names another merchant's receiver
        // (a public host) gets slots of its own there and cannot fill or hold the other's.
        let key = format!("{mchid} {host}");
        let host = key.as_str();
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let host_full = s.hosts.get(host).is_some_and(|h| h.queued >= QUEUED_PER_HOST);
        let merchant_full = s.merchants.get(mchid).is_some_and(|m| m.queued >= QUEUED_PER_MERCHANT);
        if host_full || merchant_full || s.queued >= QUEUED_IN_ALL {
            return None;
        }
        s.queued += 1;
        let h = s.hosts.entry(host.to_string()).or_insert_with(|| Slots::new(PER_HOST));
        h.queued += 1;
        let hs = h.semaphore.clone();
        let m = s.merchants.entry(mchid.to_string()).or_insert_with(|| Slots::new(PER_MERCHANT));
        m.queued += 1;
        let ms = m.semaphore.clone();
        Some((Ticket { limits: self.clone(), host: host.to_string(), mchid: mchid.to_string() }, hs, ms))
    }

    /// Waits until no notification is queued or being attempted, or `within` has passed.
    pub(crate) async fn wait_idle(&self, within: Duration) {
        let until = Instant::now() + within;
        while self.state.lock().unwrap_or_else(|p| p.into_inner()).queued > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts delivering one claimed notification, or defers it when its receiver's queue is full. An
/// attempt must start by `start_by` (so that it ends within the lease); one that cannot is deferred.
pub(crate) fn dispatch(app: &Arc<App>, limits: &Arc<Limits>, d: Due, start_by: tokio::time::Instant, outcomes: &UnboundedSender<Outcome>) {
    let target = match outbound::parse_url(&d.url) {
        Ok(t) => t,
        Err(e) => {
            let _ = outcomes.send(Outcome::Attempt(d, Err(format!("notify_url {e}"))));
            return;
        }
    };
    let host = format!("{}://{}", if target.tls { "https" } else { "http" }, target.authority);
    let Some((ticket, host_slots, merchant_slots)) = limits.enter(&host, &d.mchid) else {
        let _ = outcomes.send(Outcome::Deferred(d));
        return;
    };
    let (app, all, outcomes) = (app.clone(), limits.all.clone(), outcomes.clone());
    tokio::spawn(async move {
        let _ticket = ticket;
        let permits = tokio::time::timeout_at(start_by, async move {
            // The merchant's slot first: no task holds a receiver's slot while it waits for its own merchant.
            let m = merchant_slots.acquire_owned().await.ok()?;
            let h = host_slots.acquire_owned().await.ok()?;
            let a = all.acquire_owned().await.ok()?;
            Some::<[OwnedSemaphorePermit; 3]>([m, h, a])
        })
        .await;
        let Ok(Some(_permits)) = permits else {
            let _ = outcomes.send(Outcome::Deferred(d));
            return;
        };
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        let (mchid, body) = (d.mchid.clone(), d.body.clone());
        let app2 = app.clone();
        let result = tokio::task::spawn_blocking(move || post(&app2, &mchid, &target, &body, deadline)).await.unwrap_or_else(|e| Err(e.to_string()));
        let _ = outcomes.send(Outcome::Attempt(d, result));
    });
}

/// One attempt, by `deadline`: the address resolved once and checked (every answer), then the signed
/// POST to that very address. The status code, or why there was none.
fn post(app: &App, mchid: &str, target: &Target, body: &str, deadline: Instant) -> Result<u16, String> {
    let addr = app.part::<super::Outbox>().policy.resolve(target, outbound::system_resolver).map_err(|e| format!("refused: {e}"))?;
    let mode = crate::merchants::get(&app, mchid).ok().flatten().map(|m| m.key_mode).unwrap_or(KeyMode::PublicKey);
    let key = app.keys.signing(Some(mode));
    let serial = if mode == KeyMode::Certificate { key.serial_no.clone() } else { key.key_id.clone() };
    let timestamp = crate::http::v3::auth::real_now().to_string();
    let nonce = random_string(32).map_err(|e| e.to_string())?;
    let signature = key.private_key.sign(response_message(timestamp.parse().unwrap_or(0), &nonce, body).as_bytes()).map_err(|e| e.to_string())?;
    let headers = [
        ("Content-Type", "application/json"),
        ("Wechatpay-Timestamp", timestamp.as_str()),
        ("Wechatpay-Nonce", nonce.as_str()),
        ("Wechatpay-Signature", signature.as_str()),
        ("Wechatpay-Serial", serial.as_str()),
        ("Wechatpay-Signature-Type", saoma_wechatpay::SIGNATURE_TYPE),
    ];
    let server_name = match &target.host {
        outbound::Host::Name(n) => n.clone(),
        outbound::Host::Ip(ip) => ip.to_string(),
    };
    let to = Endpoint { tls: target.tls, authority: &target.authority, server_name: &server_name, addr };
    app.part::<super::Outbox>().connections.request(&to, "POST", &target.path, &headers, body, deadline).map(|r| r.status).map_err(|e| e.to_string())
}

/// Records outcomes as they come, a batch per job: whatever arrived while the previous job ran.
/// How long the recorder waits for more outcomes before it records what it has.
const RECORD_LINGER: Duration = Duration::from_millis(5);

pub(crate) async fn recorder(app: Arc<App>, mut received: UnboundedReceiver<Outcome>) {
    let mut batch = Vec::new();
    while received.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        // Deliveries end one by one: a moment's wait gathers those ending together into one job (one
        // writer commit for many, where each would otherwise be a commit of its own).
        if batch.len() < RECORD_BATCH {
            tokio::time::sleep(RECORD_LINGER).await;
            while batch.len() < RECORD_BATCH {
                match received.try_recv() {
                    Ok(o) => batch.push(o),
                    Err(_) => break,
                }
            }
        }
        if let Err(e) = record(&app, std::mem::take(&mut batch)).await {
            // The rows keep their lease and are claimed again after it: at least once.
            tracing::warn!(error = %e, "recording notification attempts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receiver's full queue refuses more (the worker defers them) while other receivers and other
    /// merchants still get places; a place comes back when its task ends; idle entries go.
    #[test]
    fn queues_are_bounded_per_receiver_and_per_merchant() {
        let limits = Arc::new(Limits::default());
        let mut held: Vec<_> = (0..QUEUED_PER_HOST).map(|_| limits.enter("http://pit", "m1").expect("a place")).collect();
        assert!(limits.enter("http://pit", "m1").is_none(), "the receiver's queue is full");
        assert!(limits.enter("http://pit", "m2").is_some(), "another merchant naming the same receiver has places of its own");
        assert!(limits.enter("http://other", "m1").is_some(), "another receiver of the same merchant");
        let more: Vec<_> = (0..QUEUED_PER_MERCHANT - QUEUED_PER_HOST).map(|i| limits.enter(&format!("http://h{i}"), "m1").expect("a place")).collect();
        assert!(limits.enter("http://fresh", "m1").is_none(), "the merchant's queue is full");
        assert!(limits.enter("http://fresh", "m2").is_some(), "another merchant");
        held.pop();
        assert!(limits.enter("http://pit", "m2").is_some(), "a place came back");
        drop((held, more));
        let s = limits.state.lock().unwrap();
        assert_eq!((s.queued, s.hosts.len(), s.merchants.len()), (0, 0, 0), "nothing left behind");
        // The host and merchant semaphores hand out PER_HOST and PER_MERCHANT slots.
        drop(s);
        let (_t, host, merchant) = limits.enter("http://x", "m").unwrap();
        assert_eq!((host.available_permits(), merchant.available_permits()), (PER_HOST, PER_MERCHANT));
    }
}
