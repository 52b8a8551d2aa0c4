//! Bank cards as a sandbox tester's phone uses them: bind a card (the PIN, then the simulated bank's
//! code read from the SMS outbox), list the bound cards, top up from one and withdraw to one (the PIN for each).

use crate::admin_cmd::{report, PhoneArgs as UserArgs};
use crate::session::call_as;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CardCmd {
    /// Bind a bank card to the user's wallet: the PIN, then the bank's one-time code (test card numbers
    /// ending in 0004 cannot be bound).
    Bind {
        #[command(flatten)]
        user: UserArgs,
        /// The six-digit payment PIN.
        #[arg(long)]
        pin: String,
        /// The card number (16–19 digits).
        card_no: String,
    },
    /// The user's bound cards.
    List {
        #[command(flatten)]
        user: UserArgs,
    },
}

pub fn card(cmd: CardCmd) -> ExitCode {
    match cmd {
        CardCmd::Bind { user, pin, card_no } => {
            let r = (|| {
                let b = call_as(&user.server, &user.phone, "POST", "/wallet/cards", &serde_json::json!({ "card_no": card_no, "pin": pin }).to_string())?;
                let id = b["id"].as_str().ok_or("no binding id")?;
                // The bank's code, as the phone would receive it: the newest card_bind message.
                let outbox = user.server.get(&format!("/admin/sms?phone={}", user.phone))?;
                let code = outbox["messages"].as_array().into_iter().flatten().find(|m| m["purpose"] == "card_bind").and_then(|m| m["code"].as_str()).ok_or("no bank code in the outbox")?.to_string();
                call_as(&user.server, &user.phone, "POST", &format!("/wallet/cards/{id}/confirm"), &serde_json::json!({ "code": code }).to_string())
            })();
            report(r, user.json, |v| println!("card …{} bound ({})", v["tail"].as_str().unwrap_or("?"), v["id"].as_str().unwrap_or("?")))
        }
        CardCmd::List { user } => {
            let r = call_as(&user.server, &user.phone, "GET", "/wallet/cards", "");
            report(r, user.json, |v| {
                for c in v["cards"].as_array().into_iter().flatten() {
                    println!("…{} {}", c["tail"].as_str().unwrap_or("?"), c["id"].as_str().unwrap_or("?"));
                }
            })
        }
    }
}

/// A top-up from, or a withdrawal to, a bound card.
#[derive(clap::Args)]
pub struct BankArgs {
    #[command(flatten)]
    user: UserArgs,
    /// A card the user has bound (`saoma card bind`).
    #[arg(long)]
    card_no: String,
    /// Amount in fen.
    #[arg(long)]
    amount: i64,
    /// Idempotency key: the same request_id returns the first result. Default: a fresh one.
    #[arg(long)]
    request_id: Option<String>,
    /// The six-digit payment PIN (a top-up needs it as a withdrawal does: it pulls money off the card).
    #[arg(long)]
    pin: String,
}

/// `POST /wallet/topup` or `/wallet/withdraw` as the user.
pub fn bank(a: BankArgs, path: &str) -> ExitCode {
    let r = (|| {
        let rid = match a.request_id {
            Some(r) => r,
            None => saoma_wechatpay::aead::random_string(24).map_err(|e| e.to_string())?,
        };
        let body = serde_json::json!({ "card_no": a.card_no, "amount": a.amount, "request_id": rid, "pin": a.pin });
        call_as(&a.user.server, &a.user.phone, "POST", path, &body.to_string())
    })();
    report(r, a.user.json, |v| {
        let amount = v["amount"].as_i64().map(|f| format!("¥{}", saoma_core::yuan::format(f))).unwrap_or_else(|| "?".into());
        println!("{} of {amount}: {}{}", v["kind"].as_str().unwrap_or("?"), v["state"].as_str().unwrap_or("?"), v["error"].as_str().map(|e| format!(" ({e})")).unwrap_or_default())
    })
}
