//! Secrets at rest: the platform's private keys, merchants' APIv3 keys and the ride code's key seeds (the
//! platform's, and the device keys it holds for the web wallet) are stored sealed under a master key that
//! is kept outside the database, and every file the server keeps is private to its user.
//!
//! The master key is 32 random bytes, written in hex to `DATA_DIR/master.key` (0600) at first start, or
//! read from `--master-key-file` / `SAOMA_MASTER_KEY_FILE` (which must exist: a mistyped path must not
//! quietly make a second key). Several processes on one PostgreSQL database share its secrets, so they
//! must share the key file too.
//!
//! A sealed value is `sealed:v1:` + hex(nonce ‖ AES-256-GCM ciphertext ‖ tag), with a random nonce per
//! value and, as associated data, the table, column and row it belongs to: a value copied into another
//! row does not open. Older databases held these columns in plaintext: at start every plaintext value is
//! sealed in place, in one job (`seal_existing`), and every sealed value is opened once, so that a wrong
//! master key stops the start with a clear message instead of failing on the first request.
//!
//! The key is installed once per process (`install`) and used by whoever reads a secret column, inside
//! jobs as well as outside (a job has no `App`).

use saoma_store::{Store, StoreError, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The version prefix of a sealed value. A later scheme gets `sealed:v2:` and both are read.
const PREFIX: &str = "sealed:v1:";
const KEY_FILE: &str = "master.key";

/// The secret columns: (table, row key column, secret column).
pub const SECRET_COLUMNS: &[(&str, &str, &str)] = &[
    ("platform_keys", "key_id", "private_key"),
    ("merchants", "mchid", "apiv3_key"),
    ("ridecode_keys", "key_id", "seed"),
    ("transit_web_devices", "device", "seed"),
];

/// The master key. Its Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

impl MasterKey {
    /// A fresh random key (in-process tools such as the ride-code benchmark).
    pub fn generate() -> Result<MasterKey, String> {
        saoma_wechatpay::aead::random_bytes::<32>().map(MasterKey).map_err(|e| e.to_string())
    }

    /// The key in `explicit` (which must exist), or `DATA_DIR/master.key`, made at first start.
    pub fn load_or_create(data_dir: &Path, explicit: Option<&Path>) -> Result<MasterKey, String> {
        let path: PathBuf = explicit.map(Path::to_path_buf).unwrap_or_else(|| data_dir.join(KEY_FILE));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if explicit.is_none() {
                    restrict_file(&path).map_err(|e| format!("master key file {}: {e}", path.display()))?;
                } else if others_can_read(&path) {
                    // A given file may be a read-only mount (a container secret): not ours to chmod.
                    tracing::warn!(path = %path.display(), "the master key file is readable by other users: make it 0600 or 0400");
                }
                let bytes = crate::hex::decode(text.trim()).filter(|b| b.len() == 32).ok_or_else(|| format!("master key file {} must hold 64 hex digits (32 bytes)", path.display()))?;
                Ok(MasterKey(bytes.try_into().expect("32 bytes")))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                let key = MasterKey::generate()?;
                write_private(&path, format!("{}\n", crate::hex::encode(&key.0)).as_bytes(), true).map_err(|e| format!("creating the master key file {}: {e}", path.display()))?;
                tracing::info!(path = %path.display(), "created the master key (keep it, and back it up apart from the database)");
                Ok(key)
            }
            Err(e) => Err(format!("master key file {}: {e}", path.display())),
        }
    }
}

static MASTER: OnceLock<MasterKey> = OnceLock::new();

/// Makes `key` the process's master key. A second, different key is refused (one process serves one
/// database).
pub fn install(key: MasterKey) -> Result<(), StoreError> {
    let installed = MASTER.get_or_init(|| key.clone());
    if *installed != key {
        return Err(StoreError::Io("a different master key is already installed in this process".into()));
    }
    Ok(())
}

/// Installs a random key unless one is installed (in-process tools over fresh databases).
pub fn install_ephemeral() -> Result<(), StoreError> {
    if MASTER.get().is_none() {
        install(MasterKey::generate().map_err(StoreError::Io)?)?;
    }
    Ok(())
}

fn master() -> Result<&'static MasterKey, StoreError> {
    MASTER.get().ok_or_else(|| StoreError::Io("no master key installed".into()))
}

fn aad(table: &str, column: &str, row: &str) -> String {
    format!("{table}.{column}:{row}")
}

/// Seals the value of `table.column` in the row keyed `row`.
pub fn seal(table: &str, column: &str, row: &str, plaintext: &str) -> Result<String, StoreError> {
    let sealed = saoma_wechatpay::aead::seal_raw(&master()?.0, aad(table, column, row).as_bytes(), plaintext.as_bytes()).map_err(|e| StoreError::Io(format!("sealing a secret: {e}")))?;
    Ok(format!("{PREFIX}{}", crate::hex::encode(&sealed)))
}

/// Opens a sealed value of `table.column` in the row keyed `row`. A plaintext value is an error: after
/// start, every secret is sealed.
pub fn open(table: &str, column: &str, row: &str, stored: &str) -> Result<String, StoreError> {
    let wrong = || {
        StoreError::Corrupt(format!(
            "{table}.{column} of {row} does not open under the master key: start with the key file this database was sealed with (--master-key-file, SAOMA_MASTER_KEY_FILE)"
        ))
    };
    let hex = stored.strip_prefix(PREFIX).ok_or_else(|| StoreError::Corrupt(format!("{table}.{column} of {row} is not sealed")))?;
    let bytes = crate::hex::decode(hex).ok_or_else(wrong)?;
    let plain = saoma_wechatpay::aead::open_raw(&master()?.0, aad(table, column, row).as_bytes(), &bytes).map_err(|_| wrong())?;
    String::from_utf8(plain).map_err(|_| wrong())
}

fn row_key(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|i| i.to_string()))
}

/// At start: opens every sealed secret (a wrong master key fails here, clearly) and seals the plaintext
/// ones an older database holds, in one job (so that two processes starting together do it once).
/// Returns how many values were sealed.
pub async fn seal_existing(store: &Store) -> Result<u64, StoreError> {
    master()?;
    store
        .transact(|tx| {
            let mut sealed = 0u64;
            for (table, key, column) in SECRET_COLUMNS {
                for r in tx.query(&format!("SELECT {key}, {column} FROM {table}"), &[])? {
                    let row = row_key(r.value(key)?).ok_or_else(|| StoreError::Corrupt(format!("{table}.{key}")))?;
                    let value = r.opt_text(column)?.ok_or_else(|| StoreError::Corrupt(format!("{table}.{column} of {row}")))?;
                    if value.starts_with(PREFIX) {
                        open(table, column, &row, value)?;
                        continue;
                    }
                    let s = seal(table, column, &row, value)?;
                    tx.execute(&format!("UPDATE {table} SET {column} = $1 WHERE {key} = $2"), &[s.into(), r.value(key)?.clone()])?;
                    sealed += 1;
                }
            }
            Ok(Ok::<u64, ()>(sealed))
        })
        .await?
        .map_err(|_| StoreError::Corrupt("sealing secrets".into()))
}

fn others_can_read(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        return std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0);
    }
    #[allow(unreachable_code)]
    false
}

/// Makes `dir` (created if missing) readable by its owner only: 0700.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes an existing file 0600 (files an older version wrote 0644).
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes a file that only its owner can read (0600 from its creation: never a moment world-readable).
/// `create_new`: fail rather than replace an existing file.
pub fn write_private(path: &Path, contents: &[u8], create_new: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if create_new {
        opts.create_new(true);
    } else {
        opts.create(true).truncate(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    // An existing file keeps its mode through `open`: tighten it too.
    restrict_file(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_own_row() {
        install_ephemeral().unwrap();
        let a = seal("merchants", "apiv3_key", "1600000001", "k".repeat(32).as_str()).unwrap();
        let b = seal("merchants", "apiv3_key", "1600000001", "k".repeat(32).as_str()).unwrap();
        assert!(a.starts_with(PREFIX) && a != b, "a fresh nonce per value");
        assert_eq!(open("merchants", "apiv3_key", "1600000001", &a).unwrap(), "k".repeat(32));
        // Copied to another row or column: refused, and the message names the master key.
        for (t, c, r) in [("merchants", "apiv3_key", "1600000002"), ("platform_keys", "private_key", "1600000001")] {
            assert!(matches!(open(t, c, r, &a), Err(StoreError::Corrupt(m)) if m.contains("master key")));
        }
        // Tampered, or not sealed at all.
        let mut t = a.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'0' { b'1' } else { b'0' };
        assert!(open("merchants", "apiv3_key", "1600000001", std::str::from_utf8(&t).unwrap()).is_err());
        assert!(open("merchants", "apiv3_key", "1600000001", &"k".repeat(32)).is_err());
        // Another key is refused for this process.
        assert!(install(MasterKey::generate().unwrap()).is_err());
    }
}
