//! The HTTP routes, one module per API, and what they share: reading bodies and parameters
//! into the SPEC's errors.

pub mod attachment;
pub mod offgrid;
pub mod table;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query as Params, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

use crate::error::{ApiError, HttpError};

/// Any other path under `/api/`.
pub async fn unknown_api(uri: Uri) -> HttpError {
    ApiError::not_found(format!("there is no API at {}", uri.path())).into()
}

/// Turns an error answer that is not already the JSON envelope (axum's own plain-text
/// rejections: 405, a path or query that cannot be read) into the envelope, keeping its status
/// and its text as the message.
pub async fn envelope(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::method_not_allowed("this path does not take that method")
        }
        StatusCode::NOT_FOUND => ApiError::not_found(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(text),
        s if s.is_client_error() => ApiError::new(s, "bad_request", text),
        s => ApiError::new(s, "internal", text),
    };
    HttpError(error).into_response()
}

/// The longest URL (path and query) the instance reads.
pub const MAX_URL_BYTES: usize = 16 * 1024;
/// The largest header block (names and values) the instance reads.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper's read buffer: room for a request head over both limits, so such a request reaches
/// [`limits`] and is refused in the envelope rather than by hyper's bare 431. Only a head
/// larger than this is cut off by hyper itself.
pub const READ_BUFFER_BYTES: usize = 1024 * 1024;

/// Refuses an over-long URL (414) or header block (431) in the envelope, before any route.
pub async fn limits(request: Request, next: Next) -> Response {
    let url = request.uri().to_string().len();
    if url > MAX_URL_BYTES {
        return HttpError(ApiError::uri_too_long(format!(
            "the URL is {url} bytes; the instance reads at most {MAX_URL_BYTES}"
        )))
        .into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return HttpError(ApiError::headers_too_large(format!(
            "the request's headers are {headers} bytes; the instance reads at most \
             {MAX_HEADER_BYTES}"
        )))
        .into_response();
    }
    next.run(request).await
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
