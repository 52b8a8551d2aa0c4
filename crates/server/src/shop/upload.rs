//! Reading a `multipart/form-data` body: the console's product form, which carries a picture file, as a
//! browser sends it without script. Strict and small: the boundary from the content type, at most
//! [`MAX_PARTS`] parts, each with a `Content-Disposition: form-data; name="…"`; anything else is refused
//! (`None`), never guessed at. The body's size is capped before this runs (`http::conn::MAX_BODY`).

use std::collections::HashMap;

const MAX_PARTS: usize = 16;

/// One part: its field name, whether it was a file, and its bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub file: bool,
    pub data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let b = parts.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })?;
    (!b.is_empty() && b.len() <= 70 && b.bytes().all(|c| c.is_ascii_graphic() || c == b' ')).then_some(b)
}

/// A `name="…"` parameter of a Content-Disposition value.
fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a multipart body, in order; `None` when it is not one.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let delimiter = format!("--{}", boundary(content_type)?).into_bytes();
    let next_delimiter = [b"\r\n".as_slice(), &delimiter].concat();
    let mut pos = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2)? == b"--" {
            return Some(parts);
        }
        if body.get(pos..pos + 2)? != b"\r\n" || parts.len() == MAX_PARTS {
            return None;
        }
        let head_end = find(body, b"\r\n\r\n", pos + 2)?;
        let head = std::str::from_utf8(&body[pos + 2..head_end]).ok()?;
        let disposition = head.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case("content-disposition").then(|| v.trim().to_string())
        })?;
        if !disposition.to_ascii_lowercase().starts_with("form-data") {
            return None;
        }
        let name = disposition_param(&disposition, "name")?;
        let file = disposition_param(&disposition, "filename").is_some();
        let data_start = head_end + 4;
        let data_end = find(body, &next_delimiter, data_start)?;
        parts.push(Part { name, file, data: body[data_start..data_end].to_vec() });
        pos = data_end + next_delimiter.len();
    }
}

/// The text fields of the parts (a field that is not UTF-8 reads as empty).
pub fn fields(parts: &[Part]) -> HashMap<String, String> {
    parts.iter().filter(|p| !p.file).map(|p| (p.name.clone(), String::from_utf8(p.data.clone()).unwrap_or_default())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_browser_form() {
        let ct = "multipart/form-data; boundary=----WebKitFormBoundaryAbC";
        let body = b"------WebKitFormBoundaryAbC\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\xe8\x8b\xb9\xe6\x9e\x9c\r\n\
------WebKitFormBoundaryAbC\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"a.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\nx\r\n\
------WebKitFormBoundaryAbC--\r\n";
        let parts = parse(ct, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(fields(&parts)["name"], "苹果");
        assert!(parts[1].file);
        assert_eq!(parts[1].data, b"\x89PNG\r\n\x1a\n\r\nx");
        // No file chosen: an empty file part.
        let empty = b"--B\r\nContent-Disposition: form-data; name=\"picture\"; filename=\"\"\r\n\r\n\r\n--B--";
        assert_eq!(parse("multipart/form-data; boundary=\"B\"", empty).unwrap()[0].data, b"");
        for (ct, body) in [
            ("application/x-www-form-urlencoded", &b"a=b"[..]),
            ("multipart/form-data", b"--B\r\n"),
            ("multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"),
            ("multipart/form-data; boundary=B", b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--"),
            ("multipart/form-data; boundary=B", b"no delimiter"),
            ("multipart/form-data; boundary=B", b"--B"),
        ] {
            assert_eq!(parse(ct, body), None, "{ct} {:?}", String::from_utf8_lossy(body));
        }
    }
}
