//! The HTTP routes, one module per API, and what they share: reading bodies and parameters
//! into the SPEC's errors.

pub mod attachment;
pub mod offgrid;
pub mod table;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::Query as Params;
use axum::http::{StatusCode, Uri};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::error::{ApiError, HttpError};

/// Any other path under `/api/`.
pub async fn unknown_api(uri: Uri) -> HttpError {
    ApiError::not_found(format!("there is no API at {}", uri.path())).into()
}

/// A request body, or 413 when it is over the limit.
pub fn body(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the request body is too large: {}", e.body_text()))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {}", e.body_text()))
        }
    })
}

/// A JSON body as `T`, or 400 naming the fault.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

/// The URL's parameters, or 400.
pub fn params(
    params: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    params
        .map(|p| p.0)
        .map_err(|e| ApiError::bad_request(format!("malformed URL parameters: {}", e.body_text())))
}
