//! Live actions: online and both steps in one transaction, with the core's engine.

use crate::fixture::{journal, task, text, Instance};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn accept_task_runs_live_and_its_hook_writes_an_audit_record() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let (status, body) = beth.action("accept_task", "wm_task", id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(text(&body["result"], "state"), "accepted");
    assert_eq!(body["result"]["sys_mod_count"], 1);
    assert_eq!(text(&beth.record("wm_task", id).await, "state"), "accepted");
    let audit = admin
        .list("sys_audit", &format!("record_sys_id={id}"))
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(text(&audit[0], "event"), "notify_dispatcher");
    assert_eq!(text(&audit[0], "user"), "beth.anglin");
}

#[tokio::test]
async fn a_failing_validation_is_422_and_writes_nothing() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "work_in_progress", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let (status, body) = beth
        .action(
            "close_complete",
            "wm_task",
            id,
            json!({"close_notes": "n/a"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Close notes must say"));
    assert_eq!(beth.record("wm_task", id).await, t, "nothing was written");
}

#[tokio::test]
async fn an_action_that_does_not_apply_is_409_and_writes_nothing() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let (status, body) = beth.action("accept_task", "wm_task", id, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_applicable");
    assert_eq!(
        body["error"]["detail"]["record"], t,
        "the current record comes along"
    );
    assert_eq!(beth.record("wm_task", id).await, t);
    assert!(admin
        .list("sys_audit", &format!("record_sys_id={id}"))
        .await
        .is_empty());
}

#[tokio::test]
async fn close_complete_journal_create_and_delete_steps_run_on_the_instance() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "work_in_progress", "beth.anglin").await;
    let id = text(&t, "sys_id");

    let (status, body) = beth
        .action(
            "add_work_note",
            "wm_task",
            id,
            json!({"note": "Parts ordered"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        text(&journal(&admin, id).await[0], "value"),
        "Parts ordered"
    );

    let (status, body) = beth
        .action("report_incident", "wm_task", id, json!({"urgency": "2"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &body["created"][0];
    assert_eq!(created["table"], "incident");
    let incident = admin
        .record("incident", text(&created["record"], "sys_id"))
        .await;
    assert_eq!(text(&incident, "urgency"), "2");
    assert_eq!(text(&incident, "caller_id"), "beth.anglin");

    let (status, body) = beth
        .action(
            "close_complete",
            "wm_task",
            id,
            json!({"close_notes": "Replaced the pump"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(text(&body["result"], "state"), "closed_complete");
    assert_eq!(text(&body["result"], "close_notes"), "Replaced the pump");
    assert!(!text(&body["result"], "work_end").is_empty());

    let draft = task(&admin, "pending_dispatch", "").await;
    let draft_id = text(&draft, "sys_id");
    let (status, body) = admin
        .action("delete_draft", "wm_task", draft_id, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["deleted"], true);
    let (status, _) = admin
        .get(&format!("/api/now/table/wm_task/{draft_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn attach_photo_stores_the_bytes_and_refuses_a_wrong_hash_by_its_input() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let bytes = b"\x89PNG not really a photo".to_vec();
    let hash = offgrid::record::hex(&Sha256::digest(&bytes));
    let photo = json!({
        "file_name": "pump.png", "content_type": "image/png", "size_bytes": bytes.len(),
        "hash": hash, "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    let mut wrong = photo.clone();
    wrong["hash"] = json!("0".repeat(64));
    let (status, body) = beth
        .action("attach_photo", "wm_task", id, json!({"photo": wrong}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // The same answer the worker gives offline: the fault is named by its input.
    assert_eq!(body["error"]["code"], "invalid_inputs", "{body}");
    assert!(
        body["error"]["detail"]["inputs"]["photo"]
            .as_str()
            .unwrap()
            .contains("sha-256"),
        "{body}"
    );
    assert!(admin
        .list("sys_attachment", &format!("table_sys_id={id}"))
        .await
        .is_empty());

    let (status, body) = beth
        .action("attach_photo", "wm_task", id, json!({"photo": photo}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let meta = &body["attachments"][0];
    let file = beth
        .client
        .get(beth.url(&format!(
            "/api/now/attachment/{}/file",
            text(meta, "sys_id")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn a_live_action_with_an_id_that_is_not_a_uuid_is_refused() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let body =
        json!({"table": "wm_task", "sys_id": t["sys_id"], "inputs": {"note": "n"}, "id": "1"});
    let (status, answer) = beth.post("/api/offgrid/actions/add_work_note", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(journal(&admin, text(&t, "sys_id")).await.is_empty());
}

#[tokio::test]
async fn a_live_action_repeated_with_its_id_gets_the_first_record_and_is_not_applied_again() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let id = offgrid::record::new_uuid();
    let body =
        json!({"table": "wm_task", "sys_id": t["sys_id"], "inputs": {"note": "n"}, "id": id});
    let (status, answer) = beth
        .post("/api/offgrid/actions/add_work_note", body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, again) = beth.post("/api/offgrid/actions/add_work_note", body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["result"], answer["result"]);
    assert_eq!(journal(&admin, text(&t, "sys_id")).await.len(), 1);
}
