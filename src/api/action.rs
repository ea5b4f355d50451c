//! Running an action through the API: the invocation `POST /api/offgrid/actions/{name}`
//! carries, the checks both sides make before running it, and the answers.

use super::ApiError;
use crate::action::{ActionDef, ActionError, ActionSet, InputDef, Outcome};
use crate::outbox::EntryState;
use crate::query::QueryContext;
use crate::record::{is_valid_uuid, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of `POST /api/offgrid/actions/{name}`: which record, with which inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// The record's table.
    pub table: String,
    /// The record's `sys_id`; `None` for a record-less action, which creates its record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_id: Option<String>,
    /// The action's inputs by name.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// The device's id for a live call (a UUID): should the answer be lost, the device queues
    /// the same change under this id, and the instance, which remembers the id with the
    /// change, answers that entry as already applied instead of applying it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Invocation {
    /// Reads a request's JSON body: 400 `bad_request` naming the fault when it is not an
    /// invocation.
    pub fn from_value(body: Value) -> Result<Self, ApiError> {
        let invocation: Self = serde_json::from_value(body).map_err(|e| {
            ApiError::bad_request(format!(
                "an action call is {{\"table\", \"sys_id\"?, \"inputs\", \"id\"?}}: {e}"
            ))
        })?;
        match &invocation.id {
            Some(id) if !is_valid_uuid(id) => Err(ApiError::bad_request(format!(
                "the action call's id {id:?} is not a UUID (8-4-4-4-12 lowercase hexadecimal digits)"
            ))),
            _ => Ok(invocation),
        }
    }

    /// The definition of action `name` for this invocation ([`definition`]).
    pub fn action<'a>(&self, set: &'a ActionSet, name: &str) -> Result<&'a ActionDef, ApiError> {
        definition(set, name, &self.table)
    }

    /// The `sys_id` of the record `def` runs on when this call runs as invocation
    /// `invocation_id`: the call's own, or for a record-less action the one it creates
    /// ([`ActionDef::new_record_id`]). 400 `bad_request` when the call names no record for an
    /// action that needs one, or one for an action that creates it.
    pub fn target(&self, def: &ActionDef, invocation_id: &str) -> Result<String, ApiError> {
        match (def.new_record_id(invocation_id), &self.sys_id) {
            (None, Some(sys_id)) => Ok(sys_id.clone()),
            (Some(created), None) => Ok(created),
            (None, None) => Err(ApiError::bad_request(format!(
                "action {} works on a record: send its sys_id with the table",
                def.name
            ))),
            (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
                "action {} creates a new {} record: call it with no sys_id",
                def.name, def.table
            ))),
        }
    }
}

/// The definition of action `name` called on a record of `table`: 404 `unknown_action` when
/// there is none, 400 `bad_request` when it works on another table. For live calls, offline
/// calls and outbox entries alike.
pub fn definition<'a>(
    set: &'a ActionSet,
    name: &str,
    table: &str,
) -> Result<&'a ActionDef, ApiError> {
    let def = set
        .get(name)
        .ok_or_else(|| ApiError::unknown_action(name))?;
    if def.table != table {
        return Err(ApiError::bad_request(format!(
            "action {name} works on {}, not {table}",
            def.table
        )));
    }
    Ok(def)
}

/// Whether `user` with `roles` may run `def`: 403 `forbidden`, saying why, when its `roles`
/// leave them out.
pub fn permitted<R: AsRef<str>>(def: &ActionDef, user: &str, roles: &[R]) -> Result<(), ApiError> {
    match def.refusal(user, roles) {
        Some(message) => Err(ApiError::forbidden(message)),
        None => Ok(()),
    }
}

/// A record an action created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Created {
    /// Its table.
    pub table: String,
    /// The record.
    pub record: Record,
}

/// What an action did: `200` when it ran live on the instance, `202` when it ran on the device
/// and waits in the outbox (then with `outbox_id` and `state`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionAnswer {
    /// The target record after the action; null when it deleted it.
    pub result: Option<Record>,
    /// The records it created.
    pub created: Vec<Created>,
    /// Whether it deleted the target.
    pub deleted: bool,
    /// The `sys_attachment` records of the files it attached.
    pub attachments: Vec<Record>,
    /// The outbox entry that carries it to the instance (queued only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_id: Option<String>,
    /// That entry's state (queued only): `pending`, or `blocked` behind a failed change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<EntryState>,
}

impl ActionAnswer {
    /// The status of this answer: 202 when queued, else 200.
    pub fn status(&self) -> u16 {
        if self.outbox_id.is_some() {
            202
        } else {
            200
        }
    }

    /// The answer of an action run live.
    pub fn live(outcome: Outcome) -> Self {
        Self {
            result: outcome.record,
            created: outcome
                .created
                .into_iter()
                .map(|(table, record)| Created { table, record })
                .collect(),
            deleted: outcome.deleted,
            attachments: outcome.attachments,
            outbox_id: None,
            state: None,
        }
    }

    /// The answer of an action run on the device and queued as outbox entry `outbox_id`.
    pub fn queued(outcome: Outcome, outbox_id: String, state: EntryState) -> Self {
        Self {
            outbox_id: Some(outbox_id),
            state: Some(state),
            ..Self::live(outcome)
        }
    }
}

/// An action as it stands for one record and user, now (`GET /offgrid/actions`): what the
/// app needs to show its button, greyed with the reason when it cannot run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Applicable {
    /// The action's name.
    pub name: String,
    /// What the button says.
    pub label: String,
    /// The table it works on.
    pub table: String,
    /// What its form asks for.
    pub inputs: Vec<InputDef>,
    /// Whether it may run on the device offline.
    pub offline: bool,
    /// Whether its condition holds on the record and the user's roles allow it.
    pub applies: bool,
    /// Whether it can run now: it applies, and it is online or the action may run offline.
    pub available: bool,
    /// Why it is not available, for the user; `None` when it is.
    pub reason: Option<String>,
}

/// The actions of `table` as they stand for `record` (the device's version of it), the user
/// of `ctx` with `roles`, `offline` or not, in definition order. Conditions and roles are the
/// ones every run checks ([`ActionDef::applies_to`], [`ActionDef::refusal`]). With no record,
/// the table's record-less actions (those that create one); with one, those that run on it.
pub fn applicable<R: AsRef<str>>(
    set: &ActionSet,
    table: &str,
    record: Option<&Record>,
    ctx: &QueryContext,
    roles: &[R],
    offline: bool,
) -> Vec<Applicable> {
    let none = Record::new();
    let subject = record.unwrap_or(&none);
    set.for_table(table)
        .filter(|def| def.record == record.is_some())
        .map(|def| {
            let record = subject;
            // The refusals a run would meet, in the order a run meets them.
            let action = def.label.clone();
            let reason = if let Some(refusal) = def.refusal(&ctx.user_name, roles) {
                Some(refusal)
            } else if !def.applies_to(record, ctx) {
                Some(ActionError::NotApplicable { action }.to_string())
            } else if offline && !def.offline {
                Some(format!(
                    "{}: connect to the network and turn offline mode off to run it",
                    ActionError::UnavailableOffline { action }
                ))
            } else {
                None
            };
            let applies = def.permits(roles) && def.applies_to(record, ctx);
            Applicable {
                name: def.name.clone(),
                label: def.label.clone(),
                table: def.table.clone(),
                inputs: def.inputs.clone(),
                offline: def.offline,
                applies,
                available: reason.is_none(),
                reason,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_invocation_names_what_is_wrong_with_it() {
        let e = Invocation::from_value(json!({"sys_id": "a"})).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        assert!(e.message.contains("table"), "{}", e.message);
    }

    #[test]
    fn a_record_action_needs_a_sys_id_and_a_record_less_one_refuses_one() {
        let set = catalog();
        let call = |sys_id: Option<&str>| Invocation {
            table: "incident".into(),
            sys_id: sys_id.map(str::to_string),
            inputs: Map::new(),
            id: None,
        };
        let close = set.get("close").unwrap();
        assert_eq!(call(Some("i1")).target(close, "inv").unwrap(), "i1");
        let e = call(None).target(close, "inv").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        assert!(e.message.contains("sys_id"), "{}", e.message);
        let open = set.get("open").unwrap();
        assert_eq!(
            call(None).target(open, "inv").unwrap(),
            crate::record::derived_sys_id("inv", 1),
            "the record it creates, with the id its first step gives it"
        );
        let e = call(Some("i1")).target(open, "inv").unwrap_err();
        assert!(e.message.contains("no sys_id"), "{}", e.message);
    }

    #[test]
    fn an_invocations_id_must_be_a_uuid() {
        let call = |id: &str| json!({"table": "wm_task", "sys_id": "a", "id": id});
        let e = Invocation::from_value(call("1")).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        assert!(e.message.contains("UUID"), "{}", e.message);
        let id = crate::record::new_uuid();
        assert_eq!(Invocation::from_value(call(&id)).unwrap().id, Some(id));
    }

    #[test]
    fn the_action_must_exist_and_work_on_the_invocations_table() {
        let set = ActionSet::from_json(&json!([{
            "name": "start", "table": "wm_task", "offline": true,
            "steps": [{"mode": "both", "op": "update", "set": {"state": "work_in_progress"}}]
        }]))
        .unwrap();
        let call = |table: &str| Invocation {
            table: table.into(),
            sys_id: Some("a".into()),
            inputs: Map::new(),
            id: None,
        };
        assert!(call("wm_task").action(&set, "start").is_ok());
        assert_eq!(
            call("incident").action(&set, "start").unwrap_err().code,
            "bad_request"
        );
        assert_eq!(
            call("wm_task").action(&set, "nope").unwrap_err().code,
            "unknown_action"
        );
    }

    #[test]
    fn a_queued_answer_is_202_with_its_entry_and_a_live_one_200_without() {
        let live = ActionAnswer::live(Outcome::default());
        assert_eq!(live.status(), 200);
        assert_eq!(
            serde_json::to_value(&live).unwrap(),
            json!({"result": null, "created": [], "deleted": false, "attachments": []})
        );
        let queued = ActionAnswer::queued(Outcome::default(), "e1".into(), EntryState::Pending);
        assert_eq!(queued.status(), 202);
        let value = serde_json::to_value(&queued).unwrap();
        assert_eq!(
            (value["outbox_id"].as_str(), value["state"].as_str()),
            (Some("e1"), Some("pending"))
        );
    }

    fn catalog() -> ActionSet {
        ActionSet::from_json(&json!([
            {"name": "accept", "label": "Accept", "table": "wm_task", "offline": true,
             "condition": "state=assigned",
             "steps": [{"mode": "both", "op": "update", "set": {"state": "accepted"}}]},
            {"name": "reassign", "label": "Reassign", "table": "wm_task", "roles": ["dispatcher"],
             "steps": [{"mode": "online", "op": "update", "set": {"assigned_to": "x"}}]},
            {"name": "escalate", "label": "Escalate", "table": "wm_task",
             "steps": [{"mode": "online", "op": "update", "set": {"priority": "1"}}]},
            {"name": "close", "label": "Close", "table": "incident", "offline": true,
             "steps": [{"mode": "both", "op": "update", "set": {"state": "closed"}}]},
            {"name": "open", "label": "New incident", "table": "incident", "record": false,
             "offline": true, "roles": ["technician"],
             "steps": [{"mode": "both", "op": "create", "table": "incident",
                        "set": {"state": "new"}}]},
            {"name": "file", "label": "File", "table": "incident", "record": false,
             "steps": [{"mode": "both", "op": "create", "table": "incident", "set": {}}]}
        ]))
        .unwrap()
    }

    fn ctx() -> QueryContext {
        QueryContext {
            user_name: "beth".into(),
            user_sys_id: "b".into(),
        }
    }

    fn task(state: &str) -> Record {
        Record::from_value(json!({"sys_id": "t", "state": state})).unwrap()
    }

    #[test]
    fn applicable_lists_the_tables_actions_with_whether_each_applies_and_can_run_online() {
        let list = applicable(
            &catalog(),
            "wm_task",
            Some(&task("assigned")),
            &ctx(),
            &["technician"],
            false,
        );
        let seen: Vec<_> = list
            .iter()
            .map(|a| (a.name.as_str(), a.applies, a.available))
            .collect();
        assert_eq!(
            seen,
            [
                ("accept", true, true),
                ("reassign", false, false),
                ("escalate", true, true)
            ]
        );
        assert!(list[1].reason.as_deref().unwrap().contains("dispatcher"));
        assert_eq!(list[0].reason, None);
    }

    #[test]
    fn an_action_whose_condition_fails_on_the_record_does_not_apply_and_says_so() {
        let list = applicable(
            &catalog(),
            "wm_task",
            Some(&task("accepted")),
            &ctx(),
            &["technician"],
            false,
        );
        assert!(!list[0].applies && !list[0].available);
        assert!(list[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("does not apply"));
    }

    #[test]
    fn offline_an_online_only_action_applies_but_is_unavailable_with_the_reason() {
        let list = applicable(
            &catalog(),
            "wm_task",
            Some(&task("assigned")),
            &ctx(),
            &["admin"],
            true,
        );
        let escalate = list.iter().find(|a| a.name == "escalate").unwrap();
        assert!(escalate.applies && !escalate.available);
        assert!(escalate
            .reason
            .as_deref()
            .unwrap()
            .contains("not available offline"));
        let accept = list.iter().find(|a| a.name == "accept").unwrap();
        assert!(
            accept.available,
            "an offline action stays available offline"
        );
    }

    #[test]
    fn without_a_record_only_the_tables_record_less_actions_are_listed_and_with_one_none_are() {
        let list = applicable(&catalog(), "incident", None, &ctx(), &["dispatcher"], true);
        let seen: Vec<_> = list
            .iter()
            .map(|a| (a.name.as_str(), a.applies, a.available))
            .collect();
        assert_eq!(seen, [("open", false, false), ("file", true, false)]);
        assert!(list[0].reason.as_deref().unwrap().contains("technician"));
        assert!(list[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("not available offline"));
        let list = applicable(&catalog(), "incident", None, &ctx(), &["technician"], true);
        assert!(list[0].applies && list[0].available && list[0].reason.is_none());
        let incident = Record::from_value(json!({"sys_id": "i", "state": "new"})).unwrap();
        let names: Vec<_> = applicable(
            &catalog(),
            "incident",
            Some(&incident),
            &ctx(),
            &["technician"],
            false,
        )
        .into_iter()
        .map(|a| a.name)
        .collect();
        assert_eq!(names, ["close"]);
    }
}
