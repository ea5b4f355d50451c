//! Actions on the device: run offline against the cache and queued in the outbox (SPEC 4),
//! and the user's answers to failed entries: resolve (rebase and retry) and delete (discard
//! and roll back).
//!
//! The local view of a record is always "the instance's version, with the offline steps of
//! its outbox entries applied in `seq` order", so every operation that changes the entries of
//! a record rebuilds that view by replaying them ([`replay`]).

use super::attachments::{take_file_bytes, TakenFiles};
use super::network::{request_background_sync, SYNC_TAG};
use super::{Event, Runtime, RuntimeError, Session};
use crate::action::{self, ActionContext, NoHooks, Side};
use crate::outbox::{Base, Entry, NewEntry, Outbox};
use crate::record::{new_uuid, Record};
use crate::store::{MemoryStore, Store, ATTACHMENT_TABLE};
use crate::web::idb::{LocalChanges, RemoveError};
use crate::web::transport::encode_component;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The body of `POST /api/offgrid/actions/{name}`.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct Invocation {
    pub table: String,
    pub sys_id: String,
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

impl Runtime {
    /// Runs action `name` on the device and queues it: the offline and both steps against
    /// the cached record, then the new records, the shadow (the instance's version before
    /// the first local change), the files' bytes and the outbox entry stored in one
    /// transaction.
    pub(super) async fn offline_action(
        &self,
        session: &Session,
        name: &str,
        invocation: Invocation,
    ) -> Result<Value, RuntimeError> {
        let def = session
            .actions
            .get(name)
            .ok_or_else(|| RuntimeError::UnknownAction(name.to_string()))?;
        if def.table != invocation.table {
            return Err(RuntimeError::BadRequest(format!(
                "action {name} works on {}, not {}",
                def.table, invocation.table
            )));
        }
        let TakenFiles { inputs, blobs } = take_file_bytes(def, &invocation.inputs)?;
        let (table, sys_id) = (&invocation.table, &invocation.sys_id);
        let _turn = self.outbox_turn.turn().await;
        let before = session.db.get_record(table, sys_id).await?;
        let mut store = MemoryStore::new();
        if let Some(record) = &before {
            store
                .put(table, record.clone())
                .map_err(action::ActionError::from)?;
        }
        let id = new_uuid();
        let now = self.clock.now();
        let ctx = ActionContext {
            user: session.ctx(),
            now,
            invocation_id: id.clone(),
        };
        let outcome = action::run(
            def,
            Side::Device,
            &mut store,
            &mut NoHooks,
            &ctx,
            sys_id,
            &inputs,
        )?;
        // run() found the record, so it was cached.
        let before = before.ok_or_else(|| RuntimeError::NotCached {
            table: table.clone(),
            sys_id: sys_id.clone(),
        })?;
        let mut outbox = session.outbox().await?;
        let entry = outbox
            .enqueue(NewEntry {
                id: id.clone(),
                user: session.user.user_name.clone(),
                action: name.to_string(),
                table: table.clone(),
                sys_id: sys_id.clone(),
                inputs,
                base: Base::capture(&before, &def.written_fields()),
                queued_at: now,
            })
            .clone();
        let mut puts: Vec<(String, Record)> = outcome.created.clone();
        puts.extend(
            outcome
                .attachments
                .iter()
                .map(|a| (ATTACHMENT_TABLE.to_string(), a.clone())),
        );
        if let Some(record) = &outcome.record {
            puts.push((table.clone(), record.clone()));
        }
        let deletes = if outcome.deleted {
            vec![(table.clone(), sys_id.clone())]
        } else {
            Vec::new()
        };
        session
            .db
            .commit_local_action(LocalChanges {
                puts,
                deletes,
                shadows: vec![(table.clone(), before)],
                blobs,
                entry: entry.clone(),
            })
            .await?;
        request_background_sync(SYNC_TAG);
        self.post_outbox_changed(session).await;
        self.events.send(Event::RecordChanged {
            table: table.clone(),
            sys_id: sys_id.clone(),
        });
        Ok(json!({
            "result": outcome.record,
            "created": outcome.created.iter().map(|(t, r)| json!({"table": t, "record": r})).collect::<Vec<_>>(),
            "deleted": outcome.deleted,
            "outbox_id": id,
            "state": entry.state,
        }))
    }

    /// `POST /offgrid/outbox/{id}/resolve`: rebases a failed entry on the instance's current
    /// record (from its error), with new inputs if given, re-runs the offline steps locally
    /// and makes it pending again; it goes with the next sync.
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
        let current = entry
            .error
            .as_ref()
            .and_then(|e| e.record.clone())
            .ok_or_else(|| RuntimeError::Conflict {
                code: "nothing_to_rebase_on",
                message: "the instance sent no current version of this record (it may have been deleted); delete this change instead".into(),
            })?;
        let def = session
            .actions
            .get(&entry.action)
            .ok_or_else(|| RuntimeError::UnknownAction(entry.action.clone()))?;
        // New inputs may bring files: their bytes are kept as blobs, as an offline action's.
        let (inputs, blobs) = match inputs {
            Some(inputs) => {
                let taken = take_file_bytes(def, &inputs)?;
                (Some(taken.inputs), taken.blobs)
            }
            None => (None, Vec::new()),
        };
        // The offline steps must pass on the instance's current record, or resolving would
        // queue a change that cannot apply.
        let mut trial = MemoryStore::new();
        trial
            .put(&entry.table, current.clone())
            .map_err(action::ActionError::from)?;
        let ctx = ActionContext {
            user: session.ctx(),
            now: entry.queued_at,
            invocation_id: entry.id.clone(),
        };
        let trial_inputs = inputs.clone().unwrap_or_else(|| entry.inputs.clone());
        action::run(
            def,
            Side::Device,
            &mut trial,
            &mut NoHooks,
            &ctx,
            &entry.sys_id,
            &trial_inputs,
        )?;
        outbox.resolve(id, inputs, Base::capture(&current, &def.written_fields()))?;
        // Stored before the entry that needs them; if saving the entry fails, they are only
        // space, and the next prune takes them.
        for (hash, blob) in &blobs {
            session.db.put_blob(hash, blob).await?;
        }
        let entries = record_entries(&outbox, &entry.table, &entry.sys_id);
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
    /// instance's version (the entry's error record; else the instance's current record when
    /// it can be asked; else the shadow), then re-applies the offline steps of the record's
    /// remaining entries in `seq` order. Files no entry needs any more are removed.
    ///
    /// The entry is removed first, by a write that checks the stored entry again: a sync that
    /// started meanwhile may be sending it, and then nothing is changed.
    pub(super) async fn delete_entry(&self, id: &str) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        let _turn = self.outbox_turn.turn().await;
        let mut outbox = session.outbox().await?;
        let entry = outbox.remove(id)?;
        let instance_version = match entry.error.as_ref().and_then(|e| e.record.clone()) {
            Some(record) => Some(record),
            None => match self.instance_record(&entry.table, &entry.sys_id).await {
                Some(record) => Some(record),
                None => session.db.shadow(&entry.table, &entry.sys_id).await?,
            },
        };
        let remaining = record_entries(&outbox, &entry.table, &entry.sys_id);
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
        let own = replay(
            &session,
            &entry.table,
            instance_version.as_ref(),
            std::slice::from_ref(&entry),
        );
        for (table, record) in others(&own, &entry.table, &entry.sys_id) {
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
    async fn instance_record(&self, table: &str, sys_id: &str) -> Option<Record> {
        let session = self.session()?;
        if session.offline_mode.get() || !self.network.is_up() {
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
    /// entries' offline steps applied again.
    pub(super) async fn reapply_local_changes(
        &self,
        session: &Session,
    ) -> Result<(), RuntimeError> {
        let outbox = session.outbox().await?;
        for (table, sys_id) in outbox.marked() {
            let downloaded = session.db.get_record(&table, &sys_id).await?;
            let entries = record_entries(&outbox, &table, &sys_id);
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
        let store = replay(session, table, Some(base), entries);
        match store.get(table, sys_id).ok().flatten() {
            Some(record) => session.db.put_records(table, &[record]).await?,
            None => session.db.delete_record(table, sys_id).await?,
        }
        for (other_table, record) in others(&store, table, sys_id) {
            session.db.put_records(&other_table, &[record]).await?;
        }
        self.events.send(Event::RecordChanged {
            table: table.to_string(),
            sys_id: sys_id.to_string(),
        });
        Ok(())
    }
}

/// The entries of one record, in `seq` order.
pub(super) fn record_entries(outbox: &Outbox, table: &str, sys_id: &str) -> Vec<Entry> {
    outbox
        .entries()
        .iter()
        .filter(|e| e.table == table && e.sys_id == sys_id)
        .cloned()
        .collect()
}

/// Runs the offline steps of `entries` (one record's, in `seq` order) over `base`, each with
/// its own id and time so created records get the ids they got the first time. An entry
/// whose steps no longer pass leaves no local effect; it stays in the outbox, and the
/// instance decides.
fn replay(session: &Session, table: &str, base: Option<&Record>, entries: &[Entry]) -> MemoryStore {
    let mut store = MemoryStore::new();
    if let Some(base) = base {
        // A MemoryStore refuses only records without sys_id, which a stored record has.
        let _ = store.put(table, base.clone());
    }
    for entry in entries {
        let Some(def) = session.actions.get(&entry.action) else {
            continue;
        };
        let ctx = ActionContext {
            user: session.ctx(),
            now: entry.queued_at,
            invocation_id: entry.id.clone(),
        };
        let _ = action::run(
            def,
            Side::Device,
            &mut store,
            &mut NoHooks,
            &ctx,
            &entry.sys_id,
            &entry.inputs,
        );
    }
    store
}

/// Every record in `store` but the target.
fn others(store: &MemoryStore, table: &str, sys_id: &str) -> Vec<(String, Record)> {
    store
        .tables
        .iter()
        .flat_map(|(t, records)| records.iter().map(move |(id, r)| (t, id, r)))
        .filter(|(t, id, _)| !(t.as_str() == table && id.as_str() == sys_id))
        .map(|(t, _, r)| (t.clone(), r.clone()))
        .collect()
}
