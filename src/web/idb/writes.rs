//! Committing a read-write transaction only once every request in it has succeeded.
//!
//! IndexedDB undoes a transaction's writes when one of its requests is refused only if nothing
//! handles the request's error event, and engines disagree once `commit()` has been asked for:
//! Firefox then commits the other writes of a transaction whose `add` was refused, where
//! Chromium aborts it. `indexed_db_futures` neither prevents nor handles the event (its
//! `commit` only reports the first error). So atomicity is made explicit here: every request is
//! awaited while the transaction is still active, and the first refusal aborts the transaction
//! before its error is returned; `commit()` is called only when all have succeeded.

use super::error::{DbError, OrDbError};
use futures_util::future::LocalBoxFuture;
use indexed_db_futures::error::Error;
use indexed_db_futures::transaction::Transaction;
use std::future::Future;

/// The requests of one read-write transaction, settled before it commits.
#[derive(Default)]
pub(crate) struct Writes {
    pending: Vec<LocalBoxFuture<'static, Result<(), Error>>>,
}

impl Writes {
    /// No requests yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a request the browser has already been sent (`indexed_db_futures` sends a request
    /// when it is built).
    pub(crate) fn push<T>(&mut self, request: impl Future<Output = Result<T, Error>> + 'static) {
        self.pending
            .push(Box::pin(async move { request.await.map(drop) }));
    }

    /// Adds `other`'s requests after these.
    pub(crate) fn append(&mut self, other: Writes) {
        self.pending.extend(other.pending);
    }

    /// Waits for every request in order; commits `tx` when all succeeded, and otherwise aborts
    /// it (so none of its writes stay, in any engine) and returns the first refusal.
    pub(crate) async fn commit(self, tx: Transaction<'_>, op: &'static str) -> Result<(), DbError> {
        for request in self.pending {
            if let Err(refused) = request.await {
                // The refusal is the error to report; whether the abort itself reports it
                // again or an abort already under way does not change what is stored.
                let _ = tx.abort().await;
                return Err(refused).op(op);
            }
        }
        tx.commit().await.op(op)
    }
}
