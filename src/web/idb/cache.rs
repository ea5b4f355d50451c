//! The offline cache: the live record area, and downloads staged in the other area and
//! swapped in whole.
//!
//! A full download: [`LocalDb::begin_staging`] (the inactive area, emptied), then
//! [`Staging::put_batch`] per batch, then [`LocalDb::swap_in`]. An incremental download
//! (`?since=W`): [`LocalDb::begin_incremental_staging`] copies the live area into the inactive
//! one first, then the delta is applied there with [`Staging::put_batch`] and
//! [`Staging::delete`], then it is swapped in the same way. Copying costs one pass over the
//! cache, and buys the same guarantee as a full download: until the swap, the live cache is
//! untouched, so a delta that breaks off halfway is never half applied.
//!
//! A staging that is dropped without a swap leaves its records in the inactive area, where
//! nothing reads them; the next staging or [`LocalDb::clear_cache`] empties it.

use super::codec::{from_js, read_record, record_key, stored_record, stored_records, to_js};
use super::error::{DbError, OrDbError};
use super::memo::{bump, stored_rev, CachedTable, SliceKey, RECORDS_REV};
use super::schema::{AREA_0, AREA_1, BY_ASSIGNED_TO, BY_STATE, BY_TABLE, META, SHADOW};
use super::writes::Writes;
use super::LocalDb;
use crate::record::{Record, Timestamp};
use crate::web::transport::js_text;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::Transaction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbTransaction, IdbTransactionMode};

/// A transaction's end: resolves when it commits, fails when it aborts (a refused request
/// that nothing handles aborts it).
fn transaction_end(tx: &IdbTransaction) -> JsFuture {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(promise)
}

/// The `meta` key naming the live record area.
pub(crate) const AREA_KEY: &str = "area";
/// The `meta` key of the cache's [`CacheMeta`].
pub(crate) const CACHE_KEY: &str = "cache";

/// The index of a record area on `field`, if it has one.
fn field_index(field: &str) -> Option<&'static str> {
    match field {
        "state" => Some(BY_STATE),
        "assigned_to" => Some(BY_ASSIGNED_TO),
        _ => None,
    }
}

/// The three stores a transaction needs to find and use the live area.
const AREA_STORES: [&str; 3] = [META, AREA_0, AREA_1];

/// What is known about the cache that is live: where the next incremental download starts,
/// when it was downloaded, when it expires, and how many records it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheMeta {
    /// The instance's watermark at the download (`?since=` of the next one).
    pub watermark: String,
    /// When the download completed.
    pub downloaded_at: Timestamp,
    /// When the cache expires (the policy's TTL from `downloaded_at`).
    pub expires_at: Timestamp,
    /// How many records the download brought.
    pub records: u64,
}

/// One of the two record areas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Area {
    Zero,
    One,
}

impl Area {
    pub(crate) fn store(self) -> &'static str {
        match self {
            Area::Zero => AREA_0,
            Area::One => AREA_1,
        }
    }

    fn other(self) -> Area {
        match self {
            Area::Zero => Area::One,
            Area::One => Area::Zero,
        }
    }
}

/// The live area, read inside `tx` (which covers `meta`), so a swap committed by another
/// connection is seen. Area 0 when none was ever swapped in; an unknown name counts as area 0
/// too, since a cache in an area nobody names is lost either way.
pub(crate) async fn live_area(tx: &Transaction<'_>, op: &'static str) -> Result<Area, DbError> {
    let meta = tx.object_store(META).op(op)?;
    let name: Option<JsValue> = meta.get(AREA_KEY).primitive().op(op)?.await.op(op)?;
    Ok(match name.and_then(|n| n.as_string()).as_deref() {
        Some(AREA_1) => Area::One,
        _ => Area::Zero,
    })
}

impl LocalDb {
    /// A cached record of the live area, `None` when it is not cached.
    pub async fn get_record(&self, table: &str, sys_id: &str) -> Result<Option<Record>, DbError> {
        const OP: &str = "read a cached record";
        let tx = self.read(&AREA_STORES, OP)?;
        let area = live_area(&tx, OP).await?;
        let store = tx.object_store(area.store()).op(OP)?;
        let found: Option<JsValue> = store
            .get(record_key(table, sys_id))
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        found.map(|js| read_record(OP, js)).transpose()
    }

    /// Every cached record of a table (in `sys_id` order).
    pub async fn table_records(&self, table: &str) -> Result<Vec<Record>, DbError> {
        let records = self.read_table(table, false, &[]).await?;
        Ok(records.map_or_else(Vec::new, |r| r.records().to_vec()))
    }

    /// The cached records of a table that a query bound by `narrowing`
    /// ([`crate::query::Query::narrowing`]) can match, `None` when no download was swapped in
    /// (or the cache was cleared): the whole table when it is kept in memory or nothing
    /// narrows by an indexed field (`state`, `assigned_to`), else only the records that index
    /// holds at the narrowing's values, so a just-started worker reads and decodes what the
    /// answer needs. In one transaction; kept in memory once read ([`super::memo`]), so a warm
    /// connection reads two keys instead of records.
    pub async fn live_table(
        &self,
        table: &str,
        narrowing: &[SliceKey],
    ) -> Result<Option<Rc<CachedTable>>, DbError> {
        self.read_table(table, true, narrowing).await
    }

    /// See [`LocalDb::live_table`]; `None` only when `needs_cache` and no cache is live.
    async fn read_table(
        &self,
        table: &str,
        needs_cache: bool,
        narrowing: &[SliceKey],
    ) -> Result<Option<Rc<CachedTable>>, DbError> {
        const OP: &str = "read a table's cached records";
        let tx = self.read(&AREA_STORES, OP)?;
        let meta = tx.object_store(META).op(OP)?;
        // Sent before the token's read, so both are answered in one round.
        let cache = needs_cache
            .then(|| meta.get(CACHE_KEY).primitive().op(OP))
            .transpose()?;
        let rev = stored_rev(&meta, RECORDS_REV, OP).await?;
        if let Some(cache) = cache {
            let found: Option<JsValue> = cache.await.op(OP)?;
            if found.is_none() {
                return Ok(None);
            }
        }
        if let Some(kept) = self.memo.table(&rev, table) {
            return Ok(Some(kept));
        }
        let indexed: Vec<(&str, &SliceKey)> = narrowing
            .iter()
            .filter_map(|key| Some((field_index(&key.0)?, key)))
            .collect();
        if let Some(kept) = indexed
            .iter()
            .find_map(|(_, key)| self.memo.slice(&rev, table, key))
        {
            return Ok(Some(kept));
        }
        let area = live_area(&tx, OP).await?;
        let store = tx.object_store(area.store()).op(OP)?;
        // A state over an assignee: a technician's cache is mostly their own assignments, so
        // `assigned_to` leaves most of it, while a state leaves its share.
        let narrowest = indexed.iter().min_by_key(|(index, _)| *index != BY_STATE);
        let Some(&(index, key)) = narrowest else {
            let index = store.index(BY_TABLE).op(OP)?;
            let found = index
                .get_all::<JsValue>()
                .with_query(JsValue::from_str(table))
                .primitive()
                .op(OP)?
                .await
                .op(OP)?;
            let records = found
                .map(|js| read_record(OP, js.op(OP)?))
                .collect::<Result<Vec<_>, _>>()?;
            let records = Rc::new(CachedTable::new(records));
            self.memo.keep_table(rev, table, records.clone());
            return Ok(Some(records));
        };
        let index = store.index(index).op(OP)?;
        let mut records = Vec::new();
        for text in &key.1 {
            let found = index
                .get_all::<JsValue>()
                .with_query(record_key(table, text))
                .primitive()
                .op(OP)?
                .await
                .op(OP)?;
            for js in found {
                records.push(read_record(OP, js.op(OP)?)?);
            }
        }
        let records = Rc::new(CachedTable::new(records));
        self.memo
            .keep_slice(rev, table, key.clone(), records.clone());
        Ok(Some(records))
    }

    /// The `sys_id`s of a table's cached records, from the `table` index's keys alone: no
    /// record is read or decoded, so checking which records the cache holds stays cheap
    /// however large it is.
    pub async fn cached_ids(&self, table: &str) -> Result<BTreeSet<String>, DbError> {
        const OP: &str = "list a table's cached records";
        let tx = self.read(&AREA_STORES, OP)?;
        let area = live_area(&tx, OP).await?;
        let store = tx.object_store(area.store()).op(OP)?;
        let index = store.index(BY_TABLE).op(OP)?;
        let keys = index
            .get_all_keys::<JsValue>()
            .with_query(JsValue::from_str(table))
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        // Each primary key is `[table, sys_id]`.
        keys.map(|key| {
            let key = key.op(OP)?;
            js_sys::Reflect::get(&key, &JsValue::from_f64(1.0))
                .ok()
                .and_then(|id| id.as_string())
                .ok_or_else(|| DbError::Decode {
                    op: OP,
                    message: "a cached record's key is not [table, sys_id]".into(),
                })
        })
        .collect()
    }

    /// Puts records of one table into the live area, in one transaction.
    pub async fn put_records(&self, table: &str, records: &[Record]) -> Result<(), DbError> {
        let puts: Vec<_> = records.iter().map(|r| (table, r)).collect();
        self.write_live("save records to the offline cache", &puts, &[], &[])
            .await
    }

    /// Deletes a record from the live area (nothing happens when it is not cached).
    pub async fn delete_record(&self, table: &str, sys_id: &str) -> Result<(), DbError> {
        let deletes = [(table, sys_id)];
        self.write_live("delete a record from the offline cache", &[], &deletes, &[])
            .await
    }

    /// Puts and deletes records of any tables in the live area and forgets the shadows of
    /// `settled` records (their last entries applied), in one transaction: a sync stores what
    /// it brought back at once. Strict when shadows go, since they guard the user's changes.
    pub async fn write_records(
        &self,
        puts: &[(String, Record)],
        deletes: &[(String, String)],
        settled: &[(String, String)],
    ) -> Result<(), DbError> {
        let puts: Vec<_> = puts.iter().map(|(table, r)| (table.as_str(), r)).collect();
        let deletes: Vec<_> = deletes
            .iter()
            .map(|(table, id)| (table.as_str(), id.as_str()))
            .collect();
        self.write_live(
            "save synced records to the offline cache",
            &puts,
            &deletes,
            settled,
        )
        .await
    }

    /// The one writer of the live area for the three above: slices, not iterators, so it is
    /// compiled once (each generic copy of an async writer costs kilobytes of wasm).
    async fn write_live(
        &self,
        op: &'static str,
        puts: &[(&str, &Record)],
        deletes: &[(&str, &str)],
        settled: &[(String, String)],
    ) -> Result<(), DbError> {
        let values = puts
            .iter()
            .map(|&(table, r)| stored_record(op, table, r))
            .collect::<Result<Vec<_>, _>>()?;
        let stores = [META, AREA_0, AREA_1, SHADOW];
        let tx = if settled.is_empty() {
            self.write(&stores, op)?
        } else {
            self.write_strict(&stores, op)?
        };
        let area = live_area(&tx, op).await?;
        let store = tx.object_store(area.store()).op(op)?;
        let mut writes = Writes::new();
        // The token first: its read is answered before any refusal below could abort.
        let bumped = bump(&tx.object_store(META).op(op)?, RECORDS_REV, &mut writes, op).await?;
        for value in values {
            writes.push(store.put(value).primitive().op(op)?);
        }
        for &(table, sys_id) in deletes {
            writes.push(store.delete(record_key(table, sys_id)).primitive().op(op)?);
        }
        let shadows = tx.object_store(SHADOW).op(op)?;
        for (table, sys_id) in settled {
            writes.push(
                shadows
                    .delete(record_key(table, sys_id))
                    .primitive()
                    .op(op)?,
            );
        }
        writes.commit(tx, op).await?;
        self.memo
            .records_written(&bumped, puts.iter().copied(), deletes.iter().copied());
        Ok(())
    }

    /// How many records the live area holds, over all tables.
    pub async fn count_records(&self) -> Result<u64, DbError> {
        const OP: &str = "count the cached records";
        let tx = self.read(&AREA_STORES, OP)?;
        let area = live_area(&tx, OP).await?;
        let store = tx.object_store(area.store()).op(OP)?;
        let count = store.count().primitive().op(OP)?.await.op(OP)?;
        Ok(u64::from(count))
    }

    /// Deletes the offline cache: both record areas and the cache's metadata. The outbox,
    /// shadows, drafts and blobs stay: they hold the user's own work.
    pub async fn clear_cache(&self) -> Result<(), DbError> {
        const OP: &str = "delete the offline cache";
        let tx = self.write(&AREA_STORES, OP)?;
        let mut writes = Writes::new();
        let meta = tx.object_store(META).op(OP)?;
        bump(&meta, RECORDS_REV, &mut writes, OP).await?;
        writes.push(tx.object_store(AREA_0).op(OP)?.clear().op(OP)?);
        writes.push(tx.object_store(AREA_1).op(OP)?.clear().op(OP)?);
        writes.push(meta.delete(CACHE_KEY).primitive().op(OP)?);
        writes.commit(tx, OP).await?;
        self.memo.forget_records();
        Ok(())
    }

    /// The live cache's metadata, `None` when no download was swapped in (or the cache was
    /// cleared).
    pub async fn cache_meta(&self) -> Result<Option<CacheMeta>, DbError> {
        const OP: &str = "read the offline cache's metadata";
        let tx = self.read(&[META], OP)?;
        let meta = tx.object_store(META).op(OP)?;
        let found: Option<JsValue> = meta.get(CACHE_KEY).primitive().op(OP)?.await.op(OP)?;
        found.map(|js| from_js(OP, js)).transpose()
    }

    /// Starts a full download: empties the inactive area and returns it for staging.
    pub async fn begin_staging(&self) -> Result<Staging<'_>, DbError> {
        const OP: &str = "prepare a cache download";
        let tx = self.write(&AREA_STORES, OP)?;
        let area = live_area(&tx, OP).await?.other();
        let mut writes = Writes::new();
        writes.push(tx.object_store(area.store()).op(OP)?.clear().op(OP)?);
        writes.commit(tx, OP).await?;
        Ok(Staging::new(self, area))
    }

    /// Starts an incremental download: the inactive area, emptied, then filled with a copy of
    /// the live area, for the delta to be applied to (see the module docs).
    pub async fn begin_incremental_staging(&self) -> Result<Staging<'_>, DbError> {
        const OP: &str = "prepare an incremental cache download";
        let tx = self.write(&AREA_STORES, OP)?;
        let live = live_area(&tx, OP).await?;
        let area = live.other();
        let staging = tx.object_store(area.store()).op(OP)?;
        let mut writes = Writes::new();
        writes.push(staging.clear().op(OP)?);
        let records = tx
            .object_store(live.store())
            .op(OP)?
            .get_all::<JsValue>()
            .primitive()
            .op(OP)?
            .await
            .op(OP)?;
        // The stored values are copied as they are: no trip through Rust.
        for value in records {
            writes.push(staging.put(value.op(OP)?).primitive().op(OP)?);
        }
        writes.commit(tx, OP).await?;
        Ok(Staging::new(self, area))
    }

    /// Makes a staged download the live cache and records its metadata, in one transaction;
    /// then empties the area that was live. If emptying fails, the next staging does it.
    pub async fn swap_in(&self, mut staging: Staging<'_>, meta: &CacheMeta) -> Result<(), DbError> {
        const OP: &str = "swap in the downloaded cache";
        staging.written().await?;
        if !std::ptr::eq(staging.db, self) {
            return Err(DbError::Invalid {
                op: OP,
                message: "the download was staged in another database connection".into(),
            });
        }
        let tx = self.write(&AREA_STORES, OP)?;
        let live = live_area(&tx, OP).await?;
        if live == staging.area {
            return Err(DbError::Invalid {
                op: OP,
                message: "another download was swapped in while this one was staged".into(),
            });
        }
        let store = tx.object_store(META).op(OP)?;
        let mut writes = Writes::new();
        bump(&store, RECORDS_REV, &mut writes, OP).await?;
        writes.push(
            store
                .put(staging.area.store())
                .with_key(AREA_KEY)
                .primitive()
                .op(OP)?,
        );
        writes.push(
            store
                .put(to_js(OP, meta)?)
                .with_key(CACHE_KEY)
                .primitive()
                .op(OP)?,
        );
        writes.commit(tx, OP).await?;
        self.memo.forget_records();

        const CLEAR_OP: &str = "empty the previous cache";
        let tx = self.write(&[live.store()], CLEAR_OP)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(live.store())
                .op(CLEAR_OP)?
                .clear()
                .op(CLEAR_OP)?,
        );
        writes.commit(tx, CLEAR_OP).await
    }
}

/// A download being staged in the inactive record area. Nothing reads it until
/// [`LocalDb::swap_in`]; dropping it abandons the download and leaves the live cache as it
/// was.
pub struct Staging<'a> {
    db: &'a LocalDb,
    area: Area,
    /// The batch the browser is writing, if any: its transaction, and its end.
    sent: Option<(IdbTransaction, JsFuture)>,
}

impl<'a> Staging<'a> {
    fn new(db: &'a LocalDb, area: Area) -> Self {
        Self {
            db,
            area,
            sent: None,
        }
    }

    /// Puts a batch of `(table, record)` into the staged area, in one transaction, and returns
    /// once the browser has it, not once it is stored: the caller decodes the next batch while
    /// the browser writes this one. The batch before is waited for first (its failure is
    /// returned here), so at most one is being written; [`Self::written`] waits for the last.
    /// IndexedDB runs read-write transactions on the same store in the order they were made,
    /// so later writes (a deletion, the swap) apply after it.
    pub async fn put_batch(&mut self, records: &[(String, Record)]) -> Result<(), DbError> {
        const OP: &str = "save downloaded records";
        let values = stored_records(OP, records)?;
        self.written().await?;
        let store_name = self.area.store();
        // The browser's own requests, with no handler per request: the transaction's end
        // tells whether all of them were stored. Left to commit on its own, a refused put
        // aborts the whole transaction in every engine.
        let js = |e: JsValue| DbError::Idb {
            op: OP,
            message: js_text(&e),
        };
        let tx = self
            .db
            .db
            .as_sys()
            .transaction_with_str_and_mode(store_name, IdbTransactionMode::Readwrite)
            .map_err(js)?;
        let end = transaction_end(&tx);
        let store = tx.object_store(store_name).map_err(js)?;
        for value in values.iter() {
            if let Err(e) = store.put(&value) {
                let _ = tx.abort();
                return Err(js(e));
            }
        }
        self.sent = Some((tx, end));
        Ok(())
    }

    /// Waits until the batches put so far are stored, and returns why not if one failed.
    pub async fn written(&mut self) -> Result<(), DbError> {
        let Some((tx, end)) = self.sent.take() else {
            return Ok(());
        };
        end.await.map(drop).map_err(|_| DbError::Idb {
            op: "save downloaded records",
            message: tx.error().map_or_else(
                || "the browser gave up the write".into(),
                |e| format!("{}: {}", e.name(), e.message()),
            ),
        })
    }

    /// Deletes a record from the staged area (an incremental download's deletion).
    pub async fn delete(&self, table: &str, sys_id: &str) -> Result<(), DbError> {
        const OP: &str = "apply a downloaded deletion";
        let store_name = self.area.store();
        let tx = self.db.write(&[store_name], OP)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(store_name)
                .op(OP)?
                .delete(record_key(table, sys_id))
                .primitive()
                .op(OP)?,
        );
        writes.commit(tx, OP).await
    }
}
