//! Running an action through the API: the invocation `POST /api/offgrid/actions/{name}`
//! carries, the checks both sides make before running it, and the answers.

use super::ApiError;
use crate::action::{ActionDef, ActionError, ActionSet, InputDef, Outcome};
use crate::outbox::EntryState;
use crate::query::QueryContext;
use crate::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of `POST /api/offgrid/actions/{name}`: which record, with which inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    /// The record's table.
    pub table: String,
    /// The record's `sys_id`.
    pub sys_id: String,
    /// The action's inputs by name.
    #[serde(default)]
    pub inputs: Map<String, Value>,
}

impl Invocation {
    /// Reads a request's JSON body: 400 `bad_request` naming the fault when it is not an
    /// invocation.
    pub fn from_value(body: Value) -> Result<Self, ApiError> {
        serde_json::from_value(body).map_err(|e| {
            ApiError::bad_request(format!(
                "an action call is {{\"table\", \"sys_id\", \"inputs\"}}: {e}"
            ))
        })
    }

    /// The definition of action `name` for this invocation ([`definition`]).
    pub fn action<'a>(&self, set: &'a ActionSet, name: &str) -> Result<&'a ActionDef, ApiError> {
        definition(set, name, &self.table)
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
/// ones every run checks ([`ActionDef::applies_to`], [`ActionDef::refusal`]).
pub fn applicable<R: AsRef<str>>(
    set: &ActionSet,
    table: &str,
    record: &Record,
    ctx: &QueryContext,
    roles: &[R],
    offline: bool,
) -> Vec<Applicable> {
    set.for_table(table)
        .map(|def| {
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
        let e = Invocation::from_value(json!({"table": "wm_task"})).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "bad_request"));
        assert!(e.message.contains("sys_id"), "{}", e.message);
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
            sys_id: "a".into(),
            inputs: Map::new(),
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
             "steps": [{"mode": "both", "op": "update", "set": {"state": "closed"}}]}
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
            &task("assigned"),
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
            &task("accepted"),
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
            &task("assigned"),
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
}
