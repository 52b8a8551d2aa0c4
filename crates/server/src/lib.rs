//! saoma's HTTP side: the server (axum), its routers per adapter, and its workers.
//! For now: health, metrics, structured request logs and graceful shutdown around the ledger store.

pub mod accounts;
pub mod agreements;
mod admin;
pub mod bank;
pub mod bills;
pub mod cards;
pub mod cashier;
pub mod conn;
pub mod hex;
pub mod merchants;
mod ops;
pub mod notify;
pub mod orders;
pub mod outbound;
pub mod paycodes;
pub mod payments;
pub mod pins;
pub mod platform;
pub mod proxy;
pub mod refunds;
pub mod secrets;
pub mod transit;
pub mod login;
pub mod users;
pub mod v3;
pub mod wallet;

use saoma_store::{Clock, Database, IdGen, Store, StoreError, StoreOptions, SystemClock, VirtualClock};
use std::sync::RwLock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

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
    pub notify_allow: Vec<outbound::Cidr>,
    /// The master key file (`None`: `DATA_DIR/master.key`, made at first start). `secrets`.
    pub master_key_file: Option<PathBuf>,
    /// Where the world reaches this server (checked by `proxy::parse_public_url`); `None`:
    /// `http://` + the bound address.
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`proxy::client_addr`).
    pub trusted_proxies: Vec<proxy::Cidr>,
    /// Timeouts and caps on connections (`conn`).
    pub connections: conn::ConnectionLimits,
}

impl Config {
    pub fn database(&self) -> Database {
        self.database.clone().unwrap_or_else(|| Database::in_data_dir(&self.data_dir))
    }
}

/// `a.x, a.y, …` of a comma-separated column list, for a join that reads a table's columns in its
/// `from_row` order.
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

/// Shared state of every handler.
pub struct App {
    pub store: Store,
    pub config: Config,
    pub metrics: ops::HttpMetrics,
    /// Valid platform keys, newest first (the newest signs).
    pub platform: RwLock<Vec<platform::PlatformKey>>,
    pub merchants: merchants::Merchants,
    pub nonces: v3::auth::Nonces,
    /// Kept-alive connections to merchants' notify_url hosts.
    pub notify_connections: saoma_wechatpay::client::KeepAlive,
    pub admin_token: String,
    pub ids: IdGen,
    /// Where this server is reached (for URLs it hands out, such as `h5_url`).
    pub base_url: String,
    /// The clock an operator can move, in sandbox mode.
    pub virtual_clock: Option<Arc<VirtualClock>>,
    pub bank: Arc<dyn bank::BankConnector>,
    /// Where notifications may go (`outbound`): the sandbox, the allowlist, this server's own address.
    pub notify_policy: outbound::Policy,
    /// Names of notify_urls recently resolved when given, with their verdict.
    pub notify_verdicts: notify::Verdicts,
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
        let keys = platform::load_or_create(&store, v3::auth::real_now()).await?;
        accounts::ensure(&store).await?;
        transit::keys::ensure(&store, v3::auth::real_now().max(0)).await?;
        let notify_policy = outbound::Policy {
            sandbox: config.sandbox,
            allow: config.notify_allow.clone(),
            own: base_url.strip_prefix("http://").and_then(|a| a.parse().ok()),
        };
        Ok(Arc::new(App {
            store,
            config,
            metrics: ops::HttpMetrics::default(),
            platform: RwLock::new(keys),
            merchants: merchants::Merchants::default(),
            nonces: v3::auth::Nonces::default(),
            notify_connections: Default::default(),
            admin_token,
            ids: IdGen::new(),
            base_url,
            virtual_clock,
            bank: Arc::new(bank::SimulatedBank),
            notify_policy,
            notify_verdicts: Default::default(),
        }))
    }

    /// The newest valid platform key (certificate-mode merchants, and anyone unidentified).
    pub fn platform_key(&self) -> platform::PlatformKey {
        self.signing_key(None)
    }

    /// The key that signs for a merchant: the newest in certificate mode; in public-key mode the oldest
    /// still valid, so that a rotation does not break merchants before the old key retires.
    pub fn signing_key(&self, mode: Option<merchants::KeyMode>) -> platform::PlatformKey {
        let keys = self.platform_keys();
        match mode {
            Some(merchants::KeyMode::PublicKey) => keys[keys.len() - 1].clone(),
            _ => keys[0].clone(),
        }
    }

    /// Reads the valid platform keys again (after a rotation here or in another process).
    pub fn reload_platform_keys(&self) {
        match platform::load(&self.store, v3::auth::real_now()) {
            Ok(keys) => *self.platform.write().unwrap_or_else(|p| p.into_inner()) = keys,
            Err(e) => tracing::error!(error = %e, "reloading platform keys"),
        }
    }

    /// The keys valid now, newest first (never empty: the newest has no retirement date).
    pub fn platform_keys(&self) -> Vec<platform::PlatformKey> {
        let now = v3::auth::real_now();
        let all = self.platform.read().unwrap_or_else(|p| p.into_inner()).clone();
        let valid: Vec<_> = all.iter().filter(|k| k.valid_at(now)).cloned().collect();
        if valid.is_empty() {
            all
        } else {
            valid
        }
    }

    /// Business time (the Clock: virtual in sandbox mode), in Unix seconds.
    pub fn business_now_secs(&self) -> i64 {
        self.store.clock().now().div_euclid(saoma_store::NANOS_PER_SEC)
    }

    pub fn public_base_url(&self) -> &str {
        &self.base_url
    }
}

#[derive(Debug)]
pub enum ServeError {
    Store(StoreError),
    Io(std::io::Error),
    /// A setting that cannot work (master key file, …).
    Config(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Store(e) => write!(f, "{e}"),
            ServeError::Io(e) => write!(f, "{e}"),
            ServeError::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

impl From<StoreError> for ServeError {
    fn from(e: StoreError) -> Self {
        ServeError::Store(e)
    }
}

impl From<std::io::Error> for ServeError {
    fn from(e: std::io::Error) -> Self {
        ServeError::Io(e)
    }
}

/// Opens the store, binds, writes the bound address to `DATA_DIR/server.addr` (so that the CLI and
/// tests find a server started on port 0), and serves until `shutdown` resolves; then stops taking
/// requests, lets those in flight finish, and drains the ledger writer.
pub async fn serve(config: Config, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    // Everything this process creates is its user's alone (SQLite's -wal and -shm files included);
    // what an older version left readable is tightened below and in the store.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask.
    unsafe {
        libc::umask(0o077);
    }
    secrets::restrict_dir(&config.data_dir)?;
    // admin.token, master.key, clock.offset, server.addr, the SQLite files: whatever is there.
    for entry in std::fs::read_dir(&config.data_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            secrets::restrict_file(&entry.path())?;
        }
    }
    let master = secrets::MasterKey::load_or_create(&config.data_dir, config.master_key_file.as_deref()).map_err(ServeError::Config)?;
    secrets::install(master)?;
    let database = config.database();
    let virtual_clock = config.sandbox.then(|| {
        // The sandbox clock's offset survives restarts (a notification due "in 3 hours" stays due then).
        let v = Arc::new(VirtualClock::new());
        if let Ok(s) = std::fs::read_to_string(config.data_dir.join("clock.offset")) {
            v.advance(s.trim().parse().unwrap_or(0));
        }
        v
    });
    let clock: Arc<dyn Clock> = match &virtual_clock {
        Some(v) => v.clone(),
        None => Arc::new(SystemClock),
    };
    let store_options = config.store;
    let store = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || Store::open(database, clock, store_options)).await.map_err(|e| std::io::Error::other(e.to_string()))??
    };
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let admin_token = admin::load_or_create_token(&config.data_dir)?;
    let base_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let app = App::open(store, config, base_url, admin_token, virtual_clock).await.map_err(|e| match e {
        // A secret that does not open: the master key is not this database's.
        StoreError::Corrupt(m) if m.contains("master key") => ServeError::Config(m),
        e => ServeError::Store(e),
    })?;
    let router = ops::router(app.clone());
    // Written last: whoever reads it (the CLI, tests) finds a server ready to answer.
    let addr_file = app.config.data_dir.join("server.addr");
    secrets::write_private(&addr_file, format!("http://{addr}\n").as_bytes(), false)?;
    tracing::info!(%addr, database = %database.redacted(), sandbox = app.config.sandbox, "saoma listening");
    let stop_worker = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(notify::worker(app.clone(), stop_worker.clone()));
    let reconciler = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                if let Err(e) = bank::reconcile(&app).await {
                    tracing::warn!(error = %e, "bank reconciliation");
                }
                if let Err(e) = transit::ingest::settle_open_rides(&app).await {
                    tracing::warn!(error = %e, "settling open rides");
                }
                if let Err(e) = transit::settle_leaving(&app).await {
                    tracing::warn!(error = %e, "card refunds");
                }
                tick += 1;
                if tick % 30 == 0 {
                    app.reload_platform_keys();
                }
                if tick % 60 == 0 {
                    if let Err(e) = v3::auth::prune_nonces(&app).await {
                        tracing::warn!(error = %e, "pruning request nonces");
                    }
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    };
    let served = conn::serve_connections(listener, router, app.clone(), shutdown).await;
    stop_worker.notify_one();
    let _ = worker.await;
    reconciler.abort();
    tracing::info!("stopping: draining the ledger writer");
    let _ = std::fs::remove_file(&addr_file);
    tokio::task::spawn_blocking(move || app.store.shutdown()).await.map_err(|e| std::io::Error::other(e.to_string()))?;
    served?;
    tracing::info!("stopped");
    Ok(())
}
