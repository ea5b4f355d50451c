//! Events to every open page of the app, on `BroadcastChannel("offgrid")`.

use super::Faults;
use crate::web::transport::js_text;
use serde_json::{json, Value};
use std::rc::Rc;
use web_sys::BroadcastChannel;

/// The channel's name, shared with the app.
pub const CHANNEL: &str = "offgrid";

/// What the runtime tells the pages.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The status changed (mode, network, cache, outbox); carries `GET /offgrid/status`.
    Status(Value),
    /// A download advanced.
    DownloadProgress {
        /// Records and deletions received.
        done: u64,
        /// Announced by the feed's header.
        total: u64,
    },
    /// Entries were added, changed or removed.
    OutboxChanged {
        /// Pending, failed and blocked counts.
        counts: Value,
    },
    /// A sync run advanced or ended; carries its report.
    SyncProgress(Value),
    /// The cache expires soon, or expired and was deleted.
    ExpiryWarning(Value),
    /// A record changed locally.
    RecordChanged {
        /// Its table.
        table: String,
        /// Its `sys_id`.
        sys_id: String,
    },
}

impl Event {
    /// The message posted: `{"type": ..., ...}`.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Status(status) => json!({"type": "status", "status": status}),
            Self::DownloadProgress { done, total } => {
                json!({"type": "download-progress", "done": done, "total": total})
            }
            Self::OutboxChanged { counts } => json!({"type": "outbox-changed", "outbox": counts}),
            Self::SyncProgress(report) => json!({"type": "sync-progress", "report": report}),
            Self::ExpiryWarning(warning) => json!({"type": "expiry-warning", "warning": warning}),
            Self::RecordChanged { table, sys_id } => {
                json!({"type": "record-changed", "table": table, "sys_id": sys_id})
            }
        }
    }
}

/// The channel the runtime posts on. Without a `BroadcastChannel` (a very old browser) events
/// are dropped: pages still poll `GET /offgrid/status`.
#[derive(Debug)]
pub struct Events {
    channel: Option<BroadcastChannel>,
    /// Where a post that fails is reported: no caller waits for an event.
    faults: Rc<Faults>,
}

impl Events {
    /// Opens the channel; posts that fail are reported to `faults`.
    pub fn open(faults: Rc<Faults>) -> Self {
        Self {
            channel: BroadcastChannel::new(CHANNEL).ok(),
            faults,
        }
    }

    /// Posts an event to every page. Pages that are gone are the channel's business; a post
    /// the channel refuses (closed, or a message it cannot clone) is a fault.
    pub fn send(&self, event: Event) {
        let Some(channel) = &self.channel else { return };
        let posted = js_sys::JSON::parse(&event.to_json().to_string())
            .and_then(|message| channel.post_message(&message));
        self.faults.check("events", posted.map_err(|e| js_text(&e)));
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.close();
        }
    }
}
