//! The platform's signing keys: what signs every v3 response and callback, offered to merchants both as
//! a public key (`PUB_KEY_ID_…`) and as an X.509 certificate. Created at first start; several can be
//! valid at once so that a rotation overlaps.

use saoma_store::{Row, Store, StoreError};
use std::sync::RwLock;
use saoma_wechatpay::cert;
use saoma_wechatpay::keys::{PrivateKey, PublicKey};

/// How the platform identifies its key to this merchant (`Wechatpay-Serial`): WeChat Pay's newer
/// public-key mode, or certificate mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    PublicKey,
    Certificate,
}

impl KeyMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyMode::PublicKey => "public_key",
            KeyMode::Certificate => "certificate",
        }
    }
    pub fn parse(s: &str) -> Option<KeyMode> {
        match s {
            "public_key" => Some(KeyMode::PublicKey),
            "certificate" => Some(KeyMode::Certificate),
            _ => None,
        }
    }
}

/// Certificates are valid for five years; a rotation adds a new key before the old one ends.
const VALIDITY_SECS: i64 = 5 * 365 * 24 * 3600;

#[derive(Clone)]
pub struct PlatformKey {
    pub key_id: String,
    pub serial_no: String,
    pub private_key: PrivateKey,
    pub public_key_pem: String,
    pub certificate_pem: String,
    pub not_before: i64,
    pub not_after: i64,
    pub retires_at: Option<i64>,
}

impl PlatformKey {
    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now < self.not_after && self.retires_at.is_none_or(|r| now < r)
    }
}

impl PlatformKey {
    pub fn public_key(&self) -> Result<PublicKey, StoreError> {
        PublicKey::from_pem(&self.public_key_pem).map_err(|e| StoreError::Corrupt(format!("platform public key: {e}")))
    }
}

fn from_row(r: &Row) -> Result<PlatformKey, StoreError> {
    let key_id = r.text("key_id")?.to_string();
    // Sealed at rest under the master key (crate::platform::secrets).
    let private_pem = crate::platform::secrets::open("platform_keys", "private_key", &key_id, r.text("private_key")?)?;
    Ok(PlatformKey {
        key_id,
        serial_no: r.text("serial_no")?.to_string(),
        private_key: PrivateKey::from_pem(&private_pem).map_err(|e| StoreError::Corrupt(format!("platform private key: {e}")))?,
        public_key_pem: r.text("public_key")?.to_string(),
        certificate_pem: r.text("certificate")?.to_string(),
        not_before: r.opt_int("not_before")?.unwrap_or(0),
        not_after: r.opt_int("not_after")?.unwrap_or(0),
        retires_at: r.opt_int("retires_at")?,
    })
}

const COLUMNS: &str = "key_id, serial_no, private_key, public_key, certificate, not_before, not_after, retires_at";

struct NewKey {
    key_id: String,
    serial: String,
    private: String,
    public: String,
    certificate: String,
    not_before: i64,
    not_after: i64,
}

/// A fresh key with its certificate (generated outside the writer: RSA key generation takes tens of
/// milliseconds).
fn generate(now: i64) -> Result<NewKey, StoreError> {
    let io = |e: &dyn std::fmt::Display| StoreError::Io(e.to_string());
    let key = PrivateKey::generate().map_err(|e| io(&e))?;
    let serial = cert::random_serial().map_err(|e| io(&e))?;
    let c = cert::issue(&key, &serial, "saoma platform", now - 60, now + VALIDITY_SECS).map_err(|e| io(&e))?;
    Ok(NewKey {
        key_id: format!("PUB_KEY_ID_01{}", saoma_wechatpay::aead::random_digits(30).map_err(|e| io(&e))?),
        serial,
        private: key.to_pem().map_err(|e| io(&e))?,
        public: key.public_key().and_then(|p| p.to_pem()).map_err(|e| io(&e))?,
        certificate: c.pem,
        not_before: c.not_before,
        not_after: c.not_after,
    })
}

fn insert(tx: &mut saoma_store::JobTx<'_>, k: NewKey, now: i64) -> Result<(), StoreError> {
    let private = crate::platform::secrets::seal("platform_keys", "private_key", &k.key_id, &k.private)?;
    tx.execute(
        "INSERT INTO platform_keys (key_id, serial_no, private_key, public_key, certificate, not_before, not_after, retires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
        &[k.key_id.into(), k.serial.into(), private.into(), k.public.into(), k.certificate.into(), k.not_before.into(), k.not_after.into(), now.into()],
    )?;
    Ok(())
}

/// The keys valid at `now`, newest first.
pub fn load(store: &Store, now: i64) -> Result<Vec<PlatformKey>, StoreError> {
    let rows = store.query(
        // Newest first: the current key is the one not retiring.
        &format!("SELECT {COLUMNS} FROM platform_keys WHERE not_before <= $1 AND not_after > $1 AND (retires_at IS NULL OR retires_at > $1) ORDER BY (retires_at IS NULL) DESC, created_at DESC"),
        &[now.into()],
    )?;
    let keys: Vec<PlatformKey> = rows.iter().map(|r| from_row(r)).collect::<Result<_, _>>()?;
    if keys.is_empty() {
        return Err(StoreError::Corrupt("no platform key is valid now; rotate the keys".into()));
    }
    Ok(keys)
}

/// The valid keys, newest first; creates the first one if there is none. `now` is real time (key
/// validity is transport security, not business time).
pub async fn load_or_create(store: &Store, now: i64) -> Result<Vec<PlatformKey>, StoreError> {
    let existing = store.query("SELECT key_id FROM platform_keys", &[])?;
    if existing.is_empty() {
        let k = generate(now)?;
        store
            .transact(move |tx| {
                // Another process may have got there first.
                if tx.query_one("SELECT key_id FROM platform_keys", &[])?.is_none() {
                    insert(tx, k, now)?;
                }
                Ok(Ok::<(), ()>(()))
            })
            .await?
            .ok();
    }
    load(store, now)
}

/// Adds a new key; the current ones retire after `overlap` seconds. Merchants in certificate mode
/// move to the new key at once (their SDKs fetch `/v3/certificates` on an unknown serial); merchants in
/// public-key mode stay on the old key until it retires, and take the new public key before then.
pub async fn rotate(store: &Store, now: i64, overlap: i64) -> Result<String, StoreError> {
    let k = generate(now)?;
    let key_id = k.key_id.clone();
    let id2 = key_id.clone();
    store
        .transact(move |tx| {
            tx.execute("UPDATE platform_keys SET retires_at = $1 WHERE retires_at IS NULL", &[(now + overlap).into()])?;
            insert(tx, k, now)?;
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .ok();
    Ok(id2)
}

/// The platform's valid keys as this process knows them, newest first (the newest signs). Read again
/// every 30 s and after a rotation, so that a rotation in another process reaches this one.
pub struct Keys(RwLock<Vec<PlatformKey>>);

impl Keys {
    pub fn new(keys: Vec<PlatformKey>) -> Keys {
        Keys(RwLock::new(keys))
    }

    /// The newest valid key (certificate-mode merchants, and anyone unidentified).
    pub fn newest(&self) -> PlatformKey {
        self.signing(None)
    }

    /// The key that signs for a merchant: the newest in certificate mode; in public-key mode the oldest
    /// still valid, so that a rotation does not break merchants before the old key retires.
    pub fn signing(&self, mode: Option<KeyMode>) -> PlatformKey {
        let keys = self.valid();
        match mode {
            Some(KeyMode::PublicKey) => keys[keys.len() - 1].clone(),
            _ => keys[0].clone(),
        }
    }

    /// Reads the valid keys again (after a rotation here or in another process).
    pub fn reload(&self, store: &Store) {
        match load(store, crate::http::v3::auth::real_now()) {
            Ok(keys) => *self.0.write().unwrap_or_else(|p| p.into_inner()) = keys,
            Err(e) => tracing::error!(error = %e, "reloading platform keys"),
        }
    }

    /// The keys valid now, newest first (never empty: the newest has no retirement date).
    pub fn valid(&self) -> Vec<PlatformKey> {
        let now = crate::http::v3::auth::real_now();
        let all = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        let valid: Vec<_> = all.iter().filter(|k| k.valid_at(now)).cloned().collect();
        if valid.is_empty() {
            all
        } else {
            valid
        }
    }
}
