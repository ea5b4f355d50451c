//! The exactly-once sync of outbox entries.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use offgrid::action::{run, ActionContext, ActionError, ActionSet, Side};
use offgrid::conflict::{self, Verdict};
use offgrid::outbox::{Base, Entry};
use offgrid::record::{value_text, Record, Timestamp};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

use super::config::actions;
use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::hooks::InstanceHooks;
use crate::routes::{body, json};
use crate::storage::{Tx, TxStore};
use crate::AppState;

/// `POST /api/offgrid/sync`: applies outbox entries in order, each at most once, ever.
/// Answers one result per entry, in the same order.
pub async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HttpError> {
    let request: offgrid::sync::SyncRequest = json(&body(bytes)?)?;
    let max = state.max_attachment_bytes;
    let results = state
        .blocking(move |s| {
            // Records with an entry earlier in this batch that did not apply: later entries
            // for them must wait, or they would apply out of order.
            let mut failed: HashSet<(String, String)> = HashSet::new();
            let mut results = Vec::with_capacity(request.entries.len());
            // The definitions once per batch, not once per entry.
            let set = s.read(|tx| actions(tx))?;
            for entry in &request.entries {
                let key = (entry.table.clone(), entry.sys_id.clone());
                let blocked = failed.contains(&key);
                let result = s.write_if(|tx| sync_entry(tx, &user, &set, entry, blocked, max))?;
                if result["status"] != "applied" {
                    failed.insert(key);
                }
                results.push(result);
            }
            Ok::<_, ApiError>(results)
        })
        .await?;
    Ok(Json(json!({ "results": results })))
}

fn result(entry: &Entry, status: &str, record: Option<&Record>, error: Value) -> Value {
    json!({ "id": entry.id, "status": status, "record": record, "error": error })
}

fn failure(
    entry: &Entry,
    status: &str,
    code: &str,
    message: String,
    record: Option<&Record>,
) -> Value {
    let error = json!({ "code": code, "message": message, "record": record });
    result(entry, status, record, error)
}

/// One entry in its own transaction; the flag says whether to commit. Only an applied entry
/// commits, together with its stored result.
fn sync_entry(
    tx: &mut dyn Tx,
    user: &CurrentUser,
    set: &ActionSet,
    entry: &Entry,
    blocked: bool,
    max_attachment_bytes: u64,
) -> Result<(Value, bool), ApiError> {
    if let Some(stored) = tx.sync_result(&entry.id)? {
        return Ok((stored, false));
    }
    let refuse =
        |code: &str, message: String| Ok((failure(entry, "rejected", code, message, None), false));
    if entry.user != user.user_name {
        return refuse(
            "forbidden",
            format!(
                "entry {} belongs to {}, not to {}",
                entry.id, entry.user, user.user_name
            ),
        );
    }
    let Some(def) = set.get(&entry.action) else {
        return refuse(
            "unknown_action",
            format!("there is no action named {:?}", entry.action),
        );
    };
    if def.table != entry.table {
        return refuse(
            "bad_request",
            format!(
                "action {} works on {}, not {}",
                def.name, def.table, entry.table
            ),
        );
    }
    if blocked {
        let message = "an earlier change to this record in the same sync did not apply; \
                       this one waits until that one is resolved or deleted";
        return Ok((
            failure(entry, "blocked", "blocked", message.to_string(), None),
            false,
        ));
    }
    let Some(before) = tx.get(&entry.table, &entry.sys_id)? else {
        return Ok((deleted(entry), false));
    };
    let ctx = ActionContext {
        user: user.ctx(),
        // The time the change was made on the device, so `${now}` has the same value on
        // both sides.
        now: entry.queued_at,
        invocation_id: entry.id.clone(),
    };
    let mut store = TxStore::new(tx, max_attachment_bytes);
    let ran = run(
        def,
        Side::Instance,
        &mut store,
        &mut InstanceHooks,
        &ctx,
        &entry.sys_id,
        &entry.inputs,
    );
    let refused = store.refused.take();
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err(e) => return Ok((sync_error(entry, e, refused, &before)?, false)),
    };
    let writes: Map<String, Value> = match &outcome.record {
        Some(record) => def
            .written_fields()
            .into_iter()
            .filter_map(|f| record.get(&f).cloned().map(|v| (f, v)))
            .collect(),
        None => Map::new(),
    };
    if let Verdict::Conflict(c) = conflict::check(&entry.base, &writes, Some(&before)) {
        let mut value = failure(entry, "conflict", c.code, c.message, Some(&before));
        value["error"]["field"] = json!(c.field);
        return Ok((value, false));
    }
    let applied = result(entry, "applied", outcome.record.as_ref(), Value::Null);
    tx.put_sync_result(&entry.id, &user.user_name, &applied, Timestamp::now())?;
    Ok((applied, true))
}

fn deleted(entry: &Entry) -> Value {
    match conflict::check(&entry.base, &Map::new(), None) {
        Verdict::Conflict(c) => failure(entry, "conflict", c.code, c.message, None),
        _ => failure(
            entry,
            "conflict",
            "deleted",
            "the record was deleted".into(),
            None,
        ),
    }
}

/// How an entry the engine refused is answered. Validation failures on the instance's
/// current record are conflicts (the user resolves them); bad inputs are rejections.
fn sync_error(
    entry: &Entry,
    e: ActionError,
    refused: Option<String>,
    current: &Record,
) -> Result<Value, ApiError> {
    let message = e.to_string();
    Ok(match &e {
        ActionError::NotFound { .. } => deleted(entry),
        ActionError::NotApplicable { .. } | ActionError::Validation { .. } => {
            let message = format!("{message}{}", moved_since(&entry.base, current));
            failure(entry, "conflict", e.code(), message, Some(current))
        }
        ActionError::Inputs(errors) => {
            let mut value = failure(entry, "rejected", e.code(), message, None);
            value["error"]["detail"] = ApiError::invalid_inputs(errors).detail;
            value
        }
        ActionError::UnavailableOffline { .. } | ActionError::Hook { .. } => {
            failure(entry, "rejected", e.code(), message, Some(current))
        }
        ActionError::Store(_) => match refused {
            Some(reason) => failure(entry, "rejected", "invalid_attachment", reason, None),
            None => return Err(ApiError::internal(message)),
        },
    })
}

/// What changed on the instance since the device saw the record, for a refusal's message:
/// " (since your change: state is now closed_complete, changed by fred.luddy at ...)".
fn moved_since(base: &Base, current: &Record) -> String {
    let Verdict::Merge { fields } = conflict::check(base, &Map::new(), Some(current)) else {
        return String::new();
    };
    if fields.is_empty() {
        return String::new();
    }
    let who = current
        .text("sys_updated_by")
        .unwrap_or_else(|| "someone".into());
    let when = current.text("sys_updated_on").unwrap_or_default();
    let changes: Vec<String> = fields
        .iter()
        .map(|f| {
            let now = current.get(f).and_then(value_text).unwrap_or_default();
            format!("{f} is now {now:?}")
        })
        .collect();
    format!(
        " (since your change: {}, changed by {who} at {when})",
        changes.join(", ")
    )
}
