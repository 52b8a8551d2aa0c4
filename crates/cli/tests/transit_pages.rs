//! The transit card in the wallet's pages (`/transit`) through a real server on both backends, as a
//! browser's forms post them: the Home entry and the way to the one operator, opening the card (a wrong
//! PIN first: nothing held), ride codes drawn by the server-held device key (each a new counter, a new
//! credential when one is used up, the PNG the same bytes as the page's `data-code`, the seed sealed and
//! never in a page), a gate (`saoma gate`) scanning a code read off the page, the ride owed when the
//! wallet is short (debt on the card and in History, no code, the PIN to repay, not enough, repaid), a
//! copy of a code used at two gates (the card paused, said in words), the card refund (its 72-hour hold
//! said, then the deposit back and the card closed); another user's session neither sees nor uses the
//! card, and another site's form is refused. And in headless Chromium (`transit_pages_browser.py`): a
//! commuter logs in, opens the card, shows the ride code, a gate scans the code read off the page, and
//! the charge and the new balance appear; the code changes by itself after 30 s. `SAOMA_SCREENS=DIR`
//! saves the pages as transit-*.png.

mod support;

use saoma_wechatpay::client::{http, HttpResponse as Response};
use serde_json::{json, Value};
use std::io::Read;
use std::process::Stdio;
use support::{balance, db_rows, ledger_check, user, Server};

const SCOPE: u16 = 7;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn get(s: &Server, cookie: &str, path: &str) -> Response {
    http(&s.base, "GET", path, &[("Cookie", cookie)], "").unwrap()
}

fn post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
    let body = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&");
    http(&s.base, "POST", path, &[("Cookie", cookie), ("Origin", &s.base), ("Content-Type", "application/x-www-form-urlencoded")], &body)
        .unwrap()
}

fn location(r: &Response) -> String {
    r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn cookie_of(session: &str) -> String {
    format!("saoma_wallet={}", session.strip_prefix("Bearer ").unwrap())
}

/// The value of `name="…"` on the element carrying it first.
fn attr(page: &str, name: &str) -> String {
    page.split(&format!("{name}=\"")).nth(1).unwrap_or_else(|| panic!("no {name} in {page}")).split('"').next().unwrap().to_string()
}

/// Makes the merchant a transit operator (flat fare 3 CNY, two uses a credential): its deposit.
fn operator(s: &Server, name: &str, scope: u16) -> i64 {
    let token = std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap();
    let m = s.merchant(name, "public_key");
    let body = json!({ "mchid": m["mchid"], "scope": scope, "fares": { "flat": 300 }, "max_uses": 2 });
    let r =
        http(&s.base, "POST", "/admin/transit/operators", &[("Authorization", &format!("Bearer {}", token.trim()))], &body.to_string())
            .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["deposit"].as_i64().unwrap()
}

/// `saoma ARGS --data-dir …`: its standard output (it must succeed).
fn run(s: &Server, args: &[&str]) -> String {
    let out = support::saoma().args(args).arg("--data-dir").arg(&s.data_dir).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A gate registered at `stop` (`saoma gate init`), its directory.
fn gate(s: &Server, name: &str, stop: &str) -> String {
    let dir = s.data_dir.join(name);
    run(s, &["gate", "init", "--dir", dir.to_str().unwrap(), "--scope", &SCOPE.to_string(), "--stop", stop]);
    dir.to_str().unwrap().to_string()
}

/// The gate scans `code` (hex) offline, then uploads: the scan's line and the upload's statuses.
fn scan_and_upload(s: &Server, dir: &str, code: &str) -> (String, Value) {
    run(s, &["gate", "pull", "--dir", dir]);
    let scan = run(s, &["gate", "scan", "--dir", dir, code]).trim().to_string();
    let up: Value = serde_json::from_str(&run(s, &["gate", "upload", "--dir", dir])).unwrap();
    (scan, up["statuses"].clone())
}

/// The bytes a QR PNG of ours carries (1-bit grayscale, as `http::web::qr` draws it).
fn qr_bytes(png: &[u8]) -> Vec<u8> {
    let (mut i, mut width, mut idat) = (8, 0usize, Vec::new());
    while i + 8 <= png.len() {
        let len = u32::from_be_bytes(png[i..i + 4].try_into().unwrap()) as usize;
        let (kind, data) = (&png[i + 4..i + 8], &png[i + 8..i + 8 + len]);
        match kind {
            b"IHDR" => width = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize,
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        i += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let row = width.div_ceil(8) + 1;
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(
            width,
            width,
            |x, y| if raw[y * row + 1 + x / 8] & (0x80 >> (x % 8)) != 0 { 255 } else { 0 },
        );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let mut out = Vec::new();
    grids[0].decode_to(&mut out).unwrap();
    out
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect()
}

/// Draws a code on the page: (hex, counter).
fn draw(s: &Server, cookie: &str) -> (String, u16) {
    let r = get(s, cookie, &format!("/transit/{SCOPE}/code"));
    assert_eq!(r.status, 200, "{}: {}", s.backend, r.body);
    (attr(&r.body, "data-code"), attr(&r.body, "data-counter").parse().unwrap())
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_transit_card_on_the_pages() {
    for s in Server::all(true) {
        let b = s.backend;
        // Logged out: the login, coming back to the card.
        let r = http(&s.base, "GET", &format!("/transit/{SCOPE}"), &[], "").unwrap();
        assert!(r.status == 200 && r.body.contains(&format!("name=\"next\" value=\"/transit/{SCOPE}\"")), "{b}: {}", r.body);

        let deposit = operator(&s, "地铁公司", SCOPE);
        assert_eq!(deposit, 1_200, "two uses a credential, two credentials, at 3 CNY");
        // Alice can pay the deposit and 1 CNY more; Bob is someone else.
        user(&s, "13300000001", deposit + 100);
        user(&s, "13300000002", 5_000);
        let alice_session = s.wallet_session("13300000001");
        let (alice, bob) = (cookie_of(&alice_session), cookie_of(&s.wallet_session("13300000002")));

        // Home leads to /transit, which goes straight to the one operator's card: not open yet.
        assert!(get(&s, &alice, "/").body.contains("id=\"transit-link\""), "{b}");
        let r = get(&s, &alice, "/transit");
        assert_eq!((r.status, location(&r)), (303, format!("/transit/{SCOPE}")), "{b}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}"));
        assert!(
            r.status == 200 && r.body.contains("id=\"open-card\"") && r.body.contains("¥12.00") && r.body.contains("开通 地铁公司 乘车码"),
            "{b}: {}",
            r.body
        );
        assert!(get(&s, &alice, &format!("/transit/{SCOPE}?lang=en")).body.contains("Pay the ¥12.00 deposit and open"), "{b}");
        assert_eq!(get(&s, &alice, "/transit/99").status, 404, "{b}: no such operator");

        // A wrong PIN holds nothing; the right one opens the card.
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/open"), &[("pin", "000000")]);
        assert!(r.status == 403 && r.body.contains("还可以再试 4 次"), "{b}: {}", r.body);
        assert_eq!(
            (db_rows(&s, "SELECT COUNT(*) FROM transit_cards")[0][0].int(), balance(&s, &alice_session)),
            (0, deposit + 100),
            "{b}"
        );
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/open"), &[("pin", "123456")]);
        assert_eq!((r.status, location(&r)), (303, format!("/transit/{SCOPE}?opened=1")), "{b}: {}", r.body);
        let r = get(&s, &alice, &format!("/transit/{SCOPE}?opened=1"));
        assert!(
            r.body.contains("乘车码已开通") && r.body.contains("data-state=\"ACTIVE\"") && r.body.contains("id=\"show-code\""),
            "{b}: {}",
            r.body
        );
        let card_no = r.body.split("id=\"card-no\">").nth(1).unwrap().split('<').next().unwrap().to_string();
        assert_eq!(balance(&s, &alice_session), 100, "{b}: the deposit held");
        // The same form again: the card is open already, nothing more held.
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/open"), &[("pin", "123456")]);
        assert_eq!((r.status, balance(&s, &alice_session)), (303, 100), "{b}");

        // Ride codes: each one a new counter; the image carries the very bytes of the page's data-code.
        let (first, n) = draw(&s, &alice);
        assert_eq!((first.len(), n), (2 * 196, 1), "{b}: an Ed25519 code");
        let png = get(&s, &alice, &format!("/transit/{SCOPE}/code.png?n=1"));
        assert_eq!(png.status, 200, "{b}");
        assert_eq!(qr_bytes(&png.bytes), unhex(&first), "{b}: the QR is the page's code");
        assert!(png.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("cache-control") && v == "no-store"), "{b}");
        assert_eq!(get(&s, &alice, &format!("/transit/{SCOPE}/code.png?n=2")).status, 404, "{b}: only the code drawn last");
        // The device key is the server's: sealed at rest, in no page.
        let rows = db_rows(&s, "SELECT device, seed FROM transit_web_devices");
        assert_eq!(rows.len(), 1, "{b}");
        let seed = support::unseal(&s, "transit_web_devices", "seed", rows[0][0].text(), rows[0][1].text());
        assert_eq!(seed.len(), 64, "{b}");
        let page = get(&s, &alice, &format!("/transit/{SCOPE}/code"));
        assert!(!page.body.contains(&seed) && attr(&page.body, "data-counter") == "2", "{b}");
        // Two uses a credential: the third code comes with a new credential (counter 1 again).
        let j = http(&s.base, "GET", &format!("/transit/{SCOPE}/code.json"), &[("Cookie", &alice)], "").unwrap().json();
        assert_eq!(j["counter"], 1, "{b}: {j}");
        assert_eq!(db_rows(&s, "SELECT COUNT(*) FROM transit_credentials")[0][0].int(), 2, "{b}");
        let code = j["code"].as_str().unwrap().to_string();

        // Bob sees none of it and can do nothing to it.
        assert_eq!(get(&s, &bob, &format!("/transit/{SCOPE}/code.png?n=1")).status, 404, "{b}");
        let r = get(&s, &bob, &format!("/transit/{SCOPE}"));
        assert!(r.body.contains("id=\"open-card\"") && !r.body.contains(&card_no), "{b}: {}", r.body);
        let r = get(&s, &bob, &format!("/transit/{SCOPE}/code"));
        assert_eq!((r.status, location(&r)), (303, format!("/transit/{SCOPE}")), "{b}: Bob has no card");
        assert_eq!(post(&s, &bob, &format!("/transit/{SCOPE}/refund"), &[]).status, 303, "{b}");
        assert_eq!(post(&s, &bob, &format!("/transit/{SCOPE}/repay"), &[("pin", "123456")]).status, 303, "{b}");
        let cards = db_rows(&s, "SELECT state FROM transit_cards");
        assert_eq!((cards.len(), cards[0][0].text()), (1, "ACTIVE"), "{b}: Alice's card untouched");
        let r = http(&s.base, "GET", &format!("/transit/{SCOPE}/code.json"), &[("Cookie", &bob)], "").unwrap();
        assert_eq!(r.status, 409, "{b}");

        // A gate scans the code: 3 CNY, and Alice has 1 left: the ride is owed.
        let g1 = gate(&s, "gate1", "1");
        let (scan, up) = scan_and_upload(&s, &g1, &code);
        assert_eq!((scan.as_str(), up["ACCEPTED"].as_u64()), ("ACCEPT 1", Some(1)), "{b}: {up}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}"));
        assert!(
            r.body.contains("id=\"debt\"") && r.body.contains("欠款 ¥3.00") && !r.body.contains("id=\"show-code\""),
            "{b}: {}",
            r.body
        );
        assert!(r.body.contains("data-state=\"DEBT\" data-fare=\"300\"") && r.body.contains("站点 1 进站"), "{b}: {}", r.body);
        let r = get(&s, &alice, &format!("/transit/{SCOPE}/code"));
        assert_eq!((r.status, location(&r)), (303, format!("/transit/{SCOPE}")), "{b}: no code while in debt");
        let h = get(&s, &alice, "/history");
        assert!(h.body.contains("地铁公司 乘车 未付车费") && h.body.contains("¥3.00"), "{b}: {}", h.body);
        let (_, t) = support::wallet_call(&s, &alice_session, "GET", "/wallet/transactions", "");
        let owed = t["transactions"].as_array().unwrap().iter().find(|e| e["kind"] == "transit_ride_owed").cloned().unwrap_or_default();
        assert_eq!((owed["fare"].as_i64(), owed["amount"].as_i64()), (Some(300), Some(0)), "{b}: {t}");

        // Repaying takes the PIN and the money.
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/repay"), &[("pin", "000000")]);
        assert!(r.status == 403 && r.body.contains("还可以再试 4 次"), "{b}: {}", r.body);
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/repay"), &[("pin", "123456")]);
        assert!(r.status == 403 && r.body.contains("钱包余额 ¥1.00，不够补缴 ¥3.00"), "{b}: {}", r.body);
        support::bind_card(&s, &alice_session, "13300000001", "6222020000000101");
        let (st, v) = support::wallet_call(
            &s,
            &alice_session,
            "POST",
            "/wallet/topup",
            &json!({"card_no": "6222020000000101", "amount": 1_000, "request_id": "a-1", "pin": "123456"}).to_string(),
        );
        assert_eq!(st, 200, "{b}: {v}");
        let r = post(&s, &alice, &format!("/transit/{SCOPE}/repay"), &[("pin", "123456")]);
        assert!(
            r.status == 200
                && r.body.contains("已从钱包补缴 ¥3.00")
                && !r.body.contains("id=\"debt\"")
                && r.body.contains("data-state=\"CHARGED\""),
            "{b}: {}",
            r.body
        );
        assert_eq!(balance(&s, &alice_session), 100 + 1_000 - 300, "{b}");
        assert!(!get(&s, &alice, "/history").body.contains("未付车费"), "{b}: repaid");

        // A copy of one code used at two gates: the card is paused, in words.
        // (At gates 2 and 3: gate 1 saw her seconds ago, a double tap it would not record.)
        let (copied, _) = draw(&s, &alice);
        let (g2, g3) = (gate(&s, "gate2", "2"), gate(&s, "gate3", "3"));
        let (scan, up) = scan_and_upload(&s, &g2, &copied);
        assert_eq!((scan.as_str(), up["ACCEPTED"].as_u64()), ("ACCEPT 1", Some(1)), "{b}: {up}");
        let (scan, up) = scan_and_upload(&s, &g3, &copied);
        assert_eq!((scan.as_str(), up["CLONE"].as_u64()), ("ACCEPT 1", Some(1)), "{b}: {up}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}"));
        assert!(
            r.body.contains("id=\"blocked\"")
                && r.body.contains("被重复使用")
                && r.body.contains("data-state=\"BLOCKED\"")
                && !r.body.contains("id=\"show-code\""),
            "{b}: {}",
            r.body
        );
        assert_eq!(get(&s, &alice, &format!("/transit/{SCOPE}/code")).status, 303, "{b}: no code while paused");

        // Another site's form is refused; then the card refund: the hold said, no more codes.
        let r = http(
            &s.base,
            "POST",
            &format!("/transit/{SCOPE}/refund"),
            &[("Cookie", &alice), ("Origin", "https://evil.example"), ("Content-Type", "application/x-www-form-urlencoded")],
            "",
        )
        .unwrap();
        assert_eq!(r.status, 403, "{b}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}/refund"));
        assert!(r.body.contains("id=\"refund-yes\"") && r.body.contains("72 小时") && r.body.contains("¥12.00"), "{b}: {}", r.body);
        assert_eq!(post(&s, &alice, &format!("/transit/{SCOPE}/refund"), &[]).status, 303, "{b}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}"));
        assert!(
            r.body.contains("id=\"leaving\"") && r.body.contains("72 小时等待期") && r.body.contains("data-state=\"LEAVING\""),
            "{b}: {}",
            r.body
        );
        assert_eq!(get(&s, &alice, &format!("/transit/{SCOPE}/code")).status, 303, "{b}");
        let before = balance(&s, &alice_session);

        // After the hold the deposit is back and the card closed; a new one may be opened.
        support::advance(&s, "100h");
        wait_for("the card closed", || db_rows(&s, "SELECT state FROM transit_cards")[0][0].text() == "CLOSED");
        // (Four days on, the session has ended: a new login.)
        let alice_session = s.wallet_session("13300000001");
        let alice = cookie_of(&alice_session);
        assert_eq!(balance(&s, &alice_session), before + deposit, "{b}");
        let r = get(&s, &alice, &format!("/transit/{SCOPE}"));
        assert!(
            r.body.contains("id=\"closed\"")
                && r.body.contains(&card_no)
                && r.body.contains("已退卡")
                && r.body.contains("id=\"open-card\""),
            "{b}: {}",
            r.body
        );
        assert!(get(&s, &alice, "/history").body.contains("押金退回"), "{b}");
        ledger_check(&s);
    }
}

#[test]
fn browser_opens_a_card_and_rides() {
    if !support::browser_available("transit pages") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transit_pages_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let deposit = operator(&s, "城市地铁", SCOPE);
        let phone = "13300000009";
        user(&s, phone, 5_000);
        let g1 = gate(&s, "gate1", "1");
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({ "base": s.base, "phone": phone, "pin": "123456", "scope": SCOPE, "screens": screens });
        let (mut scanned, mut ride, mut home) = (String::new(), String::new(), String::new());
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(support::sms_code(&s, phone)),
            ["CODE", code] => {
                let (scan, up) = scan_and_upload(&s, &g1, code);
                scanned = format!("{scan} {}", up["ACCEPTED"]);
                Some("OK".into())
            }
            ["RIDE", rest @ ..] => {
                ride = rest.join(" ");
                None
            }
            ["BALANCE", v] => {
                home = v.to_string();
                None
            }
            _ => {
                eprintln!("browser script: {}", words.join(" "));
                None
            }
        });
        assert_eq!(scanned, "ACCEPT 1 1", "{b}: the gate accepted the code read off the page, and the upload");
        assert!(ride.contains("¥3.00") && ride.contains("已扣款"), "{b}: {ride}");
        assert_eq!(home, saoma_server::http::web::yuan(5_000 - deposit - 300), "{b}");
        ledger_check(&s);
    }
}
