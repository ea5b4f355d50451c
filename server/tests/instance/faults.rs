//! The fault switch for soak tests: refused unless the instance runs with
//! `--fault-injection`; when on, an armed route fails as asked, then works again.

use crate::fixture::{journal, task, text, Instance};
use crate::sync::{entry, sync};
use reqwest::StatusCode;
use serde_json::json;

async fn with_faults() -> Instance {
    Instance::start_with(|c| c.fault_injection = true).await
}

#[tokio::test]
async fn faults_are_refused_unless_the_instance_was_started_with_fault_injection() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let arm = json!({"route": "sync", "fault": "error", "count": 1});
    let (status, body) = admin.post("/api/offgrid/faults", arm).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--fault-injection"));
    // Nothing was armed: a sync works.
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let results = sync(
        &beth,
        &[entry("add_work_note", &t, &[], json!({"note": "n"}))],
    )
    .await;
    assert_eq!(results[0]["status"], "applied");
}

#[tokio::test]
async fn only_an_admin_may_arm_a_fault() {
    let instance = with_faults().await;
    let beth = instance.login("beth.anglin").await;
    let arm = json!({"route": "sync", "fault": "error", "count": 1});
    let (status, body) = beth.post("/api/offgrid/faults", arm).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn an_armed_error_answers_500_without_applying_then_the_route_works_again() {
    let instance = with_faults().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let arm = json!({"route": "sync", "fault": "error", "count": 2});
    let (status, body) = admin.post("/api/offgrid/faults", arm).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"],
        json!([{"route": "sync", "fault": "error", "count": 2}])
    );
    let note = entry("add_work_note", &t, &[], json!({"note": "n"}));
    let batch = json!({ "entries": [note.clone()] });
    for _ in 0..2 {
        let (status, body) = beth.post("/api/offgrid/sync", batch.clone()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(body["error"]["code"], "internal");
    }
    let record = admin.record("wm_task", text(&t, "sys_id")).await;
    assert_eq!(
        record["sys_mod_count"], t["sys_mod_count"],
        "nothing applied"
    );
    let results = sync(&beth, &[note]).await;
    assert_eq!(
        results[0]["status"], "applied",
        "the third request goes through"
    );
}

#[tokio::test]
async fn an_armed_drop_commits_then_closes_the_connection_without_an_answer() {
    let instance = with_faults().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let arm = json!({"route": "action", "fault": "drop", "count": 1});
    assert_eq!(
        admin.post("/api/offgrid/faults", arm).await.0,
        StatusCode::OK
    );
    let body = json!({"table": "wm_task", "sys_id": t["sys_id"], "inputs": {}});
    let sent = beth
        .client
        .post(beth.url("/api/offgrid/actions/accept_task"))
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "no answer arrives: {sent:?}");
    let record = admin.record("wm_task", text(&t, "sys_id")).await;
    assert_eq!(record["state"], "accepted", "the action committed");
    // Disarmed after one: the next live action answers.
    let (status, answer) = beth
        .action("start_work", "wm_task", text(&t, "sys_id"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn an_armed_hang_commits_then_holds_the_answer_past_the_clients_timeout() {
    let instance = with_faults().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let arm = json!({"route": "sync", "fault": "hang", "ms": 5000, "count": 1});
    assert_eq!(
        admin.post("/api/offgrid/faults", arm).await.0,
        StatusCode::OK
    );
    let accept = entry("accept_task", &t, &["state"], json!({}));
    let sent = beth
        .client
        .post(beth.url("/api/offgrid/sync"))
        .json(&json!({ "entries": [accept.clone()] }))
        .timeout(std::time::Duration::from_millis(1500))
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    let record = admin.record("wm_task", text(&t, "sys_id")).await;
    let before = t["sys_mod_count"].as_u64().unwrap();
    assert_eq!(
        record["sys_mod_count"],
        before + 1,
        "the entry committed while the answer was held"
    );
    // The retry is answered from the remembered result, not applied again.
    let results = sync(&beth, &[accept]).await;
    assert_eq!(results[0]["status"], "applied");
    let record = admin.record("wm_task", text(&t, "sys_id")).await;
    assert_eq!(record["sys_mod_count"], before + 1, "applied once");
}

#[tokio::test]
async fn the_download_feed_can_be_armed_too() {
    let instance = with_faults().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let arm = json!({"route": "cache", "fault": "error", "count": 1});
    assert_eq!(
        admin.post("/api/offgrid/faults", arm).await.0,
        StatusCode::OK
    );
    assert_eq!(
        beth.get("/api/offgrid/cache").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(beth.get("/api/offgrid/cache").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_live_action_whose_answer_was_lost_applies_once_when_the_device_syncs_it_under_its_id() {
    let instance = with_faults().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let arm = json!({"route": "action", "fault": "drop", "count": 1});
    assert_eq!(
        admin.post("/api/offgrid/faults", arm).await.0,
        StatusCode::OK
    );
    // The device calls live with an id; the connection drops after the instance committed,
    // so the device queues the same change under that id.
    let note = entry("add_work_note", &t, &[], json!({"note": "lost answer"}));
    let live = json!({"table": "wm_task", "sys_id": t["sys_id"], "inputs": note["inputs"], "id": note["id"]});
    let sent = beth
        .client
        .post(beth.url("/api/offgrid/actions/add_work_note"))
        .json(&live)
        .send()
        .await;
    assert!(sent.is_err(), "no answer arrives: {sent:?}");
    let results = sync(&beth, &[note]).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);
    let notes = journal(&admin, text(&t, "sys_id")).await;
    let lost: Vec<_> = notes
        .iter()
        .filter(|j| j["value"] == "lost answer")
        .collect();
    assert_eq!(lost.len(), 1, "applied once: {notes:?}");
}
