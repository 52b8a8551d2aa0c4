//! Merchants: who may call the v3 API, with which key, and how the platform signs for them.
//!
//! Here: the merchants, their appids, their unsettled ledger account, the in-memory cache (a `Part`) and
//! the reads other capabilities use (`settlement_in_job`, `name_in_job`, the join fragments); `admin.rs`
//! creating a merchant; `settings.rs`, what a merchant changes itself (the console's API settings).
//! Invariants: a merchant's APIv3 key is stored sealed; the cache holds rows as the database had them at
//! most [`CACHE_SECS`] ago (a change made here is forgotten at once by this process's cache; other
//! processes read it again when their entry is that old).

mod admin;
pub mod settings;

use crate::platform::accounts::kind;
use crate::platform::KeyMode;
use saoma_ledger::{AccountFlags, AccountId, Currency, NewAccount};
use crate::App;
use saoma_store::{IdGen, JobTx, Row, Store, StoreError};

/// The platform's default fee: 0.6%, as WeChat Pay's standard rate.
pub const DEFAULT_FEE_BP: i64 = 60;
use saoma_wechatpay::aead::{random_string, ApiV3Key};
use saoma_wechatpay::keys::{PrivateKey, PublicKey};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Merchant {
    pub mchid: String,
    pub name: String,
    pub serial_no: String,
    pub public_key: PublicKey,
    pub apiv3_key: ApiV3Key,
    pub appids: Vec<String>,
    pub notify_url: Option<String>,
    pub key_mode: KeyMode,
    /// Registered H5 domains (lower-case host names): an H5 payment's redirect_url must go to one of
    /// them or a subdomain, as WeChat Pay's H5 domain configuration.
    pub h5_domains: Vec<String>,
}

/// A registered H5 domain as given (`shop.example.com`): a host name, lower-cased; no scheme, port, path
/// or address. The reason when not.
pub fn h5_domain(d: &str) -> Result<String, String> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    match crate::notifications::outbound::parse_url(&format!("https://{d}/")) {
        Ok(t) if t.authority == d && t.port == 443 && matches!(t.host, crate::notifications::outbound::Host::Name(_)) => Ok(d),
        _ => Err(format!("h5 domain {d:?} must be a host name such as shop.example.com")),
    }
}

/// What creating a merchant hands back, once: the private key is not kept by the platform.
pub struct Created {
    pub merchant: Arc<Merchant>,
    pub private_key_pem: String,
}

/// Merchants as read from the database, kept in memory (they change rarely; each request needs one).
#[derive(Default)]
struct Merchants {
    cache: RwLock<HashMap<String, (Instant, Arc<Merchant>)>>,
}

/// How long a process uses a merchant as read before reading it again (a change made by another
/// process — a new API key, a notify_url — reaches this one within this).
pub const CACHE_SECS: u64 = 10;

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("merchant row: {what}"))
}

impl Merchants {
    fn get(&self, store: &Store, mchid: &str) -> Result<Option<Arc<Merchant>>, StoreError> {
        if let Some((at, m)) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(mchid) {
            if at.elapsed() < Duration::from_secs(CACHE_SECS) {
                return Ok(Some(m.clone()));
            }
        }
        self.load(store, mchid)
    }

    /// Forgets the merchant (it changed): the next use reads it again.
    fn forget(&self, mchid: &str) {
        self.cache.write().unwrap_or_else(|p| p.into_inner()).remove(mchid);
    }

    fn load(&self, store: &Store, mchid: &str) -> Result<Option<Arc<Merchant>>, StoreError> {
        let Some(r) = store.query_one(
            "SELECT mchid, name, serial_no, public_key, apiv3_key, notify_url, platform_key_mode, h5_domains FROM merchants WHERE mchid = $1",
            &[mchid.into()],
        )?
        else {
            return Ok(None);
        };
        let text = |name: &str| r.text(name).map(str::to_string);
        let apiv3 = crate::platform::secrets::open("merchants", "apiv3_key", mchid, r.text("apiv3_key")?)?;
        let appids = store
            .query("SELECT appid FROM merchant_appids WHERE mchid = $1 ORDER BY appid", &[mchid.into()])?
            .iter()
            .filter_map(|r| r.opt_text("appid").transpose())
            .map(|a| a.map(str::to_string))
            .collect::<Result<_, _>>()?;
        let m = Arc::new(Merchant {
            mchid: text("mchid")?,
            name: text("name")?,
            serial_no: text("serial_no")?,
            public_key: PublicKey::from_pem(r.text("public_key")?).map_err(|_| corrupt("public key"))?,
            apiv3_key: ApiV3Key::new(&apiv3).map_err(|_| corrupt("apiv3 key"))?,
            notify_url: r.opt_text("notify_url")?.map(str::to_string),
            key_mode: KeyMode::parse(r.text("platform_key_mode")?).ok_or_else(|| corrupt("key mode"))?,
            h5_domains: r.text("h5_domains")?.split(',').filter(|d| !d.is_empty()).map(str::to_string).collect(),
            appids,
        });
        self.cache.write().unwrap_or_else(|p| p.into_inner()).insert(mchid.to_string(), (Instant::now(), m.clone()));
        Ok(Some(m))
    }

    /// Creates a direct merchant with a fresh key pair, APIv3 key and appid.
    #[allow(clippy::too_many_arguments)]
    async fn create(&self, store: &Store, ids: &IdGen, name: String, notify_url: Option<String>, key_mode: KeyMode, h5_domains: Vec<String>, now: i64) -> Result<Created, StoreError> {
        let io = |e: &dyn std::fmt::Display| StoreError::Io(e.to_string());
        let key = PrivateKey::generate().map_err(|e| io(&e))?;
        let private_key_pem = key.to_pem().map_err(|e| io(&e))?;
        let public_pem = key.public_key().and_then(|k| k.to_pem()).map_err(|e| io(&e))?;
        let serial_no = saoma_wechatpay::cert::random_serial().map_err(|e| io(&e))?;
        let apiv3 = ApiV3Key::generate().map_err(|e| io(&e))?;
        let appid = format!("wx{}", random_string(16).map_err(|e| io(&e))?.to_lowercase());
        let mut candidates = Vec::new();
        for _ in 0..8 {
            // Ten digits starting with 16, as WeChat Pay merchant numbers look.
            candidates.push(format!("16{}", saoma_wechatpay::aead::random_digits(8).map_err(|e| io(&e))?));
        }
        let (apiv3_s, name2, notify2, pem2, serial2, appid2) = (apiv3.expose().to_string(), name.clone(), notify_url.clone(), public_pem.clone(), serial_no.clone(), appid.clone());
        let domains = h5_domains.join(",");
        let unsettled = AccountId(ids.next());
        let mchid = store
            .transact(move |tx| {
                for mchid in candidates {
                    if tx.query_one("SELECT mchid FROM merchants WHERE mchid = $1", &[mchid.as_str().into()])?.is_some() {
                        continue;
                    }
                    let sealed_apiv3 = crate::platform::secrets::seal("merchants", "apiv3_key", &mchid, &apiv3_s)?;
                    let account = NewAccount { id: unsettled, currency: Currency::CNY, code: kind::MERCHANT_UNSETTLED, owner: 0, flags: AccountFlags::DEBITS_MUST_NOT_EXCEED_CREDITS };
                    if let Some(Err(e)) = tx.create_accounts(&[account])?.pop() {
                        return Err(StoreError::Corrupt(format!("merchant account: {e}")));
                    }
                    tx.execute(
                        "INSERT INTO merchants (mchid, name, kind, parent_mchid, notify_url, serial_no, public_key, apiv3_key, platform_key_mode, \
                         unsettled_account, fee_rate_bp, created_at, h5_domains) VALUES ($1, $2, 'direct', NULL, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        &[
                            mchid.as_str().into(),
                            name2.into(),
                            notify2.into(),
                            serial2.into(),
                            pem2.into(),
                            sealed_apiv3.into(),
                            key_mode.as_str().into(),
                            unsettled.0.into(),
                            DEFAULT_FEE_BP.into(),
                            now.into(),
                            domains.into(),
                        ],
                    )?;
                    tx.execute("INSERT INTO merchant_appids (mchid, appid) VALUES ($1, $2)", &[mchid.as_str().into(), appid2.into()])?;
                    return Ok(Ok(mchid));
                }
                Ok(Err(()))
            })
            .await?
            .map_err(|_| StoreError::Io("no free merchant number after 8 tries".into()))?;
        let merchant = Arc::new(Merchant {
            mchid,
            name,
            serial_no,
            public_key: PublicKey::from_pem(&public_pem).map_err(|e| io(&e))?,
            apiv3_key: apiv3,
            appids: vec![appid],
            notify_url,
            key_mode,
            h5_domains,
        });
        Ok(Created { merchant, private_key_pem })
    }
}


/// Creating merchants (admin).
pub fn routes() -> crate::http::Routes {
    use axum::routing::post;
    crate::http::Routes {
        admin: axum::Router::new()
            .route("/admin/merchants", post(admin::create_merchant)),
        ..Default::default()
    }
}

impl crate::Part for Merchants {
    fn new(_: &crate::Config) -> Self {
        Merchants::default()
    }
}

/// A merchant by `mchid`, from memory after the first read.
pub fn get(app: &App, mchid: &str) -> Result<Option<Arc<Merchant>>, StoreError> {
    app.part::<Merchants>().get(&app.store, mchid)
}

/// Creates a merchant: its keys (the APIv3 key sealed), its unsettled account and its appids, in one job.
pub async fn create(app: &App, name: String, notify_url: Option<String>, key_mode: KeyMode, h5_domains: Vec<String>) -> Result<Created, StoreError> {
    app.part::<Merchants>().create(&app.store, &app.ids, name, notify_url, key_mode, h5_domains, app.business_now_secs()).await
}

/// A merchant's ledger account (its unsettled account, until settlement exists).
pub fn unsettled_account(app: &App, mchid: &str) -> Result<Option<u128>, StoreError> {
    let r = app.store.query_one("SELECT unsettled_account FROM merchants WHERE mchid = $1", &[mchid.into()])?;
    Ok(r.map(|r| r.opt_id("unsettled_account")).transpose()?.flatten())
}

/// Whether the merchant exists (inside a job: the caller writes something that names it).
pub fn exists_in_job(tx: &mut JobTx<'_>, mchid: &str) -> Result<bool, StoreError> {
    Ok(tx.query_one("SELECT mchid FROM merchants WHERE mchid = $1", &[mchid.into()])?.is_some())
}

/// The merchant's name, inside a job (a text to the user names who charges them).
pub fn name_in_job(tx: &mut JobTx<'_>, mchid: &str) -> Result<Option<String>, StoreError> {
    tx.query_one("SELECT name FROM merchants WHERE mchid = $1", &[mchid.into()])?.map(|r| r.opt_text("name").map(|n| n.map(str::to_string))).transpose().map(Option::flatten)
}

/// The merchant's notify_url, inside a job.
pub fn notify_url_in_job(tx: &mut JobTx<'_>, mchid: &str) -> Result<Option<String>, StoreError> {
    tx.query_one("SELECT notify_url FROM merchants WHERE mchid = $1", &[mchid.into()])?.map(|r| r.opt_text("notify_url").map(|n| n.map(str::to_string))).transpose().map(Option::flatten)
}

/// The merchant's first appid (in appid order), inside a job: the app the platform acts in for it.
pub fn first_appid_in_job(tx: &mut JobTx<'_>, mchid: &str) -> Result<Option<String>, StoreError> {
    tx.query_one("SELECT appid FROM merchant_appids WHERE mchid = $1 ORDER BY appid LIMIT 1", &[mchid.into()])?.map(|r| r.opt_text("appid").map(|a| a.map(str::to_string))).transpose().map(Option::flatten)
}

/// Every merchant's appids, in order, inside a job.
pub fn all_appids_in_job(tx: &mut JobTx<'_>) -> Result<Vec<String>, StoreError> {
    tx.query("SELECT appid FROM merchant_appids ORDER BY appid", &[])?.iter().filter_map(|r| r.opt_text("appid").transpose()).map(|a| a.map(str::to_string)).collect()
}

/// What moving money to or from a merchant needs: the ledger account its payments are credited to until
/// settlement, its fee rate, and its APIv3 key (sealed as stored: [`Settlement::apiv3_key`] opens it,
/// only when a notification is written).
#[derive(Clone, Debug)]
pub struct Settlement {
    pub unsettled: AccountId,
    pub fee_rate_bp: i64,
    sealed_apiv3_key: String,
}

impl Settlement {
    /// The merchant's APIv3 key, opened (`mchid` is the merchant's: the seal is bound to its row).
    pub fn apiv3_key(&self, mchid: &str) -> Result<String, StoreError> {
        crate::platform::secrets::open("merchants", "apiv3_key", mchid, &self.sealed_apiv3_key)
    }
}

/// The merchant's [`Settlement`], inside a job.
pub fn settlement_in_job(tx: &mut JobTx<'_>, mchid: &str) -> Result<Option<Settlement>, StoreError> {
    tx.query_one(&format!("SELECT {SETTLEMENT_COLUMNS} FROM merchants m WHERE m.mchid = $1"), &[mchid.into()])?.map(|r| settlement_from_row(&r)).transpose()
}

// Where another capability keeps one statement over its own table and `merchants` on purpose (a read on a
// hot path, where each statement is a round trip on PostgreSQL; a list with each row's merchant name), the
// merchants' part of that statement comes from here: its column lists, its join and its subquery, with
// `merchants` always as `m`. Nothing else outside this folder names the table or its columns.

/// The [`Settlement`]'s columns of `merchants m`, in the order [`settlement_from_row`] reads them (the pay job
/// reads them with the order, the payer and the openid in one statement).
pub(crate) const SETTLEMENT_COLUMNS: &str = "m.unsettled_account, m.fee_rate_bp, m.apiv3_key";

/// A [`Settlement`] from [`SETTLEMENT_COLUMNS`] (a row's slice where the statement read more).
pub(crate) fn settlement_from_row(r: &Row) -> Result<Settlement, StoreError> {
    Ok(Settlement { unsettled: AccountId(r.id("unsettled_account")?), fee_rate_bp: r.opt_int("fee_rate_bp")?.unwrap_or(0), sealed_apiv3_key: r.text("apiv3_key")?.to_string() })
}

/// `merchants m` joined (inner) to the merchant numbered `mchid`, an expression of the outer statement.
pub(crate) fn join(mchid: &str) -> String {
    format!("JOIN merchants m ON m.mchid = {mchid}")
}

/// The merchant's name, for display, as a column of [`join`]'s `m`.
pub(crate) const NAME: &str = "m.name";

/// The name of the merchant numbered `mchid` (an expression of the outer statement) as a scalar subquery:
/// NULL where there is none.
pub(crate) fn name_of(mchid: &str) -> String {
    format!("(SELECT name FROM merchants m WHERE m.mchid = {mchid})")
}

/// A merchant as the operator console lists it.
pub struct Listed {
    pub mchid: String,
    pub name: String,
    pub created_at: i64,
    pub key_mode: String,
    pub notify_url: Option<String>,
}

/// Merchants, newest first (at most `limit`).
pub fn list(app: &App, limit: i64) -> Result<Vec<Listed>, StoreError> {
    let rows = app.store.query("SELECT mchid, name, created_at, platform_key_mode, notify_url FROM merchants ORDER BY created_at DESC, mchid DESC LIMIT $1", &[limit.into()])?;
    rows.iter()
        .map(|r| {
            Ok(Listed {
                mchid: r.text("mchid")?.to_string(),
                name: r.text("name")?.to_string(),
                created_at: r.int("created_at")?,
                key_mode: r.text("platform_key_mode")?.to_string(),
                notify_url: r.opt_text("notify_url")?.filter(|u| !u.is_empty()).map(str::to_string),
            })
        })
        .collect()
}
