//! Entry ids and created records: ids are UUIDs, remembered per user; `create` only inserts.

use crate::fixture::{task, text, Instance};
use crate::sync::{entry, sync};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn one_user_s_entry_id_never_returns_another_user_s_answer() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let abel = instance.login("abel.tuter").await;
    let hers = task(&admin, "assigned", "beth.anglin").await;
    let his = task(&admin, "assigned", "abel.tuter").await;
    let mine = entry(
        "add_work_note",
        &hers,
        &[],
        json!({"note": "Beth's private note"}),
    );
    let results = sync(&beth, std::slice::from_ref(&mine)).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);

    let mut same_id = entry("add_work_note", &his, &[], json!({"note": "Abel's note"}));
    same_id["id"] = mine["id"].clone();
    let results = sync(&abel, &[same_id]).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);
    assert_eq!(
        text(&results[0]["record"], "sys_id"),
        text(&his, "sys_id"),
        "abel's entry ran on his own task, not answered with beth's: {}",
        results[0]
    );
    assert!(!results[0].to_string().contains(text(&hers, "sys_id")));
}

#[tokio::test]
async fn a_created_record_id_that_already_exists_is_refused_never_overwritten() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let abel = instance.login("abel.tuter").await;
    let hers = task(&admin, "work_in_progress", "beth.anglin").await;
    let his = task(&admin, "work_in_progress", "abel.tuter").await;
    let report = entry("report_incident", &hers, &[], json!({"urgency": "1"}));
    let results = sync(&beth, std::slice::from_ref(&report)).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);
    let incidents = admin
        .list("incident", "caller_id=beth.anglin^urgency=1")
        .await;
    assert_eq!(incidents.len(), 1);
    let before = incidents[0].clone();

    // The same entry id derives the same new record id: abel's create must not replace it.
    let mut same_id = entry("report_incident", &his, &[], json!({"urgency": "3"}));
    same_id["id"] = report["id"].clone();
    let results = sync(&abel, &[same_id]).await;
    assert_ne!(results[0]["status"], "applied", "{}", results[0]);
    assert_eq!(results[0]["error"]["code"], "conflict", "{}", results[0]);
    assert_eq!(
        admin.record("incident", text(&before, "sys_id")).await,
        before,
        "beth's incident is untouched"
    );
}

#[tokio::test]
async fn an_entry_id_that_is_not_a_uuid_is_rejected_on_its_own() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let a = task(&admin, "assigned", "beth.anglin").await;
    let b = task(&admin, "assigned", "beth.anglin").await;
    let mut bad = entry("add_work_note", &a, &[], json!({"note": "x"}));
    bad["id"] = json!("1");
    let good = entry("accept_task", &b, &["state"], json!({}));
    let results = sync(&beth, &[bad, good]).await;
    assert_eq!(results[0]["status"], "rejected", "{}", results[0]);
    assert_eq!(results[0]["error"]["code"], "bad_request", "{}", results[0]);
    assert!(results[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("UUID"));
    assert_eq!(results[1]["status"], "applied", "{}", results[1]);
    assert_eq!(admin.record("wm_task", text(&a, "sys_id")).await, a);
}

#[tokio::test]
async fn the_table_api_refuses_to_insert_over_an_existing_record() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let (status, body) = admin
        .post(
            "/api/now/table/wm_task",
            json!({"sys_id": t["sys_id"], "state": "cancelled"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(admin.record("wm_task", text(&t, "sys_id")).await, t);
}
