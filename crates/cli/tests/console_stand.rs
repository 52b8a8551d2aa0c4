//! The printable collection-code stand in the merchant console (`/console/stand`, `/console/stand.pdf`)
//! through a real server on both backends: any of the merchant's staff, a cashier too, gets the A6 PDF —
//! a well-formed file (header, `%%EOF`, an xref every offset of which points at its object, a
//! `startxref` pointing at the xref), the A6 MediaBox, the standard CJK font STSong-Light, the shop's
//! name and 扫码付款 as UTF-16BE hex, the code as filled rectangles — of their own shop only: another
//! shop's staff get theirs, never this one's; logged out, the login. In headless Chromium
//! (`console_stand_browser.py`): a cashier opens the stand from the tabs and the page's script draws the
//! PNG on a canvas. `SAOMA_SCREENS=DIR` saves console-stand*.png.

mod support;

use serde_json::json;
use support::console::{add_staff, get, header, log_in};
use support::Server;

fn hex(s: &str) -> String {
    s.encode_utf16().map(|u| format!("{u:04X}")).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Checks the PDF's structure and answers its text (it is ASCII past the binary comment line).
fn well_formed(b: &str, pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "{b}: no header");
    assert!(pdf.ends_with(b"%%EOF\n"), "{b}: no %%EOF at the end");
    let text = String::from_utf8_lossy(pdf).to_string();
    let at = text.rfind("startxref\n").expect("startxref");
    let offset: usize = text[at + 10..].lines().next().unwrap().trim().parse().unwrap();
    assert_eq!(&pdf[offset..offset + 4], b"xref", "{b}: startxref points at {offset}");
    // Each in-use xref entry points at "N 0 obj".
    let table = String::from_utf8_lossy(&pdf[offset..]).to_string();
    let mut lines = table.lines().skip(1);
    let count: usize = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    assert!(count >= 6, "{b}: {count} objects");
    for (n, entry) in lines.take(count).enumerate() {
        assert_eq!(entry.len(), 19, "{b}: entry {n} {entry:?} (20 bytes with its line end)");
        if n == 0 {
            assert!(entry.ends_with(" f "), "{entry}");
            continue;
        }
        let o: usize = entry[..10].parse().unwrap();
        assert!(pdf[o..].starts_with(format!("{n} 0 obj").as_bytes()), "{b}: object {n} is not at {o}");
    }
    // The content stream's /Length is its length.
    let s = find(pdf, b"stream\n").unwrap() + 7;
    let e = find(pdf, b"endstream").unwrap();
    let len_at = text[..s].rfind("/Length ").unwrap() + 8;
    let len: usize = text[len_at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
    assert_eq!(len, e - s, "{b}: the stream's /Length");
    text
}

#[test]
fn staff_print_their_own_shops_stand() {
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("咖啡馆 Cafe", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        let other = s.merchant("面包房", "public_key");
        let other_id = other["mchid"].as_str().unwrap().to_string();
        add_staff(&s, &mchid, "13800000001", "小李", "cashier", "cashier-pass-1");
        add_staff(&s, &other_id, "13800000002", "老王", "manager", "manager-pass-1");

        // Logged out: the login, no PDF.
        for path in ["/console/stand.pdf", "/console/stand"] {
            let r = get(&s, path, "");
            assert_eq!(r.status, 200, "{b}: {path}");
            assert!(r.body.contains("id=\"phone\"") && !r.bytes.starts_with(b"%PDF"), "{b}: {path}: {}", r.body);
        }

        let cashier = log_in(&s, "13800000001", "cashier-pass-1");
        let page = get(&s, "/console/stand", &cashier);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!("src=\"/collect/{mchid}/qr.png?scale=8\"")), "{}", page.body);
        assert!(page.body.contains("id=\"stand-name\">咖啡馆 Cafe<") && page.body.contains("扫码付款"), "{}", page.body);
        assert!(page.body.contains("href=\"/console/stand.pdf\"") && page.body.contains("src=\"/static/stand.js\""), "{}", page.body);
        assert!(page.body.contains("href=\"/console/stand\""), "{b}: a cashier's tabs lead to the stand");
        assert!(page.body.len() < 100_000);
        let js = get(&s, "/static/stand.js", "");
        assert_eq!(js.status, 200);
        assert!(js.body.contains("toBlob") && header(&js, "content-type").unwrap().starts_with("text/javascript"));
        // The image the page shows is the code's, on the public route.
        let png = get(&s, &format!("/collect/{mchid}/qr.png?scale=8"), "");
        assert_eq!((png.status, &png.bytes[..4]), (200, &b"\x89PNG"[..]));

        let r = get(&s, "/console/stand.pdf", &cashier);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(header(&r, "content-type"), Some("application/pdf"));
        assert_eq!(header(&r, "content-disposition"), Some(format!("attachment; filename=\"stand-{mchid}.pdf\"").as_str()));
        let text = well_formed(b, &r.bytes);
        assert!(text.contains("/MediaBox [0 0 297.64 419.53]"), "{b}: A6");
        assert!(text.contains("/BaseFont /STSong-Light") && text.contains("/Encoding /UniGB-UCS2-H"), "{b}: the CJK font");
        assert!(text.contains("/Subtype /CIDFontType0"), "{b}: its CIDFont");
        assert!(text.contains("/Registry (Adobe) /Ordering (GB1)"));
        assert!(text.contains(&format!("<{}> Tj", hex("咖啡馆 Cafe"))), "{b}: the name as UTF-16BE");
        assert!(text.contains(&format!("<{}> Tj", hex("扫码付款"))), "{b}: 扫码付款");
        assert!(text.contains(&format!("<{}> Tj", hex("扫码后输入金额付款"))), "{b}: the amount-free hint");
        assert!(!text.contains(&hex("面包房")), "{b}: not the other shop's name");
        let rects = text.lines().filter(|l| l.ends_with(" re")).count();
        assert!(rects > 100, "{b}: the code as rectangles ({rects})");
        assert!(text.contains("re\nf\n"), "{b}: filled");

        // Another shop's manager gets their own shop's stand: nothing asks for a merchant, none is leaked.
        let manager = log_in(&s, "13800000002", "manager-pass-1");
        let theirs = get(&s, "/console/stand.pdf", &manager);
        assert_eq!(header(&theirs, "content-disposition"), Some(format!("attachment; filename=\"stand-{other_id}.pdf\"").as_str()));
        let text = well_formed(b, &theirs.bytes);
        assert!(text.contains(&hex("面包房")) && !text.contains(&hex("咖啡馆 Cafe")), "{b}: their own shop");
        let page = get(&s, &format!("/console/stand?mchid={mchid}"), &manager);
        let (theirs, mine) = (format!("/collect/{other_id}/qr.png"), format!("/collect/{mchid}"));
        assert!(page.body.contains(&theirs) && !page.body.contains(&mine), "{b}: {}", page.body);
    }
}

#[test]
fn browser_a_cashier_saves_the_stand_as_png() {
    if !support::browser_available("console stand") {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console_stand_browser.py");
    for s in Server::all(true) {
        let b = s.backend;
        let m = s.merchant("咖啡馆 Cafe", "public_key");
        let mchid = m["mchid"].as_str().unwrap().to_string();
        add_staff(&s, &mchid, "13700000001", "小李", "cashier", "cashier-pass-1");
        let screens = std::env::var("SAOMA_SCREENS").ok().filter(|_| b == "sqlite");
        let spec = json!({"base": s.base, "phone": "13700000001", "password": "cashier-pass-1", "screens": screens});
        let mut said = Vec::new();
        support::run_browser(&s, script, &spec, |words| match words {
            ["SMS", phone] => Some(support::console::console_code(&s, phone)),
            _ => {
                said.push(words.join(" "));
                None
            }
        });
        let png: usize = said.iter().find_map(|w| w.strip_prefix("PNG ")).unwrap_or_else(|| panic!("{b}: {said:?}")).parse().unwrap();
        assert!(png > 20_000, "{b}: the canvas's PNG is {png} characters of data URL");
        assert!(said.iter().any(|w| w == "NAME 咖啡馆 Cafe"), "{b}: {said:?}");
    }
}
