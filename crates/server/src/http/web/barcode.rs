//! Code 128 (ISO/IEC 15417) drawn as SVG: the payment code's barcode, which a cashier's laser scanner
//! reads. Runs of digits go in code set C (two digits a symbol: an 18-digit payment code is nine), other
//! printable ASCII in code set B.

/// Bar and space widths (in modules, bar first) of symbol values 0–106; 106 is the stop symbol, with its
/// final two-module bar. A table of the standard.
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213", //
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132", //
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211", //
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313", //
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331", //
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111", //
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214", //
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", //
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141", //
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141", //
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const CODE_B: u8 = 100;
const CODE_C: u8 = 99;
const START_B: u8 = 104;
const START_C: u8 = 105;
const STOP: u8 = 106;
/// Blank modules each side: a scanner needs them to find the code's edges.
pub const QUIET_ZONE: u32 = 10;

/// The symbol values of `text` (start, data, checksum, stop); `None` for an empty text or a character
/// outside printable ASCII.
pub fn symbols(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.is_empty() || !b.iter().all(|c| (32..127).contains(c)) {
        return None;
    }
    let digit_run = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut out = Vec::with_capacity(b.len() + 4);
    // Set C where at least four digits follow (or the whole text is an even run of digits).
    let mut in_c = digit_run(0) >= 4 || (digit_run(0) == b.len() && b.len() % 2 == 0);
    out.push(if in_c { START_C } else { START_B });
    let mut i = 0;
    while i < b.len() {
        let run = digit_run(i);
        if in_c {
            if run >= 2 {
                out.push((b[i] - b'0') * 10 + (b[i + 1] - b'0'));
                i += 2;
                continue;
            }
            out.push(CODE_B);
            in_c = false;
        } else if run >= 4 {
            // An odd run's first digit goes in B, so that the rest pairs up.
            if run % 2 == 1 {
                out.push(b[i] - 32);
                i += 1;
            }
            out.push(CODE_C);
            in_c = true;
            continue;
        }
        out.push(b[i] - 32);
        i += 1;
    }
    let sum = out.iter().enumerate().map(|(i, &v)| v as u32 * (i as u32).max(1)).sum::<u32>();
    out.push((sum % 103) as u8);
    out.push(STOP);
    Some(out)
}

/// The code's modules left to right, `true` for a bar (quiet zones not included).
pub fn modules(text: &str) -> Option<Vec<bool>> {
    let mut out = Vec::new();
    for s in symbols(text)? {
        for (k, w) in PATTERNS[s as usize].bytes().enumerate() {
            out.extend(std::iter::repeat_n(k % 2 == 0, (w - b'0') as usize));
        }
    }
    Some(out)
}

/// An SVG of `text` as Code 128, `height` modules tall, scaled by its viewer (crisp at any size).
pub fn svg(text: &str, height: u32) -> Option<String> {
    let m = modules(text)?;
    let width = m.len() as u32 + 2 * QUIET_ZONE;
    let mut path = String::new();
    let mut x = 0;
    while x < m.len() {
        if m[x] {
            let w = m[x..].iter().take_while(|&&b| b).count();
            path.push_str(&format!("M{} 0h{w}v{height}h-{w}z", x as u32 + QUIET_ZONE));
            x += w;
        } else {
            x += 1;
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"none\" shape-rendering=\"crispEdges\"><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads modules back into text, as a scanner would: every symbol's widths looked up, the checksum
    /// verified, the code sets followed.
    fn decode(m: &[bool]) -> Option<String> {
        let mut widths = Vec::new();
        let mut i = 0;
        while i < m.len() {
            let w = m[i..].iter().take_while(|&&b| b == m[i]).count();
            widths.push(w as u8);
            i += w;
        }
        let mut values = Vec::new();
        let mut k = 0;
        while k + 6 <= widths.len() {
            let n = if widths.len() - k == 7 { 7 } else { 6 };
            let p: String = widths[k..k + n].iter().map(|w| (b'0' + w) as char).collect();
            values.push(PATTERNS.iter().position(|q| *q == p)? as u8);
            k += n;
        }
        let (&stop, rest) = values.split_last()?;
        let (&check, body) = rest.split_last()?;
        let sum = body.iter().enumerate().map(|(i, &v)| v as u32 * (i as u32).max(1)).sum::<u32>();
        if stop != STOP || sum % 103 != check as u32 {
            return None;
        }
        let mut c = body[0] == START_C;
        let mut out = String::new();
        for &v in &body[1..] {
            match (c, v) {
                (true, CODE_B) => c = false,
                (false, CODE_C) => c = true,
                (true, v) => out.push_str(&format!("{v:02}")),
                (false, v) => out.push((v + 32) as char),
            }
        }
        Some(out)
    }

    #[test]
    fn payment_codes_are_nine_symbols_of_set_c_and_read_back() {
        let s = symbols("134567890123456789").unwrap();
        assert_eq!(s.len(), 1 + 9 + 2);
        assert_eq!(s[0], START_C);
        // The standard's checksum: start + Σ position × value, mod 103.
        assert_eq!(symbols("123456").unwrap(), vec![START_C, 12, 34, 56, 44, STOP]);
        for text in ["134567890123456789", "12345", "1", "ab", "A1234567B", "saoma-收".get(..6).unwrap(), "007", "12a345678"] {
            assert_eq!(decode(&modules(text).unwrap()).as_deref(), Some(text), "{text}");
        }
        assert!(symbols("").is_none() && symbols("收").is_none() && symbols("a\nb").is_none());
        let svg = svg("134567890123456789", 60).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("viewBox=\"0 0 "));
    }
}
