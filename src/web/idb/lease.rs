//! The sync lease: one sync at a time, across tabs and service-worker restarts.
//!
//! A lease names its holder and expires, so a worker killed mid-sync does not hold it forever:
//! once it has expired, anyone may take it. Reading and taking it happen in one read-write
//! transaction, which IndexedDB runs alone over `meta`, so two contenders never both win.

use super::codec::{from_js, to_js};
use super::error::{DbError, OrDbError};
use super::schema::META;
use super::writes::Writes;
use super::LocalDb;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The `meta` key of the lease.
pub(crate) const LEASE_KEY: &str = "lease";

#[derive(Serialize, Deserialize)]
struct Lease {
    holder: String,
    expires_at_ms: f64,
}

impl LocalDb {
    /// Takes the sync lease for `ttl_ms` from `now_ms` (milliseconds since the epoch) if it is
    /// free, expired, or already `holder`'s (renewing it). `false` when someone else holds it.
    /// A lease that cannot be read counts as free: a damaged value must not stop sync forever.
    pub async fn acquire_lease(
        &self,
        holder: &str,
        now_ms: f64,
        ttl_ms: f64,
    ) -> Result<bool, DbError> {
        const OP: &str = "take the sync lease";
        if !now_ms.is_finite() || !ttl_ms.is_finite() || ttl_ms < 0.0 {
            return Err(DbError::Invalid {
                op: OP,
                message: format!("the lease needs a finite time and duration ({now_ms}, {ttl_ms})"),
            });
        }
        let tx = self.write(&[META], OP)?;
        let store = tx.object_store(META).op(OP)?;
        let found: Option<JsValue> = store.get(LEASE_KEY).primitive().op(OP)?.await.op(OP)?;
        let current = found.and_then(|js| from_js::<Lease>(OP, js).ok());
        let free = match &current {
            None => true,
            Some(lease) => lease.holder == holder || lease.expires_at_ms <= now_ms,
        };
        if !free {
            return Ok(false);
        }
        let lease = Lease {
            holder: holder.to_string(),
            expires_at_ms: now_ms + ttl_ms,
        };
        let mut writes = Writes::new();
        writes.push(
            store
                .put(to_js(OP, &lease)?)
                .with_key(LEASE_KEY)
                .primitive()
                .op(OP)?,
        );
        writes.commit(tx, OP).await?;
        Ok(true)
    }

    /// Gives the lease back if `holder` holds it; someone else's lease is left alone.
    pub async fn release_lease(&self, holder: &str) -> Result<(), DbError> {
        const OP: &str = "release the sync lease";
        let tx = self.write(&[META], OP)?;
        let store = tx.object_store(META).op(OP)?;
        let found: Option<JsValue> = store.get(LEASE_KEY).primitive().op(OP)?.await.op(OP)?;
        let held = found
            .and_then(|js| from_js::<Lease>(OP, js).ok())
            .is_some_and(|lease| lease.holder == holder);
        if held {
            let mut writes = Writes::new();
            writes.push(store.delete(LEASE_KEY).primitive().op(OP)?);
            writes.commit(tx, OP).await?;
        }
        Ok(())
    }
}

/// Whether anyone holds an unexpired lease at `now_ms`, read in the caller's transaction over
/// `meta` (so a sync cannot start between this answer and the caller's writes). A lease that
/// cannot be read counts as free, as in [`LocalDb::acquire_lease`].
pub(super) async fn lease_held(
    meta: &ObjectStore<'_>,
    now_ms: f64,
    op: &'static str,
) -> Result<bool, DbError> {
    let found: Option<JsValue> = meta.get(LEASE_KEY).primitive().op(op)?.await.op(op)?;
    Ok(found
        .and_then(|js| from_js::<Lease>(op, js).ok())
        .is_some_and(|lease| lease.expires_at_ms > now_ms))
}
