//! Base45 (RFC 9285), the text form of a code.
//!
//! Base45 uses exactly the 45 characters of a QR code's alphanumeric mode, so a code carried as
//! Base45 text packs into a QR symbol nearly as tightly as raw bytes while staying printable (for
//! logs, a command line, a clipboard). It is small enough to implement here rather than pull in
//! a dependency a gate vendor would also have to audit.

use crate::Error;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Encodes bytes as Base45 text (RFC 9285 §4).
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |v: usize| out.push(ALPHABET[v % 45] as char);
    for pair in bytes.chunks(2) {
        match *pair {
            [a, b] => {
                let n = usize::from(a) * 256 + usize::from(b);
                push(n % 45);
                push(n / 45 % 45);
                push(n / 2025);
            }
            [a] => {
                let n = usize::from(a);
                push(n % 45);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

fn value(c: u8) -> Result<u32, Error> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|p| p as u32)
        .ok_or(Error::Base45)
}

/// Decodes Base45 text (RFC 9285 §4). Rejects characters outside the alphabet, a dangling
/// single character, and groups whose value does not fit the bytes they stand for, so every
/// byte string has exactly one accepted encoding.
pub fn decode(text: &str) -> Result<Vec<u8>, Error> {
    let text = text.as_bytes();
    let mut out = Vec::with_capacity(text.len() / 3 * 2 + 1);
    for group in text.chunks(3) {
        match *group {
            [c, d, e] => {
                let n = value(c)? + value(d)? * 45 + value(e)? * 2025;
                let n = u16::try_from(n).map_err(|_| Error::Base45)?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            [c, d] => {
                let n = value(c)? + value(d)? * 45;
                out.push(u8::try_from(n).map_err(|_| Error::Base45)?);
            }
            _ => return Err(Error::Base45),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(encode(b"ietf!"), "QED8WEX0");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(decode("%69 VD92EX0").unwrap(), b"Hello!!");
        assert_eq!(decode("GGW"), Err(Error::Base45));
        assert_eq!(decode("A"), Err(Error::Base45));
        assert_eq!(decode("ab"), Err(Error::Base45));
        assert_eq!(decode("").unwrap(), b"");
    }
}
