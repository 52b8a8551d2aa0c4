//! `saoma`: the one binary. A thin layer of argument parsing over the library crates.

mod admin_cmd;
mod bench;
mod card_cmd;
mod fuzz;
mod ledger_cmd;
mod session;
mod transit_cmd;

use clap::{Parser, Subcommand};
use saoma_store::{Database, Durability, StoreOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "saoma", version, about = "saoma (扫码): a self-hosted mobile payment platform")]
struct Cli {
    /// Log format: json (one object per line) or text.
    #[arg(long, global = true, env = "SAOMA_LOG_FORMAT", default_value = "json")]
    log_format: String,
    #[command(subcommand)]
    command: Cmd,
}

/// Where the data lives: the data directory, and the database inside it unless a URL says otherwise.
#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Data directory: the embedded SQLite database, the admin token, the server's address file.
    #[arg(long, env = "SAOMA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Database URL: sqlite:PATH or postgres://USER@HOST:PORT/DB. Default: SQLite in the data directory.
    #[arg(long, env = "SAOMA_DATABASE_URL")]
    database_url: Option<String>,
}

impl DataArgs {
    fn database(&self) -> Result<Database, String> {
        match &self.database_url {
            Some(u) => Database::parse(u).map_err(|e| e.to_string()),
            None => Ok(Database::in_data_dir(&self.data_dir)),
        }
    }
}

/// How `saoma serve` meets the world: its secrets, its public address, its proxies, its connections.
#[derive(clap::Args, Clone)]
struct DeployArgs {
    /// Master key file (64 hex digits) that seals private keys and APIv3 keys in the database. Default:
    /// DATA_DIR/master.key, made at first start. Processes sharing one PostgreSQL must share this file.
    #[arg(long, env = "SAOMA_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// The URL the world reaches this server at (https://pay.example.com): every link, QR code and
    /// download_url handed out uses it; https also marks the session cookie Secure. Default:
    /// http:// + the bound address.
    #[arg(long, env = "SAOMA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Proxies (address or CIDR, comma-separated) whose X-Forwarded-For is believed for the client's
    /// address; from anyone else it is ignored.
    #[arg(long, env = "SAOMA_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<String>,
    /// Seconds a connection may take to send a complete request head (from opening, or from the
    /// first byte of a later request).
    #[arg(long, env = "SAOMA_HEADER_READ_TIMEOUT", default_value_t = 10)]
    header_read_timeout: u64,
    /// Seconds a kept-alive connection may sit idle between requests.
    #[arg(long, env = "SAOMA_KEEP_ALIVE_TIMEOUT", default_value_t = 75)]
    keep_alive_timeout: u64,
    /// Seconds a request body may take to arrive in full.
    #[arg(long, env = "SAOMA_BODY_TIMEOUT", default_value_t = 30)]
    body_timeout: u64,
    /// Open connections at most (0: three quarters of the open-file limit, at most 16,384; the soft
    /// open-file limit is raised to the hard one at start).
    #[arg(long, env = "SAOMA_MAX_CONNECTIONS", default_value_t = 0)]
    max_connections: usize,
    /// Open connections from one client address at most (an IPv6 /64 counts as one address; trusted
    /// proxies exempt).
    #[arg(long, env = "SAOMA_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_address: u64,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the platform's HTTP server.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on (port 0 picks a free port; the address is written to DATA_DIR/server.addr).
        #[arg(long, env = "SAOMA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Sandbox mode: a virtual clock that operators and tests can advance.
        #[arg(long, env = "SAOMA_SANDBOX")]
        sandbox: bool,
        /// SQLite only: `normal` gives up power-loss durability (not crash durability) for speed.
        #[arg(long, env = "SAOMA_SYNC", default_value = "full")]
        sync: String,
        /// Login SMS codes one client address (an IPv4 address, an IPv6 /64) may ask for in an hour, and
        /// wrong login codes it may send in an hour.
        #[arg(long, env = "SAOMA_SMS_PER_ADDRESS", default_value_t = saoma_server::users::login::DEFAULT_SMS_PER_ADDRESS_PER_HOUR, value_parser = clap::value_parser!(u32).range(1..))]
        sms_per_address: u32,
        /// Address blocks (CIDR, comma-separated) notifications may reach although they are not public,
        /// e.g. 10.0.0.0/8 for receivers on the operator's own network. Loopback, private, link-local and
        /// other non-public addresses are refused otherwise (outside --sandbox).
        #[arg(long, env = "SAOMA_NOTIFY_ALLOW", value_delimiter = ',')]
        notify_allow: Vec<String>,
        #[command(flatten)]
        deploy: DeployArgs,
    },
    /// Ledger operations.
    Ledger {
        #[command(subcommand)]
        command: ledger_cmd::LedgerCmd,
    },
    /// Merchants (through the running server's admin API).
    Merchant {
        #[command(subcommand)]
        command: admin_cmd::MerchantCmd,
    },
    /// Wallet users (through the running server's admin API).
    User {
        #[command(subcommand)]
        command: admin_cmd::UserCmd,
    },
    /// The SMS outbox of a phone (there is no SMS gateway: codes land here).
    Sms(admin_cmd::PhoneArgs),
    /// Pay a code_url or prepay_id as a user (with the session kept in DATA_DIR/sessions, or a login by
    /// an SMS code read from the outbox when it is rejected).
    Pay(admin_cmd::PayArgs),
    /// The ride code as a rider's phone sees it, and the issuer keys gates trust.
    Ridecode {
        #[command(subcommand)]
        command: transit_cmd::RidecodeCmd,
    },
    /// A transit gate: register, pull the signed lists, verify codes offline, upload the queue.
    Gate {
        #[command(subcommand)]
        command: transit_cmd::GateCmd,
    },
    /// A fresh payment code (付款码) of a user, for a cashier to scan (single use, valid a minute).
    Paycode(admin_cmd::PhoneArgs),
    /// A user's bank cards: bind one (the PIN and the bank's code), list them.
    Card {
        #[command(subcommand)]
        command: card_cmd::CardCmd,
    },
    /// Top a user's wallet up from a bound card (needs --pin).
    Topup(card_cmd::BankArgs),
    /// Withdraw from a user's wallet to a bound card (needs --pin).
    Withdraw(card_cmd::BankArgs),
    /// The platform's signing keys.
    Platform {
        #[command(subcommand)]
        command: admin_cmd::PlatformCmd,
    },
    /// The virtual clock of a server running with --sandbox.
    Clock {
        #[command(subcommand)]
        command: admin_cmd::ClockCmd,
    },
    /// Benchmarks; each prints its figures next to a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCmd,
    },
    /// Deterministic fuzzing of what reads untrusted bytes (stable toolchain; no panic, no hang).
    Fuzz {
        #[command(subcommand)]
        command: fuzz::FuzzCmd,
    },
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAOMA_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "text" {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve { data, listen, sandbox, sync, sms_per_address, notify_allow, deploy } => {
            init_logs(&cli.log_format);
            let durability = match sync.as_str() {
                "full" => Durability::Full,
                "normal" => Durability::Normal,
                other => {
                    eprintln!("--sync must be full or normal, not {other:?}");
                    return ExitCode::from(2);
                }
            };
            let database = match data.database() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let notify_allow = match saoma_server::http::proxy::parse_cidrs(&notify_allow.join(",")) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("--notify-allow: {e}");
                    return ExitCode::from(2);
                }
            };
            let public_url = match deploy.public_url.as_deref().map(saoma_server::http::proxy::parse_public_url).transpose() {
                Ok(u) => u,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let trusted_proxies = match saoma_server::http::proxy::parse_cidrs(&deploy.trusted_proxy.join(",")) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("--trusted-proxy: {e}");
                    return ExitCode::from(2);
                }
            };
            let secs = std::time::Duration::from_secs;
            let config = saoma_server::Config {
                data_dir: data.data_dir,
                database: Some(database),
                listen,
                sandbox,
                store: StoreOptions { durability, ..StoreOptions::default() },
                sms_per_address_per_hour: sms_per_address,
                notify_allow,
                master_key_file: deploy.master_key_file,
                public_url,
                trusted_proxies,
                connections: saoma_server::http::conn::ConnectionLimits {
                    header_read_timeout: secs(deploy.header_read_timeout.max(1)),
                    keep_alive_timeout: secs(deploy.keep_alive_timeout.max(1)),
                    body_timeout: secs(deploy.body_timeout.max(1)),
                    max_connections: deploy.max_connections,
                    max_per_address: deploy.max_connections_per_address as usize,
                },
            };
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(saoma_server::serve(config, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server failed");
                    // Also plainly, for whoever started it by hand (the log may be JSON).
                    eprintln!("saoma serve: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Ledger { command } => ledger_cmd::run(command),
        Cmd::Bench { command } => bench::run(command),
        Cmd::Fuzz { command } => fuzz::run(command),
        Cmd::Merchant { command } => admin_cmd::merchant(command),
        Cmd::User { command } => admin_cmd::user(command),
        Cmd::Pay(args) => admin_cmd::pay(args),
        Cmd::Sms(args) => admin_cmd::sms(args),
        Cmd::Paycode(args) => admin_cmd::paycode(args),
        Cmd::Card { command } => card_cmd::card(command),
        Cmd::Topup(args) => card_cmd::bank(args, "/wallet/topup"),
        Cmd::Withdraw(args) => card_cmd::bank(args, "/wallet/withdraw"),
        Cmd::Ridecode { command } => transit_cmd::ridecode(command),
        Cmd::Gate { command } => transit_cmd::gate(command),
        Cmd::Clock { command } => admin_cmd::clock(command),
        Cmd::Platform { command } => admin_cmd::platform(command),
    }
}

/// SIGINT or SIGTERM: stop gracefully.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
