//! The offline cache feed (SPEC 6, `GET /api/offgrid/cache`): the NDJSON format the instance
//! writes and the service worker reads, and an incremental decoder that checks the stream as
//! it arrives.
//!
//! ```text
//! {"type":"header","total":2,"watermark":"W1","full":true}
//! {"type":"record","table":"wm_task","record":{"sys_id":"…","state":"assigned"}}
//! {"type":"delete","table":"wm_task","sys_id":"…"}
//! {"type":"end","count":2,"watermark":"W1"}
//! ```
//!
//! A download is only complete with its end line, and the end line's count must match the
//! records and deletions received: the worker swaps a new cache in only then, so a cut or
//! corrupted download leaves the previous cache as it was.

use crate::record::{is_valid_sys_id, Record};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::Value;

/// The longest line the decoder accepts by default (8 MiB). One record per line, so only a
/// corrupt stream comes near it; the limit keeps such a stream from filling the worker's memory.
pub const DEFAULT_MAX_LINE: usize = 8 * 1024 * 1024;

/// One line of the feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeedLine {
    /// The first line: how many records and deletions follow, and the watermark the download
    /// brings the cache to.
    Header {
        /// Records plus deletions announced, for progress.
        total: u64,
        /// What to send as `?since=` next time.
        watermark: String,
        /// Whether this is the whole offline scope (`true`) or only the changes since a
        /// watermark (`false`).
        full: bool,
    },
    /// A record to store (inserted or changed).
    Record {
        /// Its table.
        table: String,
        /// The record.
        record: Record,
    },
    /// A record to drop from the cache (deleted, or out of the offline scope now).
    Delete {
        /// Its table.
        table: String,
        /// Its `sys_id`.
        sys_id: String,
    },
    /// The last line: how many records and deletions were sent.
    End {
        /// Records plus deletions sent.
        count: u64,
        /// What to send as `?since=` next time.
        watermark: String,
    },
}

/// A feed line that borrows what it carries, so a writer streaming a whole table does not
/// clone every record. Serializes exactly as the [`FeedLine`] it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeedLineRef<'a> {
    /// See [`FeedLine::Header`].
    Header {
        /// Records plus deletions announced.
        total: u64,
        /// What to send as `?since=` next time.
        watermark: &'a str,
        /// Whether this is the whole offline scope.
        full: bool,
    },
    /// See [`FeedLine::Record`].
    Record {
        /// Its table.
        table: &'a str,
        /// The record.
        record: &'a Record,
    },
    /// See [`FeedLine::Delete`].
    Delete {
        /// Its table.
        table: &'a str,
        /// Its `sys_id`.
        sys_id: &'a str,
    },
    /// See [`FeedLine::End`].
    End {
        /// Records plus deletions sent.
        count: u64,
        /// What to send as `?since=` next time.
        watermark: &'a str,
    },
}

impl FeedLine {
    /// This line, borrowed.
    pub fn borrowed(&self) -> FeedLineRef<'_> {
        match self {
            Self::Header {
                total,
                watermark,
                full,
            } => FeedLineRef::Header {
                total: *total,
                watermark,
                full: *full,
            },
            Self::Record { table, record } => FeedLineRef::Record { table, record },
            Self::Delete { table, sys_id } => FeedLineRef::Delete { table, sys_id },
            Self::End { count, watermark } => FeedLineRef::End {
                count: *count,
                watermark,
            },
        }
    }
}

/// Appends one feed line to `out`: its JSON and a newline.
pub fn write_line(out: &mut Vec<u8>, line: &FeedLineRef<'_>) {
    // Cannot fail: every map key is a string and serde_json numbers are always finite.
    serde_json::to_writer(&mut *out, line).expect("a feed line always serializes");
    out.push(b'\n');
}

/// One feed line: its JSON and a newline.
pub fn encode_line(line: &FeedLine) -> String {
    let mut out = Vec::new();
    write_line(&mut out, &line.borrowed());
    // serde_json writes UTF-8.
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// What a complete, valid download announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeedSummary {
    /// Records plus deletions announced by the header.
    pub total: u64,
    /// Records plus deletions received (equal to the end line's count).
    pub count: u64,
    /// The end line's watermark: what to send as `?since=` next time.
    pub watermark: String,
    /// Whether the feed was the whole offline scope rather than changes since a watermark.
    pub full: bool,
}

/// Why a feed is not a valid download. Lines are numbered from 1; nothing from a failed
/// download should be swapped into the cache.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// A line is not JSON.
    #[error("cache download, line {line}: not JSON ({reason}); the download is corrupt, download the cache again")]
    NotJson {
        /// The line.
        line: u64,
        /// The parser's complaint.
        reason: String,
    },
    /// A line's `type` is none of `header`, `record`, `delete`, `end`.
    #[error("cache download, line {line}: unknown line type {found}; expected header, record, delete or end (is the instance a newer version?)")]
    UnknownType {
        /// The line.
        line: u64,
        /// The `type` found, as JSON, or `none`.
        found: String,
    },
    /// A line of a known type lacks a field or has one of the wrong kind.
    #[error("cache download, line {line}: malformed line ({reason}); the download is corrupt, download the cache again")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The stream does not start with a header line.
    #[error("cache download, line {line}: the first line must be a header; this is not an offgrid cache feed")]
    FirstLineNotHeader {
        /// The line.
        line: u64,
    },
    /// A second header line.
    #[error("cache download, line {line}: a second header line; the download is corrupt, download the cache again")]
    SecondHeader {
        /// The line.
        line: u64,
    },
    /// Something follows the end line.
    #[error("cache download, line {line}: data after the end line; the download is corrupt, download the cache again")]
    AfterEnd {
        /// The line.
        line: u64,
    },
    /// A record or delete line without a valid `sys_id` (32 lowercase hex characters).
    #[error("cache download, line {line}: a {table} line without a valid sys_id ({found}); the download is corrupt, download the cache again")]
    InvalidSysId {
        /// The line.
        line: u64,
        /// The line's table.
        table: String,
        /// The `sys_id` found, as JSON, or `none`.
        found: String,
    },
    /// The end line's count differs from the records and deletions received.
    #[error("cache download, line {line}: the end line counts {stated} records and deletions but {seen} arrived; the download is incomplete, download the cache again")]
    CountMismatch {
        /// The end line.
        line: u64,
        /// The end line's count.
        stated: u64,
        /// Records and deletions received.
        seen: u64,
    },
    /// The stream stopped before its end line.
    #[error("cache download stopped after line {line}, before its end line (connection lost?); the previous cache is kept, download again")]
    Truncated {
        /// The last complete line.
        line: u64,
    },
    /// A line longer than the decoder's limit.
    #[error("cache download, line {line}: longer than {max} bytes; the download is corrupt, download the cache again")]
    LineTooLong {
        /// The line.
        line: u64,
        /// The limit in bytes.
        max: usize,
    },
}

/// Where the stream is, as far as validation goes.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// `(total, watermark, full)` of the header, once seen.
    header: Option<(u64, String, bool)>,
    /// Records and deletions seen.
    seen: u64,
    /// The end line's watermark, once seen.
    end: Option<String>,
}

impl Progress {
    /// Checks one parsed line against what came before, and records it.
    fn accept(&mut self, line_no: u64, line: FeedLine) -> Result<FeedLine, FeedError> {
        if self.end.is_some() {
            return Err(FeedError::AfterEnd { line: line_no });
        }
        match (&line, self.header.is_some()) {
            (FeedLine::Header { .. }, true) => {
                return Err(FeedError::SecondHeader { line: line_no })
            }
            (FeedLine::Header { .. }, false) => {}
            (_, false) => return Err(FeedError::FirstLineNotHeader { line: line_no }),
            _ => {}
        }
        match &line {
            FeedLine::Header {
                total,
                watermark,
                full,
            } => self.header = Some((*total, watermark.clone(), *full)),
            FeedLine::Record { table, record } => {
                if !record.sys_id().is_some_and(is_valid_sys_id) {
                    let found = record.get("sys_id").map_or("none".into(), Value::to_string);
                    return Err(invalid_sys_id(line_no, table, found));
                }
                self.seen += 1;
            }
            FeedLine::Delete { table, sys_id } => {
                if !is_valid_sys_id(sys_id) {
                    return Err(invalid_sys_id(
                        line_no,
                        table,
                        Value::from(sys_id.as_str()).to_string(),
                    ));
                }
                self.seen += 1;
            }
            FeedLine::End { count, watermark } => {
                if *count != self.seen {
                    return Err(FeedError::CountMismatch {
                        line: line_no,
                        stated: *count,
                        seen: self.seen,
                    });
                }
                self.end = Some(watermark.clone());
            }
        }
        Ok(line)
    }
}

fn invalid_sys_id(line: u64, table: &str, found: String) -> FeedError {
    FeedError::InvalidSysId {
        line,
        table: table.to_string(),
        found,
    }
}

/// Parses one line, naming what is wrong with it when it does not parse.
fn parse(line_no: u64, bytes: &[u8]) -> Result<FeedLine, FeedError> {
    let err = match serde_json::from_slice::<FeedLine>(bytes) {
        Ok(line) => return Ok(line),
        Err(err) => err,
    };
    if err.classify() != Category::Data {
        return Err(FeedError::NotJson {
            line: line_no,
            reason: err.to_string(),
        });
    }
    // Valid JSON of the wrong shape: parse again, on this error path only, to say which fault.
    let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let Some(object) = value.as_object() else {
        return Err(FeedError::Malformed {
            line: line_no,
            reason: "not a JSON object".to_string(),
        });
    };
    match object.get("type") {
        Some(Value::String(t)) if matches!(t.as_str(), "header" | "record" | "delete" | "end") => {
            Err(FeedError::Malformed {
                line: line_no,
                reason: err.to_string(),
            })
        }
        found => Err(FeedError::UnknownType {
            line: line_no,
            found: found.map_or("none".into(), Value::to_string),
        }),
    }
}

/// Reads a feed as it downloads: push bytes in chunks of any size (split anywhere, even inside
/// a UTF-8 character) and get the complete lines back, validated.
///
/// Memory stays bounded: the decoder keeps only the unfinished line. After an error the
/// decoder keeps answering with that error.
#[derive(Clone, Debug)]
pub struct FeedDecoder {
    /// The bytes of the line not finished yet.
    partial: Vec<u8>,
    /// The longest line accepted, in bytes.
    max_line: usize,
    /// Lines completed so far.
    lines: u64,
    progress: Progress,
    failure: Option<FeedError>,
}

impl Default for FeedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FeedDecoder {
    /// A decoder for a new download, with lines up to [`DEFAULT_MAX_LINE`].
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A decoder accepting lines up to `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            partial: Vec::new(),
            max_line,
            lines: 0,
            progress: Progress::default(),
            failure: None,
        }
    }

    /// Takes the next chunk of the download; returns the lines it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<FeedLine>, FeedError> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let result = self.push_lines(chunk);
        if let Err(failure) = &result {
            self.failure = Some(failure.clone());
        }
        result
    }

    fn push_lines(&mut self, chunk: &[u8]) -> Result<Vec<FeedLine>, FeedError> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(newline);
            rest = &tail[1..];
            self.lines += 1;
            self.check_length(self.lines, head.len())?;
            // Most lines arrive whole within a chunk: parse them in place, without copying.
            let line = if self.partial.is_empty() {
                decode_with(self.lines, &mut self.progress, head)?
            } else {
                self.partial.extend_from_slice(head);
                let line = decode_with(self.lines, &mut self.progress, &self.partial);
                self.partial.clear();
                line?
            };
            lines.extend(line);
        }
        // What is left is the start of the next line.
        self.check_length(self.lines + 1, rest.len())?;
        self.partial.extend_from_slice(rest);
        Ok(lines)
    }

    /// Refuses line `line` if, with `more` bytes added to the unfinished line, it would
    /// exceed the limit.
    fn check_length(&self, line: u64, more: usize) -> Result<(), FeedError> {
        if self.partial.len().saturating_add(more) > self.max_line {
            return Err(FeedError::LineTooLong {
                line,
                max: self.max_line,
            });
        }
        Ok(())
    }

    /// The download ended: checks that it was complete and returns what it announced.
    pub fn finish(mut self) -> Result<FeedSummary, FeedError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if !self.partial.is_empty() {
            // A last line without its newline is fine if it is whole; a cut one means the
            // download stopped mid-line.
            let partial = std::mem::take(&mut self.partial);
            let line_no = self.lines + 1;
            match decode_with(line_no, &mut self.progress, &partial) {
                Ok(_) => self.lines = line_no,
                Err(FeedError::NotJson { .. }) => {
                    return Err(FeedError::Truncated { line: self.lines })
                }
                Err(other) => return Err(other),
            }
        }
        match (self.progress.header, self.progress.end) {
            (Some((total, _, full)), Some(watermark)) => Ok(FeedSummary {
                total,
                count: self.progress.seen,
                watermark,
                full,
            }),
            _ => Err(FeedError::Truncated { line: self.lines }),
        }
    }

    /// `(done, total)`: records and deletions received so far, and the total the header
    /// announced (0 before the header).
    pub fn progress(&self) -> (u64, u64) {
        let total = self.progress.header.as_ref().map_or(0, |h| h.0);
        (self.progress.seen, total)
    }
}

/// Decodes and validates one complete line; blank lines (a keep-alive newline, say) carry
/// nothing and give `None`. A `\r` before the newline is tolerated.
fn decode_with(
    line_no: u64,
    progress: &mut Progress,
    bytes: &[u8],
) -> Result<Option<FeedLine>, FeedError> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let line = parse(line_no, bytes)?;
    progress.accept(line_no, line).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    fn record(sys_id: &str, state: &str) -> FeedLine {
        FeedLine::Record {
            table: "wm_task".to_string(),
            record: Record::from_value(json!({"sys_id": sys_id, "state": state, "short_description": "Überprüfung – 検査"}))
                .unwrap_or_default(),
        }
    }

    /// A valid feed: header, two records, a deletion, end.
    fn lines() -> Vec<FeedLine> {
        vec![
            FeedLine::Header {
                total: 3,
                watermark: "W7".to_string(),
                full: false,
            },
            record(A, "assigned"),
            record(B, "accepted"),
            FeedLine::Delete {
                table: "incident".to_string(),
                sys_id: B.to_string(),
            },
            FeedLine::End {
                count: 3,
                watermark: "W7".to_string(),
            },
        ]
    }

    fn encode(lines: &[FeedLine]) -> String {
        lines.iter().map(encode_line).collect()
    }

    #[test]
    fn borrowed_lines_written_one_after_another_decode_as_the_lines_they_borrow() {
        let mut out = Vec::new();
        for line in lines() {
            write_line(&mut out, &line.borrowed());
        }
        assert_eq!(out, encode(&lines()).into_bytes());
        let mut d = FeedDecoder::new();
        assert_eq!(d.push(&out).unwrap(), lines());
        assert_eq!(d.finish().unwrap().count, 3);
    }

    /// Feeds `text` to a fresh decoder in one chunk and finishes it.
    fn decode_all(text: &str) -> Result<(Vec<FeedLine>, FeedSummary), FeedError> {
        let mut d = FeedDecoder::new();
        let lines = d.push(text.as_bytes())?;
        Ok((lines, d.finish()?))
    }

    fn summary() -> FeedSummary {
        FeedSummary {
            total: 3,
            count: 3,
            watermark: "W7".to_string(),
            full: false,
        }
    }

    #[test]
    fn lines_encode_with_the_spec_shapes() {
        let text = encode(&lines());
        let values: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            values[0],
            json!({"type": "header", "total": 3, "watermark": "W7", "full": false})
        );
        assert_eq!(values[1]["type"], "record");
        assert_eq!(values[1]["table"], "wm_task");
        assert_eq!(values[1]["record"]["sys_id"], A);
        assert_eq!(
            values[3],
            json!({"type": "delete", "table": "incident", "sys_id": B})
        );
        assert_eq!(
            values[4],
            json!({"type": "end", "count": 3, "watermark": "W7"})
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn a_valid_feed_decodes_to_its_lines_and_summary() {
        let (decoded, s) = decode_all(&encode(&lines())).unwrap();
        assert_eq!(decoded, lines());
        assert_eq!(s, summary());
    }

    #[test]
    fn chunks_split_at_every_byte_offset_give_the_same_lines() {
        let bytes = encode(&lines()).into_bytes();
        for cut in 0..=bytes.len() {
            let mut d = FeedDecoder::new();
            let mut decoded = d.push(&bytes[..cut]).unwrap();
            decoded.extend(d.push(&bytes[cut..]).unwrap());
            assert_eq!(decoded, lines(), "cut at {cut}");
            assert_eq!(d.finish().unwrap(), summary(), "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_chunks_give_the_same_lines() {
        let mut d = FeedDecoder::new();
        let mut decoded = Vec::new();
        for b in encode(&lines()).as_bytes() {
            decoded.extend(d.push(std::slice::from_ref(b)).unwrap());
        }
        assert_eq!(decoded, lines());
        assert_eq!(d.finish().unwrap(), summary());
    }

    #[test]
    fn blank_lines_crlf_and_a_missing_final_newline_are_accepted() {
        let text = encode(&lines()).replace('\n', "\r\n");
        let text = format!("{}\n\n", text.trim_end());
        let (decoded, s) = decode_all(&text).unwrap();
        assert_eq!((decoded, s), (lines(), summary()));
        let unterminated = encode(&lines());
        let (decoded, s) = decode_all(unterminated.trim_end()).unwrap();
        // The end line arrives through finish, which only reports the summary.
        assert_eq!((decoded.len(), s), (4, summary()));
    }

    #[test]
    fn progress_counts_records_and_deletions_against_the_header_total() {
        let text = encode(&lines());
        let mut d = FeedDecoder::new();
        assert_eq!(d.progress(), (0, 0));
        let mut seen = Vec::new();
        for line in text.split_inclusive('\n') {
            d.push(line.as_bytes()).unwrap();
            seen.push(d.progress());
        }
        assert_eq!(seen, [(0, 3), (1, 3), (2, 3), (3, 3), (3, 3)]);
    }

    /// The error for `lines` with line `at` (1-based) replaced by `text`.
    fn corrupt(at: usize, text: &str) -> FeedError {
        let mut out: Vec<String> = lines().iter().map(encode_line).collect();
        out[at - 1] = format!("{text}\n");
        decode_all(&out.concat()).unwrap_err()
    }

    #[test]
    fn each_corruption_names_its_fault_and_line() {
        let cases = [
            (corrupt(2, "{\"type\":\"record\",\"table\""), "NotJson", 2),
            (
                corrupt(3, r#"{"type":"upsert","table":"wm_task"}"#),
                "UnknownType",
                3,
            ),
            (corrupt(3, r#"{"table":"wm_task"}"#), "UnknownType", 3),
            (corrupt(3, r#"[1,2]"#), "Malformed", 3),
            (
                corrupt(3, r#"{"type":"record","table":"wm_task","record":7}"#),
                "Malformed",
                3,
            ),
            (
                corrupt(1, encode_line(&record(A, "assigned")).trim_end()),
                "FirstLineNotHeader",
                1,
            ),
            (
                corrupt(
                    2,
                    r#"{"type":"header","total":1,"watermark":"W","full":true}"#,
                ),
                "SecondHeader",
                2,
            ),
            (
                corrupt(
                    2,
                    r#"{"type":"record","table":"wm_task","record":{"state":"x"}}"#,
                ),
                "InvalidSysId",
                2,
            ),
            (
                corrupt(4, r#"{"type":"delete","table":"incident","sys_id":"ABC"}"#),
                "InvalidSysId",
                4,
            ),
            (
                corrupt(5, r#"{"type":"end","count":2,"watermark":"W7"}"#),
                "CountMismatch",
                5,
            ),
        ];
        for (error, kind, line) in cases {
            let debug = format!("{error:?}");
            assert!(debug.starts_with(kind), "{debug} is not {kind}");
            assert!(
                debug.contains(&format!("line: {line}")),
                "{debug} not at line {line}"
            );
            assert!(
                error.to_string().contains(&format!("line {line}")),
                "{error}"
            );
        }
    }

    #[test]
    fn a_record_without_a_valid_sys_id_says_what_it_found() {
        let error = corrupt(
            2,
            r#"{"type":"record","table":"wm_task","record":{"sys_id":"nope"}}"#,
        );
        assert_eq!(
            error,
            FeedError::InvalidSysId {
                line: 2,
                table: "wm_task".to_string(),
                found: "\"nope\"".to_string()
            }
        );
    }

    #[test]
    fn data_after_the_end_line_is_refused() {
        let text = encode(&lines()) + &encode_line(&record(A, "closed"));
        assert_eq!(
            decode_all(&text).unwrap_err(),
            FeedError::AfterEnd { line: 6 }
        );
    }

    #[test]
    fn a_stream_without_its_end_line_is_truncated() {
        let all = lines();
        let text = encode(&all[..4]);
        assert_eq!(
            decode_all(&text).unwrap_err(),
            FeedError::Truncated { line: 4 }
        );
        // Cut in the middle of a record line.
        let cut = &text[..text.len() - 20];
        assert_eq!(
            decode_all(cut).unwrap_err(),
            FeedError::Truncated { line: 3 }
        );
        assert_eq!(
            decode_all("").unwrap_err(),
            FeedError::Truncated { line: 0 }
        );
    }

    #[test]
    fn a_line_over_the_limit_is_refused_before_it_is_buffered_whole() {
        let mut d = FeedDecoder::with_max_line(64);
        let header = encode_line(&lines()[0]);
        assert_eq!(d.push(header.as_bytes()).unwrap().len(), 1);
        let long = "x".repeat(40);
        d.push(long.as_bytes()).unwrap();
        assert_eq!(
            d.push(long.as_bytes()).unwrap_err(),
            FeedError::LineTooLong { line: 2, max: 64 }
        );
        assert!(d.partial.len() <= 64);
        let mut whole = FeedDecoder::with_max_line(64);
        let text = format!("{header}{long}{long}\n");
        assert_eq!(
            whole.push(text.as_bytes()).unwrap_err(),
            FeedError::LineTooLong { line: 2, max: 64 }
        );
    }

    #[test]
    fn after_an_error_the_decoder_keeps_failing() {
        let mut d = FeedDecoder::new();
        let first = d.push(b"not json\n").unwrap_err();
        assert!(matches!(first, FeedError::NotJson { line: 1, .. }));
        assert_eq!(d.push(encode(&lines()).as_bytes()).unwrap_err(), first);
        assert_eq!(d.finish().unwrap_err(), first);
    }

    #[test]
    fn invalid_utf8_is_not_json_not_a_panic() {
        let mut d = FeedDecoder::new();
        let mut bytes = encode_line(&lines()[0]).into_bytes();
        bytes.extend_from_slice(b"{\"type\":\"record\",\"table\":\"\xff\xfe\"}\n");
        assert!(matches!(
            d.push(&bytes),
            Err(FeedError::NotJson { line: 2, .. })
        ));
    }

    #[test]
    fn errors_tell_the_user_what_to_do() {
        let message = FeedError::Truncated { line: 12 }.to_string();
        assert!(message.contains("previous cache is kept"), "{message}");
        assert!(message.contains("download again"), "{message}");
    }
}
