//! Live actions: an action run on the instance, its online and both steps in one transaction.
//! The invocation, the checks before running and the answers are the core's contract
//! (`offgrid::api::action`), so a live run and an offline one answer alike. A call with the
//! device's id is remembered under it as the sync remembers an applied entry, in the same
//! transaction: the device that lost the answer and queued the change under that id gets
//! "applied" for it, a repeated call gets the first one's record, and nothing is applied
//! twice.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use offgrid::action::{run, ActionContext, Outcome, Side};
use offgrid::api::action::{permitted, ActionAnswer, Invocation};
use offgrid::api::ApiError;
use offgrid::record::{new_uuid, Timestamp};
use offgrid::sync::{Ledger, SyncResult, SyncStatus};

use super::config::actions;
use crate::auth::CurrentUser;
use crate::error::HttpError;
use crate::hooks::InstanceHooks;
use crate::routes::{body, json};
use crate::storage::TxStore;
use crate::AppState;

/// `POST /api/offgrid/actions/{name}`: runs an action live, its online and both steps in one
/// transaction. Nothing is written when it is refused.
pub async fn run_action(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<ActionAnswer>, HttpError> {
    let invocation = Invocation::from_value(json(&body(bytes)?)?)?;
    let max = state.max_attachment_bytes;
    let outcome = state
        .blocking(move |s| {
            s.write(|tx| {
                let set = actions(tx)?;
                let def = invocation.action(&set, &name)?;
                permitted(def, &user.user_name, &user.roles)?;
                let ctx = ActionContext {
                    user: user.ctx(),
                    now: Timestamp::now(),
                    invocation_id: invocation.id.clone().unwrap_or_else(new_uuid),
                };
                let sys_id = invocation.target(def, &ctx.invocation_id)?;
                let ledger = |e: offgrid::store::StoreError| ApiError::internal(e.to_string());
                let mut store = TxStore::new(tx, max);
                // A repeated id (the browser itself resends a request whose reused connection
                // closed without an answer) gets the first run's record, not a second run.
                if let Some(id) = &invocation.id {
                    if let Some(first) = store.answered(id, &user.user_name).map_err(ledger)? {
                        return Ok(Outcome {
                            deleted: first.record.is_none(),
                            record: first.record,
                            created: Vec::new(),
                            journal: Vec::new(),
                            attachments: Vec::new(),
                        });
                    }
                }
                let result = run(
                    def,
                    Side::Instance,
                    &mut store,
                    &mut InstanceHooks,
                    &ctx,
                    &sys_id,
                    &invocation.inputs,
                );
                let refused = store.refused.take();
                if let (Ok(outcome), Some(id)) = (&result, &invocation.id) {
                    let applied = SyncResult {
                        id: id.clone(),
                        status: SyncStatus::Applied,
                        record: outcome.record.clone(),
                        error: None,
                    };
                    store
                        .remember(id, &user.user_name, &applied)
                        .map_err(ledger)?;
                }
                result.map_err(|e| match refused {
                    // The store refused the file itself (over the size limit, or no bytes and
                    // none uploaded before with its hash): the request's fault, not the
                    // database's.
                    Some(reason) => ApiError::invalid_attachment(reason),
                    None => {
                        let current = tx.get(&def.table, &sys_id).ok().flatten();
                        ApiError::from_action(&e, current.as_ref())
                    }
                })
            })
        })
        .await?;
    Ok(Json(ActionAnswer::live(outcome)))
}
