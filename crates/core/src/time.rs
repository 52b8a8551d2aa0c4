//! RFC 3339 timestamps as WeChat Pay writes them (`2018-06-08T10:34:56+08:00`), to and from Unix
//! seconds, without a calendar library.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into Unix seconds; `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month[(mo - 1) as usize] || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !(rb[0] == b'+' || rb[0] == b'-') {
                return None;
            }
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 || !rest[1..3].bytes().all(|c| c.is_ascii_digit()) || !rest[4..6].bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Formats Unix seconds in China Standard Time, as WeChat Pay does: `2018-06-08T10:34:56+08:00`.
pub fn format_rfc3339_cst(unix: i64) -> String {
    let local = unix + 8 * 3600;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00", secs / 3600, secs % 3600 / 60, secs % 60)
}

const CST: i64 = 8 * 3600;

/// The start (Unix seconds) of the China day that contains `unix`: days, limits and bills are counted
/// in China time, as WeChat Pay counts them.
pub fn cst_day_start(unix: i64) -> i64 {
    (unix + CST).div_euclid(86_400) * 86_400 - CST
}

/// `YYYY-MM-DD` (a China date) → the Unix second its day starts.
pub fn parse_cst_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    parse_rfc3339(&format!("{s}T00:00:00+08:00"))
}

/// `YYYY-MM-DD HH:MM:SS` in China time (the bills' format).
pub fn format_cst_datetime(unix: i64) -> String {
    let t = format_rfc3339_cst(unix);
    format!("{} {}", &t[..10], &t[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_days() {
        // 2018-06-08T00:00:00+08:00
        let midnight = 1_528_387_200;
        assert_eq!(parse_cst_date("2018-06-08"), Some(midnight));
        assert_eq!(cst_day_start(midnight), midnight);
        assert_eq!(cst_day_start(midnight + 86_399), midnight);
        assert_eq!(cst_day_start(midnight - 1), midnight - 86_400);
        assert_eq!(format_cst_datetime(midnight + 3_723), "2018-06-08 01:02:03");
        assert_eq!(parse_cst_date("2018-6-8"), None);
        assert_eq!(parse_cst_date("2018-02-30"), None);
        assert_eq!(parse_cst_date("2018-06-08T00"), None);
    }

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2018-06-08T10:34:56+08:00"), Some(1_528_425_296));
        assert_eq!(parse_rfc3339("2018-06-08T02:34:56.123Z"), Some(1_528_425_296));
        assert_eq!(format_rfc3339_cst(1_528_425_296), "2018-06-08T10:34:56+08:00");
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00+00:00"), Some(1_709_164_800));
        for bad in ["", "2018-06-08", "2018-13-08T10:34:56+08:00", "2023-02-29T00:00:00Z", "2018-06-08T24:00:00Z", "2018-06-08T10:34:56", "2018-06-08T10:34:56+8:00", "2018-06-08T10:34:56+08:0x", "2018-06-08T10:34:5é+08:00", "２018-06-08T10:34:56Z"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for t in [0i64, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339_cst(t)), Some(t));
        }
    }
}
