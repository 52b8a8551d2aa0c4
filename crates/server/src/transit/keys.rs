//! The ride code's platform keys: issuer keys sign riders' daily credentials; list keys sign the key
//! lists and blacklists gates pull. Created on first start (a year each), kept in the store (the seed in
//! hex, sealed under the master key like the platform's v3 keys: `crate::platform::secrets`), rebuilt from the
//! seed when used. A code's suite is both its issuer's and its device key's, so there is an issuer key
//! of every suite (Ed25519, P-256, SM2): a phone whose secure element only does P-256 or SM2 gets a
//! credential from the issuer key of that suite. List keys are Ed25519.

use crate::hex;
use saoma_ridecode::{IssuerKeyPair, IssuerPublicKey, KeyPair, PlatformKeyPair, PlatformPublicKey, PublicKey, Suite};
use saoma_store::{JobTx, Row, Store, StoreError};

const YEAR: i64 = 365 * 24 * 3600;

#[derive(Clone, Debug)]
pub struct StoredKey {
    pub key_id: u16,
    pub suite: Suite,
    seed: [u8; 32],
    pub public_key: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

impl StoredKey {
    pub fn issuer(&self) -> Result<IssuerKeyPair, StoreError> {
        IssuerKeyPair::from_seed(self.suite, &self.seed, self.key_id, self.not_before as u32, self.not_after as u32).map_err(|e| StoreError::Corrupt(format!("issuer key: {e:?}")))
    }

    pub fn issuer_public(&self) -> Result<IssuerPublicKey, StoreError> {
        Ok(self.issuer()?.public())
    }

    /// The issuer key as ingest checks codes against it: decoded from the stored public key, without
    /// rebuilding the secret from its seed.
    pub fn issuer_key(&self) -> Result<super::check::IssuerKey, StoreError> {
        let bad = |e: saoma_ridecode::Error| StoreError::Corrupt(format!("issuer key: {e:?}"));
        let key = PublicKey::from_bytes(self.suite, &self.public_key).map_err(bad)?;
        Ok(super::check::IssuerKey {
            key_id: self.key_id,
            suite: self.suite,
            key: saoma_ridecode::DecodedKey::new(&key).map_err(bad)?,
            not_before: self.not_before,
            not_after: self.not_after,
            revoked_at: self.revoked_at,
        })
    }

    pub fn lists(&self) -> Result<PlatformKeyPair, StoreError> {
        PlatformKeyPair::from_seed(self.suite, &self.seed, self.key_id).map_err(|e| StoreError::Corrupt(format!("list key: {e:?}")))
    }

    pub fn lists_public(&self) -> Result<PlatformPublicKey, StoreError> {
        let key = PublicKey::from_bytes(self.suite, &self.public_key).map_err(|e| StoreError::Corrupt(format!("list key: {e:?}")))?;
        Ok(PlatformPublicKey { key_id: self.key_id, public_key: key })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "key_id": self.key_id, "suite": self.suite.name(), "public_key_hex": hex::encode(&self.public_key),
            "not_before": self.not_before, "not_after": self.not_after, "revoked_at": self.revoked_at,
        })
    }
}

const COLUMNS: &str = "key_id, suite, seed, public_key, not_before, not_after, revoked_at";

fn from_row(r: &Row) -> Result<StoredKey, StoreError> {
    let bad = |column: &str| StoreError::Corrupt(format!("ridecode key row: bad {column}"));
    let key_id = r.int("key_id")?;
    // Sealed at rest under the master key (crate::platform::secrets).
    let seed_hex = crate::platform::secrets::open("ridecode_keys", "seed", &key_id.to_string(), r.text("seed")?)?;
    let seed: [u8; 32] = hex::decode(&seed_hex).and_then(|v| v.try_into().ok()).ok_or_else(|| bad("seed"))?;
    Ok(StoredKey {
        key_id: u16::try_from(key_id).map_err(|_| bad("key_id"))?,
        suite: u8::try_from(r.int("suite")?).ok().and_then(Suite::from_byte).ok_or_else(|| bad("suite"))?,
        seed,
        public_key: hex::decode(r.text("public_key")?).ok_or_else(|| bad("public_key"))?,
        not_before: r.int("not_before")?,
        not_after: r.int("not_after")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

/// Every key of `purpose` (`issuer` or `lists`), oldest first.
pub fn all(store: &Store, purpose: &str) -> Result<Vec<StoredKey>, StoreError> {
    store.query(&format!("SELECT {COLUMNS} FROM ridecode_keys WHERE purpose = $1 ORDER BY key_id"), &[purpose.into()])?.iter().map(|r| from_row(r)).collect()
}

pub fn all_in_job(tx: &mut JobTx<'_>, purpose: &str) -> Result<Vec<StoredKey>, StoreError> {
    tx.query(&format!("SELECT {COLUMNS} FROM ridecode_keys WHERE purpose = $1 ORDER BY key_id"), &[purpose.into()])?.iter().map(|r| from_row(r)).collect()
}

/// The key of `purpose` to sign with at `now`: the newest valid, unrevoked one (list keys).
pub fn current(keys: &[StoredKey], now: i64) -> Option<&StoredKey> {
    keys.iter().rev().find(|k| k.revoked_at.is_none() && k.not_before <= now && now < k.not_after)
}

/// The key of `suite` to sign with at `now`: the newest valid, unrevoked one (issuer keys).
pub fn current_of(keys: &[StoredKey], suite: Suite, now: i64) -> Option<&StoredKey> {
    keys.iter().rev().find(|k| k.suite == suite && k.revoked_at.is_none() && k.not_before <= now && now < k.not_after)
}

/// The keys a server keeps valid: an issuer key of every suite and an Ed25519 list key.
const WANTED: [(&str, Suite); 4] = [("issuer", Suite::Ed25519), ("issuer", Suite::P256), ("issuer", Suite::Sm2), ("lists", Suite::Ed25519)];

/// Creates each wanted key that has no valid one now (at start; idempotent).
pub async fn ensure(store: &Store, now: i64) -> Result<(), StoreError> {
    let mut seeds = Vec::new();
    for (_, suite) in WANTED {
        // A P-256 or SM2 scalar must lie below the group order: draw again on the rare miss.
        let seed = loop {
            let seed = saoma_wechatpay::aead::random_bytes::<32>().map_err(|e| StoreError::Io(e.to_string()))?;
            if let Ok(key) = KeyPair::from_seed(suite, &seed) {
                break (seed, key.public_key());
            }
        };
        seeds.push(seed);
    }
    store
        .transact(move |tx| {
            for ((purpose, suite), (seed, public)) in WANTED.into_iter().zip(seeds) {
                let keys = all_in_job(tx, purpose)?;
                if current_of(&keys, suite, now).is_some() {
                    continue;
                }
                let next = tx.query_one("SELECT MAX(key_id) AS highest FROM ridecode_keys", &[])?.map(|r| r.opt_int("highest")).transpose()?.flatten().unwrap_or(0) + 1;
                tx.execute(
                    "INSERT INTO ridecode_keys (key_id, suite, seed, public_key, not_before, not_after, revoked_at, purpose, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8)",
                    &[
                        next.into(),
                        (suite.as_byte() as i64).into(),
                        crate::platform::secrets::seal("ridecode_keys", "seed", &next.to_string(), &hex::encode(&seed))?.into(),
                        hex::encode(public.as_bytes()).into(),
                        // Valid from a day back: codes generated by phones a little behind still verify.
                        (now - 24 * 3600).into(),
                        (now + YEAR).into(),
                        purpose.into(),
                        now.into(),
                    ],
                )?;
            }
            Ok(Ok::<(), ()>(()))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("ridecode keys".into()))
}
