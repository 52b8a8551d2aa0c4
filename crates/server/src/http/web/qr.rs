//! QR codes as SVG and PNG: the one place saoma draws them (the `/qr.*` endpoints, collection codes,
//! the cashier page, `saoma merchant qr`). The `qrcode` crate encodes (error correction level M, which
//! survives a phone camera on a creased print-out); the drawing is ours: an SVG path, and a 1-bit
//! grayscale PNG written by hand (zlib from `flate2`, CRC-32 below) so that no image library is built.

use qrcode::{Color, EcLevel, QrCode};
use std::io::Write;

/// Light modules around the code, as the QR standard asks (scanners look for this margin).
pub const QUIET_ZONE: usize = 4;
/// The most text a code may carry here: a URL with room to spare, and still a scannable size.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Pixels per module in a PNG unless asked otherwise, and the range one may ask for.
pub const DEFAULT_SCALE: usize = 8;
pub const MAX_SCALE: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrError {
    Empty,
    TooLong,
    /// The encoder refused the text (should not happen below `MAX_TEXT_BYTES`).
    Encode(String),
}

impl std::fmt::Display for QrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QrError::Empty => write!(f, "text is required"),
            QrError::TooLong => write!(f, "text must be at most {MAX_TEXT_BYTES} bytes"),
            QrError::Encode(e) => write!(f, "cannot encode: {e}"),
        }
    }
}

/// The modules of a code, row by row (`true` = dark), without the quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub width: usize,
    pub dark: Vec<bool>,
}

impl Matrix {
    pub fn encode(text: &str) -> Result<Matrix, QrError> {
        Matrix::encode_bytes(text.as_bytes())
    }

    /// Any bytes (a ride code's raw 196 bytes fit version 10 at level M).
    pub fn encode_bytes(data: &[u8]) -> Result<Matrix, QrError> {
        if data.is_empty() {
            return Err(QrError::Empty);
        }
        if data.len() > MAX_TEXT_BYTES {
            return Err(QrError::TooLong);
        }
        let code = QrCode::with_error_correction_level(data, EcLevel::M).map_err(|e| QrError::Encode(e.to_string()))?;
        let width = code.width();
        let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        Ok(Matrix { width, dark })
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// Modules across, quiet zone included.
    pub fn size(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// An SVG that scales to any size (one path; horizontal runs of dark modules as rectangles).
    pub fn svg(&self) -> String {
        let size = self.size();
        let mut path = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let run = (x..self.width).take_while(|&i| self.is_dark(i, y)).count();
                path.push_str(&format!("M{},{}h{run}v1h-{run}z", x + QUIET_ZONE, y + QUIET_ZONE));
                x += run;
            }
        }
        let px = size * 6;
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>\n"
        )
    }

    /// A PNG, `scale` pixels per module (1-bit grayscale: the smallest faithful image of a code).
    pub fn png(&self, scale: usize) -> Vec<u8> {
        let scale = scale.clamp(1, MAX_SCALE);
        let px = self.size() * scale;
        let row_bytes = px.div_ceil(8);
        // Raw scanlines: a filter byte (0, none), then the pixels, 8 to a byte, most significant first;
        // in 1-bit grayscale 1 is white.
        let mut raw = Vec::with_capacity(px * (row_bytes + 1));
        for py in 0..px {
            raw.push(0u8);
            let y = (py / scale).checked_sub(QUIET_ZONE).filter(|&y| y < self.width);
            let mut row = vec![0xFFu8; row_bytes];
            if let Some(y) = y {
                for (px_x, byte) in (0..px).map(|p| (p, p / 8)) {
                    let dark = (px_x / scale).checked_sub(QUIET_ZONE).is_some_and(|x| x < self.width && self.is_dark(x, y));
                    if dark {
                        row[byte] &= !(0x80 >> (px_x % 8));
                    }
                }
            }
            raw.extend_from_slice(&row);
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = z.write_all(&raw);
        let idat = z.finish().unwrap_or_default();
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&(px as u32).to_be_bytes());
        ihdr.extend_from_slice(&(px as u32).to_be_bytes());
        // Bit depth 1, colour type 0 (grayscale), deflate, adaptive filtering, no interlace.
        ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
        let mut out = PNG_SIGNATURE.to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 as PNG (and zip, and Ethernet) computes it: reflected polynomial 0xEDB88320, all ones in and
/// out. Bit by bit: an image is a few kilobytes, so a table would buy nothing.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    const URL: &str = "http://127.0.0.1:8080/collect/1612345678";

    #[test]
    fn crc32_check_values() {
        // The standard check value, and PNG's IEND chunk as every PNG ends.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn matrix_is_a_qr_code() {
        let m = Matrix::encode(URL).unwrap();
        // 40 bytes at level M need version 3: 29 modules.
        assert_eq!(m.width, 29);
        assert_eq!(m.dark.len(), 29 * 29);
        // The three finder patterns: a dark 7×7 ring around a dark 3×3 core, in three corners.
        for (ox, oy) in [(0, 0), (m.width - 7, 0), (0, m.width - 7)] {
            for y in 0..7 {
                for x in 0..7 {
                    let ring = x == 0 || y == 0 || x == 6 || y == 6;
                    let core = (2..=4).contains(&x) && (2..=4).contains(&y);
                    assert_eq!(m.is_dark(ox + x, oy + y), ring || core, "finder at ({ox},{oy}) module ({x},{y})");
                }
            }
        }
        // Timing pattern along row 6 alternates.
        for x in 8..m.width - 8 {
            assert_eq!(m.is_dark(x, 6), x % 2 == 0);
        }
        assert_eq!(Matrix::encode(""), Err(QrError::Empty));
        assert_eq!(Matrix::encode(&"x".repeat(MAX_TEXT_BYTES + 1)), Err(QrError::TooLong));
        assert!(Matrix::encode(&"x".repeat(MAX_TEXT_BYTES)).is_ok());
    }

    /// Reads the SVG's path back into modules: the same matrix, in a viewBox with the quiet zone.
    #[test]
    fn svg_draws_exactly_the_dark_modules() {
        let m = Matrix::encode(URL).unwrap();
        let svg = m.svg();
        let size = m.size();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        let d = svg.split(" d=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
        let mut drawn = vec![false; size * size];
        for rect in d.split('z').filter(|s| !s.is_empty()) {
            // M{x},{y}h{run}v1h-{run}
            let rest = rect.strip_prefix('M').unwrap();
            let (xy, rest) = rest.split_once('h').unwrap();
            let (x, y) = xy.split_once(',').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let (run, back) = rest.split_once("v1h-").unwrap();
            assert_eq!(run, back);
            for i in 0..run.parse::<usize>().unwrap() {
                assert!(!drawn[y * size + x + i], "drawn twice");
                drawn[y * size + x + i] = true;
            }
        }
        for y in 0..size {
            for x in 0..size {
                let want = (QUIET_ZONE..QUIET_ZONE + m.width).contains(&x) && (QUIET_ZONE..QUIET_ZONE + m.width).contains(&y) && m.is_dark(x - QUIET_ZONE, y - QUIET_ZONE);
                assert_eq!(drawn[y * size + x], want, "module ({x},{y})");
            }
        }
    }

    /// Decodes the PNG by hand — signature, chunk CRCs, IHDR, zlib, scanlines — and compares every
    /// pixel with the module it should show.
    #[test]
    fn png_decodes_back_to_the_matrix() {
        let m = Matrix::encode(URL).unwrap();
        for scale in [1, 3, 8] {
            let png = m.png(scale);
            assert_eq!(png[..8], PNG_SIGNATURE);
            let mut chunks = Vec::new();
            let mut at = 8;
            while at < png.len() {
                let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
                let kind = &png[at + 4..at + 8];
                let data = &png[at + 8..at + 8 + len];
                let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
                assert_eq!(crc, crc32(&png[at + 4..at + 8 + len]), "CRC of {}", String::from_utf8_lossy(kind));
                chunks.push((kind.to_vec(), data.to_vec()));
                at += 12 + len;
            }
            assert_eq!(at, png.len());
            let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| k.as_slice()).collect();
            assert_eq!(kinds, [b"IHDR".as_slice(), b"IDAT", b"IEND"]);
            let ihdr = &chunks[0].1;
            let px = m.size() * scale;
            assert_eq!(u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize, px);
            assert_eq!(u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize, px);
            assert_eq!(ihdr[8..], [1, 0, 0, 0, 0]);
            let mut raw = Vec::new();
            flate2::read::ZlibDecoder::new(chunks[1].1.as_slice()).read_to_end(&mut raw).unwrap();
            let row_bytes = px.div_ceil(8);
            assert_eq!(raw.len(), px * (row_bytes + 1));
            for py in 0..px {
                let row = &raw[py * (row_bytes + 1)..(py + 1) * (row_bytes + 1)];
                assert_eq!(row[0], 0, "filter type");
                for pxx in 0..px {
                    let white = row[1 + pxx / 8] & (0x80 >> (pxx % 8)) != 0;
                    let (mx, my) = (pxx / scale, py / scale);
                    let inside = (QUIET_ZONE..QUIET_ZONE + m.width).contains(&mx) && (QUIET_ZONE..QUIET_ZONE + m.width).contains(&my);
                    let dark = inside && m.is_dark(mx - QUIET_ZONE, my - QUIET_ZONE);
                    assert_eq!(!white, dark, "scale {scale} pixel ({pxx},{py})");
                }
            }
        }
    }
}
