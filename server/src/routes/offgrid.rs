//! offgrid's own API: login and logout, the configuration the core downloads, the offline
//! cache feed, live actions and the exactly-once sync of outbox entries.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as Params, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use offgrid::action::{run, ActionContext, ActionDef, ActionError, ActionSet, Outcome, Side};
use offgrid::conflict::{self, Verdict};
use offgrid::outbox::{Base, Entry};
use offgrid::policy::CachePolicy;
use offgrid::query::{Query, QueryContext};
use offgrid::record::{new_uuid, value_text, Record, Timestamp};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc;

use super::{body, json, params};
use crate::auth::{self, CurrentUser};
use crate::config_keys;
use crate::error::ApiError;
use crate::hooks::InstanceHooks;
use crate::storage::{Storage, StorageError, Tx, TxStore};
use crate::AppState;

#[derive(Deserialize)]
struct Login {
    user_name: String,
    password: String,
}

/// `POST /api/offgrid/login`: sets the session cookie; answers with the user.
pub async fn login(
    State(state): State<AppState>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let login: Login = json(&body(bytes)?)?;
    let (user, token) = state
        .blocking(move |s| {
            s.write(|tx| {
                let user = auth::verify(tx, &login.user_name, &login.password)?
                    .ok_or_else(|| ApiError::unauthorized("wrong user name or password"))?;
                let token = auth::open_session(tx, &user.user_name)?;
                Ok::<_, ApiError>((user, token))
            })
        })
        .await?;
    Ok((
        [(SET_COOKIE, auth::session_cookie(&token))],
        Json(json!({ "result": user.to_json() })),
    )
        .into_response())
}

/// `POST /api/offgrid/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    if let Some(token) = user.session.clone() {
        state
            .blocking(move |s| s.write(|tx| Ok::<_, ApiError>(tx.delete_session(&token)?)))
            .await?;
    }
    Ok((
        [(SET_COOKIE, auth::session_cookie(""))],
        Json(json!({ "result": { "logged_out": user.user_name } })),
    )
        .into_response())
}

/// The offline scopes, `{table: query}` (empty when none are configured).
fn tables(tx: &dyn Tx) -> Result<Map<String, Value>, StorageError> {
    Ok(match tx.config(config_keys::TABLES)? {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    })
}

/// The action definitions.
fn actions(tx: &dyn Tx) -> Result<ActionSet, ApiError> {
    let value = tx
        .config(config_keys::ACTIONS)?
        .unwrap_or_else(|| Value::Array(Vec::new()));
    ActionSet::from_json(&value)
        .map_err(|e| ApiError::internal(format!("the stored action definitions are invalid: {e}")))
}

/// `GET /api/offgrid/config`: offline scopes, action definitions and cache policy, and who
/// the user is.
pub async fn config(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Value>, ApiError> {
    let (tables, actions, policy) = state
        .blocking(|s| {
            s.read(|tx| {
                let policy = match tx.config(config_keys::POLICY)? {
                    Some(policy) => policy,
                    None => serde_json::to_value(CachePolicy::default())
                        .map_err(|e| ApiError::internal(e.to_string()))?,
                };
                Ok::<_, ApiError>((tables(tx)?, actions(tx)?.to_json(), policy))
            })
        })
        .await?;
    Ok(Json(json!({
        "tables": tables,
        "actions": actions,
        "policy": policy,
        "user": user.to_json(),
    })))
}

/// Lines of the feed are sent in chunks of about this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// `GET /api/offgrid/cache[?since=W]`: the user's offline cache as NDJSON, streamed from one
/// read transaction (a consistent snapshot) without holding the whole feed in memory.
pub async fn cache(
    State(state): State<AppState>,
    user: CurrentUser,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let since = params
        .get("since")
        .map(|w| {
            w.trim().parse::<i64>().ok().filter(|w| *w >= 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "since must be a watermark from an earlier feed (a non-negative integer), not {w:?}"
                ))
            })
        })
        .transpose()?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let storage = state.storage.clone();
    let ctx = user.ctx();
    tokio::task::spawn_blocking(move || {
        let mut feed = Feed {
            sender,
            buffer: Vec::new(),
            gone: false,
        };
        if let Err(e) = write_feed(&*storage, &ctx, since, &mut feed) {
            // The stream ends without its end line: the client sees an incomplete download.
            let _ = feed.sender.blocking_send(Err(std::io::Error::other(e.0)));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

struct Feed {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
    /// The client went away: stop reading.
    gone: bool,
}

impl Feed {
    fn line(&mut self, value: &Value) {
        // Serializing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buffer, value);
        self.buffer.push(b'\n');
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() || self.gone {
            return;
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.gone = self.sender.blocking_send(Ok(chunk)).is_err();
    }
}

fn write_feed(
    storage: &dyn Storage,
    ctx: &QueryContext,
    since: Option<i64>,
    feed: &mut Feed,
) -> Result<(), StorageError> {
    storage.read(|tx| {
        // Read first, so the snapshot and the watermark agree.
        let watermark = tx.watermark()?;
        // A watermark from the future comes from another database: start over.
        let since = since.filter(|s| *s <= watermark);
        let full = since.is_none();
        let after = since.unwrap_or(-1);
        let mut scopes = Vec::new();
        for (table, text) in tables(tx)? {
            let text = text.as_str().unwrap_or_default();
            let query = Query::parse(text).map_err(|e| {
                StorageError(format!(
                    "the offline scope of {table} is not a valid query: {e}"
                ))
            })?;
            scopes.push((table, query));
        }
        let mut total = 0u64;
        for (table, query) in &scopes {
            tx.scan(table, after, &mut |record| {
                total += u64::from(query.matches(&record, ctx));
                true
            })?;
        }
        let watermark = watermark.to_string();
        feed.line(&json!({"type": "header", "total": total, "watermark": watermark, "full": full}));
        let mut count = 0u64;
        for (table, query) in &scopes {
            tx.scan(table, after, &mut |record| {
                if query.matches(&record, ctx) {
                    count += 1;
                    feed.line(&json!({"type": "record", "table": table, "record": record}));
                } else if !full {
                    // Changed and out of scope: if the device has it, it must go.
                    let sys_id = record.sys_id().unwrap_or_default();
                    feed.line(&json!({"type": "delete", "table": table, "sys_id": sys_id}));
                }
                !feed.gone
            })?;
            if !full {
                tx.tombstones(table, after, &mut |sys_id| {
                    feed.line(&json!({"type": "delete", "table": table, "sys_id": sys_id}));
                })?;
            }
        }
        feed.line(&json!({"type": "end", "count": count, "watermark": watermark}));
        feed.flush();
        Ok(())
    })
}

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

fn inputs_detail(errors: &offgrid::action::InputErrors) -> Value {
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

/// `POST /api/offgrid/sync`: applies outbox entries in order, each at most once, ever.
/// Answers one result per entry, in the same order.
pub async fn sync(
    State(state): State<AppState>,
    user: CurrentUser,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
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
            value["error"]["detail"] = inputs_detail(errors);
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
