//! The digest v3 bills are published with: `hash_type: "SHA1"`, `hash_value` the lower-case hex SHA-1
//! of the bill as uncompressed (原始账单(gzip需要解压缩)的摘要值); and SHA-256, what wallet session
//! tokens are stored as.

/// Lower-case hex SHA-1 of `data`.
pub fn sha1_hex(data: &[u8]) -> String {
    openssl::sha::sha1(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in openssl::sha::sha256(data) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vectors() {
        assert_eq!(super::sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(super::sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(super::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
