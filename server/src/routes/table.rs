//! The Table API (SPEC 7.1): list with encoded queries evaluated by the core over the table's
//! rows, get, insert, update (journal fields append), delete.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as Params, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use offgrid::action::is_journal_field;
use offgrid::api::table::{
    known_table, project, ListAnswer, ListParams, Page, RecordAnswer, TOTAL_COUNT_HEADER,
};
use offgrid::query::{FieldTest, QueryContext};
use offgrid::record::{is_valid_sys_id, Record, Timestamp, SYSTEM_FIELDS};
use offgrid::store::{JournalEntry, Store};
use serde_json::{Map, Value};
use std::collections::HashMap;

use super::{body, json, params};
use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::rules::{authorize_delete, authorize_write, check_choices, Reader};
use crate::storage::{Tx, TxStore};
use crate::{AppState, Limits};

/// `GET /api/now/table/{table}`: the core's list parameters and paging over the table's rows.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(table): Path<String>,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, HttpError> {
    known_table(&table)?;
    let params = params(query)?;
    let list = ListParams::parse(|name| params.get(name).map(String::as_str))?;
    let ctx = user.ctx();
    let by_sql = state.lists_by_sql;
    let page = state
        .blocking(move |s| {
            s.read(|tx| {
                let reader = Reader::of(tx, &user)?;
                if by_sql {
                    if let Some(page) = sql_page(tx, &reader, &table, &list, &ctx)? {
                        return Ok(page);
                    }
                }
                // SQL narrows by the query's plain equalities; the core judges what is left,
                // over only the fields it reads (the query's and the read rule's); the page's
                // records are then read whole.
                let narrowing = list.query.narrowing(&ctx);
                let fields = reader.fields_read(&table).map(|mut fields| {
                    fields.extend(list.query.fields());
                    fields.insert("sys_id".to_string());
                    fields
                });
                let mut pager = list.pager(&ctx);
                reader.scan(tx, &table, &narrowing, fields.as_ref(), |record| {
                    pager.offer(record)
                })?;
                let whole = |light: Record| match &fields {
                    None => Ok(light),
                    Some(_) => {
                        let sys_id = light.sys_id().unwrap_or_default();
                        existing(tx, &table, sys_id)
                    }
                };
                pager.try_finish_with(whole)
            })
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(TOTAL_COUNT_HEADER, HeaderValue::from(page.total));
    Ok((headers, Json(page.body)).into_response())
}

/// The page of a list SQL answers alone, when the query's conditions and the read rule are
/// the core's field tests and SQL can give the core's order ([`Tx::page_by_sql`]). The core
/// still judges the page: each record must match, be readable and come in its order, or the
/// list is answered by the full path (`None`), as it is when SQL cannot answer.
fn sql_page(
    tx: &dyn Tx,
    reader: &Reader,
    table: &str,
    list: &ListParams,
    ctx: &QueryContext,
) -> Result<Option<Page>, ApiError> {
    let (Some(tests), Some(rule)) = (list.query.field_tests(ctx), reader.field_tests(table)) else {
        return Ok(None);
    };
    let tests = FieldTest::merge(tests.into_iter().chain(rule));
    let order: Vec<(&str, bool)> = list.query.order().collect();
    let Some(found) = tx.page_by_sql(table, &tests, &order, list.offset, list.limit)? else {
        return Ok(None);
    };
    let records = found
        .sys_ids
        .iter()
        .map(|sys_id| existing(tx, table, sys_id))
        .collect::<Result<Vec<_>, _>>()?;
    for record in &records {
        if !list.query.matches(record, ctx) || !reader.may_read(tx, table, record)? {
            return Ok(None);
        }
    }
    let in_order = records.windows(2).all(|pair| {
        list.query
            .compare(&pair[0], &pair[1])
            .then_with(|| pair[0].sys_id().cmp(&pair[1].sys_id()))
            .is_lt()
    });
    if !in_order {
        return Ok(None);
    }
    let result = records
        .into_iter()
        .map(|record| project(record, list.fields.as_deref()))
        .collect();
    Ok(Some(Page {
        total: found.total,
        body: ListAnswer { result },
    }))
}

/// `GET /api/now/table/{table}/{sys_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<Json<RecordAnswer>, HttpError> {
    known_table(&table)?;
    let result = state
        .blocking(move |s| {
            s.read(|tx| {
                let record = existing(tx, &table, &sys_id)?;
                // A record the user may not read answers as if it did not exist, as offline.
                if !Reader::of(tx, &user)?.may_read(tx, &table, &record)? {
                    return Err(ApiError::no_record(&table, &sys_id));
                }
                Ok(record)
            })
        })
        .await?;
    Ok(Json(RecordAnswer { result }))
}

fn existing(tx: &dyn Tx, table: &str, sys_id: &str) -> Result<Record, ApiError> {
    tx.get(table, sys_id)?
        .ok_or_else(|| ApiError::no_record(table, sys_id))
}

/// A write body: the fields to store (system fields dropped), the journal entries to append,
/// and the `sys_id` the client chose, if any.
struct Changes {
    fields: Map<String, Value>,
    journal: Vec<(String, String)>,
    sys_id: Option<String>,
}

impl Changes {
    /// The fields the request writes, journal fields included, for the write rules.
    fn written(&self) -> Vec<String> {
        let journal = self.journal.iter().map(|(field, _)| field.clone());
        self.fields.keys().cloned().chain(journal).collect()
    }
}

fn changes(bytes: &[u8], limits: Limits) -> Result<Changes, ApiError> {
    let value: Value = json(bytes)?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object of field values",
        ));
    };
    if map.len() > limits.max_fields {
        return Err(ApiError::too_many_fields(format!(
            "a write may carry at most {} fields, this one has {}",
            limits.max_fields,
            map.len()
        )));
    }
    if let Some((field, text)) = map
        .iter()
        .filter_map(|(f, v)| v.as_str().map(|t| (f, t)))
        .find(|(_, t)| t.len() > limits.max_field_bytes)
    {
        return Err(ApiError::too_large(format!(
            "field {field} is {} bytes; a field may be at most {} bytes",
            text.len(),
            limits.max_field_bytes
        )));
    }
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
        } else if is_journal_field(&field) {
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
                sys_id: None,
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
) -> Result<Response, HttpError> {
    known_table(&table)?;
    let changes = changes(&body(bytes)?, state.limits)?;
    let max = state.max_attachment_bytes;
    let record = state
        .blocking(move |s| {
            s.write(|tx| {
                let written = changes.written();
                let mut record = Record(changes.fields);
                if let Some(id) = &changes.sys_id {
                    if tx.get(&table, id)?.is_some() {
                        return Err(ApiError::conflict(format!(
                            "{table} already has a record {id}"
                        )));
                    }
                    record.set("sys_id", id.clone());
                }
                check_choices(tx, &table, &record.0)?;
                authorize_write(tx, &user, &table, None, &record, &written)?;
                let now = Timestamp::now();
                record.stamp_insert(&user.user_name, now);
                tx.put(&table, &record)?;
                let id = record.sys_id().unwrap_or_default().to_string();
                append_journal(tx, &table, &id, changes.journal, &user.user_name, now, max)?;
                Ok(record)
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(RecordAnswer { result: record })).into_response())
}

/// `PATCH` and `PUT /api/now/table/{table}/{sys_id}`: changes the given fields; `work_notes`
/// and `comments` append journal entries.
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<RecordAnswer>, HttpError> {
    known_table(&table)?;
    let changes = changes(&body(bytes)?, state.limits)?;
    if changes.sys_id.as_ref().is_some_and(|id| *id != sys_id) {
        return Err(ApiError::bad_request(format!(
            "the body's sys_id differs from the record's {sys_id}; sys_id cannot change"
        ))
        .into());
    }
    let max = state.max_attachment_bytes;
    let record = state
        .blocking(move |s| {
            s.write(|tx| {
                let before = existing(tx, &table, &sys_id)?;
                check_choices(tx, &table, &changes.fields)?;
                let written = changes.written();
                let mut record = before.clone();
                record.0.extend(changes.fields);
                authorize_write(tx, &user, &table, Some(&before), &record, &written)?;
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
    Ok(Json(RecordAnswer { result: record }))
}

/// `DELETE /api/now/table/{table}/{sys_id}`: 204, and a tombstone for the cache feed.
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<StatusCode, HttpError> {
    known_table(&table)?;
    state
        .blocking(move |s| {
            s.write(|tx| {
                let record = existing(tx, &table, &sys_id)?;
                authorize_delete(&user, &table, &record)?;
                tx.delete(&table, &sys_id)?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
