//! The outbox, and a local action's effects written atomically with its outbox entry.

use super::cache::live_area;
use super::codec::{from_js, read_record, record_key, stored_record, to_js};
use super::error::{DbError, OrDbError};
use super::files::stored_file;
use super::lease::lease_held;
use super::memo::{bump, stored_rev, OUTBOX_REV, RECORDS_REV};
use super::schema::{AREA_0, AREA_1, BLOBS, BY_SEQ, META, OUTBOX, SHADOW};
use super::writes::Writes;
use super::LocalDb;
use crate::outbox::{Entry, EntryState, OutboxError, TransitionError};
use crate::record::Record;
use crate::store::FileInput;
use futures_util::future::try_join;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::Transaction;
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use web_sys::Blob;

/// What one offline action did locally, to be stored in one transaction with its entry.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalChanges {
    /// `(table, record)` to put into the live cache.
    pub puts: Vec<(String, Record)>,
    /// `(table, sys_id)` to delete from the live cache.
    pub deletes: Vec<(String, String)>,
    /// `(table, record)`: the instance's version of each record the action touched, kept only
    /// where no shadow exists yet (the first local change's "before" wins).
    pub shadows: Vec<(String, Record)>,
    /// `(sha-256 hex, bytes)`: the files the action's inputs carried; the entry keeps only
    /// their metadata.
    pub blobs: Vec<(String, Blob)>,
    /// The outbox entry. Added, never overwritten: an entry whose `id` or `seq` is taken
    /// fails the whole transaction.
    pub entry: Entry,
}

/// Why [`LocalDb::remove_entry`] removed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoveError {
    /// Local storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The stored entry is gone, or being sent.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The entry is pending and a sync run holds the lease: the run may send it yet.
    #[error("a sync is running and may send this change; delete it once the sync has finished")]
    SyncRunning,
}

impl LocalDb {
    /// Every outbox entry, in `seq` order.
    pub async fn outbox_entries(&self) -> Result<Vec<Entry>, DbError> {
        Ok(self.outbox_kept().await?.to_vec())
    }

    /// The outbox in `seq` order, shared: kept in memory once read ([`super::memo`]), so a
    /// warm connection reads one token instead of every entry.
    pub async fn outbox_kept(&self) -> Result<Rc<Vec<Entry>>, DbError> {
        const OP: &str = "read the outbox";
        let tx = self.read(&[META, OUTBOX], OP)?;
        self.outbox_in(&tx, OP).await
    }

    /// The outbox as `tx` (over `meta` and the outbox) sees it: the memo when its token is
    /// the stored one, else every entry read (and kept).
    async fn outbox_in(
        &self,
        tx: &Transaction<'_>,
        op: &'static str,
    ) -> Result<Rc<Vec<Entry>>, DbError> {
        let rev = stored_rev(&tx.object_store(META).op(op)?, OUTBOX_REV, op).await?;
        if let Some(kept) = self.memo.outbox(&rev) {
            return Ok(kept);
        }
        let store = tx.object_store(OUTBOX).op(op)?;
        let found = store
            .index(BY_SEQ)
            .op(op)?
            .get_all::<JsValue>()
            .primitive()
            .op(op)?
            .await
            .op(op)?;
        let entries = Rc::new(
            found
                .map(|js| from_js(op, js.op(op)?))
                .collect::<Result<Vec<_>, _>>()?,
        );
        self.memo.keep_outbox(rev, entries.clone());
        Ok(entries)
    }

    /// Writes changed entries and removes entries by id, in one strict transaction.
    pub async fn save_outbox(&self, changed: &[Entry], removed: &[String]) -> Result<(), DbError> {
        const OP: &str = "save the outbox";
        let values = changed
            .iter()
            .map(|e| to_js(OP, e))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.write_strict(&[META, OUTBOX], OP)?;
        let store = tx.object_store(OUTBOX).op(OP)?;
        let mut writes = Writes::new();
        let bumped = bump(&tx.object_store(META).op(OP)?, OUTBOX_REV, &mut writes, OP).await?;
        for id in removed {
            writes.push(store.delete(id.as_str()).primitive().op(OP)?);
        }
        for value in values {
            writes.push(store.put(value).primitive().op(OP)?);
        }
        writes.commit(tx, OP).await?;
        self.memo
            .outbox_written(&bumped, changed, removed.iter().map(String::as_str));
        Ok(())
    }

    /// Removes entry `id` and writes `settled` (the other entries of its record, unblocked
    /// where [`crate::outbox::Outbox::remove`] said so), in one strict transaction that first
    /// checks the STORED entry: the caller decided on a copy read earlier, and a sync may have
    /// marked the entry syncing since. Refused, with nothing changed, when the entry is gone,
    /// is syncing, or is pending while a sync run holds the lease at `now_ms` (the run loaded
    /// the outbox at its start and may still send it). Failed and blocked entries are never
    /// sent by a run, so they go even while one runs.
    pub async fn remove_entry(
        &self,
        id: &str,
        settled: &[Entry],
        now_ms: f64,
    ) -> Result<(), RemoveError> {
        const OP: &str = "delete the outbox entry";
        let values = settled
            .iter()
            .map(|e| to_js(OP, e))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.write_strict(&[META, OUTBOX], OP)?;
        let store = tx.object_store(OUTBOX).op(OP)?;
        let found: Option<JsValue> = store.get(id).primitive().op(OP)?.await.op(OP)?;
        let stored: Entry = match found {
            Some(js) => from_js(OP, js)?,
            None => return Err(OutboxError::NotFound(id.to_string()).into()),
        };
        match stored.state {
            EntryState::Syncing => {
                let refused = TransitionError {
                    id: id.to_string(),
                    from: stored.state,
                    attempted: "removed",
                };
                return Err(OutboxError::from(refused).into());
            }
            EntryState::Pending => {
                let meta = tx.object_store(META).op(OP)?;
                if lease_held(&meta, now_ms, OP).await? {
                    return Err(RemoveError::SyncRunning);
                }
            }
            EntryState::Failed | EntryState::Blocked => {}
        }
        let mut writes = Writes::new();
        let bumped = bump(&tx.object_store(META).op(OP)?, OUTBOX_REV, &mut writes, OP).await?;
        writes.push(store.delete(id).primitive().op(OP)?);
        for value in values {
            writes.push(store.put(value).primitive().op(OP)?);
        }
        writes.commit(tx, OP).await?;
        self.memo.outbox_written(&bumped, settled, [id]);
        Ok(())
    }

    /// Stores a local action's effects, its files' bytes and its outbox entry in ONE strict
    /// transaction across the cache, the shadows, the blobs and the outbox: either all of it is
    /// stored or none of it.
    pub async fn commit_local_action(&self, changes: LocalChanges) -> Result<(), DbError> {
        let (table, sys_id) = (changes.entry.table.clone(), changes.entry.sys_id.clone());
        let blobs = changes.blobs.clone();
        self.act_locally(&table, &sys_id, blobs, |_, _, _| {
            Ok::<_, DbError>((changes, ()))
        })
        .await
    }

    /// Runs a local action in ONE strict transaction: reads the cached record
    /// `table`/`sys_id` (`None` when it is not cached) and the outbox (in `seq` order), hands
    /// them and `blobs` (the files of the action's inputs) to `plan`, and stores the changes
    /// it returns as [`Self::commit_local_action`] does; then answers `plan`'s own answer.
    /// `plan` refusing writes nothing.
    ///
    /// One transaction, not a read for the record, another for the outbox and a write: each
    /// transaction costs the worker its setup and a round trip to the browser's database.
    pub async fn act_locally<T, E: From<DbError>>(
        &self,
        table: &str,
        sys_id: &str,
        blobs: Vec<(String, Blob)>,
        plan: impl FnOnce(Option<Record>, &[Entry], Vec<(String, Blob)>) -> Result<(LocalChanges, T), E>,
    ) -> Result<T, E> {
        const OP: &str = "save the offline change";
        // The files' bytes are read before the transaction opens: it cannot wait for them.
        let mut files = Vec::with_capacity(blobs.len());
        if !blobs.is_empty() {
            let form = self.file_form().await;
            for (hash, blob) in &blobs {
                files.push((hash.clone(), stored_file(blob, form).await?));
            }
        }

        let tx = self.write_strict(&[META, AREA_0, AREA_1, SHADOW, BLOBS, OUTBOX], OP)?;
        let (area, outbox) = try_join(live_area(&tx, OP), self.outbox_in(&tx, OP)).await?;
        let found: Option<JsValue> = tx
            .object_store(area.store())
            .op(OP)?
            .get(record_key(table, sys_id))
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        let cached = found.map(|js| read_record(OP, js)).transpose()?;
        let (changes, answer) = plan(cached, &outbox, blobs)?;
        // The memo's outbox is changed in place below, not copied, once this is its only
        // holder.
        drop(outbox);

        let puts = changes
            .puts
            .iter()
            .map(|(table, r)| stored_record(OP, table, r))
            .collect::<Result<Vec<_>, _>>()?;
        let shadows = changes
            .shadows
            .iter()
            .map(|(table, r)| {
                let value = stored_record(OP, table, r)?;
                // `stored_record` has refused a record without a sys_id.
                Ok((record_key(table, r.sys_id().unwrap_or_default()), value))
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        let entry = to_js(OP, &changes.entry)?;
        let shadow_store = tx.object_store(SHADOW).op(OP)?;
        // The lookups and both tokens' reads go out together (one round trip to the browser's
        // database, not three); the writes that depend on them follow once they are answered.
        let mut lookups = Vec::with_capacity(shadows.len());
        for (key, _) in &shadows {
            lookups.push(
                shadow_store
                    .get_key::<JsValue, _>(key.clone())
                    .primitive()
                    .op(OP)?,
            );
        }
        let meta = tx.object_store(META).op(OP)?;
        let (mut writes, mut outbox_writes) = (Writes::new(), Writes::new());
        let (records_bumped, outbox_bumped) = try_join(
            bump(&meta, RECORDS_REV, &mut writes, OP),
            bump(&meta, OUTBOX_REV, &mut outbox_writes, OP),
        )
        .await?;
        writes.append(outbox_writes);
        let mut absent = Vec::with_capacity(shadows.len());
        for lookup in lookups {
            absent.push(lookup.await.op(OP)?.is_none());
        }

        let records = tx.object_store(area.store()).op(OP)?;
        let outbox = tx.object_store(OUTBOX).op(OP)?;
        let blob_store = tx.object_store(BLOBS).op(OP)?;
        for ((_, value), absent) in shadows.into_iter().zip(absent) {
            if absent {
                writes.push(shadow_store.put(value).primitive().op(OP)?);
            }
        }
        for value in puts {
            writes.push(records.put(value).primitive().op(OP)?);
        }
        for (table, sys_id) in &changes.deletes {
            writes.push(
                records
                    .delete(record_key(table, sys_id))
                    .primitive()
                    .op(OP)?,
            );
        }
        for (hash, _) in &changes.blobs {
            let Some((_, file)) = files.iter().find(|(h, _)| h == hash) else {
                return Err(DbError::Invalid {
                    op: OP,
                    message: format!("the file {hash} was not among the action's files"),
                }
                .into());
            };
            // Keyed by content: the same file queued twice is stored once.
            writes.push(
                blob_store
                    .put(file.clone())
                    .with_key(hash.as_str())
                    .primitive()
                    .op(OP)?,
            );
        }
        writes.push(outbox.add(entry).primitive().op(OP)?);
        writes.commit(tx, OP).await?;
        self.memo.records_written(
            &records_bumped,
            changes.puts.iter().map(|(t, r)| (t.as_str(), r)),
            changes
                .deletes
                .iter()
                .map(|(t, id)| (t.as_str(), id.as_str())),
        );
        self.memo
            .outbox_written(&outbox_bumped, [&changes.entry], []);
        Ok(answer)
    }

    /// Deletes the stored files no outbox entry refers to any more (their entries were applied
    /// or deleted). One transaction reads the outbox and deletes the blobs, so a file queued
    /// meanwhile (with its entry, in one transaction) is never taken for an orphan.
    pub async fn prune_blobs(&self) -> Result<(), DbError> {
        const OP: &str = "remove attachment bytes no change needs";
        let tx = self.write(&[OUTBOX, BLOBS], OP)?;
        let found = tx
            .object_store(OUTBOX)
            .op(OP)?
            .get_all::<JsValue>()
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        let mut needed = HashSet::new();
        for js in found {
            let entry: Entry = from_js(OP, js.op(OP)?)?;
            needed.extend(
                entry
                    .inputs
                    .values()
                    .filter_map(FileInput::from_value)
                    .map(|file| file.hash),
            );
        }
        let blobs = tx.object_store(BLOBS).op(OP)?;
        let keys = blobs
            .get_all_keys::<JsValue>()
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        let mut unneeded = Vec::new();
        for key in keys {
            if let Some(hash) = key.op(OP)?.as_string() {
                if !needed.contains(&hash) {
                    unneeded.push(hash);
                }
            }
        }
        let mut writes = Writes::new();
        for hash in &unneeded {
            writes.push(blobs.delete(hash.as_str()).primitive().op(OP)?);
        }
        writes.commit(tx, OP).await
    }

    /// The instance's version of a record before its first local change, if one is kept.
    pub async fn shadow(&self, table: &str, sys_id: &str) -> Result<Option<Record>, DbError> {
        const OP: &str = "read a record's instance version";
        let tx = self.read(&[SHADOW], OP)?;
        let store = tx.object_store(SHADOW).op(OP)?;
        let found: Option<JsValue> = store
            .get(record_key(table, sys_id))
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        found.map(|js| read_record(OP, js)).transpose()
    }

    /// Replaces a record's shadow: the instance's version moved on (an entry of the record
    /// applied, or a failed one was rebased on the instance's current record) while later
    /// entries still wait.
    pub async fn put_shadow(&self, table: &str, record: &Record) -> Result<(), DbError> {
        const OP: &str = "save a record's instance version";
        let value = stored_record(OP, table, record)?;
        let tx = self.write_strict(&[SHADOW], OP)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(SHADOW)
                .op(OP)?
                .put(value)
                .primitive()
                .op(OP)?,
        );
        writes.commit(tx, OP).await
    }

    /// Forgets a record's shadow (its outbox entries are gone).
    pub async fn remove_shadow(&self, table: &str, sys_id: &str) -> Result<(), DbError> {
        const OP: &str = "remove a record's instance version";
        let tx = self.write_strict(&[SHADOW], OP)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(SHADOW)
                .op(OP)?
                .delete(record_key(table, sys_id))
                .primitive()
                .op(OP)?,
        );
        writes.commit(tx, OP).await
    }
}
