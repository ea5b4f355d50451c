//! The Table API's reads: which tables exist, the list parameters (`sysparm_query`,
//! `sysparm_limit`, `sysparm_offset`, `sysparm_fields`), the paging, and the answers. The
//! instance pages over its rows with [`Pager`]; the worker pages over the records it keeps
//! with [`ListParams::page_view`], tested to give the same pages; both judge with the same
//! query evaluator, so a list reads the same online and offline.

use super::ApiError;
use crate::query::{Query, QueryContext};
use crate::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod view;
pub use view::{narrowed_by, Narrowing, TableView};

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
        let mut pager = self.pager(ctx);
        for record in records {
            pager.offer(record);
        }
        pager.finish()
    }

    /// A pager to offer records one at a time (in `sys_id` order), for a store that reads
    /// them as a stream: it counts every match but keeps at most `offset + limit` of them, so
    /// answering one page never holds the whole table.
    pub fn pager<'a>(&'a self, ctx: &'a QueryContext) -> Pager<'a> {
        Pager {
            params: self,
            ctx,
            total: 0,
            kept: Vec::new(),
        }
    }
}

/// Selects a page from records offered one at a time ([`ListParams::pager`]).
pub struct Pager<'a> {
    params: &'a ListParams,
    ctx: &'a QueryContext,
    total: usize,
    /// Without ORDERBY: the page itself. With ORDERBY: the first `offset + limit` matches in
    /// order so far, ties in the order they came.
    kept: Vec<Record>,
}

impl Pager<'_> {
    /// Considers one record.
    pub fn offer(&mut self, record: Record) {
        let params = self.params;
        if !params.query.matches(&record, self.ctx) {
            return;
        }
        let index = self.total;
        self.total += 1;
        let wanted = params.offset.saturating_add(params.limit);
        if !params.query.has_order() {
            if index >= params.offset && index < wanted {
                self.kept.push(record);
            }
            return;
        }
        // After every kept record that sorts before or with it: ties keep their arrival order,
        // as a stable sort would.
        let at = self
            .kept
            .partition_point(|k| params.query.compare(k, &record).is_le());
        if at < wanted {
            self.kept.insert(at, record);
            self.kept.truncate(wanted);
        }
    }

    /// The page: the total of matches and the asked slice, projected to the asked fields.
    pub fn finish(self) -> Page {
        match self.try_finish_with(Ok::<_, std::convert::Infallible>) {
            Ok(page) => page,
            Err(never) => match never {},
        }
    }

    /// The page, each of its records first replaced by `full` (a store that offered records
    /// of only the fields the query reads fetches the whole ones here, for the page alone).
    pub fn try_finish_with<E>(
        self,
        mut full: impl FnMut(Record) -> Result<Record, E>,
    ) -> Result<Page, E> {
        let params = self.params;
        let skip = if params.query.has_order() {
            params.offset
        } else {
            0
        };
        let result = self
            .kept
            .into_iter()
            .skip(skip)
            .take(params.limit)
            .map(|r| Ok(project(full(r)?, params.fields.as_deref())))
            .collect::<Result<_, E>>()?;
        Ok(Page {
            total: self.total,
            body: ListAnswer { result },
        })
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
    fn the_pager_gives_what_sorting_everything_would_for_every_slice() {
        // Priorities with ties, so the order among equals (sys_id) matters.
        let records: Vec<Record> = (0..40)
            .map(|n| {
                Record::from_value(json!({
                    "sys_id": format!("{n:032x}"), "priority": n % 4, "state": if n % 3 == 0 { "a" } else { "b" },
                }))
                .unwrap()
            })
            .collect();
        for query in [
            "ORDERBYpriority",
            "ORDERBYDESCpriority",
            "state=b^ORDERBYpriority",
            "state=b",
            "",
        ] {
            for (offset, limit) in [(0, 5), (3, 7), (10, 100), (39, 1), (50, 5), (0, 0)] {
                let (offset, limit) = (offset.to_string(), limit.to_string());
                let params = parse(&[
                    ("sysparm_query", query),
                    ("sysparm_offset", &offset),
                    ("sysparm_limit", &limit),
                ])
                .unwrap();
                let all = params.query.select(records.clone(), &ctx());
                let expected: Vec<Value> = all
                    .iter()
                    .skip(params.offset)
                    .take(params.limit)
                    .map(|r| r.clone().into_value())
                    .collect();
                let page = params.page(records.clone(), &ctx());
                assert_eq!(page.total, all.len(), "{query} {offset} {limit}");
                assert_eq!(page.body.result, expected, "{query} {offset} {limit}");
            }
        }
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
