//! What the runtime checks on its own: cache expiry (warnings, then deletion), scheduled
//! downloads, and outbox entries whose retry is due. Run at worker start, on a page's
//! heartbeat, on Periodic Background Sync and on a timer while the worker lives. Nobody waits
//! for these checks, so their faults are logged and kept for the status's `last_error`.

use super::{keys, Event, Runtime, RuntimeError, Session};
use crate::policy::expired_message;
use crate::schedule::{self, Decision};
use crate::web::idb::CacheMeta;
use serde_json::{json, Value};

impl Runtime {
    /// The periodic check (the worker's timer, a page's heartbeat): housekeeping, then a sync
    /// when an entry's retry is due. Nothing else wakes an entry that backs off after a
    /// network fault while the page stays open and the network stays up.
    pub async fn periodic(&self) {
        self.housekeeping().await;
        if self.retry_due().await {
            self.sync_if_online().await;
        }
    }

    /// Whether a sync would send something now ([`crate::outbox::Outbox::has_due`]). Checked
    /// first so an idle worker does not take the sync lease every minute.
    async fn retry_due(&self) -> bool {
        let Some(session) = self.session() else {
            return false;
        };
        self.faults
            .check("housekeeping", session.outbox().await)
            .is_some_and(|outbox| outbox.has_due(self.clock.now()))
    }

    /// Expiry, then the schedule. A fault of one does not stop the other; each is logged and
    /// shown in the status (`last_error`), and the next run tries again.
    pub async fn housekeeping(&self) {
        let Some(session) = self.session() else {
            return;
        };
        self.faults
            .check("housekeeping", self.check_expiry(&session).await);
        self.faults
            .check("housekeeping", self.check_schedule(&session).await);
    }

    /// Gives the expiry warnings that are due (once each), or deletes an expired cache,
    /// keeping the outbox. Returns the warnings given.
    pub async fn expiry_check(&self) -> Result<Vec<Value>, RuntimeError> {
        let session = self.signed_in()?;
        self.check_expiry(&session).await
    }

    /// Decides about the schedule now, and downloads when it says so. Returns the decision.
    pub async fn schedule_check(&self) -> Result<Decision, RuntimeError> {
        let session = self.signed_in()?;
        self.check_schedule(&session).await
    }

    async fn check_expiry(&self, session: &Session) -> Result<Vec<Value>, RuntimeError> {
        let Some(meta) = session.db.cache_meta().await? else {
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let policy = &session.policy;
        if policy.is_expired(meta.downloaded_at, now) {
            // Only the cache goes: the outbox holds the user's own changes, which offgrid
            // never drops (whatever `keep_outbox_on_expiry` says, they are kept and shown).
            session.db.clear_cache().await?;
            session.db.delete_meta(keys::SENT_WARNINGS).await?;
            let unsynced = session.outbox().await?.entries().len();
            let notice = json!({
                "expired": true,
                "expires_at": meta.expires_at,
                "unsynced": unsynced,
                "message": expired_message(unsynced),
            });
            session.db.put_meta(keys::EXPIRED_NOTICE, &notice).await?;
            self.events.send(Event::ExpiryWarning(notice.clone()));
            self.post_status().await;
            return Ok(vec![notice]);
        }
        let mut sent: Vec<i64> = session
            .db
            .get_meta(keys::SENT_WARNINGS)
            .await?
            .unwrap_or_default();
        let due = policy.due_warnings(meta.downloaded_at, now, &sent);
        let mut given = Vec::new();
        for warning in due {
            sent.push(warning.before_s);
            let value = serde_json::to_value(&warning).unwrap_or_default();
            self.events.send(Event::ExpiryWarning(value.clone()));
            given.push(value);
        }
        if !given.is_empty() {
            session.db.put_meta(keys::SENT_WARNINGS, &sent).await?;
        }
        Ok(given)
    }

    async fn check_schedule(&self, session: &Session) -> Result<Decision, RuntimeError> {
        let now = self.clock.now();
        let last = session.db.get_meta(keys::LAST_DOWNLOAD).await?;
        let connection = self.network.connection_type();
        let decision = schedule::decide(&session.schedule(), now, last, connection.as_deref());
        if decision == Decision::Download && self.network.is_up() {
            self.download(false).await?;
        }
        Ok(decision)
    }

    /// The status's warnings: expiry coming or passed, and a Wi-Fi-only schedule the browser
    /// cannot honour.
    pub(super) async fn warnings(
        &self,
        session: &Session,
        meta: Option<&CacheMeta>,
        unsynced: usize,
    ) -> Result<Vec<Value>, RuntimeError> {
        let now = self.clock.now();
        let mut warnings = Vec::new();
        if let Some(meta) = meta {
            // The most urgent threshold crossed so far, whether or not its event went out.
            if let Some(warning) = session
                .policy
                .due_warnings(meta.downloaded_at, now, &[])
                .into_iter()
                .next()
            {
                warnings.push(json!({"code": "expiry", "message": warning.message, "expires_at": warning.expires_at}));
            }
        } else if let Some(mut notice) = session.db.get_meta::<Value>(keys::EXPIRED_NOTICE).await? {
            notice["unsynced"] = json!(unsynced);
            notice["message"] = json!(expired_message(unsynced));
            notice["code"] = json!("expired");
            warnings.push(notice);
        }
        let schedule = session.schedule();
        if schedule.enabled && schedule.wifi_only {
            let last = session.db.get_meta(keys::LAST_DOWNLOAD).await?;
            let connection = self.network.connection_type();
            if schedule::decide(&schedule, now, last, connection.as_deref())
                == Decision::ConnectionUnknown
            {
                warnings.push(json!({
                    "code": "connection_unknown",
                    "message": "this browser does not report whether it is on Wi-Fi, so Wi-Fi-only scheduled downloads do not run; turn Wi-Fi only off or download by hand",
                }));
            }
        }
        Ok(warnings)
    }
}
