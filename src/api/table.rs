//! The Table API's reads: which tables exist, the list parameters (`sysparm_query`,
//! `sysparm_limit`, `sysparm_offset`, `sysparm_fields`), one paging routine, and the answers.
//! The instance pages over its rows and the worker over its cached records with this same
//! code, so a list reads the same online and offline.

use super::ApiError;
use crate::query::{Query, QueryContext};
use crate::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tables the Table API knows.
pub const TABLES: [&str; 6] = [
    "wm_task",
    "incident",
    "sys_user",
    "sys_journal_field",
    "sys_attachment",
    "sys_audit",
];

/// The header that carries the number of matches before paging.
pub const TOTAL_COUNT_HEADER: &str = "X-Total-Count";

/// The page size when `sysparm_limit` is absent.
pub const DEFAULT_LIMIT: usize = 1000;

/// 404 `unknown_table` unless the Table API knows `table`.
pub fn known_table(table: &str) -> Result<(), ApiError> {
    if TABLES.contains(&table) {
        Ok(())
    } else {
        Err(ApiError::unknown_table(table))
    }
}

/// The parameters of a list read.
#[derive(Clone, Debug)]
pub struct ListParams {
    /// `sysparm_query` (empty: every record).
    pub query: Query,
    /// `sysparm_limit`.
    pub limit: usize,
    /// `sysparm_offset`.
    pub offset: usize,
    /// `sysparm_fields`: only these fields of each record (all when `None`).
    pub fields: Option<Vec<String>>,
}

impl ListParams {
    /// Reads the parameters through `get` (a URL parameter by name): 400 `invalid_query` for a
    /// malformed query, 400 `bad_request` for a limit or offset that is not a non-negative
    /// integer.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        let query = Query::parse(get("sysparm_query").unwrap_or(""))
            .map_err(|e| ApiError::invalid_query(&e))?;
        let number = |name: &str| {
            get(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        ApiError::bad_request(format!(
                            "{name} must be a non-negative integer, not {v:?}"
                        ))
                    })
                })
                .transpose()
        };
        let limit = number("sysparm_limit")?.unwrap_or(DEFAULT_LIMIT);
        let offset = number("sysparm_offset")?.unwrap_or(0);
        let fields = get("sysparm_fields").map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect()
        });
        Ok(Self {
            query,
            limit,
            offset,
            fields,
        })
    }

    /// The page of `records` these parameters select. `records` come in `sys_id` order (the
    /// order among ties of any ORDERBY); the total counts every match before paging.
    pub fn page(&self, records: impl IntoIterator<Item = Record>, ctx: &QueryContext) -> Page {
        let selected = self.query.select(records, ctx);
        let total = selected.len();
        let result = selected
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(|r| project(r, self.fields.as_deref()))
            .collect();
        Page {
            total,
            body: ListAnswer { result },
        }
    }
}

/// Only `fields` of a record (all of it when `None`).
pub fn project(record: Record, fields: Option<&[String]>) -> Value {
    match fields {
        None => record.into_value(),
        Some(fields) => {
            let mut map = record.0;
            map.retain(|k, _| fields.iter().any(|f| f == k));
            Value::Object(map)
        }
    }
}

/// A page of a list read: the body and the total for [`TOTAL_COUNT_HEADER`].
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Matches before paging.
    pub total: usize,
    /// The body.
    pub body: ListAnswer,
}

/// The body of a list read: `{"result": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListAnswer {
    /// The records of the page, projected to the asked fields.
    pub result: Vec<Value>,
}

/// The body of a one-record read or write: `{"result": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordAnswer {
    /// The record.
    pub result: Record,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn records() -> Vec<Record> {
        (1..=5)
            .map(|n| {
                Record::from_value(json!({
                    "sys_id": format!("{n:032x}"), "number": format!("T{n}"),
                    "priority": 6 - n, "state": if n % 2 == 0 { "assigned" } else { "accepted" },
                }))
                .unwrap()
            })
            .collect()
    }

    fn ctx() -> QueryContext {
        QueryContext {
            user_name: "beth.anglin".into(),
            user_sys_id: "u".into(),
        }
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ListParams, ApiError> {
        let map: BTreeMap<&str, &str> = pairs.iter().copied().collect();
        ListParams::parse(|name| map.get(name).copied())
    }

    #[test]
    fn a_page_counts_every_match_and_returns_the_asked_slice_and_fields() {
        let params = parse(&[
            ("sysparm_query", "ORDERBYpriority"),
            ("sysparm_limit", "2"),
            ("sysparm_offset", "1"),
            ("sysparm_fields", "number, state"),
        ])
        .unwrap();
        let page = params.page(records(), &ctx());
        assert_eq!(page.total, 5);
        assert_eq!(
            page.body.result,
            [
                json!({"number": "T4", "state": "assigned"}),
                json!({"number": "T3", "state": "accepted"})
            ]
        );
    }

    #[test]
    fn without_parameters_every_record_comes_in_the_given_order() {
        let page = parse(&[]).unwrap().page(records(), &ctx());
        assert_eq!(page.total, 5);
        assert_eq!(page.body.result[0]["number"], "T1");
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = parse(&[("sysparm_limit", "-1")]).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        assert!(e.message.contains("sysparm_limit"), "{}", e.message);
        let e = parse(&[("sysparm_query", "=a")]).unwrap_err();
        assert_eq!(e.code, "invalid_query");
    }

    #[test]
    fn only_known_tables_are_served() {
        assert!(known_table("wm_task").is_ok());
        let e = known_table("bogus").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (404, "unknown_table"));
    }
}
