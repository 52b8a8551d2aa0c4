//! Paying what the user scanned, in the wallet app (`/scan`, 扫一扫): the text of a QR code pasted in,
//! or a photo of one. A Native order's `code_url` opens its confirmation at `/cashier/scan`; a link of
//! this platform (a collection code, a cashier page, a shop's product card) opens that page. Anything
//! else is refused with what it is and what to do: a link to another site is never followed (a QR code
//! is the easiest way to send someone to a look-alike page), and a payment code is the other person's
//! to show, not to pay.
//!
//! The photo is decoded in two halves: the page draws the picked picture on a canvas (so every format
//! the phone's browser can show works, and nothing larger than 1024 px leaves it) and posts its grey
//! levels; the server finds and reads the QR code in them (`rqrr`). Without script the text path works.

use super::orders;
use crate::http::web::i18n::Msg;
use crate::http::web::{error_box, html_with_script, param, safe_next, script, see_other, session, system_error, Ctx, Params};
use crate::notifications::outbound::parse_url;
use crate::users::home::{login_page, wallet_page, Tab};
use crate::users::User;
use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use maud::{html as markup, PreEscaped};
use saoma_core::order::TradeType;
use std::sync::Arc;

/// The largest side of a photo's grey levels the page sends (it scales the picture down to this).
pub const MAX_SIDE: usize = 1024;

/// Where a scanned text leads, or why it leads nowhere.
pub fn resolve(app: &App, scanned: &str) -> Result<String, Msg> {
    let text = scanned.trim();
    if text.is_empty() {
        return Err(Msg::ScanEmpty);
    }
    if let Some(code) = text.strip_prefix("weixin://wxpay/bizpayurl?pr=") {
        let valid = !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric());
        return match valid.then(|| orders::by_code(app, code)) {
            Some(Ok(Some(o))) if o.trade_type == TradeType::Native => Ok(format!("/cashier/scan?prepay_id={}", o.prepay_id())),
            Some(Err(e)) => {
                tracing::error!(error = %e, "reading a scanned order");
                Err(Msg::SystemError)
            }
            _ => Err(Msg::ScanNoOrder),
        };
    }
    // Somebody's payment code (18 digits): theirs to show to a cashier, not anyone's to pay.
    if text.len() == 18 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Msg::ScanIsPayCode);
    }
    if text.starts_with("http://") || text.starts_with("https://") {
        let (Ok(link), Ok(ours)) = (parse_url(text), parse_url(app.public_base_url())) else { return Err(Msg::ScanUnknown) };
        if link.tls != ours.tls || link.authority != ours.authority {
            return Err(Msg::ScanOtherSite);
        }
        let first = link.path.trim_start_matches('/').split(['/', '?']).next().unwrap_or("");
        return match safe_next(&link.path) {
            Some(path) if ["cashier", "collect", "shop"].contains(&first) => Ok(path.to_string()),
            _ => Err(Msg::ScanUnknown),
        };
    }
    Err(Msg::ScanUnknown)
}

fn page(ctx: &Ctx, user: &User, text: &str, error: Option<Msg>, status: StatusCode) -> Response {
    let body = markup! {
        div.card #scan-card {
            h1 { (ctx.t(Msg::ScanTitle)) }
            (PreEscaped(error_box(error.map(|m| ctx.t(m)))))
            p.muted { (ctx.t(Msg::ScanHint)) }
            form method="post" action="/scan" {
                label for="scan-text" { (ctx.t(Msg::ScanTextLabel)) }
                input #scan-text name="text" type="text" value=(text) autocomplete="off" maxlength="2048" placeholder="weixin://wxpay/bizpayurl?pr=…";
                button #scan-go type="submit" { (ctx.t(Msg::ScanGo)) }
            }
        }
        div.card #photo-card hidden {
            label for="scan-photo" { (ctx.t(Msg::ScanPhotoLabel)) }
            input #scan-photo type="file" accept="image/*";
            p.muted #photo-status role="status" aria-live="polite" data-reading=(ctx.t(Msg::ScanPhotoReading)) data-failed=(ctx.t(Msg::ScanPhotoUnreadable)) {}
        }
        script src="/static/scan.js" defer {}
    };
    html_with_script(status, wallet_page(ctx, user, Tab::Home, ctx.t(Msg::ScanTitle), body))
}

/// `GET /scan`.
pub async fn show(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap) -> Response {
    match session(&app, &headers) {
        Ok(Some(user)) => page(&ctx, &user, "", None, StatusCode::OK),
        Ok(None) => login_page(&ctx, "/scan"),
        Err(e) => system_error(&ctx, e),
    }
}

/// `POST /scan {text}`: on to the page the text leads to, or the form again saying why not.
pub async fn go(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, Form(p): Form<Params>) -> Response {
    let user = match session(&app, &headers) {
        Ok(Some(u)) => u,
        Ok(None) => return login_page(&ctx, "/scan"),
        Err(e) => return system_error(&ctx, e),
    };
    let text = param(&p, "text");
    match resolve(&app, text) {
        Ok(next) => see_other(&next),
        Err(why) => page(&ctx, &user, text.get(..2048).unwrap_or(""), Some(why), StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// Photos being read: finding a code in a picture is CPU work (27 ms for 1024×1024 of noise, measured
/// here), so a process reads one at a time and asks the rest to try again in a moment, rather than
/// letting a burst of uploads take the workers from the payments.
struct Reading(tokio::sync::Semaphore);

impl crate::Part for Reading {
    fn new(_: &crate::Config) -> Self {
        Reading(tokio::sync::Semaphore::new(1))
    }
}

/// The text of the first QR code found in `grey` (`width × height` grey levels, row by row).
pub fn decode(width: usize, height: usize, grey: &[u8]) -> Option<String> {
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE || grey.len() != width * height {
        return None;
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    img.detect_grids().into_iter().find_map(|g| g.decode().ok().map(|(_, text)| text))
}

/// `POST /scan/photo`: the body is the width and the height (4 bytes each, big-endian) and then the grey
/// levels; the answer `{"next"}` or `{"code","message"}`. The page's script is the only caller.
pub async fn photo(State(app): State<Arc<App>>, ctx: Ctx, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let refuse = |status: StatusCode, code: &str, m: Msg| (status, Json(serde_json::json!({ "code": code, "message": ctx.t(m) }))).into_response();
    match session(&app, &headers) {
        Ok(Some(_)) => {}
        Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", Msg::ScanLogIn),
        Err(e) => {
            tracing::error!(error = %e, "scan photo session");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", Msg::SystemError);
        }
    }
    let reading = app.part::<Reading>();
    let Ok(_slot) = reading.0.try_acquire() else { return refuse(StatusCode::TOO_MANY_REQUESTS, "SCAN_BUSY", Msg::ScanBusy) };
    let size = |at: usize| body.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let text = match (size(0), size(4)) {
        (Some(w), Some(h)) => {
            let grey = body.slice(8..);
            crate::app::blocking(move || decode(w, h, &grey))
        }
        _ => None,
    };
    let Some(text) = text else { return refuse(StatusCode::UNPROCESSABLE_ENTITY, "NO_QR_CODE", Msg::ScanPhotoUnreadable) };
    match resolve(&app, &text) {
        Ok(next) => Json(serde_json::json!({ "next": next })).into_response(),
        Err(why) => refuse(StatusCode::UNPROCESSABLE_ENTITY, "NOT_PAYABLE", why),
    }
}

/// Shows the photo picker (it needs script) and sends a picked picture's grey levels, at most
/// `MAX_SIDE` px a side, to `/scan/photo`; then follows the answer or says why not.
const SCAN_JS: &str = r##""use strict";
(function () {
  var card = document.getElementById("photo-card"), input = document.getElementById("scan-photo");
  var status = document.getElementById("photo-status");
  if (!card || !input || !window.createImageBitmap) return;
  card.hidden = false;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    status.textContent = status.getAttribute("data-reading");
    createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, 1024 / Math.max(bitmap.width, bitmap.height));
      var w = Math.max(1, Math.round(bitmap.width * scale)), h = Math.max(1, Math.round(bitmap.height * scale));
      var canvas = document.createElement("canvas");
      canvas.width = w; canvas.height = h;
      var g = canvas.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, w, h);
      g.drawImage(bitmap, 0, 0, w, h);
      var rgba = g.getImageData(0, 0, w, h).data, body = new Uint8Array(8 + w * h), view = new DataView(body.buffer);
      view.setUint32(0, w); view.setUint32(4, h);
      for (var i = 0, j = 8; i < rgba.length; i += 4, j++) body[j] = (rgba[i] * 299 + rgba[i + 1] * 587 + rgba[i + 2] * 114) / 1000;
      return fetch("/scan/photo", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/octet-stream" }, body: body });
    }).then(function (r) { return r.json(); }).then(function (a) {
      if (a.next) location.assign(a.next); else status.textContent = a.message;
    }).catch(function () { status.textContent = status.getAttribute("data-failed"); });
  });
})();
"##;

pub async fn scan_js() -> Response {
    script(SCAN_JS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code drawn by this server's encoder is read back from grey levels, as the page sends them.
    #[test]
    fn reads_a_drawn_code() {
        let text = "weixin://wxpay/bizpayurl?pr=AbC123";
        let m = crate::http::web::qr::Matrix::encode(text).expect("encodes");
        let (quiet, scale) = (4, 6);
        let side = (m.width + 2 * quiet) * scale;
        let mut grey = vec![255u8; side * side];
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = ((x / scale).wrapping_sub(quiet), (y / scale).wrapping_sub(quiet));
                if mx < m.width && my < m.width && m.is_dark(mx, my) {
                    grey[y * side + x] = 0;
                }
            }
        }
        assert_eq!(decode(side, side, &grey).as_deref(), Some(text));
        assert_eq!(decode(side, side, &grey[1..]), None, "the size must match the levels");
        assert_eq!(decode(side, side, &vec![255u8; side * side]), None, "a blank picture holds no code");
    }
}
