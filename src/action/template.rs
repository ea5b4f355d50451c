//! Value templates: what an `update`, `create` or `journal` step writes into a field.
//!
//! A template is a JSON literal (string, number, boolean or null), or a string with
//! `${input.NAME}`, `${record.FIELD}`, `${now}` and `${user}` placeholders. A template that is
//! exactly one placeholder yields the value with its JSON type (a number input stays a
//! number); any other text interpolates the values' text, with null as "".

use crate::record::{value_text, Record, Timestamp};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A parsed value template. It serializes back to the JSON it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: Value,
    body: Body,
}

#[derive(Clone, Debug, PartialEq)]
enum Body {
    Literal(Value),
    Single(Placeholder),
    Text(Vec<Segment>),
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Text(String),
    Placeholder(Placeholder),
}

#[derive(Clone, Debug, PartialEq)]
enum Placeholder {
    Input(String),
    Record(String),
    Now,
    User,
}

/// A template that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// What a template is rendered with.
#[derive(Clone, Copy, Debug)]
pub struct TemplateEnv<'a> {
    /// The action's validated inputs.
    pub inputs: &'a Map<String, Value>,
    /// The record `${record.FIELD}` reads; `None` once it has been deleted.
    pub record: Option<&'a Record>,
    /// What `${now}` gives.
    pub now: Timestamp,
    /// What `${user}` gives: the current user's `user_name`.
    pub user: &'a str,
}

impl Template {
    /// Parses a template from its JSON form. Arrays and objects are refused, since a field
    /// value is a string, number, boolean or null.
    pub fn parse(value: &Value) -> Result<Self, TemplateError> {
        let body = match value {
            Value::String(text) => parse_text(text)?,
            Value::Array(_) | Value::Object(_) => {
                return Err(TemplateError(
                    "a value must be a string, number, boolean or null".into(),
                ))
            }
            literal => Body::Literal(literal.clone()),
        };
        Ok(Self {
            source: value.clone(),
            body,
        })
    }

    /// The JSON the template was parsed from.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// The names of the inputs it reads (`${input.NAME}`), in order of appearance.
    pub fn inputs(&self) -> Vec<&str> {
        let placeholders: Vec<&Placeholder> = match &self.body {
            Body::Literal(_) => Vec::new(),
            Body::Single(p) => vec![p],
            Body::Text(segments) => segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Placeholder(p) => Some(p),
                    Segment::Text(_) => None,
                })
                .collect(),
        };
        placeholders
            .into_iter()
            .filter_map(|p| match p {
                Placeholder::Input(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The value the template gives in `env`.
    pub fn render(&self, env: &TemplateEnv<'_>) -> Value {
        match &self.body {
            Body::Literal(value) => value.clone(),
            Body::Single(p) => p.value(env),
            Body::Text(segments) => Value::String(
                segments
                    .iter()
                    .map(|s| match s {
                        Segment::Text(text) => text.clone(),
                        Segment::Placeholder(p) => value_text(&p.value(env)).unwrap_or_default(),
                    })
                    .collect(),
            ),
        }
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(s)
    }
}

impl Placeholder {
    fn parse(name: &str) -> Result<Self, TemplateError> {
        let named = |prefix: &str| -> Result<Option<String>, TemplateError> {
            let Some(rest) = name.strip_prefix(prefix) else {
                return Ok(None);
            };
            if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(TemplateError(format!(
                    "'${{{name}}}' needs a name of letters, digits and underscores after '{prefix}'"
                )));
            }
            Ok(Some(rest.to_string()))
        };
        if let Some(input) = named("input.")? {
            return Ok(Self::Input(input));
        }
        if let Some(field) = named("record.")? {
            return Ok(Self::Record(field));
        }
        match name {
            "now" => Ok(Self::Now),
            "user" => Ok(Self::User),
            _ => Err(TemplateError(format!(
                "unknown placeholder '${{{name}}}' (expected ${{input.NAME}}, ${{record.FIELD}}, \
                 ${{now}} or ${{user}})"
            ))),
        }
    }

    fn value(&self, env: &TemplateEnv<'_>) -> Value {
        match self {
            Self::Input(name) => env.inputs.get(name).cloned().unwrap_or(Value::Null),
            Self::Record(field) => env
                .record
                .and_then(|r| r.get(field))
                .cloned()
                .unwrap_or(Value::Null),
            Self::Now => Value::String(env.now.to_string()),
            Self::User => Value::String(env.user.to_string()),
        }
    }
}

fn parse_text(text: &str) -> Result<Body, TemplateError> {
    let mut segments = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            segments.push(Segment::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| {
            TemplateError(format!(
                "unclosed placeholder in '{text}' (a '${{' without '}}')"
            ))
        })?;
        segments.push(Segment::Placeholder(Placeholder::parse(&after[..end])?));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest.to_string()));
    }
    Ok(match segments.as_slice() {
        [] => Body::Literal(Value::String(String::new())),
        [Segment::Text(_)] => Body::Literal(Value::String(text.to_string())),
        [Segment::Placeholder(p)] => Body::Single(p.clone()),
        _ => Body::Text(segments),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env<'a>(inputs: &'a Map<String, Value>, record: Option<&'a Record>) -> TemplateEnv<'a> {
        TemplateEnv {
            inputs,
            record,
            now: Timestamp::parse("2026-03-04 05:06:07").unwrap_or(Timestamp::from_unix(0)),
            user: "beth.anglin",
        }
    }

    fn render(template: Value, inputs: Value, record: Value) -> Value {
        let inputs = inputs.as_object().cloned().unwrap_or_default();
        let record = Record::from_value(record);
        Template::parse(&template)
            .unwrap()
            .render(&env(&inputs, record.as_ref()))
    }

    #[test]
    fn literals_render_as_themselves() {
        for literal in [
            json!("accepted"),
            json!(3),
            json!(true),
            json!(null),
            json!(""),
        ] {
            assert_eq!(render(literal.clone(), json!({}), json!({})), literal);
        }
    }

    #[test]
    fn a_single_placeholder_keeps_the_json_type() {
        assert_eq!(
            render(json!("${input.hours}"), json!({"hours": 2.5}), json!({})),
            json!(2.5)
        );
        assert_eq!(
            render(json!("${input.done}"), json!({"done": true}), json!({})),
            json!(true)
        );
        assert_eq!(
            render(
                json!("${record.priority}"),
                json!({}),
                json!({"priority": 2})
            ),
            json!(2)
        );
        assert_eq!(
            render(json!("${input.missing}"), json!({}), json!({})),
            json!(null)
        );
    }

    #[test]
    fn mixed_text_interpolates_value_text_with_null_as_empty() {
        let rendered = render(
            json!("${input.hours}h on ${record.number}, ${input.missing}."),
            json!({"hours": 2}),
            json!({"number": "WOT0001"}),
        );
        assert_eq!(rendered, json!("2h on WOT0001, ."));
    }

    #[test]
    fn now_and_user_come_from_the_environment() {
        assert_eq!(
            render(json!("${now}"), json!({}), json!({})),
            json!("2026-03-04 05:06:07")
        );
        assert_eq!(
            render(json!("by ${user} at ${now}"), json!({}), json!({})),
            json!("by beth.anglin at 2026-03-04 05:06:07")
        );
    }

    #[test]
    fn record_placeholders_read_null_when_there_is_no_record() {
        let inputs = Map::new();
        let t = Template::parse(&json!("${record.state}")).unwrap();
        assert_eq!(t.render(&env(&inputs, None)), json!(null));
    }

    #[test]
    fn a_dollar_without_brace_is_plain_text() {
        assert_eq!(
            render(json!("costs $5 {x}"), json!({}), json!({})),
            json!("costs $5 {x}")
        );
    }

    #[test]
    fn unknown_placeholders_are_refused_by_name() {
        let err = Template::parse(&json!("hello ${foo}")).unwrap_err();
        assert!(err.0.contains("unknown placeholder '${foo}'"), "{err}");
        let err = Template::parse(&json!("${input.}")).unwrap_err();
        assert!(err.0.contains("${input.}"), "{err}");
    }

    #[test]
    fn an_unclosed_placeholder_is_refused() {
        let err = Template::parse(&json!("note: ${input.note")).unwrap_err();
        assert!(err.0.contains("unclosed placeholder"), "{err}");
    }

    #[test]
    fn arrays_and_objects_are_not_templates() {
        assert!(Template::parse(&json!(["a"])).is_err());
        assert!(Template::parse(&json!({"a": 1})).is_err());
    }

    #[test]
    fn inputs_lists_the_input_placeholders() {
        let t = Template::parse(&json!("${input.a} ${record.b} ${input.c} ${now}")).unwrap();
        assert_eq!(t.inputs(), vec!["a", "c"]);
    }

    #[test]
    fn templates_serialize_to_their_source() {
        let source = json!("Closed by ${user}");
        let t = Template::parse(&source).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), source);
        assert_eq!(t.source(), &source);
    }
}
