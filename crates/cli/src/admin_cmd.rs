//! Operator commands that talk to a running server through its admin API. Every command takes
//! `--server URL`; by default it is the server of `--data-dir` (its `server.addr`), with the admin token
//! from the same directory.

use crate::session;
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
    pub(crate) fn base(&self) -> Result<String, String> {
        match &self.server {
            Some(s) => Ok(s.trim_end_matches('/').to_string()),
            None => std::fs::read_to_string(self.data_dir.join("server.addr"))
                .map(|s| s.trim().to_string())
                .map_err(|_| format!("no server running for {} (no server.addr); start `saoma serve` or pass --server", self.data_dir.display())),
        }
    }

    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub(crate) fn token(&self) -> Option<String> {
        std::fs::read_to_string(self.data_dir.join("admin.token")).ok().map(|t| t.trim().to_string())
    }

    /// POSTs JSON to the admin API; returns the JSON answer or the error it gave.
    pub(crate) fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, String> {
        let token = self.token().map(|t| format!("Bearer {t}"));
        self.call("POST", path, token.as_deref(), &body.to_string())
    }

    pub(crate) fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let token = self.token().map(|t| format!("Bearer {t}"));
        self.call("GET", path, token.as_deref(), "")
    }

    /// One request; `authorization` is the whole header value (an admin token or a wallet session).
    pub(crate) fn call(&self, method: &str, path: &str, authorization: Option<&str>, body: &str) -> Result<serde_json::Value, String> {
        answer(self.call_raw(method, path, authorization, body)?)
    }

    /// One request: the HTTP status and the answer, whatever the status.
    pub(crate) fn call_raw(&self, method: &str, path: &str, authorization: Option<&str>, body: &str) -> Result<saoma_wechatpay::client::HttpResponse, String> {
        let base = self.base()?;
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("Authorization", a));
        }
        saoma_wechatpay::client::http(&base, method, path, &headers, body).map_err(|e| format!("{base}: {e}"))
    }
}

/// A 2xx answer's JSON, or the error the server gave (`429 FREQUENCY_LIMITED: …`).
pub(crate) fn answer(r: saoma_wechatpay::client::HttpResponse) -> Result<serde_json::Value, String> {
    let v = r.json();
    if r.status / 100 != 2 {
        return Err(format!("{} {}: {}", r.status, v["code"].as_str().unwrap_or(""), v["message"].as_str().unwrap_or(&r.body)));
    }
    Ok(v)
}

pub(crate) fn report(r: Result<serde_json::Value, String>, json: bool, human: impl Fn(&serde_json::Value)) -> ExitCode {
    match r {
        Ok(v) => {
            if json {
                println!("{v}");
            } else {
                human(&v);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Register a user with a CNY wallet (topped up with --balance fen from the simulated bank).
    Create {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        phone: String,
        /// Six-digit payment PIN.
        #[arg(long)]
        pin: Option<String>,
        /// Opening balance in fen.
        #[arg(long, default_value_t = 0)]
        balance: i64,
        #[arg(long)]
        json: bool,
    },
}

pub fn user(cmd: UserCmd) -> ExitCode {
    match cmd {
        UserCmd::Create { server, phone, pin, balance, json } => report(server.post("/admin/users", &serde_json::json!({ "phone": phone, "pin": pin, "balance": balance })), json, |v| {
            println!("user {} ({}) created", v["user_id"].as_str().unwrap_or("?"), v["phone"].as_str().unwrap_or("?"));
            if let Some(o) = v["openids"].as_object() {
                for (appid, openid) in o {
                    println!("  openid for {appid}: {}", openid.as_str().unwrap_or(""));
                }
            }
        }),
    }
}

/// A command about one user, named by phone (one acting as the user keeps its session, as a phone does).
#[derive(clap::Args)]
pub struct PhoneArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// The user's phone (mainland mobile, or E.164 with +).
    #[arg(long)]
    pub(crate) phone: String,
    /// Print the answer as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn sms(a: PhoneArgs) -> ExitCode {
    report(a.server.get(&format!("/admin/sms?phone={}", saoma_server::http::web::url_encode(&a.phone))), a.json, |v| {
        for m in v["messages"].as_array().into_iter().flatten() {
            match m["message"].as_str() {
                Some(text) => println!("{} {text}", m["purpose"].as_str().unwrap_or("")),
                None => println!("{} {} {}", m["code"].as_str().unwrap_or("?"), m["purpose"].as_str().unwrap_or(""), if m["used"].as_bool() == Some(true) { "(used)" } else { "" }),
            }
        }
    })
}

#[derive(clap::Args)]
pub struct PayArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[arg(long)]
    phone: String,
    #[arg(long)]
    pin: Option<String>,
    /// A Native code_url (weixin://wxpay/bizpayurl?pr=…), a prepay_id, or the transaction_id of a
    /// payment-code order waiting for the user's PIN (USERPAYING).
    code: String,
    #[arg(long)]
    json: bool,
}

/// Logs in as the user (or reuses the session kept for them) and pays.
pub fn pay(a: PayArgs) -> ExitCode {
    let r = (|| {
        // A 28-digit transaction_id is a payment-code order waiting for this user's PIN: confirm it.
        if a.code.len() == 28 && a.code.bytes().all(|b| b.is_ascii_digit()) {
            let pin = a.pin.as_deref().ok_or("confirming a payment-code order needs --pin")?;
            return session::call_as(&a.server, &a.phone, "POST", "/wallet/confirm", &serde_json::json!({ "transaction_id": a.code, "pin": pin }).to_string());
        }
        session::call_as(&a.server, &a.phone, "POST", "/wallet/pay", &serde_json::json!({ "code": a.code, "pin": a.pin }).to_string())
    })();
    report(r, a.json, |v| {
        println!("paid {} fen to {} (order {}, transaction {})", v["total"], v["mchid"].as_str().unwrap_or("?"), v["out_trade_no"].as_str().unwrap_or("?"), v["transaction_id"].as_str().unwrap_or("?"));
    })
}

/// Prints a fresh payment code (付款码) of the user for a cashier to scan.
pub fn paycode(a: PhoneArgs) -> ExitCode {
    let r = session::call_as(&a.server, &a.phone, "POST", "/wallet/paycode", "");
    report(r, a.json, |v| println!("{}", v["auth_code"].as_str().unwrap_or("?")))
}

#[derive(Subcommand)]
pub enum PlatformCmd {
    /// Add a new signing key; the current ones stay valid for --overlap (default 7d), then retire.
    RotateKey {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, default_value = "7d")]
        overlap: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn platform(cmd: PlatformCmd) -> ExitCode {
    match cmd {
        PlatformCmd::RotateKey { server, overlap, json } => {
            let Some(seconds) = parse_duration(&overlap) else {
                eprintln!("--overlap must look like 45s, 10m, 72h or 7d");
                return ExitCode::from(2);
            };
            report(server.post("/admin/platform/rotate", &serde_json::json!({ "overlap_seconds": seconds })), json, |v| {
                println!("new platform key {} (certificate {}); the previous keys retire in {seconds} s", v["platform_public_key_id"].as_str().unwrap_or("?"), v["platform_serial_no"].as_str().unwrap_or("?"));
            })
        }
    }
}

#[derive(Subcommand)]
pub enum ClockCmd {
    /// Move the virtual clock forward: 45s, 10m, 72h, 3d (or plain seconds).
    Advance {
        #[command(flatten)]
        server: ServerArgs,
        duration: String,
    },
}

/// Seconds in `45s`, `10m`, `72h`, `3d` or `120`.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

pub fn clock(cmd: ClockCmd) -> ExitCode {
    match cmd {
        ClockCmd::Advance { server, duration } => {
            let Some(seconds) = parse_duration(&duration) else {
                eprintln!("duration must look like 45s, 10m, 72h or 3d");
                return ExitCode::from(2);
            };
            report(server.post("/admin/clock/advance", &serde_json::json!({ "seconds": seconds })), false, |v| {
                println!("virtual clock now {}", v["now"].as_str().unwrap_or("?"));
            })
        }
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
        /// An H5 domain (host name, e.g. shop.example.com) an H5 payment's redirect_url may return to,
        /// with its subdomains; repeat the option or separate with commas.
        #[arg(long = "h5-domain", value_delimiter = ',')]
        h5_domains: Vec<String>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The merchant's static collection code (收款码) as a QR image, drawn by the server (which knows the
    /// public URL it encodes): to --out, or to stdout.
    Qr {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long)]
        mchid: String,
        /// svg or png.
        #[arg(long, default_value = "svg")]
        format: String,
        /// PNG pixels per module (1–32; default 8).
        #[arg(long)]
        scale: Option<u32>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Fetches the collection code's image and writes it out.
fn merchant_qr(server: &ServerArgs, mchid: &str, format: &str, scale: Option<u32>, out: Option<&std::path::Path>) -> Result<(), String> {
    if !matches!(format, "svg" | "png") {
        return Err(format!("--format must be svg or png, not {format:?}"));
    }
    if mchid.is_empty() || !mchid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("--mchid must be letters and digits".into());
    }
    let base = server.base()?;
    let query = scale.map(|s| format!("?scale={s}")).unwrap_or_default();
    let r = saoma_wechatpay::client::http(&base, "GET", &format!("/collect/{mchid}/qr.{format}{query}"), &[], "").map_err(|e| format!("{base}: {e}"))?;
    match r.status {
        200 => {}
        404 => return Err(format!("no merchant {mchid} on {base}")),
        s => return Err(format!("{s}: {}", r.json()["message"].as_str().unwrap_or(&r.body))),
    }
    match out {
        Some(path) => std::fs::write(path, &r.bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), &r.bytes).map_err(|e| e.to_string()),
    }
}

pub fn merchant(cmd: MerchantCmd) -> ExitCode {
    match cmd {
        MerchantCmd::Qr { server, mchid, format, scale, out } => match merchant_qr(&server, &mchid, &format, scale, out.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        MerchantCmd::Create { server, name, notify_url, platform_key_mode, h5_domains, json } => {
            let body = serde_json::json!({ "name": name, "notify_url": notify_url, "platform_key_mode": platform_key_mode, "h5_domains": h5_domains });
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
