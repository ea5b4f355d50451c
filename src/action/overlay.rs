//! A staging layer over a store: an action's steps (and hooks) write here, read their own
//! writes, and nothing reaches the store until every step has succeeded.

use crate::record::{Record, Timestamp};
use crate::store::{
    attachment_record, FileInput, JournalEntry, Store, StoreError, ATTACHMENT_TABLE,
};
use std::collections::BTreeMap;

/// What [`Overlay::flush`] wrote, as the store answered it.
pub(super) struct Flushed {
    pub journal: Vec<JournalEntry>,
    pub attachments: Vec<Record>,
}

enum Staged {
    /// A record was written or deleted; its final state is in `records`.
    Record {
        table: String,
        sys_id: String,
    },
    Journal(JournalEntry),
    /// `meta` is what reads see until the store makes the real one.
    Attachment {
        table: String,
        table_sys_id: String,
        meta: Record,
        file: FileInput,
        user: String,
        now: Timestamp,
    },
}

pub(super) struct Overlay<'a> {
    base: &'a mut dyn Store,
    /// The latest state of every record written: `None` once deleted.
    records: BTreeMap<(String, String), Option<Record>>,
    /// Writes in the order they first happened, replayed by `flush`.
    log: Vec<Staged>,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a mut dyn Store) -> Self {
        Self {
            base,
            records: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    fn stage(&mut self, table: &str, sys_id: &str, record: Option<Record>) {
        let key = (table.to_string(), sys_id.to_string());
        if self.records.insert(key, record).is_none() {
            self.log.push(Staged::Record {
                table: table.to_string(),
                sys_id: sys_id.to_string(),
            });
        }
    }

    /// Writes everything staged to the store, in the order it happened. Each record is
    /// written once, in its final state.
    pub fn flush(self) -> Result<Flushed, StoreError> {
        let mut flushed = Flushed {
            journal: Vec::new(),
            attachments: Vec::new(),
        };
        for staged in self.log {
            match staged {
                Staged::Record { table, sys_id } => {
                    match self.records.get(&(table.clone(), sys_id.clone())) {
                        Some(Some(record)) => self.base.put(&table, record.clone())?,
                        _ => {
                            self.base.delete(&table, &sys_id)?;
                        }
                    }
                }
                Staged::Journal(entry) => {
                    self.base.append_journal(entry.clone())?;
                    flushed.journal.push(entry);
                }
                Staged::Attachment {
                    table,
                    table_sys_id,
                    meta,
                    file,
                    user,
                    now,
                } => {
                    let sys_id = meta.sys_id().unwrap_or_default();
                    let stored = self.base.add_attachment(
                        &table,
                        &table_sys_id,
                        sys_id,
                        &file,
                        &user,
                        now,
                    )?;
                    flushed.attachments.push(stored);
                }
            }
        }
        Ok(flushed)
    }
}

impl Store for Overlay<'_> {
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError> {
        if let Some(staged) = self.records.get(&(table.to_string(), sys_id.to_string())) {
            return Ok(staged.clone());
        }
        if table == ATTACHMENT_TABLE {
            let staged = self.log.iter().find_map(|s| match s {
                Staged::Attachment { meta, .. } if meta.sys_id() == Some(sys_id) => Some(meta),
                _ => None,
            });
            if let Some(meta) = staged {
                return Ok(Some(meta.clone()));
            }
        }
        self.base.get(table, sys_id)
    }

    fn put(&mut self, table: &str, record: Record) -> Result<(), StoreError> {
        let sys_id = record
            .sys_id()
            .ok_or_else(|| StoreError("a record without sys_id cannot be stored".into()))?
            .to_string();
        self.stage(table, &sys_id, Some(record));
        Ok(())
    }

    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError> {
        let existed = self.get(table, sys_id)?.is_some();
        if existed {
            self.stage(table, sys_id, None);
        }
        Ok(existed)
    }

    fn append_journal(&mut self, entry: JournalEntry) -> Result<(), StoreError> {
        self.log.push(Staged::Journal(entry));
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
        self.log.push(Staged::Attachment {
            table: table.to_string(),
            table_sys_id: table_sys_id.to_string(),
            meta: meta.clone(),
            file: file.clone(),
            user: user.to_string(),
            now,
        });
        Ok(meta)
    }
}
