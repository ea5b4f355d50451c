//! The HTTP contract that an app sees, owned by the core so that the instance (online) and the
//! service worker (offline) give the same request the same answer: the same status, error
//! code, error detail and body shape.
//!
//! Nothing here knows axum or `web_sys`. The instance and the worker build these values and
//! only convert them to their own response type at the edge.
//!
//! - [`ApiError`]: the error envelope `{"error":{"code","message","detail"},"status":"failure"}`
//!   and every error code with its status, built from the core's own errors.
//! - [`table`]: the Table API's list parameters, paging, field selection and answers.
//! - [`action`]: an action invocation and its answers, live and queued.
//! - [`local`]: the answers of the worker's own local API.
//! - [`attachment`]: the headers of a file's bytes.

mod error;

pub mod action;
pub mod attachment;
pub mod local;
pub mod table;

pub use error::ApiError;
