//! The instance's rule for one outbox entry of `POST /api/offgrid/sync` (SPEC 5, 7.1), in the
//! core so the instance and the core's own sync tests run the same decision.
//!
//! For each entry, in order: an id that is not a UUID is rejected; an id the same user sent
//! before gets its first answer; what could never have been
//! queued is rejected (an unknown action, one of another table, one that may not run offline,
//! one the user's roles may not run); an entry behind a failed entry of the same record in the batch
//! is blocked; a deleted record is a conflict; otherwise the action's online steps run on the
//! current record, and a written field that moved to a third value since the device's base is
//! a conflict. Only an applied entry changes anything, and its answer is remembered with the
//! change, so the caller commits both in one transaction or neither.

use super::{ResultError, SyncEntry, SyncResult, SyncStatus};
use crate::action::{run, ActionContext, ActionError, ActionSet, Hooks, Side};
use crate::api::action::{definition, permitted};
use crate::api::ApiError;
use crate::conflict::{self, Verdict};
use crate::outbox::Base;
use crate::query::QueryContext;
use crate::record::{is_valid_uuid, value_text, Record};
use crate::store::{Store, StoreError};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The storage an entry is applied to: the records, and the answers of the entries applied
/// so far (the idempotency record), written in the same transaction as the records.
pub trait Ledger: Store {
    /// The answer entry `id` of `user` got when it applied, if it did. Answers are kept per
    /// user, so one user's id never returns another user's answer.
    fn answered(&self, id: &str, user: &str) -> Result<Option<SyncResult>, StoreError>;
    /// Remembers the answer of applied entry `id`, made by `user`, with its change.
    fn remember(&mut self, id: &str, user: &str, result: &SyncResult) -> Result<(), StoreError>;
    /// Why the store just refused a file because of the entry itself (bytes that do not
    /// match their hash, too large), taken once: the entry is rejected instead of the store
    /// failing. `None` when the store simply failed.
    fn take_refusal(&mut self) -> Option<String> {
        None
    }
}

/// What became of one entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The answer for the device.
    pub result: SyncResult,
    /// Whether to commit: the entry changed the store and its answer was remembered.
    /// Otherwise whatever the store holds of this entry must be rolled back.
    pub commit: bool,
}

/// The records of one batch whose entry did not apply: their later entries in the batch are
/// blocked, or they would apply out of order.
#[derive(Clone, Debug, Default)]
pub struct Lanes {
    failed: BTreeSet<(String, String)>,
}

impl Lanes {
    /// A new batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `entry` as `user`, who has `roles`, with the definitions of `set`, its online
    /// steps calling `hooks`. An `Err` is a storage failure: nothing is answered for the entry.
    pub fn apply<S: Ledger, R: AsRef<str>>(
        &mut self,
        entry: &SyncEntry,
        set: &ActionSet,
        store: &mut S,
        hooks: &mut dyn Hooks,
        user: &QueryContext,
        roles: &[R],
    ) -> Result<Applied, StoreError> {
        let key = (entry.table.clone(), entry.sys_id.clone());
        let blocked = self.failed.contains(&key);
        let applied = decide(entry, set, store, hooks, user, roles, blocked)?;
        if applied.result.status != SyncStatus::Applied {
            self.failed.insert(key);
        }
        Ok(applied)
    }
}

fn decide<S: Ledger, R: AsRef<str>>(
    entry: &SyncEntry,
    set: &ActionSet,
    store: &mut S,
    hooks: &mut dyn Hooks,
    user: &QueryContext,
    roles: &[R],
    blocked: bool,
) -> Result<Applied, StoreError> {
    if !is_valid_uuid(&entry.id) {
        let message = format!(
            "entry id {:?} is not a UUID (8-4-4-4-12 lowercase hexadecimal digits)",
            entry.id
        );
        return Ok(kept(failure(
            entry,
            SyncStatus::Rejected,
            "bad_request",
            message,
            None,
        )));
    }
    if let Some(first) = store.answered(&entry.id, &user.user_name)? {
        return Ok(kept(first));
    }
    // What could never have been queued is rejected with the contract's own refusal.
    let def = match definition(set, &entry.action, &entry.table) {
        Ok(def) => def,
        Err(e) => return Ok(kept(rejected(entry, e))),
    };
    if !def.offline {
        let e = ActionError::UnavailableOffline {
            action: def.name.clone(),
        };
        let message = format!("{e}: it runs only live on the instance, never from the outbox");
        return Ok(kept(failure(
            entry,
            SyncStatus::Rejected,
            e.code(),
            message,
            None,
        )));
    }
    if let Err(e) = permitted(def, &user.user_name, roles) {
        return Ok(kept(rejected(entry, e)));
    }
    if blocked {
        let message = "an earlier change to this record in the same sync did not apply; \
                       this one waits until that one is resolved or deleted";
        let result = failure(entry, SyncStatus::Blocked, "blocked", message.into(), None);
        return Ok(kept(result));
    }
    // A record-less action's entry names the record it creates, with the id the device
    // derived from the entry's; any other id would create a record the device does not know.
    let before = match def.new_record_id(&entry.id) {
        None => match store.get(&entry.table, &entry.sys_id)? {
            Some(before) => Some(before),
            None => return Ok(kept(deleted(entry))),
        },
        Some(created) if created == entry.sys_id => None,
        Some(created) => {
            let e = ApiError::bad_request(format!(
                "action {} creates its record as {created}, the id the entry's own id gives it, \
                 not {}",
                def.name, entry.sys_id
            ));
            return Ok(kept(rejected(entry, e)));
        }
    };
    let ctx = ActionContext {
        user: user.clone(),
        // The time the change was made on the device, so `${now}` has the same value on
        // both sides.
        now: entry.queued_at,
        invocation_id: entry.id.clone(),
    };
    let ran = run(
        def,
        Side::Instance,
        store,
        hooks,
        &ctx,
        &entry.sys_id,
        &entry.inputs,
    );
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err(e) => {
            let refusal = store.take_refusal();
            return refused(entry, e, refusal, before.as_ref()).map(kept);
        }
    };
    let writes: Map<String, Value> = match &outcome.record {
        Some(record) => def
            .written_fields()
            .into_iter()
            .filter_map(|f| record.get(&f).cloned().map(|v| (f, v)))
            .collect(),
        None => Map::new(),
    };
    // A record the entry creates has no earlier version to conflict with.
    let verdict = match &before {
        Some(before) => conflict::check(&entry.base, &writes, Some(before)),
        None => Verdict::Merge { fields: Vec::new() },
    };
    if let Verdict::Conflict(c) = verdict {
        let mut result = failure(
            entry,
            SyncStatus::Conflict,
            c.code,
            c.message,
            before.as_ref(),
        );
        if let Some(error) = &mut result.error {
            error.field = c.field;
        }
        return Ok(kept(result));
    }
    let result = SyncResult {
        id: entry.id.clone(),
        status: SyncStatus::Applied,
        record: outcome.record,
        error: None,
    };
    store.remember(&entry.id, &user.user_name, &result)?;
    Ok(Applied {
        result,
        commit: true,
    })
}

/// The answer to an entry of a batch that is not an entry at all (a wrong type, a missing
/// field): `rejected` `bad_request` on its own, named by its `id` when it has a string one, so
/// the entries around it still apply.
pub fn malformed(entry: &Value, fault: &str) -> SyncResult {
    let id = entry.get("id").and_then(Value::as_str).unwrap_or_default();
    SyncResult {
        id: id.to_string(),
        status: SyncStatus::Rejected,
        record: None,
        error: Some(ResultError {
            code: "bad_request".to_string(),
            message: format!("this entry is malformed: {fault}"),
            record: None,
            field: None,
            detail: None,
        }),
    }
}

/// An answer that changes nothing.
fn kept(result: SyncResult) -> Applied {
    Applied {
        result,
        commit: false,
    }
}

/// An entry refused as the contract refuses the same call live.
fn rejected(entry: &SyncEntry, e: ApiError) -> SyncResult {
    failure(entry, SyncStatus::Rejected, &e.code, e.message, None)
}

/// A result that did not apply; `record` is the instance's current record, when there is
/// one to show.
fn failure(
    entry: &SyncEntry,
    status: SyncStatus,
    code: &str,
    message: String,
    record: Option<&Record>,
) -> SyncResult {
    SyncResult {
        id: entry.id.clone(),
        status,
        record: record.cloned(),
        error: Some(ResultError {
            code: code.to_string(),
            message,
            record: record.cloned(),
            field: None,
            detail: None,
        }),
    }
}

fn deleted(entry: &SyncEntry) -> SyncResult {
    let (code, message) = match conflict::check(&entry.base, &Map::new(), None) {
        Verdict::Conflict(c) => (c.code, c.message),
        _ => ("deleted", "the record was deleted".to_string()),
    };
    failure(entry, SyncStatus::Conflict, code, message, None)
}

/// How an entry the engine refused is answered. Validation failures on the instance's
/// current record (`None` for the record a record-less action creates) are conflicts (the
/// user resolves them); bad inputs are rejections.
fn refused(
    entry: &SyncEntry,
    e: ActionError,
    refusal: Option<String>,
    current: Option<&Record>,
) -> Result<SyncResult, StoreError> {
    let message = e.to_string();
    Ok(match e {
        ActionError::NotFound { .. } => deleted(entry),
        ActionError::NotApplicable { .. } | ActionError::Validation { .. } => {
            let since = current.map(|c| moved_since(&entry.base, c));
            let message = format!("{message}{}", since.unwrap_or_default());
            failure(entry, SyncStatus::Conflict, e.code(), message, current)
        }
        ActionError::Inputs(ref errors) => {
            let mut result = failure(entry, SyncStatus::Rejected, e.code(), message, None);
            if let Some(error) = &mut result.error {
                error.detail = Some(ApiError::invalid_inputs(errors).detail);
            }
            result
        }
        // The same entry would make the same record again however often it is resent.
        ActionError::Exists { .. } => failure(entry, SyncStatus::Rejected, e.code(), message, None),
        ActionError::UnavailableOffline { .. } | ActionError::Hook { .. } => {
            failure(entry, SyncStatus::Rejected, e.code(), message, current)
        }
        ActionError::Store(fault) => match refusal {
            Some(reason) => {
                let refused = ApiError::invalid_attachment(reason);
                failure(
                    entry,
                    SyncStatus::Rejected,
                    &refused.code,
                    refused.message,
                    None,
                )
            }
            None => return Err(fault),
        },
    })
}

/// What changed on the instance since the device saw the record, for a refusal's message:
/// " (since your change: state is now closed_complete, changed by fred.luddy at ...)".
fn moved_since(base: &Base, current: &Record) -> String {
    let Verdict::Merge { fields } = conflict::check(base, &Map::new(), Some(current)) else {
        return String::new();
    };
    if fields.is_empty() {
        return String::new();
    }
    let who = current
        .text("sys_updated_by")
        .unwrap_or_else(|| "someone".into());
    let when = current.text("sys_updated_on").unwrap_or_default();
    let changes: Vec<String> = fields
        .iter()
        .map(|f| {
            let now = current.get(f).and_then(value_text).unwrap_or_default();
            format!("{f} is now {now:?}")
        })
        .collect();
    format!(
        " (since your change: {}, changed by {who} at {when})",
        changes.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::super::memory::Books;
    use super::*;
    use crate::action::NoHooks;
    use crate::record::Timestamp;
    use serde_json::json;

    const TABLE: &str = "wm_task";

    fn actions() -> ActionSet {
        let set = ActionSet::from_json(&json!([
            {"name": "set_state", "table": TABLE, "offline": true,
             "inputs": [{"name": "state", "label": "State", "type": "string", "required": true}],
             "steps": [{"mode": "both", "op": "update", "set": {"state": "${input.state}"}}]},
            {"name": "accept", "table": TABLE, "offline": true, "condition": "state=assigned",
             "steps": [{"mode": "both", "op": "update", "set": {"state": "accepted"}}]},
            {"name": "drop", "table": TABLE, "offline": true, "roles": ["dispatcher"],
             "steps": [{"mode": "both", "op": "delete"}]},
            {"name": "escalate", "table": TABLE, "offline": false,
             "steps": [{"mode": "online", "op": "update", "set": {"priority": "1"}}]},
            {"name": "close", "table": TABLE, "offline": true,
             "steps": [
                {"mode": "both", "op": "validate", "condition": "state=work_in_progress",
                 "message": "Only work in progress can be closed"},
                {"mode": "both", "op": "update", "set": {"state": "closed_complete"}}
             ]},
            {"name": "open", "table": TABLE, "record": false, "offline": true,
             "inputs": [{"name": "what", "label": "What", "type": "string", "required": true}],
             "steps": [
                {"mode": "both", "op": "create", "table": TABLE,
                 "set": {"short_description": "${input.what}", "state": "new"}},
                {"mode": "both", "op": "journal", "element": "work_notes", "value": "Opened"}
             ]}
        ]));
        match set {
            Ok(set) => set,
            Err(e) => panic!("fixture definitions refused: {e}"),
        }
    }

    fn beth() -> QueryContext {
        QueryContext {
            user_name: "beth.anglin".to_string(),
            user_sys_id: "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0".to_string(),
        }
    }

    /// A task as the instance holds it: `fields` over an assigned task at `sys_mod_count` 3
    /// last changed by fred.luddy.
    fn task(sys_id: &str, fields: Value) -> Record {
        let mut value = json!({
            "sys_id": sys_id, "state": "assigned", "priority": "3", "sys_mod_count": 3,
            "sys_updated_by": "fred.luddy", "sys_updated_on": "2026-11-20 09:30:00"
        });
        for (field, v) in fields.as_object().cloned().unwrap_or_default() {
            value[field] = v;
        }
        Record::from_value(value).unwrap_or_default()
    }

    fn books(records: &[Record]) -> Books {
        let mut books = Books::default();
        for r in records {
            books.records.put(TABLE, r.clone()).unwrap();
        }
        books
    }

    /// A UUID made of a short hexadecimal name (`e1`), so tests can name their entries.
    fn uuid(short: &str) -> String {
        format!("00000000-0000-4000-8000-{short:0>12}")
    }

    /// An entry made on a device that saw `seen` of the record at `sys_mod_count` 3; `id` is
    /// a short hexadecimal name made into a UUID.
    fn entry(id: &str, action: &str, sys_id: &str, seen: Value, inputs: Value) -> SyncEntry {
        SyncEntry {
            id: uuid(id),
            seq: 1,
            action: action.to_string(),
            table: TABLE.to_string(),
            sys_id: sys_id.to_string(),
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            base: Base {
                mod_count: 3,
                fields: seen.as_object().cloned().unwrap_or_default(),
            },
            queued_at: Timestamp::from_unix(1_790_000_000),
        }
    }

    /// Applies `entry` in its own "transaction": rolled back unless the rule commits it.
    fn apply(books: &mut Books, lanes: &mut Lanes, entry: &SyncEntry) -> Applied {
        let before = books.clone();
        let applied = lanes
            .apply(
                entry,
                &actions(),
                books,
                &mut NoHooks,
                &beth(),
                &["technician"],
            )
            .unwrap();
        if !applied.commit {
            *books = before;
        }
        applied
    }

    fn current(books: &Books, sys_id: &str) -> Record {
        books.get(TABLE, sys_id).unwrap().unwrap_or_default()
    }

    fn error(applied: &Applied) -> &ResultError {
        applied.result.error.as_ref().unwrap()
    }

    #[test]
    fn an_applied_entry_is_remembered_and_committed_with_its_change() {
        let mut books = books(&[task("t1", json!({}))]);
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Applied);
        assert_eq!(applied.result.error, None);
        let now = current(&books, "t1");
        assert_eq!(now.text("state").unwrap(), "accepted");
        assert_eq!(now.text("sys_updated_by").unwrap(), "beth.anglin");
        assert_eq!(applied.result.record, Some(now));
        let key = ("beth.anglin".to_string(), uuid("e1"));
        assert_eq!(books.answers[&key], applied.result);
    }

    #[test]
    fn a_repeated_id_answers_the_first_answer_and_changes_nothing() {
        let mut books = books(&[task("t1", json!({}))]);
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let first = apply(&mut books, &mut Lanes::new(), &e);
        let after_first = books.records.clone().tables;
        // Even in a later batch where the action would no longer apply.
        let again = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!again.commit);
        assert_eq!(again.result, first.result);
        assert_eq!(books.records.tables, after_first);
    }

    #[test]
    fn an_action_the_user_s_roles_may_not_run_is_rejected_forbidden_and_changes_nothing() {
        let mut books = books(&[task("t1", json!({}))]);
        let e = entry("e1", "drop", "t1", json!({}), json!({}));
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Rejected);
        assert_eq!(error(&applied).code, "forbidden");
        assert!(error(&applied).message.contains("dispatcher"));
        assert_eq!(current(&books, "t1"), task("t1", json!({})));
        let mut store = books.clone();
        let as_dispatcher = Lanes::new()
            .apply(
                &e,
                &actions(),
                &mut store,
                &mut NoHooks,
                &beth(),
                &["dispatcher"],
            )
            .unwrap();
        assert_eq!(as_dispatcher.result.status, SyncStatus::Applied);
    }

    #[test]
    fn an_entry_id_that_is_not_a_uuid_is_rejected_bad_request_and_changes_nothing() {
        let mut books = books(&[task("t1", json!({}))]);
        let mut e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        e.id = "e1".to_string();
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Rejected);
        assert_eq!(error(&applied).code, "bad_request");
        assert!(error(&applied).message.contains("UUID"));
        assert_eq!(current(&books, "t1"), task("t1", json!({})));
    }

    #[test]
    fn another_user_s_entry_with_the_same_id_runs_on_its_own_and_gets_its_own_answer() {
        let mut books = books(&[task("t1", json!({})), task("t2", json!({}))]);
        let seen = json!({"state": "assigned"});
        let first = apply(
            &mut books,
            &mut Lanes::new(),
            &entry("e1", "accept", "t1", seen.clone(), json!({})),
        );
        assert_eq!(first.result.status, SyncStatus::Applied);
        let abel = QueryContext {
            user_name: "abel.tuter".to_string(),
            user_sys_id: "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0".to_string(),
        };
        let his = entry("e1", "accept", "t2", seen, json!({}));
        let second = Lanes::new()
            .apply(
                &his,
                &actions(),
                &mut books,
                &mut NoHooks,
                &abel,
                &["technician"],
            )
            .unwrap();
        assert_eq!(second.result.status, SyncStatus::Applied);
        assert_eq!(
            second.result.record.as_ref().and_then(Record::sys_id),
            Some("t2")
        );
        assert_eq!(current(&books, "t2").text("state").unwrap(), "accepted");
    }

    #[test]
    fn an_action_that_may_not_run_offline_is_rejected_unavailable_offline() {
        let mut books = books(&[task("t1", json!({}))]);
        let e = entry("e1", "escalate", "t1", json!({}), json!({}));
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Rejected);
        assert_eq!(error(&applied).code, "unavailable_offline");
        assert_eq!(current(&books, "t1"), task("t1", json!({})));
    }

    #[test]
    fn an_entry_on_a_deleted_record_is_a_deleted_conflict() {
        let mut books = books(&[]);
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Conflict);
        assert_eq!(error(&applied).code, "deleted");
        assert!(books.answers.is_empty(), "a conflict is not remembered");
    }

    #[test]
    fn a_condition_that_no_longer_holds_is_a_conflict_saying_what_changed_since_the_base() {
        let closed = task(
            "t1",
            json!({"state": "closed_complete", "sys_mod_count": 4}),
        );
        let mut books = books(std::slice::from_ref(&closed));
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Conflict);
        let error = error(&applied);
        assert_eq!(error.code, "not_applicable");
        for part in [
            "state is now \"closed_complete\"",
            "fred.luddy",
            "2026-11-20 09:30:00",
        ] {
            assert!(error.message.contains(part), "{part} in {}", error.message);
        }
        assert_eq!(applied.result.record, Some(closed.clone()));
        assert_eq!(error.record, Some(closed.clone()));
        assert_eq!(current(&books, "t1"), closed);
    }

    #[test]
    fn a_failed_validate_step_is_a_conflict_saying_what_changed_since_the_base() {
        let held = task("t1", json!({"state": "on_hold", "sys_mod_count": 4}));
        let mut books = books(std::slice::from_ref(&held));
        let seen = json!({"state": "work_in_progress"});
        let e = entry("e1", "close", "t1", seen, json!({}));
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert_eq!(applied.result.status, SyncStatus::Conflict);
        let error = error(&applied);
        assert_eq!(error.code, "validation_failed");
        assert!(
            error
                .message
                .starts_with("Only work in progress can be closed")
                && error.message.contains("state is now \"on_hold\""),
            "{}",
            error.message
        );
        assert_eq!(current(&books, "t1"), held);
    }

    #[test]
    fn a_written_field_changed_to_a_third_value_is_a_field_conflict() {
        let cancelled = task("t1", json!({"state": "cancelled", "sys_mod_count": 4}));
        let mut books = books(std::slice::from_ref(&cancelled));
        let inputs = json!({"state": "accepted"});
        let e = entry(
            "e1",
            "set_state",
            "t1",
            json!({"state": "assigned"}),
            inputs,
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert!(!applied.commit);
        assert_eq!(applied.result.status, SyncStatus::Conflict);
        let error = error(&applied);
        assert_eq!(error.code, "field_changed");
        assert_eq!(error.field.as_deref(), Some("state"));
        assert_eq!(error.record, Some(cancelled.clone()));
        assert_eq!(
            current(&books, "t1"),
            cancelled,
            "the change was rolled back"
        );
        assert!(books.answers.is_empty());
    }

    #[test]
    fn a_change_to_a_field_the_entry_does_not_write_merges() {
        let reprioritised = task("t1", json!({"priority": "1", "sys_mod_count": 4}));
        let mut books = books(&[reprioritised]);
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert_eq!(applied.result.status, SyncStatus::Applied);
        let now = current(&books, "t1");
        assert_eq!(
            now.text("priority").unwrap(),
            "1",
            "the other change is kept"
        );
        assert_eq!(now.text("state").unwrap(), "accepted");
    }

    #[test]
    fn later_entries_of_a_failed_record_in_the_batch_are_blocked_and_others_apply() {
        let cancelled = task("t1", json!({"state": "cancelled", "sys_mod_count": 4}));
        let mut books = books(&[cancelled, task("t2", json!({}))]);
        let seen = json!({"state": "assigned"});
        let first = entry("e1", "accept", "t1", seen.clone(), json!({}));
        // Writes the value the record already moved to: it would apply on its own.
        let later = entry(
            "e2",
            "set_state",
            "t1",
            seen.clone(),
            json!({"state": "cancelled"}),
        );
        let other = entry("e3", "accept", "t2", seen, json!({}));
        let mut lanes = Lanes::new();
        let statuses: Vec<SyncStatus> = [first, later.clone(), other]
            .iter()
            .map(|e| apply(&mut books, &mut lanes, e).result.status)
            .collect();
        use SyncStatus::*;
        assert_eq!(statuses, [Conflict, Blocked, Applied]);
        // Nothing is remembered for a blocked entry: in a later batch it is decided afresh.
        let alone = apply(&mut books, &mut Lanes::new(), &later);
        assert_eq!(alone.result.status, SyncStatus::Applied);
    }

    #[test]
    fn an_unknown_action_or_one_of_another_table_is_rejected() {
        let mut books = books(&[task("t1", json!({}))]);
        let seen = json!({"state": "assigned"});
        let unknown = entry("e1", "teleport", "t1", seen.clone(), json!({}));
        let mut elsewhere = entry("e2", "accept", "t1", seen, json!({}));
        elsewhere.table = "incident".to_string();
        let unknown = apply(&mut books, &mut Lanes::new(), &unknown);
        assert_eq!(unknown.result.status, SyncStatus::Rejected);
        assert_eq!(error(&unknown).code, "unknown_action");
        assert!(error(&unknown).message.contains("teleport"));
        let elsewhere = apply(&mut books, &mut Lanes::new(), &elsewhere);
        assert_eq!(elsewhere.result.status, SyncStatus::Rejected);
        assert_eq!(error(&elsewhere).code, "bad_request");
        assert!(
            error(&elsewhere)
                .message
                .contains("works on wm_task, not incident"),
            "{}",
            error(&elsewhere).message
        );
        assert_eq!(current(&books, "t1"), task("t1", json!({})));
    }

    #[test]
    fn bad_inputs_are_rejected_with_what_is_wrong_with_each_input() {
        let mut books = books(&[task("t1", json!({}))]);
        let e = entry(
            "e1",
            "set_state",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert_eq!(applied.result.status, SyncStatus::Rejected);
        let error = error(&applied);
        assert_eq!(error.code, "invalid_inputs");
        let detail = error.detail.clone().unwrap_or_default();
        let message = detail["inputs"]["state"].as_str().unwrap_or_default();
        assert!(message.contains("State"), "{detail}");
        assert_eq!(current(&books, "t1"), task("t1", json!({})));
    }

    #[test]
    fn a_file_the_store_refuses_rejects_the_entry_and_a_store_failure_is_an_error() {
        struct Refusing {
            books: Books,
            refusal: Option<String>,
        }
        impl Store for Refusing {
            fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StoreError> {
                self.books.get(table, sys_id)
            }
            fn put(&mut self, _: &str, _: Record) -> Result<(), StoreError> {
                Err(StoreError("disk full".to_string()))
            }
            fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StoreError> {
                self.books.delete(table, sys_id)
            }
            fn append_journal(
                &mut self,
                entry: crate::store::JournalEntry,
            ) -> Result<(), StoreError> {
                self.books.append_journal(entry)
            }
            fn add_attachment(
                &mut self,
                table: &str,
                table_sys_id: &str,
                sys_id: &str,
                file: &crate::store::FileInput,
                user: &str,
                now: Timestamp,
            ) -> Result<Record, StoreError> {
                self.books
                    .add_attachment(table, table_sys_id, sys_id, file, user, now)
            }
        }
        impl Ledger for Refusing {
            fn answered(&self, id: &str, user: &str) -> Result<Option<SyncResult>, StoreError> {
                self.books.answered(id, user)
            }
            fn remember(&mut self, id: &str, user: &str, r: &SyncResult) -> Result<(), StoreError> {
                self.books.remember(id, user, r)
            }
            fn take_refusal(&mut self) -> Option<String> {
                self.refusal.take()
            }
        }
        let e = entry(
            "e1",
            "accept",
            "t1",
            json!({"state": "assigned"}),
            json!({}),
        );
        let mut store = Refusing {
            books: books(&[task("t1", json!({}))]),
            refusal: Some("file photo.jpg: the bytes do not match their hash".to_string()),
        };
        let set = actions();
        let refused = Lanes::new()
            .apply(&e, &set, &mut store, &mut NoHooks, &beth(), &["technician"])
            .unwrap();
        assert_eq!(refused.result.status, SyncStatus::Rejected);
        assert_eq!(error(&refused).code, "invalid_attachment");
        assert!(error(&refused).message.contains("do not match"));
        let failed =
            Lanes::new().apply(&e, &set, &mut store, &mut NoHooks, &beth(), &["technician"]);
        assert_eq!(failed, Err(StoreError("disk full".to_string())));
    }

    #[test]
    fn a_record_less_entry_creates_its_record_under_the_devices_id_once_and_a_replay_is_applied() {
        let mut books = books(&[]);
        let created = crate::record::derived_sys_id(&uuid("e9"), 1);
        let e = entry("e9", "open", &created, json!({}), json!({"what": "Leak"}));
        let mut lanes = Lanes::new();
        let first = apply(&mut books, &mut lanes, &e);
        assert_eq!(first.result.status, SyncStatus::Applied);
        assert!(first.commit);
        let record = current(&books, &created);
        assert_eq!(
            (record.text("short_description"), record.text("state")),
            (Some("Leak".into()), Some("new".into()))
        );
        assert_eq!(first.result.record.as_ref(), Some(&record));
        assert_eq!(
            books.records.journal.len(),
            1,
            "the note went on the new record"
        );
        let again = apply(&mut books, &mut Lanes::new(), &e);
        assert_eq!(again.result, first.result, "the first answer, again");
        assert!(!again.commit);
        assert_eq!(books.records.tables[TABLE].len(), 1, "one record, not two");
        assert_eq!(books.records.journal.len(), 1);
    }

    #[test]
    fn a_record_less_entry_naming_another_id_than_its_own_is_rejected_and_creates_nothing() {
        let mut books = books(&[]);
        let e = entry("ea", "open", "t1", json!({}), json!({"what": "Leak"}));
        let applied = apply(&mut books, &mut Lanes::new(), &e);
        assert_eq!(applied.result.status, SyncStatus::Rejected);
        assert_eq!(error(&applied).code, "bad_request");
        assert!(error(&applied).message.contains("creates its record as"));
        assert!(books.records.tables.get(TABLE).is_none_or(|t| t.is_empty()));
    }
}
