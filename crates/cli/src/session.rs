//! A user's wallet session as the CLI keeps it, the way a phone keeps its login: commands that act as a
//! user (`pay`, `paycode`, `ridecode show`) reuse the session token kept in `DATA_DIR/sessions/PHONE`
//! (mode 0600: it is a live credential, with the server it came from) while the server accepts it, and log in again (a code sent by
//! SMS, read from the outbox through the admin API) only when the server rejects it. The server allows
//! a phone one code a minute and five an hour, so logging in on every call would not work.

use crate::admin_cmd::{answer, ServerArgs};
use serde_json::{json, Value};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// `method path` as the user of `phone`, with the kept session or a new one.
pub(crate) fn call_as(server: &ServerArgs, phone: &str, method: &str, path: &str, body: &str) -> Result<Value, String> {
    // One session per handset, whichever way its number is written.
    let Some(phone) = saoma_server::users::canonical_phone(phone) else { return Err(format!("--phone: {}", saoma_server::users::PHONE_RULE)) };
    let phone = phone.as_str();
    let base = server.base()?;
    let dir = server.data_dir().join("sessions");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path_of_file = dir.join(phone);
    let err = |e: std::io::Error| format!("{}: {e}", path_of_file.display());
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(&path_of_file).map_err(err)?;
    // One command at a time per phone (two logging in at once would race for the one live code).
    file.lock().map_err(err)?;
    let mut kept = String::new();
    file.read_to_string(&mut kept).map_err(err)?;
    let kept: Value = serde_json::from_str(&kept).unwrap_or(Value::Null);
    if let (Some(token), Some(true)) = (kept["token"].as_str(), kept["server"].as_str().map(|s| host(s) == host(&base))) {
        let r = server.call_raw(method, path, Some(&format!("Bearer {token}")), body)?;
        if r.status != 401 || r.json()["code"] != "UNAUTHORIZED" {
            return answer(r);
        }
    }
    let token = login(server, phone)?;
    file.set_len(0).and_then(|_| file.rewind()).and_then(|_| file.write_all(json!({ "server": base, "token": token }).to_string().as_bytes())).map_err(err)?;
    answer(server.call_raw(method, path, Some(&format!("Bearer {token}")), body)?)
}

/// The scheme and host of a server URL, without the port: a token is sent only to the host it came from,
/// but a server restarted on another port (`--listen 127.0.0.1:0`) keeps its sessions.
fn host(url: &str) -> &str {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let end = url[authority_start..].find('/').map_or(url.len(), |i| authority_start + i);
    match url[authority_start..end].rfind(':') {
        Some(colon) if !url[authority_start + colon..end].contains(']') => &url[..authority_start + colon],
        _ => &url[..end],
    }
}

/// Logs in as the user with a code from the SMS outbox, as a sandbox tester would: the session token.
/// When the phone may not be sent another code yet, the live one sent a moment ago is used; with none,
/// the command waits out the minute once (as a person would) rather than fail.
fn login(server: &ServerArgs, phone: &str) -> Result<String, String> {
    let mut waited = false;
    let code = loop {
        let sent = server.call_raw("POST", "/wallet/sms", None, &json!({ "phone": phone }).to_string())?;
        let limited = sent.status == 429 && sent.json()["code"] == "FREQUENCY_LIMITED";
        let wait: Option<u64> = sent.header("retry-after").and_then(|s| s.parse().ok());
        let refusal = answer(sent).err();
        if let (Some(e), false) = (&refusal, limited) {
            return Err(e.clone());
        }
        let outbox = server.get(&format!("/admin/sms?phone={}", saoma_server::http::web::url_encode(phone)))?;
        let newest = outbox["messages"].as_array().into_iter().flatten().find(|m| m["purpose"] == "login");
        let usable = match newest {
            Some(_) if !limited => true,
            // Only a code that can still work: a wrong one would count against the phone.
            Some(m) => m["used"] == false && m["expires_at"].as_i64() > server.call("GET", "/healthz", None, "")?["business_time"].as_i64(),
            None => false,
        };
        match (newest.and_then(|m| m["code"].as_str()), wait) {
            (Some(c), _) if usable => break c.to_string(),
            (_, Some(w)) if limited && !waited && w <= 60 => {
                eprintln!("waiting {w} s for a new SMS code (a phone gets one a minute)");
                std::thread::sleep(std::time::Duration::from_secs(w));
                waited = true;
            }
            _ => return Err(refusal.unwrap_or_else(|| "no SMS code in the outbox".into())),
        }
    };
    let login = server.call("POST", "/wallet/login", None, &json!({ "phone": phone, "code": code }).to_string())?;
    Ok(login["token"].as_str().ok_or("no session token")?.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn host() {
        assert_eq!(super::host("http://127.0.0.1:41341"), "http://127.0.0.1");
        assert_eq!(super::host("http://127.0.0.1:8080/"), "http://127.0.0.1");
        assert_eq!(super::host("https://pay.example.com"), "https://pay.example.com");
        assert_eq!(super::host("http://[::1]:8080"), "http://[::1]");
        assert_eq!(super::host("http://[::1]"), "http://[::1]");
        assert_ne!(super::host("http://127.0.0.1:1"), super::host("http://127.0.0.2:1"));
    }
}
