//! Actions on the device, stored: run offline and queued in the outbox, and the user's
//! answers to failed entries: resolve (rebase and retry) and delete (discard and roll back).
//! What they do is decided by the core ([`crate::local`]: the plan of an offline action, the
//! replay of a record's entries); this module reads and writes IndexedDB around it.

use super::attachments::take_file_bytes;
use super::network::{request_background_sync, SYNC_TAG};
use super::{Event, Runtime, RuntimeError, Session};
use crate::api::action::{ActionAnswer, Invocation};
use crate::api::ApiError;
use crate::local::{self, Actor};
use crate::outbox::{Base, Counts, Entry, Outbox};
use crate::record::{new_uuid, Record};
use crate::web::idb::{LocalChanges, RemoveError};
use crate::web::transport::encode_component;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

impl Runtime {
    /// Runs action `name` on the device and queues it: the offline and both steps against
    /// the cached record, then the new records, the shadow (the instance's version before
    /// the first local change), the files' bytes and the outbox entry stored in one
    /// transaction.
    pub(super) async fn offline_action(
        &self,
        session: &Session,
        name: &str,
        mut invocation: Invocation,
    ) -> Result<ActionAnswer, RuntimeError> {
        let def = invocation.action(&session.actions, name)?;
        let blobs = take_file_bytes(def, &mut invocation.inputs)?;
        // A live call that got no answer is queued under its own id (see `local_api::action`).
        let id = invocation.id.take().unwrap_or_else(new_uuid);
        let (table, sys_id) = (invocation.table.clone(), invocation.target(def, &id)?);
        let _turn = self.outbox_turn.turn().await;
        let actor = Actor {
            user: session.ctx(),
            roles: session.user.role_names(),
            now: self.clock.now(),
        };
        // The record, the outbox, the plan and the writes in one transaction; the counts pages
        // are told come from the outbox it read, with the new entry.
        let (outcome, state, counts) = session
            .db
            .act_locally(&table, &sys_id, blobs, |cached, entries, blobs| {
                // Only what enqueueing looks at is copied, so an action costs the same however
                // many entries wait.
                let mut outbox = Outbox::for_record(entries, &table, &sys_id);
                let plan =
                    local::plan_action(def, invocation, cached, &actor, id.clone(), &mut outbox)?;
                let mut counts = Counts::of(entries);
                counts.count(&plan.entry);
                let answer = (plan.outcome, plan.entry.state, counts);
                let changes = LocalChanges {
                    puts: plan.puts,
                    deletes: plan.deletes,
                    shadows: plan.shadow.into_iter().collect(),
                    blobs,
                    entry: plan.entry,
                };
                Ok::<_, RuntimeError>((changes, answer))
            })
            .await?;
        request_background_sync(SYNC_TAG);
        self.post_counts(counts);
        self.events.send(Event::RecordChanged { table, sys_id });
        Ok(ActionAnswer::queued(outcome, id, state))
    }

    /// `POST /offgrid/outbox/{id}/resolve`: rebases a failed entry on the instance's current
    /// record (asked of the instance when the network is up, even in offline mode: it may have
    /// changed since the sync failed; else the one its error carries), with new inputs if
    /// given, re-runs the offline steps locally and makes it pending again; it goes with the
    /// next sync.
    pub(super) async fn resolve(
        &self,
        id: &str,
        inputs: Option<Map<String, Value>>,
    ) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        let _turn = self.outbox_turn.turn().await;
        let mut outbox = session.outbox().await?;
        let entry = outbox
            .get(id)
            .cloned()
            .ok_or_else(|| crate::outbox::OutboxError::NotFound(id.to_string()))?;
        let asked = self.ask_instance(&entry.table, &entry.sys_id).await;
        let current = asked
            .or_else(|| entry.error.as_ref().and_then(|e| e.record.clone()))
            .ok_or_else(|| RuntimeError::Conflict {
                code: "nothing_to_rebase_on",
                message: "the instance sent no current version of this record (it may have been deleted); delete this change instead".into(),
            })?;
        let def = session
            .actions
            .get(&entry.action)
            .ok_or_else(|| ApiError::unknown_action(&entry.action))?;
        // New inputs may bring files: their bytes are kept as blobs, as an offline action's.
        let (inputs, blobs) = match inputs {
            Some(mut inputs) => {
                let blobs = take_file_bytes(def, &mut inputs)?;
                (Some(inputs), blobs)
            }
            None => (None, Vec::new()),
        };
        // The offline steps must pass on the instance's current record, or resolving would
        // queue a change that cannot apply.
        local::check_resolve(
            &session.actions,
            &session.ctx(),
            &entry,
            &current,
            inputs.as_ref(),
        )?;
        outbox.resolve(id, inputs, Base::capture(&current, &def.written_fields()))?;
        // Stored before the entry that needs them; if saving the entry fails, they are only
        // space, and the next prune takes them.
        for (hash, blob) in &blobs {
            session.db.put_blob(hash, blob).await?;
        }
        let entries = outbox.entries_of(&entry.table, &entry.sys_id);
        session.db.save_outbox(&entries, &[]).await?;
        session.db.put_shadow(&entry.table, &current).await?;
        self.rebuild_record(
            &session,
            &entry.table,
            &entry.sys_id,
            Some(&current),
            &entries,
        )
        .await?;
        self.post_outbox_changed(&session).await;
        let resolved = outbox.get(id).cloned();
        Ok(json!({ "entry": resolved }))
    }

    /// `DELETE /offgrid/outbox/{id}`: removes the entry and rolls its record back to the
    /// instance's version (the newer of the entry's error record and the shadow; else the
    /// instance's current record when it can be asked; else the shadow; none when the
    /// instance deleted the record, which then leaves the cache), then re-applies the offline
    /// steps of the record's remaining entries in `seq` order. Files no entry needs any more
    /// are removed.
    ///
    /// The entry is removed first, by a write that checks the stored entry again: a sync that
    /// started meanwhile may be sending it, and then nothing is changed.
    pub(super) async fn delete_entry(&self, id: &str) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        let _turn = self.outbox_turn.turn().await;
        let mut outbox = session.outbox().await?;
        let entry = outbox.remove(id)?;
        let shadow = session.db.shadow(&entry.table, &entry.sys_id).await?;
        // The instance deleted the record: there is no version to roll back to, and the
        // device's copy goes too (an older one would bring it back).
        let gone = entry.error.as_ref().is_some_and(|e| e.code == "deleted");
        let instance_version = match entry.error.as_ref().and_then(|e| e.record.clone()) {
            _ if gone => None,
            // A download after the failure may have brought a newer version (the shadow).
            Some(record) => Some(newest(record, shadow)),
            None => match self.instance_record(&entry.table, &entry.sys_id).await {
                Some(record) => Some(record),
                None => shadow,
            },
        };
        let remaining = outbox.entries_of(&entry.table, &entry.sys_id);
        session
            .db
            .remove_entry(&entry.id, &remaining, self.clock.now_ms())
            .await
            .map_err(|e| match e {
                RemoveError::Db(e) => RuntimeError::Db(e),
                RemoveError::Outbox(e) => RuntimeError::Outbox(e),
                RemoveError::SyncRunning => RuntimeError::Conflict {
                    code: "sync_running",
                    message: e.to_string(),
                },
            })?;
        // The records the removed entry created go too; replaying it alone tells which.
        let own = local::replay(
            &session.actions,
            &session.ctx(),
            &entry.table,
            instance_version.as_ref(),
            std::slice::from_ref(&entry),
        );
        // A record-less action's record exists only on the device: with its entry, it goes.
        let created = own
            .record(&entry.table, &entry.sys_id)
            .filter(|_| instance_version.is_none())
            .map(|record| (entry.table.clone(), record));
        for (table, record) in own
            .others(&entry.table, &entry.sys_id)
            .into_iter()
            .chain(created)
        {
            if let Some(sys_id) = record.sys_id() {
                session.db.delete_record(&table, sys_id).await?;
            }
        }
        if let Some(instance_version) = &instance_version {
            self.rebuild_record(
                &session,
                &entry.table,
                &entry.sys_id,
                Some(instance_version),
                &remaining,
            )
            .await?;
        } else if gone && remaining.is_empty() {
            session
                .db
                .delete_record(&entry.table, &entry.sys_id)
                .await?;
        }
        if remaining.is_empty() {
            session
                .db
                .remove_shadow(&entry.table, &entry.sys_id)
                .await?;
        }
        // The entry's files may be needed by no other entry now. Leftovers are only space, and
        // the next prune takes them.
        self.faults.check("blobs", session.db.prune_blobs().await);
        self.post_outbox_changed(&session).await;
        Ok(json!({ "deleted": entry.id, "record": instance_version.is_some() }))
    }

    /// The instance's current version of a record, when it can be asked (online, offline
    /// mode off); `None` otherwise. The shadow only knows the version before the first local
    /// change, and earlier entries of the record may have synced since.
    pub(super) async fn instance_record(&self, table: &str, sys_id: &str) -> Option<Record> {
        if self.session()?.offline_mode.get() {
            return None;
        }
        self.ask_instance(table, sys_id).await
    }

    /// The instance's current version of a record when the network is up and the instance
    /// answers with it; `None` otherwise (offline, gone, or out of the user's scope).
    async fn ask_instance(&self, table: &str, sys_id: &str) -> Option<Record> {
        if !self.network.is_up() {
            return None;
        }
        let path = format!(
            "/api/now/table/{}/{}",
            encode_component(table),
            encode_component(sys_id)
        );
        let answer = self.transport.json("GET", &path, None).await.ok()?;
        Record::from_value(answer.get("result")?.clone())
    }

    /// After a download: every record with entries is the downloaded version with its
    /// entries' offline steps applied again. The versions the feed brought of such records
    /// (`downloaded`) are their shadows from now on: the newest instance version the device
    /// knows, which a deleted entry rolls back to and an older remembered answer does not
    /// replace.
    pub(super) async fn reapply_local_changes(
        &self,
        session: &Session,
        downloaded: &[(String, Record)],
    ) -> Result<(), RuntimeError> {
        for (table, record) in downloaded {
            session.db.put_shadow(table, record).await?;
        }
        let outbox = session.outbox().await?;
        for (table, sys_id) in outbox.marked() {
            let downloaded = session.db.get_record(&table, &sys_id).await?;
            let entries = outbox.entries_of(&table, &sys_id);
            self.rebuild_record(session, &table, &sys_id, downloaded.as_ref(), &entries)
                .await?;
        }
        Ok(())
    }

    /// Stores `base` with `entries` replayed over it as the local view of a record (and the
    /// records those entries create).
    pub(super) async fn rebuild_record(
        &self,
        session: &Session,
        table: &str,
        sys_id: &str,
        base: Option<&Record>,
        entries: &[Entry],
    ) -> Result<(), RuntimeError> {
        let Some(base) = base else { return Ok(()) };
        let mut views = Views::default();
        views.add(session, table, sys_id, base, entries);
        self.store_views(session, views, &[]).await
    }

    /// Stores local views in one transaction, forgetting the shadows of `settled` records in
    /// it too, then tells pages which records changed.
    pub(super) async fn store_views(
        &self,
        session: &Session,
        views: Views,
        settled: &[(String, String)],
    ) -> Result<(), RuntimeError> {
        let (mut puts, mut deletes) = (Vec::new(), Vec::new());
        for ((table, sys_id), record) in views.writes {
            match record {
                Some(record) => puts.push((table, record)),
                None => deletes.push((table, sys_id)),
            }
        }
        session.db.write_records(&puts, &deletes, settled).await?;
        for (table, sys_id) in views.changed {
            self.events.send(Event::RecordChanged { table, sys_id });
        }
        Ok(())
    }
}

/// Local views of records to store together: the last write of each record wins, as if they
/// were stored one by one.
#[derive(Default)]
pub(super) struct Views {
    /// `(table, sys_id)`: the record to put, or `None` to delete it.
    writes: BTreeMap<(String, String), Option<Record>>,
    /// The records whose views these are, in the order they were added.
    changed: Vec<(String, String)>,
}

impl Views {
    /// Adds the local view of a record: `base` with `entries` replayed over it, and the
    /// records those entries create.
    pub(super) fn add(
        &mut self,
        session: &Session,
        table: &str,
        sys_id: &str,
        base: &Record,
        entries: &[Entry],
    ) {
        let view = local::replay(&session.actions, &session.ctx(), table, Some(base), entries);
        let key = (table.to_string(), sys_id.to_string());
        self.writes.insert(key.clone(), view.record(table, sys_id));
        for (other_table, record) in view.others(table, sys_id) {
            if let Some(id) = record.sys_id().map(str::to_string) {
                self.writes.insert((other_table, id), Some(record));
            }
        }
        self.changed.push(key);
    }
}

/// The newer of an instance version and the shadow, by the instance's `sys_mod_count` (the
/// device's own steps never move it); the version itself when they are level.
pub(super) fn newest(version: Record, shadow: Option<Record>) -> Record {
    match shadow {
        Some(shadow) if shadow.mod_count() > version.mod_count() => shadow,
        _ => version,
    }
}
