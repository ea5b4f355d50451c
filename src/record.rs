//! Records: JSON objects with the system fields every table shares.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// The fields every record carries, maintained by the store, never by a client.
pub const SYSTEM_FIELDS: [&str; 6] = [
    "sys_id",
    "sys_created_on",
    "sys_updated_on",
    "sys_created_by",
    "sys_updated_by",
    "sys_mod_count",
];

/// One record: a JSON object of field name to value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(pub Map<String, Value>);

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a record from a JSON value; `None` unless it is an object.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self(map)),
            _ => None,
        }
    }

    /// The record as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// A field's value, `None` when missing.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// Sets a field.
    pub fn set(&mut self, field: impl Into<String>, value: impl Into<Value>) {
        self.0.insert(field.into(), value.into());
    }

    /// A field as text (see [`value_text`]); `None` when missing or null.
    pub fn text(&self, field: &str) -> Option<String> {
        self.get(field).and_then(value_text)
    }

    /// The record's `sys_id`, when it has one.
    pub fn sys_id(&self) -> Option<&str> {
        self.get("sys_id").and_then(Value::as_str)
    }

    /// `sys_mod_count`, 0 when missing.
    pub fn mod_count(&self) -> i64 {
        self.get("sys_mod_count")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0)
    }

    /// Stamps the system fields of a record being inserted: a fresh `sys_id` unless the record
    /// brings a valid one, creation and update times and users, and `sys_mod_count` 0.
    pub fn stamp_insert(&mut self, user: &str, now: Timestamp) {
        if !self.sys_id().is_some_and(is_valid_sys_id) {
            self.set("sys_id", new_sys_id());
        }
        let now = now.to_string();
        self.set("sys_created_on", now.clone());
        self.set("sys_updated_on", now);
        self.set("sys_created_by", user);
        self.set("sys_updated_by", user);
        self.set("sys_mod_count", 0);
    }

    /// Stamps the system fields of a record being updated: update time and user, and
    /// `sys_mod_count` + 1.
    pub fn stamp_update(&mut self, user: &str, now: Timestamp) {
        let count = self.mod_count() + 1;
        self.set("sys_updated_on", now.to_string());
        self.set("sys_updated_by", user);
        self.set("sys_mod_count", count);
    }
}

/// A value as the text that queries compare and templates insert: strings as they are,
/// numbers and booleans in their JSON form, `None` for null. Objects and arrays give their
/// JSON text.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Whether `id` is a valid `sys_id`: 32 lowercase hexadecimal characters.
pub fn is_valid_sys_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A new random `sys_id` (32 lowercase hex characters, 128 bits from the platform's secure
/// random source: the OS natively, `crypto.getRandomValues` in the browser).
pub fn new_sys_id() -> String {
    hex(&random_bytes::<16>())
}

/// Whether `id` is a UUID as [`new_uuid`] writes it: 32 lowercase hexadecimal digits in the
/// groups 8-4-4-4-12, separated by hyphens.
pub fn is_valid_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

/// A new random UUID (version 4, hyphenated), used as an outbox entry's idempotency key.
pub fn new_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A `sys_id` derived from an invocation id and a step index, so that a record created by an
/// offline step on the device and by the matching online step on the instance get the same id.
pub fn derived_sys_id(invocation_id: &str, step: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{invocation_id}:{step}").as_bytes());
    hex(&digest[..16])
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the platform's random source failed");
    bytes
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// An instant in UTC, to the second, written `YYYY-MM-DD HH:MM:SS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The instant `secs` seconds later (earlier when negative).
    pub const fn plus(self, secs: i64) -> Self {
        Self(self.0 + secs)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS` (UTC).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        // Read by hand rather than with `time`'s format descriptions, whose parser and
        // formatter were a tenth of the wasm's code (docs/decisions.md); `time` still checks
        // the calendar.
        let bad = || TimestampError(text.to_string());
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 19
            && bytes.iter().enumerate().all(|(i, &b)| match i {
                4 | 7 => b == b'-',
                10 => b == b' ',
                13 | 16 => b == b':',
                _ => b.is_ascii_digit(),
            });
        if !shaped {
            return Err(bad());
        }
        let number = |from: usize, to: usize| {
            bytes[from..to]
                .iter()
                .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'))
        };
        let two = |from: usize| number(from, from + 2) as u8;
        let month = Month::try_from(two(5)).map_err(|_| bad())?;
        let date = Date::from_calendar_date(i32::from(number(0, 4)), month, two(8));
        let time = Time::from_hms(two(11), two(14), two(17));
        match (date, time) {
            (Ok(date), Ok(time)) => Ok(Self(
                PrimitiveDateTime::new(date, time)
                    .assume_utc()
                    .unix_timestamp(),
            )),
            _ => Err(bad()),
        }
    }

    /// The current time from the system clock. Not available on wasm32, where the browser
    /// layer reads `Date.now()` and passes the time in.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Self(secs)
    }

    pub(crate) fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.datetime();
        // A year before 1 BC keeps four digits after its sign, as `time`'s `[year]` wrote it.
        let (sign, year) = if at.year() < 0 {
            ("-", -at.year())
        } else {
            ("", at.year())
        };
        write!(
            f,
            "{sign}{year:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A timestamp that is not `YYYY-MM-DD HH:MM:SS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a timestamp of the form YYYY-MM-DD HH:MM:SS")]
pub struct TimestampError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sys_ids_are_32_lowercase_hex_and_distinct() {
        let a = new_sys_id();
        let b = new_sys_id();
        assert!(is_valid_sys_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_valid_sys_id("ABCDEF0123456789abcdef0123456789"));
        assert!(!is_valid_sys_id("abc"));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert!(is_valid_uuid(&u), "{u}");
        for bad in [
            "",
            "1",
            "e1",
            "0000000-0000-4000-8000-000000000000",
            "00000000-0000-4000-8000-00000000000g",
            "00000000-0000-4000-8000-0000000000000",
            "00000000000040008000000000000000",
            "00000000-0000-4000-8000-00000000000A",
        ] {
            assert!(!is_valid_uuid(bad), "{bad:?}");
        }
    }

    #[test]
    fn derived_ids_are_stable_per_invocation_and_step() {
        let a = derived_sys_id("inv-1", 2);
        assert_eq!(a, derived_sys_id("inv-1", 2));
        assert_ne!(a, derived_sys_id("inv-1", 3));
        assert_ne!(a, derived_sys_id("inv-2", 2));
        assert!(is_valid_sys_id(&a));
    }

    #[test]
    fn timestamps_round_trip_through_text() {
        let t = Timestamp::parse("2026-11-22 05:49:46").unwrap();
        assert_eq!(t.to_string(), "2026-11-22 05:49:46");
        assert_eq!(t.plus(14).to_string(), "2026-11-22 05:50:00");
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01 00:00:00");
        let err = Timestamp::parse("2026-11-22T05:49:46Z").unwrap_err();
        assert!(err.to_string().contains("2026-11-22T05:49:46Z"));
    }

    #[test]
    fn timestamps_outside_the_calendar_or_the_shape_are_refused() {
        for text in [
            "2026-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-00-10 00:00:00",
            "2026-11-22 24:00:00",
            "2026-11-22 05:60:00",
            "2026-11-22 05:49:60",
            "2026-11-22 5:49:46",
            "2026-11-22 05:49:46 ",
            "+2026-11-22 05:49:4",
            "2026-11-22",
            "",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text:?} parsed");
        }
        let leap = Timestamp::parse("2024-02-29 23:59:59").unwrap();
        assert_eq!(leap.plus(1).to_string(), "2024-03-01 00:00:00");
    }

    #[test]
    fn insert_stamps_system_fields_and_keeps_a_valid_client_sys_id() {
        let now = Timestamp::parse("2026-01-02 03:04:05").unwrap();
        let chosen = "0123456789abcdef0123456789abcdef";
        let mut r = Record::from_value(json!({"sys_id": chosen, "number": "WOT1"})).unwrap();
        r.stamp_insert("beth.anglin", now);
        assert_eq!(r.sys_id(), Some(chosen));
        assert_eq!(r.mod_count(), 0);
        assert_eq!(r.text("sys_created_on").unwrap(), "2026-01-02 03:04:05");
        assert_eq!(r.text("sys_created_by").unwrap(), "beth.anglin");

        let mut bad = Record::from_value(json!({"sys_id": "nope"})).unwrap();
        bad.stamp_insert("beth.anglin", now);
        assert!(is_valid_sys_id(bad.sys_id().unwrap()));
    }

    #[test]
    fn update_increments_mod_count_and_sets_updater() {
        let mut r = Record::from_value(json!({"sys_mod_count": 4})).unwrap();
        r.stamp_update("fred.luddy", Timestamp::from_unix(60));
        assert_eq!(r.mod_count(), 5);
        assert_eq!(r.text("sys_updated_by").unwrap(), "fred.luddy");
        assert_eq!(r.text("sys_updated_on").unwrap(), "1970-01-01 00:01:00");
    }

    #[test]
    fn value_text_renders_scalars_and_hides_null() {
        assert_eq!(value_text(&json!("a")), Some("a".into()));
        assert_eq!(value_text(&json!(3)), Some("3".into()));
        assert_eq!(value_text(&json!(2.5)), Some("2.5".into()));
        assert_eq!(value_text(&json!(true)), Some("true".into()));
        assert_eq!(value_text(&json!(null)), None);
    }
}
