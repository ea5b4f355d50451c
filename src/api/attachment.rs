//! Attachment bytes as both sides serve them (`GET /api/now/attachment/{sys_id}/file`): the
//! headers that keep an uploaded file from running as the app.

use crate::record::Record;

/// Image types a browser shows without running anything; every other file is a download.
pub const INLINE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// Why a file's content type cannot be kept, if it cannot: it becomes a response header when
/// the file is downloaded, so it must be a short line of visible ASCII (no line break, no
/// control character).
pub fn content_type_fault(content_type: &str) -> Option<String> {
    let fine = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic());
    (!fine).then(|| {
        format!(
            "the content type {content_type:?} is not a media type (visible ASCII on one line, \
             at most 255 characters)"
        )
    })
}

/// The headers of a downloaded file, from its `sys_attachment` record: its stored type
/// (`application/octet-stream` when it is not a valid header), `Content-Disposition:
/// attachment` except for [`INLINE_TYPES`], no sniffing, and a CSP that sandboxes it, so an
/// uploaded page or SVG never runs as the app.
pub fn file_headers(meta: &Record) -> Vec<(&'static str, String)> {
    let stored = meta.text("content_type").unwrap_or_default();
    let content_type = if content_type_fault(&stored).is_none() {
        stored.clone()
    } else {
        "application/octet-stream".to_string()
    };
    let media = stored
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let disposition = if INLINE_TYPES.contains(&media.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    // Only safe characters of the name go in the quoted string.
    let name: String = meta
        .text("file_name")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .collect();
    vec![
        ("Content-Type", content_type),
        (
            "Content-Disposition",
            format!("{disposition}; filename=\"{name}\""),
        ),
        ("X-Content-Type-Options", "nosniff".to_string()),
        (
            "Content-Security-Policy",
            "sandbox; default-src 'none'".to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(content_type: &str, file_name: &str) -> Record {
        Record::from_value(
            json!({"sys_id": "a", "content_type": content_type, "file_name": file_name}),
        )
        .unwrap()
    }

    fn header(headers: &[(&str, String)], name: &str) -> String {
        headers.iter().find(|(n, _)| *n == name).unwrap().1.clone()
    }

    #[test]
    fn an_image_shows_inline_and_anything_else_downloads_sandboxed() {
        let png = file_headers(&meta("image/png", "pump.png"));
        assert_eq!(
            header(&png, "Content-Disposition"),
            "inline; filename=\"pump.png\""
        );
        let html = file_headers(&meta("text/html", "<x>.html"));
        assert_eq!(
            header(&html, "Content-Disposition"),
            "attachment; filename=\"x.html\""
        );
        assert_eq!(
            header(&html, "Content-Security-Policy"),
            "sandbox; default-src 'none'"
        );
        assert_eq!(header(&html, "X-Content-Type-Options"), "nosniff");
    }

    #[test]
    fn a_content_type_that_is_not_a_header_is_served_as_octet_stream() {
        let bad = file_headers(&meta("text/html\r\nX: y", "a"));
        assert_eq!(header(&bad, "Content-Type"), "application/octet-stream");
        assert!(content_type_fault("image/png").is_none());
        assert!(content_type_fault("").is_some());
    }
}
