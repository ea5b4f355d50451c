//! Action definitions: the JSON an administrator writes, checked when it is loaded so that a
//! definition that could lose an offline change never reaches a device.

use super::input::{InputDef, InputType};
use super::template::Template;
use crate::query::{Query, QueryContext};
use crate::record::{Record, SYSTEM_FIELDS};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The fields that append journal entries instead of being stored on the record.
pub const JOURNAL_FIELDS: [&str; 2] = ["work_notes", "comments"];

/// Whether writing `field` appends a journal entry rather than setting a value.
pub fn is_journal_field(field: &str) -> bool {
    JOURNAL_FIELDS.contains(&field)
}

/// One writeback action, as defined on the instance and downloaded with the offline cache.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActionDef {
    /// The identifier (`[a-z0-9_]+`), unique in its [`ActionSet`].
    pub name: String,
    /// What the app shows.
    pub label: String,
    /// The table of the records it runs on.
    pub table: String,
    /// Whether it may run on the device while offline.
    pub offline: bool,
    /// When it shows for a record; `None` for always.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Query>,
    /// What the user fills in.
    pub inputs: Vec<InputDef>,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

/// Where a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepMode {
    /// Only on the device, against cached data.
    Offline,
    /// Only on the instance, live or when the outbox syncs.
    Online,
    /// On both.
    Both,
}

impl StepMode {
    /// The mode's JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Online => "online",
            Self::Both => "both",
        }
    }

    /// Whether a step of this mode reaches the instance.
    pub fn reaches_instance(self) -> bool {
        matches!(self, Self::Online | Self::Both)
    }
}

/// One step of an action.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// Where it runs.
    pub mode: StepMode,
    /// What it does.
    #[serde(flatten)]
    pub op: StepOp,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum StepOp {
    /// Refuses the action unless the condition holds on the current record (with the inputs
    /// as `input.NAME` fields).
    Validate {
        /// What must hold.
        condition: Query,
        /// What the user is told when it does not.
        message: String,
    },
    /// Sets fields of the target record; `work_notes` and `comments` append journal entries.
    Update {
        /// Field to value template.
        set: BTreeMap<String, Template>,
    },
    /// Creates a record in another (or the same) table.
    Create {
        /// The new record's table.
        table: String,
        /// Field to value template.
        set: BTreeMap<String, Template>,
    },
    /// Deletes the target record.
    Delete,
    /// Appends a work note or comment to the target record.
    Journal {
        /// `work_notes` or `comments`.
        element: String,
        /// The text.
        value: Template,
    },
    /// Attaches the file of a `file` input to the target record.
    Attach {
        /// The input's name.
        input: String,
    },
    /// Calls a named routine of the instance (online steps only).
    Hook {
        /// The routine's name.
        name: String,
    },
}

impl StepOp {
    /// The op's JSON name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Validate { .. } => "validate",
            Self::Update { .. } => "update",
            Self::Create { .. } => "create",
            Self::Delete => "delete",
            Self::Journal { .. } => "journal",
            Self::Attach { .. } => "attach",
            Self::Hook { .. } => "hook",
        }
    }

    /// Whether the step changes data (and so, offline, needs a counterpart on the instance).
    pub fn changes_data(&self) -> bool {
        !matches!(self, Self::Validate { .. } | Self::Hook { .. })
    }

    /// Whether `other` makes the same kind of change to the same target, so that it carries
    /// this step's change to the instance.
    fn carried_by(&self, other: &StepOp) -> bool {
        match (self, other) {
            (Self::Update { .. }, Self::Update { .. }) | (Self::Delete, Self::Delete) => true,
            (Self::Create { table: a, .. }, Self::Create { table: b, .. }) => a == b,
            (Self::Journal { element: a, .. }, Self::Journal { element: b, .. }) => a == b,
            (Self::Attach { input: a }, Self::Attach { input: b }) => a == b,
            _ => false,
        }
    }
}

/// A definition that cannot be loaded: which action, which step, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.place())]
pub struct DefinitionError {
    /// The action's name, when it got that far.
    pub action: Option<String>,
    /// The step's number, from 1, when the fault is in a step.
    pub step: Option<usize>,
    /// The step's mode and op (`offline update`), when they could be read.
    pub step_kind: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl DefinitionError {
    fn place(&self) -> String {
        let mut place = match &self.action {
            Some(action) => format!("action '{action}'"),
            None => "action definition".to_string(),
        };
        if let Some(step) = self.step {
            place.push_str(&format!(", step {step}"));
            if let Some(kind) = &self.step_kind {
                place.push_str(&format!(" ({kind})"));
            }
        }
        place
    }
}

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
                "offline",
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
        let offline = match obj.get("offline") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(at("`offline` must be true or false".into())),
        };
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
            offline,
            condition,
            inputs,
            steps,
        };
        def.check_counterparts()?;
        Ok(def)
    }

    /// The definition as JSON, in the shape [`ActionDef::from_json`] reads.
    pub fn to_json(&self) -> Value {
        // Cannot fail: every map key is a string and every leaf is already JSON.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether the action shows for `record` (always, when it has no condition).
    pub fn applies_to(&self, record: &Record, ctx: &QueryContext) -> bool {
        self.condition
            .as_ref()
            .is_none_or(|condition| condition.matches(record, ctx))
    }

    /// The fields of the target record that the action sets on the instance (its online and
    /// both `update` steps), sorted. Work notes and comments are left out: they append journal
    /// entries, which never conflict.
    pub fn written_fields(&self) -> Vec<String> {
        let fields: BTreeSet<&String> = self
            .steps
            .iter()
            .filter(|step| step.mode.reaches_instance())
            .filter_map(|step| match &step.op {
                StepOp::Update { set } => Some(set.keys()),
                _ => None,
            })
            .flatten()
            .filter(|field| !is_journal_field(field))
            .collect();
        fields.into_iter().cloned().collect()
    }

    /// THE RULE (SPEC section 4): an offline step that changes data with no online or both
    /// step of the same op on the same target would be lost when the outbox syncs.
    fn check_counterparts(&self) -> Result<(), DefinitionError> {
        for (i, step) in self.steps.iter().enumerate() {
            if step.mode != StepMode::Offline || !step.op.changes_data() {
                continue;
            }
            let carried = self
                .steps
                .iter()
                .any(|other| other.mode.reaches_instance() && step.op.carried_by(&other.op));
            if !carried {
                let op = step.op.name();
                return Err(DefinitionError {
                    action: Some(self.name.clone()),
                    step: Some(i + 1),
                    step_kind: Some(step.kind()),
                    message: format!(
                        "no online or both {op} step carries this change to the instance"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl Step {
    /// Mode and op, as error messages name a step: `offline update`.
    pub fn kind(&self) -> String {
        format!("{} {}", self.mode.as_str(), self.op.name())
    }
}

impl<'de> Deserialize<'de> for ActionDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// A checked catalog of actions, in definition order, with unique names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionSet {
    actions: Vec<ActionDef>,
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

    /// A catalog of already checked definitions; two with one name are an error.
    pub fn new(actions: Vec<ActionDef>) -> Result<ActionSet, DefinitionError> {
        let mut seen = BTreeSet::new();
        if let Some(dup) = actions.iter().find(|a| !seen.insert(a.name.as_str())) {
            return Err(DefinitionError {
                action: Some(dup.name.clone()),
                step: None,
                step_kind: None,
                message: "defined more than once".into(),
            });
        }
        Ok(Self { actions })
    }

    /// The action with that name.
    pub fn get(&self, name: &str) -> Option<&ActionDef> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Every action, in definition order.
    pub fn iter(&self) -> impl Iterator<Item = &ActionDef> {
        self.actions.iter()
    }

    /// The actions on one table, in definition order.
    pub fn for_table<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a ActionDef> + 'a {
        self.actions.iter().filter(move |a| a.table == table)
    }

    /// The catalog as a JSON array of definitions.
    pub fn to_json(&self) -> Value {
        Value::Array(self.actions.iter().map(ActionDef::to_json).collect())
    }
}

impl Serialize for ActionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.actions.serialize(s)
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
    use super::super::fixtures::{accept_task_json, action, action_json, ctx, task, task_store};
    use super::*;
    use serde_json::json;

    fn refused(value: Value) -> String {
        match ActionDef::from_json(&value) {
            Ok(def) => panic!("accepted a bad definition: {def:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn refused_steps(inputs: Value, steps: Value) -> String {
        refused(action_json(inputs, steps))
    }

    fn assert_refused(err: String, expected: &str) {
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
    }

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
    fn an_offline_change_without_an_instance_counterpart_is_refused_naming_action_and_step() {
        let err = refused_steps(
            json!([]),
            json!([
                {"mode": "both", "op": "validate", "condition": "state=assigned", "message": "no"},
                {"mode": "offline", "op": "update", "set": {"state": "accepted"}}
            ]),
        );
        assert_eq!(
            err,
            "action 'test_action', step 2 (offline update): no online or both update step \
             carries this change to the instance"
        );
    }

    #[test]
    fn both_mode_steps_and_matching_online_steps_carry_offline_changes() {
        action(
            json!([{"name": "photo", "label": "Photo", "type": "file"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "accepted"}},
                {"mode": "offline", "op": "create", "table": "wm_time", "set": {}},
                {"mode": "online", "op": "create", "table": "wm_time", "set": {}},
                {"mode": "offline", "op": "journal", "element": "work_notes", "value": "x"},
                {"mode": "both", "op": "journal", "element": "work_notes", "value": "x"},
                {"mode": "offline", "op": "attach", "input": "photo"},
                {"mode": "online", "op": "attach", "input": "photo"},
                {"mode": "offline", "op": "delete"},
                {"mode": "online", "op": "delete"},
                {"mode": "offline", "op": "validate", "condition": "state=assigned", "message": "no"}
            ]),
        );
    }

    #[test]
    fn a_counterpart_must_have_the_same_op_and_target() {
        let file = json!([{"name": "a", "label": "A", "type": "file"},
                          {"name": "b", "label": "B", "type": "file"}]);
        let cases = [
            (
                json!([{"mode": "offline", "op": "create", "table": "wm_time", "set": {}},
                    {"mode": "online", "op": "create", "table": "incident", "set": {}}]),
                "step 1 (offline create): no online or both create step",
            ),
            (
                json!([{"mode": "offline", "op": "journal", "element": "work_notes", "value": "x"},
                    {"mode": "online", "op": "journal", "element": "comments", "value": "x"}]),
                "step 1 (offline journal): no online or both journal step",
            ),
            (
                json!([{"mode": "offline", "op": "attach", "input": "a"},
                    {"mode": "online", "op": "attach", "input": "b"}]),
                "step 1 (offline attach): no online or both attach step",
            ),
            (
                json!([{"mode": "online", "op": "update", "set": {"state": "x"}},
                    {"mode": "offline", "op": "delete"}]),
                "step 2 (offline delete): no online or both delete step",
            ),
            (
                json!([{"mode": "offline", "op": "update", "set": {"state": "x"}},
                    {"mode": "offline", "op": "update", "set": {"state": "x"}}]),
                "step 1 (offline update): no online or both update step",
            ),
        ];
        for (steps, expected) in cases {
            assert_refused(refused_steps(file.clone(), steps), expected);
        }
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

    #[test]
    fn definition_errors_carry_their_place_as_fields() {
        let err = ActionDef::from_json(&action_json(
            json!([]),
            json!([{"mode": "both", "op": "delete"}, {"mode": "offline", "op": "update", "set": {"a": 1}}]),
        ))
        .unwrap_err();
        assert_eq!(err.action.as_deref(), Some("test_action"));
        assert_eq!(err.step, Some(2));
        assert_eq!(err.step_kind.as_deref(), Some("offline update"));
    }

    #[test]
    fn written_fields_are_the_instance_updates_without_journal_fields() {
        let def = action(
            json!([]),
            json!([
                {"mode": "online", "op": "update", "set": {"state": "x", "work_notes": "n", "close_notes": "c"}},
                {"mode": "both", "op": "update", "set": {"state": "y", "assigned_to": "z"}},
                {"mode": "offline", "op": "update", "set": {"priority": 1}},
                {"mode": "both", "op": "create", "table": "wm_time", "set": {"hours": 1}}
            ]),
        );
        assert_eq!(
            def.written_fields(),
            ["assigned_to", "close_notes", "state"]
        );
    }

    #[test]
    fn offline_steps_in_an_online_only_action_are_allowed() {
        let mut value = action_json(
            json!([]),
            json!([{"mode": "offline", "op": "validate", "condition": "state=a", "message": "m"}]),
        );
        value["offline"] = json!(false);
        assert!(ActionDef::from_json(&value).is_ok());
    }

    #[test]
    fn an_action_set_finds_actions_by_name_and_table() {
        let mut other = action_json(json!([]), json!([]));
        other["table"] = json!("incident");
        let set = ActionSet::from_json(&json!([accept_task_json(), other])).unwrap();
        assert_eq!(
            set.get("accept_task").map(|a| a.label.as_str()),
            Some("Accept")
        );
        assert!(set.get("nope").is_none());
        let names: Vec<&str> = set.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["accept_task", "test_action"]);
        let on_tasks: Vec<&str> = set.for_table("wm_task").map(|a| a.name.as_str()).collect();
        assert_eq!(on_tasks, ["accept_task"]);
        assert_eq!(ActionSet::from_json(&set.to_json()).unwrap(), set);
    }

    #[test]
    fn an_action_set_refuses_duplicate_names_and_bad_members() {
        let err =
            ActionSet::from_json(&json!([accept_task_json(), accept_task_json()])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "action 'accept_task': defined more than once"
        );
        let err = ActionSet::from_json(&json!([{"name": "x"}])).unwrap_err();
        assert_eq!(err.to_string(), "action 'x': `table` is required");
        assert!(ActionSet::from_json(&json!({})).is_err());
    }
}
