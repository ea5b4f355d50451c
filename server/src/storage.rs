//! Storage of the instance: records, change tracking, attachments, sessions, idempotency
//! records and configuration, behind two small traits so that another database (PostgreSQL)
//! can be added without touching the routes.
//!
//! [`Storage`] hands out transactions; [`Tx`] is what a transaction can do. Everything above
//! (the routes, the action engine through [`TxStore`]) speaks only these traits.

pub mod sqlite;

use offgrid::api::attachment::content_type_fault;
use offgrid::query::FieldTest;
use offgrid::record::{Record, Timestamp};
use offgrid::store::{attachment_record, FileInput, JournalEntry, Store, StoreError};
use offgrid::store::{ATTACHMENT_TABLE, JOURNAL_TABLE};
use offgrid::sync::{Ledger, SyncResult};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// A database failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("database error: {0}")]
pub struct StorageError(pub String);

/// Whether a transaction may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A consistent snapshot for reading.
    Read,
    /// Reads and writes, committed together or not at all.
    Write,
}

/// A database that runs work in transactions.
pub trait Storage: Send + Sync {
    /// Runs `work` in one transaction; a write transaction commits when `work` returns `true`
    /// and rolls back otherwise.
    fn transaction(
        &self,
        mode: Mode,
        work: &mut dyn FnMut(&mut dyn Tx) -> bool,
    ) -> Result<(), StorageError>;
}

impl dyn Storage + '_ {
    /// Runs `f` in a read transaction.
    pub fn read<T, E: From<StorageError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Mode::Read, |tx| f(tx).map(|v| (v, false)))
    }

    /// Runs `f` in a write transaction that commits when `f` succeeds.
    pub fn write<T, E: From<StorageError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Mode::Write, |tx| f(tx).map(|v| (v, true)))
    }

    /// Runs `f` in a write transaction that commits only when `f` returns `Ok((_, true))`:
    /// for work that answers normally yet must leave nothing behind (a sync conflict).
    pub fn write_if<T, E: From<StorageError>>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        self.run(Mode::Write, f)
    }

    fn run<T, E: From<StorageError>>(
        &self,
        mode: Mode,
        f: impl FnOnce(&mut dyn Tx) -> Result<(T, bool), E>,
    ) -> Result<T, E> {
        let mut f = Some(f);
        let mut out = None;
        self.transaction(mode, &mut |tx| {
            let Some(f) = f.take() else { return false };
            let result = f(tx);
            let commit = matches!(result, Ok((_, true)));
            out = Some(result);
            commit
        })?;
        match out {
            Some(result) => result.map(|(v, _)| v),
            None => Err(StorageError("the transaction did not run".into()).into()),
        }
    }
}

/// What one transaction can do.
pub trait Tx {
    /// A record, `None` when missing.
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StorageError>;
    /// Inserts or replaces a record; it takes the next change counter value.
    fn put(&mut self, table: &str, record: &Record) -> Result<(), StorageError>;
    /// Deletes a record and leaves a tombstone; `false` when there was none.
    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StorageError>;
    /// Calls `each` for every record of a table with `change_seq > since`, in `sys_id` order,
    /// until it returns `false`.
    fn scan(
        &self,
        table: &str,
        since: i64,
        each: &mut dyn FnMut(Record) -> bool,
    ) -> Result<(), StorageError>;
    /// Calls `each` for every record of a table that may meet `narrowing` (the core's
    /// [`offgrid::query::Query::narrowing`]: each `(field, texts)` holds for a match), in
    /// `sys_id` order, until it returns `false`. Only narrows: the caller's evaluator still
    /// judges every record it is given, and an empty `narrowing` gives every record. With
    /// `fields`, each record holds only those of its fields (with their JSON values as
    /// stored), which is all a query over them reads.
    fn scan_narrowed(
        &self,
        table: &str,
        narrowing: &[(String, Vec<String>)],
        fields: Option<&BTreeSet<String>>,
        each: &mut dyn FnMut(Record) -> bool,
    ) -> Result<(), StorageError>;
    /// One page of a list answered by the database alone: the records of `table` that pass
    /// every test (the core's [`offgrid::query::FieldTest`]s, which hold exactly for the
    /// records a query matches), ordered by `order` (`(field, descending)`, ties by
    /// `sys_id`) as the core's [`offgrid::query::Query::compare`] orders them, `offset` and
    /// `limit` applied, and how many pass. `None` when the database cannot give that order
    /// exactly (an ORDERBY field that some passing record has as a number, a boolean, an
    /// empty string or a text that could read as a number), when a field has no JSON path, or
    /// when no index holds every field tested and ordered by (counting and paging would read
    /// each record twice): the caller then judges every record itself.
    fn page_by_sql(
        &self,
        table: &str,
        tests: &[FieldTest],
        order: &[(&str, bool)],
        offset: usize,
        limit: usize,
    ) -> Result<Option<SqlPage>, StorageError>;
    /// Calls `each` with the `sys_id` of every record of a table deleted after `since`.
    fn tombstones(
        &self,
        table: &str,
        since: i64,
        each: &mut dyn FnMut(String),
    ) -> Result<(), StorageError>;
    /// Calls `each` with every version a record of a table had since `since` (as it was at
    /// `since`, and each version a later change replaced; not the current one). `false` when
    /// nothing about the record's changes after `since` is known (they predate the log).
    fn versions_since(
        &self,
        table: &str,
        sys_id: &str,
        since: i64,
        each: &mut dyn FnMut(Record),
    ) -> Result<bool, StorageError>;
    /// The change counter: the value of the last write (0 for an empty database).
    fn watermark(&self) -> Result<i64, StorageError>;
    /// Whether the database holds no record at all.
    fn is_empty(&self) -> Result<bool, StorageError>;

    /// Stores an attachment's bytes.
    fn put_bytes(&mut self, sys_id: &str, bytes: &[u8]) -> Result<(), StorageError>;
    /// An attachment's bytes.
    fn bytes(&self, sys_id: &str) -> Result<Option<Vec<u8>>, StorageError>;

    /// The stored answer to an outbox entry `user` applied.
    fn sync_result(&self, user: &str, entry_id: &str) -> Result<Option<Value>, StorageError>;
    /// Remembers the answer to an applied outbox entry of `user`.
    fn put_sync_result(
        &mut self,
        entry_id: &str,
        user: &str,
        result: &Value,
        now: Timestamp,
    ) -> Result<(), StorageError>;

    /// The session whose token hashes to `token_hash`.
    fn session(&self, token_hash: &str) -> Result<Option<Session>, StorageError>;
    /// Opens a session at `now` (Unix seconds); only the token's hash is stored.
    fn put_session(&mut self, token_hash: &str, user: &str, now: i64) -> Result<(), StorageError>;
    /// Notes that a session was used at `now` (Unix seconds).
    fn touch_session(&mut self, token_hash: &str, now: i64) -> Result<(), StorageError>;
    /// Ends a session.
    fn delete_session(&mut self, token_hash: &str) -> Result<(), StorageError>;

    /// A user's salt and password hash.
    fn credentials(&self, user: &str) -> Result<Option<(String, String)>, StorageError>;
    /// Sets a user's salt and password hash.
    fn put_credentials(&mut self, user: &str, salt: &str, hash: &str) -> Result<(), StorageError>;

    /// A configuration value.
    fn config(&self, key: &str) -> Result<Option<Value>, StorageError>;
    /// Sets a configuration value.
    fn put_config(&mut self, key: &str, value: &Value) -> Result<(), StorageError>;
}

/// A page of a list the database answered ([`Tx::page_by_sql`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlPage {
    /// How many records pass the tests, before paging.
    pub total: usize,
    /// The `sys_id`s of the page's records, in order.
    pub sys_ids: Vec<String>,
}

/// A stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Whose.
    pub user_name: String,
    /// When it was opened, Unix seconds.
    pub created_at: i64,
    /// When it was last used, Unix seconds.
    pub last_seen: i64,
}

/// The first record of a table whose `field` has the text `value`.
pub fn find_by(
    tx: &dyn Tx,
    table: &str,
    field: &str,
    value: &str,
) -> Result<Option<Record>, StorageError> {
    let mut found = None;
    tx.scan(table, -1, &mut |record| {
        if record.text(field).as_deref() == Some(value) {
            found = Some(record);
            return false;
        }
        true
    })?;
    Ok(found)
}

/// Lowercase hex sha-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    offgrid::record::hex(&Sha256::digest(bytes))
}

/// The core's [`Store`] over one transaction: what the action engine and the Table API's
/// journal writes go through, so both write records the same way.
pub struct TxStore<'a> {
    /// The transaction.
    pub tx: &'a mut dyn Tx,
    /// The largest attachment accepted.
    pub max_attachment_bytes: u64,
    /// Set when the store refused a file because of the request (bad bytes, too large), so
    /// the caller can answer a client error rather than a database failure.
    pub refused: Option<String>,
}

fn store_err(e: StorageError) -> StoreError {
    StoreError(e.0)
}

impl Store for TxStore<'_> {
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError> {
        self.tx.get(table, sys_id).map_err(store_err)
    }

    fn put(&mut self, table: &str, record: Record) -> Result<(), StoreError> {
        self.tx.put(table, &record).map_err(store_err)
    }

    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError> {
        self.tx.delete(table, sys_id).map_err(store_err)
    }

    fn append_journal(&mut self, entry: JournalEntry) -> Result<(), StoreError> {
        self.tx
            .put(JOURNAL_TABLE, &entry.record())
            .map_err(store_err)
    }

    fn add_attachment(
        &mut self,
        table: &str,
        table_sys_id: &str,
        sys_id: &str,
        file: &FileInput,
        user: &str,
        now: Timestamp,
    ) -> Result<Record, StoreError> {
        let bytes = self.file_bytes(file).map_err(|message| {
            self.refused = Some(message.clone());
            StoreError(message)
        })?;
        let meta = attachment_record(table, table_sys_id, sys_id, file);
        save_attachment(self.tx, meta, &bytes, user, now).map_err(store_err)
    }
}

/// The sync rule's idempotency record lives in the same transaction as the records, so an
/// entry's change and its remembered answer commit together.
impl Ledger for TxStore<'_> {
    fn answered(&self, id: &str, user: &str) -> Result<Option<SyncResult>, StoreError> {
        let Some(stored) = self.tx.sync_result(user, id).map_err(store_err)? else {
            return Ok(None);
        };
        serde_json::from_value(stored).map(Some).map_err(|e| {
            StoreError(format!(
                "the stored answer of entry {id} is unreadable: {e}"
            ))
        })
    }

    fn remember(&mut self, id: &str, user: &str, result: &SyncResult) -> Result<(), StoreError> {
        let value = serde_json::to_value(result)
            .map_err(|e| StoreError(format!("the answer of entry {id} cannot be stored: {e}")))?;
        self.tx
            .put_sync_result(id, user, &value, Timestamp::now())
            .map_err(store_err)
    }

    fn take_refusal(&mut self) -> Option<String> {
        self.refused.take()
    }
}

impl<'a> TxStore<'a> {
    /// A store over `tx`.
    pub fn new(tx: &'a mut dyn Tx, max_attachment_bytes: u64) -> Self {
        Self {
            tx,
            max_attachment_bytes,
            refused: None,
        }
    }

    /// The bytes of a file input: its `data`, or the bytes of an attachment with the same
    /// hash uploaded before; checked against the announced size and hash (the core's one
    /// check) and the instance's size limit.
    fn file_bytes(&self, file: &FileInput) -> Result<Vec<u8>, String> {
        let name = &file.file_name;
        if let Some(fault) = content_type_fault(&file.content_type) {
            return Err(format!("file {name}: {fault}"));
        }
        let bytes = match file.bytes().map_err(|e| format!("file {name}: {e}"))? {
            Some(bytes) => bytes,
            None => {
                let bytes = self
                    .bytes_by_hash(&file.hash)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| {
                        format!(
                            "file {name}: no bytes were sent and no attachment with hash {} was \
                             uploaded before",
                            file.hash
                        )
                    })?;
                file.check_bytes(&bytes)
                    .map_err(|e| format!("file {name}: {e}"))?;
                bytes
            }
        };
        if bytes.len() as u64 > self.max_attachment_bytes {
            return Err(format!(
                "file {name} is {} bytes; attachments may be at most {} bytes",
                bytes.len(),
                self.max_attachment_bytes
            ));
        }
        Ok(bytes)
    }

    fn bytes_by_hash(&self, hash: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let found = find_by(self.tx, ATTACHMENT_TABLE, "hash", hash)?;
        match found.as_ref().and_then(Record::sys_id) {
            Some(id) => self.tx.bytes(id),
            None => Ok(None),
        }
    }
}

/// Stores a file's bytes and its `sys_attachment` record `meta` (from
/// [`attachment_record`]), stamped as inserted by `user`; the size is taken from the bytes.
pub fn save_attachment(
    tx: &mut dyn Tx,
    mut meta: Record,
    bytes: &[u8],
    user: &str,
    now: Timestamp,
) -> Result<Record, StorageError> {
    meta.set("size_bytes", bytes.len() as u64);
    meta.stamp_insert(user, now);
    let sys_id = meta.sys_id().unwrap_or_default().to_string();
    tx.put_bytes(&sys_id, bytes)?;
    tx.put(ATTACHMENT_TABLE, &meta)?;
    Ok(meta)
}
