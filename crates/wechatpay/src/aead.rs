//! `AEAD_AES_256_GCM` resources: how callbacks and platform certificates reach a merchant. The key is the
//! merchant's 32-character APIv3 key; the nonce is 12 ASCII characters; the ciphertext is
//! base64(ciphertext ‖ 16-byte tag).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
const TAG: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AeadError {
    /// The APIv3 key is not 32 bytes.
    KeyLength,
    /// The nonce is not 12 bytes.
    NonceLength,
    /// Not base64, too short, or the tag does not match (wrong key, tampered, other associated data).
    Unauthentic,
    UnknownAlgorithm(String),
    Crypto(String),
}

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AeadError::KeyLength => write!(f, "the APIv3 key must be 32 bytes"),
            AeadError::NonceLength => write!(f, "the nonce must be 12 bytes"),
            AeadError::Unauthentic => write!(f, "the resource does not decrypt under this key"),
            AeadError::UnknownAlgorithm(a) => write!(f, "unknown algorithm {a}"),
            AeadError::Crypto(e) => write!(f, "crypto: {e}"),
        }
    }
}

impl std::error::Error for AeadError {}

/// A merchant's APIv3 key (32 ASCII characters). Its Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiV3Key(String);

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(redacted)")
    }
}

impl ApiV3Key {
    pub fn new(key: &str) -> Result<ApiV3Key, AeadError> {
        if key.len() != 32 {
            return Err(AeadError::KeyLength);
        }
        Ok(ApiV3Key(key.to_string()))
    }

    pub fn generate() -> Result<ApiV3Key, AeadError> {
        Ok(ApiV3Key(random_string(32)?))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols) with the OS's CSPRNG.
fn random_from(alphabet: &[u8], len: usize) -> Result<String, AeadError> {
    // Rejection sampling: only bytes below the largest multiple of the alphabet's size, so that every
    // symbol is equally likely.
    let limit = (256 / alphabet.len() * alphabet.len()) as u16;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        openssl::rand::rand_bytes(&mut buf).map_err(|e| AeadError::Crypto(e.to_string()))?;
        for b in buf.iter().filter(|b| (**b as u16) < limit) {
            if out.len() == len {
                break;
            }
            out.push(alphabet[*b as usize % alphabet.len()] as char);
        }
    }
    Ok(out)
}

/// Random characters from [0-9A-Za-z]: nonces, keys.
pub fn random_string(len: usize) -> Result<String, AeadError> {
    random_from(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", len)
}

/// Random bytes from OpenSSL's generator (key seeds).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AeadError> {
    let mut b = [0u8; N];
    openssl::rand::rand_bytes(&mut b).map_err(|e| AeadError::Crypto(e.to_string()))?;
    Ok(b)
}

/// Random decimal digits (ids that must look like WeChat Pay's: merchant numbers, key ids).
pub fn random_digits(len: usize) -> Result<String, AeadError> {
    random_from(b"0123456789", len)
}

pub fn encrypt(key: &ApiV3Key, nonce: &str, associated_data: &str, plaintext: &[u8]) -> Result<String, AeadError> {
    if nonce.len() != 12 {
        return Err(AeadError::NonceLength);
    }
    let mut tag = [0u8; TAG];
    let mut ct = encrypt_aead(Cipher::aes_256_gcm(), key.0.as_bytes(), Some(nonce.as_bytes()), associated_data.as_bytes(), plaintext, &mut tag)
        .map_err(|e| AeadError::Crypto(e.to_string()))?;
    ct.extend_from_slice(&tag);
    Ok(B64.encode(ct))
}

pub fn decrypt(key: &ApiV3Key, nonce: &str, associated_data: &str, ciphertext_b64: &str) -> Result<Vec<u8>, AeadError> {
    if nonce.len() != 12 {
        return Err(AeadError::NonceLength);
    }
    let data = B64.decode(ciphertext_b64).map_err(|_| AeadError::Unauthentic)?;
    if data.len() < TAG {
        return Err(AeadError::Unauthentic);
    }
    let (ct, tag) = data.split_at(data.len() - TAG);
    decrypt_aead(Cipher::aes_256_gcm(), key.0.as_bytes(), Some(nonce.as_bytes()), associated_data.as_bytes(), ct, tag).map_err(|_| AeadError::Unauthentic)
}

/// The `resource` / `encrypt_certificate` object of v3 payloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub original_type: Option<String>,
    pub algorithm: String,
    pub ciphertext: String,
    pub associated_data: String,
    pub nonce: String,
}

impl Resource {
    /// Encrypts `plaintext` under a fresh nonce.
    pub fn seal(key: &ApiV3Key, original_type: Option<&str>, associated_data: &str, plaintext: &[u8]) -> Result<Resource, AeadError> {
        let nonce = random_string(12)?;
        Ok(Resource {
            original_type: original_type.map(str::to_string),
            algorithm: ALGORITHM.to_string(),
            ciphertext: encrypt(key, &nonce, associated_data, plaintext)?,
            associated_data: associated_data.to_string(),
            nonce,
        })
    }

    pub fn open(&self, key: &ApiV3Key) -> Result<Vec<u8>, AeadError> {
        if self.algorithm != ALGORITHM {
            return Err(AeadError::UnknownAlgorithm(self.algorithm.clone()));
        }
        decrypt(key, &self.nonce, &self.associated_data, &self.ciphertext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse_tampering() {
        let key = ApiV3Key::generate().unwrap();
        assert_eq!(key.expose().len(), 32);
        assert!(!format!("{key:?}").contains(key.expose()));
        let r = Resource::seal(&key, Some("transaction"), "transaction", br#"{"trade_state":"SUCCESS"}"#).unwrap();
        assert_eq!(r.open(&key).unwrap(), br#"{"trade_state":"SUCCESS"}"#);
        let other = ApiV3Key::generate().unwrap();
        assert_eq!(r.open(&other), Err(AeadError::Unauthentic));
        assert_eq!(Resource { associated_data: "x".into(), ..r.clone() }.open(&key), Err(AeadError::Unauthentic));
        let mut bytes = B64.decode(&r.ciphertext).unwrap();
        bytes[0] ^= 1;
        assert_eq!(Resource { ciphertext: B64.encode(&bytes), ..r.clone() }.open(&key), Err(AeadError::Unauthentic));
        assert_eq!(Resource { ciphertext: "!!".into(), ..r.clone() }.open(&key), Err(AeadError::Unauthentic));
        assert_eq!(Resource { ciphertext: "AAAA".into(), ..r.clone() }.open(&key), Err(AeadError::Unauthentic));
        assert_eq!(Resource { nonce: "short".into(), ..r.clone() }.open(&key), Err(AeadError::NonceLength));
        assert!(matches!(Resource { algorithm: "AES".into(), ..r }.open(&key), Err(AeadError::UnknownAlgorithm(_))));
        assert_eq!(ApiV3Key::new("short"), Err(AeadError::KeyLength));
        let d = random_digits(30).unwrap();
        assert!(d.len() == 30 && d.bytes().all(|b| b.is_ascii_digit()));
    }

    /// A known answer computed with Python's `cryptography` AESGCM (what the `wechatpayv3` SDK uses), so
    /// that the layout (ciphertext ‖ tag, ASCII key and nonce) is pinned down.
    #[test]
    fn known_answer() {
        let key = ApiV3Key::new("0123456789abcdef0123456789abcdef").unwrap();
        let ct = encrypt(&key, "abcdefghijkl", "certificate", b"hello").unwrap();
        assert_eq!(ct, "Aaml06RRGOG9Gl945vRp0EoTToNf");
        assert_eq!(decrypt(&key, "abcdefghijkl", "certificate", &ct).unwrap(), b"hello");
    }
}

/// AES-256-GCM under a raw 32-byte key with a fresh random 96-bit nonce: `nonce ‖ ciphertext ‖ tag`.
/// What the platform seals its own secrets at rest with (the server's master key); not a v3 format.
pub fn seal_raw(key: &[u8; 32], associated_data: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AeadError> {
    let nonce = random_bytes::<12>()?;
    let mut tag = [0u8; TAG];
    let ct = encrypt_aead(Cipher::aes_256_gcm(), key, Some(&nonce), associated_data, plaintext, &mut tag).map_err(|e| AeadError::Crypto(e.to_string()))?;
    let mut out = Vec::with_capacity(12 + ct.len() + TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens what [`seal_raw`] made; `Unauthentic` for a wrong key, other associated data, or tampering.
pub fn open_raw(key: &[u8; 32], associated_data: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    if sealed.len() < 12 + TAG {
        return Err(AeadError::Unauthentic);
    }
    let (nonce, rest) = sealed.split_at(12);
    let (ct, tag) = rest.split_at(rest.len() - TAG);
    decrypt_aead(Cipher::aes_256_gcm(), key, Some(nonce), associated_data, ct, tag).map_err(|_| AeadError::Unauthentic)
}
