//! Sync All: the core's driver ([`sync_all`]) over the user's IndexedDB outbox and the
//! instance's `POST /api/offgrid/sync`, one run at a time across tabs and worker restarts
//! (the IndexedDB lease, renewed with every outbox write of the run).

use super::attachments::{with_bytes, without_bytes};
use super::offline::{newest, Views};
use super::{Clock, Event, Events, Runtime, RuntimeError, Session};
use crate::api::local::SyncAnswer;
use crate::outbox::{Entry, Outbox};
use crate::policy::AfterSync;
use crate::record::Record;
use crate::sync::{sync_all, OutboxStore, SyncError, SyncOptions, SyncReport};
use crate::web::idb::LocalDb;

/// How long a sync lease holds before another worker may take it (a worker killed mid-sync
/// does not block syncing longer than this). Every outbox write of a run renews it, so only a
/// single batch that takes longer loses it.
const LEASE_TTL_MS: f64 = 5.0 * 60.0 * 1000.0;

/// The user's outbox as the driver sees it. Files' bytes are stored apart as blobs (see
/// [`super::attachments`]) and join an entry only in the batch being sent. It remembers the
/// instance's records that came back, so the local view is rebuilt from them once the run is
/// over.
struct DeviceOutbox<'a> {
    db: &'a LocalDb,
    events: &'a Events,
    /// The run's name on the sync lease, and the clock it is renewed by.
    holder: &'a str,
    clock: &'a Clock,
    /// Another tab or worker took the lease over: the run stopped without writing.
    lease_lost: bool,
    returned: Vec<(String, Record)>,
}

impl OutboxStore for DeviceOutbox<'_> {
    async fn load(&mut self) -> Result<Outbox, SyncError> {
        let entries = self.db.outbox_entries().await.map_err(storage)?;
        Ok(Outbox::from_entries(entries))
    }

    async fn progress(&mut self, report: &SyncReport) {
        if let Ok(report) = serde_json::to_value(report) {
            self.events.send(Event::SyncProgress(report));
        }
    }

    async fn prepare_batch(&mut self, entries: &mut [Entry]) -> Result<(), SyncError> {
        with_bytes(self.db, entries).await.map_err(storage)
    }

    /// Renews the lease first: a run whose lease another worker took over must not write
    /// (that one loaded the outbox itself). Its entries stay as they are; those marked syncing
    /// are sent again, with the same ids, by the run that holds the lease.
    async fn save(&mut self, changed: &[Entry], removed: &[String]) -> Result<(), SyncError> {
        let renewed = self
            .db
            .acquire_lease(self.holder, self.clock.now_ms(), LEASE_TTL_MS)
            .await
            .map_err(storage)?;
        if !renewed {
            self.lease_lost = true;
            return Err(SyncError::Storage(
                "another tab or worker took the sync lease over".into(),
            ));
        }
        self.db
            .save_outbox(&without_bytes(changed), removed)
            .await
            .map_err(storage)
    }

    async fn apply_result_record(&mut self, table: &str, record: &Record) -> Result<(), SyncError> {
        self.returned.push((table.to_string(), record.clone()));
        Ok(())
    }
}

fn storage(e: crate::web::idb::DbError) -> SyncError {
    SyncError::Storage(e.to_string())
}

impl Runtime {
    /// Sync All: `{"applied","failed","blocked","remaining"}` (and why a run stopped early).
    pub(super) async fn sync(&self, session: &Session) -> Result<SyncAnswer, RuntimeError> {
        if !self.network.is_up() {
            return Err(RuntimeError::Offline("syncing"));
        }
        let db = &session.db;
        if !db
            .acquire_lease(&self.holder, self.clock.now_ms(), LEASE_TTL_MS)
            .await?
        {
            return Err(RuntimeError::Conflict {
                code: "sync_running",
                message:
                    "another sync is running (in another tab or worker); try again in a moment"
                        .into(),
            });
        }
        let mut outbox = DeviceOutbox {
            db,
            events: &self.events,
            holder: &self.holder,
            clock: &self.clock,
            lease_lost: false,
            returned: Vec::new(),
        };
        let mut transport = self.transport.clone();
        let result = sync_all(
            &mut outbox,
            &mut transport,
            &SyncOptions::new(self.clock.now()),
        )
        .await;
        // An unreleased lease expires by itself; releasing early only saves the wait.
        self.faults
            .check("sync", db.release_lease(&self.holder).await);
        if outbox.lease_lost {
            return Err(RuntimeError::Conflict {
                code: "sync_taken_over",
                message: "this sync took longer than its lease and another tab or worker took it over; your changes are kept and that sync sends them".into(),
            });
        }
        let report = result?;
        if report.applied > 0 {
            // Applied entries are gone, and their files may be needed by no other. Leftovers
            // are only space, and the next prune takes them.
            self.faults.check("blobs", db.prune_blobs().await);
        }
        self.absorb_returned(session, outbox.returned).await?;
        // Pages heard the run's progress batch by batch (`DeviceOutbox::progress`).
        self.post_outbox_changed(session).await;
        let left = session.outbox().await?;
        let cleared = session.policy.clears_cache_after_sync(&AfterSync {
            applied: report.applied,
            outbox_empty: left.is_empty(),
            offline_mode: session.offline_mode.get(),
            network_up: self.network.is_up(),
            cache_present: db.cache_meta().await?.is_some(),
        });
        if cleared {
            db.clear_cache().await?;
        }
        self.post_status().await;
        Ok(SyncAnswer {
            report,
            cache_cleared: cleared,
        })
    }

    /// The instance's versions of synced records become the local view of those the cache
    /// still holds. (The driver returns only records with no entries left; replaying covers
    /// any added meanwhile.)
    async fn absorb_returned(
        &self,
        session: &Session,
        returned: Vec<(String, Record)>,
    ) -> Result<(), RuntimeError> {
        let outbox = session.outbox().await?;
        // One transaction for the whole run's records, not one or two per record.
        let mut views = Views::default();
        let mut settled = Vec::new();
        for (table, record) in returned {
            let Some(sys_id) = record.sys_id().map(str::to_string) else {
                continue;
            };
            let entries = outbox.entries_of(&table, &sys_id);
            // A download removed the record since the device's change (it left the user's
            // scope, or was deleted): an answer, remembered from before that or of a record
            // now out of scope, must not bring it back.
            if session.db.get_record(&table, &sys_id).await?.is_some() {
                // An answer remembered from before a download that brought a later version
                // must not roll the record back.
                let shadow = session.db.shadow(&table, &sys_id).await?;
                let record = newest(record, shadow);
                views.add(session, &table, &sys_id, &record, &entries);
            }
            if entries.is_empty() {
                settled.push((table, sys_id));
            }
        }
        self.store_views(session, views, &settled).await?;
        Ok(())
    }
}
