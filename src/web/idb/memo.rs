//! Decoded cached records and outbox entries kept in memory by the connection that read them,
//! so a warm worker answers a list, an action or a count without reading and decoding a whole
//! store again. A table is kept whole, or as slices read through an IndexedDB index (the
//! records whose `state`, say, is `assigned`), which is all a query bound to those values needs.
//!
//! **Never stale.** Every transaction that writes the live record area or the outbox also
//! writes a new revision token under a `meta` key ([`RECORDS_REV`], [`OUTBOX_REV`]), in the same
//! transaction ([`bump`]). A memo remembers the token it matches, and is used only after a read
//! of the stored token (in the same read transaction that would load the store otherwise) finds
//! it unchanged: a write by another connection (another worker, a test, a tab) is never
//! missed. After one of its own writes commits, the connection applies the same change to the
//! memo when the memo was at the token that write replaced, and forgets the memo otherwise.
//! Schema version 2 introduced the tokens: opening it closes older builds' connections, which
//! wrote without them.

use super::error::{DbError, OrDbError};
use super::writes::Writes;
use crate::outbox::Entry;
use crate::record::{new_uuid, Record};
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// The `meta` key of the live record area's revision token.
pub(crate) const RECORDS_REV: &str = "records_rev";
/// The `meta` key of the outbox's revision token.
pub(crate) const OUTBOX_REV: &str = "outbox_rev";

/// A table's cached records in `sys_id` order, with the indexes and orders list reads keep.
pub type CachedTable = crate::api::table::TableView;

/// A stored revision token; `None` before the first write.
pub(crate) type Rev = Option<String>;

/// A token replaced inside a write transaction: what it was, and what it is once the
/// transaction commits.
pub(crate) struct Bump {
    old: Rev,
    new: String,
}

/// Replaces the token at `key` in `meta` (a store of the caller's read-write transaction) by a
/// fresh one, as one of `writes`.
pub(crate) async fn bump(
    meta: &ObjectStore<'_>,
    key: &'static str,
    writes: &mut Writes,
    op: &'static str,
) -> Result<Bump, DbError> {
    // Both requests go out together; the read is answered with the value before the put.
    let old = meta.get(key).primitive().op(op)?;
    let new = new_uuid();
    writes.push(
        meta.put(JsValue::from_str(&new))
            .with_key(key)
            .primitive()
            .op(op)?,
    );
    let old: Option<JsValue> = old.await.op(op)?;
    Ok(Bump {
        old: old.and_then(|v| v.as_string()),
        new,
    })
}

/// The stored token at `key`, read in the caller's transaction.
pub(crate) async fn stored_rev(
    meta: &ObjectStore<'_>,
    key: &'static str,
    op: &'static str,
) -> Result<Rev, DbError> {
    let found: Option<JsValue> = meta.get(key).primitive().op(op)?.await.op(op)?;
    Ok(found.and_then(|v| v.as_string()))
}

/// Which of a table's records a slice holds: those whose `field` is one of `texts` (the
/// strings an IndexedDB index on that field was read at).
pub(crate) type SliceKey = (String, Vec<String>);

/// How many slices of one table are kept; the oldest goes first.
const SLICES_KEPT: usize = 8;

/// What is kept of one table: all its records, or slices of them read through an index.
#[derive(Default)]
struct Kept {
    all: Option<Rc<CachedTable>>,
    slices: Vec<(SliceKey, Rc<CachedTable>)>,
}

/// The tables of the live area read so far, by name.
type Tables = HashMap<String, Kept>;

/// One memo: a value and the token it matches.
struct At<T> {
    rev: Rev,
    value: T,
}

/// What a connection keeps in memory.
#[derive(Default)]
pub(crate) struct Memo {
    /// The live area's tables read so far.
    records: RefCell<Option<At<Tables>>>,
    /// The outbox in `seq` order.
    outbox: RefCell<Option<At<Rc<Vec<Entry>>>>>,
}

impl Memo {
    /// A table's records if they are kept at `rev`.
    pub(crate) fn table(&self, rev: &Rev, table: &str) -> Option<Rc<CachedTable>> {
        let memo = self.records.borrow();
        let at = memo.as_ref().filter(|at| at.rev == *rev)?;
        at.value.get(table)?.all.clone()
    }

    /// A slice of a table's records if it is kept at `rev`.
    pub(crate) fn slice(&self, rev: &Rev, table: &str, key: &SliceKey) -> Option<Rc<CachedTable>> {
        let memo = self.records.borrow();
        let at = memo.as_ref().filter(|at| at.rev == *rev)?;
        let kept = at.value.get(table)?;
        let (_, slice) = kept.slices.iter().find(|(k, _)| k == key)?;
        Some(slice.clone())
    }

    /// The kept tables at `rev` (those kept at another token are forgotten).
    fn tables_at(&self, rev: Rev) -> RefMut<'_, Tables> {
        let mut memo = self.records.borrow_mut();
        if memo.as_ref().is_some_and(|at| at.rev != rev) {
            *memo = None;
        }
        RefMut::map(memo, |m| {
            &mut m
                .get_or_insert_with(|| At {
                    rev,
                    value: HashMap::new(),
                })
                .value
        })
    }

    /// Keeps a table's records read at `rev`; its slices are no longer needed.
    pub(crate) fn keep_table(&self, rev: Rev, table: &str, records: Rc<CachedTable>) {
        let mut tables = self.tables_at(rev);
        *tables.entry(table.to_string()).or_default() = Kept {
            all: Some(records),
            slices: Vec::new(),
        };
    }

    /// Keeps a slice of a table's records read at `rev`.
    pub(crate) fn keep_slice(
        &self,
        rev: Rev,
        table: &str,
        key: SliceKey,
        records: Rc<CachedTable>,
    ) {
        let mut tables = self.tables_at(rev);
        let kept = tables.entry(table.to_string()).or_default();
        kept.slices.retain(|(k, _)| *k != key);
        if kept.slices.len() >= SLICES_KEPT {
            kept.slices.remove(0);
        }
        kept.slices.push((key, records));
    }

    /// Applies a committed write of the live area: `puts` and `deletes` as `(table, ...)`. A
    /// put record joins the slices its field puts it in and leaves the others. Tables not
    /// kept stay unread.
    pub(crate) fn records_written<'a>(
        &self,
        bump: &Bump,
        puts: impl IntoIterator<Item = (&'a str, &'a Record)>,
        deletes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let mut memo = self.records.borrow_mut();
        let Some(at) = memo.as_mut().filter(|at| at.rev == bump.old) else {
            *memo = None;
            return;
        };
        for (table, record) in puts {
            let Some(kept) = at.value.get_mut(table) else {
                continue;
            };
            if let Some(all) = &mut kept.all {
                Rc::make_mut(all).put(record.clone());
            }
            for ((field, texts), slice) in &mut kept.slices {
                let text = record.get(field).and_then(|v| v.as_str());
                if text.is_some_and(|t| texts.iter().any(|x| x == t)) {
                    Rc::make_mut(slice).put(record.clone());
                } else if let Some(sys_id) = record.sys_id() {
                    Rc::make_mut(slice).remove(sys_id);
                }
            }
        }
        for (table, sys_id) in deletes {
            if let Some(kept) = at.value.get_mut(table) {
                let views = kept
                    .all
                    .iter_mut()
                    .chain(kept.slices.iter_mut().map(|(_, s)| s));
                for view in views {
                    Rc::make_mut(view).remove(sys_id);
                }
            }
        }
        at.rev = Some(bump.new.clone());
    }

    /// Forgets every kept table (the live area was swapped or cleared).
    pub(crate) fn forget_records(&self) {
        self.records.replace(None);
    }

    /// The outbox if it is kept at `rev`.
    pub(crate) fn outbox(&self, rev: &Rev) -> Option<Rc<Vec<Entry>>> {
        let memo = self.outbox.borrow();
        let at = memo.as_ref().filter(|at| at.rev == *rev)?;
        Some(at.value.clone())
    }

    /// Keeps the outbox read at `rev`, in `seq` order.
    pub(crate) fn keep_outbox(&self, rev: Rev, entries: Rc<Vec<Entry>>) {
        self.outbox.replace(Some(At {
            rev,
            value: entries,
        }));
    }

    /// Applies a committed write of the outbox: `removed` ids go, `put` entries replace those
    /// with their id or join in `seq` order.
    pub(crate) fn outbox_written<'a>(
        &self,
        bump: &Bump,
        put: impl IntoIterator<Item = &'a Entry>,
        removed: impl IntoIterator<Item = &'a str>,
    ) {
        let mut memo = self.outbox.borrow_mut();
        let Some(at) = memo.as_mut().filter(|at| at.rev == bump.old) else {
            *memo = None;
            return;
        };
        let entries = Rc::make_mut(&mut at.value);
        for id in removed {
            entries.retain(|e| e.id != id);
        }
        for entry in put {
            entries.retain(|e| e.id != entry.id);
            let at = entries.partition_point(|e| e.seq <= entry.seq);
            entries.insert(at, entry.clone());
        }
        at.rev = Some(bump.new.clone());
    }
}
