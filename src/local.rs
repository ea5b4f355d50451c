//! The device's own changes, decided without a browser: an action run offline becomes a
//! [`LocalPlan`] (the local effects, the shadow and the outbox entry) that the web layer stores
//! in one transaction, and the local view of a record is rebuilt by [`replay`]ing its outbox
//! entries, in `seq` order, over the instance's version.
//!
//! The local view of a record is always "the instance's version, with the offline steps of
//! its outbox entries applied in `seq` order": every operation that changes the entries of a
//! record (an action, a download, a sync, resolve, delete) rebuilds it that way.

use crate::action::{self, ActionContext, ActionDef, ActionSet, NoHooks, Outcome, Side};
use crate::api::action::{permitted, ActionAnswer, Invocation};
use crate::api::ApiError;
use crate::outbox::{Base, Entry, NewEntry, Outbox};
use crate::query::QueryContext;
use crate::record::{Record, Timestamp};
use crate::store::{MemoryStore, Store, ATTACHMENT_TABLE, JOURNAL_TABLE};
use std::collections::BTreeSet;

/// Tables the device answers offline although the offline scope does not keep them: the
/// work notes, comments and attachments its own actions wrote, until they sync.
pub const DEVICE_WRITTEN: [&str; 2] = [JOURNAL_TABLE, ATTACHMENT_TABLE];

/// Who acts on the device, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Actor {
    /// The signed-in user, for conditions and templates.
    pub user: QueryContext,
    /// The user's roles, for the actions' `roles`.
    pub roles: Vec<String>,
    /// The current time.
    pub now: Timestamp,
}

/// What an action run offline does, for the web layer to store in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalPlan {
    /// What the offline and both steps did.
    pub outcome: Outcome,
    /// `(table, record)` to put into the cache: created records, attachments, the target.
    pub puts: Vec<(String, Record)>,
    /// `(table, sys_id)` to delete from the cache.
    pub deletes: Vec<(String, String)>,
    /// The target as it was before the action: its shadow, where it has none yet. `None` for
    /// a record-less action: the instance has no version of the record it creates.
    pub shadow: Option<(String, Record)>,
    /// The outbox entry that carries the action to the instance.
    pub entry: Entry,
}

/// Runs action `def` (already found for `invocation`) offline on `cached` (the target as the
/// cache holds it; for a record-less action, nothing) and plans its local effects and outbox
/// entry `id`, which `outbox` assigns its `seq` and state. A record-less action's entry names
/// the record it creates, whose id derives from `id` as it will on the instance. `invocation.inputs` carry files' metadata only (their bytes are kept
/// apart). Refusals are the contract's answers, carrying the record they were checked on.
pub fn plan_action(
    def: &ActionDef,
    invocation: Invocation,
    cached: Option<Record>,
    actor: &Actor,
    id: String,
    outbox: &mut Outbox,
) -> Result<LocalPlan, ApiError> {
    // What the instance would refuse the user is not queued: 403, as live. (An online-only
    // action is refused as unavailable offline, whoever asks, by the engine.)
    if def.offline {
        permitted(def, &actor.user.user_name, &actor.roles)?;
    }
    let sys_id = invocation.target(def, &id)?;
    let Invocation { table, inputs, .. } = invocation;
    let mut store = MemoryStore::new();
    if let Some(record) = &cached {
        put(&mut store, &table, record.clone());
    }
    let ctx = ActionContext {
        user: actor.user.clone(),
        now: actor.now,
        invocation_id: id.clone(),
    };
    let outcome = action::run(
        def,
        Side::Device,
        &mut store,
        &mut NoHooks,
        &ctx,
        &sys_id,
        &inputs,
    )
    .map_err(|e| ApiError::from_action(&e, cached.as_ref()))?;
    let shadow = if def.record {
        // run() found the target, so it was cached.
        let before = cached.ok_or_else(|| ApiError::no_record(&table, &sys_id))?;
        Some((table.clone(), before))
    } else {
        None
    };
    // A record-less action has no base: nothing of its record was seen before it.
    let base = shadow
        .as_ref()
        .map(|(_, before)| Base::capture(before, &def.written_fields()))
        .unwrap_or_default();
    let entry = outbox
        .enqueue(NewEntry {
            id,
            user: actor.user.user_name.clone(),
            action: def.name.clone(),
            table: table.clone(),
            sys_id: sys_id.clone(),
            inputs,
            base,
            queued_at: actor.now,
        })
        .clone();
    let mut puts = outcome.created.clone();
    puts.extend(
        outcome
            .attachments
            .iter()
            .map(|a| (ATTACHMENT_TABLE.to_string(), a.clone())),
    );
    // Work notes and comments are kept as the instance keeps them, with the ids the instance
    // will give them when the entry syncs.
    puts.extend(
        outcome
            .journal
            .iter()
            .map(|j| (JOURNAL_TABLE.to_string(), j.record())),
    );
    if let Some(record) = &outcome.record {
        puts.push((table.clone(), record.clone()));
    }
    let deletes = if outcome.deleted {
        vec![(table.clone(), sys_id)]
    } else {
        Vec::new()
    };
    Ok(LocalPlan {
        outcome,
        puts,
        deletes,
        shadow,
        entry,
    })
}

/// Runs the offline steps of `entries` (one record's, in `seq` order) over `base`, each with
/// its own id and time so created records get the ids they got the first time. An entry
/// whose steps no longer pass leaves no local effect; it stays in the outbox, and the
/// instance decides.
pub fn replay(
    actions: &ActionSet,
    user: &QueryContext,
    table: &str,
    base: Option<&Record>,
    entries: &[Entry],
) -> Replayed {
    let mut store = MemoryStore::new();
    if let Some(base) = base {
        put(&mut store, table, base.clone());
    }
    for entry in entries {
        let Some(def) = actions.get(&entry.action) else {
            continue;
        };
        let ctx = ActionContext {
            user: user.clone(),
            now: entry.queued_at,
            invocation_id: entry.id.clone(),
        };
        let _refused_steps_leave_no_effect = action::run(
            def,
            Side::Device,
            &mut store,
            &mut NoHooks,
            &ctx,
            &entry.sys_id,
            &entry.inputs,
        );
    }
    Replayed { store }
}

/// The records a replay left.
#[derive(Clone, Debug, Default)]
pub struct Replayed {
    store: MemoryStore,
}

impl Replayed {
    /// The record `sys_id` of `table`; `None` when the entries deleted it (or it never was).
    pub fn record(&self, table: &str, sys_id: &str) -> Option<Record> {
        self.store.tables.get(table)?.get(sys_id).cloned()
    }

    /// Every record but `table`'s `sys_id`: what the entries created, attached and wrote in
    /// the journal.
    pub fn others(&self, table: &str, sys_id: &str) -> Vec<(String, Record)> {
        let journal = self
            .store
            .journal
            .iter()
            .map(|j| (JOURNAL_TABLE.to_string(), j.record()));
        self.store
            .tables
            .iter()
            .flat_map(|(t, records)| records.iter().map(move |(id, r)| (t, id, r)))
            .filter(|(t, id, _)| !(t.as_str() == table && id.as_str() == sys_id))
            .map(|(t, _, r)| (t.clone(), r.clone()))
            .chain(journal)
            .collect()
    }
}

/// Whether `entry`, with `inputs` when given, still passes its offline steps on `current`
/// (the instance's record): resolving must not queue a change that cannot apply.
pub fn check_resolve(
    actions: &ActionSet,
    user: &QueryContext,
    entry: &Entry,
    current: &Record,
    inputs: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<(), ApiError> {
    let def = actions
        .get(&entry.action)
        .ok_or_else(|| ApiError::unknown_action(&entry.action))?;
    let mut trial = MemoryStore::new();
    put(&mut trial, &entry.table, current.clone());
    let ctx = ActionContext {
        user: user.clone(),
        now: entry.queued_at,
        invocation_id: entry.id.clone(),
    };
    action::run(
        def,
        Side::Device,
        &mut trial,
        &mut NoHooks,
        &ctx,
        &entry.sys_id,
        inputs.unwrap_or(&entry.inputs),
    )
    .map(|_| ())
    .map_err(|e| ApiError::from_action(&e, Some(current)))
}

/// Records an instance answer puts into the cache, and records it takes out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Refresh {
    /// `(table, record)` that replace (or join) their cached copies.
    pub puts: Vec<(String, Record)>,
    /// `(table, sys_id)` to drop from the cache.
    pub deletes: Vec<(String, String)>,
}

/// The records of an online read of `table` that replace their cached copies: those the cache
/// holds (`cached` ids), whole (the caller passes none from a `sysparm_fields` read), and with
/// no outbox entry (`marked`): a record with unsynced changes keeps the device's version,
/// which shows them.
pub fn refresh_from_read(
    table: &str,
    records: Vec<Record>,
    cached: &BTreeSet<String>,
    marked: &BTreeSet<(String, String)>,
) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| {
            r.sys_id().is_some_and(|id| {
                cached.contains(id) && !marked.contains(&(table.to_string(), id.to_string()))
            })
        })
        .collect()
}

/// What a live action's answer on `table`'s record `sys_id` changes in the cache: the target
/// (changed or deleted) and the records it created, except records with unsynced changes.
pub fn refresh_from_action(
    table: &str,
    sys_id: &str,
    answer: &ActionAnswer,
    marked: &BTreeSet<(String, String)>,
) -> Refresh {
    let free = |t: &str, id: &str| !marked.contains(&(t.to_string(), id.to_string()));
    let mut refresh = Refresh::default();
    if answer.deleted && free(table, sys_id) {
        refresh
            .deletes
            .push((table.to_string(), sys_id.to_string()));
    }
    let target = answer.result.iter().map(|r| (table, r));
    let created = answer.created.iter().map(|c| (c.table.as_str(), &c.record));
    for (t, record) in target.chain(created) {
        if record.sys_id().is_some_and(|id| free(t, id)) {
            refresh.puts.push((t.to_string(), record.clone()));
        }
    }
    refresh
}

/// Puts a record that has a `sys_id` (every stored one does) into a memory store.
fn put(store: &mut MemoryStore, table: &str, record: Record) {
    // A MemoryStore refuses only records without sys_id.
    let _stored_records_have_ids = store.put(table, record);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::EntryState;
    use serde_json::{json, Map};

    fn actions() -> ActionSet {
        ActionSet::from_json(&json!([
            {"name": "accept", "label": "Accept", "table": "wm_task", "offline": true,
             "condition": "state=assigned",
             "steps": [{"mode": "both", "op": "update", "set": {"state": "accepted"}}]},
            {"name": "start", "label": "Start", "table": "wm_task", "offline": true,
             "condition": "state=accepted",
             "steps": [{"mode": "both", "op": "update", "set": {"state": "work_in_progress"}}]},
            {"name": "log", "label": "Log", "table": "wm_task", "offline": true,
             "inputs": [{"name": "what", "label": "What", "type": "string", "required": true}],
             "steps": [{"mode": "both", "op": "create", "table": "incident",
                        "set": {"short_description": "${input.what}"}}]},
            {"name": "remove", "label": "Remove", "table": "wm_task", "offline": true,
             "steps": [{"mode": "both", "op": "delete"}]},
            {"name": "drop", "label": "Drop", "table": "wm_task", "offline": true,
             "roles": ["dispatcher"], "steps": [{"mode": "both", "op": "delete"}]},
            {"name": "note", "label": "Note", "table": "wm_task", "offline": true,
             "inputs": [{"name": "text", "label": "Text", "type": "text", "required": true}],
             "steps": [{"mode": "both", "op": "journal", "element": "work_notes",
                        "value": "${input.text}"}]},
            {"name": "open", "label": "New task", "table": "wm_task", "record": false,
             "offline": true,
             "inputs": [{"name": "what", "label": "What", "type": "string", "required": true}],
             "steps": [{"mode": "both", "op": "create", "table": "wm_task",
                        "set": {"short_description": "${input.what}", "state": "draft"}}]}
        ]))
        .unwrap()
    }

    fn task(state: &str) -> Record {
        Record::from_value(json!({"sys_id": "t1", "state": state, "sys_mod_count": 2})).unwrap()
    }

    fn actor() -> Actor {
        Actor {
            user: QueryContext {
                user_name: "beth.anglin".into(),
                user_sys_id: "u1".into(),
            },
            roles: vec!["technician".into()],
            now: Timestamp::from_unix(1_790_000_000),
        }
    }

    fn call(inputs: serde_json::Value) -> Invocation {
        Invocation {
            table: "wm_task".into(),
            sys_id: Some("t1".into()),
            inputs: inputs.as_object().cloned().unwrap_or_default(),
            id: None,
        }
    }

    fn plan(
        name: &str,
        cached: Option<Record>,
        outbox: &mut Outbox,
    ) -> Result<LocalPlan, ApiError> {
        plan_with(name, json!({}), cached, outbox)
    }

    /// Finds the action for the invocation as the web layer does, then plans it.
    fn plan_with(
        name: &str,
        inputs: serde_json::Value,
        cached: Option<Record>,
        outbox: &mut Outbox,
    ) -> Result<LocalPlan, ApiError> {
        let set = actions();
        let invocation = call(inputs);
        let def = invocation.action(&set, name)?;
        plan_action(
            def,
            invocation,
            cached,
            &actor(),
            format!("e-{name}"),
            outbox,
        )
    }

    #[test]
    fn an_action_plans_its_local_record_its_shadow_and_an_entry_on_what_the_device_saw() {
        let mut outbox = Outbox::new();
        let plan = plan("accept", Some(task("assigned")), &mut outbox).unwrap();
        let record = plan.outcome.record.clone().unwrap();
        assert_eq!(record.text("state").as_deref(), Some("accepted"));
        assert_eq!(plan.puts, [("wm_task".to_string(), record)]);
        assert_eq!(plan.shadow, Some(("wm_task".to_string(), task("assigned"))));
        assert_eq!(plan.entry.seq, 1);
        assert_eq!(plan.entry.state, EntryState::Pending);
        assert_eq!(plan.entry.base.mod_count, 2);
        assert_eq!(plan.entry.base.fields["state"], "assigned");
        assert_eq!(outbox.entries(), [plan.entry]);
    }

    #[test]
    fn a_record_less_action_plans_a_new_local_record_and_an_entry_naming_it_with_no_shadow() {
        let mut outbox = Outbox::new();
        let set = actions();
        let invocation = Invocation {
            sys_id: None,
            ..call(json!({"what": "Pump leaks"}))
        };
        let def = invocation.action(&set, "open").unwrap();
        let plan = plan_action(
            def,
            invocation,
            None,
            &actor(),
            "e-open".into(),
            &mut outbox,
        )
        .unwrap();
        let created = crate::record::derived_sys_id("e-open", 1);
        let record = plan.outcome.record.clone().unwrap();
        assert_eq!(record.sys_id(), Some(created.as_str()));
        assert_eq!(
            record.text("short_description").as_deref(),
            Some("Pump leaks")
        );
        assert_eq!(plan.puts, [("wm_task".to_string(), record)]);
        assert_eq!(
            plan.shadow, None,
            "the instance has no version of a new record"
        );
        assert_eq!(
            (plan.entry.table.as_str(), plan.entry.sys_id.as_str()),
            ("wm_task", created.as_str())
        );
        assert_eq!(plan.entry.base, Base::default());
        assert_eq!(outbox.entries(), std::slice::from_ref(&plan.entry));
        // Replayed alone over no instance version, the entry makes the same record again.
        let replayed = replay(&set, &actor().user, "wm_task", None, &[plan.entry]);
        assert_eq!(
            replayed.record("wm_task", &created),
            plan.outcome.record,
            "replay rebuilds it with the same id"
        );
    }

    #[test]
    fn an_action_the_user_s_roles_may_not_run_is_forbidden_and_queues_nothing() {
        let mut outbox = Outbox::new();
        let e = plan("drop", Some(task("assigned")), &mut outbox).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (403, "forbidden"));
        assert!(outbox.entries().is_empty());
    }

    #[test]
    fn a_refused_action_answers_with_the_cached_record_and_queues_nothing() {
        let mut outbox = Outbox::new();
        let e = plan("start", Some(task("assigned")), &mut outbox).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (409, "not_applicable"));
        assert_eq!(e.detail["record"]["state"], "assigned");
        let e = plan("accept", None, &mut outbox).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (404, "not_found"));
        let e = plan("nope", Some(task("assigned")), &mut outbox).unwrap_err();
        assert_eq!(e.code, "unknown_action");
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_delete_is_planned_as_a_delete() {
        let mut outbox = Outbox::new();
        let plan = plan("remove", Some(task("assigned")), &mut outbox).unwrap();
        assert!(plan.puts.is_empty());
        assert_eq!(plan.deletes, [("wm_task".to_string(), "t1".to_string())]);
    }

    #[test]
    fn a_work_note_written_offline_is_kept_as_a_journal_record_with_the_id_replay_and_the_instance_give_it(
    ) {
        let mut outbox = Outbox::new();
        let plan = plan_with(
            "note",
            json!({"text": "valve replaced"}),
            Some(task("accepted")),
            &mut outbox,
        )
        .unwrap();
        let journal: Vec<&Record> = plan
            .puts
            .iter()
            .filter(|(t, _)| t == JOURNAL_TABLE)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(journal.len(), 1, "{:?}", plan.puts);
        let note = journal[0];
        for (field, value) in [
            ("name", "wm_task"),
            ("element_id", "t1"),
            ("element", "work_notes"),
            ("value", "valve replaced"),
            ("sys_created_by", "beth.anglin"),
        ] {
            assert_eq!(
                note.get(field).and_then(|v| v.as_str()),
                Some(value),
                "{field}"
            );
        }
        // The id is derived from the entry, as the instance derives it when the entry syncs.
        assert_eq!(
            note.sys_id(),
            Some(crate::record::derived_sys_id("e-note/journal", 1).as_str())
        );
        let view = replay(
            &actions(),
            &actor().user,
            "wm_task",
            Some(&task("accepted")),
            outbox.entries(),
        );
        assert_eq!(
            view.others("wm_task", "t1"),
            vec![(JOURNAL_TABLE.to_string(), note.clone())]
        );
    }

    #[test]
    fn replaying_a_records_entries_rebuilds_its_view_and_the_records_they_created() {
        let mut outbox = Outbox::new();
        let accept = plan("accept", Some(task("assigned")), &mut outbox).unwrap();
        let log = plan_with(
            "log",
            json!({"what": "pump leaks"}),
            accept.outcome.record.clone(),
            &mut outbox,
        )
        .unwrap();
        let start = plan("start", accept.outcome.record.clone(), &mut outbox).unwrap();
        let entries = outbox.entries().to_vec();
        let user = actor().user;
        let view = replay(
            &actions(),
            &user,
            "wm_task",
            Some(&task("assigned")),
            &entries,
        );
        assert_eq!(view.record("wm_task", "t1"), start.outcome.record);
        // The created incident has the id it got the first time.
        assert_eq!(view.others("wm_task", "t1"), log.outcome.created);

        // Over an instance version the first change no longer fits, it leaves no effect.
        let closed = task("closed_complete");
        let view = replay(&actions(), &user, "wm_task", Some(&closed), &entries[..1]);
        assert_eq!(view.record("wm_task", "t1"), Some(closed));
    }

    fn rec(id: &str) -> Record {
        Record::from_value(json!({"sys_id": id, "state": "x"})).unwrap()
    }

    fn marked(ids: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        ids.iter()
            .map(|(t, i)| (t.to_string(), i.to_string()))
            .collect()
    }

    #[test]
    fn an_online_read_refreshes_only_cached_records_without_unsynced_changes() {
        let cached = BTreeSet::from(["a".to_string(), "b".to_string()]);
        let fresh = refresh_from_read(
            "wm_task",
            vec![rec("a"), rec("b"), rec("c")],
            &cached,
            &marked(&[("wm_task", "b")]),
        );
        assert_eq!(fresh, [rec("a")]);
    }

    #[test]
    fn a_live_answer_refreshes_its_target_and_creations_but_not_records_with_changes() {
        use crate::api::action::Created;
        let answer = ActionAnswer {
            result: Some(rec("a")),
            created: vec![Created {
                table: "incident".into(),
                record: rec("i"),
            }],
            deleted: false,
            attachments: Vec::new(),
            outbox_id: None,
            state: None,
        };
        let refresh = refresh_from_action("wm_task", "a", &answer, &BTreeSet::new());
        assert_eq!(
            refresh.puts,
            [
                ("wm_task".to_string(), rec("a")),
                ("incident".to_string(), rec("i"))
            ]
        );
        let refresh = refresh_from_action("wm_task", "a", &answer, &marked(&[("wm_task", "a")]));
        assert_eq!(refresh.puts, [("incident".to_string(), rec("i"))]);

        let deleted = ActionAnswer {
            result: None,
            created: Vec::new(),
            deleted: true,
            ..answer
        };
        let refresh = refresh_from_action("wm_task", "a", &deleted, &BTreeSet::new());
        assert_eq!(refresh.deletes, [("wm_task".to_string(), "a".to_string())]);
        assert!(
            refresh_from_action("wm_task", "a", &deleted, &marked(&[("wm_task", "a")]))
                .deletes
                .is_empty()
        );
    }

    #[test]
    fn resolving_is_refused_when_the_offline_steps_fail_on_the_current_record() {
        let mut outbox = Outbox::new();
        let entry = plan("accept", Some(task("assigned")), &mut outbox)
            .unwrap()
            .entry;
        let user = actor().user;
        assert!(check_resolve(&actions(), &user, &entry, &task("assigned"), None).is_ok());
        let e =
            check_resolve(&actions(), &user, &entry, &task("closed_complete"), None).unwrap_err();
        assert_eq!(e.code, "not_applicable");
        let bad = Map::from_iter([("x".to_string(), json!(1))]);
        let e =
            check_resolve(&actions(), &user, &entry, &task("assigned"), Some(&bad)).unwrap_err();
        assert_eq!(e.code, "invalid_inputs");
    }
}
