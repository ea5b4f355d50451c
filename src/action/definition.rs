//! Action definitions: the JSON an administrator writes, checked when it is loaded so that a
//! definition that could lose an offline change never reaches a device.
//!
//! The types are here; `reader` reads and checks the JSON, and `counterpart` holds the
//! rule that every offline change has a step that carries it to the instance.

mod counterpart;
mod reader;

use super::input::InputDef;
use super::template::Template;
use crate::query::{Query, QueryContext};
use crate::record::{derived_sys_id, Record};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The role that passes every role check: the administrator may do everything (SPEC 2).
pub const ADMIN_ROLE: &str = "admin";

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
    /// The table of the records it runs on (or, record-less, creates).
    pub table: String,
    /// Whether it runs on an existing record (`true`, the default) or is record-less
    /// (`"record": false`): called with no `sys_id`, its first step (a `both create` in its
    /// own table) makes the record that its later steps work on.
    #[serde(skip_serializing_if = "is_true")]
    pub record: bool,
    /// Whether it may run on the device while offline.
    pub offline: bool,
    /// The roles that may run it; `None` for every signed-in user. [`ADMIN_ROLE`] may run
    /// every action whatever this says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// When it shows for a record; `None` for always.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Query>,
    /// What the user fills in.
    pub inputs: Vec<InputDef>,
    /// What it does, in order.
    pub steps: Vec<Step>,
}

fn is_true(value: &bool) -> bool {
    *value
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
    /// The definition as JSON, in the shape [`ActionDef::from_json`] reads.
    pub fn to_json(&self) -> Value {
        // Cannot fail: every map key is a string and every leaf is already JSON.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The `sys_id` of the record a record-less action creates in invocation
    /// `invocation_id`: its first step's, derived from the invocation's id as every created
    /// record's is, so the device and the instance give the new record the same id. `None`
    /// for an action that runs on an existing record.
    pub fn new_record_id(&self, invocation_id: &str) -> Option<String> {
        (!self.record).then(|| derived_sys_id(invocation_id, 1))
    }

    /// Whether the action shows for `record` (always, when it has no condition).
    pub fn applies_to(&self, record: &Record, ctx: &QueryContext) -> bool {
        self.condition
            .as_ref()
            .is_none_or(|condition| condition.matches(record, ctx))
    }

    /// Whether a user with `roles` may run the action: when it names no roles, when the user
    /// has one of them, or when the user is an administrator.
    pub fn permits<R: AsRef<str>>(&self, roles: &[R]) -> bool {
        let has = |role: &str| roles.iter().any(|r| r.as_ref() == role);
        has(ADMIN_ROLE)
            || self
                .roles
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|role| has(role)))
    }

    /// Why `user_name` with `roles` may not run the action, for the refusal's message; `None`
    /// when [`ActionDef::permits`] them.
    pub fn refusal<R: AsRef<str>>(&self, user_name: &str, roles: &[R]) -> Option<String> {
        if self.permits(roles) {
            return None;
        }
        let allowed = self.roles.as_deref().unwrap_or_default().join(", ");
        Some(format!(
            "{user_name} may not run {}: it is for the roles {allowed} (and {ADMIN_ROLE})",
            self.label
        ))
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
}

impl Step {
    /// Mode and op, as error messages name a step: `offline update`.
    pub fn kind(&self) -> String {
        format!("{} {}", self.mode.as_str(), self.op.name())
    }
}

/// A checked catalog of actions, in definition order, with unique names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionSet {
    actions: Vec<ActionDef>,
}

impl ActionSet {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{accept_task_json, action, action_json};
    use super::*;
    use serde_json::json;

    pub(super) fn refused(value: Value) -> String {
        match ActionDef::from_json(&value) {
            Ok(def) => panic!("accepted a bad definition: {def:?}"),
            Err(e) => e.to_string(),
        }
    }

    pub(super) fn refused_steps(inputs: Value, steps: Value) -> String {
        refused(action_json(inputs, steps))
    }

    pub(super) fn assert_refused(err: String, expected: &str) {
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
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
    fn roles_limit_who_may_run_an_action_and_the_admin_passes_every_check() {
        let mut json = accept_task_json();
        let open = ActionDef::from_json(&json).unwrap();
        assert_eq!(open.roles, None);
        assert!(open.permits(&["technician"]));
        assert!(open.permits::<&str>(&[]), "absent: every signed-in user");
        json["roles"] = json!(["dispatcher"]);
        let def = ActionDef::from_json(&json).unwrap();
        assert_eq!(def.roles, Some(vec!["dispatcher".to_string()]));
        assert!(def.permits(&["technician", "dispatcher"]));
        assert!(def.permits(&["admin"]));
        assert!(!def.permits(&["technician"]));
        assert_eq!(def.refusal("fred", &["dispatcher"]), None);
        assert_eq!(
            def.refusal("beth", &["technician"]).as_deref(),
            Some("beth may not run Accept: it is for the roles dispatcher (and admin)")
        );
        assert_eq!(def.to_json()["roles"], json!(["dispatcher"]));
        assert_eq!(ActionDef::from_json(&def.to_json()).unwrap(), def);
    }

    #[test]
    fn roles_must_be_a_non_empty_list_of_role_names() {
        for (roles, expected) in [
            (
                json!("dispatcher"),
                "`roles` must be an array of role names",
            ),
            (json!([1]), "`roles` must be an array of role names"),
            (json!([""]), "`roles` must be an array of role names"),
            (json!([]), "`roles` must name at least one role"),
        ] {
            let mut json = accept_task_json();
            json["roles"] = roles;
            assert_refused(refused(json), expected);
        }
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

    fn record_less(steps: Value) -> Value {
        json!({"name": "new_incident", "table": "incident", "record": false, "offline": true,
               "steps": steps})
    }

    #[test]
    fn a_record_less_action_loads_when_it_starts_by_creating_its_record_in_its_table() {
        let def = ActionDef::from_json(&record_less(json!([
            {"mode": "both", "op": "create", "table": "incident", "set": {"state": "new"}},
            {"mode": "both", "op": "journal", "element": "work_notes", "value": "Opened"}
        ])))
        .unwrap();
        assert!(!def.record);
        assert_eq!(
            def.new_record_id("inv-1"),
            Some(crate::record::derived_sys_id("inv-1", 1))
        );
        assert_eq!(def.to_json()["record"], json!(false));
        assert_eq!(ActionDef::from_json(&def.to_json()).unwrap(), def);
        let on_a_record = ActionDef::from_json(&accept_task_json()).unwrap();
        assert!(on_a_record.record && on_a_record.new_record_id("inv-1").is_none());
        assert!(on_a_record.to_json().get("record").is_none());
    }

    #[test]
    fn a_record_less_action_must_create_its_record_first_on_both_sides_and_have_no_condition() {
        for steps in [
            json!([]),
            json!([{"mode": "both", "op": "update", "set": {"state": "new"}}]),
            json!([{"mode": "both", "op": "create", "table": "problem", "set": {}}]),
            json!([
                {"mode": "offline", "op": "create", "table": "incident", "set": {}},
                {"mode": "online", "op": "create", "table": "incident", "set": {}}
            ]),
        ] {
            assert_refused(
                refused(record_less(steps)),
                "must start with a both create step in its own table incident",
            );
        }
        let mut json = record_less(json!([
            {"mode": "both", "op": "create", "table": "incident", "set": {}}
        ]));
        json["condition"] = json!("state=new");
        assert_refused(refused(json.clone()), "no record for a `condition`");
        json["record"] = json!("no");
        assert_refused(refused(json), "`record` must be true or false");
    }
}
