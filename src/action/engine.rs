//! The step engine: runs an action's steps against a store. The same code runs on the device
//! (offline and both steps, against the cache) and on the instance (online and both steps,
//! against the database), so the two can never disagree on what a step does.

use super::definition::{is_journal_field, ActionDef, Step, StepMode, StepOp};
use super::input::{InputError, InputErrors};
use super::overlay::Overlay;
use super::template::{Template, TemplateEnv};
use crate::query::QueryContext;
use crate::record::{derived_sys_id, value_text, Record, Timestamp};
use crate::store::{FileInput, JournalEntry, Store, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Where an action runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The device, offline: runs the `offline` and `both` steps.
    Device,
    /// The instance: runs the `online` and `both` steps.
    Instance,
}

impl StepMode {
    /// Whether a step of this mode runs on `side`.
    pub fn runs_on(self, side: Side) -> bool {
        matches!(
            (self, side),
            (StepMode::Both, _)
                | (StepMode::Offline, Side::Device)
                | (StepMode::Online, Side::Instance)
        )
    }
}

/// Who runs the action, when, and which invocation it is.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionContext {
    /// The current user, for conditions and the system fields.
    pub user: QueryContext,
    /// The time the action runs at (the device's time when it was triggered offline).
    pub now: Timestamp,
    /// The invocation's id (the outbox entry id), from which created records and attachments
    /// take their `sys_id`, so that the device and the instance agree on them.
    pub invocation_id: String,
}

/// The instance's named routines, called by `hook` steps.
pub trait Hooks {
    /// Runs the hook `name` for the action's target `record` in `table`. Writes through
    /// `store` are part of the action: they are kept only if every step succeeds. An `Err`
    /// message refuses the action and is shown to the user.
    fn call(
        &mut self,
        name: &str,
        store: &mut dyn Store,
        table: &str,
        record: &Record,
        ctx: &ActionContext,
    ) -> Result<(), String>;
}

/// No hooks at all: every hook step fails. What the device uses, since hooks are online only.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn call(
        &mut self,
        name: &str,
        _store: &mut dyn Store,
        _table: &str,
        _record: &Record,
        _ctx: &ActionContext,
    ) -> Result<(), String> {
        Err(format!("unknown hook '{name}'"))
    }
}

/// What an action did, once it is stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The target record after the steps; `None` when a step deleted it.
    pub record: Option<Record>,
    /// The records the action created, as `(table, record)`.
    pub created: Vec<(String, Record)>,
    /// Whether the target record was deleted.
    pub deleted: bool,
    /// The work notes and comments appended.
    pub journal: Vec<JournalEntry>,
    /// The `sys_attachment` records of the files attached.
    pub attachments: Vec<Record>,
}

/// Why an action did not run. Nothing was stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The target record does not exist (or a step deleted it before another needed it).
    #[error("the {table} record {sys_id} does not exist; it may have been deleted")]
    NotFound {
        /// Its table.
        table: String,
        /// Its `sys_id`.
        sys_id: String,
    },
    /// A record a `create` step would make already exists: `create` only inserts, it never
    /// replaces a record (its id derives from the invocation's id, which a client chooses).
    #[error("the {table} record {sys_id} already exists; creating it again would overwrite it")]
    Exists {
        /// Its table.
        table: String,
        /// Its `sys_id`.
        sys_id: String,
    },
    /// The action's condition does not hold for the record.
    #[error("action '{action}' does not apply to this record in its current state")]
    NotApplicable {
        /// The action's name.
        action: String,
    },
    /// A validate step failed.
    #[error("{message}")]
    Validation {
        /// The action's name.
        action: String,
        /// The step's number, from 1.
        step: usize,
        /// The step's message.
        message: String,
    },
    /// The inputs were not acceptable.
    #[error("{0}")]
    Inputs(InputErrors),
    /// The action may not run offline.
    #[error("action '{action}' is not available offline")]
    UnavailableOffline {
        /// The action's name.
        action: String,
    },
    /// A hook refused the action or failed.
    #[error("{name} failed: {message}")]
    Hook {
        /// The hook's name.
        name: String,
        /// Its message.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ActionError {
    /// A stable code for the error, for HTTP answers and outbox entries.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::Exists { .. } => "conflict",
            Self::NotApplicable { .. } => "not_applicable",
            Self::Validation { .. } => "validation_failed",
            Self::Inputs(_) => "invalid_inputs",
            Self::UnavailableOffline { .. } => "unavailable_offline",
            Self::Hook { .. } => "hook_failed",
            Self::Store(_) => "storage",
        }
    }
}

/// Runs action `def` on record `sys_id` of its table: the steps of `side`'s modes, in order.
/// For a record-less action `sys_id` is the record it creates ([`ActionDef::new_record_id`]),
/// which must not exist yet. Either every step succeeds and all their writes are stored, or
/// the store is left as it was.
pub fn run(
    def: &ActionDef,
    side: Side,
    store: &mut dyn Store,
    hooks: &mut dyn Hooks,
    ctx: &ActionContext,
    sys_id: &str,
    inputs: &Map<String, Value>,
) -> Result<Outcome, ActionError> {
    if side == Side::Device && !def.offline {
        return Err(ActionError::UnavailableOffline {
            action: def.name.clone(),
        });
    }
    let inputs = def.validate_inputs(inputs).map_err(ActionError::Inputs)?;
    // A record-less action's first step makes its record (and refuses one that exists).
    let record = if def.record {
        store
            .get(&def.table, sys_id)?
            .ok_or_else(|| not_found(&def.table, sys_id))?
    } else {
        Record::new()
    };
    // Checked on the instance too: the record may have changed since the device saw it.
    if !def.applies_to(&record, &ctx.user) {
        return Err(ActionError::NotApplicable {
            action: def.name.clone(),
        });
    }
    let mut run = Run {
        def,
        ctx,
        inputs: &inputs,
        sys_id,
        overlay: Overlay::new(store),
        last_seen: record,
        changed: false,
        created: Vec::new(),
        journaled: 0,
    };
    for (index, step) in def.steps.iter().enumerate() {
        if step.mode.runs_on(side) {
            run.step(index + 1, step, hooks)?;
        }
    }
    run.finish()
}

fn not_found(table: &str, sys_id: &str) -> ActionError {
    ActionError::NotFound {
        table: table.to_string(),
        sys_id: sys_id.to_string(),
    }
}

/// One run of an action: the staged writes and what the steps learned on the way.
struct Run<'a> {
    def: &'a ActionDef,
    ctx: &'a ActionContext,
    inputs: &'a Map<String, Value>,
    sys_id: &'a str,
    overlay: Overlay<'a>,
    /// The target as last read, so that a hook after a delete still sees what was deleted.
    last_seen: Record,
    /// Whether an update step changed a field of the target (it is stamped once, at the end).
    changed: bool,
    created: Vec<(String, String)>,
    /// Journal entries appended so far: each takes an id derived from the invocation and
    /// this count.
    journaled: usize,
}

impl Run<'_> {
    /// The target as the steps so far left it; `None` once deleted.
    fn target(&mut self) -> Result<Option<Record>, ActionError> {
        let current = self.overlay.get(&self.def.table, self.sys_id)?;
        if let Some(record) = &current {
            self.last_seen = record.clone();
        }
        Ok(current)
    }

    fn existing_target(&mut self) -> Result<Record, ActionError> {
        self.target()?
            .ok_or_else(|| not_found(&self.def.table, self.sys_id))
    }

    fn render(&self, template: &Template, record: Option<&Record>) -> Value {
        template.render(&TemplateEnv {
            inputs: self.inputs,
            record,
            now: self.ctx.now,
            user: &self.ctx.user.user_name,
        })
    }

    fn step(
        &mut self,
        number: usize,
        step: &Step,
        hooks: &mut dyn Hooks,
    ) -> Result<(), ActionError> {
        match &step.op {
            StepOp::Validate { condition, message } => {
                // Conditions see the inputs as `input.NAME` fields beside the record's own.
                let mut subject = self.target()?.unwrap_or_default();
                for (name, value) in self.inputs {
                    subject.set(format!("input.{name}"), value.clone());
                }
                if !condition.matches(&subject, &self.ctx.user) {
                    return Err(ActionError::Validation {
                        action: self.def.name.clone(),
                        step: number,
                        message: message.clone(),
                    });
                }
            }
            StepOp::Update { set } => {
                let before = self.existing_target()?;
                let mut after = before.clone();
                let mut changed = false;
                // Every template reads the record as the step found it, so the order of the
                // fields in `set` does not matter.
                for (field, template) in set {
                    let value = self.render(template, Some(&before));
                    if is_journal_field(field) {
                        self.journal(&self.def.table, self.sys_id, field, &value)?;
                    } else if after.get(field).unwrap_or(&Value::Null) != &value {
                        after.set(field.clone(), value);
                        changed = true;
                    }
                }
                if changed {
                    self.overlay.put(&self.def.table, after)?;
                    self.changed = true;
                }
            }
            StepOp::Create { table, set } => {
                let target = self.target()?;
                let sys_id = derived_sys_id(&self.ctx.invocation_id, number);
                if self.overlay.get(table, &sys_id)?.is_some() {
                    return Err(ActionError::Exists {
                        table: table.clone(),
                        sys_id,
                    });
                }
                let mut record = Record::new();
                let mut notes = Vec::new();
                for (field, template) in set {
                    let value = self.render(template, target.as_ref());
                    if is_journal_field(field) {
                        notes.push((field, value));
                    } else {
                        record.set(field.clone(), value);
                    }
                }
                record.set("sys_id", sys_id.clone());
                record.stamp_insert(&self.ctx.user.user_name, self.ctx.now);
                self.overlay.put(table, record)?;
                for (field, value) in notes {
                    self.journal(table, &sys_id, field, &value)?;
                }
                self.created.push((table.clone(), sys_id));
            }
            StepOp::Delete => {
                self.existing_target()?;
                self.overlay.delete(&self.def.table, self.sys_id)?;
            }
            StepOp::Journal { element, value } => {
                let target = self.existing_target()?;
                let value = self.render(value, Some(&target));
                self.journal(&self.def.table, self.sys_id, element, &value)?;
            }
            StepOp::Attach { input } => {
                self.existing_target()?;
                // An optional file left out attaches nothing.
                let Some(value) = self.inputs.get(input) else {
                    return Ok(());
                };
                let file = FileInput::deserialize(value).map_err(|e| {
                    ActionError::Inputs(InputErrors(vec![InputError {
                        input: input.clone(),
                        message: format!("'{input}' is not a file: {e}"),
                    }]))
                })?;
                self.overlay.add_attachment(
                    &self.def.table,
                    self.sys_id,
                    &derived_sys_id(&self.ctx.invocation_id, number),
                    &file,
                    &self.ctx.user.user_name,
                    self.ctx.now,
                )?;
            }
            StepOp::Hook { name } => {
                let record = self.target()?.unwrap_or_else(|| self.last_seen.clone());
                hooks
                    .call(name, &mut self.overlay, &self.def.table, &record, self.ctx)
                    .map_err(|message| ActionError::Hook {
                        name: name.clone(),
                        message,
                    })?;
            }
        }
        Ok(())
    }

    /// Appends a work note or comment; a blank one (an optional note left empty) is skipped.
    fn journal(
        &mut self,
        table: &str,
        element_id: &str,
        element: &str,
        value: &Value,
    ) -> Result<(), ActionError> {
        let text = value_text(value).unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(());
        }
        self.journaled += 1;
        let key = format!("{}/journal", self.ctx.invocation_id);
        self.overlay.append_journal(JournalEntry {
            sys_id: Some(derived_sys_id(&key, self.journaled)),
            table: table.to_string(),
            element_id: element_id.to_string(),
            element: element.to_string(),
            value: text,
            sys_created_by: self.ctx.user.user_name.clone(),
            sys_created_on: self.ctx.now,
        })?;
        Ok(())
    }

    fn finish(mut self) -> Result<Outcome, ActionError> {
        let mut record = self.overlay.get(&self.def.table, self.sys_id)?;
        if let Some(target) = record.as_mut().filter(|_| self.changed) {
            target.stamp_update(&self.ctx.user.user_name, self.ctx.now);
            self.overlay.put(&self.def.table, target.clone())?;
        }
        let mut created = Vec::new();
        // A record-less action's own record is its target, not one more created record.
        let others = self.created.iter().filter(|(table, sys_id)| {
            (table.as_str(), sys_id.as_str()) != (&self.def.table, self.sys_id)
        });
        for (table, sys_id) in others {
            if let Some(record) = self.overlay.get(table, sys_id)? {
                created.push((table.clone(), record));
            }
        }
        let flushed = self.overlay.flush()?;
        Ok(Outcome {
            deleted: record.is_none(),
            record,
            created,
            journal: flushed.journal,
            attachments: flushed.attachments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{accept_task_json, action, ctx, inputs, task, task_store, TASK};
    use super::*;
    use crate::record::is_valid_sys_id;
    use crate::store::{MemoryStore, ATTACHMENT_TABLE};
    use serde_json::json;

    fn run_on(
        def: &ActionDef,
        side: Side,
        store: &mut MemoryStore,
        given: Value,
    ) -> Result<Outcome, ActionError> {
        run(def, side, store, &mut NoHooks, &ctx(), TASK, &inputs(given))
    }

    /// Asserts that a failed run left the store exactly as it was.
    fn assert_untouched(store: &MemoryStore, before: &MemoryStore) {
        assert_eq!(store.tables, before.tables);
        assert_eq!(store.journal, before.journal);
    }

    /// Records every hook call and writes a marker record through the store it is given.
    #[derive(Default)]
    struct RecordingHooks {
        calls: Vec<(String, String, Option<String>)>,
        fail_with: Option<String>,
    }

    impl Hooks for RecordingHooks {
        fn call(
            &mut self,
            name: &str,
            store: &mut dyn Store,
            table: &str,
            record: &Record,
            _ctx: &ActionContext,
        ) -> Result<(), String> {
            self.calls
                .push((name.into(), table.into(), record.text("state")));
            let mut marker = Record::new();
            marker.set("sys_id", "feedfeedfeedfeedfeedfeedfeedfeed");
            marker.set("hook", name);
            store.put("hook_log", marker).map_err(|e| e.to_string())?;
            match &self.fail_with {
                Some(message) => Err(message.clone()),
                None => Ok(()),
            }
        }
    }

    fn accept_task() -> ActionDef {
        ActionDef::from_json(&accept_task_json()).unwrap()
    }

    #[test]
    fn the_spec_example_accepts_the_task_on_the_device() {
        let mut store = task_store();
        let outcome = run_on(&accept_task(), Side::Device, &mut store, json!({})).unwrap();
        let record = outcome.record.unwrap();
        assert_eq!(record.text("state").unwrap(), "accepted");
        assert_eq!(task(&store).unwrap(), record);
        assert!(!outcome.deleted);
    }

    #[test]
    fn the_device_runs_offline_and_both_steps_and_the_instance_online_and_both() {
        let def = action(
            json!([]),
            json!([
                {"mode": "offline", "op": "update", "set": {"short_description": "device"}},
                {"mode": "online", "op": "update", "set": {"short_description": "instance"}},
                {"mode": "both", "op": "update", "set": {"priority": 1}}
            ]),
        );
        let mut device = task_store();
        let mut instance = task_store();
        run_on(&def, Side::Device, &mut device, json!({})).unwrap();
        run_on(&def, Side::Instance, &mut instance, json!({})).unwrap();
        let (device, instance) = (task(&device).unwrap(), task(&instance).unwrap());
        assert_eq!(device.text("short_description").unwrap(), "device");
        assert_eq!(instance.text("short_description").unwrap(), "instance");
        assert_eq!(device.get("priority"), Some(&json!(1)));
        assert_eq!(instance.get("priority"), Some(&json!(1)));
    }

    #[test]
    fn hooks_run_only_on_the_instance() {
        let mut hooks = RecordingHooks::default();
        let mut store = task_store();
        run(
            &accept_task(),
            Side::Device,
            &mut store,
            &mut hooks,
            &ctx(),
            TASK,
            &Map::new(),
        )
        .unwrap();
        assert!(hooks.calls.is_empty());
        let mut store = task_store();
        run(
            &accept_task(),
            Side::Instance,
            &mut store,
            &mut hooks,
            &ctx(),
            TASK,
            &Map::new(),
        )
        .unwrap();
        assert_eq!(
            hooks.calls,
            [(
                "notify_dispatcher".into(),
                "wm_task".into(),
                Some("accepted".into())
            )]
        );
        // What the hook wrote through its store is kept with the action's own changes.
        assert_eq!(store.records("hook_log").len(), 1);
    }

    #[test]
    fn a_failing_validation_stores_nothing_even_after_earlier_steps_changed_data() {
        let def = action(
            json!([{"name": "photo", "label": "Photo", "type": "file"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "accepted", "work_notes": "accepting"}},
                {"mode": "both", "op": "create", "table": "wm_time", "set": {"hours": 1}},
                {"mode": "both", "op": "attach", "input": "photo"},
                {"mode": "both", "op": "validate", "condition": "priority=1", "message": "Only urgent tasks"},
                {"mode": "both", "op": "update", "set": {"close_notes": "never"}}
            ]),
        );
        let file = json!({"file_name": "a.jpg", "content_type": "image/jpeg", "size_bytes": 1, "hash": "00"});
        let mut store = task_store();
        let before = store.clone();
        let err = run_on(&def, Side::Device, &mut store, json!({"photo": file})).unwrap_err();
        assert_eq!(
            err,
            ActionError::Validation {
                action: "test_action".into(),
                step: 4,
                message: "Only urgent tasks".into()
            }
        );
        assert_eq!(err.to_string(), "Only urgent tasks");
        assert_eq!(err.code(), "validation_failed");
        assert_untouched(&store, &before);
    }

    #[test]
    fn validation_sees_the_inputs_and_the_changes_of_earlier_steps() {
        let def = action(
            json!([{"name": "close_notes", "label": "Close notes", "type": "text"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "closed_complete"}},
                {"mode": "both", "op": "validate", "condition": "state=closed_complete^input.close_notesISNOTEMPTY",
                 "message": "Close notes are needed to close"},
                {"mode": "both", "op": "update", "set": {"close_notes": "${input.close_notes}"}}
            ]),
        );
        let mut store = task_store();
        let err = run_on(&def, Side::Instance, &mut store, json!({})).unwrap_err();
        assert_eq!(err.to_string(), "Close notes are needed to close");
        let outcome = run_on(
            &def,
            Side::Instance,
            &mut store,
            json!({"close_notes": "Pump replaced"}),
        )
        .unwrap();
        assert_eq!(
            outcome.record.unwrap().text("close_notes").unwrap(),
            "Pump replaced"
        );
    }

    #[test]
    fn an_action_whose_condition_fails_is_not_applicable() {
        let mut store = task_store();
        let before = store.clone();
        let mut other = ctx();
        other.user.user_name = "abel.tuter".into();
        let err = run(
            &accept_task(),
            Side::Instance,
            &mut store,
            &mut NoHooks,
            &other,
            TASK,
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ActionError::NotApplicable {
                action: "accept_task".into()
            }
        );
        assert_eq!(err.code(), "not_applicable");
        assert_untouched(&store, &before);
    }

    #[test]
    fn a_missing_record_is_not_found() {
        let mut store = MemoryStore::new();
        let err = run_on(&accept_task(), Side::Device, &mut store, json!({})).unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert!(err.to_string().contains(TASK), "{err}");
    }

    #[test]
    fn an_online_only_action_is_unavailable_on_the_device() {
        let mut value = accept_task_json();
        value["offline"] = json!(false);
        let def = ActionDef::from_json(&value).unwrap();
        let mut store = task_store();
        let err = run_on(&def, Side::Device, &mut store, json!({})).unwrap_err();
        assert_eq!(err.code(), "unavailable_offline");
        assert_eq!(
            err.to_string(),
            "action 'accept_task' is not available offline"
        );
        let mut hooks = RecordingHooks::default();
        assert!(run(
            &def,
            Side::Instance,
            &mut store,
            &mut hooks,
            &ctx(),
            TASK,
            &Map::new()
        )
        .is_ok());
    }

    #[test]
    fn bad_inputs_are_refused_before_anything_runs() {
        let mut store = task_store();
        let before = store.clone();
        let err = run_on(
            &accept_task(),
            Side::Device,
            &mut store,
            json!({"note": 5, "x": 1}),
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_inputs");
        let ActionError::Inputs(errors) = &err else {
            panic!("expected input errors, got {err:?}");
        };
        assert_eq!(errors.0.len(), 2);
        assert_untouched(&store, &before);
    }

    #[test]
    fn the_target_is_stamped_once_per_run_however_many_updates_change_it() {
        let def = action(
            json!([]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "accepted"}},
                {"mode": "both", "op": "update", "set": {"state": "work_in_progress", "work_start": "${now}"}}
            ]),
        );
        let mut store = task_store();
        let record = run_on(&def, Side::Device, &mut store, json!({}))
            .unwrap()
            .record
            .unwrap();
        assert_eq!(record.mod_count(), 4);
        assert_eq!(record.text("sys_updated_by").unwrap(), "beth.anglin");
        assert_eq!(
            record.text("sys_updated_on").unwrap(),
            ctx().now.to_string()
        );
        assert_eq!(record.text("work_start").unwrap(), ctx().now.to_string());
    }

    #[test]
    fn an_update_that_changes_nothing_does_not_stamp_the_record() {
        let def = action(
            json!([]),
            json!([{"mode": "both", "op": "update", "set": {"state": "assigned"}}]),
        );
        let mut store = task_store();
        let before = task(&store).unwrap();
        let outcome = run_on(&def, Side::Device, &mut store, json!({})).unwrap();
        assert_eq!(outcome.record.unwrap(), before);
        assert_eq!(task(&store).unwrap(), before);
    }

    #[test]
    fn templates_write_typed_inputs_record_fields_and_the_user() {
        let def = action(
            json!([{"name": "hours", "label": "Hours", "type": "number", "required": true}]),
            json!([{"mode": "both", "op": "update", "set": {
                "estimate": "${input.hours}",
                "description": "${record.number}: ${input.hours}h by ${user}",
                "assigned_to": "${user}"
            }}]),
        );
        let mut store = task_store();
        let record = run_on(&def, Side::Device, &mut store, json!({"hours": "3"}))
            .unwrap()
            .record
            .unwrap();
        assert_eq!(record.get("estimate"), Some(&json!(3)));
        assert_eq!(
            record.text("description").unwrap(),
            "WOT0001001: 3h by beth.anglin"
        );
    }

    #[test]
    fn work_notes_in_an_update_and_journal_steps_append_entries() {
        let def = action(
            json!([{"name": "note", "label": "Note", "type": "text"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "accepted", "work_notes": "Accepted: ${input.note}"}},
                {"mode": "both", "op": "journal", "element": "comments", "value": "${input.note}"}
            ]),
        );
        let mut store = task_store();
        let outcome = run_on(&def, Side::Device, &mut store, json!({"note": "on my way"})).unwrap();
        let record = outcome.record.unwrap();
        assert!(
            record.get("work_notes").is_none(),
            "work notes are not a field"
        );
        let entries: Vec<(&str, &str)> = store
            .journal
            .iter()
            .map(|e| (e.element.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            entries,
            [
                ("work_notes", "Accepted: on my way"),
                ("comments", "on my way")
            ]
        );
        assert_eq!(outcome.journal, store.journal);
        let entry = &store.journal[0];
        assert_eq!(
            (entry.table.as_str(), entry.element_id.as_str()),
            ("wm_task", TASK)
        );
        assert_eq!(entry.sys_created_by, "beth.anglin");
        assert_eq!(entry.sys_created_on, ctx().now);
    }

    #[test]
    fn an_optional_note_left_blank_appends_nothing() {
        let def = action(
            json!([{"name": "note", "label": "Note", "type": "text"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"work_notes": "${input.note}"}},
                {"mode": "both", "op": "journal", "element": "comments", "value": "${input.note}"}
            ]),
        );
        let mut store = task_store();
        let outcome = run_on(&def, Side::Device, &mut store, json!({"note": ""})).unwrap();
        assert!(outcome.journal.is_empty());
        assert!(store.journal.is_empty());
        assert_eq!(task(&store).unwrap().mod_count(), 3);
    }

    #[test]
    fn delete_removes_the_target_and_later_steps_find_nothing() {
        let def = action(json!([]), json!([{"mode": "both", "op": "delete"}]));
        let mut store = task_store();
        let outcome = run_on(&def, Side::Instance, &mut store, json!({})).unwrap();
        assert!(outcome.deleted);
        assert!(outcome.record.is_none());
        assert!(task(&store).is_none());

        let def = action(
            json!([]),
            json!([{"mode": "both", "op": "delete"}, {"mode": "both", "op": "update", "set": {"state": "x"}}]),
        );
        let mut store = task_store();
        let before = store.clone();
        let err = run_on(&def, Side::Instance, &mut store, json!({})).unwrap_err();
        assert_eq!(
            err,
            ActionError::NotFound {
                table: "wm_task".into(),
                sys_id: TASK.into()
            }
        );
        assert_untouched(&store, &before);
    }

    #[test]
    fn a_hook_after_a_delete_sees_the_deleted_record() {
        let def = action(
            json!([]),
            json!([{"mode": "both", "op": "delete"}, {"mode": "online", "op": "hook", "name": "archive"}]),
        );
        let mut hooks = RecordingHooks::default();
        let mut store = task_store();
        run(
            &def,
            Side::Instance,
            &mut store,
            &mut hooks,
            &ctx(),
            TASK,
            &Map::new(),
        )
        .unwrap();
        assert_eq!(
            hooks.calls,
            [("archive".into(), "wm_task".into(), Some("assigned".into()))]
        );
    }

    #[test]
    fn created_records_get_the_same_derived_id_on_both_sides() {
        let def = action(
            json!([{"name": "hours", "label": "Hours", "type": "number"}]),
            json!([
                {"mode": "both", "op": "validate", "condition": "state=assigned", "message": "m"},
                {"mode": "both", "op": "create", "table": "wm_time",
                 "set": {"task": "${record.sys_id}", "hours": "${input.hours}", "work_notes": "logged"}}
            ]),
        );
        let mut device = task_store();
        let mut instance = task_store();
        let on_device = run_on(&def, Side::Device, &mut device, json!({"hours": 2})).unwrap();
        let on_instance = run_on(&def, Side::Instance, &mut instance, json!({"hours": 2})).unwrap();
        let (table, created) = &on_device.created[0];
        assert_eq!(table, "wm_time");
        let id = derived_sys_id("inv-1", 2);
        assert_eq!(created.sys_id(), Some(id.as_str()));
        assert_eq!(on_instance.created[0].1.sys_id(), Some(id.as_str()));
        assert_eq!(created.text("task").unwrap(), TASK);
        assert_eq!(created.get("hours"), Some(&json!(2)));
        assert_eq!(created.mod_count(), 0);
        assert_eq!(created.text("sys_created_by").unwrap(), "beth.anglin");
        assert_eq!(device.get("wm_time", &id).unwrap().as_ref(), Some(created));
        assert_eq!(device.journal[0].element_id, id);
        // Creating another record leaves the target itself alone.
        assert_eq!(task(&device).unwrap().mod_count(), 3);
    }

    #[test]
    fn attach_stores_the_file_input_under_a_derived_id() {
        let def = action(
            json!([{"name": "photo", "label": "Photo", "type": "file"}]),
            json!([{"mode": "both", "op": "attach", "input": "photo"}]),
        );
        let file = json!({"file_name": "pump.jpg", "content_type": "image/jpeg", "size_bytes": 4,
                          "hash": "ab".repeat(32)});
        let mut store = task_store();
        let outcome = run_on(&def, Side::Device, &mut store, json!({"photo": file})).unwrap();
        let id = derived_sys_id("inv-1", 1);
        assert!(is_valid_sys_id(&id));
        let stored = store.get(ATTACHMENT_TABLE, &id).unwrap().unwrap();
        assert_eq!(outcome.attachments, std::slice::from_ref(&stored));
        assert_eq!(stored.text("table_sys_id").unwrap(), TASK);
        assert_eq!(stored.text("file_name").unwrap(), "pump.jpg");

        let mut store = task_store();
        let outcome = run_on(&def, Side::Device, &mut store, json!({})).unwrap();
        assert!(outcome.attachments.is_empty());
        assert!(store.records(ATTACHMENT_TABLE).is_empty());
    }

    #[test]
    fn an_unknown_hook_refuses_the_action_and_stores_nothing() {
        let mut store = task_store();
        let before = store.clone();
        let err = run_on(&accept_task(), Side::Instance, &mut store, json!({})).unwrap_err();
        assert_eq!(
            err,
            ActionError::Hook {
                name: "notify_dispatcher".into(),
                message: "unknown hook 'notify_dispatcher'".into()
            }
        );
        assert_eq!(err.code(), "hook_failed");
        assert_untouched(&store, &before);
    }

    #[test]
    fn a_failing_hook_discards_its_own_writes_too() {
        let mut hooks = RecordingHooks {
            fail_with: Some("the dispatcher is unreachable".into()),
            ..Default::default()
        };
        let mut store = task_store();
        let before = store.clone();
        let err = run(
            &accept_task(),
            Side::Instance,
            &mut store,
            &mut hooks,
            &ctx(),
            TASK,
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "notify_dispatcher failed: the dispatcher is unreachable"
        );
        assert_eq!(hooks.calls.len(), 1);
        assert_untouched(&store, &before);
    }

    #[test]
    fn store_failures_are_storage_errors() {
        struct Broken;
        impl Store for Broken {
            fn get(&self, _: &str, _: &str) -> Result<Option<Record>, StoreError> {
                Err(StoreError("disk on fire".into()))
            }
            fn put(&mut self, _: &str, _: Record) -> Result<(), StoreError> {
                Err(StoreError("disk on fire".into()))
            }
            fn delete(&mut self, _: &str, _: &str) -> Result<bool, StoreError> {
                Err(StoreError("disk on fire".into()))
            }
            fn append_journal(&mut self, _: JournalEntry) -> Result<(), StoreError> {
                Err(StoreError("disk on fire".into()))
            }
            fn add_attachment(
                &mut self,
                _: &str,
                _: &str,
                _: &str,
                _: &FileInput,
                _: &str,
                _: Timestamp,
            ) -> Result<Record, StoreError> {
                Err(StoreError("disk on fire".into()))
            }
        }
        let err = run(
            &accept_task(),
            Side::Device,
            &mut Broken,
            &mut NoHooks,
            &ctx(),
            TASK,
            &Map::new(),
        )
        .unwrap_err();
        assert_eq!(err.code(), "storage");
        assert_eq!(err.to_string(), "storage failed: disk on fire");
    }

    #[test]
    fn a_record_less_action_creates_its_record_and_its_later_steps_work_on_it() {
        let def = ActionDef::from_json(&json!({
            "name": "new_incident", "table": "incident", "record": false, "offline": true,
            "inputs": [{"name": "what", "label": "What", "type": "string", "required": true}],
            "steps": [
                {"mode": "both", "op": "create", "table": "incident",
                 "set": {"short_description": "${input.what}", "state": "new"}},
                {"mode": "both", "op": "update", "set": {"priority": "2"}},
                {"mode": "both", "op": "journal", "element": "work_notes", "value": "Opened"}
            ]
        }))
        .unwrap();
        let id = def.new_record_id(&ctx().invocation_id).unwrap();
        let mut store = MemoryStore::new();
        let given = inputs(json!({"what": "Leak"}));
        let outcome = run(
            &def,
            Side::Device,
            &mut store,
            &mut NoHooks,
            &ctx(),
            &id,
            &given,
        )
        .unwrap();
        let record = outcome.record.clone().unwrap();
        assert_eq!(record.sys_id(), Some(id.as_str()));
        assert_eq!(
            (record.text("short_description"), record.text("priority")),
            (Some("Leak".into()), Some("2".into()))
        );
        assert!(
            outcome.created.is_empty(),
            "its record is the target, not one more"
        );
        assert!(!outcome.deleted);
        assert_eq!(outcome.journal[0].element_id, id);
        assert_eq!(store.get("incident", &id).unwrap(), Some(record));
        let before = store.clone();
        let again = run(
            &def,
            Side::Instance,
            &mut store,
            &mut NoHooks,
            &ctx(),
            &id,
            &given,
        );
        assert!(
            matches!(again, Err(ActionError::Exists { .. })),
            "{again:?}"
        );
        assert_untouched(&store, &before);
    }
}
