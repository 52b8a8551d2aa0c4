//! The printable stand (台卡) of the merchant's static collection code (`cashier::collect`): the QR of
//! `/collect/{mchid}` with the shop's name and 扫码付款, for any of the merchant's staff.
//!
//! `/console/stand.pdf` is one A6 page written here (no PDF crate): the code as vector rectangles, so
//! it prints sharp at any size, and the texts in STSong-Light, a standard CJK font every PDF reader
//! provides (nothing embedded: the server has no Chinese font). For the same reason the PNG is drawn in
//! the browser, which has the fonts: `/static/stand.js` puts the code's image and the texts on a canvas
//! and saves it.

use super::pages::{console_page, live};
use crate::http::web::i18n::Msg;
use crate::http::web::qr::{Matrix, QUIET_ZONE};
use crate::http::web::{html_with_script, script, system_error, url_encode, Ctx};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html as markup, PreEscaped};
use std::fmt::Write;
use std::sync::Arc;

/// A6 in points (105 × 148 mm).
const PAGE_W: f64 = 297.64;
const PAGE_H: f64 = 419.53;
/// The code's side on the page, quiet zone included (about 71 mm).
const QR_SIDE: f64 = 200.0;
const QR_BOTTOM: f64 = 150.0;
/// The widest a text line may be.
const TEXT_MAX_W: f64 = 257.0;

const CSS: &str = ".stand{text-align:center;border:1px solid #ddd;border-radius:.5rem;padding:1rem;max-width:20rem;margin:0 auto 1rem}\
.stand img{width:100%;max-width:16rem;height:auto;image-rendering:pixelated}.stand-pay{font-size:1.6rem;font-weight:600;margin:.25rem 0}\
.stand-name{font-size:1.2rem;margin:.25rem 0;word-break:break-all}.stand-hint{color:#777;font-size:.9rem;margin:.25rem 0}\
.stand-actions{display:flex;flex-wrap:wrap;gap:.75rem}.stand-actions a.button,.stand-actions button{flex:1 1 10rem;text-align:center}";

/// The texts on the stand, in the reader's language.
pub struct StandText<'a> {
    pub pay: &'a str,
    pub name: &'a str,
    pub hint: &'a str,
}

/// A text as the font's UTF-16BE hex string; characters past the BMP (no glyph in UCS-2) become '?'.
pub fn utf16_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 4);
    for c in s.chars() {
        let u = if (c as u32) > 0xFFFF || c.is_control() { '?' as u32 } else { c as u32 };
        let _ = write!(out, "{u:04X}");
    }
    out
}

/// A text's width in em: half-width for ASCII (the font's proportional Roman, `/W [1 95 500]`), else full.
fn width_em(s: &str) -> f64 {
    s.chars().map(|c| if c.is_ascii() { 0.5 } else { 1.0 }).sum()
}

/// One centred line at `y`, its size lowered from `size` until it fits the page.
fn centred(out: &mut String, text: &str, size: f64, y: f64) {
    let w = width_em(text).max(0.5);
    let size = size.min(TEXT_MAX_W / w);
    let x = (PAGE_W - w * size) / 2.0;
    let _ = writeln!(out, "BT /F1 {size:.2} Tf {x:.2} {y:.2} Td <{}> Tj ET", utf16_hex(text));
}

/// The one-page A6 PDF: `url`'s code and the texts.
pub fn pdf(url: &str, t: &StandText<'_>) -> Result<Vec<u8>, crate::http::web::qr::QrError> {
    let m = Matrix::encode(url)?;
    let module = QR_SIDE / m.size() as f64;
    let left = (PAGE_W - QR_SIDE) / 2.0;
    let mut content = String::new();
    // A thin frame to cut along, then the code: each row's runs of dark modules as filled rectangles.
    content.push_str("0.6 G 0.5 w 8 8 281.64 403.53 re S 0 g\n");
    for y in 0..m.width {
        let mut x = 0;
        while x < m.width {
            if !m.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < m.width && m.is_dark(x, y) {
                x += 1;
            }
            let px = left + (start + QUIET_ZONE) as f64 * module;
            // PDF's y grows upwards: row 0 is the top of the code.
            let py = QR_BOTTOM + QR_SIDE - (y + QUIET_ZONE + 1) as f64 * module;
            let _ = writeln!(content, "{px:.3} {py:.3} {:.3} {module:.3} re", (x - start) as f64 * module);
        }
    }
    content.push_str("f\n");
    centred(&mut content, t.pay, 28.0, 368.0);
    centred(&mut content, t.name, 18.0, 112.0);
    centred(&mut content, t.hint, 10.0, 80.0);

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
             /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light-UniGB-UCS2-H /Encoding /UniGB-UCS2-H \
         /DescendantFonts [6 0 R] >>"
            .to_string(),
        "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light \
         /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor 7 0 R /DW 1000 /W [1 95 500] >>"
            .to_string(),
        "<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 \
         /Descent -120 /CapHeight 880 /StemV 93 >>"
            .to_string(),
    ];
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for o in offsets {
        let _ = write!(tail, "{o:010} 00000 n \n");
    }
    let _ = write!(tail, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

/// The staff member's shop, with the URL its code encodes.
fn shop(app: &App, ctx: &Ctx, mchid: &str) -> Result<(String, String), Response> {
    match crate::merchants::get(app, mchid) {
        Ok(Some(m)) => Ok((m.name.clone(), crate::cashier::collect::collect_url(app, &m))),
        Ok(None) => Err(system_error(ctx, "the staff member's merchant is gone")),
        Err(e) => Err(system_error(ctx, e)),
    }
}

/// `GET /console/stand` (any staff): the stand as it prints, the PDF to download, the PNG to save.
pub(super) async fn page(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let staff = match live(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let (name, _) = match shop(&app, &ctx, &staff.mchid) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let qr = format!("/collect/{}/qr.png?scale=8", url_encode(&staff.mchid));
    let body = markup! {
        style { (PreEscaped(CSS)) }
        div.card #stand-card {
            h1 { (ctx.t(Msg::ConsoleStandTitle)) }
            p.muted { (ctx.t(Msg::ConsoleStandIntro)) }
            figure.stand #stand {
                p.stand-pay #stand-pay { (ctx.t(Msg::ConsoleStandPay)) }
                img #stand-qr src=(qr) alt=(ctx.t(Msg::ConsoleStandQrAlt)) width="296" height="296";
                p.stand-name #stand-name { (name) }
                p.stand-hint #stand-hint { (ctx.t(Msg::ConsoleStandHint)) }
            }
            div.stand-actions {
                a.button #stand-pdf href="/console/stand.pdf" download { (ctx.t(Msg::ConsoleStandPdf)) }
                // Shown by stand.js: without script there is no PNG to draw.
                button #stand-png type="button" hidden data-file=(format!("stand-{}.png", staff.mchid)) { (ctx.t(Msg::ConsoleStandPng)) }
            }
            p.muted #stand-png-error role="alert" hidden { (ctx.t(Msg::ConsoleStandPngFailed)) }
        }
        script src="/static/stand.js" defer {}
    };
    html_with_script(StatusCode::OK, console_page(&ctx, &app, &staff, "/console/stand", ctx.t(Msg::ConsoleStandTitle), body))
}

/// `GET /console/stand.pdf` (any staff): the stand as an A6 PDF attachment.
pub(super) async fn pdf_file(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    let staff = match live(&app, &ctx, &headers) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let (name, url) = match shop(&app, &ctx, &staff.mchid) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let text = StandText { pay: ctx.t(Msg::ConsoleStandPay), name: &name, hint: ctx.t(Msg::ConsoleStandHint) };
    let bytes = match pdf(&url, &text) {
        Ok(b) => b,
        Err(e) => return system_error(&ctx, e),
    };
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"stand-{}.pdf\"", staff.mchid)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// Draws the stand on a canvas from the page's own image and texts (the browser has the Chinese fonts,
/// the server none) and saves it as a PNG.
const STAND_JS: &str = r##"(function () {
  var button = document.getElementById("stand-png");
  var img = document.getElementById("stand-qr");
  if (!button || !img) return;
  function text(id) { var e = document.getElementById(id); return e ? e.textContent : ""; }
  function line(c, s, size, y, weight) {
    var px = size;
    do { c.font = weight + " " + px + "px sans-serif"; px -= 2; } while (c.measureText(s).width > 660 && px > 12);
    c.fillText(s, 375, y);
  }
  function draw() {
    var canvas = document.createElement("canvas");
    canvas.width = 750; canvas.height = 1060;
    var c = canvas.getContext("2d");
    c.fillStyle = "#fff"; c.fillRect(0, 0, 750, 1060);
    c.strokeStyle = "#999"; c.lineWidth = 2; c.strokeRect(20, 20, 710, 1020);
    c.fillStyle = "#111"; c.textAlign = "center"; c.textBaseline = "alphabetic";
    line(c, text("stand-pay"), 72, 150, "bold");
    c.imageSmoothingEnabled = false;
    c.drawImage(img, 125, 200, 500, 500);
    line(c, text("stand-name"), 48, 800, "normal");
    c.fillStyle = "#666";
    line(c, text("stand-hint"), 28, 870, "normal");
    return canvas;
  }
  function save() {
    var canvas = draw();
    window.__standPng = canvas.toDataURL("image/png").length;
    canvas.toBlob(function (blob) {
      if (!blob) { document.getElementById("stand-png-error").hidden = false; return; }
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = button.getAttribute("data-file") || "stand.png";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }, "image/png");
  }
  function ready() { button.hidden = false; }
  if (img.complete && img.naturalWidth) ready(); else img.addEventListener("load", ready);
  button.addEventListener("click", save);
})();
"##;

pub(super) async fn stand_js() -> Response {
    script(STAND_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rectangles drawn, read back module by module, are the code's dark modules exactly.
    #[test]
    fn the_rectangles_are_the_code() {
        let url = "https://pay.example.com/collect/1900000109";
        let t = StandText { pay: "扫码付款", name: "咖啡馆 Cafe", hint: "扫码后输入金额付款" };
        let bytes = pdf(url, &t).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let m = Matrix::encode(url).unwrap();
        let module = QR_SIDE / m.size() as f64;
        let left = (PAGE_W - QR_SIDE) / 2.0;
        let mut drawn = vec![false; m.width * m.width];
        for line in text.lines().filter(|l| l.ends_with(" re") && !l.contains(" G ")) {
            let n: Vec<f64> = line.split(' ').take(4).map(|v| v.parse().unwrap()).collect();
            let col = ((n[0] - left) / module).round() as usize - QUIET_ZONE;
            let row = ((QR_BOTTOM + QR_SIDE - n[1]) / module).round() as usize - QUIET_ZONE - 1;
            let run = (n[2] / module).round() as usize;
            assert!((n[3] - module).abs() < 0.01, "{line}");
            for x in col..col + run {
                assert!(!drawn[row * m.width + x], "drawn twice: {line}");
                drawn[row * m.width + x] = true;
            }
        }
        assert_eq!(drawn, m.dark);
        assert!(text.contains("<626B7801540E8F93516591D1989D4ED86B3E> Tj"), "the hint as UTF-16BE");
        assert_eq!(utf16_hex("a😀"), "0061003F");
    }
}
