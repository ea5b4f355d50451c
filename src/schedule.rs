//! Scheduled caching (SPEC 6): the user's work days and a time of day at which the offline
//! cache is downloaded, optionally only over Wi-Fi.
//!
//! A schedule is a series of instants ("slots"). The worker downloads when the latest slot has
//! passed and the last download is older than it, whenever it gets to run (start, periodic
//! sync, a page's heartbeat, a timer): so a slot missed while the device was off is caught up
//! at the next chance, once.

use crate::record::Timestamp;
use serde::{Deserialize, Serialize};
use time::Weekday;

const DAY_S: i64 = 86_400;
/// The widest zone offset in use (UTC+14, UTC−12 are inside it), in minutes.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl From<Weekday> for Day {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Monday => Self::Mon,
            Weekday::Tuesday => Self::Tue,
            Weekday::Wednesday => Self::Wed,
            Weekday::Thursday => Self::Thu,
            Weekday::Friday => Self::Fri,
            Weekday::Saturday => Self::Sat,
            Weekday::Sunday => Self::Sun,
        }
    }
}

/// The user's download schedule, set in Settings. Fields left out take their defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Schedule {
    /// Whether scheduled downloads happen at all (default false).
    pub enabled: bool,
    /// The days on which to download.
    pub days: Vec<Day>,
    /// The local time of day, `HH:MM` (default `07:00`, before a working day starts).
    pub time: String,
    /// Download only over Wi-Fi or Ethernet (default false: browsers that do not report the
    /// connection type would otherwise never download).
    pub wifi_only: bool,
    /// The user's time zone offset from UTC in minutes, e.g. 60 for UTC+1 (default 0). The app
    /// sends it with the schedule, since the worker has no reliable zone of its own; it is
    /// fixed, so a daylight-saving change shifts the slot by an hour until the app sends the
    /// new offset.
    pub utc_offset_minutes: i32,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            enabled: false,
            days: Vec::new(),
            time: "07:00".to_string(),
            wifi_only: false,
            utc_offset_minutes: 0,
        }
    }
}

/// A schedule that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The time is not `HH:MM` between 00:00 and 23:59.
    #[error("schedule time '{0}' is not a time of day written HH:MM, from 00:00 to 23:59")]
    BadTime(String),
    /// The offset is beyond any time zone.
    #[error(
        "time zone offset {0} minutes is outside UTC-14:00 to UTC+14:00 (-840 to 840 minutes)"
    )]
    BadOffset(i32),
    /// Enabled with no day chosen: it would never download.
    #[error("choose at least one day of the week for scheduled downloads, or turn them off")]
    NoDays,
}

/// What the worker should do about the schedule now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// A slot has passed since the last download: download now.
    Download,
    /// No slot has passed since the last download (or the schedule is off).
    NotDue,
    /// Due, but the schedule wants Wi-Fi and the device is on another connection.
    WaitForWifi {
        /// The connection type the browser reports, e.g. `cellular`.
        connection: String,
    },
    /// Due, but the schedule wants Wi-Fi and the browser does not say which connection it has
    /// (the Network Information API is missing or reports `unknown`): the status says so.
    ConnectionUnknown,
}

impl Schedule {
    /// Checks the time, the offset, and that an enabled schedule has a day.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if parse_time(&self.time).is_none() {
            return Err(ScheduleError::BadTime(self.time.clone()));
        }
        if self.utc_offset_minutes.abs() > MAX_OFFSET_MINUTES {
            return Err(ScheduleError::BadOffset(self.utc_offset_minutes));
        }
        if self.enabled && self.days.is_empty() {
            return Err(ScheduleError::NoDays);
        }
        Ok(())
    }

    /// The latest slot at or before `now`; `None` when the schedule is off or invalid.
    pub fn last_due(&self, now: Timestamp) -> Option<Timestamp> {
        let today = self.local_day(now)?;
        (today - 7..=today)
            .rev()
            .filter_map(|day| self.slot(day))
            .find(|&slot| slot <= now)
    }

    /// The earliest slot after `now`; `None` when the schedule is off or invalid.
    pub fn next_after(&self, now: Timestamp) -> Option<Timestamp> {
        let today = self.local_day(now)?;
        (today..=today + 7)
            .filter_map(|day| self.slot(day))
            .find(|&slot| slot > now)
    }

    /// Whether a slot has passed that the last download (if any) predates.
    pub fn is_due(&self, now: Timestamp, last_download: Option<Timestamp>) -> bool {
        self.last_due(now)
            .is_some_and(|slot| last_download.is_none_or(|done| done < slot))
    }

    /// The user's local day number (days since 1970-01-01 in their zone) at `now`, when the
    /// schedule is on and valid.
    fn local_day(&self, now: Timestamp) -> Option<i64> {
        if !self.enabled || self.validate().is_err() {
            return None;
        }
        // A day number is at most i64::MAX / 86400, so `day ± 7` cannot overflow; the slot
        // arithmetic checks its own.
        Some(now.unix().checked_add(self.offset_s())?.div_euclid(DAY_S))
    }

    /// The slot on local day `day`, if that day is scheduled.
    fn slot(&self, day: i64) -> Option<Timestamp> {
        let (hour, minute) = parse_time(&self.time)?;
        if !self.days.contains(&weekday(day)) {
            return None;
        }
        let local = day
            .checked_mul(DAY_S)?
            .checked_add(hour * 3_600 + minute * 60)?;
        local.checked_sub(self.offset_s()).map(Timestamp::from_unix)
    }

    fn offset_s(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * 60
    }
}

/// What to do at `now` given the schedule, the last download and the connection type the
/// browser reports (`navigator.connection.type`, `None` where the browser has no such API).
pub fn decide(
    schedule: &Schedule,
    now: Timestamp,
    last_download: Option<Timestamp>,
    connection_type: Option<&str>,
) -> Decision {
    if !schedule.is_due(now, last_download) {
        return Decision::NotDue;
    }
    if !schedule.wifi_only {
        return Decision::Download;
    }
    match connection_type.map(str::to_ascii_lowercase).as_deref() {
        Some("wifi" | "ethernet") => Decision::Download,
        None | Some("unknown") => Decision::ConnectionUnknown,
        Some(other) => Decision::WaitForWifi {
            connection: other.to_string(),
        },
    }
}

/// `HH:MM` as (hours, minutes), `None` unless exactly that form and a time of day.
fn parse_time(text: &str) -> Option<(i64, i64)> {
    let (h, m) = text.split_once(':')?;
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    let (hour, minute) = (two_digits(h)?, two_digits(m)?);
    (hour < 24 && minute < 60).then_some((hour, minute))
}

/// The day of the week of day number `day` (days since 1970-01-01, a Thursday).
fn weekday(day: i64) -> Day {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    Weekday::Thursday.nth_next(day.rem_euclid(7) as u8).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    /// Enabled on `days` at `time` UTC, any connection.
    fn schedule(days: &[Day], time: &str) -> Schedule {
        Schedule {
            enabled: true,
            days: days.to_vec(),
            time: time.to_string(),
            ..Schedule::default()
        }
    }

    fn weekdays() -> Vec<Day> {
        vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]
    }

    fn text(t: Option<Timestamp>) -> Option<String> {
        t.map(|t| t.to_string())
    }

    // 2026-11-23 is a Monday.

    #[test]
    fn the_epoch_day_is_a_thursday_and_days_follow_in_order() {
        assert_eq!(weekday(0), Day::Thu);
        assert_eq!(weekday(4), Day::Mon);
        assert_eq!(weekday(-1), Day::Wed);
        assert_eq!(
            weekday(at("2026-11-23 12:00:00").unix().div_euclid(DAY_S)),
            Day::Mon
        );
    }

    #[test]
    fn the_slot_is_due_from_its_exact_instant() {
        let s = schedule(&weekdays(), "07:30");
        assert_eq!(
            text(s.last_due(at("2026-11-24 07:30:00"))).as_deref(),
            Some("2026-11-24 07:30:00")
        );
        assert_eq!(
            text(s.last_due(at("2026-11-24 07:29:59"))).as_deref(),
            Some("2026-11-23 07:30:00")
        );
        assert_eq!(
            text(s.next_after(at("2026-11-24 07:30:00"))).as_deref(),
            Some("2026-11-25 07:30:00")
        );
    }

    #[test]
    fn slots_carry_across_midnight() {
        let s = schedule(&weekdays(), "23:45");
        let just_after_midnight = at("2026-11-25 00:10:00");
        assert_eq!(
            text(s.last_due(just_after_midnight)).as_deref(),
            Some("2026-11-24 23:45:00")
        );
        assert_eq!(
            text(s.next_after(just_after_midnight)).as_deref(),
            Some("2026-11-25 23:45:00")
        );
    }

    #[test]
    fn slots_carry_across_the_weekend() {
        let s = schedule(&weekdays(), "07:00");
        let sunday = at("2026-11-29 12:00:00");
        assert_eq!(
            text(s.last_due(sunday)).as_deref(),
            Some("2026-11-27 07:00:00")
        );
        assert_eq!(
            text(s.next_after(sunday)).as_deref(),
            Some("2026-11-30 07:00:00")
        );
    }

    #[test]
    fn a_single_day_looks_back_a_whole_week() {
        let s = schedule(&[Day::Mon], "07:00");
        let monday_early = at("2026-11-30 06:00:00");
        assert_eq!(
            text(s.last_due(monday_early)).as_deref(),
            Some("2026-11-23 07:00:00")
        );
        assert_eq!(
            text(s.next_after(monday_early)).as_deref(),
            Some("2026-11-30 07:00:00")
        );
    }

    #[test]
    fn a_zone_ahead_of_utc_moves_the_slot_to_the_previous_utc_day() {
        // Monday 01:00 at UTC+2 is Sunday 23:00 UTC.
        let s = Schedule {
            utc_offset_minutes: 120,
            ..schedule(&[Day::Mon], "01:00")
        };
        assert_eq!(
            text(s.next_after(at("2026-11-29 12:00:00"))).as_deref(),
            Some("2026-11-29 23:00:00")
        );
        assert_eq!(
            text(s.last_due(at("2026-11-29 23:30:00"))).as_deref(),
            Some("2026-11-29 23:00:00")
        );
    }

    #[test]
    fn a_zone_behind_utc_moves_the_slot_to_the_next_utc_day() {
        // Friday 22:00 at UTC-5 is Saturday 03:00 UTC; at Saturday 01:00 UTC it is still
        // Friday 20:00 locally, so the Friday slot has not come.
        let s = Schedule {
            utc_offset_minutes: -300,
            ..schedule(&[Day::Fri], "22:00")
        };
        let saturday_utc = at("2026-11-28 01:00:00");
        assert_eq!(
            text(s.next_after(saturday_utc)).as_deref(),
            Some("2026-11-28 03:00:00")
        );
        assert_eq!(
            text(s.last_due(saturday_utc)).as_deref(),
            Some("2026-11-21 03:00:00")
        );
    }

    #[test]
    fn a_disabled_schedule_has_no_slots_and_is_never_due() {
        let s = Schedule {
            enabled: false,
            ..schedule(&weekdays(), "07:00")
        };
        let now = at("2026-11-24 12:00:00");
        assert_eq!((s.last_due(now), s.next_after(now)), (None, None));
        assert!(!s.is_due(now, None));
    }

    #[test]
    fn an_invalid_schedule_has_no_slots() {
        let s = schedule(&weekdays(), "7:00");
        assert_eq!(s.last_due(at("2026-11-24 12:00:00")), None);
    }

    #[test]
    fn due_when_never_downloaded_or_downloaded_before_the_slot() {
        let s = schedule(&weekdays(), "07:00");
        let now = at("2026-11-24 09:00:00");
        assert!(s.is_due(now, None));
        assert!(s.is_due(now, Some(at("2026-11-24 06:59:59"))));
        assert!(!s.is_due(now, Some(at("2026-11-24 07:00:00"))));
        assert!(!s.is_due(now, Some(at("2026-11-24 08:00:00"))));
    }

    #[test]
    fn decide_covers_every_branch() {
        let s = schedule(&weekdays(), "07:00");
        let wifi = Schedule {
            wifi_only: true,
            ..s.clone()
        };
        let now = at("2026-11-24 09:00:00");
        let fresh = Some(at("2026-11-24 08:00:00"));
        assert_eq!(decide(&s, now, fresh, None), Decision::NotDue);
        assert_eq!(decide(&s, now, None, Some("cellular")), Decision::Download);
        assert_eq!(decide(&wifi, now, None, Some("wifi")), Decision::Download);
        assert_eq!(
            decide(&wifi, now, None, Some("ethernet")),
            Decision::Download
        );
        assert_eq!(
            decide(&wifi, now, None, Some("cellular")),
            Decision::WaitForWifi {
                connection: "cellular".to_string()
            }
        );
        assert_eq!(decide(&wifi, now, None, None), Decision::ConnectionUnknown);
        assert_eq!(
            decide(&wifi, now, None, Some("unknown")),
            Decision::ConnectionUnknown
        );
    }

    #[test]
    fn decisions_serialize_with_a_tag() {
        let wait = Decision::WaitForWifi {
            connection: "cellular".to_string(),
        };
        assert_eq!(
            serde_json::to_value(wait).unwrap(),
            serde_json::json!({"decision": "wait_for_wifi", "connection": "cellular"})
        );
        assert_eq!(
            serde_json::to_value(Decision::ConnectionUnknown).unwrap(),
            serde_json::json!({"decision": "connection_unknown"})
        );
    }

    #[test]
    fn validate_checks_time_offset_and_days() {
        assert_eq!(Schedule::default().validate(), Ok(()));
        assert_eq!(schedule(&[Day::Sun], "00:00").validate(), Ok(()));
        assert_eq!(schedule(&[Day::Sun], "23:59").validate(), Ok(()));
        for bad in [
            "24:00", "07:60", "7:00", "07:0", "0700", "", "ab:cd", "+7:00", "07:00 ",
        ] {
            assert_eq!(
                schedule(&[Day::Mon], bad).validate(),
                Err(ScheduleError::BadTime(bad.to_string())),
                "{bad:?}"
            );
        }
        let far = Schedule {
            utc_offset_minutes: 841,
            ..Schedule::default()
        };
        assert_eq!(far.validate(), Err(ScheduleError::BadOffset(841)));
        assert_eq!(
            schedule(&[], "07:00").validate(),
            Err(ScheduleError::NoDays)
        );
    }

    #[test]
    fn schedules_read_from_settings_with_defaults() {
        let s: Schedule =
            serde_json::from_str(r#"{"enabled":true,"days":["mon","sun"],"time":"06:15"}"#)
                .unwrap();
        assert_eq!(
            s,
            Schedule {
                wifi_only: false,
                utc_offset_minutes: 0,
                ..schedule(&[Day::Mon, Day::Sun], "06:15")
            }
        );
    }

    #[test]
    fn extreme_clocks_do_not_overflow() {
        let s = schedule(&weekdays(), "07:00");
        let latest = Timestamp::from_unix(i64::MAX);
        let earliest = Timestamp::from_unix(i64::MIN);
        assert!(s.last_due(latest).is_some());
        assert_eq!(decide(&s, latest, None, None), Decision::Download);
        assert!(s.next_after(earliest).is_some());
        assert_eq!(decide(&s, earliest, None, None), Decision::NotDue);
    }
}
