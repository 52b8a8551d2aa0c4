//! Bills on both backends, end to end through a sandbox server. A day of payments (fees at 0.6% that
//! round up, down, half to even both ways, and one fee of 0), two partial refunds of one order, a full
//! refund, a one-fen refund (no fee back), a payment-code order paid then reversed, another merchant's
//! payment, and a payment the next day. Then both bills are applied for and downloaded (gzip and plain,
//! SHA-1 checked) and reconciled against the LEDGER — the admin API's listing of the transfers that touch
//! the merchant's account, read from the ledger's own table, not from the tables bills are made from:
//! every fund-flow row is a ledger transfer of that amount in that direction, no transfer of the day is
//! missing, the running balance is the ledger's, and the trade bill's totals are the sums of the day's
//! PAYMENT, REFUND and FEE − FEE_REFUND movements. Also: one merchant never sees another's rows nor
//! uses its download URL, and every refused request (future day, today, too old, bad parameters, no
//! data, a bill still being made, bad tokens) answers a clear v3 error.

mod support;

use saoma_core::time::{cst_day_start, format_rfc3339_cst, parse_rfc3339};
use saoma_server::platform::accounts::movement;
use saoma_wechatpay::client::{http, HttpResponse, V3Client};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use support::{saoma, Server};

const DAY: i64 = 86_400;
const PHONE: &str = "13900000001";

fn admin(s: &Server) -> String {
    format!("Bearer {}", std::fs::read_to_string(s.data_dir.join("admin.token")).unwrap().trim())
}

/// Moves the virtual clock; returns business time after.
fn advance(s: &Server, seconds: i64) -> i64 {
    let r = http(&s.base, "POST", "/admin/clock/advance", &[("Authorization", &admin(s))], &json!({ "seconds": seconds }).to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    parse_rfc3339(r.json()["now"].as_str().unwrap()).unwrap()
}

/// Moves business time to `hms` seconds after the start of the next China day; returns that day's start.
fn to_next_day(s: &Server, hms: i64) -> i64 {
    let now = advance(s, 1);
    let target = cst_day_start(now) + DAY + hms;
    advance(s, target - now);
    target - hms
}

fn date(day_start: i64) -> String {
    format_rfc3339_cst(day_start)[..10].to_string()
}

fn native(c: &V3Client, m: &Value, no: &str, total: i64) -> String {
    let body = json!({"appid": m["appid"], "mchid": m["mchid"], "description": "账单, 测试", "out_trade_no": no, "attach": "a,b", "notify_url": "https://example.com/n", "amount": {"total": total}});
    let r = c.request("POST", "/v3/pay/transactions/native", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["code_url"].as_str().unwrap().to_string()
}

fn pay(s: &Server, c: &V3Client, m: &Value, no: &str, total: i64) -> String {
    let code_url = native(c, m, no, total);
    let out = saoma().args(["pay", "--json", "--phone", PHONE, "--pin", "123456", "--data-dir"]).arg(&s.data_dir).arg(&code_url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let paid: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");
    let q = c.request("GET", &format!("/v3/pay/transactions/out-trade-no/{no}?mchid={}", c.mchid), "").unwrap().json();
    q["transaction_id"].as_str().unwrap().to_string()
}

fn refund(c: &V3Client, no: &str, out_refund_no: &str, amount: i64, total: i64) -> Value {
    let body = json!({"out_trade_no": no, "out_refund_no": out_refund_no, "amount": {"refund": amount, "total": total, "currency": "CNY"}});
    let r = c.request("POST", "/v3/refund/domestic/refunds", &body.to_string()).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// A signed GET whose answer is not verified: the bill download is not signed, as WeChat Pay's is not.
fn get_unsigned(c: &V3Client, path: &str) -> HttpResponse {
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let nonce = saoma_wechatpay::aead::random_string(32).unwrap();
    let auth = c.authorization("GET", path, "", ts, &nonce);
    http(&c.base, "GET", path, &[("Authorization", &auth)], "").unwrap()
}

/// Applies for a bill, downloads it, checks that its SHA-1 is the one published; the CSV and the
/// download URL.
fn bill(c: &V3Client, path: &str) -> (String, String) {
    let r = c.request("GET", path, "").unwrap();
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    let v = r.json();
    assert_eq!(v["hash_type"], "SHA1");
    let url = v["download_url"].as_str().unwrap().to_string();
    let file_path = url.strip_prefix(&c.base).unwrap_or_else(|| panic!("{url} is not under {}", c.base));
    assert!(file_path.starts_with("/v3/billdownload/file?token="), "{url}");
    let d = get_unsigned(c, file_path);
    assert_eq!(d.status, 200, "{}", d.body);
    assert!(d.header("Wechatpay-Signature").is_none(), "the file is served unsigned");
    let csv = if path.contains("tar_type=GZIP") {
        assert_eq!(&d.bytes[..2], &[0x1f, 0x8b], "gzip");
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&d.bytes[..]), &mut out).unwrap();
        out
    } else {
        d.bytes.clone()
    };
    assert_eq!(saoma_wechatpay::digest::sha1_hex(&csv), v["hash_value"].as_str().unwrap(), "{path}");
    (String::from_utf8(csv).unwrap(), url)
}

/// A bill's four parts, fields without their backtick.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    summary_header: Vec<String>,
    summary: Vec<String>,
}

impl Csv {
    fn parse(text: &str) -> Csv {
        assert!(text.ends_with("\r\n"));
        let lines: Vec<&str> = text.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() >= 3, "{text}");
        let ticked = |l: &str| -> Vec<String> {
            l.split(',').map(|f| f.strip_prefix('`').unwrap_or_else(|| panic!("field without a backtick in {l}")).to_string()).collect()
        };
        let plain = |l: &str| -> Vec<String> { l.split(',').map(str::to_string).collect() };
        let n = lines.len();
        let csv = Csv {
            header: plain(lines[0]),
            rows: lines[1..n - 2].iter().map(|l| ticked(l)).collect(),
            summary_header: plain(lines[n - 2]),
            summary: ticked(lines[n - 1]),
        };
        for r in &csv.rows {
            assert_eq!(r.len(), csv.header.len(), "{r:?}");
        }
        assert_eq!(csv.summary.len(), csv.summary_header.len());
        csv
    }

    fn col(&self, row: &[String], name: &str) -> String {
        let i = self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        row[i].clone()
    }

    fn total(&self, name: &str) -> String {
        let i = self.summary_header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no summary column {name}"));
        self.summary[i].clone()
    }
}

/// Yuan as the bills write it (two decimals, or five for fees, the last three zeros) → fen.
fn fen(yuan: &str) -> i64 {
    let (neg, y) = match yuan.strip_prefix('-') {
        Some(y) => (true, y),
        None => (false, yuan),
    };
    let (int, frac) = y.split_once('.').unwrap_or_else(|| panic!("{yuan}"));
    assert!(frac.len() == 2 || (frac.len() == 5 && frac.ends_with("000")), "{yuan}");
    let v = int.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

#[test]
fn a_days_bills_reconcile_with_the_ledger() {
    for s in Server::all(true) {
        let a = s.merchant("Bills A", "public_key");
        let ca = s.client(&a);
        let b = s.merchant("Bills B", "certificate");
        let cb = s.client(&b);
        let out = saoma().args(["user", "create", "--phone", PHONE, "--pin", "123456", "--balance", "1000000", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

        // The day before: one payment, which is the next day's opening balance (3000 − fee 18).
        let before = to_next_day(&s, 10 * 3600);
        pay(&s, &ca, &a, "PREV-3000", 3000);

        let day = to_next_day(&s, 10 * 3600);
        assert_eq!(day, before + DAY);
        // Fees at 0.6%, half to even: 7.404 → 7, 7.5 → 8, 10.5 → 10, 12.504 → 13, 0.594 → 1, 0.3 → 0.
        let mut txid = HashMap::new();
        for (no, total) in [("DAY-1234", 1234), ("DAY-1250", 1250), ("DAY-1750", 1750), ("DAY-2084", 2084), ("DAY-0099", 99), ("DAY-0050", 50)] {
            txid.insert(no, pay(&s, &ca, &a, no, total));
        }
        let b_txid = pay(&s, &cb, &b, "BEE-777", 777);
        // Two partial refunds of one order (fee shares 4 and 1), a full refund (the whole fee, 13), one fen
        // (no fee back).
        for (no, r, amount, total, fee_back) in [("DAY-1250", "REF-01", 500, 1250, 4), ("DAY-1250", "REF-02", 250, 1250, 1), ("DAY-2084", "REF-03", 2084, 2084, 13), ("DAY-1234", "REF-04", 1, 1234, 0)] {
            assert_eq!(refund(&ca, no, r, amount, total)["amount"]["refund_fee"], fee_back, "{r}");
        }
        // A payment-code order, paid (fee 5.28 → 5), then reversed: refunded in full and REVOKED.
        let session = s.wallet_session(PHONE);
        let code = http(&s.base, "POST", "/wallet/paycode", &[("Authorization", &session)], "").unwrap().json()["auth_code"].as_str().unwrap().to_string();
        let body = json!({"appid": a["appid"], "mchid": a["mchid"], "description": "收银台", "out_trade_no": "DAY-PC", "amount": {"total": 880}, "payer": {"auth_code": code}, "scene_info": {"store_info": {"out_id": "S1"}}});
        let r = ca.request("POST", "/v3/pay/transactions/codepay", &body.to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        txid.insert("DAY-PC", r.json()["transaction_id"].as_str().unwrap().to_string());
        let r = ca.request("POST", "/v3/pay/transactions/out-trade-no/DAY-PC/reverse", &json!({"mchid": a["mchid"], "appid": a["appid"]}).to_string()).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);

        // The next day: a payment that is not the bill's.
        to_next_day(&s, 10 * 3600);
        let next_txid = pay(&s, &ca, &a, "NEXT-4321", 4321);
        let d = date(day);

        // The ledger's side: what touched A's account during the day, and its balance around it.
        let url = format!("/admin/ledger/transfers?mchid={}&from={day}&to={}", a["mchid"].as_str().unwrap(), day + DAY);
        let r = http(&s.base, "GET", &url, &[("Authorization", &admin(&s))], "").unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let ledger = r.json();
        let account = ledger["account"].as_str().unwrap().to_string();
        let transfers = ledger["transfers"].as_array().unwrap().clone();
        let sum = |code: u16| -> i64 { transfers.iter().filter(|t| t["code"] == code).map(|t| t["amount"].as_i64().unwrap()).sum() };
        let count = |code: u16| transfers.iter().filter(|t| t["code"] == code).count();
        // Not an empty day on either side: 7 payments, 6 fees (one was 0), 5 refunds, 4 fee refunds.
        assert_eq!((count(movement::PAYMENT), count(movement::FEE), count(movement::REFUND), count(movement::FEE_REFUND)), (7, 6, 5, 4), "{}", s.backend);
        assert_eq!(transfers.len(), 22);
        assert_eq!(ledger["balance_before"], 3000 - 18);

        // Fund-flow bill: gzip and plain are the same file.
        let (fund_text, fund_url) = bill(&ca, &format!("/v3/bill/fundflowbill?bill_date={d}&account_type=BASIC&tar_type=GZIP"));
        assert_eq!(bill(&ca, &format!("/v3/bill/fundflowbill?bill_date={d}")).0, fund_text);
        let fund = Csv::parse(&fund_text);
        assert_eq!(fund.header.join(","), "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号");
        assert_eq!(fund.summary_header.join(","), "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额");
        let by_id: HashMap<&str, &Value> = transfers.iter().map(|t| (t["id"].as_str().unwrap(), t)).collect();
        // Every row is a ledger transfer of that amount, in that direction…
        for row in &fund.rows {
            let id = fund.col(row, "资金流水单号");
            let t = by_id.get(id.as_str()).unwrap_or_else(|| panic!("{}: bill row {id} is not a ledger transfer of the day", s.backend));
            assert_eq!(fen(&fund.col(row, "收支金额(元)")), t["amount"].as_i64().unwrap(), "{id}");
            let income = fund.col(row, "收支类型") == "收入";
            assert_eq!(income, t["credit_account_id"] == account.as_str(), "{id}");
            assert_eq!(!income, t["debit_account_id"] == account.as_str(), "{id}");
            let (name, kind) = (fund.col(row, "业务名称"), fund.col(row, "业务类型"));
            let code = t["code"].as_u64().unwrap() as u16;
            let want = match code {
                movement::PAYMENT => ("交易", "交易"),
                movement::FEE => ("交易", "扣除交易手续费"),
                movement::REFUND => ("退款", "退款"),
                movement::FEE_REFUND => ("退款", "退还交易手续费"),
                other => panic!("unexpected movement {other}"),
            };
            assert_eq!((name.as_str(), kind.as_str()), want, "{id}");
        }
        // …none is missing, and the bill's order is the ledger's, with its running balance.
        let bill_ids: Vec<String> = fund.rows.iter().map(|r| fund.col(r, "资金流水单号")).collect();
        let ledger_ids: Vec<String> = transfers.iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(bill_ids, ledger_ids, "{}", s.backend);
        let mut balance = ledger["balance_before"].as_i64().unwrap();
        for (row, t) in fund.rows.iter().zip(&transfers) {
            let amount = t["amount"].as_i64().unwrap();
            balance += if t["credit_account_id"] == account.as_str() { amount } else { -amount };
            assert_eq!(fen(&fund.col(row, "账户结余(元)")), balance, "{}", t["id"]);
        }
        assert_eq!(balance, ledger["balance_after"].as_i64().unwrap());
        // 2982 + payments 7347 − fees 44 − refunds 3715 + fees back 23.
        assert_eq!(balance, 6593);
        // After the day only N-4321 (less its fee, 26) touched the account: the ledger's balance now.
        assert_eq!(ledger["balance_now"].as_i64().unwrap(), balance + 4321 - 26);
        let (income, expense): (Vec<&Value>, Vec<&Value>) = transfers.iter().partition(|t| t["credit_account_id"] == account.as_str());
        let total = |v: &[&Value]| -> i64 { v.iter().map(|t| t["amount"].as_i64().unwrap()).sum() };
        assert_eq!(fund.summary[0].parse::<usize>().unwrap(), transfers.len());
        assert_eq!(fund.summary[1].parse::<usize>().unwrap(), income.len());
        assert_eq!(fen(&fund.summary[2]), total(&income));
        assert_eq!(fund.summary[3].parse::<usize>().unwrap(), expense.len());
        assert_eq!(fen(&fund.summary[4]), total(&expense));

        // Trade bill: the totals are the ledger's movements of the day.
        let (all_text, _) = bill(&ca, &format!("/v3/bill/tradebill?bill_date={d}&bill_type=ALL&tar_type=GZIP"));
        let all = Csv::parse(&all_text);
        assert_eq!(all.header.len(), 27);
        assert_eq!(all.summary_header.join(","), "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额");
        assert_eq!(all.total("总交易单数").parse::<usize>().unwrap(), count(movement::PAYMENT) + count(movement::REFUND));
        assert_eq!(fen(&all.total("应结订单总金额")), sum(movement::PAYMENT));
        assert_eq!(fen(&all.total("订单总金额")), sum(movement::PAYMENT));
        assert_eq!(fen(&all.total("退款总金额")), sum(movement::REFUND));
        assert_eq!(fen(&all.total("申请退款总金额")), sum(movement::REFUND));
        assert_eq!(fen(&all.total("手续费总金额")), sum(movement::FEE) - sum(movement::FEE_REFUND));
        assert_eq!(fen(&all.total("手续费总金额")), 44 - 23);
        // The rows add up to the summary, and are A's day only.
        let rows_sum = |name: &str| -> i64 { all.rows.iter().map(|r| fen(&all.col(r, name))).sum() };
        assert_eq!(rows_sum("应结订单金额"), sum(movement::PAYMENT));
        assert_eq!(rows_sum("退款金额"), sum(movement::REFUND));
        assert_eq!(rows_sum("手续费"), sum(movement::FEE) - sum(movement::FEE_REFUND));
        let ids: HashSet<String> = all.rows.iter().map(|r| all.col(r, "微信订单号")).collect();
        let want: HashSet<String> = txid.values().cloned().collect();
        assert_eq!(ids, want, "{}", s.backend);
        assert!(!ids.contains(&b_txid) && !ids.contains(&next_txid));
        for r in &all.rows {
            assert_eq!(all.col(r, "商户号"), a["mchid"].as_str().unwrap());
            assert_eq!(all.col(r, "费率"), "0.60%");
            // Free text with commas stays in its field.
            assert_eq!(all.col(r, "商品名称"), if all.col(r, "商户订单号") == "DAY-PC" { "收银台" } else { "账单， 测试" });
            assert!(all.col(r, "交易时间").starts_with(&d));
        }
        let state = |st: &str| all.rows.iter().filter(|r| all.col(r, "交易状态") == st).count();
        assert_eq!((state("SUCCESS"), state("REFUND")), (7, 5));
        // The reversed payment-code order: its payment and its full refund.
        let pc: Vec<&Vec<String>> = all.rows.iter().filter(|r| all.col(r, "商户订单号") == "DAY-PC").collect();
        assert_eq!(pc.len(), 2);
        assert_eq!(all.col(pc[0], "交易类型"), "MICROPAY");
        assert_eq!(all.col(pc[1], "商户退款单号"), format!("REVERSE-{}", txid["DAY-PC"]));
        // The SUCCESS and REFUND bills are the ALL bill's payments and refunds.
        let success = Csv::parse(&bill(&ca, &format!("/v3/bill/tradebill?bill_date={d}&bill_type=SUCCESS")).0);
        assert_eq!((success.header.len(), success.rows.len()), (20, 7));
        assert_eq!(fen(&success.total("应结订单总金额")), sum(movement::PAYMENT));
        assert_eq!(fen(&success.total("手续费总金额")), sum(movement::FEE));
        let refunds = Csv::parse(&bill(&ca, &format!("/v3/bill/tradebill?bill_date={d}&bill_type=REFUND&tar_type=GZIP")).0);
        assert_eq!((refunds.header.len(), refunds.rows.len()), (29, 5));
        assert_eq!(fen(&refunds.total("退款总金额")), sum(movement::REFUND));
        assert_eq!(fen(&refunds.total("手续费总金额")), -sum(movement::FEE_REFUND));
        for r in &refunds.rows {
            assert_eq!((refunds.col(r, "退款类型").as_str(), refunds.col(r, "退款状态").as_str()), ("ORIGINAL", "SUCCESS"));
        }

        // B's bill of the same day holds B's payment only; B cannot use A's download URL.
        let b_all = Csv::parse(&bill(&cb, &format!("/v3/bill/tradebill?bill_date={d}")).0);
        assert_eq!(b_all.rows.len(), 1);
        assert_eq!(b_all.col(&b_all.rows[0], "微信订单号"), b_txid);
        let stolen = get_unsigned(&cb, fund_url.strip_prefix(&s.base).unwrap());
        assert_eq!((stolen.status, stolen.json()["code"].as_str()), (403, Some("NO_AUTH")), "{}", stolen.body);
        // A token changed in any way is not one the platform gave out.
        let path = fund_url.strip_prefix(&s.base).unwrap();
        let forged = path.replacen(&format!("{d}.BASIC"), &format!("{}.BASIC", date(before)), 1);
        assert_ne!(forged, path);
        let r = get_unsigned(&ca, &forged);
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("INVALID_REQUEST")), "{}", r.body);

        // The day before has A's one payment, and nothing of B's.
        let x = Csv::parse(&bill(&ca, &format!("/v3/bill/fundflowbill?bill_date={}", date(before))).0);
        assert_eq!(x.rows.len(), 2);
        assert_eq!(fen(&x.col(&x.rows[1], "账户结余(元)")), 3000 - 18);
        let r = cb.request("GET", &format!("/v3/bill/tradebill?bill_date={}", date(before)), "").unwrap();
        assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("NO_STATEMENT_EXIST")), "{}", r.body);

        // The books are clean.
        let out = saoma().args(["ledger", "check", "--data-dir"]).arg(&s.data_dir).args(["--database-url", &s.database_url]).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("clean"), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn refused(c: &V3Client, path: &str, status: u16, code: &str) -> String {
    let r = c.request("GET", path, "").unwrap();
    let v = r.json();
    assert_eq!((r.status, v["code"].as_str()), (status, Some(code)), "{path}: {}", r.body);
    v["message"].as_str().unwrap().to_string()
}

#[test]
fn bad_bill_requests_are_refused_clearly() {
    for s in Server::all(true) {
        let m = s.merchant("Bills refusals", "public_key");
        let c = s.client(&m);
        let out = saoma().args(["user", "create", "--phone", PHONE, "--pin", "123456", "--balance", "100000", "--data-dir"]).arg(&s.data_dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let today = to_next_day(&s, 10 * 3600);
        pay(&s, &c, &m, "TODAY-100", 100);
        let (t, yesterday, tomorrow) = (date(today), date(today - DAY), date(today + DAY));
        for path in [
            format!("/v3/bill/tradebill?bill_date={tomorrow}"),
            "/v3/bill/tradebill?bill_date=2999-01-01".into(),
            format!("/v3/bill/fundflowbill?bill_date={tomorrow}"),
        ] {
            assert!(refused(&c, &path, 400, "PARAM_ERROR").contains("over"), "{path}");
        }
        // Today's bill does not exist yet, though the day has a payment.
        assert!(refused(&c, &format!("/v3/bill/tradebill?bill_date={t}"), 400, "PARAM_ERROR").contains("over"));
        assert!(refused(&c, &format!("/v3/bill/tradebill?bill_date={}", date(today - 200 * DAY)), 400, "PARAM_ERROR").contains("three months"));
        for path in [
            "/v3/bill/tradebill".to_string(),
            "/v3/bill/tradebill?bill_date=2024-02-30".into(),
            "/v3/bill/tradebill?bill_date=20240101".into(),
            format!("/v3/bill/tradebill?bill_date={yesterday}&bill_type=FOO"),
            format!("/v3/bill/tradebill?bill_date={yesterday}&tar_type=ZIP"),
            format!("/v3/bill/tradebill?bill_date={yesterday}&sub_mchid=1900000109"),
            format!("/v3/bill/fundflowbill?bill_date={yesterday}&account_type=SAVINGS"),
            "/v3/billdownload/file".into(),
        ] {
            refused(&c, &path, 400, "PARAM_ERROR");
        }
        // A day with nothing, and accounts the merchant does not have: no bill, as WeChat Pay answers.
        for path in [
            format!("/v3/bill/tradebill?bill_date={yesterday}"),
            format!("/v3/bill/tradebill?bill_date={yesterday}&bill_type=SUCCESS&tar_type=GZIP"),
            format!("/v3/bill/fundflowbill?bill_date={yesterday}"),
            format!("/v3/bill/fundflowbill?bill_date={yesterday}&account_type=OPERATION"),
        ] {
            refused(&c, &path, 400, "NO_STATEMENT_EXIST");
        }
        refused(&c, "/v3/billdownload/file?token=not.a.token", 400, "INVALID_REQUEST");

        // Just after midnight, the day that just ended is still being made; five minutes on, it is ready.
        let now = advance(&s, 1);
        advance(&s, today + DAY + 60 - now);
        assert!(refused(&c, &format!("/v3/bill/tradebill?bill_date={t}"), 400, "STATEMENT_CREATING").contains("being made"));
        advance(&s, 300);
        let csv = Csv::parse(&bill(&c, &format!("/v3/bill/tradebill?bill_date={t}")).0);
        assert_eq!(csv.rows.len(), 1);
        // The day had payments but no refunds: its REFUND bill is headers and a zero summary.
        let r = Csv::parse(&bill(&c, &format!("/v3/bill/tradebill?bill_date={t}&bill_type=REFUND")).0);
        assert_eq!((r.rows.len(), r.summary.join(",")), (0, "0,0.00,0.00,0.00,0.00000,0.00,0.00".to_string()));
        // OPERATION and FEES accounts have no bills even on a day with movements.
        refused(&c, &format!("/v3/bill/fundflowbill?bill_date={t}&account_type=FEES"), 400, "NO_STATEMENT_EXIST");
    }
}
