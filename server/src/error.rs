//! The edge between the core's contract and axum. Errors are the core's
//! [`offgrid::api::ApiError`] (one envelope and one list of codes for the instance and the
//! worker); [`HttpError`] only turns one into an axum response, since the orphan rule keeps
//! the core's type from implementing axum's trait itself.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

pub use offgrid::api::ApiError;

use crate::storage::StorageError;

/// An [`ApiError`] on its way out as an HTTP answer.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<StorageError> for HttpError {
    fn from(e: StorageError) -> Self {
        Self(e.into())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::storage(e.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0.envelope())).into_response();
        if let Some(wait) = self.0.detail.get("retry_after").and_then(|v| v.as_u64()) {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
        }
        response
    }
}
