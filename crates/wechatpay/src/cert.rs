//! The platform certificate. In certificate mode a merchant's SDK fetches `/v3/certificates`, decrypts
//! each X.509 certificate with its APIv3 key, and matches `Wechatpay-Serial` against the certificate's
//! serial number as an integer (`wechatpayv3` compares `int(serial, 16)`; it sends
//! `hex(serial_number)[2:].upper()`). So serials are positive, have no leading zero nibble, and are
//! written as upper-case hex.

use crate::keys::{KeyError, PrivateKey, PublicKey};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::x509::{X509NameBuilder, X509};

/// A certificate for a platform key.
#[derive(Clone, Debug)]
pub struct Certificate {
    pub pem: String,
    /// Upper-case hex, no leading zeros: as `Wechatpay-Serial` carries it.
    pub serial_hex: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// A random 160-bit serial, positive and with a non-zero first nibble (see the module docs).
pub fn random_serial() -> Result<String, KeyError> {
    let mut b = [0u8; 20];
    openssl::rand::rand_bytes(&mut b).map_err(|e| KeyError::Crypto(e.to_string()))?;
    b[0] = 0x10 + (b[0] % 0x70);
    Ok(b.iter().map(|x| format!("{x:02X}")).collect())
}

fn crypto(e: openssl::error::ErrorStack) -> KeyError {
    KeyError::Crypto(e.to_string())
}

/// Issues a self-signed certificate for `key` (the platform is its own authority here; merchants
/// trust it because it arrives encrypted under their APIv3 key, as with WeChat Pay).
pub fn issue(key: &PrivateKey, serial_hex: &str, common_name: &str, not_before: i64, not_after: i64) -> Result<Certificate, KeyError> {
    let mut name = X509NameBuilder::new().map_err(crypto)?;
    name.append_entry_by_text("C", "CN").map_err(crypto)?;
    name.append_entry_by_text("O", "saoma").map_err(crypto)?;
    name.append_entry_by_text("OU", "saoma platform").map_err(crypto)?;
    name.append_entry_by_text("CN", common_name).map_err(crypto)?;
    let name = name.build();
    let mut b = X509::builder().map_err(crypto)?;
    b.set_version(2).map_err(crypto)?;
    let serial = BigNum::from_hex_str(serial_hex).map_err(crypto)?;
    let serial = Asn1Integer::from_bn(&serial).map_err(crypto)?;
    b.set_serial_number(&serial).map_err(crypto)?;
    b.set_subject_name(&name).map_err(crypto)?;
    b.set_issuer_name(&name).map_err(crypto)?;
    let (from, until) = (Asn1Time::from_unix(not_before as _).map_err(crypto)?, Asn1Time::from_unix(not_after as _).map_err(crypto)?);
    b.set_not_before(&from).map_err(crypto)?;
    b.set_not_after(&until).map_err(crypto)?;
    b.set_pubkey(key.public_key()?.pkey()).map_err(crypto)?;
    b.sign(key.pkey(), MessageDigest::sha256()).map_err(crypto)?;
    let cert = b.build();
    let pem = String::from_utf8(cert.to_pem().map_err(crypto)?).map_err(|e| KeyError::Crypto(e.to_string()))?;
    Ok(Certificate { pem, serial_hex: serial_of(&cert)?, not_before, not_after })
}

fn serial_of(cert: &X509) -> Result<String, KeyError> {
    let hex = cert.serial_number().to_bn().map_err(crypto)?.to_hex_str().map_err(crypto)?;
    Ok(hex.trim_start_matches('0').to_uppercase())
}

/// Reads a certificate back: its serial (as above) and public key. What a client of saoma does.
pub fn parse(pem: &str) -> Result<(String, PublicKey), KeyError> {
    let cert = X509::from_pem(pem.as_bytes()).map_err(|e| KeyError::Pem(e.to_string()))?;
    let key = cert.public_key().map_err(crypto)?;
    Ok((serial_of(&cert)?, PublicKey::from_pkey(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_a_certificate_clients_can_use() {
        let key = PrivateKey::generate().unwrap();
        let serial = random_serial().unwrap();
        assert_eq!(serial.len(), 40);
        assert!(!serial.starts_with('0'));
        let c = issue(&key, &serial, "saoma platform certificate", 1_700_000_000, 1_900_000_000).unwrap();
        assert_eq!(c.serial_hex, serial);
        assert!(c.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let (s, public) = parse(&c.pem).unwrap();
        assert_eq!(s, serial);
        let sig = key.sign(b"1\nn\n{}\n").unwrap();
        assert!(public.verify(b"1\nn\n{}\n", &sig));
        assert!(parse("junk").is_err());
    }
}
