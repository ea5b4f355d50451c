//! Attachment bytes in the `blobs` store, in whichever form the engine can keep.
//!
//! A `Blob` is the natural form (the browser keeps it as bytes, no base64), but not every
//! engine can put one into IndexedDB: WebKitGTK refuses with `UnknownError: Error preparing
//! Blob/File data to be stored in object store`. So each connection asks the engine once, by
//! trying (a `Blob` put and deleted in a transaction of its own), and where it is refused keeps
//! files as `{type, bytes}` with `bytes` an `ArrayBuffer`. Reading accepts both forms and
//! always hands back a `Blob` of the file's content type, so nothing above the store knows.

use super::error::{DbError, OrDbError};
use super::schema::BLOBS;
use super::writes::Writes;
use super::LocalDb;
use crate::web::transport::js_text;
use indexed_db_futures::prelude::*;
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag};

/// The key the probe writes and deletes in `blobs`: not a sha-256 hex, so never a file's.
const PROBE_KEY: &str = "offgrid:blob-probe";
/// The content type's field in the bytes form.
const TYPE: &str = "type";
/// The bytes' field in the bytes form.
const BYTES: &str = "bytes";

/// How this connection stores a file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileForm {
    /// As the `Blob` itself.
    Blob,
    /// As `{type, bytes}`: the engine refused to store a `Blob`.
    Bytes,
}

/// A `Blob` holding `bytes`, typed `content_type`: the form in which
/// [`LocalDb::put_blob`] and [`LocalDb::commit_local_action`] take a file.
pub fn blob_from_bytes(bytes: &[u8], content_type: &str) -> Result<Blob, DbError> {
    blob_of(&Uint8Array::from(bytes), content_type)
}

/// The bytes a `Blob` holds.
pub async fn blob_bytes(blob: &Blob) -> Result<Vec<u8>, DbError> {
    let buffer = array_buffer(blob).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

fn blob_of(bytes: &Uint8Array, content_type: &str) -> Result<Blob, DbError> {
    let options = BlobPropertyBag::new();
    options.set_type(content_type);
    Blob::new_with_u8_array_sequence_and_options(&Array::of1(bytes), &options).map_err(|e| {
        DbError::Encode {
            op: "keep an attachment's bytes",
            message: js_text(&e),
        }
    })
}

async fn array_buffer(blob: &Blob) -> Result<ArrayBuffer, DbError> {
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| DbError::Idb {
            op: "read an attachment's bytes",
            message: js_text(&e),
        })?;
    Ok(buffer.unchecked_into())
}

/// `blob` as it is put into `blobs` in `form`. Read before the transaction opens: a
/// transaction cannot wait for a `Blob`'s bytes.
pub(crate) async fn stored_file(blob: &Blob, form: FileForm) -> Result<JsValue, DbError> {
    match form {
        FileForm::Blob => Ok(blob.into()),
        FileForm::Bytes => {
            let value = Object::new();
            let buffer = array_buffer(blob).await?;
            for (field, v) in [(TYPE, JsValue::from(blob.type_())), (BYTES, buffer.into())] {
                Reflect::set(&value, &field.into(), &v).map_err(|e| DbError::Encode {
                    op: "keep an attachment's bytes",
                    message: js_text(&e),
                })?;
            }
            Ok(value.into())
        }
    }
}

/// The `Blob` a value of `blobs` holds, in either form.
pub(crate) fn read_file(op: &'static str, hash: &str, value: JsValue) -> Result<Blob, DbError> {
    if let Some(blob) = value.dyn_ref::<Blob>() {
        return Ok(blob.clone());
    }
    let field = |name: &str| Reflect::get(&value, &name.into()).ok();
    let content_type = field(TYPE).and_then(|t| t.as_string());
    let bytes = field(BYTES).and_then(|b| b.dyn_into::<ArrayBuffer>().ok());
    match (content_type, bytes) {
        (Some(content_type), Some(bytes)) => blob_of(&Uint8Array::new(&bytes), &content_type),
        _ => Err(DbError::Decode {
            op,
            message: format!("the value stored for {hash} is neither a Blob nor a file's bytes"),
        }),
    }
}

impl LocalDb {
    /// How this connection stores files: asked of the engine once, then remembered.
    pub(crate) async fn file_form(&self) -> FileForm {
        if let Some(form) = self.file_form.get() {
            return form;
        }
        let form = match self.probe_blob_storage().await {
            Ok(()) => FileForm::Blob,
            Err(_) => FileForm::Bytes,
        };
        self.file_form.set(Some(form));
        form
    }

    /// Puts a small `Blob` into `blobs` and deletes it again, in one transaction: whether the
    /// engine stores `Blob`s. Any refusal counts as "no": the bytes form works everywhere.
    async fn probe_blob_storage(&self) -> Result<(), DbError> {
        const OP: &str = "check how this browser stores files";
        let probe =
            stored_file(&blob_from_bytes(b"offgrid", "text/plain")?, FileForm::Blob).await?;
        let tx = self.write(&[BLOBS], OP)?;
        let store = tx.object_store(BLOBS).op(OP)?;
        let mut writes = Writes::new();
        writes.push(store.put(probe).with_key(PROBE_KEY).primitive().op(OP)?);
        writes.push(store.delete(PROBE_KEY).primitive().op(OP)?);
        writes.commit(tx, OP).await
    }

    /// Stores files as `{type, bytes}` from now on, whatever the engine can do: the tests of
    /// that form run in every engine (`test-hooks`).
    #[cfg(feature = "test-hooks")]
    pub fn store_files_as_bytes(&self) {
        self.file_form.set(Some(FileForm::Bytes));
    }
}
