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
use crate::api::table::{narrowed_by, Narrowing};
use crate::outbox::Entry;
use crate::record::{new_uuid, Record};
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use std::cell::{RefCell, RefMut};
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

/// Which of a table's records a slice holds: those that meet a narrowing condition (read
/// through an IndexedDB index on its field, at its strings).
pub(crate) type SliceKey = Narrowing;

/// How many slices of one table are kept; the oldest goes first.
const SLICES_KEPT: usize = 8;

/// What is kept of one table: all its records, or slices of them read through an index.
struct Kept {
    table: String,
    all: Option<Rc<CachedTable>>,
    slices: Vec<(SliceKey, Rc<CachedTable>)>,
}

/// The tables of the live area read so far (a few: a list, not a map, is less wasm).
type Tables = Vec<Kept>;

/// What is kept of `table`, made empty when nothing is.
fn kept_mut<'a>(tables: &'a mut Tables, table: &str) -> &'a mut Kept {
    let at = match tables.iter().position(|k| k.table == table) {
        Some(at) => at,
        None => {
            tables.push(Kept {
                table: table.to_string(),
                all: None,
                slices: Vec::new(),
            });
            tables.len() - 1
        }
    };
    &mut tables[at]
}

/// Changes every kept view of `table` in place (`change` gets the slice's key, `None` for the
/// whole table). A view a read still holds cannot be changed, so then the table is forgotten,
/// to be read again.
fn change(tables: &mut Tables, table: &str, change: &dyn Fn(Option<&SliceKey>, &mut CachedTable)) {
    let Some(kept) = tables.iter_mut().find(|k| k.table == table) else {
        return;
    };
    let all = kept.all.iter_mut().map(|view| (None, view));
    let slices = kept
        .slices
        .iter_mut()
        .map(|(key, view)| (Some(&*key), view));
    let mut held = false;
    for (key, view) in all.chain(slices) {
        match Rc::get_mut(view) {
            Some(view) => change(key, view),
            None => held = true,
        }
    }
    if held {
        tables.retain(|k| k.table != table);
    }
}

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
        at.value.iter().find(|k| k.table == table)?.all.clone()
    }

    /// A slice of a table's records if it is kept at `rev`.
    pub(crate) fn slice(&self, rev: &Rev, table: &str, key: &SliceKey) -> Option<Rc<CachedTable>> {
        let memo = self.records.borrow();
        let at = memo.as_ref().filter(|at| at.rev == *rev)?;
        let kept = at.value.iter().find(|k| k.table == table)?;
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
                    value: Vec::new(),
                })
                .value
        })
    }

    /// Keeps a table's records read at `rev`; its slices are no longer needed.
    pub(crate) fn keep_table(&self, rev: Rev, table: &str, records: Rc<CachedTable>) {
        let mut tables = self.tables_at(rev);
        let kept = kept_mut(&mut tables, table);
        kept.all = Some(records);
        kept.slices.clear();
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
        let kept = kept_mut(&mut tables, table);
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
            change(
                &mut at.value,
                table,
                &|slice, view| match (slice, record.sys_id()) {
                    (Some(key), Some(sys_id)) if !narrowed_by(record, key) => view.remove(sys_id),
                    _ => view.put(record.clone()),
                },
            );
        }
        for (table, sys_id) in deletes {
            change(&mut at.value, table, &|_, view| view.remove(sys_id));
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
