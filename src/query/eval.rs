//! Evaluating conditions against records, and comparing records for ORDERBY.

use super::{Condition, Group, Op, Operand, OrderTerm, QueryContext};
use crate::record::{value_text, Record};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

impl Group {
    pub(super) fn matches(&self, record: &Record, ctx: &QueryContext) -> bool {
        self.clauses
            .iter()
            .all(|alternatives| alternatives.iter().any(|c| c.matches(record, ctx)))
    }
}

impl Condition {
    fn matches(&self, record: &Record, ctx: &QueryContext) -> bool {
        let text = field_text(record, &self.field);
        let text = text.as_deref().unwrap_or("");
        match &self.op {
            Op::Eq(v) => text == v.resolve(ctx),
            Op::Ne(v) => text != v.resolve(ctx),
            Op::Lt(v) => ordered(text, v.resolve(ctx), Ordering::is_lt),
            Op::Le(v) => ordered(text, v.resolve(ctx), Ordering::is_le),
            Op::Gt(v) => ordered(text, v.resolve(ctx), Ordering::is_gt),
            Op::Ge(v) => ordered(text, v.resolve(ctx), Ordering::is_ge),
            Op::Like(v) => lower(text).contains(&lower(v.resolve(ctx))),
            Op::NotLike(v) => !lower(text).contains(&lower(v.resolve(ctx))),
            Op::StartsWith(v) => lower(text).starts_with(&lower(v.resolve(ctx))),
            Op::EndsWith(v) => lower(text).ends_with(&lower(v.resolve(ctx))),
            Op::In(items) => items.iter().any(|i| text == i.resolve(ctx)),
            Op::NotIn(items) => !items.iter().any(|i| text == i.resolve(ctx)),
            Op::IsEmpty => text.is_empty(),
            Op::IsNotEmpty => !text.is_empty(),
            Op::Between(low, high) => {
                !text.is_empty() && between(text, low.resolve(ctx), high.resolve(ctx))
            }
            Op::Anything => true,
            Op::EmptyString => {
                matches!(record.get(&self.field), Some(Value::String(s)) if s.is_empty())
            }
            Op::SameAs(other) => text == field_text(record, other).as_deref().unwrap_or(""),
            Op::NotSameAs(other) => text != field_text(record, other).as_deref().unwrap_or(""),
        }
    }
}

impl Operand {
    pub(super) fn resolve<'a>(&'a self, ctx: &'a QueryContext) -> &'a str {
        match self {
            Operand::Literal(text) => text,
            Operand::UserName => &ctx.user_name,
            Operand::UserId => &ctx.user_sys_id,
        }
    }
}

impl OrderTerm {
    pub(super) fn compare(&self, a: &Record, b: &Record) -> Ordering {
        self.directed(
            sort_key(field_text(a, &self.field)).cmp(&sort_key(field_text(b, &self.field))),
        )
    }

    fn directed(&self, ascending: Ordering) -> Ordering {
        if self.descending {
            ascending.reverse()
        } else {
            ascending
        }
    }
}

/// The positions of `records` in the order of `terms`, ties in their given order, with each
/// record's sort keys computed once instead of at every comparison.
pub(super) fn order_of(terms: &[OrderTerm], records: &[Record]) -> Vec<usize> {
    let keys: Vec<Vec<SortKey<'_>>> = records
        .iter()
        .map(|r| {
            terms
                .iter()
                .map(|t| sort_key(field_text(r, &t.field)))
                .collect()
        })
        .collect();
    let mut positions: Vec<usize> = (0..records.len()).collect();
    // Stable, so ties keep the given order as `Query::sort` keeps it.
    positions.sort_by(|&a, &b| {
        terms
            .iter()
            .zip(keys[a].iter().zip(&keys[b]))
            .map(|(term, (x, y))| term.directed(x.cmp(y)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    positions
}

/// Where a value sorts: empty first, then numbers by value, then other text by code point.
/// Ranking numbers apart from text keeps the order total, which sorting relies on.
#[derive(PartialEq, PartialOrd)]
enum SortKey<'a> {
    Empty,
    Number(f64),
    Text(Cow<'a, str>),
}

// `Number` only ever holds finite values (see `number`), so the partial order is total.
impl Eq for SortKey<'_> {}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.partial_cmp(other).unwrap_or(Ordering::Equal)
    }
}

fn sort_key(text: Option<Cow<'_, str>>) -> SortKey<'_> {
    match text {
        None => SortKey::Empty,
        Some(t) if t.is_empty() => SortKey::Empty,
        Some(t) => number(&t).map_or(SortKey::Text(t), SortKey::Number),
    }
}

/// A field's text as [`value_text`] gives it, without copying strings.
fn field_text<'a>(record: &'a Record, field: &str) -> Option<Cow<'a, str>> {
    match record.get(field)? {
        Value::String(s) => Some(Cow::Borrowed(s)),
        other => value_text(other).map(Cow::Owned),
    }
}

/// Finite numbers only: `NaN` and `inf` are words here, and they would break ordering.
fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Numeric when both parse as numbers, else by string.
fn compare_values(a: &str, b: &str) -> Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

/// An ordering comparison: never satisfied by an empty field.
fn ordered(text: &str, value: &str, accept: fn(Ordering) -> bool) -> bool {
    !text.is_empty() && accept(compare_values(text, value))
}

/// Inclusive; numeric only when all three parse as numbers.
fn between(text: &str, low: &str, high: &str) -> bool {
    match (number(text), number(low), number(high)) {
        (Some(x), Some(l), Some(h)) => l <= x && x <= h,
        _ => low <= text && text <= high,
    }
}

fn lower(text: &str) -> String {
    text.to_lowercase()
}
