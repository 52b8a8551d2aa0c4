//! saoma's HTTP side: the server (axum), its routers per adapter, and its workers.
//! For now: health, metrics, structured request logs and graceful shutdown around the ledger store.

mod ops;

use saoma_store::{Clock, Database, Store, StoreError, StoreOptions, SystemClock, VirtualClock};
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
}

impl Config {
    pub fn database(&self) -> Database {
        self.database.clone().unwrap_or_else(|| Database::in_data_dir(&self.data_dir))
    }
}

/// Shared state of every handler.
pub struct App {
    pub store: Store,
    pub config: Config,
    pub metrics: ops::HttpMetrics,
}

#[derive(Debug)]
pub enum ServeError {
    Store(StoreError),
    Io(std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Store(e) => write!(f, "{e}"),
            ServeError::Io(e) => write!(f, "{e}"),
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
    std::fs::create_dir_all(&config.data_dir)?;
    let database = config.database();
    let clock: Arc<dyn Clock> = if config.sandbox { Arc::new(VirtualClock::new()) } else { Arc::new(SystemClock) };
    let store_options = config.store;
    let store = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || Store::open(database, clock, store_options)).await.map_err(|e| std::io::Error::other(e.to_string()))??
    };
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let addr_file = config.data_dir.join("server.addr");
    std::fs::write(&addr_file, format!("http://{addr}\n"))?;
    tracing::info!(%addr, database = %database.redacted(), sandbox = config.sandbox, "saoma listening");
    let app = Arc::new(App { store, config, metrics: ops::HttpMetrics::default() });
    let router = ops::router(app.clone());
    let served = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    tracing::info!("stopping: draining the ledger writer");
    let _ = std::fs::remove_file(&addr_file);
    tokio::task::spawn_blocking(move || app.store.shutdown()).await.map_err(|e| std::io::Error::other(e.to_string()))?;
    served?;
    tracing::info!("stopped");
    Ok(())
}
