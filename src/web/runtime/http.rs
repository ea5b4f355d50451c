//! The local API's HTTP edge: the core's contract values ([`ApiError`], answer bodies) turned
//! into `Response`s. Nothing here decides a status or a code.

use crate::api::ApiError;
use serde::Serialize;
use serde_json::Value;
use web_sys::{Blob, Headers, Response, ResponseInit};

/// A JSON answer with extra headers. Building a `Response` from a string does not fail in a
/// browser; were it ever refused, a network-error response is better than a panic in the
/// worker.
pub fn json_response(status: u16, body: &impl Serialize, headers: &[(&str, String)]) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| Value::Null.to_string());
    let init = ResponseInit::new();
    init.set_status(status);
    if let Ok(h) = Headers::new() {
        let _ = h.set("Content-Type", "application/json");
        for (name, value) in headers {
            let _ = h.set(name, value);
        }
        init.set_headers(&h);
    }
    Response::new_with_opt_str_and_init(Some(&text), &init).unwrap_or_else(|_| Response::error())
}

/// The header of every answer the device gave instead of the instance.
pub fn from_cache() -> (&'static str, String) {
    ("X-Offgrid-Source", "cache".to_string())
}

/// A 200 answer with a `Blob`'s bytes and `headers`.
pub fn blob_response(blob: &Blob, headers: &[(&str, String)]) -> Response {
    let init = ResponseInit::new();
    init.set_status(200);
    if let Ok(h) = Headers::new() {
        for (name, value) in headers {
            let _ = h.set(name, value);
        }
        init.set_headers(&h);
    }
    Response::new_with_opt_blob_and_init(Some(blob), &init).unwrap_or_else(|_| Response::error())
}

/// A 200 JSON answer.
pub fn ok(body: &impl Serialize) -> Response {
    json_response(200, body, &[])
}

/// An error answer in the contract's envelope.
pub fn error_response(error: &ApiError) -> Response {
    json_response(error.status, &error.envelope(), &[])
}
