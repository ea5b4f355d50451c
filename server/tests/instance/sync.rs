//! Sync of outbox entries: exactly once, conflicts, merges, retries, blocked entries.

use crate::fixture::{journal, task, text, Instance, User};
use offgrid::record::new_uuid;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An outbox entry as the device sends it, made on `record` (its base: `fields` as seen).
pub fn entry(action: &str, record: &Value, fields: &[&str], inputs: Value) -> Value {
    let seen: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| (f.to_string(), record[*f].clone()))
        .collect();
    json!({
        "id": new_uuid(), "seq": 1, "action": action, "table": "wm_task",
        "sys_id": record["sys_id"], "inputs": inputs,
        "base": { "mod_count": record["sys_mod_count"], "fields": seen },
        "queued_at": "2026-11-20 08:00:00",
    })
}

/// `entry` as a device from before the wire format had its own type sends it: the whole
/// outbox entry, with the device's bookkeeping and a `user` field.
fn old_format(mut entry: Value, user: &str) -> Value {
    let extra = json!({
        "user": user, "attempts": 3, "state": "syncing",
        "next_attempt_at": "2026-11-20 08:05:00",
        "error": {"code": "network", "message": "offline"},
    });
    for (field, value) in extra.as_object().unwrap() {
        entry[field] = value.clone();
    }
    entry
}

pub async fn sync(user: &User, entries: &[Value]) -> Vec<Value> {
    let (status, body) = user
        .post("/api/offgrid/sync", json!({ "entries": entries }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), entries.len());
    for (result, entry) in results.iter().zip(entries) {
        assert_eq!(result["id"], entry["id"], "results come in entry order");
    }
    results
}

#[tokio::test]
async fn a_duplicated_entry_id_in_a_batch_applies_once() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let accept = entry("accept_task", &t, &["state"], json!({}));
    let note = entry("add_work_note", &t, &[], json!({"note": "On site"}));
    let results = sync(&beth, &[accept.clone(), note.clone(), accept, note]).await;
    for r in &results {
        assert_eq!(r["status"], "applied", "{r}");
    }
    assert_eq!(
        results[2], results[0],
        "a repeated id gets the first answer"
    );
    let now = admin.record("wm_task", id).await;
    assert_eq!(text(&now, "state"), "accepted");
    assert_eq!(now["sys_mod_count"], 1, "sys_mod_count moved once");
    assert_eq!(journal(&admin, id).await.len(), 1, "one journal entry");
}

#[tokio::test]
async fn a_retry_after_a_lost_response_applies_nothing_twice() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let batch = [
        entry("start_work", &t, &["state", "work_start"], json!({})),
        entry("add_work_note", &t, &[], json!({"note": "Started"})),
    ];
    let first = sync(&beth, &batch).await;
    // The response is "lost": the device sends the same batch again.
    let again = sync(&beth, &batch).await;
    assert_eq!(again, first);
    let now = admin.record("wm_task", id).await;
    assert_eq!(text(&now, "state"), "work_in_progress");
    assert_eq!(
        text(&now, "work_start"),
        "2026-11-20 08:00:00",
        "${{now}} is when it was made"
    );
    assert_eq!(now["sys_mod_count"], 1);
    assert_eq!(journal(&admin, id).await.len(), 1);
}

#[tokio::test]
async fn a_task_closed_by_the_dispatcher_is_a_conflict_naming_field_value_and_user() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let accept = entry("accept_task", &t, &["state"], json!({}));
    let (status, _) = fred
        .patch(
            &format!("/api/now/table/wm_task/{id}"),
            json!({"state": "closed_complete"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let closed = admin.record("wm_task", id).await;

    let result = &sync(&beth, std::slice::from_ref(&accept)).await[0];
    assert_eq!(result["status"], "conflict", "{result}");
    let message = result["error"]["message"].as_str().unwrap();
    for part in ["state", "closed_complete", "fred.luddy"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert_eq!(
        result["record"], closed,
        "the instance's current record comes back"
    );
    assert_eq!(admin.record("wm_task", id).await, closed, "nothing changed");

    // Not remembered: once the dispatcher reopens the task, the same entry applies.
    fred.patch(
        &format!("/api/now/table/wm_task/{id}"),
        json!({"state": "assigned"}),
    )
    .await;
    let result = &sync(&beth, &[accept]).await[0];
    assert_eq!(result["status"], "applied", "{result}");
}

#[tokio::test]
async fn a_field_the_entry_writes_changed_by_another_user_is_a_field_conflict() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let start = entry("start_work", &t, &["state", "work_start"], json!({}));
    fred.patch(
        &format!("/api/now/table/wm_task/{id}"),
        json!({"work_start": "2026-11-19 07:00:00"}),
    )
    .await;
    let result = &sync(&beth, &[start]).await[0];
    assert_eq!(result["status"], "conflict", "{result}");
    assert_eq!(result["error"]["code"], "field_changed");
    assert_eq!(result["error"]["field"], "work_start");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("2026-11-19 07:00:00") && message.contains("fred.luddy"),
        "{message}"
    );
    assert_eq!(
        text(&admin.record("wm_task", id).await, "state"),
        "accepted"
    );
}

#[tokio::test]
async fn a_change_to_another_field_merges() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let start = entry("start_work", &t, &["state", "work_start"], json!({}));
    fred.patch(
        &format!("/api/now/table/wm_task/{id}"),
        json!({"priority": "1"}),
    )
    .await;
    let result = &sync(&beth, &[start]).await[0];
    assert_eq!(result["status"], "applied", "{result}");
    let now = admin.record("wm_task", id).await;
    assert_eq!(
        text(&now, "priority"),
        "1",
        "the dispatcher's change is kept"
    );
    assert_eq!(
        text(&now, "state"),
        "work_in_progress",
        "the technician's change applied"
    );
    assert_eq!(now["sys_mod_count"], 2);
}

#[tokio::test]
async fn later_entries_for_a_record_whose_entry_failed_are_blocked() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let other = task(&admin, "assigned", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let accept = entry("accept_task", &t, &["state"], json!({}));
    let note = entry("add_work_note", &t, &[], json!({"note": "After accept"}));
    let elsewhere = entry("accept_task", &other, &["state"], json!({}));
    fred.patch(
        &format!("/api/now/table/wm_task/{id}"),
        json!({"state": "cancelled"}),
    )
    .await;
    let results = sync(&beth, &[accept, note, elsewhere]).await;
    assert_eq!(results[0]["status"], "conflict");
    assert_eq!(results[1]["status"], "blocked", "{}", results[1]);
    assert_eq!(
        results[2]["status"], "applied",
        "other records keep syncing"
    );
    assert!(
        journal(&admin, id).await.is_empty(),
        "the blocked entry did not apply"
    );
}

#[tokio::test]
async fn an_entry_from_an_older_device_with_its_bookkeeping_fields_applies() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let accept = old_format(
        entry("accept_task", &t, &["state"], json!({})),
        "beth.anglin",
    );
    let result = &sync(&beth, &[accept]).await[0];
    assert_eq!(result["status"], "applied", "{result}");
    let now = admin.record("wm_task", text(&t, "sys_id")).await;
    assert_eq!(text(&now, "state"), "accepted");
}

#[tokio::test]
async fn an_entry_applies_as_the_sessions_user_whatever_user_it_names() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    // An older device sent its entry's user; the instance goes by the session alone.
    let accept = old_format(
        entry("accept_task", &t, &["state"], json!({})),
        "abel.tuter",
    );
    let result = &sync(&beth, &[accept]).await[0];
    assert_eq!(result["status"], "applied", "{result}");
    let now = admin.record("wm_task", text(&t, "sys_id")).await;
    assert_eq!(text(&now, "sys_updated_by"), "beth.anglin");
    assert_eq!(text(&result["record"], "sys_updated_by"), "beth.anglin");
}

#[tokio::test]
async fn entries_of_unknown_actions_are_rejected() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let unknown = entry("teleport", &t, &[], json!({}));
    let results = sync(&beth, &[unknown]).await;
    assert_eq!(results[0]["status"], "rejected");
    assert_eq!(results[0]["error"]["code"], "unknown_action");
    assert!(results[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("teleport"));
    assert_eq!(admin.record("wm_task", text(&t, "sys_id")).await, t);
}
