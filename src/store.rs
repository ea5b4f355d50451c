//! The storage the action engine works against: a small synchronous trait, implemented by
//! SQLite on the instance and by [`MemoryStore`] on the device, where an offline action runs
//! against the cached record loaded into memory and its effects are then written to IndexedDB
//! in one transaction. The engine stages every run's writes in an overlay over either, so a
//! failed step leaves the store untouched.

use crate::record::{Record, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use std::collections::BTreeMap;

/// The journal table: work notes and comments.
pub const JOURNAL_TABLE: &str = "sys_journal_field";
/// The attachment metadata table.
pub const ATTACHMENT_TABLE: &str = "sys_attachment";

/// A storage failure, with the store's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StoreError(pub String);

/// One work note or comment appended to a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Its `sys_id` when the writer chose one: an action's entries take one derived from the
    /// invocation, so the device's copy and the instance's are one record. `None`: the store
    /// makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_id: Option<String>,
    /// The table of the record the entry belongs to.
    pub table: String,
    /// The `sys_id` of that record (`element_id`).
    pub element_id: String,
    /// `work_notes` or `comments`.
    pub element: String,
    /// The text.
    pub value: String,
    /// Who wrote it.
    pub sys_created_by: String,
    /// When.
    pub sys_created_on: Timestamp,
}

impl JournalEntry {
    /// The entry as the `sys_journal_field` record every store keeps.
    pub fn record(&self) -> Record {
        let mut record = Record::new();
        if let Some(sys_id) = &self.sys_id {
            record.set("sys_id", sys_id.clone());
        }
        record.set("name", self.table.clone());
        record.set("element_id", self.element_id.clone());
        record.set("element", self.element.clone());
        record.set("value", self.value.clone());
        record.stamp_insert(&self.sys_created_by, self.sys_created_on);
        record
    }
}

/// A file attached to a record: what a `file` input carries. The bytes travel as base64 in
/// `data` when the file goes over the wire with an action; stores that keep the bytes
/// elsewhere (IndexedDB blobs) leave it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileInput {
    /// The file's name.
    pub file_name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// sha-256 of the bytes, lowercase hex.
    pub hash: String,
    /// The bytes, base64, when they travel with the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl FileInput {
    /// `value` as a file, when it is one: an object with at least the metadata fields. An
    /// entry's inputs are told apart this way where the action's definition is not at hand.
    pub fn from_value(value: &Value) -> Option<FileInput> {
        if !value.is_object() {
            return None;
        }
        FileInput::deserialize(value).ok()
    }

    /// The bytes that travel in `data`, decoded and checked against the announced size and
    /// sha-256; `None` when no bytes travel with the file. The one check of a file's bytes,
    /// made by input validation on both sides and by every store that keeps bytes.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, String> {
        use base64::Engine as _;
        let Some(data) = &self.data else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("the file's data is not base64 ({e})"))?;
        self.check_bytes(&bytes)?;
        Ok(Some(bytes))
    }

    /// Whether `bytes` are this file's: the announced size and sha-256.
    pub fn check_bytes(&self, bytes: &[u8]) -> Result<(), String> {
        if bytes.len() as u64 != self.size_bytes {
            return Err(format!(
                "the file has {} bytes, not the {} announced",
                bytes.len(),
                self.size_bytes
            ));
        }
        let hash = crate::record::hex(&sha2::Sha256::digest(bytes));
        if hash != self.hash {
            return Err(format!(
                "the file's bytes have sha-256 {hash}, not the {} announced",
                self.hash
            ));
        }
        Ok(())
    }
}

/// What the action engine needs from storage.
pub trait Store {
    /// A record, `None` when there is none with that id.
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError>;
    /// Inserts or replaces a record (the engine has stamped its system fields).
    fn put(&mut self, table: &str, record: Record) -> Result<(), StoreError>;
    /// Deletes a record; `false` when there was none.
    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError>;
    /// Appends a journal entry.
    fn append_journal(&mut self, entry: JournalEntry) -> Result<(), StoreError>;
    /// Attaches a file to a record; returns the `sys_attachment` record. `sys_id` is the
    /// attachment's id, chosen by the engine so both sides agree on it.
    fn add_attachment(
        &mut self,
        table: &str,
        table_sys_id: &str,
        sys_id: &str,
        file: &FileInput,
        user: &str,
        now: Timestamp,
    ) -> Result<Record, StoreError>;
}

/// An in-memory store: the service worker runs offline actions and replays a record's outbox
/// entries in one, and the core's unit tests use it.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    /// Records by table, then `sys_id`.
    pub tables: BTreeMap<String, BTreeMap<String, Record>>,
    /// Journal entries in the order they were appended.
    pub journal: Vec<JournalEntry>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record of a table, in `sys_id` order.
    pub fn records(&self, table: &str) -> Vec<&Record> {
        self.tables
            .get(table)
            .map(|t| t.values().collect())
            .unwrap_or_default()
    }
}

impl Store for MemoryStore {
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.tables.get(table).and_then(|t| t.get(sys_id)).cloned())
    }

    fn put(&mut self, table: &str, record: Record) -> Result<(), StoreError> {
        let id = record
            .sys_id()
            .ok_or_else(|| StoreError("a record without sys_id cannot be stored".into()))?
            .to_string();
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(id, record);
        Ok(())
    }

    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables
            .get_mut(table)
            .and_then(|t| t.remove(sys_id))
            .is_some())
    }

    fn append_journal(&mut self, entry: JournalEntry) -> Result<(), StoreError> {
        self.journal.push(entry);
        Ok(())
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
        let mut meta = attachment_record(table, table_sys_id, sys_id, file);
        meta.stamp_insert(user, now);
        self.put(ATTACHMENT_TABLE, meta.clone())?;
        Ok(meta)
    }
}

/// The `sys_attachment` record for a file (system fields not yet stamped).
pub fn attachment_record(
    table: &str,
    table_sys_id: &str,
    sys_id: &str,
    file: &FileInput,
) -> Record {
    let mut meta = Record::new();
    meta.set("sys_id", sys_id);
    meta.set("table_name", table);
    meta.set("table_sys_id", table_sys_id);
    meta.set("file_name", file.file_name.clone());
    meta.set("content_type", file.content_type.clone());
    meta.set("size_bytes", file.size_bytes);
    meta.set("hash", file.hash.clone());
    meta
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(bytes: &[u8], size: u64, hash: &str) -> FileInput {
        use base64::Engine as _;
        FileInput {
            file_name: "a.png".into(),
            content_type: "image/png".into(),
            size_bytes: size,
            hash: hash.into(),
            data: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    #[test]
    fn bytes_are_accepted_only_with_the_announced_size_and_hash() {
        let hash = crate::record::hex(&sha2::Sha256::digest(b"abc"));
        assert_eq!(file(b"abc", 3, &hash).bytes(), Ok(Some(b"abc".to_vec())));
        let wrong_hash = file(b"abc", 3, &"0".repeat(64)).bytes().unwrap_err();
        assert!(wrong_hash.contains("sha-256"), "{wrong_hash}");
        let wrong_size = file(b"abc", 4, &hash).bytes().unwrap_err();
        assert!(wrong_size.contains("3 bytes, not the 4"), "{wrong_size}");
        let mut not_base64 = file(b"abc", 3, &hash);
        not_base64.data = Some("%%%".into());
        assert!(not_base64.bytes().unwrap_err().contains("base64"));
        let mut no_data = not_base64;
        no_data.data = None;
        assert_eq!(no_data.bytes(), Ok(None));
    }

    #[test]
    fn only_objects_with_the_file_fields_are_files() {
        let file = json!({"file_name": "a.png", "content_type": "image/png", "size_bytes": 3,
                          "hash": "ab", "data": "AQID"});
        let found = FileInput::from_value(&file).expect("a file");
        assert_eq!(found.data.as_deref(), Some("AQID"));
        assert_eq!(FileInput::from_value(&json!({"file_name": "a.png"})), None);
        assert_eq!(FileInput::from_value(&json!("a.png")), None);
    }
}
