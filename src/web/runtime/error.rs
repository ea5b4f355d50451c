//! What can go wrong in the runtime, one variant per kind of fault, turned into the contract's
//! error answers only at the edge ([`RuntimeError::to_api`]), with the core's constructors.

use crate::action::ActionError;
use crate::api::ApiError;
use crate::outbox::OutboxError;
use crate::query::QueryError;
use crate::schedule::ScheduleError;
use crate::sync::SyncError;
use crate::web::idb::DbError;
use crate::web::transport::{DownloadError, FetchError};

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
    /// An answer already in the contract's terms (a refusal that carries the record it was
    /// checked on, say).
    #[error(transparent)]
    Api(#[from] ApiError),
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
    /// A request body or parameter is not acceptable.
    #[error("{0}")]
    BadRequest(String),
    /// The instance answered something the worker cannot read.
    #[error("the instance's answer could not be read: {0}")]
    BadGateway(String),
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
            Self::Db(_) | Self::Sync(_) => ApiError::storage(message),
            Self::Fetch(e) | Self::Download(DownloadError::Fetch(e)) => fetch_error(e, message),
            Self::Download(DownloadError::Feed(_)) => ApiError::corrupt_feed(message),
            Self::Action(e) => ApiError::from_action(e, None),
            Self::Query(e) => ApiError::invalid_query(e),
            Self::Api(e) => e.clone(),
            Self::Outbox(OutboxError::NotFound(_)) => ApiError::not_found(message),
            Self::Outbox(OutboxError::Transition(_)) => ApiError::state(message),
            Self::Schedule(_) | Self::BadRequest(_) => ApiError::bad_request(message),
            Self::NotSignedIn => ApiError::not_signed_in(message),
            Self::Offline(_) => ApiError::offline(message),
            Self::NoCache => ApiError::no_cache(message),
            Self::NotCached { .. } | Self::NotFound(_) => ApiError::not_found(message),
            Self::BadGateway(_) => ApiError::bad_gateway(message),
            Self::Conflict { code, .. } => ApiError::new(409u16, *code, message),
            Self::Quota { .. } => ApiError::quota(message),
        }
    }
}

/// A request to the instance that failed: the instance's own refusal passes through as it
/// said it; no answer, a late one or one that cannot be read are the worker's codes.
fn fetch_error(e: &FetchError, message: String) -> ApiError {
    match e {
        FetchError::Http {
            status,
            code,
            message,
            detail,
        } => ApiError::new(*status, code.as_str(), message.as_str()).with_detail(detail.clone()),
        FetchError::Timeout(_) => ApiError::timeout(message),
        FetchError::Network(_) => ApiError::network(message),
        FetchError::BadBody(_) => ApiError::bad_gateway(message),
    }
}
