//! Rust values to and from the JS values IndexedDB stores.
//!
//! A value goes through `serde_json`'s text and the engine's own `JSON.parse` /
//! `JSON.stringify`, so a stored value is a plain JS object: key paths such as `record.state`
//! reach into it, and the browser's devtools show it as JSON. One serializer for HTTP bodies
//! and storage keeps the wasm small (`docs/decisions.md`), and the engine builds the whole
//! object in one call instead of one call across the wasm boundary per property.

use super::error::DbError;
use crate::record::Record;
use crate::web::transport::js_text;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// A Rust value as a plain JS value.
pub(crate) fn to_js<T: Serialize + ?Sized>(
    op: &'static str,
    value: &T,
) -> Result<JsValue, DbError> {
    let encode = |message| DbError::Encode { op, message };
    let text = serde_json::to_string(value).map_err(|e| encode(e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|e| encode(js_text(&e)))
}

/// A stored JS value as a Rust value.
pub(crate) fn from_js<T: DeserializeOwned>(op: &'static str, js: JsValue) -> Result<T, DbError> {
    let decode = |message| DbError::Decode { op, message };
    // `JSON.stringify` throws on cycles and BigInts and gives `undefined` for `undefined`.
    let text = js_sys::JSON::stringify(&js)
        .map_err(|e| decode(js_text(&e)))?
        .as_string()
        .ok_or_else(|| decode("the stored value has no JSON form".into()))?;
    serde_json::from_str(&text).map_err(|e| decode(e.to_string()))
}

/// The key of a record in a record area or the shadow store: `[table, sys_id]` (and a key of
/// the areas' `[table, field]` indexes, `[table, value]`).
pub(crate) fn record_key(table: &str, sys_id: &str) -> JsValue {
    js_sys::Array::of2(&JsValue::from_str(table), &JsValue::from_str(sys_id)).into()
}

/// How a record is stored: its table and `sys_id` beside it, so the store's key path
/// `["table","sys_id"]` and the `table` index find it without knowing the record's fields.
#[derive(Serialize)]
pub(crate) struct StoredRecordRef<'a> {
    table: &'a str,
    sys_id: &'a str,
    record: &'a Record,
}

/// A stored record read back.
#[derive(Deserialize)]
pub(crate) struct StoredRecord {
    pub(crate) record: Record,
}

/// A record as the JS value to put: refuses a record without a `sys_id`, which could not be
/// found again.
pub(crate) fn stored_record(
    op: &'static str,
    table: &str,
    record: &Record,
) -> Result<JsValue, DbError> {
    to_js(op, &stored_ref(op, table, record)?)
}

/// Records as the JS values to put, from ONE `JSON.parse` of them all: a download stores them
/// by the hundred, and one crossing of the wasm boundary per record costs more than the parse.
pub(crate) fn stored_records(
    op: &'static str,
    records: &[(String, Record)],
) -> Result<js_sys::Array, DbError> {
    let refs = records
        .iter()
        .map(|(table, record)| stored_ref(op, table, record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(to_js(op, &refs)?.unchecked_into())
}

fn stored_ref<'a>(
    op: &'static str,
    table: &'a str,
    record: &'a Record,
) -> Result<StoredRecordRef<'a>, DbError> {
    let sys_id = record.sys_id().ok_or_else(|| DbError::Invalid {
        op,
        message: format!("a {table} record without a sys_id cannot be stored"),
    })?;
    Ok(StoredRecordRef {
        table,
        sys_id,
        record,
    })
}

/// A stored record's JS value back as a record.
pub(crate) fn read_record(op: &'static str, js: JsValue) -> Result<Record, DbError> {
    from_js::<StoredRecord>(op, js).map(|s| s.record)
}
