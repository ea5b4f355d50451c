//! The exactly-once sync of outbox entries: the core's per-entry rule
//! ([`offgrid::sync::Lanes`]), each entry in its own transaction.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use offgrid::sync::{Lanes, SyncRequest, SyncResponse};

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
    let request: SyncRequest = json(&body(bytes)?)?;
    let max = state.max_attachment_bytes;
    let results = state
        .blocking(move |s| {
            let mut lanes = Lanes::new();
            let mut results = Vec::with_capacity(request.entries.len());
            // The definitions once per batch, not once per entry.
            let set = s.read(|tx| actions(tx))?;
            let ctx = user.ctx();
            for entry in &request.entries {
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
