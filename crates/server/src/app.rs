//! The application's shared state: what every capability may use — the store, the clock, ids, the
//! platform's keys, the configuration — and a place for each capability to keep its own state
//! ([`Part`]) without this file knowing it.

use crate::platform::{self, secrets};
use saoma_store::{Database, IdGen, Store, StoreError, StoreOptions, VirtualClock};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Everything `saoma serve` is told by flags and environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `None`: SQLite in the data directory.
    pub database: Option<Database>,
    pub listen: SocketAddr,
    /// Virtual clock (and, later, the admin API open on loopback).
    pub sandbox: bool,
    pub store: StoreOptions,
    /// Login codes one client address may ask for in an hour (`login::DEFAULT_SMS_PER_ADDRESS_PER_HOUR`).
    pub sms_per_address_per_hour: u32,
    /// Address blocks notifications may reach although they are not public (`--notify-allow`).
    pub notify_allow: Vec<crate::http::proxy::Cidr>,
    /// The master key file (`None`: `DATA_DIR/master.key`, made at first start). `secrets`.
    pub master_key_file: Option<PathBuf>,
    /// Where the world reaches this server (checked by `proxy::parse_public_url`); `None`:
    /// `http://` + the bound address.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`proxy::client_addr`).
    pub trusted_proxies: Vec<crate::http::proxy::Cidr>,
    /// Timeouts and caps on connections (`conn`).
    pub connections: crate::http::conn::ConnectionLimits,
}

impl Config {
    pub fn database(&self) -> Database {
        self.database.clone().unwrap_or_else(|| Database::in_data_dir(&self.data_dir))
    }
}

/// `a.x, a.y, …` of a comma-separated column list, for a join that reads a table's columns as one
/// `Row::slice` its `from_row` reads by name.
pub(crate) fn qualified_columns(alias: &str, columns: &str) -> String {
    columns.split(',').map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Work that holds the thread for long — the PIN's argon2 (slow on purpose), building a bill, a run of
/// reads — runs where blocking is allowed, not on an async worker. The server's runtime is
/// multi-threaded. A single store read needs no wrapper: the store runs it where its backend allows
/// (`Store::query`).
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// State a capability keeps for the life of the process (a cache, connections kept alive, the replay
/// window of request nonces), made from the configuration the first time it is asked for. The type is
/// the key: a capability's part is private to it unless it says otherwise.
pub trait Part: Send + Sync + 'static {
    fn new(config: &Config) -> Self;
}

/// Background work a capability needs (a reconciler, a worker for what came due), run by one task of
/// `serve` every `every_secs` seconds, each chore after the other; a failure is logged and retried on
/// the next round.
pub struct Chore {
    pub what: &'static str,
    pub every_secs: u64,
    pub run: fn(Arc<App>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send>>,
}

/// Shared state of every handler. Small on purpose: what a capability needs of another it asks through
/// that capability's functions, not through fields here.
pub struct App {
    pub store: Store,
    pub config: Config,
    pub ids: IdGen,
    /// The platform's signing keys (`platform::keys`).
    pub keys: platform::Keys,
    /// The admin API's token (`DATA_DIR/admin.token`).
    pub admin_token: String,
    /// Where this server is reached (for URLs it hands out, such as `h5_url`).
    pub base_url: String,
    /// The clock an operator can move, in sandbox mode.
    pub virtual_clock: Option<Arc<VirtualClock>>,
    pub metrics: crate::http::ops::HttpMetrics,
    parts: RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl App {
    /// The application over an opened store: the platform's keys, accounts and ride-code keys made
    /// where missing. What `serve` runs on, and what in-process tools (the ride-code benchmark) use.
    /// The master key must be installed (`secrets::install`) first: secrets left in plaintext by an
    /// older version are sealed here, and a wrong key stops here.
    pub async fn open(store: Store, config: Config, base_url: String, admin_token: String, virtual_clock: Option<Arc<VirtualClock>>) -> Result<Arc<App>, StoreError> {
        let sealed = secrets::seal_existing(&store).await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed secrets an older version stored in plaintext");
        }
        let keys = platform::keys::load_or_create(&store, crate::http::v3::auth::real_now()).await?;
        platform::accounts::ensure(&store).await?;
        crate::transit::keys::ensure(&store, crate::http::v3::auth::real_now().max(0)).await?;
        Ok(Arc::new(App {
            store,
            config,
            ids: IdGen::new(),
            keys: platform::Keys::new(keys),
            admin_token,
            base_url,
            virtual_clock,
            metrics: Default::default(),
            parts: Default::default(),
        }))
    }

    /// A capability's state ([`Part`]), made on first use.
    pub fn part<T: Part>(&self) -> Arc<T> {
        let key = TypeId::of::<T>();
        if let Some(p) = self.parts.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return p.clone().downcast::<T>().unwrap_or_else(|_| unreachable!("parts are keyed by their type"));
        }
        let mut parts = self.parts.write().unwrap_or_else(|p| p.into_inner());
        let p = parts.entry(key).or_insert_with(|| Arc::new(T::new(&self.config))).clone();
        p.downcast::<T>().unwrap_or_else(|_| unreachable!("parts are keyed by their type"))
    }

    /// Business time (the Clock: virtual in sandbox mode), in Unix seconds.
    pub fn business_now_secs(&self) -> i64 {
        self.store.clock().now().div_euclid(saoma_store::NANOS_PER_SEC)
    }

    pub fn public_base_url(&self) -> &str {
        &self.base_url
    }
}
