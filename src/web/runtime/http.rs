//! The local API's HTTP edge: answers as `Response`s, and errors in the SPEC's JSON shape
//! `{"error":{"code","message","detail"},"status":"failure"}`.

use serde_json::{json, Value};
use web_sys::{Headers, Response, ResponseInit};

/// An error answer of the local API.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A machine-readable code.
    pub code: String,
    /// What happened, for the user.
    pub message: String,
    /// More, where there is more (the failed input, the instance's record, ...).
    pub detail: Value,
}

impl ApiError {
    /// An error with no detail.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            detail: Value::Null,
        }
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }

    /// The answer.
    pub fn response(&self) -> Response {
        json_response(
            self.status,
            &json!({
                "error": {"code": self.code, "message": self.message, "detail": self.detail},
                "status": "failure",
            }),
            &[],
        )
    }
}

/// A JSON answer with extra headers. Building a `Response` from a string does not fail in a
/// browser; were it ever refused, a network-error response is better than a panic in the
/// worker.
pub fn json_response(status: u16, body: &Value, headers: &[(&str, String)]) -> Response {
    let init = ResponseInit::new();
    init.set_status(status);
    if let Ok(h) = Headers::new() {
        let _ = h.set("Content-Type", "application/json");
        for (name, value) in headers {
            let _ = h.set(name, value);
        }
        init.set_headers(&h);
    }
    Response::new_with_opt_str_and_init(Some(&body.to_string()), &init)
        .unwrap_or_else(|_| Response::error())
}

/// A 200 JSON answer.
pub fn ok(body: &Value) -> Response {
    json_response(200, body, &[])
}
