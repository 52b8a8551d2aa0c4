//! The pages' two languages, Simplified Chinese (the default) and English: every text is a `Msg` of the
//! catalogue (`catalogue.rs`, re-exported here), so that a page function never holds a sentence.
//!
//! The language of a request: an explicit `?lang=zh|en` (which the page also remembers in a cookie, so
//! that the forms that follow keep it), else that cookie, else the browser's `Accept-Language` (English
//! when it prefers English to Chinese), else Chinese. Texts take named arguments (`{amount}`), filled in
//! by [`Lang::fill`] (plain text, for callers that escape) or [`Lang::html`] (escaped text around HTML
//! the caller built).

use super::esc;
pub use super::catalogue::Msg;
use axum::http::{header, HeaderMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie that remembers an explicit choice of language.
pub const LANG_COOKIE: &str = "saoma_lang";

impl Lang {
    /// `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The value of `?lang=` and of the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language an `Accept-Language` header prefers among the two (`None`: neither is listed). The
    /// highest quality wins; at equal quality, the one listed first.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u32)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let primary = range.split('-').next().unwrap_or("");
            let lang = match primary {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                _ => continue,
            };
            // Quality in thousandths (q=0.9 → 900), integer arithmetic; malformed reads as 1.
            let q = parts.find_map(|p| p.trim().strip_prefix("q=").map(quality)).unwrap_or(1000);
            if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }

    /// The language of a request: `?lang=`, the remembered choice, `Accept-Language`, Chinese.
    pub fn of(headers: &HeaderMap, param: Option<&str>) -> Lang {
        param
            .and_then(Lang::from_code)
            .or_else(|| super::cookie(headers, LANG_COOKIE).and_then(Lang::from_code))
            .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language))
            .unwrap_or(Lang::Zh)
    }

    /// The text of `m` in this language.
    pub fn t(self, m: Msg) -> &'static str {
        let (zh, en) = m.pair();
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// `m` with its `{name}`s replaced by `args` (plain text: the caller escapes the result).
    pub fn fill(self, m: Msg, args: &[(&str, &str)]) -> String {
        let mut out = self.t(m).to_string();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// `m` escaped, with its `{name}`s replaced by HTML the caller built (and escaped) itself.
    pub fn html(self, m: Msg, args: &[(&str, &str)]) -> String {
        let mut out = esc(self.t(m));
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// A moment as people here read it: China time to the minute.
    pub fn time(self, unix: i64) -> String {
        let t = saoma_core::time::format_rfc3339_cst(unix);
        let minute = t.get(..16).unwrap_or(&t).replace('T', " ");
        self.fill(Msg::ChinaTime, &[("time", &minute)])
    }
}

/// `0.9` → 900 (at most three decimals, as RFC 9110 allows).
fn quality(s: &str) -> u32 {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac: String = frac.chars().chain("000".chars()).take(3).collect();
    match (whole, frac.parse::<u32>()) {
        ("0", Ok(f)) => f,
        ("1", _) => 1000,
        _ => 1000,
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        for (h, want) in [
            ("en-US,en;q=0.9", Some(Lang::En)),
            ("zh-CN,zh;q=0.9,en;q=0.8", Some(Lang::Zh)),
            ("en;q=0.5, zh;q=0.8", Some(Lang::Zh)),
            ("en;q=0.8, zh;q=0.5", Some(Lang::En)),
            ("fr-FR, en;q=0.3", Some(Lang::En)),
            ("zh-TW, en", Some(Lang::Zh)),
            ("en, zh", Some(Lang::En)),
            ("de, fr", None),
            ("en;q=0", None),
            ("", None),
        ] {
            assert_eq!(Lang::from_accept_language(h), want, "{h}");
        }
        assert_eq!(quality("0.9"), 900);
        assert_eq!(quality("0.05"), 50);
        assert_eq!(quality("1.0"), 1000);
    }

    #[test]
    fn the_language_of_a_request() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of(&h, None), Lang::Zh, "Chinese unless asked otherwise");
        h.insert(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9".parse().unwrap());
        assert_eq!(Lang::of(&h, None), Lang::En);
        h.insert(header::COOKIE, "a=b; saoma_lang=zh".parse().unwrap());
        assert_eq!(Lang::of(&h, None), Lang::Zh, "an explicit choice beats the browser's");
        assert_eq!(Lang::of(&h, Some("en")), Lang::En, "?lang= beats the cookie");
        assert_eq!(Lang::of(&h, Some("xx")), Lang::Zh);
    }

    /// Both languages of every text take the same arguments, and no text is missing.
    #[test]
    fn catalogue_is_complete() {
        let names = |s: &str| {
            let mut v: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string())).collect();
            v.sort();
            v
        };
        for m in Msg::ALL {
            let (zh, en) = m.pair();
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{m:?}");
            assert_eq!(names(zh), names(en), "{m:?}");
        }
        assert_eq!(Lang::Zh.fill(Msg::PayButton, &[("amount", "¥12.50")]), "确认支付 ¥12.50");
        assert_eq!(Lang::En.html(Msg::PayingFrom, &[("phone", "<b>x</b>")]), "Paying from the wallet of <b>x</b>");
        assert_eq!(Lang::Zh.time(0), "1970-01-01 08:00（北京时间）");
    }
}
