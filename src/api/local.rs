//! The answers of the worker's local API (`/offgrid/...`), which never reaches the instance:
//! the status, the outbox, a download's report and Sync All's report.

use crate::outbox::{Counts, Entry};
use crate::record::Timestamp;
use crate::schedule::Schedule;
use crate::sync::SyncReport;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who is signed in, as the instance describes them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `user_name`.
    pub user_name: String,
    /// The user's `sys_id`.
    #[serde(default)]
    pub sys_id: String,
    /// The user's roles.
    #[serde(default)]
    pub roles: Value,
}

impl User {
    /// The roles as names (see [`role_names`]).
    pub fn role_names(&self) -> Vec<String> {
        role_names(Some(&self.roles))
    }
}

/// A user's roles as names: the instance sends an array; a user record may hold a
/// comma-separated string.
pub fn role_names(roles: Option<&Value>) -> Vec<String> {
    match roles {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The offline cache, as the status shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStatus {
    /// Whether a complete cache is stored.
    pub present: bool,
    /// When it was downloaded.
    pub downloaded_at: Option<Timestamp>,
    /// When it expires.
    pub expires_at: Option<Timestamp>,
    /// How many records it holds.
    pub records: u64,
}

/// The last fault the worker met on its own (housekeeping, a background sync, ...), which no
/// request was there to answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// When.
    pub at: Timestamp,
    /// Where: `housekeeping`, `sync`, `start`, ...
    #[serde(rename = "where")]
    pub place: String,
    /// What happened.
    pub message: String,
}

/// `GET /offgrid/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `online` or `offline`: offline when the user turned offline mode on or the network is
    /// gone.
    pub mode: String,
    /// Whether the user turned offline mode on.
    pub offline_mode: bool,
    /// Whether the network is up.
    pub network: bool,
    /// Who is signed in.
    pub user: Option<User>,
    /// The offline cache.
    pub cache: CacheStatus,
    /// The outbox's counts.
    pub outbox: Counts,
    /// The download schedule.
    pub schedule: Schedule,
    /// When the schedule next downloads.
    pub next_download: Option<Timestamp>,
    /// Expiry and schedule warnings, each with a `code` and a `message`.
    pub warnings: Vec<Value>,
    /// The last fault met in the background, or null.
    pub last_error: Option<Fault>,
}

impl Status {
    /// `online` or `offline`.
    pub fn mode(offline_mode: bool, network: bool) -> String {
        if offline_mode || !network {
            "offline"
        } else {
            "online"
        }
        .to_string()
    }
}

/// `GET /offgrid/outbox`: every entry in `seq` order, and the counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxAnswer {
    /// The entries in `seq` order.
    pub entries: Vec<Entry>,
    /// How many wait, by kind.
    pub counts: Counts,
}

/// What a download stored: `POST /offgrid/cache/download`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownloadReport {
    /// Whether the instance sent everything (rather than the changes since the last one).
    pub full: bool,
    /// Records received.
    pub received: u64,
    /// Records the instance announced.
    pub total: u64,
    /// The watermark of the next incremental download.
    pub watermark: String,
    /// When it was stored.
    pub downloaded_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// `POST /offgrid/sync`: the run's report, and whether the cache was cleared after it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncAnswer {
    /// What the run did.
    #[serde(flatten)]
    pub report: SyncReport,
    /// Whether the offline cache was deleted because the outbox is empty and the policy says
    /// so.
    pub cache_cleared: bool,
}
