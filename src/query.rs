//! Encoded queries (ServiceNow syntax): parsing, evaluation over records, and ordering.
//!
//! The instance and the offline cache both answer filters, list definitions and action
//! conditions with this one engine, so a query selects the same records in either place.
//!
//! # Syntax
//!
//! A query is segments joined by `^`:
//!
//! - `field<op>value` is a condition; consecutive conditions are ANDed.
//! - `^ORfield<op>value` ORs a condition with the one just before it. OR binds tighter than
//!   `^`: `a=1^b=2^ORc=3` is `a=1 AND (b=2 OR c=3)`.
//! - `^NQfield<op>value` starts a new query group; a record matches when any group matches.
//!   Every group needs at least one condition when there are several.
//! - `ORDERBYfield` and `ORDERBYDESCfield` (anywhere, several allowed, applied in order) sort
//!   the whole result; they are not conditions and do not belong to a group.
//! - A final `^EQ` is ignored (ServiceNow appends it to the queries it builds).
//!
//! The empty query (or one of only whitespace) matches everything and has no order.
//!
//! Field names match `[A-Za-z_][A-Za-z0-9_.]*` and are looked up literally in the flat record
//! (`caller_id.name` is a field of that name, not a dot-walk). Because word operators are upper
//! case and may follow a field name directly (`stateIN1,2`), the field name ends where the
//! first operator begins, and at that position the longest operator wins (`NOT LIKE` over
//! `NOT IN`, `ISNOTEMPTY` over `IN`). ServiceNow field names are lower case, so this only bites
//! a field whose name contains an upper-case operator word.
//!
//! # Operators
//!
//! A field's text is [`value_text`](crate::record::value_text): strings as they are, numbers
//! and booleans as JSON text. A field is *empty* when it is missing, null or `""`.
//!
//! | Operator | Matches when |
//! |---|---|
//! | `=`, `!=` | the text (empty as `""`) equals / differs from the value, exactly |
//! | `LIKE`, `NOTLIKE`, `NOT LIKE` | the text contains / does not contain the value, ignoring case |
//! | `STARTSWITH`, `ENDSWITH` | the text starts / ends with the value, ignoring case |
//! | `IN`, `NOT IN` | the text equals one / none of the comma-separated items (not trimmed) |
//! | `<`, `<=`, `>`, `>=` | the field is not empty and compares so with the value |
//! | `BETWEEN` | the field is not empty and lies in `low@high`, both inclusive |
//! | `ISEMPTY`, `ISNOTEMPTY` | the field is / is not empty |
//! | `EMPTYSTRING` | the field is present and exactly `""` |
//! | `ANYTHING` | always |
//! | `SAMEAS`, `NSAMEAS` | the text equals / differs from that of the field named by the value |
//!
//! Ignoring case means comparing Unicode lower case of both sides. Ordering comparisons
//! (`<` … `>=`, `BETWEEN`) are numeric when both sides (all three for `BETWEEN`) parse as
//! finite numbers, else by string, which orders `YYYY-MM-DD HH:MM:SS` dates correctly.
//! `ISEMPTY`, `ISNOTEMPTY`, `EMPTYSTRING` and `ANYTHING` take no value.
//!
//! A value of exactly `javascript:gs.getUserName()` or `javascript:gs.getUserID()` stands for
//! the [`QueryContext`]'s user name or user `sys_id`, resolved when the query is evaluated
//! (also per item inside `IN` lists and per bound of `BETWEEN`). Any other `javascript:` value
//! is a parse error, because the core cannot run scripts and must not guess.
//!
//! # Ordering
//!
//! Each `ORDERBY` term compares the two records' texts of its field: numerically when both
//! parse as finite numbers, else as case-sensitive strings. Empty values sort first ascending
//! and last descending, and a number sorts before a non-number (this keeps the order total
//! even for columns that mix the two, where comparing some pairs numerically and others as
//! text would be inconsistent). Ties fall to the next term; with no terms all records are
//! equal, and [`Query::sort`] is stable.
//!
//! # Errors
//!
//! A malformed query is a [`QueryError`] with the byte position of the fault, never a query
//! that silently matches nothing: a missing, unknown or unsupported operator, an empty or
//! invalid field name, an empty condition (`a=1^^b=2`, a trailing `^`), an `OR` with no
//! condition before it (first in the query or group, or after an `ORDERBY`), an `OR` or `NQ`
//! followed by no condition, a `BETWEEN` without exactly one `@`, a value after a no-value
//! operator, an `ORDERBY` without a valid field, and an unsupported `javascript:` value.
//!
//! ```
//! use offgrid::query::{Query, QueryContext};
//! use offgrid::Record;
//! use serde_json::json;
//!
//! let q = Query::parse("active=true^priority<=2^ORassigned_to=javascript:gs.getUserID()")?;
//! let ctx = QueryContext { user_name: "beth.anglin".into(), user_sys_id: "b1".into() };
//! let record = Record::from_value(json!({"active": true, "priority": "4", "assigned_to": "b1"}));
//! assert!(q.matches(&record.unwrap_or_default(), &ctx));
//! # Ok::<(), offgrid::query::QueryError>(())
//! ```

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use crate::record::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Who is asking: resolves `javascript:gs.getUserName()` and `javascript:gs.getUserID()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryContext {
    /// The current user's `user_name`.
    pub user_name: String,
    /// The current user's `sys_id`.
    pub user_sys_id: String,
}

/// A parsed encoded query. Serializes as its text; deserializing parses the text. The default
/// is the empty query, which matches everything and has no order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    text: String,
    /// Alternatives (`^NQ`); empty for a query without conditions.
    groups: Vec<Group>,
    order: Vec<OrderTerm>,
}

/// Conditions that must all hold: each clause is a non-empty list of `^OR` alternatives.
#[derive(Clone, Debug, Default, PartialEq)]
struct Group {
    clauses: Vec<Vec<Condition>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Condition {
    field: String,
    op: Op,
}

/// A comparison value: literal text, or a dynamic value resolved from the [`QueryContext`].
#[derive(Clone, Debug, PartialEq)]
enum Operand {
    Literal(String),
    UserName,
    UserId,
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq(Operand),
    Ne(Operand),
    Lt(Operand),
    Le(Operand),
    Gt(Operand),
    Ge(Operand),
    Like(Operand),
    NotLike(Operand),
    StartsWith(Operand),
    EndsWith(Operand),
    In(Vec<Operand>),
    NotIn(Vec<Operand>),
    IsEmpty,
    IsNotEmpty,
    Between(Operand, Operand),
    Anything,
    EmptyString,
    SameAs(String),
    NotSameAs(String),
}

#[derive(Clone, Debug, PartialEq)]
struct OrderTerm {
    field: String,
    descending: bool,
}

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
    /// Parses an encoded query. The empty string (or only whitespace) is the query that
    /// matches everything.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        parse::parse(text)
    }

    /// Whether a record matches: any group whose clauses all hold (no groups: always).
    pub fn matches(&self, record: &Record, ctx: &QueryContext) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g.matches(record, ctx))
    }

    /// Compares two records by the query's ORDERBY terms (`Equal` when it has none).
    pub fn compare(&self, a: &Record, b: &Record) -> Ordering {
        self.order
            .iter()
            .map(|term| term.compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Sorts records by the ORDERBY terms, keeping the given order among ties.
    pub fn sort(&self, records: &mut [Record]) {
        if self.has_order() {
            let order = self.order_of(records);
            let mut taken: Vec<Record> = records.iter_mut().map(std::mem::take).collect();
            for (slot, at) in records.iter_mut().zip(order) {
                *slot = std::mem::take(&mut taken[at]);
            }
        }
    }

    /// The matching records, sorted by the ORDERBY terms.
    pub fn select(
        &self,
        records: impl IntoIterator<Item = Record>,
        ctx: &QueryContext,
    ) -> Vec<Record> {
        let mut selected: Vec<Record> = records
            .into_iter()
            .filter(|r| self.matches(r, ctx))
            .collect();
        self.sort(&mut selected);
        selected
    }

    /// The positions of `records` in the order [`Query::sort`] would put them in (ties keep
    /// their given order), each record's sort keys computed once: for a store that keeps an
    /// order to page many queries by.
    pub fn order_of(&self, records: &[Record]) -> Vec<usize> {
        eval::order_of(&self.order, records)
    }

    /// The query's ORDERBY terms alone (no conditions, no text): a key for an order kept
    /// for many queries ([`Query::order_of`], [`Query::same_order`]).
    pub fn ordering(&self) -> Query {
        Query {
            order: self.order.clone(),
            ..Query::default()
        }
    }

    /// Whether `other` orders records as this query does (the same ORDERBY terms).
    pub fn same_order(&self, other: &Query) -> bool {
        self.order == other.order
    }

    /// Whether the query has ORDERBY terms.
    pub fn has_order(&self) -> bool {
        !self.order.is_empty()
    }

    /// Whether the query has no conditions, so it matches every record.
    pub fn matches_all(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every field the query references: condition fields, `SAMEAS`/`NSAMEAS` targets and
    /// ORDERBY fields.
    pub fn fields(&self) -> BTreeSet<String> {
        let mut fields = BTreeSet::new();
        for condition in self.groups.iter().flat_map(|g| g.clauses.iter().flatten()) {
            fields.insert(condition.field.clone());
            if let Op::SameAs(other) | Op::NotSameAs(other) = &condition.op {
                fields.insert(other.clone());
            }
        }
        fields.extend(self.order.iter().map(|t| t.field.clone()));
        fields
    }

    /// What every matching record's fields are bound to, for a store that can find records
    /// by a field's value to narrow its scan before this evaluator judges what is left:
    /// `(field, texts)` pairs, each saying that a match's `field` is a string equal to one of
    /// `texts`. Taken from the plain `=` and `IN` conditions that stand alone in a query of
    /// one group (user values resolved from `ctx`), and only where each text is one no
    /// number, boolean or object has (so only a string field can equal it) and not empty (a
    /// missing field has the empty text). Empty when nothing narrows.
    pub fn narrowing(&self, ctx: &QueryContext) -> Vec<(String, Vec<String>)> {
        let [group] = self.groups.as_slice() else {
            return Vec::new();
        };
        group
            .clauses
            .iter()
            .filter_map(|clause| field_test(clause, ctx))
            .filter(|test| !test.negated)
            .map(|test| (test.field, test.texts))
            .collect()
    }

    /// The query's conditions as [`FieldTest`]s that all hold exactly for the records it
    /// matches, for a store that can test a field's stored value itself: `Some` only when
    /// every condition is one (one group, no `^OR`, each condition a plain `=`, `!=`, `IN` or
    /// `NOT IN` whose texts only a string field can have; user values resolved from `ctx`).
    /// The query with no conditions is `Some` of no tests.
    pub fn field_tests(&self, ctx: &QueryContext) -> Option<Vec<FieldTest>> {
        match self.groups.as_slice() {
            [] => Some(Vec::new()),
            [group] => group
                .clauses
                .iter()
                .map(|clause| field_test(clause, ctx))
                .collect(),
            _ => None,
        }
    }

    /// The ORDERBY terms in order: each field, and whether it sorts descending.
    pub fn order(&self) -> impl Iterator<Item = (&str, bool)> {
        self.order
            .iter()
            .map(|term| (term.field.as_str(), term.descending))
    }

    /// The text the query was parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Every character a text that ORDERBY compares as a number can hold (Rust's float syntax:
/// digits, a sign, a point, an exponent, and `inf`, `infinity` or `nan` in any case). A text
/// with any other character orders as text, by code point: a store that orders such texts
/// natively (and missing fields first) orders as [`Query::compare`] does.
pub const NUMBER_CHARS: &str = "0123456789+-.eEiInNfFtTyYaA";

/// One condition a store can test on a field's stored value, with the evaluator's exact
/// meaning ([`Query::field_tests`]): the field is a string equal to one of `texts`, or, when
/// `negated`, it is not (a missing, null, number or boolean field never equals one of them,
/// because each text is non-empty and no number's, boolean's or object's JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldTest {
    /// The field.
    pub field: String,
    /// The texts, never empty ones (none at all only for a merged test no record passes).
    pub texts: Vec<String>,
    /// Whether the field must equal none of them (`!=`, `NOT IN`) rather than one (`=`, `IN`).
    pub negated: bool,
}

impl FieldTest {
    /// `tests` as at most one test per field that holds exactly when they all do: the texts
    /// every positive test of the field allows minus those a negated one excludes (no text
    /// at all when they allow none), or, without a positive test, every excluded text in one
    /// negated test. In field order.
    pub fn merge(tests: impl IntoIterator<Item = FieldTest>) -> Vec<FieldTest> {
        let mut fields: BTreeMap<String, (Option<Vec<String>>, Vec<String>)> = BTreeMap::new();
        for test in tests {
            let (allowed, excluded) = fields.entry(test.field).or_default();
            if test.negated {
                excluded.extend(test.texts);
            } else {
                let texts = match allowed.take() {
                    Some(before) => before
                        .into_iter()
                        .filter(|t| test.texts.contains(t))
                        .collect(),
                    None => test.texts,
                };
                *allowed = Some(texts);
            }
        }
        fields
            .into_iter()
            .map(|(field, (allowed, mut excluded))| match allowed {
                Some(mut texts) => {
                    texts.retain(|t| !excluded.contains(t));
                    texts.dedup();
                    FieldTest {
                        field,
                        texts,
                        negated: false,
                    }
                }
                None => {
                    excluded.sort();
                    excluded.dedup();
                    FieldTest {
                        field,
                        texts: excluded,
                        negated: true,
                    }
                }
            })
            .collect()
    }
}

/// A clause as a [`FieldTest`]: one plain `=`, `!=`, `IN` or `NOT IN` condition whose texts
/// only a string field can have.
fn field_test(clause: &[Condition], ctx: &QueryContext) -> Option<FieldTest> {
    let [condition] = clause else {
        return None;
    };
    let (items, negated) = match &condition.op {
        Op::Eq(v) => (std::slice::from_ref(v), false),
        Op::Ne(v) => (std::slice::from_ref(v), true),
        Op::In(items) => (items.as_slice(), false),
        Op::NotIn(items) => (items.as_slice(), true),
        _ => return None,
    };
    let texts: Vec<String> = items.iter().map(|i| i.resolve(ctx).to_string()).collect();
    texts
        .iter()
        .all(|t| only_string_text(t))
        .then(|| FieldTest {
            field: condition.field.clone(),
            texts,
            negated,
        })
}

/// Whether only a string field can have `text` as its text: it is not empty and not the JSON
/// text of a number, boolean, array or object ([`crate::record::value_text`]).
fn only_string_text(text: &str) -> bool {
    !text.is_empty()
        && !serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| !v.is_string())
}

impl std::str::FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, QueryError> {
        Self::parse(text)
    }
}

impl std::fmt::Display for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
