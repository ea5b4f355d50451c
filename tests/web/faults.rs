//! Faults and races in the runtime: background faults shown in the status, an outbox entry
//! that a sync is sending, and the sync lease of another worker.

use crate::support::*;
use offgrid::outbox::{Entry, EntryState};
use offgrid::web::idb::LocalDb;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

/// A second connection to the signed-in user's database, as another tab or worker has it.
async fn user_db(prefix: &str) -> LocalDb {
    LocalDb::open(&format!("{prefix}:{USER}"))
        .await
        .expect("open the user's database")
}

/// Queues `accept_task` offline on the `n`-th assigned task; returns the entry's id and the
/// task's id.
async fn queued(rt: &offgrid::web::runtime::Runtime, n: usize) -> (String, String) {
    download(rt).await;
    let task_id = id(&task("assigned", n).await);
    rt.network().force(Some(false));
    let (s, body) = act(rt, "accept_task", &task_id, json!({})).await;
    assert_eq!(s, 202, "{body}");
    (body["outbox_id"].as_str().unwrap().to_string(), task_id)
}

async fn cached_state(rt: &offgrid::web::runtime::Runtime, task_id: &str) -> Value {
    let (_, cached) = call(
        rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    cached["result"]["state"].clone()
}

fn later_ms(ms: f64) -> f64 {
    js_sys::Date::now() + ms
}

#[wasm_bindgen_test]
async fn a_housekeeping_fault_is_shown_as_the_status_last_error() {
    let (rt, prefix) = signed_in().await;
    assert_eq!(status(&rt).await["last_error"], Value::Null);
    // The time of the last download is damaged: the schedule cannot be decided.
    let db = user_db(&prefix).await;
    db.put_meta("last_download", &json!({"not": "a time"}))
        .await
        .unwrap();
    drop(db);

    rt.housekeeping().await;
    let last = status(&rt).await["last_error"].clone();
    assert_eq!(last["where"], "housekeeping", "{last}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(message.contains("not in the expected shape"), "{last}");
    assert!(last["at"].is_string(), "{last}");
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_start_up_sync_that_cannot_run_is_shown_as_the_status_last_error() {
    let (rt, prefix) = signed_in().await;
    let db = user_db(&prefix).await;
    assert!(db
        .acquire_lease("another-worker", js_sys::Date::now(), 60_000.0)
        .await
        .unwrap());

    rt.on_start().await;
    let last = status(&rt).await["last_error"].clone();
    assert_eq!(last["where"], "sync", "{last}");
    assert!(
        last["message"]
            .as_str()
            .unwrap_or_default()
            .contains("another sync is running"),
        "{last}"
    );
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_sync_does_not_take_another_workers_live_lease() {
    let (rt, prefix) = signed_in().await;
    let db = user_db(&prefix).await;
    assert!(db
        .acquire_lease("another-worker", js_sys::Date::now(), 60_000.0)
        .await
        .unwrap());

    let (s, body) = call(&rt, "POST", "/offgrid/sync", None).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["code"], "sync_running", "{body}");
    // Still the other worker's: a third one cannot take it, its holder renews it.
    assert!(!db
        .acquire_lease("a-third-worker", later_ms(1_000.0), 60_000.0)
        .await
        .unwrap());
    assert!(db
        .acquire_lease("another-worker", later_ms(1_000.0), 60_000.0)
        .await
        .unwrap());
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn an_entry_marked_syncing_in_the_database_cannot_be_deleted_and_stays() {
    let (rt, prefix) = signed_in().await;
    let (entry_id, task_id) = queued(&rt, 0).await;
    // A sync (of another worker) marks the entry syncing behind this runtime's back.
    let db = user_db(&prefix).await;
    let stored: Vec<Entry> = db.outbox_entries().await.unwrap();
    let syncing: Vec<Entry> = stored
        .into_iter()
        .map(|e| Entry {
            state: EntryState::Syncing,
            ..e
        })
        .collect();
    db.save_outbox(&syncing, &[]).await.unwrap();

    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["code"], "state", "{body}");
    let left = outbox(&rt).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], entry_id.as_str());
    assert_eq!(left[0]["state"], "syncing");
    assert_eq!(cached_state(&rt, &task_id).await, "accepted");
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_pending_entry_cannot_be_deleted_while_another_worker_syncs() {
    let (rt, prefix) = signed_in().await;
    let (entry_id, task_id) = queued(&rt, 0).await;
    let db = user_db(&prefix).await;
    assert!(db
        .acquire_lease("another-worker", js_sys::Date::now(), 60_000.0)
        .await
        .unwrap());

    let path = format!("/offgrid/outbox/{entry_id}");
    let (s, body) = call(&rt, "DELETE", &path, None).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["error"]["code"], "sync_running", "{body}");
    assert_eq!(outbox(&rt).await[0]["state"], "pending");
    assert_eq!(cached_state(&rt, &task_id).await, "accepted");

    // Once that sync is over, the entry goes and the record is rolled back.
    db.release_lease("another-worker").await.unwrap();
    let (s, body) = call(&rt, "DELETE", &path, None).await;
    assert_eq!(s, 200, "{body}");
    assert!(outbox(&rt).await.is_empty());
    assert_eq!(cached_state(&rt, &task_id).await, "assigned");
    drop(db);
    finish(rt, &prefix).await;
}

/// A live action whose connection the instance dropped after committing (its fault switch,
/// `--fault-injection`). Either the browser resends it by itself (Chromium does on a reused
/// connection) and the instance answers the repeated id with the first run's record, or the
/// runtime, which cannot tell a dropped connection from a refused one, queues the change under
/// the id it sent live. Either way the change applies once, not twice.
#[wasm_bindgen_test]
async fn a_live_action_that_lost_its_answer_after_applying_applies_once() {
    let (rt, prefix) = signed_in().await;
    // The cache holds the task, so the change can be queued when no answer comes (WebKit and
    // Firefox do not resend the call).
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let note = format!("dropped {}", offgrid::record::new_uuid());
    let arm = json!({"route": "action", "fault": "drop", "count": 1});
    let (s, body) = instance("admin", "POST", "/api/offgrid/faults", Some(arm)).await;
    assert_eq!(
        s, 200,
        "the test instance runs with --fault-injection: {body}"
    );
    let (s, body) = act(&rt, "add_work_note", &task_id, json!({"note": note})).await;
    assert!(s == 200 || s == 202, "answered again or queued: {body}");
    let report = sync(&rt).await;
    let queued = if s == 202 { 1 } else { 0 };
    assert_eq!(report["applied"], queued, "{report}");
    let query = format!("/api/now/table/sys_journal_field?sysparm_query=element_id={task_id}");
    let (_, journal) = instance("admin", "GET", &query, None).await;
    let copies = journal["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["value"] == note.as_str())
        .count();
    assert_eq!(copies, 1, "applied exactly once");
    finish(rt, &prefix).await;
}

/// The device's cached task, compared with the instance's.
async fn cached_and_instance(rt: &offgrid::web::runtime::Runtime, task_id: &str) -> (Value, Value) {
    let (_, cached) = call(
        rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    (
        cached["result"].clone(),
        instance_record("wm_task", task_id).await,
    )
}

/// Offline mode on, an `accept_task` queued on the `n`-th assigned task; the entry and task ids.
async fn accepted_offline(rt: &offgrid::web::runtime::Runtime, n: usize) -> (String, String) {
    download(rt).await;
    let (s, body) = call(rt, "POST", "/offgrid/mode", Some(json!({"offline": true}))).await;
    assert_eq!(s, 200, "{body}");
    let task_id = id(&task("assigned", n).await);
    let (s, body) = act(rt, "accept_task", &task_id, json!({})).await;
    assert_eq!(s, 202, "{body}");
    (body["outbox_id"].as_str().unwrap().to_string(), task_id)
}

async fn dispatcher_sets(task_id: &str, fields: Value) {
    let path = format!("/api/now/table/wm_task/{task_id}");
    let (s, body) = instance("admin", "PATCH", &path, Some(fields)).await;
    assert_eq!(s, 200, "{body}");
}

/// A conflict deleted after a download brought a later change of its record: the record rolls
/// back to the instance's version the download brought, not to the older one of the conflict.
#[wasm_bindgen_test]
async fn a_conflict_deleted_after_a_later_download_rolls_back_to_the_downloaded_version() {
    let (rt, prefix) = signed_in().await;
    let (entry_id, task_id) = accepted_offline(&rt, 20).await;
    dispatcher_sets(&task_id, json!({"state": "accepted"})).await;
    let report = sync(&rt).await;
    assert_eq!(report["failed"], 1, "{report}");
    dispatcher_sets(&task_id, json!({"priority": "1"})).await;
    download(&rt).await;
    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 200, "{body}");
    let (cached, instance) = cached_and_instance(&rt, &task_id).await;
    assert_eq!(cached, instance);
    finish(rt, &prefix).await;
}

/// An entry applied whose answer was lost, then a change on the instance that a download
/// brought, then the retry answered from the instance's memory with the record as it was when
/// the entry applied: the cache keeps the newer version.
#[wasm_bindgen_test]
async fn a_remembered_answer_older_than_a_download_does_not_roll_the_cache_back() {
    let (rt, prefix) = signed_in().await;
    let (_, task_id) = accepted_offline(&rt, 21).await;
    let arm = json!({"route": "sync", "fault": "hang", "ms": 21_000, "count": 1});
    let (s, body) = instance("admin", "POST", "/api/offgrid/faults", Some(arm)).await;
    assert_eq!(s, 200, "{body}");
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 0, "the answer timed out: {report}");
    dispatcher_sets(&task_id, json!({"priority": "1"})).await;
    download(&rt).await;
    // Past the entry's backoff.
    rt.clock().set(Some(offgrid::record::Timestamp::from_unix(
        js_sys::Date::now() as i64 / 1000 + 60,
    )));
    let report = sync(&rt).await;
    rt.clock().set(None);
    assert_eq!(report["applied"], 1, "{report}");
    let (cached, instance) = cached_and_instance(&rt, &task_id).await;
    assert_eq!(cached, instance);
    finish(rt, &prefix).await;
}

/// A conflict on a record the instance deleted, deleted after a download removed the record:
/// the record does not come back from the version before the device's change.
#[wasm_bindgen_test]
async fn a_conflict_on_a_record_the_instance_deleted_does_not_bring_the_record_back_when_deleted() {
    let (rt, prefix) = signed_in().await;
    let (entry_id, task_id) = accepted_offline(&rt, 22).await;
    let path = format!("/api/now/table/wm_task/{task_id}");
    let (s, body) = instance("admin", "DELETE", &path, None).await;
    assert!(s == 200 || s == 204, "{s} {body}");
    download(&rt).await;
    let report = sync(&rt).await;
    assert_eq!(report["failed"], 1, "{report}");
    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 200, "{body}");
    let (s, cached) = call(&rt, "GET", &path, None).await;
    assert_eq!(s, 404, "the record stays gone: {cached}");
    finish(rt, &prefix).await;
}

/// An entry applied whose answer was lost, then the record closed on the instance (out of the
/// user's scope) and removed from the cache by a download, then the retry answered from the
/// instance's memory with the record as it was when the entry applied: the record stays out
/// of the cache, as the download left it.
#[wasm_bindgen_test]
async fn a_remembered_answer_does_not_bring_back_a_record_a_download_removed() {
    let (rt, prefix) = signed_in().await;
    let (_, task_id) = accepted_offline(&rt, 23).await;
    let arm = json!({"route": "sync", "fault": "hang", "ms": 21_000, "count": 1});
    let (s, body) = instance("admin", "POST", "/api/offgrid/faults", Some(arm)).await;
    assert_eq!(s, 200, "{body}");
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 0, "the answer timed out: {report}");
    dispatcher_sets(
        &task_id,
        json!({"state": "closed_complete", "close_notes": "closed by the dispatcher"}),
    )
    .await;
    download(&rt).await;
    let path = format!("/api/now/table/wm_task/{task_id}");
    let (s, cached) = call(&rt, "GET", &path, None).await;
    assert_eq!(s, 404, "the download removed the closed task: {cached}");
    // Past the entry's backoff.
    rt.clock().set(Some(offgrid::record::Timestamp::from_unix(
        js_sys::Date::now() as i64 / 1000 + 60,
    )));
    let report = sync(&rt).await;
    rt.clock().set(None);
    assert_eq!(report["applied"], 1, "{report}");
    let (s, cached) = call(&rt, "GET", &path, None).await;
    assert_eq!(s, 404, "the record stays out of the cache: {cached}");
    finish(rt, &prefix).await;
}
