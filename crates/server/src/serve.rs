//! `saoma serve`: the data directory made private and the master key installed, the store opened, the
//! application over it, the listener, the workers (notifications, reconcilers), and a graceful stop.

use crate::http::{self, conn};
use crate::platform::secrets;
use crate::{notifications, App, Config};
use saoma_store::{Clock, Store, StoreError, SystemClock, VirtualClock};
use std::sync::Arc;
use tokio::net::TcpListener;

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
    let admin_token = http::admin::load_or_create_token(&config.data_dir)?;
    let base_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    // The address actually bound (port 0 picks one): what the notification policy knows as this server.
    let mut config = config;
    config.listen = addr;
    let app = App::open(store, config, base_url, admin_token, virtual_clock).await.map_err(|e| match e {
        // A secret that does not open: the master key is not this database's.
        StoreError::Corrupt(m) if m.contains("master key") => ServeError::Config(m),
        e => ServeError::Store(e),
    })?;
    let router = http::router(app.clone(), crate::capabilities());
    // Written last: whoever reads it (the CLI, tests) finds a server ready to answer.
    let addr_file = app.config.data_dir.join("server.addr");
    // Whole or not at all (written aside, then renamed): a reader polling for the file never reads it
    // half-written.
    let part = app.config.data_dir.join("server.addr.part");
    secrets::write_private(&part, format!("http://{addr}\n").as_bytes(), false)?;
    std::fs::rename(&part, &addr_file)?;
    tracing::info!(%addr, database = %database.redacted(), sandbox = app.config.sandbox, "saoma listening");
    let stop_worker = Arc::new(tokio::sync::Notify::new());
    let worker = tokio::spawn(notifications::worker(app.clone(), stop_worker.clone()));
    let reconciler = {
        let app = app.clone();
        tokio::spawn(async move {
            let chores = crate::chores();
            let mut tick = 0u64;
            loop {
                tick += 1;
                for chore in chores.iter().filter(|c| tick % c.every_secs == 0) {
                    if let Err(e) = (chore.run)(app.clone()).await {
                        tracing::warn!(error = %e, chore = chore.what, "background work failed");
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
