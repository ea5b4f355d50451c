//! A [`Ledger`] in memory, for the tests of the sync rule and of the driver's fake instance.

use super::{Ledger, SyncResult};
use crate::record::{Record, Timestamp};
use crate::store::{FileInput, JournalEntry, MemoryStore, Store, StoreError};
use std::collections::BTreeMap;

/// An instance's storage: its records, and the answers of the entries it applied.
#[derive(Clone, Default)]
pub struct Books {
    /// The records.
    pub records: MemoryStore,
    /// The answers of applied entries, by user and entry id.
    pub answers: BTreeMap<(String, String), SyncResult>,
}

impl Store for Books {
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError> {
        self.records.get(table, sys_id)
    }

    fn put(&mut self, table: &str, record: Record) -> Result<(), StoreError> {
        self.records.put(table, record)
    }

    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError> {
        self.records.delete(table, sys_id)
    }

    fn append_journal(&mut self, entry: JournalEntry) -> Result<(), StoreError> {
        self.records.append_journal(entry)
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
        self.records
            .add_attachment(table, table_sys_id, sys_id, file, user, now)
    }
}

impl Ledger for Books {
    fn answered(&self, id: &str, user: &str) -> Result<Option<SyncResult>, StoreError> {
        Ok(self
            .answers
            .get(&(user.to_string(), id.to_string()))
            .cloned())
    }

    fn remember(&mut self, id: &str, user: &str, result: &SyncResult) -> Result<(), StoreError> {
        self.answers
            .insert((user.to_string(), id.to_string()), result.clone());
        Ok(())
    }
}
