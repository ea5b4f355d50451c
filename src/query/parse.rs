//! Text to [`Query`]: splitting on `^`, classifying segments, and reading conditions.

use super::{Condition, Group, Op, Operand, OrderTerm, Query, QueryError};

/// The dynamic values the core can resolve; any other `javascript:` value is refused.
const USER_NAME: &str = "javascript:gs.getUserName()";
const USER_ID: &str = "javascript:gs.getUserID()";

/// How much of the offending text a fault quotes.
const QUOTE_CHARS: usize = 24;

pub(super) fn parse(text: &str) -> Result<Query, QueryError> {
    let mut query = Query {
        text: text.to_string(),
        ..Query::default()
    };
    if text.trim().is_empty() {
        return Ok(query);
    }

    let mut segments = split(text);
    if segments.len() > 1 && segments.last().is_some_and(|(_, s)| *s == "EQ") {
        segments.pop();
    }

    let mut current = Group::default();
    // `^OR` joins only a condition that directly precedes it, not one across an ORDERBY.
    let mut after_condition = false;
    for (at, segment) in segments {
        match classify(segment, at) {
            // A query that opens with `^OR` is missing the condition the OR would join.
            Segment::Empty if at == 0 && opens_with_or(text) => {
                return Err(fault(1, "OR with no condition before it"))
            }
            Segment::Empty => return Err(fault(at, "empty condition")),
            Segment::Order(term) => {
                query.order.push(term?);
                after_condition = false;
            }
            Segment::Or(rest, rest_at) => {
                let Some(clause) = current.clauses.last_mut().filter(|_| after_condition) else {
                    return Err(fault(at, "OR with no condition before it"));
                };
                if rest.is_empty() {
                    return Err(fault(rest_at, "OR followed by no condition"));
                }
                clause.push(condition(rest, rest_at)?);
            }
            Segment::NewQuery(rest, rest_at) => {
                if current.clauses.is_empty() {
                    return Err(fault(at, "query group before NQ has no conditions"));
                }
                let first = match classify(rest, rest_at) {
                    Segment::Condition => condition(rest, rest_at)?,
                    Segment::Or(..) => {
                        return Err(fault(rest_at, "OR with no condition before it"))
                    }
                    _ => return Err(fault(rest_at, "NQ followed by no condition")),
                };
                query.groups.push(std::mem::take(&mut current));
                current.clauses.push(vec![first]);
                after_condition = true;
            }
            Segment::Condition => {
                current.clauses.push(vec![condition(segment, at)?]);
                after_condition = true;
            }
        }
    }
    if !current.clauses.is_empty() {
        query.groups.push(current);
    }
    Ok(query)
}

/// Whether the text starts `^OR` (and not `^ORDERBY`).
fn opens_with_or(text: &str) -> bool {
    text.starts_with("^OR") && !text.starts_with("^ORDERBY")
}

/// The `^`-separated segments with the byte offset where each starts.
fn split(text: &str) -> Vec<(usize, &str)> {
    let mut at = 0;
    text.split('^')
        .map(|segment| {
            let start = at;
            at += segment.len() + 1;
            (start, segment)
        })
        .collect()
}

enum Segment<'a> {
    Empty,
    Order(Result<OrderTerm, QueryError>),
    /// The condition after `OR`, and where it starts.
    Or(&'a str, usize),
    /// The condition after `NQ`, and where it starts.
    NewQuery(&'a str, usize),
    Condition,
}

fn classify(segment: &str, at: usize) -> Segment<'_> {
    if segment.is_empty() {
        Segment::Empty
    } else if let Some(field) = segment.strip_prefix("ORDERBYDESC") {
        Segment::Order(order_term(field, at + "ORDERBYDESC".len(), true))
    } else if let Some(field) = segment.strip_prefix("ORDERBY") {
        Segment::Order(order_term(field, at + "ORDERBY".len(), false))
    } else if let Some(rest) = segment.strip_prefix("OR") {
        Segment::Or(rest, at + 2)
    } else if let Some(rest) = segment.strip_prefix("NQ") {
        Segment::NewQuery(rest, at + 2)
    } else {
        Segment::Condition
    }
}

fn order_term(field: &str, at: usize, descending: bool) -> Result<OrderTerm, QueryError> {
    let keyword = if descending { "ORDERBYDESC" } else { "ORDERBY" };
    if field.is_empty() {
        return Err(fault(at, format!("{keyword} needs a field name")));
    }
    if !is_field_name(field) {
        return Err(fault(
            at,
            format!("invalid field name {} in {keyword}", quote(field)),
        ));
    }
    Ok(OrderTerm {
        field: field.to_string(),
        descending,
    })
}

/// Reads `field<op>value` from a whole segment starting at byte `at` of the query.
fn condition(segment: &str, at: usize) -> Result<Condition, QueryError> {
    let bytes = segment.as_bytes();
    let mut end = 0;
    let found = loop {
        if let Some(found) = operator_at(&segment[end..]) {
            break Some(found);
        }
        // Operators start with ASCII, so `end` stays on a char boundary.
        if end == bytes.len() || !is_field_byte(bytes[end]) {
            break None;
        }
        end += 1;
    };
    let field = &segment[..end];

    let Some((name, kind)) = found else {
        return Err(missing_operator(field, &segment[end..], at));
    };
    if field.is_empty() {
        return Err(fault(at, "empty field name"));
    }
    if !is_field_name(field) {
        return Err(fault(at, format!("invalid field name {}", quote(field))));
    }
    let Some(kind) = kind else {
        return Err(fault(
            at + end,
            format!("unsupported operator {}", quote(name)),
        ));
    };
    let value_at = at + end + name.len();
    let value = &segment[end + name.len()..];
    Ok(Condition {
        field: field.to_string(),
        op: op(kind, name, value, value_at)?,
    })
}

/// The fault for a condition in which no operator was found after `field`.
fn missing_operator(field: &str, after: &str, at: usize) -> QueryError {
    if field.is_empty() {
        return fault(at, "empty field name");
    }
    // An unknown word operator runs into the field name (`stateFOO1`); it most likely starts
    // where lower case turns to upper case.
    let bytes = field.as_bytes();
    let boundary = (1..bytes.len())
        .find(|&i| bytes[i].is_ascii_uppercase() && !bytes[i - 1].is_ascii_uppercase());
    match boundary {
        Some(i) => fault(
            at + i,
            format!(
                "unknown operator {}",
                quote(&format!("{}{after}", &field[i..]))
            ),
        ),
        None if after.is_empty() => fault(
            at + field.len(),
            format!("missing operator after field {}", quote(field)),
        ),
        None => fault(
            at + field.len(),
            format!("unknown operator {}", quote(after)),
        ),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Between,
    Anything,
    EmptyString,
    SameAs,
    NotSameAs,
}

/// Every operator spelling; `None` marks ServiceNow operators the core does not evaluate,
/// listed so they are refused by name instead of being misread (`INSTANCEOF` as `IN`).
const OPERATORS: &[(&str, Option<Kind>)] = &[
    ("=", Some(Kind::Eq)),
    ("!=", Some(Kind::Ne)),
    ("<", Some(Kind::Lt)),
    ("<=", Some(Kind::Le)),
    (">", Some(Kind::Gt)),
    (">=", Some(Kind::Ge)),
    ("LIKE", Some(Kind::Like)),
    ("NOTLIKE", Some(Kind::NotLike)),
    ("NOT LIKE", Some(Kind::NotLike)),
    ("STARTSWITH", Some(Kind::StartsWith)),
    ("ENDSWITH", Some(Kind::EndsWith)),
    ("IN", Some(Kind::In)),
    ("NOT IN", Some(Kind::NotIn)),
    ("ISEMPTY", Some(Kind::IsEmpty)),
    ("ISNOTEMPTY", Some(Kind::IsNotEmpty)),
    ("BETWEEN", Some(Kind::Between)),
    ("ANYTHING", Some(Kind::Anything)),
    ("EMPTYSTRING", Some(Kind::EmptyString)),
    ("SAMEAS", Some(Kind::SameAs)),
    ("NSAMEAS", Some(Kind::NotSameAs)),
    ("INSTANCEOF", None),
    ("DATEPART", None),
    ("DYNAMIC", None),
    ("VALCHANGES", None),
    ("CHANGESFROM", None),
    ("CHANGESTO", None),
    ("MORETHAN", None),
    ("LESSTHAN", None),
    ("RELATIVEGT", None),
    ("RELATIVEGE", None),
    ("RELATIVELT", None),
    ("RELATIVELE", None),
    ("RELATIVEEE", None),
    ("GT_FIELD", None),
    ("GT_OR_EQUALS_FIELD", None),
    ("LT_FIELD", None),
    ("LT_OR_EQUALS_FIELD", None),
    ("NOTON", None),
];

/// The longest operator `text` starts with.
fn operator_at(text: &str) -> Option<(&'static str, Option<Kind>)> {
    OPERATORS
        .iter()
        .filter(|(name, _)| text.starts_with(name))
        .max_by_key(|(name, _)| name.len())
        .copied()
}

fn op(kind: Kind, name: &str, value: &str, at: usize) -> Result<Op, QueryError> {
    let one = || operand(value, at);
    Ok(match kind {
        Kind::Eq => Op::Eq(one()?),
        Kind::Ne => Op::Ne(one()?),
        Kind::Lt => Op::Lt(one()?),
        Kind::Le => Op::Le(one()?),
        Kind::Gt => Op::Gt(one()?),
        Kind::Ge => Op::Ge(one()?),
        Kind::Like => Op::Like(one()?),
        Kind::NotLike => Op::NotLike(one()?),
        Kind::StartsWith => Op::StartsWith(one()?),
        Kind::EndsWith => Op::EndsWith(one()?),
        Kind::In => Op::In(list(value, at)?),
        Kind::NotIn => Op::NotIn(list(value, at)?),
        Kind::IsEmpty | Kind::IsNotEmpty | Kind::Anything | Kind::EmptyString
            if !value.is_empty() =>
        {
            return Err(fault(
                at,
                format!("{name} takes no value, found {}", quote(value)),
            ))
        }
        Kind::IsEmpty => Op::IsEmpty,
        Kind::IsNotEmpty => Op::IsNotEmpty,
        Kind::Anything => Op::Anything,
        Kind::EmptyString => Op::EmptyString,
        Kind::Between => {
            let Some((low, high)) = value.split_once('@').filter(|(_, h)| !h.contains('@')) else {
                return Err(fault(
                    at,
                    format!(
                        "BETWEEN needs two bounds separated by one '@', found {}",
                        quote(value)
                    ),
                ));
            };
            Op::Between(operand(low, at)?, operand(high, at + low.len() + 1)?)
        }
        Kind::SameAs | Kind::NotSameAs => {
            if !is_field_name(value) {
                return Err(fault(
                    at,
                    format!("{name} needs a field name, found {}", quote(value)),
                ));
            }
            match kind {
                Kind::SameAs => Op::SameAs(value.to_string()),
                _ => Op::NotSameAs(value.to_string()),
            }
        }
    })
}

/// A comma-separated `IN` list; items are exact (not trimmed), each may be dynamic.
fn list(value: &str, at: usize) -> Result<Vec<Operand>, QueryError> {
    let mut item_at = at;
    value
        .split(',')
        .map(|item| {
            let parsed = operand(item, item_at);
            item_at += item.len() + 1;
            parsed
        })
        .collect()
}

fn operand(value: &str, at: usize) -> Result<Operand, QueryError> {
    match value {
        USER_NAME => Ok(Operand::UserName),
        USER_ID => Ok(Operand::UserId),
        _ if value.starts_with("javascript:") => Err(fault(
            at,
            format!(
                "unsupported dynamic value {} (only {USER_NAME} and {USER_ID} are supported)",
                quote(value)
            ),
        )),
        _ => Ok(Operand::Literal(value.to_string())),
    }
}

/// `[A-Za-z_][A-Za-z0-9_.]*`
fn is_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(is_field_byte)
}

fn is_field_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// `text` in single quotes, shortened so a fault stays readable.
fn quote(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(QUOTE_CHARS).collect();
    let more = if chars.next().is_some() { "..." } else { "" };
    format!("'{head}{more}'")
}

fn fault(position: usize, fault: impl Into<String>) -> QueryError {
    QueryError {
        position,
        fault: fault.into(),
    }
}
