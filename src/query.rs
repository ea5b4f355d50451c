//! Encoded queries (ServiceNow syntax): parsing, evaluation over records, and ordering.

use crate::record::Record;
use std::cmp::Ordering;

/// Who is asking: resolves `javascript:gs.getUserName()` and `javascript:gs.getUserID()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryContext {
    /// The current user's `user_name`.
    pub user_name: String,
    /// The current user's `sys_id`.
    pub user_sys_id: String,
}

/// A parsed encoded query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {}

/// A malformed query: where and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed query at position {position}: {fault}")]
pub struct QueryError {
    /// Byte offset in the query text where the fault is.
    pub position: usize,
    /// What is wrong.
    pub fault: String,
}

impl Query {
    /// Parses an encoded query. The empty string is the query that matches everything.
    pub fn parse(_text: &str) -> Result<Self, QueryError> {
        todo!("query parser")
    }

    /// Whether a record matches.
    pub fn matches(&self, _record: &Record, _ctx: &QueryContext) -> bool {
        todo!("query evaluator")
    }

    /// Compares two records by the query's ORDERBY terms (`Equal` when it has none).
    pub fn compare(&self, _a: &Record, _b: &Record) -> Ordering {
        todo!("query ordering")
    }
}
