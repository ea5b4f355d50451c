//! What can go wrong in the IndexedDB store, named by operation.

use indexed_db_futures::error::{Error, OpenDbError};
use wasm_bindgen::JsValue;

/// An IndexedDB operation failed. Each variant names the operation (`op`, a phrase such as
/// "save the outbox") so the message tells the user what did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The browser refused or failed the operation; `message` is the DOM exception's name and
    /// message (for example `QuotaExceededError: ...` or `ConstraintError: ...`).
    #[error("local storage could not {op}: {message}")]
    Idb {
        /// What was being done.
        op: &'static str,
        /// The browser's error.
        message: String,
    },
    /// A value could not be turned into something IndexedDB stores.
    #[error("local storage could not {op}: the value cannot be stored ({message})")]
    Encode {
        /// What was being done.
        op: &'static str,
        /// Why.
        message: String,
    },
    /// A stored value is not in the shape this build expects (written by another build, or
    /// damaged).
    #[error(
        "local storage could not {op}: a stored value is not in the expected shape ({message})"
    )]
    Decode {
        /// What was being done.
        op: &'static str,
        /// Why.
        message: String,
    },
    /// The caller passed something the store refuses before touching the database.
    #[error("local storage could not {op}: {message}")]
    Invalid {
        /// What was being done.
        op: &'static str,
        /// What is wrong with the input.
        message: String,
    },
}

impl From<DbError> for JsValue {
    fn from(e: DbError) -> Self {
        js_sys::Error::new(&e.to_string()).into()
    }
}

/// The DOM exception's `name: message` where there is one, the library's text otherwise.
fn describe(e: &Error) -> String {
    match e {
        Error::DomException(d) => {
            let sys = web_sys::DomException::from(d.clone());
            format!("{}: {}", sys.name(), sys.message())
        }
        other => other.to_string(),
    }
}

/// Attaches the operation's name to an `indexed_db_futures` error.
pub(crate) trait OrDbError<T> {
    /// The result with its error turned into [`DbError::Idb`] for `op`.
    fn op(self, op: &'static str) -> Result<T, DbError>;
}

impl<T> OrDbError<T> for Result<T, Error> {
    fn op(self, op: &'static str) -> Result<T, DbError> {
        self.map_err(|e| DbError::Idb {
            op,
            message: describe(&e),
        })
    }
}

impl<T> OrDbError<T> for Result<T, OpenDbError> {
    fn op(self, op: &'static str) -> Result<T, DbError> {
        self.map_err(|e| DbError::Idb {
            op,
            message: match &e {
                OpenDbError::Base(base) => describe(base),
                other => other.to_string(),
            },
        })
    }
}
