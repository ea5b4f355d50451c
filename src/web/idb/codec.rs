//! Rust values to and from the JS values IndexedDB stores.
//!
//! Everything goes through `serde-wasm-bindgen`'s JSON-compatible serializer, so a stored value
//! is a plain JS object (maps become objects, not `Map`s): key paths such as `record.state`
//! reach into it, and the browser's devtools show it as JSON.

use super::error::DbError;
use crate::record::Record;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// A Rust value as a plain JS value.
pub(crate) fn to_js<T: Serialize + ?Sized>(
    op: &'static str,
    value: &T,
) -> Result<JsValue, DbError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| DbError::Encode {
            op,
            message: e.to_string(),
        })
}

/// A stored JS value as a Rust value.
pub(crate) fn from_js<T: DeserializeOwned>(op: &'static str, js: JsValue) -> Result<T, DbError> {
    serde_wasm_bindgen::from_value(js).map_err(|e| DbError::Decode {
        op,
        message: e.to_string(),
    })
}

/// The key of a record in a record area or the shadow store: `[table, sys_id]`.
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
    let sys_id = record.sys_id().ok_or_else(|| DbError::Invalid {
        op,
        message: format!("a {table} record without a sys_id cannot be stored"),
    })?;
    to_js(
        op,
        &StoredRecordRef {
            table,
            sys_id,
            record,
        },
    )
}

/// A stored record's JS value back as a record.
pub(crate) fn read_record(op: &'static str, js: JsValue) -> Result<Record, DbError> {
    from_js::<StoredRecord>(op, js).map(|s| s.record)
}
