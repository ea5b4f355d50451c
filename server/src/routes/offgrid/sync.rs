//! The exactly-once sync of outbox entries: the core's per-entry rule
//! ([`offgrid::sync::Lanes`]), each entry in its own transaction.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use offgrid::sync::{malformed, Lanes, SyncEntry, SyncResponse};
use serde::Deserialize;
use serde_json::Value;

use super::config::actions;
use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::hooks::InstanceHooks;
use crate::routes::{body, json};
use crate::storage::TxStore;
use crate::AppState;

/// `POST /api/offgrid/sync`: applies outbox entries in order, each at most once, ever, as the
/// session's user. Answers one result per entry, in the same order.
pub async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<SyncResponse>, HttpError> {
    // Entries are read one by one, so a malformed one is rejected on its own.
    #[derive(Deserialize)]
    struct Batch {
        entries: Vec<Value>,
    }
    let request: Batch = json(&body(bytes)?)?;
    let most = state.limits.max_batch_entries;
    if request.entries.len() > most {
        return Err(ApiError::too_large(format!(
            "a sync batch may have at most {most} entries, this one has {}; send fewer at a time",
            request.entries.len()
        ))
        .into());
    }
    let max = state.max_attachment_bytes;
    let results = state
        .blocking(move |s| {
            let mut lanes = Lanes::new();
            let mut results = Vec::with_capacity(request.entries.len());
            // The definitions once per batch, not once per entry.
            let set = s.read(|tx| actions(tx))?;
            let ctx = user.ctx();
            for value in request.entries {
                let entry: SyncEntry = match serde_json::from_value(value.clone()) {
                    Ok(entry) => entry,
                    Err(e) => {
                        results.push(malformed(&value, &e.to_string()));
                        continue;
                    }
                };
                let entry = &entry;
                // Only an applied entry commits, together with its remembered answer.
                let result = s.write_if(|tx| {
                    let mut store = TxStore::new(tx, max);
                    let applied = lanes
                        .apply(
                            entry,
                            &set,
                            &mut store,
                            &mut InstanceHooks,
                            &ctx,
                            &user.roles,
                        )
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    Ok::<_, ApiError>((applied.result, applied.commit))
                })?;
                results.push(result);
            }
            Ok::<_, ApiError>(results)
        })
        .await?;
    Ok(Json(SyncResponse { results }))
}
