//! Running an action through the API: the invocation `POST /api/offgrid/actions/{name}`
//! carries, the checks both sides make before running it, and the answers.

use super::ApiError;
use crate::action::{ActionDef, ActionSet, Outcome};
use crate::outbox::EntryState;
use crate::record::{is_valid_uuid, Record};
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
                "an action call is {{\"table\", \"sys_id\", \"inputs\", \"id\"?}}: {e}"
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
            sys_id: "a".into(),
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
}
