//! A `saoma serve` child process for the benchmarks that go through the real server (this very binary,
//! as deployed), on a fresh database, and the small HTTP helpers they share.

use saoma_store::testing::TestDb;
use saoma_wechatpay::aead::random_string;
use saoma_wechatpay::client::HttpResponse;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `saoma serve` child process and its data directory.
pub struct ServerProcess {
    pub child: Child,
    pub data_dir: PathBuf,
    pub base: String,
}

impl ServerProcess {
    /// `app_name` tags the server's PostgreSQL connections, so that their backends' CPU can be counted.
    /// `clients`: every client connects from 127.0.0.1, so the server's cap per address is raised to
    /// fit them (with room for the baseline's and the setup's connections).
    pub fn start(db: &TestDb, app_name: &str, clients: usize) -> Result<ServerProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("finding this binary: {e}"))?;
        let data_dir = std::env::temp_dir().join(format!("saoma_bench_{}_{}", std::process::id(), random_string(8).map_err(|e| e.to_string())?));
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let log = std::fs::File::create(data_dir.join("server.log")).map_err(|e| e.to_string())?;
        let url = match &db.database {
            saoma_store::Database::Postgres(u) => format!("{u}{}application_name={app_name}", if u.contains('?') { '&' } else { '?' }),
            _ => db.url(),
        };
        let child = Command::new(exe)
            // Every simulated user logs in from this one address, and the merchant's notification
            // endpoint is on loopback, which a production server refuses.
            .args(["serve", "--listen", "127.0.0.1:0", "--sms-per-address", "1000000", "--notify-allow", "127.0.0.0/8", "--database-url", &url, "--data-dir"])
            .arg(&data_dir)
            .args(["--max-connections-per-address", &(2 * clients + 64).to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting saoma serve: {e}"))?;
        let mut server = ServerProcess { child, data_dir, base: String::new() };
        let addr = server.data_dir.join("server.addr");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !addr.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("saoma serve exited ({status}): {}", server.log_tail()));
            }
            if Instant::now() > deadline {
                return Err("saoma serve did not start within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.base = std::fs::read_to_string(&addr).map_err(|e| e.to_string())?.trim().to_string();
        Ok(server)
    }

    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    }

    pub fn admin_token(&self) -> Result<String, String> {
        std::fs::read_to_string(self.data_dir.join("admin.token")).map(|t| t.trim().to_string()).map_err(|e| format!("reading admin.token: {e}"))
    }

    /// SIGTERM (the server finishes what is in flight and drains the writer) and wait.
    pub fn stop(&mut self) -> Result<(), String> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) if s.success() => return Ok(()),
                Ok(Some(s)) => return Err(format!("saoma serve stopped with {s}: {}", self.log_tail())),
                Ok(None) if Instant::now() > deadline => return Err("saoma serve did not stop within 60 s of SIGTERM".into()),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn expect_json(r: &HttpResponse, what: &str, status: u16) -> Result<serde_json::Value, String> {
    if r.status != status {
        return Err(format!("{what}: HTTP {} {}", r.status, r.body));
    }
    serde_json::from_str(&r.body).map_err(|e| format!("{what}: not JSON ({e}): {}", r.body))
}

pub fn io_err(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}
