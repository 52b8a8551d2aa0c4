//! Request authentication. A merchant signs
//! `METHOD\nPATH_WITH_QUERY\nTIMESTAMP\nNONCE\nBODY\n` with its private key and sends
//! `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`
//! (pairs in any order). Responses and callbacks are signed over `TIMESTAMP\nNONCE\nBODY\n` by the platform.

use crate::SIGNATURE_TYPE;
use std::fmt;

/// The parsed `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub signature: String,
    pub timestamp: i64,
    pub serial_no: String,
}

/// Why an `Authorization` header was refused (all answered as 401 `SIGN_ERROR`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// Not `WECHATPAY2-SHA256-RSA2048 …`.
    Schema,
    /// Not a list of `key="value"` pairs.
    Malformed,
    Missing(&'static str),
    Duplicate(String),
    Timestamp,
    /// A value longer than any real one (a cheap bound before anything else is done).
    TooLong(&'static str),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Schema => write!(f, "Authorization must use the {SIGNATURE_TYPE} schema"),
            AuthError::Malformed => write!(f, "Authorization is not a list of key=\"value\" pairs"),
            AuthError::Missing(k) => write!(f, "Authorization lacks {k}"),
            AuthError::Duplicate(k) => write!(f, "Authorization repeats {k}"),
            AuthError::Timestamp => write!(f, "Authorization timestamp is not Unix seconds"),
            AuthError::TooLong(k) => write!(f, "Authorization {k} is too long"),
        }
    }
}

impl std::error::Error for AuthError {}

const FIELDS: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];

impl Authorization {
    pub fn parse(header: &str) -> Result<Authorization, AuthError> {
        let rest = header.trim().strip_prefix(SIGNATURE_TYPE).ok_or(AuthError::Schema)?;
        if !rest.starts_with(' ') {
            return Err(AuthError::Schema);
        }
        let mut values: [Option<String>; 5] = Default::default();
        let mut s = rest.trim_start();
        while !s.is_empty() {
            let eq = s.find('=').ok_or(AuthError::Malformed)?;
            let key = s[..eq].trim();
            let after = s[eq + 1..].trim_start().strip_prefix('"').ok_or(AuthError::Malformed)?;
            let close = after.find('"').ok_or(AuthError::Malformed)?;
            let value = &after[..close];
            s = after[close + 1..].trim_start();
            if let Some(r) = s.strip_prefix(',') {
                s = r.trim_start();
            } else if !s.is_empty() {
                return Err(AuthError::Malformed);
            }
            // Unknown keys are ignored, as WeChat Pay does, so that a future SDK field does not break.
            if let Some(i) = FIELDS.iter().position(|f| *f == key) {
                if values[i].is_some() {
                    return Err(AuthError::Duplicate(key.to_string()));
                }
                let limit = if FIELDS[i] == "signature" { 1024 } else { 64 };
                if value.len() > limit {
                    return Err(AuthError::TooLong(FIELDS[i]));
                }
                values[i] = Some(value.to_string());
            }
        }
        let mut take = |i: usize| values[i].take().filter(|v| !v.is_empty()).ok_or(AuthError::Missing(FIELDS[i]));
        let mchid = take(0)?;
        let nonce_str = take(1)?;
        let signature = take(2)?;
        let timestamp = take(3)?;
        let serial_no = take(4)?;
        if timestamp.is_empty() || timestamp.len() > 12 || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::Timestamp);
        }
        let timestamp = timestamp.parse().map_err(|_| AuthError::Timestamp)?;
        Ok(Authorization { mchid, nonce_str, signature, timestamp, serial_no })
    }

    pub fn to_header(&self) -> String {
        format!(
            "{SIGNATURE_TYPE} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }
}

/// What a merchant signs for a request. `path` includes the query string as sent; `body` is empty for GET.
pub fn request_message(method: &str, path: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n")
}

/// What the platform signs for a response or a callback.
pub fn response_message(timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_order_and_rejects_bad_headers() {
        let h = r#"WECHATPAY2-SHA256-RSA2048 serial_no="5157F09EFDC096DE15EBE81A47057A72",mchid="1900009191", nonce_str="abc",timestamp="1554208460",signature="c2ln""#;
        let a = Authorization::parse(h).unwrap();
        assert_eq!(a.mchid, "1900009191");
        assert_eq!(a.timestamp, 1554208460);
        assert_eq!(Authorization::parse(&a.to_header()).unwrap(), a);
        assert_eq!(Authorization::parse("Bearer x"), Err(AuthError::Schema));
        assert_eq!(Authorization::parse("WECHATPAY2-SHA256-RSA2048"), Err(AuthError::Schema));
        assert_eq!(Authorization::parse(r#"WECHATPAY2-SHA256-RSA2048 mchid="1""#), Err(AuthError::Missing("nonce_str")));
        assert!(matches!(Authorization::parse(&h.replace("nonce_str=\"abc\"", "mchid=\"2\"")), Err(AuthError::Duplicate(_))));
        assert_eq!(Authorization::parse(&h.replace("1554208460", "15x")), Err(AuthError::Timestamp));
        assert_eq!(Authorization::parse(&h.replace("mchid=\"1900009191\"", "mchid=1900009191")), Err(AuthError::Malformed));
        assert_eq!(Authorization::parse(&h.replace("nonce_str=\"abc\"", "nonce_str=\"\"")), Err(AuthError::Missing("nonce_str")));
        assert!(Authorization::parse(&h.replace(",mchid", " mchid")).is_err());
        // Never panics on junk.
        for junk in ["", "WECHATPAY2-SHA256-RSA2048 =", "WECHATPAY2-SHA256-RSA2048 a=\"", "WECHATPAY2-SHA256-RSA2048 ,,,", "WECHATPAY2-SHA256-RSA2048 é=\"ü\""] {
            assert!(Authorization::parse(junk).is_err());
        }
    }

    #[test]
    fn messages() {
        assert_eq!(request_message("GET", "/v3/certificates", 1, "n", ""), "GET\n/v3/certificates\n1\nn\n\n");
        assert_eq!(response_message(1, "n", "{}"), "1\nn\n{}\n");
    }
}
