//! Reads and checks an action definition's JSON (SPEC section 4): every fault names the
//! action and, where it lies in one, the step.

use super::{is_journal_field, ActionDef, ActionSet, DefinitionError, Step, StepMode, StepOp};
use crate::action::input::{InputDef, InputType};
use crate::action::template::Template;
use crate::query::Query;
use crate::record::SYSTEM_FIELDS;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

impl ActionDef {
    /// Reads and checks a definition (SPEC section 4). Every rule violation is an error that
    /// names the action and, where it lies in one, the step.
    pub fn from_json(value: &Value) -> Result<ActionDef, DefinitionError> {
        let fault = |action: Option<&str>, message: String| DefinitionError {
            action: action.map(str::to_string),
            step: None,
            step_kind: None,
            message,
        };
        let obj = value
            .as_object()
            .ok_or_else(|| fault(None, "a definition must be a JSON object".into()))?;
        let name = required_string(obj, "name").map_err(|m| fault(None, m))?;
        if !is_identifier(&name, |b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
        }) {
            return Err(fault(
                None,
                format!("name '{name}' must be lowercase letters, digits and underscores"),
            ));
        }
        let at = |message: String| fault(Some(&name), message);
        only_keys(
            obj,
            &[
                "name",
                "label",
                "table",
                "record",
                "offline",
                "roles",
                "condition",
                "inputs",
                "steps",
            ],
        )
        .map_err(at)?;
        let label = optional_string(obj, "label")
            .map_err(at)?
            .unwrap_or_else(|| name.clone());
        let table = required_string(obj, "table").map_err(at)?;
        if table.is_empty() {
            return Err(at("`table` must not be empty".into()));
        }
        let flag = |key: &str, absent: bool| match obj.get(key) {
            None | Some(Value::Null) => Ok(absent),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(at(format!("`{key}` must be true or false"))),
        };
        let record = flag("record", true)?;
        let offline = flag("offline", false)?;
        let roles = parse_roles(obj.get("roles")).map_err(at)?;
        let condition = match optional_string(obj, "condition").map_err(at)? {
            Some(text) if !text.is_empty() => {
                let query =
                    Query::parse(&text).map_err(|e| at(format!("condition '{text}': {e}")))?;
                // The condition decides whether the action shows, before anything is filled in.
                if let Some(field) = query.fields().into_iter().find(|f| f.starts_with("input.")) {
                    return Err(at(format!(
                        "condition '{text}' reads '{field}', but inputs are only known when the \
                         action runs (check them in a validate step)"
                    )));
                }
                Some(query)
            }
            _ => None,
        };
        let inputs = match obj.get("inputs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => parse_inputs(items).map_err(at)?,
            Some(_) => return Err(at("`inputs` must be an array".into())),
        };
        let steps = match obj.get("steps") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(at("`steps` must be an array".into())),
            None => return Err(at("`steps` is required".into())),
        };
        let steps = steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                parse_step(step, &inputs).map_err(|(kind, message)| DefinitionError {
                    action: Some(name.clone()),
                    step: Some(i + 1),
                    step_kind: kind,
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let def = ActionDef {
            name,
            label,
            table,
            record,
            offline,
            roles,
            condition,
            inputs,
            steps,
        };
        def.check_record_less()?;
        def.check_counterparts()?;
        Ok(def)
    }
}

impl ActionDef {
    /// A record-less action has no record to show for nor to start from: no `condition`, and
    /// its first step creates the record the later steps work on, on both sides (so the
    /// device and the instance derive one id for it).
    fn check_record_less(&self) -> Result<(), DefinitionError> {
        if self.record {
            return Ok(());
        }
        let fault = |step: Option<&Step>, message: String| DefinitionError {
            action: Some(self.name.clone()),
            step: step.map(|_| 1),
            step_kind: step.map(Step::kind),
            message,
        };
        if self.condition.is_some() {
            return Err(fault(
                None,
                "a record-less action (`\"record\": false`) has no record for a `condition` to \
                 check; leave it out"
                    .into(),
            ));
        }
        let first = self.steps.first();
        match first.map(|step| (step.mode, &step.op)) {
            Some((StepMode::Both, StepOp::Create { table, .. })) if *table == self.table => Ok(()),
            _ => Err(fault(
                first,
                format!(
                    "a record-less action (`\"record\": false`) must start with a both create \
                     step in its own table {}: that step makes the record it works on",
                    self.table
                ),
            )),
        }
    }
}

impl<'de> Deserialize<'de> for ActionDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

impl ActionSet {
    /// Reads a JSON array of definitions; any bad definition, or two with one name, is an
    /// error.
    pub fn from_json(value: &Value) -> Result<ActionSet, DefinitionError> {
        let items = value.as_array().ok_or_else(|| DefinitionError {
            action: None,
            step: None,
            step_kind: None,
            message: "the action catalog must be a JSON array of definitions".into(),
        })?;
        let actions = items
            .iter()
            .map(ActionDef::from_json)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(actions)
    }
}

impl<'de> Deserialize<'de> for ActionSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

fn is_identifier(name: &str, allowed: impl Fn(u8) -> bool) -> bool {
    !name.is_empty() && name.bytes().all(allowed)
}

fn optional_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn required_string(obj: &Map<String, Value>, key: &str) -> Result<String, String> {
    optional_string(obj, key)?.ok_or_else(|| format!("`{key}` is required"))
}

/// Refuses keys the format does not have, so a misspelt `condition` is an error rather than
/// an action that silently shows everywhere.
fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "unknown field `{key}` (expected {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// `roles`: absent for every signed-in user, else a non-empty list of role names (an empty
/// list would leave the action to the administrator alone, more likely a slip than a wish).
fn parse_roles(value: Option<&Value>) -> Result<Option<Vec<String>>, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("`roles` must be an array of role names".into()),
    };
    if items.is_empty() {
        return Err(
            "`roles` must name at least one role (leave it out for every signed-in user)".into(),
        );
    }
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(role) if !role.trim().is_empty() => Ok(role.to_string()),
            _ => Err("`roles` must be an array of role names".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn parse_inputs(items: &[Value]) -> Result<Vec<InputDef>, String> {
    let mut inputs: Vec<InputDef> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let input = parse_input(item).map_err(|m| format!("input {}: {m}", i + 1))?;
        if inputs.iter().any(|other| other.name == input.name) {
            return Err(format!("input '{}' is declared more than once", input.name));
        }
        inputs.push(input);
    }
    Ok(inputs)
}

fn parse_input(item: &Value) -> Result<InputDef, String> {
    let obj = item.as_object().ok_or("an input must be a JSON object")?;
    let name = required_string(obj, "name")?;
    if !is_identifier(&name, |b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "name '{name}' must be letters, digits and underscores"
        ));
    }
    let named = |m: String| format!("'{name}': {m}");
    only_keys(obj, &["name", "label", "type", "required", "options"]).map_err(named)?;
    let label = optional_string(obj, "label")
        .map_err(named)?
        .unwrap_or_else(|| name.clone());
    let type_name = required_string(obj, "type").map_err(named)?;
    let input_type = InputType::from_name(&type_name).ok_or_else(|| {
        let all: Vec<&str> = InputType::ALL.iter().map(|t| t.as_str()).collect();
        named(format!(
            "unknown type '{type_name}' (expected {})",
            all.join(", ")
        ))
    })?;
    let required = match obj.get("required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(named("`required` must be true or false".into())),
    };
    let options = match obj.get("options") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| named("`options` must be strings".into()))?,
        Some(_) => return Err(named("`options` must be an array of strings".into())),
    };
    match (input_type, options.is_empty()) {
        (InputType::Choice, true) => Err(named("a choice input needs `options`".into())),
        (t, false) if t != InputType::Choice => Err(named(format!(
            "`options` only apply to choice inputs, not {t}"
        ))),
        _ => Ok(InputDef {
            name,
            label,
            input_type,
            required,
            options,
        }),
    }
}

/// A step fault: the step's kind when it could be read, and the message.
type StepFault = (Option<String>, String);

fn parse_step(item: &Value, inputs: &[InputDef]) -> Result<Step, StepFault> {
    let obj = item
        .as_object()
        .ok_or((None, "a step must be a JSON object".to_string()))?;
    let mode = match required_string(obj, "mode")
        .map_err(|m| (None, m))?
        .as_str()
    {
        "offline" => StepMode::Offline,
        "online" => StepMode::Online,
        "both" => StepMode::Both,
        other => {
            return Err((
                None,
                format!("unknown mode '{other}' (expected offline, online or both)"),
            ))
        }
    };
    let op_name = required_string(obj, "op").map_err(|m| (None, m))?;
    let kind = Some(format!("{} {op_name}", mode.as_str()));
    let at = |message: String| (kind.clone(), message);
    let keys: &[&str] = match op_name.as_str() {
        "validate" => &["condition", "message"],
        "update" => &["set"],
        "create" => &["table", "set"],
        "delete" => &[],
        "journal" => &["element", "value"],
        "attach" => &["input"],
        "hook" => &["name"],
        other => {
            return Err((
                None,
                format!(
                    "unknown op '{other}' (expected validate, update, create, delete, journal, \
                     attach or hook)"
                ),
            ))
        }
    };
    let allowed: Vec<&str> = ["mode", "op"].iter().chain(keys).copied().collect();
    only_keys(obj, &allowed).map_err(at)?;
    let op = match op_name.as_str() {
        "validate" => {
            let text = required_string(obj, "condition").map_err(at)?;
            let condition =
                Query::parse(&text).map_err(|e| at(format!("condition '{text}': {e}")))?;
            for field in condition.fields() {
                if let Some(input) = field.strip_prefix("input.") {
                    declared(inputs, input).map_err(at)?;
                }
            }
            let message = required_string(obj, "message").map_err(at)?;
            StepOp::Validate { condition, message }
        }
        "update" => {
            let set = parse_set(obj, inputs).map_err(at)?;
            if set.is_empty() {
                return Err(at("`set` must name at least one field".into()));
            }
            StepOp::Update { set }
        }
        "create" => {
            let table = required_string(obj, "table").map_err(at)?;
            if table.is_empty() {
                return Err(at("`table` must not be empty".into()));
            }
            StepOp::Create {
                table,
                set: parse_set(obj, inputs).map_err(at)?,
            }
        }
        "delete" => StepOp::Delete,
        "journal" => {
            let element = required_string(obj, "element").map_err(at)?;
            if !is_journal_field(&element) {
                return Err(at(format!(
                    "element '{element}' must be work_notes or comments"
                )));
            }
            let source = obj
                .get("value")
                .ok_or_else(|| at("`value` is required".into()))?;
            let value = template(source, inputs).map_err(|m| at(format!("value: {m}")))?;
            StepOp::Journal { element, value }
        }
        "attach" => {
            let input = required_string(obj, "input").map_err(at)?;
            let def = declared(inputs, &input).map_err(at)?;
            if def.input_type != InputType::File {
                return Err(at(format!(
                    "input '{input}' is a {} input; attach needs a file input",
                    def.input_type
                )));
            }
            StepOp::Attach { input }
        }
        _ => {
            let name = required_string(obj, "name").map_err(at)?;
            if name.is_empty() {
                return Err(at("`name` must not be empty".into()));
            }
            // Scripted logic lives on the instance; the device runs declarative steps only.
            if mode != StepMode::Online {
                return Err(at(
                    "a hook runs on the instance, so its mode must be online".into(),
                ));
            }
            StepOp::Hook { name }
        }
    };
    Ok(Step { mode, op })
}

fn declared<'a>(inputs: &'a [InputDef], name: &str) -> Result<&'a InputDef, String> {
    inputs
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| format!("input '{name}' is not declared by the action"))
}

fn template(source: &Value, inputs: &[InputDef]) -> Result<Template, String> {
    let template = Template::parse(source).map_err(|e| e.to_string())?;
    for input in template.inputs() {
        declared(inputs, input)?;
    }
    Ok(template)
}

fn parse_set(
    obj: &Map<String, Value>,
    inputs: &[InputDef],
) -> Result<BTreeMap<String, Template>, String> {
    let set = match obj.get("set") {
        Some(Value::Object(set)) => set,
        Some(_) => return Err("`set` must be an object of field to value".into()),
        None => return Err("`set` is required".into()),
    };
    set.iter()
        .map(|(field, source)| {
            if field.is_empty() {
                return Err("`set` has an empty field name".to_string());
            }
            if SYSTEM_FIELDS.contains(&field.as_str()) {
                return Err(format!(
                    "field '{field}' is maintained by the store, not by actions"
                ));
            }
            let template = template(source, inputs).map_err(|m| format!("field '{field}': {m}"))?;
            Ok((field.clone(), template))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_refused, refused, refused_steps};
    use super::*;
    use crate::action::fixtures::{accept_task_json, action, ctx, task, task_store};
    use serde_json::json;

    #[test]
    fn the_spec_example_loads_and_round_trips() {
        let source = accept_task_json();
        let def = ActionDef::from_json(&source).unwrap();
        assert_eq!(def.name, "accept_task");
        assert_eq!(def.label, "Accept");
        assert!(def.offline);
        assert_eq!(def.inputs[0].input_type, InputType::Text);
        assert_eq!(def.steps.len(), 4);
        assert_eq!(
            def.steps[3].op,
            StepOp::Hook {
                name: "notify_dispatcher".into()
            }
        );
        assert_eq!(def.to_json(), source);
        assert_eq!(ActionDef::from_json(&def.to_json()).unwrap(), def);
        let via_serde: ActionDef = serde_json::from_value(source).unwrap();
        assert_eq!(via_serde, def);
    }

    #[test]
    fn every_op_round_trips_through_json() {
        let def = action(
            json!([{"name": "photo", "label": "Photo", "type": "file"},
                   {"name": "level", "label": "Level", "type": "choice", "options": ["a", "b"]}]),
            json!([
                {"mode": "both", "op": "validate", "condition": "input.levelISNOTEMPTY", "message": "Pick a level"},
                {"mode": "both", "op": "update", "set": {"priority": "${input.level}", "work_notes": "by ${user}"}},
                {"mode": "both", "op": "create", "table": "wm_time", "set": {"task": "${record.sys_id}", "hours": 1}},
                {"mode": "both", "op": "journal", "element": "comments", "value": "at ${now}"},
                {"mode": "both", "op": "attach", "input": "photo"},
                {"mode": "online", "op": "hook", "name": "notify"},
                {"mode": "both", "op": "delete"}
            ]),
        );
        let again = ActionDef::from_json(&def.to_json()).unwrap();
        assert_eq!(again, def);
        assert_eq!(again.to_json(), def.to_json());
    }

    #[test]
    fn label_offline_inputs_and_condition_have_defaults() {
        let def = ActionDef::from_json(&json!({"name": "touch", "table": "wm_task", "steps": []}))
            .unwrap();
        assert_eq!(def.label, "touch");
        assert!(!def.offline);
        assert!(def.inputs.is_empty());
        assert!(def.condition.is_none());
        assert!(def.applies_to(&task(&task_store()).unwrap(), &ctx().user));
    }

    #[test]
    fn top_level_faults_are_refused() {
        let cases = [
            (
                json!([]),
                "action definition: a definition must be a JSON object",
            ),
            (
                json!({"table": "wm_task", "steps": []}),
                "action definition: `name` is required",
            ),
            (
                json!({"name": "", "table": "wm_task", "steps": []}),
                "name '' must be lowercase",
            ),
            (
                json!({"name": "Accept Task", "table": "wm_task", "steps": []}),
                "name 'Accept Task' must be lowercase",
            ),
            (
                json!({"name": "a", "steps": []}),
                "action 'a': `table` is required",
            ),
            (
                json!({"name": "a", "table": "", "steps": []}),
                "action 'a': `table` must not be empty",
            ),
            (
                json!({"name": "a", "table": "t"}),
                "action 'a': `steps` is required",
            ),
            (
                json!({"name": "a", "table": "t", "steps": {}}),
                "action 'a': `steps` must be an array",
            ),
            (
                json!({"name": "a", "table": "t", "steps": [], "offline": "yes"}),
                "`offline` must be true or false",
            ),
            (
                json!({"name": "a", "table": "t", "steps": [], "conditon": "state=x"}),
                "unknown field `conditon`",
            ),
            (
                json!({"name": "a", "table": "t", "steps": [], "condition": "=x"}),
                "action 'a': condition '=x': malformed query at position",
            ),
            (
                json!({"name": "a", "table": "t", "steps": [], "inputs": [{"name": "n", "label": "N", "type": "text"}],
                    "condition": "input.nISEMPTY"}),
                "reads 'input.n'",
            ),
        ];
        for (value, expected) in cases {
            assert_refused(refused(value), expected);
        }
    }

    #[test]
    fn input_declaration_faults_are_refused() {
        let cases = [
            (
                json!([{"name": "n", "label": "N", "type": "text"}, {"name": "n", "label": "M", "type": "text"}]),
                "input 'n' is declared more than once",
            ),
            (
                json!([{"name": "n", "type": "colour"}]),
                "input 1: 'n': unknown type 'colour'",
            ),
            (
                json!([{"name": "n", "type": "choice"}]),
                "a choice input needs `options`",
            ),
            (
                json!([{"name": "n", "type": "choice", "options": []}]),
                "a choice input needs `options`",
            ),
            (
                json!([{"name": "n", "type": "text", "options": ["a"]}]),
                "only apply to choice inputs",
            ),
            (
                json!([{"label": "N", "type": "text"}]),
                "input 1: `name` is required",
            ),
            (
                json!([{"name": "n", "type": "text", "required": "yes"}]),
                "`required` must be true or false",
            ),
        ];
        for (inputs, expected) in cases {
            assert_refused(refused_steps(inputs, json!([])), expected);
        }
    }

    #[test]
    fn step_faults_are_refused_naming_the_step() {
        let inputs = json!([{"name": "note", "label": "Note", "type": "text"}]);
        let cases = [
            (
                json!({"mode": "sometimes", "op": "delete"}),
                "step 1: unknown mode 'sometimes'",
            ),
            (json!({"op": "delete"}), "step 1: `mode` is required"),
            (
                json!({"mode": "both", "op": "explode"}),
                "step 1: unknown op 'explode'",
            ),
            (
                json!({"mode": "both", "op": "validate", "message": "m"}),
                "step 1 (both validate): `condition` is required",
            ),
            (
                json!({"mode": "both", "op": "validate", "condition": "state=x"}),
                "step 1 (both validate): `message` is required",
            ),
            (
                json!({"mode": "both", "op": "validate", "condition": "=x", "message": "m"}),
                "malformed query at position",
            ),
            (
                json!({"mode": "both", "op": "validate", "condition": "input.otherISEMPTY", "message": "m"}),
                "input 'other' is not declared",
            ),
            (
                json!({"mode": "both", "op": "update"}),
                "step 1 (both update): `set` is required",
            ),
            (
                json!({"mode": "both", "op": "update", "set": {}}),
                "`set` must name at least one field",
            ),
            (
                json!({"mode": "both", "op": "update", "set": ["state"]}),
                "`set` must be an object",
            ),
            (
                json!({"mode": "both", "op": "update", "set": {"sys_mod_count": 0}}),
                "'sys_mod_count' is maintained by the store",
            ),
            (
                json!({"mode": "both", "op": "update", "set": {"state": ["a"]}}),
                "field 'state': a value must be",
            ),
            (
                json!({"mode": "both", "op": "update", "set": {"state": "${input.other}"}}),
                "field 'state': input 'other' is not declared",
            ),
            (
                json!({"mode": "both", "op": "update", "set": {"state": "${foo}"}}),
                "unknown placeholder '${foo}'",
            ),
            (
                json!({"mode": "both", "op": "create", "set": {}}),
                "step 1 (both create): `table` is required",
            ),
            (
                json!({"mode": "both", "op": "create", "table": "wm_time"}),
                "step 1 (both create): `set` is required",
            ),
            (
                json!({"mode": "both", "op": "journal", "element": "description", "value": "x"}),
                "element 'description' must be work_notes or comments",
            ),
            (
                json!({"mode": "both", "op": "journal", "element": "comments"}),
                "`value` is required",
            ),
            (
                json!({"mode": "both", "op": "attach", "input": "photo"}),
                "input 'photo' is not declared",
            ),
            (
                json!({"mode": "both", "op": "attach", "input": "note"}),
                "input 'note' is a text input; attach needs a file input",
            ),
            (
                json!({"mode": "online", "op": "hook"}),
                "step 1 (online hook): `name` is required",
            ),
            (
                json!({"mode": "both", "op": "delete", "set": {}}),
                "unknown field `set`",
            ),
        ];
        for (step, expected) in cases {
            let err = refused_steps(inputs.clone(), json!([step]));
            assert!(err.starts_with("action 'test_action', step 1"), "{err}");
            assert_refused(err, expected);
        }
    }

    #[test]
    fn hooks_must_run_online() {
        for mode in ["offline", "both"] {
            let err = refused_steps(
                json!([]),
                json!([{"mode": mode, "op": "hook", "name": "notify"}]),
            );
            assert_refused(
                err,
                &format!(
                    "step 1 ({mode} hook): a hook runs on the instance, so its mode must be online"
                ),
            );
        }
    }
}
