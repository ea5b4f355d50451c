//! The Table API (SPEC 7.1): list with encoded queries evaluated by the core over the table's
//! rows, get, insert, update (journal fields append), delete.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as Params, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use offgrid::record::{is_valid_sys_id, Record, Timestamp, SYSTEM_FIELDS};
use offgrid::store::{JournalEntry, Store};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::{body, encoded_query, json, known_table, params};
use crate::auth::{authorize_write, CurrentUser};
use crate::error::ApiError;
use crate::storage::{all, Tx, TxStore};
use crate::AppState;

/// Fields that append journal entries instead of being stored on the record.
pub const JOURNAL_FIELDS: [&str; 2] = ["work_notes", "comments"];

const DEFAULT_LIMIT: usize = 1000;

fn number_param(params: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!("{name} must be a non-negative integer, not {v:?}"))
            })
        })
        .transpose()
}

/// `GET /api/now/table/{table}`.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(table): Path<String>,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    known_table(&table)?;
    let params = params(query)?;
    let query = encoded_query(params.get("sysparm_query").map_or("", String::as_str))?;
    let limit = number_param(&params, "sysparm_limit")?.unwrap_or(DEFAULT_LIMIT);
    let offset = number_param(&params, "sysparm_offset")?.unwrap_or(0);
    let fields: Option<Vec<String>> = params.get("sysparm_fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect()
    });
    let ctx = user.ctx();
    let (total, page) = state
        .blocking(move |s| {
            s.read(|tx| {
                let selected = query.select(all(tx, &table)?, &ctx);
                let total = selected.len();
                let page: Vec<Value> = selected
                    .into_iter()
                    .skip(offset)
                    .take(limit)
                    .map(|r| project(r, fields.as_deref()))
                    .collect();
                Ok::<_, ApiError>((total, page))
            })
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((headers, Json(json!({ "result": page }))).into_response())
}

fn project(record: Record, fields: Option<&[String]>) -> Value {
    match fields {
        None => record.into_value(),
        Some(fields) => {
            let mut map = record.0;
            map.retain(|k, _| fields.iter().any(|f| f == k));
            Value::Object(map)
        }
    }
}

/// `GET /api/now/table/{table}/{sys_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    known_table(&table)?;
    let record = state
        .blocking(move |s| s.read(|tx| existing(tx, &table, &sys_id)))
        .await?;
    Ok(Json(json!({ "result": record })))
}

fn existing(tx: &dyn Tx, table: &str, sys_id: &str) -> Result<Record, ApiError> {
    tx.get(table, sys_id)?
        .ok_or_else(|| ApiError::not_found(format!("no record {sys_id} in {table}")))
}

/// A write body: the fields to store (system fields dropped), the journal entries to append,
/// and the `sys_id` the client chose, if any.
struct Changes {
    fields: Map<String, Value>,
    journal: Vec<(String, String)>,
    sys_id: Option<String>,
}

fn changes(bytes: &[u8]) -> Result<Changes, ApiError> {
    let value: Value = json(bytes)?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object of field values",
        ));
    };
    let mut out = Changes {
        fields: Map::new(),
        journal: Vec::new(),
        sys_id: None,
    };
    for (field, value) in map {
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            return Err(ApiError::bad_request(format!(
                "field {field}: values must be strings, numbers, booleans or null"
            )));
        }
        if field == "sys_id" {
            let id = value.as_str().unwrap_or_default();
            if !is_valid_sys_id(id) {
                return Err(ApiError::bad_request(format!(
                    "sys_id {value} is not 32 lowercase hexadecimal characters"
                )));
            }
            out.sys_id = Some(id.to_string());
        } else if SYSTEM_FIELDS.contains(&field.as_str()) {
            // Maintained by the instance; a client's value is ignored.
        } else if JOURNAL_FIELDS.contains(&field.as_str()) {
            if let Some(text) = offgrid::record::value_text(&value).filter(|t| !t.is_empty()) {
                out.journal.push((field, text));
            }
        } else {
            out.fields.insert(field, value);
        }
    }
    Ok(out)
}

fn append_journal(
    tx: &mut dyn Tx,
    table: &str,
    sys_id: &str,
    journal: Vec<(String, String)>,
    user: &str,
    now: Timestamp,
    max_attachment_bytes: u64,
) -> Result<(), ApiError> {
    let mut store = TxStore::new(tx, max_attachment_bytes);
    for (element, value) in journal {
        store
            .append_journal(JournalEntry {
                table: table.to_string(),
                element_id: sys_id.to_string(),
                element,
                value,
                sys_created_by: user.to_string(),
                sys_created_on: now,
            })
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(())
}

/// `POST /api/now/table/{table}`.
pub async fn insert(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(table): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    known_table(&table)?;
    let changes = changes(&body(bytes)?)?;
    let max = state.max_attachment_bytes;
    let record = state
        .blocking(move |s| {
            s.write(|tx| {
                let mut record = Record(changes.fields);
                if let Some(id) = &changes.sys_id {
                    if tx.get(&table, id)?.is_some() {
                        return Err(ApiError::conflict(format!(
                            "{table} already has a record {id}"
                        )));
                    }
                    record.set("sys_id", id.clone());
                }
                authorize_write(tx, &user, &table, &record)?;
                let now = Timestamp::now();
                record.stamp_insert(&user.user_name, now);
                tx.put(&table, &record)?;
                let id = record.sys_id().unwrap_or_default().to_string();
                append_journal(tx, &table, &id, changes.journal, &user.user_name, now, max)?;
                Ok(record)
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "result": record }))).into_response())
}

/// `PATCH` and `PUT /api/now/table/{table}/{sys_id}`: changes the given fields; `work_notes`
/// and `comments` append journal entries.
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    known_table(&table)?;
    let changes = changes(&body(bytes)?)?;
    if changes.sys_id.as_ref().is_some_and(|id| *id != sys_id) {
        return Err(ApiError::bad_request(format!(
            "the body's sys_id differs from the record's {sys_id}; sys_id cannot change"
        )));
    }
    let max = state.max_attachment_bytes;
    let record = state
        .blocking(move |s| {
            s.write(|tx| {
                let mut record = existing(tx, &table, &sys_id)?;
                authorize_write(tx, &user, &table, &record)?;
                record.0.extend(changes.fields);
                let now = Timestamp::now();
                record.stamp_update(&user.user_name, now);
                tx.put(&table, &record)?;
                append_journal(
                    tx,
                    &table,
                    &sys_id,
                    changes.journal,
                    &user.user_name,
                    now,
                    max,
                )?;
                Ok::<_, ApiError>(record)
            })
        })
        .await?;
    Ok(Json(json!({ "result": record })))
}

/// `DELETE /api/now/table/{table}/{sys_id}`: 204, and a tombstone for the cache feed.
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    known_table(&table)?;
    state
        .blocking(move |s| {
            s.write(|tx| {
                let record = existing(tx, &table, &sys_id)?;
                authorize_write(tx, &user, &table, &record)?;
                tx.delete(&table, &sys_id)?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
