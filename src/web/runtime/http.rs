//! The local API's HTTP edge: the core's contract values ([`ApiError`], answer bodies) turned
//! into `Response`s. Nothing here decides a status or a code.

use crate::api::ApiError;
use serde::Serialize;
use serde_json::Value;
use web_sys::{Headers, Response, ResponseInit};

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

/// A 200 JSON answer.
pub fn ok(body: &impl Serialize) -> Response {
    json_response(200, body, &[])
}

/// An error answer in the contract's envelope.
pub fn error_response(error: &ApiError) -> Response {
    json_response(error.status, &error.envelope(), &[])
}
