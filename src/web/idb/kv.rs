//! Drafts, attachment blobs and `meta` values: small things stored by key.

use super::cache::{AREA_KEY, CACHE_KEY};
use super::codec::{from_js, to_js};
use super::error::{DbError, OrDbError};
use super::files::{read_file, stored_file};
use super::lease::LEASE_KEY;
use super::memo::{OUTBOX_REV, RECORDS_REV};
use super::schema::{BLOBS, DRAFTS, META};
use super::writes::Writes;
use super::LocalDb;
use indexed_db_futures::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsValue;
use web_sys::Blob;

/// `meta` keys the store manages itself; [`LocalDb::put_meta`] and friends refuse them, so a
/// caller cannot break the cache swap or the sync lease by accident.
const RESERVED: [&str; 5] = [AREA_KEY, CACHE_KEY, LEASE_KEY, RECORDS_REV, OUTBOX_REV];

fn check_meta_key(op: &'static str, key: &str) -> Result<(), DbError> {
    if RESERVED.contains(&key) {
        return Err(DbError::Invalid {
            op,
            message: format!("'{key}' is managed by the store itself"),
        });
    }
    Ok(())
}

impl LocalDb {
    /// A value by key from an out-of-line-keyed store.
    async fn get_value(
        &self,
        store: &str,
        key: &str,
        op: &'static str,
    ) -> Result<Option<JsValue>, DbError> {
        let tx = self.read(&[store], op)?;
        let found: Option<JsValue> = tx
            .object_store(store)
            .op(op)?
            .get(key)
            .primitive()
            .op(op)?
            .await
            .op(op)?;
        Ok(found)
    }

    /// Puts a value by key into an out-of-line-keyed store.
    async fn put_value(
        &self,
        store: &str,
        key: &str,
        value: JsValue,
        op: &'static str,
    ) -> Result<(), DbError> {
        let tx = self.write(&[store], op)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(store)
                .op(op)?
                .put(value)
                .with_key(key)
                .primitive()
                .op(op)?,
        );
        writes.commit(tx, op).await
    }

    /// Deletes a value by key (nothing happens when there is none).
    async fn delete_value(&self, store: &str, key: &str, op: &'static str) -> Result<(), DbError> {
        let tx = self.write(&[store], op)?;
        let mut writes = Writes::new();
        writes.push(
            tx.object_store(store)
                .op(op)?
                .delete(key)
                .primitive()
                .op(op)?,
        );
        writes.commit(tx, op).await
    }

    /// A form's saved progress, `None` when there is none.
    pub async fn get_draft(&self, key: &str) -> Result<Option<Value>, DbError> {
        const OP: &str = "read a draft";
        self.get_value(DRAFTS, key, OP)
            .await?
            .map(|js| from_js(OP, js))
            .transpose()
    }

    /// Saves a form's progress.
    pub async fn put_draft(&self, key: &str, value: &Value) -> Result<(), DbError> {
        const OP: &str = "save a draft";
        self.put_value(DRAFTS, key, to_js(OP, value)?, OP).await
    }

    /// Deletes a form's saved progress.
    pub async fn delete_draft(&self, key: &str) -> Result<(), DbError> {
        self.delete_value(DRAFTS, key, "delete a draft").await
    }

    /// Stores an attachment's bytes under their sha-256 hex, as a `Blob` where the engine can
    /// (the browser keeps a Blob as bytes; no base64 in storage) and as its bytes and content
    /// type where it cannot.
    pub async fn put_blob(&self, hash: &str, blob: &Blob) -> Result<(), DbError> {
        let value = stored_file(blob, self.file_form().await).await?;
        self.put_value(BLOBS, hash, value, "save an attachment's bytes")
            .await
    }

    /// An attachment's bytes, `None` when they are not stored.
    pub async fn get_blob(&self, hash: &str) -> Result<Option<Blob>, DbError> {
        const OP: &str = "read an attachment's bytes";
        self.get_value(BLOBS, hash, OP)
            .await?
            .map(|js| read_file(OP, hash, js))
            .transpose()
    }

    /// A `meta` value (watermark, settings, warnings sent, ...), `None` when unset.
    pub async fn get_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, DbError> {
        const OP: &str = "read a setting";
        check_meta_key(OP, key)?;
        self.get_value(META, key, OP)
            .await?
            .map(|js| from_js(OP, js))
            .transpose()
    }

    /// Sets a `meta` value.
    pub async fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<(), DbError> {
        const OP: &str = "save a setting";
        check_meta_key(OP, key)?;
        self.put_value(META, key, to_js(OP, value)?, OP).await
    }

    /// Deletes a `meta` value.
    pub async fn delete_meta(&self, key: &str) -> Result<(), DbError> {
        const OP: &str = "delete a setting";
        check_meta_key(OP, key)?;
        self.delete_value(META, key, OP).await
    }
}
