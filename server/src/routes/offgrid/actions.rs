//! Live actions: an action run on the instance, its online and both steps in one transaction.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use offgrid::action::{run, ActionContext, ActionDef, ActionError, ActionSet, Outcome, Side};
use offgrid::record::{new_uuid, Record, Timestamp};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::config::actions;
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::hooks::InstanceHooks;
use crate::routes::{body, json};
use crate::storage::TxStore;
use crate::AppState;

#[derive(Deserialize)]
struct Invocation {
    table: String,
    sys_id: String,
    #[serde(default)]
    inputs: Map<String, Value>,
}

fn action_def<'a>(set: &'a ActionSet, name: &str) -> Result<&'a ActionDef, ApiError> {
    set.get(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_action",
            format!("there is no action named {name:?}"),
        )
    })
}

/// `POST /api/offgrid/actions/{name}`: runs an action live, its online and both steps in one
/// transaction.
pub async fn run_action(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let invocation: Invocation = json(&body(bytes)?)?;
    let max = state.max_attachment_bytes;
    let outcome = state
        .blocking(move |s| {
            s.write(|tx| {
                let set = actions(tx)?;
                let def = action_def(&set, &name)?;
                if def.table != invocation.table {
                    return Err(ApiError::bad_request(format!(
                        "action {name} works on {}, not {}",
                        def.table, invocation.table
                    )));
                }
                let ctx = ActionContext {
                    user: user.ctx(),
                    now: Timestamp::now(),
                    invocation_id: new_uuid(),
                };
                let mut store = TxStore::new(tx, max);
                let result = run(
                    def,
                    Side::Instance,
                    &mut store,
                    &mut InstanceHooks,
                    &ctx,
                    &invocation.sys_id,
                    &invocation.inputs,
                );
                let refused = store.refused.take();
                result.map_err(|e| {
                    let current = tx.get(&def.table, &invocation.sys_id).ok().flatten();
                    live_error(e, refused, current)
                })
            })
        })
        .await?;
    Ok(Json(outcome_json(outcome)))
}

fn outcome_json(outcome: Outcome) -> Value {
    let created: Vec<Value> = outcome
        .created
        .into_iter()
        .map(|(table, record)| json!({"table": table, "record": record}))
        .collect();
    json!({
        "result": outcome.record,
        "created": created,
        "deleted": outcome.deleted,
        "attachments": outcome.attachments,
    })
}

pub(super) fn inputs_detail(errors: &offgrid::action::InputErrors) -> Value {
    let per_input: Map<String, Value> = errors
        .0
        .iter()
        .map(|e| (e.input.clone(), Value::String(e.message.clone())))
        .collect();
    json!({ "inputs": per_input })
}

/// How a live action's failure is answered: nothing was written in any case.
fn live_error(e: ActionError, refused: Option<String>, current: Option<Record>) -> ApiError {
    let message = e.to_string();
    match &e {
        ActionError::NotFound { .. } => ApiError::not_found(message),
        ActionError::NotApplicable { .. } | ActionError::UnavailableOffline { .. } => {
            ApiError::new(StatusCode::CONFLICT, e.code(), message)
                .with_detail(json!({ "record": current }))
        }
        ActionError::Validation { action, step, .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), message)
                .with_detail(json!({ "action": action, "step": step, "record": current }))
        }
        ActionError::Inputs(errors) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), message)
                .with_detail(inputs_detail(errors))
        }
        ActionError::Hook { .. } => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), message)
        }
        ActionError::Store(_) => match refused {
            Some(reason) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_attachment",
                reason,
            ),
            None => ApiError::internal(message),
        },
    }
}
