//! Attachments: upload raw bytes, list metadata with an encoded query, download bytes.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query as Params, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use offgrid::record::{new_sys_id, Record, Timestamp};
use offgrid::store::{attachment_record, FileInput, ATTACHMENT_TABLE};
use serde_json::json;
use std::collections::HashMap;

use super::{body, params};
use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::rules::{authorize_write, Reader};
use crate::storage::{save_attachment, sha256_hex};
use crate::AppState;
use offgrid::api::attachment::{content_type_fault, file_headers};
use offgrid::api::table::known_table;
use offgrid::query::Query;

fn required<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("the URL parameter {name} is required")))
}

/// `POST /api/now/attachment/file?table_name=&table_sys_id=&file_name=`: the raw body is the
/// file; its `Content-Type` is kept. 413 over the size limit.
pub async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let params = params(query)?;
    let table = required(&params, "table_name")?.to_string();
    let table_sys_id = required(&params, "table_sys_id")?.to_string();
    let file_name = required(&params, "file_name")?.to_string();
    known_table(&table)?;
    let bytes = body(bytes)?;
    if bytes.len() as u64 > state.max_attachment_bytes {
        return Err(ApiError::too_large(format!(
            "{file_name} is {} bytes; attachments may be at most {} bytes",
            bytes.len(),
            state.max_attachment_bytes
        ))
        .into());
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    if let Some(fault) = content_type_fault(&content_type) {
        return Err(ApiError::bad_request(fault).into());
    }
    let file = FileInput {
        file_name,
        content_type,
        size_bytes: bytes.len() as u64,
        hash: sha256_hex(&bytes),
        data: None,
    };
    let meta = state
        .blocking(move |s| {
            s.write(|tx| {
                let target = tx.get(&table, &table_sys_id)?.ok_or_else(|| {
                    ApiError::not_found(format!(
                        "cannot attach to {table} {table_sys_id}: there is no such record"
                    ))
                })?;
                // Attaching changes no field: the record must be one the user may write.
                authorize_write(tx, &user, &table, Some(&target), &target, &[])?;
                let meta = attachment_record(&table, &table_sys_id, &new_sys_id(), &file);
                Ok::<_, ApiError>(save_attachment(
                    tx,
                    meta,
                    &bytes,
                    &user.user_name,
                    Timestamp::now(),
                )?)
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "result": meta }))).into_response())
}

/// `GET /api/now/attachment?sysparm_query=`: attachment metadata.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let params = params(query)?;
    let query = Query::parse(params.get("sysparm_query").map_or("", String::as_str))
        .map_err(|e| ApiError::invalid_query(&e))?;
    let ctx = user.ctx();
    let records = state
        .blocking(move |s| {
            s.read(|tx| {
                let mut matches = Vec::new();
                Reader::of(tx, &user)?.scan(
                    tx,
                    ATTACHMENT_TABLE,
                    &query.narrowing(&ctx),
                    None,
                    |record| {
                        if query.matches(&record, &ctx) {
                            matches.push(record);
                        }
                    },
                )?;
                query.sort(&mut matches);
                Ok::<_, ApiError>(matches)
            })
        })
        .await?;
    Ok(Json(json!({ "result": records })))
}

/// `GET /api/now/attachment/{sys_id}/file`: the bytes, with the stored `Content-Type`.
pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(sys_id): Path<String>,
) -> Result<Response, HttpError> {
    let (meta, bytes) = state
        .blocking(move |s| {
            s.read(|tx| {
                let missing = || ApiError::not_found(format!("no attachment {sys_id}"));
                let meta = tx.get(ATTACHMENT_TABLE, &sys_id)?.ok_or_else(missing)?;
                if !Reader::of(tx, &user)?.may_read(tx, ATTACHMENT_TABLE, &meta)? {
                    return Err(missing());
                }
                let bytes = tx.bytes(&sys_id)?.ok_or_else(missing)?;
                Ok::<_, ApiError>((meta, bytes))
            })
        })
        .await?;
    Ok((file_header_map(&meta), Body::from(bytes)).into_response())
}

/// The core's headers of a downloaded file ([`file_headers`]) as axum's.
fn file_header_map(meta: &Record) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in file_headers(meta) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers
}
