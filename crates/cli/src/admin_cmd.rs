//! Operator commands that talk to a running server through its admin API. Every command takes
//! `--server URL`; by default it is the server of `--data-dir` (its `server.addr`), with the admin token
//! from the same directory.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Clone)]
pub struct ServerArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080. Default: the one recorded in the data directory.
    #[arg(long, env = "SAOMA_SERVER")]
    server: Option<String>,
    /// Data directory of the server (for its address and admin token).
    #[arg(long, env = "SAOMA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl ServerArgs {
    fn base(&self) -> Result<String, String> {
        match &self.server {
            Some(s) => Ok(s.trim_end_matches('/').to_string()),
            None => std::fs::read_to_string(self.data_dir.join("server.addr"))
                .map(|s| s.trim().to_string())
                .map_err(|_| format!("no server running for {} (no server.addr); start `saoma serve` or pass --server", self.data_dir.display())),
        }
    }

    fn token(&self) -> Option<String> {
        std::fs::read_to_string(self.data_dir.join("admin.token")).ok().map(|t| t.trim().to_string())
    }

    /// POSTs JSON to the admin API; returns the JSON answer or the error it gave.
    fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, String> {
        let base = self.base()?;
        let token = self.token().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(t) = &token {
            headers.push(("Authorization", t.as_str()));
        }
        let r = saoma_wechatpay::client::http(&base, "POST", path, &headers, &body.to_string()).map_err(|e| format!("{base}: {e}"))?;
        let v = r.json();
        if r.status / 100 != 2 {
            return Err(format!("{} {}: {}", r.status, v["code"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or(&r.body)));
        }
        Ok(v)
    }
}

#[derive(Subcommand)]
pub enum MerchantCmd {
    /// Create a merchant: prints its mchid, appid, API key (private, shown once), APIv3 key and the
    /// platform's public key and certificate.
    Create {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        notify_url: Option<String>,
        /// How the platform names its key to this merchant: public_key (PUB_KEY_ID_…) or certificate.
        #[arg(long, default_value = "public_key")]
        platform_key_mode: String,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

pub fn merchant(cmd: MerchantCmd) -> ExitCode {
    match cmd {
        MerchantCmd::Create { server, name, notify_url, platform_key_mode, json } => {
            let body = serde_json::json!({ "name": name, "notify_url": notify_url, "platform_key_mode": platform_key_mode });
            match server.post("/admin/merchants", &body) {
                Ok(v) => {
                    if json {
                        println!("{v}");
                    } else {
                        println!("merchant {} ({}) created", v["mchid"].as_str().unwrap_or("?"), v["name"].as_str().unwrap_or("?"));
                        for k in ["mchid", "appid", "serial_no", "apiv3_key", "platform_public_key_id", "platform_serial_no"] {
                            println!("  {k}: {}", v[k].as_str().unwrap_or(""));
                        }
                        println!("  private_key (keep it; it is not stored):\n{}", v["private_key"].as_str().unwrap_or(""));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
