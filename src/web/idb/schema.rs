//! The database's object stores and indexes, and how each schema version creates them.
//!
//! Every version is one step that only adds what is new in it; an upgrade runs the steps from
//! the stored version to [`SCHEMA_VERSION`] in order, inside the browser's upgrade transaction.
//! Old stores and their data are never dropped by a later step, so a user's cache and outbox
//! survive an app update.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::KeyPath;

/// Record area 0 (one of the two; `meta.area` says which is live).
pub(crate) const AREA_0: &str = "records_0";
/// Record area 1.
pub(crate) const AREA_1: &str = "records_1";
/// Outbox entries, key path `id`, unique index `seq`.
pub(crate) const OUTBOX: &str = "outbox";
/// The instance's version of a record before its first local change, key path
/// `["table","sys_id"]`.
pub(crate) const SHADOW: &str = "shadow";
/// Saved form progress, keyed by draft key.
pub(crate) const DRAFTS: &str = "drafts";
/// Attachment bytes (a `Blob`, or its bytes where the engine cannot store one), keyed by
/// sha-256 hex.
pub(crate) const BLOBS: &str = "blobs";
/// Small JSON values keyed by name.
pub(crate) const META: &str = "meta";

/// Index of a record area on `table`: a table's records in one `getAll`.
pub(crate) const BY_TABLE: &str = "table";
/// Index of a record area on `[table, record.state]`.
pub(crate) const BY_STATE: &str = "table_state";
/// Index of a record area on `[table, record.assigned_to]`.
pub(crate) const BY_ASSIGNED_TO: &str = "table_assigned_to";
/// Index of the outbox on `seq` (unique): entries in the order they were made.
pub(crate) const BY_SEQ: &str = "seq";

type Step = fn(&Database) -> indexed_db_futures::Result<()>;

/// The schema steps; step `i` takes the database from version `i` to `i + 1`.
const STEPS: [Step; 2] = [version_1, version_2];

/// The schema version this build opens databases at.
pub const SCHEMA_VERSION: u32 = STEPS.len() as u32;

/// Runs the steps that take a database from `old` to `new`. Versions past the last step
/// (only the upgrade tests open those) add nothing.
pub(crate) fn upgrade(db: &Database, old: u32, new: u32) -> indexed_db_futures::Result<()> {
    let steps = STEPS
        .iter()
        .skip(old as usize)
        .take(new.saturating_sub(old) as usize);
    for step in steps {
        step(db)?;
    }
    Ok(())
}

/// Version 1: two record areas, the outbox, shadows, drafts, blobs and meta.
fn version_1(db: &Database) -> indexed_db_futures::Result<()> {
    for area in [AREA_0, AREA_1] {
        let store = db
            .create_object_store(area)
            .with_key_path(KeyPath::from(["table", "sys_id"]))
            .build()?;
        store
            .create_index(BY_TABLE, KeyPath::One("table"))
            .build()?;
        // The core's query evaluator does the filtering and sorting; these indexes exist so a
        // query naming these fields can narrow the scan to the matching keys first.
        store
            .create_index(BY_STATE, KeyPath::from(["table", "record.state"]))
            .build()?;
        store
            .create_index(
                BY_ASSIGNED_TO,
                KeyPath::from(["table", "record.assigned_to"]),
            )
            .build()?;
    }
    let outbox = db
        .create_object_store(OUTBOX)
        .with_key_path(KeyPath::One("id"))
        .build()?;
    outbox
        .create_index(BY_SEQ, KeyPath::One("seq"))
        .with_unique(true)
        .build()?;
    db.create_object_store(SHADOW)
        .with_key_path(KeyPath::from(["table", "sys_id"]))
        .build()?;
    // Out-of-line keys: the key is the draft key, the hash, the meta name.
    db.create_object_store(DRAFTS).build()?;
    db.create_object_store(BLOBS).build()?;
    db.create_object_store(META).build()?;
    Ok(())
}

/// Version 2: no new store. Every write of the live record area and of the outbox writes a
/// revision token in `meta` from this version on ([`super::memo`]); opening a database at it
/// closes the connections of older builds (their `versionchange`), which wrote without one, so
/// no memo can miss their writes.
fn version_2(_db: &Database) -> indexed_db_futures::Result<()> {
    Ok(())
}
