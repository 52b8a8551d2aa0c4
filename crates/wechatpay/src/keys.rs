//! RSA keys and SHA256withRSA (PKCS#1 v1.5) signatures, base64 as v3 carries them; RSA-OAEP (SHA-1) for
//! the sensitive fields SDKs encrypt with the platform key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not a PEM key of the expected kind.
    Pem(String),
    /// RSA below 2048 bits, or not RSA.
    Weak,
    Crypto(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Pem(e) => write!(f, "not a usable PEM key: {e}"),
            KeyError::Weak => write!(f, "an RSA key of at least 2048 bits is required"),
            KeyError::Crypto(e) => write!(f, "crypto: {e}"),
        }
    }
}

impl std::error::Error for KeyError {}

fn crypto(e: openssl::error::ErrorStack) -> KeyError {
    KeyError::Crypto(e.to_string())
}

/// An RSA private key (a merchant's, or the platform's). Its Debug never prints the key.
#[derive(Clone)]
pub struct PrivateKey(PKey<Private>);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA-{}, redacted)", self.0.bits())
    }
}

impl PrivateKey {
    pub fn generate() -> Result<PrivateKey, KeyError> {
        let rsa = Rsa::generate(2048).map_err(crypto)?;
        Ok(PrivateKey(PKey::from_rsa(rsa).map_err(crypto)?))
    }

    /// PKCS#8 (`BEGIN PRIVATE KEY`, what WeChat Pay issues) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<PrivateKey, KeyError> {
        let k = PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
        if k.rsa().is_err() || k.bits() < 2048 {
            return Err(KeyError::Weak);
        }
        Ok(PrivateKey(k))
    }

    /// PKCS#8 PEM, the form SDKs load (`wechatpayv3` adds the PKCS#8 armour if it is missing).
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = self.0.private_key_to_pem_pkcs8().map_err(crypto)?;
        String::from_utf8(pem).map_err(|e| KeyError::Crypto(e.to_string()))
    }

    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        let der = self.0.public_key_to_der().map_err(crypto)?;
        Ok(PublicKey(PKey::public_key_from_der(&der).map_err(crypto)?))
    }

    /// SHA256withRSA over `message`, base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        let mut s = Signer::new(MessageDigest::sha256(), &self.0).map_err(crypto)?;
        s.set_rsa_padding(Padding::PKCS1).map_err(crypto)?;
        s.update(message).map_err(crypto)?;
        Ok(B64.encode(s.sign_to_vec().map_err(crypto)?))
    }

    /// Decrypts a field an SDK encrypted with our public key (RSA-OAEP with SHA-1, base64).
    pub fn decrypt_oaep(&self, ciphertext_b64: &str) -> Result<Vec<u8>, KeyError> {
        let data = B64.decode(ciphertext_b64.trim()).map_err(|e| KeyError::Crypto(e.to_string()))?;
        let rsa = self.0.rsa().map_err(crypto)?;
        let mut out = vec![0u8; rsa.size() as usize];
        let n = rsa.private_decrypt(&data, &mut out, Padding::PKCS1_OAEP).map_err(crypto)?;
        out.truncate(n);
        Ok(out)
    }

    pub(crate) fn pkey(&self) -> &PKey<Private> {
        &self.0
    }
}

/// An RSA public key.
#[derive(Clone, Debug)]
pub struct PublicKey(PKey<Public>);

impl PublicKey {
    /// SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let k = match PKey::public_key_from_pem(pem.as_bytes()) {
            Ok(k) => k,
            Err(_) => {
                let rsa = Rsa::public_key_from_pem_pkcs1(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
                PKey::from_rsa(rsa).map_err(crypto)?
            }
        };
        if k.rsa().is_err() || k.bits() < 2048 {
            return Err(KeyError::Weak);
        }
        Ok(PublicKey(k))
    }

    pub fn to_pem(&self) -> Result<String, KeyError> {
        let pem = self.0.public_key_to_pem().map_err(crypto)?;
        String::from_utf8(pem).map_err(|e| KeyError::Crypto(e.to_string()))
    }

    /// Checks a base64 SHA256withRSA signature. Any malformed input is simply "not valid".
    pub fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(sig) = B64.decode(signature_b64.trim()) else { return false };
        let Ok(mut v) = Verifier::new(MessageDigest::sha256(), &self.0) else { return false };
        if v.set_rsa_padding(Padding::PKCS1).is_err() || v.update(message).is_err() {
            return false;
        }
        v.verify(&sig).unwrap_or(false)
    }

    /// Encrypts a sensitive field for the holder of the private key (RSA-OAEP with SHA-1, base64).
    pub fn encrypt_oaep(&self, plaintext: &[u8]) -> Result<String, KeyError> {
        let rsa = self.0.rsa().map_err(crypto)?;
        let mut out = vec![0u8; rsa.size() as usize];
        let n = rsa.public_encrypt(plaintext, &mut out, Padding::PKCS1_OAEP).map_err(crypto)?;
        out.truncate(n);
        Ok(B64.encode(out))
    }

    pub(crate) fn pkey(&self) -> &PKey<Public> {
        &self.0
    }

    pub(crate) fn from_pkey(k: PKey<Public>) -> PublicKey {
        PublicKey(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_pem_round_trip_and_oaep() {
        let k = PrivateKey::generate().unwrap();
        let pem = k.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(!format!("{k:?}").contains("BEGIN"));
        let k2 = PrivateKey::from_pem(&pem).unwrap();
        let pubk = PublicKey::from_pem(&k.public_key().unwrap().to_pem().unwrap()).unwrap();
        let sig = k2.sign(b"GET\n/v3/certificates\n1\nn\n\n").unwrap();
        assert!(pubk.verify(b"GET\n/v3/certificates\n1\nn\n\n", &sig));
        assert!(!pubk.verify(b"GET\n/v3/certificates\n1\nn\n \n", &sig));
        assert!(!pubk.verify(b"x", "not base64!"));
        assert!(!pubk.verify(b"x", ""));
        let other = PrivateKey::generate().unwrap().public_key().unwrap();
        assert!(!other.verify(b"GET\n/v3/certificates\n1\nn\n\n", &sig));
        let ct = pubk.encrypt_oaep("张三".as_bytes()).unwrap();
        assert_eq!(k.decrypt_oaep(&ct).unwrap(), "张三".as_bytes());
        assert!(PrivateKey::from_pem("junk").is_err());
        let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap().private_key_to_pem_pkcs8().unwrap();
        assert_eq!(PrivateKey::from_pem(std::str::from_utf8(&weak).unwrap()).unwrap_err(), KeyError::Weak);
    }
}
