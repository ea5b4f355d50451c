//! Attachment bytes on the device. A file input arrives with its bytes as base64 (`data`);
//! they are checked against the announced hash and size and kept as a `Blob` keyed by sha-256
//! in IndexedDB, while the outbox entry keeps only the file's metadata. The bytes join the
//! entry when it is sent ([`with_bytes`]) and leave it before it is saved again
//! ([`without_bytes`]), so base64 never lands in IndexedDB.

use super::RuntimeError;
use crate::action::{ActionDef, ActionError, InputError, InputErrors, InputType};
use crate::outbox::Entry;
use crate::store::FileInput;
use crate::web::idb::{blob_bytes, blob_from_bytes, DbError, LocalDb};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use web_sys::Blob;

/// The key of a file's bytes in a file input.
const DATA: &str = "data";

/// An action's inputs with their files' bytes taken out.
pub(super) struct TakenFiles {
    /// The inputs, their files with the metadata only.
    pub inputs: Map<String, Value>,
    /// Each file's bytes, as `(sha-256 hex, Blob)`.
    pub blobs: Vec<(String, Blob)>,
}

/// Takes the bytes out of every file input of `def` that carries them.
/// Bytes that are not base64, or whose sha-256 or length is not the one announced, are
/// refused with every fault named by its input. File inputs that are not files at all are
/// left as they are, for the engine to refuse with its own message.
pub(super) fn take_file_bytes(
    def: &ActionDef,
    inputs: &Map<String, Value>,
) -> Result<TakenFiles, RuntimeError> {
    let mut kept = inputs.clone();
    let mut blobs = Vec::new();
    let mut faults = Vec::new();
    for input in def
        .inputs
        .iter()
        .filter(|i| i.input_type == InputType::File)
    {
        let Some(value) = kept.get_mut(&input.name) else {
            continue;
        };
        let Some(file) = FileInput::from_value(value) else {
            continue;
        };
        let Some(data) = &file.data else { continue };
        match checked_bytes(&input.label, &file, data) {
            Ok(bytes) => {
                blobs.push((
                    file.hash.clone(),
                    blob_from_bytes(&bytes, &file.content_type)?,
                ));
                if let Value::Object(fields) = value {
                    fields.remove(DATA);
                }
            }
            Err(message) => faults.push(InputError {
                input: input.name.clone(),
                message,
            }),
        }
    }
    if !faults.is_empty() {
        return Err(ActionError::Inputs(InputErrors(faults)).into());
    }
    Ok(TakenFiles {
        inputs: kept,
        blobs,
    })
}

/// The bytes of `data`, when they are base64 of the announced length and sha-256.
fn checked_bytes(label: &str, file: &FileInput, data: &str) -> Result<Vec<u8>, String> {
    let bytes = STANDARD
        .decode(data)
        .map_err(|e| format!("{label}: the file's data is not base64 ({e})"))?;
    if bytes.len() as u64 != file.size_bytes {
        return Err(format!(
            "{label}: the file has {} bytes, not the {} announced",
            bytes.len(),
            file.size_bytes
        ));
    }
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if hash != file.hash {
        return Err(format!(
            "{label}: the file's bytes have sha-256 {hash}, not the {} announced",
            file.hash
        ));
    }
    Ok(bytes)
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
