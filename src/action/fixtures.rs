//! Shared test fixtures: a store holding one assigned task, the SPEC's `accept_task`
//! definition, and a context for the technician it is assigned to.

use super::{ActionContext, ActionDef};
use crate::query::QueryContext;
use crate::record::{Record, Timestamp};
use crate::store::{MemoryStore, Store};
use serde_json::{json, Map, Value};

/// The `sys_id` of the task in [`task_store`].
pub const TASK: &str = "0123456789abcdef0123456789abcdef";

/// The SPEC section 4 example, verbatim.
pub fn accept_task_json() -> Value {
    json!({
      "name": "accept_task", "label": "Accept", "table": "wm_task",
      "offline": true,
      "condition": "state=assigned^assigned_to=javascript:gs.getUserName()",
      "inputs": [ { "name": "note", "label": "Note", "type": "text", "required": false } ],
      "steps": [
        { "mode": "both",    "op": "validate", "condition": "state=assigned",
          "message": "This task is no longer assigned to you" },
        { "mode": "offline", "op": "update", "set": { "state": "accepted" } },
        { "mode": "online",  "op": "update", "set": { "state": "accepted" } },
        { "mode": "online",  "op": "hook", "name": "notify_dispatcher" }
      ]
    })
}

/// An offline-capable `wm_task` action with these inputs and steps.
pub fn action_json(inputs: Value, steps: Value) -> Value {
    json!({ "name": "test_action", "label": "Test action", "table": "wm_task",
            "offline": true, "inputs": inputs, "steps": steps })
}

/// [`action_json`], loaded.
pub fn action(inputs: Value, steps: Value) -> ActionDef {
    match ActionDef::from_json(&action_json(inputs, steps)) {
        Ok(def) => def,
        Err(e) => panic!("fixture definition refused: {e}"),
    }
}

/// A store with one `wm_task`, assigned to beth.anglin, at `sys_mod_count` 3.
pub fn task_store() -> MemoryStore {
    let mut store = MemoryStore::new();
    let task = json!({
        "sys_id": TASK, "number": "WOT0001001", "short_description": "Replace the pump",
        "state": "assigned", "priority": 2, "assigned_to": "beth.anglin",
        "sys_created_on": "2026-01-01 08:00:00", "sys_updated_on": "2026-01-01 08:00:00",
        "sys_created_by": "fred.luddy", "sys_updated_by": "fred.luddy", "sys_mod_count": 3
    });
    if let Some(record) = Record::from_value(task) {
        let _ = store.put("wm_task", record);
    }
    store
}

/// The task as [`task_store`] holds it.
pub fn task(store: &MemoryStore) -> Option<Record> {
    store.get("wm_task", TASK).ok().flatten()
}

/// beth.anglin, at a fixed time, in invocation `inv-1`.
pub fn ctx() -> ActionContext {
    ActionContext {
        user: QueryContext {
            user_name: "beth.anglin".into(),
            user_sys_id: "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0".into(),
        },
        now: Timestamp::from_unix(1_780_000_000),
        invocation_id: "inv-1".into(),
    }
}

/// A JSON object literal as an inputs map.
pub fn inputs(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}
