//! The IndexedDB storage of one user: the offline cache, the outbox, shadows, drafts,
//! attachment blobs and small settings (SPEC 5 and 6).
//!
//! Each user has their own database, `<prefix>:<user_name>` (`offgrid:` unless the runtime is
//! configured otherwise); logging out deletes it ([`LocalDb::delete`]).
//!
//! | store | key | value |
//! | --- | --- | --- |
//! | `records_0`, `records_1` | `["table","sys_id"]` | `{table, sys_id, record}`; indexes `table`, `["table","record.state"]`, `["table","record.assigned_to"]` |
//! | `outbox` | `id` | an outbox [`Entry`](crate::outbox::Entry); unique index `seq` |
//! | `shadow` | `["table","sys_id"]` | `{table, sys_id, record}`: the instance's version before the first local change |
//! | `drafts` | draft key | JSON |
//! | `blobs` | sha-256 hex | a `Blob`, or `{type, bytes}` where the engine cannot store one |
//! | `meta` | name | JSON (the live area, the cache's metadata, the sync lease, settings, ...) |
//!
//! **Two record areas.** The cache lives in one of two areas; `meta` says which. A download
//! is staged into the other one ([`LocalDb::begin_staging`]) and swapped in, in one
//! transaction, only when it is complete ([`LocalDb::swap_in`]): a download that fails or is
//! abandoned leaves the live cache as it was (SPEC 6).
//!
//! **Transactions.** `indexed_db_futures` rolls a transaction back unless it is committed, and
//! sends a request when it is built: each write here builds its whole batch of requests, waits
//! for each, and commits once all succeeded, aborting on the first refusal (`writes.rs`: engines
//! differ on what a refused request does to a transaction already asked to commit). Outbox writes use strict durability, so a change the user made is on disk
//! before the call returns. A local action's record changes, its files' bytes and its outbox
//! entry are written in one transaction ([`LocalDb::commit_local_action`]), so a crash never
//! leaves one without the others.
//!
//! **Queries.** The store hands back a table's records; the core's query evaluator filters and
//! sorts them, so offline answers match the instance's. The state and assignee indexes are
//! there for narrowing the scan where a query names those fields.
//!
//! **Memory.** A connection keeps the tables and the outbox it decoded, and uses them only while
//! the revision token every write stores beside them is unchanged (`memo.rs`).

mod cache;
mod codec;
mod error;
mod files;
mod kv;
mod lease;
mod memo;
mod outbox;
mod schema;
mod writes;

pub use cache::{CacheMeta, Staging};
pub use error::DbError;
pub use files::{blob_bytes, blob_from_bytes};
pub use memo::CachedTable;
pub use outbox::{LocalChanges, RemoveError};
pub use schema::SCHEMA_VERSION;

use error::OrDbError;
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{
    Transaction, TransactionDurability, TransactionMode, TransactionOptions,
};
use std::cell::Cell;
use wasm_bindgen::prelude::*;

/// An open connection to one user's database.
///
/// Dropping it closes the connection. It also closes itself when another connection wants to
/// delete or upgrade the database (a logout in another tab, a newer build), so it never blocks
/// them; calls made after that fail with a [`DbError`].
pub struct LocalDb {
    db: Database,
    /// Kept alive while the connection is: the database calls it on `versionchange`.
    _on_versionchange: Closure<dyn FnMut()>,
    /// How files are stored, once the engine has been asked ([`files`]).
    file_form: Cell<Option<files::FileForm>>,
    /// Decoded records and outbox entries this connection read ([`memo`]).
    memo: memo::Memo,
}

impl LocalDb {
    /// Opens (creating or upgrading as needed) the database `name` at [`SCHEMA_VERSION`].
    pub async fn open(name: &str) -> Result<LocalDb, DbError> {
        Self::open_version(name, SCHEMA_VERSION).await
    }

    /// Opens the database at a given schema version, for upgrade tests (`test-hooks`):
    /// versions past [`SCHEMA_VERSION`] add no stores.
    #[cfg(feature = "test-hooks")]
    pub async fn open_at_version(name: &str, version: u32) -> Result<LocalDb, DbError> {
        Self::open_version(name, version).await
    }

    async fn open_version(name: &str, version: u32) -> Result<LocalDb, DbError> {
        const OP: &str = "open the offline database";
        let db = Database::open(name)
            .with_version(version)
            .with_on_upgrade_needed(|event, db| {
                // IndexedDB versions are whole numbers below 2^53; ours are small.
                let old = event.old_version() as u32;
                let new = event.new_version().map_or(old, |v| v as u32);
                schema::upgrade(&db, old, new)
            })
            .await
            .op(OP)?;
        let sys = db.as_sys().clone();
        let on_versionchange = Closure::<dyn FnMut()>::new(move || sys.close());
        db.as_sys()
            .set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
        Ok(LocalDb {
            db,
            _on_versionchange: on_versionchange,
            file_form: Cell::new(None),
            memo: memo::Memo::default(),
        })
    }

    /// Deletes the database `name` and everything in it (logging out wipes a user's data).
    /// Open connections to it close themselves first.
    pub async fn delete(name: &str) -> Result<(), DbError> {
        const OP: &str = "delete the offline database";
        Database::delete_by_name(name).op(OP)?.await.op(OP)
    }

    /// The database's name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// The schema version the database is at.
    pub fn version(&self) -> f64 {
        self.db.version()
    }

    /// A read-only transaction over `stores`.
    fn read(&self, stores: &[&str], op: &'static str) -> Result<Transaction<'_>, DbError> {
        self.db.transaction(stores).build().op(op)
    }

    /// A read-write transaction over `stores`, with the browser's default durability: for
    /// data that can be downloaded again.
    fn write(&self, stores: &[&str], op: &'static str) -> Result<Transaction<'_>, DbError> {
        self.db
            .transaction(stores)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .op(op)
    }

    /// A read-write transaction that reports success only once the data is on disk: for the
    /// user's own changes, which exist nowhere else.
    fn write_strict(&self, stores: &[&str], op: &'static str) -> Result<Transaction<'_>, DbError> {
        self.db
            .transaction(stores)
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(TransactionDurability::Strict))
            .build()
            .op(op)
    }
}

impl Drop for LocalDb {
    fn drop(&mut self) {
        // The closure dies with `self`: unhook it before the connection goes.
        self.db.as_sys().set_onversionchange(None);
        self.db.as_sys().close();
    }
}
