//! The cache policy (SPEC 6): how long a downloaded offline cache lives, when the user is
//! warned that it will expire, and what happens to it after a sync.

use crate::record::Timestamp;
use serde::{Deserialize, Serialize};

/// The instance's cache policy, part of `GET /api/offgrid/config`. Fields left out take their
/// defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CachePolicy {
    /// Seconds from download until the cache expires and is deleted (default two days).
    pub cache_ttl_s: i64,
    /// How long before expiry each warning is given, in seconds (default one day, four hours
    /// and one hour).
    pub warn_before_s: Vec<i64>,
    /// Delete the cache after a sync that leaves the outbox empty, back online (default true).
    pub clear_cache_after_sync: bool,
    /// Keep unsynced outbox entries when the cache expires (default true).
    pub keep_outbox_on_expiry: bool,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            cache_ttl_s: 172_800,
            warn_before_s: vec![86_400, 14_400, 3_600],
            clear_cache_after_sync: true,
            keep_outbox_on_expiry: true,
        }
    }
}

/// A policy that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The cache would expire the moment it is downloaded.
    #[error("cache_ttl_s must be more than 0 seconds (it is {0})")]
    TtlNotPositive(i64),
    /// A warning that would come before the download or after expiry.
    #[error(
        "warn_before_s {before_s} must be more than 0 and less than cache_ttl_s ({ttl_s}), \
         or the warning could never be given"
    )]
    WarningOutOfRange {
        /// The warning's offset before expiry.
        before_s: i64,
        /// The policy's time to live.
        ttl_s: i64,
    },
}

/// A warning that the offline cache will expire soon: an event, and part of the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpiryWarning {
    /// The threshold crossed (one of `warn_before_s`): remember it so the warning is given
    /// once.
    pub before_s: i64,
    /// When the cache expires.
    pub expires_at: Timestamp,
    /// What to tell the user.
    pub message: String,
}

impl CachePolicy {
    /// Checks that the cache lives a while and that every warning falls inside its life.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.cache_ttl_s <= 0 {
            return Err(PolicyError::TtlNotPositive(self.cache_ttl_s));
        }
        match self
            .warn_before_s
            .iter()
            .find(|&&b| b <= 0 || b >= self.cache_ttl_s)
        {
            Some(&before_s) => Err(PolicyError::WarningOutOfRange {
                before_s,
                ttl_s: self.cache_ttl_s,
            }),
            None => Ok(()),
        }
    }

    /// When a cache downloaded at `downloaded_at` expires.
    pub fn expires_at(&self, downloaded_at: Timestamp) -> Timestamp {
        Timestamp::from_unix(downloaded_at.unix().saturating_add(self.cache_ttl_s))
    }

    /// Whether a cache downloaded at `downloaded_at` has expired at `now`.
    pub fn is_expired(&self, downloaded_at: Timestamp, now: Timestamp) -> bool {
        now >= self.expires_at(downloaded_at)
    }

    /// The warnings to give at `now`: thresholds crossed and not in `already_sent`, while the
    /// cache has not expired yet (an expired cache is deleted instead), most urgent first.
    /// When the worker slept through several thresholds, all come at once: the caller shows
    /// the first and records them all as sent.
    pub fn due_warnings(
        &self,
        downloaded_at: Timestamp,
        now: Timestamp,
        already_sent: &[i64],
    ) -> Vec<ExpiryWarning> {
        let expires_at = self.expires_at(downloaded_at);
        if now >= expires_at {
            return Vec::new();
        }
        let mut due: Vec<i64> = self
            .warn_before_s
            .iter()
            .copied()
            .filter(|b| !already_sent.contains(b))
            .filter(|&b| now.unix() >= expires_at.unix().saturating_sub(b))
            .collect();
        due.sort_unstable();
        due.dedup();
        let left = expires_at.unix().saturating_sub(now.unix());
        due.into_iter()
            .map(|before_s| ExpiryWarning {
                before_s,
                expires_at,
                message: format!(
                    "The offline cache expires in {} (at {expires_at} UTC). Sync and download \
                     it again to keep working offline.",
                    human_duration(left)
                ),
            })
            .collect()
    }
}

/// Bytes assumed per cached record when checking storage before a download: JSON plus
/// IndexedDB overhead, twice, since the staged copy lives beside the live one until the swap.
const BYTES_PER_RECORD: u64 = 2 * 4096;
/// Free space asked for at least before a download, whatever the cache's size.
const MIN_FREE_BYTES: u64 = 8 * 1024 * 1024;

/// The free storage a download needs when the cache now holds `records` (0 when none):
/// enough for the new copy beside the old one until the swap.
pub fn bytes_needed_for_download(records: u64) -> u64 {
    records.saturating_mul(BYTES_PER_RECORD).max(MIN_FREE_BYTES)
}

/// How a sync run left things, for [`CachePolicy::clears_cache_after_sync`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AfterSync {
    /// Entries the run applied.
    pub applied: usize,
    /// Whether the outbox is empty now.
    pub outbox_empty: bool,
    /// Whether the user has offline mode on.
    pub offline_mode: bool,
    /// Whether the network is up.
    pub network_up: bool,
    /// Whether a cache is stored.
    pub cache_present: bool,
}

impl CachePolicy {
    /// Whether the offline cache is deleted after a sync run (the source documents: "after the
    /// synchronization completes, you are back online and your offline cache is deleted").
    /// Only after a run that applied something and left the outbox empty, with the user back
    /// online: an idle sync at worker start must not throw away a cache downloaded for when
    /// the network goes.
    pub fn clears_cache_after_sync(&self, run: &AfterSync) -> bool {
        self.clear_cache_after_sync
            && run.applied > 0
            && run.outbox_empty
            && !run.offline_mode
            && run.network_up
            && run.cache_present
    }
}

/// What the status says once an expired cache was deleted, with `unsynced` changes kept.
pub fn expired_message(unsynced: usize) -> String {
    if unsynced == 0 {
        "the offline cache expired and was deleted; download it again before working offline".into()
    } else {
        format!(
            "the offline cache expired and was deleted; your {unsynced} unsynced change(s) are \
             kept and will sync when you are online"
        )
    }
}

/// A positive duration in words, in at most two units, rounded up to the minute so that a
/// warning never promises less time than is left: `4 hours`, `1 day 2 hours`, `5 minutes`.
fn human_duration(secs: i64) -> String {
    let minutes = secs.saturating_add(59) / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let units = [(days, "day"), (hours, "hour"), (minutes, "minute")];
    let words: Vec<String> = units
        .iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|&(n, unit)| format!("{n} {unit}{}", if n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "less than a minute".to_string()
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_cleared_only_after_a_run_that_applied_and_emptied_the_outbox_online() {
        let policy = CachePolicy::default();
        let done = AfterSync {
            applied: 2,
            outbox_empty: true,
            offline_mode: false,
            network_up: true,
            cache_present: true,
        };
        assert!(policy.clears_cache_after_sync(&done));
        for not in [
            AfterSync { applied: 0, ..done },
            AfterSync {
                outbox_empty: false,
                ..done
            },
            AfterSync {
                offline_mode: true,
                ..done
            },
            AfterSync {
                network_up: false,
                ..done
            },
            AfterSync {
                cache_present: false,
                ..done
            },
        ] {
            assert!(!policy.clears_cache_after_sync(&not), "{not:?}");
        }
        let keep = CachePolicy {
            clear_cache_after_sync: false,
            ..CachePolicy::default()
        };
        assert!(!keep.clears_cache_after_sync(&done));
    }

    #[test]
    fn a_download_needs_room_for_a_second_copy_and_never_less_than_the_minimum() {
        assert_eq!(bytes_needed_for_download(0), 8 * 1024 * 1024);
        assert_eq!(bytes_needed_for_download(10_000), 10_000 * 8192);
    }

    #[test]
    fn the_expired_notice_counts_the_changes_it_kept() {
        assert!(expired_message(0).contains("download it again"));
        assert!(expired_message(3).contains("your 3 unsynced change(s) are kept"));
    }

    const HOUR: i64 = 3_600;

    fn downloaded() -> Timestamp {
        Timestamp::parse("2026-11-21 10:00:00").unwrap()
    }

    /// `secs` before the default policy's expiry of a cache downloaded at [`downloaded`].
    fn before_expiry(secs: i64) -> Timestamp {
        downloaded().plus(172_800 - secs)
    }

    fn thresholds(warnings: &[ExpiryWarning]) -> Vec<i64> {
        warnings.iter().map(|w| w.before_s).collect()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let p = CachePolicy::default();
        assert_eq!(p.cache_ttl_s, 172_800);
        assert_eq!(p.warn_before_s, [86_400, 14_400, 3_600]);
        assert!(p.clear_cache_after_sync && p.keep_outbox_on_expiry);
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn missing_fields_take_their_defaults_when_read() {
        let p: CachePolicy = serde_json::from_str(r#"{"cache_ttl_s": 7200}"#).unwrap();
        assert_eq!(
            p,
            CachePolicy {
                cache_ttl_s: 7200,
                ..CachePolicy::default()
            }
        );
    }

    #[test]
    fn validate_refuses_a_ttl_that_is_not_positive() {
        let p = CachePolicy {
            cache_ttl_s: 0,
            ..CachePolicy::default()
        };
        assert_eq!(p.validate(), Err(PolicyError::TtlNotPositive(0)));
    }

    #[test]
    fn validate_refuses_warnings_outside_the_cache_life() {
        for bad in [0, -5, 172_800, 200_000] {
            let p = CachePolicy {
                warn_before_s: vec![3_600, bad],
                ..CachePolicy::default()
            };
            let err = p.validate().unwrap_err();
            assert_eq!(
                err,
                PolicyError::WarningOutOfRange {
                    before_s: bad,
                    ttl_s: 172_800
                }
            );
            assert!(err.to_string().contains("less than cache_ttl_s"), "{err}");
        }
    }

    #[test]
    fn the_cache_expires_ttl_after_download_at_the_exact_second() {
        let p = CachePolicy::default();
        assert_eq!(
            p.expires_at(downloaded()).to_string(),
            "2026-11-23 10:00:00"
        );
        assert!(!p.is_expired(downloaded(), before_expiry(1)));
        assert!(p.is_expired(downloaded(), before_expiry(0)));
    }

    #[test]
    fn no_warning_before_the_first_threshold() {
        let p = CachePolicy::default();
        assert!(p
            .due_warnings(downloaded(), before_expiry(86_401), &[])
            .is_empty());
    }

    #[test]
    fn a_warning_is_due_from_its_threshold_until_sent() {
        let p = CachePolicy::default();
        let due = p.due_warnings(downloaded(), before_expiry(86_400), &[]);
        assert_eq!(thresholds(&due), [86_400]);
        assert_eq!(due[0].expires_at, p.expires_at(downloaded()));
        assert!(p
            .due_warnings(downloaded(), before_expiry(5 * HOUR), &[86_400])
            .is_empty());
    }

    #[test]
    fn thresholds_crossed_together_come_most_urgent_first() {
        let p = CachePolicy::default();
        let due = p.due_warnings(downloaded(), before_expiry(30 * 60), &[86_400]);
        assert_eq!(thresholds(&due), [3_600, 14_400]);
    }

    #[test]
    fn an_expired_cache_gets_no_warning() {
        let p = CachePolicy::default();
        assert!(p
            .due_warnings(downloaded(), before_expiry(0), &[])
            .is_empty());
    }

    #[test]
    fn the_warning_says_how_long_is_left_and_when_in_human_units() {
        let p = CachePolicy::default();
        let due = p.due_warnings(downloaded(), before_expiry(4 * HOUR), &[86_400]);
        assert_eq!(
            due[0].message,
            "The offline cache expires in 4 hours (at 2026-11-23 10:00:00 UTC). Sync and \
             download it again to keep working offline."
        );
    }

    #[test]
    fn durations_use_at_most_two_units_rounded_up_to_the_minute() {
        assert_eq!(human_duration(86_400), "1 day");
        assert_eq!(human_duration(86_400 + 2 * HOUR + 59), "1 day 2 hours");
        assert_eq!(human_duration(3 * HOUR + 58 * 60), "3 hours 58 minutes");
        assert_eq!(human_duration(61), "2 minutes");
        assert_eq!(human_duration(60), "1 minute");
        assert_eq!(human_duration(0), "less than a minute");
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let p = CachePolicy {
            cache_ttl_s: i64::MAX,
            warn_before_s: vec![i64::MAX, i64::MIN],
            ..CachePolicy::default()
        };
        let far = Timestamp::from_unix(i64::MAX);
        assert_eq!(p.expires_at(far), far);
        assert_eq!(p.due_warnings(downloaded(), downloaded(), &[]).len(), 1);
    }
}
