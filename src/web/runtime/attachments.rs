//! Attachment bytes on the device. A file input arrives with its bytes as base64 (`data`);
//! they are checked against the announced hash and size (the core's one check) and kept as
//! a `Blob` keyed by sha-256 in IndexedDB, while the outbox entry keeps only the file's
//! metadata. The bytes join the
//! entry when it is sent ([`with_bytes`]) and leave it before it is saved again
//! ([`without_bytes`]), so base64 never lands in IndexedDB.

use super::http::{blob_response, from_cache};
use super::{Runtime, RuntimeError};
use crate::action::{ActionDef, ActionError, FileBytes};
use crate::api::attachment::file_headers;
use crate::outbox::Entry;
use crate::store::{FileInput, ATTACHMENT_TABLE};
use crate::web::idb::{blob_bytes, blob_from_bytes, DbError, LocalDb};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;
use web_sys::{Blob, Request, Response};

impl Runtime {
    /// `GET /api/now/attachment/{sys_id}/file`: from the device when it keeps the file (an
    /// attachment added offline, synced or not: its bytes are the same by hash), with the
    /// instance's headers; otherwise the instance's answer.
    pub(super) async fn attachment_file(
        &self,
        request: &Request,
        path: &str,
        sys_id: &str,
    ) -> Result<Response, RuntimeError> {
        if let Some(session) = self.session() {
            if let Some(meta) = session.db.get_record(ATTACHMENT_TABLE, sys_id).await? {
                let blob = match meta.text("hash") {
                    Some(hash) => session.db.get_blob(&hash).await?,
                    None => None,
                };
                if let Some(blob) = blob {
                    let mut headers = file_headers(&meta);
                    headers.push(from_cache());
                    return Ok(blob_response(&blob, &headers));
                }
            }
        }
        Ok(self.transport.forward(request, path).await?)
    }
}

/// The key of a file's bytes in a file input.
const DATA: &str = "data";

/// Takes the bytes out of every file input of `def` that carries them, checked by the core
/// against the size and sha-256 each announces (faults named by their input, nothing taken),
/// and returns them as `(sha-256 hex, Blob)`; `inputs` keep the files' metadata only.
pub(super) fn take_file_bytes(
    def: &ActionDef,
    inputs: &mut Map<String, Value>,
) -> Result<Vec<(String, Blob)>, RuntimeError> {
    let taken = def.take_file_bytes(inputs).map_err(ActionError::Inputs)?;
    let mut blobs = Vec::with_capacity(taken.len());
    for FileBytes { file, bytes } in taken {
        blobs.push((file.hash, blob_from_bytes(&bytes, &file.content_type)?));
    }
    Ok(blobs)
}

/// Puts the stored bytes back into every file of `entries` that lacks them, so the instance
/// receives them. A file whose bytes are not stored stays without: the instance then refuses
/// the entry, saying that no bytes came.
pub(super) async fn with_bytes(db: &LocalDb, entries: &mut [Entry]) -> Result<(), DbError> {
    // Several entries may carry the same file; it is read once.
    let mut read: HashMap<String, Option<String>> = HashMap::new();
    for entry in entries {
        for value in entry.inputs.values_mut() {
            let Some(file) = FileInput::from_value(value) else {
                continue;
            };
            if file.data.is_some() {
                continue;
            }
            let data = match read.get(&file.hash) {
                Some(data) => data.clone(),
                None => {
                    let data = match db.get_blob(&file.hash).await? {
                        Some(blob) => Some(STANDARD.encode(blob_bytes(&blob).await?)),
                        None => None,
                    };
                    read.insert(file.hash, data.clone());
                    data
                }
            };
            if let (Some(data), Value::Object(fields)) = (data, value) {
                fields.insert(DATA.to_string(), Value::String(data));
            }
        }
    }
    Ok(())
}

/// `entries` as they are stored: their files without bytes (those are kept as blobs).
pub(super) fn without_bytes(entries: &[Entry]) -> Vec<Entry> {
    let mut stored = entries.to_vec();
    for entry in &mut stored {
        for value in entry.inputs.values_mut() {
            if FileInput::from_value(value).is_some() {
                if let Value::Object(fields) = value {
                    fields.remove(DATA);
                }
            }
        }
    }
    stored
}
