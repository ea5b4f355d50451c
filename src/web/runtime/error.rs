//! What can go wrong in the runtime, one variant per kind of fault, turned into the local
//! API's HTTP answers only at the edge ([`RuntimeError::to_api`]).

use super::http::ApiError;
use crate::action::ActionError;
use crate::outbox::OutboxError;
use crate::query::QueryError;
use crate::schedule::ScheduleError;
use crate::sync::SyncError;
use crate::web::idb::DbError;
use crate::web::transport::{DownloadError, FetchError};
use serde_json::{json, Map, Value};

/// Why a runtime operation did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// Local storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A request to the instance got no usable answer.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A cache download did not complete; the previous cache is untouched.
    #[error("the cache download failed, the previous cache is kept: {0}")]
    Download(#[from] DownloadError),
    /// The outbox could not be synced.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// An offline action was refused; nothing was stored or queued.
    #[error(transparent)]
    Action(#[from] ActionError),
    /// A malformed `sysparm_query`.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// An outbox operation the entry's state does not allow.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A schedule that cannot work.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Nobody is signed in on this device.
    #[error("nobody is signed in; sign in while online first")]
    NotSignedIn,
    /// The operation needs the network and there is none.
    #[error("{0} needs a connection to the instance, and the device is offline")]
    Offline(&'static str),
    /// The cache is needed and there is none.
    #[error("there is no offline cache on this device; download it while online first")]
    NoCache,
    /// The record is not in the offline cache.
    #[error("the {table} record {sys_id} is not in the offline cache")]
    NotCached {
        /// Its table.
        table: String,
        /// Its `sys_id`.
        sys_id: String,
    },
    /// Nothing is stored under that name.
    #[error("{0}")]
    NotFound(String),
    /// No action has that name.
    #[error("there is no action named {0:?}")]
    UnknownAction(String),
    /// A request body or parameter is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// Refused because of the state things are in.
    #[error("{message}")]
    Conflict {
        /// A machine-readable code.
        code: &'static str,
        /// What to do about it.
        message: String,
    },
    /// Too little storage left for a download.
    #[error("not enough storage for the offline cache: {free_mb:.1} MB free, about {needed_mb:.1} MB needed; free some space and download again (nothing was changed)")]
    Quota {
        /// Megabytes free.
        free_mb: f64,
        /// Megabytes the download needs.
        needed_mb: f64,
    },
}

impl RuntimeError {
    /// The local API's answer for this error.
    pub fn to_api(&self) -> ApiError {
        let message = self.to_string();
        match self {
            Self::Db(_) | Self::Sync(_) => ApiError::new(500, "storage", message),
            Self::Fetch(FetchError::Http { status, code, .. }) => {
                ApiError::new(*status, code, message)
            }
            Self::Fetch(FetchError::Timeout(_)) => ApiError::new(504, "timeout", message),
            Self::Fetch(_) => ApiError::new(503, "network", message),
            Self::Download(DownloadError::Fetch(FetchError::Http { status, code, .. })) => {
                ApiError::new(*status, code, message)
            }
            Self::Download(DownloadError::Fetch(_)) => ApiError::new(503, "network", message),
            Self::Download(DownloadError::Feed(_)) => ApiError::new(502, "corrupt_feed", message),
            Self::Action(e) => action_error(e),
            Self::Query(e) => ApiError::new(400, "invalid_query", message)
                .with_detail(json!({"position": e.position, "fault": e.fault})),
            Self::Outbox(OutboxError::NotFound(_)) => ApiError::not_found(message),
            Self::Outbox(OutboxError::Transition(_)) => ApiError::new(409, "state", message),
            Self::Schedule(_) | Self::BadRequest(_) => ApiError::bad_request(message),
            Self::NotSignedIn => ApiError::new(401, "not_signed_in", message),
            Self::Offline(_) => ApiError::new(503, "offline", message),
            Self::NotCached { .. } => ApiError::not_found(message),
            Self::NotFound(_) => ApiError::not_found(message),
            Self::NoCache => ApiError::new(503, "no_cache", message),
            Self::UnknownAction(_) => ApiError::new(404, "unknown_action", message),
            Self::Conflict { code, .. } => ApiError::new(409, code, message),
            Self::Quota { .. } => ApiError::new(507, "quota", message),
        }
    }
}

fn action_error(e: &ActionError) -> ApiError {
    let message = e.to_string();
    match e {
        ActionError::NotFound { .. } => ApiError::new(404, e.code(), message),
        ActionError::NotApplicable { .. } | ActionError::UnavailableOffline { .. } => {
            ApiError::new(409, e.code(), message)
        }
        ActionError::Validation { action, step, .. } => ApiError::new(422, e.code(), message)
            .with_detail(json!({"action": action, "step": step})),
        ActionError::Inputs(errors) => {
            let inputs: Map<String, Value> = errors
                .0
                .iter()
                .map(|e| (e.input.clone(), Value::String(e.message.clone())))
                .collect();
            ApiError::new(422, e.code(), message).with_detail(json!({ "inputs": inputs }))
        }
        ActionError::Hook { .. } | ActionError::Store(_) => ApiError::new(500, e.code(), message),
    }
}
