//! The pure core's behaviour, asserted by the same code natively (`tests/core.rs`), inside a
//! service worker (`tests/web_worker.rs`) and in a page (`tests/web_page.rs`): the engine that
//! decides what an action does offline must decide it the same way on the device.

use offgrid::action::{run, ActionContext, ActionDef, NoHooks, Side};
use offgrid::generate::generate;
use offgrid::outbox::{Base, EntryError, EntryState, NewEntry, Outbox};
use offgrid::query::{Query, QueryContext};
use offgrid::record::{hex, is_valid_sys_id, new_sys_id, new_uuid, Record, Timestamp};
use offgrid::store::{MemoryStore, Store};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const TASK: &str = "0123456789abcdef0123456789abcdef";

fn beth() -> QueryContext {
    QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: "b0000000000000000000000000000001".into(),
    }
}

fn record(value: Value) -> Record {
    Record::from_value(value).expect("fixture is an object")
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("fixture timestamp")
}

fn accept_task() -> ActionDef {
    ActionDef::from_json(&json!({
      "name": "accept_task", "label": "Accept", "table": "wm_task", "offline": true,
      "condition": "state=assigned^assigned_to=javascript:gs.getUserName()",
      "inputs": [ { "name": "note", "label": "Note", "type": "text", "required": false } ],
      "steps": [
        { "mode": "both", "op": "validate", "condition": "state=assigned",
          "message": "This task is no longer assigned to you" },
        { "mode": "offline", "op": "update", "set": { "state": "accepted" } },
        { "mode": "online", "op": "update", "set": { "state": "accepted" } },
        { "mode": "both", "op": "journal", "element": "work_notes", "value": "${input.note}" }
      ]
    }))
    .expect("the SPEC example loads")
}

fn task_store(state: &str) -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut task = record(json!({
        "sys_id": TASK, "number": "WOT0001001", "state": state, "assigned_to": "beth.anglin"
    }));
    task.stamp_insert("system", at("2026-11-20 08:00:00"));
    store.put("wm_task", task).expect("memory store");
    store
}

#[test]
fn sys_ids_come_from_the_platforms_random_source() {
    let ids: Vec<String> = (0..100).map(|_| new_sys_id()).collect();
    assert!(ids.iter().all(|id| is_valid_sys_id(id)));
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(new_uuid().len(), 36);
}

#[test]
fn timestamps_format_without_a_system_clock() {
    let t = at("2026-11-22 23:59:59");
    assert_eq!(t.plus(1).to_string(), "2026-11-23 00:00:00");
}

#[test]
fn generated_data_is_identical_on_every_platform() {
    // The digest pins the benchmark data set: native and wasm32 must produce the same bytes.
    let records = generate(1, 200, at("2026-11-22 00:00:00"));
    let text = serde_json::to_string(&records).expect("records serialize");
    let digest = hex(&Sha256::digest(text.as_bytes()));
    assert_eq!(
        digest, GENERATED_DIGEST,
        "generate(1, 200) changed or differs on this platform"
    );
}

const GENERATED_DIGEST: &str = "2726396888fccf170c7f82f949df4431893bcc2a718b3c0ce3c6260208bcd1a3";

#[test]
fn queries_evaluate_and_order_with_the_current_user() {
    let q = Query::parse(
        "assigned_to=javascript:gs.getUserName()^stateINassigned,accepted^ORpriority<2^ORDERBYDESCpriority",
    )
    .expect("query parses");
    let rows = vec![
        record(
            json!({"sys_id": "1", "assigned_to": "beth.anglin", "state": "assigned", "priority": "2"}),
        ),
        record(
            json!({"sys_id": "2", "assigned_to": "beth.anglin", "state": "closed", "priority": "1"}),
        ),
        record(
            json!({"sys_id": "3", "assigned_to": "abel.tuter", "state": "assigned", "priority": "3"}),
        ),
        record(
            json!({"sys_id": "4", "assigned_to": "beth.anglin", "state": "accepted", "priority": "10"}),
        ),
    ];
    let ids: Vec<String> = q
        .select(rows, &beth())
        .iter()
        .map(|r| r.text("sys_id").unwrap_or_default())
        .collect();
    assert_eq!(ids, ["4", "1", "2"]);
    let err = Query::parse("state=1^ORDERBY").unwrap_err();
    assert!(err.to_string().contains("position"), "{err}");
}

#[test]
fn an_offline_action_changes_the_cached_record_and_journals_the_note() {
    let mut store = task_store("assigned");
    let ctx = ActionContext {
        user: beth(),
        now: at("2026-11-22 09:00:00"),
        invocation_id: new_uuid(),
    };
    let mut inputs = Map::new();
    inputs.insert("note".into(), json!("On my way"));
    let outcome = run(
        &accept_task(),
        Side::Device,
        &mut store,
        &mut NoHooks,
        &ctx,
        TASK,
        &inputs,
    )
    .expect("accept runs offline");
    let task = outcome.record.expect("task still exists");
    assert_eq!(task.text("state").as_deref(), Some("accepted"));
    assert_eq!(task.mod_count(), 1);
    assert_eq!(store.journal.len(), 1);
    assert_eq!(store.journal[0].value, "On my way");
}

#[test]
fn a_failing_validation_refuses_the_action_and_changes_nothing() {
    let mut store = task_store("closed_complete");
    let before = store.clone();
    let ctx = ActionContext {
        user: beth(),
        now: at("2026-11-22 09:00:00"),
        invocation_id: new_uuid(),
    };
    let err = run(
        &accept_task(),
        Side::Device,
        &mut store,
        &mut NoHooks,
        &ctx,
        TASK,
        &Map::new(),
    )
    .expect_err("a closed task cannot be accepted");
    assert_eq!(err.code(), "not_applicable");
    assert_eq!(store.records("wm_task"), before.records("wm_task"));
    assert!(store.journal.is_empty());
}

#[test]
fn the_outbox_blocks_later_entries_of_a_failed_record() {
    let mut outbox = Outbox::new();
    for (id, sys_id) in [
        ("a", TASK),
        ("b", TASK),
        ("c", "ffffffffffffffffffffffffffffffff"),
    ] {
        outbox.enqueue(NewEntry {
            id: id.into(),
            user: "beth.anglin".into(),
            action: "accept_task".into(),
            table: "wm_task".into(),
            sys_id: sys_id.into(),
            inputs: Map::new(),
            base: Base::capture(&record(json!({"state": "assigned"})), &["state".into()]),
            queued_at: at("2026-11-22 09:00:00"),
        });
    }
    let sent = outbox.begin_sync(at("2026-11-22 10:00:00"), 10);
    assert_eq!(sent.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let error = EntryError {
        code: "field_changed".into(),
        message: "state was changed".into(),
        record: None,
    };
    outbox.failed("a", error).expect("a was syncing");
    assert_eq!(outbox.get("b").map(|e| e.state), Some(EntryState::Blocked));
    outbox.applied("c").expect("c was syncing");
    let counts = outbox.counts();
    assert_eq!((counts.failed, counts.blocked, counts.pending), (1, 1, 0));
}
