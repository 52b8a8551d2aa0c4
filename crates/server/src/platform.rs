//! The platform's signing keys: what signs every v3 response and callback, offered to merchants both as
//! a public key (`PUB_KEY_ID_…`) and as an X.509 certificate. Created at first start; several can be
//! valid at once so that a rotation overlaps.

use saoma_store::{Store, StoreError, Value};
use saoma_wechatpay::cert;
use saoma_wechatpay::keys::{PrivateKey, PublicKey};

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
}

impl PlatformKey {
    pub fn public_key(&self) -> Result<PublicKey, StoreError> {
        PublicKey::from_pem(&self.public_key_pem).map_err(|e| StoreError::Corrupt(format!("platform public key: {e}")))
    }
}

fn from_row(r: &[Value]) -> Result<PlatformKey, StoreError> {
    let text = |i: usize| r.get(i).and_then(Value::as_str).map(str::to_string).ok_or_else(|| StoreError::Corrupt("platform key row".into()));
    Ok(PlatformKey {
        key_id: text(0)?,
        serial_no: text(1)?,
        private_key: PrivateKey::from_pem(&text(2)?).map_err(|e| StoreError::Corrupt(format!("platform private key: {e}")))?,
        public_key_pem: text(3)?,
        certificate_pem: text(4)?,
        not_before: r.get(5).and_then(Value::as_i64).unwrap_or(0),
        not_after: r.get(6).and_then(Value::as_i64).unwrap_or(0),
    })
}

const COLUMNS: &str = "key_id, serial_no, private_key, public_key, certificate, not_before, not_after";

/// The valid keys, newest first; creates the first one if there is none. `now` is real time (key
/// validity is transport security, not business time).
pub async fn load_or_create(store: &Store, now: i64) -> Result<Vec<PlatformKey>, StoreError> {
    let existing = crate::blocking(|| store.query(&format!("SELECT {COLUMNS} FROM platform_keys ORDER BY created_at DESC"), &[]))?;
    if existing.is_empty() {
        // Generate outside the writer (RSA key generation takes tens of milliseconds); insert only if
        // no other process got there first.
        let key = PrivateKey::generate().map_err(|e| StoreError::Io(e.to_string()))?;
        let serial = cert::random_serial().map_err(|e| StoreError::Io(e.to_string()))?;
        let c = cert::issue(&key, &serial, "saoma platform", now - 60, now + VALIDITY_SECS).map_err(|e| StoreError::Io(e.to_string()))?;
        let key_id = format!("PUB_KEY_ID_01{}", saoma_wechatpay::aead::random_digits(30).map_err(|e| StoreError::Io(e.to_string()))?);
        let public = key.public_key().and_then(|p| p.to_pem()).map_err(|e| StoreError::Io(e.to_string()))?;
        let private = key.to_pem().map_err(|e| StoreError::Io(e.to_string()))?;
        store
            .transact(move |tx| {
                if tx.query_one("SELECT key_id FROM platform_keys", &[])?.is_none() {
                    tx.execute(
                        &format!("INSERT INTO platform_keys ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
                        &[key_id.into(), serial.into(), private.into(), public.into(), c.pem.into(), c.not_before.into(), c.not_after.into(), now.into()],
                    )?;
                }
                Ok(Ok::<(), ()>(()))
            })
            .await?
            .ok();
    }
    let rows = crate::blocking(|| store.query(&format!("SELECT {COLUMNS} FROM platform_keys ORDER BY created_at DESC"), &[]))?;
    let keys: Vec<PlatformKey> = rows.iter().map(|r| from_row(r)).collect::<Result<_, _>>()?;
    let valid: Vec<PlatformKey> = keys.into_iter().filter(|k| k.not_before <= now && now < k.not_after).collect();
    if valid.is_empty() {
        return Err(StoreError::Corrupt("no platform key is valid now; rotate the keys".into()));
    }
    Ok(valid)
}
