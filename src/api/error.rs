//! The error envelope and the codes, each with its HTTP status.

use crate::action::{ActionError, InputErrors};
use crate::query::QueryError;
use crate::record::Record;
use serde_json::{json, Map, Value};

/// An error answer: `{"error":{"code","message","detail"},"status":"failure"}` with `status`.
///
/// The constructors are the list of codes: each names its code and status once, and both the
/// instance and the worker use them.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A machine-readable code (`invalid_query`, `unknown_table`, ...).
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Structured detail (per-input errors, the current record, the query fault), or null.
    pub detail: Value,
}

impl ApiError {
    /// An error with no detail. `status` is a `u16` or anything that converts to one (an
    /// `http::StatusCode`).
    pub fn new(
        status: impl Into<u16>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: status.into(),
            code: code.into(),
            message: message.into(),
            detail: Value::Null,
        }
    }

    /// Adds structured detail.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// 400 `bad_request`: the request itself is wrong (a body, a parameter).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400u16, "bad_request", message)
    }

    /// 400 `invalid_query`: a malformed encoded query, with `detail: {position, fault}`.
    pub fn invalid_query(e: &QueryError) -> Self {
        Self::new(400u16, "invalid_query", e.to_string())
            .with_detail(json!({"position": e.position, "fault": e.fault}))
    }

    /// 401 `unauthorized`: no valid session or credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401u16, "unauthorized", message)
    }

    /// 403 `forbidden`: signed in, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403u16, "forbidden", message)
    }

    /// 404 `not_found`: no such record (or path).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404u16, "not_found", message)
    }

    /// 404 `not_found` for a record of the Table API.
    pub fn no_record(table: &str, sys_id: &str) -> Self {
        Self::not_found(format!("no record {sys_id} in {table}"))
    }

    /// 404 `unknown_table`: the Table API has no such table.
    pub fn unknown_table(table: &str) -> Self {
        Self::new(
            404u16,
            "unknown_table",
            format!(
                "unknown table {table:?}; known tables: {}",
                super::table::TABLES.join(", ")
            ),
        )
    }

    /// 404 `unknown_action`: no action has that name.
    pub fn unknown_action(name: &str) -> Self {
        Self::new(
            404u16,
            "unknown_action",
            format!("there is no action named {name:?}"),
        )
    }

    /// 405 `method_not_allowed`: the path exists, the method does not.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405u16, "method_not_allowed", message)
    }

    /// 414 `uri_too_long`: the request's URL is longer than the instance reads.
    pub fn uri_too_long(message: impl Into<String>) -> Self {
        Self::new(414u16, "uri_too_long", message)
    }

    /// 431 `headers_too_large`: the request's headers are larger than the instance reads.
    pub fn headers_too_large(message: impl Into<String>) -> Self {
        Self::new(431u16, "headers_too_large", message)
    }

    /// 422 `too_many_fields`: a record with more fields than the instance accepts.
    pub fn too_many_fields(message: impl Into<String>) -> Self {
        Self::new(422u16, "too_many_fields", message)
    }

    /// 415 `unsupported_media_type`: the body is not of the type the endpoint takes.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415u16, "unsupported_media_type", message)
    }

    /// 429 `too_many_requests`: try again in `retry_after` seconds (`detail.retry_after`; the
    /// instance also sends it as `Retry-After`).
    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        Self::new(429u16, "too_many_requests", message)
            .with_detail(json!({ "retry_after": retry_after }))
    }

    /// 409 `conflict`: the request contradicts the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409u16, "conflict", message)
    }

    /// 413 `too_large`: the body or a file is larger than allowed.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(413u16, "too_large", message)
    }

    /// 422 `invalid_attachment`: the instance refused a file itself (over its size limit, or
    /// no bytes came and none with its hash were uploaded before).
    pub fn invalid_attachment(message: impl Into<String>) -> Self {
        Self::new(422u16, "invalid_attachment", message)
    }

    /// 422 `invalid_value`: a field's value is not one of its choices, with
    /// `detail: {field, choices}`.
    pub fn invalid_value(table: &str, field: &str, value: &str, choices: &[String]) -> Self {
        Self::new(
            422u16,
            "invalid_value",
            format!(
                "{value:?} is not a {field} of {table}; it must be one of {}",
                choices.join(", ")
            ),
        )
        .with_detail(json!({"field": field, "choices": choices}))
    }

    /// 500 `internal`: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500u16, "internal", message)
    }

    /// 500 `storage`: the database (or IndexedDB) failed.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(500u16, "storage", message)
    }

    /// 502 `bad_gateway`: the instance answered something that cannot be read.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(502u16, "bad_gateway", message)
    }

    /// 401 `not_signed_in`: the worker has nobody signed in (sign in while online first).
    pub fn not_signed_in(message: impl Into<String>) -> Self {
        Self::new(401u16, "not_signed_in", message)
    }

    /// 409 `state`: the outbox entry's state does not allow the operation.
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(409u16, "state", message)
    }

    /// 502 `corrupt_feed`: the cache feed was not a complete, valid feed.
    pub fn corrupt_feed(message: impl Into<String>) -> Self {
        Self::new(502u16, "corrupt_feed", message)
    }

    /// 503 `network`: the instance could not be reached.
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(503u16, "network", message)
    }

    /// 503 `offline`: the operation needs the instance and the device is offline.
    pub fn offline(message: impl Into<String>) -> Self {
        Self::new(503u16, "offline", message)
    }

    /// 503 `no_cache`: offline with no cache downloaded.
    pub fn no_cache(message: impl Into<String>) -> Self {
        Self::new(503u16, "no_cache", message)
    }

    /// 503 `not_cached`: offline, a table the offline scope does not keep on the device.
    pub fn not_cached(table: &str) -> Self {
        Self::new(
            503u16,
            "not_cached",
            format!(
                "the {table} table is not kept offline; it can be read when the device is online"
            ),
        )
    }

    /// 504 `timeout`: the instance did not answer in time; it may have done the work.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504u16, "timeout", message)
    }

    /// 507 `quota`: too little storage on the device; nothing was changed.
    pub fn quota(message: impl Into<String>) -> Self {
        Self::new(507u16, "quota", message)
    }

    /// The answer for an action the engine refused. `current` is the record as the answering
    /// side sees it (the instance's, or the cached one offline); it goes into the detail of
    /// refusals the user resolves by looking at the record.
    pub fn from_action(e: &ActionError, current: Option<&Record>) -> Self {
        let message = e.to_string();
        match e {
            ActionError::NotFound { .. } => Self::new(404u16, e.code(), message),
            ActionError::Exists { .. } => Self::conflict(message),
            ActionError::NotApplicable { .. } => {
                Self::new(409u16, e.code(), message).with_detail(json!({ "record": current }))
            }
            ActionError::UnavailableOffline { action } => {
                Self::new(409u16, e.code(), message).with_detail(json!({ "action": action }))
            }
            ActionError::Validation { action, step, .. } => Self::new(422u16, e.code(), message)
                .with_detail(json!({ "action": action, "step": step, "record": current })),
            ActionError::Inputs(errors) => Self::invalid_inputs(errors),
            ActionError::Hook { .. } | ActionError::Store(_) => {
                Self::new(500u16, e.code(), message)
            }
        }
    }

    /// 422 `invalid_inputs`, with `detail: {inputs: {name: message}}`.
    pub fn invalid_inputs(errors: &InputErrors) -> Self {
        Self::new(
            422u16,
            ActionError::Inputs(errors.clone()).code(),
            errors.to_string(),
        )
        .with_detail(json!({ "inputs": inputs_detail(errors) }))
    }

    /// The envelope, as JSON.
    pub fn envelope(&self) -> Value {
        json!({
            "error": {"code": self.code, "message": self.message, "detail": self.detail},
            "status": "failure",
        })
    }

    /// Reads an error answer of another side (the worker reading the instance's), or `None`
    /// when `body` is not an envelope.
    pub fn from_envelope(status: u16, body: &str) -> Option<Self> {
        let value: Value = serde_json::from_str(body).ok()?;
        let error = value.get("error")?;
        Some(Self {
            status,
            code: error.get("code")?.as_str()?.to_string(),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            detail: error.get("detail").cloned().unwrap_or(Value::Null),
        })
    }
}

/// `{input name: message}` for every input fault.
fn inputs_detail(errors: &InputErrors) -> Map<String, Value> {
    errors
        .0
        .iter()
        .map(|e| (e.input.clone(), Value::String(e.message.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::InputError;
    use crate::query::Query;

    #[test]
    fn a_malformed_query_names_position_and_fault_in_the_detail() {
        let e = Query::parse("state=a^ORpriority=1^BOGUS").unwrap_err();
        let api = ApiError::invalid_query(&e);
        assert_eq!((api.status, api.code.as_str()), (400, "invalid_query"));
        assert_eq!(api.detail["position"], e.position);
        assert_eq!(api.detail["fault"], e.fault.as_str());
    }

    #[test]
    fn a_condition_that_does_not_hold_carries_the_record_it_was_checked_on() {
        let record = Record::from_value(json!({"sys_id": "a", "state": "closed"})).unwrap();
        let e = ActionError::NotApplicable {
            action: "accept_task".into(),
        };
        let api = ApiError::from_action(&e, Some(&record));
        assert_eq!((api.status, api.code.as_str()), (409, "not_applicable"));
        assert_eq!(api.detail["record"]["state"], "closed");
    }

    #[test]
    fn input_faults_are_listed_by_input() {
        let errors = InputErrors(vec![InputError {
            input: "note".into(),
            message: "Note is required".into(),
        }]);
        let api = ApiError::from_action(&ActionError::Inputs(errors), None);
        assert_eq!((api.status, api.code.as_str()), (422, "invalid_inputs"));
        assert_eq!(api.detail, json!({"inputs": {"note": "Note is required"}}));
    }

    #[test]
    fn the_envelope_reads_back_as_the_same_error() {
        let api = ApiError::unknown_table("bogus").with_detail(json!({"x": 1}));
        let text = api.envelope().to_string();
        assert_eq!(ApiError::from_envelope(404, &text), Some(api));
        assert_eq!(ApiError::from_envelope(502, "<html>"), None);
    }
}
