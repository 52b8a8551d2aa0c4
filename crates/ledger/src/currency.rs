//! ISO 4217 currencies. Money is always an integer count of the currency's minor unit
//! (fen for CNY, cents for USD, yen for JPY); the exponent says how many digits that is.

use std::fmt;

/// An ISO 4217 alphabetic code known to saoma. Valid by construction: the only ways to
/// get one are [`Currency::parse`] and the constants, so the ledger never sees "XYZ".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// (code, numeric code, minor-unit exponent). The currencies a payment platform in the
/// region meets at its counters, plus the majors for cross-border prices.
const TABLE: &[(&str, u16, u8)] = &[
    ("AED", 784, 2), ("AUD", 36, 2), ("BRL", 986, 2), ("CAD", 124, 2), ("CHF", 756, 2),
    ("CNY", 156, 2), ("CZK", 203, 2), ("DKK", 208, 2), ("EUR", 978, 2), ("GBP", 826, 2),
    ("HKD", 344, 2), ("HUF", 348, 2), ("IDR", 360, 2), ("ILS", 376, 2), ("INR", 356, 2),
    ("JPY", 392, 0), ("KHR", 116, 2), ("KRW", 410, 0), ("KZT", 398, 2), ("LAK", 418, 2),
    ("MMK", 104, 2), ("MNT", 496, 2), ("MOP", 446, 2), ("MXN", 484, 2), ("MYR", 458, 2),
    ("NOK", 578, 2), ("NZD", 554, 2), ("PHP", 608, 2), ("PKR", 586, 2), ("PLN", 985, 2),
    ("QAR", 634, 2), ("RUB", 643, 2), ("SAR", 682, 2), ("SEK", 752, 2), ("SGD", 702, 2),
    ("THB", 764, 2), ("TRY", 949, 2), ("TWD", 901, 2), ("USD", 840, 2), ("VND", 704, 0),
    ("ZAR", 710, 2),
];

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");
    pub const USD: Currency = Currency(*b"USD");
    pub const HKD: Currency = Currency(*b"HKD");
    pub const JPY: Currency = Currency(*b"JPY");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses an upper-case ISO 4217 alphabetic code; `None` for anything saoma does not know.
    pub fn parse(code: &str) -> Option<Currency> {
        TABLE.iter().find(|(c, _, _)| *c == code).map(|(c, _, _)| {
            let b = c.as_bytes();
            Currency([b[0], b[1], b[2]])
        })
    }

    /// The currency with this ISO 4217 numeric code (156 for CNY), if saoma knows it.
    pub fn from_numeric(n: u16) -> Option<Currency> {
        TABLE.iter().find(|(_, num, _)| *num == n).and_then(|(c, _, _)| Currency::parse(c))
    }

    pub fn code(&self) -> &'static str {
        self.entry().0
    }

    fn entry(&self) -> &'static (&'static str, u16, u8) {
        TABLE.iter().find(|(c, _, _)| c.as_bytes() == self.0).expect("constructed from TABLE")
    }

    /// Number of decimal digits of the minor unit (2 for CNY, 0 for JPY).
    pub fn exponent(&self) -> u8 {
        self.entry().2
    }

    pub fn numeric(&self) -> u16 {
        self.entry().1
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        TABLE.iter().map(|(c, _, _)| Currency::parse(c).expect("table entry"))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_codes_only() {
        assert_eq!(Currency::parse("CNY"), Some(Currency::CNY));
        assert_eq!(Currency::CNY.exponent(), 2);
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::CNY.numeric(), 156);
        assert_eq!(Currency::parse("cny"), None);
        assert_eq!(Currency::parse("XYZ"), None);
        assert_eq!(Currency::parse(""), None);
        assert_eq!(Currency::parse("CNYX"), None);
        for c in Currency::all() {
            assert_eq!(Currency::parse(c.code()), Some(c));
            assert_eq!(Currency::from_numeric(c.numeric()), Some(c));
        }
    }
}
